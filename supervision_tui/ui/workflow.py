"""The review workflow in the UI: review status, action items, agenda and
audit exports, presentation mode, polling for other reviewers.

``Workflow`` (``app.workflow``) wraps the caseload's ``ReviewStore``
(``store.reviews``) for the screens; it never judges a client (flags come
from the engine) and never writes anything itself except through the
store and ``store.files.write_private_text``.

* ``state(analysis) -> ClientReview``: a client's flags with their
  reviews, the client-level review and its open action items;
  ``status_text(analysis)`` is the caseload's Review column
  (``app.review_status_provider``).
* Writes (``mark_client``, ``set_review``, ``add_action``,
  ``toggle_action`` ...) return None on refusal (read-only: a notification
  "Read-only: opened with --read-only", nothing written) and bump
  ``app.reviews_version`` after a write; ``changed_clients`` says which
  clients changed (None: any). Screens watch ``reviews_version`` and
  refresh the affected rows in place, no reload.
* ``poll()`` (every 2 s, ``app.set_interval``): another process's write to
  the sidecar refreshes the review data and notifies "Reviews updated by
  another user"; a change of the database file triggers ``app.reload()``.
  Our own writes never notify.
* ``--clinician ID`` (``scope``): the app loads only that clinician's
  clients; the agenda, its export and the audit listing follow.
* Exports go to ``export_dir()`` (``$SUPERVISION_TUI_DATA_DIR``, else the
  platform's user data folder), files 0o600, redacted (no review note,
  action text or goal description) unless ``include_notes``. Names carry
  the database's stem (``agenda-<db>-<date>….md``, ``audit-<db>-<date>….csv``)
  since every database exports to the same folder, and an existing file is
  never overwritten: the new one gets ``-2``, ``-3`` ...

``WorkflowActions`` is mixed into the app: the app-wide actions (agenda
``a``, audit ``u``, presentation ``p``, blank ``b``) and the palette's
export commands.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervision_tui.errors import UserError
from supervision_tui.rules.results import ClientAnalysis, Flag

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.reports.agenda import Agenda
    from supervision_tui.store.reviews import ActionItem, AuditEntry, FlagReview, ReviewStore

READ_ONLY_MESSAGE = "Read-only: opened with --read-only"
STATUS_ORDER = ("new", "action", "discussed", "resolved", "dismissed")  # most pressing first
STATUS_SYMBOLS = {"new": "•", "discussed": "✓", "action": "☐", "resolved": "☑", "dismissed": "×"}
STATUS_KEYS = {"new": "n", "discussed": "d", "action": "a", "resolved": "r", "dismissed": "x"}
STATUS_HELP = {
    "new": "not reviewed yet",
    "discussed": "talked about in supervision",
    "action": "something is to be done",
    "resolved": "dealt with",
    "dismissed": "not a concern",
}
CHANGED_MARK = "*"
KIND_SYMBOLS = {"risk": "⚠", "outcome": "▲", "rupture": "●", "goal": "◆", "attendance": "○"}
POLL_SECONDS = 2.0


def status_text(status: str | None, changed: bool = False) -> str:
    """``✓ discussed`` / ``✓ discussed*`` (changed since reviewed) / ``—``."""
    if status is None:
        return "—"
    return f"{STATUS_SYMBOLS.get(status, '?')} {status}{CHANGED_MARK if changed else ''}"


def review_sort_key(text: str) -> int:
    """Order of Review column cells: new first, nothing to review last."""
    word = text.split(" ", 1)[-1].rstrip(CHANGED_MARK)
    return STATUS_ORDER.index(word) if word in STATUS_ORDER else len(STATUS_ORDER)


def flag_label(flag: Flag, analysis: ClientAnalysis | None = None) -> str:
    """One short line naming a flag: ``● rupture s6–s7 UNREPAIRED (SRS)``."""
    sym = KIND_SYMBOLS.get(flag.kind, "·")
    inst = flag.extra.get("instrument")
    if flag.kind == "rupture":
        last = flag.session
        if analysis is not None:
            for e in analysis.episodes:
                if e.start == flag.session and e.instrument == inst:
                    last = e.last_marker
        span = f"s{flag.session}" if last == flag.session else f"s{flag.session}–s{last}"
        return f"{sym} rupture {span} {flag.status.upper()}" + (f" ({inst})" if inst else "")
    if flag.kind == "risk":
        if flag.status == "rescreened":
            return f"{sym} risk s{flag.session} RE-SCREENED negative at s{flag.extra.get('rescreened_at')}"
        return f"{sym} risk item at s{flag.session}"
    if flag.kind == "outcome":
        return f"{sym} outcome {inst or ''} {flag.status.upper()}".replace("  ", " ") + (
            f" (s{flag.session})" if flag.session is not None else "")
    if flag.kind == "goal":
        word = flag.status.replace("_", " ").upper()
        return f"{sym} goal {word}" + (f" (latest s{flag.session})" if flag.session is not None else "")
    if flag.kind == "attendance":
        missed = flag.extra.get("missed")
        return f"{sym} attendance {flag.status.upper()}" + (f" ({missed} missed)" if missed else "")
    return f"{sym} {flag.kind} {flag.status}"


def short_kind(flag: Flag) -> str:
    """``rupture s6`` / ``goal`` / ``outcome ORS``: for notifications."""
    if flag.kind == "rupture":
        return f"rupture s{flag.session}"
    inst = flag.extra.get("instrument")
    return f"{flag.kind} {inst}" if inst else flag.kind


def who_when(review: FlagReview) -> str:
    r = review.review
    if r is None:
        return "not reviewed yet"
    return f"{r.by} {r.at[:10]}"


# --- a client's review state ------------------------------------------------------------


def needs_review(flag: Flag) -> bool:
    """Does an unreviewed flag make its client "new"? A repaired rupture is
    shown and can be reviewed, but needs no review of its own."""
    from supervision_tui.rules.kinds import REGISTRY as KINDS

    return KINDS.needs_review(flag) if flag.kind in KINDS else True


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
    def status(self) -> str | None:
        """The client's review status: ``new`` while any flag is unreviewed,
        else the most pressing of its flags' and its own statuses; None when
        nothing is flagged and the client was never reviewed."""
        statuses = [r.status for f, r in self.flags if r.status != "new" or needs_review(f)]
        if "new" in statuses:
            return "new"
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
        return any((r.status == "new" and needs_review(f)) or r.changed for f, r in self.flags)

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
        new = [f for f, r in self.flags if r.status == "new" and needs_review(f)]
        if new:
            lines.append(f"not reviewed: {', '.join(short_kind(f) for f in new)}")
        for f, r in self.flags:
            if r.changed and r.status != "new":
                lines.append(f"{CHANGED_MARK} {short_kind(f)} {r.status} by {who_when(r)}, "
                             f"changed since: {r.change}")
        open_items = self.open_actions
        if open_items:
            due = [i.due for i in open_items if i.due is not None]
            tail = f", next due {min(due).isoformat()}" if due else ""
            lines.append(f"{STATUS_SYMBOLS['action']} {len(open_items)} open action item"
                         f"{'s' if len(open_items) != 1 else ''}{tail}")
        return lines


# --- the controller --------------------------------------------------------------------------


class Workflow:
    """The app's access to reviews, action items and the audit trail."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._store: ReviewStore | None = None
        self._store_failed = False
        self.error: str | None = None
        self.changed_clients: set[str] | None = None  # clients of the last change (None: any)
        self._db_token: tuple | None = None
        self._last_mark: dict[str, tuple[str, ...]] = {}  # code -> flag keys the last quick mark set
        app.review_status_provider = self.status_text

    # -- set-up ------------------------------------------------------------------------

    @property
    def scope(self) -> str | None:
        """``--clinician``: the only clinician whose clients this session sees."""
        return getattr(self.app, "initial_clinician", None) or None

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.app, "read_only", False))

    @property
    def store(self) -> ReviewStore | None:
        """The caseload's ReviewStore (None without a database file). Opening
        it touches no file; reading a missing sidecar creates nothing."""
        if self._store is None and not self._store_failed:
            db_path = getattr(self.app, "db_path", None)
            if db_path is None:
                self._store_failed = True
                return None
            from supervision_tui.store.database import Database
            from supervision_tui.store.reviews import ReviewStore

            as_of = getattr(self.app, "as_of", None)
            if as_of is not None:  # "what we knew then": reviews made later are not shown as made
                from supervision_tui.reports.as_of import ReviewsAsOf

                self._store = ReviewsAsOf(Database(db_path, read_only=self.read_only), as_of,
                                          read_only=self.read_only)
            else:
                self._store = ReviewStore(Database(db_path, read_only=self.read_only), read_only=self.read_only)
        return self._store

    def start(self) -> None:
        """Remember the database file's identity (polling) and read the
        sidecar once, so a damaged file is reported at start."""
        self._db_token = self._db_stat()
        store = self.store
        if store is None:
            return
        try:
            store.reload()
        except UserError as err:
            self._fail(err)

    def _fail(self, err: Exception) -> None:
        self.error = str(err)
        self.app.notify(f"Reviews unavailable: {err}", severity="error", timeout=12, markup=False)

    # -- reading -----------------------------------------------------------------------------

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

    def status_text(self, analysis: ClientAnalysis) -> str:
        if self.error:
            return "?"
        return self.state(analysis, actions=False).short()

    def open_actions(self, clients: Iterable[str] | None = None) -> list[ActionItem]:
        store = None if self.error else self.store
        if store is None:
            return []
        return store.open_actions(clients=clients)

    def open_action_counts(self) -> dict[str, tuple[int, int]]:
        """Clinician -> (open items, overdue) by owner, else the client's
        clinician, for the clients loaded."""
        data = self.app.data
        if data is None:
            return {}
        as_of = data.as_of or date.today()
        out: dict[str, list[int]] = {}
        for item in self.open_actions(clients=data.by_code.keys()):
            a = data.by_code.get(item.client)
            who = item.owner or (a.clinician if a is not None else None)
            if not who:
                continue
            n = out.setdefault(who, [0, 0])
            n[0] += 1
            if item.overdue(as_of):
                n[1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    def audit_entries(self) -> list[AuditEntry]:
        """The audit trail, newest first; with ``--clinician`` only entries
        about that clinician's clients."""
        store = None if self.error else self.store
        if store is None:
            return []
        entries = store.audit()
        if self.scope:
            data = self.app.data
            codes = set(data.by_code) if data is not None else set()
            entries = [e for e in entries if entry_client(e) in codes]
        return entries

    # -- writing -----------------------------------------------------------------------------

    def can_write(self) -> bool:
        """True when a write may go ahead; else says why (notification)."""
        if self.read_only:
            self.app.notify(READ_ONLY_MESSAGE, severity="warning", timeout=4)
            return False
        if getattr(self.store, "past", False):  # --as-of a past day: reviews as they stood then
            self.app.notify(f"Reviews as of {self.app.as_of.isoformat()} (--as-of): the past cannot be changed",
                            severity="warning", timeout=4)
            return False
        if self.error:
            self.app.notify(f"Reviews unavailable: {self.error}", severity="error", markup=False)
            return False
        if self.store is None:
            self.app.notify("Reviews need a database file", severity="warning")
            return False
        return True

    def _run(self, write, clients: Iterable[str] | None):
        from supervision_tui.store.reviews import ReadOnlyError

        try:
            result = write(self.store)
        except ReadOnlyError:
            self.app.notify(READ_ONLY_MESSAGE, severity="warning", timeout=4)
            return None
        except UserError as err:
            self.app.notify(f"Not saved: {err}", severity="error", timeout=10, markup=False)
            return None
        finally:
            self.changed(clients)
        return result

    def changed(self, clients: Iterable[str] | None) -> None:
        """Tell the screens that reviews of ``clients`` (None: any) changed."""
        self.changed_clients = set(clients) if clients is not None else None
        self.app.reviews_version += 1

    def mark_client(self, analysis: ClientAnalysis, status: str = "discussed", note: str | None = None,
                    keys: Iterable[str] | None = None) -> int | None:
        """Review the client as a whole and set ``status`` on its flags that
        need it: every flag still ``new`` or changed since reviewed, or
        (``keys``) exactly those flags plus the new ones. Returns the number
        of flags set, None when nothing was written."""
        if not self.can_write():
            return None
        state = self.state(analysis)
        wanted = set(keys) if keys is not None else None
        targets = [f for f, r in state.flags
                   if r.status == "new" or (wanted is None and r.changed) or (wanted is not None and f.identity in wanted)]

        def write(store):
            for f in targets:
                store.set_review(f, status)
            store.set_client_review(analysis.client, status, note, latest_session=analysis.latest_session)
            return len(targets)

        n = self._run(write, [analysis.client])
        if n is not None:
            self._last_mark[analysis.client] = tuple(f.identity for f in targets)
        return n

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
                   note: str | None = None) -> bool:
        """Set a flag's (or, ``flag`` None, the client's) status and/or note."""
        if not self.can_write():
            return False

        def write(store):
            if flag is None:
                return store.set_client_review(analysis.client, status, note, latest_session=analysis.latest_session)
            return store.set_review(flag, status, note)

        return self._run(write, [analysis.client]) is not None

    def add_action(self, client: str, text: str, owner: str | None, due: date | None,
                   flag: Flag | None = None) -> ActionItem | None:
        if not self.can_write():
            return None
        return self._run(lambda s: s.add_action(client, text, owner=owner, due=due, flag=flag), [client])

    def toggle_action(self, item: ActionItem) -> ActionItem | None:
        if not self.can_write():
            return None
        return self._run(lambda s: s.set_action_done(item.id, not item.done), [item.client])

    # -- polling -------------------------------------------------------------------------------

    def _db_stat(self) -> tuple | None:
        path = getattr(self.app, "db_path", None)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def poll(self) -> bool:
        """One poll: True when another process changed the reviews (the
        screens refresh, with a notification) or the database (reload)."""
        changed = False
        token = self._db_stat()
        if token != self._db_token:
            self._db_token = token
            if token is not None:
                self.app.notify("The caseload file changed on disk: reloading", timeout=4)
                self.app.reload()
                changed = True
        store = self.store
        if store is None or self._store_failed:
            return changed
        try:
            theirs = store.poll()
        except UserError as err:
            if not self.error:
                self._fail(err)
            return changed
        if self.error:  # the file is readable again
            self.error = None
            theirs = True
        if theirs:
            self.changed(None)
            self.app.notify("Reviews updated by another user", timeout=4)
            return True
        return changed

    # -- agenda and exports -------------------------------------------------------------------------

    def build_agenda(self, since: date | None = None) -> Agenda:
        """The agenda from the loaded data (no re-analysis)."""
        from supervision_tui.reports.agenda import build_agenda_from

        data = self.app.data
        if data is None:
            raise UserError("The caseload is not loaded yet")
        store = None if self.error else self.store
        return build_agenda_from(data.caseload, data.analyses, store, since=since, as_of=data.as_of,
                                 clinician=self.scope)

    def export_agenda(self, agenda: Agenda, include_notes: bool = False,
                      directory: Path | None = None) -> list[Path]:
        """Markdown and HTML of ``agenda`` in the private data folder, as
        ``agenda-<database stem>-<as of>[-<clinician>][-with-notes][-N].md``
        and ``.html`` (``-2``, ``-3`` ... when the name is taken)."""
        from supervision_tui.reports.agenda import render

        stem = f"agenda-{self.db_stem()}-{agenda.as_of.isoformat()}"
        if agenda.clinician:
            stem += f"-{agenda.clinician}"
        if include_notes:
            stem += "-with-notes"
        texts = {fmt: render(agenda, fmt, include_notes) for fmt in ("md", "html")}
        return _write_new(directory or export_dir(), stem, texts)

    def export_audit(self, include_notes: bool = False, directory: Path | None = None) -> Path:
        """The audit listing as CSV in the private data folder, as
        ``audit-<database stem>-<day>[-<clinician>][-with-notes][-N].csv``."""
        day = (self.app.data.as_of if self.app.data is not None and self.app.data.as_of else date.today())
        stem = f"audit-{self.db_stem()}-{day.isoformat()}"
        if self.scope:
            stem += f"-{self.scope}"
        if include_notes:
            stem += "-with-notes"
        (path,) = _write_new(directory or export_dir(), stem, {"csv": audit_csv(self.audit_entries(), include_notes)})
        return path

    def db_stem(self) -> str:
        """The database file's name without its suffix, for export names
        (exports of different databases share one folder): characters other
        than letters, digits, ``.``, ``_`` and ``-`` become ``_``."""
        db_path = getattr(self.app, "db_path", None)
        return safe_stem(Path(db_path).stem if db_path is not None else "caseload")


