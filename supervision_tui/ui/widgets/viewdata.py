"""Display-side data: what the screens show, derived once per load.

Nothing here judges a client: every judgement (tiers, ruptures, goals,
outcomes, risk) comes from the rule engine's ``ClientAnalysis``. This
module only *arranges raw ratings* for tables and charts (series per
instrument and rater, one row per session) and caches that per client,
so moving the cursor or opening a client never recomputes anything.

No Textual import: the view data can be built in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervision_tui.model import Caseload, ClientRecord, Session
from supervision_tui.rules.results import ClientAnalysis

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.settings import Settings

# --- instruments -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstrumentView:
    """What the UI needs to know to draw an instrument."""

    name: str
    kind: str  # "alliance" / "outcome" / other
    lo: float
    hi: float
    higher_is_better: bool = True
    cutoff: float | None = None  # the clinical / concern cut-off, if any
    cutoff_label: str = ""  # e.g. "concern < 36", "clinical ≥ 10"
    reliable_change: float | None = None  # points (outcome instruments)

    def display_range(self, values) -> tuple[float, float]:
        """A readable vertical range for a small chart of ``values``.

        Alliance scores crowd the top of their scale (SRS ceiling effect),
        so a sparkline over the full 0–40 range is a row of full blocks.
        The range starts a little below the cut-off (or, without one, in
        the upper part of the scale) unless the data go lower.
        """
        lo, hi = self.lo, self.hi
        span = hi - lo
        real = [v for v in values if v is not None]
        if self.kind == "alliance" and self.higher_is_better:
            floor = (self.cutoff - 0.15 * span) if self.cutoff is not None else (hi - 0.3 * span)
            low = min([floor, *real]) if real else floor
            return max(lo, low), hi
        return lo, hi

    def index(self, score: float) -> float:
        """The 0–1 alliance index (clinical-rules.md §1)."""
        if self.hi <= self.lo:
            return 0.0
        return (score - self.lo) / (self.hi - self.lo)


# Used only for an instrument the registry does not know.
_UNKNOWN_RANGE = (0.0, 1.0)

_CACHE: dict[tuple[str, int], InstrumentView] = {}


def instrument_view(name: str, settings: Settings | None = None) -> InstrumentView:
    """The registry's instrument with the cut-off the clinic's settings say
    (``Settings.low_cutoff_for`` / ``clinical_cutoff_for``)."""
    key = (name, id(settings))
    view = _CACHE.get(key)
    if view is not None:
        return view
    from supervision_tui import instruments as reg

    inst = reg.get(name)
    if inst is None:  # unknown instrument: a neutral outcome on its own data
        view = InstrumentView(name, "outcome", *_UNKNOWN_RANGE)
    else:
        cutoff = inst.cutoff
        if settings is not None:
            try:
                if inst.kind == reg.ALLIANCE:
                    cutoff = settings.low_cutoff_for(inst)
                else:
                    cutoff = settings.clinical_cutoff_for(inst)
            except Exception:
                cutoff = inst.cutoff
        value = cutoff.value if cutoff is not None else None
        rc = inst.reliable_change
        if settings is not None and inst.kind != reg.ALLIANCE:
            try:
                rc = settings.reliable_change_for(inst)
            except Exception:
                rc = inst.reliable_change
        label = ""
        if cutoff is not None:
            sym = "<" if cutoff.comparison == "<" else "≥"
            word = "concern" if inst.kind == reg.ALLIANCE else "clinical"
            label = f"{word} {sym} {reg.fmt(cutoff.value)}"
        view = InstrumentView(
            name, inst.kind, float(inst.min), float(inst.max), inst.higher_is_better, value, label,
            float(rc.points) if rc is not None else None,
        )
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = view
    return view


def instrument_order(name: str) -> tuple[int, str]:
    from supervision_tui import instruments as reg

    return (reg.REGISTRY.order(name), name)


def is_alliance(name: str, settings: Settings | None = None) -> bool:
    return instrument_view(name, settings).kind == "alliance"


# --- series and sessions -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    instrument: str
    rater: str
    sessions: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def label(self) -> str:
        return self.instrument if self.rater == "client" else f"{self.instrument} therapist"


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One line of the client's sessions table (raw data, no judgement)."""

    number: int
    date: date
    attendance: str
    scores: dict[tuple[str, str], float]  # (instrument, rater) -> total
    reports: tuple[str, ...]  # post-session rupture reports: "client: withdrawal"
    risk: bool | None  # True: a critical item endorsed; False: screened negative; None: not asked


