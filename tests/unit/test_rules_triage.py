"""Triage order, clinical-rules.md §7, through analyse_caseload."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rules_helpers import D0, Case
from supervision_tui.rules.engine import analyse_caseload


def ok(code: str, start: date = D0, n: int = 3) -> Case:
    case = Case(code, start=start)
    for i in range(1, n + 1):
        case.s(i, SRS=38, WAI=dict(goal=18), ORS=30)
    return case


def tier_cases() -> dict[int, Case]:
    risk = ok("C-R")
    risk.s(4, PHQ=dict(total=12, risk=True), SRS=38, ORS=30)
    worse = ok("C-W")
    worse.s(4, SRS=38, WAI=dict(goal=18), ORS=20)
    rupture = ok("C-U")
    rupture.s(4, SRS=30, WAI=dict(goal=18), ORS=30)
    disagreed = ok("C-D")
    disagreed.s(4, SRS=38, WAI=dict(goal=11, task=20, bond=19), ORS=30)  # WAI total stays 50
    absent = ok("C-A")
    absent.s(4, att="no_show").s(5, att="cancelled")
    stale = ok("C-S")
    for n in range(4, 9):
        stale.s(n, SRS=38, ORS=30)
    nothing = ok("C-N")
    return {1: risk, 2: worse, 3: rupture, 4: disagreed, 5: absent, 6: stale, 7: nothing}


EXPECTED = {
    1: ("risk", "risk item at s4"),
    2: ("outcome deteriorated", "ORS −10 since s1 (deteriorated)"),
    3: ("rupture open", "open since s4 (drop, low)"),
    4: ("goal disagreed", "goal disagreed (WAI Goal 11, s4)"),
    5: ("disengaging", "2 sessions missed"),
    6: ("goal stale", "goal stale (last s3, 5 sess ago)"),
    7: ("nothing to review", "nothing to review"),
}


def test_each_tier_reason_and_why():
    cases = tier_cases()
    order = list(reversed(cases.values()))  # input order must not matter
    analyses = analyse_caseload(order[0].caseload(*order[1:]))
    assert [a.client for a in analyses] == [c.code for c in cases.values()]
    for a in analyses:
        assert (a.reason, a.why) == EXPECTED[a.tier]


def test_most_urgent_tier_wins():
    case = ok("C-1")
    case.s(4, SRS=30, WAI=dict(goal=11), ORS=20, PHQ=dict(total=5, risk=True))
    (a,) = analyse_caseload(case.caseload())
    assert a.tier == 1
    case = ok("C-1")
    case.s(4, SRS=30, WAI=dict(goal=11), ORS=20)
    (a,) = analyse_caseload(case.caseload())
    assert a.tier == 2


def test_within_tier_latest_trigger_date_first_then_client_id():
    a = ok("C-3", start=D0)
    b = ok("C-1", start=D0 + timedelta(days=1))
    c = ok("C-2", start=D0 + timedelta(days=1))
    d = ok("C-0", start=D0 - timedelta(days=30))
    analyses = analyse_caseload(a.caseload(b, c, d))
    assert [x.client for x in analyses] == ["C-1", "C-2", "C-3", "C-0"]


def test_rupture_trigger_is_last_marker_of_latest_episode():
    case = ok("C-1")
    case.s(4, SRS=30).s(5, SRS=33).s(6, SRS=34)  # 4 low+drop, 5 low, 6 low → one open episode
    (a,) = analyse_caseload(case.caseload())
    assert (a.tier, a.trigger_session) == (3, 6)


def test_unrepaired_reason():
    case = Case("C-1", status="active")
    case.series("SRS", [38, 38, 38, 30, 37, 37, 37, 37, 37, 37])
    (a,) = analyse_caseload(case.caseload())
    assert (a.tier, a.reason, a.why) == (3, "rupture unrepaired", "unrepaired since s4 (drop, low)")


@pytest.mark.parametrize(
    "build, reason, why",
    [
        (lambda c: c.s(1, SRS=38, ORS=30), "goal not set", "goal not set"),
        (lambda c: c.s(1, SRS=dict(total=38, goal=8.5), ORS=30), "goal partial", "goal partial (SRS goals item 8.5, s1)"),
    ],
)
def test_tier_6_variants(build, reason, why):
    case = Case("C-1")
    build(case)
    (a,) = analyse_caseload(case.caseload())
    assert (a.tier, a.reason, a.why) == (6, reason, why)


def test_stale_by_days_why():
    case = Case("C-1").s(1, WAI=dict(goal=18), day=D0).s(2, ORS=30, day=D0 + timedelta(days=60))
    (a,) = analyse_caseload(case.caseload())
    assert a.why == "goal stale (last s1, 60 days ago)"


def test_closed_clients_come_after_triaged_ones():
    closed = ok("C-0")
    closed.status = "closed"
    closed.s(4, PHQ=dict(total=12, risk=True))
    dropped = ok("C-9")
    dropped.status = "dropped_out"
    analyses = analyse_caseload(closed.caseload(dropped, ok("C-5")))
    assert [(a.client, a.triaged) for a in analyses] == [("C-5", True), ("C-0", False), ("C-9", False)]


def test_paused_is_triaged():
    paused = ok("C-1")
    paused.status = "paused"
    (a,) = analyse_caseload(paused.caseload())
    assert a.triaged


def test_as_of_drops_later_sessions():
    case = ok("C-1")
    case.s(4, PHQ=dict(total=12, risk=True))
    cl = case.caseload()
    (a,) = analyse_caseload(cl, as_of=D0 + timedelta(days=14))
    assert (a.tier, a.latest_session, a.sessions) == (7, 3, 3)
    (a,) = analyse_caseload(cl)
    assert a.tier == 1
