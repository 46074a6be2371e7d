"""Snapshot tests (pytest-textual-snapshot) of the main screens in every
bundled theme.

The matrix (36 snapshots):

* caseload, client, clinicians and agenda at 80×24 in all five bundled
  themes (clinic-dark, clinic-light, projector, ansi, ansi-light): the
  smallest supported terminal, where truncation and column dropping show;
* the same four screens at 160×48 in clinic-dark, clinic-light and
  projector: the full layouts (preview pane, wide client screen, one
  column per tier). The ANSI themes draw the same layout in the
  terminal's palette, so their large snapshots would add nothing;
* help at both sizes in clinic-dark and clinic-light (it is one list).

Built from the deterministic demo (seed 2026, 18 clients) with a fixed
as-of date and a frozen cursor blink; SVG colours of the ANSI themes come
from Textual's fixed terminal palette, so they are stable too. Regenerate
after a deliberate change with ``pytest tests/ui/test_snapshots.py
--snapshot-update`` and look at the SVGs before checking them in.
"""

from __future__ import annotations

import pytest

from supervision_tui.ui.theming import BUNDLED_ORDER
from ui_support import LARGE, SMALL, loaded, make_app

SIZES = {"80x24": SMALL, "160x48": LARGE}
MAIN_SCREENS = ("caseload", "client", "clinicians", "agenda")
ALL_THEMES = BUNDLED_ORDER  # clinic-dark, clinic-light, projector, ansi, ansi-light
LARGE_THEMES = ("clinic-dark", "clinic-light", "projector")
HELP_THEMES = ("clinic-dark", "clinic-light")


def _cases() -> list[tuple[str, str, str]]:
    cases = [(screen, "80x24", theme) for theme in ALL_THEMES for screen in MAIN_SCREENS]
    cases += [(screen, "160x48", theme) for theme in LARGE_THEMES for screen in MAIN_SCREENS]
    cases += [("help", size, theme) for theme in HELP_THEMES for size in SIZES]
    return cases


CASES = _cases()


def test_matrix_covers_every_bundled_theme():
    """Every bundled theme has its main screens at 80×24; the RGB ones at 160×48 too."""
    assert len(CASES) == len(set(CASES)) == 36
    for theme in BUNDLED_ORDER:
        assert {s for s, size, t in CASES if t == theme and size == "80x24"} >= set(MAIN_SCREENS)
    for theme in LARGE_THEMES:
        assert {s for s, size, t in CASES if t == theme and size == "160x48"} >= set(MAIN_SCREENS)


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
        await pilot.pause(0.3)  # preview debounce, chart layout, footer fit
        await pilot.pause()

    return run_before


@pytest.fixture(scope="module")
def snap_db(tmp_path_factory, demo_db):
    """The demo as generated, without a workflow file: other tests review
    clients of the session's shared ``demo_db``, and what they saved (a
    "✓ discussed" in the agenda) must not depend on the order tests run in."""
    import shutil

    path = tmp_path_factory.mktemp("snapshots") / demo_db.name
    shutil.copy2(demo_db, path)
    return path


@pytest.mark.parametrize(("screen", "size", "theme"), CASES, ids=[f"{s}-{z}-{t}" for s, z, t in CASES])
def test_screen_snapshot(snap_compare, snap_db, scenarios, screen, size, theme):
    app = make_app(snap_db, theme=theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_keys_for(screen, scenarios))
