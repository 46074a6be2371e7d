"""The client screen: everything about one client, risk first.

Header and risk banner; alliance chart beside ruptures and goals (two
columns on a wide terminal, stacked on a narrow one); outcome charts (one
per instrument, each on its own scale with its clinical cut-off, side by
side when wide); outcome and attendance details; sessions table. All in
one scrolling column. ``left``/``right`` (or ``[``/``]``) move to the previous/next
client of the caseload's current list; ``escape`` goes back with the
caseload cursor on the client last shown.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from supervision_tui.ui.messages import ClientOpened
from supervision_tui.ui.widgets.charts import (
    AllianceChart,
    ChartPanel,
    OutcomeChart,
    alliance_title,
    outcome_legend,
    outcome_title,
)
from supervision_tui.ui.widgets.panels import (
    Panel,
    SessionsTable,
    client_header,
    goals_text,
    outcomes_text,
    risk_banner,
    ruptures_text,
)
from supervision_tui.ui.widgets.viewdata import ClientView

WIDE_MIN_WIDTH = 120


class ClientScreen(Screen[str | None]):
    """Dismisses with the code of the client shown last."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("left,left_square_bracket", "previous_client", "Prev client", id="previous-client", priority=True),
        Binding("right,right_square_bracket", "next_client", "Next client", id="next-client", priority=True),
        Binding("g", "focus_goals", "Goals", id="focus-goals"),
        Binding("j", "scroll_down", "Scroll down", show=False, id="scroll-down"),
        Binding("k", "scroll_up", "Scroll up", show=False, id="scroll-up"),
    ]

    def __init__(self, code: str, order: list[str] | None = None) -> None:
        super().__init__(id="client")
        self.code = code
        self.order = list(order) if order else [code]
        if code not in self.order:
            self.order = [code]
        self._outcome_instruments: list[str] = []

    @property
    def view(self) -> ClientView | None:
        data = getattr(self.app, "data", None)
        if data is None or self.code not in data.by_code:
            return None
        return data.view(self.code)

    def compose(self) -> ComposeResult:
        yield Static("", id="client-header", markup=False)
        yield Static("", id="risk-banner", markup=False)
        with VerticalScroll(id="client-body"):
            with Horizontal(id="client-grid"):
                with Vertical(id="col-main"):
                    yield ChartPanel(AllianceChart(id="alliance-chart"), id="alliance-panel")
                    yield Panel("", id="outcomes", markup=False)
                with Vertical(id="col-side"):
                    yield Panel("", id="ruptures", markup=False)
                    yield Panel("", id="goals", markup=False)
            yield Horizontal(id="outcome-charts")
            yield SessionsTable(id="sessions")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#ruptures").border_title = "Ruptures"
        self.query_one("#outcomes").border_title = "Outcomes · attendance"
        self.query_one("#sessions").border_title = "Sessions, latest first · report = post-session rupture report"
        self._apply_width(self.size.width or self.app.size.width)
        self.watch(self.app, "present", lambda _v: self._refresh_goals(), init=False)
        self.watch(self.app, "data_version", self._data_changed, init=False)
        self.show_client(self.code)
        self.query_one("#client-body").focus()

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(width >= WIDE_MIN_WIDTH, "-wide")

    # -- filling -------------------------------------------------------------------

    def show_client(self, code: str) -> None:
        self.code = code
        v = self.view
        header = self.query_one("#client-header", Static)
        banner = self.query_one("#risk-banner", Static)
        if v is None:
            header.update(f"{code}: not in the caseload (reloaded?) · esc back")
            banner.display = False
            return
        a = v.analysis
        pos = f"  ({self.order.index(code) + 1}/{len(self.order)} · ← → clients)" if len(self.order) > 1 else ""
        head = client_header(v)
        head.append(pos, style="dim")
        header.update(head)
        risk = risk_banner(a)
        banner.display = risk is not None
        if risk is not None:
            banner.update(risk)

        # alliance chart
        ap = self.query_one("#alliance-panel", ChartPanel)
        ap.border_title = alliance_title(v)
        chart = self.query_one("#alliance-chart", AllianceChart)
        chart.set_view(v)
        ap.set_legend(chart.legend())

        # outcome charts: one per instrument
        box = self.query_one("#outcome-charts", Horizontal)
        wanted = v.outcome_instruments
        if wanted != self._outcome_instruments:
            box.remove_children()
            panels = [
                ChartPanel(OutcomeChart(v, inst, classes="outcome-chart"), outcome_title(v, inst),
                           outcome_legend(v, inst), classes="outcome-panel")
                for inst in wanted
            ]
            if panels:
                box.mount(*panels)
            self._outcome_instruments = list(wanted)
        else:
            for panel, inst in zip(box.query(ChartPanel), wanted):
                panel.border_title = outcome_title(v, inst)
                panel.set_legend(outcome_legend(v, inst))
                panel.chart.set_view(v)
        box.display = bool(wanted)

        ruptures = self.query_one("#ruptures", Panel)
        open_n = sum(1 for e in a.episodes if e.status in ("open", "unrepaired"))
        ruptures.border_title = f"Ruptures · {len(a.episodes)} episode{'s' if len(a.episodes) != 1 else ''}" + (
            f" · {open_n} not repaired" if open_n else ""
        )
        ruptures.update(ruptures_text(v))
        self._refresh_goals()
        self.query_one("#outcomes", Panel).update(outcomes_text(v))
        self.query_one("#sessions", SessionsTable).show_view(v)
        self.query_one("#client-body").scroll_home(animate=False)
        self.post_message(ClientOpened(code))

    def _refresh_goals(self) -> None:
        v = self.view
        if v is None:
            return
        goals = self.query_one("#goals", Panel)
        g = v.analysis.goal
        goals.border_title = f"Goals · {g.status.replace('_', ' ').upper()}"
        goals.update(goals_text(v, present=bool(getattr(self.app, "present", False))))

    def _data_changed(self, _version=None) -> None:
        data = getattr(self.app, "data", None)
        if data is None:
            return
        self._outcome_instruments = []  # rebuild charts from the new data
        self.query_one("#outcome-charts").remove_children()
        self.show_client(self.code)

    # -- actions ---------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(self.code)

    def _step(self, delta: int) -> None:
        if len(self.order) < 2:
            self.notify("No other client in the current list", timeout=2)
            return
        i = self.order.index(self.code) if self.code in self.order else 0
        j = i + delta
        if j < 0 or j >= len(self.order):
            self.notify("First client of the list" if j < 0 else "Last client of the list", timeout=2)
            return
        self.show_client(self.order[j])

    def action_previous_client(self) -> None:
        self._step(-1)

    def action_next_client(self) -> None:
        self._step(+1)

    def action_focus_goals(self) -> None:
        goals = self.query_one("#goals", Panel)
        goals.focus()
        goals.scroll_visible(animate=False, top=True)

    def action_scroll_down(self) -> None:
        self.query_one("#client-body", VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#client-body", VerticalScroll).scroll_up(animate=False)
