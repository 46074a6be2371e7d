"""The rule engine: one ``ClientAnalysis`` per client, pure functions over
the model (no I/O, no UI).

``analyse_client(record, settings)`` runs every rule of clinical-rules.md
on one client; ``analyse_caseload(caseload, settings, as_of)`` runs it on
every client and returns them in triage order — active and paused clients
first, then closed and dropped-out ones (each group in triage order; the
caller filters with ``.triaged``).

Flags (interchange.md §5) are built here, once, so the CLI, the reports
and the UI show the same ones. Numbers in flags are rounded: ``change``
to 2 decimals (``SCORE_DECIMALS``; scores are entered to at most 0.1 on
every instrument, so this loses nothing real and strips binary noise such
as ``-7.100000000000001``); the alliance index to 3 (``INDEX_DECIMALS``).
The unrounded values stay on ``ClientAnalysis.outcomes`` / ``.alliance``.

Performance: one pass per client builds ``ClientView`` (rows indexed by
instrument and rater); every rule is O(sessions) per client (running
mean/variance for ``drop``, bisect for baselines, skip-ahead between
rupture episodes). See bench/bench_rules.py.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

from supervision_tui.gc_pause import gc_paused
from supervision_tui.instruments import REGISTRY, Registry
from supervision_tui.model import Caseload, ClientRecord
from supervision_tui.rules.attendance import assess_attendance, assess_risk
from supervision_tui.rules.episodes import find_episodes
from supervision_tui.rules.goals import assess_goals
from supervision_tui.rules.markers import ClientView, find_markers
from supervision_tui.rules.outcomes import assess_outcomes
from supervision_tui.rules.results import FLAG_KINDS, AllianceLatest, ClientAnalysis, Flag
from supervision_tui.rules.triage import triage, triage_key
from supervision_tui.settings import Settings

KIND_ORDER = {k: n for n, k in enumerate(FLAG_KINDS)}

#: Decimals of numbers in machine-readable output (flags/summary JSON).
SCORE_DECIMALS = 2  # raw scores ("latest") and changes
INDEX_DECIMALS = 3  # alliance index 0–1


def round_score(x: float) -> float:
    r = round(float(x), SCORE_DECIMALS)
    return 0.0 if r == 0 else r


def flag_sort_key(f: Flag) -> tuple:
    """interchange.md §5: client id, session (null first), kind in the
    table's order; then instrument so the order is total."""
    return (
        f.client,
        f.session is not None,
        f.session if f.session is not None else 0,
        KIND_ORDER.get(f.kind, len(KIND_ORDER)),
        str(f.extra.get("instrument") or ""),
    )


def _alliance_latest(view: ClientView) -> AllianceLatest | None:
    best = None
    best_key = None
    for n, inst in enumerate(view.registry.alliance()):
        series = view.client_series.get(inst.id)
        if not series:
            continue
        p = series[-1]
        key = (p.session, -n)
        if best_key is None or key > best_key:
            best_key = key
            best = AllianceLatest(inst.id, float(p.total), inst.index(p.total), p.session)
    return best


def analyse_client(
    record: ClientRecord, settings: Settings | None = None, *, registry: Registry | None = None
) -> ClientAnalysis:
    settings = settings if settings is not None else Settings()
    registry = registry if registry is not None else REGISTRY
    view = ClientView(record, registry)
    markers = find_markers(view, settings)
    episodes = find_episodes(view, markers, settings)
    goal = assess_goals(view, settings)
    outcomes = assess_outcomes(view, settings)
    risk = assess_risk(view, settings)
    attendance = assess_attendance(view, settings)
    t = triage(view, risk, outcomes, episodes, goal, attendance, settings)

    code = record.code
    clinician = record.client.clinician
    flags: list[Flag] = []
    for ep in episodes:
        flags.append(
            Flag(code, clinician, "rupture", ep.start, ep.status, ep.detail,
                 {"instrument": ep.instrument, "markers": ep.marker_kinds, "repaired_at": ep.repaired_at})
        )
    if goal.status != "agreed":
        flags.append(Flag(code, clinician, "goal", goal.session, goal.status, goal.detail))
    for res in outcomes.values():
        if res.status == "deteriorated":
            flags.append(
                Flag(code, clinician, "outcome", res.latest_session, "deteriorated", res.detail,
                     {"instrument": res.instrument, "change": round_score(res.change)})
            )
    if attendance.disengaging:
        flags.append(Flag(code, clinician, "attendance", attendance.session, "disengaging", attendance.detail,
                          {"missed": attendance.missed}))
    if risk is not None:
        flags.append(Flag(code, clinician, "risk", risk.session, "risk", risk.detail))
    flags.sort(key=flag_sort_key)

    latest = view.latest
    return ClientAnalysis(
        client=code,
        clinician=clinician,
        status=record.client.status,
        sessions=len(view.sessions),
        latest_session=latest.number if latest else None,
        latest_date=latest.date if latest else None,
        markers=markers,
        episodes=episodes,
        goal=goal,
        outcomes=outcomes,
        risk=risk,
        attendance=attendance,
        alliance=_alliance_latest(view),
        tier=t.tier,
        reason=t.reason,
        why=t.why,
        trigger_session=t.session,
        trigger_date=t.date,
        flags=tuple(flags),
    )


def analyse_records(
    records: Iterable[ClientRecord], settings: Settings | None = None, *, registry: Registry | None = None
) -> list[ClientAnalysis]:
    """Analyse already-grouped records; triage order (see module doc)."""
    settings = settings if settings is not None else Settings()
    # ~10⁵ small acyclic objects per 500 clients: no collector walks over
    # the caseload meanwhile (supervision_tui.gc_pause)
    with gc_paused():
        out = [analyse_client(r, settings, registry=registry) for r in records]
    out.sort(key=triage_key)
    return out


def analyse_caseload(
    caseload: Caseload,
    settings: Settings | None = None,
    as_of: date | None = None,
    *,
    registry: Registry | None = None,
) -> list[ClientAnalysis]:
    """Every client of the caseload, in triage order: triaged (active,
    paused) clients first, then closed and dropped-out ones. ``as_of``
    ignores sessions dated after that day."""
    with gc_paused():
        records = caseload.records(as_of)
        return analyse_records(records, settings, registry=registry)


def all_flags(analyses: Iterable[ClientAnalysis]) -> list[Flag]:
    """Every flag of every client in the §5 order."""
    flags = [f for a in analyses for f in a.flags]
    flags.sort(key=flag_sort_key)
    return flags
