"""The review workflow in the UI: review status (caseload ``r``, client
screen ``r``/``n``), action items (``x``/``d``), the agenda screen and its
export, presentation mode, the blank screen, the audit trail, read-only,
two reviewers on one file, and the ``--clinician`` scope.

Every test works on its own copy of the demo database in ``tmp_path`` and
checks the real files (sidecar, exports), not only the screen."""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore, client_key
from supervision_tui.ui.screens.agenda import AgendaScreen
from supervision_tui.ui.screens.audit import AuditScreen, AuditTable
from supervision_tui.ui.screens.blank import BLANK_MESSAGE, BlankScreen
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.screens.clinicians import CliniciansScreen, CliniciansTable
from supervision_tui.ui.screens.dialogs import ActionDialog, NoteDialog, ReviewDialog
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from supervision_tui.ui.widgets.review_panels import ActionList, ReviewList
from supervision_tui.service.reviews import READ_ONLY_MESSAGE, ReviewService
from ui_support import (
    LARGE, SMALL, async_test, loaded, make_app, open_client, settle, static_text, table_column,
)

NOTE = "Zebrafish supervision note"  # distinctive private texts
ACTION = "Quokka plan for next session"


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    """A private copy of the demo database (writes stay in this test)."""
    path = tmp_path / "case" / "demo.json"
    path.parent.mkdir()
    shutil.copyfile(demo_db, path)
    return path


def _store(db: Path, **kw) -> ReviewStore:
    return ReviewStore(Database(db), user="sup01", **kw)


def _flag(app, code: str, kind: str):
    return next(f for f in app.data.by_code[code].flags if f.kind == kind)


def screen_text(app) -> str:
    """What the terminal shows now (the SVG screenshot's text)."""
    svg = app.export_screenshot()
    text = html.unescape(re.sub(r"<[^>]+>", "", svg.replace("&#160;", " ")))
    return text


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


async def _highlight(pilot, lst: OptionList, option_id: str) -> None:
    lst.focus()
    ids = [o.id for o in lst.options]
    lst.highlighted = ids.index(option_id)
    await pilot.pause()


# --- caseload: r ------------------------------------------------------------------------------


@async_test
async def test_r_marks_the_client_discussed_in_the_file_and_survives_a_restart(db, scenarios):
    code = scenarios["risk"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        assert table.current_code == code  # the risk client is first
        assert table.cell_text(0, "review") == "• new"
        await pilot.press("r")
        await pilot.pause()
        assert any(m.startswith(f"{code} marked discussed") for m in notes(app)), notes(app)
        assert table.cell_text(0, "review") == "✓ discussed"
        # the preview says who and when
        why = app.screen.query_one("#preview-why", Static)
        assert "Review: ✓ discussed" in static_text(why)
        assert why.border_subtitle.startswith("Review: ✓ discussed")
        risk_flag = _flag(app, code, "risk")
    # the real sidecar file holds it
    sidecar = Database(db).sidecar_path
    assert sidecar.exists() and oct(sidecar.stat().st_mode & 0o777) == "0o600"
    store = _store(db)
    assert store.get(client_key(code)).status == "discussed"
    assert store.review_for(risk_flag).status == "discussed"

    # a new app on the same file: the column shows it
    app2 = make_app(db)
    async with app2.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        table = app2.screen.query_one(CaseloadTable)
        assert table.cell_text(0, "review") == "✓ discussed"
        # a second r on a client with nothing left to mark opens the picker
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app2.screen, ReviewDialog)
        await pilot.press("a")  # action
        await pilot.pause()
        assert isinstance(app2.screen, CaseloadScreen)
        assert table.cell_text(0, "review") == "☐ action"
    store.reload()
    assert store.get(client_key(code)).status == "action"
    assert store.review_for(risk_flag).status == "action"  # the flag marked with it follows