def safe_stem(name: str) -> str:
    """``name`` usable inside a file name on every platform."""
    cleaned = re.sub(r"[^\w.-]", "_", name, flags=re.ASCII).lstrip(".-") or "caseload"
    return cleaned


def _write_new(folder: Path, stem: str, texts: dict[str, str]) -> list[Path]:
    """Write ``texts`` (suffix -> text) under fresh names sharing one stem:
    ``<stem>.<suffix>``, or ``<stem>-2.<suffix>``, ``-3`` ... when a file of
    that name exists. An existing file is never overwritten."""
    from supervision_tui.store.files import claim_new_names, ensure_private_dir, release_names, write_private_text

    folder = ensure_private_dir(folder)
    paths = claim_new_names(folder, stem, tuple(texts))
    try:
        for path, text in zip(paths, texts.values()):
            write_private_text(path, text)
    except BaseException:
        release_names(paths)
        raise
    return paths


def export_dir() -> Path:
    """``$SUPERVISION_TUI_DATA_DIR``, else the platform's user data folder."""
    from supervision_tui.demo import user_data_dir

    return user_data_dir()


def entry_client(e: AuditEntry) -> str | None:
    """The client an audit entry is about."""
    if e.target.startswith("action:"):
        for side in (e.after, e.before):
            if side and side.get("client"):
                return side["client"]
        return None
    return e.target.split("|", 1)[0]


