"""Small builders for rule-engine tests: clients in memory, no database.

    rec = Case().s(1, SRS=38).s(2, SRS=31, ORS=20).s(3, att="no_show").record()

Measure keywords: ``SRS``, ``WAI`` (WAI-SR), ``ORS``, ``PHQ`` (PHQ-9),
``GAD`` (GAD-7), and therapist ratings ``tSRS``, ``tWAI``. A value is the
total, or a dict of Rating fields (``dict(total=31, goal=7, rupture=True)``).
A session without measures is one row without instrument (a no-show).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from supervision_tui.model import Caseload, Client, ClientRecord, Goal, Rating
from supervision_tui.rules.engine import analyse_client
from supervision_tui.settings import Settings

D0 = date(2026, 1, 5)

NAMES = {
    "SRS": ("SRS", "client"),
    "WAI": ("WAI-SR", "client"),
    "ORS": ("ORS", "client"),
    "PHQ": ("PHQ-9", "client"),
    "GAD": ("GAD-7", "client"),
    "tSRS": ("SRS", "therapist"),
    "tWAI": ("WAI-SR", "therapist"),
    "tORS": ("ORS", "therapist"),
}


class Case:
    def __init__(self, code: str = "C-1", clinician: str = "T1", status: str = "active", start: date = D0):
        self.code = code
        self.clinician = clinician
        self.status = status
        self.start = start
        self.rows: list[Rating] = []
        self.goals: list[Goal] = []

    def s(self, n: int, att: str = "attended", day: date | None = None, **measures: Any) -> "Case":
        """Session ``n`` (dated start + 7·(n−1) days unless ``day``)."""
        d = day or self.start + timedelta(days=7 * (n - 1))
        if not measures:
            self.rows.append(Rating(self.code, self.clinician, n, d, attendance=att))
        for key, value in measures.items():
            inst, rater = NAMES.get(key, (key, "client"))
            fields = dict(value) if isinstance(value, dict) else {"total": value}
            if "rater" in fields:
                rater = fields.pop("rater")
            if inst == "WAI-SR" and fields.get("total") is None and "goal" in fields:
                fields.setdefault("task", 16)
                fields.setdefault("bond", 16)
                fields["total"] = fields["goal"] + fields["task"] + fields["bond"]
            self.rows.append(Rating(self.code, self.clinician, n, d, attendance=att, instrument=inst, rater=rater, **fields))
        return self

    def series(self, instrument: str, values: list[float], first: int = 1) -> "Case":
        for i, v in enumerate(values):
            self.s(first + i, **{instrument: v})
        return self

    def goal(self, set_session: int, agreement: str, reviewed: int | None = None, goal_id: str = "G1",
             status: str = "active") -> "Case":
        self.goals.append(Goal(self.code, goal_id, "private text", set_session, agreement, status, reviewed))
        return self

    def caseload(self, *others: "Case") -> Caseload:
        cl = Caseload()
        for c in (self, *others):
            cl.clients[c.code] = Client(c.code, c.clinician, c.status)
            cl.ratings.extend(c.rows)
            cl.goals.extend(c.goals)
        return cl

    def record(self) -> ClientRecord:
        return self.caseload().records()[0]

    def analyse(self, settings: Settings | None = None, **kw):
        return analyse_client(self.record(), settings or Settings(), **kw)


def srs_case(values: list[float], **kw) -> Case:
    return Case(**kw).series("SRS", values)
