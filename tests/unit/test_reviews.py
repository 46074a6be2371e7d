"""Review workflow (issue #5): reviews keyed by flag identity, "changed since
reviewed", action items, the audit trail, read-only, several processes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import os
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from supervision_tui.errors import DatabaseError, UserError
from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.settings import RuptureSettings, Settings
from supervision_tui.store.csv_io import parse_files
from supervision_tui.store.database import Database
from supervision_tui.store.reviews import (
    HIDDEN,
    ReadOnlyError,
    ReviewStore,
    WorkflowError,
    client_key,
    parse_key,
)

ROOT = Path(__file__).resolve().parents[2]
D0 = date(2026, 1, 5)
NOTE = "NOTE-MARKER-4f1c private words"
ACTION = "ACTION-MARKER-9b2e call the GP"


# --- helpers --------------------------------------------------------------------------------


def srs_rows(code: str, clinician: str, values: list[float | None], start: date = D0) -> list[Rating]:
    """One SRS rating per weekly session; None = a no-show."""
    rows = []
    for n, v in enumerate(values, start=1):
        d = start + timedelta(days=7 * (n - 1))
        if v is None:
            rows.append(Rating(code, clinician, n, d, "no_show"))
        else:
            rows.append(Rating(code, clinician, n, d, instrument="SRS", total=float(v), goal=9.5))
    return rows


# C-1: drop + low at s4 -> an open rupture (window to s10 not reached)
OPEN = [38, 38.5, 39, 30, 36.5]
# ... later sessions without markers and without repair -> unrepaired once s10 exists
UNREPAIRED = OPEN + [36.5] * 5


def caseload(c1: list[float | None] = OPEN) -> Caseload:
    ratings = srs_rows("C-1", "T1", c1) + srs_rows("C-2", "T2", [38, 38, 38, 38])
    return Caseload(
        clients={"C-1": Client("C-1", "T1"), "C-2": Client("C-2", "T2")},
        clinicians={"T1": Clinician("T1", "trainee"), "T2": Clinician("T2", "staff")},
        ratings=ratings,
        goals=[Goal("C-2", "G1", "GOAL text", 1, "disagreed", "active", 4)],
        name="unit",
    )


def flags_of(db: Database, settings: Settings | None = None, kind: str | None = None):
    fl = [f for a in analyse_caseload(db.load(), settings) for f in a.flags]
    return [f for f in fl if kind is None or f.kind == kind]


def the_rupture(db: Database, settings: Settings | None = None):
    (f,) = [f for f in flags_of(db, settings, "rupture") if f.client == "C-1"]
    return f


def digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def db(tmp_path) -> Database:
    d = Database(tmp_path / "caseload.json")
    d.replace_caseload(caseload())
    return d


def clock_from(start: str = "2026-11-20T10:00:00+00:00"):
    t = [0]

    def now() -> str:
        t[0] += 1
        return start[:-11] + f"{t[0] // 60:02d}:{t[0] % 60:02d}+00:00"

    return now


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_through_the_real_sidecar(db):
    flag = the_rupture(db)
    assert flag.status == "open" and flag.session == 4
    caseload_before = db.path.read_bytes()
    store = ReviewStore(db, user="sup01")
    assert store.review_for(flag).status == "new" and store.review_for(flag).review is None
    store.set_review(flag, "discussed", note=NOTE)

    # only the sidecar was written, privately; the caseload file is untouched
    assert db.path.read_bytes() == caseload_before
    assert db.sidecar_path.exists() and (os.stat(db.sidecar_path).st_mode & 0o777) == 0o600
    raw = json.loads(db.sidecar_path.read_text("utf-8"))
    assert raw["workflow_version"] == 1 and raw["seq"] == 1
    assert raw["reviews"]["C-1|rupture|4|SRS"] == {
        **raw["reviews"]["C-1|rupture|4|SRS"], "status": "discussed", "note": NOTE, "by": "sup01",
        "flag_status": "open", "flag_session": 4}

    # a second store (another process) reads it back
    again = ReviewStore(Database(db.path, read_only=True))
    fr = again.review_for(flag)
    assert (fr.status, fr.changed, fr.review.note, fr.review.by) == ("discussed", False, NOTE, "sup01")
    assert fr.review.at.endswith("+00:00")
    assert fr.label().startswith("discussed by sup01 ")
    assert again.version() == 1


def test_keys_and_statuses(db):
    flag = the_rupture(db)
    assert flag.identity == "C-1|rupture|4|SRS"
    assert client_key("C-1") == "C-1|client||"
    assert parse_key("C-1|rupture|4|SRS") == ("C-1", "rupture", 4, "SRS")
    store = ReviewStore(db)
    with pytest.raises(WorkflowError, match="unknown review status"):
        store.set_review(flag, "done")
    with pytest.raises(WorkflowError):
        store.set_client_review("not a code!", "discussed")
    with pytest.raises(WorkflowError, match="nothing to change"):
        store.set_review(flag)
    assert not db.sidecar_path.exists()  # refused requests write nothing
    for status in ("discussed", "action", "resolved", "dismissed", "new"):
        assert store.set_review(flag, status).status == status
    assert store.review_for(flag).status == "new"
    assert [e.after["status"] for e in store.history(flag)] == ["discussed", "action", "resolved", "dismissed", "new"]


def test_note_only_edit_keeps_status_and_does_not_reacknowledge(tmp_path):
    db = Database(tmp_path / "c.json")
    db.replace_caseload(caseload(OPEN))
    store = ReviewStore(db, user="a")
    store.set_review(the_rupture(db), "discussed")
    db.replace_caseload(caseload(UNREPAIRED))
    now = the_rupture(db)
    store.set_review(now, note="a note")  # the note alone
    fr = store.review_for(now)
    assert fr.status == "discussed" and fr.review.note == "a note" and fr.changed
    store.set_review(now, note="")  # clears the note
    assert store.review_for(now).review.note is None
    store.set_review(now, "discussed")  # setting a status acknowledges the flag as it is now
    assert not store.review_for(now).changed


# --- identity survives re-import and unrelated settings changes -------------------------------


MEASURES = textwrap.dedent("""\
    client,clinician,session,date,instrument,total,goal
    C-7,T1,1,2026-01-05,SRS,38,9.5
    C-7,T1,2,2026-01-12,SRS,38.5,9.5
    C-7,T1,3,2026-01-19,SRS,39,9.5
    C-7,T1,4,2026-01-26,SRS,30,9.5
    C-7,T1,5,2026-02-02,SRS,36.5,7
    C-8,T1,1,2026-01-05,SRS,38,9.5
    C-8,T1,2,2026-01-12,,,
    """)


def test_identity_survives_reimport_and_a_settings_change_that_keeps_the_flag(tmp_path):
    csv_path = tmp_path / "measures.csv"
    csv_path.write_text(MEASURES, encoding="utf-8")
    db = Database(tmp_path / "c.json")
    db.import_parsed(parse_files(csv_path))
    before = {f.identity: f for f in flags_of(db)}
    rupture, goal = before["C-7|rupture|4|SRS"], before["C-7|goal||"]
    store = ReviewStore(db, user="sup01")
    store.set_review(rupture, "discussed", note=NOTE)
    store.set_review(goal, "action")

    # the same CSV again: nothing changes, the reviews still attach
    report = db.import_parsed(parse_files(csv_path))
    assert not report.written
    store = ReviewStore(db)
    after = {f.identity: f for f in flags_of(db)}
    for key in (rupture.identity, goal.identity):
        fr = store.review_for(after[key])
        assert fr.reviewed and not fr.changed, key

    # a settings change that rewords the explanation but keeps the flag
    floor2 = Settings(rupture=RuptureSettings(drop_floor={"SRS": 2.0, "WAI-SR": 5.0}))
    reworded = the_rupture_of(db, floor2, "C-7")
    assert reworded.detail != rupture.detail and "[clinic setting]" in reworded.detail
    assert reworded.identity == rupture.identity
    fr = store.review_for(reworded)
    assert fr.status == "discussed" and not fr.changed

    # a settings change that changes the flag: strict drops and a lower cutoff -> no rupture at all
    strict = Settings(rupture=RuptureSettings(drop_sd=2.0, drop_floor={"SRS": 12.0, "WAI-SR": 5.0},
                                              low_cutoff={"SRS": 20.0}))
    assert [f for f in flags_of(db, strict, "rupture") if f.client == "C-7"] == []


def the_rupture_of(db, settings, client):
    (f,) = [f for f in flags_of(db, settings, "rupture") if f.client == client]
    return f


# --- changed since reviewed ---------------------------------------------------------------------


def test_changed_since_reviewed_when_the_flag_moves_on(tmp_path):
    db = Database(tmp_path / "c.json")
    db.replace_caseload(caseload(OPEN))
    store = ReviewStore(db, user="sup01")
    open_flag = the_rupture(db)
    store.set_review(open_flag, "discussed")
    assert not store.review_for(open_flag).changed

    db.replace_caseload(caseload(UNREPAIRED))  # five more sessions, no repair
    now = the_rupture(db)
    assert (now.identity, now.status) == (open_flag.identity, "unrepaired")
    fr = store.review_for(now)
    assert fr.status == "discussed" and fr.changed
    assert fr.change == "status open → unrepaired"
    assert "changed since: status open → unrepaired" in fr.label()

    # a later, different episode is another flag: the review never attaches to it
    db.replace_caseload(caseload(UNREPAIRED + [39, 39, 39, 30]))
    episodes = {f.session: f for f in flags_of(db, kind="rupture") if f.client == "C-1"}
    assert set(episodes) == {4, 14}
    assert store.review_for(episodes[14]).status == "new"
    assert store.review_for(episodes[4]).status == "discussed"


def test_changed_since_for_a_session_move_and_client_reviews(db):
    store = ReviewStore(db, user="sup01")
    (goal,) = [f for f in flags_of(db, kind="goal") if f.client == "C-2"]
    store.set_review(goal, "discussed")
    moved = type(goal)(goal.client, goal.clinician, goal.kind, (goal.session or 0) + 3, goal.status, goal.detail)
    fr = store.review_for(moved)
    assert fr.changed and fr.change.startswith("session ")

    store.set_client_review("C-2", "discussed", latest_session=4)
    assert not store.client_review("C-2", 4).changed
    cr = store.client_review("C-2", 6)
    assert cr.changed and cr.status == "discussed" and cr.review.is_client
    assert store.client_review("C-1").status == "new"


# --- action items ---------------------------------------------------------------------------------


def test_action_items_carry_forward_until_done(db):
    store = ReviewStore(db, user="sup01", clock=clock_from())
    a = store.add_action("C-1", ACTION, owner="T1", due=date(2026, 11, 1))
    b = store.add_action("C-2", "second", owner="T2", due="2026-12-24")
    c = store.add_action("C-1", "third", flag=the_rupture(db))
    assert len({a.id, b.id, c.id}) == 3 and all(len(x.id) == 8 for x in (a, b, c))
    assert c.flag == "C-1|rupture|4|SRS" and c.owner is None and c.due is None

    store.set_action_done(b.id)
    later = ReviewStore(Database(db.path, read_only=True))  # next week's meeting
    assert [i.id for i in later.open_actions()] == [a.id, c.id]  # oldest first, done left out
    assert [i.id for i in later.actions()] == [a.id, b.id, c.id]
    assert [i.id for i in later.actions(client="C-1")] == [a.id, c.id]
    assert [i.id for i in later.actions(owner="T2")] == [b.id]
    done = later.action(b.id)
    assert done.done and done.done_by == "sup01" and done.done_at
    assert later.action(a.id).overdue(date(2026, 11, 20)) and not later.action(b.id).overdue(date(2027, 1, 1))
    assert not later.action(c.id).overdue(date(2030, 1, 1))  # no due date

    store.set_action_done(b.id, False)  # reopened
    assert [i.id for i in store.open_actions()] == [a.id, b.id, c.id]
    assert store.action(b.id).done_by is None
    upd = store.update_action(a.id, text="changed text", due=None, owner="T2")
    assert (upd.text, upd.due, upd.owner) == ("changed text", None, "T2")
    assert upd.created_at < upd.updated_at
    store.delete_action(c.id)
    assert [i.id for i in store.actions()] == [a.id, b.id]
    with pytest.raises(WorkflowError, match="no action item"):
        store.set_action_done("00000000")
    with pytest.raises(WorkflowError):
        store.add_action("C-1", "   ")


# --- audit ------------------------------------------------------------------------------------------


def test_every_write_is_audited_newest_first(db):
    store = ReviewStore(db, user="sup01", clock=clock_from())
    flag = the_rupture(db)
    store.set_review(flag, "discussed", note=NOTE)
    store.set_review(flag, note="second note")
    item = store.add_action("C-1", ACTION, owner="T1")
    store.update_action(item.id, due="2026-12-01")
    store.set_action_done(item.id)
    store.set_action_done(item.id)  # no change: not a write, not audited
    store.set_client_review("C-2", "discussed", user="sup02")
    store.delete_action(item.id)

    entries = store.audit()
    assert [e.action for e in entries] == ["action.delete", "review.set", "action.done", "action.update",
                                           "action.add", "review.note", "review.set"]
    assert [e.seq for e in entries] == [7, 6, 5, 4, 3, 2, 1]
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    assert entries[1].user == "sup02" and entries[1].target == "C-2|client||"
    first = entries[-1]
    assert first.target == "C-1|rupture|4|SRS" and first.before is None
    assert first.after == {"status": "discussed", "note": NOTE, "flag_status": "open", "flag_session": 4}
    assert entries[-2].before["note"] == NOTE and entries[-2].after["note"] == "second note"
    assert entries[-3].target == f"action:{item.id}" and entries[-3].after["text"] == ACTION
    assert entries[0].after is None and entries[0].before["text"] == ACTION  # deleted, but remembered
    assert [e.action for e in store.audit(limit=2)] == ["action.delete", "review.set"]
    assert [e.seq for e in store.history(flag)] == [1, 2]
    assert [e.seq for e in store.history(f"action:{item.id}")] == [3, 4, 5, 7]


def test_audit_export_hides_note_and_action_text_unless_asked(db, tmp_path):
    store = ReviewStore(db, user="sup01")
    store.set_review(the_rupture(db), "discussed", note=NOTE)
    store.add_action("C-1", ACTION, owner="T1")
    store.add_action("C-2", "=HYPERLINK(1)")  # a formula must not run in a spreadsheet

    hidden_csv = store.export_audit(tmp_path / "audit.csv", "csv")
    hidden_json = store.export_audit(tmp_path / "audit.json", "json")
    full_csv = store.export_audit(tmp_path / "audit-full.csv", "csv", include_notes=True)
    full_json = store.export_audit(tmp_path / "audit-full.json", "json", include_notes=True)
    for p in (hidden_csv, hidden_json, full_csv, full_json):
        assert (os.stat(p).st_mode & 0o777) == 0o600
    for p in (hidden_csv, hidden_json):
        text = p.read_text("utf-8")
        assert "NOTE-MARKER" not in text and "ACTION-MARKER" not in text and "HYPERLINK" not in text
        assert HIDDEN in text
    for p in (full_csv, full_json):
        text = p.read_text("utf-8")
        assert "NOTE-MARKER" in text and "ACTION-MARKER" in text

    rows = json.loads(hidden_json.read_text("utf-8"))
    assert [r["action"] for r in rows] == ["action.add", "action.add", "review.set"]
    assert rows[2]["after"]["note"] == HIDDEN and rows[2]["after"]["status"] == "discussed"
    assert list(rows[0]) == ["seq", "at", "user", "action", "target", "before", "after"]
    table = list(csv.DictReader(io.StringIO(full_csv.read_text("utf-8"))))
    assert list(table[0]) == ["seq", "at", "user", "action", "target", "changes", "before", "after"]
    assert [r["seq"] for r in table] == ["3", "2", "1"]
    assert all(not cell.startswith("=") for r in table for cell in r.values())
    assert json.loads(table[2]["after"])["note"] == NOTE
    with pytest.raises(WorkflowError):
        store.audit_text("xml")


def test_old_audit_entries_are_archived_and_still_listed(db):
    store = ReviewStore(db, user="sup01", audit_chunk=5)
    flag = the_rupture(db)
    statuses = ["discussed", "action", "resolved"]
    for i in range(23):
        store.set_review(flag, statuses[i % 3], note=f"n{i}")
    raw = json.loads(db.sidecar_path.read_text("utf-8"))
    assert 5 <= len(raw["audit"]) < 10  # the sidecar stays small
    files = sorted(p.name for p in store.archive_dir.iterdir())
    assert files[0] == "audit-000000001-000000005.json" and len(files) == (23 - len(raw["audit"])) // 5
    assert (os.stat(store.archive_dir).st_mode & 0o777) == 0o700
    assert all((os.stat(store.archive_dir / f).st_mode & 0o777) == 0o600 for f in files)
    reader = ReviewStore(Database(db.path, read_only=True))
    assert [e.seq for e in reader.audit()] == list(range(23, 0, -1))
    assert [e.after["note"] for e in reader.history(flag)] == [f"n{i}" for i in range(23)]
    assert reader.review_for(flag).review.note == "n22"


# --- read-only -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_sidecar", [False, True])
def test_read_only_writes_nothing(db, tmp_path, with_sidecar):
    flag = the_rupture(db)
    if with_sidecar:
        w = ReviewStore(db)
        w.set_review(flag, "discussed", note=NOTE)
        item = w.add_action("C-1", ACTION)
        item_id = item.id
    else:
        item_id = "00000000"
    before = digest(tmp_path)
    for store in (ReviewStore(Database(db.path, read_only=True)), ReviewStore(db, read_only=True),
                  ReviewStore(db.sidecar_path, read_only=True)):
        assert store.read_only
        writes = [
            lambda: store.set_review(flag, "resolved"),
            lambda: store.set_review(flag, note="x"),
            lambda: store.set_client_review("C-1", "discussed"),
            lambda: store.add_action("C-1", "x"),
            lambda: store.update_action(item_id, text="y"),
            lambda: store.set_action_done(item_id),
            lambda: store.delete_action(item_id),
        ]
        for write in writes:
            with pytest.raises(ReadOnlyError, match="read-only") as info:
                write()
            assert isinstance(info.value, UserError)
        # reading still works
        assert store.review_for(flag).status == ("discussed" if with_sidecar else "new")
        store.audit()
        store.poll()
    assert digest(tmp_path) == before  # same files, same bytes: nothing created, nothing changed


# --- damaged or newer sidecar ----------------------------------------------------------------------------


def test_a_newer_or_damaged_sidecar_is_refused_and_left_alone(db):
    db.sidecar_path.write_text('{"workflow_version": 99, "reviews": {}}', "utf-8")
    store = ReviewStore(db)
    with pytest.raises(DatabaseError, match="newer supervision-tui"):
        store.review_for(the_rupture(db))
    with pytest.raises(DatabaseError, match="newer supervision-tui"):
        store.set_client_review("C-1", "discussed")
    assert json.loads(db.sidecar_path.read_text("utf-8"))["workflow_version"] == 99

    db.sidecar_path.write_text('{"reviews": [1, 2]', "utf-8")
    with pytest.raises(DatabaseError, match="not valid JSON"):
        ReviewStore(db).set_client_review("C-1", "discussed")
    assert db.sidecar_path.read_text("utf-8") == '{"reviews": [1, 2]'


# --- polling ------------------------------------------------------------------------------------------------


def test_poll_sees_other_writers_only(db):
    ui = ReviewStore(db, user="a")
    other = ReviewStore(Database(db.path), user="b")
    assert ui.token() is None and not ui.poll() is None
    ui.poll()
    assert ui.poll() is False  # nothing happened
    token = ui.token()
    other.set_client_review("C-1", "discussed")
    assert ui.changed_since(token)
    assert ui.client_review("C-1").status == "new"  # the snapshot, until polled
    assert ui.poll() is True
    assert ui.client_review("C-1").status == "discussed"
    assert ui.poll() is False
    ui.set_client_review("C-2", "discussed")  # an own write is not "another process wrote"
    assert ui.poll() is False
    assert ui.mtime_ns() == os.stat(db.sidecar_path).st_mtime_ns
    assert ui.version() == 2


# --- several processes ------------------------------------------------------------------------------------------

WORKER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from supervision_tui.store.database import Database
    from supervision_tui.store.reviews import ReviewStore

    path, w, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    store = ReviewStore(Database(path), user=f"sup{w}")
    for i in range(n):
        store.set_client_review(f"W{w}-{i:04d}", "discussed", note=f"note {w}/{i}", latest_session=i + 1)
        if i % 10 == 0:
            store.add_action(f"W{w}-{i:04d}", f"action {w}/{i}", owner=f"T{w}")
        if i % 5 == 0:
            store.set_client_review("SHARED", ("discussed", "action")[w % 2], note=f"shared {w}/{i}")
    print("done", w)
    """)


