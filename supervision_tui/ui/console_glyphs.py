"""The console glyph set on screen: a line filter that keeps every cell
inside what a Linux console font can draw.

Widgets that build glyphs of their own (tier symbols, sparklines, chart
markers, the footer's keys) ask :func:`supervision_tui.glyphs` for
readable substitutes. Everything else Textual draws (rounded panel
corners, eighth-block scrollbars and input borders, ``…`` where a cell is
cut, the command palette's icon, rule texts with ``−``) passes through
:class:`ConsoleGlyphFilter`, which maps each character outside
:data:`~supervision_tui.glyphs.CONSOLE_SAFE` to one of the same width, so
the layout is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.filter import LineFilter

from supervision_tui.glyphs import CONSOLE_SAFE, to_console

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App
    from textual.color import Color


class ConsoleGlyphFilter(LineFilter):
    """Replace characters a Linux console font lacks (same cell width)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:  # noqa: ARG002
        safe = CONSOLE_SAFE
        out = []
        for segment in segments:
            text, style, control = segment
            if control or all(ch in safe for ch in text):
                out.append(segment)
            else:
                out.append(Segment(to_console(text), style, control))
        return out


def install(app: App) -> None:
    """Add the filter to ``app`` (once). Textual keeps its line filters in
    ``App._filters`` and applies each to every line it sends."""
    filters = app._filters  # noqa: SLF001 - Textual has no public API to add a line filter
    if not any(isinstance(f, ConsoleGlyphFilter) for f in filters):
        filters.append(ConsoleGlyphFilter())
