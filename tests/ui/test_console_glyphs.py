"""The console glyph filter, measured on what a terminal receives: a small
Textual app with rounded borders, eighth blocks, braille, ``…`` and
``⚠`` runs in a pseudo-terminal; with the filter every cell is a
character Linux console fonts have, and the layout does not move."""

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
    from textual.widgets import Static, Input

    class Demo(App):
        CSS = "Static { border: round $primary; height: 5; } Input { width: 30; }"
        def compose(self):
            yield Static("⚠ RISK · PHQ-9 −6 ≥ 5 → review ▁▂▃▄▅▆▇█ ⠶⣿ ◆ ● ○ ✓ ⏎ " + "long " * 30)
            yield Input(placeholder="note")
        def on_mount(self):
            if sys.argv[1:] == ["console"]:
                from supervision_tui.ui.console_glyphs import install
                install(self)
    Demo().run()
''')


def _run(tmp_path: Path, *args: str) -> list[str]:
    script = tmp_path / "demo_app.py"
    script.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL_")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(REPO))
    term = PtyTerm([sys.executable, str(script), *args], env, cols=60, rows=12)
    try:
        term.settle(until="RISK", limit=30)
        return list(term.screen.display)
    finally:
        term.close("\x11")  # ctrl+q


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
