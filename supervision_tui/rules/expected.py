"""Not on track: the expected treatment response learnt from the clinic's own
data (clinical-rules.md §10).

Per outcome instrument of the registry, in the instrument's better
direction:

* **Reference**: every client (any status) with at least 3 attended client
  ratings of the instrument. Intake ``x0`` = the first rating (session
  ``s0``); each later rating at session ``s`` gives a pair with
  ``t = s − s0 + 1`` (≥ 2) and gain ``g = better_by(x0, x)``.
* **Model**: ``E[g] = (β0 + β1·x0)·ln t`` by least squares over all pairs
  (two regressors, ``ln t`` and ``x0·ln t``, no intercept: ``E[g] = 0`` at
  intake).
* **Tolerance**: ``σ(t)`` = root mean square of the residuals of the pairs
  in ``t``'s band ({2} {3} {4} {5} {6–8} {9–12} {13–20} {21+}); a band with
  fewer than 30 pairs borrows from the nearest lower band with 30.
* **Signal**: the latest rating's gain is below ``E[g] − z·σ(t)``
  (``z = 1.28``: the worst tenth), for an active or paused client, only
  where the reference has at least 30 clients and 100 pairs.

The fit is additive over clients: each client's share (``client_moments``)
holds, per band, the sums of the normal equations over its own pairs; the
reference adds them up (``combine_moments``, with ``math.fsum``: correctly
rounded, so the model does not depend on the order of the clients), solves
for ``β`` (``stats.Moments2``), and takes each band's residual sum of
squares from its own sums. The rule is a ``rules.context.CaseloadRule``:
``share`` per client (cached with the client's analysis), ``combine`` over
the caseload, ``judge`` per client (the signal: a few operations), so a
new rating of one client is one client analysed and a refit.

Readings of the spec (where it leaves room), as a clinician would expect:

* **Band fallback** beyond the spec's sentence: when no *lower* band has
  30 pairs (band {2} itself is short: clients are often rated every other
  session), the nearest *higher* band with 30 pairs is used; when no band
  at all has 30 pairs (possible with ≥ 100 pairs spread over 8 bands), the
  RMS of all residuals is used. Every band says where its σ came from
  (``source``).
* **"ratings" in the explanation** ("clinic reference: 212 clients, 1,840
  ratings") counts the reference pairs, i.e. the ratings after intake the
  model learnt from (``pairs`` in the JSON).
* **Bounds of the scale**: an expected or lower score beyond the
  instrument's range is shown at the end of the range, and a client cannot
  be signalled for failing to exceed the best possible score: the signal
  threshold is capped at the largest gain still possible from the intake
  (a PHQ-9 client at 0 is never "not on track"). ``expected`` and ``lower``
  in the flags JSON are the model's gains, uncapped, so a clinic can check
  them against the published ``β``s and ``σ``s.
* **Strictly below**: a gain equal to the lower limit is on track
  (comparison with the 1e-9 float tolerance of ``instruments.EPS``).
* **Closed and dropped-out clients** are part of the reference but are
  never signalled (the spec signals active or paused clients); their
  result says "no signal: treatment ended".
* **Change wording**: the explanation shows the raw difference with a
  direction word (§5: "PHQ-9 16 → 15 at s8 (−1, better)").
* **"9 in 10"** is ``Φ(z)`` in words: z = 1.28 → 9 in 10; another z gives
  "N in 100" (z = 1.645 → 95 in 100).
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

from supervision_tui.instruments import EPS, Instrument, Registry, fmt
from supervision_tui.model import TRIAGED_STATUSES, ClientRecord, trusted_constructor
from supervision_tui.rules.stats import Moments2, normal_cdf

#: A rating as the model reads it (``model.Rating`` has the same two fields).
Point = namedtuple("Point", "session total")

#: The bands of ``t`` (clinical-rules.md §10): (low, high or None, label).
BANDS: tuple[tuple[int, int | None, str], ...] = (
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 4, "4"),
    (5, 5, "5"),
    (6, 8, "6–8"),
    (9, 12, "9–12"),
    (13, 20, "13–20"),
    (21, None, "21+"),
)
BAND_MIN_PAIRS = 30  # [our method]
MIN_RATINGS = 3  # a reference client has at least 3 ratings of the instrument

DEFAULT_Z = 1.28  # [our default]
DEFAULT_MIN_CLIENTS = 30  # [our default]
DEFAULT_MIN_PAIRS = 100  # [our default]

NOT_ON_TRACK = "not_on_track"
ON_TRACK = "on_track"


def band_index(t: int) -> int:
    """Index into ``BANDS`` of ``t`` (≥ 2)."""
    if t < 2:
        raise ValueError(f"t must be ≥ 2 (got {t})")
    if t <= 5:
        return t - 2
    if t <= 8:
        return 4
    if t <= 12:
        return 5
    if t <= 20:
        return 6
    return 7


_BAND_OF = [0, 0] + [band_index(t) for t in range(2, 64)]  # fast path for small t
_LN = [0.0] + [math.log(t) for t in range(1, 64)]


def count_words(n: int) -> str:
    """``1,840``."""
    return f"{n:,}"


def share_words(z: float) -> str:
    """``Φ(z)`` in words: "9 in 10" for z = 1.28, else "N in 100"."""
    p = normal_cdf(z)
    tenths = round(p * 10)
    if abs(p * 10 - tenths) < 0.05 and 0 < tenths < 10:
        return f"{tenths} in 10"
    return f"{max(1, min(99, round(p * 100)))} in 100"


def raw_change(inst: Instrument, first: float, latest: float) -> str:
    """The raw difference with a direction word (§5): "−1, better"."""
    diff = latest - first
    better = inst.better_by(first, latest)
    word = "better" if better > EPS else "worse" if better < -EPS else "same"
    s = fmt(diff)
    if s == "0":
        return f"0, {word}"
    return f"{'−' + s[1:] if s.startswith('-') else '+' + s}, {word}"


# --- the fitted model ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BandSigma:
    """One band of ``t``: its own pairs and residual RMS, and the σ used."""

    label: str
    low: int
    high: int | None
    pairs: int
    rms: float | None  # the band's own residual RMS (None without pairs)
    sigma: float | None  # the σ used for this band (own or borrowed)
    source: str  # label of the band σ comes from; "all" = every pair pooled

    @property
    def borrowed(self) -> bool:
        return self.source != self.label


@dataclass(frozen=True)
class ExpectedModel:
    """The expected-gain model of one outcome instrument."""

    instrument: Instrument
    clients: int  # reference clients (≥ 3 ratings)
    pairs: int  # reference pairs (ratings after intake)
    beta0: float | None  # None: fewer than 2 pairs, nothing fitted
    beta1: float | None
    bands: tuple[BandSigma, ...]
    z: float = DEFAULT_Z
    min_clients: int = DEFAULT_MIN_CLIENTS
    min_pairs: int = DEFAULT_MIN_PAIRS
    collinear: bool = False  # every intake the same: β1 fixed at 0

    @cached_property
    def enough(self) -> bool:
        """Is the signal computed (minimums met and a fit exists)?"""
        return (
            self.clients >= self.min_clients
            and self.pairs >= self.min_pairs
            and self.beta0 is not None
            and any(b.sigma is not None for b in self.bands)
        )

    # -- numbers -------------------------------------------------------------
    def expected_gain(self, x0: float, t: int) -> float:
        if self.beta0 is None or self.beta1 is None:
            raise ValueError(f"{self.instrument.id}: no expected-gain model (no reference data)")
        return (self.beta0 + self.beta1 * x0) * (_LN[t] if t < 64 else math.log(t))

    def band(self, t: int) -> BandSigma:
        return self.bands[_BAND_OF[t] if t < 64 else band_index(t)]

    def sigma(self, t: int) -> float | None:
        return self.band(t).sigma

    def lower_gain(self, x0: float, t: int) -> float:
        """``E[g] − z·σ(t)``: a gain below this signals (uncapped)."""
        s = self.sigma(t)
        if s is None:
            raise ValueError(f"{self.instrument.id}: no residual spread for t = {t}")
        return self.expected_gain(x0, t) - self.z * s

    def max_gain(self, x0: float) -> float:
        """The largest gain possible from ``x0`` on the instrument's scale."""
        inst = self.instrument
        best = inst.max if inst.higher_is_better else inst.min
        return inst.better_by(x0, best)

    def score(self, x0: float, gain: float) -> float:
        """The score ``gain`` away from ``x0``, kept within the scale."""
        inst = self.instrument
        x = x0 + gain * inst.sign
        return min(inst.max, max(inst.min, x))

    def curve(self, x0: float, s0: int, last_session: int) -> list[tuple[int, float, float | None]]:
        """``(session, expected score, lower score)`` from intake session
        ``s0`` through ``last_session`` (scores within the scale; the lower
        score is None where no σ exists, and equals ``x0`` at intake)."""
        out: list[tuple[int, float, float | None]] = []
        for s in range(s0, max(s0, last_session) + 1):
            t = s - s0 + 1
            if t == 1:
                out.append((s, float(x0), float(x0)))
                continue
            e = self.expected_gain(x0, t)
            sg = self.sigma(t)
            out.append((s, self.score(x0, e), None if sg is None else self.score(x0, e - self.z * sg)))
        return out

    # -- words -------------------------------------------------------------------
    def reference_words(self) -> str:
        """"clinic reference: 212 clients, 1,840 ratings"."""
        return f"clinic reference: {count_words(self.clients)} clients, {count_words(self.pairs)} ratings"

    def counts_words(self) -> str:
        """What is short: "12 of 30 clients, 80 of 100 ratings after intake"."""
        parts = []
        if self.clients < self.min_clients:
            parts.append(f"{count_words(self.clients)} of {count_words(self.min_clients)} clients")
        if self.pairs < self.min_pairs:
            parts.append(f"{count_words(self.pairs)} of {count_words(self.min_pairs)} ratings after intake")
        if not parts:  # pragma: no cover - minimums met but no fit (no ratings after intake)
            parts.append("no ratings after intake")
        return ", ".join(parts)

    def shortfall(self) -> str | None:
        """Why the signal is not computed ("…: 12 of 30 clients"), or None."""
        if self.enough:
            return None
        return f"not enough clinic data for an expected trajectory: {self.counts_words()}"

    def describe(self) -> str:
        """One line for ``flags --with-reference`` text and help screens."""
        inst = self.instrument
        if self.beta0 is None:
            return f"{inst.id}: {self.shortfall()}"
        sig = ", ".join(
            f"t {b.label}: {fmt(b.sigma, 2) if b.sigma is not None else '—'}"
            + (f" (from {b.source})" if b.borrowed and b.sigma is not None else "")
            for b in self.bands
        )
        b0, b1 = _signed(self.beta0, 3), _signed(self.beta1, 4)
        head = (f"{inst.id}: β0 = {b0}, β1 = {b1}: expected gain = ({b0} {'+' if self.beta1 >= 0 else '−'} "
                f"{fmt(abs(self.beta1), 4)}·intake)·ln t [{self.reference_words()}]")
        tail = "" if self.enough else f"; {self.shortfall()}"
        return f"{head}; σ by band: {sig}{tail}"

    def to_json(self) -> dict[str, Any]:
        """interchange.md §5 ``reference`` object of one instrument."""
        return {
            "beta0": _r(self.beta0, 4),
            "beta1": _r(self.beta1, 4),
            "sigma": {b.label: _r(b.sigma, 3) for b in self.bands},
            "band_pairs": {b.label: b.pairs for b in self.bands},
            "clients": self.clients,
            "pairs": self.pairs,
            "z": self.z,
            "min_clients": self.min_clients,
            "min_pairs": self.min_pairs,
            "enough": self.enough,
        }


