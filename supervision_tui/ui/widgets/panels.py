"""Text panels of the client screen and the caseload preview.

Each builder returns Rich ``Text`` (never markup: engine details contain
"[our default]"), built from the engine's results verbatim, with a word
or symbol for every status. Widgets here are thin ``Static``s that can
be re-filled for another client without remounting.
"""

from __future__ import annotations

import re

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual.widgets import Static

from supervision_tui.rules.kinds import TIERS
from supervision_tui.rules.results import ClientAnalysis, marker_word, marker_words
from supervision_tui.rules.triage import NO_FLAG
from supervision_tui.ui.keymap import bindings
from supervision_tui.ui.widgets.caseload_table import GOAL_WORDS, OUTCOME_WORDS
from supervision_tui.ui.widgets.sparkline import block_chart
from supervision_tui.ui.widgets.viewdata import ClientDisplay, fmt_num
from supervision_tui.ui.widgets.fasttable import FastDataTable, fixed_width
from supervision_tui.wording import count

HIDDEN_TEXT = "(hidden while presenting)"
EVIDENCE_SHOWN = 6


# The engine's risk detail reads "risk item endorsed on PHQ-9 at s11
# (2026-11-20; rated by client); within the 3 most recent sessions"
# (rules/attendance.py). The banner re-arranges those same words into one
# line; it never recomputes them. Any other wording is shown verbatim.
_RISK_DETAIL = re.compile(
    r"^risk item endorsed on (?P<instruments>.+?) at (?P<session>s\d+) "
    r"\((?P<when>[^;()]+); rated by (?P<raters>[^()]+)\)"
    r"(?:; (?P<rest>.+))?$"
)


def risk_summary(a: ClientAnalysis) -> str | None:
    """The risk flag in one line, without the "⚠ RISK" lead:
    "PHQ-9 critical item endorsed at s11 (2026-11-20, client) · within the
    3 most recent sessions". Built from the engine's detail text only."""
    if a.risk is None:
        return None
    detail = (a.risk.detail or "").strip()
    m = _RISK_DETAIL.match(detail)
    if m is None:  # unfamiliar wording: the engine's text as it is
        return detail or f"critical item endorsed at s{a.risk.session} ({a.risk.date.isoformat()})"
    out = f"{m['instruments']} critical item endorsed at {m['session']} ({m['when']}, {m['raters']})"
    if m["rest"]:
        out += f" · {m['rest']}"
    return out


def risk_banner(a: ClientAnalysis) -> Text | None:
    """"⚠ RISK · PHQ-9 critical item endorsed at s11 (2026-11-20, client) ·
    within the 3 most recent sessions", or None."""
    summary = risk_summary(a)
    if summary is None:
        return None
    t = Text("⚠ RISK", style="bold")
    t.append(f" · {summary}")
    return t


def why_lines(a: ClientAnalysis, review: str | None = None) -> Text:
    """"Why this client is here": the engine's detail strings verbatim
    (the risk flag as :func:`risk_summary` words it), most urgent first,
    each led by its tier symbol or a word."""
    t = Text()

    def line(label: str, detail: str, style: str = "bold") -> None:
        if t.plain:
            t.append("\n")
        if label:
            t.append(label, style=style)
            t.append(" ")
        t.append(detail)

    if a.risk is not None:
        line("⚠ RISK ·", risk_summary(a) or a.risk.detail)  # the same line as the client screen's banner
    for o in a.outcomes.values():
        if o.status == "deteriorated":
            line(TIERS[2].symbol, o.detail)
    for f in a.flags:  # not on track (clinical-rules §10): the flag's own words, with the clinic reference
        if f.kind == "outcome" and f.status == "not_on_track":
            line(TIERS[2].symbol, f.detail)
    for e in reversed(a.episodes):
        if e.status in ("open", "unrepaired"):
            line(TIERS[3].symbol, e.detail)
    g = a.goal
    if g.status == "disagreed":
        line(TIERS[4].symbol, g.detail)
    if a.attendance.disengaging:
        line(TIERS[5].symbol, a.attendance.detail)
    if g.status in ("stale", "not_set", "partial"):
        line(TIERS[6].symbol, g.detail)
    for o in a.outcomes.values():
        if o.status != "deteriorated":
            line("", o.detail)
    for e in reversed(a.episodes):
        if e.status == "repaired":
            line("", e.detail)
    if g.status == "agreed":
        line("", g.detail)
    if a.rescreened is not None:
        line("", a.rescreened.detail)
    if not t.plain:
        t.append(a.why or NO_FLAG)
    if review is not None:
        t.append("\n")
        t.append("Review:", style="bold")
        t.append(f" {review}")
    return t


