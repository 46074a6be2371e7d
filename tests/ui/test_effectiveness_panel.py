"""The effectiveness panel (clinical-rules §11, screens.md "Supervisees:
effectiveness with intervals"): layout by width, compact instruments, and
the supervisees screen and agenda of the real app on the demo with a
clinic history (enough data: the default-size demo)."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from clinic_sim import simulate_cases  # noqa: E402
from supervision_tui.instruments import REGISTRY  # noqa: E402
from supervision_tui.reports.effectiveness import REMINDER, effectiveness, rate_words  # noqa: E402
from supervision_tui.ui.widgets.effectiveness import (  # noqa: E402
    MIN_WHISKER,
    READ_WHISKER,
    effectiveness_lines,
    effectiveness_text,
)

RATE_HEADERS = {"Rel. improved": "improved", "Rel. impr.": "improved", "Recovered": "recovered",
                "Deteriorated": "deteriorated"}


def rate_columns(header: str) -> dict[str, tuple[int, int | None]]:
    """The rate columns a header line names: attribute -> (start, end) cells."""
    found = sorted((header.index(h), attr) for h, attr in RATE_HEADERS.items()
                   if h in header and not (h == "Rel. impr." and "Rel. improved" in header))
    return {attr: (start, found[i + 1][0] if i + 1 < len(found) else None) for i, (start, attr) in enumerate(found)}


def block_cells(text: str, instrument: str, column: str) -> dict[str, str]:
    """One instrument block of a table (the screen's or the CLI's): row id ->
    the text under the header ``column`` (sliced at the header's cells)."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{instrument} · severity-adjusted"))
    header = lines[at + 1]
    start = header.index(column)
    later = [header.index(h) for h in RATE_HEADERS if h in header and header.index(h) > start]
    end = min(later) if later else None
    out = {}
    for line in lines[at + 2:]:
        if not line.strip() or line.strip().startswith(("Effect size:", "Rates:")):
            break
        out[line.split()[0]] = line[start:end].strip()
    return out


def rows():
    cases = simulate_cases(random.Random(6), {"T01": (3, 41, 19), "T02": (-2, 38, 19), "T03": (0, 7, 19)})
    # GAD-7: 4 cases of T01 and 3 of T02 (nobody can be compared)
    gad = cases[:4] + [c for c in cases if c.clinician == "T02"][:3]
    cases += [c.__class__(c.client + "g", c.clinician, "GAD-7", c.x0 / 3, c.gain / 3, c.verdict) for c in gad]
    return effectiveness(cases, REGISTRY)


@pytest.mark.parametrize("width", [48, 56, 60, 70, 78, 100, 120, 158])
def test_every_row_fits_the_width_and_keeps_its_whisker(width):
    lines = effectiveness_lines(rows(), width)
    assert lines[0][1].plain.startswith("Effectiveness · " + REMINDER)
    for r, t in lines:
        if r is not None:
            assert t.cell_len <= width, (width, t.plain)
            if r.enough:
                assert "●" in t.plain and ("├" in t.plain or "◂" in t.plain)
            else:
                assert "too few to compare (10 needed)" in t.plain
    text = effectiveness_text(rows(), width).plain
    assert ("Rel. improved" in text or "Rel. impr." in text) is (width >= 54)
    assert ("Recovered" in text) is (width >= 71)  # clinical-rules §11: the third rate, while the whisker is readable
    assert ("Effect (95 %)" in text) is (width >= 98)
    assert ("Widen the window" in text) is (width < 98)
    assert "Never a ranking" in text
    header = next(t.plain for r, t in lines if t.plain.startswith("Id "))
    # the whisker: after the id and the count ("Id      Cases  ", 15 cells), 2 cells before the first column
    wcells = min(header.index(h) for h in ("Effect (95 %)", *RATE_HEADERS) if h in header) - 2 - 15
    need = READ_WHISKER if ("Recovered" in header or "Effect (95 %)" in header) else MIN_WHISKER
    assert wcells >= need, (width, header)


@pytest.mark.parametrize("width", [56, 60, 70, 78, 100, 158])
def test_each_rate_sits_under_its_header_as_the_cli_writes_it(width):
    """Every rate cell is ``rate_words`` of its row (the CLI's and the
    agenda export's formatting), under its own header, at every width."""
    lines = effectiveness_lines(rows(), width)
    header = None
    seen = set()
    for r, t in lines:
        if t.plain.startswith("Id "):
            header = t.plain
            cols = rate_columns(header)
        if r is None or not r.enough:
            continue
        for attr, (start, end) in cols.items():
            assert t.plain[start:end].strip() == rate_words(getattr(r, attr)), (width, attr, t.plain)
            seen.add(attr)
    assert ("recovered" in seen) is (width >= 71)
    assert "deteriorated" in seen


@pytest.mark.parametrize("width", [60, 78, 158])
def test_rates_without_an_effect_size_stay_in_their_columns(width):
    """Every intake the same score: no effect size (the note says why), the
    rates still shown, each under its header, within the width."""
    from supervision_tui.reports.effectiveness import EffectRow, Rate

    note = "no effect size: every intake is the same score"
    flat = [EffectRow(cid, "ORS", n, True, improved=Rate(k, n, k / n, 0.2, 0.8), recovered=Rate(j, n, j / n, 0.1, 0.6),
                      deteriorated=Rate(1, n, 1 / n, 0.01, 0.3), note=note)
            for cid, n, k, j in (("T01", 12, 6, 3), (None, 30, 14, 9))]
    lines = effectiveness_lines(flat, width)
    header = next(t.plain for _r, t in lines if t.plain.startswith("Id "))
    cols = rate_columns(header)
    assert ("recovered" in cols) is (width >= 70)
    for r, t in [(r, t) for r, t in lines if r is not None]:
        assert t.cell_len <= width, t.plain
        assert t.plain[15:].startswith(note if width >= 100 else "no effect size")
        for attr, (start, end) in cols.items():
            assert t.plain[start:end].strip() == rate_words(getattr(r, attr)), (attr, t.plain)


def test_an_instrument_nobody_can_be_compared_on_is_one_line():
    lines = [t.plain for _r, t in effectiveness_lines(rows(), 120)]
    gad = [line for line in lines if line.startswith("GAD-7")]
    assert gad == ["GAD-7 · too few to compare any supervisee: T01 4, T02 3 of 10 needed · clinic 7 cases"]
    assert lines[lines.index(gad[0]) - 1] == ""  # set apart from the ORS block
    full = [t.plain for _r, t in effectiveness_lines(rows(), 120, compact=False)]
    assert any(line.startswith("GAD-7 · severity-adjusted") for line in full)
    assert any(line.startswith("ORS · severity-adjusted") for line in lines)


def test_rows_are_in_clinician_order_never_ranked():
    order = [r.clinician for r, _t in effectiveness_lines(rows(), 120) if r is not None and r.instrument == "ORS"]
    assert order == ["T01", "T02", "T03", None]


# --- the real app ------------------------------------------------------------------------------

import html  # noqa: E402
import re  # noqa: E402

from supervision_tui.ui.screens.agenda import AgendaScreen  # noqa: E402
from supervision_tui.ui.screens.client import ClientScreen  # noqa: E402
from supervision_tui.ui.screens.clinicians import CliniciansScreen  # noqa: E402
from supervision_tui.ui.widgets.charts import ChartPanel  # noqa: E402
from supervision_tui.ui.widgets.effectiveness import EffectivenessPanel  # noqa: E402
from ui_support import AS_OF, LARGE, SMALL, async_test, loaded, make_app, static_text  # noqa: E402


def screen_text(app) -> str:
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg.replace("&#160;", " ")))


