"""The keymap registry: every key binding of the dashboard, by id, in one
place (after Harlequin's ``actions.py`` + ``keymap.py``).

``KEYMAP`` maps a *scope* (a screen, a widget, or ``lists``: the j/k of
every list and table) to its keys. A screen or widget takes its bindings
from here (``BINDINGS = bindings("caseload")``) and declares none of its
own, so

* the settings file's ``[keys]`` table (binding id → key string) is checked
  against ``binding_ids()`` without importing a single screen (``check``:
  unknown ids and renamed ids are reported, never silently ignored);
* a remapped key that another binding active at the same time also uses is
  reported (``collisions``; ``SCREENS`` says which scopes are active
  together: a screen with its widgets, and the app's keys everywhere).

One id may appear in several scopes (``back`` is escape on every screen):
one ``[keys]`` entry remaps it everywhere, as Textual's ``App.set_keymap``
does. Adding a key: an entry in its scope here, and the action method on
its screen or widget. Adding a screen: its scope here and in ``SCREENS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.binding import Binding, BindingType

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.ui.app import SupervisionApp

CLIENTS_GROUP = Binding.Group("Prev/next", compact=True)  # one footer entry: "←→ Prev/next"
FLAGS_GROUP = Binding.Group("Flag", compact=True)  # "↑↓ Flag": the review entry r and n act on

#: The review dialog's single keys (its prompt shows them).
STATUS_KEYS = {"new": "n", "discussed": "d", "action": "a", "resolved": "v", "dismissed": "x"}
# (resolved is not "r": r opens the chooser, and r r once resolved a risk flag without a look)
_STATUS_ORDER = ("new", "action", "discussed", "resolved", "dismissed")  # = service.reviews.STATUS_ORDER


@dataclass(frozen=True, slots=True)
class Key:
    """One binding: its id (the ``[keys]`` name), default key(s), action."""

    id: str
    keys: str  # "question_mark,f1"
    action: str
    description: str
    show: bool = True
    tooltip: str = ""
    priority: bool = False
    group: Binding.Group | None = None

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.description, show=self.show, tooltip=self.tooltip,
                       priority=self.priority, group=self.group, id=self.id)


def _back(action: str = "back", description: str = "Back", keys: str = "escape") -> Key:
    return Key("back", keys, action, description)


KEYMAP: dict[str, tuple[Key, ...]] = {
    # active everywhere
    "app": (
        Key("quit", "q", "quit", "Quit"),
        Key("help", "question_mark,f1", "help", "Help"),
        Key("cycle-theme", "t", "cycle_theme", "Theme", tooltip="Next theme (remembered in the settings file)"),
        Key("screenshot", "f2,ctrl+s", "screenshot", "Screenshot", show=False,
            tooltip="Save an SVG of the screen to the private screenshots folder"),
        Key("agenda", "a", "agenda", "Agenda", tooltip="The weekly supervision agenda"),
        Key("present", "p", "toggle_present", "Present", tooltip="Presentation mode: private text hidden"),
        Key("blank", "b", "blank", "Blank screen", show=False, tooltip="Blank the screen; any key returns"),
        Key("audit", "u", "audit", "Audit trail", show=False, tooltip="Audit trail of reviews and action items"),
    ),
    # j/k in every list and table (one [keys] entry remaps them in all lists)
    "lists": (
        Key("cursor-down", "j", "cursor_down", "Down", show=False),
        Key("cursor-up", "k", "cursor_up", "Up", show=False),
    ),
    "caseload": (
        Key("open-client", "enter", "open_client", "Open"),
        Key("search", "slash", "search", "Search"),
        Key("filter", "f", "filter", "Filter"),
        Key("clinicians", "o", "clinicians", "Clinicians"),
        Key("show-closed", "c", "toggle_closed", "Closed"),
        Key("sort", "s", "sort", "Sort"),
        Key("review-client", "r", "review_client", "Review"),
        Key("clear-filter", "escape", "clear_filter", "Clear filter", show=False),
    ),
    "caseload-table": (
        Key("open-client", "enter", "select_cursor", "Open"),
        Key("first-row", "home", "scroll_top", "First client", show=False),
        Key("last-row", "end", "scroll_bottom", "Last client", show=False),
    ),
    "filter-picker": (_back("cancel", "Cancel"),),
    "client": (
        _back(),
        Key("previous-client", "left,left_square_bracket", "previous_client", "Prev client", priority=True,
            group=CLIENTS_GROUP),
        Key("next-client", "right,right_square_bracket", "next_client", "Next client", priority=True,
            group=CLIENTS_GROUP),
        Key("focus-goals", "g", "focus_goals", "Goals"),
        Key("review-flag", "r", "review", "Review"),
        Key("review-note", "n", "note", "Note"),
        Key("add-action", "x", "add_action", "Action"),
        Key("toggle-action", "d", "toggle_action", "Done"),
        Key("scroll-down", "j", "scroll_down", "Scroll down", show=False),
        Key("scroll-up", "k", "scroll_up", "Scroll up", show=False),
        Key("page-down", "pagedown", "page_down", "Page down", show=False, priority=True),
        Key("page-up", "pageup", "page_up", "Page up", show=False, priority=True),
        Key("page-top", "home", "page_top", "Top of the page", show=False, priority=True),
        Key("page-bottom", "end", "page_bottom", "Bottom of the page", show=False, priority=True),
    ),
    # the client screen's review list: ↑↓ choose the flag that r and n act on
    "review-list": (
        Key("previous-flag", "up", "cursor_up", "Previous flag", group=FLAGS_GROUP),
        Key("next-flag", "down", "cursor_down", "Next flag", group=FLAGS_GROUP),
    ),
    "agenda": (
        _back(),
        Key("agenda-since", "s", "since", "New since…"),
        Key("export-agenda", "e", "export", "Export"),
        Key("export-agenda-notes", "E", "export_with_notes", "Export with notes", show=False),
    ),
    "audit": (
        _back(),
        Key("export-audit", "e", "export", "Export CSV"),
        Key("export-audit-notes", "E", "export_with_notes", "Export with notes", show=False),
    ),
    "clinicians": (
        _back(),
        Key("choose-clinician", "enter", "choose", "Filter caseload"),
    ),
    "clinicians-table": (Key("choose-clinician", "enter", "select_cursor", "Filter caseload"),),
    "help": (
        _back("close", "Close", "escape,question_mark"),
        Key("quit", "q", "app.quit", "Quit"),
    ),
    "dialog": (_back("cancel", "Cancel"),),
    # the note dialog: p ends presenting while both texts of a conflict are hidden (a modal
    # screen takes no app key; a focused text field takes p as a letter)
    "note-dialog": (Key("present", "p", "toggle_present", "Present", show=False),),
    "review-dialog": tuple(
        Key(f"status-{s}", STATUS_KEYS[s], f"choose('{s}')", s.capitalize()) for s in _STATUS_ORDER
    ),
}

#: Actions that write reviews or action items: hidden under ``--read-only``.
WRITE_ACTIONS = frozenset({"review_client", "review", "note", "add_action", "toggle_action"})

_KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc", "left": "←", "right": "→", "up": "↑",
              "down": "↓", "left_square_bracket": "[", "right_square_bracket": "]", "space": "space",
              "pagedown": "pgdn", "pageup": "pgup"}


def key_text(binding_id: str, remapped: Mapping[str, str] | None = None) -> str:
    """How hint texts name the (first) key of ``binding_id``, a ``[keys]``
    remap applied: "r", "esc", "/", "ctrl+e". Unknown id: the id itself."""
    keys = (remapped or {}).get(binding_id)
    if keys is None:
        keys = next((k.keys for scope in KEYMAP.values() for k in scope if k.id == binding_id), binding_id)
    first = keys.split(",")[0].strip()
    return _KEY_NAMES.get(first, first)


def hint_key(node, binding_id: str) -> str:
    """:func:`key_text` with the app's own remaps (``settings.keys``) for a widget or screen.
    (``ui.context.app_of``'s cast, written out: this registry imports no screen module.)"""
    try:
        remapped: Mapping[str, str] | None = cast("SupervisionApp", node.app).settings.keys
    except Exception:  # noqa: BLE001 - not mounted (no active app) or another app: the default key
        remapped = None
    return key_text(binding_id, remapped)


def write_keys(scope: str, remapped: Mapping[str, str] | None = None) -> frozenset[str]:
    """The keys of ``scope``'s write actions (``[keys]`` remaps applied)."""
    out: set[str] = set()
    for key in KEYMAP.get(scope, ()):
        if key.action in WRITE_ACTIONS:
            keys = (remapped or {}).get(key.id, key.keys)
            out.update(k.strip() for k in keys.split(",") if k.strip())
    return frozenset(out)


#: Actions that still work when the caseload could not be opened (the error screen).
WITHOUT_DATA = frozenset({"quit", "help", "close", "cycle_theme", "screenshot", "command_palette", "back", "cancel"})

#: The scopes whose keys are active together on each screen (the app's
#: keys are active on all of them): what ``collisions`` checks.
SCREENS: dict[str, tuple[str, ...]] = {
    "caseload": ("caseload", "caseload-table", "lists"),
    "filter-picker": ("filter-picker",),
    "client": ("client", "lists", "review-list"),
    "agenda": ("agenda",),
    "audit": ("audit", "lists"),
    "clinicians": ("clinicians", "clinicians-table", "lists"),
    "help": ("help",),
    "review-dialog": ("dialog", "review-dialog"),
    "note-dialog": ("dialog", "note-dialog"),
    "dialog": ("dialog",),
}

#: Binding ids that were renamed: a [keys] entry under the old name still works (and says so).
RENAMED: dict[str, str] = {"cycle_theme": "cycle-theme"}


def bindings(*scopes: str) -> list[BindingType]:
    """The Textual ``Binding``s of ``scopes``, in order (a class's ``BINDINGS``)."""
    return [key.binding() for scope in scopes for key in KEYMAP[scope]]


def binding_ids() -> frozenset[str]:
    """Every binding id a ``[keys]`` table may name."""
    return frozenset(key.id for keys in KEYMAP.values() for key in keys)


def check(keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The keymap to apply (``App.set_keymap``) from a ``[keys]`` table, and
    one message per entry that needs the user's attention: a renamed id
    (applied under its new name) and unknown ids (left out)."""
    keys = dict(keys)
    messages: list[str] = []
    for old, new in RENAMED.items():
        if old in keys:
            value = keys.pop(old)
            keys.setdefault(new, value)
            messages.append(f"[keys] {old} is now called {new}; please rename it")
    known = binding_ids()
    unknown = sorted(k for k in keys if k not in known)
    if unknown:
        messages.append(f"[keys] unknown binding {'ids' if len(unknown) > 1 else 'id'}: {', '.join(unknown)}. Known: {', '.join(sorted(known))}")
    return {k: v for k, v in keys.items() if k in known}, messages


def key_names(keys: str) -> set[str]:
    """``"/,f1"`` → ``{"slash", "f1"}``: single characters by their key
    names, as Textual's keymap normalises them, so "/" in the settings file
    and "slash" in a binding compare equal."""
    try:  # (Textual's own normalisation is private: guarded, identity without it)
        from textual.keys import _character_to_key
    except ImportError:  # pragma: no cover
        def _character_to_key(character: str) -> str:
            return character

    return {_character_to_key(k) if len(k) == 1 else k for k in (k.strip() for k in keys.split(",")) if k}


def collisions(keymap: Mapping[str, str]) -> list[str]:
    """One message per remapped binding whose new key is also bound to
    another binding active at the same time (the app's, one of the same
    screen or of a widget on it), e.g. ``[keys] review-client = q also used
    by quit``. Only pairs involving a remapped binding are reported; two
    bindings sharing an id (one command on a screen and its table) never clash."""

    def effective(key: Key) -> set[str]:
        return key_names(keymap.get(key.id, key.keys))

    clashes: dict[str, set[str]] = {}
    for scopes in [*SCREENS.values(), ()]:
        group = [k for scope in (*scopes, "app") for k in KEYMAP[scope]]
        for key in group:
            if key.id not in keymap:
                continue
            mine = effective(key)
            for other in group:
                if other.id != key.id and mine & effective(other):
                    clashes.setdefault(key.id, set()).add(other.id)
    return [
        f"[keys] {binding_id} = {keymap[binding_id]} also used by {', '.join(sorted(others))}"
        for binding_id, others in sorted(clashes.items())
    ]