def run_writers(db: Database, tmp_path: Path, workers: int, n: int) -> float:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, "utf-8")
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, str(script), str(db.path), str(w), str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for w in range(workers)]
    time.sleep(0.3)  # let every worker import and wait at the start line
    t0 = time.perf_counter()
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    return time.perf_counter() - t0


@pytest.mark.parametrize("workers,n", [(2, 100), (4, 200)])
def test_concurrent_writers_lose_nothing(db, tmp_path, workers, n):
    run_writers(db, tmp_path, workers, n)
    store = ReviewStore(Database(db.path, read_only=True))
    reviews = store.reviews()
    for w in range(workers):
        for i in range(n):
            r = reviews[f"W{w}-{i:04d}|client||"]
            assert (r.status, r.note, r.by, r.flag_session) == ("discussed", f"note {w}/{i}", f"sup{w}", i + 1)
    shared_writes = workers * len(range(0, n, 5))
    action_writes = workers * len(range(0, n, 10))
    assert len(reviews) == workers * n + 1
    actions = store.actions()
    assert len(actions) == action_writes and len({a.id for a in actions}) == action_writes
    assert sorted(a.text for a in actions) == sorted(f"action {w}/{i}" for w in range(workers)
                                                    for i in range(0, n, 10))
    total = workers * n + shared_writes + action_writes
    entries = store.audit()
    assert len(entries) == total and store.version() == total
    assert [e.seq for e in entries] == list(range(total, 0, -1))  # no gap, no duplicate
    assert len(store.history("SHARED|client||")) == shared_writes
    # the last audited write to the shared key is its current state
    last = store.history("SHARED|client||")[-1]
    assert reviews["SHARED|client||"].note == last.after["note"]


