"""Review workflow widgets: the modes bar, the client screen's review list
(one entry per flag plus the client as a whole) and its action items.

Private free text (review notes, action texts) is replaced by
``HIDDEN_TEXT`` while the app is presenting. Every status has a word and
a symbol (``service.reviews.status_text``), never colour alone.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from supervision_tui.rules.kinds import REGISTRY
from supervision_tui.rules.results import ClientAnalysis, Flag
from supervision_tui.service.reviews import CHANGED_MARK, STATUS_SYMBOLS, ClientReview, status_text, who_when
from supervision_tui.ui.context import app_of
from supervision_tui.ui.keymap import bindings, hint_key
from supervision_tui.ui.widgets.panels import HIDDEN_TEXT

PRESENTING = "PRESENTING · private text hidden"
CLIENT_ENTRY = "client"


def modes_text(present: bool, read_only: bool, scope: str | None) -> str:
    """``PRESENTING · private text hidden · read-only · clinician T02 only``."""
    parts = []
    if present:
        parts.append(PRESENTING)
    if read_only:
        parts.append("read-only")
    if scope:
        parts.append(f"clinician {scope} only")
    return " · ".join(parts)


class ModeBar(Static):
    """One line at the top of a screen while presenting: says so plainly,
    with the other modes (read-only, clinician scope)."""

    DEFAULT_CSS = """
    ModeBar {
        height: 1;
        padding: 0 1;
        background: $warning;
        color: $text;
        text-style: bold;
        dock: top;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)

    def on_mount(self) -> None:
        self.watch(self.app, "present", lambda _v: self.refresh_modes(), init=False)
        self.refresh_modes()

    def refresh_modes(self) -> None:
        app = app_of(self)
        self.display = app.present
        self.update(modes_text(app.present, app.read_only, app.scope) if app.present else "")


def note_line(note: str | None, present: bool) -> Text | None:
    if not note:
        return None
    t = Text("  note: ", style="bold")
    if present:
        t.append(HIDDEN_TEXT, style="dim italic")
    else:
        t.append(" ".join(note.split()))
    return t


def review_entry(label: str, review, present: bool, client_level: bool = False) -> Text:
    """One review list entry: the flag, its status with who/when, what
    changed since, the note."""
    t = Text()
    t.append(label, style="bold")
    t.append("\n  ")
    t.append(status_text(review.status, review.changed and review.status != "new" and not client_level),
             style="bold" if review.status == "new" else "")
    if review.review is not None and review.status != "new":  # "new" with a record: only a note was written
        t.append(f" · {who_when(review)}")
    if review.changed and review.status != "new" and review.change:
        if client_level:
            t.append(f"\n  {review.change.replace('sessions', 'session')} since", style="italic")
        else:
            t.append(f"\n  {CHANGED_MARK} changed since reviewed: {review.change}", style="italic")
    note = note_line(review.review.note if review.review is not None else None, present)
    if note is not None:
        t.append("\n")
        t.append_text(note)
    return t


def _urgency(flag: Flag) -> int:
    """A flag's place in the review list: the tier it stands for, a status
    that is no triage reason (a repaired rupture) and unknown kinds last."""
    kind = REGISTRY.get(flag.kind)
    if kind is None or flag.status not in kind.statuses:
        return 9
    return kind.urgency(flag.status)


class PanelList(OptionList):
    """An option list in a client-screen panel: j/k, a rounded border that
    lights up on focus, as tall as its entries up to ``max-height``."""

    BINDINGS = bindings("lists")

    DEFAULT_CSS = """
    PanelList {
        height: auto;
        border: round $primary 50%;
        padding: 0;
    }
    PanelList:focus {
        border: round $accent;
    }
    """


