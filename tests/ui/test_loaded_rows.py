"""The caseload table's rows built in the load thread while the clients
arrive (``app._load_from_processes``): each client first arrives analysed
by the per-client rules and is judged against the clinic reference once
every client is in (issue #14). The rows the table shows must be those of
the final analyses: a not-on-track client's row reads its tier-2 reason,
never the row built before the reference existed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from ui_support import LARGE, async_test, loaded, make_app, table_column

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo_caseload.json"


@pytest.fixture
def demo_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISION_TUI_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "demo.json"
    shutil.copy(DEMO, path)
    return path


@async_test
async def test_rows_are_built_from_the_final_analyses(demo_copy):
    for start in ("cold", "from the analysis cache"):
        app = make_app(demo_copy, as_of=None, read_only=True)
        async with app.run_test(size=LARGE) as pilot:
            await loaded(pilot)
            screen = app.screen
            assert isinstance(screen, CaseloadScreen)
            data = app.data
            rows = {r.code: r for r in screen.all_rows}
            assert set(rows) == {a.client for a in data.analyses}
            off_track = [a for a in data.analyses if any(f.status == "not_on_track" for f in a.flags)]
            assert off_track, "the demo has clients not on track"
            for a in data.analyses:
                row = rows[a.client]
                assert row.analysis is a, (start, a.client)  # (the final analysis: tracks, flags)
                assert (row.tier, row.why) == (a.tier, a.why), (start, a.client)
            led = [a for a in off_track if a.tier == 2 and a.reason == "outcome not on track"]
            assert led, "a demo client's row is led by not on track"
            for a in led:
                assert "reach" in rows[a.client].why  # "not on track: ORS 15.1 at s12; 9 in 10 reach ≥ 18.3"
            shown = dict(zip(table_column(screen.query_one(CaseloadTable), "client"),
                             table_column(screen.query_one(CaseloadTable), "why")))
            for a in off_track:
                if a.client in shown and a.tier == 2:
                    assert shown[a.client].rstrip("…")[:12] == a.why[:12]
        assert app.data is not None


def test_the_load_freezes_its_objects_before_the_collector_is_back(demo_copy, monkeypatch):
    """The load runs with the cyclic collector off; every object it made is
    in the collector's youngest generation until frozen, and the first
    collection after the pause would walk them all on whichever thread
    allocates next: at 5 000 clients 0.1 s with the interpreter lock held,
    the screen frozen just as the table is first filled. ``load_data``
    therefore freezes them before the collector is back on."""
    import gc

    app = make_app(demo_copy, as_of=None, read_only=True)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.unfreeze()
    before = gc.get_freeze_count()
    real_freeze = gc.freeze
    enabled_at_freeze = []
    monkeypatch.setattr(gc, "freeze", lambda: (enabled_at_freeze.append(gc.isenabled()), real_freeze())[1])
    try:
        data = app.load_data()
        assert enabled_at_freeze == [False]  # frozen while the collector is still off
        assert data is not None and len(data.analyses) > 60
        frozen = gc.get_freeze_count() - before
        assert frozen > 20 * len(data.analyses)  # the analyses' objects (tens per client) are frozen
        assert gc.get_count()[0] < gc.get_threshold()[0]  # (nothing young piled up: no big first collection)
        assert gc.isenabled() == was_enabled
    finally:
        gc.unfreeze()
