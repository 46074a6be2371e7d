"""Schema version 2: one document per client, its rows column-wise.

Version 1 kept one JSON document per rating row (``measures``): a 5 000-client
caseload was 557 000 small objects to parse and check, and as many dicts in
memory while loading. Version 2 keeps, per client, one document of compact
arrays::

    {"code": "C-0001",
     "client": {"clinician": "T01", "status": "active", "started": "2025-01-06"},
     "goals": [{"goal_id": "G1", "description": "", "set_session": 1, "agreement": "agreed",
                "status": "active", "reviewed_session": null}],
     "sessions": {"number": [1, 2], "date": ["2025-01-06", "2025-01-13"],
                  "clinician": ["T01", "T01"], "attendance": ["attended", "no_show"],
                  "rows": [2, 1]},
     "instruments": ["SRS", "WAI-SR"],
     "rows": {"instrument": [0, 1, null], "rater": [0, 0, 0], "total": [36.5, 44, null],
              "goal": [null, 15, null], ...}}

* ``client``: the clients-table part (``null`` for a client known only from
  its ratings or goals, as a v1 file could hold).
* ``sessions``: runs of consecutive rows sharing session number, date,
  clinician and attendance (one run per session in any file the product
  writes; a run count per run in ``rows``).
* ``rows``: one array per rating field, each as long as the sum of
  ``sessions.rows``; ``instrument`` and ``rater`` hold indices into the
  document's ``instruments`` list and into ``RATERS`` (``client``,
  ``therapist``); a column left out is all null (``rater``: all ``client``).
  Rows are in the canonical order (session, instrument, rater).

Every value goes through the same checks as a v1 document (codes, whole
numbers, dates, vocabularies, numbers that are numbers, total present when
an instrument is), column by column: a ``SchemaError`` names the client
document, the field and the row.

File layout
-----------

The file stays one TinyDB-compatible JSON object of tables (``meta``,
``clinicians``, ``clients``). The product writes the ``clients`` table last,
one document per line::

    {"meta":{...},"clinicians":{...},"clients":{
    "1":{"code":"C-0001",...},
    "2":{"code":"C-0002",...}}}

Raw newlines cannot occur inside a JSON string, so the lines can be parsed
one by one (``split_file``): the loader parses only what it needs, keeps each
client's bytes (a compact form to rebuild the client from when it is opened)
and hashes them (the per-client analysis cache, ``analysis_cache.py``). A
file of any other layout (indented by hand, written by TinyDB) is parsed
whole: same content, same result.
"""

from __future__ import annotations

import hashlib
import os
import re
from itertools import accumulate, repeat
from operator import add, le, lt
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from supervision_tui.instruments import REGISTRY
from supervision_tui.model import (
    ATTENDANCE,
    RATERS,
    RUPTURE_TYPES,
    Client,
    ClientRecord,
    Goal,
    Rating,
    Session,
    new_session,
    ratings_of_columns,
    sessions_of_columns,
)
from supervision_tui.store import schema
from supervision_tui.store.files import ReadDescriptor, open_read_only
from supervision_tui.store.sanitize import printable
from supervision_tui.store.schema import SchemaError

try:  # orjson: 2-5x faster on these arrays; the standard json module otherwise
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson = None

SCHEMA_VERSION = 2
CLIENTS = schema.CLIENTS
TABLES_V2 = (schema.META, schema.CLINICIANS, CLIENTS)

ROW_NUMBERS = ("total", "goal", "task", "bond")
ROW_FIELDS = ("instrument", "rater", "total", "goal", "task", "bond", "rupture", "rupture_type", "risk")
SESSION_FIELDS = ("number", "date", "clinician", "attendance", "rows")
DOC_KEYS = frozenset({"code", "client", "goals", "sessions", "instruments", "rows"})
_CLIENT_KEYS = frozenset({"clinician", "status", "started"})
_GOAL_KEYS = frozenset({"goal_id", "description", "set_session", "agreement", "status", "reviewed_session"})


# --- JSON ---------------------------------------------------------------------------


