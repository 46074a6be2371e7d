"""Patterns per supervisee: aggregates of the engine's per-client results.

Pure functions, no UI import: used by the clinicians screen and by the
agenda's "Patterns per supervisee" section. Nothing here re-derives a
clinical rule: tiers, episodes, outcome statuses and the alliance index
come from ``ClientAnalysis``; the only raw-data question asked is whether
a client has an alliance rating in their most recent sessions (a data
completeness check, not a clinical judgement).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from supervision_tui.model import ClientRecord
from supervision_tui.rules.kinds import TIERS as _TIERS
from supervision_tui.rules.results import ClientAnalysis

TIERS = tuple(sorted(_TIERS))  # the tier numbers of the registry (rules.kinds)
RECENT_SESSIONS = 3  # "missing recent measures": no alliance rating in the last N sessions


def alliance_instruments() -> frozenset[str]:
    """The alliance instruments of the instrument registry."""
    from supervision_tui.instruments import REGISTRY

    return frozenset(i.id for i in REGISTRY.alliance())


@dataclass(frozen=True, slots=True)
class ClinicianPattern:
    clinician: str
    role: str | None
    clients: int
    tiers: dict[int, int]
    ruptures_open: int  # episodes still open
    ruptures_unrepaired: int
    ruptures_repaired: int
    mean_alliance_index: float | None  # mean of each client's latest 0–1 index
    mean_srs: float | None  # mean latest SRS, over clients whose latest alliance rating is SRS
    srs_clients: int
    alliance_clients: int
    outcome_clients: int  # clients with at least one outcome result
    deteriorated: int  # clients with any outcome deteriorated
    recovered: int  # clients with any outcome recovered
    missing_recent: tuple[str, ...] = field(default=())  # client codes

    @property
    def repair_rate(self) -> float | None:
        """repaired / (repaired + unrepaired); None when neither happened."""
        n = self.ruptures_repaired + self.ruptures_unrepaired
        return self.ruptures_repaired / n if n else None

    @property
    def pct_deteriorated(self) -> float | None:
        return self.deteriorated / self.outcome_clients if self.outcome_clients else None

    @property
    def pct_recovered(self) -> float | None:
        return self.recovered / self.outcome_clients if self.outcome_clients else None

    @property
    def needs_attention(self) -> int:
        """Clients in tiers 1–3 (risk, deteriorated, rupture)."""
        return sum(self.tiers.get(t, 0) for t in (1, 2, 3))


def missing_recent_measures(
    record: ClientRecord, recent: int = RECENT_SESSIONS, alliance: Iterable[str] | None = None
) -> bool:
    """True when none of the client's ``recent`` most recent sessions (any
    attendance) has a client rating of an alliance instrument. A client
    without sessions is missing measures too."""
    names = frozenset(alliance) if alliance is not None else alliance_instruments()
    last = record.sessions[-recent:] if recent > 0 else ()
    if not last:
        return True
    return not any(
        r.instrument in names and r.rater == "client" and r.total is not None
        for s in last
        for r in s.ratings
    )


def clinician_patterns(
    analyses: Iterable[ClientAnalysis],
    records: Mapping[str, ClientRecord] | Iterable[ClientRecord] | None = None,
    clinicians: Mapping[str, object] | Iterable[str] | None = None,
    *,
    include_ended: bool = False,
    recent: int = RECENT_SESSIONS,
    missing_recent: Mapping[str, bool] | None = None,
) -> list[ClinicianPattern]:
    """One :class:`ClinicianPattern` per clinician, sorted by id.

    ``analyses``: the engine's results. ``records``: the caseload's client
    records (for the missing-measures check; skipped when None).
    ``clinicians``: the caseload's clinicians (mapping id → Clinician with
    a ``role``, or ids) so supervisees without clients are listed too.
    Closed and dropped-out clients count only with ``include_ended``.
    ``missing_recent``: ``missing_recent_measures`` of each client, already
    computed (the app's loader does, with the default ``recent``; the app
    keeps no rating objects), used instead of ``records``.
    """
    if records is None or missing_recent is not None:
        rec_map: dict[str, ClientRecord] = {}
    elif isinstance(records, Mapping):
        rec_map = dict(records)
    else:
        rec_map = {r.code: r for r in records}
    roles: dict[str, str | None] = {}
    if clinicians is not None:
        if isinstance(clinicians, Mapping):
            for cid, c in clinicians.items():
                roles[cid] = getattr(c, "role", None)
        else:
            for cid in clinicians:
                roles[cid] = None
    alliance = alliance_instruments()

    groups: dict[str, list[ClientAnalysis]] = {cid: [] for cid in roles}
    for a in analyses:
        if not include_ended and not a.triaged:
            continue
        groups.setdefault(a.clinician, []).append(a)

    out: list[ClinicianPattern] = []
    for cid in sorted(groups):
        items = groups[cid]
        tiers = {t: 0 for t in TIERS}
        n_open = n_unrep = n_rep = 0
        idx: list[float] = []
        srs: list[float] = []
        n_outcome = n_det = n_rec = 0
        missing: list[str] = []
        for a in items:
            tiers[a.tier] = tiers.get(a.tier, 0) + 1
            for e in a.episodes:
                if e.status == "open":
                    n_open += 1
                elif e.status == "unrepaired":
                    n_unrep += 1
                elif e.status == "repaired":
                    n_rep += 1
            if a.alliance is not None:
                idx.append(a.alliance.index)
                if a.alliance.instrument == "SRS":
                    srs.append(a.alliance.latest)
            if a.outcomes:
                n_outcome += 1
                statuses = {o.status for o in a.outcomes.values()}
                n_det += "deteriorated" in statuses
                n_rec += "recovered" in statuses
            if missing_recent is not None:
                if missing_recent.get(a.client):
                    missing.append(a.client)
                continue
            rec = rec_map.get(a.client)
            if rec is not None and missing_recent_measures(rec, recent, alliance):
                missing.append(a.client)
        out.append(
            ClinicianPattern(
                clinician=cid,
                role=roles.get(cid),
                clients=len(items),
                tiers=tiers,
                ruptures_open=n_open,
                ruptures_unrepaired=n_unrep,
                ruptures_repaired=n_rep,
                mean_alliance_index=sum(idx) / len(idx) if idx else None,
                mean_srs=sum(srs) / len(srs) if srs else None,
                srs_clients=len(srs),
                alliance_clients=len(idx),
                outcome_clients=n_outcome,
                deteriorated=n_det,
                recovered=n_rec,
                missing_recent=tuple(sorted(missing)),
            )
        )
    return out


def total_pattern(patterns: Iterable[ClinicianPattern]) -> ClinicianPattern:
    """All supervisees together (the clinicians screen's "All" row).
    Means are weighted by the clients they were taken over."""
    ps = list(patterns)
    tiers = {t: sum(p.tiers.get(t, 0) for p in ps) for t in TIERS}
    n_idx = sum(p.alliance_clients for p in ps)
    n_srs = sum(p.srs_clients for p in ps)
    mean_idx = (
        sum((p.mean_alliance_index or 0.0) * p.alliance_clients for p in ps) / n_idx if n_idx else None
    )
    mean_srs = sum((p.mean_srs or 0.0) * p.srs_clients for p in ps) / n_srs if n_srs else None
    return ClinicianPattern(
        clinician="All",
        role=None,
        clients=sum(p.clients for p in ps),
        tiers=tiers,
        ruptures_open=sum(p.ruptures_open for p in ps),
        ruptures_unrepaired=sum(p.ruptures_unrepaired for p in ps),
        ruptures_repaired=sum(p.ruptures_repaired for p in ps),
        mean_alliance_index=mean_idx,
        mean_srs=mean_srs,
        srs_clients=n_srs,
        alliance_clients=n_idx,
        outcome_clients=sum(p.outcome_clients for p in ps),
        deteriorated=sum(p.deteriorated for p in ps),
        recovered=sum(p.recovered for p in ps),
        missing_recent=tuple(sorted(c for p in ps for c in p.missing_recent)),
    )
