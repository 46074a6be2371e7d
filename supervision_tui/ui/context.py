"""The typed way screens and widgets reach the app.

Textual's ``self.app`` is typed as any ``App``; the dashboard's screens need
``SupervisionApp``'s attributes (``data``, ``reviews``, ``present`` ...).
``app_of(node)`` casts once, here (as Posting does), and ``AppScreen`` /
``AppModal`` give screens ``self.sup``: no string ``getattr``/``hasattr``
on the app anywhere in ``ui/`` (``tests/unit/test_hygiene.py`` checks it;
``keymap.hint_key`` writes the same cast out, as the keymap registry
imports no screen module). The app module is imported for type checking
only (no cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.ui.app import SupervisionApp

R = TypeVar("R")

#: A command palette entry: (name, callback, help text).
PaletteCommand = tuple[str, Callable[[], object], str]


class _HasApp(Protocol):
    @property
    def app(self) -> Any: ...


def app_of(node: _HasApp) -> SupervisionApp:
    """The running ``SupervisionApp`` of a screen, widget or palette provider."""
    return cast("SupervisionApp", node.app)


class AppScreen(Screen[R]):
    """A screen of the dashboard: ``self.sup`` is the typed app;
    ``palette_commands`` adds the screen's own commands to the palette."""

    @property
    def sup(self) -> SupervisionApp:
        return app_of(self)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """Commands of this screen for the command palette (none here)."""
        return iter(())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that cannot work now are not offered (``SupervisionApp.action_allowed``)."""
        return self.sup.action_allowed(action)


class AppModal(ModalScreen[R]):
    """A modal screen (dialog, picker) of the dashboard."""

    @property
    def sup(self) -> SupervisionApp:
        return app_of(self)
