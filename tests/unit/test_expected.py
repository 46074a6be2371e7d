"""Not on track (clinical-rules.md §10): the expected-gain model, its bands,
the minimums, one client's signal and its words, and a simulated clinic
with known truth (tests/unit/clinic_sim.py, fixed seeds)."""

from __future__ import annotations

import math
import random

import pytest

from clinic_sim import ORS_COURSE, PHQ_COURSE, simulate_clinic, to_caseload
from rules_helpers import Case
from supervision_tui.instruments import GAD7, ORS, PHQ9, REGISTRY, fmt
from supervision_tui.rules.expected import (
    BANDS,
    NOT_ON_TRACK,
    ON_TRACK,
    Point,
    assess_track,
    band_index,
    fit_expected,
    fit_reference_records,
    raw_change,
    share_words,
)
from supervision_tui.rules.stats import least_squares_2


@pytest.mark.parametrize(
    "t,label",
    [(2, "2"), (3, "3"), (4, "4"), (5, "5"), (6, "6–8"), (8, "6–8"), (9, "9–12"), (12, "9–12"),
     (13, "13–20"), (20, "13–20"), (21, "21+"), (63, "21+"), (64, "21+"), (500, "21+")],
)
def test_band_of_t(t, label):
    assert BANDS[band_index(t)][2] == label


def test_band_index_rejects_t_below_2():
    with pytest.raises(ValueError):
        band_index(1)


def exact_series(x0: float, sessions: list[int], b0: float, b1: float, sign: int = 1) -> list[Point]:
    s0 = sessions[0]
    return [Point(s, x0 + sign * (b0 + b1 * x0) * math.log(s - s0 + 1)) for s in sessions]


def test_fit_recovers_exact_parameters_with_zero_spread():
    series = [exact_series(x0, [1, 2, 3, 5, 9, 14, 22], 8.0, -0.25) for x0 in range(5, 35)]
    m = fit_expected(ORS, series)
    assert m.beta0 == pytest.approx(8.0, abs=1e-9)
    assert m.beta1 == pytest.approx(-0.25, abs=1e-9)
    assert m.clients == 30 and m.pairs == 30 * 6
    assert all(b.sigma == pytest.approx(0.0, abs=1e-6) for b in m.bands)


def test_fit_equals_direct_least_squares_and_band_rms():
    """The one-pass moment fit equals a plain least-squares fit on the pair
    lists, and each band's σ equals the RMS of its own residuals."""
    rng = random.Random(3)
    series = []
    for _ in range(40):
        sessions = sorted(rng.sample(range(1, 30), rng.randint(3, 10)))
        x0 = rng.randint(5, 30)
        series.append([Point(s, x0 if s == sessions[0] else rng.randint(0, 40)) for s in sessions])
    m = fit_expected(ORS, series)
    u, v, y, ts = [], [], [], []
    for pts in series:
        s0, x0 = pts[0].session, pts[0].total
        for p in pts[1:]:
            t = p.session - s0 + 1
            u.append(math.log(t)), v.append(x0 * math.log(t)), y.append(p.total - x0), ts.append(t)
    ref = least_squares_2(u, v, y)
    assert (m.beta0, m.beta1) == (pytest.approx(ref.p), pytest.approx(ref.q))
    for i, band in enumerate(m.bands):
        res = [yy - ref.p * uu - ref.q * vv for uu, vv, yy, t in zip(u, v, y, ts) if band_index(t) == i]
        assert band.pairs == len(res)
        if res:
            assert band.rms == pytest.approx(math.sqrt(sum(r * r for r in res) / len(res)))


def test_lower_is_better_instruments_fit_in_the_better_direction():
    # PHQ-9 improving by (1 + 0.2·x0)·ln t points: gains are positive
    series = [exact_series(x0, [1, 2, 4, 8], 1.0, 0.2, sign=-1) for x0 in range(8, 27)]
    m = fit_expected(PHQ9, series)
    assert m.beta0 == pytest.approx(1.0) and m.beta1 == pytest.approx(0.2)
    assert m.expected_gain(16, 8) == pytest.approx(4.2 * math.log(8))


def points(x0: float, values: list[float], start: int = 1) -> list[Point]:
    return [Point(start, x0)] + [Point(start + i + 1, v) for i, v in enumerate(values)]


