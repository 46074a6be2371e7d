"""The app keeps one client screen and refills it for each client it opens:
what it shows must be exactly what a new screen would show."""

from __future__ import annotations

from textual.color import Color
from textual.widgets import Static

from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.widgets.charts import OutcomeChart
from ui_support import LARGE, async_test, loaded, make_app, static_text


async def _show(pilot, code: str) -> ClientScreen:
    pilot.app.show_client(code)
    await pilot.pause()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ClientScreen) and screen.code == code
    return screen


def _shown_outcome_charts(screen: ClientScreen) -> list[str]:
    return [c.instrument for c in screen.query(OutcomeChart) if c.parent.display]


@async_test
async def test_one_client_screen_is_refilled_for_each_client(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        seen = []
        for key in ("deteriorated_phq", "recovered", "risk", "deteriorated_phq"):
            code = scenarios[key]
            screen = await _show(pilot, code)
            seen.append(screen)
            assert code in static_text(screen.query_one("#client-header", Static))
            # the charts of this client's outcome instruments, in registry order, and no other
            assert _shown_outcome_charts(screen) == screen.view.outcome_instruments
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, CaseloadScreen)
            assert app.caseload_screen.table.current_code == code  # back on the client last shown
        assert all(s is seen[0] for s in seen)


@async_test
async def test_opening_another_client_from_the_client_screen_refills_it_in_place(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        first = await _show(pilot, scenarios["risk"])
        second = await _show(pilot, scenarios["recovered"])
        assert second is first and len(app.screen_stack) == 2
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)


@async_test
async def test_a_theme_change_while_the_client_screen_is_closed_reaches_it(demo_db, scenarios):
    app = make_app(demo_db, theme="textual-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = await _show(pilot, scenarios["risk"])
        dark = screen.query_one("#client-header").styles.background
        await pilot.press("escape")
        await pilot.pause()
        app.theme = "textual-light"
        await pilot.pause()
        screen = await _show(pilot, scenarios["recovered"])
        light = screen.query_one("#client-header").styles.background
        assert light != dark
        assert light == Color.parse(app.theme_variables["panel"])
