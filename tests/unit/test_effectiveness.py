"""Supervisee effectiveness (clinical-rules.md §11, interchange.md §6a):
hand-computed examples, minimums, the JSON contract, the text table and
simulated clinics with known clinician effects (fixed seeds)."""

from __future__ import annotations

import json
import math
import random

import pytest

from clinic_sim import ORS_COURSE, simulate_cases, simulate_supervisees, to_caseload
from rules_helpers import Case as RCase
from supervision_tui.instruments import ORS, REGISTRY
from supervision_tui.reports.effectiveness import (
    REMINDER,
    Case,
    axis_limit,
    axis_words,
    cases_from_records,
    effectiveness,
    effectiveness_json,
    effectiveness_table,
    es_words,
    fit_instrument,
    rate_words,
    whisker,
)
from supervision_tui.settings import Settings

KEYS_6A = ["clinician", "instrument", "cases", "es", "es_low", "es_high", "improved", "improved_low",
           "improved_high", "recovered", "recovered_low", "recovered_high", "deteriorated", "deteriorated_low",
           "deteriorated_high", "enough"]


def hand_cases() -> list[Case]:
    rows = [
        # clinician, x0, gain, verdict
        ("T1", 10, 12, "recovered"),
        ("T1", 20, 8, "improved"),
        ("T1", 30, 2, "no_change"),
        ("T2", 10, 10, "improved"),
        ("T2", 20, 4, "no_change"),
        ("T2", 30, -2, "no_change"),
    ]
    return [Case(f"C{i}", c, "ORS", float(x), float(g), v) for i, (c, x, g, v) in enumerate(rows)]


def test_hand_computed_effect_sizes():
    """By hand: x̄ 20, ḡ 34/6, Sxx 400, Sxy = −10·12 + 10·2 − 10·10 + 10·(−2)
    = −220, so b = −0.55, a = 34/6 + 11 = 16.667; fitted 11.167, 5.667,
    0.167 at intakes 10, 20, 30. T1's residuals 5/6, 7/3, 11/6 (mean 5/3,
    sd 0.7638). SD(x0) = √80. T1: ES = (5/3)/√80 = 0.1863,
    interval (5/3 ± 4.303·0.7638/√3)/√80 = (−0.0258, 0.3985)."""
    cases = hand_cases()
    fit = fit_instrument("ORS", cases)
    assert fit.b == pytest.approx(-0.55) and fit.a == pytest.approx(34 / 6 + 11)
    assert fit.sd_x0 == pytest.approx(math.sqrt(80))
    assert [fit.residual(c) for c in cases[:3]] == pytest.approx([5 / 6, 7 / 3, 11 / 6])
    t1, t2, clinic = effectiveness(cases, REGISTRY, min_cases=2)
    assert t1.es == pytest.approx(0.18634, abs=1e-5)
    assert t1.es_low == pytest.approx(-0.0258, abs=1e-4)
    assert t1.es_high == pytest.approx(0.3985, abs=1e-4)
    # T2: residuals −7/6, −5/3, −13/6 (mean −5/3, sd 0.5): (−5/3 ± 4.303·0.5/√3)/√80
    assert (t2.es, t2.es_low, t2.es_high) == pytest.approx((-t1.es, -0.3252, -0.0475), abs=1e-4)
    assert clinic.clinician is None and clinic.es == pytest.approx(0.0, abs=1e-12)
    assert clinic.cases == 6
    assert (t1.improved.count, t1.recovered.count, t1.deteriorated.count) == (2, 1, 0)
    assert t1.improved.p == pytest.approx(2 / 3)
    assert (t1.improved.low, t1.improved.high) == pytest.approx((0.2077, 0.9385), abs=1e-4)  # Wilson 2/3


