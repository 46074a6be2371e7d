"""Goal agreement (clinical-rules.md §4).

Evidence, per session:

* every registered instrument with a goal component (WAI-SR Goal 4–20,
  SRS goals & topics item 0–10), *client* rating of an attended session:
  score ≥ ``agreed`` → agreed, ≥ ``partial`` → partial, else disagreed;
* client vs therapist on that component, same attended session, the
  client's score at least ``rater_gap`` *below* the therapist's → disagreed
  (spec v2: therapists usually rate the alliance lower than their clients,
  so a therapist below the client is the normal pattern, not a
  disagreement; no evidence otherwise: a therapist's rating on its own is
  never evidence);
* each goal record's ``agreement``, at its ``set_session`` and again at
  its ``reviewed_session``.

Status = the verdict of the latest session with any evidence, the worst
verdict winning within that session; then ``stale`` / ``not_set`` as in
the spec.

Readings of the spec:

* Thresholds are lower bounds on a continuous score. WAI-SR Goal values
  are integers in practice, so "13–15" and "≤ 12" are "≥ 13 and < 16" and
  "< 13": 15.5 is partial, 12.5 disagreed.
* Rating evidence only from attended sessions (§2's global rule); goal
  records count whatever the attendance of their session (they are the
  clinician's record, not a rating row) — and also when the set/review
  session has no row at all.
* Goal records count whatever their status (active, achieved, dropped):
  the agreement was recorded at that session; a later goal or rating is
  later evidence anyway.
* Goal records *are* evidence, so "no evidence but goal records exist"
  cannot happen: ``not_set`` means no evidence of any kind.
* Staleness compares with the client's latest session (any attendance):
  more than ``stale_sessions`` session numbers before it, or more than
  ``stale_days`` days before its date. When the evidence session has no
  row (a goal record for a session not in the measures), its date is
  unknown and only the session count applies.
* ``sessions_ago`` / ``days_ago`` are reported for every status that has
  evidence (never negative).
* "Goals achieved, no active goal" (spec v2): where the status is
  ``stale``, the client has goal records and every one of them is
  ``achieved``, the explanation reads "goals achieved at sN; no active
  goal: set new goals or plan the ending" (sN = the latest session a
  record was set or reviewed at) instead of "goal stale"; the JSON status
  stays ``stale``. A ``dropped`` record is not achieved, so a client with
  one keeps the "goal stale" wording.
* ``GoalResult.evidence`` holds all evidence in session order; within a
  session: rating sources in registry order (SRS item, WAI-SR Goal, then
  the client-vs-therapist comparison), goal records last.
"""

from __future__ import annotations

from operator import attrgetter

from supervision_tui.instruments import EPS, fmt
from supervision_tui.model import trusted_constructor
from supervision_tui.rules.context import Rule, RuleContext
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import Flag, GoalEvidence, GoalResult, TriageHint
from supervision_tui.settings import Settings

RANK = {"agreed": 0, "partial": 1, "disagreed": 2}
_new_evidence = trusted_constructor(GoalEvidence)  # one per rated session: the hot spot
_BY_SESSION = attrgetter("session")
# (instrument, component, thresholds, label) -> {value: (source, verdict, detail, short)}:
# the strings of a score recur across sessions and clients.
_EVIDENCE_TEXT: dict[tuple, dict[float, tuple[str, str, str, str]]] = {}


def goal_evidence(view: ClientView, settings: Settings) -> list[GoalEvidence]:
    out: list[GoalEvidence] = []
    for inst in view.registry:
        comp = inst.goal_component
        if comp is None:
            continue
        client = view.client_at.get(inst.id, {})
        thresholds = settings.goal_thresholds_for(inst)
        if thresholds is not None:
            agreed, partial, label = thresholds
            name = comp.name
            ckey = (inst.id, name, agreed, partial, label)
            cache = _EVIDENCE_TEXT.get(ckey)
            if cache is None or len(cache) > 4096:
                cache = _EVIDENCE_TEXT[ckey] = {}
            for number, r in client.items():  # ascending session (built in order)
                v = getattr(r, name, None)
                if v is None:
                    continue
                hit = cache.get(v)
                if hit is None:
                    if v >= agreed - EPS:
                        verdict, rule = "agreed", f"≥ {fmt(agreed)}"
                    elif v >= partial - EPS:
                        verdict, rule = "partial", f"≥ {fmt(partial)} and < {fmt(agreed)}"
                    else:
                        verdict, rule = "disagreed", f"< {fmt(partial)}"
                    hit = cache[v] = (
                        f"{inst.id} {comp.label}",
                        verdict,
                        f"{inst.id} {comp.label} {fmt(v)} {rule} → {verdict} {label}",
                        f"{inst.label} {comp.label} {fmt(v)}",
                    )
                out.append(_new_evidence(hit[0], number, hit[1], hit[2], hit[3]))
        gap = settings.rater_gap_for(inst)
        if gap is not None:
            gap_value, label = gap
            for number, t in sorted(view.therapist_at.get(inst.id, {}).items()):
                c = client.get(number)
                cv = getattr(c, comp.name, None) if c is not None else None
                tv = getattr(t, comp.name, None)
                if cv is None or tv is None:
                    continue
                below = tv - cv  # only a client below the therapist is a disagreement (spec v2)
                if below >= gap_value - EPS:
                    out.append(
                        GoalEvidence(
                            source=f"client vs therapist {inst.id} {comp.label}",
                            session=number,
                            verdict="disagreed",
                            detail=(
                                f"client {inst.id} {comp.label} {fmt(cv)} is {fmt(below)} below the therapist's "
                                f"{fmt(tv)} (≥ {fmt(gap_value)} {label}) → disagreed"
                            ),
                            short=f"{inst.label} {comp.label} {fmt(cv)} vs {fmt(tv)}",
                        )
                    )
    for g in view.record.goals:
        sessions = [(g.set_session, "set")]
        if g.reviewed_session is not None and g.reviewed_session != g.set_session:
            sessions.append((g.reviewed_session, "reviewed"))
        for number, how in sessions:
            out.append(
                GoalEvidence(
                    source=f"goal {g.goal_id}",
                    session=number,
                    verdict=g.agreement,
                    detail=f"goal {g.goal_id} {how} at s{number}: {g.agreement} ({g.status})",
                    short=f"{g.goal_id} record",
                )
            )
    # stable sort by session: each source is already in session order; within a
    # session the order is registry order, then client-vs-therapist, then records
    out.sort(key=_BY_SESSION)
    return out


