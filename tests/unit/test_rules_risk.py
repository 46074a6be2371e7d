"""Risk, clinical-rules.md §6 (spec v2): active until a negative re-screen
on the instrument that said yes, at a later attended session; never aged
by time, sessions or missed sessions; not-seen-since clients first in
tier 1; an active risk keeps a closed or dropped-out client triaged.

Every case runs through the real engine (``analyse_client`` /
``analyse_records``) and checks the flag object of interchange.md §5.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules_helpers import D0, Case
from supervision_tui.rules.engine import analyse_records
from supervision_tui.settings import RiskSettings, Settings

YES = dict(total=15, risk=True)
NO = dict(total=12, risk=False)
EMPTY = dict(total=12)  # the risk cell left empty: not asked


def risk_then_only_no_shows() -> Case:
    return Case().s(1, ORS=25).s(2, PHQ=YES, ORS=24).s(3, att="no_show").s(4, att="cancelled").s(5, att="no_show")


def risk_on_monthly_instrument_then_other_instruments() -> Case:
    # PHQ-9 monthly (s1, s5 … but the s5 form is not given), SRS/ORS every week: nothing re-screens
    case = Case().s(1, PHQ=YES, SRS=38, ORS=24)
    for n in range(2, 10):
        case.s(n, SRS=38, ORS=25, GAD=dict(total=8, risk=False))
    return case


def risk_then_drop_out() -> Case:
    return Case(status="dropped_out").s(1, ORS=25).s(2, PHQ=YES, ORS=24).s(3, att="no_show").s(4, att="no_show")


def risk_rescreened_negative() -> Case:
    return Case().s(1, ORS=25).s(2, PHQ=YES, ORS=24).s(3, att="no_show").s(4, PHQ=NO, ORS=26).s(5, ORS=27)


def empty_risk_cell_after_positive() -> Case:
    return Case().s(1, PHQ=YES, ORS=24).s(2, PHQ=EMPTY, ORS=25).s(3, PHQ=EMPTY, ORS=26)


def therapist_no_does_not_answer_client_yes() -> Case:
    return Case().s(1, PHQ=YES).s(2, PHQ=dict(total=12, risk=False, rater="therapist"), ORS=25)


def no_on_a_missed_session() -> Case:
    return Case().s(1, PHQ=YES).s(2, att="no_show", PHQ=NO)


def no_on_another_instrument() -> Case:
    return Case().s(1, PHQ=YES).s(2, GAD=dict(total=6, risk=False), ORS=25)


def endorsed_again_after_rescreen() -> Case:
    return Case().s(1, PHQ=YES).s(2, PHQ=NO).s(3, PHQ=YES).s(4, ORS=25)


def two_instruments_one_rescreened() -> Case:
    return Case().s(1, PHQ=YES, GAD=dict(total=12, risk=True)).s(2, PHQ=NO, GAD=EMPTY)


def two_instruments_both_rescreened() -> Case:
    return two_instruments_one_rescreened().s(3, GAD=dict(total=7, risk=False), ORS=25)


def later_yes_elsewhere_rescreened_leaves_the_earlier_one() -> Case:
    # review finding: a GAD-7 endorsement at s4, re-screened at s5, must not answer PHQ-9 item 9 at s2
    return (Case().s(1, PHQ=NO).s(2, PHQ=dict(total=14, risk=True)).s(3, GAD=dict(total=9, risk=False))
            .s(4, GAD=dict(total=12, risk=True)).s(5, GAD=dict(total=7, risk=False)))


def two_pending_on_different_sessions() -> Case:
    return Case().s(1, ORS=25).s(2, PHQ=YES).s(3, ORS=25).s(4, GAD=dict(total=12, risk=True))


def risk_on_a_no_show_row() -> Case:
    return Case().s(1, ORS=25).s(2, att="no_show", PHQ=YES).s(3, ORS=25)


def seen_once_then_missed() -> Case:
    return Case().s(1, PHQ=YES).s(2, att="no_show").s(3, ORS=25).s(4, att="cancelled")


def closed_with_risk_seen_since() -> Case:
    return Case(status="closed").s(1, PHQ=YES).s(2, ORS=25)


def latest_session_risk() -> Case:
    return Case().s(1, PHQ=NO, ORS=24).s(2, PHQ=YES, ORS=23)


# case, status (None: no flag), S, rescreened_at, missed_since, tier, first in tier, why
CASES = [
    (risk_then_only_no_shows, "risk", 2, None, 3, 1, True,
     "risk at s2; not seen since: 2 no-shows, 1 cancellation"),
    (risk_on_monthly_instrument_then_other_instruments, "risk", 1, None, 0, 1, False,
     "risk at s1 (PHQ-9); not re-screened"),
    (risk_then_drop_out, "risk", 2, None, 2, 1, True, "risk at s2 (dropped out); not seen since: 2 no-shows"),
    (risk_rescreened_negative, "rescreened", 2, 4, 1, 6, False, "goal not set"),
    (empty_risk_cell_after_positive, "risk", 1, None, 0, 1, False, "risk at s1 (PHQ-9); not re-screened"),
    (therapist_no_does_not_answer_client_yes, "risk", 1, None, 0, 1, False, "risk at s1 (PHQ-9); not re-screened"),
    (no_on_a_missed_session, "risk", 1, None, 1, 1, True, "risk at s1; not seen since: 1 no-show"),
    (no_on_another_instrument, "risk", 1, None, 0, 1, False, "risk at s1 (PHQ-9); not re-screened"),
    (endorsed_again_after_rescreen, "risk", 3, None, 0, 1, False, "risk at s3 (PHQ-9); not re-screened"),
    # only the endorsement still to be answered is named
    (two_instruments_one_rescreened, "risk", 1, None, 0, 1, False, "risk at s1 (GAD-7); not re-screened"),
    (later_yes_elsewhere_rescreened_leaves_the_earlier_one, "risk", 2, None, 0, 1, False,
     "risk at s2 (PHQ-9); not re-screened"),
    (two_pending_on_different_sessions, "risk", 4, None, 0, 1, False, "risk at s4 (PHQ-9/GAD-7)"),
    (two_instruments_both_rescreened, "rescreened", 1, 3, 0, 6, False, "goal not set"),
    (risk_on_a_no_show_row, "risk", 2, None, 0, 1, False, "risk at s2 (PHQ-9); not re-screened"),
    (seen_once_then_missed, "risk", 1, None, 2, 1, False, "risk at s1 (PHQ-9); not re-screened"),
    (closed_with_risk_seen_since, "risk", 1, None, 0, 1, False, "risk at s1 (PHQ-9, closed); not re-screened"),
    (latest_session_risk, "risk", 2, None, 0, 1, False, "risk at s2 (PHQ-9)"),
]


@pytest.mark.parametrize("make, status, session, rescreened_at, missed, tier, first, why", CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_risk_v2(make, status, session, rescreened_at, missed, tier, first, why):
    a = make().analyse()
    (f,) = [f for f in a.flags if f.kind == "risk"]
    # the flags JSON object, interchange.md §5
    j = f.to_json()
    assert {k: v for k, v in j.items() if k != "detail"} == {
        "client": "C-1", "clinician": "T1", "kind": "risk", "session": session, "status": status,
        "rescreened_at": rescreened_at, "missed_since": missed,
    }
    assert list(j) == ["client", "clinician", "kind", "session", "status", "rescreened_at", "missed_since", "detail"]
    assert (a.tier, a.first_in_tier, a.why) == (tier, first, why)
    if status == "risk":
        assert a.risk is not None and a.rescreened is None and a.reason == "risk"
        assert a.triaged, "an active risk keeps its client triaged, whatever its status"
        assert "active until a negative " in f.detail and " re-screen at a later attended session" in f.detail
    else:
        assert a.risk is None and a.rescreened is not None and a.rescreened.rescreened_at == rescreened_at
        assert "re-screened negative on PHQ-9" in f.detail and f" at s{rescreened_at} (" in f.detail
    # clinical-rules §6: a screen, not a risk determination; prompt for the documentation
    assert "is a screen, not a risk determination: confirm a risk assessment and safety plan are documented" \
        in f.detail


def test_no_endorsement_no_flag():
    a = Case().s(1, PHQ=NO, ORS=20).s(2, PHQ=EMPTY).analyse()
    assert a.risk is None and a.rescreened is None and not [f for f in a.flags if f.kind == "risk"]


def test_risk_never_ages_with_sessions_or_time():
    """v1 expired a risk after 3 sessions; v2 never does (no re-screen)."""
    case = Case().s(1, PHQ=YES)
    for n in range(2, 40):
        case.s(n, SRS=38, ORS=30)
    a = case.analyse(today=D0 + timedelta(days=3650))
    assert a.tier == 1 and a.risk.session == 1 and a.risk.sessions_since == 38


def test_detail_names_the_session_the_raters_and_the_missed_sessions():
    a = risk_then_only_no_shows().analyse()
    assert a.risk.detail.startswith(
        f"risk item endorsed on PHQ-9 at s2 ({(D0 + timedelta(days=7)).isoformat()}; rated by client); "
        "not seen since: 2 no-shows, 1 cancellation; active until a negative PHQ-9 re-screen at a later "
        "attended session. PHQ-9 item 9 is a screen")
    a = risk_then_drop_out().analyse()
    assert "client dropped out: follow-up still owed" in a.risk.detail
    a = risk_on_a_no_show_row().analyse()
    assert ", session no-show; rated by client)" in a.risk.detail
    # another instrument's critical item: not called "item 9"
    a = Case().s(1, ORS=dict(total=20, risk=True)).analyse()
    assert "A critical item is a screen, not a risk determination" in a.risk.detail


@pytest.mark.parametrize(
    "expire_days, days_after, active",
    [
        (0, 10_000, True),  # 0 = never
        (30, 30, True),  # on the last day still active
        (30, 31, False),  # the day after: gone
        (1, 0, True),
    ],
)
def test_expire_days(expire_days, days_after, active):
    settings = Settings(risk=RiskSettings(expire_days=expire_days))
    case = Case().s(1, PHQ=YES)  # dated D0
    a = case.analyse(settings, today=D0 + timedelta(days=days_after))
    assert (a.risk is not None) is active
    assert bool([f for f in a.flags if f.kind == "risk"]) is active
    if active and expire_days:
        assert f"or {expire_days} days after s1 [clinic setting]" in a.risk.detail


def test_expire_days_does_not_hide_a_rescreen():
    settings = Settings(risk=RiskSettings(expire_days=5))
    a = risk_rescreened_negative().analyse(settings, today=D0 + timedelta(days=400))
    assert a.rescreened is not None and a.rescreened.rescreened_at == 4


def test_tier_1_order_not_seen_since_first():
    """clinical-rules §7: in tier 1 the clients not seen since their risk
    session come first (then the most recent risk session date, then code)."""
    recent_seen = Case("C-A").s(1, ORS=25).s(2, ORS=25).s(3, ORS=25).s(4, ORS=25).s(5, PHQ=YES)
    old_unseen = Case("C-B").s(1, PHQ=YES).s(2, att="no_show")
    dropped = Case("C-C", status="dropped_out").s(1, ORS=25).s(2, PHQ=YES).s(3, att="cancelled")
    closed_no_risk = Case("C-D", status="closed").s(1, ORS=25)
    deteriorated = Case("C-E").s(1, ORS=30).s(2, ORS=20).s(3, ORS=20).s(4, ORS=20).s(5, ORS=20).s(6, ORS=20)
    recs = recent_seen.caseload(old_unseen, dropped, closed_no_risk, deteriorated).records()
    out = analyse_records(recs)
    assert [(a.client, a.tier, a.triaged) for a in out] == [
        ("C-C", 1, True),  # not seen since, risk s2 (a week after C-B's)
        ("C-B", 1, True),  # not seen since, risk s1
        ("C-A", 1, True),  # seen since / latest: after the unseen ones although its risk is the most recent
        ("C-E", 2, True),
        ("C-D", 6, False),  # closed without risk (goal not set): after every triaged client
    ]


def test_a_rescreened_risk_is_named_on_a_no_flag_row():
    """Newcomer finding: a client whose risk was re-screened negative read
    "7 no flag … no flag", indistinguishable from a client never at risk.
    The tier stays 7 (no triage reason, clinical-rules §6); the Why names it."""
    case = Case().s(1, SRS=38, PHQ=dict(total=12, risk=True)).s(2, SRS=38, PHQ=dict(total=9, risk=False))
    case.goal(1, "agreed", reviewed=2)
    a = case.analyse()
    assert a.tier == 7 and a.reason == "no flag"
    assert a.why == "no flag; risk at s1 re-screened negative at s2"


def client_no_does_not_answer_therapist_yes() -> Case:
    # the rules-check trial's case: a therapist-rated PHQ-9 said yes, the client's own PHQ-9 said no later
    return Case().s(1, PHQ=dict(total=12)).s(2, PHQ=dict(total=14, risk=True, rater="therapist")).s(3, PHQ=NO)


# Why the flag stays, in its explanation (every flag explainable on screen): a "no" that did not count
# says so, and an endorsement at S already answered is named beside the one still owed
EXPLAINED = [
    (client_no_does_not_answer_therapist_yes,
     ["rated by therapist", "the PHQ-9 'no' at s3 was rated by client, the endorsement by therapist: "
      "a re-screen is by the same rater"], []),
    (therapist_no_does_not_answer_client_yes,
     ["the PHQ-9 'no' at s2 was rated by therapist, the endorsement by client: a re-screen is by the same rater"], []),
    (two_instruments_one_rescreened,
     ["risk item endorsed on GAD-7 at s1", "PHQ-9 (client) re-screened negative at s2",
      "not re-screened on GAD-7"], ["rated by therapist", "same rater"]),
    # nothing to explain: the plain cases keep their plain text
    (empty_risk_cell_after_positive, ["seen since, not re-screened on PHQ-9; active until"],
     ["same rater", "re-screened negative at"]),
    (no_on_another_instrument, ["not re-screened on PHQ-9"], ["same rater", "re-screened negative at"]),
]


@pytest.mark.parametrize("make, has, has_not", EXPLAINED, ids=[c[0].__name__ for c in EXPLAINED])
def test_risk_explains_why_it_stays(make, has, has_not):
    a = make().analyse()
    (f,) = [f for f in a.flags if f.kind == "risk"]
    assert f.status == "risk"
    for text in has:
        assert text in f.detail, (text, f.detail)
    for text in has_not:
        assert text not in f.detail, (text, f.detail)
