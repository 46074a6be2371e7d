"""Navigation: one way to open a client from anywhere (``show_client``),
escape back to where it was opened, and a crash is never a quiet exit.

Issue 15: ``Enter Esc a Down Enter`` (a client from the caseload, then one
from the agenda; the same through the audit trail) froze the keys and
exited with ``DuplicateIds: 'client'`` and status 0."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.ui import app as app_module
from supervision_tui.ui.messages import DataLoaded, LoadFailed
from supervision_tui.ui.screens.agenda import AgendaScreen
from supervision_tui.ui.screens.audit import AuditScreen
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.screens.client import ClientScreen
from ui_support import SMALL, async_test, loaded, make_app, settle


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    path = tmp_path / "demo.json"
    shutil.copyfile(demo_db, path)
    return path


def _stack(app) -> list[str]:
    return [type(s).__name__ for s in app.screen_stack]


@async_test
async def test_a_client_from_the_caseload_then_one_from_the_agenda(db):
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await pilot.pause()
        from_caseload = app.screen
        assert isinstance(from_caseload, ClientScreen)
        await pilot.press("escape", "a")
        await settle(pilot)
        agenda = app.screen
        assert isinstance(agenda, AgendaScreen)
        await pilot.press("down", "enter")
        await pilot.pause()
        client = app.screen
        assert isinstance(client, ClientScreen) and client is not from_caseload
        assert client.code in agenda.client_order
        assert _stack(app) == ["CaseloadScreen", "AgendaScreen", "ClientScreen"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is agenda
        # again: the agenda's client screen is refilled, not built anew
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is client
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)
        assert app.is_running and app.return_code is None


@async_test
async def test_the_agenda_over_an_open_client_opens_its_own_client_screen(db):
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await pilot.pause()
        first = app.screen
        code = first.code
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert _stack(app) == ["CaseloadScreen", "ClientScreen", "AgendaScreen", "ClientScreen"]
        assert app.screen is not first
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is first and first.code == code  # where it was, unchanged
        # the palette's "Open client" refills the client screen on top, where it is
        other = next(a.client for a in app.analyses if a.client != code)
        app.show_client(other)
        await pilot.pause()
        assert app.screen is first and first.code == other
        assert _stack(app) == ["CaseloadScreen", "ClientScreen"]


@async_test
async def test_a_client_from_the_caseload_then_one_from_the_audit_trail(db):
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("r")  # a review: an entry in the audit trail
        await pilot.pause()
        code = app.caseload_screen.table.current_code
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen)
        await pilot.press("escape", "u")
        await pilot.pause()
        audit = app.screen
        assert isinstance(audit, AuditScreen) and audit.entries
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen) and app.screen.code == code
        assert app.screen.order == [code]
        assert _stack(app) == ["CaseloadScreen", "AuditScreen", "ClientScreen"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is audit
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen) and app.return_code is None


@async_test
async def test_no_key_does_anything_once_the_app_is_quitting(db):
    """``q`` then ``u`` typed in one go (seen in a real terminal): the audit
    screen was pushed while the app closed, never mounted, and a traceback
    ended on the terminal. Once quitting, every key's action is refused."""
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert app.check_action("audit", ()) and app.caseload_screen.check_action("audit", ())
        app.exit()
        assert not app.check_action("audit", ()) and not app.caseload_screen.check_action("audit", ())
        assert not app.check_action("quit", ())


@async_test
async def test_load_results_are_messages_the_app_handles(db, tmp_path):
    seen: list[object] = []

    def hook(message) -> None:
        if isinstance(message, (DataLoaded, LoadFailed)):
            seen.append(message)

    app = make_app(db)
    async with app.run_test(size=SMALL, message_hook=hook) as pilot:
        await loaded(pilot)
        assert [type(m) for m in seen] == [DataLoaded]
        assert seen[0].data is app.data and app.data_version == 1
        db.write_text("{ not json", encoding="utf-8")
        app.reload()
        await settle(pilot)
        assert [type(m) for m in seen] == [DataLoaded, LoadFailed]
        assert app.load_error == seen[1].error and app.data is seen[0].data  # the old data stay

    seen.clear()
    missing = make_app(tmp_path / "nope.json")
    async with missing.run_test(size=SMALL, message_hook=hook) as pilot:
        await loaded(pilot)
        assert [type(m) for m in seen] == [LoadFailed] and missing.data is None


def _headless_launch(action):
    """A stand-in for ``terminal.launch``: runs the app headless and lets
    ``action`` (called once it is loaded) do something to it."""

    def launch(app, ssh=None):
        async def pilot(p) -> None:
            await loaded(p)
            await action(p)

        app.run(headless=True, size=SMALL, auto_pilot=pilot)

    return launch


def test_a_crash_exits_non_zero(db, monkeypatch):
    async def crash(pilot) -> None:
        def boom() -> None:
            raise RuntimeError("a bug")

        pilot.app.call_later(boom)
        await pilot.pause()

    monkeypatch.setattr(app_module, "launch", _headless_launch(crash))
    with pytest.raises(SystemExit) as exc:
        app_module.run_app(db, ssh=False, theme="textual-dark")
    assert exc.value.code not in (0, None)


def test_a_quit_exits_zero_and_the_cli_passes_a_crash_on(db, monkeypatch):
    from supervision_tui.cli import cli

    async def quit_(pilot) -> None:
        await pilot.press("q")

    monkeypatch.setattr(app_module, "launch", _headless_launch(quit_))
    app_module.run_app(db, ssh=False, theme="textual-dark")  # no SystemExit: status 0

    async def crash(pilot) -> None:
        pilot.app.call_later(lambda: 1 / 0)
        await pilot.pause()

    monkeypatch.setattr(app_module, "launch", _headless_launch(crash))
    result = CliRunner().invoke(cli, ["open", str(db), "--no-ssh", "--theme", "textual-dark"])
    assert result.exit_code != 0
