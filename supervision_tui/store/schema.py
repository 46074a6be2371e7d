"""The caseload database schema: version, tables, and document <-> model.

The database is one TinyDB-compatible JSON file (see data/README.md for the
full description)::

    {"meta":       {"1": {"schema_version": 1, "created": "...", "name": "..."}},
     "clinicians": {"1": {"id": "T01", "role": "trainee"}, ...},
     "clients":    {"1": {"code": "C-0001", "clinician": "T01", "status": "active",
                          "started": "2025-01-06"}, ...},
     "measures":   {"1": {"client": "C-0001", "clinician": "T01", "session": 1,
                          "date": "2025-01-06", "instrument": "SRS", "total": 36.5}, ...},
     "goals":      {"1": {"client": "C-0001", "goal_id": "G1", "description": "...",
                          "set_session": 1, "agreement": "agreed", "status": "active",
                          "reviewed_session": null}, ...}}

``measures`` holds one document per ``model.Rating`` (one row of the
measures CSV). Its keys are the CSV column names; to keep a 40k-row file
small, a key is left out when its value is null or the default
(``attendance`` "attended", ``rater`` "client"). Booleans are JSON
``true``/``false``; dates are ``YYYY-MM-DD`` strings. Document ids carry no
meaning (the identity of a row is (client, session, instrument, rater)).

Every loaded document is checked (keys, types, vocabularies); anything
else raises ``SchemaError`` naming the table, the document id and the
problem, which ``database.py`` turns into a ``DatabaseError`` naming the
file. A ``schema_version`` newer than ``SCHEMA_VERSION`` is refused: an old
program must not misread (or rewrite) a newer file.
"""

from __future__ import annotations

import math
import operator
from datetime import date
from typing import Any

from supervision_tui import instruments
from supervision_tui.instruments import REGISTRY
from supervision_tui.model import (
    ATTENDANCE,
    CLIENT_STATUSES,
    CLINICIAN_ROLES,
    GOAL_AGREEMENTS,
    GOAL_STATUSES,
    RATERS,
    RUPTURE_TYPES,
    Client,
    Clinician,
    Goal,
    Rating,
    new_rating,
)
from supervision_tui.store.sanitize import IDENTIFIER_RE, IDENTIFIER_RULE, printable

SCHEMA_VERSION = 2
"""Bump on any incompatible change of the layout below, with a migration.
Version 2 (``store/columnar.py``): one document per client in ``clients``,
its rows column-wise, no ``measures`` or ``goals`` table; version 1 (the
layout this module describes) is still read, and rewritten as version 2 by
the first write (``store/migrate.py``)."""

META, CLINICIANS, CLIENTS, MEASURES, GOALS = "meta", "clinicians", "clients", "measures", "goals"
TABLES = (META, CLINICIANS, CLIENTS, MEASURES, GOALS)
TABLES_BY_VERSION = {1: TABLES, 2: (META, CLINICIANS, CLIENTS)}


CODE_RE = IDENTIFIER_RE  # client codes, clinician ids, goal ids: sanitize.is_identifier


class SchemaError(Exception):
    """A document does not follow the schema. ``str()`` says where and what."""


# --- helpers ----------------------------------------------------------------

_date_cache: dict[str, date] = {}


def _date(value: Any, where: str, field: str) -> date:
    d = _date_cache.get(value) if isinstance(value, str) else None
    if d is not None:
        return d
    if not isinstance(value, str) or len(value) != 10:
        raise SchemaError(f"{where}: {field!r} must be a date string YYYY-MM-DD (got {_shown(value)})")
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise SchemaError(f"{where}: {field!r} must be a date string YYYY-MM-DD (got {_shown(value)})") from None
    if len(_date_cache) < 100_000:
        _date_cache[value] = d
    return d


