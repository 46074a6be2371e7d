"""Flags and summary output for the CLI (interchange.md §5–6).

* ``flags_json`` — one JSON array of every client's flags (closed and
  dropped-out clients included), sorted by client id, then session (null
  first), then kind (rupture, goal, outcome, attendance, risk), then
  instrument.
* ``summary_json`` — triaged clients only (active, paused, and any client
  with an active risk: clinical-rules §6), in triage order, exactly the
  keys of §6.
* ``flags_table`` / ``summary_table`` — the same as readable text, in
  words, never the JSON identifiers ("no reliable change", not
  ``no_change``); a change reads as the raw difference on the instrument's
  scale with its direction ("PHQ-9 +6 worse").

Kinds and statuses are read from the flag-kind registry (``rules.kinds``);
extra keys are worded by key (``EXTRA_WORDS``), so a new kind or status
needs no change here.

Numbers: ``alliance.index`` is rounded to 3 decimals, scores
(``alliance.latest``) and ``change`` to 2 decimals (every instrument is
entered to at most 0.1, so nothing real is lost; binary noise such as
``7.1000000000000014`` is). JSON is UTF-8 text with non-ASCII kept
(``ensure_ascii=False``): details contain "≥" and "→".
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

from supervision_tui import instruments
from supervision_tui.instruments import fmt, fmt_signed
from supervision_tui.rules.engine import INDEX_DECIMALS, all_flags, round_score
from supervision_tui.rules.kinds import REGISTRY as KINDS
from supervision_tui.rules.kinds import TIERS
from supervision_tui.rules.outcomes import STATUS_WORDS as OUTCOME_WORDS
from supervision_tui.rules.results import ClientAnalysis, Flag, marker_words
from supervision_tui.wording import count

GOAL_WORDS = {"agreed": "agreed", "partial": "partial", "disagreed": "disagreed", "stale": "stale",
              "not_set": "not set"}
CLIENT_STATUS_WORDS = {"active": "active", "paused": "paused", "closed": "closed", "dropped_out": "dropped out"}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=None)


def flags_data(analyses: Iterable[ClientAnalysis]) -> list[dict[str, Any]]:
    return [f.to_json() for f in all_flags(analyses)]


def flags_json(analyses: Iterable[ClientAnalysis]) -> str:
    """One JSON array, one object per line for readable diffs."""
    rows = flags_data(analyses)
    if not rows:
        return "[]"
    return "[\n" + ",\n".join(_dumps(r) for r in rows) + "\n]"


def summary_row(a: ClientAnalysis) -> dict[str, Any]:
    """The §6 object of one client."""
    alliance = None
    if a.alliance is not None:
        alliance = {
            "instrument": a.alliance.instrument,
            "latest": round_score(a.alliance.latest),
            "index": round(a.alliance.index, INDEX_DECIMALS),
        }
    return {
        "client": a.client,
        "clinician": a.clinician,
        "status": a.status,
        "tier": a.tier,
        "reason": a.reason,
        "sessions": a.sessions,
        "alliance": alliance,
        "goal": a.goal.status,
        "outcomes": a.outcome_statuses,
    }


def summary_data(analyses: Iterable[ClientAnalysis]) -> list[dict[str, Any]]:
    """Triaged clients in the order given (``analyse_caseload`` returns
    triage order)."""
    return [summary_row(a) for a in analyses if a.triaged]


def summary_json(analyses: Iterable[ClientAnalysis]) -> str:
    rows = summary_data(analyses)
    if not rows:
        return "[]"
    return "[\n" + ",\n".join(_dumps(r) for r in rows) + "\n]"


# --- text tables ------------------------------------------------------------------


def _table(headers: Sequence[str], rows: list[Sequence[str]]) -> str:
    """Left-aligned columns; the last column is not padded (it may be long)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*parts, cells[-1]]).rstrip()

    out = [line(headers), line(["-" * w for w in widths[:-1]] + ["-" * len(headers[-1])])]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def _change_words(f: Flag, value: Any) -> str:
    """``change`` is better-signed in the JSON; people read the raw difference and its direction."""
    inst = instruments.get(f.extra.get("instrument"))
    if value is None:
        return ""
    raw = value if inst is None or inst.higher_is_better else -value
    if fmt_signed(raw) == "0":  # no difference at the shown precision (never "0 worse")
        return "no difference"
    word = "better" if value > 0 else "worse"
    return f"{fmt_signed(raw)} {word}"


#: How each extra key of a flag reads in the text table (by key, never by kind).
EXTRA_WORDS: dict[str, Callable[[Flag, Any], str]] = {
    "instrument": lambda f, v: str(v) if v else "",
    "markers": lambda f, v: marker_words(v) if v else "",
    "repaired_at": lambda f, v: f"repaired s{v}" if v is not None else "",
    "change": _change_words,
    "missed": lambda f, v: f"{v} missed" if v else "",
    "rescreened_at": lambda f, v: f"re-screened negative s{v}" if v is not None else "",
    "missed_since": lambda f, v: f"{v} missed since" if v else "",
    # not on track (clinical-rules §10): gains, better-signed like ``change`` in the JSON, read here as
    # raw differences with their direction ("expected −5.8 better", "9 in 10 at least −2.1 better": a
    # change short of that lower limit signals)
    "expected": lambda f, v: f"expected {_change_words(f, v)}" if v is not None else "",
    "lower": lambda f, v: f"lower limit {_change_words(f, v)}" if v is not None else "",
    "reference_clients": lambda f, v: f"reference {v} clients" if v is not None else "",
}