def test_reference_needs_three_ratings_and_counts_pairs():
    two = [points(20, [22])] * 50
    three = [points(20, [22, 23])] * 10
    m = fit_expected(ORS, two + three)
    assert m.clients == 10 and m.pairs == 20


def noisy_reference(n_clients: int, n_ratings: int, seed: int = 1, start_gap: int = 1) -> list[list[Point]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_clients):
        x0 = rng.randint(10, 30)
        out.append([Point(1, x0)] + [
            Point(1 + start_gap * k, x0 + (6 - 0.2 * x0) * math.log(1 + start_gap * k) + rng.gauss(0, 3))
            for k in range(1, n_ratings)
        ])
    return out


@pytest.mark.parametrize(
    "clients,ratings,enough,words",
    [
        (12, 12, False, "not enough clinic data for an expected trajectory: 12 of 30 clients"),
        (29, 5, False, "29 of 30 clients"),
        (30, 4, False, "90 of 100 ratings after intake"),  # 30 clients × 3 pairs
        (30, 5, True, None),  # 30 clients × 4 pairs = 120
        (25, 3, False, "25 of 30 clients, 50 of 100 ratings after intake"),
    ],
)
def test_minimum_clients_and_pairs(clients, ratings, enough, words):
    m = fit_expected(ORS, noisy_reference(clients, ratings))
    assert m.enough is enough
    if words is None:
        assert m.shortfall() is None
    else:
        assert words in m.shortfall()
    # below the minimum the client gets no signal and the reason is given
    r = assess_track(points(20, [14, 13, 12, 10, 9]), m)
    if enough:
        assert r.status in (NOT_ON_TRACK, ON_TRACK)
    else:
        assert r.status is None and r.expected is None
        assert "not enough clinic data for an expected trajectory" in r.detail
        assert r.reference_clients == clients


def test_minimums_are_parameters():
    m = fit_expected(ORS, noisy_reference(12, 12), min_clients=10, min_pairs=100)
    assert m.enough and m.min_clients == 10


def test_band_with_few_pairs_borrows_from_nearest_lower_band():
    # rated every session to t = 7, then at 12: bands 2–5 and 6–8 have 50
    # pairs each client-wise ×, 9–12 only 29 clients -> borrows from 6–8;
    # 13–20 and 21+ have none -> also from 6–8 (nearest lower with 30)
    ref = noisy_reference(50, 7)
    for pts in ref[:29]:
        pts.append(Point(12, pts[0].total + 4))
    m = fit_expected(ORS, ref)
    by = {b.label: b for b in m.bands}
    assert by["9–12"].pairs == 29 and by["9–12"].source == "6–8"
    assert by["9–12"].sigma == by["6–8"].rms and by["9–12"].rms is not None
    assert by["13–20"].source == "6–8" and by["21+"].source == "6–8"
    assert by["2"].source == "2" and not by["2"].borrowed
    assert m.sigma(40) == by["6–8"].rms


def test_band_2_short_borrows_upwards_and_no_band_30_pools_everything():
    # rated every other session: t = 3, 5, 7, ... (no pair in band 2)
    m = fit_expected(ORS, noisy_reference(40, 5, start_gap=2))
    by = {b.label: b for b in m.bands}
    assert by["2"].pairs == 0 and by["2"].source == "3"  # nearest higher band with 30
    assert by["4"].source == "3"  # nearest lower with 30
    # 100 pairs spread thinly: no band reaches 30 -> RMS of all residuals
    rng = random.Random(9)
    ts = [2, 3, 4, 5, 7, 10, 15, 25]  # one t per band, dealt round-robin
    thin = []
    for i in range(34):
        sessions = [1] + sorted(ts[(3 * i + k) % 8] for k in range(3))
        thin.append([Point(s, 20 + rng.gauss(0, 3)) for s in sessions])
    m2 = fit_expected(ORS, thin)
    assert m2.pairs == 102 and all(b.pairs < 30 for b in m2.bands)
    assert {b.source for b in m2.bands} == {"all"}
    assert m2.enough


