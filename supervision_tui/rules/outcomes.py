"""Outcome change (clinical-rules.md §5).

Per registered outcome instrument: the client's first vs latest rating by
session number, attended sessions only (§2), therapist rows ignored; at
least two ratings. ``change`` is signed so that positive = better.

* deteriorated — ``change ≤ −RC``;
* recovered — ``change ≥ RC``, first score clinical and latest not;
* improved — ``change ≥ RC`` otherwise;
* no_change — anything else.

``RC`` is the published reliable-change points of the registry (ORS 5,
PHQ-9 6, GAD-7 4), a clinic's ``[outcomes] reliable_change``, or the
Jacobson & Truax value from a clinic's SD and reliability. "Clinical"
uses the instrument's cutoff direction (ORS < 25, PHQ-9 ≥ 10, GAD-7 ≥ 8)
or a clinic's cutoff. Boundaries are inclusive with a 1e-9 float
tolerance: a change of exactly RC is reliable.

Readings: an instrument without any reliable-change value (a newly
registered one) can only be ``no_change`` (nothing is reliable without a
criterion) and says so; without a cutoff, reliable improvement is
``improved`` (recovery cannot be judged).
"""

from __future__ import annotations

from supervision_tui.instruments import EPS, Instrument, fmt, fmt_signed
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import OutcomeResult
from supervision_tui.settings import Settings


def assess_outcome(view: ClientView, inst: Instrument, settings: Settings) -> OutcomeResult | None:
    series = view.client_series.get(inst.id)
    if not series or len(series) < 2:
        return None
    first, last = series[0], series[-1]  # Ratings: session, date, total
    change = inst.better_by(first.total, last.total)
    rc = settings.reliable_change_for(inst)
    cutoff = settings.clinical_cutoff_for(inst)
    direction = "better" if change > EPS else "worse" if change < -EPS else "same"
    head = (f"{inst.id} {fmt(first.total)} at s{first.session} → {fmt(last.total)} at s{last.session} "
            f"({fmt_signed(change)}, {direction})")
    if rc is None:
        return OutcomeResult(inst.id, first.total, last.total, first.session, last.session, last.date,
                             change, "no_change", f"{head}; no reliable-change value for {inst.id}")
    rc_text = f"reliable change {fmt(rc.points)} ({rc.source})"
    if change <= -rc.points + EPS:
        status = "deteriorated"
        why = f"worse by ≥ {rc_text}"
    elif change >= rc.points - EPS:
        if cutoff is not None and cutoff.flags(first.total) and not cutoff.flags(last.total):
            status = "recovered"
            why = (f"better by ≥ {rc_text}; first {cutoff.describe(first.total)} (clinical), "
                   f"latest {fmt(last.total)} non-clinical ({cutoff.source})")
        else:
            status = "improved"
            why = f"better by ≥ {rc_text}"
            if cutoff is not None:
                state = "clinical" if cutoff.flags(last.total) else "non-clinical"
                why += f"; latest {fmt(last.total)} {state}"
    else:
        status = "no_change"
        why = f"less than {rc_text}"
    band = inst.severity(last.total)
    if band:
        why += f"; now {band}"
    return OutcomeResult(inst.id, first.total, last.total, first.session, last.session, last.date,
                         change, status, f"{status.replace('_', ' ')}: {head}; {why}")


def assess_outcomes(view: ClientView, settings: Settings) -> dict[str, OutcomeResult]:
    """Instruments with at least two client ratings, in registry order."""
    out: dict[str, OutcomeResult] = {}
    for inst in view.registry.outcome():
        res = assess_outcome(view, inst, settings)
        if res is not None:
            out[inst.id] = res
    return out