def test_exact_residuals_on_a_line():
    # T1's cases 2 points above the line g = 10 − 0.25·x0 (±0.5 around that),
    # T2's 2 below, same intakes: the fit finds the line exactly
    cases = []
    for i, x0 in enumerate(range(10, 30, 2)):
        for j, jitter in enumerate((0.5, -0.5)):
            cases.append(Case(f"a{i}{j}", "T1", "ORS", x0, 10 - 0.25 * x0 + 2 + jitter, "no_change"))
            cases.append(Case(f"b{i}{j}", "T2", "ORS", x0, 10 - 0.25 * x0 - 2 + jitter, "no_change"))
    fit = fit_instrument("ORS", cases)
    assert fit.b == pytest.approx(-0.25) and fit.a == pytest.approx(10.0)
    rows = {r.clinician: r for r in effectiveness(cases, REGISTRY)}
    sd = fit.sd_x0
    assert rows["T1"].es == pytest.approx(2 / sd) and rows["T2"].es == pytest.approx(-2 / sd)
    # sd(e) of T1 = √(20·0.25/19), n = 20, t(0.975, 19) = 2.093
    half = 2.093 * math.sqrt(5 / 19) / math.sqrt(20) / sd
    assert rows["T1"].es_high - rows["T1"].es == pytest.approx(half, abs=1e-4)


@pytest.mark.parametrize("n,enough", [(9, False), (10, True)])
def test_too_few_to_compare(n, enough):
    rng = random.Random(n)
    cases = [Case(f"c{i}", "T1", "ORS", float(rng.randint(5, 35)), rng.gauss(4, 5), "no_change") for i in range(n)]
    cases += [Case(f"d{i}", "T2", "ORS", float(rng.randint(5, 35)), rng.gauss(4, 5), "improved") for i in range(30)]
    t1 = effectiveness(cases, REGISTRY)[0]
    assert t1.clinician == "T1" and t1.cases == n and t1.enough is enough
    d = t1.to_json()
    if enough:
        assert all(d[k] is not None for k in KEYS_6A)
    else:
        assert t1.note == "too few to compare (10 needed)"
        assert all(d[k] is None for k in KEYS_6A if k not in ("clinician", "instrument", "cases", "enough"))
        assert d["cases"] == n


def test_min_cases_is_a_parameter():
    cases = hand_cases()
    assert not effectiveness(cases, REGISTRY)[0].enough
    assert effectiveness(cases, REGISTRY, min_cases=3)[0].enough


def test_json_contract_order_and_selection():
    rng = random.Random(2)
    cases = simulate_cases(rng, {"T2": (0, 15, 19), "T1": (0, 12, 19), "T3": (0, 4, 19)})
    cases += [Case(c.client + "p", c.clinician, "PHQ-9", 16.0, rng.gauss(5, 4), "no_change") for c in cases[:20]]
    rows = effectiveness(cases, REGISTRY)
    assert [(r.clinician, r.instrument) for r in rows] == [
        ("T1", "ORS"), ("T1", "PHQ-9"), ("T2", "ORS"), ("T2", "PHQ-9"), ("T3", "ORS"), (None, "ORS"),
        (None, "PHQ-9")]
    data = json.loads(effectiveness_json(rows))
    assert all(list(d) == KEYS_6A for d in data)
    assert data[-1]["clinician"] is None and data[-1]["cases"] == 20
    # every PHQ-9 intake is 16: no severity scale, no effect size, rates still given
    phq = data[-1]
    assert phq["es"] is None and phq["improved"] == 0.0 and phq["enough"] is True
    only = effectiveness(cases, REGISTRY, instrument="ORS", clinician="T2")
    assert [(r.clinician, r.instrument) for r in only] == [("T2", "ORS"), (None, "ORS")]
    # the fit uses every case of the clinic even when one clinician is asked for
    assert only[0].es == pytest.approx(rows[2].es)
    nobody = effectiveness(cases, REGISTRY, clinician="T9", instrument="ORS")
    assert nobody[0].cases == 0 and nobody[0].to_json()["es"] is None
    assert effectiveness_json([]) == "[]"


def test_numbers_are_rounded_to_three_decimals():
    rows = effectiveness(simulate_cases(random.Random(1), {"T1": (1, 30, 19), "T2": (-1, 30, 19)}), REGISTRY)
    for d in (r.to_json() for r in rows):
        for k in KEYS_6A[3:-1]:
            assert d[k] == round(d[k], 3)


