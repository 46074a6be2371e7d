"""Bindings shared by several widgets: one place, one id per key.

``LIST_KEYS`` adds ``j``/``k`` to any list or table (DataTable,
OptionList); their ids ``cursor-down``/``cursor-up`` are the same
everywhere, so one ``[keys]`` entry in the settings remaps them in every
list at once.
"""

from __future__ import annotations

from textual.binding import Binding

LIST_KEYS = [
    Binding("j", "cursor_down", "Down", show=False, id="cursor-down"),
    Binding("k", "cursor_up", "Up", show=False, id="cursor-up"),
]
