"""A status set to its own value is not an audit entry (issue 15)."""

from __future__ import annotations

from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.demo import write_demo
from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore


def test_re_setting_the_same_status_is_not_logged(tmp_path):
    db = tmp_path / "demo.json"
    write_demo(db)
    run = CliRunner().invoke
    assert run(cli, ["review", str(db), "C-0119", "--kind", "rupture", "--status", "discussed"]).exit_code == 0
    store = ReviewStore(Database(db, read_only=True))
    first = store.audit_entries() if hasattr(store, "audit_entries") else store._audit_entries()
    sidecar = sorted(p.name for p in tmp_path.iterdir())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and "lock" not in p.name}
    assert run(cli, ["review", str(db), "C-0119", "--kind", "rupture", "--status", "discussed"]).exit_code == 0
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and "lock" not in p.name}
    store = ReviewStore(Database(db, read_only=True))
    again = store.audit_entries() if hasattr(store, "audit_entries") else store._audit_entries()
    assert len(again) == len(first) == 1  # no "discussed → discussed"
    assert after == before and sorted(p.name for p in tmp_path.iterdir()) == sidecar  # nothing written
    # a real change is logged
    assert run(cli, ["review", str(db), "C-0119", "--kind", "rupture", "--status", "resolved"]).exit_code == 0
    store = ReviewStore(Database(db, read_only=True))
    assert len(store.audit_entries() if hasattr(store, "audit_entries") else store._audit_entries()) == 2