def _signed(x: float, places: int) -> str:
    """``−1.479`` with a typographic minus, ``7.008``."""
    s = fmt(x, places)
    return "−" + s[1:] if s.startswith("-") else s


def _r(x: float | None, places: int) -> float | None:
    if x is None:
        return None
    r = round(float(x), places)
    return 0.0 if r == 0 else r


def _band_sigmas(moments: list[Moments2], beta0: float | None, beta1: float | None) -> tuple[BandSigma, ...]:
    own: list[float | None] = []
    for m in moments:
        if m.n == 0 or beta0 is None:
            own.append(None)
        else:
            own.append(math.sqrt(m.rss(beta0, beta1) / m.n))
    ok = [i for i, m in enumerate(moments) if m.n >= BAND_MIN_PAIRS and own[i] is not None]
    pooled: float | None = None
    total = sum(m.n for m in moments)
    if beta0 is not None and total:
        pooled = math.sqrt(sum(m.rss(beta0, beta1) for m in moments if m.n) / total)
    out = []
    for i, (lo, hi, label) in enumerate(BANDS):
        if i in ok:
            sigma, source = own[i], label
        else:
            lower = [j for j in ok if j < i]
            higher = [j for j in ok if j > i]
            if lower:
                j = lower[-1]
                sigma, source = own[j], BANDS[j][2]
            elif higher:
                j = higher[0]
                sigma, source = own[j], BANDS[j][2]
            else:
                sigma, source = pooled, "all"
        out.append(BandSigma(label, lo, hi, moments[i].n, own[i], sigma, source))
    return tuple(out)


