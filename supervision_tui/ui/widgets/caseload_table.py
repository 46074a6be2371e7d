"""The caseload table: row model, column specs and the table widget.

How to add a column (e.g. the review workflow's status):

1. put the value on :class:`CaseloadRow` (or read it from ``row.extra``),
   filled in :func:`build_rows` / by a ``row_hook`` the app passes in;
2. append a :class:`ColumnSpec` to ``COLUMNS`` (or call
   :func:`register_column`) with a ``priority``: 0 means "always shown";
   the others join in priority order while they fit (clinician 1,
   alliance 2, outcome 3, review 4, last seen 5, sessions 6).

A fixed column may list shorter forms of its text (``compact``, e.g.
Outcome's "ORS ✓ rec." → "ORS ✓" → "ORS✓"): it then joins at the width of
its shortest form when its full width does not fit, and the whole column
uses the first form that fits every shown cell. Narrow terminals show the
review status as its symbol (Rev); the caseload screen explains the
symbols shown in the table's subtitle.

The table recomputes which columns fit on every resize
(:func:`fit_columns`). Nothing here judges a client: every value comes
from the engine's ``ClientAnalysis`` or from raw ratings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import zip_longest
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rich.cells import cell_len
from rich.control import strip_control_codes
from rich.text import Text
from textual.message import Message

from supervision_tui.model import TRIAGED_STATUSES
from supervision_tui.rules.kinds import TIERS
from supervision_tui.rules.results import ClientAnalysis
from supervision_tui.service.reviews import review_sort_key
from supervision_tui.ui.context import app_of
from supervision_tui.ui.filters import tier_label
from supervision_tui.ui.keymap import bindings
from supervision_tui.ui.widgets.sparkline import BLOCKS, sparkline
from supervision_tui.ui.widgets.viewdata import SPARK_WIDTH, ClientDisplay, fmt_num, instrument_order, spark_args
from supervision_tui.ui.widgets.fasttable import FastDataTable

# --- words and symbols (never colour alone) ------------------------------------

#: Verdict symbols that say better or worse, never which way the score moved: an arrow reads as the
#: score's direction, and PHQ-9 and GAD-7 fall as a client improves ("PHQ-9 ↓" was read as "better")
OUTCOME_SYMBOLS = {
    "improved": "+",
    "no_change": "=",
    "deteriorated": "✗",
    "not_on_track": "!",  # below the clinic's expected course (clinical-rules §10)
    "recovered": "✓ rec.",
}
OUTCOME_WORDS = {
    "improved": "improved",
    "no_change": "no change",
    "deteriorated": "deteriorated",
    "not_on_track": "not on track",
    "recovered": "recovered",
}
GOAL_WORDS = {
    "agreed": "agreed",
    "partial": "partial",
    "disagreed": "disagreed",
    "stale": "stale",
    "not_set": "not set",
}
# (theme variable, bold) per tier: resolved against the app theme at render
NO_COLOR_TIER_STYLES = {1: "bold underline", 2: "bold underline", 3: "bold", 4: "bold", 5: "", 6: "", 7: ""}
"""Tier cell styles under NO_COLOR: emphasis falls with urgency."""
TIER_STYLES = {
    1: ("error", True),
    2: ("error", True),
    3: ("warning", True),
    4: ("foreground", True),
    5: ("foreground", False),
    6: ("foreground", False),
    7: ("foreground", False),  # "no flag" is not "cleared": no reassuring colour
}


def outcome_compact(analysis: ClientAnalysis) -> str:
    """"ORS + PHQ-9 =" in instrument order."""
    parts = []
    for inst, status in sorted(analysis.outcome_statuses.items(), key=lambda kv: instrument_order(kv[0])):
        parts.append(f"{inst} {OUTCOME_SYMBOLS.get(status, status)}")
    return " ".join(parts) if parts else "—"


# --- the row model ----------------------------------------------------------------


@dataclass(slots=True)
class CaseloadRow:
    """One client as the caseload table shows it."""

    code: str
    clinician: str
    status: str
    tier: int
    why: str
    alliance_text: str  # "SRS 36.5" or "—"
    alliance_index: float | None
    spark: str
    goal: str
    outcome: str
    sessions: int
    last_date: date | None
    order: int  # position in the engine's triage order
    analysis: ClientAnalysis | None  # None: a row from the triage cache (the data are loading)
    review: str = "—"  # filled by the review workflow (app.review_status)
    extra: dict[str, Any] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset()  # cached rows: the tier/kind filters the client matches

    @property
    def tier_text(self) -> str:
        return tier_label(self.tier)

    @property
    def ended(self) -> bool:
        """Closed or dropped out and not triaged (``ClientAnalysis.triaged`` is
        False): an active risk (tier 1) keeps such a client triaged
        (clinical-rules §6, v2)."""
        return self.status not in TRIAGED_STATUSES and self.tier != 1

    def shown(self) -> tuple:
        """What the table shows of this row (a cached row and the real one
        with the same values need no repaint)."""
        return (self.code, self.clinician, self.status, self.tier, self.why, self.alliance_text,
                self.alliance_index, self.spark, self.goal, self.outcome, self.sessions, self.last_date,
                self.review)


def row_to_cache(row: CaseloadRow, kinds: list[str]) -> dict[str, Any]:
    """The row as ``store.triage_cache`` keeps it (``ROW_NAMES``)."""
    return {
        "code": row.code, "clinician": row.clinician, "status": row.status, "tier": row.tier, "why": row.why,
        "alliance_text": row.alliance_text, "alliance_index": row.alliance_index, "spark": row.spark,
        "goal": row.goal, "outcome": row.outcome, "sessions": row.sessions, "last_date": row.last_date,
        "review": row.review, "kinds": kinds,
    }


def row_from_cache(cached: dict[str, Any], order: int) -> CaseloadRow:
    """A provisional row (no ``analysis``) from a ``triage_cache`` row."""
    return CaseloadRow(
        code=cached["code"], clinician=cached["clinician"], status=cached["status"], tier=cached["tier"],
        why=cached["why"], alliance_text=cached["alliance_text"], alliance_index=cached["alliance_index"],
        spark=cached["spark"], goal=cached["goal"], outcome=cached["outcome"], sessions=cached["sessions"],
        last_date=cached["last_date"], order=order, analysis=None, review=cached["review"],
        kinds=frozenset(cached["kinds"]),
    )


RowHook = Callable[[CaseloadRow], None]


def build_row(view: ClientDisplay, order: int, hook: RowHook | None = None, spark_glyphs: str = BLOCKS) -> CaseloadRow:
    return row_of(view.analysis, render_spark(spark_args(view), spark_glyphs), order, hook)


def render_spark(args: tuple | None, glyphs: str = BLOCKS) -> str:
    """The Alliance column's sparkline from ``viewdata.spark_args`` (the loader
    computes those with each client's analysis; the glyphs are the app's)."""
    if not args:
        return ""
    values, lo, hi, cutoff = args
    # split at the cut-off: below it the lowest glyphs, the usual band above it spread
    # over the rest (a plain 30-40 scale drew every client as the same solid block)
    return sparkline(values, lo, hi, width=SPARK_WIDTH, cutoff=cutoff, glyphs=glyphs)


def row_of(a: ClientAnalysis, spark: str, order: int, hook: RowHook | None = None) -> CaseloadRow:
    """The row of a client from its analysis and sparkline (``render_spark``)."""
    alliance_text = "—"
    index = None
    if a.alliance is not None:
        alliance_text = f"{short_label(a.alliance.instrument)} {fmt_num(a.alliance.latest)}"
        index = a.alliance.index
    row = CaseloadRow(
        code=a.client,
        clinician=a.clinician,
        status=a.status,
        tier=a.tier,
        why=a.why,
        alliance_text=alliance_text,
        alliance_index=index,
        spark=spark,
        goal=GOAL_WORDS.get(a.goal.status, a.goal.status),
        outcome=outcome_compact(a),
        sessions=a.sessions,
        last_date=a.last_attended_date,
        order=order,
        analysis=a,
    )
    if hook is not None:
        hook(row)
    return row


ALLIANCE_TEXT_WIDTH = 8  # "SRS 38.5", "WAI 41"


def short_label(instrument: str) -> str:
    """The registry's short label ("WAI" for WAI-SR) for narrow cells."""
    from supervision_tui import instruments as reg

    inst = reg.get(instrument)
    return inst.label if inst is not None else instrument


