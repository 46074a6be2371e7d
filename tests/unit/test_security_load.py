"""Issue 13: what is read is validated like what is imported, and no error
prints private text. Damaged databases (NaN, out-of-range scores,
duplicate rows) and damaged workflow entries give a clear error naming the
file and the entry; `review` never rewrites a damaged workflow file; a crash
exits non-zero and shows no local variables."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import DatabaseError
from supervision_tui.model import Caseload, Client, Goal, Rating
from supervision_tui.store.database import Database
from supervision_tui.store import reviews as reviews_module
from supervision_tui.store.reviews import ReviewStore

from v1_helpers import write_v1

ROOT = Path(__file__).resolve().parents[2]
NOTE = "NOTE-5e2a private words"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_db(tmp_path: Path, fmt: int = 2) -> Database:
    """The caseload as the product writes it (format 2), or as a format-1
    file (``fmt=1``: the tests that edit its one-document-per-row tables;
    tests/unit/test_format_v2.py has the same damage in format 2)."""
    cl = Caseload(
        clients={"C-1": Client("C-1", "T1"), "C-2": Client("C-2", "T1")},
        ratings=[Rating(c, "T1", n, date(2026, 1, 5 + 7 * (n - 1)), instrument="SRS", total=38.0, goal=9.0)
                 for c in ("C-1", "C-2") for n in (1, 2, 3)]
        + [Rating("C-1", "T1", 3, date(2026, 1, 19), instrument="PHQ-9", total=12.0)],
        goals=[Goal("C-1", "G1", NOTE, 1, "agreed")],
        name="unit",
    )
    if fmt == 1:
        write_v1(tmp_path / "db.json", cl)
        return Database(tmp_path / "db.json")
    db = Database(tmp_path / "db.json")
    db.replace_caseload(cl)
    return db


def edit_measure(db: Database, change) -> None:
    """Apply ``change(doc)`` to the SRS session-2 document of C-1, in the raw file."""
    text = db.path.read_text(encoding="utf-8")
    data = json.loads(text)
    for doc in data["measures"].values():
        if doc["client"] == "C-1" and doc["session"] == 2 and doc.get("instrument") == "SRS":
            change(doc)
    db.path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")


# --- values in the database --------------------------------------------------------------------


@pytest.mark.parametrize("field,value,problem", [
    ("total", float("nan"), "must be a finite number"),
    ("total", float("inf"), "must be a finite number"),
    ("total", float("-inf"), "must be a finite number"),
    ("total", 41, "must be within 0-40 for SRS"),
    ("total", -1, "must be within 0-40 for SRS"),
    ("total", 1e308, "must be within 0-40 for SRS"),
    ("goal", 11, "must be within 0-10 for SRS"),
    ("goal", float("nan"), "must be a finite number"),
    ("task", 5, "is not a score of SRS"),
])
def test_bad_scores_in_a_database_are_refused_on_load(tmp_path, field, value, problem):
    db = make_db(tmp_path, fmt=1)
    edit_measure(db, lambda d: d.__setitem__(field, value))
    before = sha(db.path)
    with pytest.raises(DatabaseError) as info:
        Database(db.path, read_only=True).load()
    msg = str(info.value)
    assert msg.startswith(f"{db.path}: cannot read the database: not a valid supervision-tui database: "
                          f'table "measures", document ')
    assert f"'{field}' {problem}" in msg
    runner = CliRunner()
    for args in (["summary", str(db.path)], ["flags", str(db.path)], ["agenda", str(db.path)],
                 ["export", str(db.path), str(tmp_path / "out")], ["audit", str(db.path)]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 1, (args, res.output)
        assert isinstance(res.exception, SystemExit), (args, res.exception)
        assert "Traceback" not in res.output and msg in res.output
    assert sha(db.path) == before


def test_whole_number_scores_and_scores_without_an_instrument(tmp_path):
    db = make_db(tmp_path, fmt=1)
    text = db.path.read_text(encoding="utf-8")
    data = json.loads(text)
    phq = next(d for d in data["measures"].values() if d.get("instrument") == "PHQ-9")
    phq["total"] = 12.5
    db.path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DatabaseError, match=r"'total' must be a whole number for PHQ-9"):
        Database(db.path).load()
    phq["total"] = 12
    data["measures"]["99"] = {"client": "C-2", "clinician": "T1", "session": 4, "date": "2026-01-26",
                              "attendance": "no_show", "total": 3}
    db.path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DatabaseError, match=r'document 99: .total. needs an instrument'):
        Database(db.path).load()


def test_duplicate_rows_in_a_database_are_an_error_naming_them(tmp_path):
    db = make_db(tmp_path, fmt=1)
    data = json.loads(db.path.read_text(encoding="utf-8"))
    ids = [k for k, d in data["measures"].items() if d["client"] == "C-2" and d["session"] == 2]
    (first,) = ids
    data["measures"]["77"] = dict(data["measures"][first], total=20)
    db.path.write_text(json.dumps(data), encoding="utf-8")
    before = sha(db.path)
    with pytest.raises(DatabaseError) as info:
        Database(db.path).load()
    assert str(info.value) == (
        f"{db.path}: cannot read the database: not a valid supervision-tui database: table \"measures\", "
        f"documents {first} and 77: the same client, session, instrument and rater (C-2 session 2 SRS client). "
        "The file was not changed.")
    # the next import does not silently keep one of them
    m = tmp_path / "m.csv"
    m.write_text("client,clinician,session,date,instrument,total\nC-9,T1,1,2026-01-05,SRS,30\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["import", str(db.path), str(m)])
    assert res.exit_code == 1 and "documents" in res.output
    assert sha(db.path) == before


@pytest.mark.parametrize("table,field,value", [
    ("clients", "code", "-C1"), ("clinicians", "id", "-T1"), ("measures", "client", "C 1"),
    ("goals", "goal_id", "G\x1b1"),
])
def test_codes_in_a_database_must_be_identifiers(tmp_path, table, field, value):
    db = make_db(tmp_path, fmt=1)
    data = json.loads(db.path.read_text(encoding="utf-8"))
    next(iter(data[table].values()))[field] = value
    db.path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DatabaseError, match=f"'{field}' must be a code of 1-32 characters") as info:
        Database(db.path).load()
    assert "\x1b" not in str(info.value)


# --- the workflow file --------------------------------------------------------------------------


def workflow(db: Database) -> dict:
    store = ReviewStore(db, user="sup")
    store.set_client_review("C-1", "discussed", note=NOTE)
    store.add_action("C-1", NOTE, owner="T1", due="2026-03-01")
    return json.loads(db.sidecar_path.read_text(encoding="utf-8"))


def first_action(doc: dict) -> dict:
    return next(iter(doc["actions"].values()))


DAMAGE = [
    # (what to do, the entry named in the error)
    (lambda d: d["reviews"]["C-1|client||"].update(status="bogus"), "review 'C-1|client||'"),
    (lambda d: d["reviews"]["C-1|client||"].update(status=NOTE), "review 'C-1|client||'"),
    (lambda d: d["reviews"]["C-1|client||"].update(note=[NOTE]), "review 'C-1|client||'"),
    (lambda d: d["reviews"]["C-1|client||"].update(note=17), "review 'C-1|client||'"),
    (lambda d: d["reviews"]["C-1|client||"].update(flag_session="x"), "review 'C-1|client||'"),
    (lambda d: d["reviews"]["C-1|client||"].update(by={"n": NOTE}), "review 'C-1|client||'"),
    (lambda d: d["reviews"].update({NOTE: {"status": "discussed"}}), "review number 2"),
    (lambda d: d["reviews"].update({"C-1|rupture|x|SRS": {"status": "discussed"}}), "review 'C-1|rupture|x|SRS'"),
    (lambda d: d["reviews"].update({"C-1|client||": NOTE}), "review 'C-1|client||'"),
    (lambda d: first_action(d).update(due=NOTE), "action item"),
    (lambda d: first_action(d).update(due="2026-02-30"), "action item"),
    (lambda d: first_action(d).pop("client"), "action item"),
    (lambda d: first_action(d).update(text=None), "action item"),
    (lambda d: first_action(d).update(done="yes"), "action item"),
    (lambda d: first_action(d).update(owner=NOTE), "action item"),
    (lambda d: first_action(d).update(n="7"), "action item"),
    (lambda d: d["actions"].update({NOTE: dict(first_action(d))}), "action item number 2"),
    (lambda d: d["audit"][0].update(seq="x"), "audit entry 1"),
    (lambda d: d["audit"][0].pop("target"), "audit entry 1"),
    (lambda d: d["audit"][0].update(before=NOTE), "audit entry 1"),
    (lambda d: d["audit"][1].update(user=None), "audit entry 2"),
    (lambda d: d["audit"].append(NOTE), "audit entry 3"),
    (lambda d: d.update(seq=NOTE), "'seq'"),
    (lambda d: d.update(action_n=-1), "'action_n'"),
]


@pytest.mark.parametrize("damage,entry", DAMAGE)
def test_a_damaged_workflow_entry_is_a_clear_error_without_private_text(tmp_path, damage, entry):
    db = make_db(tmp_path)
    doc = workflow(db)
    damage(doc)
    db.sidecar_path.write_text(json.dumps(doc), encoding="utf-8")
    before = sha(db.sidecar_path)
    with pytest.raises(DatabaseError) as info:
        ReviewStore(db).reload()
    msg = str(info.value)
    assert msg.startswith(f"{db.sidecar_path}: cannot read the workflow file: {entry}"), msg
    assert msg.endswith("The file was not changed.")
    assert "NOTE" not in msg
    with pytest.raises(DatabaseError):
        reviews_module.check_workflow(doc)
    runner = CliRunner()
    for args in (["agenda", str(db.path), "--include-notes"], ["audit", str(db.path), "--include-notes"],
                 ["review", str(db.path), "C-2", "--status", "discussed"],
                 ["review", str(db.path), "C-1", "--note", "new note"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 1, (args, res.output)
        assert isinstance(res.exception, SystemExit), (args, res.exception)
        assert "NOTE" not in res.output and "Traceback" not in res.output
        assert f"{db.sidecar_path}: cannot read the workflow file: {entry}" in res.output
    assert sha(db.sidecar_path) == before  # never rewritten


def test_a_sound_workflow_file_passes_the_check(tmp_path):
    db = make_db(tmp_path)
    doc = workflow(db)
    reviews_module.check_workflow(doc)
    reviews_module.check_workflow({})
    store = ReviewStore(db)
    store.reload()
    assert store.reviews()["C-1|client||"].note == NOTE


# --- crashes -------------------------------------------------------------------------------------

CRASH = r"""
import sys
import supervision_tui.store.database as database

def boom(self, *a, **k):
    note = "NOTE-5e2a private words"
    secret = {"note": note}
    raise RuntimeError("internal error")

database.Database.load = boom
sys.argv = ["supervision-tui", "summary", sys.argv[1]]
from supervision_tui.cli import main
main()
"""


def test_a_cli_crash_exits_non_zero_and_shows_no_locals(tmp_path):
    db = make_db(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", CRASH, str(db.path)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert res.returncode != 0
    assert "RuntimeError" in res.stderr  # the crash is reported...
    assert "NOTE" not in res.stderr + res.stdout  # ...without the local variables holding private text
