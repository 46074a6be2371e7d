"""Snapshot tests (pytest-textual-snapshot): caseload, client, clinicians,
help and agenda screens at 80×24 and 160×48, in textual-dark and
textual-light.

Built from the deterministic demo (seed 2026, 18 clients) with a fixed
as-of date and a frozen cursor blink. Regenerate after a deliberate
change with ``pytest tests/test_snapshots.py --snapshot-update`` and look
at the SVGs before checking them in.
"""

from __future__ import annotations

import pytest

from ui_support import (  # noqa: F401  (fixtures)
    LARGE,
    SMALL,
    _frozen_cursor,
    demo_db,
    loaded,
    make_app,
    scenarios,
)

SIZES = {"80x24": SMALL, "160x48": LARGE}
THEMES = ["textual-dark", "textual-light"]


def _keys_for(screen: str, scenarios: dict[str, str]):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        app = pilot.app
        if screen == "client":
            app.show_client(scenarios["unrepaired"])
        elif screen == "clinicians":
            await pilot.press("o")
        elif screen == "help":
            await pilot.press("question_mark")
        elif screen == "agenda":
            await pilot.press("a")
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
        await pilot.pause(0.3)  # preview debounce, chart layout
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", ["caseload", "client", "clinicians", "help", "agenda"])
def test_screen_snapshot(snap_compare, demo_db, scenarios, screen, size, theme):
    app = make_app(demo_db, theme=theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_keys_for(screen, scenarios))
