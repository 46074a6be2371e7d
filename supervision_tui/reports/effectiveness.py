"""Supervisee effectiveness, severity-adjusted, with intervals
(clinical-rules.md §11; JSON of interchange.md §6a).

Per outcome instrument:

* **Cases**: every client (any status, dropouts included) with at least 2
  attended client ratings of the instrument, attributed to the clinician of
  its latest rating. Gain ``g`` = latest − first in the better direction,
  intake ``x0`` = first, verdict = §5's (``rules.outcomes``).
* **Expected gain given intake**: ``g = a + b·x0`` by least squares over all
  the clinic's cases; residual ``e = g − (a + b·x0)``.
* **Effect size** of a clinician = mean ``e`` / SD(``x0`` over all clinic
  cases); 95 % interval = (mean ``e`` ± t(0.975, n − 1)·sd(``e``)/√n) / SD.
* **Rates**: reliably improved (improved or recovered), recovered, reliably
  deteriorated, with Wilson 95 % intervals.
* **Too few**: under ``min_cases`` (10) cases nothing but the count.

Readings (where the spec leaves room):

* The clinic row (``clinician`` null) uses every case of the instrument.
  Its effect size is 0 by construction (least-squares residuals average
  0); it is printed with its interval as the reference line, and its rates
  are the clinic's.
* The regression and the SD of ``x0`` always use all the clinic's cases,
  also when ``--clinician`` asks for one clinician's rows: a supervisee is
  compared with the clinic, never with itself.
* Numbers in the JSON are rounded to 3 decimals (fractions and effect
  sizes alike); the interchange example's 2 decimals are illustrative.
* Clinicians appear with the cases attributed to them; a clinician with no
  case on an instrument has no row for it (with ``--clinician`` such a
  clinician gets a row with ``cases: 0``).
* When every intake is the same score (SD 0) there is no severity scale:
  the effect size is not computed (null) and the reason is given; rates
  still are.
* "Recovered" here is §5's per-instrument verdict, not IAPT recovery.

Never a ranking: rows are ordered by clinician id; the text says that
overlapping intervals are not a difference.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from supervision_tui.instruments import Registry
from supervision_tui.model import ClientRecord
from supervision_tui.rules.stats import line_fit, mean, sample_sd, t_quantile, wilson

DEFAULT_MIN_CASES = 10  # [our default]
DECIMALS = 3

REMINDER = "Overlapping intervals are not a difference. Never a ranking."
METHOD = ("Effect size: the mean gain beyond what the clinic's cases with the same intake gained, "
          "in SDs of intake (after Seidel, Miller & Chow 2014) [our method].")
RATES = ("Rates: reliable change from the first to the latest rating (improved includes recovered), "
         "with Wilson 95 % intervals.")


@dataclass(frozen=True, slots=True)
class Case:
    client: str
    clinician: str  # clinician of the latest rating of the instrument
    instrument: str
    x0: float  # intake (first rating)
    gain: float  # latest − first, better direction
    verdict: str  # §5: recovered / improved / no_change / deteriorated


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    n: int
    p: float
    low: float
    high: float


@dataclass(frozen=True)
class EffectRow:
    clinician: str | None  # None: the clinic as a whole
    instrument: str
    cases: int
    enough: bool
    es: float | None = None
    es_low: float | None = None
    es_high: float | None = None
    improved: Rate | None = None
    recovered: Rate | None = None
    deteriorated: Rate | None = None
    note: str = ""  # why something is missing ("too few to compare (10 needed)")
    min_cases: int = DEFAULT_MIN_CASES  # the minimum it was judged against

    def to_json(self) -> dict[str, Any]:
        """Exactly the object of interchange.md §6a."""
        d: dict[str, Any] = {
            "clinician": self.clinician,
            "instrument": self.instrument,
            "cases": self.cases,
            "es": _r(self.es),
            "es_low": _r(self.es_low),
            "es_high": _r(self.es_high),
        }
        for name in ("improved", "recovered", "deteriorated"):
            rate: Rate | None = getattr(self, name)
            d[name] = _r(rate.p) if rate else None
            d[f"{name}_low"] = _r(rate.low) if rate else None
            d[f"{name}_high"] = _r(rate.high) if rate else None
        d["enough"] = self.enough
        return d


def _r(x: float | None) -> float | None:
    if x is None:
        return None
    r = round(float(x), DECIMALS)
    return 0.0 if r == 0 else r


# --- cases -------------------------------------------------------------------------


def cases_from_records(
    records: Iterable[ClientRecord],
    settings: Any,
    registry: Registry,
    outcomes: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Case]:
    """Every case of every outcome instrument.

    ``outcomes``: client code → {instrument: ``OutcomeResult``} already
    computed by the engine (``ClientAnalysis.outcomes``); without it the §5
    verdicts are computed here with the same rule function."""
    out: list[Case] = []
    for rec in records:
        known = outcomes.get(rec.code) if outcomes is not None else None
        out.extend(Case(rec.code, *c) for c in client_cases(rec, settings, registry, known))
    return out


def client_cases(rec: ClientRecord, settings: Any, registry: Registry,
                 known: Mapping[str, Any] | None = None) -> list[tuple[str, str, float, float, str]]:
    """One client's cases as plain values, ``(clinician, instrument, x0,
    gain, verdict)`` (a ``Case`` without the client: the loader caches them
    with the client's analysis). ``known``: its §5 verdicts already computed
    (``ClientAnalysis.outcomes``); None: computed here with the same rule."""
    from supervision_tui.rules.markers import ClientView
    from supervision_tui.rules.outcomes import assess_outcome

    view = None
    if known is None:
        view = ClientView(rec, registry)
    out = []
    for inst in registry.outcome():
        if known is not None:
            res = known.get(inst.id)
        else:
            res = assess_outcome(view, inst, settings)
        if res is None:
            continue
        clinician = _clinician_at(rec, res.latest_session, inst.id)
        out.append((clinician, inst.id, float(res.first), float(res.change), res.status))
    return out


def _clinician_at(rec: ClientRecord, session: int, instrument: str) -> str:
    """The clinician of the client's rating of ``instrument`` at ``session``
    (the row's clinician: the one who saw that session, interchange §1)."""
    for s in reversed(rec.sessions):
        if s.number == session:
            r = s.rating(instrument, "client")
            return r.clinician if r is not None else s.clinician
    return rec.client.clinician


# --- the computation --------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentFit:
    """The clinic-wide part of one instrument: ``g = a + b·x0`` and SD(x0)."""

    instrument: str
    cases: int
    a: float | None
    b: float | None
    sd_x0: float | None  # None: fewer than 2 cases or every intake equal

    def residual(self, c: Case) -> float:
        return c.gain - (self.a + self.b * c.x0)


def fit_instrument(instrument: str, cases: Sequence[Case]) -> InstrumentFit:
    if not cases:
        return InstrumentFit(instrument, 0, None, None, None)
    xs = [c.x0 for c in cases]
    gs = [c.gain for c in cases]
    a, b, flat = line_fit(xs, gs)
    sd = sample_sd(xs) if len(xs) >= 2 else None
    if flat or (sd is not None and sd <= 1e-12):
        sd = None
    return InstrumentFit(instrument, len(cases), a, b, sd)


def _rates(group: Sequence[Case]) -> tuple[Rate, Rate, Rate]:
    n = len(group)
    counts = {
        "improved": sum(c.verdict in ("improved", "recovered") for c in group),
        "recovered": sum(c.verdict == "recovered" for c in group),
        "deteriorated": sum(c.verdict == "deteriorated" for c in group),
    }
    return tuple(Rate(k, n, *wilson(k, n)) for k in counts.values())  # type: ignore[return-value]


def effect_row(clinician: str | None, instrument: str, group: Sequence[Case], fit: InstrumentFit,
               min_cases: int = DEFAULT_MIN_CASES) -> EffectRow:
    n = len(group)
    if n < max(1, min_cases):
        note = f"too few to compare ({min_cases} needed)" if n else "no cases"
        return EffectRow(clinician, instrument, n, False, note=note, min_cases=min_cases)
    improved, recovered, deteriorated = _rates(group)
    es = lo = hi = None
    note = ""
    if fit.sd_x0 is None:
        note = "no effect size: every intake is the same score"
    elif n < 2:
        note = "no interval: one case"
        es = mean([fit.residual(c) for c in group]) / fit.sd_x0
    else:
        es_raw = [fit.residual(c) for c in group]
        m = mean(es_raw)
        half = t_quantile(0.975, n - 1) * sample_sd(es_raw) / math.sqrt(n)
        es, lo, hi = m / fit.sd_x0, (m - half) / fit.sd_x0, (m + half) / fit.sd_x0
    return EffectRow(clinician, instrument, n, True, es, lo, hi, improved, recovered, deteriorated, note, min_cases)


def effectiveness(
    cases: Iterable[Case],
    registry: Registry,
    *,
    min_cases: int = DEFAULT_MIN_CASES,
    instrument: str | None = None,
    clinician: str | None = None,
    clinic: bool = True,
) -> list[EffectRow]:
    """Rows per clinician × instrument (clinician id, then registry order),
    then one clinic row per instrument (``clinic=False`` leaves them out).
    ``instrument`` / ``clinician`` select rows; the fit always uses every
    case of the instrument."""
    by_inst: dict[str, list[Case]] = {}
    for c in cases:
        by_inst.setdefault(c.instrument, []).append(c)
    inst_ids = [i.id for i in registry.outcome() if i.id in by_inst]
    if instrument is not None:
        inst_ids = [i for i in inst_ids if i == instrument]
    fits = {iid: fit_instrument(iid, by_inst[iid]) for iid in inst_ids}
    rows: list[EffectRow] = []
    clinicians = sorted({c.clinician for iid in inst_ids for c in by_inst[iid]})
    if clinician is not None:
        clinicians = [clinician]
    for cid in clinicians:
        for iid in inst_ids:
            group = [c for c in by_inst[iid] if c.clinician == cid]
            if not group and clinician is None:
                continue
            rows.append(effect_row(cid, iid, group, fits[iid], min_cases))
    if clinic:
        for iid in inst_ids:
            rows.append(effect_row(None, iid, by_inst[iid], fits[iid], min_cases))
    return rows


def effectiveness_json(rows: Iterable[EffectRow]) -> str:
    """One JSON array, one object per line (interchange.md §6a)."""
    items = [json.dumps(r.to_json(), ensure_ascii=False) for r in rows]
    if not items:
        return "[]"
    return "[\n" + ",\n".join(items) + "\n]"


# --- text: numbers and the dot-and-whisker row ---------------------------------------


def fmt_es(x: float) -> str:
    """``+0.21``, ``−0.08``, ``0.00`` (typographic minus)."""
    s = f"{x:+.2f}"
    if s in ("+0.00", "-0.00"):
        return "0.00"
    return s.replace("-", "−")


def es_words(row: EffectRow) -> str:
    """``+0.21 (−0.08 to +0.50)`` or the row's note."""
    if not row.enough:
        return row.note
    if row.es is None:
        return row.note
    if row.es_low is None or row.es_high is None:
        return f"{fmt_es(row.es)} ({row.note})"
    return f"{fmt_es(row.es)} ({fmt_es(row.es_low)} to {fmt_es(row.es_high)})"


def rate_words(rate: Rate | None) -> str:
    """``44 % (30–59)``: percentage with its Wilson interval."""
    if rate is None:
        return "—"
    from supervision_tui.wording import percent

    return f"{percent(rate.p)} % ({percent(rate.low)}–{percent(rate.high)})"


def axis_limit(rows: Iterable[EffectRow], floor: float = 0.3) -> float:
    """A symmetric axis ``±L`` holding every interval, rounded up to 0.1
    (at least ``floor``)."""
    m = floor
    for r in rows:
        for v in (r.es_low, r.es_high, r.es):
            if v is not None and math.isfinite(v):
                m = max(m, abs(v))
    return math.ceil(m * 10 - 1e-9) / 10


def whisker(es: float, low: float | None, high: float | None, limit: float, width: int,
            ascii: bool = False) -> str:
    """One dot-and-whisker row of ``width`` cells on the axis ``−limit…+limit``:
    ``├──●──┤`` for the interval and the estimate, ``┼`` (or ``│``) at 0;
    ``◂``/``▸`` where the interval (or the estimate) runs off the axis.
    ASCII: ``|--o--|``, ``+`` on 0, ``:`` for 0 outside the interval."""
    if width < 3:
        raise ValueError("a whisker row needs at least 3 cells")
    dot, bar, left, right, zero, zero_on, off_l, off_r = (
        ("o", "-", "|", "|", ":", "+", "<", ">") if ascii else ("●", "─", "├", "┤", "│", "┼", "◂", "▸")
    )

    def cell(x: float) -> int:
        f = (x + limit) / (2 * limit)
        return max(0, min(width - 1, math.floor(f * (width - 1) + 0.5 + 1e-9)))  # half up, noise-proof

    cells = [" "] * width
    z = cell(0.0)
    cells[z] = zero
    if low is not None and high is not None:
        a, b = cell(low), cell(high)
        for i in range(a, b + 1):
            cells[i] = bar
        cells[z] = zero_on if a <= z <= b else zero
        cells[a] = off_l if low < -limit else left
        cells[b] = off_r if high > limit else right
    if -limit <= es <= limit:
        cells[cell(es)] = dot
    else:  # the estimate itself is off the axis: the arrow says so
        cells[0 if es < 0 else width - 1] = off_l if es < 0 else off_r
    return "".join(cells)


def axis_words(limit: float, width: int) -> str:
    """The axis labels under/over whisker rows: ``−0.6 … 0 … +0.6``."""
    cells = [" "] * width
    labels = [(-limit, fmt_es(-limit).replace(".00", "").rstrip("0")), (0.0, "0"),
              (limit, fmt_es(limit).rstrip("0"))]
    for x, text in labels:
        f = (x + limit) / (2 * limit)
        centre = math.floor(f * (width - 1) + 0.5 + 1e-9)
        start = max(0, min(width - len(text), centre - len(text) // 2))
        for i, ch in enumerate(text):
            cells[start + i] = ch
    return "".join(cells)


def effectiveness_table(rows: Sequence[EffectRow], *, whiskers: bool = True, width: int = 25,
                        ascii: bool = False) -> str:
    """Readable text: one block per instrument, words, the whisker column,
    the method line and the reminder."""
    if not rows:
        return "No outcome cases: effectiveness needs clients with at least 2 ratings of an outcome instrument."
    out: list[str] = []
    by_inst: dict[str, list[EffectRow]] = {}
    for r in rows:
        by_inst.setdefault(r.instrument, []).append(r)
    for iid, group in by_inst.items():
        limit = axis_limit(group)
        out.append(f"{iid} · severity-adjusted effect size, 95 % interval")
        head = f"{'Clinician':<10} {'Cases':>5}  {'Effect size (95 %)':<22}"
        if whiskers:
            head += f"  {axis_words(limit, width)}"
        head += f"  {'Reliably improved':<18} {'Recovered':<14} {'Deteriorated':<14}"
        out.append(head.rstrip())
        for r in group:
            name = r.clinician if r.clinician is not None else "Clinic"
            line = f"{name:<10} {r.cases:>5}  "
            if not r.enough:
                line += r.note
                out.append(line.rstrip())
                continue
            line += f"{es_words(r):<22}"
            if whiskers:
                line += "  " + (whisker(r.es, r.es_low, r.es_high, limit, width, ascii) if r.es is not None
                                else " " * width)
            line += (f"  {rate_words(r.improved):<18} {rate_words(r.recovered):<14} "
                     f"{rate_words(r.deteriorated):<14}")
            out.append(line.rstrip())
        out.append("")
    out.append(METHOD)
    out.append(RATES)
    out.append(REMINDER)
    return "\n".join(out)


def effectiveness_for(records: Iterable[ClientRecord], analyses: Iterable[Any], settings: Any = None,
                      registry: Registry | None = None, *, clinician: str | None = None,
                      instrument: str | None = None, clinic: bool = True) -> list[EffectRow]:
    """Effectiveness rows of a caseload: its records (every client, any
    status) and the engine's analyses of them (their §5 verdicts are reused;
    a record without an analysis is judged here with the same rule)."""
    from supervision_tui.instruments import REGISTRY
    from supervision_tui.settings import Settings

    settings = settings if settings is not None else Settings()
    registry = registry if registry is not None else REGISTRY
    outcomes = {a.client: a.outcomes for a in analyses}
    cases = cases_from_records(records, settings, registry, outcomes)
    return effectiveness(cases, registry, min_cases=settings.effectiveness.min_cases, instrument=instrument,
                         clinician=clinician, clinic=clinic)
