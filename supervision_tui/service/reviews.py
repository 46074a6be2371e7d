"""Reviews, action items, the audit trail and the weekly agenda, without a
user interface.

``ReviewService`` wraps the caseload's ``ReviewStore`` (``store.reviews``).
It never judges a client (flags come from the engine) and never writes
anything itself except through the store and ``store.files``.

* Dependencies are explicit: ``ReviewService(db_path, scope=..., read_only=...)``;
  the loaded analyses are passed to the calls that need them.
* ``state(analysis) -> ClientReview``: a client's flags with their reviews,
  the client-level review and its action items; ``status_text(analysis)``
  is the caseload's Review column.
* Writes (``mark_client``, ``set_review``, ``add_action``, ``toggle_action``)
  return an ``Outcome``: the value written, or a ``Notice`` saying why not
  (read-only: ``READ_ONLY_MESSAGE``, nothing written), and which clients'
  reviews may have changed (``touched``), so a screen refreshes those rows.
  A note edit passes the note it started from (``expect_note``); when
  someone else saved another note meanwhile nothing is written and the
  outcome carries the conflict (``Outcome.conflict``: their note, who,
  when) for the screen to show both texts. ``busy``: the workflow file's
  lock was held longer than ``lock_timeout`` (nothing written).
* ``lock_timeout``: how long a write waits for the lock. The CLI waits
  the store's 10 s; the dashboard passes ``DASHBOARD_LOCK_TIMEOUT``
  (see there why).
* ``poll()`` (the dashboard calls it every ``POLL_SECONDS``) returns a
  ``PollResult``: another process changed the workflow file (reviews to
  refresh) or the database file (a reload). Our own writes never count.
* ``--clinician`` (``scope``): the audit listing keeps only entries about
  the loaded clients; the agenda is built for that clinician.
* ``--as-of`` (``as_of``): reviews and action items as they stood at the
  end of that day (``reports.as_of.ReviewsAsOf``); a past day is read only.
* ``build_agenda`` builds the agenda from already loaded analyses (no
  re-analysis); ``export_agenda``/``export_audit`` write private files
  (``service.exports``).

Whether a flag needs a review of its own, and how it is named, come from
the flag-kind registry (``rules.kinds.REGISTRY``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from supervision_tui.errors import UserError
from supervision_tui.rules.kinds import REGISTRY
from supervision_tui.rules.results import ClientAnalysis, Flag

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.model import Caseload
    from supervision_tui.reports.agenda import Agenda
    from supervision_tui.store.reviews import ActionItem, AuditEntry, FlagReview, NoteChanged, ReviewStore

READ_ONLY_MESSAGE = "Read-only: opened with --read-only"
NO_CHECK: Any = ...  # = store.reviews.NO_CHECK (no note check), without importing the store at start

#: How long the dashboard's review writes wait for the workflow file's lock (seconds).
#:
#: The dashboard saves on its UI thread: a save takes a millisecond or two
#: and waits for the lock only while another writer holds it, normally for
#: a few milliseconds (well within this). A process stuck with the lock held
#: (stopped with ctrl+z mid-save, hung on a dead network disk) made the
#: dashboard wait the store's 10 s with every key unanswered. Now the UI is
#: held at most this long; then the write is refused as busy
#: (``Outcome.busy``), nothing is written, and the screen keeps what the
#: user entered (the note or action item dialog comes back filled in) or
#: says "not saved, try again" (a status). Writing from a worker thread
#: instead was not chosen: the writes would need a queue to stay in order,
#: every screen a "saving…" state, and a key pressed meanwhile (``r`` again:
#: which status does it act on?) would see the old state; a short wait
#: keeps each save a plain call whose result is known when the next key comes.
DASHBOARD_LOCK_TIMEOUT = 0.25
STATUS_ORDER = ("new", "action", "discussed", "resolved", "dismissed")  # most pressing first
STATUS_SYMBOLS = {"new": "•", "discussed": "✓", "action": "☐", "resolved": "☑", "dismissed": "×"}
STATUS_HELP = {
    "new": "not reviewed yet",
    "discussed": "talked about in supervision",
    "action": "something is to be done",
    "resolved": "dealt with",
    "dismissed": "not a concern",
}
CHANGED_MARK = "*"
POLL_SECONDS = 2.0

T = TypeVar("T")
Severity = Literal["information", "warning", "error"]


# --- words ------------------------------------------------------------------------------------


def status_text(status: str | None, changed: bool = False) -> str:
    """``✓ discussed`` / ``✓ discussed*`` (changed since reviewed) / ``—``."""
    if status is None:
        return "—"
    return f"{STATUS_SYMBOLS.get(status, '?')} {status}{CHANGED_MARK if changed else ''}"


def review_sort_key(text: str) -> int:
    """Order of Review column cells: new first, nothing to review last."""
    word = text.split(" ", 1)[-1].rstrip(CHANGED_MARK)
    return STATUS_ORDER.index(word) if word in STATUS_ORDER else len(STATUS_ORDER)


def who_when(review: FlagReview) -> str:
    r = review.review
    if r is None:
        return "not reviewed yet"
    return f"{r.by} {r.at[:10]}"


def busy_message(err: Any) -> str:
    """What the dashboard says when a write found the lock held too long
    (``store.database.LockBusy``): nothing was saved, try again."""
    return (f"Busy: not saved, try again. Another process has held the lock of {err.path.name} "
            f"({err.lock_path.name}) for more than {err.timeout:g} s")


def entry_client(e: AuditEntry) -> str | None:
    """The client an audit entry is about."""
    if e.target.startswith("action:"):
        for side in (e.after, e.before):
            if side and side.get("client"):
                return side["client"]
        return None
    return e.target.split("|", 1)[0]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell the user (the dashboard shows it as a notification)."""

    message: str
    severity: Severity = "information"
    timeout: float | None = None  # seconds; None: the dashboard's default


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What a write did: ``value`` (None: nothing written), a ``notice``
    when it was refused or failed, and the clients whose reviews may have
    changed (``touched``; None: any; empty: none)."""

    value: T | None = None
    notice: Notice | None = None
    touched: frozenset[str] | None = frozenset()
    conflict: NoteChanged | None = None  # the note changed meanwhile: nothing written (their note, who, when)
    busy: bool = False  # the lock was held too long: nothing written, try again


@dataclass(frozen=True, slots=True)
class PollResult:
    database_changed: bool = False  # the caseload file changed on disk: reload it
    reviews_changed: bool = False  # another process wrote reviews (or the file is readable again)
    notice: Notice | None = None  # the workflow file became unreadable

    @property
    def changed(self) -> bool:
        return self.database_changed or self.reviews_changed


# --- a client's review state ---------------------------------------------------------------------


def needs_review(flag: Flag) -> bool:
    """Does an unreviewed flag make its client "new"? (The registry says:
    a repaired rupture does, as a supervisor reviews repairs too,
    interchange §5; a risk re-screened negative is shown and can be
    reviewed, but owes no review.)"""
    kind = REGISTRY.get(flag.kind)
    if kind is None:
        return True
    status = kind.statuses.get(flag.status)
    return status.needs_review if status is not None else True


@dataclass(frozen=True, slots=True)
class ClientReview:
    code: str
    flags: tuple[tuple[Flag, FlagReview], ...]  # engine order
    client: FlagReview  # the client-level review
    actions: tuple[ActionItem, ...]  # every item of the client, open first

    @property
    def open_actions(self) -> list[ActionItem]:
        return [i for i in self.actions if not i.done]

    @property
    def unreviewed(self) -> list[Flag]:
        """The flags not reviewed yet that owe a review (``needs_review``),
        engine order. The one reading of "not reviewed": the caseload's
        Review column (``status``), its preview (``explain``), whether ``r``
        there marks the client (``needs_marking``) and the client screen's
        "n not reviewed" all take it, so they cannot disagree."""
        return [f for f, r in self.flags if r.status == "new" and needs_review(f)]

    @property
    def status(self) -> str | None:
        """The client's review status: ``new`` while any flag is unreviewed
        (``unreviewed``), else the most pressing of its flags' and its own
        statuses; None when nothing is flagged and the client was never
        reviewed."""
        if self.unreviewed:
            return "new"
        statuses = [r.status for _f, r in self.flags if r.status != "new"]
        if self.client.review is not None and self.client.status != "new":
            statuses.append(self.client.status)
        if not statuses:
            return None
        return min(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 99)

    @property
    def changed(self) -> bool:
        """A reviewed flag changed since its review."""
        return any(r.changed and r.status != "new" for _f, r in self.flags)

    @property
    def needs_marking(self) -> bool:
        """``r`` on the caseload marks the client (else it opens the picker)."""
        if self.client.status == "new" or self.client.changed:
            return True
        return bool(self.unreviewed) or any(r.changed for _f, r in self.flags)

    def review_of(self, flag: Flag | None) -> FlagReview:
        """The review of ``flag`` (None: of the client as a whole)."""
        if flag is None:
            return self.client
        return dict((f.identity, r) for f, r in self.flags)[flag.identity]

    def short(self) -> str:
        """The Review column: ``• new`` (something is not reviewed: the star
        would add nothing), ``✓ discussed*`` (a reviewed flag changed since)."""
        status = self.status
        return status_text(status, self.changed and status != "new")

    def explain(self, present: bool = False) -> list[str]:
        """Lines for the caseload preview: who/when, what changed since, what
        is not reviewed, open action items (texts hidden when presenting)."""
        lines = []
        c = self.client
        if c.review is not None and c.status != "new":
            line = f"client {status_text(c.status)} by {who_when(c)}"
            if c.changed and c.change:
                line += f" ({c.change.replace('sessions', 'session')} since)"
            lines.append(line)
        new = self.unreviewed
        if new:
            lines.append(f"not reviewed: {', '.join(REGISTRY.short(f) for f in new)}")
        for f, r in self.flags:
            if r.changed and r.status != "new":
                lines.append(f"{CHANGED_MARK} {REGISTRY.short(f)} {r.status} by {who_when(r)}, "
                             f"changed since: {r.change}")
        open_items = self.open_actions
        if open_items:
            due = [i.due for i in open_items if i.due is not None]
            tail = f", next due {min(due).isoformat()}" if due else ""
            lines.append(f"{STATUS_SYMBOLS['action']} {len(open_items)} open action item"
                         f"{'s' if len(open_items) != 1 else ''}{tail}")
        return lines


# --- the service -----------------------------------------------------------------------------------


class ReviewService:
    """Reviews, action items and the audit trail of one caseload file."""

    def __init__(self, db_path: Path | str | None, *, scope: str | None = None, read_only: bool = False,
                 as_of: date | None = None, user: str | None = None, lock_timeout: float | None = None) -> None:
        self.db_path = Path(db_path) if db_path is not None else None
        self.user = user  # who reviews (None: the login name; the CLI's --user)
        self.lock_timeout = lock_timeout  # seconds a write waits for the lock (None: the store's 10 s)
        self.scope = scope or None  # --clinician: the only clinician whose clients this session sees
        self.read_only = read_only
        self.as_of = as_of  # --as-of: reviews as they stood at the end of that day (reports.as_of)
        self._store: ReviewStore | None = None
        self._store_failed = False
        self.error: str | None = None  # the workflow file cannot be read (reviews unavailable)
        self._db_token: tuple | None = None
        self._last_mark: dict[str, tuple[str, ...]] = {}  # code -> flag keys the last quick mark set

    # -- set-up ------------------------------------------------------------------------------

    @property
    def store(self) -> ReviewStore | None:
        """The caseload's ReviewStore (None without a database file). Opening
        it touches no file; reading a missing sidecar creates nothing."""
        if self._store is None and not self._store_failed:
            if self.db_path is None:
                self._store_failed = True
                return None
            from supervision_tui.store.database import Database

            database = Database(self.db_path, read_only=self.read_only)
            if self.lock_timeout is not None:
                database.sidecar.timeout = self.lock_timeout
            if self.as_of is not None:  # "what we knew then": reviews made later are not shown as made
                from supervision_tui.reports.as_of import ReviewsAsOf

                self._store = ReviewsAsOf(database, self.as_of, read_only=self.read_only)
            else:
                from supervision_tui.store.reviews import ReviewStore

                self._store = ReviewStore(database, read_only=self.read_only, user=self.user)
        return self._store

    def start(self) -> Notice | None:
        """Remember the database file's identity (for ``poll``) and read the
        workflow file once, so a damaged file is reported at start."""
        self._db_token = self._db_stat()
        store = self.store
        if store is None:
            return None
        try:
            store.reload()
        except UserError as err:
            return self._failed(err)
        return None

    def _failed(self, err: Exception) -> Notice:
        self.error = str(err)
        return Notice(f"Reviews unavailable: {err}", "error", 12)

    # -- reading -------------------------------------------------------------------------------

    def state(self, analysis: ClientAnalysis, actions: bool = True) -> ClientReview:
        """The client's review state (``actions=False``: without its action
        items, for the caseload column: no scan of the items per row)."""
        from supervision_tui.store.reviews import FlagReview, client_key

        store = None if self.error else self.store
        if store is None:
            empty = FlagReview(client_key(analysis.client), "new", None, False, None)
            return ClientReview(analysis.client, tuple((f, FlagReview(f.identity, "new", None, False, None))
                                                       for f in analysis.flags), empty, ())
        flags = tuple((f, store.review_for(f)) for f in analysis.flags)
        client = store.client_review(analysis.client, analysis.latest_session)
        items = store.actions(client=analysis.client) if actions else []
        items.sort(key=lambda i: (i.done, i.order))
        return ClientReview(analysis.client, flags, client, tuple(items))

    def status_text(self, analysis: ClientAnalysis | None) -> str:
        """The caseload's Review column for ``analysis`` (``?``: unavailable)."""
        if analysis is None:
            return "—"
        if self.error:
            return "?"
        try:
            return self.state(analysis, actions=False).short()
        except Exception:  # one unreadable entry never takes the column down
            return "?"

    def open_actions(self, clients: Iterable[str] | None = None) -> list[ActionItem]:
        store = None if self.error else self.store
        if store is None:
            return []
        return store.open_actions(clients=clients)

    def open_action_counts(self, by_code: Mapping[str, ClientAnalysis], as_of: date | None) -> dict[str, tuple[int, int]]:
        """Clinician -> (open items, overdue) by owner, else the client's
        clinician, for the clients in ``by_code`` (the loaded ones)."""
        day = as_of or date.today()
        out: dict[str, list[int]] = {}
        for item in self.open_actions(clients=by_code.keys()):
            a = by_code.get(item.client)
            who = item.owner or (a.clinician if a is not None else None)
            if not who:
                continue
            n = out.setdefault(who, [0, 0])
            n[0] += 1
            if item.overdue(day):
                n[1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    def audit_entries(self, loaded: Collection[str] | None = None) -> list[AuditEntry]:
        """The audit trail, newest first; with a ``scope`` only entries about
        the ``loaded`` clients (that clinician's)."""
        store = None if self.error else self.store
        if store is None:
            return []
        entries = store.audit()
        if self.scope:
            codes = set(loaded or ())
            entries = [e for e in entries if entry_client(e) in codes]
        return entries

    # -- writing ----------------------------------------------------------------------------------

    def refusal(self) -> Notice | None:
        """None when a write may go ahead; else why not."""
        if self.read_only:
            return Notice(READ_ONLY_MESSAGE, "warning", 4)
        if self.as_of is not None and getattr(self.store, "past", False):  # --as-of a past day
            return Notice(f"Reviews as of {self.as_of.isoformat()} (--as-of): the past cannot be changed",
                          "warning", 4)
        if self.error:
            return Notice(f"Reviews unavailable: {self.error}", "error")
        if self.store is None:
            return Notice("Reviews need a database file", "warning")
        return None

    def _write(self, write: Callable[[ReviewStore], T], clients: Iterable[str]) -> Outcome[T]:
        refused = self.refusal()
        if refused is not None:
            return Outcome(notice=refused)
        from supervision_tui.store.database import LockBusy
        from supervision_tui.store.reviews import NoteChanged, ReadOnlyError

        touched = frozenset(clients)
        store = self.store
        assert store is not None  # (refusal() said so)
        try:
            return Outcome(write(store), touched=touched)
        except ReadOnlyError:
            return Outcome(notice=Notice(READ_ONLY_MESSAGE, "warning", 4), touched=touched)
        except NoteChanged as err:  # the store's snapshot now has their note: the screens refresh
            return Outcome(notice=Notice(f"Not saved: {err}", "warning", 10), touched=touched, conflict=err)
        except LockBusy as err:
            return Outcome(notice=Notice(busy_message(err), "warning", 8), touched=frozenset(), busy=True)
        except UserError as err:
            return Outcome(notice=Notice(f"Not saved: {err}", "error", 10), touched=touched)

    def mark_client(self, analysis: ClientAnalysis, status: str = "discussed", note: str | None = None,
                    keys: Iterable[str] | None = None, expect_note: Any = NO_CHECK) -> Outcome[int]:
        """Review the client as a whole and set ``status`` on its flags that
        need it: every flag still ``new`` or changed since reviewed, or
        (``keys``) exactly those flags plus the new ones, in one
        transaction (all or nothing). The value is the number of flags set.
        ``expect_note``: the client note the edit started from
        (``ReviewStore.set_review``)."""
        refused = self.refusal()
        if refused is not None:
            return Outcome(notice=refused)
        state = self.state(analysis)
        wanted = set(keys) if keys is not None else None
        targets = [f for f, r in state.flags
                   if r.status == "new" or (wanted is None and r.changed) or (wanted is not None and f.identity in wanted)]

        def write(store: ReviewStore) -> int:
            store.mark_client(analysis.client, status, note, flags=targets, latest_session=analysis.latest_session,
                              expect_note=expect_note)
            return len(targets)

        outcome = self._write(write, [analysis.client])
        if outcome.value is not None:
            self._last_mark[analysis.client] = tuple(f.identity for f in targets)
        return outcome

    def marked_together(self, analysis: ClientAnalysis) -> tuple[str, ...]:
        """Flags the last quick mark of this client set (this session), else
        the flags whose status is the client's own: the ones a changed
        client status carries with it."""
        keys = self._last_mark.get(analysis.client)
        if keys is not None:
            return keys
        state = self.state(analysis)
        return tuple(f.identity for f, r in state.flags if r.status == state.client.status)

    def set_review(self, analysis: ClientAnalysis, flag: Flag | None, status: str | None,
                   note: str | None = None, expect_note: Any = NO_CHECK) -> Outcome[Any]:
        """Set a flag's (or, ``flag`` None, the client's) status and/or note;
        ``expect_note``: the note the edit started from (a note edit is
        refused, ``Outcome.conflict``, when someone else changed it meanwhile)."""

        def write(store: ReviewStore) -> Any:
            if flag is None:
                return store.set_client_review(analysis.client, status, note, latest_session=analysis.latest_session,
                                               expect_note=expect_note)
            return store.set_review(flag, status, note, expect_note=expect_note)

        return self._write(write, [analysis.client])

    def add_action(self, client: str, text: str, owner: str | None, due: date | None,
                   flag: Flag | None = None) -> Outcome[ActionItem]:
        return self._write(lambda s: s.add_action(client, text, owner=owner, due=due, flag=flag), [client])

    def toggle_action(self, item: ActionItem) -> Outcome[ActionItem]:
        return self._write(lambda s: s.set_action_done(item.id, not item.done), [item.client])

    # -- polling --------------------------------------------------------------------------------------

    def _db_stat(self) -> tuple | None:
        if self.db_path is None:
            return None
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def poll(self) -> PollResult:
        """One look at the files: did another process change the database
        (reload it) or the reviews (refresh)?"""
        database_changed = False
        token = self._db_stat()
        if token != self._db_token:
            self._db_token = token
            database_changed = token is not None
        store = self.store
        if store is None or self._store_failed:
            return PollResult(database_changed)
        try:
            theirs = store.poll()
        except UserError as err:
            notice = None if self.error else self._failed(err)
            return PollResult(database_changed, notice=notice)
        if self.error:  # the file is readable again
            self.error = None
            theirs = True
        return PollResult(database_changed, bool(theirs))

    # -- the agenda and exports ----------------------------------------------------------------------------

    def build_agenda(self, caseload: Caseload, analyses: list[ClientAnalysis], as_of: date | None,
                     since: date | None = None, *, reference: dict | None = None,
                     effects: list | None = None) -> Agenda:
        """The agenda from loaded analyses (no re-analysis), for the scope;
        ``reference`` and ``effects``: the load's not-on-track reference and
        effectiveness rows (clinical-rules §10–11)."""
        from supervision_tui.reports.agenda import build_agenda_from

        store = None if self.error else self.store
        return build_agenda_from(caseload, analyses, store, since=since, as_of=as_of, clinician=self.scope,
                                 reference=reference, effects=effects)

    def export_agenda(self, agenda: Agenda, include_notes: bool = False,
                      directory: Path | None = None) -> list[Path]:
        """Markdown and HTML of ``agenda`` (``service.exports.export_agenda``)."""
        from supervision_tui.service.exports import export_agenda

        return export_agenda(agenda, self.db_path, include_notes, directory)

    def export_audit(self, include_notes: bool = False, directory: Path | None = None, *,
                     loaded: Collection[str] | None = None, day: date | None = None) -> Path:
        """The audit listing (``audit_entries(loaded)``) as CSV
        (``service.exports.export_audit``), named for ``day`` (the as-of
        date; default today)."""
        from supervision_tui.service.exports import export_audit

        return export_audit(self.audit_entries(loaded), self.db_path, day or date.today(), self.scope,
                            include_notes, directory)