# --- columns -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    render: Callable[[CaseloadRow], Text | str]
    width: int | None  # None: flexible (takes the remaining width)
    priority: int  # 0 = always shown; larger drops out first on narrow screens
    sort_key: Callable[[CaseloadRow], Any] | None = None
    sort_label: str = ""  # shown in the title when sorted by this column
    min_width: int = 8  # flexible column: never narrower
    want_width: int = 0  # flexible column: other columns only join while it keeps this
    max_width: int = 28  # fixed columns grow to their widest cell up to this (then "…")
    unless: str | None = None  # left out when this (fuller) column is shown
    # shorter forms of a cell's text, tried in turn when a cell is wider than the column; the whole
    # column takes the first one that fits every shown cell, so it reads alike from row to row
    compact: tuple[Callable[[str], str], ...] = ()
    # what the cell is made from (rows with the same value share one cell; default: the rendered cell)
    same: Callable[[CaseloadRow], Any] | None = None


#: Tier cell words of clients not triaged (no wider than the tier names: showing closed
#: clients never pushes a column out)
ENDED_WORDS = {"dropped_out": "dropped"}


def tier_cell(row: CaseloadRow) -> Text:
    t = Text(row.tier_text)
    if row.ended:
        t = Text(f"{TIERS[row.tier].symbol}{row.tier} {ENDED_WORDS.get(row.status, row.status.replace('_', ' '))}")
        t.stylize("dim")
    return t