def _flag_extra(f: Flag) -> str:
    parts = []
    for key, value in f.extra.items():
        words = EXTRA_WORDS.get(key)
        text = words(f, value) if words is not None else f"{key} {value}"
        if text:
            parts.append(text)
    return " · ".join(parts)


def flags_table(analyses: Iterable[ClientAnalysis]) -> str:
    flags = all_flags(analyses)
    if not flags:
        return "No flags."
    rows = [
        [
            f.client,
            f.clinician,
            KINDS[f.kind].label,
            "" if f.session is None else f"s{f.session}",
            KINDS.status_of(f).word,
            _flag_extra(f),
            f.detail,
        ]
        for f in flags
    ]
    table = _table(["client", "clinician", "kind", "session", "status", "what", "detail"], rows)
    n_clients = len({f.client for f in flags})
    return f"{table}\n\n{count(len(flags), 'flag')} for {count(n_clients, 'client')}."


def _alliance_cell(a: ClientAnalysis) -> str:
    if a.alliance is None:
        return "—"
    return f"{a.alliance.instrument} {fmt(a.alliance.latest)} ({a.alliance.index:.2f})"


def _outcome_cell(a: ClientAnalysis) -> str:
    return ", ".join(f"{k} {OUTCOME_WORDS.get(st, st.replace('_', ' '))}" for k, st in a.outcome_statuses.items()) or "—"


def summary_table(analyses: Iterable[ClientAnalysis], show_all: bool = False) -> str:
    """Triaged clients in triage order (closed and dropped-out clients with an
    active risk among them); with ``show_all`` the other closed and
    dropped-out clients follow."""
    chosen = [a for a in analyses if show_all or a.triaged]
    if not chosen:
        return "No clients."
    rows = [
        [
            a.tier_label.strip(),
            a.client,
            a.clinician,
            CLIENT_STATUS_WORDS.get(a.status, a.status.replace("_", " ")),
            str(a.sessions),
            _alliance_cell(a),
            GOAL_WORDS.get(a.goal.status, a.goal.status.replace("_", " ")),
            _outcome_cell(a),
            a.why,
        ]
        for a in chosen
    ]
    table = _table(
        ["tier", "client", "clinician", "status", "sessions", "alliance", "goal", "outcomes", "why"], rows
    )
    triaged = sum(1 for a in chosen if a.triaged)
    tail = count(triaged, "triaged client")
    kept = sum(1 for a in chosen if a.triaged and a.ended)
    if kept:
        tail += f" (of them {kept} closed or dropped out, kept for an active risk)"
    if show_all and len(chosen) > triaged:
        tail += f", {len(chosen) - triaged} closed or dropped out"
    notes = [f"{tail}.", "Tier 7 \"no flag\" means no rule fired, not that the client is cleared."]
    if any(o.status == "recovered" for a in chosen for o in a.outcomes.values()):
        notes.append("\"recovered on this measure\" is per instrument (reliably better and past its cutoff), "
                     "not IAPT recovery.")
    return f"{table}\n\n" + "\n".join(notes)


# --- the clinic reference of "not on track" (flags --with-reference) ------------------------


def reference_data(reference: dict) -> dict[str, Any]:
    """interchange.md §5: per outcome instrument the fitted ``beta0``,
    ``beta1``, band ``sigma``s, ``clients``, ``pairs`` and ``enough``."""
    return {iid: m.to_json() for iid, m in reference.items()}


def flags_reference_json(analyses: Iterable[ClientAnalysis], reference: dict) -> str:
    """``{"flags": [...], "reference": {...}}`` (``flags --json --with-reference``)."""
    rows = flags_data(analyses)
    flags = "[]" if not rows else "[\n" + ",\n".join(_dumps(r) for r in rows) + "\n]"
    ref = _dumps(reference_data(reference))
    return '{"flags": ' + flags + ',\n"reference": ' + ref + "}"


def shortfall_text(reference: dict | None, analyses: Iterable[ClientAnalysis] = ()) -> str:
    """Clinical-rules §10 "Enough data", under a text table: for each outcome
    instrument in use whose clinic reference is too small, "ORS: not enough
    clinic data for an expected trajectory: 12 of 30 clients", so no view
    drops the signal silently ("" when there is none)."""
    from supervision_tui.rules.expected import short_models

    lines = [f"{m.instrument.id}: {m.shortfall()}" for m in short_models(reference, analyses)]
    if not lines:
        return ""
    return "\n\nNot on track is not computed (clinical-rules §10):\n" + "\n".join(f"  {line}" for line in lines)


def reference_text(reference: dict) -> str:
    """The fitted models in words, one instrument a line, so a clinic can
    check them (clinical-rules §10: "Honesty")."""
    lines = ["Clinic reference for 'not on track' (clinical-rules §10): expected gain by session t from intake, "
             "fitted on this caseload's clients with three or more ratings; σ = residual spread by band of t "
             "(\"from\" = borrowed from a band with 30 ratings)."]
    if not reference:
        lines.append("No outcome instrument registered.")
    for m in reference.values():
        lines.append(m.describe())
    return "\n".join(lines)
