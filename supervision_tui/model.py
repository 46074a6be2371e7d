"""Plain domain model: what a caseload is made of.

No I/O and no UI here. Everything is immutable (frozen dataclasses; ``Rating`` and
``Session``, of which there are 10⁵–10⁶, named tuples) so rule functions
can be pure and results cached safely. The storage layer (``store``) builds
these from the database; the CSV layer builds them from files; the rules
(``rules``) read them; the UI and CLI only display them.

Clients are identified by code (``C-0142``), never by name (privacy, spec
clinical-rules.md §9). Free text lives only in ``Goal.description`` and in
review notes / action items, which are private.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import partial
from operator import attrgetter
from datetime import date
from typing import Callable, Iterable, NamedTuple

# --- fast construction ------------------------------------------------------


def trusted_constructor(cls: type) -> Callable:
    """``cls(*values)`` for a frozen, slotted dataclass, about twice as fast.

    A frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; loading and grouping a large caseload builds
    10⁴–10⁵ such objects (goal evidence, markers), and that is
    most of their cost. The function returned sets the slots directly. It
    takes every field positionally, in declaration order, with no default,
    and checks nothing: use it only where the values were checked already
    (``cls`` must have no ``__post_init__``). Tests compare it with ``cls``.
    """
    if getattr(cls, "__post_init__", None) is not None or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: needs a slotted dataclass without __post_init__")
    names = [f.name for f in fields(cls)]
    scope: dict = {"_new": object.__new__, "_cls": cls}
    scope.update({f"_set_{n}": cls.__dict__[n].__set__ for n in names})
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names)
    exec(f"def make_{cls.__name__}({', '.join(names)}):\n    self = _new(_cls)\n{body}    return self\n", scope)
    return scope[f"make_{cls.__name__}"]


# --- vocabularies (interchange.md §1–3) -------------------------------------

ATTENDANCE = ("attended", "cancelled", "no_show")
RATERS = ("client", "therapist")
RUPTURE_TYPES = ("withdrawal", "confrontation")
CLIENT_STATUSES = ("active", "paused", "closed", "dropped_out")
TRIAGED_STATUSES = ("active", "paused")
ENDED_STATUSES = ("closed", "dropped_out")
GOAL_AGREEMENTS = ("agreed", "partial", "disagreed")
GOAL_STATUSES = ("active", "achieved", "dropped")
CLINICIAN_ROLES = ("trainee", "staff", "supervisor")


class Rating(NamedTuple):
    """One row of the measures file: (client, session, instrument, rater).

    A session without any measure (e.g. a no-show) is a row whose
    ``instrument`` is ``None``. ``total`` is always filled for an
    instrument row once validated (WAI-SR total = goal + task + bond when
    the file left it empty).

    A named tuple, unlike the other model classes (frozen dataclasses): a
    caseload is 10⁵–10⁶ ratings, and a tuple is built by C code (about 6×
    faster than setting a slotted dataclass's 14 fields; the loader's
    decode was half this). Immutable and compared by value as before; copy
    one with ``r._replace(total=…)``, list its fields with ``Rating._fields``.
    """

    client: str
    clinician: str
    session: int
    date: date
    attendance: str = "attended"
    instrument: str | None = None
    rater: str = "client"
    total: float | None = None
    goal: float | None = None
    task: float | None = None
    bond: float | None = None
    rupture: bool | None = None
    rupture_type: str | None = None
    risk: bool | None = None

    @property
    def attended(self) -> bool:
        return self.attendance == "attended"

    @property
    def key(self) -> tuple[str, int, str, str]:
        """Identity of a row: the same key twice is an error on import."""
        return (self.client, self.session, self.instrument or "", self.rater)


@dataclass(frozen=True, slots=True)
class Client:
    code: str
    clinician: str  # current clinician: that of the latest session (or clients CSV)
    status: str = "active"
    started: date | None = None


@dataclass(frozen=True, slots=True)
class Clinician:
    id: str
    role: str | None = None  # trainee / staff / supervisor, optional


@dataclass(frozen=True, slots=True)
class Goal:
    client: str
    goal_id: str
    description: str  # private free text
    set_session: int
    agreement: str
    status: str = "active"
    reviewed_session: int | None = None


class Session(NamedTuple):
    """A client's session, derived from its rows (all rows of one session
    share date and attendance).

    A named tuple like ``Rating`` (a caseload is 10⁵ sessions, built on every
    cold load: ``sessions_of_columns`` builds a client's by C code)."""

    client: str
    clinician: str
    number: int
    date: date
    attendance: str
    ratings: tuple[Rating, ...] = ()

    @property
    def attended(self) -> bool:
        return self.attendance == "attended"

    def rating(self, instrument: str, rater: str = "client") -> Rating | None:
        for r in self.ratings:
            if r.instrument == instrument and r.rater == rater:
                return r
        return None


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """Everything known about one client: what the rules take as input."""

    client: Client
    sessions: tuple[Session, ...]  # ascending session number
    goals: tuple[Goal, ...] = ()

    @property
    def code(self) -> str:
        return self.client.code


new_rating = Rating  # (positional, every field: as ``trusted_constructor`` of the other classes)
new_session = Session
_rating_of_values = partial(tuple.__new__, Rating)
_session_of_values = partial(tuple.__new__, Session)


def ratings_of_columns(*columns: list) -> list[Rating]:
    """Ratings from one list per field, in field order (checked already),
    built by C code (``tuple.__new__`` over ``zip``): the loader's decode."""
    return list(map(_rating_of_values, zip(*columns)))


def sessions_of_columns(*columns: Iterable) -> list[Session]:
    """Sessions from one iterable per field, in field order (checked
    already; the shortest ends them), built by C code: the loader's
    ``client_record``."""
    return list(map(_session_of_values, zip(*columns)))


_INSTRUMENT_RATER = attrgetter("instrument", "rater")


def _rating_order(r: Rating) -> tuple[str, str]:
    return (r.instrument or "", r.rater)


@dataclass(slots=True)
class Caseload:
    """The whole imported data set (no review/workflow data)."""

    clients: dict[str, Client] = field(default_factory=dict)
    clinicians: dict[str, Clinician] = field(default_factory=dict)
    ratings: list[Rating] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    name: str = "caseload"

    def records(self, as_of: date | None = None) -> list[ClientRecord]:
        """Group rows into per-client records, sessions in number order.

        ``as_of`` drops sessions dated after that day ("what did we know
        at last week's meeting"); goals set or reviewed only in dropped
        sessions are dropped or lose their review accordingly.
        """
        # one pass over the rows, grouped by client then session; this runs on
        # every load and every re-analysis, so it avoids per-row overhead
        grouped: dict[str, dict[int, list[Rating]]] = {}
        get = grouped.get
        for r in self.ratings:
            if as_of is not None and r.date > as_of:
                continue
            by_number = get(r.client)
            if by_number is None:
                grouped[r.client] = {r.session: [r]}
                continue
            lst = by_number.get(r.session)
            if lst is None:
                by_number[r.session] = [r]
            else:
                lst.append(r)
        by_client: dict[str, list[Session]] = {}
        for code, by_number in grouped.items():
            sessions = by_client[code] = []
            for n in sorted(by_number):
                rows = by_number[n]
                if len(rows) > 1:
                    try:
                        rows.sort(key=_INSTRUMENT_RATER)  # C-level key; a row without instrument sorts first:
                    except TypeError:
                        rows.sort(key=_rating_order)  # None does not compare with a string
                first = rows[0]
                sessions.append(new_session(code, first.clinician, n, first.date, first.attendance, tuple(rows)))
        goals_by: dict[str, list[Goal]] = {}
        for g in self.goals:
            goals_by.setdefault(g.client, []).append(g)
        out: list[ClientRecord] = []
        for code in sorted(set(self.clients) | set(by_client)):
            sessions = tuple(by_client.get(code, ()))
            client = self.clients.get(code)
            if client is None:
                client = Client(code=code, clinician=sessions[-1].clinician if sessions else "")
            elif sessions and client.clinician != sessions[-1].clinician:
                # the current clinician is the one of the latest session
                client = Client(client.code, sessions[-1].clinician, client.status, client.started)
            last = sessions[-1].number if sessions else 0
            goals = []
            for g in goals_by.get(code, []):
                if as_of is not None and g.set_session > last:
                    continue
                if as_of is not None and g.reviewed_session is not None and g.reviewed_session > last:
                    g = Goal(g.client, g.goal_id, g.description, g.set_session, g.agreement, g.status, None)
                goals.append(g)
            goals.sort(key=lambda g: (g.set_session, g.goal_id))
            out.append(ClientRecord(client=client, sessions=sessions, goals=tuple(goals)))
        return out