def _alliance_cell(row: CaseloadRow) -> Text:
    t = Text(f"{row.alliance_text:<{ALLIANCE_TEXT_WIDTH}}")
    if row.spark:
        t.append(" ")
        t.append(row.spark)
    return t


def _last_cell(row: CaseloadRow) -> str:
    return row.last_date.isoformat() if row.last_date else "—"


#: Outcome sort: the worst verdict of the row first (deteriorated, no change, improved, recovered,
#: none); a symbol not listed here sorts with the worst (a new, urgent verdict is never buried)
_SEVERITY = {"✗": 0, "!": 1, "=": 2, "+": 3, "✓": 4}


def outcome_severity(text: str) -> int:
    """Sort rank of an Outcome cell ("ORS + PHQ-9 ✗" → 0): its worst verdict."""
    if not text or text == "—":
        return 5
    ranks = [_SEVERITY.get(tok[0], 1) for tok in text.replace(" rec.", "").split()[1::2] if tok]
    return min(ranks) if ranks else 5


def _outcome_no_rec(text: str) -> str:
    """"ORS ✓ rec. PHQ-9 =" → "ORS ✓ PHQ-9 =" (✓ alone means recovered)."""
    return text.replace(" rec.", "")


def _outcome_tight(text: str) -> str:
    """"ORS ✓ PHQ-9 =" → "ORS✓ PHQ-9=": every instrument kept, with its symbol."""
    return re.sub(r" ([+=✗!✓])", r"\1", _outcome_no_rec(text))


def _review_mark(row: CaseloadRow) -> Text:
    """``✓*`` from ``✓ discussed*``; blank when there is nothing to review."""
    if not row.review or row.review in ("—", "?"):
        return Text(row.review if row.review == "?" else "")
    return Text(row.review.split(" ", 1)[0] + ("*" if row.review.endswith("*") else ""))


