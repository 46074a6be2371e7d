"""80×24 (issue 15): the supervisees overview keeps the clinician column
and pages through the others; the audit trail keeps "Flag / item"."""

from __future__ import annotations

from supervision_tui.ui.screens.clinicians import CliniciansTable
from ui_support import SMALL, async_test, loaded, make_app


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause(0.2)
    await pilot.pause()


@async_test
async def test_the_overview_keeps_the_clinician_column_and_pages(demo_db):
    app = make_app(demo_db, theme="clinic-dark")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("o")
        await _settle(pilot)
        table = app.screen.query_one(CliniciansTable)
        assert table.fixed_columns == 1
        widths = [c.get_render_width(table) for c in table.ordered_columns]
        assert sum(widths) > table.scrollable_content_region.width  # it does not fit at 80 columns
        assert table.scroll_x == 0
        await pilot.press("right")
        await _settle(pilot)
        first = table.scroll_x
        assert first >= 10  # a page, not one character
        edges = [sum(widths[1:i]) for i in range(1, len(widths))]
        assert first in edges or first == table.max_scroll_x  # on a column edge (or the very end)
        await pilot.press("right")
        await _settle(pilot)
        assert table.scroll_x == table.max_scroll_x  # the last columns reached
        await pilot.press("left", "left")
        await _settle(pilot)
        assert table.scroll_x == 0


@async_test
async def test_the_audit_trail_keeps_the_flag_column_at_80_columns(tmp_path):
    from click.testing import CliRunner

    from supervision_tui.cli import cli
    from supervision_tui.demo import write_demo
    from ui_support import table_column

    db = tmp_path / "demo.json"
    write_demo(db)
    for kind in ("--kind rupture", "--kind goal", ""):
        args = ["review", str(db), "C-0119", *kind.split(), "--status", "discussed"]
        assert CliRunner().invoke(cli, args).exit_code == 0
    app = make_app(db, theme="clinic-dark")
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("u")
        await _settle(pilot)
        table = app.screen.query_one("#audit-table")
        keys = [c.key.value for c in table.ordered_columns]
        assert "target" in keys
        targets = table_column(table, "target")
        assert len(set(targets)) == 3  # three entries of one client, told apart
        assert sum(c.get_render_width(table) for c in table.ordered_columns) <= table.size.width  # all on screen