def assess_goals(view: ClientView, settings: Settings) -> GoalResult:
    evidence = goal_evidence(view, settings)
    if not evidence:
        return GoalResult("not_set", None, None, (), None, None, "goal not set: no goal record and no goal rating")
    session = evidence[-1].session
    here = _latest(evidence, session)
    worst = max(here, key=lambda e: RANK.get(e.verdict, 0))
    verdict = worst.verdict
    latest = view.latest
    sessions_ago = days_ago = None
    if latest is not None:
        sessions_ago = max(0, latest.number - session)
        ev_session = view.by_number.get(session)
        if ev_session is not None:
            days_ago = max(0, (latest.date - ev_session.date).days)
    gs = settings.goals
    why = "; ".join(e.detail for e in here)
    age = _age(sessions_ago, days_ago)
    stale = verdict in ("agreed", "partial") and (
        (sessions_ago is not None and sessions_ago > gs.stale_sessions)
        or (days_ago is not None and days_ago > gs.stale_days)
    )
    achieved_at = None
    if stale:
        status = "stale"
        records = view.record.goals
        if records and all(g.status == "achieved" for g in records):
            achieved_at = max(max(g.set_session, g.reviewed_session or 0) for g in records)
            detail = (
                f"{ACHIEVED_WORDS.format(s=achieved_at)}. Last goal evidence s{session} ({age}) said {verdict}: {why}"
            )
        else:
            detail = (
                f"goal stale: last evidence s{session} ({age}) said {verdict}; stale after more than "
                f"{gs.stale_sessions} sessions or {gs.stale_days} days {settings.stale_label()}. {why}"
            )
    else:
        status = verdict
        detail = f"goal {verdict} at s{session}" + (f" ({age})" if age else "") + f": {why}"
    return GoalResult(status, session, verdict, tuple(evidence), sessions_ago, days_ago, detail, achieved_at)


#: clinical-rules §12 / issue 10: instead of "goal stale" where every goal record is achieved.
ACHIEVED_WORDS = "goals achieved at s{s}; no active goal: set new goals or plan the ending"


def goal_flags(view: ClientView, goal: GoalResult, settings: Settings) -> list[Flag]:
    """The ``goal`` flag unless the goal is agreed; its triage hint: tier 4
    (disagreed) or 6 (stale, not set, partial)."""
    if goal.status == "agreed":
        return []
    code, clinician = view.code, view.record.client.clinician
    latest = view.latest

    def at(number: int | None):
        s = view.by_number.get(number) if number is not None else None
        return s.date if s is not None else None

    if goal.status == "not_set":
        hint = TriageHint("goal not set", "goal not set", latest.number if latest else None,
                          latest.date if latest else None)
    elif goal.status == "stale":
        if goal.achieved_at is not None:
            hint = TriageHint("no active goal", ACHIEVED_WORDS.format(s=goal.achieved_at), goal.session,
                              at(goal.session))
        else:
            if goal.sessions_ago is not None and goal.sessions_ago > settings.goals.stale_sessions:
                age = f"{goal.sessions_ago} sess ago"
            else:  # stale by days only
                age = f"{goal.days_ago} days ago"
            hint = TriageHint("goal stale", f"goal stale (last s{goal.session}, {age})", goal.session,
                              at(goal.session))
    else:  # disagreed / partial
        ev = deciding_evidence(goal)
        word = goal.status
        why = f"goal {word} ({ev.short}, s{goal.session})" if ev is not None and ev.short else f"goal {word}"
        hint = TriageHint(f"goal {word}", why, goal.session, at(goal.session))
    return [Flag(code, clinician, "goal", goal.session, goal.status, goal.detail, {}, hint)]


def _age(sessions_ago: int | None, days_ago: int | None) -> str:
    parts = []
    if sessions_ago:
        parts.append(f"{sessions_ago} session{'s' if sessions_ago != 1 else ''}")
    if days_ago:
        parts.append(f"{days_ago} day{'s' if days_ago != 1 else ''}")
    return " / ".join(parts) + " ago" if parts else ""


def deciding_evidence(result: GoalResult) -> GoalEvidence | None:
    """The evidence that set the status (worst of the latest session)."""
    if result.session is None:
        return None
    here = _latest(result.evidence, result.session)
    return max(here, key=lambda e: RANK.get(e.verdict, 0)) if here else None


def _latest(evidence, session: int) -> list[GoalEvidence]:
    """The evidence of ``session``, found from the end (evidence is sorted)."""
    out = []
    for e in reversed(evidence):
        if e.session != session:
            if e.session < session:
                break
            continue
        out.append(e)
    out.reverse()
    return out


def run(ctx: RuleContext) -> list[Flag]:
    ctx.goal = assess_goals(ctx.view, ctx.settings)
    return goal_flags(ctx.view, ctx.goal, ctx.settings)


RULE = Rule("goal", run)
