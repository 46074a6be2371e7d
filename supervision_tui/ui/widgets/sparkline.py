"""Tiny text charts built from unicode blocks: no plotting library.

Pure functions (no Textual import) so the caseload table can build a
sparkline per row cheaply, and tests can check them directly.

Scaling with a cut-off (issue 15). Alliance ratings crowd the top of
their scale: on a plain 30–40 scale the usual SRS 36–40 filled the top
three of eight levels, every row of the caseload looked the same and, in
a browser, made a grey wall. With ``cutoff`` the scale is split at the
cut-off: the lowest quarter of the glyphs (at least one) is for values
below it, all the others for the band from the cut-off to the top. So a
rating below the cut-off never shares a glyph with one at or above it
(the cut-off is visible), and a typical client's 37–39 spreads over
several glyphs (its variation is visible). Without a cut-off the scale is
linear.
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


def below_levels(levels: int) -> int:
    """How many of ``levels`` glyphs stand for values below the cut-off."""
    return max(1, levels // 4)


def spark_level(value: float, lo: float, hi: float, levels: int, cutoff: float | None = None) -> int:
    """The glyph index (0..levels-1) of ``value`` on a scale from ``lo`` to
    ``hi``, split at ``cutoff`` when it lies inside (see the module docstring)."""
    if cutoff is None or not lo < cutoff < hi or levels < 3:
        return _level(value, lo, hi, levels)
    under = below_levels(levels)
    if value < cutoff:
        return _level(value, lo, cutoff, under) if under > 1 else 0
    return under + _level(value, cutoff, hi, levels - under)


def sparkline(
    values: Sequence[float | None],
    lo: float | None = None,
    hi: float | None = None,
    width: int | None = None,
    *,
    cutoff: float | None = None,
    glyphs: str = BLOCKS,
) -> str:
    """One line of ``glyphs`` (lowest first: ▁▂▃▄▅▆▇█), one per value (the
    last ``width`` values).

    ``lo``/``hi`` fix the scale (e.g. an instrument's range, so that a
    flat high series reads high, not mid-height); without them the series'
    own min/max is used. ``cutoff`` splits the scale there (module
    docstring). ``None`` values are drawn as a space (a session without a
    rating).
    """
    vals = list(values)
    if width is not None and width >= 0:
        vals = vals[-width:] if width else []
    real = [v for v in vals if v is not None]
    if not real:
        return ""
    lo = min(real) if lo is None else lo
    hi = max(real) if hi is None else hi
    n = len(glyphs)
    return "".join(" " if v is None else glyphs[spark_level(v, lo, hi, n, cutoff)] for v in vals)


def block_chart(
    values: Sequence[float | None],
    lo: float,
    hi: float,
    height: int = 3,
    width: int | None = None,
    eighths: str = _EIGHTHS,
    cutoff: float | None = None,
) -> list[str]:
    """A small multi-line bar chart (top line first), ``height`` rows of
    eighth-blocks: resolution ``8 × height`` levels. Used for the preview's
    alliance trend where a plot widget would be too heavy. ``eighths``: a
    cell's fill from empty (index 0) to full (index 8), e.g. the console
    glyph set's ``"  ░░░▒▒▒█"``. ``cutoff`` (inside ``lo``–``hi``, two rows
    or more) splits the scale as the sparkline does: the bottom row is for
    values below the cut-off, the rows above for the band from it to the
    top, so the cut-off is the bottom row's top edge and the usual ratings
    above it spread over the other rows instead of filling them solid."""
    vals = list(values)
    if width is not None:
        vals = vals[-width:] if width > 0 else []
    levels = 8 * height
    split = cutoff is not None and lo < cutoff < hi and height >= 2
    cols: list[str] = []
    for v in vals:
        if v is None:
            cols.append(" " * height)
            continue
        if split:  # below the cut-off: the bottom row only; at or above it: the bottom row full and more
            # (at most 7/8 below it: the bottom row is full only from the cut-off up, so the boundary shows)
            n = 1 + _level(v, lo, cutoff, 7) if v < cutoff else 9 + _level(v, cutoff, hi, levels - 8)
        else:
            n = _level(v, lo, hi, levels + 1)  # 0..levels eighths filled
        n = max(1, n)  # a rating is always visible
        col = []
        for row in range(height):  # bottom row first
            filled = min(8, max(0, n - 8 * row))
            col.append(eighths[filled])
        cols.append("".join(reversed(col)))
    return ["".join(c[r] for c in cols) for r in range(height)] if cols else [""] * height