def trend_text(v: ClientDisplay, width: int = 40, height: int = 3) -> Text:
    """A small block chart of the client's alliance series (preview pane)."""
    s = v.spark_series()
    t = Text()
    if s is None:
        t.append("no alliance ratings yet")
        return t
    iv = v.instrument(s.instrument)
    lo, hi = iv.display_range(s.values)
    cut = iv.cutoff if iv.higher_is_better and iv.cutoff is not None and lo < iv.cutoff < hi and height >= 2 else None
    # with a cut-off the bottom row is "below it" and its top edge is the cut-off: label it there
    hi_label, lo_label = f"{hi:g}", f"{cut:g}" if cut is not None else f"{lo:g}"
    pad = max(len(hi_label), len(lo_label))
    room = max(4, width - pad - 2)
    values = list(s.values)[-room:]
    shown = s.sessions[-room:]
    stretch = max(1, min(3, room // max(1, len(values))))
    rows = block_chart(values, lo, hi, height=height, cutoff=cut)
    for i, r in enumerate(rows):
        label = hi_label if i == 0 else (lo_label if i == len(rows) - 1 else "")
        t.append(f"{label:>{pad}}▕", style="dim")
        t.append("".join(ch * stretch for ch in r))
        t.append("\n")
    t.append(f"{'':>{pad}} s{shown[0]}–s{shown[-1]}", style="dim")
    if cut is not None:
        t.append(f"  (bottom row: below {cut:g})", style="dim")
    elif iv.cutoff is not None and lo < iv.cutoff < hi:
        t.append(f"  (scale {lo_label}–{hi_label})", style="dim")
    t.append("\n")
    latest = f"{s.instrument} {fmt_num(s.values[-1])} at s{s.sessions[-1]}"
    t.append(latest, style="bold")
    if iv.cutoff is not None:
        t.append(f" · cut-off {iv.cutoff:g}")
    if len(s.values) >= 2:
        t.append(f" · range {fmt_num(min(s.values))}–{fmt_num(max(s.values))}")
    return t


def _indented(text: Text | str, indent: int = 2) -> Padding:
    return Padding(text if isinstance(text, Text) else Text(text), (0, 0, 0, indent))


def ruptures_text(v: ClientDisplay) -> Group:
    """Each episode, most recent first: sessions, STATUS word, instrument,
    marker kinds, repair session, then the engine's detail verbatim (one
    line per marker session)."""
    a = v.analysis
    parts: list = []
    if not a.episodes:
        t = Text("No rupture episodes", style="bold")
        if a.markers:
            t.append(f" ({count(len(a.markers), 'marker')} outside episodes)")
        return Group(t)
    for n, e in enumerate(reversed(a.episodes)):
        if n:
            parts.append(Text(""))
        span = f"s{e.start}" if e.start == e.last_marker else f"s{e.start}–s{e.last_marker}"
        head = Text()
        head.append(f"{span} ", style="bold")
        head.append(f" {e.status.upper()} ", style="bold reverse" if e.status != "repaired" else "bold")
        head.append(f" {e.instrument} · {marker_words(e.marker_kinds)}")
        if e.repaired_at is not None:
            head.append(f" · repaired at s{e.repaired_at}", style="bold")
        parts.append(head)
        for chunk in (e.detail or "").split(" | "):
            if chunk:
                parts.append(_indented(chunk))
        for m in e.markers:  # marker details the episode text does not already carry
            if m.detail and m.detail not in (e.detail or ""):
                parts.append(_indented(f"s{m.session} {marker_word(m.kind)}: {m.detail}"))
    return Group(*parts)


def goals_text(v: ClientDisplay, present: bool) -> Group:
    g = v.analysis.goal
    parts: list = []
    head = Text()
    head.append(f" {GOAL_WORDS.get(g.status, g.status).upper()} ", style="bold reverse" if g.status != "agreed" else "bold")
    if g.session is not None:
        head.append(f" latest evidence s{g.session}")
        ages = []
        if g.sessions_ago:
            ages.append(f"{g.sessions_ago} session{'s' if g.sessions_ago != 1 else ''}")
        if g.days_ago:
            ages.append(f"{g.days_ago} days")
        if ages:
            head.append(f" ({' / '.join(ages)} ago)")
    parts.append(head)
    if g.detail:
        parts.append(_indented(g.detail))
    if g.evidence:
        parts.append(Text("Evidence, latest first", style="bold"))
        for ev in list(reversed(g.evidence))[:EVIDENCE_SHOWN]:
            line = Text()
            line.append(f"s{ev.session} ", style="bold")
            line.append(f"{ev.verdict}", style="bold" if ev.verdict == "disagreed" else "")
            line.append(f" · {ev.detail or ev.source}")
            parts.append(_indented(line))
        if len(g.evidence) > EVIDENCE_SHOWN:
            parts.append(_indented(f"… {len(g.evidence) - EVIDENCE_SHOWN} earlier"))
    goals = v.record.goals
    if goals:
        parts.append(Text("Goal records", style="bold"))
        for goal in goals:
            line = Text(f"{goal.goal_id} {goal.agreement} at s{goal.set_session}")
            if goal.reviewed_session is not None:
                line.append(f", reviewed s{goal.reviewed_session}")
            line.append(f" · {goal.status}")
            if present:
                line.append(f" · {HIDDEN_TEXT}", style="dim italic")
            elif goal.description:
                line.append(f' · "{goal.description}"')
            parts.append(_indented(line))
    elif g.status == "not_set":
        parts.append(Text("No goal records."))
    return Group(*parts)


def outcomes_text(v: ClientDisplay) -> Group:
    """Per outcome instrument: the status word of interchange.md §6 (the
    caseload's: NOT ON TRACK where that flag fired, DETERIORATED winning
    over it), first and latest rating, the engine's change line (raw
    difference with its direction) and the expected-course line
    (clinical-rules §10), each as the engine wrote it; then attendance."""
    a = v.analysis
    parts: list = []
    statuses = a.outcome_statuses
    for inst in v.outcome_instruments:
        res = a.outcomes.get(inst)
        head = Text()
        if res is None:
            s = v.series.get((inst, "client"))
            n = len(s.values) if s else 0
            head.append(f"{inst} ", style="bold")
            head.append(f"{n} rating{'s' if n != 1 else ''}: change needs two")
            parts.append(head)
            continue
        status = statuses.get(inst, res.status)
        word = OUTCOME_WORDS.get(status, status).upper()
        head.append(f"{inst} ", style="bold")
        head.append(f" {word} ", style="bold reverse" if status in ("deteriorated", "not_on_track") else "bold")
        head.append(f" {fmt_num(res.first)} at s{res.first_session} → {fmt_num(res.latest)} at s{res.latest_session}")
        parts.append(head)
        if res.detail:
            parts.append(_indented(res.detail))
        track = getattr(a, "tracks", {}).get(inst)
        if track is not None:  # clinical-rules §10: against the clinic's expected course, or why not computed
            # (the status word above says NOT ON TRACK; the line ends "; not on track" itself)
            parts.append(_indented(track.detail))
    if not parts:
        parts.append(Text("No outcome ratings"))
    att = a.attendance
    t = Text()
    t.append("Attendance ", style="bold")
    if att.disengaging:
        t.append(" DISENGAGING ", style="bold reverse")
        t.append(" ")
    t.append(att.detail or (f"{att.missed} missed" if att.missed else "attending"))
    parts.append(t)
    return Group(*parts)


class Panel(Static):
    """A bordered text panel that can take focus (so it can be scrolled to
    and read with the keyboard)."""

    can_focus = True

    DEFAULT_CSS = """
    Panel {
        height: auto;
        border: round $primary 50%;
        padding: 0 1;
    }
    Panel:focus {
        border: round $accent;
    }
    """


ATTENDANCE_WORDS = {"attended": "yes", "cancelled": "cancelled", "no_show": "no-show"}


class SessionsTable(FastDataTable):
    """One row per session, latest first: raw ratings and reports."""

    BINDINGS = bindings("lists")

    DEFAULT_CSS = """
    SessionsTable {
        height: auto;
        max-height: 40;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show_view(self, v: ClientDisplay) -> None:
        self.clear(columns=True)
        alliance = v.alliance_instruments
        outcomes = v.outcome_instruments
        cols: list[tuple[str, str]] = [("s", "s"), ("date", "date"), ("att", "attended")]
        for inst in alliance:
            label = f"{inst} c/t" if v.has_therapist(inst) else inst
            cols.append((inst, label))
        for inst in outcomes:
            cols.append((inst, inst))
        # risk before the (free-length) report: never the column cut off at the right edge
        cols += [("risk", "risk"), ("report", "report")]
        rows = []
        for row in reversed(v.session_rows):
            cells: list[Text] = [
                Text(str(row.number), justify="right"),
                Text(row.date.isoformat()),
                Text(ATTENDANCE_WORDS.get(row.attendance, row.attendance),
                     style="" if row.attendance == "attended" else "bold"),
            ]
            for inst in alliance:
                c = row.scores.get((inst, "client"))
                if v.has_therapist(inst):
                    th = row.scores.get((inst, "therapist"))
                    cells.append(Text(f"{fmt_num(c)} / {fmt_num(th)}" if (c is not None or th is not None) else "—"))
                else:
                    cells.append(Text(fmt_num(c), justify="right"))
            for inst in outcomes:
                cells.append(Text(fmt_num(row.scores.get((inst, "client"))), justify="right"))
            # endorsed / screened negative / not asked: an empty cell is never read as "no"
            cells.append(Text("⚠ yes", style="bold", justify="center") if row.risk
                         else Text("no" if row.risk is False else "—", justify="center"))
            cells.append(Text("; ".join(row.reports) if row.reports else "—"))
            rows.append((cells, str(row.number)))
        # each column as wide as an auto-width one would be, given here: the table then
        # measures no cell (fasttable.py), and the rows go in as one batch
        for i, (key, label) in enumerate(cols):
            self.add_column(label, key=key, width=fixed_width(label, (cells[i] for cells, _k in rows)))
        self.add_rows_fast(rows)