def test_cases_from_records_attribution_status_and_verdicts():
    a = RCase("C-1", clinician="T1", status="dropped_out").s(1, ORS=15).s(2, ORS=18)
    # transferred: the latest ORS rating is T2's -> a T2 case
    b = RCase("C-2", clinician="T1").s(1, ORS=20).s(2, ORS=22)
    b.clinician = "T2"
    b.s(3, ORS=27).s(4, att="no_show")
    c = RCase("C-3", clinician="T3").s(1, ORS=20).s(2, att="cancelled", ORS=30)  # one attended rating only
    d = RCase("C-4", clinician="T3").s(1, PHQ=18).s(2, PHQ=10).s(3, ORS=dict(total=10, rater="therapist"))
    cl = a.caseload(b, c, d)
    cases = sorted(cases_from_records(cl.records(), Settings(), REGISTRY), key=lambda x: x.client)
    assert [(x.client, x.clinician, x.instrument, x.x0, x.gain, x.verdict) for x in cases] == [
        ("C-1", "T1", "ORS", 15.0, 3.0, "no_change"),
        ("C-2", "T2", "ORS", 20.0, 7.0, "recovered"),
        ("C-4", "T3", "PHQ-9", 18.0, 8.0, "improved"),
    ]


def test_cases_from_records_reuses_engine_outcomes():
    from supervision_tui.rules.engine import analyse_caseload

    a = RCase("C-1", clinician="T1").s(1, ORS=15).s(2, ORS=18)
    cl = a.caseload()
    analyses = analyse_caseload(cl)
    cases = cases_from_records(cl.records(), Settings(), REGISTRY, {x.client: x.outcomes for x in analyses})
    assert cases == cases_from_records(cl.records(), Settings(), REGISTRY)


# --- text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "es,low,high,row,ascii_row",
    [
        (0.0, -0.3, 0.3, "   ├──●──┤   ", "   |--o--|   "),  # the dot sits on 0
        (0.3, 0.1, 0.5, "      │├─●─┤ ", "      :|-o-| "),  # 0 outside the interval
        (-0.2, -0.4, 0.1, "  ├─●─┼┤     ", "  |-o-+|     "),  # 0 inside
        (-0.5, -0.9, -0.1, "◂●───┤│      ", "<o---|:      "),  # runs off the left end
        (0.7, 0.2, 1.2, "      │ ├───▸", "      : |--->"),  # the estimate itself is off the axis
    ],
)
def test_whisker_rows(es, low, high, row, ascii_row):
    assert whisker(es, low, high, 0.6, 13) == row
    assert whisker(es, low, high, 0.6, 13, ascii=True) == ascii_row


def test_axis_limit_and_labels():
    assert axis_limit([]) == 0.3
    rows = effectiveness(simulate_cases(random.Random(3), {"T1": (4, 30, 19), "T2": (-4, 30, 19)}), REGISTRY)
    lim = axis_limit(rows)
    assert all(-lim <= v <= lim for r in rows for v in (r.es_low, r.es_high))
    assert lim * 10 == pytest.approx(round(lim * 10))
    assert axis_words(0.6, 25) == "−0.6        0        +0.6"


def test_words_and_table():
    rng = random.Random(6)
    cases = simulate_cases(rng, {"T01": (3, 40, 19), "T02": (-3, 40, 19), "T03": (0, 7, 19)})
    rows = effectiveness(cases, REGISTRY)
    text = effectiveness_table(rows)
    lines = text.splitlines()
    assert lines[0] == "ORS · severity-adjusted effect size, 95 % interval"
    t3 = next(l for l in lines if l.startswith("T03"))
    assert "too few to compare (10 needed)" in t3 and "●" not in t3
    t1 = next(l for l in lines if l.startswith("T01"))
    assert es_words(rows[0]) in t1 and "●" in t1 and "├" in t1
    assert lines[-1] == REMINDER
    assert any(l.startswith("Clinic") for l in lines)
    assert rate_words(rows[0].improved).endswith(")") and " % (" in rate_words(rows[0].improved)
    assert "No outcome cases" in effectiveness_table([])


# --- simulated clinics with known truth ------------------------------------------------------


