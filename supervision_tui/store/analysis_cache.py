"""A private cache of each client's analysis, so a start re-analyses only
the clients whose data changed.

Running the rules on 5 000 clients takes about a second; most starts follow
a change of one client (an import of this week's sessions touches the
clients seen this week), of the workflow file (a review, a colleague's
note) or of nothing. The loader (``supervision_tui/ui/loader.py``) keeps, per
client, the engine's ``ClientAnalysis`` and the few display values derived
from its rows (the alliance sparkline), keyed by that client's content.

Keys: what may and may not make an entry stale
----------------------------------------------

* One file per (database path, rule settings, evaluation day, program):
  ``analysis-<digest>.bin`` where the digest covers the database's
  absolute path, ``settings_fingerprint`` (the settings that change rule
  results, and the instrument registry), the evaluation day (the as-of
  date, else today's: a rule may count days to it, as risk's
  ``expire_days`` does; so the first start of a day analyses every client
  again, behind the triage cache's rows), the program's
  version, ``CACHE_VERSION``, the shape of the result types
  (``results_fingerprint``: their field names) and the program's code
  (``triage_cache.code_fingerprint``). A threshold setting, a new program
  version, a changed rule or a new result field therefore starts from a new file;
  display-only settings (theme, keys, ``[ui]``) are not part of it.
* Within a file, an entry's key is the client's **content hash**: the
  BLAKE2b digest of its format-2 document (``columnar.content_hash``) —
  its sessions, rows, goals and client fields. A new session of one client
  changes that client's key only.
* The workflow file (reviews, action items, notes) is no input of the
  rules: a review save or another reviewer's note never touches this cache.

Caseload-wide rules (``rules.context.CaseloadRule``: a verdict that depends
on every client, e.g. the not-on-track reference fitted over the clinic):
an entry holds the client's analysis by the per-client rules and its
*shares* of the caseload-wide rules, both functions of the client's own
data, so they are keyed by its content hash like the rest. The loader
combines every client's shares (cached or new) and judges each client
against the result on every load (``rules.engine.finish_client``: a few
arithmetic operations per client), so a change of one client re-analyses
that client only, and yet every client is judged against the caseload as
it is now. The effectiveness cases (``reports.effectiveness.client_cases``)
are kept the same way.

Safety: files are ``0o600`` in a ``0o700`` folder (``triage_cache.cache_dir``),
written atomically without fsync (a cache lost in a crash only costs time).
The file ends with a BLAKE2b checksum of everything before it; a damaged
file is ignored as if absent. Entries are pickles of the rules' own frozen
dataclasses, read with ``load_entry``: an unpickler that can build only
``datetime.date`` and the dataclasses of ``supervision_tui.rules`` and
``supervision_tui.instruments`` (an analysis refers to its instruments; no
other callable, so a tampered file cannot run code), and a result whose
shape is wrong is rejected.

No Textual import.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import struct
import time
from datetime import date
from pathlib import Path
from typing import Any

from supervision_tui import __version__
from supervision_tui.store.files import ReadDescriptor

CACHE_VERSION = 3  # 2: the sparkline's arguments, not its glyphs; 3: the shares of the caseload-wide rules
"""Bump when what an entry holds changes meaning (not needed for a new
result field: ``results_fingerprint`` sees it)."""

MAGIC = b"supervision-tui analysis cache\n"
_ENTRY = struct.Struct(">16sI")
_SUM_SIZE = 32
MAX_AGE_DAYS = 30  # files of other settings / as-of dates unused this long are removed


def results_fingerprint() -> str:
    """The field names of every result dataclass of the rules (a changed
    result type never reads an old entry)."""
    import supervision_tui.rules.results as results

    parts = []
    for name in sorted(vars(results)):
        obj = getattr(results, name)
        if isinstance(obj, type) and dataclasses.is_dataclass(obj):
            parts.append(name + ":" + ",".join(f.name for f in dataclasses.fields(obj)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_file(db_path: Path | str, settings: Any, as_of: date | None, *, today: date | None = None) -> Path:
    """The cache file of a load; ``today``: its evaluation day without
    ``as_of`` (default: the real today; the loader fixes it once per load)."""
    from supervision_tui.store.triage_cache import cache_dir, code_fingerprint, settings_fingerprint

    # the evaluation day: the as-of day, else today (a rule may count days to it: risk's expire_days)
    day = as_of.isoformat() if as_of else f"today {(today or date.today()).isoformat()}"
    ident = "\0".join([str(Path(db_path).absolute()), settings_fingerprint(settings), day,
                       __version__, str(CACHE_VERSION), results_fingerprint(), code_fingerprint()])
    return cache_dir() / f"analysis-{hashlib.sha256(ident.encode('utf-8')).hexdigest()[:32]}.bin"


# --- entries ----------------------------------------------------------------------------


# A frozen dataclass pickles through Python-level __getstate__/__setstate__
# (dataclasses.fields() on every object): a third of the cost of the rules
# themselves. The result classes are pickled instead as (constructor, field
# values), the constructor being ``model.trusted_constructor(cls)`` (the
# values come from the engine or, when read back, are only ever the
# engine's own values).
_CTORS: dict[str, Any] = {}
_DISPATCH: dict[type, Any] = {}


def _register_results() -> None:
    if _DISPATCH:
        return
    import supervision_tui.rules.results as results
    from supervision_tui.model import trusted_constructor

    for cls_name in sorted(vars(results)):
        cls = getattr(results, cls_name)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == results.__name__):
            continue
        try:
            ctor = trusted_constructor(cls)
        except TypeError:  # (not slotted, or with __post_init__: the default pickling)
            continue
        name = f"_new_{cls.__name__}"
        ctor.__name__ = ctor.__qualname__ = name
        ctor.__module__ = __name__
        globals()[name] = ctor
        _CTORS[name] = ctor
        values = ", ".join(f"o.{f.name}" for f in dataclasses.fields(cls))
        scope: dict[str, Any] = {"_ctor": ctor}
        exec(f"def reduce(o):\n    return (_ctor, ({values},))\n", scope)
        _DISPATCH[cls] = scope["reduce"]


def dump_entry(code: str, analysis: Any, extras: dict[str, Any], shares: dict[str, Any] | None = None,
               cases: list | None = None) -> bytes:
    """One client's cached value: its code, its analysis by the per-client
    rules (``rules.engine.analyse_part``; None: the client has no record,
    e.g. known only from a goal), display extras, its shares of the
    caseload-wide rules (plain values) and its effectiveness cases
    (``reports.effectiveness.client_cases``)."""
    _register_results()
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=5)
    p.dispatch_table = _DISPATCH
    p.dump((code, analysis, extras, shares, cases or []))
    return buf.getvalue()


class _RulesOnly(pickle.Unpickler):
    """Builds only dates, the rules' dataclasses and their constructors."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" and name == "date":
            return date
        if module == __name__:
            _register_results()
            ctor = _CTORS.get(name)
            if ctor is not None:
                return ctor
        if (module.startswith("supervision_tui.rules.") or module == "supervision_tui.instruments") and "." not in name:
            import importlib

            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                return obj
        raise pickle.UnpicklingError(f"not allowed in an analysis cache: {module}.{name}")