@async_test
async def test_r_then_r_lets_you_pick_another_status_right_away(db, scenarios):
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        await pilot.press("down")  # a deteriorated client
        code = table.current_code
        await pilot.press("r")
        await pilot.pause()
        assert table.cell_text(1, "review") == "✓ discussed"
        await pilot.press("r")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ReviewDialog) and code in dialog.target
        await pilot.press("n")  # back to new: undoes the quick mark
        await pilot.pause()
        assert table.cell_text(1, "review") == "• new"
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)  # nothing reviewed: r marks again
        assert table.cell_text(1, "review") == "✓ discussed"
        await pilot.press("r", "escape")  # picker, cancelled: nothing changes
        await pilot.pause()
        assert table.cell_text(1, "review") == "✓ discussed"
        # a double r (the key that opens the picker, pressed again) picks nothing: it never
        # resolves a flag unseen (newcomer finding: r r resolved a risk flag)
        await pilot.press("r", "r")
        await pilot.pause()
        assert isinstance(app.screen, ReviewDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert table.cell_text(1, "review") == "✓ discussed"


@async_test
async def test_changed_since_reviewed_is_starred_and_explained(db, scenarios):
    """A review recorded against an older state of the flag: discussed*."""
    code = scenarios["unrepaired"]
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        flag = _flag(app, code, "rupture")
    # the supervisor discussed it when it was still open, at another session
    store = _store(db)
    doc_flag = type(flag)(flag.client, flag.clinician, flag.kind, flag.session, "open", flag.detail, flag.extra)
    store.set_review(doc_flag, "discussed", note=NOTE)
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        row = table_column(table, "client").index(code)
        assert table.cell_text(row, "review") == "• new"  # its goal flag is not reviewed yet
        screen = await open_client(pilot, code)
        lst = screen.query_one(ReviewList)
        text = screen_text(app)
        assert "✓ discussed*" in text
        assert "changed since reviewed: status open → unrepaired" in text
        assert lst.border_title.startswith("Review · • new")


# --- one reading of "not reviewed": the caseload's Review cell and the client screen --------------


@async_test
async def test_a_repaired_rupture_alone_makes_the_review_cell_new_as_the_client_screen_says(db, scenarios):
    """A client whose only flag is a repaired rupture (interchange §5: a
    supervisor reviews repairs too) is "• new" in the caseload's Review
    column, as its client screen says; once the repair is reviewed both say
    so. (The trial: "—" in the column, "1 not reviewed" on the screen.)"""
    code = scenarios["repaired_v"]
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        a = app.data.by_code[code]
        assert a.tier == 7 and [(f.kind, f.status) for f in a.flags] == [("rupture", "repaired")]
        table = app.screen.query_one(CaseloadTable)
        row = table_column(table, "client").index(code)
        assert table.cell_text(row, "review") == "• new"
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ClientScreen) and screen.code == code
        lst = screen.query_one(ReviewList)
        assert lst.border_title == "Review · • new · 1 not reviewed"
        # review the repair (the most urgent entry, highlighted first): d discussed
        assert lst.highlighted_flag == a.flags[0]
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReviewDialog)
        await pilot.press("d")
        await settle(pilot)
        assert lst.border_title == "Review · ✓ discussed"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CaseloadScreen)
        assert table.cell_text(row, "review") == "✓ discussed"


@async_test
async def test_a_flag_that_owes_no_review_is_counted_alike_in_the_column_and_on_the_client_screen(db, scenarios):
    """A risk re-screened negative is shown and can be reviewed, but owes no
    review (rules.kinds): the Review column says "—" and the client screen
    counts nothing as not reviewed (it said "1 not reviewed" beside "—")."""
    code = scenarios["recovered"]
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        a = app.data.by_code[code]
        assert [(f.kind, f.status) for f in a.flags] == [("risk", "rescreened")]
        table = app.screen.query_one(CaseloadTable)
        assert table.cell_text(table_column(table, "client").index(code), "review") == "—"
        screen = await open_client(pilot, code)
        assert screen.query_one(ReviewList).border_title == "Review · —"


# --- client screen: r, n, x, d -----------------------------------------------------------------