@async_test
async def test_not_on_track_on_the_caseload_client_and_agenda(demo40):
    db, stories = demo40
    code = stories["not_on_track"]
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        a = app.data.by_code[code]
        assert a.tier == 2 and app.data.reference["ORS"].enough
        shown = screen_text(app)
        # the Why cell leads with its verdict (a narrow column cuts the end: "… 9 in 10 reach ≥ 18.3")
        assert f"{code}" in shown and "not on track: ORS" in shown and re.search(r"(ORS|PHQ-9|GAD-7) ?!", shown)
        # the caseload's "Why this client is here" says not on track, with the reference (audit finding)
        app.screen._set_preview(code)
        why = static_text(app.screen.query_one("#preview-why"))
        assert why.startswith("▲ ORS") and "not on track [clinic reference:" in why
        app.show_client(code)
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen)
        legends = [static_text(p.query_one(".chart-legend")) for p in app.screen.query(ChartPanel)]
        ors = next(t for t in legends if t.startswith("▬ ORS"))
        clients = app.data.reference["ORS"].clients
        assert f"expected course for clients starting at {a.tracks['ORS'].first:g}" in ors
        assert f"({clients} clinic clients" in ors and "┄ at worst: 9 in 10 of them are above it" in ors
        assert "NOT ON TRACK" in ors
        await pilot.press("escape")
        await pilot.press("a")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, AgendaScreen) and app.screen.agenda is not None:
                break
        assert app.screen.agenda.section("not_on_track").title == "Not on track and deteriorated"
        assert "NOT ON TRACK AND DETERIORATED" in screen_text(app)
        prompts = [str(o.prompt) for o in app.screen.agenda_list.options]
        assert any("Never a ranking" in p or "never a ranking" in p for p in prompts)
        assert any("●" in p for p in prompts)


