"""Line filters: the last step before a line goes to the terminal.

* :class:`ConsoleGlyphFilter`: the console glyph set on screen; keeps
  every cell inside what a Linux console font can draw.
* :class:`SimplifyFilter`: adjacent segments of one style sent as one
  (Rich otherwise repeats the same colour codes for every table cell:
  a third of the bytes of a cursor move over SSH).
* :class:`FullStrengthFilter`: no dim text, for themes that ask for it
  (``"dim-text-style" = "none"`` in the theme's variables: the projector,
  where dimmed text on a tinted row falls below 7:1, and the ANSI themes,
  where a terminal's "faint" halves the colour).

The console glyph set:

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
from rich.style import Style
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


def _look(style: Style | None) -> tuple | None:
    """What a style looks like on the terminal (Textual's meta left out:
    every table cell carries its own, which made Rich's ``simplify`` see
    different styles)."""
    if style is None:
        return None
    return (style.color, style.bgcolor, style._attributes, style._set_attributes, style._link)  # noqa: SLF001


class SimplifyFilter(LineFilter):
    """Join adjacent segments that look the same (fewer escape codes).
    Installed over SSH only, where the mouse is off: the merged segments
    keep the first one's meta."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:  # noqa: ARG002
        out: list[Segment] = []
        last = None
        for segment in segments:
            text, style, control = segment
            look = _look(style)
            if out and not control and last is not None and look == last and not out[-1].control:
                prev = out[-1]
                out[-1] = Segment(prev.text + text, prev.style, None)
            else:
                out.append(segment)
                last = look if not control else None
        return out


def install_simplify(app: App) -> None:
    """Add :class:`SimplifyFilter` last (after every filter that changes styles)."""
    filters = app._filters  # noqa: SLF001
    if not any(isinstance(f, SimplifyFilter) for f in filters):
        filters.append(SimplifyFilter())


_NOT_DIM = Style(dim=False)


class FullStrengthFilter(LineFilter):
    """Draw dim text at full strength. Must run before Textual's own
    ``ANSIToTruecolor`` filter, which turns dim into a paler colour."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:  # noqa: ARG002
        return [Segment(text, style + _NOT_DIM, control) if style is not None and style.dim else
                Segment(text, style, control) for text, style, control in segments]


DIM_VARIABLE = "dim-text-style"
"""A theme variable: ``"none"`` draws dim text at full strength."""


def wants_full_strength(variables: dict[str, str]) -> bool:
    return (variables.get(DIM_VARIABLE) or "").strip() == "none"


def install(app: App) -> None:
    """Add the console glyph filter to ``app`` (once). Textual keeps its line
    filters in ``App._filters`` and applies each to every line it sends."""
    filters = app._filters  # noqa: SLF001 - Textual has no public API to add a line filter
    if not any(isinstance(f, ConsoleGlyphFilter) for f in filters):
        filters.append(ConsoleGlyphFilter())


def set_full_strength(app: App, on: bool) -> None:
    """Turn :class:`FullStrengthFilter` on or off (first in line, before
    Textual turns dim into colour)."""
    filters = app._filters  # noqa: SLF001
    present = [f for f in filters if isinstance(f, FullStrengthFilter)]
    if on and not present:
        filters.insert(0, FullStrengthFilter())
    elif not on:
        for f in present:
            filters.remove(f)
