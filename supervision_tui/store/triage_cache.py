"""A private cache of the caseload table, so the first screen appears before
the database is read (stale-while-revalidate).

Reading a caseload and running the rules takes a fraction of a second at
500 clients and seconds at 5 000; the first screen only shows one line per
client. After every successful load the app writes those lines here; on
the next start it paints them at once, then reads the database as always
and replaces them with the real rows (the cursor stays on its client).

What is cached (one file per database, clinician scope and as-of date)
---------------------------------------------------------------------

Only what the caseload table and its header show: per client the code,
clinician, status, tier, the one-line "why", the latest alliance score, its
sparkline, goal and outcome words, sessions, last date, review status and
the tier/kind filters the client matches; for the header the caseload's
name, the clinicians and the latest date. **No free text**: no goal
description, review note or action item is ever written here. Files are
``0o600`` in a ``0o700`` folder: ``paths.cache_dir()`` (the user cache
folder, or the one its environment variable names), never the database's
folder. The app also writes it when the database was
opened ``--read-only``: that flag keeps the database and its workflow file
untouched, and this file is the user's own, like the settings file.

When it is used
---------------

A cache file is shown only when everything its rows were made from is
unchanged (``CacheKey``): the database file (absolute path, inode, size and
modification time, taken *before* the file was read), the settings that
change rule results (``settings_fingerprint``), the as-of date, the
clinician scope, ``CACHE_VERSION`` and the program's version. The workflow
file (reviews, notes) only feeds the Review column: when it changed since
the cache was written (a review save, another reviewer's note) the rows are
still shown, with their Review cells pending (``REVIEW_PENDING``) until the
data are loaded (``CachedTable.reviews_current`` is False), so a review
never makes the next start wait for the database. Anything else — a changed file, other settings, a file that is
not valid JSON or not in the expected shape — and it is ignored as if
absent (never shown, never an error); the next load writes a new one.
Bump ``CACHE_VERSION`` whenever the rules or the row format change in a way
an old file would show wrongly.

No Textual import (the payload is plain data: the UI builds and reads the
rows; see ``ui/widgets/caseload_table.py``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from supervision_tui import __version__
from supervision_tui.paths import cache_dir

CACHE_VERSION = 5  # 2: 6-cell alliance sparklines; 3: clinical rules v2 (risk until re-screened, "no flag");
# 4: outcome symbols + = ✗ ! ✓, "Last seen" is the last attended session;
# 5: a repaired rupture owes a review (its client's Review cell is "• new" until reviewed)
REVIEW_PENDING = "…"  # a cached Review cell whose workflow file has changed since
"""Bump when the rules or the cached row format change."""

SIDECAR_SUFFIX = ".workflow.json"  # = store.database.SIDECAR_SUFFIX (a test checks), without importing it

#: The cached row: field name -> accepted JSON types (checked on read).
ROW_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("code", (str,)),
    ("clinician", (str,)),
    ("status", (str,)),
    ("tier", (int,)),
    ("why", (str,)),
    ("alliance_text", (str,)),
    ("alliance_index", (float, int, type(None))),
    ("spark", (str,)),
    ("goal", (str,)),
    ("outcome", (str,)),
    ("sessions", (int,)),
    ("last_date", (str, type(None))),  # ISO date
    ("review", (str,)),
    ("kinds", (list,)),  # keys of the tier/kind filters the client matches
)
ROW_NAMES = tuple(name for name, _types in ROW_FIELDS)
_HEADER_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("name", (str,)),
    ("clinicians", (list,)),
    ("latest_date", (str, type(None))),
)


def sidecar_of(db_path: Path) -> Path:
    """The database's workflow file (``Database.sidecar_path``)."""
    return db_path.with_name(db_path.stem + SIDECAR_SUFFIX)