def client_moments(inst: Instrument, pts: Sequence[Any]) -> tuple[tuple[float, ...], ...] | None:
    """One client's sums of the normal equations, per band of ``t``:
    ``(n, Σuu, Σuv, Σvv, Σuy, Σvy, Σyy)`` with ``u = ln t``, ``v = x0·ln t``
    and ``y`` the gain (None: fewer than 3 ratings, not a reference client).
    ``pts``: the client's ratings of ``inst`` in session order."""
    if len(pts) < MIN_RATINGS:
        return None
    acc = [[0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] for _ in BANDS]
    sign = inst.sign
    band_of = _BAND_OF
    ln = _LN
    first = pts[0]
    s0 = first.session
    x0 = first.total
    for p in pts[1:]:
        t = p.session - s0 + 1
        if t < 64:
            a = acc[band_of[t]]
            u = ln[t]
        else:
            a = acc[band_index(t)]
            u = math.log(t)
        v = x0 * u
        y = (p.total - x0) * sign
        a[0] += 1
        a[1] += u * u
        a[2] += u * v
        a[3] += v * v
        a[4] += u * y
        a[5] += v * y
        a[6] += y * y
    return tuple(tuple(x) for x in acc)


def combine_moments(per_client: Sequence[Sequence[Sequence[float]]]) -> list[Moments2]:
    """Every reference client's ``client_moments`` added up per band. The
    sums are ``math.fsum``'s (correctly rounded), so they do not depend on
    the order of the clients: the loader's workers deliver clients in any
    order, and a caseload fitted in one process or in two gives the very
    same model, bit for bit."""
    out = []
    fsum = math.fsum
    by_band = list(zip(*per_client)) if per_client else [()] * len(BANDS)  # band -> every client's sums
    for b in range(len(BANDS)):
        m = Moments2()
        if per_client:
            cols = list(zip(*by_band[b]))
            m.n = int(sum(cols[0]))
            m.suu, m.suv, m.svv, m.suy, m.svy, m.syy = (fsum(c) for c in cols[1:])
        out.append(m)
    return out