def loads(data: bytes | str) -> Any:
    """Parse JSON (orjson when installed). Raises ``ValueError``."""
    if _orjson is not None:
        return _orjson.loads(data)
    import json

    return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, UTF-8, keys in the given order; NaN refused."""
    if _orjson is not None:
        return _orjson.dumps(obj)
    import json

    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def content_hash(doc_bytes: bytes) -> bytes:
    """The identity of one client's content (its document's bytes)."""
    return hashlib.blake2b(doc_bytes, digest_size=16).digest()


# --- encoding -----------------------------------------------------------------------


def _num_out(v: float | None) -> float | int | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def encode_client(code: str, client: Client | None, ratings: list[Rating], goals: list[Goal]) -> dict[str, Any]:
    """One client's v2 document. ``ratings`` in any order (sorted here)."""
    rows = sorted(ratings, key=lambda r: (r.session, r.instrument or "", r.rater))
    numbers: list[int] = []
    dates: list[str] = []
    clinicians: list[str] = []
    attendance: list[str] = []
    counts: list[int] = []
    last = None
    for r in rows:
        key = (r.session, r.date, r.clinician, r.attendance)
        if key != last:
            numbers.append(r.session)
            dates.append(r.date.isoformat())
            clinicians.append(r.clinician)
            attendance.append(r.attendance)
            counts.append(0)
            last = key
        counts[-1] += 1
    instruments = sorted({r.instrument for r in rows if r.instrument is not None})  # by name: index order = row order
    inst_index = {name: i for i, name in enumerate(instruments)}
    cols: dict[str, list] = {
        "instrument": [None if r.instrument is None else inst_index[r.instrument] for r in rows],
        "rater": [RATERS.index(r.rater) for r in rows],
        "total": [_num_out(r.total) for r in rows],
        "goal": [_num_out(r.goal) for r in rows],
        "task": [_num_out(r.task) for r in rows],
        "bond": [_num_out(r.bond) for r in rows],
        "rupture": [r.rupture for r in rows],
        "rupture_type": [r.rupture_type for r in rows],
        "risk": [r.risk for r in rows],
    }
    out_rows = {}
    for name in ROW_FIELDS:
        col = cols[name]
        if name == "rater":
            if any(col):
                out_rows[name] = col
        elif any(v is not None for v in col):
            out_rows[name] = col
    doc: dict[str, Any] = {"code": code}
    doc["client"] = None if client is None else {
        "clinician": client.clinician,
        "status": client.status,
        "started": client.started.isoformat() if client.started else None,
    }
    doc["goals"] = [
        {"goal_id": g.goal_id, "description": g.description, "set_session": g.set_session,
         "agreement": g.agreement, "status": g.status, "reviewed_session": g.reviewed_session}
        for g in sorted(goals, key=lambda g: g.goal_id)
    ]
    doc["sessions"] = {"number": numbers, "date": dates, "clinician": clinicians, "attendance": attendance,
                       "rows": counts}
    doc["instruments"] = instruments
    doc["rows"] = out_rows
    return doc


def client_docs(clients: dict[str, Client], ratings: Iterable[Rating], goals: Iterable[Goal]) -> list[dict]:
    """The documents of a whole caseload, sorted by client code: every client
    of ``clients``, of a rating or of a goal gets one."""
    by_r: dict[str, list[Rating]] = {}
    for r in ratings:
        by_r.setdefault(r.client, []).append(r)
    by_g: dict[str, list[Goal]] = {}
    for g in goals:
        by_g.setdefault(g.client, []).append(g)
    codes = sorted(set(clients) | set(by_r) | set(by_g))
    return [encode_client(c, clients.get(c), by_r.get(c, []), by_g.get(c, [])) for c in codes]


def encode_file(head: dict[str, Any], docs: list[dict[str, Any]] | dict[str, dict[str, Any]]) -> bytes:
    """The whole file: ``head`` (meta, clinicians: tables in order) then the
    ``clients`` table, one document per line (see the module doc). ``docs``:
    the table (id -> document) or a list (ids 1, 2, ...)."""
    head = {k: v for k, v in head.items() if k != CLIENTS}
    parts = [dumps(head)[:-1]]  # without the closing brace
    parts.append(b"," if head else b"")
    parts.append(b'"clients":{')
    items = docs.items() if isinstance(docs, dict) else ((str(i), d) for i, d in enumerate(docs, start=1))
    lines = [b"%s:%s" % (dumps(str(k)), dumps(doc)) for k, doc in items]
    if lines:
        parts.append(b"\n")
        parts.append(b",\n".join(lines))
    parts.append(b"}}")
    return b"".join(parts)


# --- the file, split ------------------------------------------------------------------


_VERSION_RE = re.compile(rb'\A\s*\{\s*"meta"\s*:\s*\{\s*"1"\s*:\s*\{\s*"schema_version"\s*:\s*([0-9]{1,6})\s*[,}]')


def file_version(raw: bytes) -> int | None:
    """The schema version of a database file as the product writes it
    (``meta`` first); None when the start of the file says nothing (parse
    it whole to know)."""
    m = _VERSION_RE.match(raw[:256])
    return int(m.group(1)) if m else None


def looks_like_v2(raw: bytes) -> bool:
    """Format 2 as the product writes it (worth trying ``split_file``)."""
    return file_version(raw) == SCHEMA_VERSION


class NotOneDocument(SchemaError):
    """A line of the fast layout is not exactly one document: parse the
    file whole instead (it may still be valid JSON)."""


class SplitFile:
    """A v2 file: its head tables and each client document's bytes.

    ``ids[i]`` and ``doc(i)`` (the document's JSON bytes, sliced from the
    file only when asked: a worker of the loader takes only its share);
    ``docs`` lists them all as (id, bytes)."""

    def __init__(self, head: dict[str, Any], ids: list[str], raw: bytes | None,
                 spans: list[tuple[int, int]] | None, docs: list[bytes] | None, fast: bool):
        self.head = head  # every table but ``clients`` (checked by the caller)
        self.ids = ids
        self._raw = raw
        self._spans = spans
        self._docs = docs
        self.fast = fast  # the per-line layout was recognised

    def __len__(self) -> int:
        return len(self.ids)

    def doc(self, i: int) -> bytes:
        if self._spans is not None:
            a, b = self._spans[i]
            return self._raw[a:b]
        return self._docs[i]

    @property
    def docs(self) -> list[tuple[str, bytes]]:
        return [(self.ids[i], self.doc(i)) for i in range(len(self.ids))]


