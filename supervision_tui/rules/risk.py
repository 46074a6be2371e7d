"""Risk (clinical-rules.md §6, spec v2): a flag that never silently expires.

* **S** = the latest session with ``risk = yes`` on a row *with an
  instrument* (any rater, any attendance: risk is the one rule that reads
  rows of sessions not attended). The flag names S, its date and the
  instruments (and raters) that said yes there.
* The flag stays **active** (status ``risk``, tier 1) — no time, no session
  count and no missed session ages it — until the client is
  **re-screened**: a later *attended* session has a row of an instrument
  that said yes at S, by the same rater, carrying ``risk = no``. Then its
  status is ``rescreened`` (with that session): it leaves tier 1 and is
  listed once in the agenda's safety section.
* An empty ``risk`` cell is "not asked", never a negative screen; a
  ``risk = no`` on a session not attended, on another instrument or by
  another rater does not re-screen.
* ``missed_since`` = sessions after S that were not attended. A client
  with sessions after S, none attended, is "not seen since the risk
  session": first of tier 1, and the explanation says so ("risk at s3; not
  seen since: 2 no-shows, 1 cancellation").
* The explanation says that a critical item is a screen, not a risk
  determination, and prompts the supervisor to confirm that a risk
  assessment and safety plan are documented.
* ``[risk] expire_days`` (default 0 = never) lets a clinic end an active
  risk that many days after S's date, counted to the evaluation day (the
  ``--as-of`` day, else today): with 90, a risk at a session dated 1 March
  is active through 30 May and gone on 31 May.

Readings of the spec (where it leaves room), each the more cautious one:

* "an instrument that said yes at S": the same instrument *and rater*. A
  therapist's ``risk = no`` on the PHQ-9 row does not answer a client's
  item 9. When several instruments (or raters) said yes at S, every one of
  them must be re-screened negative (each at some later attended
  session); ``rescreened_at`` is the session that completed it.
* Every endorsement is tracked on its own (instrument and rater): a later
  ``yes`` on another instrument, re-screened or not, never answers an
  earlier one. Only a ``no`` from the same instrument and rater at a later
  attended session does. While any endorsement is pending the flag is
  active; S is the latest session with a pending endorsement, and older
  pending ones are named in the explanation ("also not re-screened: PHQ-9
  at s2"). A later ``yes`` on the same instrument replaces the earlier one
  (only rows after it can re-screen it). ``expire_days`` ends each pending
  endorsement on its own.
* ``missed_since`` counts every session after S that was not attended,
  also after a later attended session; "not seen since" needs all of them
  missed. A session after S is a session with a higher number (any row).
* The client's status does not end a risk: a closed or dropped-out client
  with an active risk stays triaged (``ClientAnalysis.triaged``) and its
  explanation says the treatment has ended and follow-up is owed.
* An expired risk (``expire_days``) is no flag at all: the clinic chose to
  let it go; its sessions still show the endorsement.
* A row with an instrument the registry does not know still counts: a
  critical item is never ignored.
"""

from __future__ import annotations

from datetime import date

from supervision_tui.model import ENDED_STATUSES
from supervision_tui.rules.context import Rule, RuleContext
from supervision_tui.rules.markers import ClientView
from supervision_tui.rules.results import Flag, RiskResult, TriageHint
from supervision_tui.settings import Settings

#: The prompt every risk explanation ends with (clinical-rules §6).
SCREEN_NOTE = "{what} is a screen, not a risk determination: confirm a risk assessment and safety plan are documented."


def screen_note(instruments: tuple[str, ...]) -> str:
    """"PHQ-9 item 9 is a screen, …" (a critical item of another instrument: "A critical item")."""
    return SCREEN_NOTE.format(what="PHQ-9 item 9" if instruments == ("PHQ-9",) else "A critical item")


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _missed_words(no_shows: int, cancelled: int) -> str:
    """"2 no-shows, 1 cancellation"."""
    parts = []
    if no_shows:
        parts.append(_plural(no_shows, "no-show"))
    if cancelled:
        parts.append(_plural(cancelled, "cancellation"))
    return ", ".join(parts) or "no missed session"