def fit_from_moments(
    inst: Instrument,
    clients: int,
    moments: Sequence[Moments2],
    *,
    z: float = DEFAULT_Z,
    min_clients: int = DEFAULT_MIN_CLIENTS,
    min_pairs: int = DEFAULT_MIN_PAIRS,
) -> ExpectedModel:
    """The model from the per-band sums (``combine_moments``) of ``clients``
    reference clients."""
    total = Moments2()
    for m in moments:
        total = total + m
    beta0 = beta1 = None
    collinear = False
    if total.n >= 2 and total.suu > 0:
        fit = total.solve()
        beta0, beta1, collinear = fit.p, fit.q, fit.collinear
    return ExpectedModel(
        instrument=inst,
        clients=clients,
        pairs=total.n,
        beta0=beta0,
        beta1=beta1,
        bands=_band_sigmas(list(moments), beta0, beta1),
        z=z,
        min_clients=min_clients,
        min_pairs=min_pairs,
        collinear=collinear,
    )


def fit_expected(
    inst: Instrument,
    series: Iterable[Sequence[Any]],
    *,
    z: float = DEFAULT_Z,
    min_clients: int = DEFAULT_MIN_CLIENTS,
    min_pairs: int = DEFAULT_MIN_PAIRS,
) -> ExpectedModel:
    """Fit the model of ``inst`` from clients' rating series.

    ``series``: one sequence per client of that instrument's attended client
    ratings in session order, each with ``.session`` and ``.total``
    (``model.Rating`` or ``Point``). Clients with fewer than 3 ratings are
    not part of the reference.
    """
    per = [m for m in (client_moments(inst, pts) for pts in series) if m is not None]
    return fit_from_moments(inst, len(per), combine_moments(per), z=z, min_clients=min_clients, min_pairs=min_pairs)


