"""Two people at once, in the dashboard: a note dialog left open while
someone else saves another note never silently replaces theirs (the save
is refused and the note dialog comes back with both texts), a status alone
is always saved, and a workflow file whose lock another process holds
never freezes the dashboard (the save gives up quickly as "busy", keeping
what was typed).

Every test works on its own copy of the demo database in ``tmp_path``
with a real second writer: the ``review`` command in another process, a
second store on the same file, or a lock held by another process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input

from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore, client_key
from supervision_tui.ui.screens.dialogs import ActionDialog, NoteArea, NoteDialog, ReviewDialog
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from supervision_tui.ui.widgets.review_panels import ReviewList
from ui_support import LARGE, async_test, loaded, make_app, open_client, settle

ROOT = Path(__file__).resolve().parents[2]
THEIRS = "B: safety plan checked"
MINE = "A: note"


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    path = tmp_path / "case" / "demo.json"
    path.parent.mkdir()
    shutil.copyfile(demo_db, path)
    return path


def _notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def _store(db: Path, user: str = "B") -> ReviewStore:
    return ReviewStore(Database(db), user=user)


def _flag(app, code: str, kind: str):
    return next(f for f in app.data.by_code[code].flags if f.kind == kind)


async def _highlight(pilot, screen, flag) -> None:
    lst = screen.query_one(ReviewList)
    lst.focus()
    lst.highlighted = [o.id for o in lst.options].index(flag.identity if flag is not None else "client")
    await pilot.pause()


def _no_private_text_in_notifications(app, *texts: str) -> None:
    for message in _notes(app):
        for text in texts:
            assert text not in message, message


# --- a stale note dialog ---------------------------------------------------------------------------------


@async_test
async def test_a_note_saved_meanwhile_from_the_cli_is_not_replaced(db, scenarios):
    """The audit's case: A's note dialog is open, B saves a note with
    ``review --note`` from another process, the dashboard polls, A saves."""
    code = scenarios["risk"]
    app = make_app(db, as_of=None)  # (B's review is written now, by the real clock of the other process)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cli = subprocess.run([sys.executable, "-m", "supervision_tui", "review", str(db), code, "--kind", "risk",
                              "--note", THEIRS, "--user", "B"], capture_output=True, text=True, env=env, check=False,
                             timeout=120)
        assert cli.returncode == 0, cli.stderr
        app.poll_workflow()  # (what the 2 s timer does)
        await pilot.pause()
        assert "Reviews updated by another user" in _notes(app)
        await pilot.press(*MINE, "enter")
        await settle(pilot)

        # nothing saved: B's note is still there, and the dialog is back with both texts
        assert _store(db).review_for(risk).review.note == THEIRS
        assert [e.user for e in _store(db).history(risk)] == ["B"]
        dialog = app.screen
        assert isinstance(dialog, NoteDialog) and dialog.conflict is not None
        lines = dialog.query_one(NoteArea).text.split("\n")
        assert lines[0] == THEIRS and lines[-1] == MINE
        assert lines[1].startswith("─── above: B's note (") and lines[1].endswith(" · below: yours ───")
        assert any(m.startswith("Not saved: B (") and "changed this note while you were editing it" in m
                   for m in _notes(app)), _notes(app)
        assert not any(m.endswith("note saved") for m in _notes(app))
        _no_private_text_in_notifications(app, THEIRS, MINE)

        # A merges (here: keeps both, without the separator) and saves: this save expects B's note
        area = dialog.query_one(NoteArea)
        area.text = f"{THEIRS}\n{MINE}"
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert _store(db).review_for(risk).review.note == f"{THEIRS}\n{MINE}"
        last = _store(db).history(risk)[-1]
        assert (last.before["note"], last.after["note"]) == (THEIRS, f"{THEIRS}\n{MINE}")
        assert f"{code} risk: note saved" in _notes(app)


@async_test
async def test_a_status_with_a_stale_note_saves_nothing_until_merged(db, scenarios):
    """The review dialog (r) with a note typed: the status is not saved
    without the note; the note dialog that comes back saves both."""
    code = scenarios["risk"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReviewDialog)
        await pilot.press("down")  # discussed -> action
        await pilot.press("tab", *MINE)
        _store(db).set_review(risk, note=THEIRS)  # B, while A types (no poll in between)
        await pilot.press("enter")
        await settle(pilot)
        review = _store(db).review_for(risk)
        assert (review.status, review.review.note) == ("new", THEIRS)  # neither the status nor the note
        dialog = app.screen
        assert isinstance(dialog, NoteDialog) and dialog.status == "action"
        assert "your note and the status action were not saved" in " ".join(
            str(w.render()) for w in dialog.query("#note-explain"))
        await pilot.press(*" (merged)", "enter")  # the cursor is after A's own text
        await settle(pilot)
        review = _store(db).review_for(risk)
        assert review.status == "action"
        assert review.review.note == f"{THEIRS}\n{MINE} (merged)"  # (the separator line is not saved)
        assert f"{code} risk: action" in _notes(app)
        _no_private_text_in_notifications(app, THEIRS, MINE)


@async_test
async def test_a_status_alone_is_saved_over_a_note_changed_meanwhile(db, scenarios):
    code = scenarios["risk"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        await pilot.press("r")
        await pilot.pause()
        _store(db).set_review(risk, note=THEIRS)
        await pilot.press("d")  # no note typed
        await settle(pilot)
        review = _store(db).review_for(risk)
        assert (review.status, review.review.note) == ("discussed", THEIRS)
        assert app.screen is screen and f"{code} risk: discussed" in _notes(app)


@async_test
async def test_the_caseload_status_picker_with_a_stale_client_note_is_all_or_nothing(db):
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        code = table.current_code
        flags = app.data.by_code[code].flags
        assert flags
        await pilot.press("r")  # marks the client and its flags discussed
        await pilot.pause()
        await pilot.press("r")  # again: the status picker of the client
        await pilot.pause()
        assert isinstance(app.screen, ReviewDialog)
        await pilot.press("down", "tab", *MINE)  # discussed (now) -> action, with a note
        _store(db).set_client_review(code, note=THEIRS)
        await pilot.press("enter")
        await settle(pilot)
        store = _store(db)
        assert store.client_review(code).status == "discussed" and store.client_review(code).review.note == THEIRS
        assert {store.review_for(f).status for f in flags} == {"discussed"}  # no flag changed either
        dialog = app.screen
        assert isinstance(dialog, NoteDialog) and dialog.conflict is not None
        chosen = dialog.status
        assert chosen == "action"
        await pilot.press("enter")  # keep both texts as shown
        await settle(pilot)
        store = _store(db)
        assert store.client_review(code).status == chosen
        assert {store.review_for(f).status for f in flags} == {chosen}
        note = store.client_review(code).review.note
        assert note.startswith(THEIRS + "\n") and note.endswith("\n" + MINE)
        assert f"{code} marked {chosen}" in _notes(app)
        assert store.get(client_key(code)).by != "B"


@async_test
async def test_while_presenting_a_conflict_shows_neither_text_until_p(db, scenarios):
    import html
    import re

    def shown(app) -> str:
        svg = app.export_screenshot()
        return html.unescape(re.sub(r"<[^>]+>", "", svg.replace("&#160;", " ")))

    code = scenarios["risk"]
    app = make_app(db, present=True)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*MINE)
        _store(db).set_review(risk, note=THEIRS)
        await pilot.press("enter")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, NoteDialog) and dialog.conflict is not None
        text = shown(app)
        assert THEIRS not in text and MINE not in text and "hidden while presenting" in text
        await pilot.press("enter")  # nothing happens: the texts are hidden
        await settle(pilot)
        assert app.screen is dialog and _store(db).review_for(risk).review.note == THEIRS
        await pilot.press("p")  # presenting off: both texts are shown, ready to edit
        await settle(pilot)
        text = shown(app)
        assert THEIRS in text and MINE in text
        assert dialog.query_one(NoteArea).has_focus


# --- a lock held by another process ------------------------------------------------------------------------

HOLD = """\
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1]); lock.acquire(); print("holding", flush=True); time.sleep(float(sys.argv[2]))
"""


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the workflow file's lock (a stuck writer)
    for ``seconds``; returns once it holds it."""
    lock = Database(db).sidecar.lock_path
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