class BadEntry(ValueError):
    """A cached value that is not what the loader writes."""


def load_entry(blob: bytes) -> tuple[str, Any, dict[str, Any], dict[str, Any] | None, list]:
    """``(code, analysis or None, extras, shares or None, cases)`` from
    ``dump_entry``'s bytes. Raises ``BadEntry`` for anything else."""
    from supervision_tui.rules.results import ClientAnalysis

    try:
        value = _RulesOnly(io.BytesIO(blob)).load()
    except Exception as err:  # any damage: the caller re-analyses
        raise BadEntry(f"unreadable entry: {type(err).__name__}") from None
    if (type(value) is not tuple or len(value) != 5 or type(value[0]) is not str or type(value[2]) is not dict
            or not (value[1] is None or type(value[1]) is ClientAnalysis)
            or not (value[3] is None or type(value[3]) is dict) or type(value[4]) is not list):
        raise BadEntry("unexpected entry")
    a = value[1]
    if a is not None and (a.client != value[0] or type(a.tier) is not int or type(a.flags) is not tuple):
        raise BadEntry("unexpected analysis")
    return value


# --- the file ---------------------------------------------------------------------------


def read_cache(path: Path, wanted: set[bytes] | frozenset[bytes] | None = None) -> dict[bytes, bytes]:
    """content hash (16 bytes) -> entry bytes; {} when there is no valid file.
    ``wanted``: keep only these keys. The file is read a block at a time and
    checked as it goes (its checksum covers it all: nothing is returned
    before the end)."""
    with open_cache(path, wanted) as entries:
        return {key: entries.get(key) for key in entries.keys()}


