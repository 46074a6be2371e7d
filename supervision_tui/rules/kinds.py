"""The flag-kind registry: everything the product knows about a kind of
flag, in one place (like ``instruments.REGISTRY`` for instruments).

A flag kind (interchange.md §5: ``rupture``, ``goal``, ``outcome``,
``attendance``, ``risk``) has statuses; each status says which triage tier
it stands for (clinical-rules.md §7), whether an unreviewed flag of it
makes its client "new" for review, and in which agenda section it is
listed (clinical-rules.md §8). Screens, the agenda, filters and exports
read this registry instead of branching on ``flag.kind``; the engine runs
each kind's rule.

Adding a kind (or a status such as ``not_on_track`` of ``outcome``) is an
entry here plus its rule in ``rules/``.

How people read a flag (the review list, notifications, the agenda's kind
column) is the kind's too: ``FlagKind.describe`` ("rupture s6–s7
UNREPAIRED (SRS)"), ``short`` ("rupture s6", for notifications) and
``agenda_label`` ("PHQ-9 worse"). A kind may pass its own functions for
them (``describe_as`` ...); without, a generic wording is built from the
kind's label, the status word, the instrument and the session.

The tier table (``TIERS``) is here too: symbol, short name and the
description the filter list and help screen show. ``ascii`` symbols are
for terminals whose fonts lack the Unicode ones (``TERM=linux``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.rules.results import ClientAnalysis, Flag


@dataclass(frozen=True, slots=True)
class Tier:
    number: int
    symbol: str  # "▲"
    ascii: str  # "^"
    name: str  # "risk": the word in the Tier column
    description: str  # "risk screen positive, not re-screened"

    def label(self, ascii: bool = False) -> str:
        """``▲1 risk``: symbol, number and word (never colour alone)."""
        return f"{self.ascii if ascii else self.symbol}{self.number} {self.name}"


TIERS: dict[int, Tier] = {
    t.number: t
    for t in (
        Tier(1, "▲", "!", "risk", "risk screen positive, not re-screened"),
        Tier(2, "▲", "^", "outcome", "outcome deteriorated or not on track"),  # (not "worse": not on track may be better, only not enough)
        Tier(3, "●", "*", "rupture", "rupture open or unrepaired"),
        Tier(4, "◆", "#", "goal", "goal disagreed"),  # (console: not "+", the Outcome column's "improved")
        Tier(5, "○", "o", "absent", "disengaging (missed sessions)"),
        Tier(6, "·", ".", "goal", "goal stale, not set or partial"),
        Tier(7, " ", " ", "no flag", "no flag (not the same as cleared)"),
    )
}


@dataclass(frozen=True, slots=True)
class FlagStatus:
    """One status of a flag kind."""

    id: str  # "unrepaired"
    word: str  # "unrepaired": for people (never the JSON token with "_")
    tier: int | None  # the triage tier it stands for; None: not a triage reason (repaired, rescreened)
    needs_review: bool = True  # does an unreviewed flag of it make its client "new"?
    agenda: str | None = None  # agenda section id (reports.agenda), None: not listed
    # the agenda subsection it is listed under ("{since}" = the date of the last meeting);
    # None: the section's single list. Subsections follow the order of the statuses here.
    group: str | None = None
    # a flag extra naming the session the status was reached at ("repaired_at"): such a flag is on
    # the agenda only when that session is dated since the last meeting (a repair long ago is news no more)
    since_key: str | None = None
    # a weaker reason of its tier: another status of the tier leads where both hold (not on track
    # after deteriorated: "deterioration wins where both hold", clinical-rules §10)
    weaker: bool = False


@dataclass(frozen=True, slots=True)
class KindFilter:
    """A caseload filter: which clients' analyses pass it. The keys passed
    are kept in the triage cache, so rows can be filtered before the data
    are loaded."""

    key: str  # "k-rupture"
    label: str  # "kind: rupture open or unrepaired"
    test: Callable[["ClientAnalysis"], bool] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class FlagKind:
    id: str  # interchange.md §5 ``kind``
    order: int  # position in the §5 sort order
    symbol: str
    ascii: str
    label: str  # "rupture", "outcome", …: the word for people
    statuses: dict[str, FlagStatus]
    # caseload filters of this kind ("kind: rupture open or unrepaired")
    filters: tuple["KindFilter", ...] = ()
    # wordings of one flag (see the module docstring); None: the generic one
    describe_as: Callable[["FlagKind", "Flag", "ClientAnalysis | None"], str] | None = field(
        default=None, repr=False, compare=False)
    short_as: Callable[["FlagKind", "Flag"], str] | None = field(default=None, repr=False, compare=False)
    agenda_as: Callable[["FlagKind", "Flag"], str] | None = field(default=None, repr=False, compare=False)

    def status(self, status: str) -> FlagStatus:
        try:
            return self.statuses[status]
        except KeyError:
            raise KeyError(f"{self.id}: unknown status {status!r}") from None

    def word(self, status: str) -> str:
        """The status for people ("not set"); an unknown status as it is."""
        s = self.statuses.get(status)
        return s.word if s is not None else status.replace("_", " ")

    @property
    def most_urgent_tier(self) -> int:
        """The most urgent tier any of its statuses stands for (8: none)."""
        return min((s.tier for s in self.statuses.values() if s.tier is not None), default=8)

    # -- wordings of one flag ------------------------------------------------------------
    def describe(self, flag: "Flag", analysis: "ClientAnalysis | None" = None, ascii: bool = False) -> str:
        """One line naming the flag, led by the kind's symbol:
        ``● rupture s6–s7 UNREPAIRED (SRS)``, ``◆ goal NOT SET (latest s4)``.
        ``analysis`` (the flag's client) lets a kind add what the flag
        alone does not carry (a rupture's last marker session)."""
        text = (self.describe_as or _describe_generic)(self, flag, analysis)
        return f"{self.ascii if ascii else self.symbol} {text}"

    def short(self, flag: "Flag") -> str:
        """A few words for a notification: ``rupture s6``, ``outcome ORS``."""
        return (self.short_as or _short_generic)(self, flag)

    def agenda_label(self, flag: "Flag", ascii: bool = False) -> str:
        """The agenda's kind cell: ``▲ PHQ-9 worse``, ``● unrepaired``."""
        text = (self.agenda_as or _agenda_generic)(self, flag)
        return f"{self.ascii if ascii else self.symbol} {text}"

    def urgency(self, status: str) -> float:
        """Sort key of a flag among a client's flags: its tier (a weaker
        status half a tier later), 8 for a status that is no triage reason
        (a repaired rupture)."""
        st = self.status(status)
        if st.tier is None:
            return 8
        return st.tier + (0.5 if st.weaker else 0)


def _statuses(*items: FlagStatus) -> dict[str, FlagStatus]:
    return {s.id: s for s in items}


# --- wordings: the generic ones, and the kinds' own -------------------------------------------


def _describe_generic(kind: FlagKind, flag: "Flag", _analysis: "ClientAnalysis | None") -> str:
    """``outcome PHQ-9 DETERIORATED (s9)``."""
    inst = flag.extra.get("instrument")
    text = " ".join(p for p in (kind.label, inst, kind.word(flag.status).upper()) if p)
    return text + (f" (s{flag.session})" if flag.session is not None else "")


def _short_generic(kind: FlagKind, flag: "Flag") -> str:
    inst = flag.extra.get("instrument")
    return f"{kind.id} {inst}" if inst else kind.id


def _agenda_generic(kind: FlagKind, flag: "Flag") -> str:
    return kind.word(flag.status)


def _rupture_describe(kind: FlagKind, flag: "Flag", analysis: "ClientAnalysis | None") -> str:
    """``rupture s6–s7 UNREPAIRED (SRS)``: the episode's first to last marker."""
    inst = flag.extra.get("instrument")
    last = flag.session
    if analysis is not None:
        for e in analysis.episodes:
            if e.start == flag.session and e.instrument == inst:
                last = e.last_marker
    span = f"s{flag.session}" if last == flag.session else f"s{flag.session}–s{last}"
    return f"rupture {span} {flag.status.upper()}" + (f" ({inst})" if inst else "")


def _rupture_short(kind: FlagKind, flag: "Flag") -> str:
    return f"rupture s{flag.session}"


def _goal_describe(kind: FlagKind, flag: "Flag", _analysis: "ClientAnalysis | None") -> str:
    return f"goal {kind.word(flag.status).upper()}" + (
        f" (latest s{flag.session})" if flag.session is not None else "")


def _outcome_agenda(kind: FlagKind, flag: "Flag") -> str:
    inst = flag.extra.get("instrument") or "outcome"
    return f"{inst} worse" if flag.status == "deteriorated" else f"{inst} {kind.word(flag.status)}"


def _attendance_describe(kind: FlagKind, flag: "Flag", _analysis: "ClientAnalysis | None") -> str:
    missed = flag.extra.get("missed")
    return f"attendance {kind.word(flag.status).upper()}" + (f" ({missed} missed)" if missed else "")


def _risk_describe(kind: FlagKind, flag: "Flag", _analysis: "ClientAnalysis | None") -> str:
    if flag.status == "rescreened":
        return f"risk s{flag.session} RE-SCREENED negative at s{flag.extra.get('rescreened_at')}"
    return f"risk item at s{flag.session}"


def _risk_agenda(kind: FlagKind, flag: "Flag") -> str:
    return "risk" if flag.status == "risk" else "re-screened"


class FlagKindRegistry:
    """Ordered collection of flag kinds; ``REGISTRY`` is the product's."""

    def __init__(self, kinds: Iterator[FlagKind] | list[FlagKind] = ()) -> None:
        self._by_id: dict[str, FlagKind] = {}
        for k in kinds:
            self.register(k)

    def register(self, kind: FlagKind) -> None:
        if kind.id in self._by_id:
            raise ValueError(f"flag kind {kind.id!r} is registered already")
        for s in kind.statuses.values():
            if s.tier is not None and s.tier not in TIERS:
                raise ValueError(f"flag kind {kind.id!r}: status {s.id!r} has unknown tier {s.tier}")
        self._by_id[kind.id] = kind

    def __getitem__(self, kind_id: str) -> FlagKind:
        return self._by_id[kind_id]

    def get(self, kind_id: str) -> FlagKind | None:
        return self._by_id.get(kind_id)

    def __iter__(self) -> Iterator[FlagKind]:
        return iter(sorted(self._by_id.values(), key=lambda k: k.order))

    def __contains__(self, kind_id: object) -> bool:
        return kind_id in self._by_id

    def ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self)

    def order(self, kind_id: str) -> int:
        k = self._by_id.get(kind_id)
        return k.order if k is not None else len(self._by_id)

    # conveniences over a flag -------------------------------------------------
    def status_of(self, flag: "Flag") -> FlagStatus:
        return self[flag.kind].status(flag.status)

    def urgency(self, flag: "Flag") -> float:
        return self[flag.kind].urgency(flag.status)

    def needs_review(self, flag: "Flag") -> bool:
        return self.status_of(flag).needs_review

    def filters(self) -> tuple[KindFilter, ...]:
        """Every kind's caseload filters, in kind order."""
        return tuple(f for k in self for f in k.filters)

    def by_urgency(self) -> list[FlagKind]:
        """The kinds by the most urgent tier they can stand for (risk,
        outcome, rupture, goal, attendance), then kind order: the order a
        clinician scans them in (filter lists, the review list)."""
        return sorted(self, key=lambda k: (k.most_urgent_tier, k.order))

    def describe(self, flag: "Flag", analysis: "ClientAnalysis | None" = None, ascii: bool = False) -> str:
        """``FlagKind.describe`` of the flag's kind; an unknown kind as its
        id and status."""
        kind = self.get(flag.kind)
        if kind is None:
            return f"{'.' if ascii else '·'} {flag.kind} {flag.status}"
        return kind.describe(flag, analysis, ascii)

    def short(self, flag: "Flag") -> str:
        kind = self.get(flag.kind)
        return kind.short(flag) if kind is not None else flag.kind

    def agenda_label(self, flag: "Flag", ascii: bool = False) -> str:
        kind = self.get(flag.kind)
        if kind is None:
            return f"{'.' if ascii else '·'} {flag.status.replace('_', ' ')}"
        return kind.agenda_label(flag, ascii)


REGISTRY = FlagKindRegistry(
    [
        FlagKind(
            "rupture", 0, "●", "*", "rupture",
            _statuses(
                FlagStatus("unrepaired", "unrepaired", 3, agenda="ruptures", group="Unrepaired"),
                FlagStatus("open", "open", 3, agenda="ruptures", group="Open"),
                # no triage reason, but owed a review: interchange §5, "a supervisor reviews repairs too"
                FlagStatus("repaired", "repaired", None, agenda="ruptures",
                           group="Repaired since {since}", since_key="repaired_at"),
            ),
            (KindFilter("k-rupture", "kind: rupture open or unrepaired",
                        lambda a: any(e.status in ("open", "unrepaired") for e in a.episodes)),
             KindFilter("k-repaired", "kind: rupture repaired",
                        lambda a: any(e.status == "repaired" for e in a.episodes))),
            describe_as=_rupture_describe, short_as=_rupture_short,
        ),
        FlagKind(
            "goal", 1, "◆", "+", "goal",
            _statuses(
                FlagStatus("disagreed", "disagreed", 4, agenda="goals_engagement"),
                FlagStatus("partial", "partial", 6),
                FlagStatus("stale", "stale", 6),
                FlagStatus("not_set", "not set", 6),
            ),
            (KindFilter("k-goal", "kind: goal not agreed (disagreed, partial, stale, not set)",
                        lambda a: a.goal.status != "agreed"),),
            describe_as=_goal_describe,
        ),
        FlagKind(
            "outcome", 2, "▲", "^", "outcome",
            _statuses(
                FlagStatus("deteriorated", "deteriorated", 2, agenda="not_on_track"),
                # clinical-rules §10 (rules.expected); deterioration wins where both hold
                FlagStatus("not_on_track", "not on track", 2, agenda="not_on_track", weaker=True),
            ),
            (KindFilter("k-deteriorated", "kind: outcome deteriorated",
                        lambda a: any(o.status == "deteriorated" for o in a.outcomes.values())),
             KindFilter("k-not-on-track", "kind: outcome not on track (below the clinic's expected course)",
                        lambda a: any(f.kind == "outcome" and f.status == "not_on_track" for f in a.flags))),
            agenda_as=_outcome_agenda,
        ),
        FlagKind(
            "attendance", 3, "○", "o", "attendance",
            _statuses(FlagStatus("disengaging", "disengaging", 5, agenda="goals_engagement")),
            (KindFilter("k-absent", "kind: disengaging (missed sessions)",
                        lambda a: a.attendance.disengaging),),
            describe_as=_attendance_describe,
        ),
        FlagKind(
            "risk", 4, "⚠", "!", "risk",
            _statuses(
                # clinical-rules §6: active until a negative re-screen on the instrument that said yes
                FlagStatus("risk", "active", 1, agenda="safety", group="Active risk"),
                # re-screened negative at a later attended session: out of tier 1, on the agenda once
                # (the meeting after the re-screen); shown and reviewable, but no review is owed
                FlagStatus("rescreened", "re-screened negative", None, needs_review=False, agenda="safety",
                           group="Re-screened negative since the last meeting ({since})",
                           since_key="rescreened_at"),
            ),
            (KindFilter("k-risk", "kind: risk flag (active)", lambda a: a.risk is not None),
             KindFilter("k-rescreened", "kind: risk re-screened negative", lambda a: a.rescreened is not None)),
            describe_as=_risk_describe, agenda_as=_risk_agenda,
        ),
    ]
)
