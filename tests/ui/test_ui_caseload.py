"""The caseload screen: rows in triage order, navigation, filters, search,
closed clients, sort, width-dependent columns, preview, load errors."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from ui_support import (
    LARGE,
    SMALL,
    async_test,
    loaded,
    make_app,
    shown_columns,
    static_text,
    table_column,
)


def _table(app) -> CaseloadTable:
    return app.screen.query_one(CaseloadTable)


@async_test
async def test_first_screen_lists_triage_order_with_most_urgent_selected(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        assert isinstance(app.screen, CaseloadScreen)
        table = _table(app)
        triaged = [a for a in app.analyses if a.triaged]
        assert table.row_count == len(triaged)
        # row order = the engine's triage order
        assert table_column(table, "client") == [a.client for a in triaged]
        # the risk client is row 1, selected at start, labelled with symbol + number + word
        assert table.cursor_row == 0
        assert table.current_code == scenarios["risk"]
        assert table_column(table, "tier")[0] == "▲1 risk"
        tiers = table_column(table, "tier")
        assert tiers == sorted(tiers, key=lambda t: int(t[1]))  # tiers ascend
        assert table_column(table, "why")[0].startswith("risk at s11 (PHQ-9)")
        header = static_text(app.screen.query_one("#topbar-title", Static))
        assert f"{len(triaged)} clients" in header and "4 clinicians" in header and "as of 2026-11-20" in header
        assert static_text(app.screen.query_one("#topbar-theme", Static)) == "textual-dark"


@async_test
async def test_large_screen_shows_every_column_and_sparklines(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        table = _table(app)
        cols = shown_columns(table)
        for key in ("tier", "client", "clinician", "why", "alliance", "goal", "outcome", "review"):
            assert key in cols, cols
        alliance = table_column(table, "alliance")[0]
        assert alliance.startswith("SRS ")
        assert any(ch in alliance for ch in "▁▂▃▄▅▆▇█")
        outcomes = table_column(table, "outcome")
        assert any(o.startswith("ORS ") for o in outcomes)
        assert any("✗" in o for o in outcomes)  # deteriorated clients
        # no review written yet: flagged clients are new, and so are those with a repaired rupture
        # (no triage reason, but a supervisor reviews repairs too); the others have nothing to review
        review = dict(zip(table_column(table, "client"), table_column(table, "review")))
        assert set(review.values()) == {"—", "• new"}

        def owes_review(a) -> bool:
            return a.tier <= 6 or any(f.kind == "rupture" and f.status == "repaired" for f in a.flags)

        assert all((review[c] == "• new") == owes_review(app.data.by_code[c]) for c in review)
        assert any(review[c] == "• new" and app.data.by_code[c].tier == 7 for c in review)
        # preview shows the selected client and the engine's words
        await pilot.pause(0.2)
        why = static_text(app.screen.query_one("#preview-why", Static))
        assert "RISK" in why and "critical item endorsed at s11" in why and "active until a negative PHQ-9 re-screen" in why
        assert app.screen.query_one("#preview").display


@async_test
async def test_small_screen_keeps_tier_client_why_goal_and_hides_preview(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        table = _table(app)
        cols = shown_columns(table)
        assert cols[:2] == ["tier", "client"]
        assert {"tier", "client", "why", "goal"} <= set(cols)
        assert "alliance" not in cols and "outcome" not in cols
        total = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert total <= 80 - 2
        assert app.screen.has_class("-compact")
        assert app.screen.query_one("#preview").styles.display == "none"
        # resize to large: columns come back, recomputed
        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        assert "alliance" in shown_columns(table)
        assert not app.screen.has_class("-compact")
        assert app.screen.query_one("#preview").styles.display == "block"


@async_test
async def test_down_and_j_move_enter_opens_escape_returns(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        table = _table(app)
        codes = table_column(table, "client")
        await pilot.press("down")
        assert table.cursor_row == 1
        await pilot.press("j", "j")
        assert table.cursor_row == 3
        await pilot.press("k")
        assert table.cursor_row == 2
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen)
        assert app.screen.code == codes[2]
        header = static_text(app.screen.query_one("#client-header", Static))
        assert header.startswith(codes[2])
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)
        assert table.cursor_row == 2
        assert table.current_code == codes[2]


@async_test
async def test_left_right_walk_the_list_and_escape_lands_on_last_client(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        codes = table_column(_table(app), "client")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.code == codes[0]
        await pilot.press("right")
        assert app.screen.code == codes[1]
        await pilot.press("right_square_bracket")
        assert app.screen.code == codes[2]
        await pilot.press("left")
        assert app.screen.code == codes[1]
        header = static_text(app.screen.query_one("#client-header", Static))
        assert header.startswith(codes[1]) and f"2/{len(codes)}" in header
        await pilot.press("escape")
        await pilot.pause()
        assert _table(app).current_code == codes[1]


@async_test
async def test_filter_by_clinician_via_picker_and_clear(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        screen = app.screen
        await pilot.press("f")
        await pilot.pause()
        from textual.widgets import OptionList

        ol = app.screen.query_one(OptionList)
        ol.highlighted = ol.get_option_index("clinician:T03")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        table = _table(app)
        risk = [a.client for a in app.analyses if a.tier == 1]
        expected = [a.client for a in app.analyses if a.triaged and a.clinician == "T03"]
        assert risk and not set(risk) & set(expected)
        # clinical-rules §6 (v2): a filter never hides risk: the risk client (T02) stays on top, named
        assert table_column(table, "client") == risk + expected
        assert "clinician T03" in screen.query_one("#table-box").border_title
        notice = screen.query_one("#notice", Static)
        assert notice.display and "RISK" in static_text(notice) and risk[0] in static_text(notice)
        await pilot.press("escape")
        assert table.row_count == sum(1 for a in app.analyses if a.triaged)
        assert not notice.display


@async_test
async def test_filter_by_tier_and_kind(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        screen = app.screen
        screen.set_kind("tier3")
        await pilot.pause()
        tiers = table_column(_table(app), "tier")
        assert tiers[0] == "▲1 risk" and set(tiers[1:]) == {"●3 rupture"}  # risk kept on top
        screen.set_kind("k-deteriorated")
        await pilot.pause()
        codes = table_column(_table(app), "client")
        assert codes[0] == app.analyses[0].client and app.analyses[0].tier == 1  # risk kept on top
        assert codes[1:] and all(
            any(o.status == "deteriorated" for o in app.data.by_code[c].outcomes.values()) for c in codes[1:]
        )
        assert "outcome deteriorated" in screen.query_one("#table-box").border_title


@async_test
async def test_search_filters_by_code_clinician_and_why(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        inp = app.screen.query_one("#search", Input)
        assert inp.display and inp.has_focus
        await pilot.press(*"unrepaired")
        await pilot.pause(0.3)  # the search is debounced
        table = _table(app)
        assert table_column(table, "client") == [scenarios["risk"], scenarios["unrepaired"]]  # risk kept
        await pilot.press("enter")  # keep the filter, back to the table
        assert table.has_focus
        assert table.row_count == 2
        await pilot.press("escape")  # clears the search
        assert table.row_count > 1
        await pilot.press("slash", *"t01")
        await pilot.pause(0.3)
        shown = [c for c in table_column(table, "client") if app.data.by_code[c].tier != 1]  # risk kept on top
        assert shown and {app.data.by_code[c].clinician for c in shown} == {"T01"}
        # q types into the search box; it does not quit
        await pilot.press("q")
        assert app.is_running
        assert inp.value == "t01q"


@async_test
async def test_after_a_search_enter_opens_the_match_not_a_pinned_risk_row(demo40):
    """The trial, on the bundled demo's caseload: / C-0131 enter enter
    opened C-0117, the risk client kept on top whatever the search. The
    cursor goes to the first row the search matches; the risk rows stay
    listed first."""
    db, sc = demo40
    code = sc["unrepaired"]
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        table = _table(app)
        assert table.current_code == sc["risk_unseen"]  # the most urgent row, selected
        await pilot.press("slash", *code, "enter")  # enter applies the search at once (no debounce)
        await pilot.pause()
        shown = table_column(table, "client")
        risk = [c for c in shown if app.data.by_code[c].tier == 1]
        assert risk and shown == risk + [code]  # risk stays in view, on top
        assert table.has_focus and table.current_code == code
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen) and app.screen.code == code
        await pilot.press("escape")
        await pilot.pause()
        # a search the selected client matches keeps the cursor on it (no jump to the first match)
        await pilot.press("escape")  # clears the search
        await pilot.pause()
        assert table.current_code == code
        clinician = app.data.by_code[code].clinician
        first = next(c for c in table_column(table, "client") if app.data.by_code[c].clinician == clinician)
        assert first != code
        await pilot.press("slash", *clinician, "enter")
        await pilot.pause()
        assert table.current_code == code


@async_test
async def test_after_a_filter_the_cursor_is_on_its_first_match_not_a_pinned_risk_row(demo40):
    """Choosing a kind or a clinician with ``f`` puts the cursor on the first
    row the filter keeps, as a search does; risk rows stay listed on top;
    a selected client the filter keeps stays selected."""
    db, _sc = demo40
    app = make_app(db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        screen, table = app.screen, _table(app)
        assert app.data.by_code[table.current_code].tier == 1  # the most urgent row, selected
        screen.set_kind("tier3")
        await pilot.pause()
        shown = table_column(table, "client")
        assert app.data.by_code[shown[0]].tier == 1  # risk kept on top
        first = next(c for c in shown if app.data.by_code[c].tier == 3)
        assert table.current_code == first
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen) and app.screen.code == first
        await pilot.press("escape")
        await pilot.pause()
        screen.set_kind(None)
        await pilot.pause()
        assert table.current_code == first  # clearing keeps the cursor where it is
        clinician = app.data.by_code[first].clinician
        screen.set_clinician(clinician)  # the selected client is the clinician's: it stays selected
        await pilot.pause()
        assert table.current_code == first
        other = next(a.client for a in app.data.analyses if a.clinician != clinician and a.tier != 1)
        screen.set_clinician(app.data.by_code[other].clinician)
        await pilot.pause()
        keep = app.data.by_code[other].clinician
        assert app.data.by_code[table.current_code].clinician == keep
        assert table.current_code == next(c for c in table_column(table, "client")
                                          if app.data.by_code[c].clinician == keep)


@async_test
async def test_show_closed_clients_with_c_and_all_flag(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        table = _table(app)
        ended = [a.client for a in app.analyses if not a.triaged]
        n = table.row_count
        shown = set(table_column(table, "client"))
        assert not shown & set(ended)
        assert len(ended) >= 2  # the fixture has a closed and a dropped-out client
        await pilot.press("c")
        await pilot.pause()
        assert table.row_count == n + len(ended)
        assert set(ended) <= set(table_column(table, "client"))
        # closed ones last, their status in words
        tiers = table_column(table, "tier")[-len(ended):]
        assert all(("closed" in t or "dropped" in t) for t in tiers)
        assert "closed shown" in app.screen.query_one("#table-box").border_title
        await pilot.press("c")
        assert table.row_count == n

    app = make_app(demo_db, show_all=True)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert _table(app).row_count == len(app.analyses)


@async_test
async def test_s_cycles_sort_and_title_says_so(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        table = _table(app)
        box = app.screen.query_one("#table-box")
        assert "triage order" in box.border_title
        await pilot.press("s")
        assert app.screen.sort_key == "client"
        risk = [a.client for a in app.analyses if a.triaged and a.tier == 1]
        codes = table_column(table, "client")
        assert codes[: len(risk)] == risk  # risk stays first (clinical-rules §6), the rest sorted
        assert codes[len(risk):] == sorted(codes[len(risk):])
        assert "risk first, then by client" in box.border_title
        await pilot.press("s")
        assert app.screen.sort_key == "clinician"
        clin = table_column(table, "clinician")[len(risk):]
        assert clin == sorted(clin)
        # cycle back round to triage order
        for _ in range(20):
            if app.screen.sort_key == "tier":
                break
            await pilot.press("s")
        assert app.screen.sort_key == "tier"
        assert table_column(table, "client") == [a.client for a in app.analyses if a.triaged]


@async_test
async def test_initial_clinician_filter(demo_db):
    app = make_app(demo_db, clinician="T04")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        codes = table_column(_table(app), "client")
        assert codes and all(app.data.by_code[c].clinician == "T04" for c in codes)


@async_test
async def test_database_error_is_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{ this is not json", encoding="utf-8")
    app = make_app(bad)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        assert app.is_running
        assert app.data is None and app.load_error
        msg = static_text(app.screen.query_one("#table-message", Static))
        assert "Cannot open the caseload" in msg and "broken.json" in msg
        assert "Traceback" not in msg
        await pilot.press("q")
    assert not app.is_running


@async_test
async def test_reload_keeps_cursor_on_the_same_client(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        table = _table(app)
        await pilot.press("down", "down")
        code = table.current_code
        version = app.data_version
        app.reload()
        await loaded(pilot)
        for _ in range(50):
            if app.data_version > version:
                break
            await pilot.pause(0.02)
        assert app.data_version == version + 1
        assert table.current_code == code


@async_test
async def test_row_hooks_put_values_on_rows_and_the_review_column_is_the_services(demo_db):
    app = make_app(demo_db)
    app.row_hooks.append(lambda row: row.extra.__setitem__("seen", row.tier))
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        table = _table(app)
        review = table_column(table, "review")
        assert review == [app.reviews.status_text(app.data.by_code[code]) for code in table_column(table, "client")]
        assert "• new" in review
        assert all(r.extra["seen"] == r.tier for r in app.caseload_screen.all_rows)


@pytest.mark.parametrize("size", [SMALL, LARGE])
@async_test
async def test_no_cell_wraps(demo_db, size):
    app = make_app(demo_db)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        table = _table(app)
        assert all(table.get_row_height(k) == 1 for k in table.rows)
        for col in table.ordered_columns:
            for v in table.get_column(col.key):
                text = v.plain if hasattr(v, "plain") else str(v)
                assert "\n" not in text
                assert len(text) <= col.get_render_width(table) - 2 * table.cell_padding + 1


@async_test
async def test_the_preview_waits_until_the_cursor_rests(demo_db, monkeypatch):
    """Issue 15 (SSH bytes): a held arrow key does not redraw the two detail
    panels for every row it passes; each move restarts one timer and the
    panels show the row the cursor rests on, once."""
    import supervision_tui.ui.screens.caseload as caseload_module

    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await pilot.pause(0.3)
        screen = app.screen
        shown: list[str | None] = []
        real = screen._set_preview
        monkeypatch.setattr(screen, "_set_preview", lambda code: (shown.append(code), real(code)))
        monkeypatch.setattr(caseload_module, "PREVIEW_DELAY", 30.0)  # the cursor "moves" for as long as needed
        monkeypatch.setattr(caseload_module, "PREVIEW_DELAY_SSH", 30.0)
        for _ in range(5):
            await pilot.press("down")
        assert shown == []  # five rows passed, no panel redrawn
        screen._preview_timer.stop()
        screen._update_preview()  # what the one pending timer does when the cursor rests
        assert shown == [_table(app).current_code]
        assert str(screen.query_one("#preview-trend").border_title).startswith(f"{shown[0]} · ")


@async_test
async def test_a_cold_load_says_how_many_clients_are_in(demo_db, monkeypatch):
    """With no cached rows to show, the caseload screen counts the clients in
    as the loader's workers send them ("Loading the caseload… 7 of 18
    clients"), and the table replaces the count once the data are in."""
    import threading

    from supervision_tui.ui import loader

    real = loader.receive
    release = threading.Event()

    def slow(handle, cancelled=lambda: False, progress=None, each=None):
        progress(0, None)  # (nothing to say yet)
        progress(7, 18)
        release.wait(10)
        return real(handle, cancelled, progress, each)

    monkeypatch.setattr(loader, "receive", slow)
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        screen = app.screen
        assert isinstance(screen, CaseloadScreen)
        message = screen.query_one("#table-message", Static)
        for _ in range(100):
            await pilot.pause(0.02)
            if "7 of 18 clients" in str(message.render()):
                break
        assert str(message.render()) == "Loading the caseload… 7 of 18 clients"
        assert message.display and not screen.query_one(CaseloadTable).display
        release.set()
        await loaded(pilot)
        assert app.data is not None and not message.display and screen.query_one(CaseloadTable).display
        screen.show_load_progress(9, 18)  # (a late message changes nothing once the rows are up)
        assert not message.display


