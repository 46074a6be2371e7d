"""Goal agreement, clinical-rules.md §4."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules_helpers import D0, Case
from supervision_tui.settings import GoalSettings, Settings


def goal(case: Case, settings: Settings | None = None):
    return case.analyse(settings).goal


@pytest.mark.parametrize(
    "value, verdict",
    [(20, "agreed"), (16, "agreed"), (15.5, "partial"), (15, "partial"), (13, "partial"),
     (12.5, "disagreed"), (12, "disagreed"), (4, "disagreed")],
)
def test_wai_sr_goal_thresholds(value, verdict):
    assert goal(Case().s(1, WAI=dict(goal=value))).status == verdict


@pytest.mark.parametrize(
    "value, verdict",
    [(10, "agreed"), (9, "agreed"), (8.9, "partial"), (8, "partial"), (7.9, "disagreed"), (0, "disagreed")],
)
def test_srs_goals_item_thresholds(value, verdict):
    assert goal(Case().s(1, SRS=dict(total=38, goal=value))).status == verdict


@pytest.mark.parametrize(
    "client, therapist, verdict",
    [
        (16, 20, "disagreed"),  # client 4 below the therapist (client agreed on its own): the boundary
        (16, 19, "agreed"),  # 3 below: no evidence from the comparison
        (20, 16, "agreed"),  # v2: a therapist below the client is the normal pattern, not a disagreement
        (17, 13, "agreed"),  # therapist 4 below: the client's own 17 says agreed
        (20, 4, "agreed"),  # however far below
        (13, 20, "disagreed"),  # 7 below (the client alone would say partial)
        (15.5, 19.5, "disagreed"),  # 4 below, fractional
        (15.6, 19.5, "partial"),  # 3.9 below: the client's own 15.6 says partial
    ],
)
def test_client_vs_therapist_goal_gap(client, therapist, verdict):
    """spec v2 §4: only a client's Goal ≥ 4 BELOW the therapist's is a disagreement."""
    case = Case().s(1, WAI=dict(goal=client), tWAI=dict(goal=therapist))
    res = goal(case)
    assert res.status == verdict
    comparison = [e for e in res.evidence if e.source.startswith("client vs therapist")]
    assert bool(comparison) is (therapist - client >= 4)
    if comparison:
        (e,) = comparison
        assert e.detail == (f"client WAI-SR Goal {client:g} is {therapist - client:g} below the therapist's "
                            f"{therapist:g} (≥ 4 [our default]) → disagreed")


def test_therapist_goal_alone_is_not_evidence():
    assert goal(Case().s(1, tWAI=dict(goal=5))).status == "not_set"


def test_not_set_without_any_evidence():
    res = goal(Case().s(1, SRS=38, ORS=30))
    assert (res.status, res.session, res.evidence) == ("not_set", None, ())


def test_goal_record_counts_at_set_and_review_session():
    case = Case().s(1, ORS=30).s(2, ORS=30).s(3, ORS=30).goal(1, "partial", reviewed=3)
    res = goal(case)
    assert (res.status, res.session) == ("partial", 3)
    assert [e.session for e in res.evidence] == [1, 3]


def test_latest_session_wins_then_worst_within_it():
    case = (
        Case()
        .s(1, WAI=dict(goal=8))  # disagreed earlier
        .s(2, WAI=dict(goal=18), SRS=dict(total=38, goal=8.5))  # agreed + partial → partial
    )
    res = goal(case)
    assert (res.status, res.session, res.verdict) == ("partial", 2, "partial")
    case = Case().s(1, WAI=dict(goal=18)).s(2, SRS=dict(total=38, goal=9)).goal(2, "disagreed")
    assert goal(case).status == "disagreed"


def test_ratings_of_unattended_sessions_are_not_evidence():
    case = Case().s(1, WAI=dict(goal=18)).s(2, att="cancelled", WAI=dict(goal=5))
    res = goal(case)
    assert (res.status, res.session) == ("agreed", 1)


def _stale_case(evidence_session: int, latest: int, days_between: int | None = None) -> Case:
    case = Case().s(evidence_session, WAI=dict(goal=18))
    for n in range(evidence_session + 1, latest + 1):
        case.s(n, ORS=30)
    if days_between is not None:
        case = Case().s(evidence_session, WAI=dict(goal=18), day=D0)
        case.s(latest, ORS=30, day=D0 + timedelta(days=days_between))
    return case


@pytest.mark.parametrize("latest, status", [(7, "agreed"), (8, "stale")])
def test_stale_by_sessions_4_vs_5(latest, status):
    # evidence at s3, dated 7 days apart: 4 sessions (28 days) fresh, 5 (35 days) stale
    res = goal(_stale_case(3, latest))
    assert res.status == status
    assert res.sessions_ago == latest - 3


@pytest.mark.parametrize("days, status", [(42, "agreed"), (43, "stale")])
def test_stale_by_days_42_vs_43(days, status):
    res = goal(_stale_case(3, 4, days_between=days))
    assert (res.status, res.days_ago, res.sessions_ago) == (status, days, 1)


def test_partial_goes_stale_too():
    case = Case().s(1, WAI=dict(goal=14))
    for n in range(2, 7):
        case.s(n, ORS=30)
    res = goal(case)
    assert (res.status, res.verdict) == ("stale", "partial")


def test_disagreed_never_stales_but_reports_age():
    case = Case().s(1, WAI=dict(goal=8))
    for n in range(2, 20):
        case.s(n, ORS=30)
    res = goal(case)
    assert (res.status, res.sessions_ago, res.days_ago) == ("disagreed", 18, 126)


def test_stale_counts_unattended_latest_session():
    case = Case().s(1, WAI=dict(goal=18)).s(6, att="no_show")
    assert goal(case).status == "stale"


def test_stale_settings():
    settings = Settings(goals=GoalSettings(stale_sessions=10, stale_days=365))
    assert goal(_stale_case(3, 8), settings).status == "agreed"
    detail = goal(_stale_case(3, 20), settings).detail
    assert "stale after more than 10 sessions or 365 days [clinic setting]" in detail
    default = goal(_stale_case(3, 20)).detail
    assert "stale after more than 4 sessions or 42 days [our default]" in default


def test_goal_record_for_session_without_rows_uses_session_count_only():
    case = Case().s(1, ORS=30).s(2, ORS=30).goal(5, "agreed")  # s5 not in the measures
    res = goal(case)
    assert (res.status, res.session, res.sessions_ago, res.days_ago) == ("agreed", 5, 0, None)


def test_threshold_settings_override():
    settings = Settings(goals=GoalSettings(agreed={"SRS": 9.0, "WAI-SR": 18.0}, partial={"SRS": 8.0, "WAI-SR": 14.0}))
    res = goal(Case().s(1, WAI=dict(goal=17)), settings)
    assert res.status == "partial"
    assert "[clinic setting]" in res.detail


def test_goal_detail_and_short():
    res = goal(Case().s(1, WAI=dict(goal=11)))
    (ev,) = res.evidence
    assert ev.detail == "WAI-SR Goal 11 < 13 → disagreed [our default]"
    assert ev.short == "WAI Goal 11"
