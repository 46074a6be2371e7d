"""Vendor CSV exports through a declarative mapping (``import --map``).

Public API::

    load_mapping(spec) -> Mapping            # a TOML file, or the name of a bundled one
    bundled_mappings() -> dict[str, Path]    # data/mappings/*.toml by name
    read_mapped(spec, files, clients=None, goals=None) -> MappedImport   # raises ValidationFailed / UserError

A mapping turns each row of a feedback system's export into rows of the
measures CSV (interchange.md §1) and feeds them to the CSV import's own
row validator (``csv_io._measure``), so the values, the errors and the
guarantees are those of the native import: every error as
``FILE:LINE: column: what is wrong (got VALUE)`` where FILE, LINE and
column are the *export's* (the vendor's column name, the value as it is in
the file), nothing written unless everything validates, the same
all-or-nothing atomic merge, idempotent re-import. The format is
documented in ``data/mappings/README.md``; in short::

    [mapping]
    name = "..."                 # free text: what this layout is
    source = "..."               # where the layout is documented
    date_format = "%d/%m/%Y"     # strftime codes, or "ISO" (YYYY-MM-DD, a time after it ignored)
    delimiter = ","              # one character
    decimal = "."                # "." or ","
    encoding = "utf-8"           # utf-8 (default), cp1252 or latin-1
    sessions = "column"          # or "by_date": number each client's days 1, 2, … (no session column)

    [columns]                    # measures-CSV column = the export's column (or a list: first non-empty)
    client = "Client ID"
    [fixed]                      # a value for every row: clinician, attendance, instrument, rater
    clinician = "T01"
    [values.attendance]          # the export's value = the measures-CSV value
    "Did not attend" = "no_show"

    [[measures]]                 # wide → long: one measures row per entry with a score
    instrument = "ORS"
    total = "ORS Total"          # and/or goal, task, bond; risk, rupture, rupture_type
    items = ["Q1", "Q2", "Q3", "Q4"]   # the total as their sum when the total column is empty
    skip = "ORS_Skip"            # a column saying the measure was not taken …
    skip_values = ["Y", "1"]     # … when it holds one of these

Readings decided here:

* Columns of the export that the mapping does not name are never read
  (names, birth dates, e-mail addresses stay in the export); their names
  are listed in the summary so nothing is dropped unnoticed. A column the
  mapping names that is not in the header is an error (the closest name in
  another case is suggested).
* Value maps are exact (after stripping spaces). A value that is not in
  the map is passed on as it is, so a map only lists what differs; an
  unknown value is then reported by the native validator, with a pointer
  to the map.
* Wide rows: a ``[[measures]]`` entry gives a row when one of its score
  columns (total, goal, task, bond, or all items) has a value and the skip
  column does not say it was skipped. A source row with no measure gives
  one row without an instrument (a session with no measure, e.g. a
  no-show). A ``risk`` or ``rupture`` ``yes`` on a measure without a score,
  or on one its skip column marks as not taken, is an error (it would be
  lost: a risk endorsement must never disappear silently). Some items given and others empty is an
  error (no prorating); a total and items that disagree is an error.
* A value of the export's client or clinician column that is not a code
  is never shown in an error, only its length (``8 characters, not a
  code; not shown``): the column may hold names (``sanitize.code_shown``,
  shared with the CSV and FHIR imports). An error repeated on the rows a
  wide row becomes (an unknown attendance value checked once per measure)
  is reported once.
* ``sessions = "by_date"`` numbers each client's distinct dates 1, 2, … in
  date order: rows of one client and day are one session. Into a database
  that has the client, a stored day keeps its number and later days
  continue after the last (an export of newer rows appends); a day between
  stored sessions is an error.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

from supervision_tui import instruments
from supervision_tui.errors import UserError, ValidationFailed
from supervision_tui.gc_pause import gc_paused
from supervision_tui.model import RATERS
from supervision_tui.store.csv_io import (CODE_COLUMNS, CODE_RE, MEASURES_COLUMNS, NUMBER_RE, ParsedImport,
                                          session_errors)
from supervision_tui.store.csv_io import _decode, _Errors, _parse, _read_bytes  # the CSV import's readers
from supervision_tui.store.csv_io import _measure as _native_measure
from supervision_tui.store.csv_io import _Row as _NativeRow
from supervision_tui.store.sanitize import code_shown
from supervision_tui.wording import count

__all__ = ["Mapping", "MeasureMap", "MappingError", "MappedImport", "load_mapping", "bundled_mappings",
           "read_mapped"]

ENCODINGS = ("utf-8", "cp1252", "latin-1")
SCORE_COLUMNS = ("total", "goal", "task", "bond")
MEASURE_COLUMNS = (*SCORE_COLUMNS, "risk", "rupture", "rupture_type")
FIXED_ALLOWED = ("clinician", "attendance", "instrument", "rater")
MAPPING_KEYS = ("name", "source", "description", "date_format", "delimiter", "decimal", "encoding", "sessions")
MEASURE_KEYS = ("instrument", "rater", *MEASURE_COLUMNS, "items", "skip", "skip_values")
SECTIONS = ("mapping", "columns", "fixed", "values", "measures")
SAMPLE_DAY = date(2024, 3, 31)


class MappingError(UserError):
    """The mapping file is not valid (unknown key, wrong type, missing column)."""


@dataclass(frozen=True)
class MeasureMap:
    instrument: str
    rater: str | None
    columns: dict[str, tuple[str, ...]]  # native score column -> the export's columns
    items: tuple[str, ...] = ()
    skip: str | None = None
    skip_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    path: str
    name: str = ""
    source: str = ""
    date_format: str = "%Y-%m-%d"
    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    sessions: str = "column"
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    measures: tuple[MeasureMap, ...] = ()

    def named_columns(self) -> list[tuple[str, str]]:
        """(the export's column, where the mapping names it), in mapping order."""
        out = [(c, f"[columns] {k}") for k, cols in self.columns.items() for c in cols]
        for i, m in enumerate(self.measures, start=1):
            where = f"[[measures]] {i} ({m.instrument})"
            out += [(c, f"{where} {k}") for k, cols in m.columns.items() for c in cols]
            out += [(c, f"{where} items") for c in m.items]
            if m.skip:
                out.append((m.skip, f"{where} skip"))
        return out


# --- loading and checking a mapping file -------------------------------------------------


def bundled_dir() -> Path:
    """``data/mappings`` of a source checkout, else the installed ``_data/mappings``."""
    source = Path(__file__).resolve().parents[2] / "data" / "mappings"
    if source.is_dir():
        return source
    try:
        from importlib import resources

        installed = resources.files("supervision_tui").joinpath("_data", "mappings")
        if isinstance(installed, Path) and installed.is_dir():
            return installed
    except (ImportError, OSError, TypeError):  # pragma: no cover - exotic loaders
        pass
    return source


def bundled_mappings() -> dict[str, Path]:
    d = bundled_dir()
    return {p.stem: p for p in sorted(d.glob("*.toml"))} if d.is_dir() else {}


def load_mapping(spec: str | os.PathLike[str]) -> Mapping:
    """Read and check a mapping: a path, or the name of a bundled mapping."""
    path = Path(spec)
    if not path.exists():
        shipped = bundled_mappings()
        name = str(spec).removesuffix(".toml")
        if name in shipped and os.sep not in str(spec):
            path = shipped[name]
        else:
            known = ", ".join(shipped) or "none"
            raise MappingError(f"{spec}: no such mapping file (bundled mappings: {known})")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except IsADirectoryError:
        raise MappingError(f"{path}: is a folder, not a mapping file") from None
    except PermissionError:
        raise MappingError(f"{path}: cannot read: permission denied") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"{path}: invalid TOML: {err}") from None
    except OSError as err:
        raise MappingError(f"{path}: cannot read: {err.strerror or err}") from None
    return mapping_from_dict(data, str(path))


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _text(v: Any, where: str, source: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise MappingError(f"{source}: {where}: expected a non-empty string (got {_show(v)})")
    return v.strip()


def _cols(v: Any, where: str, source: str) -> tuple[str, ...]:
    """A column name, or a list of them (the first non-empty value is used)."""
    if isinstance(v, list):
        if not v:
            raise MappingError(f"{source}: {where}: expected a column name or a list of them (got an empty array)")
        return tuple(_text(x, where, source) for x in v)
    return (_text(v, where, source),)


def mapping_from_dict(data: dict[str, Any], source: str = "mapping.toml") -> Mapping:
    """Check a parsed mapping document (see the module docstring)."""
    for key in data:
        if key not in SECTIONS:
            raise MappingError(f"{source}: [{key}]: unknown section (known: {', '.join(SECTIONS)})")
    for key in ("mapping", "columns", "fixed", "values"):
        if key in data and not isinstance(data[key], dict):
            raise MappingError(f"{source}: {key}: expected a [{key}] table (got {_show(data[key])})")
    opts: dict[str, Any] = {}
    for key, v in data.get("mapping", {}).items():
        where = f"[mapping] {key}"
        if key not in MAPPING_KEYS:
            raise MappingError(f"{source}: {where}: unknown key (known: {', '.join(MAPPING_KEYS)})")
        v = _text(v, where, source) if key != "delimiter" else v
        if key == "delimiter":
            if not isinstance(v, str) or len(v) != 1 or v in "\"\r\n":
                raise MappingError(f"{source}: {where}: expected one character such as \",\" or \";\" "
                                   f"(got {_show(v)})")
        elif key == "decimal" and v not in (".", ","):
            raise MappingError(f"{source}: {where}: expected \".\" or \",\" (got {_show(v)})")
        elif key == "encoding":
            v = v.lower()
            if v not in ENCODINGS:
                raise MappingError(f"{source}: {where}: expected one of {', '.join(ENCODINGS)} (got {_show(v)})")
        elif key == "sessions" and v not in ("column", "by_date"):
            raise MappingError(f"{source}: {where}: expected \"column\" or \"by_date\" (got {_show(v)})")
        elif key == "date_format" and v.upper() != "ISO":
            try:
                ok = datetime.strptime(SAMPLE_DAY.strftime(v), v).date() == SAMPLE_DAY
            except ValueError:
                ok = False
            if not ok or "%d" not in v or "%m" not in v and "%b" not in v and "%B" not in v:
                raise MappingError(f"{source}: {where}: expected strftime codes with a day, month and year such "
                                   f"as \"%d/%m/%Y\", or \"ISO\" (got {_show(v)})")
        elif key == "date_format":
            v = "ISO"
        opts[key] = v
    columns: dict[str, tuple[str, ...]] = {}
    for key, v in data.get("columns", {}).items():
        if key not in MEASURES_COLUMNS:
            raise MappingError(f"{source}: [columns] {key}: unknown key (known: {', '.join(MEASURES_COLUMNS)})")
        columns[key] = _cols(v, f"[columns] {key}", source)
    fixed: dict[str, str] = {}
    for key, v in data.get("fixed", {}).items():
        if key not in FIXED_ALLOWED:
            raise MappingError(f"{source}: [fixed] {key}: unknown key (known: {', '.join(FIXED_ALLOWED)})")
        if key in columns:
            raise MappingError(f"{source}: [fixed] {key}: also in [columns]; give one of them")
        fixed[key] = _text(v, f"[fixed] {key}", source)
    values: dict[str, dict[str, str]] = {}
    for key, table in data.get("values", {}).items():
        where = f"[values.{key}]"
        if key not in MEASURES_COLUMNS:
            raise MappingError(f"{source}: {where}: unknown column (known: {', '.join(MEASURES_COLUMNS)})")
        if not isinstance(table, dict):
            raise MappingError(f"{source}: {where}: expected a table of \"export value\" = \"value\" "
                               f"(got {_show(table)})")
        vmap = {}
        for raw, mapped in table.items():
            if not isinstance(mapped, str):
                raise MappingError(f"{source}: {where} {raw!r}: expected a string (got {_show(mapped)})")
            vmap[raw.strip()] = mapped.strip()
        values[key] = vmap
    measures = _measures(data.get("measures"), columns, fixed, source)
    sessions = opts.get("sessions", "column")
    for need in ("client", "date"):
        if need not in columns:
            raise MappingError(f"{source}: [columns] {need}: missing (the export's column of the {need})")
    if "clinician" not in columns and "clinician" not in fixed:
        raise MappingError(f"{source}: [columns] clinician: missing (give the export's column, or "
                           "[fixed] clinician = \"ID\" when the export is one clinician's)")
    if sessions == "column" and "session" not in columns:
        raise MappingError(f"{source}: [columns] session: missing (or sessions = \"by_date\" in [mapping] to number "
                           "each client's dates)")
    if sessions == "by_date" and "session" in columns:
        raise MappingError(f"{source}: [columns] session: not used with sessions = \"by_date\"; give one of them")
    return Mapping(path=source, name=opts.get("name", ""), source=opts.get("source", ""),
                   date_format=opts.get("date_format", "%Y-%m-%d"), delimiter=opts.get("delimiter", ","),
                   decimal=opts.get("decimal", "."), encoding=opts.get("encoding", "utf-8"), sessions=sessions,
                   columns=columns, fixed=fixed, values=values, measures=measures)


def _measures(raw: Any, columns: dict, fixed: dict, source: str) -> tuple[MeasureMap, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise MappingError(f"{source}: measures: expected [[measures]] tables (got {_show(raw)})")
    clash = [k for k in ("instrument", *MEASURE_COLUMNS) if k in columns] + (["instrument"] if "instrument" in fixed
                                                                           else [])
    if clash:
        where = "[fixed]" if clash[0] == "instrument" and "instrument" in fixed else "[columns]"
        raise MappingError(f"{source}: {where} {clash[0]}: with [[measures]], give it in the measure it belongs to")
    out = []
    for i, m in enumerate(raw, start=1):
        label = f"[[measures]] {i}"
        for key in m:
            if key not in MEASURE_KEYS:
                raise MappingError(f"{source}: {label} {key}: unknown key (known: {', '.join(MEASURE_KEYS)})")
        inst = m.get("instrument")
        if inst is None:
            raise MappingError(f"{source}: {label} instrument: missing")
        if not isinstance(inst, str) or instruments.get(inst) is None:
            raise MappingError(f"{source}: {label} instrument: expected one of {', '.join(instruments.ids())} "
                               f"(got {_show(inst)})")
        label = f"{label} ({inst})"
        rater = m.get("rater")
        if rater is not None and rater not in RATERS:
            raise MappingError(f"{source}: {label} rater: expected one of {', '.join(RATERS)} (got {_show(rater)})")
        cols = {k: _cols(m[k], f"{label} {k}", source) for k in MEASURE_COLUMNS if k in m}
        items: tuple[str, ...] = ()
        if "items" in m:
            if not isinstance(m["items"], list) or len(m["items"]) < 2:
                raise MappingError(f"{source}: {label} items: expected a list of two or more columns "
                                   f"(got {_show(m['items'])})")
            items = tuple(_text(c, f"{label} items", source) for c in m["items"])
        if not items and not any(k in cols for k in SCORE_COLUMNS):
            raise MappingError(f"{source}: {label}: give at least one of total, goal, task, bond or items")
        skip = _text(m["skip"], f"{label} skip", source) if "skip" in m else None
        skip_values: tuple[str, ...] = ()
        if "skip_values" in m:
            sv = m["skip_values"]
            if not isinstance(sv, list) or not sv or not all(isinstance(x, str) for x in sv):
                raise MappingError(f"{source}: {label} skip_values: expected a list of strings (got {_show(sv)})")
            skip_values = tuple(x.strip() for x in sv)
        if (skip is None) != (not skip_values):
            raise MappingError(f"{source}: {label} skip_values: give skip and skip_values together")
        out.append(MeasureMap(inst, rater, cols, items, skip, skip_values))
    return tuple(out)


# --- reading an export through a mapping -------------------------------------------------


@dataclass
class MappedImport:
    parsed: ParsedImport
    mapping: Mapping
    source_rows: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        m = self.mapping
        label = Path(m.path).stem + (f" ({m.name})" if m.name else "")
        lines = [f"Mapped by {label}: {count(self.source_rows, 'export row')} → "
                 f"{count(len(self.parsed.ratings), 'measures row')}."]
        if self.ignored_columns:
            shown = ", ".join(self.ignored_columns[:12]) + (", …" if len(self.ignored_columns) > 12 else "")
            lines.append(f"  columns not read (not in the mapping): {shown}")
        if "clinician" in m.fixed:  # every client given to one clinician: said, never silent
            clients = len({r.client for r in self.parsed.ratings})
            lines.append(f"  clinician: {m.fixed['clinician']} for every row ([fixed] in the mapping; "
                         f"{count(clients, 'client')}): edit [fixed] clinician when the export is another "
                         f"clinician's")
        return "\n".join(lines)


class _MappedOrigin(tuple):
    """(file, line) plus the export's column names and raw values, for the error sink."""

    cols: dict[str, str]
    raw: dict[str, str]


class _RowErrors:
    """The CSV row validator's error sink, naming the export's columns and values."""

    def __init__(self, errors: _Errors, mapping: Mapping, name: str):
        self.errors = errors
        self.mapping = mapping
        self.name = name

    def add(self, origin: _MappedOrigin, column: str, what: str, value: str, shown: str | None = None) -> None:
        vendor = origin.cols.get(column)
        raw = origin.raw.get(column, value)
        if column in self.mapping.values and raw not in self.mapping.values[column]:
            what += f"; or map it in [values.{column}] of {self.name}"
        # the export's value of a code column that is not a code may be a name: described, not shown
        shown = code_shown(raw) if column in CODE_COLUMNS and code_shown(raw) != raw else None
        self.errors.add((origin[0], origin[1]), vendor or column, what, raw, shown=shown)


def read_mapped(spec: str | os.PathLike[str] | Mapping, files: Sequence[str | os.PathLike[str]],
                clients: str | os.PathLike[str] | None = None,
                goals: str | os.PathLike[str] | None = None, existing: Any = None, *,
                keep_errors: bool = False) -> MappedImport:
    """Read vendor CSV files through a mapping (plus optional native clients
    and goals CSVs); raise ``ValidationFailed`` listing every error.
    ``existing``: the caseload of the database the import goes into (with
    ``sessions = "by_date"``, its session numbers are kept).
    ``keep_errors``: as ``csv_io.parse_files``: the errors go into
    ``parsed.errors`` instead of being raised (for the import to add the
    checks against the database)."""
    mapping = spec if isinstance(spec, Mapping) else load_mapping(spec)
    with gc_paused():
        return _read_mapped(mapping, [Path(f) for f in files], clients, goals, existing, keep_errors)


def _read_mapped(mapping: Mapping, files: list[Path], clients, goals, existing=None,
                 keep_errors: bool = False) -> MappedImport:
    errors = _Errors()
    for n, f in enumerate(files):
        errors.file_order.setdefault(str(f), n)
    parsed = ParsedImport(files=[str(f) for f in files])
    result = MappedImport(parsed, mapping)
    name = Path(mapping.path).name
    sink = _RowErrors(errors, mapping, name)
    pending: list[tuple[dict[str, str], _MappedOrigin]] = []
    ignored: list[str] = []
    # the client of every export row, even one with errors: a goal of such a client is not unknown (that
    # would repeat the row's error); an export that cannot be read leaves every goal's client unjudged
    row_clients: set[str] = set()
    unread = False
    client_cols = mapping.columns.get("client")
    client_map = mapping.values.get("client", {})
    for path in files:
        rows = _read_export(path, mapping, errors, ignored, row_clients)
        if rows is None:
            unread = True
            continue
        for line, get in rows:
            result.source_rows += 1
            if client_cols:
                client, _col = get(client_cols)
                client = client_map.get(client, client)
                if CODE_RE.fullmatch(client):
                    row_clients.add(client)
            pending += _expand(str(path), line, get, mapping, errors, name)
    if mapping.sessions == "by_date":
        _number_by_date(pending, existing, errors)
        pending = [(v, o) for v, o in pending if v["session"]]
    first_line: dict[tuple, tuple[str, int]] = {}
    entries = []
    for values, origin in pending:
        row = _NativeRow(origin, values, sink)  # type: ignore[arg-type]
        r = _native_measure(row)
        whole = r is not None
        if r is None:
            r = row.partial  # a row with errors whose identity is valid: in the checks across rows
            if r is None:
                continue
        prev = first_line.get(r.key)
        if prev is not None:
            where = f"line {prev[1]}" if prev[0] == origin[0] else f"{prev[0]} line {prev[1]}"
            errors.add((origin[0], origin[1]), origin.cols.get("instrument") or "instrument",
                       f"same client, session, instrument and rater as {where}", r.instrument or "")
            continue
        first_line[r.key] = (origin[0], origin[1])
        entries.append((r, origin))
        if whole:
            parsed.ratings.append(r)
            parsed.rating_origins.append((origin[0], origin[1]))
        else:
            parsed.partial.append((r, (origin[0], origin[1])))
    for key, line in session_errors([(r, (o[0], o[1])) for r, o in entries], errors.file_order):
        # (on a line, after the row's own errors)
        errors.add_line((key[0], key[1], len(errors.items)), _rename_column(line, entries, mapping))
    extra = [(Path(p), kind) for p, kind in ((clients, "clients"), (goals, "goals")) if p is not None]
    if extra:
        more, _errors, _kinds = _parse(extra, errors)  # (one error list: checked even when the export has errors)
        known = {r.client for r in parsed.ratings} | {r.client for r, _o in parsed.partial} | row_clients
        parsed.clients, parsed.client_origins = more.clients, more.client_origins
        parsed.goals, parsed.goal_origins = more.goals, more.goal_origins
        if not unread:
            parsed.unknown_goal_clients = [(c, o) for c, o in more.unknown_goal_clients if c not in known]
        parsed.files += more.files
    if errors:
        if not keep_errors:
            raise ValidationFailed(errors.lines())
        parsed.errors = list(errors.items)
    result.ignored_columns = list(dict.fromkeys(ignored))
    return result


def _rename_column(line: str, entries, mapping: Mapping) -> str:
    """A session-consistency error from csv_io names the measures-CSV column
    (``date``): name the export's column instead."""
    for col in ("date", "attendance", "clinician"):
        vendor = mapping.columns.get(col)
        if vendor:
            line = re.sub(rf"^([^\n]*?:\d+): {col}: ", lambda m: f"{m.group(1)}: {vendor[0]}: ", line, count=1)
    return line


def _read_export(path: Path, mapping: Mapping, errors: _Errors, ignored: list[str],
                 clients: set[str] | None = None):
    """The export's data rows as (line, get) where ``get(columns)`` gives
    (value, column) of the first non-empty one; None when unreadable.
    ``clients``: gets the client (when a code) of each row that does not
    line up with the header (an error, not read)."""
    name = str(path)
    raw = _read_bytes(path)
    if mapping.encoding == "utf-8":
        text = _decode(name, raw, errors)
        if text is None:
            return None
    else:
        text = raw.decode(mapping.encoding, errors="replace")
        if "\ufffd" in text:
            line = text[: text.index("\ufffd")].count("\n") + 1
            errors.add((name, line), "file", f"is not {mapping.encoding} text", "")
            return None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        errors.add((name, line), "file", "contains a NUL byte: this is not a text CSV file", "byte 0x00")
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True)
    header: list[str] | None = None
    header_line = 1
    out = []
    prev = 0
    try:
        for fields in reader:
            start, prev = prev + 1, reader.line_num
            if all(not f.strip() for f in fields):
                continue
            if header is None:
                header, header_line = [f.strip() for f in fields], start
                continue
            out.append((start, fields))
    except csv.Error as err:
        errors.add((name, prev + 1), "file", f"is not valid CSV: {err}", "")
        return None
    if header is None:
        errors.add((name, 1), "header", "missing: the file is empty", "")
        return None
    index: dict[str, int] = {}
    dupes = set()
    for i, c in enumerate(header):
        if c in index:
            dupes.add(c)
        index.setdefault(c, i)
    named = mapping.named_columns()
    ok = True
    for col, where in named:
        if col not in index:
            near = next((h for h in header if h.lower() == col.lower()), None)
            hint = f"; the header has {near!r}" if near else ""
            if len(header) == 1 and mapping.delimiter not in header[0] and (";" in header[0] or "\t" in header[0]):
                hint = f"; the file looks separated by {'semicolons' if ';' in header[0] else 'tabs'}: set " \
                       "delimiter in [mapping]"
            errors.add((name, header_line), col, f"named by {where} of the mapping but not in the header{hint}",
                       _header_text(header))
            ok = False
        elif col in dupes:
            errors.add((name, header_line), col, "appears twice in the header: the mapping cannot tell which", col)
            ok = False
    if not ok:
        return None
    used = {c for c, _w in named}
    ignored += [h for h in header if h and h not in used]
    width = len(header)
    rows = []
    for line, fields in out:
        if len(fields) != width:
            errors.add((name, line), "row", f"has {len(fields)} fields but the header has {width}", str(len(fields)))
            if clients is not None:
                cells = [fields[index[c]].strip() for c in mapping.columns.get("client", ()) if index[c] < len(fields)]
                client = next((v for v in cells if v), "")
                client = mapping.values.get("client", {}).get(client, client)
                if CODE_RE.fullmatch(client):
                    clients.add(client)
            continue
        values = fields

        def get(cols: tuple[str, ...], values=values) -> tuple[str, str]:
            for c in cols:
                v = values[index[c]].strip()
                if v:
                    return v, c
            return "", cols[0]

        rows.append((line, get))
    return rows


def _header_text(header: list[str]) -> str:
    return ",".join(header)


def _expand(name: str, line: int, get, mapping: Mapping, errors: _Errors, mapping_name: str):
    """One export row as measures-CSV rows: (values, origin)."""
    base: dict[str, str] = {}
    cols: dict[str, str] = {}
    raw: dict[str, str] = {}

    def take(native: str, columns: tuple[str, ...], into: dict[str, str], names: dict[str, str],
             raws: dict[str, str]) -> str:
        value, col = get(columns)
        names[native] = col
        raws[native] = value
        mapped = mapping.values.get(native, {}).get(value, value)
        into[native] = mapped
        return mapped

    for native, columns in mapping.columns.items():
        take(native, columns, base, cols, raw)
    for native, value in mapping.fixed.items():
        base[native] = value
        cols[native] = f"[fixed] {native}"
        raw[native] = value
    ok = True
    # the date, in the export's format
    day_text = base.get("date", "")
    if day_text:
        day = _parse_day(day_text, mapping.date_format)
        if day is None:
            example = "2024-03-31" if mapping.date_format == "ISO" else SAMPLE_DAY.strftime(mapping.date_format)
            errors.add((name, line), cols["date"], f"must be a date like {example} (date_format "
                       f"{mapping.date_format} in {mapping_name})", raw["date"])
            ok = False
        else:
            base["date"] = day.isoformat()
    if mapping.decimal == ",":
        for native in MEASURE_COLUMNS:
            if native in base:
                base[native] = _decimal_point(base[native])
    if not ok:
        return []
    if not mapping.measures:
        origin = _origin(name, line, cols, raw)
        return [(base, origin)]
    out = []
    for m in mapping.measures:
        if m.skip is not None:
            flag, _c = get((m.skip,))
            if flag in m.skip_values:
                flags: dict[str, str] = {}
                fcols: dict[str, str] = {}
                fraw: dict[str, str] = {}
                for native in ("risk", "rupture"):
                    if native in m.columns and take(native, m.columns[native], flags, fcols, fraw) == "yes":
                        errors.add((name, line), fcols[native], f"yes, but {m.instrument} is marked not taken "
                                   f"({m.skip} = {flag}): it would be lost", fraw[native])
                        ok = False
                continue
        values = dict(base, instrument=m.instrument)
        if m.rater:
            values["rater"] = m.rater
        mcols, mraw = dict(cols), dict(raw)
        mcols["instrument"] = f"[[measures]] {m.instrument}"
        for native, columns in m.columns.items():
            take(native, columns, values, mcols, mraw)
            if mapping.decimal == ",":
                values[native] = _decimal_point(values[native])
        if m.items and not values.get("total"):
            total = _item_sum(name, line, get, m, mapping, errors)
            if total is False:
                ok = False
                continue
            if total is not None:
                values["total"] = total
                mcols["total"] = f"{m.items[0]}…{m.items[-1]}"
                mraw["total"] = total
        elif m.items and values.get("total"):
            total = _item_sum(name, line, get, m, mapping, errors)
            if total is False:
                continue
            if total is not None and NUMBER_RE.fullmatch(values["total"]) \
                    and abs(float(total) - float(values["total"])) > 1e-6:
                errors.add((name, line), mcols["total"], f"does not equal the sum of {', '.join(m.items)} ({total})",
                           mraw["total"])
                continue
        if not any(values.get(k) for k in SCORE_COLUMNS):
            for flag in ("risk", "rupture"):
                if values.get(flag) == "yes":
                    errors.add((name, line), mcols[flag], f"yes, but {m.instrument} has no score on this row: "
                               "it would be lost", mraw[flag])
            continue
        out.append((values, _origin(name, line, mcols, mraw)))
    if not out and ok:
        out.append((base, _origin(name, line, cols, raw)))
    return out


def _origin(name: str, line: int, cols: dict[str, str], raw: dict[str, str]) -> _MappedOrigin:
    o = _MappedOrigin((name, line))
    o.cols, o.raw = cols, raw
    return o


def _decimal_point(v: str) -> str:
    return v.replace(",", ".") if v.count(",") == 1 and "." not in v else v


def _item_sum(name: str, line: int, get, m: MeasureMap, mapping: Mapping, errors: _Errors):
    """The sum of the item columns: None when all are empty, False after an error."""
    vals = []
    for c in m.items:
        v, _c = get((c,))
        if mapping.decimal == ",":
            v = _decimal_point(v)
        vals.append((c, v))
    given = [(c, v) for c, v in vals if v]
    if not given:
        return None
    if len(given) != len(vals):
        missing = next(c for c, v in vals if not v)
        errors.add((name, line), missing, f"empty, but other items of {m.instrument} are given: a total needs "
                   "every item (no prorating)", "")
        return False
    total = 0.0
    for c, v in given:
        if not NUMBER_RE.fullmatch(v):
            errors.add((name, line), c, "must be a number", v)
            return False
        total += float(v)
    total = round(total, 9)
    return str(int(total)) if total.is_integer() else repr(total)


def _parse_day(text: str, fmt: str) -> date | None:
    if fmt == "ISO":
        head = text[:10]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", head, re.ASCII) and (len(text) == 10 or text[10] in "T "):
            try:
                return date.fromisoformat(head)
            except ValueError:
                return None
        return None
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def _number_by_date(pending: list[tuple[dict[str, str], _MappedOrigin]], existing, errors: _Errors) -> None:
    """Number each client's distinct dates 1, 2, …; a client already in the
    database keeps its numbers (a stored day keeps its session number, a
    later day continues after the last; a day between stored sessions is
    an error: numbers are never shifted)."""
    known: dict[str, dict[str, int]] = {}
    if existing is not None:
        for r in existing.ratings:
            known.setdefault(r.client, {}).setdefault(r.date.isoformat(), r.session)
    days: dict[str, set[str]] = {}
    for values, _o in pending:
        days.setdefault(values.get("client", ""), set()).add(values.get("date", ""))
    numbers: dict[str, dict[str, str]] = {}
    for client, ds in days.items():
        stored = known.get(client, {})
        last_day = max(stored, default="")
        last = max(stored.values(), default=0)
        out = numbers[client] = {}
        for d in sorted(ds):
            if d in stored:
                out[d] = str(stored[d])
            elif d >= last_day:
                last += 1
                out[d] = str(last)
            else:
                out[d] = ""
    reported: set[tuple[str, str]] = set()
    for values, o in pending:
        client, day = values.get("client", ""), values.get("date", "")
        values["session"] = numbers[client][day]
        o.cols["session"] = o.cols.get("date", "date")
        o.raw["session"] = values["session"]
        if not values["session"] and (client, day) not in reported:
            reported.add((client, day))
            errors.add((o[0], o[1]), o.cols.get("date", "date"), f"a session of {client} between sessions already "
                       "in the database: session numbers cannot be inserted; import the whole history into a new "
                       "database", o.raw.get("date", day))
