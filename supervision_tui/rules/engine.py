"""The rule engine: one ``ClientAnalysis`` per client, pure functions over
the model (no I/O, no UI).

``analyse_client(record, settings)`` runs every rule of clinical-rules.md
on one client; ``analyse_caseload(caseload, settings, as_of)`` runs it on
every client and returns them in triage order — triaged clients first
(active, paused, and any client with an active risk), then the other
closed and dropped-out ones (each group in triage order; the caller
filters with ``.triaged``).

The engine is a loop over ``RULES`` (``rules.context.Rule``): each rule
module computes its result, leaves it on the ``RuleContext`` and returns
its own flags (interchange.md §5), each with the triage hint of its
status; triage picks the most urgent (``rules.triage``). No kind is named
here: adding a kind or status is its ``rules.kinds`` entry plus its rule
in ``RULES`` (or ``CASELOAD_RULES``). Flags are built once, so the CLI, the reports and the UI
show the same ones. Numbers in flags are rounded: ``change`` to 2
decimals (``SCORE_DECIMALS``; scores are entered to at most 0.1 on every
instrument, so this loses nothing real and strips binary noise such as
``-7.100000000000001``); the alliance index to 3 (``INDEX_DECIMALS``). The
unrounded values stay on ``ClientAnalysis.outcomes`` / ``.alliance``.

"What we knew then" (``as_of``): sessions dated after the day are
ignored, clients with no session by then (and no ``started`` date on or
before it) are left out, and the day is the evaluation day of rules that
count days (``[risk] expire_days``).

Two steps per client, so that a change of one client re-analyses that
client only: ``analyse_part`` (every per-client rule, and the client's
*shares* of the caseload-wide rules, ``rules.context.CaseloadRule``:
both depend on the client's data only, and the loader caches them by its
content) and ``finish_client`` (the caseload-wide rules' verdicts from the
caseload's combined value, ``combine_shares``: a few arithmetic
operations per client). ``analyse_client``, ``analyse_records`` and the
loader all take these two steps, so every path gives the same analyses.

Performance: one pass per client builds ``ClientView`` (rows indexed by
instrument and rater); every rule is O(sessions) per client (running
mean/variance for ``drop``, bisect for baselines, skip-ahead between
rupture episodes). See bench/bench_rules.py.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import date
from operator import attrgetter
from typing import Any, Iterable

from supervision_tui.errors import UserError
from supervision_tui.gc_pause import gc_paused
from supervision_tui.instruments import REGISTRY, Registry
from supervision_tui.model import Caseload, ClientRecord, trusted_constructor
from supervision_tui.rules import attendance, episodes, expected, goals, outcomes, risk
from supervision_tui.rules.context import CaseloadRule, Rule, RuleContext
from supervision_tui.rules.kinds import REGISTRY as KINDS
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import (  # noqa: F401  (re-exported: reports and tests import them here)
    INDEX_DECIMALS,
    SCORE_DECIMALS,
    AllianceLatest,
    ClientAnalysis,
    Flag,
    round_score,
)
from supervision_tui.rules.triage import triage_key, triage_of
from supervision_tui.settings import Settings

#: Every per-client rule, in the order they run (a rule may read the results of the ones before it).
RULES: list[Rule] = [episodes.RULE, goals.RULE, outcomes.RULE, attendance.RULE, risk.RULE]
#: Every rule over the whole caseload (``rules.context.CaseloadRule``), judged after the per-client
#: rules, in this order.
CASELOAD_RULES: list[CaseloadRule] = [expected.RULE]


def flag_sort_key(f: Flag) -> tuple:
    """interchange.md §5: client id, session (null first), kind in the
    table's order; then instrument so the order is total."""
    return (
        f.client,
        f.session is not None,
        f.session if f.session is not None else 0,
        KINDS.order(f.kind),
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


def _triaged(flags: list[Flag], latest_session: int | None, latest_date: date | None, registry: Registry,
             rescreened: Any) -> dict[str, Any]:
    """The ``ClientAnalysis`` fields of the client's triage (``rules.triage``)."""
    t = triage_of(flags, latest_session, latest_date, registry)
    why = t.why
    if t.tier == 7 and rescreened is not None:
        # a re-screened risk is no triage reason, but a supervisor scanning "no flag" rows must
        # see it: "no flag; risk at s2 re-screened negative at s3"
        why = f"{t.why}; {rescreened.why}"
    return {"tier": t.tier, "reason": t.reason, "why": why, "trigger_session": t.session, "trigger_date": t.date,
            "first_in_tier": t.first}


def prepare_shared(records: Iterable[ClientRecord], settings: Settings | None = None, *,
                   registry: Registry | None = None) -> dict[str, object]:
    """The caseload's values of the caseload-wide rules (``CASELOAD_RULES``),
    from its records (e.g. the whole clinic's, when one clinician's clients
    are analysed)."""
    registry = registry if registry is not None else REGISTRY
    settings = settings if settings is not None else Settings()
    shares = [{r.name: r.share(view) for r in CASELOAD_RULES}
              for view in (ClientView(rec, registry) for rec in records)]
    return combine_shares(shares, settings, registry=registry)


def combine_shares(shares: Iterable[dict[str, Any] | None], settings: Settings | None = None, *,
                   registry: Registry | None = None) -> dict[str, object]:
    """The caseload's values of the caseload-wide rules from every client's
    shares (``analyse_part``'s second value, made with the same
    ``registry``), in any order."""
    settings = settings if settings is not None else Settings()
    registry = registry if registry is not None else REGISTRY
    shares = [s for s in shares if s]
    return {r.name: r.combine([v for v in (s.get(r.name) for s in shares) if v is not None], settings, registry)
            for r in CASELOAD_RULES}


def analyse_part(
    record: ClientRecord,
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    today: date | None = None,
) -> tuple[ClientAnalysis, dict[str, Any] | None]:
    """Every per-client rule on one client, and the client's shares of the
    caseload-wide rules (rule name → share; None: it has none). Both
    depend on the client's own data only: the loader caches them by the
    client's content. ``finish_client`` completes the analysis."""
    settings = settings if settings is not None else Settings()
    registry = registry if registry is not None else REGISTRY
    view = ClientView(record, registry)
    ctx = RuleContext(view, settings, today)
    flags: list[Flag] = []
    for rule in RULES:
        flags.extend(rule.run(ctx))
    flags.sort(key=flag_sort_key)
    r = ctx.risk
    rescreened = r if r is not None and not r.active else None
    latest = view.latest
    analysis = ClientAnalysis(
        client=record.code,
        clinician=record.client.clinician,
        status=record.client.status,
        sessions=len(view.sessions),
        latest_session=latest.number if latest else None,
        latest_date=latest.date if latest else None,
        last_attended_date=next((s.date for s in reversed(view.sessions) if s.attended), None),
        markers=ctx.markers,
        episodes=ctx.episodes,
        goal=ctx.goal,
        outcomes=ctx.outcomes,
        risk=r if r is not None and r.active else None,
        attendance=ctx.attendance,
        alliance=_alliance_latest(view),
        flags=tuple(flags),
        rescreened=rescreened,
        **_triaged(flags, latest.number if latest else None, latest.date if latest else None, registry, rescreened),
    )
    shares = {}
    for c in CASELOAD_RULES:
        value = c.share(view)
        if value is not None:
            shares[c.name] = value
    return analysis, shares or None


def finish_client(
    analysis: ClientAnalysis,
    shares: dict[str, Any] | None,
    shared: dict[str, object] | None,
    *,
    registry: Registry | None = None,
) -> ClientAnalysis:
    """The analysis of ``analyse_part`` judged by the caseload-wide rules
    (``shared``: ``combine_shares`` of the caseload; None or empty: no
    caseload, the analysis as it is): their flags added and the client
    triaged again when they add one. ``analysis`` itself when nothing
    changes; the flags tuple is the same object when no flag was added."""
    if not shared:
        return analysis
    shares = shares or {}
    added: list[Flag] = []
    fields: dict[str, Any] = {}
    for rule in CASELOAD_RULES:
        value = shared.get(rule.name)
        if value is None:
            continue
        flags, more = rule.judge(analysis, shares.get(rule.name), value)
        added.extend(flags)
        fields.update(more)
    if not added:
        return _replaced(analysis, fields) if fields else analysis
    flags = sorted((*analysis.flags, *added), key=flag_sort_key)  # (stable: a rule's own flags first on a tie)
    return _replaced(analysis, {"flags": tuple(flags), **fields,
                                **_triaged(flags, analysis.latest_session, analysis.latest_date,
                                           registry if registry is not None else REGISTRY, analysis.rescreened)})


_ANALYSIS_FIELDS = tuple(f.name for f in dataclass_fields(ClientAnalysis))
_analysis_values = attrgetter(*_ANALYSIS_FIELDS)
_ANALYSIS_INDEX = {name: i for i, name in enumerate(_ANALYSIS_FIELDS)}
_new_analysis = trusted_constructor(ClientAnalysis)


def _replaced(analysis: ClientAnalysis, changes: dict[str, Any]) -> ClientAnalysis:
    """``dataclasses.replace(analysis, **changes)`` in a third of the time (every
    client of a load goes through ``finish_client``: the load's serial tail)."""
    values = list(_analysis_values(analysis))
    for name, value in changes.items():
        i = _ANALYSIS_INDEX.get(name)
        if i is None:
            raise TypeError(f"ClientAnalysis has no field {name!r}")
        values[i] = value
    return _new_analysis(*values)


def analyse_client(
    record: ClientRecord,
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    today: date | None = None,
    shared: dict[str, object] | None = None,
) -> ClientAnalysis:
    """Every rule on one client. ``today``: the evaluation day (the
    ``--as-of`` day; None: the real today, where a rule counts days);
    ``shared``: ``prepare_shared`` of the caseload (None: no caseload-level
    data, e.g. a client analysed on its own)."""
    analysis, shares = analyse_part(record, settings, registry=registry, today=today)
    return finish_client(analysis, shares, shared, registry=registry)


def analyse_records(
    records: Iterable[ClientRecord],
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    today: date | None = None,
    shared: dict[str, object] | None = None,
) -> list[ClientAnalysis]:
    """Analyse already-grouped records; triage order (see module doc).

    ``shared``: ``prepare_shared`` computed by the caller (to keep it, e.g.
    the clinic's expected-response reference for ``flags --with-reference``,
    or to fit it on more clients than are analysed: the whole clinic when
    the app shows one clinician); None: prepared here from ``records``; an
    empty dict: prepared here and left in it for the caller."""
    settings = settings if settings is not None else Settings()
    records = list(records)
    # ~10⁵ small acyclic objects per 500 clients: no collector walks over
    # the caseload meanwhile (supervision_tui.gc_pause)
    with gc_paused():
        parts = [analyse_part(r, settings, registry=registry, today=today) for r in records]
        if not shared:  # (None, or an empty dict to receive it)
            computed = combine_shares((s for _a, s in parts), settings, registry=registry)
            if shared is None:
                shared = computed
            else:
                shared.update(computed)
        out = [finish_client(a, s, shared, registry=registry) for a, s in parts]
    out.sort(key=triage_key)
    return out


def known_records(caseload: Caseload, as_of: date | None = None) -> list[ClientRecord]:
    """The caseload's records as of ``as_of``: sessions dated after it
    dropped, and clients not known yet left out (no session by then, and
    no ``started`` date on or before it). Without ``as_of``: every client."""
    records = caseload.records(as_of)
    if as_of is None:
        return records
    return [r for r in records
            if r.sessions or (r.client.started is not None and r.client.started <= as_of)]


def analyse_caseload(
    caseload: Caseload,
    settings: Settings | None = None,
    as_of: date | None = None,
    *,
    registry: Registry | None = None,
    shared: dict[str, object] | None = None,
) -> list[ClientAnalysis]:
    """Every client of the caseload, in triage order: triaged clients (active,
    paused, and any client with an active risk) first, then the other
    closed and dropped-out ones. ``as_of`` is "what we knew then": later
    sessions ignored, clients not known by then left out (``known_records``).
    ``shared``: an empty dict to receive ``prepare_shared`` (the caller keeps
    it, e.g. for the clinic reference of ``rules.expected``), or one already
    prepared for these records."""
    with gc_paused():
        records = known_records(caseload, as_of)
        return analyse_records(records, settings, registry=registry, today=as_of, shared=shared)


def all_flags(analyses: Iterable[ClientAnalysis]) -> list[Flag]:
    """Every flag of every client in the §5 order."""
    flags = [f for a in analyses for f in a.flags]
    flags.sort(key=flag_sort_key)
    return flags


class AsOfError(UserError):
    """``--as-of`` names a day nothing can be said about (wrong usage: exit 2)."""

    exit_code = 2


def check_as_of(caseload: Caseload, as_of: date | None, today: date | None = None) -> None:
    """"What we knew then" needs a day we knew something on: a day in the
    future, or before the caseload's first session, is an error (never a
    screen of clients with "goal not set, 0 sessions")."""
    if as_of is None:
        return
    today = today or date.today()
    if as_of > today:
        raise AsOfError(f"--as-of {as_of.isoformat()} is in the future (today is {today.isoformat()}); "
                        "leave --as-of out to see everything known now")
    first = min((r.date for r in caseload.ratings), default=None)
    if first is not None and as_of < first:
        raise AsOfError(f"--as-of {as_of.isoformat()} is before any data: the first session in this caseload "
                        f"is dated {first.isoformat()}, so nothing was known then")


class UnknownClinician(UserError):
    """``--clinician`` names nobody in the caseload."""


KNOWN_SHOWN = 20  # clinician ids listed in the message


def check_clinician(caseload: Caseload, clinician: str | None, source: object) -> None:
    """``--clinician`` must name a clinician of the caseload (a registered
    one, or one with clients or sessions): an unknown id, or one in the
    wrong case, is an error listing the known ids, never an empty result.
    The CLI and the dashboard both call this (the same message)."""
    if clinician is None:
        return
    known = ({c for c in caseload.clinicians} | {c.clinician for c in caseload.clients.values()}
             | {r.clinician for r in caseload.ratings})
    known.discard("")
    if clinician in known:
        return
    ids = sorted(known)
    listing = ", ".join(ids[:KNOWN_SHOWN]) + (", …" if len(ids) > KNOWN_SHOWN else "")
    same = [k for k in ids if k.lower() == clinician.lower()]
    hint = f"; did you mean {same[0]}? ids are case-sensitive" if same else ""
    raise UnknownClinician(f"no clinician {clinician} in {source} (known: {listing or 'none'}{hint})")