def _fmt_num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


fmt_num = _fmt_num


@dataclass(slots=True)
class ClientDisplay:
    """Per-client derived display data, built lazily and cached."""

    record: ClientRecord
    analysis: ClientAnalysis
    settings: Settings | None = None
    _series: dict[tuple[str, str], Series] | None = None
    _rows: list[SessionRow] | None = None

    @property
    def code(self) -> str:
        return self.record.code

    def _build_series(self) -> dict[tuple[str, str], Series]:
        acc: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for s in self.record.sessions:
            if not s.attended:  # rows of missed sessions are ignored by every rule
                continue
            for r in s.ratings:
                if r.instrument is None or r.total is None:
                    continue
                xs, ys = acc.setdefault((r.instrument, r.rater), ([], []))
                xs.append(s.number)
                ys.append(float(r.total))
        return {k: Series(k[0], k[1], tuple(v[0]), tuple(v[1])) for k, v in acc.items()}

    @property
    def series(self) -> dict[tuple[str, str], Series]:
        if self._series is None:
            self._series = self._build_series()
        return self._series

    def instrument(self, name: str) -> InstrumentView:
        return instrument_view(name, self.settings)

    def instruments(self, kind: str) -> list[str]:
        names = {inst for (inst, _r) in self.series if self.instrument(inst).kind == kind}
        return sorted(names, key=instrument_order)

    @property
    def alliance_instruments(self) -> list[str]:
        return self.instruments("alliance")

    @property
    def outcome_instruments(self) -> list[str]:
        return self.instruments("outcome")

    def spark_series(self) -> Series | None:
        """The client series of the instrument of the engine's latest alliance
        rating (else the first alliance instrument with client ratings)."""
        names = []
        if self.analysis.alliance is not None:
            names.append(self.analysis.alliance.instrument)
        names += self.alliance_instruments
        for n in names:
            s = self.series.get((n, "client"))
            if s is not None and s.values:
                return s
        return None

    @property
    def session_rows(self) -> list[SessionRow]:
        if self._rows is None:
            self._rows = [_session_row(s) for s in self.record.sessions]
        return self._rows

    def has_therapist(self, instrument: str) -> bool:
        return (instrument, "therapist") in self.series


SPARK_WIDTH = 6  # the last 6 sessions: keeps Alliance narrow enough for Outcome to join at 120 columns


def spark_args(view: ClientDisplay) -> tuple | None:
    """(values, low, high, cut-off) of the caseload table's alliance
    sparkline of a client (None without alliance ratings); the table draws
    it with its glyphs (``caseload_table.render_spark``). The loader computes
    them with the analysis (they need the client's rows, which the app does
    not keep in memory)."""
    s = None
    a = view.analysis
    if view._series is None and a.alliance is not None:  # (only the one series it needs)
        name = a.alliance.instrument
        xs: list[int] = []
        ys: list[float] = []
        for sess in view.record.sessions:
            if not sess.attended:
                continue
            for r in sess.ratings:
                if r.instrument == name and r.rater == "client" and r.total is not None:
                    xs.append(sess.number)
                    ys.append(float(r.total))
        if ys:
            s = Series(name, "client", tuple(xs), tuple(ys))
    if s is None:
        s = view.spark_series()
    if s is None:
        return None
    iv = view.instrument(s.instrument)
    lo, hi = iv.display_range(s.values)
    return (tuple(s.values[-SPARK_WIDTH:]) if len(s.values) > SPARK_WIDTH else tuple(s.values), lo, hi,
            iv.cutoff if iv.higher_is_better else None)


