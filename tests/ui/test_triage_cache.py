"""The private triage cache (store/triage_cache.py) and the app's use of it:
the cached rows are shown only while they are valid, and the loaded data
always replace them."""

from __future__ import annotations

import json
import os
import threading
from datetime import date

from supervision_tui import paths
from supervision_tui.settings import Settings
from supervision_tui.store import triage_cache as tc
from supervision_tui.store.database import Database
from supervision_tui.ui.app import SupervisionApp
from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from ui_support import LARGE, async_test, loaded, make_app, table_column

ROW = {"code": "C-0001", "clinician": "T01", "status": "active", "tier": 3, "why": "open since s4 (drop)",
       "alliance_text": "SRS 31", "alliance_index": 0.775, "spark": "▇▇▆▅", "goal": "agreed",
       "outcome": "ORS +", "sessions": 12, "last_date": date(2026, 11, 2), "review": "• new",
       "kinds": ["review", "tier3"]}
HEADER = {"name": "demo caseload", "clinicians": ["T01", "T02"], "latest_date": "2026-11-02"}


def _db(tmp_path):
    path = tmp_path / "caseload.json"
    path.write_text('{"meta": {"1": {"schema_version": 1}}}', "utf-8")
    return path


def test_a_valid_cache_is_read_back(tmp_path):
    db = _db(tmp_path)
    key = tc.cache_key(db, Settings())
    path = tc.write_cache(key, HEADER, [ROW, dict(ROW, code="C-0002", last_date=None, alliance_index=None)])
    assert path is not None and path.parent == paths.cache_dir()
    got = tc.read_cache(tc.cache_key(db, Settings()))
    assert got is not None
    assert got.header == HEADER
    assert got.rows[0] == ROW
    assert got.rows[1]["code"] == "C-0002" and got.rows[1]["last_date"] is None


def test_cache_file_and_folder_are_owner_only_and_never_next_to_the_database(tmp_path):
    db = _db(tmp_path)
    path = tc.write_cache(tc.cache_key(db, Settings()), HEADER, [ROW])
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["caseload.json"]


def test_a_changed_database_makes_the_cache_stale_a_changed_workflow_file_only_its_reviews(tmp_path):
    db = _db(tmp_path)
    tc.write_cache(tc.cache_key(db, Settings()), HEADER, [ROW])
    got = tc.read_cache(tc.cache_key(db, Settings()))
    assert got is not None and got.reviews_current and got.rows[0]["review"] == "• new"
    tc.sidecar_of(db).write_text("{}", "utf-8")  # a review was saved (here or by another reviewer)
    got = tc.read_cache(tc.cache_key(db, Settings()))
    assert got is not None and not got.reviews_current  # still the first screen, never a cold start ...
    assert got.rows[0]["review"] == tc.REVIEW_PENDING  # ... but no review status that may be out of date
    assert {k: v for k, v in got.rows[0].items() if k != "review"} == {k: v for k, v in ROW.items() if k != "review"}
    tc.write_cache(tc.cache_key(db, Settings()), HEADER, [ROW])
    assert tc.read_cache(tc.cache_key(db, Settings())).reviews_current
    db.write_text('{"meta": {"1": {"schema_version": 1, "name": "x"}}}', "utf-8")  # touched
    assert tc.read_cache(tc.cache_key(db, Settings())) is None
    db.unlink()
    assert tc.read_cache(tc.cache_key(db, Settings())) is None


def test_other_settings_date_scope_or_version_do_not_use_the_cache(tmp_path):
    from dataclasses import replace

    db = _db(tmp_path)
    settings = Settings()
    tc.write_cache(tc.cache_key(db, settings), HEADER, [ROW])
    assert tc.read_cache(tc.cache_key(db, None)) is not None  # None = the defaults
    stricter = replace(settings, risk=replace(settings.risk, expire_days=5))
    assert tc.read_cache(tc.cache_key(db, stricter)) is None
    assert tc.read_cache(tc.cache_key(db, replace(settings, keys={"quit": "x"}))) is not None  # keys: no effect
    assert tc.read_cache(tc.cache_key(db, settings, as_of=date(2026, 1, 1))) is None
    assert tc.read_cache(tc.cache_key(db, settings, clinician="T01")) is None
    assert tc.read_cache(replace(tc.cache_key(db, settings), version=tc.CACHE_VERSION + 1)) is None
    assert tc.read_cache(replace(tc.cache_key(db, settings), program="0.0.0")) is None


def test_a_damaged_cache_is_ignored(tmp_path):
    db = _db(tmp_path)
    key = tc.cache_key(db, Settings())
    path = tc.write_cache(key, HEADER, [ROW])
    good = json.loads(path.read_bytes())

    def bad(mutate):
        doc = json.loads(json.dumps(good))
        mutate(doc)
        return json.dumps(doc).encode()

    cases = [
        b"", b"\x00\xff garbage", b"[]", b'{"key": 1}', path.read_bytes()[:-20],
        bad(lambda d: d.pop("rows")),
        bad(lambda d: d["rows"][0].pop()),  # a cell missing
        bad(lambda d: d["rows"][0].__setitem__(3, "3")),  # tier as text
        bad(lambda d: d["rows"][0].__setitem__(11, "not a date")),
        bad(lambda d: d["rows"][0].__setitem__(13, [1])),
        bad(lambda d: d["header"].__setitem__("clinicians", "T01")),
        bad(lambda d: d.__setitem__("rows", {"a": 1})),
    ]
    for content in cases:
        path.write_bytes(content)
        assert tc.read_cache(key) is None, content[:60]


