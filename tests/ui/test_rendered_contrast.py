"""Contrast measured on what the terminal receives (issue 15).

The real app runs in a pseudo-terminal at each colour depth and walks
every screen (caseload, presenting, filter, search, palette, help, client
screens of a rupture, a risk and an unflagged client, the review, note
and action dialogs, supervisees, agenda, audit) under each bundled theme;
``bench/contrast.py`` reads every cell's colours from the escape codes
and computes WCAG ratios. Text must reach 7:1 on the projector and 4.5:1
elsewhere; borders, chart strokes and sparklines 3:1 on the projector.
Modal backdrops (dimmed, inactive) are not measured; colour emoji are not
text. The ANSI themes are measured with xterm's default palette.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import contrast  # noqa: E402


@pytest.mark.parametrize(("depth", "themes"), contrast.runs(), ids=[d for d, _ in contrast.runs()])
def test_every_screen_meets_its_contrast_minimum(depth, themes):
    failures = []
    for report in contrast.run_themes(themes, depth):
        assert set(report.screens) == {s.name for s in contrast.ROUTE}
        assert report.findings, "nothing measured"
        need = contrast.text_min(report.theme)
        failures += [f"{report.theme}/{depth}: {f}" for f in report.worst("text", 20) if f.ratio < need]
        if report.theme in contrast.GRAPHIC_CHECKED:
            failures += [f"{report.theme}/{depth}: {f}" for f in report.worst("graphic", 20)
                         if f.ratio < contrast.GRAPHIC_MIN]
    assert not failures, "\n".join(failures)


def test_the_checker_reads_colours_and_finds_low_contrast():
    """The measuring stick itself: WCAG values, dim and reverse handled."""
    assert contrast.ratio("000000", "ffffff") == pytest.approx(21.0)
    assert contrast.ratio("777777", "ffffff") == pytest.approx(4.48, abs=0.01)
    cell = contrast.Cell("a", "000000", "ffffff", False, True, False)
    fg, bg = contrast.shown_colours(cell, contrast.DARK_DEFAULTS)
    assert bg == "ffffff" and contrast.ratio(fg, bg) < 4.5  # dimmed black on white
    cell = contrast.Cell("a", "default", "default", False, False, True)
    assert contrast.shown_colours(cell, contrast.DARK_DEFAULTS) == ("000000", "e5e5e5")  # reversed
    assert contrast.kind_of("╭") == "graphic" and contrast.kind_of("▇") == "graphic"
    assert contrast.kind_of("a") == "text" and contrast.kind_of("⚠") == "text"
    assert contrast.kind_of(" ") is None and contrast.kind_of("🔎") is None
