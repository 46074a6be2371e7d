"""The deterministic demo caseload: one supervisor, four supervisees and
about forty coded clients whose data exercise every clinical rule.

``generate_demo(seed)`` builds the caseload in memory; ``write_demo`` writes
it as a database; the repository ships the result for the default seed as
``data/demo_caseload.json`` (a test regenerates it and compares bytes, so the
committed file cannot drift from this code). ``private_demo_copy`` gives the
dashboard a writable copy in the user's data folder, so reviews written
while exploring the demo never touch the bundled file.

How the data are made
---------------------
Every client is first generated as an ordinary course of therapy:

* weekly sessions (6–30) on a fixed weekday with occasional one- or
  two-week gaps and the odd cancellation or no-show; active clients'
  latest session falls in the week of ``DEMO_END`` (2026-11-20), paused
  clients stopped a few weeks earlier, closed and dropped-out clients
  months earlier. All dates are fixed: nothing depends on today.
* SRS and ORS at every attended session (PCOMS); WAI-SR every fourth
  session for some clients, with the therapist's form for some of those;
  PHQ-9 and GAD-7 at every session for some clients.
* alliance follows a client-level mean with autocorrelated noise, rising a
  little over the first sessions, with the ceiling effect real SRS data
  show; outcome follows a saturating improvement curve with plateaus, noise
  and the occasional bad week. Scores are rounded as clinicians record them
  (SRS/ORS to 0.1, WAI-SR subscales, PHQ-9 and GAD-7 as integers) and
  clipped to the instrument's range.
* goal records (free-text descriptions, private) set at the first sessions
  and reviewed now and then.

Ordinary clients are "fine" by construction: their alliance never dips
below the SRS cutoff or falls suddenly, their outcome does not reliably
deteriorate, a risk item is only ever endorsed at the first sessions and
re-screened negative at the next one (every PHQ-9 row records item 9). The
scripted scenarios (``SCENARIOS``) then write one clinical story each into
such a client — a V-shaped repaired rupture, an unrepaired one, a recent
open one, client- and therapist-reported ruptures, a client–therapist
WAI-SR discrepancy, deterioration, recovery, a risk item, two missed
sessions, goal disagreement, stale and missing goals, a transfer, a closed
and a dropped-out client, and the situations of clinical rules v2: a
client not seen since a risk session, a dropped-out client with an active
risk, a risk re-screened negative this week, and a client whose goals are
all achieved with no new goal set — computing the scripted scores from the client's
own earlier scores so the story holds for any seed. ``tests/unit/test_demo.py``
checks every story through the real rule engine.

Randomness: one ``random.Random`` per caseload (``seed``) for the caseload
layout, and one per client seeded with ``f"{seed}/{code}"`` (string seeds
are hashed with SHA-512 by ``random``, independent of ``PYTHONHASHSEED``),
so one client's story never shifts another's numbers. No global random
state, no clock, no set or dict iteration whose order could vary.
"""

from __future__ import annotations

import math
import random
import secrets
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from supervision_tui.errors import UserError
from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_CLIENTS",
    "DEFAULT_HISTORY",
    "default_history",
    "DEMO_END",
    "DEMO_NAME",
    "DEMO_CREATED",
    "SCENARIOS",
    "generate_demo",
    "scenario_clients",
    "write_demo",
    "bundled_demo_path",
    "private_demo_copy",
]

DEFAULT_SEED = 2026
DEFAULT_CLIENTS = 40
#: Past (closed, dropped-out) clients of a default-size demo: the clinic's history (``default_history``).
DEFAULT_HISTORY = 40
_MAX_HISTORY = 99  # codes C-0001 … C-0099 (current clients start at C-0101)
#: The demo's "today": active clients' latest sessions fall in this week.
DEMO_END = date(2026, 11, 20)  # a Friday
DEMO_NAME = "demo caseload"
#: The ``created`` stamp of a demo database (fixed, so the file is reproducible).
DEMO_CREATED = "2026-11-20T00:00:00+00:00"
DEMO_FILE = "demo_caseload.json"

MIN_SESSIONS, MAX_SESSIONS = 6, 30
_MAX_CLIENTS = 5000  # codes stay 4 digits (C-0101 … C-7600)
_MAX_SESSIONS_ARG = 200

SUPERVISOR = Clinician("S01", "supervisor")
SUPERVISEES = (
    Clinician("T01", "trainee"),
    Clinician("T02", "staff"),
    Clinician("T03", "trainee"),
    Clinician("T04", "staff"),
)
# share of the caseload per supervisee (trainees carry fewer clients)
_SHARES = {"T01": 0.22, "T02": 0.28, "T03": 0.22, "T04": 0.28}
# whose clients answer the post-session rupture question ("tension today?")
_ASKS_RUPTURE = {"T01": True, "T02": False, "T03": True, "T04": True}

GOAL_TEXTS = (
    "Reduce avoidance of social situations",
    "Return to work part-time",
    "Sleep through most nights",
    "Manage panic attacks without leaving the situation",
    "Reconnect with two friends",
    "Cut drinking down to weekends only",
    "Talk with partner without arguments escalating",
    "Cope with grief after bereavement",
    "Set boundaries with family",
    "Be less self-critical after mistakes",
    "Get back to regular exercise",
    "Reduce checking rituals to under an hour a day",
    "Attend lectures again",
    "Feel less overwhelmed at work",
    "Handle anger without shouting",
    "Build a daily routine",
    "Worry less about health",
    "Go to the supermarket alone",
    "Talk about the accident without shutting down",
    "Notice and act on urges to self-harm safely",
    "Eat regular meals",
    "Ask for help when struggling",
    "Make a decision about the relationship",
    "Spend less time in bed during the day",
)


# --- scenarios ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    number: int  # preferred client number (C-0<number>) when it is in range
    clinician: str
    status: str
    story: str


