"""The weekly supervision agenda (clinical-rules.md §8), as data and as
Markdown or a self-contained HTML page.

    agenda = build_agenda(database, settings, since=None, as_of=None, clinician=None)
    text = render(agenda, fmt="md" | "html", include_notes=False)

Sections, in the order a supervision meeting walks through them:

1. **Safety** — active risk first (every client with one: closed and
   dropped-out clients included, risk is never hidden), then risk
   re-screened negative since the last meeting (listed once: at the first
   meeting after the re-screen).
2. **Not on track and deteriorated** — outcome not on track (below the
   clinic's expected course, clinical-rules §10, ``rules.expected``) or
   reliably deteriorated. Titled "Deteriorated" where the not-on-track
   signal cannot be computed for any instrument (too little clinic data:
   the section says so with the counts, ``Agenda.reference``).
3. **Ruptures** — unrepaired, then open, then repaired since the last
   meeting; ``NEW`` marks an episode whose first marker session is dated
   on or after ``since`` (also on a repaired one). Within a subsection a
   client is listed once (its other episodes of that status under it); a
   client with an unrepaired and a later open episode is in both.
4. **Goals and engagement** — goal disagreed, disengaging; the count of
   lesser goal flags (stale, not set, partial) is noted, not listed.
5. **Patterns per supervisee** — ``reports.patterns.clinician_patterns``:
   clients by tier, open/unrepaired ruptures, repair rate, mean alliance,
   deteriorated share; then effectiveness (clinical-rules §11,
   ``reports.effectiveness``): each supervisee's severity-adjusted effect
   size and rates with their intervals, "too few to compare" below the
   minimum, the clinic row, and the reminder that overlapping intervals
   are not a difference (never a ranking).
6. **Action items carried over** — every open item, oldest first, overdue
   ones marked (due before ``as_of``).

Which flag goes where is read from the flag-kind registry
(``rules.kinds``: a status's ``agenda`` section, its ``group`` (the
subsection) and ``since_key`` (listed only when reached since the last
meeting)), never from the kind's name. Each subsection lists each client
once: a client with several flags there is one item, the most urgent flag
first (of a tier, the one the caseload's "Why" names: ``rules.triage.lead_rank``)
and the others under it (``AgendaItem.more``); no subsection says
"none" about clients listed in another.

Sections 2–4 and 5 cover triaged clients (active, paused, and any client
with an active risk). Every item is one line: client code, clinician, the
triggering session and its date, ``NEW`` when that date is on or after
``since``, the engine's ``detail`` verbatim, and the flag's review status
with who and when ("changed since" when the flag moved after the review,
see ``store.reviews``).

``since`` ("the last meeting") defaults to ``as_of`` (default: today)
minus 7 days. With ``as_of`` the reviews and action items are those of
that day (``reports.as_of.ReviewsAsOf``): a review made later is not
shown as made. ``clinician`` keeps only clients whose current clinician it
is, and action items of those clients or owned by that clinician.

Privacy (§9): clients appear by code only. Without ``include_notes`` the
output holds no review note, no action item text (an item shows "(action
item, text hidden)" with its client, owner and due date) and no goal
description — and any goal description that turned up inside a detail
string would be replaced by "(hidden)". With ``include_notes`` they are
shown. Markdown escapes the characters that could turn text into markup;
HTML escapes everything and loads nothing from anywhere (inline CSS only,
no script, no link), and prints cleanly.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from supervision_tui.errors import UserError
from supervision_tui.instruments import REGISTRY as INSTRUMENTS
from supervision_tui.model import Caseload, ClientRecord
from supervision_tui.reports.effectiveness import EffectRow, effectiveness_table
from supervision_tui.reports.patterns import ClinicianPattern, clinician_patterns
from supervision_tui.rules.kinds import REGISTRY as KINDS
from supervision_tui.rules.kinds import TIERS
from supervision_tui.rules.triage import lead_rank
from supervision_tui.rules.results import ClientAnalysis, Flag
from supervision_tui.reports.as_of import ReviewsAsOf
from supervision_tui.store.reviews import ActionItem, FlagReview, ReviewStore
from supervision_tui.wording import count, percent

__all__ = [
    "Agenda",
    "AgendaSection",
    "AgendaGroup",
    "AgendaItem",
    "AgendaAction",
    "SECTION_KEYS",
    "build_agenda",
    "build_agenda_from",
    "render",
    "render_markdown",
    "render_html",
]

SINCE_DAYS = 7
HIDDEN_ACTION = "(action item, text hidden)"
HIDDEN = "(hidden)"
SECTION_KEYS = ("safety", "not_on_track", "ruptures", "goals_engagement", "patterns", "actions")
SECTION_TITLES = {
    "safety": "Safety and risk",
    "not_on_track": "Deteriorated",  # "Not on track and deteriorated" where the signal is computed (section_title)
    "ruptures": "Ruptures",
    "goals_engagement": "Goals and engagement",
    "patterns": "Patterns per supervisee",
    "actions": "Action items carried over",
}
SECTION_SUBTITLES = {
    "safety": "active risk (any client status), then risk re-screened negative since the last meeting",
    "not_on_track": "outcome reliably deteriorated",
    "ruptures": "unrepaired, open, repaired since the last meeting; NEW = started since {since}",
    "goals_engagement": "goal disagreed, disengaging",
    "patterns": "across each supervisee's active caseload",
    "actions": "open items, oldest first",
}
#: What an empty subsection says, by the group title of the registry (None: the section's one list).
EMPTY = {
    ("safety", "Active risk"): "No active risk.",
    ("safety", "Re-screened negative since the last meeting ({since})"): "None re-screened since {since}.",
    ("not_on_track", None): "No client has reliably deteriorated.",  # (with the signal: EMPTY_NOT_ON_TRACK)
    ("ruptures", "Unrepaired"): "None unrepaired.",
    ("ruptures", "Open"): "None open.",
    ("ruptures", "Repaired since {since}"): "None repaired since {since}.",
    ("goals_engagement", None): "No goal disagreement, nobody disengaging.",
}
#: Sections that list closed and dropped-out clients too (risk is never hidden); the others
#: list triaged clients (``ClientAnalysis.triaged``).
ALL_CLIENTS = frozenset({"safety"})


EMPTY_NOT_ON_TRACK = "No client is off the expected course or reliably deteriorated."
SUBTITLE_NOT_ON_TRACK = "outcome below the clinic's expected course (not on track), or reliably deteriorated"


def section_title(key: str, signal: bool = False) -> str:
    """Section 2 says "not on track" only where that signal can be computed
    (clinical-rules §8: "Deteriorated" otherwise)."""
    if key == "not_on_track" and signal and any("not_on_track" in k.statuses for k in KINDS):
        return "Not on track and deteriorated"
    return SECTION_TITLES[key]


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """One flag on the agenda."""

    flag: Flag
    client_status: str  # active / paused / closed / dropped_out
    date: date | None  # date of the triggering session
    new: bool  # date >= since
    review: FlagReview  # the flag's own review (status "new" when none)
    client_review: FlagReview  # the client-level review ("client discussed")
    goals: tuple[str, ...] = ()  # private goal descriptions ("G1: ..."), shown only with include_notes
    more: tuple["AgendaItem", ...] = ()  # the client's other flags in the same subsection (listed once)
    at: int | None = None  # the session ``date`` belongs to, when not the flag's (a repair, a re-screen)

    @property
    def client(self) -> str:
        return self.flag.client

    @property
    def clinician(self) -> str:
        return self.flag.clinician

    @property
    def key(self) -> str:
        return self.flag.identity

    @property
    def session(self) -> int | None:
        """The session the item is dated by: the flag's, or the one its status
        was reached at (``at``: a repair, a re-screen)."""
        return self.at if self.at is not None else self.flag.session

    @property
    def detail(self) -> str:
        return self.flag.detail


@dataclass(frozen=True, slots=True)
class AgendaGroup:
    title: str | None  # None: the section has a single, untitled group
    items: tuple[AgendaItem, ...]
    empty: str = "Nothing."


@dataclass(frozen=True, slots=True)
class AgendaAction:
    item: ActionItem
    clinician: str | None  # the client's current clinician (None: client not in the caseload)
    overdue: bool


@dataclass(frozen=True, slots=True)
class AgendaSection:
    key: str  # one of SECTION_KEYS
    number: int
    title: str
    subtitle: str
    groups: tuple[AgendaGroup, ...] = ()
    patterns: tuple[ClinicianPattern, ...] = ()
    actions: tuple[AgendaAction, ...] = ()
    note: str | None = None  # a line after the items (e.g. lesser goal flags)
    effects: tuple[EffectRow, ...] = ()  # patterns: effectiveness per supervisee and the clinic (§11)

    @property
    def items(self) -> tuple[AgendaItem, ...]:
        return tuple(i for g in self.groups for i in g.items)

    @property
    def count(self) -> int:
        return len(self.items) + len(self.patterns) + len(self.actions)


@dataclass(frozen=True, slots=True)
class Agenda:
    name: str  # caseload name
    as_of: date
    since: date
    clinician: str | None
    generated_at: str  # UTC ISO 8601
    sections: tuple[AgendaSection, ...]
    goal_texts: tuple[str, ...] = field(default=(), repr=False)  # every goal description: scrubbed when hidden

    def section(self, key: str) -> AgendaSection:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


# --- building --------------------------------------------------------------------------------


def build_agenda(database, settings=None, since: date | None = None, as_of: date | None = None,
                 clinician: str | None = None) -> Agenda:
    """Load the caseload and the reviews of ``database`` and build the agenda."""
    from supervision_tui.rules.engine import analyse_caseload, known_records
    from supervision_tui.rules.expected import reference_of
    from supervision_tui.reports.effectiveness import effectiveness_for

    caseload = database.load()
    shared: dict[str, object] = {}
    analyses = analyse_caseload(caseload, settings, as_of=as_of, shared=shared)
    effects = effectiveness_for(known_records(caseload, as_of), analyses, settings, clinician=clinician)
    reviews = ReviewsAsOf(database, as_of) if as_of is not None else ReviewStore(database)
    return build_agenda_from(caseload, analyses, reviews, since=since, as_of=as_of, clinician=clinician,
                             reference=reference_of(shared), effects=effects)


def build_agenda_from(caseload: Caseload, analyses: list[ClientAnalysis], reviews: ReviewStore | None,
                      since: date | None = None, as_of: date | None = None,
                      clinician: str | None = None, *, today: date | None = None,
                      reference: dict | None = None, effects: Iterable[EffectRow] | None = None) -> Agenda:
    """The agenda from already computed parts (the UI has them loaded).

    ``analyses``: ``analyse_caseload(caseload, settings, as_of)``;
    ``reviews``: the caseload's ``ReviewStore`` (None: everything ``new``,
    no action items). With ``as_of`` a plain store is read as of that day
    (``ReviewsAsOf``). ``reference``: the clinic's expected-response models
    (``rules.expected``; None: not computed); ``effects``: the effectiveness
    rows (``reports.effectiveness``; None: left out).
    """
    from supervision_tui.rules.expected import shortfalls, signal_computed

    ref = as_of or today or date.today()
    if as_of is not None and reviews is not None and not isinstance(reviews, ReviewsAsOf):
        reviews = ReviewsAsOf(reviews.path, as_of)
    records = {r.code: r for r in caseload.records(as_of)}
    if clinician:
        analyses = [a for a in analyses if a.clinician == clinician]
    by_client = {a.client: a for a in analyses}
    dates = _session_dates(records.values())
    since = since or default_since(ref, (d for (code, _n), d in dates.items() if code in by_client))
    since_text = _fmt_date(since)

    goals_by: dict[str, list[str]] = {}
    for g in caseload.goals:
        if g.description:
            goals_by.setdefault(g.client, []).append(
                f"{g.goal_id}: {g.description} ({g.agreement}, set s{g.set_session}"
                + (f", reviewed s{g.reviewed_session}" if g.reviewed_session else "") + f", {g.status})")

    def item(a: ClientAnalysis, f: Flag, when: date | None = None, at: int | None = None) -> AgendaItem:
        # NEW: the flag itself started since the last meeting (a rupture's first marker), also
        # where the item is dated by a later event (listed as repaired or re-screened since)
        own = _flag_date(f, a, dates)
        when = when if when is not None else own
        if reviews is not None:
            rv = reviews.review_for(f)
            crv = reviews.client_review(a.client, a.latest_session)
        else:
            rv = crv = FlagReview(f.identity, "new", None, False, None)
        goals = tuple(goals_by.get(a.client, ())) if f.kind == "goal" else ()  # goal texts go with goal flags
        return AgendaItem(f, a.status, when, own is not None and own >= since, rv, crv, goals, at=at)

    # every listed flag into its section and subsection, as the registry says
    group_order: dict[str, list[str | None]] = {}
    for kind in KINDS:
        for st in kind.statuses.values():
            if st.agenda is not None and st.group not in group_order.setdefault(st.agenda, []):
                group_order[st.agenda].append(st.group)
    found: dict[tuple[str, str | None], list[tuple[ClientAnalysis, Flag, date | None, int | None]]] = {}
    counted: dict[str, int] = {}  # triage reasons not listed (lesser goal flags): status word -> count
    for a in analyses:
        for f in a.flags:
            st = KINDS.status_of(f)
            if st.agenda is None:
                if st.tier is not None and a.triaged:
                    counted[f"{KINDS[f.kind].label} {st.word}"] = counted.get(f"{KINDS[f.kind].label} {st.word}", 0) + 1
                continue
            if st.agenda not in ALL_CLIENTS and not a.triaged:
                continue
            when = at = None
            if st.since_key is not None:  # listed once: when that status was reached since the last meeting
                at = f.extra.get(st.since_key)
                when = dates.get((a.client, at)) if at is not None else None
                if when is None or when < since:
                    continue
            found.setdefault((st.agenda, st.group), []).append((a, f, when, at))

    def group(section: str, title: str | None) -> AgendaGroup:
        entries = found.get((section, title), [])
        by: dict[str, list[AgendaItem]] = {}
        for a, f, when, at in entries:
            by.setdefault(a.client, []).append(item(a, f, when, at))
        items = []
        for client_items in by.values():
            # the most urgent flag leads, the others go under it: the tier, then within it the flag the
            # caseload's "Why" names (``rules.triage.lead_rank``: the same flag on every screen), then
            # the most recent
            client_items.sort(key=lambda i: (KINDS.urgency(i.flag), lead_rank(i.flag, INSTRUMENTS),
                                             -(i.date.toordinal() if i.date else 0), i.key))
            head, *rest = client_items
            items.append(replace(head, more=tuple(rest)) if rest else head)
        empty = EMPTY.get((section, title), "Nothing.")
        if section == "not_on_track" and signal:
            empty = EMPTY_NOT_ON_TRACK
        return AgendaGroup(title.format(since=since_text) if title else None, _ordered(items),
                           empty.format(since=since_text))

    def groups(section: str) -> tuple[AgendaGroup, ...]:
        return tuple(group(section, t) for t in group_order.get(section, [None]))

    # 5 patterns
    clinicians: Any = caseload.clinicians
    if clinician:
        clinicians = ({clinician: caseload.clinicians[clinician]} if clinician in caseload.clinicians
                      else [clinician])
    patterns = [p for p in clinician_patterns(analyses, records, clinicians)
                if p.clients or p.role != "supervisor"]
    # 6 action items
    actions: list[AgendaAction] = []
    if reviews is not None:
        for it in reviews.open_actions():
            a = by_client.get(it.client)
            if clinician and a is None and it.owner != clinician:
                continue
            owner_clin = a.clinician if a is not None else _current_clinician(records.get(it.client))
            actions.append(AgendaAction(it, owner_clin, it.overdue(ref)))

    lesser = sum(counted.values())
    note = None
    if lesser:
        what = ", ".join(f"{n} {w}" for w, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))
        note = f"{count(lesser, 'more flag')} counted, not listed ({what}); see the caseload."

    signal = signal_computed(reference)
    short = shortfalls(reference, analyses)
    track_note = None
    if short:
        track_note = ("Not on track " + ("is not computed" if not signal else "is not computed for every measure")
                      + " (too little clinic data for an expected course): " + "; ".join(short) + ".")

    def section(key: str, number: int, **kw: Any) -> AgendaSection:
        subtitle = SUBTITLE_NOT_ON_TRACK if key == "not_on_track" and signal else SECTION_SUBTITLES[key]
        return AgendaSection(key, number, section_title(key, signal), subtitle.format(since=since_text), **kw)

    sections = (
        section("safety", 1, groups=groups("safety")),
        section("not_on_track", 2, groups=groups("not_on_track"), note=track_note),
        section("ruptures", 3, groups=groups("ruptures")),
        section("goals_engagement", 4, groups=groups("goals_engagement"), note=note),
        section("patterns", 5, patterns=tuple(patterns), effects=tuple(effects or ())),
        section("actions", 6, actions=tuple(actions)),
    )
    return Agenda(
        name=caseload.name,
        as_of=ref,
        since=since,
        clinician=clinician,
        generated_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        sections=sections,
        goal_texts=tuple(sorted({g.description for g in caseload.goals if g.description}, key=len, reverse=True)),
    )


def since_after_day(since: date, day: date, name: str = "--since") -> str | None:
    """Why ``since`` cannot be the agenda's "new since" for its day ``day``
    (None when it can): after that day nothing could be new. ``name``: how
    the value is called where it was given (``--since`` in the CLI, "New
    since" in the app), so both say it in the same words."""
    if since <= day:
        return None
    return (f"{name} {since.isoformat()} is after the agenda's day {day.isoformat()}: "
            "nothing could be new since then")


def default_since(ref: date, session_dates: Iterable[date]) -> date:
    """"New since" when none is given: a week before the reference date
    (``--as-of``, else today) or, when the data end earlier, a week before
    the last session in them. A caseload exported a fortnight ago (or the
    demo, whose data end on a fixed date) would otherwise show nothing new
    at all; a meeting reviews the last week *of data*."""
    last = max(session_dates, default=None)
    anchor = min(ref, last) if last is not None else ref
    return anchor - timedelta(days=SINCE_DAYS)


def _ordered(items: Iterable[AgendaItem]) -> tuple[AgendaItem, ...]:
    """As in triage (clinical-rules §7): the flags that go first in their tier
    (a client not seen since the risk session), then the most recent
    triggering session, then client."""
    return tuple(sorted(items, key=lambda i: (0 if i.flag.hint is not None and i.flag.hint.first else 1,
                                              -(i.date.toordinal() if i.date else 0), i.client, i.key)))


def _session_dates(records: Iterable[ClientRecord]) -> dict[tuple[str, int], date]:
    return {(r.code, s.number): s.date for r in records for s in r.sessions}


def _flag_date(f: Flag, a: ClientAnalysis, dates: dict[tuple[str, int], date]) -> date | None:
    if f.session is None:  # goal not_set: the client's latest session
        return a.latest_date
    return dates.get((f.client, f.session))


def _current_clinician(record: ClientRecord | None) -> str | None:
    return record.client.clinician if record is not None else None


def _fmt_date(d: date | None) -> str:
    return d.isoformat() if d else "—"


# --- text pieces (shared by both formats) ---------------------------------------------------------


def _scrub(text: str, agenda: Agenda, include_notes: bool) -> str:
    """Engine text with any goal description replaced when notes are hidden."""
    if include_notes:
        return text
    for g in agenda.goal_texts:
        if len(g) >= 4 and g in text:
            text = text.replace(g, HIDDEN)
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{percent(x)} %"


def _item_parts(it: AgendaItem, agenda: Agenda, include_notes: bool) -> dict[str, Any]:
    f = it.flag
    where = f"s{it.session}" if it.session is not None else "no session"
    if it.date:
        where += f" {it.date.isoformat()}"
    extra = []
    if it.client_status not in ("active", "paused"):
        extra.append(it.client_status.replace("_", " "))
    rv = it.review
    review = f"review: {rv.label()}"
    if rv.review is None and it.client_review.review is not None and it.client_review.status != "new":
        review += f"; client {it.client_review.label()}"
    notes = []
    if include_notes:
        if rv.review is not None and rv.review.note:
            notes.append(("note", rv.review.note))
        # the note on the client as a whole, whether or not the flag itself has been reviewed
        # (as the app's agenda panel shows it)
        if it.client_review.review is not None and it.client_review.review.note:
            notes.append(("client note", it.client_review.review.note))
        for g in it.goals:
            notes.append(("goal", g))
    return {
        "client": f.client,
        "clinician": f.clinician,
        "kind": kind_words(f),
        "where": where,
        "new": it.new,
        "extra": extra,
        "detail": _scrub(_one_line(f.detail), agenda, include_notes),
        "review": review,
        "changed": rv.changed,
        "notes": [(k, _one_line(v)) for k, v in notes],
        "more": [_item_parts(m, agenda, include_notes) for m in it.more],
    }


def kind_words(f: Flag) -> str:
    """``rupture unrepaired``, ``risk`` (active), ``risk re-screened negative``: from the registry."""
    kind = KINDS[f.kind]
    st = kind.status(f.status)
    return kind.label if st.id == kind.id else f"{kind.label} {st.word}"


def _pattern_parts(p: ClinicianPattern) -> list[str]:
    tiers = ", ".join(f"{TIERS[t].label()} {p.tiers[t]}".strip() for t in sorted(TIERS)
                      if p.tiers.get(t)) or "none"
    rep_n = p.ruptures_repaired + p.ruptures_unrepaired
    repair = _pct(p.repair_rate) + (f" ({p.ruptures_repaired} of {rep_n})" if rep_n else "")
    alliance = "—" if p.mean_alliance_index is None else f"index {p.mean_alliance_index:.2f}"
    if p.mean_srs is not None:
        alliance += f", SRS {p.mean_srs:.1f} ({p.srs_clients} clients)"
    det = _pct(p.pct_deteriorated) + (f" ({p.deteriorated} of {p.outcome_clients})" if p.outcome_clients else "")
    parts = [
        count(p.clients, "client"),
        f"tiers {tiers}",
        f"ruptures open {p.ruptures_open} / unrepaired {p.ruptures_unrepaired}",
        f"repair rate {repair}",
        f"mean alliance {alliance}",
        f"deteriorated {det}",
    ]
    if p.missing_recent:
        parts.append(f"no recent alliance rating: {len(p.missing_recent)}")
    return parts


def _action_parts(a: AgendaAction, include_notes: bool) -> dict[str, Any]:
    it = a.item
    who = f"owner {it.owner}" if it.owner else "no owner"
    due = f"due {it.due.isoformat()}" if it.due else "no due date"
    return {
        "client": it.client,
        "clinician": a.clinician or "—",
        "text": _one_line(it.text) if include_notes else HIDDEN_ACTION,
        "owner": who,
        "due": due,
        "overdue": a.overdue,
        "created": f"added {it.created_at[:10]} by {it.created_by}",
    }


def _header_lines(agenda: Agenda, include_notes: bool) -> list[str]:
    scope = f"clinician {agenda.clinician}" if agenda.clinician else "all supervisees"
    lines = [
        f"As of {agenda.as_of.isoformat()} · new since {agenda.since.isoformat()} · {scope}",
        f"Generated {agenda.generated_at.replace('T', ' ').replace('+00:00', ' UTC')}. "
        "Clients appear by code only.",
    ]
    if include_notes:
        lines.append("PRIVATE: contains review notes, action item texts and goal descriptions.")
    else:
        lines.append("Private text (review notes, action item texts, goal descriptions) left out; "
                     "export with notes to include it.")
    return lines


# --- Markdown ----------------------------------------------------------------------------------

_MD_ALWAYS = re.compile(r"([\\`*\[\]])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_MD_AUTOLINK = re.compile(r"(?i):(?=//)|(?<=www)\.|@")
_MD_FREE = re.compile(r"([!#>~])")


def _md(text: str, free: bool = False) -> str:
    """Escape Markdown: always backslash, backtick, *, brackets (no link,
    image or reference link from any text: a user name, a note, the
    database's name), an ``_`` that is not inside a word, a ``<`` that could
    open an HTML tag or an autolink, and what a renderer would turn into a
    link by itself (``scheme://``, ``www.``, an e-mail ``@``: GFM autolinks);
    free text (notes) also !, #, >, ~."""
    text = _MD_ALWAYS.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _MD_TAG.sub(r"\\<", text)
    text = _MD_AUTOLINK.sub(lambda m: "\\" + m.group(), text)
    if free:
        text = _MD_FREE.sub(r"\\\1", text)
    return text


def render_markdown(agenda: Agenda, include_notes: bool = False) -> str:
    title = f"Supervision agenda · {agenda.name}"
    out = [f"# {_md(title)}", ""]
    out += [_md(line) + "  " for line in _header_lines(agenda, include_notes)]
    out[-1] = out[-1].rstrip()
    for s in agenda.sections:
        out += ["", f"## {s.number}. {_md(s.title)}", "", f"_{_md(s.subtitle)}_", ""]
        if s.key == "patterns":
            if not s.patterns:
                out.append("No supervisee with clients.")
            for p in s.patterns:
                role = f" ({p.role})" if p.role else ""
                out.append(f"- **{_md(p.clinician)}**{_md(role)} · " + " · ".join(_md(x) for x in _pattern_parts(p)))
                if p.missing_recent:
                    out.append(f"  - no alliance rating in the last 3 sessions: "
                               f"{_md(', '.join(p.missing_recent))}")
            if s.effects:
                # monospace: the dot-and-whisker rows line up (nothing in it is escaped text: ids and numbers)
                out += ["", "### Effectiveness (severity-adjusted, 95 % intervals)", "", "```text",
                        effectiveness_table(list(s.effects)), "```"]
        elif s.key == "actions":
            if not s.actions:
                out.append("No open action items.")
            for a in s.actions:
                d = _action_parts(a, include_notes)
                flag = "**OVERDUE** · " if d["overdue"] else ""
                text = _md(d["text"], free=include_notes)
                out.append(f"- {flag}**{_md(d['client'])}** · {_md(d['clinician'])} · {text} · "
                           f"{_md(d['owner'])} · {_md(d['due'])} · {_md(d['created'])}")
        else:
            for g in s.groups:
                if g.title:
                    out += [f"### {_md(g.title)}", ""]
                if not g.items:
                    out.append(_md(g.empty))
                for it in g.items:
                    d = _item_parts(it, agenda, include_notes)
                    tags = ("**NEW** · " if d["new"] else "") + "".join(f"{_md(x)} · " for x in d["extra"])
                    changed = " **changed since reviewed**" if d["changed"] else ""
                    out.append(f"- {tags}**{_md(d['client'])}** · {_md(d['clinician'])} · {_md(d['kind'])} · "
                               f"{_md(d['where'])} · {_md(d['detail'])} · {_md(d['review'])}{changed}")
                    for k, v in d["notes"]:
                        out.append(f"  - {_md(k)}: {_md(v, free=True)}")
                    for m in d["more"]:  # the same client's other flags here: listed once, under it
                        mtags = "**NEW** · " if m["new"] else ""
                        mchanged = " **changed since reviewed**" if m["changed"] else ""
                        out.append(f"  - also: {mtags}{_md(m['kind'])} · {_md(m['where'])} · {_md(m['detail'])} · "
                                   f"{_md(m['review'])}{mchanged}")
                        for k, v in m["notes"]:
                            out.append(f"    - {_md(k)}: {_md(v, free=True)}")
                if g.title:
                    out.append("")
            if s.note:
                out += ["", _md(s.note)]
        while out and out[-1] == "":
            out.pop()
    return "\n".join(out) + "\n"


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #111; background: #fff; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.45rem; margin: 0 0 .3rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .2rem; border-bottom: 2px solid #333; padding-bottom: .1rem; }
h3 { font-size: 1rem; margin: .9rem 0 .2rem; }
.meta { color: #333; margin: 0; }
.privacy { margin: .4rem 0 0; padding: .3rem .5rem; border: 1px solid #999; display: inline-block; }
.sub { color: #444; font-style: italic; margin: 0 0 .4rem; }
ul { margin: .2rem 0; padding-left: 1.2rem; }
li { margin: .25rem 0; break-inside: avoid; page-break-inside: avoid; }
.client { font-weight: 700; font-family: ui-monospace, Menlo, Consolas, monospace; }
.tag { font-weight: 700; border: 1px solid #111; padding: 0 .25rem; font-size: .8rem; }
.detail { color: #111; }
.review { color: #333; }
.changed { font-weight: 700; }
.note { display: block; margin-left: 1rem; color: #222; }
.empty { color: #555; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #999; padding: .2rem .35rem; text-align: left; vertical-align: top; }
th { background: #eee; }
pre.effects { font: 12px/1.3 ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; overflow-x: auto;
               white-space: pre; break-inside: avoid; page-break-inside: avoid; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  th { background: none; }
}
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def render_html(agenda: Agenda, include_notes: bool = False) -> str:
    title = f"Supervision agenda · {agenda.name} · {agenda.as_of.isoformat()}"
    head = _header_lines(agenda, include_notes)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_h(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_h('Supervision agenda · ' + agenda.name)}</h1>",
        f'<p class="meta">{_h(head[0])}<br>{_h(head[1])}</p>',
        f'<p class="privacy">{_h(head[2])}</p>',
    ]
    for s in agenda.sections:
        out.append(f'<section id="{_h(s.key)}">')
        out.append(f"<h2>{s.number}. {_h(s.title)}</h2>")
        out.append(f'<p class="sub">{_h(s.subtitle)}</p>')
        if s.key == "patterns":
            if not s.patterns:
                out.append('<p class="empty">No supervisee with clients.</p>')
            else:
                out.append(_patterns_table(s.patterns))
            if s.effects:
                out.append("<h3>Effectiveness (severity-adjusted, 95 % intervals)</h3>")
                out.append(f'<pre class="effects">{_h(effectiveness_table(list(s.effects)))}</pre>')
        elif s.key == "actions":
            if not s.actions:
                out.append('<p class="empty">No open action items.</p>')
            else:
                out.append("<ul>")
                for a in s.actions:
                    d = _action_parts(a, include_notes)
                    tag = '<span class="tag">OVERDUE</span> ' if d["overdue"] else ""
                    out.append(f'<li>{tag}<span class="client">{_h(d["client"])}</span> · {_h(d["clinician"])} · '
                               f'{_h(d["text"])} · {_h(d["owner"])} · {_h(d["due"])} · {_h(d["created"])}</li>')
                out.append("</ul>")
        else:
            for g in s.groups:
                if g.title:
                    out.append(f"<h3>{_h(g.title)}</h3>")
                if not g.items:
                    out.append(f'<p class="empty">{_h(g.empty)}</p>')
                    continue
                out.append("<ul>")
                for it in g.items:
                    d = _item_parts(it, agenda, include_notes)
                    tags = ('<span class="tag">NEW</span> ' if d["new"] else "") + "".join(
                        f'<span class="tag">{_h(x)}</span> ' for x in d["extra"])
                    changed = ' <span class="changed">changed since reviewed</span>' if d["changed"] else ""
                    notes = "".join(f'<span class="note">{_h(k)}: {_h(v)}</span>' for k, v in d["notes"])
                    for m in d["more"]:  # the same client's other flags here: listed once, under it
                        mtag = '<span class="tag">NEW</span> ' if m["new"] else ""
                        mchanged = ' <span class="changed">changed since reviewed</span>' if m["changed"] else ""
                        notes += (f'<span class="note">also: {mtag}{_h(m["kind"])} · {_h(m["where"])} · '
                                  f'<span class="detail">{_h(m["detail"])}</span> · '
                                  f'<span class="review">{_h(m["review"])}</span>{mchanged}</span>')
                        notes += "".join(f'<span class="note">{_h(k)}: {_h(v)}</span>' for k, v in m["notes"])
                    out.append(f'<li>{tags}<span class="client">{_h(d["client"])}</span> · {_h(d["clinician"])} · '
                               f'{_h(d["kind"])} · {_h(d["where"])} · <span class="detail">{_h(d["detail"])}</span> · '
                               f'<span class="review">{_h(d["review"])}</span>{changed}{notes}</li>')
                out.append("</ul>")
            if s.note:
                out.append(f'<p class="empty">{_h(s.note)}</p>')
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _patterns_table(patterns: Iterable[ClinicianPattern]) -> str:
    tiers = sorted(TIERS)
    head = (["Clinician", "Role", "Clients"] + [f"{TIERS[t].symbol}{t}".strip() for t in tiers]
            + ["Ruptures open / unrep.", "Repair rate", "Mean alliance", "Deteriorated", "No recent alliance"])
    rows = ["<table>", "<thead><tr>" + "".join(f"<th>{_h(c)}</th>" for c in head) + "</tr></thead>", "<tbody>"]
    for p in patterns:
        parts = _pattern_parts(p)
        cells = [p.clinician, p.role or "—", str(p.clients)] + [str(p.tiers.get(t, 0)) for t in tiers] + [
            f"{p.ruptures_open} / {p.ruptures_unrepaired}",
            parts[3].removeprefix("repair rate "),
            parts[4].removeprefix("mean alliance "),
            parts[5].removeprefix("deteriorated "),
            ", ".join(p.missing_recent) or "—",
        ]
        rows.append("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in cells) + "</tr>")
    rows += ["</tbody>", "</table>"]
    return "\n".join(rows)


# --- entry point -----------------------------------------------------------------------------------


def render(agenda: Agenda, fmt: str = "md", include_notes: bool = False) -> str:
    """The agenda as Markdown (``"md"``) or a self-contained HTML page (``"html"``)."""
    if fmt == "md":
        return render_markdown(agenda, include_notes)
    if fmt == "html":
        return render_html(agenda, include_notes)
    raise UserError(f"unknown agenda format {fmt!r}; use md or html")