@async_test
async def test_a_held_lock_does_not_freeze_the_dashboard(db):
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        code = table.current_code
        holder = _hold_lock(db, 5)  # released 5 s from now (the store's own wait was 10 s)
        try:
            await pilot.press("r")
            await pilot.press("j")
            await pilot.pause()
            # the key after r was handled while the lock was still held, and the outcome said
            assert holder.poll() is None
            assert table.current_code != code
            busy = [m for m in _notes(app) if m.startswith("Busy: not saved, try again.")]
            assert busy and "more than 0.25 s" in busy[0]
            assert not Database(db).sidecar_path.exists()  # nothing written
        finally:
            holder.kill()  # (the stuck writer goes away; no need to wait out its 5 s)
            holder.wait(30)
        # the lock is free: the same key saves
        await pilot.press("k", "r")
        await pilot.pause()
        assert table.current_code == code
        assert _store(db).client_review(code).status == "discussed"


@async_test
async def test_text_typed_while_the_lock_is_held_is_kept(db, scenarios):
    code = scenarios["risk"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        holder = _hold_lock(db, 120)
        try:
            # a note: the dialog comes back with the text as typed
            await pilot.press("n")
            await pilot.pause()
            await pilot.press(*MINE, "enter")
            await settle(pilot)
            assert holder.poll() is None
            dialog = app.screen
            assert isinstance(dialog, NoteDialog) and dialog.busy
            assert dialog.query_one(Input).value == MINE
            assert any(m.startswith("Busy: not saved, try again.") for m in _notes(app))
            # an action item: its dialog comes back filled in
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("x")
            await pilot.pause()
            await pilot.press(*"call the GP", "enter")
            await settle(pilot)
            again = app.screen
            assert isinstance(again, ActionDialog) and again.draft is not None
            assert again.query_one("#action-text", Input).value == "call the GP"
            await pilot.press("escape")
            await pilot.pause()
            assert not Database(db).sidecar_path.exists()
            # once more with the note, then the lock is released and enter saves it
            await pilot.press("n")
            await pilot.pause()
            await pilot.press(*MINE, "enter")
            await settle(pilot)
            assert isinstance(app.screen, NoteDialog)
        finally:
            holder.kill()
            holder.wait(30)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert _store(db).review_for(risk).review.note == MINE
        assert f"{code} risk: note saved" in _notes(app)


@async_test
async def test_a_note_whose_save_fails_comes_back_in_its_dialog(db, scenarios):
    """Any failed save keeps the text: here the workflow file is write-protected (chmod 400); the
    dialog comes back with the text and the reason, and once the file is writable again enter saves
    it (before, only a notification was left and the typed note was gone)."""
    code = scenarios["risk"]
    _store(db).set_client_review(code, "discussed")  # the workflow file exists
    sidecar = Database(db).sidecar_path
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        os.chmod(sidecar, 0o400)
        try:
            await pilot.press("n")
            await pilot.pause()
            await pilot.press(*MINE, "enter")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, NoteDialog) and dialog.failed
            assert dialog.query_one(Input).value == MINE
            assert "write-protected" in dialog.failed and MINE not in dialog.failed
            assert any("write-protected" in m for m in _notes(app))
            # an action item too: its dialog comes back filled in, with the reason
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("x")
            await pilot.pause()
            await pilot.press(*"call the GP", "enter")
            await settle(pilot)
            again = app.screen
            assert isinstance(again, ActionDialog) and again.draft is not None and "write-protected" in again.failed
            assert again.query_one("#action-text", Input).value == "call the GP"
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("n")
            await pilot.pause()
            await pilot.press(*MINE, "enter")
            await settle(pilot)
            assert isinstance(app.screen, NoteDialog) and app.screen.failed
        finally:
            os.chmod(sidecar, 0o600)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert _store(db).review_for(risk).review.note == MINE
        assert not _store(db).actions(client=code)  # given up with esc


