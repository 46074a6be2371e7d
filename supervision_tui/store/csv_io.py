"""Read, validate and write the interchange CSVs (interchange.md §1–3).

Public API::

    parse_files(measures, clients=None, goals=None) -> ParsedImport   # raises ValidationFailed
    parse_files(..., keep_errors=True) -> ParsedImport                # errors in .errors (for the import)
    validate_files(paths) -> str                                      # raises ValidationFailed
    export_csv(caseload, outdir, clinician=None, include_notes=False) -> list[Path]
    session_errors(entries) -> list[tuple[tuple, str]]                 # shared with database.py
    sorted_errors(*groups) -> list[str]                                # shared with database.py

Every problem is reported as ``FILE:LINE: column: what is wrong (got VALUE)``
where LINE is the physical line of the file (header = line 1; a row whose
quoted field spans several lines is reported at its first line) and VALUE
is the value as read (``empty`` when empty, cut at 40 characters; a goal
``description`` is private and never echoed; a ``client``, ``clinician``
or ``goal_id`` value that is not a code is shown only by its length,
``8 characters, not a code; not shown``, as it may be a name:
``sanitize.code_shown``). Problems that concern the
file rather than a column use the pseudo-columns ``file`` (not UTF-8, not
CSV), ``header`` and ``row`` (wrong number of fields). All errors of all
files are collected (``ValidationFailed`` shows the first 50 and a count),
in one run: a row with an error still takes part in the checks across
rows and files when its identity is valid (a measures row's client,
session, instrument and rater; a goal's client and goal_id; a client's
code): a row repeating it, a session dated before it, a session row that
disagrees with it on a valid date, attendance or clinician are reported
with it. A check that needs a value that is itself invalid is left out
for that row only (an unreadable date is never "dated before" too), and
a goal's client is not called unknown when its measures or clients row
could not be read (that would repeat the row's error). The checks across
files run on the rows that could be read, whatever errors the files
have; on import, so do the checks against the database.

Readings of the spec, decided here (interchange.md leaves them open):

* Every value is stripped of surrounding spaces, the same way in every
  column: `` 37 `` is 37 as `` C-01 `` is C-01 (padding from a hand-edited
  file or a spreadsheet is not data). Column names and vocabularies are
  exact (``SRS``, ``yes``), not case-folded; a header whose names are known
  columns in another case (``Client``) is an error that names the
  lowercase spelling, and its rows are still checked. A file separated by
  semicolons (a spreadsheet's "CSV" in a decimal-comma locale) is
  recognised from its header and reported as such, without row noise.
* Numbers are plain decimals with ``.`` and an optional sign (``37``,
  ``35.5``, ``.5``); an exponent (``1e1``) is an error that shows the plain
  spelling, ``nan``/``inf`` are not numbers; session numbers and dates are
  ASCII digits. A score the registry marks ``integer`` (a sum of integer
  items: PHQ-9 and GAD-7 totals, WAI-SR total and subscales) must be a
  whole number (``7`` or ``7.0``, not ``7.5``).
* Blank lines, and rows whose fields are all empty (spreadsheets append
  them), are skipped anywhere in the file. A UTF-8 byte-order mark is
  accepted. Header columns without a name whose values are all empty are
  ignored (spreadsheet residue); a row with more fields than the header is
  an error even when the extra fields are empty (an unquoted decimal comma
  would otherwise shift values silently);
  anything else that does not line up with the header is an error.
* A header-only file is valid and holds no rows.
* All rows of one (client, session) must agree on ``date``, ``attendance``
  and ``clinician`` (a session happens once, with one clinician); the same
  holds against rows already in the database on import.
* Sessions may share a date; a higher session number with an *earlier*
  date than a lower one is an error (reported on the later-numbered
  session's first row).
* A non-attended session may carry scores: they are stored, and the rules
  ignore them (clinical-rules.md §2; risk still counts, §6). Refusing
  them would throw away data a clinic chose to record.
* A row without an instrument may not carry ``total``/``goal``/``task``/
  ``bond`` (a score of nothing), nor ``risk = yes`` (the risk rule only
  reads rows with an instrument, so it would be silently ignored); it may
  carry ``rupture``/``rupture_type`` (a post-session report without a
  measure; clinical-rules.md §3 assigns it to an alliance instrument).
* ``rupture_type`` is only allowed when ``rupture`` is ``yes``.
* Codes (``client``, ``clinician``, ``goal_id``) are identifiers: 1–32 of
  ``A–Z a–z 0–9 . _ -`` (interchange.md §1 and ``.``), not starting with ``-``
  (issue 13: never an option, never a formula; ``store/sanitize.py``);
  ``reviewed_session`` may not be before ``set_session``.
* No cell may hold a control character (C0, DEL, C1: terminal escape
  sequences; ``store/sanitize.py``), reported as ``contains a control
  character: ESC (U+001B) at character N``. A goal ``description`` may
  span lines: a quoted field's ``\r\n`` or ``\r`` is stored as ``\n``.
  A row with such a cell is reported once per cell and not checked further
  (its identity still counts: a row repeating it is reported).
* A description that starts with ``'`` followed by ``=``, ``+``, ``-``,
  ``@`` (export's spreadsheet-formula guard, ``sanitize.csv_cell``) loses
  that one ``'`` on import, so export → import gives back the same text.
* Cross-file: the clients CSV may list clients without measures; a goal
  for a client found in neither the measures nor the clients file (nor,
  on import, the database) is an error. ``validate`` of a goals file
  alone cannot check this and says so.
* A total may be left empty when the instrument's components add up to
  it (by the registry: components whose ranges sum to the total's range,
  i.e. WAI-SR Goal + Task + Bond) and all of them are given.

Export writes ``measures.csv``, ``clients.csv`` and ``goals.csv`` (mode
0o600, all three or none: ``files.write_private_files``); a cell that a
spreadsheet would run as a formula gets a leading ``'`` (``sanitize.csv_cell``). Importing an export reproduces the database, except:
goal descriptions are written empty unless ``include_notes`` (privacy,
clinical-rules.md §9) — and importing an empty description never erases
a description already in the database, so export → edit → re-import into
the same database keeps them; clinician roles are not part of any CSV.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable, Sequence

from supervision_tui import instruments
from supervision_tui.errors import UserError, ValidationFailed
from supervision_tui.gc_pause import gc_paused
from supervision_tui.store.schema import score_problem
from supervision_tui.store.sanitize import (
    IDENTIFIER_RE,
    IDENTIFIER_RULE,
    code_shown,
    control_problem,
    csv_cell,
    csv_uncell,
    normalise_newlines,
)
from supervision_tui.model import (
    ATTENDANCE,
    CLIENT_STATUSES,
    GOAL_AGREEMENTS,
    GOAL_STATUSES,
    RATERS,
    RUPTURE_TYPES,
    Caseload,
    Client,
    Goal,
    Rating,
)

__all__ = [
    "MEASURES_COLUMNS",
    "CLIENTS_COLUMNS",
    "GOALS_COLUMNS",
    "ParsedImport",
    "parse_files",
    "validate_files",
    "export_csv",
    "session_errors",
    "sorted_errors",
]

MEASURES_COLUMNS = (
    "client", "clinician", "session", "date", "attendance", "instrument", "rater",
    "total", "goal", "task", "bond", "rupture", "rupture_type", "risk",
)
CLIENTS_COLUMNS = ("client", "clinician", "status", "started")
GOALS_COLUMNS = ("client", "goal_id", "description", "set_session", "agreement", "status", "reviewed_session")

EXPORT_FILES = ("measures.csv", "clients.csv", "goals.csv")
COLUMNS = {"measures": MEASURES_COLUMNS, "clients": CLIENTS_COLUMNS, "goals": GOALS_COLUMNS}
REQUIRED = {
    "measures": ("client", "clinician", "session", "date"),
    "clients": ("client", "clinician"),
    "goals": ("client", "goal_id", "set_session", "agreement"),
}
PRIVATE_COLUMNS = {"description"}
CODE_COLUMNS = {"client", "clinician", "goal_id"}  # identifiers: a value that is not one is not shown
FREE_TEXT_COLUMNS = {"description"}  # may hold line breaks; everything else is one line

CODE_RE = IDENTIFIER_RE  # client codes, clinician ids, goal ids (sanitize.is_identifier)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
INT_RE = re.compile(r"\d+", re.ASCII)
#: the largest session number (and goal set/review session) a file may hold: no treatment has a
#: millionth session, and a number past 2^63 could not be stored (the JSON writer refuses it)
MAX_WHOLE = 1_000_000
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)  # plain decimal: no exponent, nan, inf
EXPONENT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+", re.ASCII)
YES_NO = ("yes", "no")
COMPONENTS = ("goal", "task", "bond")

Origin = tuple[str, int]  # (file as shown, physical line)


# --- result of parsing --------------------------------------------------------


@dataclass
class ParsedImport:
    """Validated content of the import files, with where each row came from.

    ``unknown_goal_clients`` lists goals whose client is in neither file:
    ``Database.import_parsed`` accepts them when the database knows the
    client and reports them as errors otherwise (``parse_files`` alone
    cannot know the database).

    ``errors`` (only from ``parse_files(..., keep_errors=True)`` or
    ``mapping.read_mapped(..., keep_errors=True)``) are the files' errors as
    ``(sort key, line)``; such a result is never imported:
    ``Database.import_parsed`` adds the checks against the database of the
    rows that could be read and raises ``ValidationFailed`` with all of them.
    ``partial`` holds the measures rows with an error whose identity (client,
    session, instrument, rater) is valid, with None in each field that is
    not: they take part in the checks across rows, never in an import.
    """

    files: list[str] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    rating_origins: list[Origin] = field(default_factory=list)
    # file as shown -> the columns its header names: a rating column a file leaves out says nothing
    # about a stored row it updates (``Database.import_parsed`` keeps that row's value)
    measure_columns: dict[str, frozenset[str]] = field(default_factory=dict)
    clients: list[Client] = field(default_factory=list)
    client_origins: list[Origin] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    goal_origins: list[Origin] = field(default_factory=list)
    unknown_goal_clients: list[tuple[str, Origin]] = field(default_factory=list)
    errors: list[tuple[tuple, str]] = field(default_factory=list)
    partial: list[tuple[Rating, Origin]] = field(default_factory=list)

    def file_order(self) -> dict[str, int]:
        """Each file's place in ``files`` (its first), the first part of an error's sort key."""
        order: dict[str, int] = {}
        for name in self.files:
            order.setdefault(name, len(order))
        return order

    def unresolved(self, known_clients: Iterable[str] = (), *, database: bool = True) -> list[str]:
        """Errors for goals whose client is unknown also to ``known_clients``."""
        return [line for _key, line in self.unresolved_keyed(known_clients, database=database)]

    def unresolved_keyed(self, known_clients: Iterable[str] = (), *,
                         database: bool = True) -> list[tuple[tuple, str]]:
        """``unresolved`` as ``(sort key, line)`` pairs (see ``sorted_errors``)."""
        known = set(known_clients)
        order = self.file_order()
        where = "the measures or clients file, nor in the database" if database else "the measures or clients file"
        return [
            ((order.get(origin[0], 99), origin[1], n), _fmt(origin, "client", f"not in {where}", client))
            for n, (client, origin) in enumerate(self.unknown_goal_clients)
            if client not in known
        ]


def sorted_errors(*groups: Iterable[tuple[tuple, str]]) -> list[str]:
    """The error lines of several checks, as ``(sort key, line)`` pairs with
    the key (file order, line, arrival): in file and line order, on one line
    the groups in the order given, an identical line once."""
    keyed = [((k[0], k[1], n, k[2]), line) for n, group in enumerate(groups) for k, line in group]
    keyed.sort(key=lambda kv: kv[0])
    return list(dict.fromkeys(line for _k, line in keyed))


# --- error formatting ---------------------------------------------------------


def _got(value: str) -> str:
    if value == "":
        return "empty"
    if not value.isprintable():
        value = repr(value)[1:-1]
    return value if len(value) <= 40 else value[:39] + "…"


def _fmt(origin: Origin, column: str, what: str, value: str, shown: str | None = None) -> str:
    """``FILE:LINE: column: what (got VALUE)``; ``shown`` replaces the value
    (a description of a value that must not be shown)."""
    return f"{origin[0]}:{origin[1]}: {column}: {what} (got {_got(value) if shown is None else shown})"


def _code_shown(column: str, value: str) -> str | None:
    """How an error shows a value of a code column that is not a code (it may
    be a name: ``sanitize.code_shown``); None: as it is."""
    if column in CODE_COLUMNS:
        shown = code_shown(value)
        if shown != value:
            return shown
    return None


class _Errors:
    """Collects error lines with a sort key (file order, line, arrival).

    An error identical to one already collected (same file, line, column and text:
    a mapped wide row checks its row-level values once per measure) is
    kept once."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple, str]] = []
        self.file_order: dict[str, int] = {}
        self._seen: set[str] = set()

    def add(self, origin: Origin, column: str, what: str, value: str, shown: str | None = None) -> None:
        if column in PRIVATE_COLUMNS:
            value = "(private text)" if value else ""
        self.add_line((self.file_order.get(origin[0], 99), origin[1], len(self.items)),
                      _fmt(origin, column, what, value, shown))

    def add_line(self, key: tuple, line: str) -> None:
        if line in self._seen:
            return
        self._seen.add(line)
        self.items.append((key, line))

    def lines(self) -> list[str]:
        return [line for _, line in sorted(self.items, key=lambda kv: kv[0])]

    def __bool__(self) -> bool:
        return bool(self.items)