COLUMNS: list[ColumnSpec] = [
    ColumnSpec("tier", "Tier", tier_cell, 10, 0, lambda r: (r.order,), "triage order",
               same=lambda r: (r.tier, r.status)),
    ColumnSpec("client", "Client", lambda r: r.code, 7, 0, lambda r: r.code, "client", same=lambda r: r.code),
    ColumnSpec("clinician", "Clinician", lambda r: r.clinician, 9, 1, lambda r: (r.clinician, r.order), "clinician",
               same=lambda r: r.clinician),
    # Why wants 28 cells before Clinician, Alliance and Outcome may join: at 80 columns it keeps the
    # room (Tier, Client, Why, Goal, Rev), at 120 all of Tier … Outcome and Rev fit. Tried: 26 cells
    # brings Clinician in at 80, but cuts a risk row's "not seen since" (the preview pane names the
    # selected row's clinician)
    ColumnSpec("why", "Why", lambda r: r.why, None, 0, None, "", 20, 28, same=lambda r: r.why),
    ColumnSpec(
        "alliance", "Alliance", _alliance_cell, ALLIANCE_TEXT_WIDTH + 1 + SPARK_WIDTH, 2,
        lambda r: (r.alliance_index is None, r.alliance_index if r.alliance_index is not None else 0.0, r.order),
        "alliance (lowest first)", same=lambda r: (r.alliance_text, r.spark),
    ),
    ColumnSpec("goal", "Goal", lambda r: r.goal, 9, 0, lambda r: (_goal_rank(r.goal), r.order), "goal",
               same=lambda r: r.goal),
    ColumnSpec("outcome", "Outcome", lambda r: r.outcome, 14, 3, lambda r: (outcome_severity(r.outcome), r.order),
               "outcome", max_width=26, compact=(_outcome_no_rec, _outcome_tight), same=lambda r: r.outcome),
    ColumnSpec("sessions", "Sess", lambda r: Text(str(r.sessions), justify="right"), 4, 6,
               lambda r: (-r.sessions, r.order), "sessions (most first)", same=lambda r: r.sessions),
    ColumnSpec("last", "Last seen", _last_cell, 10, 5,
               lambda r: (r.last_date is None, -(r.last_date.toordinal()) if r.last_date else 0, r.order),
               "last seen (latest first)", same=lambda r: r.last_date),
    # fixed width: "✓ discussed*" fits, so a review write updates one cell, never the layout
    ColumnSpec("review", "Review", lambda r: r.review, 12, 4, lambda r: (review_sort_key(r.review), r.order),
               "review status (new first)", max_width=12, same=lambda r: r.review),
    # narrow terminals: the review status as its symbol (the word is on the client screen)
    ColumnSpec("review-mark", "Rev", _review_mark, 3, 0, None, "", max_width=3, unless="review",
               same=lambda r: r.review),
]


def _goal_rank(word: str) -> int:
    order = ["disagreed", "not set", "stale", "partial", "agreed"]
    return order.index(word) if word in order else len(order)


def register_column(spec: ColumnSpec, before: str | None = None) -> None:
    """Add (or replace, by key) a column; ``before`` names the column it goes
    in front of (default: the end)."""
    for i, c in enumerate(COLUMNS):
        if c.key == spec.key:
            COLUMNS[i] = spec
            return
    if before is not None:
        for i, c in enumerate(COLUMNS):
            if c.key == before:
                COLUMNS.insert(i, spec)
                return
    COLUMNS.append(spec)




def sortable_columns() -> list[ColumnSpec]:
    return [c for c in COLUMNS if c.sort_key is not None]


def _distinct(spec: ColumnSpec, rows: Sequence[CaseloadRow]) -> Sequence[CaseloadRow]:
    """``rows`` with one row per distinct cell of this column (``spec.same``),
    to measure each cell once."""
    if spec.same is None:
        return rows
    seen: dict = {}
    for r in rows:
        seen.setdefault(spec.same(r), r)
    return list(seen.values())


def column_width(spec: ColumnSpec, rows: Sequence[CaseloadRow]) -> int:
    """Fixed columns grow to their widest cell (codes and outcomes vary)."""
    base = spec.width or spec.min_width
    widest = max((_cell_len(spec.render(r)) for r in _distinct(spec, rows[:400])), default=0)
    return max(len(spec.label), min(max(base, widest), spec.max_width))


def compact_width(spec: ColumnSpec, rows: Sequence[CaseloadRow]) -> int:
    """The width of a fixed column with ``compact`` forms when every cell
    takes its shortest form (its full :func:`column_width` without forms)."""
    full = column_width(spec, rows)
    if not spec.compact:
        return full
    shortest = spec.compact[-1]
    widest = max((cell_len(shortest(_plain(spec.render(r)))) for r in _distinct(spec, rows[:400])), default=0)
    return min(full, max(len(spec.label), spec.width or spec.min_width, widest))


def _plain(v: Text | str) -> str:
    return v.plain if isinstance(v, Text) else v


def _cell_len(v: Text | str) -> int:
    # (a plain string is measured as is: no Text built for it, once per cell of every fill)
    return v.cell_len if isinstance(v, Text) else cell_len(strip_control_codes(v))


