"""The clinicians (supervisees) screen: patterns across each caseload.

Aggregates come from ``supervision_tui.reports.patterns`` (UI-free, also
used by the agenda). Enter on a clinician filters the caseload to them
and returns; enter on "All" clears the clinician filter.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from supervision_tui.reports.patterns import RECENT_SESSIONS, ClinicianPattern, clinician_patterns, total_pattern
from supervision_tui.rules.kinds import TIERS
from supervision_tui.ui.context import AppScreen
from supervision_tui.ui.keymap import bindings
from supervision_tui.ui.widgets.effectiveness import EffectivenessPanel
from supervision_tui.ui.widgets.footer import AppFooter
from supervision_tui.ui.widgets.review_panels import ModeBar
from supervision_tui.wording import percent

ALL_KEY = "__all__"
WIDE_MIN_WIDTH = 120


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{percent(x):d} %"


def _mean(p: ClinicianPattern) -> str:
    if p.mean_srs is not None and p.srs_clients == p.alliance_clients:
        return f"SRS {p.mean_srs:.1f}"
    if p.mean_alliance_index is not None:
        return f"idx {p.mean_alliance_index:.2f}"
    return "—"


def _actions_cell(n: int, overdue: int) -> Text:
    if not n:
        return Text("·", justify="right")  # a dot is quiet already: dim fell below 4.5:1 on the cursor row
    return Text(f"☐ {n}" + (f" ({overdue} overdue)" if overdue else ""), justify="right",
                style="bold" if overdue else "")


class CliniciansTable(DataTable):
    """The supervisees table. Narrower than its columns (80×24), the id
    column stays put (``fixed_columns``) and ← → page through the other
    columns a screenful at a time, not one character."""

    BINDINGS = bindings("lists", "clinicians-table")

    def action_cursor_right(self) -> None:  # a row cursor: → scrolled one character
        self._page(+1)

    def action_cursor_left(self) -> None:
        self._page(-1)

    action_scroll_right = action_cursor_right
    action_scroll_left = action_cursor_left

    def _page(self, direction: int) -> None:
        fixed = sum(c.get_render_width(self) for c in self.ordered_columns[: self.fixed_columns])
        step = max(1, self.scrollable_content_region.width - fixed)
        # land on a column edge, so no column is shown cut at the left
        edges = []
        x = 0
        for column in self.ordered_columns[self.fixed_columns:]:
            edges.append(x)
            x += column.get_render_width(self)
        target = self.scroll_x + direction * step
        if direction > 0:
            target = max([e for e in edges if e <= target] or [0])
            if target <= self.scroll_x:
                target = min([e for e in edges if e > self.scroll_x] or [self.scroll_x])
        else:
            target = min([e for e in edges if e >= target] or [0])
        self.scroll_to(x=max(0, target), animate=False)


class CliniciansScreen(AppScreen[str | None]):
    """Dismisses with a clinician id, ``""`` for all, or None (no change)."""

    BINDINGS = bindings("clinicians")
    HELP_TITLE = "Keys · clinicians"

    def __init__(self, current: str | None = None) -> None:
        super().__init__(id="clinicians")
        self.current = current
        self.patterns: list[ClinicianPattern] = []
        self._wide: bool | None = None
        self._filled_width = 0

    def compose(self) -> ComposeResult:
        yield ModeBar()
        yield Static("Supervisees · enter filters the caseload to one · esc back", id="clinicians-header", markup=False)
        with Vertical(id="clinicians-box"):
            yield CliniciansTable(id="clinicians-table", cursor_type="row", fixed_columns=1)
            with VerticalScroll(id="clinicians-more"):
                # clinical-rules §11: effectiveness per supervisee with intervals (computed with the load)
                yield EffectivenessPanel(id="clinicians-effects")
                yield Static("", id="clinicians-notes", markup=False)
        yield AppFooter()

    def on_mount(self) -> None:
        box = self.query_one("#clinicians-box")
        box.border_title = "Supervisees"
        self.watch(self.app, "data_version", lambda _v: self.fill(), init=False)
        self.watch(self.app, "reviews_version", lambda _v: self.fill(), init=False)
        self.fill()
        self.query_one(CliniciansTable).focus()

    def on_resize(self, event) -> None:
        if event.size.width != self._filled_width:
            self.fill()

    def _room(self) -> int:
        """Cells the table can use: the screen less the box border and scrollbar."""
        return (self.size.width or self.app.size.width) - 3

    def fill(self) -> None:
        """The full table when it fits the width (one column per tier, long
        labels, counts in brackets), else the compact one."""
        data = self.sup.data
        table = self.query_one(CliniciansTable)
        keep = table.cursor_row if table.row_count else None
        self._filled_width = self.size.width or self.app.size.width
        if data is None:
            table.clear(columns=True)
            self.query_one(EffectivenessPanel).show(None, "Effectiveness: computing with the caseload…")
            return
        self.query_one(EffectivenessPanel).show(list(getattr(data, "effects", None) or []))
        wide = self._room() >= WIDE_MIN_WIDTH - 3
        if wide:
            self._fill(data, table, keep, wide=True)
            wide = sum(c.get_render_width(table) for c in table.ordered_columns) <= self._room()
        if not wide:
            self._fill(data, table, keep, wide=False)
        self._wide = wide

    def _fill(self, data, table: CliniciansTable, keep: int | None, *, wide: bool) -> None:
        table.clear(columns=True)
        clinicians = {cid: data.caseload.clinicians.get(cid) for cid in data.clinicians}
        self.patterns = clinician_patterns(data.analyses, data.records, clinicians,
                                           missing_recent=getattr(data, "missing_recent", None))
        tier_header = " ".join(f"{TIERS[t].symbol}{t}" for t in range(1, 8))
        cols: list[tuple[str, str]] = [("clinician", "Clinician"), ("role", "Role"), ("clients", "Clients")]
        if wide:
            cols += [(f"t{t}", f"{TIERS[t].symbol}{t}") for t in range(1, 8)]
        else:
            cols.append(("tiers", tier_header))
        cols += [
            ("ruptures", "Ruptures open/unrep." if wide else "Rupt o/u"),
            ("repair", "Repair rate" if wide else "Repair"),
            ("alliance", "Mean alliance" if wide else "Alliance"),
            ("det", "Deteriorated" if wide else "Det."),
            ("rec", "Recovered" if wide else "Rec."),
            ("missing", "No recent"),
            ("actions", "Actions"),
        ]
        counts = self.sup.reviews.open_action_counts(data.by_code, data.as_of)
        total_open = sum(n for n, _o in counts.values())
        total_overdue = sum(o for _n, o in counts.values())
        for key, label in cols:
            table.add_column(label, key=key)
        rows = [*self.patterns, total_pattern(self.patterns)]
        for p in rows:
            is_all = p.clinician == "All"
            cells = [
                Text(p.clinician, style="bold" if is_all else ""),
                Text("" if is_all else (p.role or "—")),
                Text(str(p.clients), justify="right"),
            ]
            if wide:
                cells += [
                    Text(str(p.tiers.get(t, 0)) if p.tiers.get(t, 0) else "·", justify="right",
                         style="bold" if t <= 3 and p.tiers.get(t, 0) else "")
                    for t in range(1, 8)
                ]
            else:
                tiers = Text()
                for i, t in enumerate(range(1, 8)):
                    n = p.tiers.get(t, 0)
                    if i:
                        tiers.append(" ")
                    tiers.append(f"{n if n else '·':>2}", style="bold" if t <= 3 and n else "")
                cells.append(tiers)
            repaired = p.ruptures_repaired
            done = p.ruptures_repaired + p.ruptures_unrepaired
            cells += [
                Text(f"{p.ruptures_open} / {p.ruptures_unrepaired}", justify="center"),
                Text(_pct(p.repair_rate) + (f" ({repaired}/{done})" if wide and done else ""), justify="right"),
                Text(_mean(p), justify="right"),
                Text(_pct(p.pct_deteriorated) + (f" ({p.deteriorated})" if wide and p.deteriorated else ""),
                     justify="right"),
                Text(_pct(p.pct_recovered) + (f" ({p.recovered})" if wide and p.recovered else ""), justify="right"),
                Text(str(len(p.missing_recent)), justify="right"),
                _actions_cell(*((total_open, total_overdue) if is_all else counts.get(p.clinician, (0, 0)))),
            ]
            table.add_row(*cells, key=ALL_KEY if is_all else p.clinician)
        idx = 0
        if keep is not None:
            idx = keep
        elif self.current:
            for i, p in enumerate(self.patterns):
                if p.clinician == self.current:
                    idx = i
        table.move_cursor(row=idx, animate=False)
        notes = Text()
        notes.append(
            "Active and paused clients, and any client with an active risk. Repair rate = repaired / (repaired + unrepaired) episodes "
            "(open ones not counted). Mean alliance: latest SRS when every client is on SRS, else the "
            "mean latest alliance index 0–1. Det./Rec.: % of clients with two or more outcome ratings "
            f"with any outcome deteriorated / recovered. No recent: no client alliance rating "
            f"in the last {RECENT_SESSIONS} sessions. Actions: open action items (not done), by owner "
            "(else the client's clinician), carried forward until done. Role: as recorded for the "
            "clinician (— when not recorded).",
            style="dim",
        )
        for p in self.patterns:
            if p.missing_recent:
                codes = p.missing_recent
                notes.append(f"\n{p.clinician} no recent alliance: ", style="bold")
                notes.append(f"{', '.join(codes[:12])}{' …' if len(codes) > 12 else ''}")
        if table.virtual_size.width > self._room() or not wide:
            notes.append("\n← → page through the columns (the clinician stays)", style="dim")
        self.query_one("#clinicians-notes", Static).update(notes)

    @on(DataTable.RowSelected, "#clinicians-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        self.dismiss("" if key == ALL_KEY else key)

    def action_choose(self) -> None:
        table = self.query_one(CliniciansTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            self.dismiss("" if key == ALL_KEY else key)

    def action_back(self) -> None:
        self.dismiss(None)