@async_test
async def test_review_a_rupture_flag_and_its_note_on_the_client_screen(db, scenarios):
    code = scenarios["unrepaired"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        rupture = _flag(app, code, "rupture")
        lst = screen.query_one(ReviewList)
        await _highlight(pilot, lst, rupture.identity)
        await pilot.press("r")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ReviewDialog)
        assert "rupture" in dialog.target and "UNREPAIRED" in dialog.target
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen
        assert f"{code} rupture s{rupture.session}: discussed" in notes(app)
        store = _store(db)
        review = store.review_for(rupture)
        assert review.status == "discussed" and review.review.note is None
        # the other flags are untouched
        goal = _flag(app, code, "goal")
        assert store.review_for(goal).status == "new"
        assert lst.highlighted_flag == rupture  # the cursor stays on the flag
        assert "✓ discussed" in screen_text(app)

        # n: a note on the same flag
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*NOTE)
        await pilot.press("enter")
        await pilot.pause()
        store.reload()
        assert store.review_for(rupture).review.note == NOTE
        assert store.review_for(rupture).status == "discussed"  # a note keeps the status
        assert NOTE in screen_text(app)

        # r with a status and a note typed in the dialog
        await _highlight(pilot, lst, goal.identity)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("tab")
        await pilot.press(*"talk goals")
        await pilot.press("escape")  # cancel: nothing saved
        await pilot.pause()
        store.reload()
        assert store.review_for(goal).review is None
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("down")  # discussed -> action
        await pilot.press("tab")
        await pilot.press(*"talk goals", "enter")
        await pilot.pause()
        store.reload()
        assert store.review_for(goal).status == "action"
        assert store.review_for(goal).review.note == "talk goals"


@async_test
async def test_action_item_add_validate_and_toggle_done(db, scenarios):
    code = scenarios["goal_disagreed"]
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        clinician = app.data.by_code[code].clinician
        screen = await open_client(pilot, code)
        await pilot.press("d")  # nothing to toggle yet
        assert f"No action items for {code} · x adds one" in notes(app)
        await pilot.press("x")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        assert dialog.query_one("#action-owner", Input).value == clinician  # owner defaults to the clinician
        await pilot.press(*ACTION)
        await pilot.press("tab", "tab")
        await pilot.press(*"12/01/2026", "enter")
        await pilot.pause()
        assert app.screen is dialog  # refused, with a clear message
        error = static_text(dialog.query_one(".dialog-error", Static))
        assert "YYYY-MM-DD" in error and "12/01/2026" in error
        assert dialog.query_one("#action-due", Input).has_focus
        due = dialog.query_one("#action-due", Input)
        due.value = "2026-02-30"
        await pilot.press("enter")
        await pilot.pause()
        assert "not a calendar date" in static_text(dialog.query_one(".dialog-error", Static))
        due.value = "2026-12-01"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        store = _store(db)
        [item] = store.actions(client=code)
        assert (item.text, item.owner, item.due.isoformat(), item.done) == (ACTION, clinician, "2026-12-01", False)
        actions = screen.query_one(ActionList)
        assert actions.border_title == "Actions · 1 open"
        assert ACTION in screen_text(app) and "due 2026-12-01" in screen_text(app)

        await pilot.press("d")
        await pilot.pause()
        store.reload()
        assert store.action(item.id).done
        assert actions.border_title == "Actions · 0 open"
        await pilot.press("d")
        await pilot.pause()
        store.reload()
        assert not store.action(item.id).done  # undone: carried forward again

        # the clinicians screen counts the open item for its owner
        await pilot.press("escape")
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, CliniciansScreen)
        table = app.screen.query_one(CliniciansTable)
        counts = dict(zip(table_column(table, "clinician"), table_column(table, "actions")))
        assert counts[clinician] == "☐ 1"
        assert all(v == "·" for k, v in counts.items() if k not in (clinician, "All"))


@async_test
async def test_empty_action_text_is_refused(db, scenarios):
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await open_client(pilot, scenarios["open"])
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ActionDialog)
        assert "required" in static_text(app.screen.query_one(".dialog-error", Static))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen)
    assert not Database(db).sidecar_path.exists()


# --- agenda ------------------------------------------------------------------------------------------


def _agenda_headers(screen: AgendaScreen) -> list[str]:
    out = []
    for o in screen.agenda_list.options:
        text = o.prompt.plain if hasattr(o.prompt, "plain") else str(o.prompt)
        if o.disabled and text[:1].isdigit():
            out.append(text)
    return out


async def _open_agenda(pilot) -> AgendaScreen:
    await pilot.press("a")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AgendaScreen)
    assert pilot.app.screen.agenda is not None
    return pilot.app.screen


