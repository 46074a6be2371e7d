"""Issue 13 in the app: a damaged workflow entry is shown and the app keeps
running read-only; a crash prints no local variables (no private text) and
exits non-zero; control characters from old files reach neither the screen
nor an SVG screenshot; "Reload failed; showing the previous data" is true."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from textual.worker import WorkerCancelled

from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore, client_key
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from ui_support import LARGE, async_test, loaded, make_app, table_column

ROOT = Path(__file__).resolve().parents[2]
NOTE = "Narwhal private note 61c"


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    path = tmp_path / "case" / "demo.json"
    path.parent.mkdir()
    shutil.copyfile(demo_db, path)
    return path


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def screen_svg(app) -> str:
    svg = app.export_screenshot()
    ElementTree.fromstring(svg)  # well-formed XML: no control character broke it
    return svg


# --- a damaged workflow entry ---------------------------------------------------------------------


@pytest.mark.parametrize("damage", [
    lambda r: r.update(status="bogus"),
    lambda r: r.update(note=[NOTE]),
    lambda r: r.update(flag_session="six"),
    lambda r: r.update(at=NOTE),
])
@async_test
async def test_a_damaged_workflow_entry_is_shown_and_the_app_runs_read_only(db, damage):
    first = Database(db, read_only=True).load().records()[0].code
    ReviewStore(Database(db), user="sup").set_client_review(first, "discussed", note=NOTE)
    sidecar = Database(db).sidecar_path
    doc = json.loads(sidecar.read_text(encoding="utf-8"))
    damage(doc["reviews"][client_key(first)])
    sidecar.write_text(json.dumps(doc), encoding="utf-8")
    before = sidecar.read_bytes()
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        shown = [m for m in notes(app) if m.startswith("Reviews unavailable")]
        assert shown and f"review '{client_key(first)}'" in shown[0], notes(app)
        assert all(NOTE not in m for m in notes(app))
        assert isinstance(app.screen, CaseloadScreen)
        table = app.screen.query_one(CaseloadTable)
        assert len(table_column(table, "client")) > 5 and set(table_column(table, "review")) == {"?"}
        await pilot.press("r")  # a review write: refused, nothing written
        await pilot.pause()
        app.show_client(first)
        await pilot.pause()
        await pilot.pause()
        assert NOTE not in screen_svg(app)
    assert sidecar.read_bytes() == before


# --- control characters read from old files ------------------------------------------------------


@async_test
async def test_control_characters_from_old_files_reach_neither_screen_nor_screenshot(db):
    cl = Database(db, read_only=True).load()
    code = next(g.client for g in cl.goals)
    data = json.loads(db.read_text(encoding="utf-8"))
    for doc in data["clients"].values():  # (format 2: the goals are in their client's document)
        if doc["code"] == code:
            for goal in doc["goals"]:
                goal["description"] = "goal \x1b[2J\x1b]0;owned\x07 \x9b31m end"
    data["meta"]["1"]["name"] = "clinic \x1b]0;owned\x07"
    db.write_text(json.dumps(data), encoding="utf-8")
    ReviewStore(Database(db), user="sup").set_client_review(code, "discussed", note="placeholder")
    sidecar = Database(db).sidecar_path
    doc = json.loads(sidecar.read_text(encoding="utf-8"))
    doc["reviews"][client_key(code)]["note"] = "note \x1b[2J\x07"
    doc["reviews"][client_key(code)]["by"] = "sup\x1b[5m"
    sidecar.write_text(json.dumps(doc), encoding="utf-8")
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        assert app.load_error is None and app.reviews.error is None
        svg = screen_svg(app)
        app.show_client(code)
        for _ in range(5):
            await pilot.pause()
        svg += screen_svg(app)
    assert "owned" in svg and "end" in svg  # the text is there, its control characters are not
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", svg)


# --- "Reload failed; showing the previous data" ----------------------------------------------------


@async_test
async def test_a_failed_reload_keeps_showing_the_previous_data(db):
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        rows = table_column(table, "client")
        assert rows
        db.write_text("{ damaged", encoding="utf-8")
        app.reload()
        deadline = time.monotonic() + 60  # (the reload reads in a new loader process: seconds on a busy machine)
        while time.monotonic() < deadline:
            try:
                await app.workers.wait_for_complete()
            except WorkerCancelled:  # (the 2-second poll saw the changed file too and reloaded: a newer load)
                pass
            await pilot.pause()
            if not app.loading:
                break
        assert app.load_error
        assert any(m.startswith("Reload failed; showing the previous data") for m in notes(app))
        # ... and it is so: the table is on screen with the same rows, no "cannot open" message
        table = app.screen.query_one(CaseloadTable)
        assert table.display and table_column(table, "client") == rows
        assert not app.screen.query_one("#table-message").display


# --- a crash ----------------------------------------------------------------------------------------

CRASH = r"""
import sys
from supervision_tui.ui.screens import caseload

def crash(self, *args):
    note = "".join(reversed("c16 eton etavirp lahwraN"))  # (not in the source lines a traceback shows)
    reviews = {"C-0001": note}
    raise RuntimeError("internal error while showing the data")

caseload.CaseloadScreen.on_mount = crash
sys.argv = ["supervision-tui", "open", sys.argv[1], "--theme", "textual-dark", "--no-ssh"]
from supervision_tui.cli import main
main()
"""


def run_in_terminal(code: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run ``python -c code args`` in a pseudo-terminal (80x24); its exit
    status and everything it wrote to the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    env.pop("TEXTUAL", None)
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    try:
        status = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return status, out.decode("utf-8", "replace")


def test_a_crash_in_the_app_shows_no_locals_and_exits_non_zero(db):
    status, output = run_in_terminal(CRASH, str(db))
    assert "RuntimeError" in output and "internal error while showing the data" in output, output[-2000:]
    assert "Narwhal private" not in output  # no locals panel
    assert status != 0
