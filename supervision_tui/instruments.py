"""The instrument registry: every number of clinical-rules.md §1 as data.

The rule engine never names an instrument in a code path: it asks the
registry which instruments are alliance or outcome measures, which way is
better, where the cutoff is, what counts as reliable change, which
component carries goal agreement and what the default `drop` floor is.
Adding an instrument (HAq-II, OQ-45, ...) is one ``register(Instrument(...))``
call and needs no change to ``supervision_tui.rules``.

Every number carries its source. A source of ``OUR_DEFAULT`` marks an
operational choice of this product where the literature gives no single
number; it must never be presented as a published norm.

This module is UI-free (no Textual import; checked by import-linter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

OUR_DEFAULT = "[our default]"
CLINIC_SETTING = "[clinic setting]"

ALLIANCE = "alliance"
OUTCOME = "outcome"
KINDS = (ALLIANCE, OUTCOME)

# Float tolerance for every threshold comparison: scores are entered to at
# most 0.1, so 1e-9 only absorbs binary floating-point noise
# (e.g. 0.1 + 0.2 != 0.3) and never changes a clinical decision.
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Cutoff:
    """A threshold on the total score.

    ``comparison`` says which scores are on the *concern* side:
    ``"<"`` (ORS/SRS: concern below the value) or ``">="`` (PHQ-9/GAD-7:
    clinical at or above the value). ``published`` is False for product
    defaults and clinic settings.
    """

    value: float
    comparison: str  # "<" or ">="
    source: str
    published: bool = True

    def __post_init__(self) -> None:
        if self.comparison not in ("<", ">="):
            raise ValueError(f"cutoff comparison must be '<' or '>=' (got {self.comparison!r})")

    def flags(self, score: float) -> bool:
        """True when ``score`` is on the concern/clinical side (with EPS)."""
        if self.comparison == "<":
            return score < self.value - EPS
        return score >= self.value - EPS

    def describe(self, score: float) -> str:
        """``"31 < cutoff 36"`` or ``"12 ≥ cutoff 10"`` (the concern side)."""
        sym = "<" if self.comparison == "<" else "≥"
        return f"{fmt(score)} {sym} cutoff {fmt(self.value)}"


@dataclass(frozen=True, slots=True)
class ReliableChange:
    points: float
    source: str
    published: bool = True


@dataclass(frozen=True, slots=True)
class Component:
    """A subscale or item recorded beside the total (CSV columns goal/task/bond).

    ``agreed_min``/``partial_min`` make this component a source of goal
    evidence (clinical-rules.md §4): score ≥ agreed_min → agreed,
    ≥ partial_min → partial, else disagreed. ``rater_gap``: client and
    therapist scores on the same session differing by at least this much
    is a disagreement. ``integer``: the score is a sum of integer items
    (WAI-SR subscales: four items 1–5), so a fraction is an input error.
    """

    name: str  # CSV column: "goal", "task", "bond"
    label: str  # "Goal", "goals & topics item"
    min: float
    max: float
    agreed_min: float | None = None
    partial_min: float | None = None
    rater_gap: float | None = None
    source: str = OUR_DEFAULT
    integer: bool = False


@dataclass(frozen=True, slots=True)
class Band:
    low: float
    high: float
    label: str


@dataclass(frozen=True, slots=True)
class Instrument:
    id: str  # as in the CSV: "SRS", "WAI-SR"
    name: str
    kind: str  # ALLIANCE or OUTCOME
    min: float
    max: float
    higher_is_better: bool = True
    usual_rater: str = "client"
    short: str | None = None  # short label for narrow tables ("WAI")
    cutoff: Cutoff | None = None
    reliable_change: ReliableChange | None = None
    components: tuple[Component, ...] = ()
    bands: tuple[Band, ...] = ()  # severity bands (outcome instruments)
    drop_floor: float | None = None  # alliance: default floor of the `drop` marker
    drop_floor_source: str = OUR_DEFAULT
    source: str = ""  # the instrument's own reference
    integer: bool = False  # the total is a sum of integer items (PHQ-9, GAD-7, WAI-SR): whole numbers only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS} (got {self.kind!r})")
        if not self.max > self.min:
            raise ValueError(f"{self.id}: max must be greater than min")

    @property
    def label(self) -> str:
        return self.short or self.id

    @property
    def sign(self) -> int:
        """+1 when higher is better, −1 when lower is better."""
        return 1 if self.higher_is_better else -1

    def better_by(self, old: float, new: float) -> float:
        """Change from ``old`` to ``new``, positive = better."""
        return (new - old) * self.sign

    def component(self, name: str) -> Component | None:
        for c in self.components:
            if c.name == name:
                return c
        return None

    @property
    def goal_component(self) -> Component | None:
        """The component that carries goal agreement, if any."""
        for c in self.components:
            if c.agreed_min is not None:
                return c
        return None

    def index(self, score: float) -> float:
        """Alliance index (clinical-rules.md §1): ``(score − min) / (max − min)``.

        For an instrument where lower is better the index is mirrored
        (``1 − that``) so 1 is always the best alliance on the shared axis;
        every instrument of the spec is higher-is-better, where this is the
        spec's formula exactly.
        """
        return alliance_index(self, score)

    def severity(self, score: float) -> str | None:
        """Severity band label (PHQ-9, GAD-7), or None without bands."""
        for b in self.bands:
            if b.low - EPS <= score <= b.high + EPS:
                return b.label
        # between integer bands (e.g. 9.5): the band whose low is below
        below = [b for b in self.bands if b.low <= score]
        return below[-1].label if below else None

    def in_range(self, score: float) -> bool:
        return self.min - EPS <= score <= self.max + EPS


def alliance_index(instrument: Instrument, score: float) -> float:
    """Normalise a score to 0–1: ``(score − min) / (max − min)``, mirrored
    for lower-is-better instruments (see ``Instrument.index``)."""
    x = (score - instrument.min) / (instrument.max - instrument.min)
    return x if instrument.higher_is_better else 1.0 - x


def fmt(x: float, places: int = 1) -> str:
    """Human number: at most ``places`` decimals, no trailing ``.0``
    (``36`` , ``35.9``, ``8.3``; never ``-0``). Cached: the same scores
    recur thousands of times in a caseload."""
    key = (x, places)
    s = _FMT_CACHE.get(key)
    if s is None:
        r = round(float(x), places)
        if r == int(r):
            s = str(int(r))
        else:
            s = f"{r:.{places}f}".rstrip("0").rstrip(".")
        if len(_FMT_CACHE) > 8192:
            _FMT_CACHE.clear()
        _FMT_CACHE[key] = s
    return s


_FMT_CACHE: dict[tuple[float, int], str] = {}


def fmt_signed(x: float, places: int = 1) -> str:
    """``+5``, ``−7`` (typographic minus), ``0``."""
    s = fmt(x, places)
    if s == "0":
        return "0"
    return "−" + s[1:] if s.startswith("-") else "+" + s


# --- the registry -------------------------------------------------------------


class Registry:
    """An ordered collection of instruments.

    Order matters where the spec breaks ties ("SRS first when both
    instruments carry one that session"): alliance instruments earlier in
    the registry win such ties.
    """

    def __init__(self, instruments: Iterable[Instrument] = ()):
        self._by_id: dict[str, Instrument] = {}
        self._order: dict[str, int] = {}
        self._kinds: dict[str, tuple[Instrument, ...]] = {}
        for inst in instruments:
            self.register(inst)

    def _changed(self) -> None:
        self._order = {key: n for n, key in enumerate(self._by_id)}
        self._kinds = {k: tuple(i for i in self._by_id.values() if i.kind == k) for k in KINDS}

    def register(self, instrument: Instrument, *, replace: bool = False) -> Instrument:
        if instrument.id in self._by_id and not replace:
            raise ValueError(f"instrument {instrument.id!r} is already registered")
        self._by_id[instrument.id] = instrument
        self._changed()
        return instrument

    def unregister(self, instrument_id: str) -> None:
        if self._by_id.pop(instrument_id, None) is not None:
            self._changed()

    def copy(self) -> "Registry":
        return Registry(self._by_id.values())

    def get(self, instrument_id: str | None) -> Instrument | None:
        if instrument_id is None:
            return None
        return self._by_id.get(instrument_id)

    def __getitem__(self, instrument_id: str) -> Instrument:
        return self._by_id[instrument_id]

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self._by_id

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def of_kind(self, kind: str) -> tuple[Instrument, ...]:
        return self._kinds.get(kind, ())

    def alliance(self) -> tuple[Instrument, ...]:
        return self._kinds.get(ALLIANCE, ())

    def outcome(self) -> tuple[Instrument, ...]:
        return self._kinds.get(OUTCOME, ())

    def order(self, instrument_id: str | None) -> int:
        """Position in the registry (unknown ids sort last)."""
        return self._order.get(instrument_id, len(self._order))  # type: ignore[arg-type]


SRS = Instrument(
    id="SRS",
    name="Session Rating Scale v3",
    kind=ALLIANCE,
    min=0,
    max=40,
    usual_rater="client",
    # a PCOMS practice threshold (OpenFIT alerts below it), not a derived clinical cutoff (clinical-rules §1)
    cutoff=Cutoff(36, "<", "PCOMS practice threshold, Duncan et al. 2003"),
    components=(
        Component("goal", "goals item", 0, 10, agreed_min=9, partial_min=8),
    ),
    drop_floor=3,
    source="Duncan, Miller et al. 2003",
)

WAI_SR = Instrument(
    id="WAI-SR",
    name="Working Alliance Inventory, short revised",
    kind=ALLIANCE,
    min=12,
    max=60,
    usual_rater="client or therapist",
    short="WAI",
    cutoff=None,  # none published; a clinic may set one ([rupture] low_cutoff)
    components=(  # each subscale the sum of four items scored 1-5
        Component("goal", "Goal", 4, 20, agreed_min=16, partial_min=13, rater_gap=4, integer=True),
        Component("task", "Task", 4, 20, integer=True),
        Component("bond", "Bond", 4, 20, integer=True),
    ),
    drop_floor=5,
    source="Hatcher & Gillaspy 2006",
    integer=True,  # twelve items scored 1-5
)

ORS = Instrument(
    id="ORS",
    name="Outcome Rating Scale",
    kind=OUTCOME,
    min=0,
    max=40,
    cutoff=Cutoff(25, "<", "adults, Miller et al. 2003"),
    reliable_change=ReliableChange(5, "Miller et al. 2003"),
    source="Miller et al. 2003",
)

PHQ9 = Instrument(
    id="PHQ-9",
    name="Patient Health Questionnaire-9",
    kind=OUTCOME,
    min=0,
    max=27,
    higher_is_better=False,
    cutoff=Cutoff(10, ">=", "Kroenke et al. 2001; IAPT caseness"),
    reliable_change=ReliableChange(6, "IAPT Data Handbook 2011"),
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately severe"),
        Band(20, 27, "severe"),
    ),
    source="Kroenke et al. 2001",
    integer=True,  # nine items scored 0-3
)

GAD7 = Instrument(
    id="GAD-7",
    name="Generalized Anxiety Disorder-7",
    kind=OUTCOME,
    min=0,
    max=21,
    higher_is_better=False,
    cutoff=Cutoff(8, ">=", "Kroenke et al. 2007; IAPT caseness"),
    reliable_change=ReliableChange(4, "IAPT Data Handbook 2011"),
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 21, "severe"),
    ),
    source="Spitzer et al. 2006",
    integer=True,  # seven items scored 0-3
)

#: WAI-SR item numbers per subscale (Hatcher & Gillaspy 2006), for importers
#: that receive item-level data.
WAI_SR_ITEMS = {"task": (1, 2, 10, 12), "goal": (4, 6, 8, 11), "bond": (3, 5, 7, 9)}

#: The process-wide registry. Order: alliance instruments in tie-break
#: order (SRS first), then outcome instruments in display order.
REGISTRY = Registry([SRS, WAI_SR, ORS, PHQ9, GAD7])


def register(instrument: Instrument, *, replace: bool = False) -> Instrument:
    """Add an instrument to the process-wide registry."""
    return REGISTRY.register(instrument, replace=replace)


def get(instrument_id: str | None) -> Instrument | None:
    return REGISTRY.get(instrument_id)


def ids() -> tuple[str, ...]:
    return REGISTRY.ids()


def is_known(instrument_id: str) -> bool:
    return instrument_id in REGISTRY