@async_test
async def test_agenda_sections_in_meeting_order_and_enter_opens_the_client(db, scenarios):
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        screen = await _open_agenda(pilot)
        headers = [h.split(" · ")[0] for h in _agenda_headers(screen)]
        assert headers == ["1 SAFETY AND RISK", "2 DETERIORATED", "3 RUPTURES", "4 GOALS AND ENGAGEMENT",
                           "5 PATTERNS PER SUPERVISEE", "6 ACTION ITEMS CARRIED OVER"]
        assert "new since 2026-11-13" in static_text(screen.query_one("#agenda-header", Static))
        # the first item is highlighted: the risk client; enter opens it on top of the agenda
        detail = static_text(screen.query_one("#agenda-detail", Static))
        assert detail.startswith(scenarios["risk"])
        await pilot.press("enter")
        await pilot.pause()
        client = app.screen
        assert isinstance(client, ClientScreen) and client.code == scenarios["risk"]
        await pilot.press("right")  # the next client of the agenda
        assert client.code == screen.client_order[1]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        # "a" from the client screen comes back to the same agenda
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen)
        await pilot.press("a")
        await pilot.pause()
        assert app.screen is screen


@async_test
async def test_agenda_since_can_be_changed_in_the_screen(db):
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = await _open_agenda(pilot)
        new_before = sum(1 for o in screen.agenda_list.options if o.prompt.plain.startswith("NEW"))
        await pilot.press("s")
        await pilot.pause()
        inp = app.screen.query_one(Input)
        inp.value = "13-11-2026"
        await pilot.press("enter")
        await pilot.pause()
        assert "YYYY-MM-DD" in static_text(app.screen.query_one(".dialog-error", Static))
        inp.value = "2026-01-01"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.agenda.since.isoformat() == "2026-01-01"
        assert "new since 2026-01-01" in static_text(screen.query_one("#agenda-header", Static))
        new_after = sum(1 for o in screen.agenda_list.options if o.prompt.plain.startswith("NEW"))
        assert new_after > new_before


@async_test
async def test_agenda_since_after_the_agenda_day_is_refused_and_the_old_value_kept(db):
    """A "new since" after the agenda's day (--as-of, else today) would make
    nothing NEW: the dialog refuses it in the words of the CLI's agenda
    --since, stays open, and esc keeps the previous value; the day itself
    is accepted."""
    from datetime import date, timedelta

    from click.testing import CliRunner

    from supervision_tui.cli import cli
    from supervision_tui.ui.screens.dialogs import DateDialog

    app = make_app(db)  # as of ui_support.AS_OF, 2026-11-20
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = await _open_agenda(pilot)
        before = screen.agenda.since
        header = static_text(screen.query_one("#agenda-header", Static))
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DateDialog)
        dialog.query_one(Input).value = "2026-11-21"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog  # still open, the date not taken
        said = static_text(dialog.query_one(".dialog-error", Static))
        assert said == ("New since 2026-11-21 is after the agenda's day 2026-11-20: nothing could be new since "
                        f"then (the date of the last meeting; esc keeps {before.isoformat()})")
        cli_said = CliRunner().invoke(cli, ["agenda", str(db), "--as-of", "2026-11-20", "--since", "2026-11-21"])
        assert cli_said.exit_code == 1  # the same words as the CLI:
        assert said.removeprefix("New since").split(" (")[0] in cli_said.output.removeprefix("--since")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.since == before and screen.agenda.since == before
        assert static_text(screen.query_one("#agenda-header", Static)) == header
        # the agenda's day itself is a valid "new since"
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one(Input).value = "2026-11-20"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.agenda.since == date(2026, 11, 20)
        assert "new since 2026-11-20" in static_text(screen.query_one("#agenda-header", Static))

    app = make_app(db, as_of=None)  # as of today (the reported case)
    tomorrow = date.today() + timedelta(days=1)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = await _open_agenda(pilot)
        before = screen.agenda.since
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one(Input).value = tomorrow.isoformat()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DateDialog)
        assert static_text(app.screen.query_one(".dialog-error", Static)).startswith(
            f"New since {tomorrow.isoformat()} is after the agenda's day {date.today().isoformat()}: ")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.agenda.since == before
        assert f"new since {tomorrow.isoformat()}" not in static_text(screen.query_one("#agenda-header", Static))


