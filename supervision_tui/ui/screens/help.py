"""Help: every binding of the screen underneath and of the app, generated
from the live bindings (so keymap remaps show), never a hand-written list."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from supervision_tui.ui.keymap import bindings
from supervision_tui.ui.widgets.caseload_table import OUTCOME_SYMBOLS


@dataclass(frozen=True, slots=True)
class HelpEntry:
    group: str
    keys: str  # display form, e.g. "/" or "← ["
    description: str
    binding_id: str | None


#: Section titles for the widgets whose keys the help lists (by class name,
#: the first one found along the widget's class hierarchy). A widget class
#: can also name its section itself with a ``HELP_TITLE`` class attribute.
GROUP_TITLES: dict[str, str] = {
    "CaseloadTable": "Caseload list",
    "SessionsTable": "Sessions table",
    "ReviewList": "Review list",
    "ActionList": "Action items",
    "DataTable": "Tables",
    "OptionList": "Lists",
    "Input": "Typing in a box",
    "TextArea": "Typing in a box",
    "ScrollableContainer": "Scrolling",
    "ScrollView": "Scrolling",
}

#: What ``enter`` (a list's "Select") does, by screen id: listed under
#: "This screen" with these words.
ENTER_MEANS: dict[str, str] = {
    "agenda": "Open client",
    "audit": "Open client",
}

#: The caseload's symbols (its help lists them under "Symbols").
REVIEW_LEGEND = "Review: • new  ✓ discussed  ☐ action  ☑ resolved  × dismissed  * changed"
#: The Outcome column's verdicts, one a line (symbol, meaning): a wrapped legend line once put a
#: symbol at the end of one line and its meaning on the next
OUTCOME_MEANINGS = {  # the symbols themselves: caseload_table.OUTCOME_SYMBOLS
    "improved": "improved reliably",
    "no_change": "no reliable change",
    "deteriorated": "deteriorated reliably",
    "not_on_track": "not on track: below the clinic's expected course",
    "recovered": "recovered on that measure (not IAPT recovery)",
}
OUTCOME_LEGEND = ("Outcome: one verdict per measure, better or worse on that measure whichever way its score "
                  "runs (PHQ-9 falls as a client improves). Last seen: the last attended session.")
#: The clinical rules in a few lines (spec v2), under the caseload's symbols.
RULES_LEGEND = (
    "Tiers: ▲1 risk  ▲2 outcome (deteriorated or not on track)  ●3 rupture  ◆4 goal disagreed  ○5 absent  ·6 goal stale/not set/partial  "
    "7 no flag (no rule fired: not the same as cleared)",
    "Risk stays ▲1 until a negative re-screen on the same instrument at a later attended session; an empty "
    "risk cell is not asked, not negative. Clients not seen since their risk session come first.",
    "Risk rows are never hidden: pinned first whatever the sort, filter, clinician or closed toggle; "
    "a closed or dropped-out client with active risk stays on the list.",
    "A critical item (PHQ-9 item 9) is a screen, not a risk determination: confirm a risk assessment and "
    "safety plan are documented.",
    "Changes read as raw differences with their direction: PHQ-9 10 → 16 (+6, worse).",
    "Not on track (▲2): the latest rating is below what 9 in 10 of this clinic's clients starting at the same "
    "score reached by then (expected course fitted on the clinic's own data, shown with how many clients it "
    "comes from); not computed below 30 clients / 100 ratings per measure, and the screens say so. "
    "Deterioration wins where both hold.",
    "Effectiveness (o): each supervisee's gain beyond what clinic clients with the same intake gained, with "
    "95 % intervals; overlapping intervals are not a difference, and it is never a ranking.",
    "[our default] marks this product's choices (repair window and criterion, thresholds), not published norms.",
)


def _describe(binding: Binding) -> str:
    if binding.action == "command_palette":
        return "Command palette: every action, client and filter"
    text = binding.description or binding.action.replace("_", " ").strip()
    if not binding.id and text:  # Textual's own words: "Scroll Up" → "Scroll up"
        text = text[0].upper() + text[1:].lower()
    return text


def group_title(node) -> str | None:
    """The help section of a widget's keys; None: not listed."""
    title = getattr(type(node), "HELP_TITLE", None)
    if title:
        return title
    for cls in type(node).__mro__:
        if cls.__name__ in GROUP_TITLES:
            return GROUP_TITLES[cls.__name__]
    return None


