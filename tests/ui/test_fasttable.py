"""FastDataTable (ui/widgets/fasttable.py): a batch add leaves the table as
add_row does, and fixed widths from ``fixed_width`` are the widths DataTable
would have measured."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App

from supervision_tui.ui.widgets.fasttable import FastDataTable, fixed_width
from ui_support import async_test

CELLS = [[Text("1", justify="right"), Text("2026-01-05"), "yes", Text("38 / 40"), "—"],
         [Text("12", justify="right"), Text("2026-01-12"), "no-show", Text("—"), "client: withdrawal; x"],
         [Text("3", justify="right"), Text("2026-01-19"), "yes", Text("✓ 36.5"), "⚠"]]
LABELS = ["s", "date", "attended", "SRS c/t", "report"]


class Tables(App):
    def compose(self):
        for name in ("slow", "fast", "auto", "fixed"):
            yield FastDataTable(id=name)


@async_test
async def test_a_batch_add_leaves_the_table_as_add_row_does():
    app = Tables()
    async with app.run_test(size=(100, 40)) as pilot:
        slow, fast = app.query_one("#slow", FastDataTable), app.query_one("#fast", FastDataTable)
        for t in (slow, fast):
            t.add_columns(*LABELS)
        for i, cells in enumerate(CELLS):
            slow.add_row(*cells, key=f"r{i}")
        fast.add_rows_fast([(cells, f"r{i}") for i, cells in enumerate(CELLS)])
        await pilot.pause()
        def cells(t):  # (each table has its own column keys)
            return {k.value: [row[c.key] for c in t.ordered_columns] for k, row in t._data.items()}

        assert cells(fast) == cells(slow)
        assert list(fast.rows) == list(slow.rows)
        assert [(r.height, r.label, r.auto_height) for r in fast.rows.values()] == \
               [(r.height, r.label, r.auto_height) for r in slow.rows.values()]
        assert [fast._row_locations.get(k) for k in fast.rows] == [slow._row_locations.get(k) for k in slow.rows]
        assert fast.cursor_coordinate == slow.cursor_coordinate and fast.row_count == 3
        assert fast.virtual_size == slow.virtual_size


@async_test
async def test_fixed_widths_are_the_measured_ones():
    app = Tables()
    async with app.run_test(size=(100, 40)) as pilot:
        auto, fixed = app.query_one("#auto", FastDataTable), app.query_one("#fixed", FastDataTable)
        auto.add_columns(*LABELS)
        for i, label in enumerate(LABELS):
            fixed.add_column(label, width=fixed_width(label, (cells[i] for cells in CELLS)))
        for i, cells in enumerate(CELLS):
            auto.add_row(*cells, key=f"r{i}")
        fixed.add_rows_fast([(cells, f"r{i}") for i, cells in enumerate(CELLS)])
        await pilot.pause()
        assert [c.get_render_width(auto) for c in auto.columns.values()] == \
               [c.get_render_width(fixed) for c in fixed.columns.values()]
        assert auto.virtual_size == fixed.virtual_size
        assert not any(c.auto_width for c in fixed.columns.values())


def _both_ways(table, row: int, col: int, width: int, cursor: bool, hover: bool):
    """The fast path's segments and DataTable's own for one cell (the
    render cache emptied first, so DataTable really renders it)."""
    from rich.style import Style
    from textual.widgets import DataTable

    base = Style(color="#e0e0e0", bgcolor="#202020")
    row_key = table._row_locations.get_key(row)
    fast = table._render_text_cell(row, col, row_key, base, width, cursor, hover)
    table._cell_render_cache.clear()
    slow = DataTable._render_cell(table, row, col, base, width, cursor, hover)
    table._cell_render_cache.clear()
    return fast, slow


@async_test
async def test_the_fast_cell_rendering_gives_datatable_s_segments(tmp_path, monkeypatch):
    """Every cell of the real caseload table (the demo, every row and
    column, with and without the cursor and hover) and of a client's
    sessions table: where the fast path renders a cell, its segments equal
    DataTable's; it renders most of them (one-line Text that fits)."""
    import shutil
    from pathlib import Path

    from supervision_tui.ui.screens.client import ClientScreen
    from supervision_tui.ui.widgets.caseload_table import CaseloadTable
    from supervision_tui.ui.widgets.panels import SessionsTable
    from ui_support import LARGE, loaded, make_app

    monkeypatch.setenv("SUPERVISION_TUI_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "demo.json"
    shutil.copy(Path(__file__).resolve().parents[2] / "data" / "demo_caseload.json", db)
    for theme in ("textual-dark", "clinic-light"):
        app = make_app(db, as_of=None, read_only=True, theme=theme)
        async with app.run_test(size=LARGE) as pilot:
            await loaded(pilot)
            tables = [app.screen.query_one(CaseloadTable)]
            app.show_client(app.data.analyses[0].client)
            await pilot.pause()
            await pilot.pause()
            assert isinstance(app.screen, ClientScreen)
            tables.append(app.screen.query_one(SessionsTable))
            fast_cells = slow_only = 0
            for table in tables:
                widths = [c.get_render_width(table) for c in table.ordered_columns]
                assert table.row_count > 5
                for row in range(table.row_count):
                    for col, width in enumerate(widths):
                        for cursor, hover in ((False, False), (True, False), (False, True)):
                            fast, slow = _both_ways(table, row, col, width, cursor, hover)
                            if fast is None:
                                slow_only += 1
                                continue
                            fast_cells += 1
                            assert fast == slow, (type(table).__name__, row, col, cursor, hover)
            assert fast_cells > 10 * slow_only, (fast_cells, slow_only)  # (right- and centre-justified too)


#: Cells at the edges of what the fast path takes (it must give DataTable's segments or leave the
#: cell to DataTable): justification, overflow, wrapping, wide and combining characters, a
#: variation selector split across spans, styles as strings, meta and links, empty text
EDGE_CELLS = {
    "plain": Text("abc"),
    "empty": Text(""),
    "empty styled": Text("", style="on red"),
    "trailing spaces": Text("ab  ", style="on red"),
    "right": Text("ab", justify="right", style="on blue"),
    "centre, trailing": Text("ab  ", justify="center", style="on blue"),
    "left": Text("ab", justify="left", style="on blue"),
    "full": Text("a b", justify="full"),
    "ignore, right": Text("ab", justify="right", overflow="ignore", style="on red"),
    "ignore, left": Text("ab", justify="left", overflow="ignore", style="on red"),
    "wraps, combining": Text("e\u0301e\u0301e\u0301  ", no_wrap=False, style="on red"),
    "wraps": Text("ab ", no_wrap=False, style="on red"),
    "wide": Text("漢字", style="bold"),
    "emoji": Text("⚠\ufe0f!", style="bold"),
    "selector split": Text.assemble(("⚠", "red"), ("\ufe0f", "blue"), "x"),
    "zwj": Text("👩\u200d💻", style="bold"),
    "string style": Text("xy", style="bold red"),
    "meta, link": Text.assemble(("click", Style(meta={"@click": "foo"})), ("link", Style(link="http://x"))),
    "ellipsis": Text("abcd", overflow="ellipsis"),
    "crop, right": Text("abcd", overflow="crop", justify="right"),
    "too wide": Text("abcdefgh"),
}


class EdgeTable(App):
    def compose(self):
        yield FastDataTable(id="edge")


@async_test
async def test_the_fast_cell_rendering_at_its_edges():
    """Through ``_render_cell`` itself (DataTable's cache key; a second call
    returns the cached value), for every edge cell in six table
    configurations, with and without the cursor and hover: DataTable's own
    segments, or DataTable renders the cell."""
    from textual.widgets import DataTable

    configs = [{}, {"cell_padding": 0}, {"cell_padding": 3}, {"show_cursor": False},
               {"cursor_foreground_priority": "renderable", "cursor_background_priority": "renderable"},
               {"fixed_rows": 1, "fixed_columns": 3}]
    app = EdgeTable()
    async with app.run_test(size=(200, 20)) as pilot:
        fast_taken = 0
        for config in configs:
            table = app.query_one(FastDataTable)
            table.clear(columns=True)
            for k, v in config.items():
                setattr(table, k, v)
            for name in EDGE_CELLS:
                table.add_column(name, width=6)
            for key in ("a", "b"):
                table.add_row(*[c.copy() for c in EDGE_CELLS.values()], key=key)
            await pilot.pause()
            base = Style(color="#e0e0e0", bgcolor="#202020")
            widths = [c.get_render_width(table) for c in table.ordered_columns]
            for row in range(table.row_count):
                for col, width in enumerate(widths):
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        table._cell_render_cache.clear()
                        taken = table._render_text_cell(row, col, table._row_locations.get_key(row), base, width,
                                                        cursor, hover) is not None
                        fast_taken += taken
                        table._cell_render_cache.clear()
                        got = table._render_cell(row, col, base, width, cursor, hover)
                        assert table._render_cell(row, col, base, width, cursor, hover) is got  # (cached)
                        table._cell_render_cache.clear()
                        want = DataTable._render_cell(table, row, col, base, width, cursor, hover)
                        assert got == want, (config, list(EDGE_CELLS)[col], cursor, hover)
            await table.remove()
            await app.mount(FastDataTable(id="edge"))
        assert fast_taken > len(configs) * 2 * 3 * 10  # (most edge cells are the fast path's)