@async_test
async def test_agenda_export_is_private_and_redacted_unless_asked(db, scenarios):
    code = scenarios["goal_disagreed"]
    store = _store(db)
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        goal_flag = _flag(app, code, "goal")
    goal_texts = [g.description for g in app.data.caseload.goals if g.client == code and g.description]
    assert goal_texts
    store.set_review(goal_flag, "action", note=NOTE)
    store.add_action(code, ACTION, owner="T04")
    out = Path(os.environ["SUPERVISION_TUI_DATA_DIR"])
    app = make_app(db)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await _open_agenda(pilot)
        await pilot.press("e")
        await pilot.pause()
        md, htm = out / "agenda-demo-2026-11-20.md", out / "agenda-demo-2026-11-20.html"
        for p in (md, htm):
            assert p.exists() and oct(p.stat().st_mode & 0o777) == "0o600"
            text = p.read_text(encoding="utf-8")
            assert code in text and "Action items carried over" in text
            for private in (NOTE, ACTION, *goal_texts):
                assert private not in text, (p.name, private)
        assert any(str(md) in m and "hidden" in m for m in notes(app)), notes(app)
        await pilot.press("E")  # explicitly with notes
        await pilot.pause()
        md2 = out / "agenda-demo-2026-11-20-with-notes.md"
        text = md2.read_text(encoding="utf-8")
        assert oct(md2.stat().st_mode & 0o777) == "0o600"
        assert NOTE in text and ACTION in text and goal_texts[0] in text
        assert (out / "agenda-demo-2026-11-20-with-notes.html").exists()


@async_test
async def test_palette_has_every_workflow_command(db):
    from supervision_tui.ui.commands import SupervisionCommands

    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        names = [n for n, _a, _h in SupervisionCommands(app.screen)._commands()]
        for wanted in ("Weekly agenda", "Export agenda", "Export agenda with notes", "Audit trail",
                       "Export audit trail", "Presentation mode: on", "Blank the screen", "Mark C-0127 discussed"):
            assert wanted in names, wanted
        # the palette command exports with notes from the caseload too
        command = dict((n, a) for n, a, _h in SupervisionCommands(app.screen)._commands())
        command["Export agenda with notes"]()
        assert (Path(os.environ["SUPERVISION_TUI_DATA_DIR"]) / "agenda-demo-2026-11-20-with-notes.md").exists()
        await open_client(pilot, "C-0124")
        names = [n for n, _a, _h in SupervisionCommands(app.screen)._commands()]
        assert "Add an action item for C-0124" in names and "Note on the highlighted flag of C-0124" in names


def test_exports_of_different_databases_and_repeats_never_overwrite(db, tmp_path):
    from datetime import date

    from supervision_tui.reports.agenda import build_agenda

    other = tmp_path / "case" / "other clinic.json"  # the space is not kept in the export name
    shutil.copyfile(db, other)
    out = tmp_path / "exports"
    agenda = build_agenda(Database(db, read_only=True), as_of=date(2026, 11, 20))
    mine, theirs = ReviewService(db), ReviewService(other)

    first = mine.export_agenda(agenda, directory=out)
    assert [p.name for p in first] == ["agenda-demo-2026-11-20.md", "agenda-demo-2026-11-20.html"]
    before = _digest(out)
    assert [p.name for p in theirs.export_agenda(agenda, directory=out)] == [
        "agenda-other_clinic-2026-11-20.md", "agenda-other_clinic-2026-11-20.html"]
    again = mine.export_agenda(agenda, directory=out)
    assert [p.name for p in again] == ["agenda-demo-2026-11-20-2.md", "agenda-demo-2026-11-20-2.html"]
    # a stranger's file takes -3 for one suffix: both files move on to -4, the stranger is untouched
    (out / "agenda-demo-2026-11-20-3.html").write_text("not ours", encoding="utf-8")
    third = mine.export_agenda(agenda, directory=out, include_notes=False)
    assert [p.name for p in third] == ["agenda-demo-2026-11-20-4.md", "agenda-demo-2026-11-20-4.html"]
    assert (out / "agenda-demo-2026-11-20-3.html").read_text(encoding="utf-8") == "not ours"
    assert not (out / "agenda-demo-2026-11-20-3.md").exists()
    after = _digest(out)
    assert all(after[name] == digest for name, digest in before.items())  # nothing overwritten
    for p in (*first, *again, *third):
        assert oct(p.stat().st_mode & 0o777) == "0o600" and p.read_text(encoding="utf-8").startswith(
            ("# Supervision agenda", "<!DOCTYPE html>"))

    today = date.today().isoformat()
    assert mine.export_audit(directory=out).name == f"audit-demo-{today}.csv"
    assert mine.export_audit(directory=out).name == f"audit-demo-{today}-2.csv"
    assert theirs.export_audit(directory=out, include_notes=True).name == f"audit-other_clinic-{today}-with-notes.csv"


