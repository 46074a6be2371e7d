"""Attendance (clinical-rules.md §6; risk is ``rules.risk``).

* **disengaging** — the trailing run of not-attended sessions
  (``cancelled`` or ``no_show``) is at least ``disengaging_missed`` (2)
  long; ``missed`` is the run's length (reported even below the
  threshold, 0 when the latest session was attended).
"""

from __future__ import annotations

from supervision_tui.rules.context import Rule, RuleContext
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import AttendanceResult, Flag, TriageHint
from supervision_tui.settings import Settings


def assess_attendance(view: ClientView, settings: Settings) -> AttendanceResult:
    sessions = view.sessions
    if not sessions:
        return AttendanceResult(False, 0, None, "no sessions")
    missed = 0
    for s in reversed(sessions):
        if s.attendance == "attended":
            break
        missed += 1
    threshold = settings.attendance.disengaging_missed
    latest = sessions[-1].number
    disengaging = missed >= threshold
    if missed == 0:
        detail = f"latest session s{latest} attended"
    else:
        first = sessions[-missed].number
        kinds = ", ".join(f"s{s.number} {s.attendance.replace('_', '-')}" for s in sessions[-missed:])
        detail = (
            f"{missed} most recent session{'s' if missed != 1 else ''} not attended since s{first} ({kinds})"
            + (f"; disengaging at ≥ {threshold} [our default]" if disengaging else "")
        )
    return AttendanceResult(disengaging, missed, latest, detail)


def attendance_flags(code: str, clinician: str, attendance: AttendanceResult, latest_date) -> list[Flag]:
    """The ``attendance`` flag of a disengaging client (``missed``: the run's length)."""
    if not attendance.disengaging:
        return []
    n = attendance.missed
    hint = TriageHint("disengaging", f"{n} session{'s' if n != 1 else ''} missed", attendance.session, latest_date)
    return [Flag(code, clinician, "attendance", attendance.session, "disengaging", attendance.detail,
                 {"missed": attendance.missed}, hint)]


def run(ctx: RuleContext) -> list[Flag]:
    ctx.attendance = assess_attendance(ctx.view, ctx.settings)
    latest = ctx.view.latest
    return attendance_flags(ctx.code, ctx.clinician, ctx.attendance, latest.date if latest else None)


RULE = Rule("attendance", run)