_LINE_START = re.compile(rb'"([0-9]{1,12})":\{')
_HEAD_END = b'"clients":{'


def split_file(raw: bytes) -> SplitFile:
    """Split a v2 file into its head and per-client documents. Parses only the
    head when the file has the product's layout; else parses the whole file
    (then each document's bytes are its compact re-encoding). Raises
    ``ValueError`` (not JSON) or ``SchemaError`` (wrong shape)."""
    fast = _split_fast(raw)
    if fast is not None:
        return fast
    data = loads(raw)
    if type(data) is not dict:
        raise SchemaError(f"the top level must be a JSON object of tables (got {type(data).__name__})")
    table = data.pop(CLIENTS, {})
    if type(table) is not dict:
        raise SchemaError(f'table "{CLIENTS}" must be a JSON object of documents')
    return SplitFile(data, list(table), None, None, [dumps(v) for v in table.values()], False)


def _head_of(head_text: bytes) -> dict[str, Any] | None:
    """The head tables of the per-line layout's first line (``clients``
    left out), or None when that line is not our layout's."""
    try:
        head = loads(head_text + b"}}")
    except ValueError:
        return None
    if type(head) is not dict or head.get(CLIENTS) != {} or list(head)[-1] != CLIENTS:
        return None
    del head[CLIENTS]
    return head


def _head_is_v2(head: dict[str, Any]) -> bool:
    """The head tables check (``schema.check_tables``, with an empty
    ``clients``) and say format 2."""
    try:
        schema.check_tables({**head, CLIENTS: {}})
        return schema.check_meta(head[schema.META])["schema_version"] == SCHEMA_VERSION
    except (ValueError, SchemaError, RecursionError):
        return False


def split_checked(raw: bytes) -> SplitFile | None:
    """``split_file`` of a format-2 file with its head checked
    (``schema.check_tables``); None when the bytes are not a valid format-2
    file (format 1, damaged...: the caller's whole-file path names the
    problem). The documents themselves are checked when decoded."""
    if not looks_like_v2(raw):
        return None
    try:
        split = split_file(raw)
    except (ValueError, SchemaError, RecursionError):
        return None
    return split if _head_is_v2(split.head) else None


def _split_fast(raw: bytes) -> SplitFile | None:
    """The per-line layout (see ``encode_file``), or None when the file does
    not have it. Equivalent to a whole-file parse: a raw newline is never
    inside a JSON string, ``head + "}}"`` parsing as an object whose last
    key opened is ``clients`` means the lines between are members of that
    table; each line must start with ``"<id>":{`` and end with ``},`` (the
    last with ``}}}``), and a line that is not exactly one document fails
    to parse on its own (``NotOneDocument``: the caller then parses the
    file whole). Nothing is copied but the head."""
    end = len(raw)
    while end and raw[end - 1] in b"\n\r\t ":
        end -= 1
    nl = raw.find(b"\n", 0, end)
    if nl < 0:  # one line: no client, or not our layout
        if not raw[:end].endswith(_HEAD_END + b"}}"):
            return None
        head_text = raw[:end - 2]
        spans: list[tuple[int, int]] = []
        ids: list[str] = []
    else:
        head_text = raw[:nl]
        if not head_text.endswith(_HEAD_END) or raw[end - 3:end] != b"}}}":
            return None
        ids, spans = [], []
        pos = nl + 1
        match = _LINE_START.match
        while True:
            nxt = raw.find(b"\n", pos, end)
            last = nxt < 0
            stop = end - 2 if last else nxt - 1  # without "}}" / ","
            if not last and raw[nxt - 1:nxt] != b",":
                return None
            m = match(raw, pos, stop)
            if m is None or raw[stop - 1:stop] != b"}":
                return None
            ids.append(m.group(1).decode("ascii"))
            spans.append((m.end() - 1, stop))
            if last:
                break
            pos = nxt + 1
    head = _head_of(head_text)
    if head is None:
        return None
    return SplitFile(head, ids, raw, spans, None, True)


