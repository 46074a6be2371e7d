"""Small statistics for clinical-rules.md §10–11, standard library only.

No scipy, no numpy: the start path stays light, and every formula here is
short enough to check by hand.

* ``least_squares_2`` — least squares with two regressors and no intercept
  (``y ≈ p·u + q·v``), solved from the 2×2 normal equations. A straight line
  with intercept is the case ``u = 1`` (``line_fit``); the expected-gain
  model of §10, ``E[g] = (β0 + β1·x0)·ln t``, is the case ``u = ln t``,
  ``v = x0·ln t``. Where the two regressors are collinear (e.g. every
  intake is the same score) the second coefficient is set to 0 and the
  first fitted alone: the prediction is still the least-squares one.
* ``wilson`` — the Wilson score interval for a proportion (Wilson 1927;
  Newcombe 1998, method 3), no continuity correction.
* ``t_quantile`` — quantiles of Student's t, by inverting the t
  distribution function (regularised incomplete beta by Lentz's continued
  fraction, Numerical Recipes §6.4) with bisection. Accurate to far better
  than the 3 decimals of printed tables (tests check them).
* ``mean``, ``sample_sd`` (n − 1), ``rms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Sequence

_NORMAL = NormalDist()

#: z of a two-sided 95 % interval (1.959963984540054).
Z95 = _NORMAL.inv_cdf(0.975)


def normal_cdf(z: float) -> float:
    return _NORMAL.cdf(z)


def mean(xs: Sequence[float]) -> float:
    if not xs:
        raise ValueError("mean of no values")
    return math.fsum(xs) / len(xs)


def sample_sd(xs: Sequence[float]) -> float:
    """Standard deviation with n − 1 (needs two values)."""
    n = len(xs)
    if n < 2:
        raise ValueError("a sample standard deviation needs at least two values")
    m = mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (n - 1))


def rms(xs: Sequence[float]) -> float:
    """Root mean square (divided by n)."""
    if not xs:
        raise ValueError("root mean square of no values")
    return math.sqrt(math.fsum(x * x for x in xs) / len(xs))


# --- least squares -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fit2:
    """``y ≈ p·u + q·v``; ``collinear``: ``q`` was fixed at 0 (see module doc)."""

    p: float
    q: float
    n: int
    collinear: bool = False


@dataclass(slots=True)
class Moments2:
    """Sums for least squares ``y ≈ p·u + q·v``: enough to solve the normal
    equations and to give the residual sum of squares of any ``(p, q)``
    without a second pass over the data. Moments of disjoint groups add
    (``+``), so per-group residuals (the §10 bands) come from the same pass.
    """

    n: int = 0
    suu: float = 0.0
    suv: float = 0.0
    svv: float = 0.0
    suy: float = 0.0
    svy: float = 0.0
    syy: float = 0.0

    def add(self, u: float, v: float, y: float) -> None:
        self.n += 1
        self.suu += u * u
        self.suv += u * v
        self.svv += v * v
        self.suy += u * y
        self.svy += v * y
        self.syy += y * y

    def __add__(self, other: "Moments2") -> "Moments2":
        return Moments2(
            self.n + other.n, self.suu + other.suu, self.suv + other.suv, self.svv + other.svv,
            self.suy + other.suy, self.svy + other.svy, self.syy + other.syy,
        )

    def solve(self) -> Fit2:
        """The normal equations::

            [Σuu Σuv] [p]   [Σuy]
            [Σuv Σvv] [q] = [Σvy]

        Raises ``ValueError`` without data or when ``u`` is all zeros."""
        if self.n == 0:
            raise ValueError("least squares needs data")
        suu, svv, suv = self.suu, self.svv, self.suv
        if suu <= 0:
            raise ValueError("least squares: the first regressor is zero throughout")
        det = suu * svv - suv * suv
        # collinear (Cauchy–Schwarz equality) up to rounding: fit u alone
        if svv <= 0 or det <= 1e-10 * suu * svv:
            return Fit2(self.suy / suu, 0.0, self.n, collinear=True)
        p = (self.suy * svv - self.svy * suv) / det
        q = (self.svy * suu - self.suy * suv) / det
        return Fit2(p, q, self.n)

    def rss(self, p: float, q: float) -> float:
        """Residual sum of squares ``Σ(y − p·u − q·v)²`` (never below 0)."""
        r = (self.syy - 2 * p * self.suy - 2 * q * self.svy
             + p * p * self.suu + 2 * p * q * self.suv + q * q * self.svv)
        return r if r > 0 else 0.0


def least_squares_2(u: Sequence[float], v: Sequence[float], y: Sequence[float]) -> Fit2:
    """Least squares for ``y ≈ p·u + q·v`` (no separate intercept); see
    ``Moments2.solve``."""
    n = len(y)
    if n == 0 or len(u) != n or len(v) != n:
        raise ValueError("least squares needs equal, non-empty columns")
    m = Moments2()
    for a, b, c in zip(u, v, y):
        m.add(a, b, c)
    return m.solve()


def line_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, bool]:
    """Least-squares line ``y ≈ a + b·x``: ``(a, b, flat)``; ``flat`` when all
    ``x`` are equal (then ``b = 0`` and ``a`` is the mean of ``y``).

    Fitted on centred ``x`` (numerically stable), then shifted back."""
    n = len(y)
    if n == 0 or len(x) != n:
        raise ValueError("line fit needs equal, non-empty columns")
    mx = mean(x)
    my = mean(y)
    sxx = math.fsum((a - mx) ** 2 for a in x)
    if sxx <= 1e-12 * max(1.0, mx * mx) * n:
        return my, 0.0, True
    sxy = math.fsum((a - mx) * (c - my) for a, c in zip(x, y))
    b = sxy / sxx
    return my - b * mx, b, False


# --- Wilson interval -------------------------------------------------------------


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """``(p, low, high)`` for ``k`` successes of ``n``: the Wilson score
    interval (no continuity correction), ``p = k/n``."""
    if n <= 0:
        raise ValueError("a proportion needs n ≥ 1")
    if not 0 <= k <= n:
        raise ValueError(f"successes must be within 0..{n} (got {k})")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return p, low, high


# --- Student's t -----------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Distribution function of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be > 0")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    """``t`` with ``P(T ≤ t) = p`` for Student's t with ``df`` > 0 (cached:
    the same few quantiles are asked for over and over)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be within (0, 1) (got {p})")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0 (got {df})")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, max(1.0, _NORMAL.inv_cdf(p))
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
        if hi > 1e12:  # pragma: no cover - p within a hair of 1 at df near 0
            return hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_interval(xs: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: ``mean ± t(1 − α/2, n − 1)·sd/√n`` (needs n ≥ 2)."""
    n = len(xs)
    if n < 2:
        raise ValueError("an interval for a mean needs at least two values")
    m = mean(xs)
    half = t_quantile(0.5 + level / 2.0, n - 1) * sample_sd(xs) / math.sqrt(n)
    return m, m - half, m + half
