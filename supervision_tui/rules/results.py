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

MARKER_KINDS = ("low", "drop", "self_report", "discrepancy")
EPISODE_STATUSES = ("open", "repaired", "unrepaired")
GOAL_RESULTS = ("agreed", "partial", "disagreed", "stale", "not_set")
OUTCOME_RESULTS = ("recovered", "improved", "no_change", "deteriorated")
FLAG_KINDS = ("rupture", "goal", "outcome", "attendance", "risk")

TIER_NAMES = {
    1: "risk",
    2: "worse",
    3: "rupture",
    4: "goal",
    5: "absent",
    6: "goal",
    7: "ok",
}
TIER_SYMBOLS = {1: "▲", 2: "▲", 3: "●", 4: "◆", 5: "○", 6: "·", 7: "✓"}


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


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    instrument: str
    first: float
    latest: float
    first_session: int
    latest_session: int
    latest_date: date
    change: float  # signed so that positive = better
    status: str  # one of OUTCOME_RESULTS
    detail: str


@dataclass(frozen=True, slots=True)
class RiskResult:
    session: int  # latest session carrying risk = yes within the window
    date: date
    instruments: tuple[str, ...]
    detail: str


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
class Flag:
    client: str
    clinician: str
    kind: str  # one of FLAG_KINDS
    session: int | None
    status: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

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
    risk: RiskResult | None
    attendance: AttendanceResult
    alliance: AllianceLatest | None
    tier: int
    reason: str  # short phrase ("rupture unrepaired")
    why: str  # one-line explanation for the caseload table
    trigger_session: int | None
    trigger_date: date | None
    flags: tuple[Flag, ...]

    @property
    def tier_label(self) -> str:
        return f"{TIER_SYMBOLS[self.tier]}{self.tier} {TIER_NAMES[self.tier]}"

    @property
    def triaged(self) -> bool:
        return self.status in ("active", "paused")