# --- CLI -------------------------------------------------------------------------------------------------------------


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supervision_tui", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT)


def test_cli_review_and_audit(db, tmp_path):
    p = str(db.path)
    r = cli("review", p, "C-1", "--kind", "rupture", "--status", "discussed", "--note", NOTE, "--user", "sup01")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("C-1 rupture s4 SRS (") and "): discussed (by sup01)" in r.stdout
    r = cli("review", p, "C-1", "--status", "action", "--user", "sup02")  # the client as a whole, as r does
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("C-1: action") and "(by sup02)" in r.stdout

    r = cli("review", p, "C-1", "--kind", "outcome", "--status", "discussed")
    assert r.returncode == 1 and "no flag matches" in r.stderr and "--kind rupture --session 4" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("review", p, "C-99", "--status", "discussed")
    assert r.returncode == 1 and "no client" in r.stderr and "Traceback" not in r.stderr
    r = cli("review", p, "C-1", "--status", "bogus")
    assert r.returncode == 2

    r = cli("audit", p, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["target"], x["user"]) for x in rows] == [("C-1|client||", "sup02"), ("C-1|rupture|4|SRS", "sup01")]
    assert "NOTE-MARKER" not in r.stdout
    r = cli("audit", p, "--include-notes")
    assert r.returncode == 0 and "NOTE-MARKER" in r.stdout and r.stdout.startswith("seq,at,user,")
    out = tmp_path / "audit.csv"
    r = cli("audit", p, "--out", str(out))
    assert r.returncode == 0 and out.exists() and (os.stat(out).st_mode & 0o777) == 0o600
    assert "NOTE-MARKER" not in out.read_text("utf-8")
    r = cli("audit", str(tmp_path / "nope.json"))
    assert r.returncode == 1 and "no such database" in r.stderr


