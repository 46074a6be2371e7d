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
    1: ("risk", "risk at s4 (PHQ-9)"),
    2: ("outcome deteriorated", "deteriorated: ORS 30 → 20 (−10, worse)"),
    3: ("rupture open", "open since s4 (drop, low)"),
    4: ("goal disagreed", "goal disagreed (WAI Goal 11, s4)"),
    5: ("disengaging", "2 sessions missed"),
    6: ("goal stale", "goal stale (last s3, 5 sess ago)"),
    7: ("no flag", "no flag"),  # v2: "no flag", not "ok" / "nothing to review"
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


def test_closed_clients_come_after_triaged_ones_unless_at_risk():
    """v2: an active risk keeps a closed or dropped-out client triaged (§6)."""
    closed_risk = ok("C-0")
    closed_risk.status = "closed"
    closed_risk.s(4, PHQ=dict(total=12, risk=True))
    dropped = ok("C-9")
    dropped.status = "dropped_out"
    closed_rescreened = ok("C-8")
    closed_rescreened.status = "closed"
    closed_rescreened.s(4, PHQ=dict(total=12, risk=True)).s(5, PHQ=dict(total=9, risk=False))
    analyses = analyse_caseload(closed_risk.caseload(dropped, ok("C-5"), closed_rescreened))
    assert [(a.client, a.tier, a.triaged) for a in analyses] == [
        ("C-0", 1, True), ("C-5", 7, True), ("C-8", 7, False), ("C-9", 7, False)]


def test_several_deteriorated_instruments_say_how_many_more():
    case = Case("C-1").s(1, ORS=30, PHQ=10).s(2, ORS=20, PHQ=17)
    (a,) = analyse_caseload(case.caseload())
    # the same session: the registry's first outcome instrument triggers (ORS before PHQ-9)
    assert (a.tier, a.why) == (2, "deteriorated: ORS 30 → 20 (−10, worse); 1 more")


def test_goals_achieved_instead_of_stale():
    """Every goal record achieved and none set since: say what to do."""
    case = Case("C-1")
    for n in range(1, 10):
        case.s(n, SRS=38, ORS=30)
    case.goal(1, "agreed", reviewed=3, status="achieved").goal(2, "agreed", reviewed=4, goal_id="G2",
                                                                status="achieved")
    (a,) = analyse_caseload(case.caseload())
    assert (a.tier, a.reason, a.goal.status) == (6, "no active goal", "stale")
    assert a.why == "goals achieved at s4; no active goal: set new goals or plan the ending"
    assert a.goal.detail.startswith("goals achieved at s4; no active goal: set new goals or plan the ending.")
    (f,) = [f for f in a.flags if f.kind == "goal"]
    assert (f.status, f.session) == ("stale", 4)
    # one record still active (or dropped): the ordinary "goal stale" wording
    for status in ("active", "dropped"):
        other = Case("C-2")
        for n in range(1, 10):
            other.s(n, SRS=38, ORS=30)
        other.goal(1, "agreed", reviewed=3, status="achieved").goal(2, "agreed", reviewed=4, goal_id="G2",
                                                                     status=status)
        (b,) = analyse_caseload(other.caseload())
        assert (b.reason, b.why) == ("goal stale", "goal stale (last s4, 5 sess ago)"), status


def test_goals_achieved_recently_is_no_flag():
    case = Case("C-1")
    for n in range(1, 5):
        case.s(n, SRS=38, ORS=30)
    case.goal(1, "agreed", reviewed=4, status="achieved")
    (a,) = analyse_caseload(case.caseload())
    assert (a.tier, a.goal.status) == (7, "agreed")


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


def test_as_of_leaves_out_clients_not_known_yet():
    """What we knew then: a client whose first session is later was not in the caseload."""
    early, late = ok("C-1"), ok("C-2", start=D0 + timedelta(days=60))
    cl = early.caseload(late)
    assert [a.client for a in analyse_caseload(cl, as_of=D0 + timedelta(days=30))] == ["C-1"]
    assert {a.client for a in analyse_caseload(cl)} == {"C-1", "C-2"}


@pytest.mark.parametrize(
    "days, today_offset, message",
    [
        (-1, 100, "is before any data: the first session in this caseload is dated 2026-01-05"),
        (101, 100, "is in the future (today is 2026-04-15)"),
    ],
)
def test_check_as_of_refuses_days_nothing_is_known_about(days, today_offset, message):
    from supervision_tui.rules.engine import AsOfError, check_as_of

    cl = ok("C-1").caseload()
    with pytest.raises(AsOfError) as err:
        check_as_of(cl, D0 + timedelta(days=days), today=D0 + timedelta(days=today_offset))
    assert message in str(err.value) and err.value.exit_code == 2
    for fine in (D0, D0 + timedelta(days=today_offset), None):  # the first session's day and today are fine
        check_as_of(cl, fine, today=D0 + timedelta(days=today_offset))