def record_series(record: ClientRecord, registry: Registry) -> dict[str, list[Any]]:
    """Attended client ratings with a total per outcome instrument, in
    session order (the same series ``ClientView.client_series`` holds)."""
    wanted = {i.id for i in registry.outcome()}
    out: dict[str, list[Any]] = {}
    for s in record.sessions:
        if s.attendance != "attended":
            continue
        for r in s.ratings:
            if r.instrument in wanted and r.rater == "client" and r.total is not None:
                out.setdefault(r.instrument, []).append(r)
    return out


def fit_reference(
    client_series: Iterable[Mapping[str, Sequence[Any]]],
    registry: Registry,
    *,
    z: float = DEFAULT_Z,
    min_clients: int = DEFAULT_MIN_CLIENTS,
    min_pairs: int = DEFAULT_MIN_PAIRS,
) -> dict[str, ExpectedModel]:
    """One model per outcome instrument of ``registry`` (registry order),
    from every client's series (``ClientView.client_series`` or
    ``record_series``)."""
    insts = registry.outcome()
    buckets: dict[str, list[Sequence[Any]]] = {i.id: [] for i in insts}
    for by_inst in client_series:
        for iid, bucket in buckets.items():
            pts = by_inst.get(iid)
            if pts is not None and len(pts) >= MIN_RATINGS:
                bucket.append(pts)
    return {
        i.id: fit_expected(i, buckets[i.id], z=z, min_clients=min_clients, min_pairs=min_pairs)
        for i in insts
    }


def fit_reference_records(records: Iterable[ClientRecord], registry: Registry, **params: Any) -> dict[str, ExpectedModel]:
    """``fit_reference`` straight from client records."""
    return fit_reference((record_series(r, registry) for r in records), registry, **params)


# --- one client's signal ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackResult:
    """One client's course on one outcome instrument against the model.

    The words (``detail``, ``short``) are made when asked for: a caseload
    analysis judges every client, but shows the words of the few signalled."""

    instrument: str
    status: str | None  # "not_on_track", "on_track", or None: not computed / treatment ended (see ``detail``)
    first: float
    latest: float
    first_session: int
    latest_session: int
    t: int
    gain: float  # better direction
    expected: float | None  # expected gain by now (model, uncapped); None: not computed
    lower: float | None  # gain below which it signals (model, uncapped)
    expected_score: float | None  # on the instrument's scale, within its range
    lower_score: float | None
    reference_clients: int
    reference_pairs: int
    model: ExpectedModel | None = None  # the reference it was judged against (charts draw its curve)
    below: bool = False  # the gain is below the lower limit (whatever the client's status)
    ended: bool = False  # closed or dropped out: never signalled

    @property
    def not_on_track(self) -> bool:
        return self.status == NOT_ON_TRACK

    @property
    def _inst(self) -> Instrument:
        return self.model.instrument

    def _verdict(self) -> str:
        if self.ended:
            return ("below the expected course (no signal: treatment ended)" if self.below
                    else "within the expected course (treatment ended)")
        return "not on track" if self.below else "on track"

    @property
    def detail(self) -> str:
        """"PHQ-9 16 → 15 at s8 (−1, better): expected about 10.2 by now (at
        worst 13.4 for 9 in 10 clients starting at 16); not on track [clinic
        reference: 212 clients, 1,840 ratings]" (or why it is not computed)."""
        inst, m = self._inst, self.model
        head = (f"{inst.id} {fmt(self.first)} → {fmt(self.latest)} at s{self.latest_session} "
                f"({raw_change(inst, self.first, self.latest)})")
        if self.expected is None:
            return f"{head}: {m.shortfall()}"
        limit = (f"at worst {fmt(self.lower_score)} for {share_words(m.z)} clients starting at "
                 f"{fmt(self.first)}")
        return (f"{head}: expected about {fmt(self.expected_score)} by now ({limit}); {self._verdict()} "
                f"[{m.reference_words()}]")

    @property
    def short(self) -> str:
        """For the caseload "Why" column: "not on track: ORS 18 at s6; 9 in 10 reach ≥ 21.4" (the
        verdict first: a narrow column cuts the end; the lower limit, not the expected score: that
        is in ``detail``)."""
        inst = self._inst
        if self.expected is None:
            return f"{inst.id}: no expected course yet"
        cmp = "≥" if inst.higher_is_better else "≤"
        return (f"{self._verdict()}: {inst.id} {fmt(self.latest)} at s{self.latest_session}; "
                f"{share_words(self.model.z)} reach {cmp} {fmt(self.lower_score)}")


