"""The console glyph set on every screen (issue 15), measured on what the
terminal receives: under ``TERM=linux`` (chosen automatically) and with
``--ascii`` every cell of every screen is a character all common Linux
console fonts have, and tiers, sparklines, charts and the footer still
read (symbols, levels, markers, key names)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import contrast  # noqa: E402

from supervision_tui.glyphs import CONSOLE, CONSOLE_SAFE  # noqa: E402


def _walk(extra_env: dict[str, str], args: list[str], depth: str) -> dict[str, list[str]]:
    screens: dict[str, list[str]] = {}

    def keep(_theme, name, term):
        screens[name] = list(term.screen.display)

    theme = "ansi" if depth == "16" else "clinic-dark"
    contrast.run_themes([theme], depth, extra_env=extra_env, args=args, on_screen=keep)
    return screens


@pytest.mark.parametrize(("how", "env", "args", "depth"), [
    ("TERM=linux", {"TERM": "linux"}, [], "16"),
    ("--ascii", {}, ["--ascii"], "truecolor"),
])
def test_every_screen_draws_only_console_glyphs(how, env, args, depth):
    screens = _walk(env, args, depth)
    assert set(screens) == {s.name for s in contrast.ROUTE}
    bad = {name: sorted({ch for line in lines for ch in line} - CONSOLE_SAFE) for name, lines in screens.items()}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}

    caseload = "\n".join(screens["caseload"])
    assert "!1 risk" in caseload and "*3 rupture" in caseload  # tier symbols of the console set
    assert any(ch in caseload for ch in CONSOLE.sparkline[1:])  # sparklines still have levels
    footer = screens["caseload"][-1]
    assert "enter Open" in footer and "q Quit" in footer
    rupture = "\n".join(screens["client-rupture"])
    assert "x rupture" in rupture  # the chart's rupture mark, named in its legend
    assert "* SRS client" in rupture
