"""Result types of the rule engine: the contract between rules and UI/CLI.

Every result carries ``detail``: the human explanation with the numbers
that produced it and the rule's source, e.g. ``"SRS 31 < cutoff 36
(Duncan et al. 2003)"``. Thresholds that are product choices are labelled
``[our default]``, never as published norms. The UI and CLI show these
strings verbatim; they never recompute a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from supervision_tui.instruments import EPS, fmt, fmt_signed
from supervision_tui.rules.kinds import REGISTRY as KINDS
from supervision_tui.rules.kinds import TIERS

MARKER_KINDS = ("low", "drop", "self_report", "discrepancy")
#: How each marker kind is named to people (screens, reports, details): "self-report". The
#: tokens of ``MARKER_KINDS`` stay what the JSON ``markers`` carry (interchange.md §5).
MARKER_WORDS = {"low": "low", "drop": "drop", "self_report": "self-report", "discrepancy": "discrepancy"}


def marker_word(kind: str) -> str:
    """A marker kind as people read it (``MARKER_WORDS``)."""
    return MARKER_WORDS.get(kind, kind.replace("_", "-"))


def marker_words(kinds) -> str:
    """Marker kinds as one phrase: ``drop, low, self-report``."""
    return ", ".join(marker_word(k) for k in kinds)
EPISODE_STATUSES = ("open", "repaired", "unrepaired")
GOAL_RESULTS = ("agreed", "partial", "disagreed", "stale", "not_set")
OUTCOME_RESULTS = ("recovered", "improved", "no_change", "deteriorated")
RISK_STATUSES = ("risk", "rescreened")
#: The flag kinds in the interchange.md §5 order (the registry's, ``rules.kinds``).
FLAG_KINDS = KINDS.ids()

# Thin aliases of ``rules.kinds.TIERS`` for code that still reads them (the UI, until it
# reads the registry): the tier table lives in one place.
TIER_NAMES = {n: t.name for n, t in TIERS.items()}
TIER_SYMBOLS = {n: t.symbol for n, t in TIERS.items()}
#: Decimals of numbers in machine-readable output (flags/summary JSON).
SCORE_DECIMALS = 2  # raw scores ("latest") and changes
INDEX_DECIMALS = 3  # alliance index 0–1


def round_score(x: float) -> float:
    r = round(float(x), SCORE_DECIMALS)
    return 0.0 if r == 0 else r


#: Client statuses triaged by default (clinical-rules §7); other clients only with an active risk.
TRIAGED_STATUSES = ("active", "paused")


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str  # one of MARKER_KINDS
    session: int
    instrument: str  # alliance instrument the marker belongs to
    detail: str
    rater: str | None = None  # for self_report: who reported
    rupture_type: str | None = None  # for self_report: withdrawal / confrontation


@dataclass(frozen=True, slots=True)
class Episode:
    client: str
    instrument: str  # primary instrument
    start: int  # first marker session
    last_marker: int
    marker_sessions: tuple[int, ...]
    markers: tuple[Marker, ...]
    status: str  # open / repaired / unrepaired
    repaired_at: int | None
    baseline: float | None  # pre-episode baseline P (None = undefined)
    detail: str  # one line: status and why

    @property
    def marker_kinds(self) -> list[str]:
        return sorted({m.kind for m in self.markers})


@dataclass(frozen=True, slots=True)
class GoalEvidence:
    source: str  # "WAI-SR Goal", "SRS goals item", "client vs therapist WAI-SR Goal", "goal G1"
    session: int
    verdict: str  # agreed / partial / disagreed
    detail: str
    short: str = ""  # compact form for narrow tables: "WAI Goal 11"


@dataclass(frozen=True, slots=True)
class GoalResult:
    status: str  # one of GOAL_RESULTS
    session: int | None  # latest evidence session
    verdict: str | None  # the evidence's own verdict before staleness (agreed/partial/disagreed)
    evidence: tuple[GoalEvidence, ...]  # all evidence, ascending session
    sessions_ago: int | None
    days_ago: int | None
    detail: str
    # stale, and every goal record is achieved: the session they were last set or reviewed at
    achieved_at: int | None = None


def change_text(instrument: str, first: float, latest: float, better_by: float) -> str:
    """``PHQ-9 10 → 16 (+6, worse)``: the raw difference latest − first with
    a direction word (``better_by`` > 0: better)."""
    diff = latest - first
    word = "better" if better_by > EPS else "worse" if better_by < -EPS else "no difference"
    if word == "no difference":
        return f"{instrument} {fmt(first)} → {fmt(latest)} (no difference)"
    return f"{instrument} {fmt(first)} → {fmt(latest)} ({fmt_signed(diff)}, {word})"


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    instrument: str
    first: float
    latest: float
    first_session: int
    latest_session: int
    latest_date: date
    change: float  # signed so that positive = better (interchange.md §5's ``change``)
    status: str  # one of OUTCOME_RESULTS
    detail: str

    @property
    def difference(self) -> float:
        """The raw difference on the instrument's own scale, latest − first
        (PHQ-9 10 → 16: +6, whatever way is better)."""
        return self.latest - self.first

    @property
    def direction(self) -> str:
        """``better``, ``worse`` or ``same`` (the word that goes with ``difference``)."""
        return "better" if self.change > 1e-9 else "worse" if self.change < -1e-9 else "same"

    @property
    def change_text(self) -> str:
        """``PHQ-9 10 → 16 (+6, worse)``: clinical-rules §5, everywhere a change is shown."""
        return change_text(self.instrument, self.first, self.latest, self.change)


@dataclass(frozen=True, slots=True)
class RiskResult:
    """A risk flag (clinical-rules §6): the latest session ``S`` with a
    critical item endorsed, and whether it has been re-screened since."""

    session: int  # S: the latest session with risk = yes on a row with an instrument
    date: date
    instruments: tuple[str, ...]  # the instruments that said yes at S
    detail: str
    status: str = "risk"  # "risk" (active) or "rescreened"
    rescreened_at: int | None = None  # the attended session of the negative re-screen
    rescreened_date: date | None = None
    missed_since: int = 0  # sessions after S that were not attended
    sessions_since: int = 0  # sessions after S, attended or not
    no_shows_since: int = 0
    cancelled_since: int = 0
    why: str = ""  # one line for the caseload table

    @property
    def active(self) -> bool:
        return self.status == "risk"

    @property
    def not_seen_since(self) -> bool:
        """Sessions after S, none of them attended: first of tier 1."""
        return self.sessions_since > 0 and self.missed_since == self.sessions_since


@dataclass(frozen=True, slots=True)
class AttendanceResult:
    disengaging: bool
    missed: int  # length of the trailing run of non-attended sessions
    session: int | None  # latest session
    detail: str


@dataclass(frozen=True, slots=True)
class AllianceLatest:
    instrument: str
    latest: float
    index: float  # 0–1 alliance index
    session: int


@dataclass(frozen=True, slots=True)
class TriageHint:
    """What a flag that is a triage reason says in the caseload (not part of
    the flags JSON): the reason phrase, the one-line why, the triggering
    session and its date (clinical-rules §7), and ``first``: it goes first in
    its tier (a client not seen since the risk session)."""

    reason: str
    why: str
    session: int | None
    date: date | None
    first: bool = False


@dataclass(frozen=True, slots=True)
class Flag:
    client: str
    clinician: str
    kind: str  # a kind of the flag-kind registry (rules.kinds)
    session: int | None
    status: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    # how the flag triages its client; None for a status that is no triage reason
    hint: TriageHint | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Exactly the object of interchange.md §5."""
        d: dict[str, Any] = {
            "client": self.client,
            "clinician": self.clinician,
            "kind": self.kind,
            "session": self.session,
            "status": self.status,
        }
        d.update(self.extra)
        d["detail"] = self.detail
        return d

    @property
    def identity(self) -> str:
        """Stable identity across re-imports and settings changes that do not
        change the flag itself: client + kind + first session + instrument.
        Used by the review workflow to attach reviews to flags.

        Only a rupture has a first session (its episode's first marker);
        the other kinds' ``session`` is their *latest* evidence, which moves
        with every new rating, so it is not part of the identity (the review
        store reports such a move as "changed since reviewed" instead)."""
        inst = self.extra.get("instrument") or ""
        sess = str(self.session) if self.kind == "rupture" else ""
        return f"{self.client}|{self.kind}|{sess}|{inst}"