def test_a_failed_export_leaves_no_file_behind(db, tmp_path, monkeypatch):
    from datetime import date

    from supervision_tui.errors import UserError
    from supervision_tui.reports.agenda import build_agenda
    from supervision_tui.store import files

    out = tmp_path / "exports"
    agenda = build_agenda(Database(db, read_only=True), as_of=date(2026, 11, 20))
    real = files.write_private_text

    def failing(path, text, encoding="utf-8"):
        if str(path).endswith(".html"):
            raise files.FileWriteError(f"{path}: cannot write: no space left on the device")
        return real(path, text, encoding)

    monkeypatch.setattr(files, "write_private_text", failing)
    with pytest.raises(UserError, match="no space left"):
        ReviewService(db).export_agenda(agenda, directory=out)
    assert list(out.iterdir()) == []


# --- presentation mode and blank screen -------------------------------------------------------------------


@async_test
async def test_presentation_mode_hides_private_text_everywhere(db, scenarios):
    code = scenarios["goal_disagreed"]
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        goal_flag = _flag(app, code, "goal")
    goal_text = next(g.description for g in app.data.caseload.goals if g.client == code and g.description)
    goal_word = goal_text.split()[-1]
    store = _store(db)
    store.set_review(goal_flag, "discussed", note=NOTE)
    store.add_action(code, ACTION, owner="T04")

    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        # client screen
        await open_client(pilot, code)
        shown = screen_text(app)
        assert NOTE in shown and ACTION in shown and goal_word in shown
        assert "PRESENTING" not in shown
        await pilot.press("p")
        await pilot.pause()
        shown = screen_text(app)
        assert NOTE not in shown and ACTION not in shown and goal_text not in shown
        assert "PRESENTING · private text hidden" in shown
        await pilot.press("p")
        await pilot.pause()
        assert NOTE in screen_text(app)

        # agenda: the goal item's detail panel and the action line
        await pilot.press("escape")
        screen = await _open_agenda(pilot)
        goal_option = f"f:{goal_flag.identity}"
        # (the action line is in the last section, below the effectiveness note: highlighted to be on screen)
        action_option = next(o.id for o in screen.agenda_list.options if (o.id or "").startswith("a:"))
        await _highlight(pilot, screen.agenda_list, goal_option)
        shown = screen_text(app)
        assert NOTE in shown and goal_word in shown
        await _highlight(pilot, screen.agenda_list, action_option)
        assert ACTION in screen_text(app)
        await pilot.press("p")
        await pilot.pause()
        shown = screen_text(app)
        assert ACTION not in shown and "PRESENTING · private text hidden" in shown
        await _highlight(pilot, screen.agenda_list, goal_option)
        shown = screen_text(app)
        assert NOTE not in shown and ACTION not in shown and goal_text not in shown
        assert "PRESENTING · private text hidden" in shown

        # audit trail
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)
        shown = screen_text(app)
        assert NOTE not in shown and ACTION not in shown and "(hidden)" in shown
        await pilot.press("p")
        await pilot.pause()
        shown = screen_text(app)
        assert NOTE in shown and ACTION in shown


@async_test
async def test_present_flag_starts_presenting(db, scenarios):
    store = _store(db)
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        flag = _flag(app, scenarios["open"], "rupture")
    store.set_review(flag, "discussed", note=NOTE)
    app = make_app(db, present=True)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert "PRESENTING · private text hidden" in screen_text(app)
        screen = await open_client(pilot, scenarios["open"])
        lst = screen.query_one(ReviewList)
        await _highlight(pilot, lst, flag.identity)
        text = "\n".join(o.prompt.plain for o in lst.options)
        assert NOTE not in text and "(hidden while presenting)" in text
        # the note dialog does not show the stored note either, and masks typing
        await pilot.press("n")
        await pilot.pause()
        inp = app.screen.query_one(Input)
        assert inp.value == "" and inp.password


