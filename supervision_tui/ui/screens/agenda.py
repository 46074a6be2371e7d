"""The weekly agenda screen (``a``): what a supervision meeting walks
through, in clinical-rules §8 order, built with ``reports.agenda`` from the
data the app has already loaded (no re-analysis).

One line per item: NEW (triggering session on or after "new since"),
client, clinician, kind, review status, session, the engine's detail. The
panel under the list shows the highlighted item in full (review who/when,
note and goal text unless presenting). ``enter`` opens the client on top
of the agenda (``←``/``→`` walk the agenda's clients, ``esc`` comes back);
on a supervisee's line it filters the caseload to them. ``s`` changes
"new since"; ``e`` exports Markdown + HTML without notes, ``E`` with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from supervision_tui.errors import UserError
from supervision_tui.reports.agenda import Agenda, AgendaAction, AgendaItem, since_after_day
from supervision_tui.rules.kinds import REGISTRY, TIERS
from supervision_tui.service.reviews import STATUS_SYMBOLS, status_text
from supervision_tui.ui.context import AppScreen, PaletteCommand
from supervision_tui.ui.keymap import bindings
from supervision_tui.ui.widgets.footer import AppFooter
from supervision_tui.ui.widgets.panels import HIDDEN_TEXT
from supervision_tui.ui.widgets.review_panels import ModeBar
from supervision_tui.wording import percent

COMPACT_WIDTH = 110


def kind_label(it: AgendaItem) -> str:
    """The kind column: ``▲ PHQ-9 worse`` (the flag kind's own wording)."""
    return REGISTRY.agenda_label(it.flag)


KIND_WIDTH = 13  # the narrowest kind column ("⚠ re-screened")


def kind_width(items: Iterable[AgendaItem]) -> int:
    """The kind column's width for ``items``: their widest label (in
    terminal cells), so a long one (``▲ ORS not on track``) never pushes
    the review and session columns of its line out of line."""
    return max([KIND_WIDTH, *(cell_len(kind_label(it)) for it in items)])


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def goal_scrubber(agenda: Agenda):
    """Replace any goal description inside engine text (presenting)."""
    texts = [g for g in agenda.goal_texts if len(g) >= 4]

    def scrub(text: str) -> str:
        for g in texts:
            if g in text:
                text = text.replace(g, HIDDEN_TEXT)
        return text

    return scrub


def item_line(it: AgendaItem, compact: bool, scrub=None, width: int = KIND_WIDTH) -> Text:
    """One agenda line; ``width`` is the kind column's (``kind_width`` of
    every item listed, so all lines align)."""
    f = it.flag
    t = Text()
    if it.new:
        t.append("NEW", style="bold reverse")
        t.append(" ")
    else:
        t.append("    ")
    t.append(f"{f.client:<7}", style="bold")
    t.append(f" {f.clinician or '—':<4}")
    t.append(f" {_pad(kind_label(it), width)}")
    t.append(f" {status_text(it.review.status, it.review.changed):<12}",
             style="bold" if it.review.status == "new" else "")
    where = f"s{it.session}" if it.session is not None else "—"
    if not compact and it.date is not None:
        where += f" {it.date.isoformat()}"
    t.append(f" {where:<{15 if not compact else 4}}")
    if it.client_status not in ("active", "paused"):
        t.append(f" [{it.client_status.replace('_', ' ')}]", style="bold")
    detail = " ".join(f.detail.split())
    for m in it.more:  # the client's other flags in this subsection (each client is listed once)
        detail += f" · also {kind_label(m)}: {' '.join(m.flag.detail.split())}"
    t.append(f" {scrub(detail) if scrub else detail}")
    return t


def action_line(a: AgendaAction, present: bool) -> Text:
    it = a.item
    t = Text()
    if a.overdue:
        t.append("OVERDUE", style="bold reverse")
        t.append(" ")
    else:
        t.append("        ")
    t.append(f"{it.client:<7}", style="bold")
    t.append(f" {a.clinician or '—':<4}")
    t.append(f" {STATUS_SYMBOLS['action']} ")
    facts = [f"owner {it.owner}" if it.owner else "no owner",
             f"due {it.due.isoformat()}" if it.due else "no due date"]
    t.append(" · ".join(facts))
    t.append(" · ")
    if present:
        t.append(HIDDEN_TEXT, style="dim italic")
    else:
        t.append(" ".join(it.text.split()))
    return t


def pattern_line(p, open_actions: tuple[int, int] | None) -> Text:
    t = Text()
    t.append(f"{p.clinician:<7}", style="bold")
    t.append(f" {(p.role or '—'):<8}")
    t.append(f" {p.clients:>2} client{'s' if p.clients != 1 else ' '}")
    tiers = " ".join(f"{TIERS[n].symbol}{n}:{p.tiers[n]}" for n in sorted(p.tiers) if p.tiers.get(n) and n <= 6)
    t.append(f" · {tiers or 'nothing flagged'}")
    t.append(f" · ruptures open {p.ruptures_open} / unrep. {p.ruptures_unrepaired}")
    rate = p.repair_rate
    t.append(f" · repair {'—' if rate is None else f'{percent(rate)} %'}")
    if p.mean_srs is not None and p.srs_clients == p.alliance_clients:
        t.append(f" · SRS {p.mean_srs:.1f}")
    elif p.mean_alliance_index is not None:
        t.append(f" · alliance idx {p.mean_alliance_index:.2f}")
    det = p.pct_deteriorated
    t.append(f" · deteriorated {'—' if det is None else f'{percent(det)} %'}")
    if open_actions and open_actions[0]:
        t.append(f" · {STATUS_SYMBOLS['action']} {open_actions[0]} open")
        if open_actions[1]:
            t.append(f" ({open_actions[1]} overdue)")
    return t


class AgendaList(OptionList):
    """The agenda's list: ``end`` (``G``) also scrolls to the very end,
    where the last lines are notes that cannot be highlighted (the
    effectiveness method and rates): Textual's list stops at the last
    line that can be, and the notes stayed below the fold."""

    def action_last(self) -> None:
        super().action_last()
        self.scroll_end(animate=False, immediate=False)


class AgendaScreen(AppScreen[None]):
    BINDINGS = bindings("agenda")
    HELP_TITLE = "Keys · agenda"

    def __init__(self, since: date | None = None) -> None:
        super().__init__(id="agenda")
        self.since = since
        self.agenda: Agenda | None = None
        self.targets: dict[str, object] = {}  # option id -> AgendaItem / AgendaAction / pattern
        self.client_order: list[str] = []
        self._compact = False

    def compose(self) -> ComposeResult:
        yield ModeBar()
        yield Static("", id="agenda-header", markup=False)
        with Vertical(id="agenda-box"):
            yield AgendaList(id="agenda-list")
            yield Static("Building the agenda…", id="agenda-message", markup=False)
        yield Static("", id="agenda-detail", markup=False)
        yield AppFooter()

    @property
    def agenda_list(self) -> OptionList:
        return self.query_one("#agenda-list", OptionList)

    def on_mount(self) -> None:
        self._compact = (self.size.width or self.app.size.width) < COMPACT_WIDTH
        self.query_one("#agenda-box").border_title = "Weekly agenda"
        self.query_one("#agenda-box").border_subtitle = "enter open · s new since · e export (E with notes)"
        self.agenda_list.display = False
        self.watch(self.app, "data_version", lambda _v: self.rebuild(), init=False)
        self.watch(self.app, "reviews_version", lambda _v: self.rebuild(), init=False)
        self.watch(self.app, "present", lambda _v: self.fill(), init=False)
        self.rebuild()
        self.agenda_list.focus()

    def on_resize(self, event) -> None:
        compact = event.size.width < COMPACT_WIDTH
        if compact != self._compact:
            self._compact = compact
            self.fill()

    # -- building ----------------------------------------------------------------------

    def rebuild(self) -> None:
        """Build the agenda in a worker (the list keeps the old one meanwhile)."""
        self._build(self.since)

    @work(thread=True, exclusive=True, group="agenda", exit_on_error=False)
    def _build(self, since: date | None) -> None:
        app = self.sup
        try:
            data = app.data
            if data is None:
                raise UserError("The caseload is not loaded yet")
            agenda = app.reviews.build_agenda(data.caseload, data.analyses, data.as_of, since,
                                              reference=data.reference, effects=data.effects)
        except UserError as err:
            self.app.call_from_thread(self._failed, str(err))
            return
        except Exception as err:  # never a traceback on screen
            self.app.call_from_thread(self._failed, f"{type(err).__name__}: {err}")
            return
        self.app.call_from_thread(self._built, agenda)

    def _failed(self, message: str) -> None:
        msg = self.query_one("#agenda-message", Static)
        msg.update(f"⚠ Cannot build the agenda\n\n{message}")
        msg.display = True
        self.agenda_list.display = False

    def _built(self, agenda: Agenda) -> None:
        self.agenda = agenda
        self.since = agenda.since
        self.query_one("#agenda-message").display = False
        self.agenda_list.display = True
        self.fill()

    def fill(self) -> None:
        agenda = self.agenda
        if agenda is None:
            return
        app = self.sup
        present = app.present
        ol = self.agenda_list
        keep = None
        if ol.highlighted is not None and ol.option_count:
            keep = ol.get_option_at_index(ol.highlighted).id
        counts = self._action_counts()
        scrub = goal_scrubber(agenda) if present else None
        options: list[Option | None] = []
        self.targets = {}
        order: list[str] = []
        n_items = 0
        kind_w = kind_width(it for sec in agenda.sections for it in sec.items)

        def head(text: str, style: str = "bold") -> None:
            options.append(Option(Text(text, style=style), disabled=True))

        def row(oid: str, prompt: Text, target: object, code: str | None) -> None:
            options.append(Option(prompt, id=oid))
            self.targets[oid] = target
            if code and code not in order:
                order.append(code)

        for s in agenda.sections:
            if options:
                head("")
            head(f"{s.number} {s.title.upper()} · {s.subtitle} · {s.count}", "bold reverse")
            if s.key == "patterns":
                if not s.patterns:
                    head("  No supervisee with clients.", "dim")
                for p in s.patterns:
                    row(f"p:{p.clinician}", pattern_line(p, counts.get(p.clinician)), p, None)
                if s.effects:  # clinical-rules §11: effectiveness with its intervals, drawn in the terminal
                    from supervision_tui.ui.widgets.effectiveness import effectiveness_lines

                    head("  Effectiveness (severity-adjusted, 95 % intervals) · overlapping intervals are not a "
                         "difference; never a ranking", "bold")
                    # the cells a line gets: the list (the screen less the box border before it is laid
                    # out: it is filled as it is shown) less its scrollbar, the option padding and the indent
                    room = ol.size.width or (self.size.width or self.app.size.width) - 2
                    width = max(40, room - 1 - 2 - 4)
                    by_id = {p.clinician: p for p in s.patterns}
                    for er, line in effectiveness_lines(list(s.effects), width, lead=False):
                        prompt = Text("    ").append_text(line)
                        target = by_id.get(er.clinician) if er is not None else None
                        if target is None and line.cell_len > width:  # the method note: wrapped, not cut
                            for part in line.wrap(self.app.console, width):
                                options.append(Option(Text("    ").append_text(part), disabled=True))
                        elif target is None:  # titles, headers, the clinic row: read, not chosen
                            options.append(Option(prompt, disabled=True))
                        else:  # a supervisee's row: enter shows their clients, as the pattern line does
                            row(f"e:{er.instrument}:{er.clinician}", prompt, target, None)
            elif s.key == "actions":
                if not s.actions:
                    head("  No open action items.", "dim")
                for a in s.actions:
                    row(f"a:{a.item.id}", action_line(a, present), a, a.item.client)
                    n_items += 1
            else:
                for g in s.groups:
                    if g.title:  # an empty group is its title with "· 0"
                        head(f"  {g.title} · {len(g.items)}", "bold" if g.items else "dim")
                    elif not g.items:
                        head(f"    {g.empty}", "dim")
                    for it in g.items:
                        row(f"f:{it.key}", item_line(it, self._compact, scrub, kind_w), it, it.client)
                        n_items += 1
                if s.note:
                    head(f"    {s.note}", "dim italic")
        ol.set_options(options)
        self.client_order = order
        ids = [o.id for o in ol.options]
        if keep is not None and keep in ids:
            ol.highlighted = ids.index(keep)
        else:
            first = next((i for i, o in enumerate(ol.options) if not o.disabled), None)
            ol.highlighted = first
        scope = f"clinician {agenda.clinician}" if agenda.clinician else "all supervisees"
        name = "" if self._compact else f" · {agenda.name}"  # narrow: the dates and scope fit whole
        self.query_one("#agenda-header", Static).update(
            f"Agenda{name} · as of {agenda.as_of.isoformat()} · "
            f"new since {agenda.since.isoformat()} · {scope}")
        self.query_one("#agenda-box").border_title = f"Weekly agenda · {n_items} item{'s' if n_items != 1 else ''}"
        self._show_detail()

    def _action_counts(self) -> dict[str, tuple[int, int]]:
        """Open (and overdue) action items per clinician, of the loaded clients."""
        data = self.sup.data
        if data is None:
            return {}
        return self.sup.reviews.open_action_counts(data.by_code, data.as_of)

    # -- the highlighted item ------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#agenda-list")
    def _highlighted(self, _event) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#agenda-detail", Static)
        target = self._current()
        present = self.sup.present
        t = Text()
        if isinstance(target, AgendaItem):
            f = target.flag
            t.append(f"{f.client} · {f.clinician} · {kind_label(target)}", style="bold")
            if f.session is not None:
                t.append(f" · s{f.session}")
            if target.date is not None:
                t.append(f" {target.date.isoformat()}")
            if target.new:
                t.append(" · NEW", style="bold")
            why = " ".join(f.detail.split())
            t.append(f"\n{goal_scrubber(self.agenda)(why) if present and self.agenda else why}")
            rv = target.review
            t.append("\nreview: ", style="bold")
            t.append(rv.label() if rv.review is not None else "new · not reviewed yet")
            crv = target.client_review
            if crv.review is not None and crv.status != "new":
                t.append(f" · client {crv.label()}")
            notes = []
            if rv.review is not None and rv.review.note:
                notes.append(("note", rv.review.note))
            if crv.review is not None and crv.review.note:
                notes.append(("client note", crv.review.note))
            notes += [("goal", g) for g in target.goals]
            for k, v in notes:
                t.append(f"\n{k}: ", style="bold")
                t.append(HIDDEN_TEXT if present else " ".join(v.split()), style="dim italic" if present else "")
        elif isinstance(target, AgendaAction):
            it = target.item
            t.append(f"{it.client} · action item · owner {it.owner or '—'} · "
                     f"{'due ' + it.due.isoformat() if it.due else 'no due date'}"
                     + (" · OVERDUE" if target.overdue else ""), style="bold")
            t.append(f"\nadded {it.created_at[:10]} by {it.created_by}")
            t.append("\ntext: ", style="bold")
            t.append(HIDDEN_TEXT if present else " ".join(it.text.split()), style="dim italic" if present else "")
        elif target is not None:  # a supervisee's pattern
            t.append(f"{target.clinician} · enter shows their clients on the caseload", style="bold")
            t.append("\n")
            t.append_text(pattern_line(target, self._action_counts().get(target.clinician)))
            if target.missing_recent:
                t.append(f"\nno alliance rating in the last 3 sessions: {', '.join(target.missing_recent)}")
        else:
            t.append("Nothing to show here.", style="dim")
        detail.update(t)

    def _current(self):
        ol = self.agenda_list
        if ol.highlighted is None or not ol.option_count:
            return None
        return self.targets.get(ol.get_option_at_index(ol.highlighted).id)

    # -- actions -------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#agenda-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.open(self.targets.get(event.option.id or ""))

    def open(self, target) -> None:
        if isinstance(target, AgendaItem):
            self.open_client(target.client)
        elif isinstance(target, AgendaAction):
            self.open_client(target.item.client)
        elif target is not None:
            self.sup.filter_clinician(target.clinician)

    def open_client(self, code: str) -> None:
        data = self.sup.data
        if data is None or code not in data.by_code:
            self.notify(f"{code} is not in the loaded caseload", severity="warning")
            return
        order = self.client_order if code in self.client_order else [code]
        self.sup.show_client(code, order, origin=self)

    def action_back(self) -> None:
        self.dismiss(None)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        yield "Agenda: change the 'new since' date", self.action_since, "Items dated on or after it are NEW"

    def agenda_day(self) -> date:
        """The day the agenda is as of (``--as-of``, else today): "new since"
        cannot be later."""
        if self.agenda is not None:
            return self.agenda.as_of
        data = self.sup.data
        return (data.as_of if data is not None else None) or date.today()

    def action_since(self) -> None:
        from supervision_tui.ui.screens.dialogs import DateDialog

        def too_late(day: date) -> str | None:  # refused as the CLI's agenda --since refuses it
            problem = since_after_day(day, self.agenda_day(), "New since")
            return f"{problem} (the date of the last meeting; esc keeps {self.since.isoformat()})" \
                if problem and self.since is not None else problem

        def chosen(day: date | None) -> None:
            if day is not None and not too_late(day):
                self.since = day
                self.rebuild()

        self.sup.push_screen(DateDialog("Agenda · new since", "Items dated on or after this day are NEW",
                                        self.since, check=too_late), chosen)

    def export(self, include_notes: bool = False):
        if self.agenda is None:
            self.notify("The agenda is still being built", severity="warning")
            return None
        try:
            paths = self.sup.reviews.export_agenda(self.agenda, include_notes)
        except UserError as err:
            self.notify(f"Agenda not saved: {err}", severity="error", markup=False)
            return None
        self.sup.notify_export(paths, include_notes)
        return paths

    def action_export(self) -> None:
        self.export(False)

    def action_export_with_notes(self) -> None:
        self.export(True)
