"""Glyph sets: the characters the screens draw with.

Two sets:

* ``unicode`` (the default): eighth blocks for sparklines and the trend
  preview, braille and quadrant blocks in the charts, ``⚠ ✓ ◆ ● ○ ⏎ …``;
* ``console``: only characters that every common Linux console font has,
  for ``TERM=linux`` (chosen automatically) and for ``--ascii``.

Which characters a Linux console has is a measured fact, not a guess:
:data:`CONSOLE_SAFE` is the intersection of the Unicode tables of the
console fonts people actually get: Debian/Ubuntu's console-setup fonts
``Lat15-Fixed16``, ``Lat15-Terminus16``, ``Lat15-VGA16``, ``Uni2-Fixed16``,
``Uni2-Terminus16``, ``Uni2-VGA16``, ``Uni3-Terminus16``, and kbd's
(console-data) ``default8x16`` (the CP437 font), ``lat0-16``, ``lat1-16``
and ``lat9w-16``. Besides ASCII and most of Latin-1 it holds CP437's
single and double box drawing (``─│┌┐└┘├┤┬┴┼═║╔╗╚╝╠╣╦╩╬``), ``█░▒``,
``▶◀``, the arrows ``←↑→↓`` and ``≤≥≈``. Beware two common beliefs: the
half blocks ``▀▄▌▐`` and ``▓`` are *missing* from every console-setup
font (the default on Debian and Ubuntu), and ``▲▼`` from kbd's Latin
fonts; rounded corners, ``…`` and ``−`` are in console-setup's fonts but
not in kbd's. So the console set draws with the intersection only.

:func:`to_console` maps any text into :data:`CONSOLE_SAFE` keeping its
width in cells (each replacement is as wide as what it replaces), which
is what a line filter needs; widgets that build their own glyphs (tier
symbols, sparklines, chart markers, the footer) ask the current
:class:`GlyphSet` instead, so they choose readable substitutes rather
than rely on the fallback.

Pure module: no Textual import (the CLI decides the set before Textual
is loaded).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

# --------------------------------------------------------------------------
# What a Linux console can show

_CONSOLE_EXTRA = (
    "\xa0¡¢£¥§ª«¬°±²µ¶·º»¿ÄÅÆÇÉÑÖÜßàáâäåæçèéêëìíîïñòóôö÷ùúûüÿπ"
    "←↑→↓≈≤≥─│┌┐└┘├┤┬┴┼═║╔╗╚╝╠╣╦╩╬█░▒▶◀"
)
CONSOLE_SAFE: frozenset[str] = frozenset(chr(c) for c in range(0x20, 0x7F)) | frozenset(_CONSOLE_EXTRA)
"""Characters in every one of the console fonts named in the module docstring."""

CONSOLE_MAP: dict[str, str] = {
    # lines and corners
    **dict.fromkeys("╭┍┎┏╒╓", "┌"), **dict.fromkeys("╮┑┒┓╕╖", "┐"),
    **dict.fromkeys("╰┕┖┗╘╙", "└"), **dict.fromkeys("╯┙┚┛╛╜", "┘"),
    **dict.fromkeys("━┄┅┈┉╌╍╴╶╸╺╼╾", "─"), **dict.fromkeys("┃┆┇┊┋╎╏╵╷╹╻╽╿", "│"),
    **dict.fromkeys("┝┞┟┠┡┢┣╞╟", "├"), **dict.fromkeys("┥┦┧┨┩┪┫╡╢", "┤"),
    **dict.fromkeys("┭┮┯┰┱┲┳╤╥", "┬"), **dict.fromkeys("┵┶┷┸┹┺┻╧╨", "┴"),
    **dict.fromkeys("┽┾┿╀╁╂╃╄╅╆╇╈╉╊╋╪╫", "┼"),
    "╱": "/", "╲": "\\", "╳": "X",
    # eighth blocks: thin ones become lines, thick ones a full block
    "▔": "─", "▁": "_", "▂": "_", "▃": "▒", "▄": "▒", "▅": "▒", "▆": "█", "▇": "█",
    "▏": "│", "▎": "│", "▍": "│", "▕": "│", "▌": "▒", "▐": "▒", "▋": "█", "▊": "█", "▉": "█",
    "▀": "▒", "▓": "▒",
    # quadrants: by how much of the cell they fill
    **dict.fromkeys("▖▗▘▝", "░"), **dict.fromkeys("▚▞", "▒"), **dict.fromkeys("▙▛▜▟", "█"),
    # geometric shapes and marks
    "●": "*", "•": "·", "∙": "·", "◦": "o", "○": "o", "◯": "o", "◆": "#", "◇": "#", "♦": "#",
    "■": "#", "▪": "#", "□": "#", "▫": "#", "▬": "=", "▮": "#",
    "▲": "^", "△": "^", "▴": "^", "▼": "v", "▽": "v", "▾": "v",
    "►": "▶", "▸": ">", "▹": ">", "◄": "◀", "◂": "<", "◃": "<",
    "✓": "v", "✔": "v", "✗": "x", "✘": "x", "×": "x", "⚠": "!", "☐": "o", "☑": "V", "☒": "x",
    "⏎": "¬", "↵": "¬", "↔": "-", "↕": "|", "⇄": "-", "⇅": "|",
    # punctuation and letters
    "…": "»", "−": "-", "–": "-", "—": "-", "‒": "-", "―": "-", "‐": "-", "‑": "-",
    "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": ",", "′": "'", "″": '"',
    "≠": "#", "√": "v", "σ": "s", "∞": "8",
    "¹": "1", "³": "3", "⁰": "0", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
    "\u2009": " ", "\u202f": " ", "\u2007": " ", "\u200a": " ",
    # wide pictographs Textual draws (two cells each)
    "🔎": "> ", "🔍": "> ",
}
"""Replacements for characters outside :data:`CONSOLE_SAFE`; each value
is exactly as wide, in cells, as its key."""


CONSOLE_PAIRS: dict[str, str] = {"▲1": "!1"}
"""Replacements of a glyph in context, applied first: the tier symbols
with their number. Tier 1 (risk) and tier 2 share ``▲``; their console
forms differ (``rules.kinds.TIERS``: ``!`` and ``^``)."""


def cell_width(text: str) -> int:
    """Cells ``text`` takes in a terminal (East Asian wide and emoji: 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def _fallback(char: str) -> str:
    """A same-width replacement for a character with no entry in :data:`CONSOLE_MAP`."""
    code = ord(char)
    if 0x2800 <= code <= 0x28FF:  # braille: a dot, or nothing
        return " " if code == 0x2800 else "·"
    if 0x1FB00 <= code <= 0x1FBFF:  # sextants and other legacy computing blocks
        return "▒"
    width = cell_width(char)
    decomposed = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if len(decomposed) == 1 and decomposed.isprintable() and width >= 1:
        return decomposed + " " * (width - 1)  # é → e, ² → 2, a full-width ！ → "! "
    return "?" * width


def to_console(text: str) -> str:
    """``text`` with every character outside :data:`CONSOLE_SAFE` replaced
    by one of the same width (:data:`CONSOLE_MAP`, else a plain
    approximation, else ``?``)."""
    if all(ch in CONSOLE_SAFE for ch in text):
        return text
    for pair, replacement in CONSOLE_PAIRS.items():
        if pair in text:
            text = text.replace(pair, replacement)
    out = []
    for ch in text:
        if ch in CONSOLE_SAFE or ch in "\n\t":
            out.append(ch)
        elif ch in CONSOLE_MAP:
            out.append(CONSOLE_MAP[ch])
        else:
            out.append(_fallback(ch))
    return "".join(out)


# --------------------------------------------------------------------------
# Glyph sets


@dataclass(frozen=True)
class GlyphSet:
    """What widgets draw with. Every string here is one cell per character."""

    name: str
    console: bool
    sparkline: str
    """Sparkline levels, lowest first."""
    eighths: str
    """Fill of one cell of a bar, from empty (index 0) to full (index 8)."""
    enter: str
    """How the footer shows the Enter key."""
    ellipsis: str
    minus: str
    bullet: str
    check: str
    warning: str
    axis: str
    """The left edge of the preview's trend chart."""
    series_markers: tuple[str, ...]
    """plotext markers for chart series, in series order."""
    series_legend: tuple[str, ...]
    """What the legend shows for each series marker."""
    border: str
    """Textual border type for panels."""

    def tier_symbol(self, tier) -> str:
        """A :class:`~supervision_tui.rules.kinds.Tier`'s symbol in this set."""
        return tier.ascii if self.console else tier.symbol

    def text(self, text: str) -> str:
        """``text`` made safe for this set (unchanged for ``unicode``)."""
        return to_console(text) if self.console else text


UNICODE = GlyphSet(
    name="unicode",
    console=False,
    sparkline="▁▂▃▄▅▆▇█",
    eighths=" ▁▂▃▄▅▆▇█",
    enter="⏎",
    ellipsis="…",
    minus="−",
    bullet="•",
    check="✓",
    warning="⚠",
    axis="▕",
    series_markers=("hd", "braille", "+", "x", "dot", "hd"),
    series_legend=("▬", "⠶", "+", "x", "•", "▬"),
    border="round",
)

CONSOLE = GlyphSet(
    name="console",
    console=True,
    sparkline="_░▒█",
    eighths="  ░░░▒▒▒█",
    enter="enter",
    ellipsis="»",
    minus="-",
    bullet="*",
    check="v",
    warning="!",
    axis="│",
    series_markers=("*", "o", "+", "x", "#", "@"),
    series_legend=("*", "o", "+", "x", "#", "@"),
    border="solid",
)

GLYPH_SETS: dict[str, GlyphSet] = {UNICODE.name: UNICODE, CONSOLE.name: CONSOLE}

CONSOLE_TERMS = ("linux", "vt100", "vt102", "vt220", "vt320", "cons25", "wsvt25")
"""``TERM`` values (and their ``-…`` variants, e.g. ``linux-16color``) of
consoles whose fonts have only :data:`CONSOLE_SAFE`."""


def detect(env: Mapping[str, str] | None = None) -> GlyphSet:
    """The set for this terminal: :data:`CONSOLE` for a Linux (or VT)
    console by ``TERM``, else :data:`UNICODE`."""
    env = os.environ if env is None else env
    term = (env.get("TERM") or "").strip().lower()
    base = term.split("-", 1)[0]
    return CONSOLE if base in CONSOLE_TERMS else UNICODE


def choose(ascii_only: bool | None = None, env: Mapping[str, str] | None = None) -> GlyphSet:
    """``--ascii`` (True) or ``--unicode`` (False) win; None: :func:`detect`."""
    if ascii_only is None:
        return detect(env)
    return CONSOLE if ascii_only else UNICODE


def missing(text: str) -> set[str]:
    """Characters of ``text`` a Linux console cannot show (for tests)."""
    return {ch for ch in text if ch not in CONSOLE_SAFE and ch not in "\n\t"}