def small_model(**kw):
    """ORS: E[g] = (8 − 0.2·x0)·ln t, every band σ = 2 exactly (pairs at
    residual ±2)."""
    series = []
    for x0 in (10, 15, 20, 25, 30):
        for j in range(8):  # residuals cancel within each (x0, t): the fit is exact
            pts = [Point(1, x0)]
            for k, s in enumerate(range(2, 26)):
                e = 2.0 if (k + j) % 2 == 0 else -2.0
                pts.append(Point(s, x0 + (8 - 0.2 * x0) * math.log(s) + e))
            series.append(pts)
    return fit_expected(ORS, series, **kw)


def test_signal_boundary_strictly_below():
    m = small_model()
    assert m.beta0 == pytest.approx(8.0) and m.beta1 == pytest.approx(-0.2)
    assert m.sigma(6) == pytest.approx(2.0)
    lower = m.lower_gain(16, 6)  # (8 − 3.2)·ln 6 − 1.28·2
    assert lower == pytest.approx(4.8 * math.log(6) - 2.56)
    at = assess_track([Point(1, 16), Point(6, 16 + lower)], m)
    assert at.status == ON_TRACK
    below = assess_track([Point(1, 16), Point(6, 16 + lower - 0.01)], m)
    assert below.status == NOT_ON_TRACK and below.not_on_track
    assert below.expected == pytest.approx(4.8 * math.log(6))
    assert below.lower == pytest.approx(lower)
    assert below.t == 6 and below.reference_clients == 40


def test_z_is_a_parameter():
    m = small_model(z=2.0)
    r = assess_track([Point(1, 16), Point(6, 16 + 4.8 * math.log(6) - 3.0)], m)
    assert r.status == ON_TRACK  # 3 points below expected < 2·σ = 4
    assert assess_track([Point(1, 16), Point(6, 16 + 4.8 * math.log(6) - 3.0)], small_model()).status == NOT_ON_TRACK


def test_explanation_words_higher_is_better():
    m = small_model()
    r = assess_track([Point(1, 16), Point(3, 17), Point(6, 18)], m)
    e = 16 + 4.8 * math.log(6)  # 24.6
    lo = e - 2.56  # 22.04
    assert r.status == NOT_ON_TRACK
    assert r.detail == (
        f"ORS 16 → 18 at s6 (+2, better): expected about {fmt(e)} by now "
        f"(at worst {fmt(lo)} for 9 in 10 clients starting at 16); not on track "
        "[clinic reference: 40 clients, 960 ratings]"
    )
    assert r.short == f"not on track: ORS 18 at s6; 9 in 10 reach ≥ {fmt(lo)}"  # the verdict first
    assert fmt(lo) == "22"  # 22.04: one decimal at most, no trailing .0


def test_explanation_words_lower_is_better_and_thousands():
    series = [exact_series(x0, list(range(1, 40)), 1.0, 0.2, sign=-1) for x0 in range(8, 28)] * 3
    m = fit_expected(PHQ9, series)
    r = assess_track([Point(3, 16), Point(10, 15)], m)
    assert r.detail.startswith("PHQ-9 16 → 15 at s10 (−1, better): expected about ")
    assert "for 9 in 10 clients starting at 16); not on track [clinic reference: 60 clients, 2,280 ratings]" in r.detail
    assert r.short.startswith("not on track: PHQ-9 15 at s10; 9 in 10 reach ≤ ")


def test_scores_stay_on_the_scale_and_best_score_never_signals():
    # a model that expects PHQ-9 to fall by 12 points by t = 8: a client
    # starting at 6 cannot do that; at 0 it is not "not on track"
    series = [exact_series(x0, [1, 2, 4, 8], 6.0, 0.0, sign=-1) for x0 in range(8, 27)] * 2
    series = [[Point(p.session, p.total + (0.5 if i % 2 else -0.5)) if k else p for k, p in enumerate(s)]
              for i, s in enumerate(series)]
    m = fit_expected(PHQ9, series)
    r = assess_track([Point(1, 6), Point(8, 0)], m)
    assert r.status == ON_TRACK
    assert r.expected_score == 0 and r.lower_score == 0  # kept within 0–27
    assert r.expected > 6  # the model's own number is not capped
    assert assess_track([Point(1, 6), Point(8, 1)], m).status == NOT_ON_TRACK


