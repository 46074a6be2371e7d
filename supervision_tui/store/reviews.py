"""Review workflow: review status per flag, action items and an audit trail.

Everything here lives in the caseload's *sidecar* (``<stem>.workflow.json``,
``Database.sidecar``, a ``LockedStore``), never in the bulky caseload file:
saving a review rewrites a small file and costs the same at 50 or 5 000
clients. This module builds on ``LockedStore`` and does no locking or file
writing of its own: every write is one ``transaction()`` (exclusive lock,
fresh re-read, atomic replace), so two supervisors saving at the same
moment from two SSH sessions never lose each other's work.

    store = ReviewStore(database)               # or ReviewStore(Path("x.workflow.json"))
    store.set_review(flag, "discussed", note="talk about the no-shows")
    store.set_review(flag, note="new text", expect_note="talk about the no-shows")  # NoteChanged if not
    store.review_for(flag)                      # FlagReview: status, who/when, changed?
    item = store.add_action("C-0142", "revisit goals", owner="T02", due=date(2026, 12, 1))
    store.set_action_done(item.id)
    store.audit(limit=20)                       # newest first
    if store.poll():                            # the UI, every ~2 s: another process wrote
        refresh()

Reviews
-------
A review is keyed by ``Flag.identity`` (``client|kind|first session|
instrument``), or ``client_key(code)`` = ``C-0142|client||`` for "the
client as a whole was discussed". Statuses: ``new`` (the default: no
record), ``discussed``, ``action``, ``resolved``, ``dismissed``. The
current record keeps status, note, who (``getpass.getuser()`` unless the
store or the call names a user) and when (UTC ISO 8601); its history is
the audit entries for its key (``history(key)``), so nothing is stored
twice.

"Changed since reviewed" — precisely: setting a status (even the same
one) records the flag's ``status`` and ``session`` as the reviewer saw
them (``flag_status``, ``flag_session``). ``review_for(flag)`` reports
``changed=True`` when the flag now shown has another status or another
session than that, e.g. an ``open`` rupture that became ``unrepaired``, a
goal whose latest evidence moved from s5 to s9, a risk item endorsed again
at a later session, a longer run of missed sessions. The flag's ``detail``
text is not compared, so a settings change that only rewords the
explanation is not a change; a settings change that moves the flag's
session or status is. Editing only the note does not re-acknowledge the
flag. A review is looked up by exact identity only, so it is never
attached to another flag (a new rupture episode starting at another
session is a new flag, reviewed ``new``). A client-level review records
the client's latest session instead; it is ``changed`` when the client has
had sessions since.

Notes are compare-and-set: an editor passes the note its edit began from
(``expect_note``); under the lock, when the stored note is another one
(someone saved theirs meanwhile), ``NoteChanged`` is raised — carrying the
note stored now and who changed it when, from the audit — and nothing is
written, not the status either. A status alone is never refused that way,
and writing the note already stored is no conflict. Without
``expect_note`` a note is written as given (the CLI's ``review --note``).
``mark_client`` sets a status on several flags and the client review (with
its note) in one transaction: all of it or none.

Action items
------------
``id`` (8 hex digits, random, unique in the file), ``client``, ``text``
(private), ``owner`` (clinician id, optional), ``due`` (date, optional),
``done``, created/updated/done by and at, optionally the ``flag`` identity
it came from. Open items carry forward until done; ``actions(client=...,
owner=..., open_only=True)`` lists them oldest first.

Audit trail
-----------
Every write appends ``{seq, at, user, action, target, before, after}``
where ``before``/``after`` are the record's fields (note and action text
included: the file is private). ``audit()`` is newest first;
``export_audit(path, fmt, include_notes)`` writes CSV or JSON with note and
action text replaced by ``(hidden)`` unless ``include_notes``.

Sidecar format (version 1)
--------------------------
The sidecar is one JSON object; this module owns these keys and leaves
any other key alone::

    {"workflow_version": 1,
     "seq": 42,                                   # bumped by every write
     "reviews": {"C-0142|rupture|6|SRS": {"status": "discussed", "note": "...",
                  "by": "sup01", "at": "2026-11-20T10:03:12+00:00",
                  "flag_status": "open", "flag_session": 6}},
     "actions": {"3f9a0c1e": {"client": "C-0142", "text": "...", "owner": "T02",
                  "due": "2026-12-01", "done": false, "n": 7,
                  "created_by": "sup01", "created_at": "...",
                  "updated_by": "sup01", "updated_at": "..."}},
     "audit": [{"seq": 42, "at": "...", "user": "sup01", "action": "review.set",
                "target": "C-0142|rupture|6|SRS", "before": null,
                "after": {"status": "discussed", "note": "...", ...}}]}

Older audit entries: the sidecar is rewritten by every save, so its audit
is bounded. When it reaches ``2·AUDIT_CHUNK`` entries the oldest
``AUDIT_CHUNK`` move (under the same lock) to a write-once archive file
``<sidecar stem>.audit/audit-<first seq>-<last seq>.json`` (folder 0o700,
files 0o600) holding ``{"workflow_audit": 1, "first": n, "last": m,
"entries": [...]}``; ``audit()``, ``history()`` and the exports read both.
Back up and copy the archive folder together with the sidecar.

Keys whose value would be null (``note``, ``owner``, ``due``, ``flag``,
``done_by`` ...) are left out to keep the file small; ``n`` is the item's
creation number (its order) and ``"action_n"`` (top level) the last one
given. ``flag_session`` of a client-level review is the client's latest
session at review time. A ``workflow_version`` above 1 is refused.

Checks (issue 13): ``check_workflow`` checks every entry this module
reads — reviews, action items, audit entries, the counters — on every
read and, under the lock, before every write, so a damaged file gives a
``DatabaseError`` naming the file and the entry (by its key when that is a
plain identifier, else by position; never a value: it may be private) and
is never rewritten. Entered text is refused when it holds a control
character (notes and action texts may hold line breaks; ``sanitize``);
text read back is neutralised (``sanitize.printable``) when records are
built, so no view gets a raw control character from an old file. Codes
and owners are identifiers (``sanitize.is_identifier``); a user name is
1–64 characters without control characters.

Polling: ``token()`` is the sidecar's ``os.stat`` identity (inode, size,
mtime, ctime) — one ``stat`` call, no read. Every write replaces the file
(new inode, new times), so ``changed_since(token)`` is true after any
other process's write; ``poll()`` reloads the snapshot only then.

Read-only: a store opened read-only (or over a read-only ``Database``)
raises ``ReadOnlyError`` on every write before touching any file.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from supervision_tui.errors import DatabaseError, UserError
from supervision_tui.rules.results import Flag
from supervision_tui.store.files import remove_stale_temporaries_in
from supervision_tui.store.sanitize import IDENTIFIER_RE, IDENTIFIER_RULE, control_problem, normalise_newlines, printable

__all__ = [
    "REVIEW_STATUSES",
    "WORKFLOW_VERSION",
    "ReviewStore",
    "Review",
    "FlagReview",
    "ActionItem",
    "AuditEntry",
    "ReadOnlyError",
    "WorkflowError",
    "NoteChanged",
    "NO_CHECK",
    "client_key",
    "flag_key",
    "parse_key",
    "redact",
    "HIDDEN",
    "AUDIT_CHUNK",
    "check_workflow",
]

WORKFLOW_VERSION = 1
REVIEW_STATUSES = ("new", "discussed", "action", "resolved", "dismissed")
CLIENT_KIND = "client"
HIDDEN = "(hidden)"
PRIVATE_FIELDS = ("note", "text")  # free text: redacted in exports unless include_notes
MAX_TEXT = 4000
AUDIT_CHUNK = 500  # audit entries per archive file; the sidecar keeps 0 to 2·AUDIT_CHUNK − 1
_ARCHIVE_RE = re.compile(r"audit-(\d{9})-(\d{9})\.json")
_CODE_RE = IDENTIFIER_RE
MAX_USER = 64

Token = tuple[int, int, int, int] | None
_UNKNOWN: Any = ("unknown",)  # a token no file has


class WorkflowError(UserError):
    """A review/action request that cannot be carried out (unknown status,
    unknown action item, bad code ...). The message says what to change."""


class ReadOnlyError(DatabaseError):
    """A write was attempted on a read-only store; nothing was written."""


class NoteChanged(WorkflowError):
    """A note edit was refused because the stored note is no longer the one
    the edit started from (``expect_note``): someone else saved another
    note meanwhile. Nothing was written (not the status either).

    ``current`` is the note stored now ("" when none); ``by``/``at`` who
    changed it and when, from the audit trail (None when not known, e.g.
    the entry was archived). The message names who and when, never a
    note's text (notes are private; a message may end up in a log)."""

    def __init__(self, key: str, current: str, by: str | None, at: str | None) -> None:
        who = f" by {by}" if by else ""
        when = f" at {at[:16].replace('T', ' ')} UTC" if at else ""
        super().__init__(f"the note was changed{who}{when} after this edit began; nothing was saved")
        self.key = key
        self.current = current
        self.by = by
        self.at = at


