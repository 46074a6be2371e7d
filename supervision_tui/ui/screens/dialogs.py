"""Small modal dialogs of the review workflow: review status (five
statuses on single keys + an optional note), note, action item, date.

Each dialog dismisses with its result, or None on escape. While the app is
presenting, text fields mask what is typed and never show a stored note.

``save_note`` saves a note typed in a dialog and handles what can stop
it without losing the text: another person's note saved meanwhile (the
note dialog comes back with both texts) and a busy workflow file (the
note dialog comes back with the text as typed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from supervision_tui.service.reviews import STATUS_HELP, Notice, Outcome, status_text
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
                        select_on_focus=False,  # (a first key adds to a stored note, never replaces it)
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


def changed_by(conflict) -> str:
    """"B (2026-11-20 10:03 UTC)" / "someone else": who changed a note
    meanwhile (``store.reviews.NoteChanged``), as the dialogs say it."""
    who = conflict.by or "someone else"
    return who + (f" ({_when(conflict)})" if conflict.at else "")


def _when(conflict) -> str:
    return f"{conflict.at[:16].replace('T', ' ')} UTC" if conflict.at else ""


def merged_note(conflict, own: str) -> str:
    """The text the note dialog reopens with after a refused save: the note
    stored now (``conflict.current``), a separator line naming who changed
    it, and the text the user had typed, so neither is lost."""
    when = f" ({_when(conflict)})" if conflict.at else ""
    if not conflict.current:
        line = f"─── {conflict.by or 'someone else'} cleared the note{when} · below: yours ───"
    elif conflict.by:
        line = f"─── above: {conflict.by}'s note{when} · below: yours ───"
    else:
        line = "─── above: the note saved meanwhile · below: yours ───"
    return "\n".join(part for part in (conflict.current, line, own) if part)


_MARKER = re.compile(r"─── .* · below: yours ───")


def without_markers(text: str) -> str:
    """The merged text as it is saved: the separator lines ``merged_note``
    put between the two notes left out (saved as they were, "yours" would
    point at whoever reads the note, and each conflict added one)."""
    return "\n".join(line for line in text.split("\n") if not _MARKER.fullmatch(line.strip()))


class NoteArea(TextArea):
    """The note dialog's multi-line field (both texts after a conflict):
    enter saves, as in the one-line field, instead of breaking the line."""

    class Submitted(Message):
        def __init__(self, area: NoteArea) -> None:
            super().__init__()
            self.area = area

    async def _on_key(self, event) -> None:
        if event.key == "enter":
            event.prevent_default()  # (TextArea's own handler would insert a line break)
            event.stop()
            self.post_message(self.Submitted(self))


class NoteDialog(_Dialog):
    """Add or edit the note of a flag or client; an empty note clears it.

    ``note``: the note stored when the edit began (what a save expects to
    replace); ``text``: what the field starts with when it is not that
    note (the user's own text, brought back after a refused save);
    ``conflict``: the ``NoteChanged`` that refused the last save: the
    field is then a multi-line one holding ``text`` (both texts,
    ``merged_note``) with a line saying what happened; ``status``: a
    status saved together with the note (the review dialog's)."""

    PRIVATE_INPUTS = ("note-input",)

    BINDINGS = bindings("dialog", "note-dialog")

    def __init__(self, target: str, note: str | None = None, *, text: str | None = None, conflict=None,
                 status: str | None = None, busy: bool = False, failed: str | None = None,
                 id: str | None = "note-dialog") -> None:
        super().__init__(id=id)
        self.target = target
        self.note = note or ""
        self.text = self.note if text is None else text
        self.conflict = conflict
        self.status = status
        self.busy = busy
        self.failed = failed  # why the last save failed (its notification; never a note's text)

    def _explain(self) -> str:
        what = f"your note and the status {self.status} were" if self.status else "your note was"
        if self.conflict is not None:
            return (f"{changed_by(self.conflict)} changed this note while you were editing it, so {what} "
                    "not saved. Both texts are below: edit them into one note and press enter to save it.")
        if self.busy:
            return (f"Busy (another process holds the workflow file's lock): {what} not saved. "
                    "Press enter to try again.")
        if self.failed:
            return (f"{self.failed.rstrip('.')}: {what} not saved. Press enter to try again once that is "
                    "put right, or esc to give the text up.")
        return ""

    def compose(self) -> ComposeResult:
        masked = _presenting(self)
        with Vertical(classes="dialog-box"):
            yield Static(Text(self.target, style="bold"), classes="dialog-text")
            explain = self._explain()
            if explain:
                yield Static(Text(explain, style="italic"), classes="dialog-text", id="note-explain")
            if self.conflict is not None:
                area = NoteArea(self.text, id="note-area", soft_wrap=True, show_line_numbers=False)
                area.display = not masked
                area.disabled = masked
                yield area
                hidden = Static(f"(both texts are hidden while presenting · {hint_key(self, 'present')} "
                                "stops presenting and shows them · esc cancel)",
                                id="note-area-hidden", classes="dialog-text", markup=False)
                hidden.display = masked
                yield hidden
            else:
                typed = self.text if self.text != self.note else ("" if masked else self.note)
                # (the cursor after the text, nothing selected: a first key must not replace a stored note)
                yield Input(value=typed, password=masked, id="note-input", select_on_focus=False,
                            placeholder=MASKED_HINT if masked else "a private note for supervision")
            yield Static("", classes="dialog-error", markup=False)
            yield Static(self._hint(masked), id="note-help", classes="dialog-help", markup=False)

    def _hint(self, present: bool) -> str:
        """The keys line, as they work now (presenting or not)."""
        if self.conflict is not None and present:
            return f"{hint_key(self, 'present')} stop presenting and show both texts · esc cancel"
        if present and self.note:  # (an empty field is refused: the stored note is not shown)
            return "enter save · esc cancel · the stored note is not shown while presenting"
        return "enter save · an empty note clears it · esc cancel"

    def on_mount(self) -> None:
        self._title("Note" if not self.note else "Edit note")
        self._error("")
        if self.conflict is not None:
            area = self.query_one(NoteArea)
            area.move_cursor(area.document.end)  # after the user's own text
            self._mask(_presenting(self))
        else:
            self.query_one(Input).focus()

    def _mask(self, present: bool) -> None:
        self.query_one("#note-help", Static).update(self._hint(bool(present)))
        if self.conflict is None:
            super()._mask(present)
            return
        # the other person's note cannot be masked in a multi-line field: hidden while
        # presenting, and disabled (no key reaches it unseen; p reaches the app)
        area = self.query_one(NoteArea)
        area.display = not present
        area.disabled = bool(present)
        self.query_one("#note-area-hidden").display = bool(present)
        if present:
            self.set_focus(None)
        else:
            area.focus()

    def action_toggle_present(self) -> None:
        """``p`` (reaches here only when no text field has the focus: both
        texts of a conflict hidden while presenting): stop presenting."""
        app_of(self).action_toggle_present()

    def _save(self, value: str) -> None:
        value = value.strip()
        if _presenting(self) and not value and self.note:
            self._error("While presenting, the stored note is not shown; type the new note, or esc")
            return
        self.dismiss(value)

    @on(Input.Submitted, "#note-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save(event.value)

    @on(NoteArea.Submitted)
    def _area_submitted(self, event: NoteArea.Submitted) -> None:
        event.stop()
        if _presenting(self):  # (the field is hidden; enter cannot reach it, but be sure)
            return
        self._save(without_markers(event.area.text))

    def action_cancel(self) -> None:
        self.dismiss(None)


def save_note(app, target: str, text: str, expected: str | None, save: Callable[[str, str | None], Outcome],
              saved: Callable[[Outcome], None], *, status: str | None = None) -> None:
    """Save a note typed in a dialog: ``save(text, expected)`` is the
    service's write (``expected``: the note the edit began from, its
    compare-and-set), ``saved(outcome)`` what to do once it is saved.
    Nothing typed is lost on the way:

    * someone else saved another note meanwhile (``Outcome.conflict``):
      a notification says so and the note dialog opens again with their
      note, a line naming who changed it, and this text; saving that
      expects their note (the one now stored);
    * the workflow file is busy (``Outcome.busy``): the note dialog opens
      again with this text;
    * any other failure (a full disk, a write-protected or damaged
      workflow file, a character a note may not hold): its notification,
      and the note dialog opens again with this text and the reason, so
      that esc, not the failure, is what gives it up.

    ``status``: the status saved together with the note (named in the
    dialog when it comes back)."""
    outcome = save(text, expected)
    conflict = outcome.conflict
    if conflict is not None:
        message = (f"Not saved: {changed_by(conflict)} changed this note while you were editing it. "
                   "Both texts are in the note dialog: edit them and save again")
        outcome = replace(outcome, notice=Notice(message, "warning", 10))
    app.apply(outcome)
    # (no id: the dialog that gave the text is still being removed while this runs)
    if conflict is not None:
        again = conflict.current
        dialog = NoteDialog(target, again, text=merged_note(conflict, text), conflict=conflict, status=status,
                            id=None)
    elif outcome.busy:
        again = expected
        dialog = NoteDialog(target, again, text=text, status=status, busy=True, id=None)
    elif outcome.notice is not None:
        again = expected
        dialog = NoteDialog(target, again, text=text, status=status, failed=outcome.notice.message, id=None)
    else:
        saved(outcome)
        return

    def chosen(new_text: str | None) -> None:
        if new_text is not None:
            save_note(app, target, new_text, again, save, saved, status=status)

    app.push_screen(dialog, chosen)


# --- action item --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionDraft:
    text: str
    owner: str | None
    due: date | None


class ActionDialog(_Dialog):
    """A new action item: what (required), owner (default: the client's
    clinician), due date (optional, YYYY-MM-DD). ``draft``: the fields as
    entered before (brought back after a save that could not be made: the
    workflow file was busy, or ``failed`` says why), with a line saying so."""

    PRIVATE_INPUTS = ("action-text",)

    BINDINGS = bindings("dialog")

    def __init__(self, client: str, owner: str | None, today: date | None = None,
                 known_owners: Iterable[str] | None = None, draft: ActionDraft | None = None,
                 failed: str | None = None) -> None:
        super().__init__(id="action-dialog" if draft is None else None)  # (a draft's: the first is still closing)
        self.client = client
        self.owner = owner or ""
        self.today = today
        self.draft = draft
        self.failed = failed  # why the draft's save failed (None: the lock was busy)
        self.known_owners = sorted(set(known_owners)) if known_owners is not None else None
        """The clinicians of the caseload (supervisees and supervisors); None: not checked."""

    def compose(self) -> ComposeResult:
        masked = _presenting(self)
        d = self.draft
        with Vertical(classes="dialog-box"):
            if d is not None:
                why = (f"{self.failed.rstrip('.')}. Press enter to try again once that is put right, or esc to "
                       "give the item up." if self.failed else
                       "Busy (another process holds the workflow file's lock): not saved. Press enter to try again.")
                yield Static(Text(why, style="italic"), classes="dialog-text")
            yield Static("What should happen", classes="dialog-label", markup=False)
            yield Input(value=d.text if d else "", id="action-text", password=masked,
                        placeholder=MASKED_HINT if masked else "e.g. revisit goals with the client")
            yield Static("Owner (clinician id)", classes="dialog-label", markup=False)
            yield Input(value=(d.owner or "") if d else self.owner, id="action-owner",
                        placeholder="e.g. T02 · empty: no owner")
            yield Static("Due date (optional)", classes="dialog-label", markup=False)
            yield Input(value=d.due.isoformat() if d and d.due else "", id="action-due",
                        placeholder="YYYY-MM-DD, e.g. 2026-12-01")
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
