"""Triage order (clinical-rules.md §7), from the flags' own triage hints.

Each client gets the most urgent tier that applies; the tier of a flag is
its status's tier in the flag-kind registry (``rules.kinds``):

====  ============================  ===================================
tier  reason                        triggering session
====  ============================  ===================================
1     risk (active)                 the latest risk session
2     outcome deteriorated          the latest rating of a deteriorated
                                    instrument
3     rupture unrepaired / open     the last marker session of the most
                                    recent open or unrepaired episode
4     goal disagreed                the goal evidence session
5     disengaging                   the client's latest session
6     goal stale/not set/partial    the goal evidence session (not set:
                                    the client's latest session)
7     no flag                       the client's latest session
====  ============================  ===================================

Every rule puts its triage reason, one-line why and triggering session on
the flags it returns (``Flag.hint``); this module only picks the most
urgent. A new status of a registered kind (``not_on_track``) triages with
no change here: its registry entry gives the tier, its rule the hint.

Within a tier: the flags marked ``first`` (tier 1: clients not seen since
their risk session), then the most recent triggering session *date*
first, then client id. A triggering session without a known date (a goal
record for a session that has no row) sorts after dated ones in its tier.

Readings: with several flags of the top tier the one whose triggering
session is the latest triggers (on a tie: the kind first in §5 order,
then the instrument first in the registry), and ``why`` says how many more there are
("; 1 more"). Tier 7 reads "no flag": an unflagged client is not a cleared
one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

from supervision_tui.instruments import Registry
from supervision_tui.rules.kinds import REGISTRY as KINDS
from supervision_tui.rules.kinds import TIERS
from supervision_tui.rules.results import ClientAnalysis, Flag

NO_FLAG = TIERS[7].name  # "no flag"


@dataclass(frozen=True, slots=True)
class Triage:
    tier: int
    reason: str
    why: str
    session: int | None
    date: date | None
    first: bool = False  # first in its tier


def lead_rank(f: Flag, registry: Registry) -> tuple:
    """Where a flag ranks among a client's flags of one tier, the one that
    leads first (ascending): a weaker reason of the tier never leads over a
    stronger one (deterioration wins over not on track, clinical-rules
    §10); then the latest triggering session; on a tie the kind first in §5
    order, then the instrument first in the registry (ORS before PHQ-9).
    ``triage_of`` names the first in the caseload's "Why"; the agenda leads
    a client's item with the same flag (``reports.agenda``)."""
    h = f.hint
    session = h.session if h is not None and h.session is not None else -1
    return (1 if KINDS.status_of(f).weaker else 0, -session, KINDS.order(f.kind),
            registry.order(f.extra.get("instrument")))


def triage_of(flags: Sequence[Flag], latest_session: int | None, latest_date: date | None,
              registry: Registry) -> Triage:
    """The client's tier from what it reads of the client: its flags (§5
    order), its latest session and the registry's instrument order (the
    engine triages a client after its per-client rules, and again from its
    analysis when a caseload-wide rule adds a flag: ``rules.engine``)."""
    best: list[tuple[int, Flag]] = []
    top = None
    for f in flags:
        if f.hint is None:
            continue
        tier = KINDS[f.kind].status(f.status).tier
        if tier is None:
            continue
        if top is None or tier < top:
            top, best = tier, [(tier, f)]
        elif tier == top:
            best.append((tier, f))
    if top is None:
        return Triage(7, NO_FLAG, NO_FLAG, latest_session, latest_date)
    pick = min((f for _t, f in best), key=lambda f: lead_rank(f, registry))
    h = pick.hint
    why = h.why
    if len(best) > 1:
        why += f"; {len(best) - 1} more"  # (not "+2 more": after "(+6, worse)" it read as a score)
    return Triage(top, h.reason, why, h.session, h.date, any(f.hint.first for _t, f in best))


def triage_key(a: ClientAnalysis) -> tuple:
    """Sort key: triaged clients first (active, paused, and any client with
    an active risk), then tier, ``first`` ones first within their tier, most
    recent trigger date first (undated last), then client id."""
    d = a.trigger_date
    return (0 if a.triaged else 1, a.tier, 0 if a.first_in_tier else 1, 0 if d is not None else 1,
            -(d.toordinal()) if d else 0, a.client)
