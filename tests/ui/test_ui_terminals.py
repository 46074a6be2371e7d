"""What the screens look like in small and colourless terminals: the
footer fits 80 columns, the client header does not wrap mid-phrase, the
selected row stays visible under NO_COLOR, chart series differ by symbol
as well as colour."""

from __future__ import annotations

import pytest
from textual.filter import Monochrome, NoColor
from textual.widgets._footer import FooterKey

from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from supervision_tui.ui.widgets.charts import AllianceChart
from supervision_tui.ui.widgets.footer import AppFooter
from ui_support import LARGE, SMALL, async_test, loaded, make_app, static_text


def _footer_keys(app) -> list[FooterKey]:
    footer = app.screen.query_one(AppFooter)
    return [k for k in footer.query(FooterKey) if k.display]


def _footer_words(app) -> list[str]:
    return [k.description for k in _footer_keys(app)]


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause(0.2)
    await pilot.pause()


@async_test
async def test_footer_fits_80_columns_on_every_main_screen(demo_db, scenarios):
    """Issue 15: at 80 columns the footers keep g, c, s and ^p; what cannot
    fit (theme, presenting, agenda: in the help and the palette) goes, and
    no key is clipped or runs under the palette hint."""
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        seen = {}
        for screen_id, keys in (("caseload", []), ("client", ["enter"]), ("clinicians", ["escape", "o"]),
                                ("agenda", ["escape", "a"]), ("audit", ["escape", "u"])):
            for key in keys:
                await pilot.press(key)
                await _settle(pilot)
            await app.workers.wait_for_complete()
            await _settle(pilot)
            assert app.screen.id == screen_id
            shown = _footer_keys(app)
            palette = [k for k in shown if k.has_class("-command-palette")]
            assert len(palette) == 1, screen_id  # ^p is always there
            others = [k for k in shown if k not in palette]
            assert others and max(k.region.right for k in others) <= palette[0].region.x, screen_id
            assert palette[0].region.right <= SMALL[0], screen_id
            seen[screen_id] = _footer_words(app)
        for words in seen.values():  # help and quit are always there
            assert "Help" in words and "Quit" in words
        assert {"Open", "Search", "Filter", "Clinicians", "Closed", "Sort", "Review"} <= set(seen["caseload"])
        assert "Theme" not in seen["caseload"]  # the first to go: in the help and the palette
        assert {"Back", "Goals", "Review", "Note", "Action"} <= set(seen["client"])  # d Done: in the help


@async_test
async def test_footer_shows_every_key_when_wide(demo_db):
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        words = _footer_words(app)
        for word in ("Open", "Closed", "Sort", "Theme", "Agenda", "Present", "Help", "Quit"):
            assert word in words
        assert any(k.has_class("-command-palette") for k in _footer_keys(app))


@async_test
async def test_client_header_breaks_before_the_tier_at_80_columns(demo_db, scenarios):
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        app.show_client(scenarios["unrepaired"])
        await _settle(pilot)
        assert isinstance(app.screen, ClientScreen)
        lines = static_text(app.screen.query_one("#client-header")).split("\n")
        assert len(lines) == 2
        assert all(len(line) <= SMALL[0] - 2 for line in lines)  # no third, wrapped line
        assert lines[1].startswith("●3 rupture: unrepaired since s12")
        assert lines[1].endswith(")") and "/" in lines[1]  # position in the list, short form
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        app.show_client(scenarios["unrepaired"])
        await _settle(pilot)
        text = static_text(app.screen.query_one("#client-header"))
        assert "\n" not in text and "· ●3 rupture:" in text and "← → clients)" in text


@pytest.mark.parametrize("theme", ["ansi", "ansi-light"])
@async_test
async def test_no_color_with_an_ansi_theme_keeps_text_and_cursor_visible(demo_db, monkeypatch, theme):
    """NO_COLOR + an ANSI theme: Textual's NoColor filter (terminal default
    colours; its Monochrome filter turned ansi_default into black on black)
    and a reverse-video cursor row (its background colour is gone)."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(demo_db, theme=theme)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        kinds = {type(f) for f in app._filters if isinstance(f, (Monochrome, NoColor))}
        assert kinds == {NoColor}
        table = app.screen.query_one(CaseloadTable)
        cursor = table.get_component_rich_style("datatable--cursor")
        assert cursor.reverse
        # the cursor row renders reversed; the row under it does not
        row0 = table.render_line(1)  # line 0 is the header
        row1 = table.render_line(2)
        assert any(seg.style and seg.style.reverse for seg in row0 if seg.text.strip())
        assert not any(seg.style and seg.style.reverse for seg in row1 if seg.text.strip() and seg.text != " ")
        # switching to an RGB theme brings Textual's grey filter back (and the normal cursor)
        app.theme = "clinic-dark"
        await _settle(pilot)
        kinds = {type(f) for f in app._filters if isinstance(f, (Monochrome, NoColor))}
        assert kinds == {Monochrome}
        assert app.theme_variables["block-cursor-text-style"] != "bold reverse"


@async_test
async def test_without_no_color_the_ansi_cursor_is_the_themes(demo_db, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = make_app(demo_db, theme="ansi")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert not [f for f in app._filters if isinstance(f, (Monochrome, NoColor))]
        assert app.theme_variables["block-cursor-text-style"] == "bold"


def test_alliance_instruments_differ_by_symbol_not_only_colour():
    from supervision_tui.ui.widgets.charts import CLIENT_MARKERS, THERAPIST_MARKERS

    marks = [m for _p, m in CLIENT_MARKERS] + [m for _p, m in THERAPIST_MARKERS]
    assert len(set(marks)) == len(marks)
    plot_markers = [p for p, _m in CLIENT_MARKERS] + [p for p, _m in THERAPIST_MARKERS]
    assert len(set(plot_markers)) == len(plot_markers)


@async_test
async def test_alliance_legend_names_each_series_with_its_own_symbol(demo_db, scenarios):
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        code = next(c for c in app.data.by_code if len(app.data.view(c).alliance_instruments) > 1)
        app.show_client(code)
        await _settle(pilot)
        legend = app.screen.query_one(AllianceChart).legend().plain
        first, second = app.data.view(code).alliance_instruments[:2]
        assert f"▬ {first} client" in legend and f"⠶ {second} client" in legend


@async_test
async def test_agenda_header_fits_80_columns(demo_db):
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await _settle(pilot)
        header = static_text(app.screen.query_one("#agenda-header"))
        assert header == "Agenda · as of 2026-11-20 · new since 2026-11-13 · all supervisees"
        assert len(header) <= SMALL[0] - 2
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await _settle(pilot)
        assert static_text(app.screen.query_one("#agenda-header")).startswith("Agenda · demo caseload · as of")
