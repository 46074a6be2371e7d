"""The app's footer: Textual's compact ``Footer`` that keeps to one
readable line on a narrow terminal.

Textual's footer clips what does not fit, so at 80 columns the caseload's
footer ended in "q Qui" and the keys after it (help, agenda, present) were
never seen. When every key does not fit, this footer hides the keys of
``SECONDARY_ACTIONS`` (sort, closed clients, theme, goals, …) and the
command-palette hint; they stay bound, and the help screen (``?``) lists
every key of the screen. Nothing is hidden on a wide terminal.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

SECONDARY_ACTIONS = frozenset({
    "toggle_closed",  # caseload: c Closed
    "sort",  # caseload: s Sort
    "cycle_theme",  # everywhere: t Theme
    "focus_goals",  # client: g Goals
    "agenda",  # everywhere: a Agenda (kept on the caseload, see KEEP_ON)
})
"""Footer keys dropped on a narrow terminal (by action name)."""

KEEP_ON: dict[str, frozenset[str]] = {
    "caseload": frozenset({"agenda"}),  # the agenda starts from the caseload
}
"""Per screen id: secondary actions that stay in its footer even when narrow."""


class AppFooter(Footer):
    """``Footer(compact=True)`` that drops its secondary keys (and the
    command-palette hint) when all of them do not fit on one line."""

    DEFAULT_CSS = """
    AppFooter.-narrow FooterKey.-secondary, AppFooter.-narrow FooterKey.-command-palette {
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
        keep = KEEP_ON.get(self.screen.id or "", frozenset())
        self._composed_keys = self._keys_shown(self.screen) if self._bindings_ready else None
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action in SECONDARY_ACTIONS and widget.action not in keep:
                widget.add_class("-secondary")
            yield widget

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

    def recompose(self):  # new bindings (another focus, another screen state): fit again
        result = super().recompose()
        self.call_after_refresh(self._fit)
        return result

    def full_width(self) -> int:
        """Cells the footer needs to show every key (compact layout: key,
        space, description, one cell between entries; the palette hint with
        its separator)."""
        need = 0
        for child in self.children:
            if isinstance(child, FooterKey):
                need += child.get_content_width(self.size, self.size) + 1
                if child.has_class("-command-palette"):
                    need += 1  # its left border
            else:  # a key group ("←→") or its label ("Prev/next")
                need += child.get_content_width(self.size, self.size) + 1
        return need

    def _fit(self) -> None:
        width = self.size.width or self.app.size.width
        self.set_class(self.full_width() > width, "-narrow")