def _shown(value: Any) -> str:
    """A value in a message: its ``repr`` (control characters escaped), cut at 40."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _code(value: Any, where: str, field: str) -> str:
    if type(value) is not str or not CODE_RE.fullmatch(value):
        raise SchemaError(f"{where}: {field!r} must be a code of {IDENTIFIER_RULE} (got {_shown(value)})")
    return value


def _int(value: Any, where: str, field: str) -> int:
    if type(value) is not int or value < 1:
        raise SchemaError(f"{where}: {field!r} must be a whole number >= 1 (got {_shown(value)})")
    return value


def _num(value: Any, where: str, field: str) -> float:
    if type(value) is float or type(value) is int:
        try:
            x = float(value)
        except OverflowError:  # an integer beyond any float
            x = math.inf
        if not math.isfinite(x):
            raise SchemaError(f"{where}: {field!r} must be a finite number (got {_shown(value)})")
        return x
    raise SchemaError(f"{where}: {field!r} must be a number (got {_shown(value)})")


def score_problem(instrument_id: str, column: str, value: float) -> str | None:
    """What is wrong with score ``value`` in ``column`` (``total``, ``goal``,
    ``task``, ``bond``) of ``instrument_id`` — the same rule for an imported
    CSV row and a document read from the database — or None. ``value``
    must be a finite number."""
    inst = REGISTRY.get(instrument_id)
    if inst is None:
        return f"has an unknown instrument {instrument_id}"
    if column == "total":
        lo, hi, whole = inst.min, inst.max, inst.integer
    else:
        comp = inst.component(column)
        if comp is None:
            return f"is not a score of {inst.id}"
        lo, hi, whole = comp.min, comp.max, comp.integer
    if not (lo - instruments.EPS <= value <= hi + instruments.EPS):
        return f"must be within {instruments.fmt(lo)}-{instruments.fmt(hi)} for {inst.id}"
    if whole and not value.is_integer():  # a sum of integer items (registry data)
        return f"must be a whole number for {inst.id}"
    return None


def _choice(value: Any, allowed: tuple[str, ...], where: str, field: str) -> str:
    if value not in allowed or type(value) is not str:
        raise SchemaError(f"{where}: {field!r} must be one of {', '.join(allowed)} (got {_shown(value)})")
    return value


def _bool(value: Any, where: str, field: str) -> bool:
    if type(value) is not bool:
        raise SchemaError(f"{where}: {field!r} must be true or false (got {_shown(value)})")
    return value


def _keys(doc: Any, allowed: frozenset[str], required: tuple[str, ...], where: str) -> None:
    if type(doc) is not dict:
        raise SchemaError(f"{where}: must be a JSON object (got {type(doc).__name__})")
    extra = doc.keys() - allowed
    if extra:
        raise SchemaError(f"{where}: unknown {'fields' if len(extra) > 1 else 'field'} {', '.join(sorted(map(repr, extra)))}")
    for k in required:
        if k not in doc:
            raise SchemaError(f"{where}: required field {k!r} is missing")


# --- meta -------------------------------------------------------------------


def check_meta(table: Any) -> dict[str, Any]:
    """Return the meta document; raise SchemaError (or FutureVersion)."""
    if type(table) is not dict or len(table) != 1:
        raise SchemaError('table "meta" must hold exactly one document')
    (doc,) = table.values()
    if type(doc) is not dict:
        raise SchemaError('table "meta": the document must be a JSON object')
    version = doc.get("schema_version")
    if type(version) is not int or version < 1:
        raise SchemaError(f'table "meta": "schema_version" must be a whole number >= 1 (got {_shown(version)})')
    if version > SCHEMA_VERSION:
        raise FutureVersion(version)
    return doc


class FutureVersion(SchemaError):
    def __init__(self, version: int):
        self.version = version
        super().__init__(
            f"it was written by a newer supervision-tui (schema version {version}; this version "
            f"reads up to {SCHEMA_VERSION}). Upgrade supervision-tui to open it"
        )


def caseload_name(meta: dict[str, Any]) -> str:
    """The caseload's name from the meta document ("" when it has none), as
    text fit for a screen (control characters neutralised)."""
    name = meta.get("name")
    if name is None:
        return ""
    if type(name) is not str:
        raise SchemaError(f'table "meta": "name" must be text (got {type(name).__name__})')
    return printable(name)


def check_unique_ratings(ratings: list[Rating], doc_ids: list[str]) -> None:
    """No two ratings share (client, session, instrument, rater), the
    identity of a row (interchange.md §1). ``doc_ids[i]`` is the document
    of ``ratings[i]``. Raises SchemaError naming the first two documents
    of the first duplicate: an import would otherwise keep one of them
    silently."""
    key = operator.attrgetter("client", "session", "instrument", "rater")
    keys = list(map(key, ratings))
    if len(set(keys)) == len(keys):
        return
    seen: dict[tuple, int] = {}
    for i, k in enumerate(keys):
        j = seen.setdefault(k, i)
        if j != i:
            client, session, instrument, rater = k
            raise SchemaError(f'table "measures", documents {doc_ids[j]} and {doc_ids[i]}: the same client, session, '
                              f"instrument and rater ({client} session {session} {instrument or 'no instrument'} "
                              f"{rater})")


def new_meta(name: str, created: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "created": created, "name": name}


def check_tables(data: Any) -> None:
    """Top-level shape: an object whose values are objects of objects.

    Every table of ``TABLES`` except ``meta`` may be missing (= empty);
    ``meta`` is what marks a file as a supervision-tui database. Tables
    of other names are refused (wrong file, or a newer layout).
    """
    if type(data) is not dict:
        raise SchemaError(f"the top level must be a JSON object of tables (got {type(data).__name__})")
    if META not in data:
        raise SchemaError('no "meta" table: this is not a supervision-tui database')
    version = check_meta(data[META])["schema_version"]  # first: a newer file may have tables we do not know
    unknown = data.keys() - set(TABLES_BY_VERSION.get(version, TABLES))
    if unknown:
        raise SchemaError(f"unknown {'tables' if len(unknown) > 1 else 'table'} {', '.join(sorted(map(repr, unknown)))}")
    for name, table in data.items():
        if type(table) is not dict:
            raise SchemaError(f'table "{name}" must be a JSON object of documents')


# --- clinicians ---------------------------------------------------------------

_CLINICIAN_KEYS = frozenset({"id", "role"})


def clinician_from_doc(doc_id: str, doc: Any) -> Clinician:
    where = f'table "clinicians", document {doc_id}'
    _keys(doc, _CLINICIAN_KEYS, ("id",), where)
    role = doc.get("role")
    if role is not None:
        _choice(role, CLINICIAN_ROLES, where, "role")
    return Clinician(_code(doc["id"], where, "id"), role)


def clinician_to_doc(c: Clinician) -> dict[str, Any]:
    return {"id": c.id, "role": c.role}


# --- clients -------------------------------------------------------------------

_CLIENT_KEYS = frozenset({"code", "clinician", "status", "started"})


def client_from_doc(doc_id: str, doc: Any) -> Client:
    where = f'table "clients", document {doc_id}'
    _keys(doc, _CLIENT_KEYS, ("code", "clinician"), where)
    clinician = doc["clinician"]
    if clinician != "":  # "" = not known (a client listed without any session)
        _code(clinician, where, "clinician")
    started = doc.get("started")
    return Client(
        code=_code(doc["code"], where, "code"),
        clinician=clinician,
        status=_choice(doc.get("status", "active"), CLIENT_STATUSES, where, "status"),
        started=None if started is None else _date(started, where, "started"),
    )


def client_to_doc(c: Client) -> dict[str, Any]:
    return {
        "code": c.code,
        "clinician": c.clinician,
        "status": c.status,
        "started": c.started.isoformat() if c.started else None,
    }


# --- measures ------------------------------------------------------------------

_MEASURE_KEYS = frozenset(
    {"client", "clinician", "session", "date", "attendance", "instrument", "rater",
     "total", "goal", "task", "bond", "rupture", "rupture_type", "risk"}
)
_MEASURE_REQUIRED = ("client", "clinician", "session", "date")
_SCORES = ("total", "goal", "task", "bond")


def rating_from_doc(doc_id: str, doc: Any) -> Rating:
    """Build a Rating from a ``measures`` document, checking it."""
    if type(doc) is not dict or not doc.keys() <= _MEASURE_KEYS or len(doc) < 4:
        _keys(doc, _MEASURE_KEYS, _MEASURE_REQUIRED, f'table "measures", document {doc_id}')
    try:
        client = doc["client"]
        clinician = doc["clinician"]
        session = doc["session"]
        day = doc["date"]
    except KeyError:
        _keys(doc, _MEASURE_KEYS, _MEASURE_REQUIRED, f'table "measures", document {doc_id}')
        raise  # pragma: no cover - _keys raised
    where = f'table "measures", document {doc_id}'
    if type(client) is not str or not CODE_RE.fullmatch(client):
        _code(client, where, "client")
    if type(clinician) is not str or not CODE_RE.fullmatch(clinician):
        _code(clinician, where, "clinician")
    if type(session) is not int or session < 1:
        _int(session, where, "session")
    d = _date_cache.get(day) if type(day) is str else None
    if d is None:
        d = _date(day, where, "date")
    attendance = doc.get("attendance", "attended")
    if attendance not in ATTENDANCE:
        _choice(attendance, ATTENDANCE, where, "attendance")
    instrument = doc.get("instrument")
    if instrument is not None and (type(instrument) is not str or instrument not in REGISTRY):
        _choice(instrument, REGISTRY.ids(), where, "instrument")
    rater = doc.get("rater", "client")
    if rater not in RATERS:
        _choice(rater, RATERS, where, "rater")
    scores = []
    for k in _SCORES:
        v = doc.get(k)
        if v is not None:
            v = _num(v, where, k)
        scores.append(v)
    rupture = doc.get("rupture")
    if rupture is not None:
        _bool(rupture, where, "rupture")
    rtype = doc.get("rupture_type")
    if rtype is not None:
        _choice(rtype, RUPTURE_TYPES, where, "rupture_type")
    risk = doc.get("risk")
    if risk is not None:
        _bool(risk, where, "risk")
    if instrument is not None and scores[0] is None:
        raise SchemaError(f"{where}: 'total' is missing for instrument {instrument}")
    for k, v in zip(_SCORES, scores):
        if v is None:
            continue
        if instrument is None:
            raise SchemaError(f"{where}: {k!r} needs an instrument, but the document has none")
        problem = score_problem(instrument, k, v)
        if problem is not None:
            raise SchemaError(f"{where}: {k!r} {problem} (got {_shown(doc[k])})")
    return Rating(client, clinician, session, d, attendance, instrument, rater,
                  scores[0], scores[1], scores[2], scores[3], rupture, rtype, risk)


_MISSING = object()
_ATTENDANCE_IDS = {a: a for a in ATTENDANCE}
_RATER_IDS = {r: r for r in RATERS}
_RUPTURE_TYPE_IDS = {t: t for t in RUPTURE_TYPES}
_INTERN_LIMIT = 1 << 16  # distinct numbers remembered per load (scores repeat)


class RatingReader:
    """``rating_from_doc`` for a whole table: the same checks, faster, and
    one copy of each repeated value.

    A caseload repeats a few values a great many times: client codes,
    clinician ids, instrument ids, dates, scores. The reader remembers each
    value it has already checked (a dict from the JSON value to the checked,
    shared object), so the next document with the same value costs one dict
    lookup instead of a regular expression, a date parse or a float, and the
    loaded model holds one string per client code instead of one per row.
    Anything the remembered values do not cover (a new value, a wrong type,
    a missing key) goes through ``rating_from_doc``, which raises the same
    ``SchemaError`` as before or returns the Rating, whose values are then
    remembered. Use one reader per load (not thread-safe; nothing global).
    """

    __slots__ = ("_codes", "_dates", "_nums", "_instruments", "_limits")

    def __init__(self) -> None:
        self._codes: dict[str, str] = {}
        self._dates: dict[str, date] = {}
        self._nums: dict[float, float] = {}
        self._instruments: dict[str, str] = {i: i for i in REGISTRY.ids()}
        # (instrument, column) -> (lowest, highest, whole numbers only) as score_problem checks them
        eps = instruments.EPS
        self._limits: dict[tuple[str, str], tuple[float, float, bool]] = {}
        for inst in REGISTRY:
            self._limits[(inst.id, "total")] = (inst.min - eps, inst.max + eps, inst.integer)
            for comp in inst.components:
                self._limits[(inst.id, comp.name)] = (comp.min - eps, comp.max + eps, comp.integer)

    def _in_range(self, instrument: str, column: str, value: float) -> bool:
        """``score_problem`` would find nothing (NaN never is in range)."""
        lim = self._limits.get((instrument, column))
        return lim is not None and lim[0] <= value <= lim[1] and (not lim[2] or value.is_integer())

    def _num(self, v: Any) -> Any:
        """The shared float of a JSON number; ``_MISSING`` when not a number."""
        t = type(v)
        if t is not float and t is not int:  # bool is not int here, as in _num()
            return _MISSING
        f = self._nums.get(v)
        if f is None:
            try:
                f = float(v)
            except OverflowError:  # an integer beyond any float: the full check says so
                return _MISSING
            if len(self._nums) < _INTERN_LIMIT:
                self._nums[v] = f
        return f

    def __call__(self, doc_id: str, doc: Any) -> Rating:
        if type(doc) is not dict or not doc.keys() <= _MEASURE_KEYS:
            return self._checked(doc_id, doc)
        get = doc.get
        codes = self._codes
        client = get("client")
        client = codes.get(client) if type(client) is str else None
        clinician = get("clinician")
        clinician = codes.get(clinician) if type(clinician) is str else None
        session = get("session")
        day = get("date")
        day = self._dates.get(day) if type(day) is str else None
        attendance = get("attendance", "attended")
        attendance = _ATTENDANCE_IDS.get(attendance) if type(attendance) is str else None
        instrument = get("instrument")
        if instrument is not None:
            instrument = self._instruments.get(instrument, _MISSING) if type(instrument) is str else _MISSING
        rater = get("rater", "client")
        rater = _RATER_IDS.get(rater) if type(rater) is str else None
        if (client is None or clinician is None or day is None or attendance is None or rater is None
                or instrument is _MISSING or type(session) is not int or session < 1):
            return self._checked(doc_id, doc)
        num = self._num
        total = get("total")
        if total is not None:
            total = num(total)
        elif instrument is not None:
            return self._checked(doc_id, doc)  # raises: total missing
        goal = get("goal")
        if goal is not None:
            goal = num(goal)
        task = get("task")
        if task is not None:
            task = num(task)
        bond = get("bond")
        if bond is not None:
            bond = num(bond)
        rupture = get("rupture")
        risk = get("risk")
        rtype = get("rupture_type")
        if rtype is not None:
            rtype = _RUPTURE_TYPE_IDS.get(rtype, _MISSING) if type(rtype) is str else _MISSING
        if (total is _MISSING or goal is _MISSING or task is _MISSING or bond is _MISSING or rtype is _MISSING
                or (rupture is not None and type(rupture) is not bool) or (risk is not None and type(risk) is not bool)):
            return self._checked(doc_id, doc)
        if instrument is None:
            if total is not None or goal is not None or task is not None or bond is not None:
                return self._checked(doc_id, doc)  # raises: a score of no instrument
        else:
            in_range = self._in_range
            if (not in_range(instrument, "total", total)
                    or (goal is not None and not in_range(instrument, "goal", goal))
                    or (task is not None and not in_range(instrument, "task", task))
                    or (bond is not None and not in_range(instrument, "bond", bond))):
                return self._checked(doc_id, doc)  # raises: not finite, out of range, not whole
        return new_rating(client, clinician, session, day, attendance, instrument, rater,
                          total, goal, task, bond, rupture, rtype, risk)

    def _checked(self, doc_id: str, doc: Any) -> Rating:
        """The full check (raises its ``SchemaError``); remember the values."""
        r = rating_from_doc(doc_id, doc)
        codes = self._codes
        r_client = codes.setdefault(r.client, r.client)
        r_clinician = codes.setdefault(r.clinician, r.clinician)
        self._dates.setdefault(doc["date"], r.date)
        nums = self._nums
        scores = []
        for v in (r.total, r.goal, r.task, r.bond):
            if v is not None and len(nums) < _INTERN_LIMIT:
                v = nums.setdefault(v, v)
            scores.append(v)
        instrument = r.instrument
        if instrument is not None:
            instrument = self._instruments.setdefault(instrument, instrument)
        return Rating(r_client, r_clinician, r.session, r.date, r.attendance, instrument, r.rater,
                      scores[0], scores[1], scores[2], scores[3], r.rupture, r.rupture_type, r.risk)


def rating_to_doc(r: Rating) -> dict[str, Any]:
    doc: dict[str, Any] = {"client": r.client, "clinician": r.clinician, "session": r.session,
                           "date": r.date.isoformat()}
    if r.attendance != "attended":
        doc["attendance"] = r.attendance
    if r.instrument is not None:
        doc["instrument"] = r.instrument
    if r.rater != "client":
        doc["rater"] = r.rater
    for k, v in (("total", r.total), ("goal", r.goal), ("task", r.task), ("bond", r.bond)):
        if v is not None:
            doc[k] = int(v) if float(v).is_integer() else float(v)
    if r.rupture is not None:
        doc["rupture"] = r.rupture
    if r.rupture_type is not None:
        doc["rupture_type"] = r.rupture_type
    if r.risk is not None:
        doc["risk"] = r.risk
    return doc


# --- goals ---------------------------------------------------------------------

_GOAL_KEYS = frozenset(
    {"client", "goal_id", "description", "set_session", "agreement", "status", "reviewed_session"}
)


def goal_from_doc(doc_id: str, doc: Any) -> Goal:
    where = f'table "goals", document {doc_id}'
    _keys(doc, _GOAL_KEYS, ("client", "goal_id", "set_session", "agreement"), where)
    desc = doc.get("description", "")
    if type(desc) is not str:
        raise SchemaError(f"{where}: 'description' must be a string")
    desc = printable(desc, newlines=True)  # an old or hand-edited file: no control character reaches a screen
    reviewed = doc.get("reviewed_session")
    return Goal(
        client=_code(doc["client"], where, "client"),
        goal_id=_code(doc["goal_id"], where, "goal_id"),
        description=desc,
        set_session=_int(doc["set_session"], where, "set_session"),
        agreement=_choice(doc["agreement"], GOAL_AGREEMENTS, where, "agreement"),
        status=_choice(doc.get("status", "active"), GOAL_STATUSES, where, "status"),
        reviewed_session=None if reviewed is None else _int(reviewed, where, "reviewed_session"),
    )


def goal_to_doc(g: Goal) -> dict[str, Any]:
    return {
        "client": g.client,
        "goal_id": g.goal_id,
        "description": g.description,
        "set_session": g.set_session,
        "agreement": g.agreement,
        "status": g.status,
        "reviewed_session": g.reviewed_session,
    }
