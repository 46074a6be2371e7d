"""The first screen and spec v2's risk (clinical-rules §6–7), through the
real app (Pilot): a client at risk never drops out of view.

The caseload holds the six situations of issue 10, imported through the
real CSV importer into a real database file: risk then only no-shows
(C-01), risk on a monthly instrument followed by other instruments
(C-02), risk then drop-out (C-03), risk re-screened negative (C-04), an
empty risk cell after a positive one (C-05), therapist Goal below the
client's (C-06), plus a client's Goal below the therapist's (C-07) and a
closed client without risk (C-08).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from textual.widgets import Static

from supervision_tui.store.csv_io import parse_files
from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable, outcome_severity
from ui_support import LARGE, SMALL, async_test, loaded, make_app, static_text, table_column

MEASURES = """client,clinician,session,date,attendance,instrument,rater,total,goal,task,bond,risk
C-01,T01,1,2026-03-02,attended,PHQ-9,client,15,,,,yes
C-01,T01,2,2026-03-09,no_show,,,,,,,
C-01,T01,3,2026-03-16,no_show,,,,,,,
C-01,T01,4,2026-03-23,cancelled,,,,,,,
C-02,T01,1,2026-03-02,attended,PHQ-9,client,14,,,,yes
C-02,T01,1,2026-03-02,attended,ORS,client,22,,,,
C-02,T01,2,2026-03-09,attended,ORS,client,23,,,,
C-02,T01,2,2026-03-09,attended,GAD-7,client,9,,,,no
C-02,T01,3,2026-03-16,attended,ORS,client,23,,,,
C-02,T01,4,2026-03-23,attended,ORS,client,24,,,,
C-02,T01,5,2026-03-30,attended,ORS,client,30,,,,
C-03,T02,1,2026-03-02,attended,ORS,client,22,,,,
C-03,T02,2,2026-03-09,attended,PHQ-9,client,17,,,,yes
C-03,T02,3,2026-03-16,no_show,,,,,,,
C-03,T02,4,2026-03-23,no_show,,,,,,,
C-04,T02,1,2026-03-02,attended,PHQ-9,client,16,,,,yes
C-04,T02,2,2026-03-09,attended,PHQ-9,client,12,,,,no
C-05,T02,1,2026-03-02,attended,PHQ-9,client,16,,,,yes
C-05,T02,2,2026-03-09,attended,PHQ-9,client,13,,,,
C-06,T01,1,2026-03-02,attended,WAI-SR,client,,18,16,16,
C-06,T01,1,2026-03-02,attended,WAI-SR,therapist,,12,14,14,
C-06,T01,1,2026-03-02,attended,ORS,client,30,,,,
C-06,T01,2,2026-03-09,attended,ORS,client,20,,,,
C-07,T01,1,2026-03-02,attended,WAI-SR,client,,16,16,16,
C-07,T01,1,2026-03-02,attended,WAI-SR,therapist,,20,16,16,
C-08,T02,1,2026-03-02,attended,ORS,client,22,,,,
"""
CLIENTS = """client,clinician,status,started
C-03,T02,dropped_out,2026-03-02
C-08,T02,closed,2026-03-02
"""
AS_OF = date(2026, 3, 30)


@pytest.fixture
def six(tmp_path) -> Path:
    m, c = tmp_path / "measures.csv", tmp_path / "clients.csv"
    m.write_text(MEASURES)
    c.write_text(CLIENTS)
    db = tmp_path / "six.json"
    Database(db, read_only=False).import_parsed(parse_files(m, clients=c))
    return db


def _table(app) -> CaseloadTable:
    return app.screen.query_one(CaseloadTable)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
@async_test
async def test_first_screen_leads_with_the_unseen_risk_client(six, size):
    app = make_app(six, as_of=AS_OF)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        table = _table(app)
        codes = table_column(table, "client")
        # not seen since the risk session first (C-03 dropped out, its risk the more recent), then C-01
        assert codes[:4] == ["C-03", "C-01", "C-02", "C-05"]
        assert table.cursor_row == 0 and table.current_code == "C-03"
        assert table_column(table, "tier")[:4] == ["▲1 risk"] * 4
        # the dropped-out client with risk is on the first screen; the closed one without risk is not
        assert "C-03" in codes[: size[1] - 6] and "C-08" not in codes
        why = table_column(table, "why")
        assert why[0].startswith("risk at s2 (dropped out); not seen s")  # cut to the column at 80x24
        assert why[1].startswith("risk at s1; not seen since")
        tiers = dict(zip(codes, table_column(table, "tier")))
        assert tiers["C-04"] != "▲1 risk"  # re-screened negative: out of tier 1
        assert tiers["C-06"].strip().startswith("▲2")  # ORS 30 → 20, not a goal disagreement
        assert tiers["C-07"] == "◆4 goal"  # the client's Goal 4 below the therapist's


@async_test
async def test_risk_is_never_hidden_by_a_filter_a_sort_or_the_closed_toggle(six):
    app = make_app(six, as_of=AS_OF)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        screen: CaseloadScreen = app.screen
        risk = ["C-03", "C-01", "C-02", "C-05"]
        for kind in ("tier4", "k-goal", "tier7"):
            screen.set_kind(kind)
            await pilot.pause()
            codes = table_column(_table(app), "client")
            assert codes[:4] == risk, kind
            notice = static_text(screen.query_one("#notice", Static))
            assert notice.startswith("⚠ RISK kept on top, outside the filter:") and "C-03" in notice
        screen.set_kind(None)
        screen.set_search("C-07")
        await pilot.pause()
        assert table_column(_table(app), "client") == [*risk, "C-07"]
        screen.set_search("")
        screen.set_clinician("T01")  # C-03 and C-05 are T02's: kept on top all the same
        await pilot.pause()
        assert table_column(_table(app), "client")[:4] == risk
        assert "C-03" in static_text(screen.query_one("#notice", Static))
        screen.set_clinician(None)
        for key in ("client", "last", "sessions", "outcome"):
            for reverse in (False, True):
                screen.set_sort(key, reverse)
                await pilot.pause()
                # pinned first whatever the sort (in the order of the sort among themselves)
                assert set(table_column(_table(app), "client")[:4]) == set(risk), (key, reverse)
        screen.set_sort("tier")
        screen.set_show_closed(True)
        await pilot.pause()
        assert table_column(_table(app), "client")[:4] == risk
        assert "C-08" in table_column(_table(app), "client")
        screen.set_show_closed(False)
        await pilot.pause()
        assert "C-03" in table_column(_table(app), "client") and "C-08" not in table_column(_table(app), "client")


@async_test
async def test_clinician_scope_keeps_its_dropped_out_risk_client(six):
    app = make_app(six, as_of=AS_OF, clinician="T02")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        codes = table_column(_table(app), "client")
        assert codes[0] == "C-03" and "C-01" not in codes


def test_outcome_sort_is_by_severity():
    cells = ["ORS +", "—", "ORS ✓ rec. PHQ-9 =", "ORS = PHQ-9 ✗", "ORS ✓ rec.", "ORS =", "GAD-7 ?"]
    ranked = sorted(cells, key=outcome_severity)
    assert ranked == ["ORS = PHQ-9 ✗", "GAD-7 ?", "ORS ✓ rec. PHQ-9 =", "ORS =", "ORS +", "ORS ✓ rec.", "—"]


@async_test
async def test_outcome_column_sorts_deteriorated_first(six):
    app = make_app(six, as_of=AS_OF)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        app.screen.set_sort("outcome")
        await pilot.pause()
        table = _table(app)
        codes, outcomes = table_column(table, "client"), table_column(table, "outcome")
        rest = outcomes[4:]  # after the pinned risk rows
        assert "✗" in rest[0] and codes[4] == "C-06"
        assert rest[-1] == "—"


@async_test
async def test_as_of_before_any_data_is_a_clear_message(six):
    app = make_app(six, as_of=date(2026, 1, 1))
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert app.data is None
        text = static_text(app.screen.query_one("#table-message", Static))
        assert "Cannot open the caseload" in text and "before any data" in text and "2026-03-02" in text


@async_test
async def test_as_of_does_not_show_later_reviews_as_made(six, monkeypatch):
    """A review made after the --as-of day is "new" in that view, and the
    past cannot be reviewed; --as-of the review's own day shows it."""
    from supervision_tui.rules.engine import analyse_caseload

    db = Database(six, read_only=False)
    (flag,) = [f for a in analyse_caseload(db.load(), as_of=AS_OF) if a.client == "C-07" for f in a.flags]
    ReviewStore(db, user="sup01", clock=lambda: "2026-04-15T09:00:00+00:00").set_review(flag, "discussed")
    # the UI tests' clock says AS_OF of ui_support; here "today" is after the review
    from supervision_tui.store import reviews

    monkeypatch.setattr(reviews, "_utc_now", lambda: "2026-05-01T09:00:00+00:00")
    for day, expected in ((AS_OF, "• new"), (date(2026, 4, 15), "✓ discussed")):
        app = make_app(six, as_of=day)
        async with app.run_test(size=LARGE, notifications=True) as pilot:
            await loaded(pilot)
            table = _table(app)
            review = dict(zip(table_column(table, "client"), table_column(table, "review")))
            assert review["C-07"] == expected, day
            if day == AS_OF:
                table.move_cursor(row=table_column(table, "client").index("C-07"))
                await pilot.press("r")
                await pilot.pause()
                assert any("the past cannot be changed" in n.message for n in app._notifications)
    assert ReviewStore(db).review_for(flag).status == "discussed"  # nothing was written by the past view


@async_test
async def test_last_seen_is_the_last_attended_session(six):
    """C-01 attended s1 (2026-03-02), then two no-shows and a cancellation:
    last seen 2026-03-02, not the cancelled 2026-03-23."""
    app = make_app(six, as_of=AS_OF)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        table = _table(app)
        seen = dict(zip(table_column(table, "client"), table_column(table, "last")))
        assert seen["C-01"] == "2026-03-02"