#: Scripted stories, most urgent first (a small caseload keeps the first
#: ones). The preferred numbers match the sketches in screens.md.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("risk", 142, "T02", "active", "PHQ-9 risk item endorsed at the latest session (tier 1)"),
    Scenario("deteriorated_ors", 107, "T01", "active", "ORS reliably worse since session 1 (tier 2)"),
    Scenario("unrepaired", 131, "T03", "active",
             "SRS drop below cutoff, client-reported confrontation, no-show, "
             "alliance stays under its baseline: unrepaired (tier 3)"),
    Scenario("open", 119, "T02", "active", "SRS drop below cutoff at the latest session: open rupture (tier 3)"),
    Scenario("goal_disagreed", 125, "T04", "active", "WAI-SR Goal subscale 10–12 every month: goal disagreed (tier 4)"),
    Scenario("disengaging", 150, "T01", "active", "cancelled and no-show at the last two sessions (tier 5)"),
    Scenario("goal_stale", 111, "T03", "active", "goals last reviewed at session 3 (tier 6, stale)"),
    Scenario("recovered", 101, "T02", "active", "PHQ-9 and ORS recovered; nothing to review (tier 7)"),
    Scenario("discrepancy", 128, "T04", "active",
             "client WAI-SR far below the therapist's at the latest WAI-SR session: open rupture"),
    Scenario("deteriorated_phq", 136, "T03", "active", "PHQ-9 6+ points worse (tier 2)"),
    Scenario("repaired_v", 104, "T01", "active", "V-shaped SRS rupture repaired two sessions later"),
    Scenario("withdrawal", 115, "T04", "active", "client-reported withdrawal rupture, repaired next session"),
    Scenario("therapist_report", 144, "T01", "active",
             "therapist-reported withdrawal on the WAI-SR form, repaired at the next WAI-SR"),
    Scenario("goal_not_set", 133, "T04", "active", "no goal record and no goal evidence (tier 6, not set)"),
    Scenario("transferred", 109, "T02", "active", "transferred from T01 to T02 mid-treatment"),
    Scenario("paused", 121, "T03", "paused", "paused: last session some weeks ago"),
    Scenario("closed", 146, "T02", "closed", "closed at the end of treatment, goals achieved"),
    Scenario("dropped_out", 139, "T01", "dropped_out",
             "SRS rupture, then two no-shows and drop-out: unrepaired (ended)"),
    # spec v2 stories (appended, so a smaller demo — the UI tests' 18 clients — keeps its layout)
    Scenario("risk_unseen", 117, "T03", "active",
             "PHQ-9 risk item endorsed, then two no-shows and a cancellation: not seen since (first of tier 1)"),
    Scenario("risk_dropped", 153, "T04", "dropped_out",
             "PHQ-9 risk item endorsed, then no-shows and drop-out: active risk keeps the client triaged"),
    Scenario("risk_rescreened", 124, "T01", "active",
             "PHQ-9 risk item endorsed last week, re-screened negative this week (agenda: re-screened)"),
    Scenario("goals_achieved", 158, "T02", "active",
             "every goal achieved some sessions ago, no new goal: set new goals or plan the ending (tier 6)"),
    # clinical-rules §10 (needs a clinic reference: only in demos of the default size and up)
    Scenario("not_on_track", 113, "T04", "active",
             "ORS stays near its intake while clients who started there improve: not on track, "
             "not deteriorated (tier 2)"),
)

# minimum sessions a scenario needs (when the caller fixes fewer)
_SCENARIO_MIN = {
    "risk": 6, "deteriorated_ors": 6, "deteriorated_phq": 6, "unrepaired": 14, "open": 6,
    "discrepancy": 10, "goal_disagreed": 8, "disengaging": 7, "goal_stale": 8, "goal_not_set": 6,
    "repaired_v": 10, "withdrawal": 9, "therapist_report": 14, "recovered": 8, "transferred": 8,
    "paused": 6, "closed": 8, "dropped_out": 6,
    "risk_unseen": 8, "risk_dropped": 7, "risk_rescreened": 6, "goals_achieved": 10, "not_on_track": 8,
}
# default lengths (sessions=None): a range or a fixed number from the sketches
_SCENARIO_N = {
    "risk": (11, 11), "deteriorated_ors": (9, 16), "deteriorated_phq": (10, 16), "unrepaired": (15, 20),
    "open": (8, 18), "discrepancy": (12, 20), "goal_disagreed": (12, 18), "disengaging": (9, 16),
    "goal_stale": (10, 10), "goal_not_set": (6, 12), "repaired_v": (14, 24), "withdrawal": (12, 20),
    "therapist_report": (16, 24), "recovered": (16, 22), "transferred": (14, 24), "paused": (8, 14),
    "closed": (10, 18), "dropped_out": (7, 10),
    "risk_unseen": (9, 14), "risk_dropped": (7, 11), "risk_rescreened": (8, 14), "goals_achieved": (12, 18),
    "not_on_track": (10, 14),
}


# stories that should leave the client in tier 7 ("nothing to review")
_NOTHING_ELSE = frozenset({"recovered", "repaired_v", "withdrawal", "therapist_report", "risk_rescreened"})


# --- small numeric helpers ------------------------------------------------------


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _r1(x: float) -> float:
    """Round to 0.1 (as SRS/ORS are recorded), avoiding -0.0."""
    v = round(x + 0.0, 1)
    return 0.0 if v == 0 else v


def _ceil1(x: float) -> float:
    """Smallest multiple of 0.1 at or above ``x`` (tolerating float noise)."""
    return math.ceil(round(x * 10, 6)) / 10


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _sd(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) >= 2 else 0.0


# --- the draft of one client ----------------------------------------------------


@dataclass
class _Draft:
    """One client while it is being made; indices are session numbers."""

    code: str
    status: str
    n: int
    clinicians: dict[int, str]
    dates: dict[int, date]
    attendance: dict[int, str]
    srs: dict[int, float]
    srs_goal: dict[int, float] | None  # the client's SRS goals-item deviation from total/4, per session
    ors: dict[int, float]
    phq: dict[int, float] | None
    phq_risk: dict[int, bool]
    gad: dict[int, float] | None
    wai: dict[int, list[int]]  # client (goal, task, bond) at WAI-SR sessions
    wai_t: dict[int, list[int]] | None  # therapist form, same sessions
    asks_rupture: bool
    reports: dict[tuple[int, str, str], str | None] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    locked_srs: set[int] = field(default_factory=set)
    locked_wai: set[int] = field(default_factory=set)
    locked_outcome: set[str] = field(default_factory=set)  # instruments whose trajectory is scripted
    goal_item_floor: float | None = None
    goal_item_fixed: dict[int, float] = field(default_factory=dict)  # scripted goals-item scores

    def attended(self) -> list[int]:
        return [s for s in range(1, self.n + 1) if self.attendance[s] == "attended"]

    def srs_before(self, s: int) -> list[float]:
        return [self.srs[t] for t in range(1, s) if self.attendance[t] == "attended"]

    def wai_before(self, s: int) -> list[int]:
        return [sum(self.wai[t]) for t in sorted(self.wai) if t < s and self.attendance[t] == "attended"]

    def attend(self, *sessions: int) -> None:
        for s in sessions:
            if 1 <= s <= self.n:
                self.attendance[s] = "attended"


@dataclass(frozen=True, slots=True)
class _Options:
    """What an ordinary client's course looks like (scenarios override)."""

    srs_mu: float
    srs_sd: float
    record_srs_goal: bool
    has_wai: bool
    has_wai_t: bool
    has_phq: bool
    has_gad: bool
    has_goals: bool
    ors_start: float
    ors_gain: float  # points gained at full progress (negative: worse)
    phq_start: int
    phq_gain: float  # points improved (negative: worse)
    gad_start: int
    gad_gain: float


def _random_options(rng: random.Random, status: str) -> dict:
    # one severity drives every outcome measure's starting point (ORS and
    # PHQ-9 correlate about −0.6 to −0.7), one course drives their change
    severity = rng.random()
    ors_start = _clip(27.5 - 13.0 * severity + rng.gauss(0.0, 2.0), 8.0, 31.0)
    phq_start = int(round(_clip(5.0 + 15.0 * severity + rng.gauss(0.0, 2.0), 2, 24)))
    gad_start = int(round(_clip(4.0 + 12.0 * severity + rng.gauss(0.0, 2.0), 1, 19)))
    improving = rng.random() < (0.9 if status == "closed" else 0.78)
    frac = rng.uniform(0.35, 0.75) if improving else rng.uniform(0.0, 0.2)
    if improving:
        ors_gain = (36.0 - ors_start) * frac * rng.uniform(0.8, 1.2)
    else:
        ors_gain = rng.uniform(0.5, 3.0)
    ors_gain = min(ors_gain, 37.5 - ors_start)
    return dict(
        srs_mu=rng.uniform(37.7, 39.3),
        srs_sd=rng.uniform(0.35, 0.7),
        record_srs_goal=rng.random() < 0.55,
        has_wai=rng.random() < 0.4,
        has_wai_t=rng.random() < 0.55,
        has_phq=rng.random() < 0.45,
        has_gad=rng.random() < 0.3,
        has_goals=rng.random() < 0.88,
        ors_start=ors_start,
        ors_gain=ors_gain,
        phq_start=phq_start,
        phq_gain=phq_start * frac,
        gad_start=gad_start,
        gad_gain=gad_start * frac,
    )


