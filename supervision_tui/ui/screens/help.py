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


@dataclass(frozen=True, slots=True)
class HelpEntry:
    group: str
    keys: str  # display form, e.g. "/" or "← ["
    description: str
    binding_id: str | None


def _describe(binding: Binding) -> str:
    if binding.action == "command_palette":
        return "Command palette: every action, client and filter"
    if binding.description:
        return binding.description
    return binding.action.replace("_", " ").strip()


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
        if node is app:
            group = "Everywhere"
        elif node is screen:
            group = "This screen"
        else:
            group = type(node).__name__.replace("Table", " table")
        k = (group, binding.action, _describe(binding))
        entries.setdefault(k, [])
        display = app.get_key_display(binding)
        if display not in entries[k]:
            entries[k].append(display)
        ids[k] = binding.id
    order = {"This screen": 0, "Everywhere": 1}
    out = [HelpEntry(g, " ".join(keys), desc, ids[(g, a, desc)]) for (g, a, desc), keys in entries.items()]
    out.sort(key=lambda e: (order.get(e.group, 2), e.group))
    return out


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath; escape (or ?) closes, q quits."""

    BINDINGS = [
        Binding("escape,question_mark", "close", "Close", id="back"),
        Binding("q", "app.quit", "Quit", id="quit"),
    ]

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
            t.append(f"  {e.keys:>{width}}", style="bold")
            t.append(f"  {e.description}")
            if e.binding_id:
                t.append(f"  [{e.binding_id}]", style="dim")
            t.append("\n")
        t.append("\nRemap any key by its [id] in the settings file's [keys] table.", style="dim")
        return t

    def action_close(self) -> None:
        self.dismiss(None)
