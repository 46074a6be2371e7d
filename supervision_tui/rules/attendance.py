"""Attendance and risk (clinical-rules.md §6).

* **disengaging** — the trailing run of not-attended sessions
  (``cancelled`` or ``no_show``) is at least ``disengaging_missed`` (2)
  long; ``missed`` is the run's length (reported even below the
  threshold, 0 when the latest session was attended).
* **risk** — any row *with an instrument* in the client's ``window`` (3)
  most recent sessions (highest session numbers, any attendance: risk is
  the one rule that reads rows of sessions not attended) has
  ``risk = yes``; the result names the latest such session and the
  instruments that carried it there. A row registered for an instrument
  the registry does not know still counts: a critical item is never
  ignored.
"""

from __future__ import annotations

from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import AttendanceResult, RiskResult
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


def assess_risk(view: ClientView, settings: Settings) -> RiskResult | None:
    window = settings.risk.window
    recent = view.sessions[-window:] if window > 0 else ()
    for s in reversed(recent):
        hits = sorted(
            {r.instrument for r in s.ratings if r.instrument is not None and r.risk is True},
            key=lambda i: (view.registry.order(i), i),
        )
        if hits:
            raters = sorted({r.rater for r in s.ratings if r.instrument is not None and r.risk is True})
            attendance = "" if s.attendance == "attended" else f", session {s.attendance.replace('_', '-')}"
            return RiskResult(
                session=s.number,
                date=s.date,
                instruments=tuple(hits),
                detail=(
                    f"risk item endorsed on {', '.join(hits)} at s{s.number} ({s.date.isoformat()}"
                    f"{attendance}; rated by {', '.join(raters)}); within the {window} most recent sessions"
                ),
            )
    return None
