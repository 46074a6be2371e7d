"""Private SVG screenshots of the current screen."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.widgets import Label

from supervision_tui.errors import UserError
from supervision_tui.paths import screenshots_dir
from supervision_tui.ui.screenshot import save_screenshot


class _PresentApp(App):
    """Shows a private note unless presenting, like the real client screen."""

    TITLE = "supervision-tui test"
    present = reactive(False)

    def compose(self) -> ComposeResult:
        yield Label("C-0131 · T03", id="who")
        yield Label("note: private remark about the client", id="note")

    def watch_present(self, present: bool) -> None:
        if self.is_mounted:
            note = self.query_one("#note", Label)
            note.update("note: (hidden while presenting)" if present else "note: private remark about the client")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(coro):
    return asyncio.run(coro)


def test_screenshot_is_private_svg_of_the_screen(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISION_TUI_DATA_DIR", str(tmp_path / "data"))

    async def go():
        app = _PresentApp()
        async with app.run_test(size=(60, 10)) as pilot:
            await pilot.pause()
            return save_screenshot(app)

    old = os.umask(0o022)  # a permissive umask must not make it readable by others
    try:
        path = run(go())
    finally:
        os.umask(old)
    assert path.parent == tmp_path / "data" / "screenshots"
    assert path.suffix == ".svg" and path.name.startswith("supervision-tui-")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg")
    assert "supervision-tui&#160;test" in text  # the app title (Rich escapes spaces)
    assert "C-0131" in text


def test_present_mode_screenshot_has_no_private_text(tmp_path):
    async def go():
        app = _PresentApp()
        async with app.run_test(size=(60, 10)) as pilot:
            shown = save_screenshot(app, tmp_path / "shots")
            app.present = True
            await pilot.pause()
            hidden = save_screenshot(app, tmp_path / "shots")
            return shown, hidden

    shown, hidden = run(go())
    assert shown != hidden  # two shots in one second get two files
    # SVG text uses &#160; for spaces; compare on a word
    assert "remark" in shown.read_text(encoding="utf-8")
    assert "remark" not in hidden.read_text(encoding="utf-8")
    assert "hidden" in hidden.read_text(encoding="utf-8")


def test_existing_directory_is_used_as_is(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)

    async def go():
        app = _PresentApp()
        async with app.run_test(size=(40, 6)):
            return save_screenshot(app, str(folder))

    path = run(go())
    assert path.parent == folder and mode(path) == 0o600


def test_unwritable_directory_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")

    async def go():
        app = _PresentApp()
        async with app.run_test(size=(40, 6)):
            save_screenshot(app, blocker / "shots")

    with pytest.raises(UserError) as err:
        run(go())
    assert str(blocker) in str(err.value)


def test_default_directory(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.setenv("SUPERVISION_TUI_DATA_DIR", str(tmp_path))
    assert screenshots_dir() == tmp_path / "screenshots"
    monkeypatch.delenv("SUPERVISION_TUI_DATA_DIR")
    assert screenshots_dir() == Path(platformdirs.user_data_dir("supervision-tui")) / "screenshots"
