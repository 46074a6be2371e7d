"""Sparkline scaling (issue 15): with the SRS cut-off, a typical client's
36-40 uses most glyphs and no rating below the cut-off shares a glyph
with one at or above it; the console glyph set works the same way."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervision_tui.glyphs import CONSOLE, UNICODE
from supervision_tui.ui.widgets.sparkline import BLOCKS, block_chart, below_levels, spark_level, sparkline

SRS_LO, SRS_HI, SRS_CUT = 30, 40, 36  # the caseload's SRS scale (display_range) and cut-off


def test_a_typical_clients_variation_is_visible():
    typical = [37, 38.5, 36.5, 39, 40, 37.5]
    old = sparkline(typical, SRS_LO, SRS_HI)  # linear 30-40: the "solid block"
    new = sparkline(typical, SRS_LO, SRS_HI, cutoff=SRS_CUT)
    assert len(set(old)) <= 3 and set(old) <= set("▅▆▇█")
    assert len(set(new)) >= 5  # 36.5 and 37 may share one
    order = sorted(range(6), key=lambda i: typical[i])
    assert [BLOCKS.index(new[i]) for i in order] == sorted(BLOCKS.index(new[i]) for i in order)


def test_the_cut_off_is_visible():
    line = sparkline([35.9, 36, 40, 30], SRS_LO, SRS_HI, cutoff=SRS_CUT)
    below = BLOCKS[:below_levels(len(BLOCKS))]
    assert line[0] in below and line[3] in below  # below 36
    assert line[1] not in below and line[2] == "█"  # 36 is not low (clinical-rules §2)
    assert line[1] == BLOCKS[below_levels(len(BLOCKS))]  # the cut-off is the first glyph above


@given(st.lists(st.floats(min_value=0, max_value=40), min_size=2, max_size=12),
       st.sampled_from([UNICODE.sparkline, CONSOLE.sparkline]))
def test_order_is_kept_and_the_cut_off_separates(values, glyphs):
    n = len(glyphs)
    levels = [spark_level(v, SRS_LO, SRS_HI, n, SRS_CUT) for v in values]
    for a, la in zip(values, levels):
        for b, lb in zip(values, levels):
            if a < b:
                assert la <= lb  # never upside down
        assert (la < below_levels(n)) == (a < SRS_CUT)


def test_without_a_cut_off_the_scale_is_linear():
    assert sparkline([0, 20, 40], 0, 40) == "▁▅█"
    assert sparkline([0, 20, 40], 0, 40, cutoff=None) == sparkline([0, 20, 40], 0, 40)
    assert sparkline([10, None, 30], 0, 40) == "▃ ▆"


def test_console_glyphs():
    line = sparkline([33, 36, 38, 40], SRS_LO, SRS_HI, cutoff=SRS_CUT, glyphs=CONSOLE.sparkline)
    assert line == "_░▒█"
    rows = block_chart([30, 35, 40], 30, 40, height=2, eighths=CONSOLE.eighths)
    assert all(set(r) <= set(CONSOLE.eighths) for r in rows)
    assert rows[0][-1] == "█" and rows[1][-1] == "█"



@pytest.mark.parametrize("value, column", [  # the column top row first
    (30, "  ▁"),    # the lowest rating: one eighth of the bottom row
    (35.9, "  ▇"),  # just below the cut-off: the bottom row only, never full (the boundary shows)
    (36, " ▁█"),    # the cut-off itself is not below it: into the middle row
    (38, "▁██"),    # half-way from the cut-off to the top: the middle row full
    (40, "███"),
])
def test_block_chart_splits_at_the_cut_off(value, column):
    """With a cut-off the bottom row is for ratings below it, the rows above
    for the band from it to the top (the preview's alliance trend: SRS 37–40
    no longer fills two rows solid on a 30–40 scale)."""
    rows = block_chart([value], 30, 40, height=3, cutoff=36)
    assert "".join(r[0] for r in rows) == column


def test_block_chart_without_a_cut_off_hides_it():
    """What the split is for: on the plain scale 35.9 and 36 draw alike."""
    below, at = (block_chart([v], 30, 40, height=3) for v in (35.9, 36))
    assert below == at
    assert block_chart([35.9], 30, 40, height=3, cutoff=36) != block_chart([36], 30, 40, height=3, cutoff=36)
