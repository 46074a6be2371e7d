"""NO_COLOR (issue 15), measured on what the terminal receives: on a
16-colour terminal with no theme chosen, the app picks the ANSI theme,
sends no colour at all, marks the cursor row in reverse video, and the
tiers' emphasis never rises as urgency falls (tier 2 was dimmer than
tier 3 under Textual's grey filter)."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from contrast import DARK_DEFAULTS, PY, child_env, ratio, shown_colours  # noqa: E402
from ptyterm import PtyTerm  # noqa: E402

from supervision_tui.ui.terminal import suggested_theme  # noqa: E402


def test_no_color_suggests_the_ansi_theme_at_any_depth():
    for term in ("xterm", "xterm-256color", "linux"):
        assert suggested_theme({"TERM": term, "NO_COLOR": "1"}) == "ansi"
    assert suggested_theme({"TERM": "xterm-256color", "COLORTERM": "truecolor", "NO_COLOR": "1"}) == "ansi"
    assert suggested_theme({"TERM": "xterm-256color"}) is None  # colour terminals keep the default


def _emphasis(cell) -> int:
    """How loud a cell is without colour: reverse > bold+underline > bold > plain > dim."""
    return (4 if cell.reverse else 0) + (2 if cell.bold else 0) - (1 if cell.dim else 0)


@pytest.mark.parametrize("remembered", [None, "clinic-dark"])
def test_no_color_on_a_16_colour_terminal(remembered):
    """``remembered``: a theme kept in the settings from a colour session
    (``t``); NO_COLOR still wins over it (an explicit --theme would not)."""
    with tempfile.TemporaryDirectory(prefix="nocolor-") as tmp:
        env = child_env(Path(tmp), "16", {"NO_COLOR": "1"})
        if remembered:
            config = Path(env["SUPERVISION_TUI_CONFIG_DIR"])
            config.mkdir(parents=True)
            (config / "settings.toml").write_text(f'[ui]\ntheme = "{remembered}"\n')
        term = PtyTerm([PY, "-m", "supervision_tui", "open"], env, cols=120, rows=40)
        try:
            term.settle(until="C-0", limit=90)
            lines = term.screen.display
            assert lines[0].rstrip().endswith("ansi")  # the theme, named in the top bar
            cells = [term.cell(x, y) for y in range(term.rows) for x in range(term.cols)]
            assert {c.fg for c in cells} == {"default"} and {c.bg for c in cells} == {"default"}
            # the cursor row (first client) in reverse video, the next row not
            row = next(y for y, line in enumerate(lines) if "C-0" in line)
            code_x = lines[row].index("C-0")
            assert term.cell(code_x, row).reverse and not term.cell(code_x, row + 1).reverse
            term.press("down")  # off the first row, so tier 1 shows its own style
            loud = {}
            for y, line in enumerate(term.screen.display):
                match = re.match(r"^│ (\S?)([1-7]) [a-z]", line)
                if match and y != row + 1:  # a tier cell, not the cursor row
                    loud.setdefault(int(match.group(2)), _emphasis(term.cell(match.end() - 1, y)))
            tiers = sorted(loud)
            assert len(tiers) >= 4, loud
            assert [loud[t] for t in tiers] == sorted((loud[t] for t in tiers), reverse=True), loud
            assert loud[tiers[0]] > loud[tiers[-1]], loud
        finally:
            term.close("q")


def test_an_explicit_rgb_theme_under_no_color_keeps_urgency_in_order():
    """--theme clinic-dark with NO_COLOR: Textual's greys; the tier cells
    carry text styles only, their emphasis falling with urgency."""
    with tempfile.TemporaryDirectory(prefix="nocolor-") as tmp:
        env = child_env(Path(tmp), "truecolor", {"NO_COLOR": "1"})
        term = PtyTerm([PY, "-m", "supervision_tui", "open", "--theme", "clinic-dark"], env, cols=120, rows=40)
        try:
            term.settle(until="C-0", limit=90)
            term.press("down")
            loud, contrast = {}, {}
            for y, line in enumerate(term.screen.display):
                match = re.match(r"^│ (\S?)([1-7]) [a-z]", line)
                if match and not term.cell(4, y).reverse:
                    cell = term.cell(match.end() - 1, y)
                    tier = int(match.group(2))
                    loud.setdefault(tier, _emphasis(cell))
                    contrast.setdefault(tier, round(ratio(*shown_colours(cell, DARK_DEFAULTS)), 1))
            tiers = sorted(loud)
            assert len(tiers) >= 4, loud
            assert [loud[t] for t in tiers] == sorted((loud[t] for t in tiers), reverse=True), loud
            # the greys: a less urgent tier never brighter (was: amber tier 3 over red tier 2)
            assert [contrast[t] for t in tiers] == sorted((contrast[t] for t in tiers), reverse=True), contrast
        finally:
            term.close("q")
