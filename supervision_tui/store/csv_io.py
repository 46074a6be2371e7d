"""Read, validate and write the interchange CSVs (interchange.md §1–3).

Public API::

    parse_files(measures, clients=None, goals=None) -> ParsedImport   # raises ValidationFailed
    validate_files(paths) -> str                                      # raises ValidationFailed
    export_csv(caseload, outdir, clinician=None, include_notes=False) -> list[Path]
    session_errors(entries) -> list[tuple[tuple, str]]                 # shared with database.py

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
files are collected (``ValidationFailed`` shows the first 50 and a count).

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
  A row with such a cell is reported once per cell and not checked further.
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

    def unresolved(self, known_clients: Iterable[str] = (), *, database: bool = True) -> list[str]:
        """Errors for goals whose client is unknown also to ``known_clients``."""
        known = set(known_clients)
        where = "the measures or clients file, nor in the database" if database else "the measures or clients file"
        return [
            _fmt(origin, "client", f"not in {where}", client)
            for client, origin in self.unknown_goal_clients
            if client not in known
        ]


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
    for line, fields, check in raw_rows:
        values = [f.strip() for f in fields]
        # a row longer than the header is an error even when the extra fields
        # are empty: an unquoted decimal comma ("35,5") shifts every later
        # value one column right and must never import silently
        if len(values) != width:
            errors.add((name, line), "row", f"has {len(values)} fields but the header has {width}",
                       str(len(values)))
            continue
        if check and _control_errors(name, line, header, values, errors):
            continue  # reported once per cell; its other checks would only repeat the problem
        for i in nameless_cols:
            if values[i]:
                nameless.append((line, i + 1, values[i]))
        rows.append((line, {c: v for c, v in zip(header, values) if c}))
    return _Table(name, header, header_line, rows, nameless)


_CONTROL_OUTSIDE_LINE_ENDS = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control_errors(name: str, line: int, header: Sequence[str], values: list[str], errors: _Errors) -> bool:
    """Report cells holding a control character (see ``sanitize``); a
    line break is allowed in free text only, as ``\\n``. Normalises the
    line breaks of free-text cells in place. True when the row is bad."""
    bad = False
    for i, (col, v) in enumerate(zip(header, values)):
        free = col in FREE_TEXT_COLUMNS
        if free:
            v = values[i] = normalise_newlines(v)
        problem = control_problem(v, newlines=free)
        if problem is not None:
            errors.add((name, line), col or f"column {i + 1}", problem, v, shown=_code_shown(col, v))
            bad = True
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
    """One data row: typed accessors that record errors."""

    __slots__ = ("origin", "values", "errors", "ok")

    def __init__(self, origin: Origin, values: dict[str, str], errors: _Errors):
        self.origin = origin
        self.values = values
        self.errors = errors
        self.ok = True

    def get(self, col: str) -> str:
        return self.values.get(col, "")

    def error(self, col: str, what: str, value: str | None = None) -> None:
        self.ok = False
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
                   file_order: dict[str, int] | None = None) -> list[tuple[tuple, str]]:
    """Cross-row checks of sessions, as ``(sort key, error line)`` pairs.

    ``entries`` are rows with their origin (``None`` = already in the
    database; give those first). Errors are reported on rows that have an
    origin only. Checks: all rows of a (client, session) agree on date,
    attendance and clinician; dates never go back as session numbers rise.
    """
    order = file_order or {}
    out: list[tuple[tuple, str]] = []

    def err(origin: Origin, col: str, what: str, value: str) -> None:
        out.append(((order.get(origin[0], 99), origin[1], len(out)), _fmt(origin, col, what, value)))

    first: dict[tuple[str, int], tuple[Rating, Origin | None]] = {}
    for r, origin in entries:
        k = (r.client, r.session)
        seen = first.get(k)
        if seen is None:
            first[k] = (r, origin)
            continue
        f, f_origin = seen
        if origin is None:
            continue
        where = _where(f_origin, origin)
        label = f"session {r.session} of {r.client}"
        if r.date != f.date:
            err(origin, "date", f"{label} has date {f.date.isoformat()} {where}", r.date.isoformat())
        if r.attendance != f.attendance:
            err(origin, "attendance", f"{label} is {f.attendance} {where}", r.attendance)
        if r.clinician != f.clinician:
            err(origin, "clinician", f"{label} is with {f.clinician} {where}", r.clinician)
    by_client: dict[str, list[tuple[int, date, Origin | None]]] = {}
    for (client, session), (r, origin) in first.items():
        by_client.setdefault(client, []).append((session, r.date, origin))
    for client, items in by_client.items():
        items.sort(key=lambda t: t[0])
        best: tuple[int, date, Origin | None] | None = None
        for s, d, origin in items:
            if best is not None and d < best[1]:
                bs, bd, bo = best
                if origin is not None:
                    where = "in the database" if bo is None else _where(bo, origin)
                    err(origin, "date", f"session {s} of {client} is dated before session {bs} "
                                        f"({bd.isoformat()}, {where})", d.isoformat())
                elif bo is not None:
                    err(bo, "date", f"session {bs} of {client} is dated after session {s} "
                                    f"({d.isoformat()}, in the database)", bd.isoformat())
            if best is None or d > best[1]:
                best = (s, d, origin)
    return out


def _parse_measures(table: _Table, errors: _Errors, parsed: ParsedImport) -> None:
    parsed.measure_columns[table.name] = frozenset(table.header)
    first_line: dict[tuple, int] = {}
    entries: list[tuple[Rating, Origin]] = []
    for line, values in table.rows:
        origin = (table.name, line)
        row = _Row(origin, values, errors)
        r = _measure(row)
        if r is None:
            continue
        prev = first_line.get(r.key)
        if prev is not None:
            errors.add(origin, "instrument", f"same client, session, instrument and rater as line {prev}",
                       r.instrument or "")
            continue
        first_line[r.key] = line
        entries.append((r, origin))
    for key, line in session_errors(entries, errors.file_order):
        errors.add_line(key, line)
    for r, origin in entries:
        parsed.ratings.append(r)
        parsed.rating_origins.append(origin)


def _parse_clients(table: _Table, errors: _Errors, parsed: ParsedImport) -> None:
    first_line: dict[str, int] = {}
    for line, values in table.rows:
        origin = (table.name, line)
        row = _Row(origin, values, errors)
        code = row.code("client")
        clinician = row.code("clinician")
        status = row.choice("status", CLIENT_STATUSES, "active")
        started = row.day("started", required=False)
        if not row.ok:
            continue
        if code in first_line:
            row.error("client", f"already listed on line {first_line[code]}")
            continue
        first_line[code] = line  # type: ignore[index]
        parsed.clients.append(Client(code, clinician, status, started))  # type: ignore[arg-type]
        parsed.client_origins.append(origin)


def _parse_goals(table: _Table, errors: _Errors, parsed: ParsedImport) -> None:
    first_line: dict[tuple[str, str], int] = {}
    for line, values in table.rows:
        origin = (table.name, line)
        row = _Row(origin, values, errors)
        client = row.code("client")
        goal_id = row.code("goal_id")
        description = csv_uncell(row.get("description"))  # export wrote '=… for =… (sanitize.csv_cell)
        set_session = row.whole("set_session", required=True)
        agreement = row.choice("agreement", GOAL_AGREEMENTS, None)
        status = row.choice("status", GOAL_STATUSES, "active")
        reviewed = row.whole("reviewed_session", required=False)
        if reviewed is not None and set_session is not None and reviewed < set_session:
            row.error("reviewed_session", f"must not be before set_session {set_session}")
        if not row.ok:
            continue
        key = (client, goal_id)
        if key in first_line:
            row.error("goal_id", f"goal {goal_id} of {client} already given on line {first_line[key]}")  # type: ignore[index]
            continue
        first_line[key] = line  # type: ignore[index]
        parsed.goals.append(Goal(client, goal_id, description, set_session, agreement, status, reviewed))  # type: ignore[arg-type]
        parsed.goal_origins.append(origin)


_PARSERS: dict[str, Callable[[_Table, _Errors, ParsedImport], None]] = {
    "measures": _parse_measures,
    "clients": _parse_clients,
    "goals": _parse_goals,
}


def _parse(files: list[tuple[Path, str | None]]) -> tuple[ParsedImport, _Errors, dict[str, tuple[str, int]]]:
    """Parse ``(path, kind)`` pairs (kind None = recognise from the header).

    Returns the parsed content, the errors and, per file read, its kind
    and number of data rows.
    """
    with gc_paused():  # 10⁵–10⁶ rows, strings and ratings, no reference cycles (see gc_pause)
        return _parse_paused(files)


def _parse_paused(files: list[tuple[Path, str | None]]) -> tuple[ParsedImport, _Errors, dict[str, tuple[str, int]]]:
    errors = _Errors()
    parsed = ParsedImport()
    kinds: dict[str, tuple[str, int]] = {}
    for n, (path, _kind) in enumerate(files):
        errors.file_order.setdefault(str(path), n)
    for path, kind in files:
        name = str(path)
        parsed.files.append(name)
        table = _read_table(path, errors)
        if table is None:
            continue
        if kind is None:
            kind = _kind_of(table.header) if _looks_like_header(table.header) else None
            if kind is None:
                if _looks_like_header(table.header):
                    what, shown = "cannot tell a measures, clients or goals file from these column names", \
                        ",".join(table.header)
                else:
                    what, shown = "missing: the first line must name the columns", _first_cells(table.header)
                errors.add((name, table.header_line), "header", what, shown)
                continue
        if not _check_header(table, kind, errors):
            continue
        _PARSERS[kind](table, errors, parsed)
        kinds[name] = (kind, len(table.rows))
    # cross-file: goals of clients in neither file
    known = {r.client for r in parsed.ratings} | {c.code for c in parsed.clients}
    for g, origin in zip(parsed.goals, parsed.goal_origins):
        if g.client not in known:
            parsed.unknown_goal_clients.append((g.client, origin))
    return parsed, errors, kinds


def parse_files(measures: str | os.PathLike[str], clients: str | os.PathLike[str] | None = None,
                goals: str | os.PathLike[str] | None = None) -> ParsedImport:
    """Read and validate the import files; raise ``ValidationFailed`` listing
    every error, or ``UserError`` when a file cannot be read at all.

    Goals whose client is in neither file are not errors yet: they are
    listed in ``ParsedImport.unknown_goal_clients`` for the database to
    resolve (see ``ParsedImport.unresolved``).
    """
    files: list[tuple[Path, str | None]] = [(Path(measures), "measures")]
    if clients is not None:
        files.append((Path(clients), "clients"))
    if goals is not None:
        files.append((Path(goals), "goals"))
    parsed, errors, _kinds = _parse(files)
    if errors:
        raise ValidationFailed(errors.lines())
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
