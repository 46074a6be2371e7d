"""Tiny text charts built from unicode blocks: no plotting library.

Pure functions (no Textual import) so the caseload table can build a
sparkline per row cheaply, and tests can check them directly.
"""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
_FULL = "█"
_EIGHTHS = " ▁▂▃▄▅▆▇█"


def _level(value: float, lo: float, hi: float, levels: int) -> int:
    """0..levels-1 for value within [lo, hi] (clamped)."""
    if hi <= lo:
        return levels - 1
    frac = (value - lo) / (hi - lo)
    frac = min(1.0, max(0.0, frac))
    return min(levels - 1, int(round(frac * (levels - 1))))


def sparkline(
    values: Sequence[float | None],
    lo: float | None = None,
    hi: float | None = None,
    width: int | None = None,
) -> str:
    """One line of blocks ▁▂▃▄▅▆▇█, one per value (the last ``width`` values).

    ``lo``/``hi`` fix the scale (e.g. an instrument's range, so that a
    flat high series reads high, not mid-height); without them the series'
    own min/max is used. ``None`` values are drawn as a space (a session
    without a rating).
    """
    vals = list(values)
    if width is not None and width >= 0:
        vals = vals[-width:] if width else []
    real = [v for v in vals if v is not None]
    if not real:
        return ""
    lo = min(real) if lo is None else lo
    hi = max(real) if hi is None else hi
    return "".join(" " if v is None else BLOCKS[_level(v, lo, hi, len(BLOCKS))] for v in vals)


def block_chart(
    values: Sequence[float | None],
    lo: float,
    hi: float,
    height: int = 3,
    width: int | None = None,
) -> list[str]:
    """A small multi-line bar chart (top line first), ``height`` rows of
    eighth-blocks: resolution ``8 × height`` levels. Used for the preview's
    alliance trend where a plot widget would be too heavy."""
    vals = list(values)
    if width is not None:
        vals = vals[-width:] if width > 0 else []
    levels = 8 * height
    cols: list[str] = []
    for v in vals:
        if v is None:
            cols.append(" " * height)
            continue
        n = _level(v, lo, hi, levels + 1)  # 0..levels eighths filled
        n = max(1, n)  # a rating is always visible
        col = []
        for row in range(height):  # bottom row first
            filled = min(8, max(0, n - 8 * row))
            col.append(_EIGHTHS[filled])
        cols.append("".join(reversed(col)))
    return ["".join(c[r] for c in cols) for r in range(height)] if cols else [""] * height