class ReviewList(PanelList):
    """The flags of one client, most urgent first (the tier each stands for,
    ``rules.kinds.REGISTRY.urgency``), each with its review; the last
    entry is always the client as a whole. The highlighted entry is what ``r``/``n`` act on: on
    a fresh client the first, so ``r`` on a risk client reviews the risk."""

    BINDINGS = bindings("review-list")  # ↑↓ Flag in the footer

    DEFAULT_CSS = """
    ReviewList {
        max-height: 24;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.flags: dict[str, Flag] = {}
        self._client: str | None = None  # the client shown

    def show_state(self, analysis: ClientAnalysis, state: ClientReview, present: bool) -> None:
        # the same client refreshed: the highlight stays; another client: its most urgent flag
        keep = self.highlighted_key if analysis.client == self._client else None
        self._client = analysis.client
        self.flags = {}
        options: list[Option | None] = []
        for f, r in sorted(state.flags, key=lambda fr: _urgency(fr[0])):
            self.flags[f.identity] = f
            if options:
                options.append(None)
            options.append(Option(review_entry(REGISTRY.describe(f, analysis), r, present), id=f.identity))
        if options:
            options.append(None)
        options.append(Option(review_entry("Client as a whole", state.client, present, client_level=True),
                              id=CLIENT_ENTRY))
        self.set_options(options)
        ids = [o.id for o in self.options]
        self.highlighted = ids.index(keep) if keep in ids else 0
        n_new = len(state.unreviewed)  # the count the caseload's Review column reads (ClientReview.status)
        title = f"Review · {state.short()}"
        if n_new:
            title += f" · {n_new} not reviewed"
        self.border_title = title
        self.border_subtitle = f"{hint_key(self, 'review-flag')} status · {hint_key(self, 'review-note')} note"

    @property
    def highlighted_key(self) -> str | None:
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.get_option_at_index(self.highlighted).id

    @property
    def highlighted_flag(self) -> Flag | None:
        """The highlighted flag (None: the client as a whole)."""
        key = self.highlighted_key
        return self.flags.get(key) if key else None


def action_entry(item, present: bool, as_of=None) -> Text:
    t = Text()
    sym = STATUS_SYMBOLS["resolved"] if item.done else STATUS_SYMBOLS["action"]
    t.append(f"{sym} ", style="bold")
    if present:
        t.append(HIDDEN_TEXT, style="dim italic")
    else:
        t.append(" ".join(item.text.split()), style="dim" if item.done else "")
    t.append("\n  ")
    facts = [f"owner {item.owner}" if item.owner else "no owner"]
    if item.done:
        facts.append(f"done {(item.done_at or '')[:10]} by {item.done_by or '?'}")
    elif item.due is not None:
        due = f"due {item.due.isoformat()}"
        if item.overdue(as_of):
            due += " OVERDUE"
        facts.append(due)
    else:
        facts.append("no due date")
    t.append(" · ".join(facts), style="dim" if item.done else "")
    return t


class ActionList(PanelList):
    """A client's action items, open first; ``d`` (the screen's) toggles done."""

    DEFAULT_CSS = """
    ActionList {
        max-height: 16;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: dict[str, object] = {}

    def show_items(self, items, present: bool, as_of=None) -> None:
        keep = self.highlighted_item.id if self.highlighted_item is not None else None
        self.items = {i.id: i for i in items}
        options: list[Option | None] = []
        for item in items:
            options.append(Option(action_entry(item, present, as_of), id=item.id))
        if not options:
            # a disabled option (the cursor skips it) in $text-muted (app.tcss), not dimmed below 4.5:1
            options.append(Option(Text(f"No action items · {hint_key(self, 'add-action')} adds one"), id="none",
                                  disabled=True))
        self.set_options(options)
        ids = [o.id for o in self.options]
        if keep in ids:
            self.highlighted = ids.index(keep)
        elif self.items:
            self.highlighted = 0
        n_open = sum(1 for i in items if not i.done)
        self.border_title = f"Actions · {n_open} open" if items else "Actions"
        add, done = hint_key(self, "add-action"), hint_key(self, "toggle-action")
        self.border_subtitle = f"{add} add · {done} done/undone" if items else f"{add} add"

    @property
    def highlighted_item(self):
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.items.get(self.get_option_at_index(self.highlighted).id)