_new_track = trusted_constructor(TrackResult)  # (every field, in order; the serial step makes ~9,000)


def assess_track(
    series: Sequence[Any], model: ExpectedModel, client_status: str = "active"
) -> TrackResult | None:
    """The §10 signal for one client (``series``: its ratings of the model's
    instrument, session order). None with fewer than two ratings."""
    if len(series) < 2:
        return None
    first, last = series[0], series[-1]
    return _track(model, first.session, first.total, last.session, last.total,
                  client_status not in TRIAGED_STATUSES)


def _track(model: ExpectedModel, s0: int, x0: float, s1: int, x1: float, ended: bool) -> TrackResult:
    """``assess_track`` from the intake ``(s0, x0)`` and the latest rating
    ``(s1, x1)``: the serial step of a load judges every client's every
    outcome instrument with it (the model's methods, inlined, compute the
    very same numbers)."""
    inst = model.instrument
    x0, x = float(x0), float(x1)
    t = s1 - s0 + 1
    sign = inst.sign
    gain = (x - x0) * sign
    if not model.enough:
        return _new_track(inst.id, None, x0, x, s0, s1, t, gain, None, None, None, None,
                          model.clients, model.pairs, model, False, ended)
    expected = model.expected_gain(x0, t)
    sigma = model.bands[_BAND_OF[t] if t < 64 else band_index(t)].sigma
    if sigma is None:
        raise ValueError(f"{inst.id}: no residual spread for t = {t}")
    lower = expected - model.z * sigma  # (model.lower_gain)
    best = inst.max if inst.higher_is_better else inst.min
    max_gain = (best - x0) * sign  # (model.max_gain)
    below = gain < (lower if lower < max_gain else max_gain) - EPS
    status = None if ended else (NOT_ON_TRACK if below else ON_TRACK)
    lo, hi = inst.min, inst.max
    return _new_track(inst.id, status, x0, x, s0, s1, t, gain, expected, lower,
                      min(hi, max(lo, x0 + expected * sign)), min(hi, max(lo, x0 + lower * sign)),  # (model.score)
                      model.clients, model.pairs, model, below, ended)


# --- the rule (engine.CASELOAD_RULES) ---------------------------------------------------------


#: A caseload's reference: one model per outcome instrument, registry order.
Reference = dict  # dict[str, ExpectedModel]


def reference_of(shared: Mapping[str, Any] | None) -> dict[str, ExpectedModel] | None:
    """The reference in an engine's ``prepare_shared`` result (None: none)."""
    if not shared:
        return None
    return shared.get(RULE_NAME)


def signal_computed(reference: Mapping[str, ExpectedModel] | None) -> bool:
    """Can the signal be computed for at least one instrument?"""
    return bool(reference) and any(m.enough for m in reference.values())


def in_use(model: ExpectedModel) -> bool:
    """Does the clinic use the instrument at all (some client with a rating
    after intake)? Shortfall notes name only such instruments."""
    return model.clients > 0 or model.pairs > 0