def test_the_separator_line_is_not_saved_into_the_note():
    # the browser trial: enter straight after a conflict saved "─── above: alice's note … · below: yours ───"
    from supervision_tui.ui.screens.dialogs import without_markers

    merged = f"{THEIRS}\n─── above: B's note (2026-11-29 06:31 UTC) · below: yours ───\n{MINE}"
    assert without_markers(merged) == f"{THEIRS}\n{MINE}"
    twice = f"{THEIRS}\n─── B cleared the note · below: yours ───\nx\n─── above: the note saved meanwhile · below: yours ───\ny"
    assert without_markers(twice) == f"{THEIRS}\nx\ny"
    assert without_markers("a line ─── with dashes ───\nb") == "a line ─── with dashes ───\nb"  # not a separator


@async_test
async def test_enter_right_after_a_conflict_saves_both_texts_without_the_separator(db, scenarios):
    code = scenarios["risk"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        await _highlight(pilot, screen, risk)
        await pilot.press("n")
        await pilot.pause()
        _store(db).set_review(risk, note=THEIRS)  # B, meanwhile
        await pilot.press(*MINE, "enter")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog) and app.screen.conflict is not None
        await pilot.press("enter")  # no editing
        await settle(pilot)
        assert app.screen is screen
        assert _store(db).review_for(risk).review.note == f"{THEIRS}\n{MINE}"


@async_test
async def test_a_first_key_adds_to_a_stored_note_and_the_keys_line_follows_presenting(db, scenarios):
    """The browser trial: the stored note was shown selected, so the first key replaced it whole;
    and while presenting the keys line still offered "an empty note clears it" (refused then)."""
    code = scenarios["risk"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        risk = _flag(app, code, "risk")
        _store(db, user="A").set_review(risk, note=MINE)
        app.poll_workflow()
        await pilot.pause()
        await _highlight(pilot, screen, risk)
        await pilot.press("n")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, NoteDialog)
        await pilot.press(*" (GP called)")
        assert dialog.query_one(Input).value == f"{MINE} (GP called)"
        help_line = str(dialog.query_one("#note-help").render())
        assert "an empty note clears it" in help_line
        app.action_toggle_present()
        await pilot.pause()
        help_line = str(dialog.query_one("#note-help").render())
        assert "an empty note clears it" not in help_line and "not shown while presenting" in help_line
        app.action_toggle_present()
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert _store(db).review_for(risk).review.note == f"{MINE} (GP called)"
