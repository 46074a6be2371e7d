"""What a rule sees and returns: the contract between the engine and the
rule modules.

A per-client rule is a ``Rule(name, run)``. The engine (``rules.engine``)
calls every rule of ``engine.RULES`` in order on one ``RuleContext`` per
client; ``run(ctx)`` returns the rule's flags and leaves its result on the
context for the analysis and for later rules (the outcome rule's
``ctx.outcomes`` is there for a rule that runs after it).

A rule whose verdict on one client depends on every client (an
expected-response model fitted on the clinic's own data) is a
``CaseloadRule`` in ``engine.CASELOAD_RULES``, in three steps so that
only a cheap step ever runs over the whole caseload and a change of one
client re-analyses that client only:

* ``share(view)``: the client's part (its ``ClientView`` only), small and
  made of plain values (tuples, numbers, dates): it is cached with the
  client's analysis (``store/analysis_cache``) and sent between processes;
* ``combine(shares, settings, registry)``: every client's share → the
  caseload's value; it must not depend on the order of the shares (the
  loader's workers deliver them in any order);
* ``judge(analysis, share, value)``: one client's extra flags and result
  fields (``ClientAnalysis`` field → value), from its analysis by the
  per-client rules, its share (None: the client has none) and the
  caseload's value. The engine then re-triages the client.

Adding a flag kind or status is its entry in ``rules.kinds.REGISTRY`` plus
its rule in ``engine.RULES`` or ``engine.CASELOAD_RULES``: the engine,
triage, agenda and tables read the registry and the flags' triage hints,
not the kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Sequence

from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import (
    AttendanceResult,
    Episode,
    Flag,
    GoalResult,
    Marker,
    OutcomeResult,
    RiskResult,
)
from supervision_tui.settings import Settings


@dataclass(slots=True)
class RuleContext:
    view: ClientView
    settings: Settings
    today: date | None = None  # the evaluation day (``--as-of``); None: today's date where a rule needs one
    # results the rules leave (the ClientAnalysis fields)
    markers: tuple[Marker, ...] = ()
    episodes: tuple[Episode, ...] = ()
    goal: GoalResult | None = None
    outcomes: dict[str, OutcomeResult] = field(default_factory=dict)
    risk: RiskResult | None = None  # the latest risk, active or re-screened
    attendance: AttendanceResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # results of rules without a field of their own

    @property
    def code(self) -> str:
        return self.view.code

    @property
    def clinician(self) -> str:
        return self.view.record.client.clinician


@dataclass(frozen=True, slots=True)
class Rule:
    """A per-client rule (see the module's docstring)."""

    name: str
    run: Callable[[RuleContext], list[Flag]]


@dataclass(frozen=True, slots=True)
class CaseloadRule:
    """A rule over the whole caseload, in three steps (see the module's docstring)."""

    name: str
    share: Callable[[ClientView], Any]
    combine: Callable[[Sequence[Any], Settings, Any], Any]
    judge: Callable[[Any, Any, Any], tuple[list[Flag], dict[str, Any]]]