@async_test
async def test_the_first_frame_after_the_data_arrive_has_the_table_laid_out(demo_db, monkeypatch):
    """A cold start shows "Loading the caseload…" in place of the table; when
    the data arrive, the first frame painted already has the table laid out
    (it was painted with the table's box empty, the rows one frame later)."""
    from textual.screen import Screen

    heights: list[int] = []
    real = Screen._compositor_refresh

    def spy(self):
        if isinstance(self, CaseloadScreen) and self.app.data is not None:
            heights.append(self.query_one(CaseloadTable).region.height)
        return real(self)

    monkeypatch.setattr(Screen, "_compositor_refresh", spy)
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.pause()
        assert app.screen.query_one(CaseloadTable).row_count > 0
    assert heights and heights[0] > 0, heights


@async_test
async def test_a_count_that_arrives_before_the_caseload_screen_is_shown_once_it_mounts(demo_db, monkeypatch):
    """The load's first count can reach the app before its caseload screen is
    mounted: the app keeps the last count, and the screen shows it when it
    mounts while the load runs, not a bare "Loading the caseload…"."""
    import threading

    from supervision_tui.ui import loader
    from supervision_tui.ui.app import SupervisionApp
    from supervision_tui.ui.messages import LoadProgress

    real = loader.receive
    release = threading.Event()

    def held(handle, cancelled=lambda: False, progress=None, each=None):
        release.wait(10)
        return real(handle, cancelled, progress, each)

    real_reload = SupervisionApp.reload
    mounted_then = []

    def reload_and_count(self):
        real_reload(self)
        try:
            mounted_then.append(self.caseload_screen.is_mounted)
        except LookupError:
            mounted_then.append(False)
        self._load_progress(LoadProgress(7, 18))  # what the load thread's first count does

    monkeypatch.setattr(loader, "receive", held)
    monkeypatch.setattr(SupervisionApp, "reload", reload_and_count)
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert mounted_then == [False]  # a cold start begins loading before the caseload screen mounts
        screen = app.screen
        assert isinstance(screen, CaseloadScreen)
        assert str(screen.query_one("#table-message", Static).render()) == "Loading the caseload… 7 of 18 clients"
        release.set()
        await loaded(pilot)
        assert app.data is not None
