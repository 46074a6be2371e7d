"""Triage order (clinical-rules.md §7).

Each client gets the most urgent tier that applies:

====  ============================  ===================================
tier  reason                        triggering session
====  ============================  ===================================
1     risk                          the latest risk session
2     outcome deteriorated          the latest rating of a deteriorated
                                    instrument
3     rupture unrepaired / open     the last marker session of the most
                                    recent open or unrepaired episode
4     goal disagreed                the goal evidence session
5     disengaging                   the client's latest session
6     goal stale/not set/partial    the goal evidence session (not set:
                                    the client's latest session)
7     nothing to review             the client's latest session
====  ============================  ===================================

Within a tier: the most recent triggering session *date* first, then
client id. A triggering session without a known date (a goal record for
a session that has no row) sorts after dated ones in its tier.

Readings: "most recent" episode = the last one in session order (episodes
never overlap); with several deteriorated instruments the one rated most
recently triggers (registry order on a tie) and ``why`` says how many
more there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from supervision_tui.instruments import fmt_signed
from supervision_tui.rules.goals import deciding_evidence
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import (
    AttendanceResult,
    ClientAnalysis,
    Episode,
    GoalResult,
    OutcomeResult,
    RiskResult,
)
from supervision_tui.settings import Settings

REASONS = {
    1: "risk",
    2: "outcome deteriorated",
    3: "rupture",  # + " unrepaired" / " open"
    4: "goal disagreed",
    5: "disengaging",
    6: "goal",  # + " stale" / " not set" / " partial"
    7: "nothing to review",
}


@dataclass(frozen=True, slots=True)
class Triage:
    tier: int
    reason: str
    why: str
    session: int | None
    date: date | None


def triage(
    view: ClientView,
    risk: RiskResult | None,
    outcomes: dict[str, OutcomeResult],
    episodes: tuple[Episode, ...],
    goal: GoalResult,
    attendance: AttendanceResult,
    settings: Settings,
) -> Triage:
    latest = view.latest

    def at(number: int | None) -> date | None:
        s = view.by_number.get(number) if number is not None else None
        return s.date if s is not None else None

    latest_n = latest.number if latest else None
    latest_d = latest.date if latest else None

    if risk is not None:
        return Triage(1, "risk", f"risk item at s{risk.session}", risk.session, risk.date)

    worse = [o for o in outcomes.values() if o.status == "deteriorated"]
    if worse:
        order = view.registry.order
        top = max(worse, key=lambda o: (o.latest_session, -order(o.instrument)))
        why = f"{top.instrument} {fmt_signed(top.change)} since s{top.first_session} (deteriorated)"
        if len(worse) > 1:
            why += f" +{len(worse) - 1} more"
        return Triage(2, "outcome deteriorated", why, top.latest_session, top.latest_date)

    live = [e for e in episodes if e.status in ("open", "unrepaired")]
    if live:
        ep = live[-1]
        kinds = ", ".join(k.replace("_", "-") for k in ep.marker_kinds)  # words, not JSON tokens
        return Triage(3, f"rupture {ep.status}", f"{ep.status} since s{ep.start} ({kinds})", ep.last_marker, at(ep.last_marker))

    if goal.status == "disagreed":
        ev = deciding_evidence(goal)
        why = f"goal disagreed ({ev.short}, s{goal.session})" if ev is not None and ev.short else "goal disagreed"
        return Triage(4, "goal disagreed", why, goal.session, at(goal.session))

    if attendance.disengaging:
        n = attendance.missed
        return Triage(5, "disengaging", f"{n} session{'s' if n != 1 else ''} missed", latest_n, latest_d)

    if goal.status in ("stale", "not_set", "partial"):
        if goal.status == "not_set":
            return Triage(6, "goal not set", "goal not set", latest_n, latest_d)
        if goal.status == "stale":
            if goal.sessions_ago is not None and goal.sessions_ago > settings.goals.stale_sessions:
                age = f"{goal.sessions_ago} sess ago"
            else:  # stale by days only
                age = f"{goal.days_ago} days ago"
            why = f"goal stale (last s{goal.session}, {age})"
            return Triage(6, "goal stale", why, goal.session, at(goal.session))
        ev = deciding_evidence(goal)
        why = f"goal partial ({ev.short}, s{goal.session})" if ev is not None and ev.short else "goal partial"
        return Triage(6, "goal partial", why, goal.session, at(goal.session))

    return Triage(7, "nothing to review", "nothing to review", latest_n, latest_d)


def triage_key(a: ClientAnalysis) -> tuple:
    """Sort key: triaged clients first, then tier, most recent trigger
    date first (undated last), then client id."""
    d = a.trigger_date
    return (0 if a.triaged else 1, a.tier, 0 if d is not None else 1, -(d.toordinal()) if d else 0, a.client)