def file_token(path: Path) -> list[int] | None:
    """(inode, size, mtime ns, ctime ns) of ``path``, None when missing —
    the same identity ``ReviewStore.token()`` uses."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def settings_fingerprint(settings: Any) -> str:
    """A digest of the settings that change rule results (not the keymap,
    the theme or the file path) and of the instrument registry. ``None`` is
    the defaults (as for the rule engine)."""
    from supervision_tui.instruments import REGISTRY

    if settings is None:
        from supervision_tui.settings import Settings

        settings = Settings()
    parts = [repr(getattr(settings, name, None)) for name in ("rupture", "goals", "outcomes", "attendance", "risk",
                                                          "not_on_track", "effectiveness")]
    # every registered instrument in full: one re-registered under its id with another cut-off or
    # reliable change (``register_instrument(..., replace=True)``) changes results too
    parts.append(repr([REGISTRY[i] for i in REGISTRY.ids()]))
    if getattr(getattr(settings, "risk", None), "expire_days", 0):
        parts.append(date.today().isoformat())  # a clinic's risk expiry counts days to today
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


@functools.cache
def code_fingerprint() -> str:
    """The program's own code as it is installed: the name, size and
    modification time of every module of the package. Part of every cache
    key (this file's and ``analysis_cache``'s), so changed rules or row
    formats never show rows or analyses an older program made, even when
    nobody bumped ``CACHE_VERSION`` or the version number (a development
    checkout, a patched install). Stat calls only: well under a millisecond."""
    return package_fingerprint(Path(__file__).resolve().parent.parent)


def package_fingerprint(root: Path) -> str:
    """``code_fingerprint`` of the package at ``root``."""
    h = hashlib.blake2b(digest_size=12)
    for path in sorted(root.rglob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """Everything a cached table was made from (see the module doc)."""

    db: str  # absolute path
    db_file: list[int] | None
    sidecar_file: list[int] | None
    settings: str
    as_of: str | None
    clinician: str | None
    version: int = CACHE_VERSION
    program: str = field(default_factory=lambda: f"{__version__}+{code_fingerprint()}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cache_key(db_path: Path | str, settings: Any, as_of: date | None = None, clinician: str | None = None,
              *, sidecar_file: list[int] | None | str = "now") -> CacheKey:
    """The key of ``db_path`` as it is now. Take it *before* reading the
    database: a write in between then only makes the cache look stale.
    ``sidecar_file``: the workflow file's token the Review column was
    computed from (default: its current one)."""
    db = Path(db_path).absolute()
    if sidecar_file == "now":
        sidecar_file = file_token(sidecar_of(db))
    return CacheKey(str(db), file_token(db), sidecar_file, settings_fingerprint(settings),  # type: ignore[arg-type]
                    as_of.isoformat() if as_of else None, clinician or None)


def cache_path(key: CacheKey) -> Path:
    """One file per (database, as-of date, clinician scope)."""
    ident = "\0".join([key.db, key.as_of or "", key.clinician or ""])
    return cache_dir() / f"triage-{hashlib.sha256(ident.encode('utf-8')).hexdigest()[:32]}.json"


@dataclass
class CachedTable:
    """A valid cache: the header facts and one dict per client (``ROW_NAMES``),
    in the engine's order (triaged clients first)."""

    header: dict[str, Any]
    rows: list[dict[str, Any]]
    reviews_current: bool = True  # False: the workflow file changed; the Review cells are REVIEW_PENDING


def read_cache(key: CacheKey) -> CachedTable | None:
    """The cached table for ``key``, or None when there is none or it does
    not match ``key`` exactly or is damaged in any way."""
    if key.db_file is None:
        return None
    try:
        raw = cache_path(key).read_bytes()
        doc = json.loads(raw)
        if type(doc) is not dict or type(doc.get("key")) is not dict:
            return None
        stored, wanted = dict(doc["key"]), key.to_json()
        reviews_current = stored.pop("sidecar_file", None) == wanted.pop("sidecar_file")
        if stored != wanted:
            return None
        header = doc["header"]
        if type(header) is not dict or not all(type(header.get(n)) in t for n, t in _HEADER_FIELDS):
            return None
        if not all(type(c) is str for c in header["clinicians"]):
            return None
        rows = []
        n = len(ROW_FIELDS)
        for cells in doc["rows"]:
            if type(cells) is not list or len(cells) != n:
                return None
            for cell, (_name, types) in zip(cells, ROW_FIELDS):
                if type(cell) not in types:
                    return None
            row = dict(zip(ROW_NAMES, cells))
            if row["last_date"] is not None:
                row["last_date"] = date.fromisoformat(row["last_date"])
            if not all(type(k) is str for k in row["kinds"]):
                return None
            if not reviews_current:
                row["review"] = REVIEW_PENDING
            rows.append(row)
        if _CONTROL.search(raw):  # text for a screen holds no control character (store.sanitize): damaged
            return None
    except (OSError, ValueError, TypeError, KeyError, RecursionError):  # absent, unreadable or damaged
        return None
    return CachedTable(header, rows, reviews_current)


# a control character anywhere in the JSON text: raw (DEL, C1 in UTF-8) or escaped (\u0000-\u001f,
# \u007f-\u009f, \b \f \n \r \t); one search of the bytes (an escaped backslash before one of those
# letters also matches: the cache is then only ignored)
_CONTROL = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\\u00[01][0-9a-fA-F]|\\u00[89][0-9a-fA-F]|\\u007[fF]|\\[bfnrt]")


def write_cache(key: CacheKey, header: dict[str, Any], rows: list[dict[str, Any]]) -> Path | None:
    """Write the table for ``key`` (atomically, 0o600; no fsync: a cache lost
    in a crash is only a slower start). Returns the file, or None when it
    could not be written (a cache never stops the app)."""
    if key.db_file is None:
        return None
    body = {
        "key": key.to_json(),
        "header": {name: header.get(name) for name, _t in _HEADER_FIELDS},
        "rows": [[_plain(row[name]) for name in ROW_NAMES] for row in rows],
    }
    from supervision_tui.store.files import FileWriteError, ensure_private_dir, write_private_bytes  # (writes only)

    try:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        path = cache_path(key)
        ensure_private_dir(path.parent)
        _remove_old_temporaries(path.parent)
        return write_private_bytes(path, data, durable=False)
    except (OSError, ValueError, TypeError, FileWriteError):  # a cache never stops the app
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    return value


def _remove_old_temporaries(folder: Path, age: float = 600.0) -> None:
    """Temporaries a killed writer left (``.triage-….json.<hex>.tmp``), once
    old enough that no writer can still be busy with them."""
    from supervision_tui.store.files import remove_matching_temporaries

    remove_matching_temporaries(folder, _TEMPORARY, older_than=age)


_TEMPORARY = re.compile(r"\.triage-.*\.tmp")