@pytest.mark.parametrize("damage", ["truncated", "garbage", "newer"])
def test_cli_audit_refuses_a_damaged_database_like_every_other_command(db, damage):
    """``audit`` reads the workflow file, but a broken database next to it
    is reported (exit 1, the same message as ``flags``), not an empty CSV."""
    raw = db.path.read_bytes()
    if damage == "truncated":
        db.path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        db.path.write_bytes(b"\x00\x01 garbage, not JSON\n")
    else:
        data = json.loads(raw)
        data["meta"]["1"]["schema_version"] = 99
        db.path.write_text(json.dumps(data), encoding="utf-8")
    before = db.path.read_bytes()
    flags = cli("flags", str(db.path))
    assert flags.returncode == 1 and flags.stderr.strip()
    for args in (("audit", str(db.path)), ("audit", str(db.path), "--format", "json")):
        r = cli(*args)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stdout == "" and "seq,at,user" not in r.stdout
        assert r.stderr == flags.stderr and "Traceback" not in r.stderr
    assert db.path.read_bytes() == before



def test_cli_review_of_a_client_marks_its_new_flags_like_r(db):
    """Newcomer finding: ``review DB CLIENT --status discussed`` set the
    client alone, so the caseload still said "• new"; now it does what the
    dashboard's r does (the client and its new or changed flags)."""
    p = str(db.path)
    r = cli("review", p, "C-1", "--status", "discussed", "--user", "sup03")
    assert r.returncode == 0, r.stderr
    assert re.match(r"C-1: discussed, with .*rupture s4 SRS \(\w+\).* \(by sup03\)", r.stdout), r.stdout
    rows = json.loads(cli("audit", p, "--format", "json").stdout)
    targets = {x["target"] for x in rows if x["user"] == "sup03"}
    assert {"C-1|client||", "C-1|rupture|4|SRS"} <= targets
    # another status for the client as a whole leaves its flags alone (r's picker; a flag: --kind)
    r = cli("review", p, "C-1", "--status", "dismissed", "--user", "sup04")
    assert r.returncode == 0 and r.stdout.startswith("C-1: dismissed (the client as a whole"), r.stdout
    rows = json.loads(cli("audit", p, "--format", "json").stdout)
    assert {x["target"] for x in rows if x["user"] == "sup04"} == {"C-1|client||"}
