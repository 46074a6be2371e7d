"""Small modal dialogs of the review workflow: review status (five
statuses on single keys + an optional note), note, action item, date.

Each dialog dismisses with its result, or None on escape. While the app is
presenting, text fields mask what is typed and never show a stored note.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from supervision_tui.service.reviews import STATUS_HELP, status_text
from supervision_tui.store.sanitize import IDENTIFIER_RE, printable
from supervision_tui.ui.context import app_of
from supervision_tui.ui.keymap import bindings, hint_key

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CODE_RE = IDENTIFIER_RE  # the store's rule (store/sanitize.py); the store enforces it too
MASKED_HINT = "typing is hidden while presenting"


def parse_day(value: str, what: str) -> date | None:
    """A YYYY-MM-DD date, None for empty; ValueError with a clear message."""
    value = value.strip()
    if not value:
        return None
    if not DATE_RE.fullmatch(value):
        raise ValueError(f"{what}: use YYYY-MM-DD, e.g. 2026-12-01 (got “{value}”)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: {value} is not a calendar date (YYYY-MM-DD)") from None


def _presenting(screen: ModalScreen) -> bool:
    return app_of(screen).present


class _Dialog(ModalScreen):
    DEFAULT_CLASSES = "dialog"
    PRIVATE_INPUTS: tuple[str, ...] = ()  # ids of inputs holding private text

    def on_mount(self) -> None:  # Textual also runs the subclasses' on_mount
        self.watch(self.app, "present", self._mask, init=False)

    def _mask(self, present: bool) -> None:
        """Presentation mode switched on while the dialog is open: mask the
        private fields at once."""
        for name in self.PRIVATE_INPUTS:
            self.query_one(f"#{name}", Input).password = bool(present)

    def _title(self, title: str, subtitle: str = "") -> None:
        box = self.query_one(".dialog-box")
        box.border_title = title
        box.border_subtitle = subtitle

    def _error(self, message: str) -> None:
        err = self.query_one(".dialog-error", Static)
        err.update(message)
        err.display = bool(message)


# --- review status ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewChoice:
    status: str
    note: str | None  # None: note unchanged; "": clear it


class ReviewDialog(_Dialog):
    """Pick one of the five statuses by its key (n d a r x) or enter; the
    note field (tab) is optional and saved with the status."""

    PRIVATE_INPUTS = ("review-note",)

    BINDINGS = bindings("dialog", "review-dialog")

    def __init__(self, target: str, current: str = "new", current_line: str = "", note: str | None = None,
                 explain: str = "") -> None:
        super().__init__(id="review-dialog")
        self.target = target
        self.current = current
        self.current_line = current_line
        self.note = note or ""
        self.explain = explain

    def compose(self) -> ComposeResult:
        masked = _presenting(self)
        with Vertical(classes="dialog-box"):
            yield Static(self._head(), classes="dialog-text", markup=False)
            yield OptionList(*[Option(self._status_prompt(s), id=s) for s in ("discussed", "action", "resolved",
                                                                                "dismissed", "new")],
                             id="review-statuses")
            yield Input(value="" if masked else self.note, password=masked, id="review-note",
                        placeholder="note (optional) · " + (MASKED_HINT if masked else "tab here, enter saves"))
            yield Static("", classes="dialog-error", markup=False)
            keys = " ".join(hint_key(self, f"status-{st}")
                            for st in ("discussed", "action", "resolved", "dismissed", "new"))
            yield Static(f"keys {keys} · enter the highlighted · tab note · {hint_key(self, 'back')} cancel",
                         classes="dialog-help", markup=False)

    def _head(self) -> Text:
        t = Text()
        t.append(self.target, style="bold")
        if self.current_line:
            t.append(f"\nnow: {self.current_line}")
        if self.explain:
            t.append(f"\n{self.explain}", style="italic")
        return t

    def _status_prompt(self, status: str) -> Text:
        t = Text()
        t.append(f" {hint_key(self, f'status-{status}')} ", style="bold reverse")
        t.append(f"  {status_text(status):<12}", style="bold" if status == self.current else "")
        t.append(f" {STATUS_HELP[status]}")
        if status == self.current:
            t.append("  (now)", style="italic")
        return t

    def on_mount(self) -> None:
        self._title("Review status")
        self._error("")
        ol = self.query_one(OptionList)
        target = self.current if self.current != "new" else "discussed"
        ol.highlighted = [o.id for o in ol.options].index(target)
        ol.focus()

    def _note_value(self) -> str | None:
        inp = self.query_one("#review-note", Input)
        if _presenting(self) and not inp.value:
            return None  # a masked field starts empty: keep the stored note
        value = inp.value.strip()
        return None if value == self.note.strip() else value

    def action_choose(self, status: str) -> None:
        self.dismiss(ReviewChoice(status, self._note_value()))

    @on(OptionList.OptionSelected, "#review-statuses")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_choose(event.option.id or "discussed")

    @on(Input.Submitted, "#review-note")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one(OptionList)
        idx = ol.highlighted or 0
        self.action_choose(ol.get_option_at_index(idx).id or "discussed")

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- note -------------------------------------------------------------------------------------------


class NoteDialog(_Dialog):
    """Add or edit the note of a flag or client; an empty note clears it."""

    PRIVATE_INPUTS = ("note-input",)

    BINDINGS = bindings("dialog")

    def __init__(self, target: str, note: str | None = None) -> None:
        super().__init__(id="note-dialog")
        self.target = target
        self.note = note or ""

    def compose(self) -> ComposeResult:
        masked = _presenting(self)
        with Vertical(classes="dialog-box"):
            yield Static(Text(self.target, style="bold"), classes="dialog-text")
            yield Input(value="" if masked else self.note, password=masked, id="note-input",
                        placeholder=MASKED_HINT if masked else "a private note for supervision")
            yield Static("", classes="dialog-error", markup=False)
            yield Static("enter save · an empty note clears it · esc cancel"
                         + (" · the stored note is not shown while presenting" if masked and self.note else ""),
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self._title("Note" if not self.note else "Edit note")
        self._error("")
        self.query_one(Input).focus()

    @on(Input.Submitted, "#note-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if _presenting(self) and not value and self.note:
            self._error("While presenting, the stored note is not shown; type the new note, or esc")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- action item --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionDraft:
    text: str
    owner: str | None
    due: date | None


class ActionDialog(_Dialog):
    """A new action item: what (required), owner (default: the client's
    clinician), due date (optional, YYYY-MM-DD)."""

    PRIVATE_INPUTS = ("action-text",)

    BINDINGS = bindings("dialog")

    def __init__(self, client: str, owner: str | None, today: date | None = None,
                 known_owners: Iterable[str] | None = None) -> None:
        super().__init__(id="action-dialog")
        self.client = client
        self.owner = owner or ""
        self.today = today
        self.known_owners = sorted(set(known_owners)) if known_owners is not None else None
        """The clinicians of the caseload (supervisees and supervisors); None: not checked."""

    def compose(self) -> ComposeResult:
        masked = _presenting(self)
        with Vertical(classes="dialog-box"):
            yield Static("What should happen", classes="dialog-label", markup=False)
            yield Input(id="action-text", password=masked,
                        placeholder=MASKED_HINT if masked else "e.g. revisit goals with the client")
            yield Static("Owner (clinician id)", classes="dialog-label", markup=False)
            yield Input(value=self.owner, id="action-owner", placeholder="e.g. T02 · empty: no owner")
            yield Static("Due date (optional)", classes="dialog-label", markup=False)
            yield Input(id="action-due", placeholder="YYYY-MM-DD, e.g. 2026-12-01")
            yield Static("", classes="dialog-error", markup=False)
            yield Static("tab next field · enter save · esc cancel", classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self._title(f"New action item · {self.client}")
        self._error("")
        self.query_one("#action-text", Input).focus()

    def validate(self) -> ActionDraft | None:
        text = self.query_one("#action-text", Input).value.strip()
        owner = self.query_one("#action-owner", Input).value.strip()
        due_s = self.query_one("#action-due", Input).value
        if not text:
            self._error("Write what should happen (the action text is required)")
            self.query_one("#action-text", Input).focus()
            return None
        if owner and not CODE_RE.fullmatch(owner):
            self._error(f"Owner: a clinician id such as T02: letters, digits, _ or - (got “{printable(owner)}”)")
            self.query_one("#action-owner", Input).focus()
            return None
        if owner and self.known_owners is not None and owner not in self.known_owners:
            same = [k for k in self.known_owners if k.lower() == owner.lower()]
            hint = f"; did you mean {same[0]}?" if same else ""
            self._error(f"Owner: {owner} is not a clinician of this caseload "
                        f"(known: {', '.join(self.known_owners) or 'none'}{hint})")
            self.query_one("#action-owner", Input).focus()
            return None
        try:
            due = parse_day(due_s, "Due date")
        except ValueError as err:
            self._error(str(err))
            self.query_one("#action-due", Input).focus()
            return None
        return ActionDraft(text, owner or None, due)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        draft = self.validate()
        if draft is not None:
            self.dismiss(draft)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- a date -----------------------------------------------------------------------------------------------


class DateDialog(_Dialog):
    """Enter a date (YYYY-MM-DD). ``check``: why a well-formed date cannot
    be taken (None: it can); its message is shown in the dialog, which stays
    open (esc keeps the previous value)."""

    BINDINGS = bindings("dialog")

    def __init__(self, title: str, label: str, value: date | None,
                 check: Callable[[date], str | None] | None = None) -> None:
        super().__init__(id="date-dialog")
        self.title_text = title
        self.label = label
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.label, classes="dialog-label", markup=False)
            yield Input(value=self.value.isoformat() if self.value else "", id="date-input",
                        placeholder="YYYY-MM-DD")
            yield Static("", classes="dialog-error", markup=False)
            yield Static("enter apply · esc cancel", classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self._title(self.title_text)
        self._error("")
        self.query_one(Input).focus()

    @on(Input.Submitted, "#date-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            day = parse_day(event.value, "Date")
        except ValueError as err:
            self._error(str(err))
            return
        if day is None:
            self._error("Date: use YYYY-MM-DD, e.g. 2026-11-13")
            return
        problem = self.check(day) if self.check is not None else None
        if problem:
            self._error(problem)
            return
        self.dismiss(day)

    def action_cancel(self) -> None:
        self.dismiss(None)