#: ``expect_note`` not given: a note is written whatever is stored (a script's explicit write).
#: ``...`` itself, so a layer above can pass it on without importing this module.
NO_CHECK: Any = ...


# --- keys ----------------------------------------------------------------------------


def flag_key(flag: Flag) -> str:
    """The review key of a flag: ``Flag.identity``."""
    return flag.identity


def client_key(client: str) -> str:
    """The review key of a client as a whole: ``C-0142|client||``."""
    _check_code(client, "client")
    return f"{client}|{CLIENT_KIND}||"


def parse_key(key: str) -> tuple[str, str, int | None, str | None]:
    """``(client, kind, session, instrument)`` of a review key."""
    parts = key.split("|")
    if len(parts) != 4:
        raise WorkflowError(f"not a review key: {key!r} (expected client|kind|session|instrument)")
    client, kind, sess, inst = parts
    return client, kind, int(sess) if sess.isdigit() else None, inst or None


# --- small helpers ---------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value in a message: ``repr`` (control characters escaped), cut at 40."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _check_code(value: str, what: str) -> str:
    if not isinstance(value, str) or not _CODE_RE.fullmatch(value):
        raise WorkflowError(f"{what} must be a code of {IDENTIFIER_RULE} (got {_shown(value)})")
    return value


def _check_text(value: str, what: str, *, empty_ok: bool) -> str:
    """Free text entered (a note, an action item's text): stripped, line
    breaks as ``\\n``, no other control character (``sanitize``). The error
    never quotes the text: it is private."""
    if not isinstance(value, str):
        raise WorkflowError(f"{what} must be text (got {type(value).__name__})")
    value = normalise_newlines(value).strip()
    problem = control_problem(value, newlines=True)
    if problem is not None:
        raise WorkflowError(f"{what} {problem}")
    if not value and not empty_ok:
        raise WorkflowError(f"{what} must not be empty")
    if len(value) > MAX_TEXT:
        raise WorkflowError(f"{what} is too long ({len(value)} characters; at most {MAX_TEXT})")
    return value


def _check_status(status: str) -> str:
    if status not in REVIEW_STATUSES:
        raise WorkflowError(f"unknown review status {status!r}; use one of: {', '.join(REVIEW_STATUSES)}")
    return status


def _default_user() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (containers)
        name = ""
    name = printable(name.strip())[:MAX_USER]  # (from the environment: hostile like any input)
    return name or "unknown"


def _check_user(user: str) -> str:
    if not isinstance(user, str):
        raise WorkflowError(f"user must be text (got {type(user).__name__})")
    problem = control_problem(user)
    if problem is not None:
        raise WorkflowError(f"user {problem}")
    user = user.strip()
    if not 1 <= len(user) <= MAX_USER:
        raise WorkflowError(f"user must be 1-{MAX_USER} characters (got {len(user)})")
    return user