# --- reading a CSV file --------------------------------------------------------


@dataclass
class _Table:
    name: str
    header: list[str]
    header_line: int
    rows: list[tuple[int, dict[str, str]]]
    nameless: list[tuple[int, int, str]]  # (line, column number, value) under a nameless header cell
    # line -> the columns of its cells that hold a control character (already reported): the row
    # is in ``rows`` without those cells and is read only for its identity (``_row``)
    bad_cells: dict[int, frozenset[str]] = field(default_factory=dict)
    # the client column's value, when a code, of rows that do not line up with the header (not read:
    # a goal of such a client is not reported as unknown, that would repeat the row's error)
    misaligned_clients: set[str] = field(default_factory=set)


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: cannot read: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: cannot read: it is a folder, not a file") from None
    except PermissionError:
        raise UserError(f"{path}: cannot read: permission denied") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read: {err.strerror or err}") from None


def _decode(name: str, raw: bytes, errors: _Errors) -> str | None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors.add((name, 1), "file", 'is UTF-16 text; save it as "CSV UTF-8"', raw[:2].hex(" ").upper())
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        bad = raw[err.start : err.start + 1].hex().upper()
        errors.add((name, line), "file", 'is not UTF-8 text; save it as "CSV UTF-8"', f"byte 0x{bad}")
        return None