class CachedEntries(ReadDescriptor):
    """The valid entries of a cache file, read when asked (``get``) from the
    file checked whole when it was opened (``open_cache``): a loader worker
    holds its clients' offsets, not their bytes."""

    def __init__(self, fd: int | None = None, index: dict[bytes, tuple[int, int]] | None = None):
        self._fd = fd
        self._index = index or {}

    def keys(self):
        return self._index.keys()

    def __len__(self) -> int:
        return len(self._index)

    def get(self, key: bytes) -> bytes | None:
        where = self._index.get(key)
        if where is None or self._fd is None:
            return None
        offset, n = where
        try:
            data = os.pread(self._fd, n, offset)
        except OSError:
            return None
        return data if len(data) == n else None


def open_cache(path: Path, wanted: set[bytes] | frozenset[bytes] | None = None) -> CachedEntries:
    """The cache file's entries (only the keys in ``wanted``, when given),
    after reading the whole file a block at a time to check its checksum;
    none when there is no valid file. The descriptor stays open: an entry
    is read from the file that was checked, even if it is replaced meanwhile."""
    from supervision_tui.store.files import open_read_only

    try:
        fd = open_read_only(path)
    except OSError:
        return CachedEntries()
    try:
        index = _index_entries(fd, wanted)
    except OSError:
        index = None
    if not index:
        os.close(fd)
        return CachedEntries()
    return CachedEntries(fd, index)


_READ_BLOCK = 1 << 20


def _index_entries(fd: int, wanted: set[bytes] | frozenset[bytes] | None) -> dict[bytes, tuple[int, int]] | None:
    """key -> (offset, length) of each wanted entry; None when the file is
    not a valid cache file (wrong start, cut, or its checksum differs)."""
    size = os.fstat(fd).st_size
    body_end = size - _SUM_SIZE
    if body_end < len(MAGIC) or os.pread(fd, len(MAGIC), 0) != MAGIC:
        return None
    checksum = hashlib.blake2b(MAGIC, digest_size=_SUM_SIZE)
    index: dict[bytes, tuple[int, int]] = {}
    header = _ENTRY.size
    offset = len(MAGIC)  # of the next block
    entry = offset  # where the next entry starts
    buf = b""  # the bytes from ``entry`` on that are read (at most an entry's header: no entry is kept)
    skip = 0  # bytes of the current entry's body still to pass
    while offset < body_end:
        block = os.pread(fd, min(_READ_BLOCK, body_end - offset), offset)
        if not block:
            return None  # (shorter than it said)
        checksum.update(block)
        offset += len(block)
        pos = 0
        while True:
            if skip:
                step = min(skip, len(block) - pos)
                skip -= step
                pos += step
                if skip:
                    break
            need = header - len(buf)
            if len(block) - pos < need:
                buf += block[pos:]
                break
            head = buf + block[pos:pos + need]
            pos += need
            buf = b""
            key, n = _ENTRY.unpack(head)
            if wanted is None or key in wanted:
                index[key] = (entry + header, n)
            entry += header + n
            skip = n
    if buf or skip or os.pread(fd, _SUM_SIZE, body_end) != checksum.digest():
        return None  # a cut entry, or not the bytes that were written
    return index


def write_cache(path: Path, entries: dict[bytes, bytes]) -> Path | None:
    """Write ``entries`` (content hash -> entry bytes) as the cache file;
    returns it, or None when it could not be written (never an error)."""
    writer = CacheWriter.open(path)
    if writer is None:
        return None
    for key, blob in entries.items():
        writer.add(key, blob)
    return writer.commit()


