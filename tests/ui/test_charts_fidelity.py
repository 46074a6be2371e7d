"""Charts (issue 15): a client and a therapist rating that coincide are
both visible; both edges of the reliable-change band show even where one
is close to the cut-off; a client without ratings gets no empty chart
frame; the console glyph set draws only console-safe marks."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from rules_helpers import Case  # noqa: E402

from supervision_tui.glyphs import CONSOLE, CONSOLE_SAFE  # noqa: E402
from supervision_tui.ui.screens.client import ClientScreen  # noqa: E402
from supervision_tui.ui.widgets.charts import (  # noqa: E402
    BAND_MARK,
    BOTH_LINE_MARK,
    BOTH_MARK,
    AllianceChart,
    OutcomeChart,
)
from ui_support import LARGE, async_test, make_app  # noqa: E402


def caseload():
    both = Case("C-0001", "T01")
    for n, (c, t) in enumerate([(45, 50), (47, 47), (49, 44), (46, 46)], 1):  # s2 and s4: equal
        both.s(n, WAI=dict(goal=c - 32, task=16, bond=16), tWAI=dict(goal=t - 32, task=16, bond=16))
    band = Case("C-0002", "T01")
    for n, v in enumerate([20.1, 19.5, 21, 19.8, 20.6], 1):  # first 20.1: band 15.1-25.1, cut-off 25
        band.s(n, ORS=v, SRS=38)
    empty = Case("C-0003", "T01").s(1, att="no_show")  # no rating at all (a client with no session
    # is not listed since spec v2: nothing is known of it yet)
    return both.caseload(band, empty)


async def _open(pilot, app, code):
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.show_client(code)
    for _ in range(20):
        await pilot.pause(0.05)
        if isinstance(app.screen, ClientScreen) and app.screen.code == code:
            break
    await pilot.pause(0.2)
    return app.screen


def _plot_text(chart) -> str:
    return chart.render().plain


@async_test
async def test_equal_client_and_therapist_ratings_are_both_visible(tmp_path):
    app = make_app(None, loader=caseload)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, app, "C-0001")
        chart = screen.query_one(AllianceChart)
        assert [x for x, _ in chart.both["WAI-SR"]] == [2, 4]
        assert _plot_text(chart).count(BOTH_MARK) == 2
        assert "WAI-SR client = therapist" in chart.legend().plain


@async_test
async def test_both_reliable_change_edges_show_next_to_the_cut_off(tmp_path):
    app = make_app(None, loader=caseload)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, app, "C-0002")
        chart = next(c for c in screen.query(OutcomeChart) if c.instrument == "ORS")
        rows = _plot_text(chart).splitlines()
        band_rows = [i for i, r in enumerate(rows) if r.count(BAND_MARK) >= 10]
        merged_rows = [i for i, r in enumerate(rows) if r.count(BOTH_LINE_MARK) >= 10]
        # the lower edge (15.1) has its own line; the upper (25.1) shares the
        # cut-off's (25) text row, so that row says both, not just the cut-off
        assert len(band_rows) == 1 and len(merged_rows) == 1, "\n".join(rows)
        assert merged_rows[0] < band_rows[0]
        legend = str(screen.query_one("#outcome-charts").query(".chart-legend").first().render())
        assert "15.1–25.1" in legend
        assert "cut-off and band edge 25.1 in one row" in legend


@async_test
async def test_a_client_without_sessions_gets_no_empty_chart_frame(tmp_path):
    app = make_app(None, loader=caseload)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, app, "C-0003")
        chart = screen.query_one(AllianceChart)
        assert not chart.display
        panel = screen.query_one("#alliance-panel")
        assert panel.region.height <= 4  # border and one legend line, not a 13-row frame
        assert "No alliance ratings yet" in chart.legend().plain


@async_test
async def test_console_glyphs_in_charts(tmp_path):
    app = make_app(None, loader=caseload)
    app.glyphs = CONSOLE
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, app, "C-0001")
        chart = screen.query_one(AllianceChart)
        chart.redraw()
        text = _plot_text(chart)
        assert set(text) - {"\n"} <= CONSOLE_SAFE, set(text) - CONSOLE_SAFE
        assert "=" in text  # the both-mark of the console set
        assert set(chart.legend().plain) <= CONSOLE_SAFE | {"–", "−"}  # rule words pass the line filter
