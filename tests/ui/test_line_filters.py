"""Line filters, measured on what a terminal receives: a small Textual app
runs in a pseudo-terminal. With the console glyph filter every cell is a
character Linux console fonts have and the layout does not move; with the
full-strength filter no cell is dim, at truecolor and in an ANSI theme."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from ptyterm import PtyTerm  # noqa: E402

from supervision_tui.glyphs import CONSOLE_SAFE  # noqa: E402

APP = textwrap.dedent('''
    import sys
    from textual.app import App
    from rich.text import Text
    from textual.app import App
    from textual.widgets import Static, Input

    class Demo(App):
        CSS = "#main { border: round $primary; height: 5; } Input { width: 30; }"
        def compose(self):
            yield Static(id="main", content="⚠ RISK · PHQ-9 −6 ≥ 5 → review ▁▂▃▄▅▆▇█ ⠶⣿ ◆ ● ○ ✓ ⏎ " + "long " * 30)
            yield Static(Text("DIMMED hint", style="dim"))
            yield Input(placeholder="note")
        def on_mount(self):
            if "ansi" in sys.argv:
                self.theme = "ansi-dark"
            if "console" in sys.argv:
                from supervision_tui.ui.line_filters import install
                install(self)
            if "full" in sys.argv:
                from supervision_tui.ui.line_filters import set_full_strength
                set_full_strength(self, True)
                self.refresh()
    Demo().run()
''')


def _term(tmp_path: Path, *args: str) -> PtyTerm:
    script = tmp_path / "demo_app.py"
    script.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL_")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(REPO))
    term = PtyTerm([sys.executable, str(script), *args], env, cols=60, rows=12)
    term.settle(until="RISK", limit=30)
    return term


def _run(tmp_path: Path, *args: str) -> list[str]:
    term = _term(tmp_path, *args)
    try:
        return list(term.screen.display)
    finally:
        term.close("\x11")  # ctrl+q


def _dimmed_hint(tmp_path: Path, *args: str) -> tuple[str, bool, str]:
    """(foreground, dim attribute) of the "DIMMED" cell, and the plain text's foreground."""
    term = _term(tmp_path, *args)
    try:
        y = next(i for i, line in enumerate(term.screen.display) if "DIMMED" in line)
        x = term.screen.display[y].index("DIMMED")
        hint = term.cell(x, y)
        row = next(i for i, line in enumerate(term.screen.display) if "RISK" in line)
        plain = term.cell(term.screen.display[row].index("RISK"), row)
        return hint.fg, hint.dim, plain.fg
    finally:
        term.close("\x11")


def test_without_the_filter_the_screen_has_glyphs_consoles_lack(tmp_path):
    lines = _run(tmp_path)
    assert {ch for line in lines for ch in line} - CONSOLE_SAFE  # the test can fail


def test_with_the_filter_every_cell_is_console_safe_and_in_place(tmp_path):
    plain = _run(tmp_path)
    console = _run(tmp_path, "console")
    assert {ch for line in console for ch in line} <= CONSOLE_SAFE
    assert console[0].startswith("┌") and console[4].startswith("└")  # corners, not rounded
    assert "! RISK · PHQ-9 -6 ≥ 5 → review" in console[1]
    # same layout: every line is as long, and every ASCII letter where it was
    for a, b in zip(plain, console):
        assert len(a) == len(b)
        assert [i for i, ch in enumerate(a) if ch.isascii() and ch.isalnum()] == \
               [i for i, ch in enumerate(b) if ch.isascii() and ch.isalnum() and a[i] == ch]


def test_full_strength_draws_dim_text_as_plain_text(tmp_path):
    fg, dim, plain = _dimmed_hint(tmp_path)
    assert fg != plain and not dim  # truecolor: Textual paled the colour
    fg, dim, plain = _dimmed_hint(tmp_path, "full")
    assert fg == plain and not dim
    _fg, dim, _plain = _dimmed_hint(tmp_path, "ansi")
    assert dim  # an ANSI theme sends SGR 2 (faint)
    _fg, dim, _plain = _dimmed_hint(tmp_path, "ansi", "full")
    assert not dim