def _session_row(s: Session) -> SessionRow:
    scores: dict[tuple[str, str], float] = {}
    reports: list[str] = []
    risk: bool | None = None  # an empty cell is "not asked", never "no" (clinical-rules §6)
    for r in s.ratings:
        if r.instrument is not None and r.total is not None:
            scores[(r.instrument, r.rater)] = float(r.total)
        if r.rupture:
            reports.append(f"{r.rater}: {r.rupture_type or 'rupture'}")
        if r.risk:
            risk = True
        elif r.risk is False and risk is None:
            risk = False
    return SessionRow(s.number, s.date, s.attendance, scores, tuple(dict.fromkeys(reports)), risk)


# --- one load ------------------------------------------------------------------


@dataclass
class LoadedData:
    """Everything one load of the database produced."""

    path: Path | None
    caseload: Caseload
    records: dict[str, ClientRecord]
    analyses: list[ClientAnalysis]  # engine order: triage, closed/dropped last
    as_of: date | None
    settings: Settings | None = None
    scope: str | None = None  # --clinician: only this clinician's clients were kept
    cache_key: Any = None  # store.triage_cache.CacheKey of the file as it was read (None: no file)
    # clinical-rules §10: the clinic's expected-course models per outcome instrument (rules.expected)
    reference: dict[str, Any] | None = None
    # clinical-rules §11: effectiveness rows per supervisee and the clinic (reports.effectiveness)
    effects: list[Any] | None = None
    loaded_at: datetime = field(default_factory=datetime.now)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> display values from the loader
    stats: dict[str, Any] = field(default_factory=dict)  # the loader's figures (timings, cache hits)
    prebuilt_rows: Any = None  # (reviews_version, caseload rows) built in the load thread, taken once
    _views: dict[str, ClientDisplay] = field(default_factory=dict)
    max_views: int = 0  # > 0: keep only this many recent views (records rebuilt on demand)

    @cached_property
    def missing_recent(self) -> dict[str, bool] | None:
        """Per client: no alliance rating in its recent sessions
        (``reports.patterns.missing_recent_measures``), as the loader computed
        it; None when the loader did not (then ``records`` are used)."""
        if not self.extras:
            return None
        out = {}
        for a in self.analyses:
            value = self.extras.get(a.client, {}).get("missing_recent")
            if type(value) is not bool:
                return None
            out[a.client] = value
        return out

    def spark(self, code: str, glyphs: str | None = None) -> str:
        """The client's caseload-table sparkline (from the loader's
        ``spark_args`` when it computed them)."""
        from supervision_tui.ui.widgets.sparkline import BLOCKS

        extra = self.extras.get(code)
        args = extra.get("spark") if extra is not None and "spark" in extra else spark_args(self.view(code))
        if not args:
            return ""
        from supervision_tui.ui.widgets.sparkline import sparkline

        values, lo, hi, cutoff = args
        return sparkline(values, lo, hi, width=SPARK_WIDTH, cutoff=cutoff, glyphs=glyphs or BLOCKS)

    @cached_property
    def by_code(self) -> dict[str, ClientAnalysis]:
        return {a.client: a for a in self.analyses}

    @cached_property
    def clinicians(self) -> list[str]:
        """Clinicians with at least one client, plus listed clinicians who
        are not supervisors (a supervisee without clients yet); with a
        ``scope``, that clinician only."""
        if self.scope:
            return [self.scope]
        ids = {a.clinician for a in self.analyses if a.clinician}
        for cid, c in self.caseload.clinicians.items():
            if getattr(c, "role", None) != "supervisor":
                ids.add(cid)
        return sorted(ids)

    @cached_property
    def latest_date(self) -> date | None:
        dates = [a.latest_date for a in self.analyses if a.latest_date is not None]
        return max(dates) if dates else None

    def view(self, code: str) -> ClientDisplay:
        v = self._views.get(code)
        if v is not None and self.max_views:
            self._views[code] = self._views.pop(code)  # most recent last
        if v is None:
            rec = self.records.get(code)
            if rec is None:
                from supervision_tui.model import Client

                a = self.by_code[code]
                rec = ClientRecord(Client(code, a.clinician, a.status), ())
            v = ClientDisplay(rec, self.by_code[code], self.settings)
            self._views[code] = v
            if self.max_views and len(self._views) > self.max_views:
                del self._views[next(iter(self._views))]
        return v