class FilePart(ReadDescriptor):
    """One loader worker's share of a format-2 file: the head tables and
    its clients' document bytes, read from the file only when asked
    (``docs``), a chunk at a time.

    From ``read_part``. In the product's layout the share is the client
    lines that *start* in the worker's byte range of the file, read from
    an open descriptor (one file, even if it is replaced meanwhile); for any
    other layout the file was parsed whole and the share is a slice of its
    documents (``docs`` in memory)."""

    def __init__(self, head: dict[str, Any], ids: list[str], keys: list[bytes], *, fd: int | None = None,
                 spans: list[tuple[int, int]] | None = None, docs: list[bytes] | None = None,
                 identity: tuple | None = None):
        self.head = head
        self.ids = ids
        self.keys = keys  # content_hash of each document, as read when the share was found
        # (device, inode, size, modification time) of the file read: the workers' shares fit together
        # only if they all read the same file (the loader checks)
        self.identity = identity
        self._fd = fd
        self._spans = spans
        self._docs = docs

    def __len__(self) -> int:
        return len(self.ids)

    def docs(self, a: int, b: int) -> list[tuple[str, bytes]]:
        """(id, document bytes) of clients ``a`` to ``b - 1`` (one read)."""
        if self._docs is not None:
            return list(zip(self.ids[a:b], self._docs[a:b]))
        if a >= b:
            return []
        assert self._fd is not None and self._spans is not None
        start, stop = self._spans[a][0], self._spans[b - 1][1]
        data = _pread_all(self._fd, stop - start, start)
        if len(data) != stop - start or self._changed():
            raise NotOneDocument(f'table "{CLIENTS}": the file changed while it was read')
        return [(self.ids[i], data[x - start:y - start]) for i, (x, y) in zip(range(a, b), self._spans[a:b])]

    def _changed(self) -> bool:
        """Was the file written in place since the share was found (the
        product replaces its files whole; another program might not)?"""
        if self.identity is None or self._fd is None:
            return False
        return _identity(os.fstat(self._fd)) != tuple(self.identity)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """(device, inode, size, modification time) of an open file: the same
    file, unchanged, while these stay."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


_BLOCK = 1 << 20


def _pread_all(fd: int, n: int, offset: int) -> bytes:
    parts = []
    while n > 0:
        data = os.pread(fd, n, offset)
        if not data:
            break
        parts.append(data)
        n -= len(data)
        offset += len(data)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_part(path: str | os.PathLike[str], part: int, parts: int) -> FilePart | None:
    """Worker ``part`` of ``parts``: the head of a format-2 file (checked as
    ``split_checked`` checks it) and its share of the clients, without
    reading the rest of the file; None when the file is not a valid
    format-2 file (format 1, damaged, missing: the caller's whole-file path
    names the problem).

    In the product's layout (``encode_file``) the body after the head line
    is cut into ``parts`` equal byte ranges, and a worker takes every client
    line that starts in its range (the lines of all the workers together are
    every line, each once); it reads the head line, the last bytes and its
    range, a block at a time, and keeps only the lines' offsets and content
    hashes, so the memory it needs does not grow with the file. Each line is
    checked as ``_split_fast`` checks it.

    A head or an end not in that layout (every worker sees the same) falls
    back to ``split_checked`` on the whole file and a ``part``-th of its
    documents by count. A line in this worker's range not in it raises
    ``NotOneDocument``: the other workers may not see it, and shares by
    bytes and by count must not be mixed, so the caller reads the file whole
    in one process (the loader's ``whole`` request)."""
    try:
        fd = open_read_only(path)
    except OSError:
        return None
    keep = False
    try:
        identity = _identity(os.fstat(fd))
        size = identity[2]
        found = _find_part(fd, size, part, parts)
        if found is _WHOLE:
            raw = _pread_all(fd, size, 0)
            split = split_checked(raw)
            del raw
            if split is None:
                return None
            n = len(split)
            a, b = part * n // parts, (part + 1) * n // parts
            docs = [split.doc(i) for i in range(a, b)]
            return FilePart(split.head, split.ids[a:b], [content_hash(d) for d in docs], docs=docs,
                            identity=identity)
        if found is None:
            return None
        if found is _LINES:
            raise NotOneDocument(f'table "{CLIENTS}": a line of the file is not one client document '
                                 f"(read the file whole)")
        keep = True
        found.identity = identity
        return found
    except OSError:
        return None
    finally:
        if not keep:
            os.close(fd)


_WHOLE: Any = object()  # the head or the end is not the product's layout (the same for every worker)
_LINES: Any = object()  # a line in this worker's range is not (its range only: see ``read_part``)


def _find_part(fd: int, size: int, part: int, parts: int) -> "FilePart | None | Any":
    """``read_part`` in the product's layout (``size``: the file's): the
    part, None (not format 2) or ``_WHOLE`` (not this layout: parse the
    file whole)."""
    buf = os.pread(fd, _BLOCK, 0)
    if not looks_like_v2(buf):
        return None
    nl = buf.find(b"\n")
    while nl < 0 and len(buf) < size:
        more = os.pread(fd, _BLOCK, len(buf))
        if not more:
            break
        start = len(buf)
        buf += more
        nl = buf.find(b"\n", start)
    if nl < 0:
        return _WHOLE  # one line (no client), or not our layout
    head_text = buf[:nl]
    del buf
    if not head_text.endswith(_HEAD_END):
        return _WHOLE
    tail = os.pread(fd, 64, max(0, size - 64))
    stripped = tail.rstrip(b"\n\r\t ")
    if len(stripped) < 3:
        return _WHOLE  # (a long run of trailing white space)
    end = size - (len(tail) - len(stripped))
    body = nl + 1
    if not stripped.endswith(b"}}}") or end - body < 3:
        return _WHOLE
    head = _head_of(head_text)
    if head is None:
        return _WHOLE
    if not _head_is_v2(head):  # (as ``split_checked``)
        return None

    lo = body + part * (end - body) // parts
    hi = body + (part + 1) * (end - body) // parts
    ids: list[str] = []
    spans: list[tuple[int, int]] = []
    keys: list[bytes] = []
    if lo >= hi:
        return FilePart(head, ids, keys, fd=fd, spans=spans)
    # the first line that starts at lo or after
    base = lo - 1 if lo > body else lo
    buf = _pread_all(fd, min(_BLOCK, end - base), base)
    if lo > body:
        q = buf.find(b"\n")
        while q < 0 and base + len(buf) < end:
            more = _pread_all(fd, min(_BLOCK, end - base - len(buf)), base + len(buf))
            if not more:
                return _LINES
            buf += more
            q = buf.find(b"\n")
        if q < 0:
            return FilePart(head, ids, keys, fd=fd, spans=spans)  # no line starts in this range
        pos = base + q + 1
    else:
        pos = lo
    match = _LINE_START.match
    while pos < hi:
        rel = pos - base
        nxt = buf.find(b"\n", rel)
        while nxt < 0 and base + len(buf) < end:
            more = _pread_all(fd, min(_BLOCK, end - base - len(buf)), base + len(buf))
            if not more:
                return _LINES  # (the file is shorter than it was)
            buf = buf[rel:] + more
            base, rel = pos, 0
            nxt = buf.find(b"\n", rel)
        limit = end - base
        if nxt >= limit:
            nxt = -1
        last = nxt < 0
        if last:
            if base + len(buf) < end:  # pragma: no cover - the loop above read up to the end
                return _LINES
            stop = limit - 2  # without "}}"
        else:
            stop = nxt - 1  # without ","
            if buf[nxt - 1:nxt] != b",":
                return _LINES
        m = match(buf, rel, stop)
        if m is None or buf[stop - 1:stop] != b"}":
            return _LINES
        ids.append(m.group(1).decode("ascii"))
        spans.append((base + m.end() - 1, base + stop))
        keys.append(content_hash(buf[m.end() - 1:stop]))
        if last:
            break
        pos = base + nxt + 1
    return FilePart(head, ids, keys, fd=fd, spans=spans)


# --- decoding and checking --------------------------------------------------------------


@dataclass
class ClientData:
    """One client's content, checked: what the model needs to rebuild it."""

    code: str
    client: Client | None  # None: not listed in the clients table
    ratings: list[Rating]  # file order
    goals: list[Goal]  # by goal id
    runs: list[tuple] | None = None  # (number, date, clinician, attendance, count) when the rows are in
    # canonical order, one run per session number (what the product writes): sessions need no regrouping


class _Where:
    __slots__ = ("doc_id",)

    def __init__(self, doc_id: str):
        self.doc_id = doc_id

    def __call__(self, field: str = "", row: int | None = None) -> str:
        s = f'table "{CLIENTS}", document {self.doc_id}'
        if field:
            s += f", {field}"
        if row is not None:
            s += f" (row {row + 1})"
        return s


def _list(value: Any, n: int | None, where: "_Where", field: str) -> list:
    if type(value) is not list:
        raise SchemaError(f"{where(field)}: must be a JSON array (got {type(value).__name__})")
    if n is not None and len(value) != n:
        raise SchemaError(f"{where(field)}: must have {n} entries (got {len(value)})")
    return value


def _date_of(value: str) -> date | None:
    """A checked date string's date (cached), or None to check it the slow way."""
    d = schema._date_cache.get(value)
    if d is None and len(value) == 10:
        try:
            d = date.fromisoformat(value)
        except ValueError:
            return None
        if len(schema._date_cache) < 100_000:
            schema._date_cache[value] = d
    return d


_RATER_BY_INDEX = dict(enumerate(RATERS))
_RATER_INDICES = frozenset(_RATER_BY_INDEX)
_NONE = type(None)
_INT = frozenset({int})
_INT_OR_NONE = frozenset({int, _NONE})
_NUM_OR_NONE = frozenset({int, float, _NONE})
_BOOL_OR_NONE = frozenset({bool, _NONE})
_STR_OR_NONE = frozenset({str, _NONE})
_STR = frozenset({str})
_RUPTURE_TYPES_OR_NONE = frozenset(RUPTURE_TYPES) | {None}
_NONES: dict[int, list] = {}
_FLOATS = {i: float(i) for i in range(-1000, 1001)}
_SESSION_KEYS = frozenset(SESSION_FIELDS)
_ROW_KEYS = frozenset(ROW_FIELDS)
_CLIENT_STATUSES = frozenset(schema.CLIENT_STATUSES)
_AGREEMENTS = frozenset(schema.GOAL_AGREEMENTS)
_GOAL_STATUSES = frozenset(schema.GOAL_STATUSES)
_CLIENT_RATERS: dict[int, list] = {}


def _nones(n: int) -> list:
    """A shared list of n None (read only)."""
    lst = _NONES.get(n)
    if lst is None:
        lst = _NONES[n] = [None] * n
    return lst


def _clients(n: int) -> list:
    lst = _CLIENT_RATERS.get(n)
    if lst is None:
        lst = _CLIENT_RATERS[n] = ["client"] * n
    return lst


def _limits() -> dict[str, dict[str | None, tuple[float, float, bool]]]:
    """column -> instrument -> (lowest, highest, whole numbers only), as
    ``schema.score_problem`` checks them."""
    from supervision_tui import instruments as reg

    out: dict[str, dict] = {name: {} for name in ROW_NUMBERS}
    for inst in REGISTRY:
        out["total"][inst.id] = (inst.min - reg.EPS, inst.max + reg.EPS, inst.integer)
        for comp in inst.components:
            if comp.name in out:
                out[comp.name][inst.id] = (comp.min - reg.EPS, comp.max + reg.EPS, comp.integer)
    return out


_LIMITS = _limits()


def _bad_score(where, name: str, i: int, inst: str | None, v: float) -> None:
    if inst is None:
        raise SchemaError(f"{where(f'rows.{name}', i)}: {name!r} needs an instrument, but the row has none")
    x = schema._num(v, where(f"rows.{name}", i), name)  # (raises when not finite)
    if type(x) is not float:  # pragma: no cover - _num returns floats
        x = float(x)
    problem = schema.score_problem(inst, name, x)
    if problem is not None:
        raise SchemaError(f"{where(f'rows.{name}', i)}: {name!r} {problem} (got {schema._shown(v)})")


def _bad_index(col: list, insts: list, where) -> None:
    for i, v in enumerate(col):
        if v is not None and (type(v) is not int or not 0 <= v < len(insts)):
            raise SchemaError(f"{where('rows.instrument', i)}: must be an index into 'instruments' "
                              f"(0 to {len(insts) - 1}) or null (got {v!r})")
_ATTENDANCE = frozenset(ATTENDANCE)
_RUPTURE_TYPES = frozenset(RUPTURE_TYPES)
_CODE_OK: dict[str, str] = {}  # codes already checked (one shared string each)


def _code(value: Any, where: str, field: str) -> str:
    if type(value) is str:
        ok = _CODE_OK.get(value)
        if ok is not None:
            return ok
    value = schema._code(value, where, field)
    if len(_CODE_OK) < 100_000:
        _CODE_OK[value] = value
    return value


def decode_client(doc_id: str, doc: Any) -> ClientData:
    """Check one v2 client document and build its content. Raises
    ``SchemaError`` naming the document, the field and the row."""
    where = _Where(doc_id)
    if type(doc) is not dict or not doc.keys() <= DOC_KEYS or "sessions" not in doc or "rows" not in doc:
        schema._keys(doc, DOC_KEYS, ("code", "sessions", "rows"), where())
    code = doc.get("code")
    code = _CODE_OK.get(code) if type(code) is str else None
    if code is None:
        code = _code(doc.get("code"), where(), "code")

    # client
    cdoc = doc.get("client")
    client = None
    if cdoc is not None:
        if type(cdoc) is not dict or not cdoc.keys() <= _CLIENT_KEYS or "clinician" not in cdoc:
            schema._keys(cdoc, _CLIENT_KEYS, ("clinician",), where("client"))
        clinician = cdoc["clinician"]
        if clinician != "" and (type(clinician) is not str or clinician not in _CODE_OK):
            clinician = _code(clinician, where("client"), "clinician")
        status = cdoc.get("status", "active")
        if type(status) is not str or status not in _CLIENT_STATUSES:
            schema._choice(status, schema.CLIENT_STATUSES, where("client"), "status")
        started = cdoc.get("started")
        if started is not None:
            started = (_date_of(started) if type(started) is str else None) or schema._date(
                started, where("client"), "started")
        client = Client(code, clinician, status, started)

    # goals
    goals = []
    for i, g in enumerate(_list(doc.get("goals", []), None, where, "goals")):
        if (type(g) is dict and g.keys() <= _GOAL_KEYS and type(g.get("goal_id")) is str
                and type(g.get("description", "")) is str and type(g.get("set_session")) is int
                and g["set_session"] >= 1 and g.get("agreement") in _AGREEMENTS
                and g.get("status", "active") in _GOAL_STATUSES and g["goal_id"] in _CODE_OK
                and (g.get("reviewed_session") is None
                     or (type(g["reviewed_session"]) is int and g["reviewed_session"] >= 1))):
            goals.append(Goal(code, _CODE_OK[g["goal_id"]], printable(g.get("description", ""), newlines=True),
                              g["set_session"], g["agreement"], g.get("status", "active"), g.get("reviewed_session")))
            continue
        w = where("goals", i)
        schema._keys(g, _GOAL_KEYS, ("goal_id", "set_session", "agreement"), w)
        desc = g.get("description", "")
        if type(desc) is not str:
            raise SchemaError(f"{w}: 'description' must be a string")
        desc = printable(desc, newlines=True)  # an old or hand-edited file: no control character reaches a screen
        reviewed = g.get("reviewed_session")
        goals.append(Goal(code, _code(g["goal_id"], w, "goal_id"), desc, schema._int(g["set_session"], w, "set_session"),
                          schema._choice(g["agreement"], schema.GOAL_AGREEMENTS, w, "agreement"),
                          schema._choice(g.get("status", "active"), schema.GOAL_STATUSES, w, "status"),
                          None if reviewed is None else schema._int(reviewed, w, "reviewed_session")))

    # sessions (runs)
    sdoc = doc["sessions"]
    if type(sdoc) is not dict or sdoc.keys() != _SESSION_KEYS:
        schema._keys(sdoc, _SESSION_KEYS, SESSION_FIELDS, where("sessions"))
    numbers = _list(sdoc["number"], None, where, "sessions.number")
    n_runs = len(numbers)
    dates = _list(sdoc["date"], n_runs, where, "sessions.date")
    clins = _list(sdoc["clinician"], n_runs, where, "sessions.clinician")
    atts = _list(sdoc["attendance"], n_runs, where, "sessions.attendance")
    counts = _list(sdoc["rows"], n_runs, where, "sessions.rows")
    for name, col in (("number", numbers), ("rows", counts)):
        if n_runs and (not set(map(type, col)) <= _INT or min(col) < 1):
            for i, v in enumerate(col):
                schema._int(v, where(f"sessions.{name}", i), name)
    days = list(map(_date_of, dates)) if set(map(type, dates)) <= _STR else [None]
    if None in days:
        days = [schema._date(v, where("sessions.date", i), "date") for i, v in enumerate(dates)]
    if not set(map(type, atts)) <= _STR or not set(atts) <= _ATTENDANCE:
        for i, v in enumerate(atts):
            schema._choice(v, ATTENDANCE, where("sessions.attendance", i), "attendance")
    if not set(map(type, clins)) <= _STR or not all(map(_CODE_OK.__contains__, set(clins))):
        clins = [_code(v, where("sessions.clinician", i), "clinician") for i, v in enumerate(clins)]
    else:
        clins = list(map(_CODE_OK.__getitem__, clins))
    runs = list(zip(numbers, days, clins, atts, counts))
    total_rows = sum(counts)

    # instruments
    insts = _list(doc.get("instruments", []), None, where, "instruments")
    for i, name in enumerate(insts):
        if type(name) is not str or name not in REGISTRY:
            schema._choice(name, REGISTRY.ids(), where("instruments", i), "instrument")

    # rows: each column checked as a whole (C-level set/map), row by row only to name a bad value
    rdoc = doc["rows"]
    if type(rdoc) is not dict or not rdoc.keys() <= _ROW_KEYS:
        schema._keys(rdoc, _ROW_KEYS, (), where("rows"))
    n = total_rows
    none = _nones(n)
    if "instrument" in rdoc:
        col = _list(rdoc["instrument"], n, where, "rows.instrument")
        if not set(map(type, col)) <= _INT_OR_NONE or not set(col) <= set(range(len(insts))) | {None}:
            _bad_index(col, insts, where)
        instruments = list(map(dict(enumerate(insts)).get, col))
    else:
        instruments = none
    if "rater" in rdoc:
        col = _list(rdoc["rater"], n, where, "rows.rater")
        if not set(map(type, col)) <= _INT or not set(col) <= _RATER_INDICES:
            for i, v in enumerate(col):
                if type(v) is not int or v not in _RATER_BY_INDEX:
                    raise SchemaError(f"{where('rows.rater', i)}: must be 0 (client) or 1 (therapist) (got {v!r})")
        raters = list(map(_RATER_BY_INDEX.__getitem__, col))
    else:
        raters = _clients(n)
    nums = []
    for name in ROW_NUMBERS:
        if name not in rdoc:
            nums.append(none)
            continue
        col = _list(rdoc[name], n, where, f"rows.{name}")
        types = set(map(type, col))
        if not types <= _NUM_OR_NONE:
            for i, v in enumerate(col):
                t = type(v)
                if v is not None and t is not float and t is not int:
                    schema._num(v, where(f"rows.{name}", i), name)
        if int in types:
            if _NONE in types:
                col = list(map(_FLOATS.get, col, col))  # (small whole numbers: one shared float each)
                if int in set(map(type, col)):
                    col = [v if v is None or type(v) is float else float(v) for v in col]
            else:
                col = list(map(float, col))
        nums.append(col)
    flags = []
    for name in ("rupture", "risk"):
        if name not in rdoc:
            flags.append(none)
            continue
        col = _list(rdoc[name], n, where, f"rows.{name}")
        if not set(map(type, col)) <= _BOOL_OR_NONE:
            for i, v in enumerate(col):
                if v is not None and type(v) is not bool:
                    schema._bool(v, where(f"rows.{name}", i), name)
        flags.append(col)
    rupture, risk = flags
    if "rupture_type" in rdoc:
        rtype = _list(rdoc["rupture_type"], n, where, "rows.rupture_type")
        if not set(map(type, rtype)) <= _STR_OR_NONE or not set(rtype) <= _RUPTURE_TYPES_OR_NONE:
            for i, v in enumerate(rtype):
                if v is not None and (type(v) is not str or v not in _RUPTURE_TYPES):
                    schema._choice(v, RUPTURE_TYPES, where("rows.rupture_type", i), "rupture_type")
    else:
        rtype = none
    totals, goal_s, task_s, bond_s = nums
    if totals is none:
        if any(v is not None for v in instruments):
            i = next(i for i, v in enumerate(instruments) if v is not None)
            raise SchemaError(f"{where('rows.total', i)}: 'total' is missing for instrument {instruments[i]}")
    elif _NONE in set(map(type, totals)):
        for i, (inst, total) in enumerate(zip(instruments, totals)):
            if inst is not None and total is None:
                raise SchemaError(f"{where('rows.total', i)}: 'total' is missing for instrument {inst}")
    # scores: finite, within the instrument's range, whole where it has whole numbers only; none
    # without an instrument (schema.score_problem: the same rule as for a format-1 document or a CSV row)
    for name, col in zip(ROW_NUMBERS, nums):
        if col is none:
            continue
        limits = _LIMITS.get(name)
        for i, (inst, v) in enumerate(zip(instruments, col)):
            if v is None:
                continue
            lim = limits.get(inst)
            if lim is None or not lim[0] <= v <= lim[1] or (lim[2] and not v.is_integer()):
                _bad_score(where, name, i, inst, rdoc[name][i])  # (the value as the file has it)
    # the per-session values, one per row
    codes = [code] * n
    s_num: list = []
    s_date: list = []
    s_clin: list = []
    s_att: list = []
    for number, d, clinician, att, count in runs:
        s_num += [number] * count
        s_date += [d] * count
        s_clin += [clinician] * count
        s_att += [att] * count
    if len(set(zip(s_num, instruments, raters))) != n:  # the identity of a row is unique (interchange.md §1)
        seen: dict = {}
        for i, k in enumerate(zip(s_num, instruments, raters)):
            j = seen.setdefault(k, i)
            if j != i:
                raise SchemaError(f"{where('rows', i)}: the same session, instrument and rater as row {j + 1} "
                                  f"({code} session {k[0]} {k[1] or 'no instrument'} {k[2]})")
    ratings = ratings_of_columns(codes, s_clin, s_num, s_date, s_att, instruments, raters, totals, goal_s,
                                 task_s, bond_s, rupture, rtype, risk)
    canonical = None
    if n_runs and all(map(lt, numbers[:-1], numbers[1:])) and insts == sorted(insts):
        # rows sorted within each session as Caseload.records sorts them: (instrument or "", rater)
        inst_col = rdoc.get("instrument")
        rater_col = rdoc.get("rater")
        run_of = []
        for r, c in enumerate(counts):
            run_of += [r << 8] * c
        keys = run_of
        if inst_col is not None:
            keys = [k + (0 if v is None else (v + 1) << 1) for k, v in zip(keys, inst_col)]
        if rater_col is not None:
            keys = list(map(add, keys, rater_col))
        if len(insts) < 100 and all(map(le, keys[:-1], keys[1:])):
            canonical = runs
    elif not n_runs:
        canonical = runs
    return ClientData(code, client, ratings, goals, canonical)


def decode_bytes(doc_id: str, doc_bytes: bytes) -> ClientData:
    """``decode_client`` on a document's JSON bytes."""
    try:
        doc = loads(doc_bytes)
    except ValueError as err:
        raise NotOneDocument(f'table "{CLIENTS}", document {doc_id}: not valid JSON ({err})') from None
    return decode_client(doc_id, doc)


# --- the model ---------------------------------------------------------------------------


def _rating_order(r: Rating) -> tuple[str, str]:
    return (r.instrument or "", r.rater)


def client_record(data: ClientData, as_of: date | None = None) -> ClientRecord:
    """The client's ``ClientRecord``, exactly as ``Caseload.records(as_of)``
    builds it for this client (tests compare the two)."""
    code = data.code
    runs = data.runs
    if runs is not None and (as_of is None or not runs or max(r[1] for r in runs) <= as_of):
        if not runs:
            return _record(data, [], as_of)
        numbers, days, clinicians, atts, counts = zip(*runs)
        bounds = list(accumulate(counts, initial=0))
        rows = map(tuple, map(data.ratings.__getitem__, map(slice, bounds, bounds[1:])))  # each session's
        return _record(data, sessions_of_columns(repeat(code), clinicians, numbers, days, atts, rows), as_of)
    by_number: dict[int, list[Rating]] = {}
    for r in data.ratings:
        if as_of is not None and r.date > as_of:
            continue
        lst = by_number.get(r.session)
        if lst is None:
            by_number[r.session] = [r]
        else:
            lst.append(r)
    sessions: list[Session] = []
    for n in sorted(by_number):
        rows = by_number[n]
        if len(rows) > 1:
            rows.sort(key=_rating_order)
        first = rows[0]
        sessions.append(new_session(code, first.clinician, n, first.date, first.attendance, tuple(rows)))
    return _record(data, sessions, as_of)


def has_record(data: ClientData, as_of: date | None = None) -> bool:
    """Is this client analysed, as ``rules.engine.known_records(caseload,
    as_of)`` decides? A listed client always (without ``as_of``), one known
    only from its rows when it has one (by ``as_of``), one known only from a
    goal never; with ``as_of``, a client neither seen nor started by then is
    not known yet."""
    if as_of is None:
        return data.client is not None or bool(data.ratings)
    seen = any(r.date <= as_of for r in data.ratings)
    if data.client is None:
        return seen
    return seen or (data.client.started is not None and data.client.started <= as_of)


def first_date(data: ClientData) -> date | None:
    """The client's earliest rating date (``rules.engine.check_as_of``)."""
    return min((r.date for r in data.ratings), default=None)


def _record(data: ClientData, sessions: list[Session], as_of: date | None) -> ClientRecord:
    code = data.code
    client = data.client
    if client is None:
        client = Client(code=code, clinician=sessions[-1].clinician if sessions else "")
    elif sessions and client.clinician != sessions[-1].clinician:
        client = Client(client.code, sessions[-1].clinician, client.status, client.started)
    last = sessions[-1].number if sessions else 0
    goals = []
    for g in data.goals:
        if as_of is not None and g.set_session > last:
            continue
        if as_of is not None and g.reviewed_session is not None and g.reviewed_session > last:
            g = Goal(g.client, g.goal_id, g.description, g.set_session, g.agreement, g.status, None)
        goals.append(g)
    goals.sort(key=lambda g: (g.set_session, g.goal_id))
    return ClientRecord(client=client, sessions=tuple(sessions), goals=tuple(goals))