def audit_csv(entries: list[AuditEntry], include_notes: bool = False) -> str:
    """The same columns as ``ReviewStore.audit_text`` for a chosen list."""
    import json

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["seq", "at", "user", "action", "target", "changes", "before", "after"])

    def dump(v):
        return "" if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    for e in entries:
        j = e.to_json(include_notes)
        w.writerow([_cell(c) for c in (e.seq, e.at, e.user, e.action, e.target, e.summary(include_notes),
                                       dump(j["before"]), dump(j["after"]))])
    return buf.getvalue()


def _cell(value: Any) -> str:
    s = str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


# --- app-wide actions (mixed into the app) ---------------------------------------------------------


class WorkflowActions:
    """Actions of the app's ``a``/``u``/``p``/``b`` bindings and palette
    commands. Mixed into ``SupervisionApp`` (needs ``self.workflow``)."""

    workflow: Workflow

    def _raise_or_push(self, screen_type: type, make) -> None:
        for screen in reversed(self.screen_stack):  # type: ignore[attr-defined]
            if isinstance(screen, screen_type):
                while self.screen is not screen:  # type: ignore[attr-defined]
                    self.pop_screen()  # type: ignore[attr-defined]
                return
        self.push_screen(make())  # type: ignore[attr-defined]

    def action_agenda(self) -> None:
        """The weekly supervision agenda (from anywhere)."""
        from supervision_tui.ui.screens.agenda import AgendaScreen

        if getattr(self, "data", None) is None:
            self.notify("The caseload is not loaded yet", severity="warning")  # type: ignore[attr-defined]
            return
        self._raise_or_push(AgendaScreen, AgendaScreen)

    def action_audit(self) -> None:
        """The audit trail of reviews and action items."""
        from supervision_tui.ui.screens.audit import AuditScreen

        self._raise_or_push(AuditScreen, AuditScreen)

    def action_toggle_present(self) -> None:
        self.present = not self.present  # type: ignore[attr-defined]
        if self.present:  # type: ignore[attr-defined]
            self.notify("PRESENTING · private text hidden (p again to stop)", timeout=3)  # type: ignore[attr-defined]
        else:
            self.notify("Presentation mode off: notes and goal texts are shown", timeout=3)  # type: ignore[attr-defined]

    def action_blank(self) -> None:
        from supervision_tui.ui.screens.blank import BlankScreen

        if not isinstance(self.screen, BlankScreen):  # type: ignore[attr-defined]
            self.push_screen(BlankScreen())  # type: ignore[attr-defined]

    def export_agenda(self, include_notes: bool = False) -> list[Path] | None:
        """Export the agenda shown (or, elsewhere, the default week's)."""
        from supervision_tui.ui.screens.agenda import AgendaScreen

        screen = self.screen  # type: ignore[attr-defined]
        if isinstance(screen, AgendaScreen):
            return screen.export(include_notes)
        try:
            agenda = self.workflow.build_agenda()
            paths = self.workflow.export_agenda(agenda, include_notes)
        except UserError as err:
            self.notify(f"Agenda not saved: {err}", severity="error", markup=False)  # type: ignore[attr-defined]
            return None
        notify_export(self, paths, include_notes)
        return paths

    def export_audit(self, include_notes: bool = False) -> Path | None:
        try:
            path = self.workflow.export_audit(include_notes)
        except UserError as err:
            self.notify(f"Audit trail not saved: {err}", severity="error", markup=False)  # type: ignore[attr-defined]
            return None
        notify_export(self, [path], include_notes)
        return path

    def poll_workflow(self) -> None:
        try:
            self.workflow.poll()
        except Exception as err:  # a poll must never take the app down
            self.notify(f"Checking for updates failed: {type(err).__name__}: {err}",  # type: ignore[attr-defined]
                        severity="error", markup=False)


def notify_export(app: Any, paths: list[Path], include_notes: bool) -> None:
    what = "WITH notes and texts (private)" if include_notes else "notes and texts hidden"
    shown = str(paths[0]) if len(paths) == 1 else f"{paths[0]} and .{paths[1].suffix.lstrip('.')}"
    app.notify(f"Saved ({what}): {shown}", timeout=10, markup=False)