def _schedule(rng: random.Random, n: int, status: str, past: bool = False) -> dict[int, date]:
    weekday = rng.randrange(5)
    monday = DEMO_END - timedelta(days=DEMO_END.weekday())
    if past:  # a client of the clinic's history: ended 6 to 14 months ago
        weeks_back = rng.randint(26, 60)
    elif status == "active":
        weeks_back = 0
    elif status == "paused":
        weeks_back = rng.randint(3, 7)
    elif status == "closed":
        weeks_back = rng.randint(3, 22)
    else:  # dropped_out
        weeks_back = rng.randint(4, 18)
    day = monday - timedelta(weeks=weeks_back) + timedelta(days=weekday)
    days = [day]
    for _ in range(n - 1):
        u = rng.random()
        step = 7 if u < 0.92 else 14 if u < 0.99 else 21
        days.append(days[-1] - timedelta(days=step))
    days.reverse()
    return {s: d for s, d in enumerate(days, start=1)}


def _progress(rng: random.Random, n: int) -> list[float]:
    """Saturating progress 0 → ~1 with an occasional plateau."""
    tau = rng.uniform(3.0, 9.0)
    plateau = None
    if n >= 8 and rng.random() < 0.4:
        start = rng.randint(2, n - 3)
        plateau = (start, start + rng.randint(2, 5))
    out, t_eff = [], 0.0
    for i in range(n):
        out.append(1.0 - math.exp(-t_eff / tau))
        if not (plateau and plateau[0] <= i < plateau[1]):
            t_eff += 1.0
    return out


def _outcome_series(rng: random.Random, n: int, start: float, gain: float, prog: list[float],
                    sd: float, higher_better: bool, bad_week: float) -> list[float]:
    """Raw (unrounded) outcome scores; ``gain`` is in the better direction."""
    vals, e = [], 0.0
    sign = 1.0 if higher_better else -1.0
    for i in range(n):
        e = 0.3 * e + rng.gauss(0.0, sd)
        x = start + sign * gain * prog[i] + e
        if i > 0 and rng.random() < 0.06:
            x -= sign * rng.uniform(0.5, 1.0) * bad_week  # a bad week
        vals.append(x)
    return vals


def _wai_schedule(rng: random.Random, n: int) -> list[int]:
    first = rng.choice((3, 4))
    return list(range(first, n + 1, 4))


def _base(code: str, rng: random.Random, clinician: str, status: str, n: int, opts: dict,
          past: bool = False) -> _Draft:
    o = _Options(**opts)
    dates = _schedule(rng, n, status, past)
    attendance = {s: "attended" for s in range(1, n + 1)}
    for s in range(2, n):  # never the first or the last session
        u = rng.random()
        if u < 0.035:
            attendance[s] = "cancelled"
        elif u < 0.06:
            attendance[s] = "no_show"
    if status == "dropped_out" and n >= 3:
        attendance[n] = "no_show"
        if n >= 6 and rng.random() < 0.6:
            attendance[n - 1] = rng.choice(("cancelled", "no_show"))

    # alliance: client mean, early rise, AR(1) noise, ceiling at 40
    start_gap = rng.uniform(0.2, 1.4)
    srs, srs_goal, e = {}, {}, 0.0
    for s in range(1, n + 1):
        e = 0.4 * e + rng.gauss(0.0, o.srs_sd)
        x = o.srs_mu - start_gap * math.exp(-(s - 1) / 3.0) + e
        srs[s] = _r1(_clip(x, 0.0, 40.0))
        srs_goal[s] = rng.gauss(0.0, 0.22)  # item deviation, turned into a score later

    prog = _progress(rng, n)
    ors_raw = _outcome_series(rng, n, o.ors_start, o.ors_gain, prog, rng.uniform(1.1, 2.1), True, 4.0)
    ors = {s: _r1(_clip(ors_raw[s - 1], 0.0, 40.0)) for s in range(1, n + 1)}
    phq = gad = None
    phq_risk = {s: False for s in range(1, n + 1)}
    if o.has_phq:
        raw = _outcome_series(rng, n, o.phq_start, o.phq_gain, prog, rng.uniform(0.9, 1.5), False, 3.0)
        phq = {s: float(round(_clip(raw[s - 1], 0, 27))) for s in range(1, n + 1)}
        # item 9 endorsed at the start of treatment by some severe clients
        if phq[1] >= 15 and n >= 6 and rng.random() < 0.5:
            phq_risk[1] = True
            if rng.random() < 0.5:
                phq_risk[2] = True
    if o.has_gad:
        raw = _outcome_series(rng, n, o.gad_start, o.gad_gain, prog, rng.uniform(0.8, 1.3), False, 2.5)
        gad = {s: float(round(_clip(raw[s - 1], 0, 21))) for s in range(1, n + 1)}

    wai: dict[int, list[int]] = {}
    wai_t: dict[int, list[int]] | None = None
    if o.has_wai:
        qa = _clip((o.srs_mu - 29.5) / 10.5, 0.6, 0.95)
        offs = (rng.uniform(-0.05, 0.04), rng.uniform(-0.07, 0.03), rng.uniform(-0.02, 0.06))
        for s in _wai_schedule(rng, n):
            wai[s] = [int(_clip(round(4 + 16 * (qa + off + 0.05 * prog[s - 1] + rng.gauss(0, 0.035))), 4, 20))
                      for off in offs]
        if o.has_wai_t:
            bias = rng.uniform(-0.8, 0.3)
            wai_t = {s: [int(_clip(round(v + bias + rng.gauss(0, 0.8)), 4, 20)) for v in vals]
                     for s, vals in wai.items()}

    d = _Draft(
        code=code,
        status=status,
        n=n,
        clinicians={s: clinician for s in range(1, n + 1)},
        dates=dates,
        attendance=attendance,
        srs=srs,
        srs_goal=srs_goal if o.record_srs_goal else None,
        ors=ors,
        phq=phq,
        phq_risk=phq_risk,
        gad=gad,
        wai=wai,
        wai_t=wai_t,
        asks_rupture=_ASKS_RUPTURE.get(clinician, False),
    )
    if o.has_goals:
        d.goals = _random_goals(rng, d)
    return d


