"""rules/stats.py against hand computations and published tables."""

from __future__ import annotations

import math
import random

import pytest

from supervision_tui.rules.stats import (
    Moments2,
    Z95,
    betainc,
    least_squares_2,
    line_fit,
    mean,
    mean_interval,
    rms,
    sample_sd,
    t_cdf,
    t_quantile,
    wilson,
)

# Student's t, two-sided 95 % (p = 0.975) and others, as printed in every
# statistics table (e.g. Fisher & Yates; NIST/SEMATECH e-Handbook 1.3.6.7.2)
T_TABLE = [
    (0.975, 1, 12.706),
    (0.975, 2, 4.303),
    (0.975, 3, 3.182),
    (0.975, 5, 2.571),
    (0.975, 9, 2.262),
    (0.975, 10, 2.228),
    (0.975, 20, 2.086),
    (0.975, 29, 2.045),
    (0.975, 30, 2.042),
    (0.975, 60, 2.000),
    (0.975, 120, 1.980),
    (0.95, 10, 1.812),
    (0.95, 1, 6.314),
    (0.995, 5, 4.032),
    (0.995, 29, 2.756),
    (0.90, 4, 1.533),
]


@pytest.mark.parametrize("p,df,expected", T_TABLE)
def test_t_quantile_matches_published_table(p, df, expected):
    assert round(t_quantile(p, df), 3) == pytest.approx(expected, abs=1e-9)


def test_t_quantile_is_symmetric_and_tends_to_normal():
    assert t_quantile(0.025, 9) == pytest.approx(-2.262, abs=5e-4)
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.975, 100000) == pytest.approx(Z95, abs=1e-4)


def test_t_cdf_inverts_quantile_and_known_values():
    # df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π
    for t in (-3.0, -0.5, 0.0, 0.7, 12.706):
        assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    # df = 2: F(t) = 1/2 + t / (2·sqrt(2 + t²))
    for t in (-2.0, 0.3, 4.303):
        assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    for df in (1, 4, 17, 250):
        assert t_cdf(t_quantile(0.9, df), df) == pytest.approx(0.9, abs=1e-10)


def test_betainc_closed_forms():
    # I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b
    assert betainc(1, 1, 0.3) == pytest.approx(0.3, abs=1e-14)
    assert betainc(2.5, 1, 0.6) == pytest.approx(0.6 ** 2.5, abs=1e-13)
    assert betainc(1, 3, 0.2) == pytest.approx(1 - 0.8 ** 3, abs=1e-13)
    assert betainc(2, 3, 0) == 0.0 and betainc(2, 3, 1) == 1.0


def test_t_quantile_rejects_bad_arguments():
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            t_quantile(p, 5)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


# Wilson score intervals without continuity correction: Newcombe (1998),
# "Two-sided confidence intervals for the single proportion", Stat Med 17,
# Table I, method 3.
WILSON_TABLE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("k,n,low,high", WILSON_TABLE)
def test_wilson_matches_newcombe_1998(k, n, low, high):
    p, lo, hi = wilson(k, n)
    assert p == pytest.approx(k / n)
    assert round(lo, 4) == pytest.approx(low, abs=1e-9)
    assert round(hi, 4) == pytest.approx(high, abs=1e-9)


def test_wilson_edges_and_symmetry():
    assert wilson(10, 10)[2] == 1.0 and wilson(0, 10)[1] == 0.0
    p, lo, hi = wilson(3, 10)
    q, lo2, hi2 = wilson(7, 10)
    assert lo == pytest.approx(1 - hi2) and hi == pytest.approx(1 - lo2)
    with pytest.raises(ValueError):
        wilson(1, 0)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_least_squares_two_regressors_hand_example():
    # u = (1, 2, 3), v = (1, 0, 1), y = (1, 2, 2):
    # Σuu 14, Σuv 4, Σvv 2, Σuy 11, Σvy 3, det 12
    # p = (11·2 − 3·4)/12 = 5/6, q = (3·14 − 11·4)/12 = −1/6; residuals ±1/3
    fit = least_squares_2([1, 2, 3], [1, 0, 1], [1, 2, 2])
    assert fit.p == pytest.approx(5 / 6, abs=1e-12)
    assert fit.q == pytest.approx(-1 / 6, abs=1e-12)
    assert not fit.collinear
    m = Moments2()
    for a, b, c in zip([1, 2, 3], [1, 0, 1], [1, 2, 2]):
        m.add(a, b, c)
    assert m.rss(fit.p, fit.q) == pytest.approx(3 * (1 / 3) ** 2, abs=1e-12)


def test_least_squares_collinear_fits_the_first_regressor_alone():
    # v = 2u throughout (every intake the same): q fixed at 0, p = Σuy/Σuu
    u = [1.0, 2.0, 3.0]
    fit = least_squares_2(u, [2 * x for x in u], [2.0, 3.0, 7.0])
    assert fit.collinear and fit.q == 0.0
    assert fit.p == pytest.approx((2 + 6 + 21) / 14)


def test_moments_add_up_and_rss_matches_direct_sum():
    rng = random.Random(5)
    rows = [(rng.random(), rng.random() * 10, rng.gauss(3, 2)) for _ in range(200)]
    a, b = Moments2(), Moments2()
    for i, r in enumerate(rows):
        (a if i % 2 else b).add(*r)
    both = a + b
    fit = both.solve()
    direct = sum((y - fit.p * u - fit.q * v) ** 2 for u, v, y in rows)
    assert both.rss(fit.p, fit.q) == pytest.approx(direct, rel=1e-9)
    ref = least_squares_2(*zip(*rows))
    assert (ref.p, ref.q) == pytest.approx((fit.p, fit.q))


def test_line_fit_hand_example_and_flat_x():
    # x̄ 2.5, ȳ 4, Sxy 7, Sxx 5 → b 1.4, a 0.5
    a, b, flat = line_fit([1, 2, 3, 4], [2, 3, 5, 6])
    assert (a, b, flat) == (pytest.approx(0.5), pytest.approx(1.4), False)
    assert line_fit([3, 3, 3], [1, 2, 6]) == (3.0, 0.0, True)


def test_descriptives():
    assert mean([1, 2, 6]) == 3
    assert sample_sd([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(math.sqrt(32 / 7))
    assert rms([3, -4]) == pytest.approx(math.sqrt(12.5))
    m, lo, hi = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) = 2.776
    assert (m, lo, hi) == (3.0, pytest.approx(3 - half, abs=1e-3), pytest.approx(3 + half, abs=1e-3))
    with pytest.raises(ValueError):
        sample_sd([1.0])
