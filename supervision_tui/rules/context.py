"""What a rule sees and returns: the contract between the engine and the
rule modules.

A rule is a ``Rule(name, run, prepare=None)``. The engine
(``rules.engine``) calls every rule of ``engine.RULES`` in order on one
``RuleContext`` per client; ``run(ctx)`` returns the rule's flags and
leaves its result on the context for the analysis and for later rules
(the outcome rule's ``ctx.outcomes`` is there for a rule that runs after
it). ``prepare(records, settings)``, when given, runs once per caseload
before the clients are analysed; its value is ``ctx.shared[rule.name]``
(for a rule that needs the whole caseload, such as an expected-response
model fitted on the clinic's own data).

Adding a flag kind or status is its entry in ``rules.kinds.REGISTRY`` plus
its ``Rule`` in ``engine.RULES``: the engine, triage, agenda and tables read
the registry and the flags' triage hints, not the kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Mapping, Sequence

from supervision_tui.model import ClientRecord
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
    shared: Mapping[str, Any] = field(default_factory=dict)  # rule name -> its ``prepare`` value
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
    name: str
    run: Callable[[RuleContext], list[Flag]]
    prepare: Callable[[Sequence[ClientRecord], Settings], Any] | None = None