def _random_goals(rng: random.Random, d: _Draft) -> list[Goal]:
    k = rng.choice((1, 1, 2, 2, 2, 3))
    texts = rng.sample(GOAL_TEXTS, k)
    attended = d.attended()
    early = [s for s in attended if s <= 3] or attended[:1]
    goals = []
    for j, text in enumerate(texts):
        set_s = early[0] if j == 0 else rng.choice(early)
        agreement = "agreed" if rng.random() < 0.8 else "partial"
        reviewed, status = None, "active"
        later = [s for s in attended if s >= set_s + 3]
        if later and rng.random() < 0.75:
            recent = [s for s in later if s > d.n - 4]
            if recent and rng.random() < 0.5:
                reviewed = rng.choice(recent)
            else:
                reviewed = rng.choice(later)
            u = rng.random()
            if d.status == "closed" or u < 0.2:
                status = "achieved"
                agreement = "agreed"  # a goal is achieved once both agree it is
            elif u < 0.25:
                status = "dropped"
        goals.append(Goal(d.code, f"G{j + 1}", text, set_s, agreement, status, reviewed))
    return goals


# --- keeping ordinary courses ordinary ------------------------------------------


def _tidy_srs(d: _Draft, rng: random.Random) -> None:
    """No accidental rupture markers: SRS stays at or above 36.3 and never
    falls 2.5+ points below the mean of the previous three (the `drop`
    floor is 3). Scripted (locked) sessions are left alone."""
    seen: list[float] = []
    for s in d.attended():
        x = d.srs[s]
        if s not in d.locked_srs:
            if x < 36.3:
                x = _r1(36.3 + rng.uniform(0.0, 0.8))
            if len(seen) >= 2:
                b = _mean(seen[-3:])
                if b - x >= 2.5:
                    x = _r1(b - rng.uniform(0.2, 1.5))
            d.srs[s] = _r1(_clip(max(x, 36.3), 0.0, 40.0))
        seen.append(d.srs[s])


def _tidy_wai(d: _Draft) -> None:
    """Client WAI-SR: Goal agreed (≥ 16) and no fall of 4+ below the recent
    mean (floor 5); therapist form within 2 points per subscale of the
    client's, so no discrepancy and no Goal gap of 4."""
    seen: list[int] = []
    for s in sorted(d.wai):
        if d.attendance[s] != "attended":
            continue
        if s not in d.locked_wai:
            v = d.wai[s]
            v[0] = max(v[0], 16)
            if len(seen) >= 2:
                b = _mean(seen[-3:])
                while b - sum(v) >= 4 and min(v) < 20:
                    i = v.index(min(v))
                    v[i] += 1
            if d.wai_t is not None:
                t = d.wai_t[s]
                for i in range(3):
                    t[i] = int(_clip(t[i], v[i] - 2, v[i] + 2))
                    t[i] = int(_clip(t[i], 4, 20))
        seen.append(sum(d.wai[s]))


def _tidy_outcomes(d: _Draft, rng: random.Random) -> None:
    """An ordinary course does not reliably deteriorate (first vs latest)."""
    att = d.attended()
    if len(att) < 2:
        return
    first, last = att[0], att[-1]
    if "ORS" not in d.locked_outcome and d.ors[last] - d.ors[first] <= -3.5:
        d.ors[last] = _r1(d.ors[first] - rng.uniform(0.0, 2.5))
    if d.phq is not None and "PHQ-9" not in d.locked_outcome and d.phq[last] - d.phq[first] >= 4:
        d.phq[last] = float(d.phq[first] + rng.randint(0, 2))
    if d.gad is not None and "GAD-7" not in d.locked_outcome and d.gad[last] - d.gad[first] >= 3:
        d.gad[last] = float(d.gad[first] + rng.randint(0, 1))


def _srs_goal_item(d: _Draft, s: int) -> float:
    """The SRS goals & topics item, consistent with the total: a quarter of
    it plus the client's deviation that session (or a scripted score),
    within what the total allows (the other three items score 0–30)."""
    assert d.srs_goal is not None
    total = d.srs[s]
    g = d.goal_item_fixed.get(s, total / 4 + d.srs_goal[s])
    if d.goal_item_floor is not None and s not in d.goal_item_fixed:
        g = max(g, d.goal_item_floor)
    return _r1(_clip(g, max(0.0, total - 30.0), min(10.0, total)))


# --- scripted stories -----------------------------------------------------------


def _dip(d: _Draft, rng: random.Random, k: int, below: float = 35.4, extra=(0.8, 2.5)) -> float:
    """Script an SRS `drop` + `low` at session ``k``; returns the baseline
    (mean of the previous three attended SRS)."""
    before = d.srs_before(k)
    b = _mean(before[-3:])
    sigma = _sd(before)
    x = min(below, b - max(sigma, 3.0) - rng.uniform(*extra))
    d.srs[k] = _r1(_clip(x, 27.0, 40.0))
    d.locked_srs.add(k)
    return b


def _repair_value(rng: random.Random, p: float) -> float:
    return _r1(min(40.0, _ceil1(p) + rng.choice((0.1, 0.2, 0.3, 0.4, 0.6))))


def _settle(d: _Draft, rng: random.Random) -> None:
    """Re-tidy after a scenario changed attendance, before it computes
    baselines from the client's earlier scores."""
    _tidy_srs(d, rng)
    _tidy_wai(d)