def _endorsements(sessions) -> tuple[dict[tuple[str, str], int], list[tuple[int, int]]]:
    """Walk the sessions in order: which (instrument, rater) endorsements are
    still pending at the end (key -> index of the session of its latest
    ``yes``), and every re-screen event (index of the attended session at
    which the last pending endorsement was answered ``no``, index of the
    latest ``yes`` it answered)."""
    pending: dict[tuple[str, str], int] = {}
    cleared: list[tuple[int, int]] = []
    for i, x in enumerate(sessions):
        if x.attendance == "attended" and pending:
            answered = {(r.instrument, r.rater) for r in x.ratings if r.instrument is not None and r.risk is False}
            hit = [k for k in answered if k in pending]
            if hit:
                latest_yes = max(pending.values())
                for k in hit:
                    del pending[k]
                if not pending:
                    cleared.append((i, latest_yes))
        for r in x.ratings:
            if r.instrument is not None and r.risk is True:
                pending[(r.instrument, r.rater)] = i
    return pending, cleared


def _answered_at(sessions, s_index: int, still: set) -> list[tuple[str, str, int]]:
    """(instrument, rater, session number) of each endorsement at session
    ``s_index`` that is no longer pending (``still``: those that are),
    with the later attended session whose ``no`` answered it."""
    out = []
    at_s = {(r.instrument, r.rater) for r in sessions[s_index].ratings if r.instrument is not None and r.risk is True}
    for key in sorted(at_s - still):
        for x in sessions[s_index + 1:]:
            if x.attendance == "attended" and any((r.instrument, r.rater) == key and r.risk is False
                                                  for r in x.ratings):
                out.append((key[0], key[1], x.number))
                break
    return out


def _other_rater_no(sessions, s_index: int, pending: dict) -> tuple[str, str, int, str] | None:
    """The latest ``no`` after S, at an attended session, on an instrument
    with a pending endorsement but by another rater: (instrument, its
    rater, session number, the pending endorsement's rater(s)); None when
    there is none."""
    owed: dict[str, set] = {}
    for inst, rater in pending:
        owed.setdefault(inst, set()).add(rater)
    for x in reversed(sessions[s_index + 1:]):
        if x.attendance != "attended":
            continue
        for r in x.ratings:
            if r.risk is False and r.instrument in owed and (r.instrument, r.rater) not in pending:
                return r.instrument, r.rater, x.number, "/".join(sorted(owed[r.instrument]))
    return None


