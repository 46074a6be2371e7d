"""Defects a newcomer trial found on the bundled demo (40 clients), each
pinned by a Pilot test: agenda columns on not-on-track rows, the Outcomes
panel's status word and indentation, outcome chart titles that keep the
cut-off, the client header's "last seen" (an attended session, never a
no-show) and the audit trail's visible cut."""

from __future__ import annotations

import re
import shutil

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.widgets import Static

from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore
from supervision_tui.ui.screens.agenda import AgendaScreen
from supervision_tui.ui.screens.audit import AuditScreen, AuditTable
from supervision_tui.ui.widgets.caseload_table import OUTCOME_WORDS
from supervision_tui.ui.widgets.charts import ChartPanel, OutcomeChart
from supervision_tui.ui.widgets.panels import outcomes_text
from ui_support import LARGE, SMALL, async_test, loaded, make_app, open_client, settle, static_text, table_column

MEDIUM = (120, 40)


# --- 1: the agenda's columns line up whatever the flag's label -----------------------------

_REVIEW = re.compile(r" [•✓☐☑×] (new|action|discussed|resolved|dismissed)\*? ")


@pytest.mark.parametrize("size", [LARGE, SMALL])
@async_test
async def test_agenda_review_and_session_columns_align_on_every_item(demo40, size):
    db, sc = demo40
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AgendaScreen) and screen.agenda is not None
        lines = {o.id: o.prompt.plain for o in screen.agenda_list.options if o.id and o.id.startswith("f:")}
        kinds = {line for line in lines.values() if "not on track" in line or " worse " in line}
        # the not-on-track client (the longest label) and a deteriorated one (a short one) are both listed
        assert any(sc["not_on_track"] in k and "ORS not on track" in k for k in kinds), kinds
        assert any(sc["deteriorated_ors"] in k and "ORS worse" in k for k in kinds), kinds
        starts = set()
        for line in lines.values():
            m = _REVIEW.search(line)
            assert m, line
            starts.add(cell_len(line[:m.start()]))
        assert len(starts) == 1, starts  # the review column starts in the same cell on every line


# --- 2: the Outcomes panel says NOT ON TRACK as the caseload does ------------------------------


@async_test
async def test_outcomes_panel_status_word_is_the_caseload_one_and_lines_are_indented_alike(demo40):
    db, sc = demo40
    code = sc["deteriorated_phq"]
    app = make_app(db)
    async with app.run_test(size=MEDIUM) as pilot:
        await loaded(pilot)
        await open_client(pilot, code)
        view = app.data.view(code)
        a = view.analysis
        statuses = a.outcome_statuses
        assert "not_on_track" in statuses.values() and "deteriorated" in statuses.values(), statuses
        console = Console(width=66, record=True, color_system=None, legacy_windows=False)
        console.print(outcomes_text(view))
        text = console.export_text()
        lines = text.splitlines()
        for inst, status in statuses.items():
            res = a.outcomes[inst]
            word = OUTCOME_WORDS[status].upper()
            head = [line for line in lines if line.startswith(f"{inst}  ")]
            assert len(head) == 1 and head[0].startswith(f"{inst}  {word}  "), (inst, head)
            # the change line (raw difference with its direction) and the expected course stay
            flat = " ".join(text.split())
            assert " ".join(res.detail.split()) in flat
            assert " ".join(a.tracks[inst].detail.split()) in flat
        # every detail line is indented by two spaces, none by three (the old badge's leading space)
        details = [line for line in lines if line.startswith(" ")]
        assert details and all(line.startswith("  ") and not line.startswith("   ") for line in details), details
        # the panel on the screen shows the same words
        shown = static_text(app.screen.query_one("#outcomes", Static))
        assert "ORS  NOT ON TRACK " in shown and " NOT ON TRACK  ORS" not in shown


# --- 3: outcome chart titles fit, with their cut-off ------------------------------------------