def help_title(screen: Screen) -> str:
    """``Keys · caseload``: the screen's ``HELP_TITLE``, else its class name."""
    return getattr(type(screen), "HELP_TITLE", None) or f"Keys · {type(screen).__name__}"


def collect_help(app, screen) -> list[HelpEntry]:
    """Bindings active on ``screen`` (its focused widget, the screen, the
    app), grouped by where they come from; several keys of one action on
    one line."""
    entries: dict[tuple[str, str, str], list[str]] = {}
    ids: dict[tuple[str, str, str], str | None] = {}
    try:
        bindings_map = screen.active_bindings
    except Exception:
        bindings_map = app.active_bindings
    for key, active in bindings_map.items():
        node, binding = active.node, active.binding
        if binding.system and binding.action not in ("command_palette", "quit"):
            continue
        if (node is app or isinstance(node, Screen)) and not binding.id and binding.action != "command_palette":
            continue  # Textual's generic screen keys (tab focus, copy)
        description = _describe(binding)
        if node is app:
            group = "Everywhere"
        elif node is screen:
            group = "This screen"
        elif key == "enter" and binding.action in ("select", "select_cursor") and screen.id in ENTER_MEANS:
            group, description = "This screen", ENTER_MEANS[screen.id]
        else:
            group = group_title(node)
            if group is None:  # a container or widget with no name a reader would know: left out
                continue
        k = (group, binding.action, description)
        entries.setdefault(k, [])
        display = app.get_key_display(binding)
        if display not in entries[k]:
            entries[k].append(display)
        ids[k] = binding.id
    order = {"This screen": 0, "Everywhere": 1}
    out = [HelpEntry(g, " ".join(keys), desc, ids[(g, a, desc)]) for (g, a, desc), keys in entries.items()]
    out.sort(key=lambda e: (order.get(e.group, 2), e.group))
    if screen.id == "caseload":
        out.append(HelpEntry("Symbols", "", REVIEW_LEGEND, None))
        out.append(HelpEntry("Symbols", "", OUTCOME_LEGEND, None))
        out.extend(HelpEntry("Symbols", OUTCOME_SYMBOLS[status], meaning, None)
                   for status, meaning in OUTCOME_MEANINGS.items())
        out.extend(HelpEntry("Rules", "", line, None) for line in RULES_LEGEND)
    return out


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath; escape (or ?) closes, q quits."""

    BINDINGS = bindings("help")

    def __init__(self, entries: list[HelpEntry], title: str = "Keys") -> None:
        super().__init__(id="help")
        self.entries = entries
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            with VerticalScroll(id="help-scroll"):
                yield Static(self.render_entries(), id="help-text", markup=False)
            yield Static("esc close · q quit · ctrl+p every command", id="help-footer", markup=False)

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = self.title_text
        self.query_one("#help-scroll").focus()

    def render_entries(self) -> Text:
        t = Text()
        width = max((len(e.keys) for e in self.entries), default=4)
        group = None
        for e in self.entries:
            if e.group != group:
                if group is not None:
                    t.append("\n")
                t.append(e.group, style="bold underline")
                t.append("\n")
                group = e.group
            if e.keys:
                t.append(f"  {e.keys:>{width}}", style="bold")
                t.append(f"  {e.description}")
            else:  # a note, not a key
                t.append(f"  {e.description}")
            if e.binding_id:
                t.append(f"  [{e.binding_id}]", style="dim")
            t.append("\n")
        t.append("\nRemap any key by its [id] in the settings file's [keys] table.", style="dim")
        return t

    def action_close(self) -> None:
        self.dismiss(None)
