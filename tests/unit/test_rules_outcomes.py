"""Outcome change, clinical-rules.md §5."""

from __future__ import annotations

import math

import pytest

from rules_helpers import Case
from supervision_tui.settings import JacobsonTruax, OutcomeSettings, Settings


def outcome(key: str, first: float, latest: float, settings: Settings | None = None, middle=()):
    case = Case().s(1, **{key: first})
    for n, v in enumerate(middle, 2):
        case.s(n, **{key: v})
    case.s(len(middle) + 2, **{key: latest})
    return next(iter(case.analyse(settings).outcomes.values()))


@pytest.mark.parametrize(
    "key, first, latest, status, change",
    [
        # ORS: higher better, RC 5, clinical < 25
        ("ORS", 30, 25, "deteriorated", -5),  # exactly RC
        ("ORS", 30, 25.1, "no_change", -4.9),
        ("ORS", 20, 25, "recovered", 5),  # clinical → non-clinical (25 is not < 25)
        ("ORS", 20, 24.9, "no_change", 4.9),
        ("ORS", 18, 24, "improved", 6),  # better by RC but still clinical
        ("ORS", 26, 31, "improved", 5),  # never clinical
        # PHQ-9: lower better, RC 6, clinical ≥ 10
        ("PHQ", 15, 9, "recovered", 6),
        ("PHQ", 15, 10, "no_change", 5),
        ("PHQ", 22, 16, "improved", 6),  # still clinical
        ("PHQ", 8, 14, "deteriorated", -6),
        ("PHQ", 8, 13, "no_change", -5),
        # GAD-7: lower better, RC 4, clinical ≥ 8
        ("GAD", 12, 7, "recovered", 5),
        ("GAD", 12, 8, "improved", 4),  # 8 is clinical
        ("GAD", 5, 9, "deteriorated", -4),
    ],
)
def test_outcome_table(key, first, latest, status, change):
    res = outcome(key, first, latest)
    assert res.status == status
    assert math.isclose(res.change, change)


def test_first_vs_latest_ignores_middle():
    res = outcome("ORS", 30, 30, middle=[10, 15])
    assert (res.status, res.first_session, res.latest_session) == ("no_change", 1, 4)


def test_needs_two_client_ratings_and_ignores_therapist_and_unattended():
    case = Case().s(1, ORS=30, tORS=10).s(2, att="no_show", ORS=5)
    assert case.analyse().outcomes == {}
    case.s(3, ORS=20)
    res = case.analyse().outcomes["ORS"]
    assert (res.first_session, res.latest_session, res.status) == (1, 3, "deteriorated")


def test_reliable_change_setting():
    settings = Settings(outcomes=OutcomeSettings(reliable_change={"ORS": 8.0, "PHQ-9": 6.0, "GAD-7": 4.0}))
    res = outcome("ORS", 30, 24, settings)
    assert res.status == "no_change"
    assert "[clinic setting]" in res.detail
    assert outcome("ORS", 30, 22, settings).status == "deteriorated"


def test_jacobson_truax():
    jt = JacobsonTruax(sd=5.0, reliability=0.95, clinical_mean=15, clinical_sd=5, functional_mean=30, functional_sd=5)
    rc = 1.96 * math.sqrt(2) * 5 * math.sqrt(0.05)  # ≈ 3.10
    assert math.isclose(jt.rc, rc)
    assert jt.cutoff == 22.5
    settings = Settings(outcomes=OutcomeSettings(jacobson_truax={"ORS": jt}))
    assert outcome("ORS", 20, 23.2, settings).status == "recovered"  # +3.2 ≥ 3.10, 20 < 22.5 ≤ 23.2
    assert outcome("ORS", 20, 23.0, settings).status == "no_change"
    assert "Jacobson & Truax" in outcome("ORS", 20, 23.2, settings).detail


def test_outcome_detail():
    res = outcome("ORS", 31, 24)
    assert res.detail.startswith("reliably deteriorated: ORS 31 → 24 (−7, worse) from s1 to s2")
    assert "reliable change 5 points (Miller et al. 2003)" in res.detail


@pytest.mark.parametrize(
    "inst, first, latest, text, change",
    [
        # spec v2 §5: the raw difference on the instrument's scale with a direction word
        ("PHQ-9", 10, 16, "PHQ-9 10 → 16 (+6, worse)", -6.0),
        ("ORS", 24, 18, "ORS 24 → 18 (−6, worse)", -6.0),
        ("PHQ-9", 16, 10, "PHQ-9 16 → 10 (−6, better)", 6.0),
        ("ORS", 18, 24, "ORS 18 → 24 (+6, better)", 6.0),
        ("GAD-7", 9, 9, "GAD-7 9 → 9 (no difference)", 0.0),
        ("ORS", 20.5, 23.7, "ORS 20.5 → 23.7 (+3.2, better)", 3.2),
    ],
)
def test_change_text_is_a_raw_difference_with_a_direction_word(inst, first, latest, text, change):
    res = outcome(inst, first, latest)
    assert res.change_text == text
    assert res.change == pytest.approx(change)  # the JSON's better-direction convention stays
    assert text in res.detail
    assert res.difference == pytest.approx(latest - first)


def test_recovered_is_per_instrument_not_iapt_recovery():
    res = outcome("PHQ-9", 16, 6)
    assert res.status == "recovered"
    assert res.detail.startswith("recovered on this measure: PHQ-9 16 → 6 (−10, better)")
    assert "per instrument, not IAPT recovery" in res.detail
    for other in (outcome("PHQ-9", 16, 12), outcome("ORS", 26, 31), outcome("ORS", 30, 31)):
        assert "recover" not in other.detail.lower()


def test_outcomes_in_registry_order():
    case = Case().s(1, GAD=10, ORS=20, PHQ=10).s(2, GAD=10, ORS=20, PHQ=10)
    assert list(case.analyse().outcomes) == ["ORS", "PHQ-9", "GAD-7"]