def assess_risk(view: ClientView, settings: Settings, today: date | None = None) -> RiskResult | None:
    """The client's risk (active or re-screened), or None (no endorsement
    ever, or every active one expired by ``expire_days``).

    Every endorsement is tracked on its own: a ``yes`` on one instrument
    stays pending until that instrument (same rater) says ``no`` at a later
    attended session, whatever other instruments say meanwhile. The flag is
    active while any endorsement is pending; S is then the latest session
    with a pending endorsement. With none pending it is ``rescreened`` (S:
    the latest endorsement, answered at ``rescreened_at``)."""
    sessions = view.sessions
    order = view.registry.order
    pending, cleared = _endorsements(sessions)
    if not pending and not cleared:
        return None
    expire = settings.risk.expire_days
    if pending and expire > 0:
        ref = today or date.today()
        pending = {k: i for k, i in pending.items() if (ref - sessions[i].date).days <= expire}
        if not pending and not cleared:
            return None  # the clinic chose to let it go
    if pending:
        s_index = max(pending.values())
        said_yes = {k for k, i in pending.items() if i == s_index}
        rescreened_at = rescreened_date = None
    else:
        r_index, s_index = cleared[-1]
        said_yes = {(r.instrument, r.rater) for r in sessions[s_index].ratings
                    if r.instrument is not None and r.risk is True}
        rescreened_at, rescreened_date = sessions[r_index].number, sessions[r_index].date
    s = sessions[s_index]
    instruments = tuple(sorted({inst for inst, _ in said_yes}, key=lambda i: (order(i), i)))
    raters = sorted({rater for _, rater in said_yes})
    # pending endorsements of earlier sessions, named in the explanation
    earlier = sorted({(i, inst) for (inst, _r), i in pending.items() if i != s_index})

    after = sessions[s_index + 1:]
    missed = [x for x in after if x.attendance != "attended"]
    no_shows = sum(1 for x in missed if x.attendance == "no_show")
    cancelled = len(missed) - no_shows

    status = "rescreened" if rescreened_at is not None else "risk"
    ended = view.record.client.status
    attendance = "" if s.attendance == "attended" else f", session {s.attendance.replace('_', '-')}"
    head = (f"risk item endorsed on {', '.join(instruments)} at s{s.number} ({s.date.isoformat()}"
            f"{attendance}; rated by {', '.join(raters)})")
    if pending:
        # endorsements at S already answered (another instrument or rater said yes with it), and a
        # "no" that did not count (another rater's): the explanation says why the flag stays
        answered = _answered_at(sessions, s_index, said_yes)
        if answered:
            head += "; " + ", ".join(f"{inst} ({rater}) re-screened negative at s{n}" for inst, rater, n in answered)
    if earlier:
        head += "; also not re-screened: " + ", ".join(
            f"{inst} at s{sessions[i].number} ({sessions[i].date.isoformat()})" for i, inst in earlier)
    not_seen = bool(after) and len(missed) == len(after)
    # every instrument that still needs its negative re-screen (active) / that said yes at S
    open_instruments = {inst for inst, _r in pending} if pending else set(instruments)
    what = "/".join(sorted(open_instruments, key=lambda i: (order(i), i)))
    # a closed or dropped-out client says so at once (the why is cut on a narrow screen)
    ended_words = ended.replace("_", " ") if ended in ENDED_STATUSES else ""
    if status == "rescreened":
        why = f"risk at s{s.number} re-screened negative at s{rescreened_at}"
        detail = (f"{head}; re-screened negative on {what} at s{rescreened_at} ({rescreened_date.isoformat()}): "
                  f"no longer tier 1. {screen_note(instruments)}")
    else:
        where = f"risk at s{s.number}" + (f" ({ended_words})" if ended_words else "")
        if not_seen:
            seen = f"not seen since: {_missed_words(no_shows, cancelled)}"
            why = f"{where}; {seen}"
        elif after:
            seen = (f"seen since, not re-screened on {what}"
                    + (f" ({_missed_words(no_shows, cancelled)} since)" if missed else ""))
            other = _other_rater_no(sessions, s_index, pending)
            if other is not None:
                inst, rater, n, owed = other
                seen += (f"; the {inst} 'no' at s{n} was rated by {rater}, the endorsement by {owed}: "
                         f"a re-screen is by the same rater")
            why = f"risk at s{s.number} ({what}{', ' + ended_words if ended_words else ''}); not re-screened"
        else:
            seen = "the latest session"
            why = f"risk at s{s.number} ({what}{', ' + ended_words if ended_words else ''})"
        if ended_words:
            seen += f"; client {ended_words}: follow-up still owed"
        rule = (f"active until a negative {what} re-screen at a later attended session"
                + (f" or {expire} days after s{s.number} [clinic setting]" if expire > 0 else ""))
        detail = f"{head}; {seen}; {rule}. {screen_note(instruments)}"
    return RiskResult(
        session=s.number,
        date=s.date,
        instruments=instruments,
        detail=detail,
        status=status,
        rescreened_at=rescreened_at,
        rescreened_date=rescreened_date,
        missed_since=len(missed),
        sessions_since=len(after),
        no_shows_since=no_shows,
        cancelled_since=cancelled,
        why=why,
    )


def risk_flags(code: str, clinician: str, risk: RiskResult | None) -> list[Flag]:
    """The ``risk`` flag (interchange §5: ``status`` risk / rescreened,
    ``rescreened_at``, ``missed_since``)."""
    if risk is None:
        return []
    hint = None
    if risk.active:
        hint = TriageHint("risk", risk.why, risk.session, risk.date, first=risk.not_seen_since)
    return [Flag(code, clinician, "risk", risk.session, risk.status, risk.detail,
                 {"rescreened_at": risk.rescreened_at, "missed_since": risk.missed_since}, hint)]


def run(ctx: RuleContext) -> list[Flag]:
    ctx.risk = assess_risk(ctx.view, ctx.settings, ctx.today)
    return risk_flags(ctx.code, ctx.clinician, ctx.risk)


RULE = Rule("risk", run)
