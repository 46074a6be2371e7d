"""The caseload database and the locked, atomic JSON store under it.

Two files per caseload, next to each other (format: data/README.md)::

    caseload.json            the caseload: meta, clinicians, clients, measures, goals
    caseload.workflow.json   the sidecar: workflow data written often (reviews,
                             action items, audit), kept apart so that saving a
                             review never reserialises 40k rating rows

plus ``caseload.json.lock`` / ``caseload.workflow.json.lock``, empty lock
files created by the first writer (mode 0o600) and left in place.

``LockedStore`` — the primitive both files use
==============================================

A JSON file holding one object, written only whole and atomically::

    store = LockedStore(path)                  # read_only=False, timeout=10.0 (then LockBusy)
    data = store.read()                        # snapshot, no lock; {} if no file
    with store.transaction() as data:          # exclusive lock, fresh re-read
        data.setdefault("reviews", {})["1"] = {...}   # mutate in place
    # on a normal exit the object is written atomically (only if it changed);
    # on an exception nothing is written. The lock is released either way.

    with store.tinydb() as db:                 # the same transaction, as TinyDB
        db.table("reviews").insert({...})

How it stays correct with several processes (engineering.md, TinyDB #331):

* writers take an exclusive ``filelock`` on ``<path>.lock`` and re-read the
  file under the lock, so no write is based on stale data; every
  ``tinydb()`` transaction builds a fresh TinyDB instance, so no cached
  document id or query result survives from another transaction;
* the file is replaced atomically (``files.write_private_bytes``: temp
  file, fsync, ``os.replace``, fsync of the directory), so a reader, or a
  writer killed at any instant, sees the old file or the new one;
* readers therefore take no lock. ``read_only=True`` never creates or
  writes anything — not the file, not the lock file, not a temporary —
  and ``transaction()`` raises ``DatabaseError``; ``tinydb()`` gives a
  snapshot whose writes raise.
* a file that is not what it should be (empty, truncated, not JSON, not
  UTF-8, wrong shape, newer schema version) raises ``DatabaseError`` naming
  the file and the problem, and is never rewritten.
* transactions on one store do not nest (RuntimeError): a nested write
  would be lost when the outer one commits. Threads may share a store:
  each transaction takes the file lock, which excludes other threads of
  the same process as it excludes other processes.

``Database`` — the caseload
===========================

``Database(path, read_only=False)`` resolves ``path`` once
(``resolve_database_path``: symlinks, ``..``; a name that is not UTF-8 is
refused), so every file of the database sits beside the real file;
``check_output(path)`` refuses an output path that is one of its files
(``owned_paths``). ``load() -> Caseload``,
``import_parsed(parsed) -> ImportReport`` (all-or-nothing, idempotent,
creates the file if missing), ``replace_caseload(caseload)``, ``meta()``,
``sidecar`` (the workflow ``LockedStore``) and ``sidecar_path``.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from tinydb import TinyDB
from tinydb.storages import Storage

from supervision_tui.errors import DatabaseError, UserError, ValidationFailed
from supervision_tui.gc_pause import gc_paused
from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating
from supervision_tui.store import columnar, schema
from supervision_tui.store.sanitize import printable
from supervision_tui.store.files import (
    FILE_MODE,
    FileWriteError,
    ensure_private_dir,
    refuse_write_protected,
    remove_stale_temporaries,
    write_private_bytes,
)

__all__ = ["LockedStore", "LockBusy", "Database", "ImportReport", "Counts", "SIDECAR_SUFFIX", "resolve_database_path"]

SIDECAR_SUFFIX = ".workflow.json"
LOCK_TIMEOUT = 10.0


# --- the locked atomic JSON store ------------------------------------------------


def refuse_protected(path: Path) -> None:
    """``DatabaseError`` when the file's owner made it write-protected
    (``files.refuse_write_protected``): raised before a transaction writes
    anything, also beside the file (a backup copy, an audit archive)."""
    try:
        refuse_write_protected(path, "the file was not changed")
    except FileWriteError as err:
        raise DatabaseError(str(err)) from err


class LockBusy(DatabaseError):
    """Another process held the lock for longer than the store's ``timeout``;
    nothing was written (``path``, ``lock_path``, ``timeout``)."""

    def __init__(self, path: Path, lock_path: Path, timeout: float) -> None:
        super().__init__(f"{path}: busy: another process has held its lock ({lock_path.name}) "
                         f"for more than {timeout:g} s")
        self.path = path
        self.lock_path = lock_path
        self.timeout = timeout


class _SnapshotStorage(Storage):
    """TinyDB storage over an in-memory dict (one transaction's snapshot)."""

    def __init__(self, data: dict, writable: bool = True, path: Path | None = None):
        self.data = data
        self.writable = writable
        self.path = path

    def read(self) -> dict:
        return self.data

    def write(self, data: dict) -> None:
        if not self.writable:
            raise DatabaseError(f"{self.path}: opened read-only; nothing can be saved")
        self.data = data

    def close(self) -> None:
        pass


def _encode(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _encode_database(data: dict) -> bytes:
    """The caseload file: format 2 in its one-client-per-line layout
    (``columnar.encode_file``); anything else (an older format) as compact JSON."""
    meta = data.get(schema.META)
    version = None
    if type(meta) is dict and len(meta) == 1:
        doc = next(iter(meta.values()))
        version = doc.get("schema_version") if type(doc) is dict else None
    if version == columnar.SCHEMA_VERSION and data.keys() <= set(schema.TABLES_BY_VERSION[version]):
        return columnar.encode_file(data, data.get(schema.CLIENTS, {}))
    return _encode(data)


class LockedStore:
    """A JSON object in a file: lock-free snapshots, locked atomic transactions.

    ``check(data)`` (optional) validates what was read and raises
    ``schema.SchemaError``; ``label`` names the file in messages ("database",
    "workflow file").
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False,
                 timeout: float = LOCK_TIMEOUT, check: Callable[[Any], None] | None = None,
                 label: str = "file", encode: Callable[[dict], bytes] | None = None):
        self.path = Path(path)
        self._encode = encode or _encode
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.read_only = read_only
        self.timeout = timeout
        self.label = label
        self._check = check
        self._local = threading.local()  # per thread: is a transaction open?

    def __repr__(self) -> str:
        return f"LockedStore({str(self.path)!r}, read_only={self.read_only})"

    def exists(self) -> bool:
        return self.path.exists()

    def _fail(self, what: str) -> DatabaseError:
        return DatabaseError(f"{self.path}: cannot read the {self.label}: {what}. The file was not changed.")

    def _read_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise self._fail("it is a folder") from None
        except PermissionError:
            raise DatabaseError(f"{self.path}: cannot read the {self.label}: permission denied") from None
        except OSError as err:
            raise DatabaseError(f"{self.path}: cannot read the {self.label}: {err.strerror or err}") from None

    def _read_raw(self) -> tuple[bytes | None, dict]:
        raw = self._read_bytes()
        if raw is None:
            return None, {}
        return raw, self._parse(self._text(raw))

    def _read_text(self) -> str | None:
        """The file as text; its bytes are dropped when this returns, so a
        large file is not held twice while it is parsed."""
        raw = self._read_bytes()
        return None if raw is None else self._text(raw)

    def _text(self, raw: bytes) -> str:
        if not raw.strip():
            raise self._fail(f"the file is empty ({len(raw)} bytes)")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise self._fail(f"it is not UTF-8 text (byte {err.start}); it is not a supervision-tui file "
                             "or it is damaged") from None

    def _parse(self, text: str) -> dict:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            hint = "the file is truncated" if err.pos >= len(text.rstrip()) else "the file is damaged"
            raise self._fail(f"it is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}): "
                             f"{hint} or not a supervision-tui file") from None
        except RecursionError:
            raise self._fail("it is not valid JSON (nested too deeply)") from None
        if self._check is not None:
            try:
                self._check(data)
            except schema.FutureVersion as err:
                raise DatabaseError(f"{self.path}: {err}. The file was not changed.") from None
            except schema.SchemaError as err:
                raise self._fail(f"not a valid supervision-tui {self.label}: {err}") from None
        elif type(data) is not dict:
            raise self._fail(f"expected a JSON object, found {type(data).__name__}")
        return data

    def read(self) -> dict:
        """A snapshot of the file (``{}`` when it does not exist). No lock:
        writers replace the file atomically, so the snapshot is consistent."""
        text = self._read_text()
        return {} if text is None else self._parse(text)

    @contextmanager
    def transaction(self, before_write: Callable[[bytes | None, dict], None] | None = None) -> Iterator[dict]:
        """Lock, re-read, yield the data to mutate in place, write atomically.

        ``before_write(old_bytes, new_data)`` runs under the lock just before
        the file is replaced (not when nothing changes): e.g. a backup copy
        of the old file before a format upgrade; if it raises, nothing is
        written.

        Nothing is written when the block raises or leaves the data as it
        was (so a missing file stays missing when the data stays empty).
        Raises ``DatabaseError`` when read-only, when the lock cannot be
        had within ``timeout`` seconds, or when reading/writing fails.
        """
        if self.read_only:
            raise DatabaseError(f"{self.path}: opened read-only; nothing can be saved")
        if getattr(self._local, "open", False):
            raise RuntimeError(f"{self!r}: transactions do not nest")
        try:
            ensure_private_dir(self.path.parent)
        except FileWriteError as err:
            raise DatabaseError(str(err)) from err
        from filelock import FileLock, Timeout  # (here: reading never needs it, and it costs 15 ms to import)

        lock = FileLock(self.lock_path, timeout=self.timeout, mode=FILE_MODE)
        try:
            lock.acquire(poll_interval=0.005)  # the default 50 ms would dwarf a 1 ms review save
        except Timeout:
            raise LockBusy(self.path, self.lock_path, self.timeout) from None
        except OSError as err:
            raise DatabaseError(f"{self.path}: cannot lock the {self.label} ({self.lock_path}): "
                                f"{err.strerror or err}") from None
        self._local.open = True
        try:
            raw, data = self._read_raw()
            remove_stale_temporaries(self.path)  # left by a killed writer; none can be in progress now
            yield data
            if raw is None and not data:
                return
            new = self._encode(data)
            if new != raw:
                # before anything is written beside it (a format-1 file's backup copy, by before_write)
                refuse_protected(self.path)
                if before_write is not None:
                    before_write(raw, data)
                try:
                    write_private_bytes(self.path, new)
                except FileWriteError as err:
                    raise DatabaseError(str(err)) from err
        finally:
            self._local.open = False
            lock.release()

    @contextmanager
    def tinydb(self) -> Iterator[TinyDB]:
        """``transaction()`` with a fresh TinyDB over the data; in a
        read-only store, a snapshot TinyDB whose writes raise."""
        if self.read_only:
            db = TinyDB(self.read(), storage=_SnapshotStorage, writable=False, path=self.path)
            yield db
            return
        with self.transaction() as data:
            db = TinyDB(data, storage=_SnapshotStorage, path=self.path)
            yield db
            new = db.storage.data
            if new is not data:
                data.clear()
                data.update(new)


# --- the caseload database -----------------------------------------------------------


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class ImportReport:
    """What an import did. ``summary()`` is the text the CLI prints."""

    path: Path
    files: list[str] = field(default_factory=list)
    created: bool = False
    written: bool = False
    measures: Counts = field(default_factory=Counts)
    clients: Counts = field(default_factory=Counts)
    goals: Counts = field(default_factory=Counts)
    clinicians_added: int = 0
    updates: list[str] = field(default_factory=list)  # one line per updated record
    backup: Path | None = None  # a format-1 database was upgraded; its old bytes are kept here

    def summary(self, max_updates: int = 10) -> str:
        head = f"Imported {', '.join(self.files)} into {self.path}"
        if self.created:
            head += " (new database)"
        elif not self.written:
            head += ": nothing changed"
        lines = [
            head + ".",
            f"  measures:   {self.measures}",
            f"  clients:    {self.clients}",
            f"  goals:      {self.goals}",
        ]
        if self.clinicians_added:
            lines.append(f"  clinicians: {self.clinicians_added} added")
        if self.updates:
            lines.append("Updated:")
            lines += [f"  {u}" for u in self.updates[:max_updates]]
            if len(self.updates) > max_updates:
                lines.append(f"  ... and {len(self.updates) - max_updates} more")
        if self.backup is not None:
            from supervision_tui.store.migrate import notice

            lines.append(notice(self.path, self.backup))
        return "\n".join(lines)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _show(v: Any) -> str:
    if v is None:
        return "empty"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _diff(old: Any, new: Any, skip: tuple[str, ...] = ()) -> str:
    parts = []
    names = old._fields if isinstance(old, Rating) else [f.name for f in fields(old)]
    for name in names:
        if name in skip:
            continue
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            parts.append(f"{name} {_show(a)} -> {_show(b)}" if name != "description" else "description changed")
    return ", ".join(parts)


def resolve_database_path(path: str | os.PathLike[str]) -> Path:
    """The one path of a database, whichever path names it: absolute, with
    every symlink resolved (``os.path.realpath``; a link to a file that does
    not exist yet resolves to that file). Every file of the database — the
    workflow file, the locks, the audit archive — sits beside the real file,
    so a link and the real path share one set of files and one set of
    locks, and a write through the link replaces the target, not the link.

    Raises ``DatabaseError`` when the path is not valid UTF-8 (a file name
    in another encoding: the database's name is stored as text) or cannot
    be resolved."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DatabaseError(f"{printable(text)}: the file name is not valid UTF-8 text (another encoding?); "
                            "rename it to open it") from None
    try:
        return Path(os.path.realpath(text))
    except (OSError, ValueError) as err:  # (a symlink loop raises on strict platforms only)
        raise DatabaseError(f"{printable(text)}: cannot resolve the path: {err}") from None


class Database:
    """The caseload database file (and its workflow sidecar).

    ``path`` is resolved once, here (``resolve_database_path``); ``self.path``
    is the real file."""

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False):
        self.path = resolve_database_path(path)
        self.read_only = read_only
        self._store = LockedStore(self.path, read_only=read_only, check=schema.check_tables, label="database",
                                  encode=_encode_database)
        self._sidecar: LockedStore | None = None
        self.upgraded_backup: Path | None = None  # set when a write upgraded a format-1 file (its backup)

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r}, read_only={self.read_only})"

    # -- files ------------------------------------------------------------------

    @property
    def sidecar_path(self) -> Path:
        """``<stem>.workflow.json`` next to the database."""
        return self.path.with_name(self.path.stem + SIDECAR_SUFFIX)

    @property
    def sidecar(self) -> LockedStore:
        """The workflow store (reviews, actions, audit): a ``LockedStore``
        with the database's read-only setting. Its content is up to the
        workflow layer; it does not exist until the first write."""
        if self._sidecar is None:
            self._sidecar = LockedStore(self.sidecar_path, read_only=self.read_only, label="workflow file")
        return self._sidecar

    @property
    def store(self) -> LockedStore:
        return self._store

    @property
    def archive_dir(self) -> Path:
        """The workflow file's audit archive folder (``store.reviews``)."""
        return self.sidecar_path.with_name(self.sidecar_path.stem + ".audit")

    def owned_paths(self) -> list[Path]:
        """Every path this database lives in: the file, its workflow file,
        their lock files and the audit archive folder (resolved)."""
        return [self.path, self.sidecar_path, self._store.lock_path, self.sidecar.lock_path, self.archive_dir]

    def check_output(self, out: str | os.PathLike[str]) -> None:
        """Refuse (``UserError``) an output path that is one of
        ``owned_paths`` or inside the audit archive — compared after
        resolving symlinks, ``..`` and relative paths — so that no report or
        export can replace the caseload, its reviews or their audit trail."""
        try:
            target = Path(os.path.realpath(out))
        except (OSError, ValueError):
            target = Path(os.path.abspath(out))
        names = {self.path: "the database", self.sidecar_path: "the workflow file (reviews, action items, audit "
                 "trail) of the database", self._store.lock_path: "the lock file of the database",
                 self.sidecar.lock_path: "the lock file of the workflow file of the database",
                 self.archive_dir: "the audit archive of the database"}
        what = names.get(target)
        if what is None and target.is_relative_to(self.archive_dir):
            what = "inside the audit archive of the database"
        if what is not None:
            raise UserError(f"{printable(os.fspath(out))}: refusing to write there: it is {what} "
                            f"{printable(str(self.path))}; choose another file")

    def exists(self) -> bool:
        return self.path.exists()

    def _require(self) -> dict:
        data = self._store.read()
        if not data:
            raise DatabaseError(f"{self.path}: no such database. Create one with: "
                                f"supervision-tui import {self.path} MEASURES.csv")
        return data

    def _writable(self) -> None:
        if self.read_only:
            raise DatabaseError(f"{self.path}: opened read-only; nothing can be saved")
        try:
            ensure_private_dir(self.path.parent)
        except FileWriteError as err:
            raise DatabaseError(str(err)) from err

    # -- reading ------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """The meta document (schema_version, created, name)."""
        return dict(schema.check_meta(self._require()[schema.META]))

    def load(self) -> Caseload:
        """The whole caseload. Raises DatabaseError when the file is missing
        or invalid. Either format (1 or 2); nothing is ever written."""
        with gc_paused():
            raw = self._store._read_bytes()
            if raw is not None and columnar.looks_like_v2(raw):
                split = self._split(raw)
                if split is not None:
                    return self._caseload_v2(split.head, split.docs)
            return self._caseload(self._require(), consume=True)

    def split(self) -> "columnar.SplitFile | None":
        """The file split per client (format 2 in the product's layout, see
        ``columnar.split_file``), its head checked; None for a format-1 file
        (use ``load()``). Raises DatabaseError like ``load()``."""
        raw = self._store._read_bytes()
        if raw is None:
            self._require()
        if not columnar.looks_like_v2(raw):
            return None
        return self._split(raw)

    def _split(self, raw: bytes) -> "columnar.SplitFile | None":
        """``columnar.split_checked``: None when the bytes are not a valid
        format-2 file (the generic path then names the problem)."""
        return columnar.split_checked(raw)

    def _caseload_v2(self, head: dict, docs: list[tuple[str, bytes]] | dict[str, Any]) -> Caseload:
        """The caseload of a format-2 file: ``docs`` as (id, bytes) pairs from
        ``split_file`` or as the parsed ``clients`` table."""
        try:
            meta = schema.check_meta(head[schema.META])
            cl = Caseload(name=schema.caseload_name(meta) or printable(self.path.stem))
            for doc_id, doc in head.get(schema.CLINICIANS, {}).items():
                c = schema.clinician_from_doc(doc_id, doc)
                cl.clinicians[c.id] = c
            ratings: list[Rating] = []
            goals: list[Goal] = []
            items = docs.items() if isinstance(docs, dict) else docs
            for doc_id, doc in items:
                if isinstance(doc, bytes):
                    try:
                        data = columnar.decode_bytes(doc_id, doc)
                    except columnar.NotOneDocument:
                        return self._caseload(self._require())  # an unusual layout: parse the file whole
                else:
                    data = columnar.decode_client(doc_id, doc)
                if data.client is not None:
                    cl.clients[data.code] = data.client
                ratings += data.ratings
                goals += data.goals
            cl.ratings = ratings
            cl.goals = goals
        except schema.SchemaError as err:
            raise DatabaseError(f"{self.path}: cannot read the database: not a valid supervision-tui "
                                f"database: {err}. The file was not changed.") from None
        return cl

    def _caseload(self, data: dict, consume: bool = False) -> Caseload:
        """Check ``data`` and build the model. ``consume``: empty the
        measures table of ``data`` while reading it, so each parsed JSON
        document is freed as soon as its Rating exists (the peak memory of a
        load is then about the larger of the two, not their sum)."""
        if schema.check_meta(data[schema.META])["schema_version"] >= 2:
            return self._caseload_v2(data, data.get(schema.CLIENTS, {}))
        try:
            meta = schema.check_meta(data[schema.META])
            cl = Caseload(name=schema.caseload_name(meta) or printable(self.path.stem))
            for doc_id, doc in data.get(schema.CLINICIANS, {}).items():
                c = schema.clinician_from_doc(doc_id, doc)
                cl.clinicians[c.id] = c
            for doc_id, doc in data.get(schema.CLIENTS, {}).items():
                c = schema.client_from_doc(doc_id, doc)
                cl.clients[c.code] = c
            from_doc = schema.RatingReader()
            measures = data.get(schema.MEASURES, {})
            doc_ids = list(measures)  # to name duplicates (the documents are consumed below)
            if consume:
                pop = measures.popitem  # last document first: reversed below
                ratings = [from_doc(*pop()) for _ in range(len(measures))]
                ratings.reverse()
                cl.ratings = ratings
            else:
                cl.ratings = [from_doc(doc_id, doc) for doc_id, doc in measures.items()]
            schema.check_unique_ratings(cl.ratings, doc_ids)
            cl.goals = [schema.goal_from_doc(doc_id, doc) for doc_id, doc in data.get(schema.GOALS, {}).items()]
        except schema.SchemaError as err:
            raise DatabaseError(f"{self.path}: cannot read the database: not a valid supervision-tui "
                                f"database: {err}. The file was not changed.") from None
        return cl

    # -- writing ---------------------------------------------------------------------

    @staticmethod
    def _tables(cl: Caseload, meta: dict[str, Any]) -> dict[str, dict[str, dict]]:
        """The canonical file content of a caseload (sorted, ids 1..n)."""

        def table(docs: list[dict]) -> dict[str, dict]:
            return {str(i): d for i, d in enumerate(docs, start=1)}

        clients = dict(cl.clients)
        clinician_ids = {c.clinician for c in clients.values() if c.clinician}
        clinician_ids |= {r.clinician for r in cl.ratings}
        clinicians = dict(cl.clinicians)
        for cid in clinician_ids - clinicians.keys():
            clinicians[cid] = Clinician(cid)
        meta = dict(meta, schema_version=schema.SCHEMA_VERSION)  # (a format-1 file is upgraded by this write)
        return {
            schema.META: {"1": meta},
            schema.CLINICIANS: table([schema.clinician_to_doc(clinicians[k]) for k in sorted(clinicians)]),
            schema.CLIENTS: table(columnar.client_docs(clients, cl.ratings, cl.goals)),
        }

    def _upgrade_hook(self, report: ImportReport | None = None) -> Callable[[bytes | None, dict], None]:
        """``transaction(before_write=...)``: before a format-1 file is
        replaced, its bytes are copied to a backup beside it (store/migrate.py)."""
        def before_write(raw: bytes | None, _new: dict) -> None:
            if raw is None:
                return
            version = columnar.file_version(raw)
            if version is None:  # not laid out as the product writes it: read the version properly
                try:
                    version = schema.check_meta(json.loads(raw)[schema.META])["schema_version"]
                except (ValueError, KeyError, TypeError, schema.SchemaError):
                    version = 1
            if version >= columnar.SCHEMA_VERSION:
                return
            from supervision_tui.store.migrate import write_backup

            backup = write_backup(self.path, raw)
            self.upgraded_backup = backup
            if report is not None:
                report.backup = backup
        return before_write

    def replace_caseload(self, caseload: Caseload) -> None:
        """Write ``caseload`` as the whole content of the database (keeps
        ``created`` of an existing file). Clients and clinicians that only
        appear in ratings are added (status active, role unknown). An
        existing file that is not a valid database is refused, not
        overwritten."""
        self._writable()
        cl = Caseload(dict(caseload.clients), dict(caseload.clinicians), list(caseload.ratings),
                      list(caseload.goals), caseload.name)
        for code, clinician in _latest_clinicians(cl.ratings).items():
            if code not in cl.clients:
                cl.clients[code] = Client(code, clinician)
        with self._store.transaction(before_write=self._upgrade_hook()) as data:
            if data:
                self._caseload(data)  # a damaged file may hold what someone needs: never overwrite it
            created = schema.check_meta(data[schema.META]).get("created") if data else None
            meta = schema.new_meta(caseload.name, created or _now())
            new = self._tables(cl, meta)
            data.clear()
            data.update(new)

    def import_parsed(self, parsed) -> ImportReport:
        """Merge validated CSV content (``csv_io.ParsedImport``) into the
        database, all-or-nothing. Creates the database when missing.

        Same rows again: nothing changes (and the file is not rewritten).
        A row with the key of an existing one but other values replaces it
        and is reported as an update. An empty goal description never
        erases a stored one. Raises ValidationFailed when the merged data
        would break a cross-row rule (e.g. a session with two dates, or a
        goal whose client is unknown); DatabaseError for file problems.

        ``parsed`` with ``errors`` (files that did not validate, read with
        ``keep_errors``) is never imported: the rows that could be read are
        checked against the database as a valid import's would be, and
        ValidationFailed lists the files' errors with those of the checks,
        so one run lists every error. The database is only read (no lock,
        nothing created); when it cannot be read, the checks that need it
        are left out and the files' errors are listed alone.
        """
        from supervision_tui.store.csv_io import session_errors, sorted_errors

        if parsed.errors:
            try:
                data = self._store.read()
                old = self._caseload(data) if data else Caseload(name=self.path.stem)
            except DatabaseError:  # (the files' errors come first, as without the database)
                raise ValidationFailed(sorted_errors(parsed.errors)) from None
            self._merge(old, parsed, ImportReport(path=self.path, files=list(parsed.files)), session_errors)
            raise AssertionError("unreachable: _merge raises on a parsed import with errors")  # pragma: no cover
        self._writable()
        report = ImportReport(path=self.path, files=list(parsed.files))
        with self._store.transaction(before_write=self._upgrade_hook(report)) as data:
            report.created = not data
            old = self._caseload(data) if data else Caseload(name=self.path.stem)
            meta = dict(schema.check_meta(data[schema.META])) if data else schema.new_meta(self.path.stem, _now())
            merged = self._merge(old, parsed, report, session_errors)
            new = self._tables(merged, meta)
            report.clinicians_added = len(new[schema.CLINICIANS]) - len(data.get(schema.CLINICIANS, {}))
            report.written = bool(report.created or report.clinicians_added or any(
                c.added or c.updated for c in (report.measures, report.clients, report.goals)))
            data.clear()
            data.update(new)
        return report

    @staticmethod
    def _merge(old: Caseload, parsed, report: ImportReport, session_errors) -> Caseload:
        # measures
        ratings = {r.key: r for r in old.ratings}
        incoming = {}
        kept = []
        columns = parsed.measure_columns
        for r, origin in zip(parsed.ratings, parsed.rating_origins):
            prev = ratings.get(r.key)
            if prev is not None:
                r = _keep_absent(prev, r, columns.get(origin[0]))
            label = f"{r.client} session {r.session} {r.instrument or 'no instrument'} ({r.rater})"
            _tally(report.measures, report.updates, prev, r, label)
            incoming[r.key] = r
            kept.append(r)
        # rows of files with errors (``csv_io.ParsedImport.partial``: never imported) are checked too,
        # in the order they were read, each replacing the stored row of its key as it would once valid
        partial_keys = {r.key for r, _o in parsed.partial}
        entries = [(r, None) for k, r in ratings.items() if k not in incoming and k not in partial_keys]
        order = parsed.file_order()
        read = list(zip(kept, parsed.rating_origins))
        if parsed.partial:
            read = sorted(read + parsed.partial, key=lambda e: (order.get(e[1][0], 99), e[1][1]))
        entries += read
        # (files with errors: their rows among themselves were checked when read, and reported there)
        problems = session_errors(entries, order, database_only=bool(parsed.errors))
        ratings.update(incoming)
        all_ratings = list(ratings.values())

        # clients
        clients = dict(old.clients)
        for c in parsed.clients:
            _tally(report.clients, report.updates, clients.get(c.code), c, f"client {c.code}")
            clients[c.code] = c
        named = {c.code for c in parsed.clients}
        mentioned = {r.client for r in parsed.ratings}
        for code, clinician in _latest_clinicians(all_ratings).items():
            if code not in clients:
                clients[code] = Client(code, clinician)
                report.clients.added += 1
            elif code in mentioned and code not in named:
                report.clients.unchanged += 1  # (a re-import of measures alone: its clients are there already)

        # goals
        goals = {(g.client, g.goal_id): g for g in old.goals}
        for g in parsed.goals:
            prev = goals.get((g.client, g.goal_id))
            if prev is not None and not g.description and prev.description:
                g = Goal(g.client, g.goal_id, prev.description, g.set_session, g.agreement, g.status,
                         g.reviewed_session)
            _tally(report.goals, report.updates, prev, g, f"goal {g.goal_id} of {g.client}")
            goals[(g.client, g.goal_id)] = g

        # goals for clients unknown everywhere
        unknown = parsed.unresolved_keyed(clients.keys())
        if parsed.errors or problems or unknown:
            from supervision_tui.store.csv_io import sorted_errors

            raise ValidationFailed(sorted_errors(parsed.errors, problems, unknown))
        return Caseload(clients, dict(old.clinicians), all_ratings, list(goals.values()), old.name)


