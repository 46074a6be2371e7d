"""The client screen: everything about one client, risk first.

Header and risk banner; alliance chart beside ruptures and goals (two
columns on a wide terminal, stacked on a narrow one); outcome charts (one
per instrument, each on its own scale with its clinical cut-off, side by
side when wide); outcome and attendance details; sessions table. All in
one scrolling column. ``left``/``right`` (or ``[``/``]``) move to the previous/next
client of the caseload's current list; ``escape`` goes back with the
caseload cursor on the client last shown.

Review workflow (side column, top): the Review list has one entry per flag,
most urgent first (risk, outcome, rupture episode, goal, attendance), then
the client as a whole, each with its status, who/when, what changed since and the note;
``r`` sets the highlighted entry's status (a small dialog: five statuses
on single keys, optional note), ``n`` adds/edits its note. A note is saved
only over the note the dialog began with: when someone else saved another
one meanwhile, nothing is saved and the note dialog comes back with both
texts (``dialogs.save_note``); a status alone is always saved. The Actions
list holds the client's action items (``x`` adds one, ``d`` marks the
highlighted one done/undone). Notes and action texts are hidden while
presenting. Writes refresh these panels in place (no reload).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from supervision_tui.rules.kinds import REGISTRY
from supervision_tui.service.reviews import status_text, who_when
from supervision_tui.ui.filters import tier_label
from supervision_tui.ui.context import AppScreen, PaletteCommand
from supervision_tui.ui.keymap import bindings, hint_key
from supervision_tui.ui.widgets.charts import (
    AllianceChart,
    ChartPanel,
    OutcomeChart,
    alliance_title,
    outcome_legend,
    outcome_titles,
)
from supervision_tui.ui.widgets.footer import AppFooter
from supervision_tui.ui.widgets.panels import (
    Panel,
    SessionsTable,
    goals_text,
    outcomes_text,
    risk_banner,
    ruptures_text,
)
from supervision_tui.ui.widgets.review_panels import ActionList, ModeBar, ReviewList
from supervision_tui.ui.widgets.viewdata import ClientDisplay, instrument_order

WIDE_MIN_WIDTH = 120


def last_seen(v: ClientDisplay, missed: bool = True) -> str:
    """When the client was last seen: the latest *attended* session (the
    caseload's Last seen, ``ClientAnalysis.last_attended_date``), never a
    no-show or cancellation (a supervisor must not read one as contact),
    with the sessions missed since (``missed``): ``last seen 2026-10-26
    (3 missed since)``; ``not seen yet (2 missed)``; "" without sessions."""
    a = v.analysis
    if a.latest_date is None:
        return ""
    n = a.attendance.missed if missed else 0  # the trailing run of sessions not attended
    if a.last_attended_date is None:
        return "not seen yet" + (f" ({n} missed)" if n else "")
    return f"last seen {a.last_attended_date.isoformat()}" + (f" ({n} missed since)" if n else "")


def _facts(v: ClientDisplay, start: bool, missed: bool) -> Text:
    """code · clinician · status (with the start date: ``start``) ·
    sessions · last seen (with the sessions missed since: ``missed``)."""
    a = v.analysis
    c = v.record.client
    since = c.started or (v.record.sessions[0].date if v.record.sessions else None)
    t = Text()
    t.append(a.client, style="bold")
    t.append(f" · {a.clinician or '—'} · ")
    status = a.status.replace("_", " ")
    if since is None or not start:
        t.append(status)
    elif a.status == "active":  # active since the start: true
        t.append(f"{status} since {since.isoformat()}")
    else:  # paused/closed/dropped out: the start date is not when that began
        t.append(f"started {since.isoformat()} · {status}")
    t.append(f" · {a.sessions} session{'s' if a.sessions != 1 else ''}")
    seen = last_seen(v, missed)
    if seen:
        t.append(f" · {seen}")
    return t


def _why_after(label: str, why: str | None) -> str:
    """The why after the tier's label, without the words the label just
    said: tier 7's why is "no flag" or "no flag; risk at s2 re-screened
    negative at s3", after "7 no flag" that is nothing or the rest."""
    name = label.split(" ", 1)[-1]
    if not why or why == name:
        return ""
    if why.startswith(f"{name}; "):
        return why[len(name) + 2:]
    return why


def client_header(v: ClientDisplay, width: int | None = None, suffix: Text | None = None) -> Text:
    """One line: code · clinician · "active since <start>" (else "started
    <start> · closed") · sessions · last seen · tier: why, then ``suffix``.
    When that is wider than ``width`` cells, the tier and why start a
    second line instead of wrapping mid-phrase; when the facts alone are
    wider, the start date goes first (the sessions missed since the last
    contact matter more to a supervisor), then the missed count."""
    a = v.analysis
    t = _facts(v, True, True)
    if width is not None:
        for start, missed in ((False, True), (False, False)):
            if t.cell_len <= width:
                break
            t = _facts(v, start, missed)
    tier = Text()
    label = tier_label(a.tier).lstrip()  # (tier 7 has a blank symbol: " 7 no flag")
    tier.append(label, style="bold")
    why = _why_after(label, a.why)
    if why:
        tier.append(f": {why}")
    if suffix is not None:
        tier.append_text(suffix)
    if width is not None and t.cell_len + 3 + tier.cell_len > width:
        t.append("\n")
    else:
        t.append(" · ")
    t.append_text(tier)
    return t


class ClientScreen(AppScreen[str | None]):
    """Dismisses with the code of the client shown last. The app keeps one
    per place clients are opened from (``SupervisionApp.show_client``)."""

    BINDINGS = bindings("client")
    HELP_TITLE = "Keys · client"

    def __init__(self, code: str, order: list[str] | None = None, *, id: str = "client") -> None:
        super().__init__(id=id)
        self.code = code
        self.order = list(order) if order else [code]
        if code not in self.order:
            self.order = [code]
        self._outcome_panels: dict[str, ChartPanel] = {}  # instrument -> its chart, in registry order
        self._styled_theme: str | None = None  # the theme its styles were last computed for

    @property
    def view(self) -> ClientDisplay | None:
        data = self.sup.data
        if data is None or self.code not in data.by_code:
            return None
        return data.view(self.code)

    def compose(self) -> ComposeResult:
        # the layout class before the children exist: styled once, not restyled after mounting
        self._apply_width(self.app.size.width)
        yield ModeBar()
        yield Static("", id="client-header", markup=False)
        yield Static("", id="risk-banner", markup=False)
        with VerticalScroll(id="client-body"):
            with Horizontal(id="client-grid"):
                with Vertical(id="col-main"):
                    yield ChartPanel(AllianceChart(id="alliance-chart"), id="alliance-panel")
                    yield Panel("", id="outcomes", markup=False)
                with Vertical(id="col-side"):
                    yield ReviewList(id="review-list")
                    yield ActionList(id="action-list")
                    yield Panel("", id="ruptures", markup=False)
                    yield Panel("", id="goals", markup=False)
            yield Horizontal(id="outcome-charts")
            yield SessionsTable(id="sessions")
        yield AppFooter()

    def reopen(self, code: str, order: list[str] | None = None) -> None:
        """Show ``code`` (in ``order``) in this screen, already built: the app
        keeps one client screen and refills it for every client it opens,
        which costs a fraction of composing its ~90 widgets again."""
        self.order = list(order) if order else [code]
        if code not in self.order:
            self.order = [code]
        if not self.is_mounted:  # not shown yet: on_mount fills it
            self.code = code
            return
        self._apply_width(self.app.size.width)  # the terminal may have changed meanwhile
        self._hold_paint()
        self.show_client(code)
        self._focus_flags()

    def _hold_paint(self) -> None:
        """No frame until the refilled widgets have reported their new sizes.

        They report them to the screen a moment after the refill; a frame
        painted before that shows the previous client's layout and is painted
        again a frame later. Holding the paint (``App.batch_update``) until the
        screen is next idle gives one complete frame, sooner; never longer
        than a quarter of a second."""
        hold = ExitStack()
        hold.enter_context(self.app.batch_update())
        self.call_after_refresh(hold.close)  # runs once the screen's queue is empty
        self.set_timer(0.25, hold.close)  # (closing twice is a no-op)

    def on_mount(self) -> None:
        self.query_one("#ruptures").border_title = "Ruptures"
        self.query_one("#outcomes").border_title = "Outcomes · attendance"
        self.query_one("#sessions").border_title = ("Sessions, latest first · risk: ⚠ yes endorsed, no screened negative, — not asked"
                                                   " · report = post-session rupture report")
        self._apply_width(self.size.width or self.app.size.width)
        self.watch(self.app, "present", lambda _v: self._present_changed(), init=False)
        self.watch(self.app, "data_version", self._data_changed, init=False)
        self.watch(self.app, "reviews_version", lambda _v: self._refresh_review(), init=False)
        self.show_client(self.code)
        self._focus_flags()

    def on_screen_resume(self, event) -> None:
        """Textual restyles every widget of a screen it pushes. This screen is
        pushed again for every client (``reopen``) and nothing in its styles
        changes meanwhile unless the theme does: skip the restyle of its ~90
        widgets then (this handler runs before Textual's own)."""
        if self._styled_theme == self.app.theme:
            event.refresh_styles = False
        self._styled_theme = self.app.theme

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)
        self._update_header()

    def _update_header(self) -> None:
        """Header line(s): on a narrow terminal the tier and why go to a
        second line rather than wrapping in the middle of "▲1 risk"."""
        v = self.view
        if v is None:
            return
        width = (self.size.width or self.app.size.width) - 2  # padding
        head = client_header(v, width=width)
        if len(self.order) > 1 and self.code in self.order:
            n = f"{self.order.index(self.code) + 1}/{len(self.order)}"
            moves = f"{hint_key(self, 'previous-client')} {hint_key(self, 'next-client')}"
            for hint in (f"  ({n} · {moves} clients)", f"  ({n})"):  # the short one when the long one would wrap
                head = client_header(v, width=width, suffix=Text(hint, style="dim"))
                if max(line.cell_len for line in head.split("\n")) <= width:
                    break
        self.query_one("#client-header", Static).update(head)

    def _apply_width(self, width: int) -> None:
        self.set_class(width >= WIDE_MIN_WIDTH, "-wide")

    # -- filling -------------------------------------------------------------------

    def show_client(self, code: str) -> None:
        self.code = code
        v = self.view
        header = self.query_one("#client-header", Static)
        banner = self.query_one("#risk-banner", Static)
        if v is None:
            header.update(f"{code}: not in the caseload (reloaded?) · {hint_key(self, 'back')} back")
            banner.display = False
            return
        a = v.analysis
        self._update_header()
        risk = risk_banner(a)
        banner.display = risk is not None
        if risk is not None:
            banner.update(risk)

        # alliance chart
        ap = self.query_one("#alliance-panel", ChartPanel)
        ap.set_title(alliance_title(v))
        chart = self.query_one("#alliance-chart", AllianceChart)
        chart.set_view(v)
        ap.set_legend(chart.legend())

        # outcome charts: one panel per instrument, built the first time a client has
        # that instrument and kept (hidden for clients without it): mounting plot
        # widgets anew for each client cost more than refilling the whole screen
        box = self.query_one("#outcome-charts", Horizontal)
        wanted = v.outcome_instruments
        panels = self._outcome_panels
        for inst in wanted:
            panel = panels.get(inst)
            if panel is None:
                panel = panels[inst] = ChartPanel(OutcomeChart(v, inst, classes="outcome-chart"),
                                                  outcome_titles(v, inst), outcome_legend(v, inst),
                                                  classes="outcome-panel")
                order = instrument_order(inst)
                later = min(((instrument_order(i), p) for i, p in panels.items() if instrument_order(i) > order),
                            default=(None, None), key=lambda op: op[0])[1]
                box.mount(panel, before=later)  # in registry order, as `wanted`
            else:
                panel.set_title(outcome_titles(v, inst))
                panel.set_legend(outcome_legend(v, inst))
                panel.chart.set_view(v)
            panel.display = True
        for inst, panel in panels.items():
            if inst not in wanted:
                panel.display = False
        box.display = bool(wanted)

        ruptures = self.query_one("#ruptures", Panel)
        open_n = sum(1 for e in a.episodes if e.status in ("open", "unrepaired"))
        ruptures.border_title = f"Ruptures · {len(a.episodes)} episode{'s' if len(a.episodes) != 1 else ''}" + (
            f" · {open_n} not repaired" if open_n else ""
        )
        ruptures.update(ruptures_text(v))
        self._refresh_goals()
        self._refresh_review()
        self.query_one("#outcomes", Panel).update(outcomes_text(v))
        self.query_one("#sessions", SessionsTable).show_view(v)
        self.query_one("#client-body").scroll_home(animate=False)

    def _refresh_goals(self) -> None:
        v = self.view
        if v is None:
            return
        goals = self.query_one("#goals", Panel)
        g = v.analysis.goal
        goals.border_title = f"Goals · {g.status.replace('_', ' ').upper()}"
        goals.update(goals_text(v, present=self.sup.present))

    def _present_changed(self) -> None:
        self._refresh_goals()
        self._refresh_review()

    def _refresh_review(self) -> None:
        """The Review and Actions panels (after a write, a poll, presenting)."""
        v = self.view
        if v is None:
            return
        app = self.sup
        state = app.reviews.state(v.analysis)
        self.query_one(ReviewList).show_state(v.analysis, state, app.present)
        as_of = app.data.as_of if app.data is not None else None
        self.query_one(ActionList).show_items(list(state.actions), app.present, as_of)

    # -- review workflow ----------------------------------------------------------------

    def _target(self):
        """(flag or None for the client, a one-line name) of the highlighted review entry."""
        lst = self.query_one(ReviewList)
        flag = lst.highlighted_flag
        v = self.view
        if flag is None:
            return None, f"{self.code} · the client as a whole"
        return flag, f"{self.code} · {REGISTRY.describe(flag, v.analysis if v else None)}"

    def _review_list_shown(self) -> ReviewList:
        lst = self.query_one(ReviewList)
        if not lst.has_focus:
            lst.focus()
            lst.scroll_visible(animate=False)
        return lst

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield (f"Review the highlighted flag of {self.code}…", self.action_review,
               "Set the status of the flag highlighted in the Review list")
        yield f"Note on the highlighted flag of {self.code}", self.action_note, "Add or edit a private note"
        yield f"Add an action item for {self.code}", self.action_add_action, "Text, owner, due date"
        yield "Action item done / undone", self.action_toggle_action, "The item highlighted in Actions"

    def action_review(self) -> None:
        from supervision_tui.ui.screens.dialogs import ReviewChoice, ReviewDialog, save_note

        app = self.sup
        v = self.view
        if v is None or not app.can_write():
            return
        self._review_list_shown()
        flag, name = self._target()
        review = app.reviews.state(v.analysis).review_of(flag)
        now = status_text(review.status)
        if review.review is not None:
            now += f" by {who_when(review)}"
        explain = ""
        if flag is not None and review.changed and review.status != "new" and review.change:
            explain = f"* changed since reviewed: {review.change}"
        code = self.code
        note = review.review.note if review.review is not None else None

        def chosen(choice: ReviewChoice | None) -> None:
            if choice is None or self.view is None:
                return

            def done(_outcome) -> None:
                what = "client" if flag is None else REGISTRY.short(flag)
                self.notify(f"{code} {what}: {choice.status}", timeout=3)

            if choice.note is None:  # the status only: never refused for a note changed meanwhile
                outcome = self._save_review(code, flag, choice.status, None, None)
                if app.apply(outcome) is not None:
                    done(outcome)
                return
            save_note(app, name, choice.note, note,
                      lambda text, expected: self._save_review(code, flag, choice.status, text, expected),
                      done, status=choice.status)

        app.push_screen(ReviewDialog(name, review.status, now, note, explain), chosen)

    def _save_review(self, code: str, flag, status: str | None, note: str | None, expected: str | None):
        """One review write of ``code`` (``flag`` None: the client as a
        whole); a note is compared with ``expected``, the note the edit
        began from (``ReviewService.set_review``)."""
        from supervision_tui.service.reviews import NO_CHECK, Notice, Outcome

        app = self.sup
        analysis = app.data.by_code.get(code) if app.data else None
        if analysis is None:
            return Outcome(notice=Notice(f"{code} is not in the caseload any more (reloaded?): not saved", "warning"))
        return app.reviews.set_review(analysis, flag, status, note, expect_note=NO_CHECK if note is None else expected)

    def action_note(self) -> None:
        from supervision_tui.ui.screens.dialogs import NoteDialog, save_note

        app = self.sup
        v = self.view
        if v is None or not app.can_write():
            return
        self._review_list_shown()
        flag, name = self._target()
        review = app.reviews.state(v.analysis).review_of(flag)
        note = review.review.note if review.review is not None else None
        code = self.code

        def chosen(text: str | None) -> None:
            if text is None:
                return

            def done(outcome) -> None:
                what = "client" if flag is None else REGISTRY.short(flag)
                self.notify(f"{code} {what}: note {'saved' if outcome.value.note else 'cleared'}", timeout=3)

            save_note(app, name, text, note, lambda t, expected: self._save_review(code, flag, None, t, expected), done)

        app.push_screen(NoteDialog(name, note), chosen)

    def action_add_action(self) -> None:
        from supervision_tui.ui.screens.dialogs import ActionDialog, ActionDraft

        app = self.sup
        v = self.view
        if v is None or not app.can_write():
            return
        code = self.code
        flag = self.query_one(ReviewList).highlighted_flag

        data = app.data
        known = None
        if data is not None:  # the owner must be a clinician of the caseload (a supervisee or supervisor)
            known = set(data.caseload.clinicians) | {a.clinician for a in data.analyses if a.clinician}

        def chosen(draft: ActionDraft | None) -> None:
            if draft is None:
                return
            outcome = app.reviews.add_action(code, draft.text, draft.owner, draft.due, flag)
            item = app.apply(outcome)
            if outcome.busy or outcome.notice is not None:  # nothing saved: the dialog comes back with what was typed
                failed = None if outcome.busy else outcome.notice.message
                app.push_screen(ActionDialog(code, draft.owner, known_owners=known, draft=draft, failed=failed),
                                chosen)
                return
            if item is not None:
                actions = self.query_one(ActionList)
                ids = [o.id for o in actions.options]
                if item.id in ids:
                    actions.highlighted = ids.index(item.id)
                due = f", due {item.due.isoformat()}" if item.due else ""
                self.notify(f"{code}: action item added (owner {item.owner or '—'}{due})", timeout=3)

        app.push_screen(ActionDialog(code, v.analysis.clinician or None, known_owners=known), chosen)

    def action_toggle_action(self) -> None:
        app = self.sup
        v = self.view
        if v is None or not app.can_write():
            return
        actions = self.query_one(ActionList)
        item = actions.highlighted_item
        if item is None:
            self.notify(f"No action items for {self.code} · {hint_key(self, 'add-action')} adds one", timeout=3)
            return
        if not actions.has_focus:
            actions.focus()
            actions.scroll_visible(animate=False)
        done = app.apply(app.reviews.toggle_action(item))
        if done is not None:
            self.notify(f"{self.code}: action item {'done' if done.done else 'open again'}", timeout=3)

    def _data_changed(self, _version=None) -> None:
        if self.sup.data is None:
            return
        self.show_client(self.code)  # the charts are redrawn from the new data

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

    def action_page_down(self) -> None:
        self.query_one("#client-body", VerticalScroll).scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.query_one("#client-body", VerticalScroll).scroll_page_up(animate=False)

    def action_page_top(self) -> None:
        self.query_one("#client-body", VerticalScroll).scroll_home(animate=False)

    def action_page_bottom(self) -> None:
        self.query_one("#client-body", VerticalScroll).scroll_end(animate=False)

    def _focus_flags(self) -> None:
        """The review list has the focus when a client opens: ↑↓ move its
        highlight (the flag ``r`` and ``n`` act on), page keys scroll the screen."""
        lst = self.query_one(ReviewList)
        lst.focus(scroll_visible=False)

