"""The blank screen (``b``): hides everything at once, e.g. when someone
walks into the room during supervision. A neutral message; any key (or a
click) returns to exactly where you were."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

BLANK_MESSAGE = "Screen paused · press any key to continue"


class BlankScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__(id="blank")

    def compose(self) -> ComposeResult:
        yield Static(BLANK_MESSAGE, markup=False)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(None)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.dismiss(None)