@dataclass(frozen=True, slots=True)
class ClientAnalysis:
    client: str
    clinician: str
    status: str  # client status
    sessions: int  # distinct session numbers
    latest_session: int | None
    latest_date: date | None
    markers: tuple[Marker, ...]
    episodes: tuple[Episode, ...]
    goal: GoalResult
    outcomes: dict[str, OutcomeResult]  # instruments with >= 2 client ratings
    risk: RiskResult | None  # an ACTIVE risk (status "risk"); None when none or re-screened
    attendance: AttendanceResult
    alliance: AllianceLatest | None
    tier: int
    reason: str  # short phrase ("rupture unrepaired")
    why: str  # one-line explanation for the caseload table
    trigger_session: int | None
    trigger_date: date | None
    flags: tuple[Flag, ...]
    rescreened: RiskResult | None = None  # the latest risk, re-screened negative (when no active risk)
    first_in_tier: bool = False  # sorts first in its tier (tier 1: not seen since the risk session)
    # clinical-rules §10 (rules.expected): per outcome instrument with two or more ratings, the course
    # against the clinic's expected course (``TrackResult``; its status None where not computed)
    tracks: dict[str, Any] = field(default_factory=dict)
    # the date of the latest session the client attended (None: never attended); the caseload's
    # "Last seen" (a client who missed the last three sessions was not seen on the latest one)
    last_attended_date: date | None = None

    @property
    def tier_label(self) -> str:
        return TIERS[self.tier].label()

    @property
    def outcome_statuses(self) -> dict[str, str]:
        """Per outcome instrument with two or more ratings, the value of
        interchange.md §6: the §5 status, or ``not_on_track`` where that flag
        fired (deterioration wins: a deteriorated instrument has no such flag)."""
        off = {f.extra.get("instrument") for f in self.flags if f.kind == "outcome" and f.status == "not_on_track"}
        return {k: ("not_on_track" if k in off else o.status) for k, o in self.outcomes.items()}

    @property
    def triaged(self) -> bool:
        """Triaged by default: active and paused clients, and every client
        with an active risk (closed or dropped out: follow-up is still owed,
        clinical-rules §6)."""
        return self.status in TRIAGED_STATUSES or self.risk is not None

    @property
    def ended(self) -> bool:
        """Closed or dropped out (whether or not an active risk keeps it triaged)."""
        return self.status not in TRIAGED_STATUSES