class CacheWriter:
    """A cache file written an entry at a time as entries come (the app's
    load thread writes each client's entry as it arrives and keeps no
    copy), put in place whole by ``commit`` or dropped by ``discard``. A
    cache is best effort: a write that fails drops the file, never raises."""

    #: entries are written this many bytes at a time (one write, not two per client, on the app's
    #: load thread while the workers need the CPU)
    FLUSH_BYTES = 1 << 20

    def __init__(self, path: Path, writer: Any):
        self.path = path
        self._writer = writer
        self._sum = hashlib.blake2b(MAGIC, digest_size=_SUM_SIZE)
        self.entries = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    @classmethod
    def open(cls, path: Path) -> "CacheWriter | None":
        from supervision_tui.store.files import FileWriteError, PrivateFileWriter, ensure_private_dir

        try:
            ensure_private_dir(path.parent)
            writer = PrivateFileWriter(path, durable=False)
            writer.write(MAGIC)
        except (OSError, FileWriteError):
            return None
        return cls(path, writer)

    def add(self, key: bytes, blob: bytes) -> None:
        if self._writer is None or len(key) != 16:
            return
        header = _ENTRY.pack(key, len(blob))
        self._sum.update(header)
        self._sum.update(blob)
        self.entries += 1
        self._pending += (header, blob)
        self._pending_bytes += len(header) + len(blob)
        if self._pending_bytes >= self.FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        from supervision_tui.store.files import FileWriteError

        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if self._writer is None or not pending:
            return
        try:
            self._writer.write(b"".join(pending))
        except (OSError, FileWriteError):
            writer, self._writer = self._writer, None
            writer.discard()  # (the temporary goes: nothing to commit)

    def commit(self) -> Path | None:
        """Put the file in place (then remove old cache files); None when
        it could not be written."""
        from supervision_tui.store.files import FileWriteError

        if self._writer is None:
            return None
        self._pending.append(self._sum.digest())
        self._flush()
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        try:
            written = writer.commit()
        except (OSError, FileWriteError):
            return None
        _remove_old(self.path.parent, keep=self.path)
        return written

    def discard(self) -> None:
        writer, self._writer = self._writer, None
        self._pending, self._pending_bytes = [], 0
        if writer is not None:
            writer.discard()


class PendingCache:
    """What one load will write to the cache file ``path``, gathered as the
    entries arrive, without keeping a second copy of the caseload in memory:

    * no file yet (a cold start): every entry is written to the new file
      as it arrives (``CacheWriter``) and nothing is kept;
    * a file already: only the entries analysed afresh are kept (a cached
      start keeps nothing); ``save`` then writes the new file from the old
      file's entries of the clients that were cached and the fresh ones.

    ``save`` is only worth calling when ``needed``; ``discard`` drops it all."""

    def __init__(self, path: Path):
        self.path = path
        self.stream = None if path.exists() else CacheWriter.open(path)
        self.fresh: dict[bytes, bytes] = {}
        self.cached: list[bytes] = []

    def add(self, key: bytes, blob: bytes, fresh: bool) -> None:
        if self.stream is not None:
            self.stream.add(key, blob)
        elif fresh:
            self.fresh[key] = blob
        else:
            self.cached.append(key)

    @property
    def needed(self) -> bool:
        return self.stream is not None or bool(self.fresh) or not self.path.exists()

    def save(self) -> Path | None:
        """Write the file (never an error: None when it could not be written)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            return stream.commit()
        fresh, self.fresh = self.fresh, {}
        cached, self.cached = self.cached, []
        writer = CacheWriter.open(self.path)
        if writer is None:
            return None
        try:
            with open_cache(self.path, wanted=set(cached)) as old:  # (the file the workers read, or a newer one)
                for key in cached:
                    blob = old.get(key)
                    if blob is not None:  # (not there any more: that client is analysed again next time)
                        writer.add(key, blob)
            for key, blob in fresh.items():
                writer.add(key, blob)
        except BaseException:
            writer.discard()
            raise
        return writer.commit()

    def discard(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.discard()
        self.fresh, self.cached = {}, []


def _remove_old(folder: Path, keep: Path, age: float = MAX_AGE_DAYS * 86400.0) -> None:
    now = time.time()
    try:
        for entry in os.scandir(folder):
            name = entry.name
            if entry.path == str(keep) or not (name.startswith("analysis-") or name.startswith(".analysis-")):
                continue
            try:
                if now - entry.stat().st_mtime > (age if name.endswith(".bin") else 600.0):
                    os.unlink(entry.path)
            except OSError:
                pass
    except OSError:
        pass