@pytest.mark.parametrize("size", [SMALL, MEDIUM, LARGE])
@async_test
async def test_outcome_chart_titles_fit_and_keep_the_cut_off(demo40, size):
    db, sc = demo40
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, sc["deteriorated_phq"])
        await pilot.pause()
        panels = [p for p in screen.query(ChartPanel) if isinstance(p.chart, OutcomeChart) and p.display]
        assert len(panels) == 3
        view = app.data.view(sc["deteriorated_phq"])
        for p in panels:
            title = str(p.border_title)
            inst = p.chart.instrument
            assert title.startswith(inst)
            assert view.instrument(inst).cutoff_label in title, title  # the clinical cut-off is never cut
            assert cell_len(title) <= p.outer_size.width - ChartPanel.TITLE_CHROME, (title, p.outer_size)
            if size == LARGE:  # room for the whole wording
                assert "is better)" in title, title
            else:  # and the direction where there is room for it
                assert "better" in title, title


# --- 4: the header's last contact is an attended session ----------------------------------------


@pytest.mark.parametrize("size", [SMALL, MEDIUM])
@async_test
async def test_client_header_says_last_seen_not_the_last_no_show(demo40, size):
    db, sc = demo40
    code = sc["risk_unseen"]
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        sessions = sorted(app.data.view(code).record.sessions, key=lambda s: s.number)
        attended = [s for s in sessions if s.attendance == "attended"]
        missed = len(sessions) - 1 - sessions.index(attended[-1])
        assert missed >= 2 and sessions[-1].attendance != "attended"  # the trial's case: seen, then no-shows
        head = static_text(screen.query_one("#client-header", Static))
        first = head.split("\n")[0]
        assert f"last seen {attended[-1].date.isoformat()} ({missed} missed since)" in first, head
        assert sessions[-1].date.isoformat() not in first  # the latest (missed) session is no "last"
        assert cell_len(first) <= size[0] - 2  # one line, not wrapped


@async_test
async def test_client_header_without_missed_sessions_says_only_last_seen(demo40):
    db, sc = demo40
    code = sc["not_on_track"]
    app = make_app(db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        screen = await open_client(pilot, code)
        sessions = sorted(app.data.view(code).record.sessions, key=lambda s: s.number)
        assert sessions[-1].attendance == "attended"
        head = static_text(screen.query_one("#client-header", Static))
        first = head.split("\n")[0]
        assert first.endswith(f" · last seen {sessions[-1].date.isoformat()}") or \
            f" · last seen {sessions[-1].date.isoformat()} · " in first, head


# --- 5: the audit trail cuts visibly ----------------------------------------------------------


@pytest.mark.parametrize("size", [(120, 30), SMALL])
@async_test
async def test_audit_trail_cuts_a_long_change_with_an_ellipsis_and_shows_it_whole_below(demo40, tmp_path, size):
    src, sc = demo40
    db = tmp_path / "demo.json"
    shutil.copy(src, db)
    code = sc["risk_unseen"]
    ReviewStore(Database(db), user="T03").add_action(code, "Call client re safety plan", owner="T03",
                                                      due="2026-12-01")
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.press("u")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one(AuditTable)
        full = "“Call client re safety plan” · owner T03 · due 2026-12-01"
        (cell,) = table_column(table, "change")
        width = table.ordered_columns[-1].get_render_width(table)
        assert cell == full or (cell.endswith("…") and full.startswith(cell[:-1])), cell
        if size == (120, 30):
            assert cell != full  # the trial's case: too long for the room left, so it is cut, visibly
        # every column on screen: nothing cut silently at the right edge
        total = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert total <= table.scrollable_content_region.width, (total, table.scrollable_content_region)
        assert cell_len(cell) <= width - 2 * table.cell_padding
        # the highlighted change in full under the table
        detail = static_text(screen.query_one("#audit-detail", Static))
        assert full in " ".join(detail.split()), detail
