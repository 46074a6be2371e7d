"""The caseload's tier and kind filters, built from the registries
(``rules.kinds``: ``TIERS`` and each flag kind's ``filters``): adding a
flag kind adds its filters to the filter picker, the command palette and
the triage cache without a line here.

Order: "needs review", one filter per tier, then the kinds' filters, the
most urgent kind first (risk, outcome, rupture, goal, attendance). The
keys a client passes are kept in the triage cache (``kind_keys``), so
cached rows can be filtered before the data are loaded. No Textual import.
"""

from __future__ import annotations

from supervision_tui.rules.kinds import REGISTRY, TIERS, KindFilter
from supervision_tui.rules.results import ClientAnalysis


def tier_label(tier: int) -> str:
    """``▲1 risk``: the Tier column's words (symbol, number, name)."""
    return TIERS[tier].label()


def _tier_filter(t: int) -> KindFilter:
    def test(a: ClientAnalysis) -> bool:
        return a.tier == t

    return KindFilter(f"tier{t}", f"{tier_label(t)} · {TIERS[t].description}", test)


def _filters() -> list[KindFilter]:
    flagged = [t for t in sorted(TIERS) if t < max(TIERS)]
    out = [KindFilter("review", f"needs review (tiers {flagged[0]}–{flagged[-1]})", lambda a: a.tier <= flagged[-1])]
    out += [_tier_filter(t) for t in sorted(TIERS)]
    out += [f for kind in REGISTRY.by_urgency() for f in kind.filters]
    return out


KIND_FILTERS: list[KindFilter] = _filters()
KIND_BY_KEY: dict[str, KindFilter] = {f.key: f for f in KIND_FILTERS}


def kind_keys(analysis: ClientAnalysis) -> list[str]:
    """The keys of the filters ``analysis`` passes."""
    return [f.key for f in KIND_FILTERS if f.test(analysis)]