def cli_effectiveness(db) -> str:
    """What ``supervision-tui effectiveness DB --as-of`` prints for the app's day."""
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    result = CliRunner().invoke(cli, ["effectiveness", str(db), "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def effect_row_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith(("Id ", "T0", "Clinic "))]


@pytest.mark.parametrize("size", [SMALL, LARGE])
@async_test
async def test_supervisees_screen_draws_effectiveness_with_intervals(demo40, size):
    db, _ = demo40
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.press("o")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, CliniciansScreen)
        panel = app.screen.query_one(EffectivenessPanel)
        text = static_text(panel)
        assert text.startswith("Effectiveness · Overlapping intervals are not a difference. Never a ranking.")
        assert "ORS · severity-adjusted effect size, 95 % interval" in text
        assert "●" in text and "├" in text and "Clinic" in text
        shown = screen_text(app)
        assert "Overlapping intervals are not a difference" in shown  # on the first screenful, also at 80×24
        cli_text = cli_effectiveness(db)
        for column, cli_column in (("Rel. impr", "Reliably improved"), ("Deteriorated", "Deteriorated")):
            # the other rates, at both sizes ("Rel. improved" or "Rel. impr.")
            assert block_cells(text, "ORS", column) == block_cells(cli_text, "ORS", cli_column), column
        # every row fits the panel
        for line in effect_row_lines(text):
            assert len(line) <= panel.content_size.width, line
        header = next(line for line in text.splitlines() if line.startswith("Id "))
        assert ("Effect (95 %)" in header) is (size == LARGE)
        # the first screenful shows the ORS header and rows whole
        lines = text.splitlines()
        at = lines.index("ORS · severity-adjusted effect size, 95 % interval")
        ors_lines = lines[at + 1:at + 7]
        assert ors_lines[0].startswith("Id ") and ors_lines[-1].startswith("Clinic ")
        for line in ors_lines:
            assert line in shown, line
        if size == SMALL:
            # at 80 columns the whisker keeps its width and Recovered is left out (screens.md's sketch)
            assert "Recovered" not in header and header.index("Rel. impr") - 2 - 15 >= 25
            return
        # clinical-rules §11: recovered, with its Wilson interval, as the CLI prints it, on every instrument
        for inst in ("ORS", "PHQ-9", "GAD-7"):
            cells = block_cells(text, inst, "Recovered")
            assert cells == block_cells(cli_text, inst, "Recovered"), inst
            assert cells["Clinic"] and cells["T02"]  # not empty: the CLI and the screen both show them
            assert cells["T01"] == ("22 % (9–45)" if inst == "ORS" else "")  # T01: too few on PHQ-9 and GAD-7
        ors = block_cells(text, "ORS", "Recovered")
        assert ors["T02"] == "33 % (18–53)" and ors["Clinic"] == "38 % (28–48)"
        assert header.index("Rel. impr") - 2 - 15 >= READ_WHISKER  # the whisker beside the three rates
        assert "Recovered" in ors_lines[0] and "22 % (9–45)" in ors_lines[1]


@pytest.mark.parametrize("size", [SMALL, LARGE])
@async_test
async def test_agenda_effectiveness_rows_fit_the_list(demo40, size):
    """The agenda draws the same blocks: every line fits the list beside
    its indent (no "…"), and at 160 columns Recovered is the CLI's."""
    db, _ = demo40
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, AgendaScreen) and app.screen.agenda is not None:
                break
        await pilot.pause()
        ol = app.screen.agenda_list
        prompts = [o.prompt for o in ol.options]
        at = next(i for i, p in enumerate(prompts) if str(p).lstrip().startswith("ORS · severity-adjusted"))
        room = ol.scrollable_content_region.width - 2  # the option padding
        block = [p for p in prompts[at:] if str(p).lstrip().startswith(("Id ", "T0", "Clinic "))]
        assert len(block) >= 5
        for p in block:
            assert p.cell_len <= room, (room, str(p))
        text = "\n".join(str(p) for p in prompts[at:])
        if size == LARGE:
            assert block_cells(text, "ORS", "Recovered") == block_cells(cli_effectiveness(db), "ORS", "Recovered")