def test_opposite_effects_are_told_apart_and_average_ones_include_zero():
    """Five supervisees, 40 cases each, same severity mix: one gains 3 ORS
    points more than expected, one 3 fewer, three as expected."""
    rng = random.Random(7)
    cases = simulate_cases(rng, {"T1": (3, 40, 19), "T2": (-3, 40, 19), "T3": (0, 40, 19), "T4": (0, 40, 19),
                                 "T5": (0, 40, 19)})
    rows = {r.clinician: r for r in effectiveness(cases, REGISTRY)}
    assert rows["T1"].es_low > rows["T2"].es_high  # told apart
    assert rows["T1"].es_low > 0 > rows["T2"].es_high
    for cid in ("T3", "T4", "T5"):
        assert rows[cid].es_low < 0 < rows[cid].es_high


def test_severity_adjustment_removes_caseload_mix():
    """No clinician effect, but T1 sees the most severe clients (intake ORS
    13) and T2 the mildest (25): raw mean gains differ by about 3.6 points,
    adjusted effect sizes both include 0."""
    rng = random.Random(8)
    cases = simulate_cases(rng, {"T1": (0, 60, 13), "T2": (0, 60, 25), "T3": (0, 60, 19)})
    raw = {cid: sum(c.gain for c in cases if c.clinician == cid) / 60 for cid in ("T1", "T2")}
    assert raw["T1"] - raw["T2"] > 2.5
    rows = {r.clinician: r for r in effectiveness(cases, REGISTRY)}
    for cid in ("T1", "T2", "T3"):
        assert rows[cid].es_low < 0 < rows[cid].es_high


def test_interval_coverage_over_many_simulated_clinics():
    """400 clinics × 5 supervisees (40 cases each, true effects −3, −1.5,
    0, +1.5, +3 ORS points, so the clinic average is 0): the 95 %
    intervals cover the true effect size (effect / intake SD 6) in
    about 95 % of the 2 000 cases."""
    rng = random.Random(12)
    effects = {"T1": -3.0, "T2": -1.5, "T3": 0.0, "T4": 1.5, "T5": 3.0}
    covered = total = 0
    for _ in range(400):
        cases = simulate_cases(rng, {cid: (e, 40, 19) for cid, e in effects.items()})
        for r in effectiveness(cases, REGISTRY, clinic=False):
            truth = effects[r.clinician] / 6.0
            covered += r.es_low <= truth <= r.es_high
            total += 1
    coverage = covered / total
    assert 0.92 <= coverage <= 0.98, coverage


def test_supervisees_through_real_records():
    """Clients of three clinicians through the rating-course simulator and
    real records: the better clinician (+1.5 points per ln t) is above 0,
    the worse below, and verdict rates come out in order."""
    clients = simulate_supervisees(9, ORS, {"T1": (1.5, 19), "T2": (-1.5, 19), "T3": (0.0, 19)}, n_per=60)
    cl = to_caseload(clients, ORS)
    cases = cases_from_records(cl.records(), Settings(), REGISTRY)
    assert len(cases) == 180
    rows = {r.clinician: r for r in effectiveness(cases, REGISTRY)}
    assert rows["T1"].es_low > 0 > rows["T2"].es_high
    assert rows["T1"].improved.p > rows["T2"].improved.p
    assert rows["T2"].deteriorated.p >= rows["T1"].deteriorated.p
    assert rows[None].cases == 180


@pytest.mark.parametrize("share, shown", [
    (1 / 8, 13),  # a half rounds up (Python's round(12.5) is 12: the newcomer trial saw "12 % (1 of 8)")
    (29 / 200, 15),  # 14.5, whose binary fraction is just below the half
    (5 / 9, 56), (1 / 3, 33), (0.0, 0), (1.0, 100), (0.004999, 0), (0.005, 1), (7 / 8, 88), (0.995, 100),
])
def test_percentages_round_halves_up(share, shown):
    from supervision_tui.wording import percent

    assert percent(share) == shown


def test_rate_words_use_the_same_rounding():
    from supervision_tui.reports.effectiveness import Rate, rate_words

    assert rate_words(Rate(1, 8, 1 / 8, 0.125, 0.475)) == "13 % (13–48)"