def test_closed_clients_are_never_signalled():
    m = small_model()
    for status in ("closed", "dropped_out"):
        r = assess_track([Point(1, 16), Point(6, 14)], m, status)
        assert r.status is None and "no signal: treatment ended" in r.detail
    assert assess_track([Point(1, 16), Point(6, 14)], m, "paused").status == NOT_ON_TRACK
    assert assess_track([Point(1, 16)], m) is None


def test_curve_starts_at_intake_and_follows_the_model():
    m = small_model()
    c = m.curve(16, 3, 10)
    assert c[0] == (3, 16.0, 16.0)
    s, e, lo = c[5]  # session 8, t = 6
    assert s == 8 and e == pytest.approx(16 + 4.8 * math.log(6)) and lo == pytest.approx(e - 2.56)
    assert len(c) == 8


def test_words_helpers():
    assert share_words(1.28) == "9 in 10"
    assert share_words(1.645) == "95 in 100"
    assert raw_change(PHQ9, 10, 16) == "+6, worse"
    assert raw_change(ORS, 24, 18) == "−6, worse"
    assert raw_change(GAD7, 9, 9) == "0, same"


def test_json_reference_object():
    m = small_model()
    d = m.to_json()
    assert set(d) >= {"beta0", "beta1", "sigma", "clients", "pairs", "enough"}
    assert d["beta0"] == 8.0 and d["beta1"] == -0.2 and d["enough"] is True
    assert list(d["sigma"]) == [b[2] for b in BANDS]
    assert d["sigma"]["6–8"] == 2.0
    assert "ORS: β0 = 8, β1 = −0.2: expected gain = (8 − 0.2·intake)·ln t" in m.describe()


# --- from real records -------------------------------------------------------------------


def test_reference_from_records_uses_attended_client_ratings_only():
    cases = []
    for i in range(31):
        c = Case(f"C-{i:03d}", status="closed" if i % 2 else "active")
        c.s(1, ORS=15).s(2, ORS=18).s(3, att="no_show").s(4, ORS=20)
        c.s(5, ORS=dict(total=40, rater="therapist"))  # therapist rows are not the client's course
        c.s(6, att="cancelled", ORS=3)  # a rating on an unattended session is ignored
        cases.append(c)
    cl = cases[0].caseload(*cases[1:])
    models = fit_reference_records(cl.records(), REGISTRY)
    assert list(models) == ["ORS", "PHQ-9", "GAD-7"]
    m = models["ORS"]
    assert m.clients == 31 and m.pairs == 62
    assert {b.label: b.pairs for b in m.bands if b.pairs} == {"2": 31, "4": 31}
    assert models["PHQ-9"].clients == 0 and models["PHQ-9"].beta0 is None
    assert "0 of 30 clients" in models["PHQ-9"].shortfall()


# --- simulated clinics with known truth ----------------------------------------------------


def _signal_rates(clients, model):
    hit = miss = false = quiet = 0
    for c in clients:
        if c.status != "active":
            continue
        r = assess_track(c.points, model, c.status)
        if c.off_track:
            hit += r.not_on_track
            miss += not r.not_on_track
        else:
            false += r.not_on_track
            quiet += not r.not_on_track
    return hit, miss, false, quiet


@pytest.mark.parametrize("inst,course", [(ORS, ORS_COURSE), (PHQ9, PHQ_COURSE)])
def test_simulated_responders_recover_truth_and_nominal_false_signal_rate(inst, course):
    """Every client a responder: the fit finds the true β and σ(t), and
    the signal fires for about the worst tenth (z = 1.28)."""
    clients = simulate_clinic(11, inst, course, reference=1500, active_off=0, ref_off_share=0.0)
    m = fit_expected(inst, [c.points for c in clients])
    assert m.beta0 == pytest.approx(course.b0, abs=0.25 * abs(course.b0) + 0.1)
    assert m.beta1 == pytest.approx(course.b1, abs=0.02)
    for t in (2, 4, 10, 16):
        truth = math.sqrt(course.noise ** 2 + (course.tau * math.log(t)) ** 2)
        assert m.sigma(t) == pytest.approx(truth, rel=0.12)
    _, _, false, quiet = _signal_rates(clients, m)
    rate = false / (false + quiet)
    assert 0.05 <= rate <= 0.16, rate  # nominal 10 %; whole-number scores widen it a little