def fit_columns(
    available: int,
    rows: Sequence[CaseloadRow],
    padding: int = 1,
    columns: Sequence[ColumnSpec] | None = None,
) -> list[tuple[ColumnSpec, int]]:
    """Choose the columns that fit ``available`` cells, in display order,
    with their widths. Priority-0 columns always stay; the flexible column
    (Why) keeps at least its ``min_width`` and takes what is left, up to
    its longest text."""
    cols = list(COLUMNS if columns is None else columns)
    widths = {c.key: column_width(c, rows) for c in cols if c.width is not None}
    flex = [c for c in cols if c.width is None]
    flex_need = {c.key: max([c.min_width, len(c.label)] + [_cell_len(c.render(r)) for r in _distinct(c, rows[:400])])
                 for c in flex}
    per = 2 * padding
    chosen = {c.key for c in cols if c.priority == 0}
    fixed_used = sum(widths[k] + per for k in chosen if k in widths)
    flex_want = sum(
        min(flex_need[c.key], max(c.min_width, c.want_width)) + per for c in flex if c.key in chosen
    )
    # strictly by priority: the first column that does not fit ends the list,
    # so the set of columns is predictable (a narrower column further down
    # never jumps in ahead of a more important one)
    for c in sorted((c for c in cols if c.priority > 0), key=lambda c: c.priority):
        if c.width is None:
            continue
        w = widths[c.key] + per
        if fixed_used + w + flex_want > available and c.compact:  # its cells in their short forms
            widths[c.key] = compact_width(c, rows)
            w = widths[c.key] + per
        if fixed_used + w + flex_want > available:
            break
        chosen.add(c.key)
        fixed_used += w
    for c in cols:  # a compact stand-in gives its room back when the full column fits
        if c.unless in chosen and c.key in chosen:
            chosen.discard(c.key)
            fixed_used -= widths[c.key] + per
    out: list[tuple[ColumnSpec, int]] = []
    spare = max(0, available - fixed_used - sum(c.min_width + per for c in flex if c.key in chosen))
    for c in cols:
        if c.key not in chosen:
            continue
        if c.width is None:
            w = min(flex_need[c.key], c.min_width + spare)
            spare -= w - c.min_width
            out.append((c, w))
        else:
            out.append((c, widths[c.key]))
    return out


def _shortening(spec: ColumnSpec, width: int, rows: Sequence[CaseloadRow]) -> Callable[[str], str] | None:
    """The first of ``spec.compact`` that fits every cell of ``rows`` in
    ``width`` (the last one when none does); None when the cells fit as they are."""
    texts = set(_plain(spec.render(r)) for r in rows)  # (few distinct texts: each measured once)
    if all(cell_len(t) <= width for t in texts):
        return None
    for form in spec.compact:
        if all(cell_len(form(t)) <= width for t in texts):
            return form
    return spec.compact[-1]


def _cell_maker(spec: ColumnSpec, width: int, shorten: Callable[[str], str] | None,
                styles: dict[int, str]) -> Callable[[CaseloadRow], Text]:
    """row -> the cell the table shows in this column: rendered, shortened
    to its compact form, truncated to ``width``, as ``Text`` (never markup:
    engine text may hold "[our default]"), the tier styled. Cells repeat a
    great deal (tiers, goal words, outcomes, review marks): each distinct
    cell is built once per fill and shared (the table never changes a cell)."""
    memo: dict[Any, Text] = {}
    is_tier = spec.key == "tier"
    render = spec.render
    same = spec.same
    flexible = spec.width is None

    def finish(v: Text | str, row: CaseloadRow) -> Text:
        if shorten is not None:
            v = shorten(_plain(v))
        if type(v) is str and len(v) <= width and v.isascii() and v.isprintable() and not flexible:
            pass  # (fits as it is: nothing to measure)
        elif flexible or _cell_len(v) > width:
            v = truncate(v.plain if isinstance(v, Text) else v, width)
        if not isinstance(v, Text):
            v = Text(v)
        if is_tier and not row.ended:
            v.stylize(styles.get(row.tier, ""))
        return v

    if same is not None:
        def make(row: CaseloadRow) -> Text:
            k = same(row)
            cell = memo.get(k)
            if cell is None:
                cell = finish(render(row), row)
                if len(memo) < 4096:
                    memo[k] = cell
            return cell
    else:
        def make(row: CaseloadRow) -> Text:
            v = render(row)
            k = (v.plain, str(v.style), v.justify, tuple(v.spans)) if isinstance(v, Text) else v
            cell = memo.get(k)
            if cell is None:
                cell = finish(v, row)
                if len(memo) < 4096:
                    memo[k] = cell
            return cell
    return make


def truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


# --- the widget -----------------------------------------------------------------------


FILL_FIRST = 400  # rows added at once by show_rows (the visible ones are among them)
FILL_CHUNK = 1000  # then this many per turn of the event loop


