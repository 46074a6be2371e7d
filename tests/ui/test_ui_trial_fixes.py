"""Problems a newcomer trial found in the UI, each pinned by a Pilot test:
the theme key and the settings file, risk first whatever the sort, search
by tier words, the client header, the sessions table at 80×24, the review
list order, the help screen's sections, remapped-key collisions, the
caseload's Rev column and Outcome column, and the header count with closed
clients shown."""

from __future__ import annotations

import os
import stat
import tomllib

from textual.command import CommandPalette
from textual.widgets import Input, Static

from supervision_tui.settings import Settings
from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.screens.help import HelpScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from supervision_tui.ui.widgets.panels import SessionsTable
from supervision_tui.ui.widgets.review_panels import CLIENT_ENTRY, ReviewList
from ui_support import (
    LARGE, SMALL, async_test, loaded, make_app, shown_columns, static_text, table_column,
)

BUNDLED = ("clinic-dark", "clinic-light", "projector", "ansi", "ansi-light")


def _notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def _table(app) -> CaseloadTable:
    return app.screen.query_one(CaseloadTable)


# --- 1, 2: the theme key and the settings file ---------------------------------------


@async_test
async def test_theme_key_does_not_crash_when_the_settings_file_cannot_be_written(demo_db, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the config folder should be\n")
    config = blocker / "settings.toml"  # cannot be created: its "folder" is a file (an OSError, even as root)
    app = make_app(demo_db, theme="clinic-dark", config_path=config)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert app.is_running
        assert app.theme == "clinic-light"
        assert any(m.startswith("Theme clinic-light (not remembered: cannot write") for m in _notes(app)), _notes(app)
        await pilot.press("t")  # and again: still running
        await pilot.pause()
        assert app.is_running and app.theme == "projector"


@async_test
async def test_theme_key_leaves_a_read_only_settings_file_alone(demo_db, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('[ui]\ntheme = "clinic-dark"\n')
    os.chmod(config, 0o444)
    app = make_app(demo_db, theme="clinic-dark", config_path=config)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert app.is_running and app.theme == "clinic-light"
        assert f"Theme clinic-light (not remembered: {config} is read-only)" in _notes(app)
    assert config.read_text() == '[ui]\ntheme = "clinic-dark"\n'
    assert stat.S_IMODE(config.stat().st_mode) == 0o444


@async_test
async def test_theme_key_under_read_only_writes_nothing(demo_db, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('[ui]\ntheme = "clinic-dark"\n')
    before = config.read_bytes()
    app = make_app(demo_db, theme="clinic-dark", config_path=config, read_only=True)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert app.theme == "clinic-light"
        assert "Theme clinic-light (not remembered: read-only)" in _notes(app)
    assert config.read_bytes() == before


@async_test
async def test_theme_key_leaves_a_settings_file_with_comments_alone(demo_db, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('# my clinic\'s settings\n[rupture]\ndrop_sd = 1.5  # agreed with the team\n')
    os.chmod(config, 0o644)
    before = config.read_bytes()
    app = make_app(demo_db, theme="clinic-dark", config_path=config)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert app.theme == "clinic-light"
        assert ('Theme clinic-light (not remembered: your settings file has comments; '
                'add [ui] theme = "clinic-light" yourself)') in _notes(app)
    assert config.read_bytes() == before
    assert stat.S_IMODE(config.stat().st_mode) == 0o644


@async_test
async def test_theme_key_remembers_the_theme_and_keeps_the_file_mode(demo_db, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('[risk]\nexpire_days = 4\n[ui]\ntheme = "clinic-dark"\n')
    os.chmod(config, 0o644)
    app = make_app(demo_db, theme="clinic-dark", config_path=config)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert any("clinic-light" in m and "not remembered" not in m for m in _notes(app)), _notes(app)
    assert tomllib.loads(config.read_text()) == {"risk": {"expire_days": 4}, "ui": {"theme": "clinic-light"}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o644


@async_test
async def test_the_start_up_theme_is_not_written(demo_db, tmp_path):
    config = tmp_path / "settings.toml"
    app = make_app(demo_db, theme="projector", config_path=config)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert app.theme == "projector"
    assert not config.exists()


@async_test
async def test_palette_theme_picker_offers_only_the_apps_themes_and_remembers_the_choice(demo_db, tmp_path):
    config = tmp_path / "settings.toml"
    app = make_app(demo_db, theme="clinic-dark", config_path=config)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        app.action_change_theme()  # the palette's "Theme" command
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        from textual.command import CommandList

        offered = {str(o.prompt) for o in app.screen.query_one(CommandList).options}
        assert set(BUNDLED) <= offered
        assert not any(name.startswith(("textual-", "nord", "gruvbox", "dracula")) for name in offered), offered
        assert offered == set(app.theme_names)
        await pilot.press(*"projector")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.theme == "projector"
        assert "Theme projector" in _notes(app)
    assert tomllib.loads(config.read_text()) == {"ui": {"theme": "projector"}}


def test_toml_comment_check_ignores_hashes_inside_strings():
    from supervision_tui.store.settings_file import toml_has_comments

    assert not toml_has_comments('[ui]\ntheme = "a#b"\n[keys]\nsearch = \'#\'\n')
    assert not toml_has_comments('a = """\nline # not a comment\n"""\nb = "\\"#"\n')
    assert toml_has_comments('# top\n[ui]\n')
    assert toml_has_comments('[ui]\ntheme = "a"  # after a value\n')
    assert toml_has_comments('a = "unterminated\n')  # cannot follow it: treated as commented


# --- 3, 4, 10, 11: the caseload ---------------------------------------------------------


@async_test
async def test_risk_stays_first_whatever_the_sort(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = app.screen
        table = _table(app)
        risk = scenarios["risk"]
        box = screen.query_one("#table-box")
        for key in ("client", "clinician", "alliance", "goal", "outcome", "review", "last", "sessions"):
            for reverse in (False, True):
                screen.set_sort(key, reverse)
                await pilot.pause()
                assert table_column(table, "client")[0] == risk, (key, reverse)
                assert table.current_code is not None
                assert "risk first" in box.border_title, box.border_title
        screen.set_sort("tier", True)  # triage order reversed: risk still on top
        await pilot.pause()
        assert table_column(table, "client")[0] == risk
        assert "risk first, then triage order (reversed)" in box.border_title
        screen.set_sort("tier")
        await pilot.pause()
        assert "triage order" in box.border_title and "risk first" not in box.border_title


@async_test
async def test_search_matches_the_tier_words_and_symbols(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        by_tier = {t: {a.client for a in app.analyses if a.triaged and a.tier == t} for t in range(1, 8)}
        for word, tier in (("rupture", 3), ("absent", 5), ("risk", 1), ("outcome", 2), ("no flag", 7), ("●3", 3),
                           ("goal", 4), ("goal", 6)):
            app.screen.set_search(word)
            await pilot.pause()
            shown = set(table_column(_table(app), "client"))
            assert by_tier[tier] and by_tier[tier] <= shown, (word, by_tier[tier] - shown)
        app.screen.set_search("")
        assert "tier" in app.screen.query_one("#search", Input).placeholder


@async_test
async def test_80_columns_rev_column_is_explained(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        assert "review-mark" in shown_columns(_table(app))
        box = app.screen.query_one("#table-box")
        assert box.border_subtitle.startswith("Rev: • new · "), box.border_subtitle
        assert len(box.border_subtitle) <= 80 - 6
        await pilot.press("r")  # the risk client marked discussed: the legend gains ✓
        await pilot.pause()
        assert box.border_subtitle.startswith("Rev: • new ✓ discussed · "), box.border_subtitle
        await pilot.press("question_mark")
        await pilot.pause()
        text = static_text(app.screen.query_one("#help-text", Static))
        assert "• new  ✓ discussed  ☐ action  ☑ resolved  × dismissed" in text


@async_test
async def test_120_columns_show_outcome_and_a_compact_review_status(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        table = _table(app)
        assert shown_columns(table) == ["tier", "client", "clinician", "why", "alliance", "goal", "outcome",
                                        "review-mark"]
        # every instrument of every row keeps its symbol, in a narrower form when needed
        for row, cell in zip(app.screen.rows, table_column(table, "outcome")):
            assert "…" not in cell, cell
            for part in row.outcome.split(" "):
                if part[:1].isalpha() and part != "rec.":  # ("✓ rec." may shorten to "✓")
                    assert part in cell, (row.outcome, cell)
        total = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert total <= 120 - 3
        await pilot.press("c")  # closed clients shown: their Tier cells are no wider, Outcome stays
        await pilot.pause()
        assert "outcome" in shown_columns(table)
        tiers = table_column(table, "tier")
        assert any(t.endswith(" closed") for t in tiers) and any(t.endswith(" dropped") for t in tiers), tiers


@async_test
async def test_header_count_says_when_closed_clients_are_shown(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        n = sum(1 for a in app.analyses if a.triaged)
        closed = len(app.analyses) - n
        header = app.screen.query_one("#topbar-title", Static)
        assert f"{n} clients ·" in static_text(header)
        await pilot.press("c")
        await pilot.pause()
        assert f"{n} clients (+{closed} closed shown)" in static_text(header)
        await pilot.press("c")
        await pilot.pause()
        assert "closed shown" not in static_text(header)


# --- 5, 6, 7: the client screen -------------------------------------------------------------


@async_test
async def test_client_header_gives_the_start_date_as_a_start_date(demo_db, scenarios):
    app = make_app(demo_db, show_all=True)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        for key, status in (("closed", "closed"), ("dropped_out", "dropped out"), ("paused", "paused")):
            code = scenarios[key]
            app.show_client(code)
            await pilot.pause()
            started = app.data.view(code).record.client.started
            head = static_text(app.screen.query_one("#client-header", Static))
            assert f"started {started.isoformat()} · {status}" in head, head
            assert f"{status} since" not in head
        code = scenarios["risk"]
        app.show_client(code)
        await pilot.pause()
        head = static_text(app.screen.query_one("#client-header", Static))
        assert f"active since {app.data.view(code).record.client.started.isoformat()}" in head


@async_test
async def test_sessions_risk_column_fits_at_80_columns_and_end_reaches_the_bottom(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        app.show_client(scenarios["risk"])
        await pilot.pause()
        sessions = app.screen.query_one(SessionsTable)
        keys = [c.key.value for c in sessions.ordered_columns]
        assert keys.index("risk") < keys.index("report")  # never the one cut off at the right edge
        cells = table_column(sessions, "risk")
        # endorsed, screened negative, not asked: an empty cell is never read as "no" (newcomer finding)
        assert "⚠ yes" in cells and "no" in cells and set(cells) <= {"⚠ yes", "no", "—"}
        rows = app.data.view(scenarios["risk"]).session_rows
        asked = {r.number for r in rows if r.risk is False}
        assert asked and all(r.risk is None for r in rows if r.attendance != "attended")
        # the columns up to and including risk are inside the table's visible width
        upto = keys.index("risk") + 1
        needed = sum(c.get_render_width(sessions) for c in sessions.ordered_columns[:upto])
        assert needed <= sessions.scrollable_content_region.width, (needed, sessions.scrollable_content_region)
        body = app.screen.query_one("#client-body")
        await pilot.press("end")
        await pilot.pause(0.3)
        assert body.max_scroll_y > 0 and body.scroll_y == body.max_scroll_y


@async_test
async def test_review_list_is_in_urgency_order_and_r_reviews_the_risk_first(demo40):
    db, scenarios40 = demo40
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        code = scenarios40["risk"]
        analysis = app.data.by_code[code]
        assert len(analysis.flags) >= 2 and analysis.flags[0].kind != "risk"  # the engine's own order differs
        table = app.screen.query_one("#caseload-table")
        table.move_cursor(row=[r.code for r in table.rows_shown].index(code))  # v2: unseen-risk clients lead
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen) and app.screen.code == code
        lst = app.screen.query_one(ReviewList)
        ids = [o.id for o in lst.options]
        kinds = [lst.flags[i].kind for i in ids if i != CLIENT_ENTRY]
        assert kinds[0] == "risk"
        rank = ["risk", "outcome", "rupture", "goal", "attendance"]
        assert [rank.index(k) for k in kinds] == sorted(rank.index(k) for k in kinds)
        assert ids[-1] == CLIENT_ENTRY
        await pilot.press("r")
        await pilot.pause()
        from supervision_tui.ui.screens.dialogs import ReviewDialog

        assert isinstance(app.screen, ReviewDialog)
        assert app.screen.target == f"{code} · ⚠ risk item at s{analysis.risk.session}"
        await pilot.press("escape")
        # another client opened after the client entry was highlighted: its most urgent flag again
        await pilot.pause()
        lst.highlighted = len(lst.options) - 1
        await pilot.press("right")
        await pilot.pause()
        assert lst.highlighted == 0


# --- 8, 9: help and the keymap ---------------------------------------------------------


@async_test
async def test_help_sections_have_names_a_reader_knows(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = static_text(app.screen.query_one("#help-text", Static))
        for internal in ("VerticalScroll", "OptionList", "ScrollableContainer", "Scroll Up"):
            assert internal not in text, internal
        # the flag list has the focus (issue 15): its keys, and the page keys of the screen
        assert "Review list" in text and "Previous flag" in text and "Page down" in text
        assert "[cycle-theme]" in text and "cycle_theme" not in text
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause(0.3)
        await pilot.press("question_mark")
        await pilot.pause()
        text = static_text(app.screen.query_one("#help-text", Static))
        assert "⏎  Open client" in text
        assert "OptionList" not in text


@async_test
async def test_a_remapped_key_that_collides_is_reported(demo_db):
    settings = Settings(keys={"review-client": "q", "sort": "S"})
    app = make_app(demo_db, settings=settings)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        notes = _notes(app)
        assert "[keys] review-client = q also used by quit" in notes, notes
        assert not any("sort" in m for m in notes)


@async_test
async def test_the_old_theme_binding_id_still_works(demo_db):
    app = make_app(demo_db, theme="clinic-dark", settings=Settings(keys={"cycle_theme": "T"}))
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        assert any("cycle_theme is now called cycle-theme" in m for m in _notes(app))
        await pilot.press("T")
        await pilot.pause()
        assert app.theme == "clinic-light"
