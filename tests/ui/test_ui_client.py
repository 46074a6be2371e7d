"""The client screen: risk first, charts, ruptures, goals (private text
hidden when presenting), sessions table, layout by width."""

from __future__ import annotations

from textual.widgets import Static
from textual_plotext import PlotextPlot

from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.widgets.charts import AllianceChart, ChartPanel, OutcomeChart
from supervision_tui.ui.widgets.panels import HIDDEN_TEXT, SessionsTable
from ui_support import (
    LARGE,
    SMALL,
    async_test,
    loaded,
    make_app,
    plain,
    static_text,
)


async def _open(pilot, code: str) -> ClientScreen:
    app = pilot.app
    await loaded(pilot)
    app.show_client(code)
    await pilot.pause()
    await pilot.pause()
    assert isinstance(app.screen, ClientScreen)
    return app.screen


@async_test
async def test_risk_banner_comes_first_with_a_word(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _open(pilot, scenarios["risk"])
        banner = screen.query_one("#risk-banner", Static)
        assert banner.display
        text = static_text(banner)
        assert text.startswith("⚠ RISK") and "PHQ-9" in text and "s11" in text
        # one line, each fact once (the engine's detail re-arranged, not repeated)
        assert text == ("⚠ RISK · PHQ-9 critical item endorsed at s11 (2026-11-20, client) · "
                        "the latest session; active until a negative PHQ-9 re-screen at a later attended "
                        "session. PHQ-9 item 9 is a screen, not a risk determination: confirm a risk "
                        "assessment and safety plan are documented.")
        assert text.count("s11") == 1 and text.count("2026-11-20") == 1
        # banner sits right under the header, above the charts
        assert banner.region.y < screen.query_one("#alliance-panel").region.y
        assert banner.region.y <= 4


@async_test
async def test_no_banner_without_risk(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _open(pilot, scenarios["goal_stale"])
        assert not screen.query_one("#risk-banner", Static).display


@async_test
async def test_header_of_a_no_flag_client_says_the_tier_once_without_a_stray_space(demo_db, scenarios):
    """Tier 7's label has a blank symbol (" 7 no flag", for the Tier column)
    and its why is "no flag": the header said "·  7 no flag: no flag"."""
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, scenarios["repaired_v"])
        head = static_text(screen.query_one("#client-header", Static))
        assert "\n" not in head
        assert " · 7 no flag  (" in head, head  # (two spaces before the dim position hint)
        assert "  7" not in head and "no flag: no flag" not in head
        # a re-screened risk: the why's rest follows the tier, not "no flag" twice
        app.show_client(scenarios["recovered"])
        await pilot.pause()
        await pilot.pause()
        head = static_text(app.screen.query_one("#client-header", Static))
        assert " · 7 no flag: risk at s2 re-screened negative" in head, head
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:  # the tier on a second line starts with it
        screen = await _open(pilot, scenarios["repaired_v"])
        lines = static_text(screen.query_one("#client-header", Static)).split("\n")
        assert len(lines) == 2 and lines[1].startswith("7 no flag  ("), lines


@async_test
async def test_charts_only_on_the_client_screen(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        assert not list(app.screen.query(PlotextPlot))
        screen = await _open(pilot, scenarios["unrepaired"])
        chart = screen.query_one(AllianceChart)
        assert chart.index_mode is False  # one instrument: native scale
        panel = screen.query_one("#alliance-panel", ChartPanel)
        assert "SRS (0–40" in panel.border_title
        legend = static_text(panel.query_one(".chart-legend"))
        assert "SRS cut-off 36" in legend
        assert "rupture s12" in legend and "UNREPAIRED" in legend
        outcome_charts = list(screen.query(OutcomeChart))
        assert [c.instrument for c in outcome_charts] == screen.view.outcome_instruments
        assert outcome_charts and all(c.size.height > 0 for c in outcome_charts)
        titles = [p.border_title for p in screen.query(".outcome-panel")]
        assert any("clinical < 25" in t for t in titles if t.startswith("ORS"))
        # the plot rendered something (axes drawn)
        assert "┤" in chart.render().plain


@async_test
async def test_several_alliance_instruments_use_the_index(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, scenarios["discrepancy"])
        v = screen.view
        assert len(v.alliance_instruments) > 1
        chart = screen.query_one(AllianceChart)
        assert chart.index_mode is True
        panel = screen.query_one("#alliance-panel", ChartPanel)
        assert "alliance index 0–1" in panel.border_title
        legend = static_text(panel.query_one(".chart-legend"))
        assert "WAI-SR therapist" in legend  # therapist ratings are their own series
        assert "SRS cut-off 36 = 0.90" in legend
        table = screen.query_one(SessionsTable)
        labels = [plain(c.label) for c in table.ordered_columns]
        assert "WAI-SR c/t" in labels


@async_test
async def test_ruptures_goals_and_sessions_panels(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, scenarios["unrepaired"])
        a = screen.view.analysis
        ruptures = static_text(screen.query_one("#ruptures"))
        assert "UNREPAIRED" in ruptures
        assert a.episodes[-1].detail.split(" | ")[0] in ruptures
        # a marker kind is named one way wherever it shows: the heading as in the detail
        assert "self_report" in a.episodes[-1].marker_kinds
        assert "self report" not in ruptures and "self_report" not in ruptures
        head = ruptures.splitlines()[0]
        assert head.endswith("self-report") and "self-report" in a.episodes[-1].detail
        assert "(Safran & Muran 2000)" in " ".join(ruptures.split())
        goals = screen.query_one("#goals")
        assert a.goal.status.replace("_", " ").upper() in goals.border_title
        table = screen.query_one(SessionsTable)
        assert table.row_count == len(screen.view.record.sessions)
        first_row = [plain(c) for c in table.get_row_at(0)]
        assert first_row[0] == str(screen.view.record.sessions[-1].number)  # latest first
        reports = [plain(c) for c in table.get_column("report")]
        assert any(r.startswith("client: ") for r in reports)


@async_test
async def test_goal_descriptions_hidden_when_presenting(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        code = next(c for c, rec in app.records.items() if rec.goals and rec.goals[0].description)
        screen = await _open(pilot, code)
        desc = app.records[code].goals[0].description
        goals = screen.query_one("#goals")
        assert desc in static_text(goals)
        app.present = True
        await pilot.pause()
        text = static_text(goals)
        assert desc not in text and HIDDEN_TEXT in text
        app.present = False
        await pilot.pause()
        assert desc in static_text(goals)

    app = make_app(demo_db, present=True)
    async with app.run_test(size=LARGE) as pilot:
        screen = await _open(pilot, code)
        assert desc not in static_text(screen.query_one("#goals"))


@async_test
async def test_layout_two_columns_when_wide_stacked_when_narrow(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _open(pilot, scenarios["open"])
        assert not screen.has_class("-wide")
        main, side = screen.query_one("#col-main"), screen.query_one("#col-side")
        assert side.region.y > main.region.y or side.region.y == 0  # below (maybe scrolled out)
        assert main.region.x == side.region.x or side.region.height == 0
        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        assert screen.has_class("-wide")
        assert side.region.x > main.region.x  # beside
        assert side.region.y == main.region.y


@async_test
async def test_g_focuses_goals(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        screen = await _open(pilot, scenarios["goal_disagreed"])
        await pilot.press("g")
        await pilot.pause()
        goals = screen.query_one("#goals")
        assert goals.has_focus
        assert goals.region.height > 0  # scrolled into view


@async_test
async def test_next_client_stops_at_the_ends(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        codes = [r.code for r in app.caseload_screen.rows]
        await pilot.press("end")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.code == codes[-1]
        await pilot.press("right")
        assert app.screen.code == codes[-1]
        await pilot.press("left")
        assert app.screen.code == codes[-2]


@async_test
async def test_opening_a_closed_client_from_the_palette_path_shows_closed(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        ended = next(a.client for a in app.analyses if not a.triaged)
        app.show_client(ended)
        await pilot.pause()
        assert app.screen.code == ended
        assert app.caseload_screen.show_closed
        assert ended in app.screen.order


def _tiny_caseload():
    from datetime import date

    from supervision_tui.model import Caseload, Client, Rating

    cl = Caseload(name="tiny")
    cl.clients = {"C-1": Client("C-1", "T1"), "C-2": Client("C-2", "T1"), "C-3": Client("C-3", "T2")}
    cl.ratings = [
        Rating("C-1", "T1", 1, date(2026, 1, 5), "no_show"),  # nothing measured
        Rating("C-2", "T1", 1, date(2026, 1, 5), "attended", "SRS", "client", 30.0, goal=5.0),  # one rating
        Rating("C-3", "T2", 1, date(2026, 1, 5), "attended", "ORS", "client", 20.0),
        Rating("C-3", "T2", 2, date(2026, 1, 12), "attended", "ORS", "client", 27.0),
    ]
    return cl


@async_test
async def test_clients_with_little_or_no_data_render(tmp_path):
    app = make_app(tmp_path / "unused.json", loader=_tiny_caseload, as_of=None)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        assert app.load_error is None
        assert len(app.analyses) == 3
        for code in ("C-1", "C-2", "C-3"):
            app.show_client(code)
            await pilot.pause()
            await pilot.pause()
            screen = app.screen
            assert screen.code == code
            chart = screen.query_one(AllianceChart)
            chart.render()  # draws without error
            for oc in screen.query(OutcomeChart):
                oc.render()
            legend = static_text(screen.query_one("#alliance-panel").query_one(".chart-legend"))
            if code == "C-1":
                assert "no ratings" in screen.query_one("#alliance-panel").border_title
                assert not list(screen.query(OutcomeChart))
            if code == "C-2":
                assert "SRS client" in legend
            if code == "C-3":
                assert [c.instrument for c in screen.query(OutcomeChart)] == ["ORS"]
            await pilot.press("escape")
            await pilot.pause()


@async_test
async def test_empty_caseload(tmp_path):
    from supervision_tui.model import Caseload

    app = make_app(tmp_path / "unused.json", loader=lambda: Caseload(name="empty"), as_of=None)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert app.load_error is None
        table = app.screen.query_one("#caseload-table")
        assert table.row_count == 0
        assert "0 clients" in static_text(app.screen.query_one("#topbar-title"))
        await pilot.press("enter", "down", "s", "c", "o")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.is_running


def test_risk_summary_falls_back_to_the_engine_words():
    """Wording the banner does not recognise is shown verbatim, never dropped."""
    from datetime import date
    from types import SimpleNamespace

    from supervision_tui.ui.widgets.panels import risk_banner, risk_summary

    def analysis(detail):
        risk = SimpleNamespace(session=4, date=date(2026, 1, 2), instruments=("ORS",), detail=detail)
        return SimpleNamespace(risk=risk)

    two = analysis("risk item endorsed on ORS, PHQ-9 at s4 (2026-01-02, session no-show; rated by client, "
                   "therapist); within the 3 most recent sessions")
    assert risk_summary(two) == ("ORS, PHQ-9 critical item endorsed at s4 (2026-01-02, session no-show, client, "
                                 "therapist) · within the 3 most recent sessions")
    odd = analysis("critical item on the ORS form, see the paper record")
    assert risk_summary(odd) == "critical item on the ORS form, see the paper record"
    assert risk_banner(odd).plain == "⚠ RISK · critical item on the ORS form, see the paper record"
    assert risk_summary(SimpleNamespace(risk=None)) is None