class CaseloadTable(FastDataTable):
    """A row-cursor DataTable with vi keys; enter posts ``RowSelected``.

    ``show_rows`` adds long lists in pieces (``FILL_FIRST``, then
    ``FILL_CHUNK`` per turn of the event loop; ``filling`` is True
    meanwhile and ``Filled`` is posted at the end); ``rows_shown`` always
    holds the whole list."""

    class Filled(Message):
        """Every row of the last ``show_rows`` is in the table."""

        def __init__(self, table: "CaseloadTable") -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> "CaseloadTable":
            return self.table

    BINDINGS = bindings("lists", "caseload-table")

    DEFAULT_CSS = """
    CaseloadTable {
        height: 1fr;
    }
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter is not offered while the caseload could not be opened
        (``SupervisionApp.action_allowed``)."""
        return app_of(self).action_allowed(action)

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_shown: list[CaseloadRow] = []
        self.layout_columns: list[tuple[ColumnSpec, int]] = []
        self._fill_generation = 0  # a new fill makes the chunks of an older one stop
        self.filling = False  # rows are still being added (see show_rows)

    def show_rows(self, rows: list[CaseloadRow], available: int, keep: str | None = None) -> None:
        """Fill the table with ``rows``; columns fitted to ``available``
        cells. The cursor goes to client ``keep`` when it is listed, else
        to row 0."""
        layout = fit_columns(available, rows or self.rows_shown, padding=self.cell_padding)
        same_layout = [(c.key, w) for c, w in layout] == [(c.key, w) for c, w in self.layout_columns]
        self.rows_shown = rows
        if not same_layout:
            self.clear(columns=True)
            self.layout_columns = layout
            for spec, w in layout:
                self.add_column(spec.label, width=w, key=spec.key)
        else:
            self.clear()
        styles = self._tier_styles()
        shorten = {spec.key: _shortening(spec, w, rows) for spec, w in self.layout_columns if spec.compact}
        makers = [_cell_maker(spec, w, shorten.get(spec.key), styles) for spec, w in self.layout_columns]
        idx = 0
        if rows and keep is not None:
            for i, r in enumerate(rows):
                if r.code == keep:
                    idx = i
                    break
        # A long list is added in pieces, one per turn of the event loop: the rows around the
        # cursor first (they are on the screen), the rest after, so that no fill holds the
        # screen and the keyboard for long (5 000 rows: ~0.2 s in one go). rows_shown has them all.
        self._fill_generation += 1
        generation = self._fill_generation
        first = max(FILL_FIRST, idx + FILL_FIRST // 2)

        def add(lo: int, hi: int) -> None:
            self.add_rows_fast([([make(row) for make in makers], row.code) for row in rows[lo:hi]])

        add(0, first)
        if rows:
            self.move_cursor(row=idx, animate=False, scroll=True)
        self.filling = first < len(rows)

        def more(lo: int) -> None:
            if generation != self._fill_generation or not self.is_mounted:
                return
            hi = lo + FILL_CHUNK
            add(lo, hi)
            if hi < len(rows):
                self.call_after_refresh(more, hi)  # (a repaint, and keys, between two pieces)
            else:
                self.filling = False
                self.post_message(self.Filled(self))

        if self.filling:
            self.call_after_refresh(more, first)

    def _tier_styles(self) -> dict[int, str]:
        if self.app.no_color:
            # NO_COLOR: Textual turns colours into greys by brightness, and the amber
            # of tier 3 came out brighter than the red of tiers 1-2. Text styles only,
            # never louder for a less urgent tier.
            return dict(NO_COLOR_TIER_STYLES)
        try:
            variables = self.app.theme_variables
        except Exception:
            return {}
        out = {}
        for tier, (var, bold) in TIER_STYLES.items():
            color = variables.get(var, "")
            if color.startswith("ansi_"):
                color = color[5:]  # Rich names the terminal palette without the prefix
            out[tier] = (("bold " if bold else "") + color).strip()
        return out

    @property
    def current_code(self) -> str | None:
        if not self.rows_shown or self.cursor_row < 0 or self.cursor_row >= len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row].code

    def cell_text(self, row: int, key: str) -> str:
        """Plain text of a shown cell (tests, palette)."""
        v = self.get_cell(self.rows_shown[row].code, key)
        return v.plain if isinstance(v, Text) else str(v)