def short_models(reference: Mapping[str, ExpectedModel] | None, analyses: Iterable[Any] = ()) -> list[ExpectedModel]:
    """The models of the instruments in use whose signal is not computed
    (clinical-rules §10 "Enough data": every view names them). In use: some
    reference client (``in_use``), or some client of ``analyses`` with two
    ratings (``ClientAnalysis.outcomes``), fewer than a reference client needs."""
    if not reference:
        return []
    used = {inst for a in analyses for inst in a.outcomes}
    return [m for iid, m in reference.items() if not m.enough and (in_use(m) or iid in used)]


def shortfalls(reference: Mapping[str, ExpectedModel] | None, analyses: Iterable[Any] = ()) -> list[str]:
    """"ORS 12 of 30 clients" for each of ``short_models`` (the counts that fall short)."""
    return [f"{m.instrument.id} {m.counts_words()}" for m in short_models(reference, analyses)]


RULE_NAME = "not_on_track"

#: A client's share (``share``) per instrument: intake ``(session, total)``, latest ``(session,
#: total, date)``, ``client_moments`` (None: fewer than 3 ratings).
Share = dict  # dict[str, tuple[int, float, int, float, date | None, tuple | None]]


def share(view: Any) -> Share | None:
    """The client's part of the caseload step (``rules.context.CaseloadRule``):
    per outcome instrument with two or more ratings, its intake, its latest
    rating and its contribution to the reference (``client_moments``).
    None: no such instrument."""
    out: dict[str, tuple] = {}
    series = view.client_series
    for inst in view.registry.outcome():
        pts = series.get(inst.id)
        if pts is None or len(pts) < 2:
            continue
        first, last = pts[0], pts[-1]
        out[inst.id] = (first.session, first.total, last.session, last.total, getattr(last, "date", None),
                        client_moments(inst, pts))
    return out or None


def combine(shares: Sequence[Share], settings: Any, registry: Registry | None = None) -> dict[str, ExpectedModel]:
    """The clinic reference: one model per outcome instrument of ``registry``
    (the process-wide one by default: the one the shares were made with),
    from every client's share (refitted whenever the data change; the order
    of the shares does not matter: ``combine_moments``)."""
    from supervision_tui.instruments import REGISTRY

    nt = settings.not_on_track
    insts = (registry if registry is not None else REGISTRY).outcome()
    per: dict[str, list] = {i.id: [] for i in insts}
    for sh in shares:
        for iid, value in sh.items():
            bucket = per.get(iid)
            if bucket is not None and value[5] is not None:
                bucket.append(value[5])
    return {i.id: fit_from_moments(i, len(per[i.id]), combine_moments(per[i.id]), z=nt.z,
                                   min_clients=nt.min_clients, min_pairs=nt.min_pairs)
            for i in insts}


def judge(analysis: Any, client_share: Share | None, reference: Mapping[str, ExpectedModel]) -> tuple[list, dict]:
    """Each outcome instrument's course against the reference (the
    analysis's ``tracks``: instrument → ``TrackResult``) and a
    ``not_on_track`` outcome flag where it signals and the instrument has not
    reliably deteriorated (deterioration wins, §10)."""
    from supervision_tui.rules.results import Flag, TriageHint, round_score

    if not reference or not client_share:
        return [], {}
    ended = analysis.status not in TRIAGED_STATUSES
    tracks: dict[str, TrackResult] = {}
    flags = []
    for iid, model in reference.items():
        value = client_share.get(iid)
        if value is None:
            continue
        s0, x0, s1, x1, when, _m = value
        tr = _track(model, s0, x0, s1, x1, ended)
        tracks[iid] = tr
        if not tr.not_on_track:
            continue
        outcome = analysis.outcomes.get(iid)
        if outcome is not None and outcome.status == "deteriorated":
            continue
        hint = TriageHint("outcome not on track", tr.short, tr.latest_session, when)
        flags.append(Flag(analysis.client, analysis.clinician, "outcome", tr.latest_session, NOT_ON_TRACK, tr.detail,
                          {"instrument": iid, "change": round_score(tr.gain), "expected": round_score(tr.expected),
                           "lower": round_score(tr.lower), "reference_clients": model.clients}, hint))
    return flags, ({"tracks": tracks} if tracks else {})


def _rule():
    from supervision_tui.rules.context import CaseloadRule

    return CaseloadRule(RULE_NAME, share, combine, judge)


RULE = _rule()