def _utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _parse_date(value: Any, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise WorkflowError(f"{what} must be a date YYYY-MM-DD (got {value!r})")


def redact(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of an audit ``before``/``after`` dict with private free text
    (review notes, action text) replaced by ``(hidden)``."""
    if values is None:
        return None
    return {k: (HIDDEN if k in PRIVATE_FIELDS and v else v) for k, v in values.items()}


# --- records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Review:
    """The current review of one key (a flag, or a client as a whole)."""

    key: str
    client: str
    kind: str  # a flag kind, or "client"
    status: str  # one of REVIEW_STATUSES
    note: str | None
    by: str
    at: str  # UTC ISO 8601
    flag_status: str | None  # the flag's status when the status was set (None: client review)
    flag_session: int | None  # the flag's session then (client review: the client's latest session)

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @property
    def is_client(self) -> bool:
        return self.kind == CLIENT_KIND


@dataclass(frozen=True, slots=True)
class FlagReview:
    """What the UI shows for one flag: its review status, by whom and when,
    and whether the flag has changed since (see the module doc)."""

    key: str
    status: str  # "new" when there is no review
    review: Review | None
    changed: bool
    change: str | None  # e.g. "status open → unrepaired", "session 5 → 9"

    @property
    def reviewed(self) -> bool:
        return self.review is not None and self.review.status != "new"

    def label(self) -> str:
        """One short line: ``discussed by sup01 2026-11-20 (changed since: status open → unrepaired)``."""
        if self.review is None:
            return "new"
        r = self.review
        text = f"{r.status} by {r.by} {r.at[:10]}"
        if self.changed and self.change:
            text += f" (changed since: {self.change})"
        return text


@dataclass(frozen=True, slots=True)
class ActionItem:
    id: str
    client: str
    text: str  # private free text
    owner: str | None  # clinician id
    due: date | None
    done: bool
    order: int  # creation number: oldest first
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    done_by: str | None = None
    done_at: str | None = None
    flag: str | None = None  # identity of the flag it came from

    def overdue(self, as_of: date | None = None) -> bool:
        """Open, with a due date before ``as_of`` (default today)."""
        as_of = as_of or date.today()
        return not self.done and self.due is not None and self.due < as_of


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    user: str
    action: str  # review.set, review.note, action.add, action.update, action.done, action.undone, action.delete
    target: str  # review key, or "action:<id>"
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_json(self, include_notes: bool = False) -> dict[str, Any]:
        before, after = (self.before, self.after) if include_notes else (redact(self.before), redact(self.after))
        return {"seq": self.seq, "at": self.at, "user": self.user, "action": self.action,
                "target": self.target, "before": before, "after": after}

    def summary(self, include_notes: bool = False) -> str:
        """``status: new → discussed; note: (hidden)``."""
        e = self.to_json(include_notes)
        b, a = e["before"] or {}, e["after"] or {}
        parts = []
        for k in list(dict.fromkeys([*b, *a])):
            if b.get(k) != a.get(k):
                parts.append(f"{k}: {_show(b.get(k))} → {_show(a.get(k))}")
        return "; ".join(parts)


def _show(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


# --- (de)serialisation --------------------------------------------------------------------


# Records are built only from entries ``check_workflow`` accepted; their
# text is neutralised here (``sanitize.printable``), the one place where
# workflow text read from disk becomes something a screen, an agenda or an
# export shows: a control character written by an older version or by
# hand never reaches a terminal raw.


def _text(value: Any, newlines: bool = False) -> Any:
    return printable(value, newlines=newlines) if type(value) is str else value


def _clean_json(value: Any) -> Any:
    """Audit ``before``/``after`` values: every string neutralised."""
    if type(value) is str:
        return printable(value, newlines=True)
    if type(value) is dict:
        return {printable(k): _clean_json(v) for k, v in value.items()}
    if type(value) is list:
        return [_clean_json(v) for v in value]
    return value


def _review_from(key: str, d: dict[str, Any]) -> Review:
    client, kind, _s, _i = parse_key(key)
    return Review(
        key=key, client=client, kind=kind, status=d["status"], note=_text(d.get("note"), newlines=True),
        by=_text(d.get("by")) or "unknown", at=d.get("at") or "",
        flag_status=_text(d.get("flag_status")), flag_session=d.get("flag_session"),
    )


def _action_from(item_id: str, d: dict[str, Any]) -> ActionItem:
    created_by = _text(d.get("created_by", "unknown"))
    return ActionItem(
        id=item_id, client=d["client"], text=_text(d.get("text", ""), newlines=True), owner=d.get("owner"),
        due=date.fromisoformat(d["due"]) if d.get("due") else None, done=bool(d.get("done", False)),
        order=int(d.get("n", 0)), created_by=created_by, created_at=d.get("created_at", ""),
        updated_by=_text(d.get("updated_by", created_by)),
        updated_at=d.get("updated_at", d.get("created_at", "")),
        done_by=_text(d.get("done_by")), done_at=d.get("done_at"), flag=_text(d.get("flag")),
    )


def _audit_from(d: dict[str, Any]) -> AuditEntry:
    return AuditEntry(seq=int(d["seq"]), at=_text(d["at"]), user=_text(d["user"]), action=_text(d["action"]),
                      target=_text(d["target"]), before=_clean_json(d.get("before")),
                      after=_clean_json(d.get("after")))


# --- checking what is read --------------------------------------------------------------------

_KEY_RE = re.compile(r"([^|]*)\|([a-z][a-z0-9_-]*)\|([0-9]*)\|([A-Za-z0-9][A-Za-z0-9_.+-]*)?")
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9_.+|-]{1,100}")


class _Damaged(Exception):
    """One entry of the workflow file is not what this version writes."""


def _entry(kind: str, key: Any, number: int) -> str:
    """How an error names an entry: by its key when the key is plainly an
    identifier (never private text), else by its position."""
    if type(key) is str and _SAFE_NAME_RE.fullmatch(key):
        return f"{kind} {key!r}"
    return f"{kind} number {number}"


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Damaged(what)


def _opt_str(d: dict[str, Any], name: str) -> None:
    _need(d.get(name) is None or type(d[name]) is str, f"{name!r} must be text")


def _opt_time(d: dict[str, Any], name: str) -> None:
    v = d.get(name)
    if v is None or v == "":
        return
    _need(type(v) is str, f"{name!r} must be a date and time")
    try:
        datetime.fromisoformat(v)
    except ValueError:
        raise _Damaged(f"{name!r} must be a date and time (ISO 8601)") from None


def _whole(v: Any, name: str, least: int) -> None:
    _need(type(v) is int and v >= least, f"{name!r} must be a whole number >= {least}")


def _check_review(key: Any, d: Any) -> None:
    _need(type(key) is str and _KEY_RE.fullmatch(key) is not None
          and _CODE_RE.fullmatch(key.split("|", 1)[0]) is not None,
          "not a review key (expected client|kind|session|instrument)")
    _need(type(d) is dict, "must be a JSON object")
    _need(d.get("status") in REVIEW_STATUSES, f"'status' must be one of {', '.join(REVIEW_STATUSES)}")
    for name in ("note", "by", "flag_status"):
        _opt_str(d, name)
    _opt_time(d, "at")
    if d.get("flag_session") is not None:
        _whole(d["flag_session"], "flag_session", 0)


def _check_action(item_id: Any, d: Any) -> None:
    _need(type(item_id) is str and _CODE_RE.fullmatch(item_id) is not None, "not an action item id")
    _need(type(d) is dict, "must be a JSON object")
    _need(type(d.get("client")) is str and _CODE_RE.fullmatch(d["client"]) is not None,
          f"'client' must be a client code ({IDENTIFIER_RULE})")
    _need(type(d.get("text", "")) is str, "'text' must be text")
    owner = d.get("owner")
    _need(owner is None or (type(owner) is str and _CODE_RE.fullmatch(owner) is not None),
          f"'owner' must be a clinician id ({IDENTIFIER_RULE})")
    due = d.get("due")
    if due is not None and due != "":
        try:
            ok = type(due) is str and len(due) == 10 and date.fromisoformat(due) is not None
        except ValueError:
            ok = False
        _need(ok, "'due' must be a date YYYY-MM-DD")
    _need(type(d.get("done", False)) is bool, "'done' must be true or false")
    _whole(d.get("n", 0), "n", 0)
    for name in ("created_by", "updated_by", "done_by", "flag"):
        _opt_str(d, name)
    for name in ("created_at", "updated_at", "done_at"):
        _opt_time(d, name)


def _check_audit(d: Any) -> None:
    _need(type(d) is dict, "must be a JSON object")
    _whole(d.get("seq"), "seq", 1)
    for name in ("at", "user", "action", "target"):
        _need(type(d.get(name)) is str, f"{name!r} must be text")
    for name in ("before", "after"):
        _need(d.get(name) is None or type(d[name]) is dict, f"{name!r} must be a JSON object or null")


def check_workflow(doc: Any, path: str | os.PathLike[str] = "workflow file") -> None:
    """Check everything this module reads from a workflow file (its format:
    the module doc) before any of it is used; raise ``DatabaseError``
    naming ``path`` and the damaged entry — by its key when that is a plain
    identifier, else by its position — and what is wrong with it, never
    quoting a value (it may be private). Keys this module does not own are
    left alone. Used on every read and, under the lock, before every write,
    so a damaged file is never rewritten."""

    def fail(where: str, what: str) -> DatabaseError:
        return DatabaseError(f"{path}: cannot read the workflow file: {where}: {what}. The file was not changed.")

    if type(doc) is not dict:
        raise fail("the top level", "must be a JSON object")
    v = doc.get("workflow_version", WORKFLOW_VERSION)
    if type(v) is int and v > WORKFLOW_VERSION:
        raise DatabaseError(
            f"{path}: the workflow file was written by a newer supervision-tui (workflow version {v}; "
            f"this version reads up to {WORKFLOW_VERSION}). Upgrade supervision-tui. The file was not changed."
        )
    for name, least in (("workflow_version", 1), ("seq", 0), ("action_n", 0)):
        if name in doc and not (type(doc[name]) is int and doc[name] >= least):
            raise fail(repr(name), f"must be a whole number >= {least}")
    for name, kind in (("reviews", dict), ("actions", dict), ("audit", list)):
        if name in doc and type(doc[name]) is not kind:
            raise fail(repr(name), f"must be a JSON {'object' if kind is dict else 'array'}")
    for n, (key, d) in enumerate(doc.get("reviews", {}).items(), start=1):
        try:
            _check_review(key, d)
        except _Damaged as err:
            raise fail(_entry("review", key, n), str(err)) from None
    for n, (key, d) in enumerate(doc.get("actions", {}).items(), start=1):
        try:
            _check_action(key, d)
        except _Damaged as err:
            raise fail(_entry("action item", key, n), str(err)) from None
    for n, d in enumerate(doc.get("audit", []), start=1):
        try:
            _check_audit(d)
        except _Damaged as err:
            raise fail(f"audit entry {n}", str(err)) from None


_REVIEW_AUDIT_FIELDS = ("status", "note", "flag_status", "flag_session")
_ACTION_AUDIT_FIELDS = ("client", "text", "owner", "due", "done", "flag")


def _pick(d: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any] | None:
    if d is None:
        return None
    return {k: d[k] for k in names if d.get(k) is not None}


def _note_changer(doc: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """Who last changed the note of ``key`` and when, from the sidecar's
    audit (newest first); (None, None) when it is not there (archived)."""
    for e in reversed(doc.get("audit", [])):
        if e.get("target") != key:
            continue
        before, after = e.get("before") or {}, e.get("after") or {}
        if before.get("note") != after.get("note"):
            return _text(e.get("user")), _time_text(e.get("at"))
    return None, None


def _time_text(value: Any) -> str | None:
    """An audit entry's ``at`` as it may be shown: a date and time, else
    None (a damaged or hand-made file: never its text, which could hold
    control characters)."""
    if type(value) is not str:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return None
    return printable(value)


@dataclass(frozen=True, slots=True)
class _ReviewChange:
    """One review write (status and/or note) as a mutation of the sidecar
    document, run under the lock on its fresh content (``ReviewStore._write``)."""

    key: str
    status: str | None
    note: str | None  # checked text; "" clears
    flag_status: str | None
    flag_session: int | None
    expect_note: Any  # NO_CHECK, or the note the edit started from (None/"": none)

    def check(self, doc: dict[str, Any]) -> None:
        """Raise ``NoteChanged`` when a note is written, one was expected and
        the stored note is another (compared as the views showed it: the
        neutralised text). Writing the note already stored is no conflict."""
        if self.note is None or self.expect_note is NO_CHECK:
            return
        old = doc.get("reviews", {}).get(self.key) or {}
        stored = _text(old.get("note"), newlines=True) or ""
        if stored in ((self.expect_note or "").strip(), self.note):
            return
        by, at = _note_changer(doc, self.key)
        raise NoteChanged(self.key, stored, by, at)

    def __call__(self, doc: dict[str, Any], audit: Callable[..., None], who: str, at: str) -> Review:
        self.check(doc)
        key = self.key
        reviews = doc.setdefault("reviews", {})
        old = reviews.get(key)
        new = dict(old) if old else {"status": "new"}
        if self.status is not None:
            new["status"] = self.status
            new["flag_status"] = self.flag_status
            new["flag_session"] = self.flag_session
        if self.note is not None:
            new["note"] = self.note or None
        new["by"], new["at"] = who, at
        new = _compact(new)
        before, after = _pick(old, _REVIEW_AUDIT_FIELDS), _pick(new, _REVIEW_AUDIT_FIELDS)
        if before != after:  # re-setting a status re-acknowledges a changed flag (its status, session)
            reviews[key] = new
            audit("review.set" if self.status is not None else "review.note", key, before, after)
        # else a no-op (the same status, flag state and note): nothing stored, nothing in the audit trail
        return _review_from(key, reviews.get(key, new))


# --- the store ----------------------------------------------------------------------------


class ReviewStore:
    """Reviews, action items and audit over a caseload's workflow sidecar.

    ``source``: a ``Database`` (its ``sidecar`` is used, with its read-only
    setting), a ``LockedStore``, or the sidecar's path. ``read_only``
    forbids writes even when the source would allow them. ``user`` is the
    default author of writes (``getpass.getuser()`` when None); ``clock``
    returns the UTC ISO timestamp written (tests).

    Reads come from a snapshot taken at first use and refreshed after each
    own write and by ``reload()``/``poll()``; writes always re-read the file
    under the lock first, so a stale snapshot never loses anyone's write.
    """

    def __init__(self, source: Any, *, read_only: bool = False, user: str | None = None,
                 clock: Callable[[], str] | None = None, audit_chunk: int = AUDIT_CHUNK):
        from supervision_tui.store.database import Database, LockedStore

        if isinstance(source, Database):
            store = source.sidecar
        elif isinstance(source, LockedStore):
            store = source
        elif isinstance(source, (str, os.PathLike)):
            store = LockedStore(Path(source), read_only=read_only, label="workflow file")
        else:
            raise TypeError(f"ReviewStore needs a Database, LockedStore or path, not {type(source).__name__}")
        self._store = store
        self.read_only = bool(read_only or store.read_only)
        self.user = _check_user(user) if user is not None else _default_user()
        self._clock = clock or _utc_now
        self._doc: dict[str, Any] | None = None
        self._token: Token = None
        if audit_chunk < 1:
            raise ValueError("audit_chunk must be >= 1")
        self._chunk = audit_chunk
        self._archive_cache: dict[str, tuple[tuple[int, int], list[dict[str, Any]]]] = {}

    def __repr__(self) -> str:
        return f"ReviewStore({str(self.path)!r}, read_only={self.read_only})"

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def archive_dir(self) -> Path:
        """Where older audit entries go: ``<sidecar stem>.audit/`` next to it."""
        return self.path.with_name(self.path.stem + ".audit")

    # -- snapshot and polling ---------------------------------------------------------------

    def token(self) -> Token:
        """A cheap identity of the sidecar's current version (one ``stat``;
        None when the file does not exist)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise DatabaseError(f"{self.path}: cannot read the workflow file: {err.strerror or err}") from None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    @property
    def snapshot_token(self) -> Token | tuple[str]:
        """The ``token()`` of the file version the current snapshot was read
        from (None: there was no file); ``("unknown",)`` before the first
        read and after this store's own write, until the next ``poll()``."""
        return _UNKNOWN if self._doc is None else self._token

    def changed_since(self, token: Token) -> bool:
        """True when the sidecar is not the version ``token`` was taken of."""
        return self.token() != token

    def mtime_ns(self) -> int | None:
        t = self.token()
        return t[2] if t else None

    def version(self) -> int:
        """The write counter of the snapshot (0 before any write)."""
        return int(self._data().get("seq", 0))

    def reload(self) -> None:
        """Re-read the sidecar now."""
        token = self.token()  # before reading: a write in between only causes one extra reload later
        doc = self._store.read()
        self._validate(doc)
        self._doc, self._token = doc, token

    def poll(self) -> bool:
        """Reload when the sidecar changed since the snapshot; True when the
        content differs (i.e. another process wrote). One ``stat`` when
        nothing happened."""
        if self._doc is not None and not self.changed_since(self._token):
            return False
        old = self._doc
        self.reload()
        return old is None or self._doc != old

    def _data(self) -> dict[str, Any]:
        if self._doc is None:
            self.reload()
        assert self._doc is not None
        return self._doc

    def _validate(self, doc: dict[str, Any]) -> None:
        check_workflow(doc, self.path)

    def _bad(self, where: str, err: Exception) -> DatabaseError:
        return DatabaseError(f"{self.path}: cannot read the workflow file: {where} is damaged "
                             f"({type(err).__name__}: {err}). The file was not changed.")

    # -- the one write path -------------------------------------------------------------------

    def _write(self, mutate: Callable[[dict[str, Any], Callable[..., None]], Any], user: str | None) -> Any:
        """Run ``mutate(doc, audit, who, at)`` in one locked transaction on a
        fresh re-read of the file. ``audit(action, target, before, after)``
        appends an audit entry; ``seq`` grows by one per entry. Returns
        mutate's result. Raises ReadOnlyError before touching any file."""
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: opened read-only; the change was not saved")
        who = _check_user(user) if user is not None else self.user
        at = self._clock()
        doc: dict[str, Any] | None = None
        try:
            with self._store.transaction() as doc:
                self._validate(doc)  # a damaged file is never rewritten
                remove_stale_temporaries_in(self.archive_dir)  # left by a killed rotation; none can be in progress now
                doc.setdefault("workflow_version", WORKFLOW_VERSION)
                seq = int(doc.get("seq", 0))
                entries: list[dict[str, Any]] = []

                def audit(action: str, target: str, before: dict | None, after: dict | None) -> None:
                    entries.append({"seq": seq + len(entries) + 1, "at": at, "user": who, "action": action,
                                    "target": target, "before": before, "after": after})

                result = mutate(doc, audit, who, at)
                if entries:
                    from supervision_tui.store.database import refuse_protected

                    refuse_protected(self.path)  # (before the audit archive is written beside it)
                    doc["seq"] = seq + len(entries)
                    doc.setdefault("audit", []).extend(entries)
                    self._rotate(doc)
        except NoteChanged:
            # nothing was written; ``doc`` is what the file holds now (the refusal comes
            # before any change to it), so the snapshot shows the other person's note
            if doc is not None:
                self._doc, self._token = doc, _UNKNOWN
            raise
        # ``doc`` is what the transaction wrote. Its stat token is unknown (another
        # process may already have written after us), so the next poll() re-reads
        # once and compares content.
        self._doc, self._token = doc, _UNKNOWN
        return result

    # -- reviews -----------------------------------------------------------------------------

    def reviews(self) -> dict[str, Review]:
        """Every current review by key (including ones set back to ``new``)."""
        out = {}
        for key, d in self._data().get("reviews", {}).items():
            try:
                out[key] = _review_from(key, d)
            except (KeyError, TypeError, ValueError, WorkflowError) as err:
                raise self._bad(f"review {key!r}", err) from None
        return out

    def get(self, key: str) -> Review | None:
        d = self._data().get("reviews", {}).get(key)
        if d is None:
            return None
        try:
            return _review_from(key, d)
        except (KeyError, TypeError, ValueError, WorkflowError) as err:
            raise self._bad(f"review {key!r}", err) from None

    def review_for(self, flag: Flag) -> FlagReview:
        """The review state of ``flag`` (exact identity; ``new`` when none)."""
        key = flag_key(flag)
        r = self.get(key)
        if r is None:
            return FlagReview(key, "new", None, False, None)
        changes = []
        if r.flag_status is not None and r.flag_status != flag.status:
            changes.append(f"status {r.flag_status} → {flag.status}")
        if r.flag_status is not None and r.flag_session != flag.session:
            changes.append(f"session {_show(r.flag_session)} → {_show(flag.session)}")
        return FlagReview(key, r.status, r, bool(changes), "; ".join(changes) or None)

    def client_review(self, client: str, latest_session: int | None = None) -> FlagReview:
        """The client-level review; ``changed`` when ``latest_session`` is later
        than the client's latest session at review time."""
        key = client_key(client)
        r = self.get(key)
        if r is None:
            return FlagReview(key, "new", None, False, None)
        changed = latest_session is not None and r.flag_session is not None and latest_session > r.flag_session
        change = f"sessions {r.flag_session} → {latest_session}" if changed else None
        return FlagReview(key, r.status, r, changed, change)

    def set_review(self, flag: Flag, status: str | None = None, note: str | None = None, *,
                   user: str | None = None, expect_note: Any = NO_CHECK) -> Review:
        """Set the review status of ``flag`` and/or its note.

        ``status`` None keeps the current status (``new`` if none) and only
        edits the note; setting a status records the flag's current status
        and session ("changed since reviewed"). ``note`` None keeps the
        note, ``""`` clears it.

        ``expect_note``: the note the edit started from (None or "": none).
        When a ``note`` is given and, under the lock, the stored note is
        another one, ``NoteChanged`` is raised and nothing is written (a
        compare-and-set: two people editing one note never silently
        replace each other's). Without a ``note`` (a status only) it is not
        checked. Omitted: no check (the CLI's explicit ``--note``).
        """
        if not isinstance(flag, Flag):
            raise TypeError("set_review needs a Flag; use set_client_review for a client")
        return self._set(flag_key(flag), status, note, user, flag.status, flag.session, expect_note)

    def set_client_review(self, client: str, status: str | None = None, note: str | None = None, *,
                          latest_session: int | None = None, user: str | None = None,
                          expect_note: Any = NO_CHECK) -> Review:
        """Review the client as a whole ("discussed in supervision").
        ``latest_session``: the client's latest session, recorded to say
        later whether there were sessions since. ``expect_note``: as in
        ``set_review``."""
        return self._set(client_key(client), status, note, user, None, latest_session, expect_note)

    def mark_client(self, client: str, status: str, note: str | None = None, *, flags: Iterable[Flag] = (),
                    latest_session: int | None = None, user: str | None = None,
                    expect_note: Any = NO_CHECK) -> Review:
        """Set ``status`` on each of ``flags`` and on the client as a whole
        (with ``note``, checked against ``expect_note`` as in
        ``set_review``) in one transaction: all of it is saved or none
        (a refused note or a busy lock leaves every flag as it was). The
        audit has one entry per review changed, the flags' first."""
        _check_status(status)
        targets = list(flags)
        if not all(isinstance(f, Flag) for f in targets):
            raise TypeError("mark_client's flags must be Flags")
        changes = [self._change(flag_key(f), status, None, f.status, f.session) for f in targets]
        own = self._change(client_key(client), status, note, None, latest_session, expect_note)

        def mutate(doc, audit, who, at):
            own.check(doc)  # before anything changes: a refusal writes nothing
            for change in changes:
                change(doc, audit, who, at)
            return own(doc, audit, who, at)

        return self._write(mutate, user)

    def _set(self, key: str, status: str | None, note: str | None, user: str | None,
             flag_status: str | None, flag_session: int | None, expect_note: Any = NO_CHECK) -> Review:
        return self._write(self._change(key, status, note, flag_status, flag_session, expect_note), user)

    def _change(self, key: str, status: str | None, note: str | None, flag_status: str | None,
                flag_session: int | None, expect_note: Any = NO_CHECK) -> _ReviewChange:
        client, _kind, _s, _i = parse_key(key)
        _check_code(client, "client")
        if status is not None:
            _check_status(status)
        if note is not None:
            note = _check_text(note, "note", empty_ok=True)
        if status is None and note is None:
            raise WorkflowError("nothing to change: give a status or a note")
        if expect_note is not NO_CHECK and expect_note is not None and not isinstance(expect_note, str):
            raise TypeError(f"expect_note must be text or None (got {type(expect_note).__name__})")
        return _ReviewChange(key, status, note, flag_status, flag_session, expect_note)

    def history(self, target: Flag | str) -> list[AuditEntry]:
        """Every change of one review (a flag or key) or action item
        (``"action:<id>"``), oldest first."""
        key = flag_key(target) if isinstance(target, Flag) else target
        return [e for e in self._audit_entries() if e.target == key]

    # -- action items --------------------------------------------------------------------------

    def actions(self, *, client: str | None = None, owner: str | None = None,
                open_only: bool = False, clients: Iterable[str] | None = None) -> list[ActionItem]:
        """Action items, oldest first; filter by client, by owner (clinician),
        by a set of clients, or open (not done) only."""
        wanted = set(clients) if clients is not None else None
        out = []
        for item_id, d in self._data().get("actions", {}).items():
            try:
                item = _action_from(item_id, d)
            except (KeyError, TypeError, ValueError) as err:
                raise self._bad(f"action item {item_id!r}", err) from None
            if client is not None and item.client != client:
                continue
            if wanted is not None and item.client not in wanted:
                continue
            if owner is not None and item.owner != owner:
                continue
            if open_only and item.done:
                continue
            out.append(item)
        out.sort(key=lambda i: (i.order, i.created_at, i.id))
        return out

    def open_actions(self, **kw: Any) -> list[ActionItem]:
        """Open items (carried forward until done), oldest first."""
        return self.actions(open_only=True, **kw)

    def action(self, item_id: str) -> ActionItem:
        d = self._data().get("actions", {}).get(item_id)
        if d is None:
            raise WorkflowError(f"no action item {item_id!r}")
        return _action_from(item_id, d)

    def add_action(self, client: str, text: str, *, owner: str | None = None, due: date | str | None = None,
                   flag: Flag | str | None = None, user: str | None = None) -> ActionItem:
        _check_code(client, "client")
        text = _check_text(text, "action text", empty_ok=False)
        if owner is not None:
            _check_code(owner, "owner")
        due_d = _parse_date(due, "due")
        flag_id = flag_key(flag) if isinstance(flag, Flag) else flag

        def mutate(doc, audit, who, at):
            actions = doc.setdefault("actions", {})
            item_id = uuid.uuid4().hex[:8]
            while item_id in actions:
                item_id = uuid.uuid4().hex[:8]
            n = int(doc.get("action_n", 0)) + 1
            doc["action_n"] = n
            new = _compact({"client": client, "text": text, "owner": owner,
                            "due": due_d.isoformat() if due_d else None, "done": False, "n": n,
                            "flag": flag_id, "created_by": who, "created_at": at,
                            "updated_by": who, "updated_at": at})
            actions[item_id] = new
            audit("action.add", f"action:{item_id}", None, _pick(new, _ACTION_AUDIT_FIELDS))
            return _action_from(item_id, new)

        return self._write(mutate, user)

    _UNSET: Any = object()

    def update_action(self, item_id: str, *, text: str | None = None, owner: Any = _UNSET, due: Any = _UNSET,
                      user: str | None = None) -> ActionItem:
        """Change an item's text, owner (None clears) or due date (None clears)."""
        if text is not None:
            text = _check_text(text, "action text", empty_ok=False)
        if owner is not self._UNSET and owner is not None:
            _check_code(owner, "owner")
        due_s = self._UNSET
        if due is not self._UNSET:
            d = _parse_date(due, "due")
            due_s = d.isoformat() if d else None

        def change(d: dict[str, Any]) -> None:
            if text is not None:
                d["text"] = text
            if owner is not self._UNSET:
                d["owner"] = owner
            if due_s is not self._UNSET:
                d["due"] = due_s

        return self._change_action(item_id, change, "action.update", user)

    def set_action_done(self, item_id: str, done: bool = True, *, user: str | None = None) -> ActionItem:
        """Mark an item done (or open again with ``done=False``)."""

        def change(d: dict[str, Any]) -> None:
            d["done"] = bool(done)

        return self._change_action(item_id, change, "action.done" if done else "action.undone", user)

    def delete_action(self, item_id: str, *, user: str | None = None) -> None:
        """Remove an item entered by mistake (the audit keeps what it was)."""

        def mutate(doc, audit, who, at):
            actions = doc.setdefault("actions", {})
            old = actions.pop(item_id, None)
            if old is None:
                raise WorkflowError(f"no action item {item_id!r}")
            audit("action.delete", f"action:{item_id}", _pick(old, _ACTION_AUDIT_FIELDS), None)

        self._write(mutate, user)

    def _change_action(self, item_id: str, change: Callable[[dict[str, Any]], None], action: str,
                       user: str | None) -> ActionItem:
        def mutate(doc, audit, who, at):
            actions = doc.setdefault("actions", {})
            old = actions.get(item_id)
            if old is None:
                raise WorkflowError(f"no action item {item_id!r}")
            new = dict(old)
            change(new)
            if action in ("action.done", "action.undone"):
                if new["done"] and not old.get("done"):
                    new["done_by"], new["done_at"] = who, at
                elif not new["done"]:
                    new["done_by"] = new["done_at"] = None
            before, after = _pick(old, _ACTION_AUDIT_FIELDS), _pick(_compact(new), _ACTION_AUDIT_FIELDS)
            if before == after:
                return _action_from(item_id, old)  # nothing changed: no write, no audit entry
            new["updated_by"], new["updated_at"] = who, at
            new = _compact(new)
            actions[item_id] = new
            audit(action, f"action:{item_id}", before, after)
            return _action_from(item_id, new)

        return self._write(mutate, user)

    # -- audit -----------------------------------------------------------------------------------

    def _rotate(self, doc: dict[str, Any]) -> None:
        """Under the lock: move the oldest whole chunks of the audit to
        write-once archive files so the sidecar (rewritten on every save)
        stays small. An archive is written before the sidecar drops its
        entries; if the process dies in between, both hold them and readers
        de-duplicate by ``seq`` (the next rotation rewrites the same file)."""
        audit = doc.get("audit", [])
        if len(audit) < 2 * self._chunk:
            return
        from supervision_tui.store.files import ensure_private_dir, write_private_bytes

        ensure_private_dir(self.archive_dir)
        while len(audit) >= 2 * self._chunk:
            part = audit[: self._chunk]
            first, last = int(part[0]["seq"]), int(part[-1]["seq"])
            body = {"workflow_audit": WORKFLOW_VERSION, "first": first, "last": last, "entries": part}
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            write_private_bytes(self.archive_dir / f"audit-{first:09d}-{last:09d}.json", data)
            del audit[: self._chunk]

    def _archived(self) -> list[dict[str, Any]]:
        """Entries of every archive file (cached per file version)."""
        try:
            names = sorted(n for n in os.listdir(self.archive_dir) if _ARCHIVE_RE.fullmatch(n))
        except FileNotFoundError:
            return []
        except OSError as err:
            raise DatabaseError(f"{self.archive_dir}: cannot read the audit archive: {err.strerror or err}") from None
        out: list[dict[str, Any]] = []
        for name in names:
            path = self.archive_dir / name
            try:
                st = os.stat(path)
                key = (st.st_mtime_ns, st.st_size)
                cached = self._archive_cache.get(name)
                if cached is None or cached[0] != key:
                    body = json.loads(path.read_bytes().decode("utf-8"))
                    entries = body["entries"]
                    if type(entries) is not list:
                        raise TypeError("'entries' is not a list")
                    for n, d in enumerate(entries, start=1):
                        try:
                            _check_audit(d)
                        except _Damaged as err:
                            raise DatabaseError(f"{path}: cannot read the audit archive: entry {n}: {err}. "
                                                "The file was not changed.") from None
                    cached = (key, entries)
                    self._archive_cache[name] = cached
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise DatabaseError(f"{path}: cannot read the audit archive: {err}. The file was not changed.") from None
            out.extend(cached[1])
        return out

    def _audit_entries(self, recent_only: bool = False) -> list[AuditEntry]:
        """Audit entries, oldest first: the archive files, then the sidecar's
        own (de-duplicated by ``seq``; see ``_rotate``)."""
        raw = self._data().get("audit", [])
        if not recent_only:
            merged = {int(d["seq"]): d for d in self._archived() if isinstance(d, dict) and "seq" in d}
            merged.update((int(d["seq"]), d) for d in raw if isinstance(d, dict) and "seq" in d)
            raw = [merged[k] for k in sorted(merged)]
        out = []
        for n, d in enumerate(raw):
            try:
                out.append(_audit_from(d))
            except (KeyError, TypeError, ValueError) as err:
                raise self._bad(f"audit entry {n + 1}", err) from None
        return out

    def audit(self, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, newest first (``limit`` of them when given)."""
        if limit is not None and limit <= len(self._data().get("audit", [])):
            entries = self._audit_entries(recent_only=True)  # no need to open the archive
        else:
            entries = self._audit_entries()
        entries.reverse()
        return entries[:limit] if limit is not None else entries

    def audit_text(self, fmt: str = "csv", include_notes: bool = False, limit: int | None = None) -> str:
        """The audit as CSV or JSON text (newest first); note and action text
        are ``(hidden)`` unless ``include_notes``."""
        entries = self.audit(limit)
        if fmt == "json":
            return json.dumps([e.to_json(include_notes) for e in entries], ensure_ascii=False, indent=1) + "\n"
        if fmt != "csv":
            raise WorkflowError(f"unknown audit format {fmt!r}; use csv or json")
        return audit_csv(entries, include_notes)

    def export_audit(self, path: str | os.PathLike[str], fmt: str = "csv", include_notes: bool = False) -> Path:
        """Write the audit (newest first) to ``path``, owner-readable only."""
        from supervision_tui.store.files import write_private_text

        return write_private_text(Path(path), self.audit_text(fmt, include_notes))


def audit_csv(entries: list[AuditEntry], include_notes: bool = False) -> str:
    """Audit entries as CSV (the one audit renderer: ``audit_text``, the CLI
    and the dashboard's export), in the order given: seq, at, user, action,
    target, changes, before, after; note and action text ``(hidden)``
    unless ``include_notes``; no cell a spreadsheet would run as a formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["seq", "at", "user", "action", "target", "changes", "before", "after"])

    def dump(v: Any) -> str:
        return "" if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    for e in entries:
        j = e.to_json(include_notes)
        w.writerow([_cell(c) for c in (e.seq, e.at, e.user, e.action, e.target, e.summary(include_notes),
                                       dump(j["before"]), dump(j["after"]))])
    return buf.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    s = str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s
