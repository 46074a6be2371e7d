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
from supervision_tui.reports.effectiveness import REMINDER, effectiveness  # noqa: E402
from supervision_tui.ui.widgets.effectiveness import effectiveness_lines, effectiveness_text  # noqa: E402


def rows():
    cases = simulate_cases(random.Random(6), {"T01": (3, 41, 19), "T02": (-2, 38, 19), "T03": (0, 7, 19)})
    # GAD-7: 4 cases of T01 and 3 of T02 (nobody can be compared)
    gad = cases[:4] + [c for c in cases if c.clinician == "T02"][:3]
    cases += [c.__class__(c.client + "g", c.clinician, "GAD-7", c.x0 / 3, c.gain / 3, c.verdict) for c in gad]
    return effectiveness(cases, REGISTRY)


@pytest.mark.parametrize("width", [60, 78, 120, 158])
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
    assert ("Rel. improved" in text) is (width >= 60)
    assert ("Effect (95 %)" in text) is (width >= 100)
    assert ("Widen the window" in text) is (width < 100)
    assert "Never a ranking" in text


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
from ui_support import LARGE, SMALL, async_test, loaded, make_app, static_text  # noqa: E402


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
        assert f"{code}" in shown and "9 in 10 reach ≥" in shown and re.search(r"(ORS|PHQ-9|GAD-7) ?!", shown)
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
        assert f"({clients} clinic clients" in ors and "lower limit: 9 in 10 of them are above it" in ors
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
        text = static_text(app.screen.query_one(EffectivenessPanel))
        assert text.startswith("Effectiveness · Overlapping intervals are not a difference. Never a ranking.")
        assert "ORS · severity-adjusted effect size, 95 % interval" in text
        assert "●" in text and "├" in text and "Clinic" in text
        shown = screen_text(app)
        assert "Overlapping intervals are not a difference" in shown  # on the first screenful, also at 80×24


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