@async_test
async def test_a_small_clinic_says_why_there_is_no_expected_course(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        code = scenarios["deteriorated_ors"]
        assert not app.data.reference["ORS"].enough
        # the caseload says so too, in one line (clinical-rules §10 "every view says so")
        line = static_text(app.screen.query_one("#reference-notice"))
        assert app.screen.query_one("#reference-notice").display
        assert line.startswith("Not on track not computed, too little clinic data: ORS 18 of 30 clients")
        app.show_client(code)
        await pilot.pause()
        await pilot.pause()
        legends = [static_text(p.query_one(".chart-legend")) for p in app.screen.query(ChartPanel)]
        ors = next(t for t in legends if t.startswith("▬ ORS"))
        assert "no expected course: not enough clinic data for an expected trajectory: 18 of 30 clients" in ors


@async_test
async def test_the_agenda_shows_the_whole_method_note_and_end_reaches_it(demo40):
    """A newcomer's trial: the agenda screen cut the effectiveness note ("… cases with the sam") and
    its "Rates: …" sentence was never on screen (``end`` stops at the last line that can be
    highlighted). The note wraps to the list's width, and ``end`` scrolls to the very end."""
    from supervision_tui.reports.effectiveness import METHOD, RATES

    db, _stories = demo40
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await pilot.pause(0.3)
        assert isinstance(app.screen, AgendaScreen)
        ol = app.screen.agenda_list
        notes = [str(o.prompt.plain).strip() for o in ol.options if o.disabled]
        joined = " ".join(" ".join(notes).split())
        assert METHOD in joined and RATES in joined
        note = " ".join([METHOD, RATES])
        parts = [n for n in notes if n and n in note]  # the note's lines, each a piece of it
        assert len(parts) >= 3 and " ".join(parts) == note
        assert all(len(o.prompt.plain) <= ol.size.width for o in ol.options if o.prompt.plain.strip() in parts)
        await pilot.press("end")
        await pilot.pause(0.3)
        assert ol.scroll_y == ol.max_scroll_y and ol.max_scroll_y > 0
        assert "with Wilson 95 % intervals." in screen_text(app)


def test_one_clinic_case_is_one_case():
    # the newcomer trial: a one-client database read "clinic 1 cases"
    one = [c for c in simulate_cases(random.Random(6), {"T01": (3, 41, 19)})][:1]
    lines = [t.plain for _r, t in effectiveness_lines(effectiveness(one, REGISTRY), 120)]
    assert any(line.endswith("· clinic 1 case") for line in lines), lines
