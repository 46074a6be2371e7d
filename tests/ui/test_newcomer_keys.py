"""Keys a newcomer is offered (issue 15): the error screen offers only the
keys that work; --read-only hides the write keys (and they do nothing)."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.widgets.footer import AppFooter
from ui_support import LARGE, async_test, loaded, make_app


def _footer(app) -> set[str]:
    footer = app.screen.query_one(AppFooter)
    return {k.description for k in footer.query(FooterKey) if k.display and not k.has_class("-command-palette")}


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause(0.2)
    await pilot.pause()


@async_test
async def test_the_error_screen_offers_only_keys_that_work(tmp_path):
    db = tmp_path / "broken.json"
    db.write_text('{"not": "a caseload"')
    app = make_app(db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        assert app.load_error and app.data is None
        assert _footer(app) <= {"Quit", "Help", "Theme"}, _footer(app)
        assert {"Quit", "Help"} <= _footer(app)
        screen = app.screen
        for key in ("o", "f", "u", "a", "slash", "s", "c", "r", "p"):
            await pilot.press(key)
            await _settle(pilot)
            assert app.screen is screen, key  # nothing opened over the error
        assert not app.present


@async_test
async def test_read_only_hides_the_write_keys(demo_db):
    app = make_app(demo_db, theme="clinic-dark", read_only=True)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        assert "Review" not in _footer(app) and "Open" in _footer(app)
        await pilot.press("enter")
        await _settle(pilot)
        assert isinstance(app.screen, ClientScreen)
        shown = _footer(app)
        assert not shown & {"Review", "Note", "Action", "Done"}, shown
        assert {"Back", "Goals"} <= shown
        screen = app.screen
        for key in ("r", "n", "x", "d"):
            await pilot.press(key)
            await _settle(pilot)
            assert app.screen is screen, key  # no dialog


@async_test
async def test_write_keys_are_there_when_writable(demo_db):
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        assert "Review" in _footer(app)
        await pilot.press("enter")
        await _settle(pilot)
        assert {"Review", "Note", "Action", "Done"} <= _footer(app)


@async_test
async def test_an_unknown_or_miscased_clinician_is_the_clis_error(demo_db):
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    for wrong in ("T09", "t02"):
        app = make_app(demo_db, theme="clinic-dark", clinician=wrong)
        async with app.run_test(size=LARGE) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                if app.return_code is not None:
                    break
        assert app.return_code == 1  # the app ends, as the CLI does
        cli_out = CliRunner().invoke(cli, ["flags", str(demo_db), "--clinician", wrong])
        assert cli_out.exit_code == 1
        assert app.load_error == cli_out.output.strip()  # the very same message
        assert f"no clinician {wrong} in" in app.load_error and "known: " in app.load_error and "T01" in app.load_error
    assert "did you mean T02? ids are case-sensitive" in app.load_error


@async_test
async def test_an_action_owner_must_be_a_clinician_of_the_caseload(tmp_path, scenarios):
    from textual.widgets import Input, Static

    from supervision_tui.demo import write_demo
    from supervision_tui.ui.screens.dialogs import ActionDialog
    from ui_support import N_CLIENTS, SEED, static_text

    db = tmp_path / "demo.json"  # its own: the item it adds would change the shared demo's snapshots
    write_demo(db, seed=SEED, n_clients=N_CLIENTS)
    app = make_app(db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        app.show_client(scenarios["goal_disagreed"])
        await _settle(pilot)
        await pilot.press("x")
        await _settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        dialog.query_one("#action-text", Input).value = "plan the ending"
        owner = dialog.query_one("#action-owner", Input)
        for wrong, says in (("T09", "known: S01, T01"), ("t02", "did you mean T02?")):
            owner.value = wrong
            owner.focus()
            await pilot.press("enter")
            await _settle(pilot)
            assert app.screen is dialog, wrong  # refused
            error = static_text(dialog.query_one(".dialog-error", Static))
            assert f"{wrong} is not a clinician of this caseload" in error and says in error, error
        owner.value = "S01"  # the supervisor may own an item too
        await pilot.press("enter")
        await _settle(pilot)
        assert app.screen is not dialog


@async_test
async def test_the_flag_list_is_what_r_and_n_act_on(demo_db, scenarios):
    from supervision_tui.ui.screens.dialogs import NoteDialog, ReviewDialog
    from supervision_tui.ui.screens.help import HelpScreen
    from supervision_tui.ui.widgets.review_panels import ReviewList
    from ui_support import static_text

    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        app.show_client(scenarios["risk"])
        await _settle(pilot)
        screen = app.screen
        flags = screen.query_one(ReviewList)
        assert flags.has_focus and flags.highlighted == 0  # the flag list, its first entry selected
        footer = screen.query_one(AppFooter)
        assert "Flag" in {str(label.render()) for label in footer.query("FooterLabel")}
        second = flags.get_option_at_index(1).id
        await pilot.press("down")
        await _settle(pilot)
        assert flags.highlighted == 1
        await pilot.press("r")
        await _settle(pilot)
        assert isinstance(app.screen, ReviewDialog)
        assert flags.highlighted_key == second
        dialog_text = " ".join(static_text(w) for w in app.screen.query("Static"))
        assert screen._target()[1] in dialog_text + str(app.screen.query_one(".dialog-box").border_title)
        assert "risk" not in str(app.screen.query_one(".dialog-box").border_title).lower() or \
            flags.highlighted_flag is not None  # the second entry, not the first (the risk flag)
        await pilot.press("escape")
        await _settle(pilot)
        await pilot.press("n")
        await _settle(pilot)
        assert isinstance(app.screen, NoteDialog)
        await pilot.press("escape")
        await _settle(pilot)
        await pilot.press("question_mark")
        await _settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        help_text = static_text(app.screen.query_one("#help-scroll").query_one("Static"))
        assert "Next flag" in help_text and "Previous flag" in help_text


@async_test
async def test_remapped_keys_update_the_hint_texts(demo_db, scenarios):
    from supervision_tui.settings import Settings
    from supervision_tui.ui.widgets.review_panels import ActionList, ReviewList

    settings = Settings(keys={"review-flag": "v", "review-note": "m", "add-action": "y", "toggle-action": "z",
                              "show-closed": "h", "next-client": "l", "previous-client": "comma"})
    app = make_app(demo_db, theme="clinic-dark", settings=settings)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await _settle(pilot)
        subtitle = str(app.screen.query_one("#table-box").border_subtitle)
        assert "closed hidden (h)" in subtitle and "(c)" not in subtitle
        app.show_client(scenarios["repaired_v"])  # (another test adds an item to goal_disagreed)
        await _settle(pilot)
        screen = app.screen
        assert screen.query_one(ReviewList).border_subtitle == "v status · m note"
        assert screen.query_one(ActionList).border_subtitle == "y add"
        assert "No action items · y adds one" in str(screen.query_one(ActionList).get_option_at_index(0).prompt)
        from ui_support import static_text
        assert "comma l clients" in static_text(screen.query_one("#client-header"))


def _line_at(app, y: int) -> str:
    strip = app.screen._compositor.render_strips()[y]
    return strip.text


@async_test
async def test_a_footer_narrower_than_its_keys_cuts_no_key_in_half(demo_db):
    """A newcomer's trial: at 50 columns the client screen's footer ended in "? ▏^pp" (the "p" of a
    "? Help" overflowing beneath the palette hint, docked right). Below 80 columns the keys at the
    right end are hidden (never help, quit, the palette hint); each key shown is whole."""
    for width in (50, 60, 70, 80):
        app = make_app(demo_db, theme="clinic-dark")
        async with app.run_test(size=(width, 20)) as pilot:
            await loaded(pilot)
            await _settle(pilot)
            for screen_keys in ((), ("enter",)):
                for key in screen_keys:
                    await pilot.press(key)
                    await _settle(pilot)
                footer = app.screen.query_one(AppFooter)
                assert footer.full_width() <= width, (width, app.screen.id)
                line = _line_at(app, footer.region.y).rstrip()
                assert line.endswith("^p") and line.count("^p") == 1, (width, line)
                assert "q Quit" in line and "? Help" in line, (width, line)
                # the screen's main action goes after the others (the browser trial: r Review went first)
                assert "r Review" in line, (width, line)
                shown = [k for k in footer.query(FooterKey) if k.display and not k.has_class("-command-palette")]
                for k in shown:  # whole: its key and description on the line, left of the palette hint
                    assert k.region.right <= footer.region.right - 3, (width, k.key_display, k.region)
