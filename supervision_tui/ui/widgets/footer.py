"""The app's footer: Textual's compact ``Footer`` that keeps to one
readable line on a narrow terminal.

Textual's footer clips what does not fit, so at 80 columns the caseload's
footer ended in "q Qui". When every key does not fit, this footer first
shortens the command-palette hint to ``^p``, then hides keys in
:data:`DROP_ORDER` (theme, presenting, agenda, ...) one at a time until the
rest fit. From 80 columns up, the keys a newcomer needs to find their way
(goals ``g``, closed clients ``c``, sort ``s``, the palette ``^p``, and
every key not in :data:`DROP_ORDER`) are never hidden; on a narrower
terminal the keys at the right end go next, except help, quit and ``^p``
(:data:`KEPT_ACTIONS`), so that no key is cut in half. Hidden keys stay
bound, and the help screen (``?``) lists every key of the screen. Nothing
is hidden on a wide terminal.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

DROP_ORDER = (
    "cycle_theme",  # everywhere: t Theme (the palette has it too)
    "toggle_present",  # p Present
    "agenda",  # a Agenda
    "blank",
    "audit",
    "toggle_action",  # client: d Done (the Actions panel says "d toggles")
)
"""Footer keys hidden on a narrow terminal, first to last (by action name)."""

SECONDARY_ACTIONS = frozenset(DROP_ORDER)
"""Kept for callers: the actions the footer may hide."""

KEPT_ACTIONS = frozenset({"help", "quit"})
"""Footer keys never hidden, however narrow the terminal (with the palette hint)."""

LATE_ACTIONS = frozenset({"review", "review_client", "open_client", "select_cursor"})
"""Below 80 columns, hidden only when every other key is: a screen's main
actions (r Review, enter Open; esc Back is every screen's and goes before
them)."""

LABEL_SHORT = {"Prev/next": "Client"}
"""Key-group labels shortened last, when the keys still do not fit."""

PALETTE_SHORT = ""
"""The command-palette hint's description when narrow: just ``^p``."""


def _label_text(label) -> str:
    return str(getattr(label, "_short", None) or getattr(label, "_full", None) or label.render())


def _key_width(key: FooterKey) -> int:
    """Cells of a compact footer key: its key, a space and its description
    (computed, not measured: the measured width lags a description change)."""
    return cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)


class AppFooter(Footer):
    """``Footer(compact=True)`` that fits one line: a shorter palette hint,
    then keys of :data:`DROP_ORDER` hidden, until the rest fit."""

    DEFAULT_CSS = """
    AppFooter FooterKey.-dropped {
        display: none;
    }
    AppFooter.-compact FooterLabel {
        margin: 0 1 0 0;  /* "←→ Prev/next esc Back", not "Prev/nextesc" */
    }
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("compact", True)
        super().__init__(**kwargs)

    def compose(self) -> ComposeResult:
        self._composed_keys = self._keys_shown(self.screen) if self._bindings_ready else None
        yield from super().compose()

    _composed_keys: tuple | None = None

    @staticmethod
    def _keys_shown(screen) -> tuple:
        """What ``compose`` would show for ``screen``'s bindings now."""
        active = screen.active_bindings
        return (tuple((b.key, b.action, b.description, enabled, tooltip, b.group)
                      for _node, b, enabled, tooltip in active.values() if b.show),
                screen.app.COMMAND_PALETTE_BINDING in active)

    def bindings_changed(self, screen) -> None:
        """Rebuild the keys only when they change. Textual's footer rebuilds
        them whenever its screen comes back or the focus moves, even with the
        same keys; the client screen (refilled for each client) and the
        caseload (on return) come back with the same keys every time, and
        the rebuild cost a relayout of the screen (~40 ms at 500 clients)."""
        if (self._composed_keys is not None and self.is_attached and screen is self.screen
                and self._keys_shown(screen) == self._composed_keys):
            return
        super().bindings_changed(screen)

    def on_mount(self) -> None:  # Footer's own on_mount runs too (Textual calls each class's handler)
        self.call_after_refresh(self._fit)

    def on_resize(self, _event: Resize) -> None:
        self._fit()

    async def recompose(self) -> None:  # new bindings (another focus, another screen state): fit again
        await super().recompose()
        self.call_after_refresh(self._fit)

    def full_width(self) -> int:
        """Cells the footer needs to show every key not hidden: each key and
        the cell after it (none after the last), the palette hint docked on
        the right with its border and its margin."""
        need = 0
        palette = 0
        for child in self.children:
            if isinstance(child, FooterKey) and child.has_class("-dropped"):
                continue
            if isinstance(child, FooterKey) and child.has_class("-command-palette"):
                # its border on the left and its margin on the right (Textual's footer CSS: a cell
                # that was left out here, so at 70 columns "? Help" ran one cell under the hint)
                palette = _key_width(child) + 1 + child.styles.margin.right
            elif isinstance(child, FooterKey):
                need += _key_width(child) + 1
            elif isinstance(child, KeyGroup):  # " ←→ ": the grouped keys with a cell each side
                need += sum(_key_width(k) for k in child.query(FooterKey)) + 2
            else:  # a group's label ("Prev/next") and the cell after it
                need += cell_len(_label_text(child)) + 1
        return max(0, need - 1) + palette

    def _fit(self) -> None:
        width = self.size.width or self.app.size.width
        keys = [c for c in self.children if isinstance(c, FooterKey)]
        palette = next((k for k in keys if k.has_class("-command-palette")), None)
        labels = [c for c in self.children if isinstance(c, FooterLabel)]
        for label in labels:
            if not hasattr(label, "_full"):
                label._full = str(label.render())
            if getattr(label, "_short", None):
                label._short = None
                label.update(label._full)
        for key in keys:
            key.remove_class("-dropped")
        if palette is not None:
            full = getattr(palette, "_full_description", palette.description)
            palette._full_description = full
            palette.description = full
        if self.full_width() <= width:
            self.set_class(False, "-narrow")
            return
        self.set_class(True, "-narrow")
        if palette is not None:
            palette.description = PALETTE_SHORT
            palette.refresh(layout=True)
        for action in DROP_ORDER:
            if self.full_width() <= width:
                break
            for key in keys:
                if key.action.rpartition(".")[2] == action:  # app bindings read "app.agenda"
                    key.add_class("-dropped")
        if self.full_width() > width:
            for label in labels:
                short = LABEL_SHORT.get(label._full)
                if short:
                    label._short = short
                    label.update(short)
        # Narrower than the keys' own minimum (a terminal below 80 columns, or the console's spelled-out
        # keys): hide keys from the right end, never help, quit and the palette hint. A key left to
        # overflow was cut by the docked palette hint and showed as garbage at the last column ("^pp":
        # the "p" of "Help").
        for spare in (LATE_ACTIONS, frozenset()):  # the screen's main actions (r Review) after the others
            for key in reversed(keys):
                if self.full_width() <= width:
                    break
                action = key.action.rpartition(".")[2]
                if key is palette or key.has_class("-dropped") or action in KEPT_ACTIONS or action in spare:
                    continue
                key.add_class("-dropped")
        self.refresh(layout=True)