@async_test
async def test_blank_screen_hides_everything_and_any_key_returns(db):
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        before = app.screen
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BlankScreen)
        shown = screen_text(app)
        assert BLANK_MESSAGE in shown
        assert "C-01" not in shown and "risk" not in shown
        await pilot.press("q")  # any key returns; it does not quit
        await pilot.pause()
        assert app.is_running and app.screen is before


# --- audit ---------------------------------------------------------------------------------------------------


@async_test
async def test_audit_trail_lists_changes_newest_first_and_exports(db, scenarios):
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("r")  # risk client: flag + client
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one(AuditTable)
        assert table_column(table, "client") == [scenarios["risk"]] * 2
        assert table_column(table, "target") == ["client", "risk"]  # newest first
        assert all(w == "review" for w in table_column(table, "what"))
        assert table_column(table, "change") == ["new → discussed"] * 2
        await pilot.press("e")
        await pilot.pause()
        path = Path(os.environ["SUPERVISION_TUI_DATA_DIR"]) / "audit-demo-2026-11-20.csv"
        assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
        assert path.read_text(encoding="utf-8").count(scenarios["risk"]) >= 2
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen) and app.screen.code == scenarios["risk"]


# --- read-only -------------------------------------------------------------------------------------------------


@async_test
async def test_read_only_writes_nothing(db, scenarios):
    # an existing sidecar, so a write would have something to change
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        flag = _flag(app, scenarios["unrepaired"], "rupture")
    _store(db).set_review(flag, "discussed", note=NOTE)
    folder = db.parent
    before = _digest(folder)
    names_before = sorted(os.listdir(folder))

    app = make_app(db, read_only=True)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)  # no dialog either
        await open_client(pilot, scenarios["unrepaired"])
        for key in ("r", "n", "x", "d"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, ClientScreen), key
        assert notes(app).count(READ_ONLY_MESSAGE) == 5
        assert "read-only" in static_text(app.caseload_screen.query_one("#topbar-theme", Static))
        app.poll_workflow()
    assert _digest(folder) == before
    assert sorted(os.listdir(folder)) == names_before


@async_test
async def test_read_only_creates_no_sidecar_or_lock(db):
    app = make_app(db, read_only=True)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        app.poll_workflow()
    assert sorted(os.listdir(db.parent)) == ["demo.json"]


# --- several reviewers ---------------------------------------------------------------------------------------------


@async_test
async def test_two_apps_on_one_file_see_each_others_writes_after_a_poll(db, scenarios):
    one, two = make_app(db), make_app(db)
    async with one.run_test(size=LARGE, notifications=True) as p1:
        await loaded(p1)
        async with two.run_test(size=LARGE, notifications=True) as p2:
            await loaded(p2)
            t1 = one.screen.query_one(CaseloadTable)
            t2 = two.screen.query_one(CaseloadTable)
            assert t2.cell_text(0, "review") == "• new"
            await p1.press("r")
            await p1.pause()
            assert t1.cell_text(0, "review") == "✓ discussed"
            # our own write never says "another user"
            assert not one.poll_workflow()
            assert "Reviews updated by another user" not in notes(one)
            # the other app sees it at its next poll (called here; its 2 s timer may have run first)
            polled = two.poll_workflow()
            await p2.pause()
            assert polled or "Reviews updated by another user" in notes(two)
            assert t2.cell_text(0, "review") == "✓ discussed"
            assert "Reviews updated by another user" in notes(two)
            assert not two.poll_workflow()  # nothing new: quiet


@async_test
async def test_a_changed_database_file_is_reloaded_by_the_poll(db):
    app = make_app(db)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        version = app.data_version
        assert not app.poll_workflow()
        data = db.read_bytes()
        db.write_bytes(data + b"\n")  # another process rewrote the caseload
        os.utime(db, ns=(1, 1))
        app.poll_workflow()  # (or its 2 s timer, whichever comes first)
        await loaded(pilot)
        for _ in range(100):
            if app.data_version > version:
                break
            await pilot.pause(0.02)
        assert app.data_version == version + 1
        assert "The caseload file changed on disk: reloading" in notes(app)
        assert not app.poll_workflow()  # once only


# --- clinician scope ---------------------------------------------------------------------------------------------------


