"""A simulated clinic with known truth, for the §10–11 tests (fixed seeds).

Outcome course of a client on an instrument, in the better direction::

    gain(t) = (B0 + B1·x0 + u)·ln t + ε        responder ("on track")
    gain(t) = (−D + u)·ln t + ε                non-responder ("off track")

``t = s − s0 + 1``; ``u ~ N(0, TAU)`` is the client's own rate, ``ε ~ N(0,
NOISE)`` the measurement error of each rating; scores are rounded to whole
numbers and kept within the scale. Intakes ``x0`` come from the clinical
range with a spread like a real caseload (ORS: mean 19, SD 6).

The "known off-track subgroup" are non-responders who start in the
clinical range and drift towards a reliable deterioration: on average one
reliable-change step worse by session 12 (``off_rate = −RC / ln 12``; ORS
−5 → −2.0, PHQ-9 −6 → −2.4 per ln t), while others starting at the same
score improve. That is the client the expected-treatment-response
literature wants flagged *before* deterioration is reliable. Milder
non-response (no change at all) is measured too (bench/notes in the
report) but not asserted. A clinician effect adds ``effect·ln t`` points
of gain per client.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from supervision_tui.instruments import Instrument
from supervision_tui.model import Caseload, Client, Rating
from supervision_tui.rules.expected import Point

D0 = date(2025, 1, 6)


@dataclass(frozen=True)
class Course:
    b0: float = 8.5  # ORS points per ln t at intake 0 ...
    b1: float = -0.3  # ... less per point of intake (more room to improve when worse off)
    tau: float = 0.8  # SD of the client's own rate (per ln t)
    noise: float = 2.5  # SD of a rating around the client's course
    off_rate: float = -5 / math.log(12)  # non-responders: one RC (ORS 5) worse by session 12
    x0_mean: float = 19.0
    x0_sd: float = 6.0


ORS_COURSE = Course()
# PHQ-9 (lower is better): gains in points of improvement (16 → about 9 by
# session 9), intake mean 16
PHQ_COURSE = Course(b0=0.8, b1=0.15, tau=0.5, noise=2.0, off_rate=-6 / math.log(12), x0_mean=16.0, x0_sd=4.5)


def intake(rng: random.Random, inst: Instrument, course: Course, clinical: bool = False) -> float:
    """An intake score; ``clinical``: redrawn until it is in the clinical
    range (the instrument's cutoff)."""
    while True:
        x = float(min(inst.max, max(inst.min, round(rng.gauss(course.x0_mean, course.x0_sd)))))
        if not clinical or inst.cutoff is None or inst.cutoff.flags(x):
            return x


def course_points(rng: random.Random, inst: Instrument, course: Course, x0: float, sessions: list[int],
                  off_track: bool = False, effect: float = 0.0) -> list[Point]:
    """Ratings at ``sessions`` (the first is the intake)."""
    u = rng.gauss(0.0, course.tau)
    rate = (course.off_rate if off_track else course.b0 + course.b1 * x0) + u + effect
    s0 = sessions[0]
    out = [Point(s0, x0)]
    for s in sessions[1:]:
        t = s - s0 + 1
        gain = rate * math.log(t) + rng.gauss(0.0, course.noise)
        x = x0 + gain * inst.sign
        out.append(Point(s, float(min(inst.max, max(inst.min, round(x))))))
    return out


def session_numbers(rng: random.Random, n: int, miss: float = 0.15) -> list[int]:
    """``n`` rated sessions numbered from 1 with some sessions unrated."""
    out, s = [], 0
    while len(out) < n:
        s += 1
        if out and rng.random() < miss:
            continue
        out.append(s)
    return out


@dataclass
class SimClient:
    code: str
    clinician: str
    status: str
    off_track: bool
    points: list[Point]


def simulate_clinic(seed: int, inst: Instrument, course: Course = ORS_COURSE, *, reference: int = 300,
                    active_on: int = 200, active_off: int = 60, ref_off_share: float = 0.1,
                    active_sessions: tuple[int, int] = (6, 12), clinicians: dict[str, float] | None = None,
                    off_clinical: bool = True) -> list[SimClient]:
    """A clinic: ``reference`` closed clients (4–16 rated sessions, a share
    of them non-responders), then active clients at ``active_sessions``
    rated sessions, ``active_on`` responders and ``active_off``
    non-responders. ``clinicians``: id → effect (points per ln t), clients
    dealt round-robin (default one clinician "T1", no effect)."""
    rng = random.Random(seed)
    clinicians = clinicians or {"T1": 0.0}
    ids = list(clinicians)
    out: list[SimClient] = []
    n = 0

    def add(status: str, off: bool, n_rated: int) -> None:
        nonlocal n
        cid = ids[n % len(ids)]
        x0 = intake(rng, inst, course, clinical=off and off_clinical)
        pts = course_points(rng, inst, course, x0, session_numbers(rng, n_rated), off, clinicians[cid])
        out.append(SimClient(f"S-{n:05d}", cid, status, off, pts))
        n += 1

    for _ in range(reference):
        add("closed", rng.random() < ref_off_share, rng.randint(4, 16))
    for _ in range(active_on):
        add("active", False, rng.randint(*active_sessions))
    for _ in range(active_off):
        add("active", True, rng.randint(*active_sessions))
    return out


def to_caseload(clients: list[SimClient], inst: Instrument) -> Caseload:
    """The simulated clients as a real caseload (weekly sessions)."""
    cl = Caseload(name="simulated")
    for c in clients:
        cl.clients[c.code] = Client(c.code, c.clinician, c.status)
        for p in c.points:
            cl.ratings.append(Rating(c.code, c.clinician, p.session, D0 + timedelta(days=7 * (p.session - 1)),
                                     instrument=inst.id, total=p.total))
    return cl


# --- supervisee effectiveness (§11) ----------------------------------------------------


def simulate_cases(rng: random.Random, clinicians: dict[str, tuple[float, int, float]], *, a: float = 9.0,
                   b: float = -0.3, noise: float = 5.0, x0_sd: float = 6.0, inst_id: str = "ORS"):
    """Cases ``g = a + b·x0 + effect + ε`` (ORS points); ``clinicians``: id →
    (effect in points, cases, mean intake). Verdicts are not simulated
    (``no_change``): these cases test the effect size only."""
    from supervision_tui.reports.effectiveness import Case as ECase

    out = []
    for cid, (effect, n, x0_mean) in clinicians.items():
        for i in range(n):
            x0 = float(min(40, max(0, round(rng.gauss(x0_mean, x0_sd)))))
            g = a + b * x0 + effect + rng.gauss(0.0, noise)
            out.append(ECase(f"{cid}-{i}", cid, inst_id, x0, g, "no_change"))
    return out


def simulate_supervisees(seed: int, inst: Instrument, clinicians: dict[str, tuple[float, float]],
                         n_per: int = 40, course: Course = ORS_COURSE) -> list[SimClient]:
    """Clients of several clinicians through the §10 course model (so real
    records, verdicts and all): ``clinicians``: id → (effect in points per
    ln t, mean intake)."""
    rng = random.Random(seed)
    out: list[SimClient] = []
    n = 0
    for cid, (effect, x0_mean) in clinicians.items():
        c = Course(**{**course.__dict__, "x0_mean": x0_mean})
        for _ in range(n_per):
            x0 = intake(rng, inst, c)
            pts = course_points(rng, inst, c, x0, session_numbers(rng, rng.randint(4, 14)), False, effect)
            out.append(SimClient(f"S-{n:05d}", cid, rng.choice(["closed", "active", "dropped_out"]), False, pts))
            n += 1
    return out
