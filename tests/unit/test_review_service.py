"""The review workflow as a service without UI (``service.reviews``): its
dependencies are explicit, refusals and failures are results, not
notifications, and the dashboard is not needed to use it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from supervision_tui.demo import scenario_clients, write_demo
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.service.reviews import READ_ONLY_MESSAGE, Notice, ReviewService, entry_client
from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("svc") / "demo.json"
    write_demo(path, seed=2026, n_clients=18)
    return path


@pytest.fixture
def db(demo, tmp_path):
    path = tmp_path / "clinic.json"
    path.write_bytes(demo.read_bytes())
    return path


def _analyses(db):
    caseload = Database(db, read_only=True).load()
    return caseload, analyse_caseload(caseload, as_of=AS_OF)


def test_a_write_returns_its_value_and_the_clients_it_touched(db):
    caseload, analyses = _analyses(db)
    risk = next(a for a in analyses if a.tier == 1)
    svc = ReviewService(db)
    assert svc.start() is None
    assert svc.status_text(risk) == "• new"
    outcome = svc.mark_client(risk, "discussed")
    assert outcome.notice is None and outcome.value == len(risk.flags)
    assert outcome.touched == frozenset({risk.client})
    assert svc.status_text(risk) == "✓ discussed"
    assert svc.marked_together(risk) == tuple(f.identity for f in risk.flags)
    # the store on disk has it: another service (another process) reads it
    assert ReviewService(db).state(risk).status == "discussed"


def test_read_only_refuses_every_write_and_touches_nothing(db):
    _caseload, analyses = _analyses(db)
    before = sorted(os.listdir(db.parent))
    svc = ReviewService(db, read_only=True)
    assert svc.start() is None
    a = analyses[0]
    for outcome in (svc.mark_client(a), svc.set_review(a, None, "dismissed", "note"),
                    svc.add_action(a.client, "call", None, None)):
        assert outcome.value is None and outcome.touched == frozenset()
        assert outcome.notice == Notice(READ_ONLY_MESSAGE, "warning", 4)
    assert svc.refusal() == Notice(READ_ONLY_MESSAGE, "warning", 4)
    assert not svc.poll().changed
    assert sorted(os.listdir(db.parent)) == before


def test_without_a_database_file_reviews_are_refused_with_a_reason():
    svc = ReviewService(None)
    assert svc.store is None and svc.start() is None
    assert svc.refusal() == Notice("Reviews need a database file", "warning")
    assert svc.audit_entries() == [] and svc.open_actions() == []


def test_poll_reports_another_writer_and_a_changed_database(db):
    _caseload, analyses = _analyses(db)
    mine, theirs = ReviewService(db), ReviewService(db)
    mine.start()
    theirs.start()
    assert not mine.poll().changed
    theirs.mark_client(analyses[0])
    result = mine.poll()
    assert result.reviews_changed and not result.database_changed
    assert not mine.poll().changed  # once
    os.utime(db, ns=(1, 1))
    assert mine.poll().database_changed


def test_a_damaged_workflow_file_is_a_notice_then_a_refusal(db):
    svc = ReviewService(db)
    Database(db).sidecar_path.write_text("{ not json", encoding="utf-8")
    notice = svc.start()
    assert notice is not None and notice.severity == "error" and notice.message.startswith("Reviews unavailable:")
    assert svc.status_text(_analyses(db)[1][0]) == "?"
    assert svc.refusal().severity == "error"


def test_scope_filters_the_audit_to_the_loaded_clients_and_names_exports(db, tmp_path):
    caseload, analyses = _analyses(db)
    t02 = [a for a in analyses if a.clinician == "T02"]
    other = next(a for a in analyses if a.clinician != "T02")
    store = ReviewStore(Database(db))
    store.set_client_review(t02[0].client, "discussed")
    store.set_client_review(other.client, "discussed")
    svc = ReviewService(db, scope="T02")
    entries = svc.audit_entries(loaded=[a.client for a in t02])
    assert {entry_client(e) for e in entries} == {t02[0].client}
    assert svc.audit_entries(loaded=None) == []  # nothing loaded: nothing listed
    path = svc.export_audit(directory=tmp_path / "out", loaded=[a.client for a in t02], day=AS_OF)
    assert path.name == "audit-clinic-2026-11-20-T02.csv" and oct(path.stat().st_mode & 0o777) == "0o600"
    assert other.client not in path.read_text(encoding="utf-8")
    agenda = svc.build_agenda(caseload, t02, AS_OF)
    assert agenda.clinician == "T02"
    md, html = svc.export_agenda(agenda, directory=tmp_path / "out")
    assert (md.name, html.name) == ("agenda-clinic-2026-11-20-T02.md", "agenda-clinic-2026-11-20-T02.html")


def test_the_service_works_without_textual(db):
    code = (
        "import sys\n"
        "from supervision_tui.service.reviews import ReviewService\n"
        f"svc = ReviewService({str(db)!r})\n"
        "assert svc.start() is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'plotext')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scenario_codes_are_what_the_demo_says(demo):
    """(A guard for the fixtures above: the demo's risk client is tier 1.)"""
    _caseload, analyses = _analyses(demo)
    assert next(a for a in analyses if a.tier == 1).client == scenario_clients(2026, 18)["risk"]