@async_test
async def test_clinician_scope_covers_the_whole_app(db, scenarios):
    # reviews of a T02 client and of a T01 client
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        by_clin = {}
        for a in app.analyses:
            if a.flags and a.triaged:
                by_clin.setdefault(a.clinician, a)
    store = _store(db)
    for a in (by_clin["T01"], by_clin["T02"]):
        store.set_review(a.flags[0], "discussed", note=f"note {a.client}")
    mine = {a.client for a in app.analyses if a.clinician == "T02"}

    app = make_app(db, clinician="T02")
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        screen = app.screen
        codes = table_column(screen.query_one(CaseloadTable), "client")
        assert codes and set(codes) <= mine
        assert "clinician T02 only" in static_text(screen.query_one("#topbar-theme", Static))
        assert "clinician T02 only (--clinician)" in screen.query_one("#table-box").border_title
        # the filter cannot be changed or cleared
        await pilot.press("escape", "escape", "escape")
        app.filter_clinician("T01")
        await pilot.pause()
        assert set(table_column(screen.query_one(CaseloadTable), "client")) <= mine
        assert any("clinician T02's clients only" in m for m in notes(app))
        assert all(a.clinician == "T02" for a in app.analyses)
        # clinicians screen: T02 only
        await pilot.press("o")
        await pilot.pause()
        assert table_column(app.screen.query_one(CliniciansTable), "clinician") == ["T02", "All"]
        await pilot.press("escape")
        # agenda and its export
        agenda = await _open_agenda(pilot)
        assert agenda.agenda.clinician == "T02"
        assert set(agenda.client_order) <= mine
        await pilot.press("e")
        await pilot.pause()
        text = (Path(os.environ["SUPERVISION_TUI_DATA_DIR"]) / "agenda-demo-2026-11-20-T02.md").read_text(encoding="utf-8")
        assert "clinician T02" in text
        assert by_clin["T01"].client not in text
        # audit: only T02's clients
        await pilot.press("u")
        await pilot.pause()
        clients = table_column(app.screen.query_one(AuditTable), "client")
        assert clients == [by_clin["T02"].client]


@async_test
async def test_the_review_mark_shows_at_80_columns(db, scenarios):
    app = make_app(db)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(CaseloadTable)
        cols = [c.key.value for c in table.ordered_columns]
        assert cols == ["tier", "client", "why", "goal", "review-mark"]  # (Why keeps 28 cells: "not seen since" of risk rows)
        assert table.cell_text(0, "review-mark") == "•"
        await pilot.press("r")
        await pilot.pause()
        assert table.cell_text(0, "review-mark") == "✓"
        marks = dict(zip(table_column(table, "client"), table_column(table, "review-mark")))
        unflagged = [c for c in marks if app.data.by_code[c].tier == 7]
        repaired = {c for c in unflagged
                    if any(f.kind == "rupture" and f.status == "repaired" for f in app.data.by_code[c].flags)}
        assert scenarios["repaired_v"] in repaired  # a repair owes a review: • (new) though tier 7
        assert all(marks[c] == ("•" if c in repaired else "") for c in unflagged)


@async_test
async def test_a_damaged_workflow_file_is_reported_and_never_written(db):
    sidecar = Database(db).sidecar_path
    sidecar.write_text("{ not json", encoding="utf-8")
    app = make_app(db)
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        assert any(m.startswith("Reviews unavailable") for m in notes(app))
        table = app.screen.query_one(CaseloadTable)
        assert set(table_column(table, "review")) == {"?"}
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)
    assert sidecar.read_text(encoding="utf-8") == "{ not json"


@async_test
async def test_presenting_while_a_dialog_is_open_masks_the_note(db, scenarios):
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        flag = _flag(app, scenarios["open"], "rupture")
    _store(db).set_review(flag, "discussed", note=NOTE)
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, scenarios["open"])
        await _highlight(pilot, screen.query_one(ReviewList), flag.identity)
        await pilot.press("r")
        await pilot.pause()
        assert NOTE in screen_text(app)  # the stored note, ready to edit
        app.present = True  # (a dialog is modal: the app's p is not active; --present or the palette)
        await pilot.pause()
        assert app.present and isinstance(app.screen, ReviewDialog)
        assert NOTE not in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
    assert _store(db).review_for(flag).review.note == NOTE  # the masked note is kept as it was