def _blank(fields: Sequence[str]) -> bool:
    return all(not f.strip() for f in fields)


def _read_table(path: Path, errors: _Errors) -> _Table | None:
    """Read a CSV file: its header row and data rows (line-numbered, stripped).

    Returns None when the file cannot be read as CSV at all (the errors
    say why). Header checks against a kind happen in ``_check_header``.
    """
    name = str(path)
    text = _decode(name, _read_bytes(path), errors)
    if text is None:
        return None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        errors.add((name, line), "file", "contains a NUL byte: this is not a text CSV file", "byte 0x00")
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 1
    raw_rows: list[tuple[int, list[str], bool]] = []  # (first line, fields, control characters to check)
    suspicious = _CONTROL_OUTSIDE_LINE_ENDS.search(text) is not None  # else only multi-line rows can hold any
    prev = 0
    try:
        for fields in reader:
            start, prev = prev + 1, reader.line_num
            if _blank(fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                header_line = start
            else:
                raw_rows.append((start, fields, suspicious or prev > start))
    except csv.Error as err:
        errors.add((name, prev + 1), "file", f"is not valid CSV: {err}", "")
        return None
    if header is None:
        errors.add((name, 1), "header", "missing: the file is empty", "")
        return None
    if _semicolon_separated(header):
        errors.add((name, header_line), "header",
                   "the file is separated by semicolons; save it as comma-separated CSV", ",".join(header))
        return None
    miscased = [c for c in header if c not in _ALL_COLUMNS and c.lower() in _ALL_COLUMNS]
    if miscased:
        # an error; the rows are still checked under the lowercase names so one run lists every problem
        errors.add((name, header_line), "header",
                   f"column names are lowercase: {', '.join(c.lower() for c in miscased)}", ",".join(miscased))
        header = [c.lower() if c in miscased else c for c in header]
    width = len(header)
    nameless_cols = [i for i, c in enumerate(header) if c == ""]
    # trailing nameless header cells are spreadsheet residue: drop them when all their values are empty
    rows: list[tuple[int, dict[str, str]]] = []
    nameless: list[tuple[int, int, str]] = []
    bad_cells: dict[int, frozenset[str]] = {}
    misaligned: set[str] = set()
    client_col = header.index("client") if "client" in header else None
    for line, fields, check in raw_rows:
        values = [f.strip() for f in fields]
        # a row longer than the header is an error even when the extra fields
        # are empty: an unquoted decimal comma ("35,5") shifts every later
        # value one column right and must never import silently
        if len(values) != width:
            errors.add((name, line), "row", f"has {len(values)} fields but the header has {width}",
                       str(len(values)))
            if client_col is not None and client_col < len(values) and CODE_RE.fullmatch(values[client_col]):
                misaligned.add(values[client_col])
            continue
        if check:
            bad = _control_errors(name, line, header, values, errors)
            if bad:
                # reported once per cell; the row's values are not checked (that would only repeat the
                # problem), but its identity still takes part in the checks across rows (duplicates)
                bad_cells[line] = frozenset(bad)
                rows.append((line, {c: v for c, v in zip(header, values) if c and c not in bad}))
                continue
        for i in nameless_cols:
            if values[i]:
                nameless.append((line, i + 1, values[i]))
        rows.append((line, {c: v for c, v in zip(header, values) if c}))
    return _Table(name, header, header_line, rows, nameless, bad_cells, misaligned)


_CONTROL_OUTSIDE_LINE_ENDS = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control_errors(name: str, line: int, header: Sequence[str], values: list[str], errors: _Errors) -> set[str]:
    """Report cells holding a control character (see ``sanitize``); a
    line break is allowed in free text only, as ``\\n``. Normalises the
    line breaks of free-text cells in place. Returns the columns of the bad
    cells (a nameless column as ``""``): empty when the row is good."""
    bad: set[str] = set()
    for i, (col, v) in enumerate(zip(header, values)):
        free = col in FREE_TEXT_COLUMNS
        if free:
            v = values[i] = normalise_newlines(v)
        problem = control_problem(v, newlines=free)
        if problem is not None:
            errors.add((name, line), col or f"column {i + 1}", problem, v, shown=_code_shown(col, v))
            bad.add(col)
    return bad


def _semicolon_separated(header: Sequence[str]) -> bool:
    """A header written with ``;`` between the names: a semicolon in a cell
    and either one single named cell (no comma at all) or column names
    among the pieces (column names never contain ``;``)."""
    if not any(";" in c for c in header):
        return False
    if sum(1 for c in header if c) <= 1:
        return True
    return any(p.strip().lower() in _ALL_COLUMNS for c in header for p in c.split(";"))


def _kind_of(header: Sequence[str]) -> str | None:
    names = set(header)
    if names & {"goal_id", "set_session", "agreement", "reviewed_session", "description"}:
        return "goals"
    if names & (set(MEASURES_COLUMNS) - {"client", "clinician"}):
        return "measures"
    if "client" in names:
        return "clients"
    return None


_ALL_COLUMNS = set(MEASURES_COLUMNS) | set(CLIENTS_COLUMNS) | set(GOALS_COLUMNS)


def _looks_like_header(cells: Sequence[str]) -> bool:
    """At least half of the named cells are column names of some kind
    (a data row may contain a word like ``client``, as a rater)."""
    named = [c for c in cells if c]
    known = sum(1 for c in named if c in _ALL_COLUMNS)
    return known > 0 and 2 * known >= len(named)


def _first_cells(cells: Sequence[str]) -> str:
    """A data row taken for a header, shown by its first two cells only
    (the rest may be private text, e.g. a goal description)."""
    return ",".join(cells[:2]) + (",…" if len(cells) > 2 else "")


def _check_header(table: _Table, kind: str, errors: _Errors) -> bool:
    """Check the header against ``kind``; True when the rows can be validated."""
    origin = (table.name, table.header_line)
    allowed = COLUMNS[kind]
    shown = ",".join(table.header)
    if not _looks_like_header(table.header):
        errors.add(origin, "header",
                   f"missing: the first line must name the columns, e.g. {','.join(REQUIRED[kind])}",
                   _first_cells(table.header))
        return False
    detected = _kind_of(table.header)
    if detected is not None and detected != kind:
        errors.add(origin, "header", f"this looks like a {detected} file, not a {kind} file", shown)
        return False
    ok = True
    seen: set[str] = set()
    for col in table.header:
        if col == "":
            continue
        if col in seen:
            errors.add(origin, col, "column appears twice in the header", shown)
            ok = False
        seen.add(col)
        if col not in allowed:
            # an error (a typo must not silently drop data), but the rows are
            # still checked so that one run lists every problem
            errors.add(origin, "header", f"unknown column; allowed are {', '.join(allowed)}", col)
    for col in REQUIRED[kind]:
        if col not in seen:
            errors.add(origin, col, "required column is missing from the header", shown)
            ok = False
    for line, number, value in table.nameless:
        errors.add((table.name, line), f"column {number}", "has a value but no name in the header", value)
        ok = False
    return ok


# --- field parsers --------------------------------------------------------------


def _num_text(x: float) -> str:
    return instruments.fmt(x, 6)


class _Row:
    """One data row: typed accessors that record errors.

    ``bad`` is the set of columns with an error (None while there is none);
    ``partial`` is set by ``_measure`` for a row with errors whose identity
    is valid (see ``ParsedImport.partial``)."""

    __slots__ = ("origin", "values", "errors", "ok", "bad", "partial")

    def __init__(self, origin: Origin, values: dict[str, str], errors: _Errors):
        self.origin = origin
        self.values = values
        self.errors = errors
        self.ok = True
        self.bad: set[str] | None = None
        self.partial: Rating | None = None

    def get(self, col: str) -> str:
        return self.values.get(col, "")

    def error(self, col: str, what: str, value: str | None = None) -> None:
        self.ok = False
        if self.bad is None:
            self.bad = {col}
        else:
            self.bad.add(col)
        v = self.get(col) if value is None else value
        self.errors.add(self.origin, col, what, v, shown=_code_shown(col, v))

    def code(self, col: str) -> str | None:
        v = self.values.get(col, "")
        if v == "":
            self.error(col, "required")
            return None
        if not CODE_RE.fullmatch(v):
            self.error(col, f"must be {IDENTIFIER_RULE}")
            return None
        return v

    def whole(self, col: str, required: bool) -> int | None:
        v = self.values.get(col, "")
        if v == "":
            if required:
                self.error(col, "required")
            return None
        if not INT_RE.fullmatch(v) or len(v.lstrip("0")) > 7 or not 1 <= int(v) <= MAX_WHOLE:  # (length first:
            # int() of a 5,000-digit text raises)
            self.error(col, f"must be a whole number from 1 to {MAX_WHOLE:,}")
            return None
        return int(v)

    def day(self, col: str, required: bool) -> date | None:
        v = self.values.get(col, "")
        if v == "":
            if required:
                self.error(col, "required")
            return None
        if DATE_RE.fullmatch(v):
            try:
                return date.fromisoformat(v)
            except ValueError:
                pass
        self.error(col, "must be a date YYYY-MM-DD")
        return None

    def choice(self, col: str, allowed: Sequence[str], default: str | None) -> str | None:
        """A vocabulary value; empty gives ``default`` (None = required)."""
        v = self.values.get(col, "")
        if v == "":
            if default is None:
                self.error(col, f"required: one of {', '.join(allowed)}")
            return default
        if v not in allowed:
            self.error(col, f"must be one of {', '.join(allowed)}" + ("" if default is None else " or empty"))
            return default
        return v

    def optional_choice(self, col: str, allowed: Sequence[str]) -> str | None:
        v = self.values.get(col, "")
        if v == "":
            return None
        if v not in allowed:
            self.error(col, f"must be one of {', '.join(allowed)} or empty")
            return None
        return v

    def number(self, col: str) -> float | None:
        v = self.values.get(col, "")
        if v == "":
            return None
        if not NUMBER_RE.fullmatch(v):
            if EXPONENT_RE.fullmatch(v):
                plain = _plain(v)
                self.error(col, "must be a plain decimal number without an exponent"
                           + (f": write {plain}" if plain else ""))
            else:
                self.error(col, "must be a number")
            return None
        return float(v)


class _Discard:
    """An error sink that keeps nothing (``_row``)."""

    def add(self, *_args: object, **_kwargs: object) -> None:
        pass


def _row(table: _Table, line: int, values: dict[str, str], errors: _Errors) -> _Row:
    """The ``_Row`` of a data line; a row with control characters (reported
    by ``_read_table``, its bad cells left out) has its errors discarded and
    those columns marked bad: it is read only for its identity."""
    origin = (table.name, line)
    cells = table.bad_cells.get(line) if table.bad_cells else None
    if cells is None:
        return _Row(origin, values, errors)
    row = _Row(origin, values, _Discard())  # type: ignore[arg-type]
    row.ok = False
    row.bad = set(cells)
    return row


def _plain(text: str) -> str | None:
    """``2.25e1`` as ``22.5`` (None when that would be unreadably long)."""
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the caller matched EXPONENT_RE
        return None
    if not d.is_finite() or abs(d.adjusted()) > 12:
        return None
    out = format(d.normalize(), "f")
    return out if len(out) <= 20 else None


# --- measures --------------------------------------------------------------------


_SCORE_COLUMNS = ("total", *COMPONENTS)


_DERIVABLE: dict[int, tuple[instruments.Instrument, bool]] = {}  # id(instrument) -> (it, answer)


def _derivable(inst: instruments.Instrument) -> bool:
    """Do the instrument's components add up to its total (WAI-SR)? (Asked
    once per row: remembered per instrument object.)"""
    hit = _DERIVABLE.get(id(inst))
    if hit is not None and hit[0] is inst:
        return hit[1]
    answer = _sums_up(inst)
    if len(_DERIVABLE) > 256:
        _DERIVABLE.clear()
    _DERIVABLE[id(inst)] = (inst, answer)
    return answer


def _sums_up(inst: instruments.Instrument) -> bool:
    comps = inst.components
    return (len(comps) >= 2
            and abs(sum(c.min for c in comps) - inst.min) < 1e-9
            and abs(sum(c.max for c in comps) - inst.max) < 1e-9)


def _measure(row: _Row) -> Rating | None:
    client = row.code("client")
    clinician = row.code("clinician")
    session = row.whole("session", required=True)
    day = row.day("date", required=True)
    attendance = row.choice("attendance", ATTENDANCE, "attended")
    rater = row.choice("rater", RATERS, "client")
    get = row.values.get  # the hot loop of an import: one lookup per column
    instrument_text = get("instrument", "")
    inst = None
    if instrument_text:
        inst = instruments.get(instrument_text)
        if inst is None:
            row.error("instrument", f"must be one of {', '.join(instruments.ids())} or empty")
    scores: dict[str, float | None] = {}
    for col in _SCORE_COLUMNS:
        value = get(col, "")
        if value == "":
            scores[col] = None
            continue
        if not instrument_text:
            row.error(col, "a score needs an instrument, but the instrument column is empty")
            scores[col] = None
            continue
        x = row.number(col)
        scores[col] = x
        if x is None or inst is None:
            continue
        if col != "total" and inst.component(col) is None:
            have = ", ".join(c.name for c in inst.components)
            row.error(col, f"{inst.id} has no {col} score" + (f" (only {have})" if have else "")
                      + "; leave it empty")
            scores[col] = None
            continue
        problem = score_problem(inst.id, col, x)  # the rule a database document is read with
        if problem is not None:
            row.error(col, problem)
            scores[col] = None
    total = scores["total"]
    if inst is not None:
        derivable = _derivable(inst)
        names = [c.name for c in inst.components]
        parts = [scores.get(n) for n in names]
        all_parts = derivable and all(p is not None for p in parts)
        # parts that were given but invalid are already reported: no extra noise
        parts_invalid = derivable and any(get(n, "") != "" and scores.get(n) is None for n in names)
        if get("total", "") == "":
            if all_parts:
                total = round(float(sum(parts)), 9)  # type: ignore[arg-type]  # no binary noise (48.6, not 48.599…)
            elif not parts_invalid:
                if derivable:
                    row.error("total", f"required for {inst.id} unless {_and(names)} are all given")
                else:
                    row.error("total", f"required for {inst.id}")
        elif total is not None and all_parts:
            s = float(sum(parts))  # type: ignore[arg-type]
            if abs(s - total) > 1e-6:
                row.error("total", f"must equal {' + '.join(names)} = {_num_text(s)}")
    rupture_text = row.optional_choice("rupture", YES_NO)
    rupture_type = row.optional_choice("rupture_type", RUPTURE_TYPES)
    if rupture_type is not None and get("rupture", "") in ("", "no"):
        row.error("rupture_type", "only allowed when rupture is yes")
    risk_text = row.optional_choice("risk", YES_NO)
    if risk_text == "yes" and not instrument_text:
        row.error("risk", "needs an instrument: the risk rule only reads rows with a measure")
    if not row.ok:
        bad = row.bad or ()
        # a score or a risk answer without an instrument: the row meant an instrument it does not name, so
        # it has no identity to compare (two such rows of a session are not a duplicate of each other)
        unnamed = not instrument_text and (risk_text == "yes" or any(get(n, "") != "" for n in _SCORE_COLUMNS))
        if (client is not None and session is not None and "instrument" not in bad and "rater" not in bad
                and not unnamed):
            # its identity is valid: it takes part in the checks across rows, each field that is
            # itself invalid (None) left out of them (``session_errors``)
            row.partial = Rating(client, clinician, session, day,  # type: ignore[arg-type]
                                 None if "attendance" in bad else attendance,  # type: ignore[arg-type]
                                 inst.id if inst else None, rater)  # type: ignore[arg-type]
        return None
    return Rating(
        client=client,  # type: ignore[arg-type]
        clinician=clinician,  # type: ignore[arg-type]
        session=session,  # type: ignore[arg-type]
        date=day,  # type: ignore[arg-type]
        attendance=attendance,  # type: ignore[arg-type]
        instrument=inst.id if inst else None,
        rater=rater,  # type: ignore[arg-type]
        total=total,
        goal=scores["goal"],
        task=scores["task"],
        bond=scores["bond"],
        rupture=None if rupture_text is None else rupture_text == "yes",
        rupture_type=rupture_type,
        risk=None if risk_text is None else risk_text == "yes",
    )


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _where(ref: Origin | None, here: Origin) -> str:
    if ref is None:
        return "in the database"
    if ref[0] == here[0]:
        return f"on line {ref[1]}"
    return f"in {ref[0]} on line {ref[1]}"


def session_errors(entries: Iterable[tuple[Rating, Origin | None]],
                   file_order: dict[str, int] | None = None, *,
                   database_only: bool = False) -> list[tuple[tuple, str]]:
    """Cross-row checks of sessions, as ``(sort key, error line)`` pairs.

    ``entries`` are rows with their origin (``None`` = already in the
    database; give those first, then the files' rows in the order read).
    Errors are reported on rows that have an origin only. Checks: all rows
    of a (client, session) agree on date, attendance and clinician; dates
    never go back as session numbers rise. A row of ``ParsedImport.partial``
    has None in a field that is itself invalid: that field is left out of
    the checks (its error is reported already), the row's others are not;
    the session's reference for a field is its first row where it is valid.
    ``database_only``: only the problems that involve a row of the database
    (the files' rows among themselves were checked when they were read, and
    reported there in the files' own terms: a ``--map`` export's columns).
    """
    order = file_order or {}
    out: list[tuple[tuple, str]] = []

    def err(origin: Origin, col: str, what: str, value: str) -> None:
        out.append(((order.get(origin[0], 99), origin[1], len(out)), _fmt(origin, col, what, value)))

    # (client, session) -> [date, its origin, attendance, its origin, clinician, its origin]: the first
    # valid value of each field (a row with errors may leave one unknown, as None, for a later row to give)
    first: dict[tuple[str, int], list] = {}
    for r, origin in entries:
        k = (r.client, r.session)
        seen = first.get(k)
        if seen is None:
            first[k] = [r.date, origin, r.attendance, origin, r.clinician, origin]
            continue
        if origin is None:
            continue
        label = f"session {r.session} of {r.client}"
        d, a, c = r.date, r.attendance, r.clinician
        if d != seen[0] and d is not None:
            if seen[0] is None:
                seen[0], seen[1] = d, origin
            elif not (database_only and seen[1] is not None):
                err(origin, "date", f"{label} has date {seen[0].isoformat()} {_where(seen[1], origin)}", d.isoformat())
        if a != seen[2] and a is not None:
            if seen[2] is None:
                seen[2], seen[3] = a, origin
            elif not (database_only and seen[3] is not None):
                err(origin, "attendance", f"{label} is {seen[2]} {_where(seen[3], origin)}", a)
        if c != seen[4] and c is not None:
            if seen[4] is None:
                seen[4], seen[5] = c, origin
            elif not (database_only and seen[5] is not None):
                err(origin, "clinician", f"{label} is with {seen[4]} {_where(seen[5], origin)}", c)
    by_client: dict[str, list[tuple[int, date, Origin | None]]] = {}
    for (client, session), seen in first.items():
        if seen[0] is not None:  # (a session whose every date is invalid: its order cannot be judged)
            by_client.setdefault(client, []).append((session, seen[0], seen[1]))
    for client, items in by_client.items():
        items.sort(key=lambda t: t[0])
        best: tuple[int, date, Origin | None] | None = None
        for s, d, origin in items:
            if best is not None and d < best[1]:
                bs, bd, bo = best
                if origin is not None:
                    if not (database_only and bo is not None):
                        where = "in the database" if bo is None else _where(bo, origin)
                        err(origin, "date", f"session {s} of {client} is dated before session {bs} "
                                            f"({bd.isoformat()}, {where})", d.isoformat())
                elif bo is not None:
                    err(bo, "date", f"session {bs} of {client} is dated after session {s} "
                                    f"({d.isoformat()}, in the database)", bd.isoformat())
            if best is None or d > best[1]:
                best = (s, d, origin)
    return out


@dataclass
class _Seen:
    """What the files' rows with errors still tell the checks across files:
    the valid client codes of measures and clients rows that could not be
    read (a goal of such a client is not reported as unknown: that would
    repeat the row's error), the client of each goal row (not a duplicate)
    whose client code is valid, in file order, and whether a measures or
    clients file could not be read at all (then no goal's client can be
    judged unknown)."""

    clients: set[str] = field(default_factory=set)
    goal_clients: list[tuple[str, Origin]] = field(default_factory=list)
    people_unread: bool = False


def _parse_measures(table: _Table, errors: _Errors, parsed: ParsedImport, seen: _Seen) -> None:
    parsed.measure_columns[table.name] = frozenset(table.header)
    first_line: dict[tuple, int] = {}
    entries: list[tuple[Rating, Origin]] = []
    for line, values in table.rows:
        row = _row(table, line, values, errors)
        origin = row.origin
        r = _measure(row)
        whole = r is not None
        if r is None:
            if "client" not in row.bad:  # type: ignore[operator]
                seen.clients.add(values["client"])
            r = row.partial
            if r is None:  # its client, session, instrument or rater is itself invalid
                continue
        prev = first_line.get(r.key)
        if prev is not None:
            errors.add(origin, "instrument", f"same client, session, instrument and rater as line {prev}",
                       r.instrument or "")
            continue
        first_line[r.key] = line
        entries.append((r, origin))
        if whole:
            parsed.ratings.append(r)
            parsed.rating_origins.append(origin)
        else:
            parsed.partial.append((r, origin))
    for key, line in session_errors(entries, errors.file_order):
        errors.add_line((key[0], key[1], len(errors.items)), line)  # on a line, after the row's own errors


def _parse_clients(table: _Table, errors: _Errors, parsed: ParsedImport, seen: _Seen) -> None:
    first_line: dict[str, int] = {}
    for line, values in table.rows:
        row = _row(table, line, values, errors)
        origin = row.origin
        code = row.code("client")
        clinician = row.code("clinician")
        status = row.choice("status", CLIENT_STATUSES, "active")
        started = row.day("started", required=False)
        if code is not None:  # a row with other errors still lists its client
            prev = first_line.get(code)
            if prev is not None:
                errors.add(origin, "client", f"already listed on line {prev}", code)
                continue
            first_line[code] = line
        if not row.ok:
            if code is not None:
                seen.clients.add(code)
            continue
        parsed.clients.append(Client(code, clinician, status, started))  # type: ignore[arg-type]
        parsed.client_origins.append(origin)


def _parse_goals(table: _Table, errors: _Errors, parsed: ParsedImport, seen: _Seen) -> None:
    first_line: dict[tuple[str, str], int] = {}
    for line, values in table.rows:
        row = _row(table, line, values, errors)
        origin = row.origin
        client = row.code("client")
        goal_id = row.code("goal_id")
        description = csv_uncell(row.get("description"))  # export wrote '=… for =… (sanitize.csv_cell)
        set_session = row.whole("set_session", required=True)
        agreement = row.choice("agreement", GOAL_AGREEMENTS, None)
        status = row.choice("status", GOAL_STATUSES, "active")
        reviewed = row.whole("reviewed_session", required=False)
        if reviewed is not None and set_session is not None and reviewed < set_session:
            row.error("reviewed_session", f"must not be before set_session {set_session}")
        if client is not None and goal_id is not None:  # a row with other errors still names its goal
            key = (client, goal_id)
            prev = first_line.get(key)
            if prev is not None:
                errors.add(origin, "goal_id", f"goal {goal_id} of {client} already given on line {prev}", goal_id)
                continue
            first_line[key] = line
        if client is not None:
            seen.goal_clients.append((client, origin))
        if not row.ok:
            continue
        parsed.goals.append(Goal(client, goal_id, description, set_session, agreement, status, reviewed))  # type: ignore[arg-type]
        parsed.goal_origins.append(origin)


_PARSERS: dict[str, Callable[[_Table, _Errors, ParsedImport, _Seen], None]] = {
    "measures": _parse_measures,
    "clients": _parse_clients,
    "goals": _parse_goals,
}


def _parse(files: list[tuple[Path, str | None]], errors: _Errors | None = None,
           ) -> tuple[ParsedImport, _Errors, dict[str, tuple[str, int]]]:
    """Parse ``(path, kind)`` pairs (kind None = recognise from the header).

    Returns the parsed content, the errors (added to ``errors`` when given:
    its files come first in the sort order) and, per file read, its kind
    and number of data rows. The checks across rows and files run on every
    row that could be read, whatever errors other rows or files have.
    """
    with gc_paused():  # 10⁵–10⁶ rows, strings and ratings, no reference cycles (see gc_pause)
        return _parse_paused(files, _Errors() if errors is None else errors)


def _parse_paused(files: list[tuple[Path, str | None]], errors: _Errors,
                  ) -> tuple[ParsedImport, _Errors, dict[str, tuple[str, int]]]:
    parsed = ParsedImport()
    seen = _Seen()
    kinds: dict[str, tuple[str, int]] = {}
    for path, _kind in files:
        errors.file_order.setdefault(str(path), len(errors.file_order))
    for path, kind in files:
        name = str(path)
        parsed.files.append(name)
        table = _read_table(path, errors)
        if table is None:
            seen.people_unread |= kind != "goals"
            continue
        if kind is None:
            kind = _kind_of(table.header) if _looks_like_header(table.header) else None
            if kind is None:
                seen.people_unread = True
                if _looks_like_header(table.header):
                    what, shown = "cannot tell a measures, clients or goals file from these column names", \
                        ",".join(table.header)
                else:
                    what, shown = "missing: the first line must name the columns", _first_cells(table.header)
                errors.add((name, table.header_line), "header", what, shown)
                continue
        if not _check_header(table, kind, errors):
            seen.people_unread |= kind != "goals"
            continue
        if kind != "goals":
            seen.clients |= table.misaligned_clients
        _PARSERS[kind](table, errors, parsed, seen)
        kinds[name] = (kind, len(table.rows))
    # cross-file: goals of clients in neither file (the rows that could be read, even with errors elsewhere)
    known = {r.client for r in parsed.ratings} | {r.client for r, _o in parsed.partial} \
        | {c.code for c in parsed.clients} | seen.clients
    if not seen.people_unread:  # (else the clients of a file that could not be read are not known)
        parsed.unknown_goal_clients = [(c, origin) for c, origin in seen.goal_clients if c not in known]
    return parsed, errors, kinds


def parse_files(measures: str | os.PathLike[str], clients: str | os.PathLike[str] | None = None,
                goals: str | os.PathLike[str] | None = None, *, keep_errors: bool = False) -> ParsedImport:
    """Read and validate the import files; raise ``ValidationFailed`` listing
    every error, or ``UserError`` when a file cannot be read at all.

    Goals whose client is in neither file are not errors yet: they are
    listed in ``ParsedImport.unknown_goal_clients`` for the database to
    resolve (see ``ParsedImport.unresolved``).

    ``keep_errors``: return the rows that could be read with the errors in
    ``ParsedImport.errors`` instead of raising, so that the import adds the
    checks against the database in the same run (``Database.import_parsed``
    then raises with every error and writes nothing).
    """
    files: list[tuple[Path, str | None]] = [(Path(measures), "measures")]
    if clients is not None:
        files.append((Path(clients), "clients"))
    if goals is not None:
        files.append((Path(goals), "goals"))
    parsed, errors, _kinds = _parse(files)
    if errors:
        if not keep_errors:
            raise ValidationFailed(errors.lines())
        parsed.errors = list(errors.items)
    return parsed


def validate_files(paths: Sequence[str | os.PathLike[str]]) -> str:
    """Check CSV files (the kind of each recognised from its header) without
    writing anything. Returns a short OK message; raises ``ValidationFailed``
    (or ``UserError`` when a file cannot be read)."""
    files = [(Path(p), None) for p in paths]
    parsed, errors, kinds = _parse(files)
    have_people = any(kind in ("measures", "clients") for kind, _n in kinds.values())
    if have_people:
        for client, origin in parsed.unknown_goal_clients:
            errors.add(origin, "client", "not in the measures or clients file", client)
    if errors:
        raise ValidationFailed(errors.lines())
    parts = [f"{name} ({kind}, {n} row{'' if n == 1 else 's'})" for name, (kind, n) in kinds.items()]
    msg = "OK: " + "; ".join(parts)
    if any(kind == "goals" for kind, _n in kinds.values()) and not have_people:
        msg += ". Goal clients not checked: give the measures or clients file too."
    return msg


# --- export ------------------------------------------------------------------------


def _cell(x: object) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if x.is_integer():
            return str(int(x))
        text = repr(x)  # the shortest text that reads back as exactly x
        if "e" in text:  # 1e-05: written positionally, as import accepts numbers
            from decimal import Decimal

            text = format(Decimal(text), "f")
        return text
    if isinstance(x, date):
        return x.isoformat()
    return str(x)


def _csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text; no cell runs as a formula in a spreadsheet (``sanitize.csv_cell``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([csv_cell(_cell(v)) for v in row])
    return buf.getvalue()


def export_csv(caseload: Caseload, outdir: str | os.PathLike[str], clinician: str | None = None,
               include_notes: bool = False, force: bool = False) -> list[Path]:
    """Write measures.csv, clients.csv and goals.csv into ``outdir``.

    ``clinician`` keeps only the clients whose current clinician (that of
    their latest session, else the clients table) it is — with all their
    rows. Goal descriptions are left empty unless ``include_notes``.
    Files are 0o600, written all-or-nothing (``files.write_private_files``);
    ``outdir`` is created 0o700. An existing measures.csv, clients.csv or
    goals.csv in ``outdir`` is never replaced unless ``force``: without it
    ``files.FilesExist`` names them and nothing is written.
    Raises ``UserError`` when the folder or a file cannot be written.
    """
    from supervision_tui.store.files import ensure_private_dir, write_private_files

    out = ensure_private_dir(outdir)
    records = caseload.records()
    current = {rec.code: rec.client.clinician for rec in records}
    if clinician is not None:
        keep = {code for code, c in current.items() if c == clinician}
    else:
        keep = set(current)

    ratings = sorted((r for r in caseload.ratings if r.client in keep), key=lambda r: (r.client, r.session, r.key))
    measures = _csv_text(MEASURES_COLUMNS, (
        (r.client, r.clinician, r.session, r.date, r.attendance, r.instrument, r.rater, r.total, r.goal,
         r.task, r.bond, r.rupture, r.rupture_type, r.risk)
        for r in ratings
    ))
    client_rows = []
    for code in sorted(keep):
        c = caseload.clients.get(code) or Client(code, current.get(code, ""))
        client_rows.append((c.code, c.clinician, c.status, c.started))
    clients = _csv_text(CLIENTS_COLUMNS, client_rows)
    goals = _csv_text(GOALS_COLUMNS, (
        (g.client, g.goal_id, g.description if include_notes else "", g.set_session, g.agreement, g.status,
         g.reviewed_session)
        for g in sorted(caseload.goals, key=lambda g: (g.client, g.goal_id)) if g.client in keep
    ))
    # all three or none (a full disk must not leave measures.csv without clients.csv)
    return write_private_files([(out / name, text.encode("utf-8")) for name, text in
                                zip(EXPORT_FILES, (measures, clients, goals))], replace=force)