def _scenario(key: str, d: _Draft, rng: random.Random) -> None:
    n = d.n
    if key == "risk":
        d.attend(n)
        d.phq_risk[n] = True
    elif key == "deteriorated_ors":
        d.attend(1, n)
        first = d.ors[1]
        if d.ors[n] > first - 6.0:
            d.ors[n] = _r1(first - rng.uniform(6.2, 8.0))
        d.locked_outcome.add("ORS")
    elif key == "deteriorated_phq":
        d.attend(1, n)
        assert d.phq is not None
        first = d.phq[1]
        d.phq[n] = float(min(27, max(d.phq[n], first + rng.randint(6, 8))))
        if d.gad is not None:
            d.gad[n] = float(min(21, max(d.gad[n], d.gad[1] + rng.randint(2, 4))))
        d.locked_outcome.update(("PHQ-9", "GAD-7"))
    elif key == "unrepaired":
        k = n - 8
        d.attend(*range(k - 3, k + 2), *range(k + 3, n + 1))
        d.attendance[k + 2] = "no_show"
        _settle(d, rng)
        before = d.srs_before(k)
        if _mean(before[-3:]) < 38.0:  # the baseline must leave room under it
            for s in [t for t in range(1, k) if d.attendance[t] == "attended"][-3:]:
                d.srs[s] = _r1(rng.uniform(38.1, 39.2))
                d.locked_srs.add(s)
        p = _dip(d, rng, k, below=33.0, extra=(1.0, 3.0))
        d.srs[k + 1] = _r1(rng.uniform(30.5, 33.0))
        d.locked_srs.add(k + 1)
        d.reports[(k + 1, "SRS", "client")] = "confrontation"
        top = min(p - 0.4, 37.8)
        for s in range(k + 3, n + 1):
            d.srs[s] = _r1(rng.uniform(36.2, top))
            d.locked_srs.add(s)
        for s in range(k, n + 1):
            d.goal_item_fixed[s] = _r1(rng.uniform(6.6, 7.8))
        # unrepaired ruptures go with poorer outcome: no reliable gain here
        d.ors[n] = _r1(min(d.ors[n], d.ors[1] + rng.uniform(-1.5, 2.5)))
    elif key == "open":
        d.attend(*range(n - 3, n + 1))
        _settle(d, rng)
        _dip(d, rng, n, below=35.0, extra=(1.5, 4.0))
    elif key == "discrepancy":
        s_w = n - 1
        d.attend(s_w, n)
        sched = [s for s in range(s_w, 1, -4)][::-1]
        d.attend(*sched)
        old_client, old_t = d.wai, d.wai_t or {}
        d.wai = {}
        d.wai_t = {}
        for s in sched:
            src = old_client.get(s) or old_client.get(s + 1) or old_client.get(s - 1) or next(iter(old_client.values()))
            d.wai[s] = list(src)
            d.wai_t[s] = [int(_clip(v + rng.choice((-1, -1, 0, 0, 1)), 4, 20)) for v in src]
        c = [rng.randint(10, 12), rng.randint(11, 13), rng.randint(13, 15)]
        t = [rng.randint(17, 18), rng.randint(15, 17), rng.randint(17, 19)]
        while sum(t) - sum(c) < 11:
            t[2] = min(20, t[2] + 1)
            c[1] = max(4, c[1] - 1)
        d.wai[s_w], d.wai_t[s_w] = c, t
        d.locked_wai.add(s_w)
    elif key == "goal_disagreed":
        sched = [s for s in range(n, 1, -4)][::-1]
        d.attend(*sched, n - 1)
        d.wai = {}
        for i, s in enumerate(sched):
            latest = i == len(sched) - 1
            g = 11 if latest else rng.randint(10, 12)
            d.wai[s] = [g, rng.randint(12, 14), rng.randint(15, 17)]
            d.locked_wai.add(s)
        # keep the monthly totals within 4 points: no `drop`
        for s in sched:
            while sum(d.wai[s]) > 43:
                d.wai[s][2] -= 1
            while sum(d.wai[s]) < 39:
                d.wai[s][1] += 1
    elif key == "disengaging":
        d.attend(n - 2)
        d.attendance[n - 1] = "cancelled"
        d.attendance[n] = "no_show"
    elif key == "goal_stale":
        d.attend(1, 3)
        d.goals = [
            Goal(d.code, "G1", "Reduce avoidance of social situations", 1, "agreed", "active", 3),
            Goal(d.code, "G2", "Get back to regular exercise", 1, "agreed", "active", None),
        ]
    elif key == "goal_not_set":
        d.goals = []
    elif key == "recovered":
        d.attend(1, n)
        assert d.phq is not None
        d.phq[1] = float(rng.randint(15, 18))
        d.phq[n] = float(min(d.phq[n], rng.randint(4, 7)))
        d.ors[1] = _r1(min(d.ors[1], rng.uniform(15.0, 21.0)))
        d.ors[n] = _r1(max(d.ors[n], d.ors[1] + 6.0, rng.uniform(29.0, 33.0)))
        d.locked_outcome.update(("ORS", "PHQ-9"))
        d.goal_item_floor = 9.1
    elif key == "repaired_v":
        k = rng.randint(max(5, n - 10), n - 5)
        d.attend(*range(k - 3, k + 3))
        _settle(d, rng)
        p = _dip(d, rng, k)
        d.srs[k + 1] = _r1(rng.uniform(34.6, 35.8))
        d.srs[k + 2] = _repair_value(rng, p)
        d.locked_srs.update((k + 1, k + 2))
        d.goal_item_floor = 9.1
    elif key == "withdrawal":
        k = rng.randint(n - 7, n - 4)
        d.attend(*range(k - 3, k + 2))
        _settle(d, rng)
        b = _mean(d.srs_before(k)[-3:])
        d.srs[k] = _r1(max(36.2, b - rng.uniform(1.0, 2.2)))
        d.srs[k + 1] = _repair_value(rng, b)
        d.locked_srs.update((k, k + 1))
        d.reports[(k, "SRS", "client")] = "withdrawal"
        d.goal_item_floor = 9.1
    elif key == "therapist_report":
        s2 = n - 4
        s1 = s2 - 4
        sched = [s for s in range(s2, 1, -4)][::-1]
        d.attend(*sched)
        old_client, old_t = d.wai, d.wai_t or {}
        d.wai, d.wai_t = {}, {}
        for s in sched:
            src = old_client.get(s) or old_client.get(s + 1) or old_client.get(s - 1) or next(iter(old_client.values()))
            d.wai[s] = list(src)
            d.wai_t[s] = [int(_clip(v + rng.choice((-1, -1, 0, 0, 1)), 4, 20)) for v in src]
        _tidy_wai(d)  # settle the earlier months first, then script s1 and s2
        b = _mean(d.wai_before(s1)[-3:])
        # the therapist sees it; the client's form dips a little (not a `drop`)
        c1 = list(d.wai[s1])
        while sum(c1) > b - 2 and max(c1[1:]) > 4:
            i = 1 if c1[1] >= c1[2] else 2
            c1[i] -= 1
        d.wai[s1] = c1
        d.wai_t[s1] = [max(4, v - 1) for v in c1]
        d.reports[(s1, "WAI-SR", "therapist")] = "withdrawal"
        c2 = list(d.wai[s2])
        while sum(c2) < math.ceil(b) + 1 and min(c2) < 20:
            c2[c2.index(min(c2))] += 1
        d.wai[s2] = c2
        d.wai_t[s2] = [int(_clip(v + rng.choice((-1, 0, 0)), 4, 20)) for v in c2]
        d.locked_wai.update((s1, s2))
        d.goal_item_floor = 9.1
    elif key == "transferred":
        k = rng.randint(n // 3, (2 * n) // 3)
        for s in range(1, k + 1):
            d.clinicians[s] = "T01"
        for s in range(k + 1, n + 1):
            d.clinicians[s] = "T02"
    elif key == "paused":
        pass
    elif key == "closed":
        for i, g in enumerate(d.goals):
            d.goals[i] = Goal(g.client, g.goal_id, g.description, g.set_session, "agreed", "achieved",
                              g.reviewed_session if g.reviewed_session is not None else d.n)
    elif key == "dropped_out":
        d.attend(*range(1, n - 1))
        d.attendance[n - 1] = "no_show"
        d.attendance[n] = "no_show"
        _settle(d, rng)
        _dip(d, rng, n - 2)
    elif key == "risk_unseen":
        # endorsed at an attended session, then not seen: no-show, cancellation, no-show (this week)
        d.attend(*range(1, n - 2))
        d.phq_risk[n - 3] = True
        d.attendance[n - 2] = "no_show"
        d.attendance[n - 1] = "cancelled"
        d.attendance[n] = "no_show"
    elif key == "risk_dropped":
        d.attend(*range(1, n - 1))
        d.phq_risk[n - 2] = True
        d.attendance[n - 1] = "no_show"
        d.attendance[n] = "no_show"
    elif key == "risk_rescreened":
        d.attend(n - 1, n)
        d.phq_risk[n - 1] = True  # last week; this week's PHQ-9 says no (every PHQ-9 row records item 9)
        d.phq_risk[n] = False
    elif key == "goals_achieved":
        done = n - 6
        d.attend(1, 2, done)
        texts = rng.sample(GOAL_TEXTS, 2)
        d.goals = [Goal(d.code, f"G{j + 1}", text, 1 + j, "agreed", "achieved", done) for j, text in enumerate(texts)]
    elif key == "not_on_track":
        # ORS near the intake all along (the latest score is set against the
        # clinic reference once every client is made: _on_course)
        d.attend(1, n)
        d.locked_outcome.add("ORS")
        d.goals = [Goal(g.client, g.goal_id, g.description, g.set_session, "agreed", g.status, g.reviewed_session)
                   for g in d.goals]
    else:  # pragma: no cover - a programming error
        raise ValueError(key)
    if key in _NOTHING_ELSE:
        # a story meant to show in tier 7: goals agreed, nothing else to review
        d.goals = [Goal(g.client, g.goal_id, g.description, g.set_session, "agreed", g.status, g.reviewed_session)
                   for g in d.goals]


# --- on the expected course (clinical-rules §10) ------------------------------------------

_OUTCOME_FIELDS = {"ORS": "ors", "PHQ-9": "phq", "GAD-7": "gad"}
# stories whose outcome is scripted to be worse: deterioration wins over not on track, leave them be
_WORSE_STORIES = frozenset({"deteriorated_ors", "deteriorated_phq"})


def _course(d: _Draft, field_name: str) -> list | None:
    from supervision_tui.rules.expected import Point

    values = getattr(d, field_name)
    if values is None:
        return None
    return [Point(s, values[s]) for s in d.attended()]


def _toward_better(inst, x: float) -> float:
    """A score as the instrument records it, rounded toward the better end."""
    if inst.integer:
        return float(math.floor(x + 1e-9) if not inst.higher_is_better else math.ceil(x - 1e-9))
    return _ceil1(x) if inst.higher_is_better else math.floor(round(x * 10, 6)) / 10


def _on_course(drafts: list[tuple[_Draft, str | None]]) -> None:
    """Only the scripted not-on-track client is off the expected course.

    Once every client is made, the clinic reference of each outcome
    instrument is fitted from them (``rules.expected``, default settings);
    where it is computed, an active or paused client whose latest rating
    would signal "not on track" without a story for it gets that rating
    raised to the expected score (so ordinary clients stay quiet and each
    story keeps its tier), and the ``not_on_track`` story's latest ORS is
    put a little below the lower limit, short of a reliable deterioration.
    Refitted until nothing changes (a raised rating moves the reference a
    little); a demo too small for a reference is left as made."""
    from supervision_tui.instruments import REGISTRY
    from supervision_tui.rules.expected import assess_track, fit_expected

    for _round in range(4):
        changed = False
        for inst in REGISTRY.outcome():
            name = _OUTCOME_FIELDS.get(inst.id)
            if name is None:
                continue
            courses = [(d, key, _course(d, name)) for d, key in drafts]
            model = fit_expected(inst, [c for _d, _k, c in courses if c is not None])
            if not model.enough:
                continue
            rc = inst.reliable_change.points if inst.reliable_change else 0.0
            for d, key, pts in courses:
                if pts is None or len(pts) < 2 or d.status not in ("active", "paused") or key in _WORSE_STORIES:
                    continue
                values = getattr(d, name)
                last = pts[-1].session
                tr = assess_track(pts, model, d.status)
                if key == "not_on_track" and inst.id == "ORS":
                    x0 = pts[0].total
                    want = _r1(min(tr.latest, tr.lower_score - 1.0))
                    want = max(want, _ceil1(x0 - rc + 1.0))  # short of a reliable deterioration
                    if want != values[last]:
                        values[last] = want
                        changed = True
                elif tr.not_on_track:
                    values[last] = _toward_better(inst, tr.expected_score)
                    changed = True
        if not changed:
            return


# --- rows -----------------------------------------------------------------------


def _rows(d: _Draft) -> list[Rating]:
    rows: list[Rating] = []
    for s in range(1, d.n + 1):
        base = dict(client=d.code, clinician=d.clinicians[s], session=s, date=d.dates[s])
        if d.attendance[s] != "attended":
            rows.append(Rating(**base, attendance=d.attendance[s]))
            continue

        def report(inst: str, rater: str, asked: bool):
            key = (s, inst, rater)
            if key in d.reports:
                return True, d.reports[key]
            return (False if asked else None), None

        rup, rtype = report("SRS", "client", d.asks_rupture)
        goal_item = _srs_goal_item(d, s) if d.srs_goal is not None else None
        rows.append(Rating(**base, instrument="SRS", total=d.srs[s], goal=goal_item,
                           rupture=rup, rupture_type=rtype))
        rows.append(Rating(**base, instrument="ORS", total=d.ors[s]))
        if d.phq is not None:
            rows.append(Rating(**base, instrument="PHQ-9", total=d.phq[s], risk=d.phq_risk[s]))
        if d.gad is not None:
            rows.append(Rating(**base, instrument="GAD-7", total=d.gad[s]))
        if s in d.wai:
            g, t, b = d.wai[s]
            rup, rtype = report("WAI-SR", "client", False)
            rows.append(Rating(**base, instrument="WAI-SR", total=float(g + t + b), goal=float(g),
                               task=float(t), bond=float(b), rupture=rup, rupture_type=rtype))
            if d.wai_t is not None and s in d.wai_t:
                g, t, b = d.wai_t[s]
                rup, rtype = report("WAI-SR", "therapist", d.asks_rupture)
                rows.append(Rating(**base, instrument="WAI-SR", rater="therapist", total=float(g + t + b),
                                   goal=float(g), task=float(t), bond=float(b),
                                   rupture=rup, rupture_type=rtype))
    rows.sort(key=lambda r: (r.session, r.instrument or "", r.rater))
    return rows


# --- the caseload ---------------------------------------------------------------


def _layout(rng: random.Random, n_clients: int) -> tuple[list[int], dict[int, Scenario]]:
    """Client numbers (sorted, not contiguous: real code lists have gaps)
    and which number carries which scenario."""
    span = max(n_clients, (3 * n_clients + 1) // 2)
    pool = range(101, 101 + span)
    scenarios = list(SCENARIOS[: n_clients])
    fixed = {sc.number: sc for sc in scenarios if sc.number in pool}
    floating = [sc for sc in scenarios if sc.number not in pool]
    rest = [x for x in pool if x not in fixed]
    numbers = sorted(list(fixed) + rng.sample(rest, n_clients - len(fixed)))
    free = [x for x in numbers if x not in fixed]
    for sc, x in zip(floating, rng.sample(free, len(floating))):
        fixed[x] = sc
    return numbers, fixed


def _assign_clinicians(rng: random.Random, numbers: list[int], scen: dict[int, Scenario]) -> dict[int, str]:
    counts = {c.id: 0 for c in SUPERVISEES}
    out: dict[int, str] = {}
    for x in numbers:
        if x in scen:
            out[x] = scen[x].clinician
            counts[out[x]] += 1
    total = len(numbers)
    for x in numbers:
        if x in out:
            continue
        # the supervisee furthest below their share, ties broken at random
        gaps = [(counts[c] - _SHARES[c] * total, rng.random(), c) for c in counts]
        out[x] = min(gaps)[2]
        counts[out[x]] += 1
    return out


def _random_status(rng: random.Random) -> str:
    u = rng.random()
    return "closed" if u < 0.09 else "paused" if u < 0.14 else "dropped_out" if u < 0.18 else "active"


def _n_sessions(rng: random.Random, key: str | None, status: str, sessions: int | None) -> int:
    if sessions is not None:
        return sessions  # a story that needs more is left out (_told)
    if key:
        lo, hi = _SCENARIO_N[key]
        return rng.randint(lo, hi)
    if status == "dropped_out":
        return rng.randint(MIN_SESSIONS, 12)
    return int(round(rng.triangular(MIN_SESSIONS, MAX_SESSIONS, 11)))


def _scenario_options(key: str, opts: dict, rng: random.Random) -> dict:
    o = dict(opts)
    o["srs_mu"] = max(o["srs_mu"], 38.2)
    if key == "risk":
        o.update(has_phq=True, phq_start=rng.randint(14, 17), phq_gain=rng.uniform(0.0, 2.0),
                 ors_gain=rng.uniform(0.0, 2.5), ors_start=rng.uniform(16.0, 21.0), srs_mu=rng.uniform(37.2, 37.8))
    elif key == "deteriorated_ors":
        o.update(ors_start=rng.uniform(22.0, 27.0), ors_gain=-rng.uniform(5.0, 8.0), srs_mu=rng.uniform(37.8, 38.4),
                 record_srs_goal=False, has_wai=False, phq_start=rng.randint(7, 10), phq_gain=-rng.uniform(1.0, 3.0),
                 gad_start=rng.randint(6, 9), gad_gain=-rng.uniform(0.5, 2.0))
    elif key == "deteriorated_phq":
        o.update(has_phq=True, has_gad=True, phq_start=rng.randint(8, 11), phq_gain=-rng.uniform(5.0, 7.0),
                 gad_start=rng.randint(6, 9), gad_gain=-rng.uniform(2.0, 4.0), ors_gain=-rng.uniform(0.0, 2.0),
                 ors_start=rng.uniform(19.0, 24.0))
    elif key == "unrepaired":
        o.update(srs_mu=rng.uniform(38.6, 39.2), srs_sd=0.4, record_srs_goal=True, has_wai=False, has_phq=True,
                 phq_start=rng.randint(14, 16), phq_gain=rng.uniform(0.0, 2.0), ors_start=rng.uniform(17.0, 22.0),
                 ors_gain=rng.uniform(0.0, 2.5), has_goals=True)
    elif key == "open":
        o.update(has_wai=False, record_srs_goal=True)
    elif key == "discrepancy":
        o.update(has_wai=True, has_wai_t=True, record_srs_goal=False)
    elif key == "goal_disagreed":
        o.update(has_wai=True, has_wai_t=False, record_srs_goal=False, has_phq=True,
                 phq_start=rng.randint(11, 14), phq_gain=rng.uniform(0.0, 2.5), srs_mu=rng.uniform(37.6, 38.3),
                 ors_start=rng.uniform(16.0, 21.0), ors_gain=rng.uniform(1.0, 4.0))
    elif key == "disengaging":
        o.update(record_srs_goal=True, has_wai=False)
    elif key in ("goal_stale", "goal_not_set"):
        o.update(record_srs_goal=False, has_wai=False)
        if key == "goal_stale":
            o["srs_mu"] = rng.uniform(38.3, 38.9)
    elif key == "recovered":
        o.update(has_phq=True, phq_start=16, phq_gain=11.0, ors_start=18.0, ors_gain=13.0, record_srs_goal=True,
                 has_wai=False, srs_mu=rng.uniform(38.6, 39.2))
    elif key in ("repaired_v", "withdrawal"):
        o.update(record_srs_goal=True, has_wai=False, srs_mu=max(o["srs_mu"], 38.4), srs_sd=min(o["srs_sd"], 0.5))
    elif key == "therapist_report":
        o.update(has_wai=True, has_wai_t=True, record_srs_goal=True)
    elif key == "closed":
        o.update(has_goals=True)
    elif key == "dropped_out":
        o.update(record_srs_goal=False, has_wai=False, ors_gain=rng.uniform(0.0, 3.0))
    elif key in ("risk_unseen", "risk_dropped", "risk_rescreened"):
        o.update(has_phq=True, phq_start=rng.randint(13, 17), phq_gain=rng.uniform(1.0, 4.0),
                 record_srs_goal=key == "risk_rescreened", has_wai=False, has_goals=True)
    elif key == "goals_achieved":
        o.update(record_srs_goal=False, has_wai=False, has_goals=True)
    elif key == "not_on_track":
        o.update(ors_start=rng.uniform(14.0, 18.0), ors_gain=rng.uniform(0.0, 1.5), has_phq=False, has_gad=False,
                 has_wai=False, record_srs_goal=True, has_goals=True, srs_mu=rng.uniform(38.3, 39.0))
    if o["ors_start"] + o["ors_gain"] > 37.5:
        o["ors_gain"] = 37.5 - o["ors_start"]
    return o


def _make_client(seed: int, code: str, clinician: str, status: str, key: str | None,
                 sessions: int | None, past: bool = False) -> _Draft:
    rng = random.Random(f"supervision-tui-demo/{seed}/{code}")
    n = _n_sessions(rng, key, status, sessions)
    opts = _random_options(rng, status)
    if key:
        opts = _scenario_options(key, opts, rng)
    if past:  # the clinic's history: PHQ-9 and GAD-7 more often, as in services that use them routinely
        opts.update(has_phq=rng.random() < 0.7, has_gad=rng.random() < 0.6)
    d = _base(code, rng, clinician, status, n, opts, past)
    _tidy_srs(d, rng)
    _tidy_wai(d)
    if key:
        _scenario(key, d, rng)
    elif d.n >= 14 and status in ("active", "paused") and rng.random() < 0.12:
        # an ordinary course with a small, quickly repaired dip mid-way
        k = rng.randint(5, d.n - 7)
        d.attend(*range(k - 3, k + 3))
        _settle(d, rng)
        p = _dip(d, rng, k, below=35.8, extra=(0.3, 1.2))
        d.srs[k + 1] = _repair_value(rng, p)
        d.locked_srs.add(k + 1)
    _tidy_srs(d, rng)
    _tidy_wai(d)
    _tidy_outcomes(d, rng)
    return d


def _check_params(n_clients: int, sessions: int | None) -> None:
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or not 1 <= n_clients <= _MAX_CLIENTS:
        raise UserError(f"--clients must be a whole number from 1 to {_MAX_CLIENTS} (got {n_clients})")
    if sessions is not None and (
        isinstance(sessions, bool) or not isinstance(sessions, int) or not 1 <= sessions <= _MAX_SESSIONS_ARG
    ):
        raise UserError(f"--sessions must be a whole number from 1 to {_MAX_SESSIONS_ARG} (got {sessions})")


def _generate(seed: int, n_clients: int, sessions: int | None,
              history: int | None = None) -> tuple[Caseload, dict[str, str]]:
    _check_params(n_clients, sessions)
    history = default_history(n_clients) if history is None else history
    if isinstance(history, bool) or not isinstance(history, int) or not 0 <= history <= _MAX_HISTORY:
        raise UserError(f"--history must be a whole number from 0 to {_MAX_HISTORY} (got {history})")
    rng = random.Random(seed)
    numbers, scen = _layout(rng, n_clients)
    clinicians = _assign_clinicians(rng, numbers, scen)
    clients: dict[str, Client] = {}
    ratings: list[Rating] = []
    goals: list[Goal] = []
    stories: dict[str, str] = {}
    drafts: list[tuple[_Draft, str | None]] = []
    # the clinic's history first (own random generator: the current clients' data do not depend on it)
    hist_rng = random.Random(f"supervision-tui-demo/{seed}/history")
    for i in range(1, history + 1):
        code = f"C-{i:04d}"
        clinician = hist_rng.choices(list(_SHARES), weights=list(_SHARES.values()))[0]
        status = "closed" if hist_rng.random() < 0.85 else "dropped_out"
        drafts.append((_make_client(seed, code, clinician, status, None, sessions, past=True), None))
    for x in numbers:
        code = f"C-{x:04d}"
        sc = _told(scen.get(x), sessions)
        status = sc.status if sc else _random_status(rng)
        drafts.append((_make_client(seed, code, clinicians[x], status, sc.key if sc else None, sessions),
                       sc.key if sc else None))
        if sc:
            stories[sc.key] = code
    _on_course(drafts)
    for d, _key in drafts:
        rows = _rows(d)
        ratings.extend(rows)
        goals.extend(sorted(d.goals, key=lambda g: g.goal_id))
        clients[d.code] = Client(d.code, rows[-1].clinician, d.status, d.dates[1])
    caseload = Caseload(
        clients=clients,
        clinicians={c.id: c for c in (SUPERVISOR, *SUPERVISEES)},
        ratings=ratings,
        goals=goals,
        name=DEMO_NAME,
    )
    return caseload, stories


def _told(sc: Scenario | None, sessions: int | None) -> Scenario | None:
    """``sc``, unless ``sessions`` is too few to tell its story: that
    client is then an ordinary one with ``sessions`` sessions."""
    if sc is not None and sessions is not None and _SCENARIO_MIN[sc.key] > sessions:
        return None
    return sc


def stories_left_out(n_clients: int = DEFAULT_CLIENTS, sessions: int | None = None) -> dict[str, int]:
    """The scripted stories ``sessions`` is too few for (story → the
    sessions it needs), among those ``n_clients`` clients carry."""
    if sessions is None:
        return {}
    return {sc.key: _SCENARIO_MIN[sc.key] for sc in SCENARIOS[:n_clients] if _told(sc, sessions) is None}


def default_history(n_clients: int) -> int:
    """Past clients a demo of ``n_clients`` carries by default:
    ``DEFAULT_HISTORY`` from the default size up, none below (the UI tests'
    small demos keep their data; a clinic that small has no reference)."""
    return DEFAULT_HISTORY if n_clients >= DEFAULT_CLIENTS else 0


def generate_demo(seed: int = DEFAULT_SEED, n_clients: int = DEFAULT_CLIENTS, sessions: int | None = None,
                  history: int | None = None) -> Caseload:
    """The demo caseload for ``seed``: the same seed always gives the same data.

    ``sessions`` fixes the number of sessions of every current client,
    scripted ones included (default: 6–30, mostly short courses, and what
    each story needs). A story that needs more sessions than ``sessions``
    is left out and its client is an ordinary one (:func:`stories_left_out`
    names them); the CLI says so. With fewer clients than scenarios, the
    most urgent scenarios are kept (see ``SCENARIOS``). ``history``: closed and
    dropped-out clients of the clinic's past (codes C-0001 …; default
    ``default_history(n_clients)``), the reference the not-on-track signal
    learns from together with the current clients.
    """
    return _generate(seed, n_clients, sessions, history)[0]


def scenario_clients(seed: int = DEFAULT_SEED, n_clients: int = DEFAULT_CLIENTS,
                     sessions: int | None = None, history: int | None = None) -> dict[str, str]:
    """Which client code carries which scripted scenario (``Scenario.key``
    → code), e.g. for documentation, screenshots and tests."""
    return _generate(seed, n_clients, sessions, history)[1]


# --- files ----------------------------------------------------------------------


def write_demo(out: Path, seed: int = DEFAULT_SEED, n_clients: int = DEFAULT_CLIENTS,
               sessions: int | None = None, history: int | None = None) -> Path:
    """Write the demo caseload as a new database at ``out``.

    Refuses to overwrite an existing file (a demo written over a real
    caseload would be a disaster). The file is byte-identical for the same
    arguments: its ``created`` stamp is ``DEMO_CREATED``, not the clock.
    Only the database file is left behind (no ``.lock`` file): nobody else
    can know a file this call has just created.
    """
    from supervision_tui.store import schema
    from supervision_tui.store.database import Database

    out = Path(out)
    if out.exists() or out.is_symlink():
        raise UserError(f"{out} exists; choose another path")
    caseload = generate_demo(seed, n_clients, sessions, history)
    db = Database(out, read_only=False)
    lock = db.store.lock_path
    had_lock = lock.exists()
    try:
        # an empty database carrying the fixed stamp first:
        # replace_caseload keeps the ``created`` of an existing file
        with db.store.transaction() as data:
            if data:  # created by someone else in the meantime
                raise UserError(f"{out} exists; choose another path")
            data[schema.META] = {"1": schema.new_meta(caseload.name, DEMO_CREATED)}
        db.replace_caseload(caseload)
    finally:
        if not had_lock:
            try:
                lock.unlink()
            except OSError:
                pass
    return out


def bundled_demo_path() -> Path:
    """The demo database shipped with the product.

    A source checkout or an editable install reads the repository's
    ``data/demo_caseload.json``; an installed wheel carries it as
    ``supervision_tui/_data/demo_caseload.json`` (pyproject.toml maps
    ``data/`` there). The returned path may not exist (e.g. a wheel built
    without the data); ``private_demo_copy`` then generates the demo.
    """
    source = Path(__file__).resolve().parents[2] / "data" / DEMO_FILE
    if source.is_file():
        return source
    try:
        from importlib import resources

        installed = resources.files("supervision_tui").joinpath("_data", DEMO_FILE)
    except (ImportError, OSError, TypeError):  # pragma: no cover - exotic loaders
        return source
    if isinstance(installed, Path) and installed.is_file():
        return installed
    return source


def private_demo_copy() -> tuple[Path, bool]:
    """A private, writable copy of the demo: ``(path, created)``.

    Created (folder 0o700, file 0o600) from the bundled file when it does
    not exist yet, or generated with the default seed when the bundled
    file is missing. An existing copy is returned as it is (it holds the
    user's review notes). The bundled file is only ever read.
    """
    from supervision_tui.paths import data_dir
    from supervision_tui.store.files import ensure_private_dir, write_private_bytes

    directory = ensure_private_dir(data_dir())
    target = directory / DEMO_FILE
    if target.exists():
        return target, False
    bundled = bundled_demo_path()
    if bundled.is_file():
        try:
            data = bundled.read_bytes()
        except OSError as err:
            raise UserError(f"{bundled}: cannot read the bundled demo: {err.strerror or err}") from err
        write_private_bytes(target, data)
    else:
        # generate beside the target, then write it in place (atomically, 0o600)
        tmp = directory / f".{DEMO_FILE}.{secrets.token_hex(6)}.generating"
        try:
            write_demo(tmp)
            write_private_bytes(target, tmp.read_bytes())
        except OSError as err:
            raise UserError(f"{target}: cannot write the demo copy: {err.strerror or err}") from err
        finally:
            if tmp.exists():
                tmp.unlink()
    return target, True