def test_unwritable_cache_folder_is_not_an_error(tmp_path, monkeypatch):
    db = _db(tmp_path)
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(paths.CACHE_DIR_ENV, str(tmp_path / "file" / "cache"))
    assert tc.write_cache(tc.cache_key(db, Settings()), HEADER, [ROW]) is None
    assert tc.read_cache(tc.cache_key(db, Settings())) is None


def test_sidecar_rule_is_the_database_s():
    from pathlib import Path

    db = Path("/x/y/caseload.json")
    assert tc.sidecar_of(db) == Database(db, read_only=True).sidecar_path


# --- in the app ---------------------------------------------------------------------------------


def _cache_files():
    folder = paths.cache_dir()
    return sorted(folder.glob("triage-*.json")) if folder.exists() else []


async def _first_app_run(db):
    """Open the app once (writes the cache), return its table's clients."""
    app = make_app(db, read_only=True)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await app.workers.wait_for_complete()
        codes = table_column(app.screen.query_one(CaseloadTable), "client")
    return codes


def _blocked_load(monkeypatch):
    """Hold every load until the returned event is set."""
    release = threading.Event()
    real = SupervisionApp.load_data

    def load_data(self):
        release.wait(10)
        return real(self)

    monkeypatch.setattr(SupervisionApp, "load_data", load_data)
    return release


@async_test
async def test_cached_rows_come_first_then_the_loaded_data_replace_them(demo_db, monkeypatch):
    codes = await _first_app_run(demo_db)
    files = _cache_files()
    assert len(files) == 1
    text = files[0].read_text("utf-8")
    assert "description" not in text  # no free text in the cache
    # make the cached Why of the third client differ from what the engine says
    doc = json.loads(text)
    doc["rows"][2][4] = "cached why"
    files[0].write_text(json.dumps(doc), "utf-8")

    release = _blocked_load(monkeypatch)
    app = make_app(demo_db, read_only=True)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(CaseloadTable)
        assert app.data is None
        assert table_column(table, "client") == codes  # painted from the cache
        assert table_column(table, "why")[2] == "cached why"
        assert all(r.analysis is None for r in table.rows_shown)
        await pilot.press("down", "down", "down")
        chosen = table.current_code
        release.set()
        await loaded(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.data is not None
        assert table_column(table, "client") == codes
        assert table_column(table, "why")[2] != "cached why"  # the real data replaced it
        assert all(r.analysis is not None for r in table.rows_shown)
        assert table.current_code == chosen  # the cursor stayed on its client
    # and the cache now holds the real row again
    assert "cached why" not in _cache_files()[0].read_text("utf-8")


@async_test
async def test_a_stale_cache_is_never_shown(demo_db, monkeypatch):
    await _first_app_run(demo_db)
    (cache,) = _cache_files()
    doc = json.loads(cache.read_text("utf-8"))
    doc["key"]["db_file"][1] += 1  # as if the database had another size
    doc["rows"][0][4] = "stale why"
    cache.write_text(json.dumps(doc), "utf-8")
    release = _blocked_load(monkeypatch)
    app = make_app(demo_db, read_only=True)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        assert app.cached_table is None
        assert app.screen.query_one(CaseloadTable).row_count == 0  # "Loading the caseload…"
        release.set()
        await loaded(pilot)
        assert "stale why" not in table_column(app.screen.query_one(CaseloadTable), "why")


@async_test
async def test_opening_a_client_while_loading_waits_for_the_data(demo_db, monkeypatch):
    codes = await _first_app_run(demo_db)
    release = _blocked_load(monkeypatch)
    app = make_app(demo_db, read_only=True)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, ClientScreen)
        release.set()
        await loaded(pilot)
        await pilot.pause()
        assert isinstance(app.screen, ClientScreen) and app.screen.code == codes[1]


@async_test
async def test_read_only_writes_the_cache_only_in_the_private_folder(demo_db):
    before = sorted(p.name for p in demo_db.parent.iterdir())
    await _first_app_run(demo_db)
    assert sorted(p.name for p in demo_db.parent.iterdir()) == before
    assert len(_cache_files()) == 1


def test_an_instrument_registered_again_with_another_cut_off_changes_the_key():
    """Reviewer finding: the settings fingerprint named only the registered
    ids, so an instrument registered again under its id with another cut-off
    kept stale cached rows and analyses."""
    from dataclasses import replace as dc_replace

    from supervision_tui import instruments
    from supervision_tui.store.triage_cache import settings_fingerprint

    before = settings_fingerprint(None)
    srs = instruments.REGISTRY["SRS"]
    try:
        instruments.register(dc_replace(srs, cutoff=dc_replace(srs.cutoff, value=35)), replace=True)
        assert settings_fingerprint(None) != before
    finally:
        instruments.register(srs, replace=True)
    assert settings_fingerprint(None) == before
