"""Flags and summary output for the CLI (interchange.md §5–6).

* ``flags_json`` — one JSON array of every client's flags (closed and
  dropped-out clients included), sorted by client id, then session (null
  first), then kind (rupture, goal, outcome, attendance, risk), then
  instrument.
* ``summary_json`` — triaged clients only (active, paused), in triage
  order, exactly the keys of §6.
* ``flags_table`` / ``summary_table`` — the same as readable text.

Numbers: ``alliance.index`` is rounded to 3 decimals, scores
(``alliance.latest``) and ``change`` to 2 decimals (every instrument is
entered to at most 0.1, so nothing real is lost; binary noise such as
``7.1000000000000014`` is). JSON is UTF-8 text with non-ASCII kept
(``ensure_ascii=False``): details contain "≥" and "→".
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from supervision_tui.rules.engine import INDEX_DECIMALS, all_flags, round_score
from supervision_tui.rules.results import ClientAnalysis
from supervision_tui.wording import count


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
        "outcomes": {k: o.status for k, o in a.outcomes.items()},
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


def _flag_extra(f) -> str:
    e = f.extra
    if f.kind == "rupture":
        s = f"{e.get('instrument')} {','.join(e.get('markers', []))}"
        if e.get("repaired_at") is not None:
            s += f" → s{e['repaired_at']}"
        return s
    if f.kind == "outcome":
        ch = e.get("change", 0)
        return f"{e.get('instrument')} {'+' if ch > 0 else ''}{ch:g}"
    if f.kind == "attendance":
        return f"{e.get('missed')} missed"
    return ""


def flags_table(analyses: Iterable[ClientAnalysis]) -> str:
    flags = all_flags(analyses)
    if not flags:
        return "No flags."
    rows = [
        [
            f.client,
            f.clinician,
            f.kind,
            "" if f.session is None else f"s{f.session}",
            f.status,
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
    return f"{a.alliance.instrument} {a.alliance.latest:g} ({a.alliance.index:.2f})"


def _outcome_cell(a: ClientAnalysis) -> str:
    return ", ".join(f"{k} {o.status}" for k, o in a.outcomes.items()) or "—"


def summary_table(analyses: Iterable[ClientAnalysis], show_all: bool = False) -> str:
    """Triaged clients in triage order; with ``show_all`` the closed and
    dropped-out clients follow."""
    chosen = [a for a in analyses if show_all or a.triaged]
    if not chosen:
        return "No clients."
    rows = [
        [
            a.tier_label,
            a.client,
            a.clinician,
            a.status,
            str(a.sessions),
            _alliance_cell(a),
            a.goal.status.replace("_", " "),
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
    if show_all and len(chosen) > triaged:
        tail += f", {len(chosen) - triaged} closed or dropped out"
    return f"{table}\n\n{tail}."