@pytest.mark.parametrize("inst,course", [(ORS, ORS_COURSE), (PHQ9, PHQ_COURSE)])
def test_simulated_clinic_finds_off_track_clients(inst, course):
    """A few hundred reference clients (10 % of them non-responders) and
    active clients of whom 40 are off track (clinical intake, slowly
    worse): ≥ 80 % of them are signalled, ≤ 15 % of on-track ones are.
    Three clinics pooled (seeds 1–3)."""
    hit = miss = false = quiet = 0
    for seed in (1, 2, 3):
        clients = simulate_clinic(seed, inst, course, reference=300, active_on=200, active_off=40)
        m = fit_expected(inst, [c.points for c in clients])
        assert m.enough
        h, mi, f, q = _signal_rates(clients, m)
        hit, miss, false, quiet = hit + h, miss + mi, false + f, quiet + q
    sensitivity = hit / (hit + miss)
    false_rate = false / (false + quiet)
    assert sensitivity >= 0.80, sensitivity
    assert false_rate <= 0.15, false_rate


def test_simulated_small_clinic_gets_no_signal_and_says_why():
    clients = simulate_clinic(4, ORS, ORS_COURSE, reference=10, active_on=10, active_off=5)
    m = fit_expected(ORS, [c.points for c in clients])
    assert not m.enough
    assert m.shortfall() == "not enough clinic data for an expected trajectory: 25 of 30 clients"
    for c in clients:
        r = assess_track(c.points, m, c.status)
        assert r.status is None and m.shortfall() in r.detail


def test_simulated_clinic_through_real_records_gives_the_same_model():
    clients = simulate_clinic(5, ORS, ORS_COURSE, reference=60, active_on=20, active_off=5)
    direct = fit_expected(ORS, [c.points for c in clients])
    via = fit_reference_records(to_caseload(clients, ORS).records(), REGISTRY)["ORS"]
    assert (via.clients, via.pairs) == (direct.clients, direct.pairs)
    assert via.beta0 == pytest.approx(direct.beta0) and via.beta1 == pytest.approx(direct.beta1)
    assert [b.sigma for b in via.bands] == pytest.approx([b.sigma for b in direct.bands])


def test_the_reference_is_the_same_bit_for_bit_whatever_the_order_of_the_clients():
    """The loader's two workers deliver clients in any order and the cached
    shares of unchanged clients are combined with fresh ones: the per-band
    sums are correctly rounded (``math.fsum``), so the fitted model, and
    every verdict against it, cannot depend on that order."""
    from supervision_tui.rules.engine import prepare_shared
    from supervision_tui.rules.expected import reference_of
    from supervision_tui.settings import Settings

    clients = simulate_clinic(7, ORS, ORS_COURSE, reference=80, active_on=20, active_off=5)
    records = to_caseload(clients, ORS).records()
    base = reference_of(prepare_shared(records, Settings()))["ORS"]
    shuffled = list(records)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        again = reference_of(prepare_shared(shuffled, Settings()))["ORS"]
        assert (again.beta0, again.beta1, again.bands) == (base.beta0, base.beta1, base.bands)  # ==, not approx
    direct = fit_expected(ORS, [c.points for c in clients])
    assert (direct.beta0, direct.beta1, direct.bands) == (base.beta0, base.beta1, base.bands)


def test_client_moments_add_up_to_the_direct_sums():
    """A client's share of the reference (``client_moments``) holds the sums
    of its own pairs, band by band (hand-computed for one client)."""
    from supervision_tui.rules.expected import Point, client_moments

    pts = [Point(1, 10.0), Point(2, 14.0), Point(4, 20.0)]  # ORS: higher is better
    m = client_moments(ORS, pts)
    # pair s2: t = 2 (band "2"), u = ln 2, v = 10·ln 2, y = 4; pair s4: t = 4 (band "4"), y = 10
    u2, u4 = math.log(2), math.log(4)
    assert m[0] == pytest.approx((1, u2 * u2, u2 * 10 * u2, (10 * u2) ** 2, u2 * 4, 10 * u2 * 4, 16))
    assert m[2] == pytest.approx((1, u4 * u4, u4 * 10 * u4, (10 * u4) ** 2, u4 * 10, 10 * u4 * 10, 100))
    assert all(band == (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) for i, band in enumerate(m) if i not in (0, 2))
    assert client_moments(ORS, pts[:2]) is None  # fewer than 3 ratings: not a reference client
