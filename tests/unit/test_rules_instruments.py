"""The instrument registry is data: a new instrument needs no rule change."""

from __future__ import annotations

import pytest

from rules_helpers import Case
from supervision_tui import instruments as ins
from supervision_tui.instruments import (
    ALLIANCE,
    OUTCOME,
    REGISTRY,
    Component,
    Cutoff,
    Instrument,
    ReliableChange,
    alliance_index,
    fmt,
    fmt_signed,
)
from supervision_tui.rules.engine import analyse_client
from supervision_tui.settings import RuptureSettings, Settings, settings_from_dict


def test_spec_table():
    srs, wai, ors, phq, gad = (REGISTRY[i] for i in ("SRS", "WAI-SR", "ORS", "PHQ-9", "GAD-7"))
    assert [i.id for i in REGISTRY.alliance()] == ["SRS", "WAI-SR"]
    assert [i.id for i in REGISTRY.outcome()] == ["ORS", "PHQ-9", "GAD-7"]
    assert (srs.min, srs.max, srs.cutoff.value, srs.cutoff.comparison) == (0, 40, 36, "<")
    assert (wai.min, wai.max, wai.cutoff) == (12, 60, None)
    assert [(c.name, c.min, c.max) for c in wai.components] == [("goal", 4, 20), ("task", 4, 20), ("bond", 4, 20)]
    assert (srs.goal_component.min, srs.goal_component.max) == (0, 10)
    assert (ors.cutoff.value, ors.cutoff.comparison, ors.reliable_change.points) == (25, "<", 5)
    assert (phq.cutoff.value, phq.cutoff.comparison, phq.reliable_change.points, phq.higher_is_better) == (10, ">=", 6, False)
    assert (gad.cutoff.value, gad.cutoff.comparison, gad.reliable_change.points) == (8, ">=", 4)
    assert (srs.drop_floor, wai.drop_floor) == (3, 5)
    assert srs.drop_floor_source == "[our default]"


@pytest.mark.parametrize(
    "inst, score, band",
    [("PHQ-9", 4, "minimal"), ("PHQ-9", 5, "mild"), ("PHQ-9", 14, "moderate"), ("PHQ-9", 15, "moderately severe"),
     ("PHQ-9", 27, "severe"), ("GAD-7", 9, "mild"), ("GAD-7", 15, "severe"), ("ORS", 20, None)],
)
def test_severity_bands(inst, score, band):
    assert REGISTRY[inst].severity(score) == band


@pytest.mark.parametrize("inst, score, index", [("SRS", 33, 0.825), ("SRS", 0, 0.0), ("WAI-SR", 60, 1.0), ("WAI-SR", 36, 0.5)])
def test_alliance_index(inst, score, index):
    assert alliance_index(REGISTRY[inst], score) == pytest.approx(index)


def test_alliance_index_mirrored_when_lower_is_better():
    inst = Instrument("LOW", "x", ALLIANCE, 0, 10, higher_is_better=False)
    assert inst.index(2) == pytest.approx(0.8)


@pytest.mark.parametrize("cmp, value, score, flagged", [("<", 36, 35.9, True), ("<", 36, 36, False),
                                                        (">=", 10, 10, True), (">=", 10, 9.9, False)])
def test_cutoff(cmp, value, score, flagged):
    assert Cutoff(value, cmp, "x").flags(score) is flagged


def test_fmt():
    assert [fmt(36), fmt(35.9), fmt(8.333), fmt(-0.01), fmt(100)] == ["36", "35.9", "8.3", "0", "100"]
    assert [fmt_signed(-7), fmt_signed(5), fmt_signed(0)] == ["−7", "+5", "0"]


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError):
        REGISTRY.copy().register(REGISTRY["SRS"])


HAQ = Instrument(
    id="HAq-II", name="Helping Alliance Questionnaire II", kind=ALLIANCE, min=19, max=114,
    cutoff=Cutoff(80, "<", "test clinic", published=False), drop_floor=10,
    components=(Component("goal", "Goal", 1, 6, agreed_min=5, partial_min=4),),
)
OQ = Instrument(
    id="OQ-45", name="Outcome Questionnaire-45", kind=OUTCOME, min=0, max=180, higher_is_better=False,
    cutoff=Cutoff(64, ">=", "Lambert et al. 2004"), reliable_change=ReliableChange(14, "Lambert et al. 2004"),
)


def new_instrument_case() -> Case:
    case = Case()
    for n, v in enumerate([100, 102, 101], 1):
        case.s(n, **{"HAq-II": dict(total=v, goal=5)}, **{"OQ-45": 70})
    case.s(4, **{"HAq-II": dict(total=85, goal=3)}, **{"OQ-45": 86})  # drop 16 ≥ floor 10; OQ +16 worse
    return case


def test_new_instruments_handled_without_rule_changes():
    registry = REGISTRY.copy()
    registry.register(HAQ)
    registry.register(OQ)
    a = analyse_client(new_instrument_case().record(), Settings(), registry=registry)
    assert [(m.kind, m.instrument, m.session) for m in a.markers] == [("drop", "HAq-II", 4)]
    assert "floor 10 [our default]" in a.markers[0].detail
    (ep,) = a.episodes
    assert (ep.instrument, ep.status, ep.baseline) == ("HAq-II", "open", 101)
    assert a.outcomes["OQ-45"].status == "deteriorated"
    assert a.outcomes["OQ-45"].change == -16
    assert a.goal.status == "disagreed"  # HAq-II goal 3 < partial 4
    assert (a.alliance.instrument, a.alliance.index) == ("HAq-II", pytest.approx((85 - 19) / 95))
    assert a.tier == 2
    # an unknown instrument is ignored by the default registry
    b = analyse_client(new_instrument_case().record(), Settings())
    assert (b.markers, b.outcomes, b.tier) == ((), {}, 6)


def test_new_instrument_in_settings_and_global_registry():
    ins.register(HAQ)
    try:
        s = settings_from_dict({"rupture": {"drop_floor": {"HAq-II": 20}, "low_cutoff": {"HAq-II": 90}}})
        assert s.drop_floor_for(HAQ) == (20.0, "[clinic setting]")
        assert s.low_cutoff_for(HAQ).value == 90
        a = analyse_client(new_instrument_case().record(), s)
        assert {m.kind for m in a.markers} == {"low"}  # 85 < 90; 16 < floor 20
        # the default settings object, built before registration, still finds the floor
        assert Settings(rupture=RuptureSettings(drop_floor={})).drop_floor_for(HAQ) == (10.0, "[our default]")
    finally:
        REGISTRY.unregister("HAq-II")
    assert "HAq-II" not in REGISTRY