#: rating fields a measures file may leave out (its other columns are required or make the row's key)
_OPTIONAL_RATING_COLUMNS = ("attendance", "total", "goal", "task", "bond", "rupture", "rupture_type", "risk")
_SUBSCALES = ("goal", "task", "bond")


def _keep_absent(prev: Rating, new: Rating, columns: frozenset[str] | None) -> Rating:
    """``new`` (a row updating the stored ``prev``) with ``prev``'s value in
    every optional column its file leaves out: a file without a ``risk``
    column says nothing about risk (clinical-rules §6: an empty cell is
    "not asked", and a missing column is not even that), so a stored ``yes``
    stays; a column that is there, even empty, is the file's word and
    replaces the stored value (reported as an update). Subscales the file
    leaves out are kept only while the total and the subscales it gives stay
    what they were (a total must agree with its subscales), a rupture type
    only with a rupture."""
    if columns is None:
        return new
    keep = {c: getattr(prev, c) for c in _OPTIONAL_RATING_COLUMNS if c not in columns}
    if any(c in keep for c in _SUBSCALES) and (
            new.total != prev.total or any(getattr(new, c) != getattr(prev, c) for c in _SUBSCALES if c in columns)):
        for c in _SUBSCALES:  # (a changed total or subscale: the stored others would no longer add up)
            keep.pop(c, None)
    if "rupture_type" in keep and keep.get("rupture", new.rupture) is not True:
        keep.pop("rupture_type")
    if "total" in keep and any(getattr(new, c) is not None for c in _SUBSCALES if c in columns):
        keep.pop("total")  # (the file's subscales give the total: it was derived from them)
    changed = {c: v for c, v in keep.items() if getattr(new, c) != v}
    return new._replace(**changed) if changed else new


def _tally(counts, updates: list[str], prev, new, label: str) -> None:
    """Count one incoming row as added, unchanged or updated (with a line
    saying what changed)."""
    if prev is None:
        counts.added += 1
    elif prev == new:
        counts.unchanged += 1
    else:
        counts.updated += 1
        updates.append(f"{label}: {_diff(prev, new)}")


def _rating_order(r: Rating) -> tuple:
    return (r.client, r.session, r.instrument or "", r.rater)


def _latest_clinicians(ratings: list[Rating]) -> dict[str, str]:
    """Per client: the clinician of its highest-numbered session."""
    latest: dict[str, tuple[int, str]] = {}
    for r in ratings:
        cur = latest.get(r.client)
        if cur is None or r.session > cur[0]:
            latest[r.client] = (r.session, r.clinician)
    return {code: c for code, (_s, c) in latest.items()}
