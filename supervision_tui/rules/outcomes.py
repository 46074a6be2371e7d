"""Outcome change (clinical-rules.md §5).

Per registered outcome instrument: the client's first vs latest rating by
session number, attended sessions only (§2), therapist rows ignored; at
least two ratings. ``change`` is signed so that positive = better (the
flags JSON's convention, interchange.md §5).

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

Shown (spec v2): every change reads as the raw difference on the
instrument's own scale with a word for its direction — "PHQ-9 10 → 16
(+6, worse)", "ORS 24 → 18 (−6, worse)" (``change_text``) — never as a
signed number whose sign means "better". A per-instrument "recovered" is
reliable improvement across the instrument's cutoff; it is not IAPT
"recovery" (judged per case across PHQ-9 and GAD-7 together) and the text
never calls it that.

Readings: an instrument without any reliable-change value (a newly
registered one) can only be ``no_change`` (nothing is reliable without a
criterion) and says so; without a cutoff, reliable improvement is
``improved`` (recovery cannot be judged).
"""

from __future__ import annotations

from supervision_tui.instruments import EPS, Instrument, fmt
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.context import Rule, RuleContext
from supervision_tui.rules.results import Flag, OutcomeResult, TriageHint, change_text, round_score
from supervision_tui.settings import Settings

#: Words for the statuses (never the JSON identifiers on screen).
STATUS_WORDS = {
    "deteriorated": "reliably deteriorated",
    "recovered": "recovered on this measure",
    "improved": "reliably improved",
    "no_change": "no reliable change",
    "not_on_track": "not on track",  # clinical-rules §10 (rules.expected): a summary value, not a §5 status
}


def assess_outcome(view: ClientView, inst: Instrument, settings: Settings) -> OutcomeResult | None:
    series = view.client_series.get(inst.id)
    if not series or len(series) < 2:
        return None
    first, last = series[0], series[-1]  # Ratings: session, date, total
    change = inst.better_by(first.total, last.total)
    rc = settings.reliable_change_for(inst)
    cutoff = settings.clinical_cutoff_for(inst)
    head = f"{change_text(inst.id, first.total, last.total, change)} from s{first.session} to s{last.session}"
    if rc is None:
        return OutcomeResult(inst.id, first.total, last.total, first.session, last.session, last.date,
                             change, "no_change", f"no reliable change: {head}; no reliable-change value for {inst.id}")
    rc_text = f"reliable change {fmt(rc.points)} points ({rc.source})"
    if change <= -rc.points + EPS:
        status = "deteriorated"
        why = f"worse by at least the {rc_text}"
    elif change >= rc.points - EPS:
        if cutoff is not None and cutoff.flags(first.total) and not cutoff.flags(last.total):
            status = "recovered"
            why = (f"better by at least the {rc_text}, from {cutoff.describe(first.total)} (clinical) "
                   f"to {fmt(last.total)} (non-clinical; {cutoff.source}); "
                   f"per instrument, not IAPT recovery")
        else:
            status = "improved"
            why = f"better by at least the {rc_text}"
            if cutoff is not None:
                state = "clinical" if cutoff.flags(last.total) else "non-clinical"
                why += f"; latest {fmt(last.total)} {state}"
    else:
        status = "no_change"
        why = f"less than the {rc_text}"
    band = inst.severity(last.total)
    if band:
        why += f"; now {band}"
    return OutcomeResult(inst.id, first.total, last.total, first.session, last.session, last.date,
                         change, status, f"{STATUS_WORDS[status]}: {head}; {why}")


def assess_outcomes(view: ClientView, settings: Settings) -> dict[str, OutcomeResult]:
    """Instruments with at least two client ratings, in registry order."""
    out: dict[str, OutcomeResult] = {}
    for inst in view.registry.outcome():
        res = assess_outcome(view, inst, settings)
        if res is not None:
            out[inst.id] = res
    return out


def outcome_flags(code: str, clinician: str, outcomes: dict[str, OutcomeResult]) -> list[Flag]:
    """An ``outcome`` flag per deteriorated instrument (interchange §5:
    ``change`` in points, positive = better, rounded to 2 decimals)."""
    out = []
    for res in outcomes.values():
        if res.status == "deteriorated":
            # the verdict first: the Why column cuts the end ("deteriorated: ORS 23.8 → 16.7 (−7.1, worse)")
            hint = TriageHint("outcome deteriorated", f"deteriorated: {res.change_text}",
                              res.latest_session, res.latest_date)
            out.append(Flag(code, clinician, "outcome", res.latest_session, "deteriorated", res.detail,
                            {"instrument": res.instrument, "change": round_score(res.change)}, hint))
    return out


def run(ctx: RuleContext) -> list[Flag]:
    ctx.outcomes = assess_outcomes(ctx.view, ctx.settings)
    return outcome_flags(ctx.code, ctx.clinician, ctx.outcomes)


RULE = Rule("outcome", run)
