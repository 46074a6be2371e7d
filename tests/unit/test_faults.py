"""Issue 7: faults. Concurrent writers, writers killed mid-write, malformed
input, full disks and read-only folders: never a corrupt file, never a lost
acknowledged write, never a traceback, never a partial write."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from supervision_tui.cli import cli
from supervision_tui.errors import DatabaseError, UserError, ValidationFailed
from supervision_tui.store.csv_io import CLIENTS_COLUMNS, GOALS_COLUMNS, MEASURES_COLUMNS, parse_files, validate_files
from supervision_tui.store.database import Database, LockedStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
ERROR_LINE = re.compile(r"^[^:]+:\d+: [^:]+: .+ \(got .*\)$")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def child(code: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT, **kw)


def temporaries(directory: Path) -> list[str]:
    return [n for n in os.listdir(directory) if n.endswith(".tmp")]


# --- concurrency ------------------------------------------------------------------------

CONCURRENT_WRITER = r"""
import sys
from supervision_tui.store.database import LockedStore
path, who, n, how = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = LockedStore(path, timeout=60)
for i in range(n):
    if how == "dict":
        with store.transaction() as data:
            data.setdefault("dict", {})[f"{who}-{i}"] = i
    else:
        with store.tinydb() as db:
            db.table("tinydb").insert({"who": who, "i": i})
"""


def test_four_processes_by_200_writes_keep_all_800(tmp_path):
    path = tmp_path / "shared.json"
    procs = [child(CONCURRENT_WRITER, str(path), f"p{k}", "200", "dict" if k % 2 else "tinydb") for k in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    data = json.loads(path.read_bytes())
    assert len(data["dict"]) == 400
    assert set(data["dict"]) == {f"p{k}-{i}" for k in (1, 3) for i in range(200)}
    docs = data["tinydb"]
    assert len(docs) == 400
    assert sorted(map(int, docs)) == list(range(1, 401))  # document ids never reused
    assert {(d["who"], d["i"]) for d in docs.values()} == {(f"p{k}", i) for k in (0, 2) for i in range(200)}
    assert temporaries(tmp_path) == []


# --- killed writers ---------------------------------------------------------------------
#
# A child writes in a loop and prints each write's number once it is
# committed; the parent kills it (SIGKILL) and checks that the file parses
# and holds every acknowledged write, whole. A kill at a random moment may
# land between writes, so half of the runs make the child pause *inside* a
# write — in the middle of the data, or with the temporary complete but not
# yet renamed (a hook patched into the child, around the real write path) —
# and announce it; the parent checks that the temporary file exists, kills,
# and checks that it is still there afterwards: the kill landed mid-write.
# The next write removes such temporaries.

WRITE_HOOK = r"""
import os, sys, time
from pathlib import Path
import supervision_tui.store.files as files

pause_at, point, where = int(sys.argv[3]), sys.argv[4], sys.argv[5]  # n-th write to pause in (0: never)
calls = [0]
real_write_all, real_replace, real_write = files._write_all, os.replace, files.write_private_bytes
state = {"armed": False}


def announce():
    print("in-write", flush=True)
    time.sleep(60)  # killed here


def write_private_bytes(path, data, **kw):
    if where in ("any", Path(path).parent.name.split(".")[-1]):
        calls[0] += 1
        state["armed"] = calls[0] == pause_at
    try:
        return real_write(path, data, **kw)
    finally:
        state["armed"] = False


def write_all(fd, data):
    if state["armed"] and point == "data":
        real_write_all(fd, data[: len(data) // 2])
        announce()
    real_write_all(fd, data)


def replace(src, dst, *a, **k):
    if state["armed"] and point == "rename" and str(src).endswith(".tmp"):
        announce()
    return real_replace(src, dst, *a, **k)


files._write_all, files.write_private_bytes, os.replace = write_all, write_private_bytes, replace
"""

KILLED_WRITERS = {
    # the locked store itself: a 400 kB document per transaction
    "store": WRITE_HOOK + r"""
from supervision_tui.store.database import LockedStore
store = LockedStore(sys.argv[1])
i = int(sys.argv[2])
pad = "x" * 400_000  # a write takes long enough to be killed in the middle of it
print("ready", flush=True)
while True:
    with store.transaction() as data:
        data["pad"] = pad + str(i)
        data.setdefault("acks", []).append(i)
    print(i, flush=True)  # acknowledged only once committed
    i += 1
""",
    # review saves: one action item per save, through ReviewStore
    "review": WRITE_HOOK + r"""
from supervision_tui.store.reviews import ReviewStore
store = ReviewStore(sys.argv[1], user="sup")
i = int(sys.argv[2])
print("ready", flush=True)
while True:
    store.add_action("C-1", f"item {i} " + "x" * 2000)
    print(i, flush=True)
    i += 1
""",
    # audit archiving: a chunk of 3 entries moves to the archive every few saves
    "archive": WRITE_HOOK + r"""
from supervision_tui.store.reviews import ReviewStore
store = ReviewStore(sys.argv[1], user="sup", audit_chunk=3)
i = int(sys.argv[2])
print("ready", flush=True)
while True:
    store.set_client_review("C-1", "discussed", note=f"save {i} " + "y" * 2000)
    print(i, flush=True)
    i += 1
""",
}


def _tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp")]


def _kill_runs(tmp_path: Path, kind: str, runs: int, check) -> dict[str, int]:
    """Run and kill ``runs`` writers of ``kind``; ``check(path, acked)``
    validates the file after each kill and returns the next write number.
    Returns counts: kills, kills that landed mid-write, acknowledged writes."""
    path = tmp_path / f"{kind}.json"
    rng = random.Random(hash(kind) & 0xFFFF)
    acked: list[int] = []
    next_i = 0
    counts = {"kills": 0, "mid_write": 0, "acked": 0, "paused": 0}
    left_in: set[str] = set()  # folders where killed writes left their temporaries
    for run in range(runs):
        paused = run % 2 == 1
        pause_at = rng.randint(1, 4) if paused else 0
        point = "data" if run % 4 == 1 else "rename"
        where = "audit" if kind == "archive" else "any"
        p = child(KILLED_WRITERS[kind], str(path), str(next_i), str(pause_at), point, where,
                  stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        if paused:
            counts["paused"] += 1
            while True:
                line = p.stdout.readline().strip()
                assert line, "the writer ended before pausing in a write"
                if line == "in-write":
                    break
                acked.append(int(line))
            before_kill = _tmp_files(tmp_path)
            assert before_kill, "paused inside a write, yet no temporary file"
        else:
            for _ in range(rng.randint(0, 12)):
                acked.append(int(p.stdout.readline()))
            time.sleep(rng.uniform(0, 0.004))
            before_kill = _tmp_files(tmp_path)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        counts["kills"] += 1
        acked += [int(line) for line in p.stdout.read().split() if line != "in-write"]
        p.stdout.close()
        left = [t for t in before_kill if t.exists()]
        if paused:
            assert left, "the kill did not land inside the write"
        if left:
            counts["mid_write"] += 1  # the kill interrupted that write: its temporary was left behind
            left_in.update(t.parent.name for t in left)
        if not path.exists():
            assert acked == []
            continue
        next_i = check(path, acked)
    counts["acked"] = len(acked)
    counts["left_in"] = sorted(left_in)  # type: ignore[assignment]
    return counts


def test_writers_killed_mid_write_never_lose_an_acknowledged_write(tmp_path):
    def check_store(path: Path, acked: list[int]) -> int:
        data = LockedStore(path, read_only=True).read()  # always parses
        assert set(acked) <= set(data["acks"])
        assert data["acks"] == sorted(set(data["acks"]))  # no duplicate, no reordering
        assert data["pad"].endswith(str(data["acks"][-1]))  # the whole transaction, not a mix
        return data["acks"][-1] + 1

    counts = _kill_runs(tmp_path, "store", 20, check_store)
    assert counts["mid_write"] >= counts["paused"] == 10  # every paused run was killed inside a write
    assert counts["acked"] > 20
    # a later transaction removes what killed writers left behind
    with LockedStore(tmp_path / "store.json").transaction() as data:
        data["done"] = True
    assert _tmp_files(tmp_path) == []
    print(f"store: {counts}")


def test_review_saves_and_audit_archiving_killed_mid_write_lose_nothing(tmp_path):
    from supervision_tui.store.reviews import ReviewStore

    def check_reviews(path: Path, acked: list[int]) -> int:
        store = ReviewStore(path, read_only=True)
        store.reload()  # parses and passes the workflow check
        items = sorted(int(a.text.split()[1]) for a in store.actions())
        assert set(acked) <= set(items) and len(items) == len(set(items))
        seqs = [e.seq for e in reversed(store.audit())]
        assert seqs == list(range(1, len(seqs) + 1))  # every save audited once, in order
        assert len(seqs) == len(items)
        return items[-1] + 1

    def check_archive(path: Path, acked: list[int]) -> int:
        store = ReviewStore(path, read_only=True)
        store.reload()
        entries = list(reversed(store.audit()))  # archive files + the workflow file, de-duplicated
        saves = [int(e.after["note"].split()[1]) for e in entries]
        assert set(acked) <= set(saves) and saves == sorted(set(saves))
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        return saves[-1] + 1

    (tmp_path / "r").mkdir()
    (tmp_path / "a").mkdir()
    reviews = _kill_runs(tmp_path / "r", "review", 12, check_reviews)
    archive = _kill_runs(tmp_path / "a", "archive", 12, check_archive)
    for counts in (reviews, archive):
        assert counts["mid_write"] >= counts["paused"] == 6
    assert "archive.audit" in archive["left_in"]  # killed while writing an archive file
    # the next saves clean the temporaries of the workflow file and of the audit archive
    ReviewStore(tmp_path / "r" / "review.json", user="sup").add_action("C-1", "last")
    ReviewStore(tmp_path / "a" / "archive.json", user="sup").set_client_review("C-1", "resolved")
    assert _tmp_files(tmp_path) == []
    print(f"review saves: {reviews}; audit archiving: {archive}")


# --- malformed input: never a traceback, never a partial write ------------------------------

TOKENS = st.sampled_from([
    "C-01", "C-02", "T01", "T 1", "1", "2", "3", "0", "-1", "1.5", "2025-01-06", "2025-01-01", "2025-02-30",
    "attended", "no_show", "cancelled", "SRS", "WAI-SR", "ORS", "PHQ-9", "GAD-7", "XYZ", "client", "therapist",
    "36", "41", "15", "16", "17", "4", "20", "yes", "no", "withdrawal", "confrontation", "", " ", '"', '""',
    "é", "\x00", "1e3", "nan", "inf", "\ufeff", ",", "\n", "\r",
])
COLUMN = st.sampled_from(MEASURES_COLUMNS + ("bogus", "", "Client", "client"))


FIXTURE_LINES = (FIXTURES / "measures.csv").read_text(encoding="utf-8").splitlines()


@st.composite
def mutated_fixture(draw) -> str:
    """The valid fixture with a few random edits: mostly-valid files, so that
    some imports succeed and errors hide among valid rows."""
    lines = [line.split(",") for line in FIXTURE_LINES]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        what = draw(st.sampled_from(["cell", "cell", "drop", "dup", "char", "client"]))
        if what == "cell" and lines[i]:
            lines[i][draw(st.integers(0, len(lines[i]) - 1))] = draw(TOKENS)
        elif what == "drop":
            del lines[i]
            if not lines:
                break
        elif what == "dup":
            lines.insert(i, list(lines[i]))
        elif what == "client" and i > 0:
            lines[i][0] = draw(st.sampled_from(["C-03", "C-04", "C-01"]))
        else:
            text = ",".join(lines[i])
            k = draw(st.integers(0, len(text)))
            lines[i] = (text[:k] + draw(st.sampled_from(['"', ",", "\n", "x", "\x00"])) + text[k:]).split(",")
    return "\n".join(",".join(line) for line in lines) + "\n"


@st.composite
def malformed_csv(draw) -> bytes:
    if draw(st.integers(0, 2)) == 0:
        return draw(mutated_fixture()).encode("utf-8")
    if draw(st.booleans()):
        header = list(MEASURES_COLUMNS)
        if draw(st.booleans()):
            header = draw(st.permutations(header))
    else:
        header = draw(st.lists(COLUMN, max_size=16))
    width = len(header)
    rows = draw(st.lists(
        st.lists(TOKENS | st.text(max_size=4), min_size=max(0, width - 2), max_size=width + 2),
        max_size=8,
    ))
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = sep.join(",".join(r) for r in [header, *rows]) + draw(st.sampled_from(["", sep, sep * 3]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=200))
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=malformed_csv())
def test_malformed_csv_never_crashes_and_never_writes_partially(tmp_path, content):
    db_path = tmp_path / "db.json"
    original = (tmp_path / "original.json")
    if not original.exists():
        Database(original).import_parsed(parse_files(FIXTURES / "measures.csv"))
    db_path.write_bytes(original.read_bytes())
    m = tmp_path / "m.csv"
    m.write_bytes(content)
    before = sha(db_path)
    db = Database(db_path)
    try:
        parsed = parse_files(m)
        report = db.import_parsed(parsed)
    except ValidationFailed as err:
        event("invalid")
        assert err.errors and all(ERROR_LINE.match(line) for line in err.errors), err.errors
        assert sha(db_path) == before
    except UserError:
        event("unreadable")
        assert sha(db_path) == before
    else:
        event("imported")
        cl = db.load()  # a successful import leaves a valid database holding every row
        assert {r.key for r in parsed.ratings} <= {r.key for r in cl.ratings}
        assert report.measures.added + report.measures.updated + report.measures.unchanged == len(parsed.ratings)
    assert temporaries(tmp_path) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from(CLIENTS_COLUMNS + GOALS_COLUMNS + ("x",)), max_size=8),
       rows=st.lists(st.lists(TOKENS, max_size=9), max_size=5))
def test_validate_of_any_clients_or_goals_file_never_crashes(tmp_path, header, rows):
    f = tmp_path / "f.csv"
    f.write_text("\n".join(",".join(r) for r in [header, *rows]), encoding="utf-8")
    try:
        assert validate_files([f]).startswith("OK")
    except ValidationFailed as err:
        assert all(ERROR_LINE.match(line) for line in err.errors), err.errors


# --- failing writes: clear error, nothing already saved is lost -----------------------------


def enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def half_then_enospc(fd, data):
    os.write(fd, data[: len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def saved(tmp_path) -> Database:
    db = Database(tmp_path / "db.json")
    db.import_parsed(parse_files(FIXTURES / "measures.csv"))
    with db.sidecar.transaction() as data:
        data["reviews"] = {"1": {"client": "C-01"}}
    return db


@pytest.mark.parametrize("target,fail", [
    ("os.replace", enospc),
    ("os.fsync", lambda fd: enospc()),
    ("supervision_tui.store.files._write_all", half_then_enospc),
])
def test_a_failing_write_loses_nothing(saved, tmp_path, monkeypatch, target, fail):
    before_db, before_sidecar = sha(saved.path), sha(saved.sidecar_path)
    before = saved.load()
    bigger = tmp_path / "more.csv"
    bigger.write_text((FIXTURES / "measures.csv").read_text() + "C-09,T01,1,2025-03-03,attended,ORS,client,20,,,,,,\n")
    parsed = parse_files(bigger)
    monkeypatch.setattr(target, fail)
    with pytest.raises(DatabaseError) as info:
        saved.import_parsed(parsed)
    assert str(info.value) == f"{saved.path}: cannot write: no space left on the device; the file was not changed"
    with pytest.raises(DatabaseError, match="no space left on the device"):
        with saved.sidecar.transaction() as data:
            data["reviews"]["2"] = {"client": "C-02"}
    monkeypatch.undo()
    assert sha(saved.path) == before_db and sha(saved.sidecar_path) == before_sidecar
    assert temporaries(tmp_path) == []
    assert saved.load().ratings == before.ratings
    # once the disk has room again, the same import works
    assert saved.import_parsed(parsed).measures.added == 1


def test_a_failing_first_write_creates_no_database(tmp_path, monkeypatch):
    monkeypatch.setattr("os.replace", enospc)
    db = Database(tmp_path / "new.json")
    with pytest.raises(DatabaseError, match="no space left"):
        db.import_parsed(parse_files(FIXTURES / "measures.csv"))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["new.json.lock"]


def test_cli_reports_a_full_disk_without_traceback(saved, tmp_path, monkeypatch):
    before = sha(saved.path)
    bigger = tmp_path / "more.csv"
    bigger.write_text((FIXTURES / "measures.csv").read_text() + "C-09,T01,1,2025-03-03,attended,ORS,client,20,,,,,,\n")
    monkeypatch.setattr("os.replace", enospc)
    runner = CliRunner()
    res = runner.invoke(cli, ["import", str(saved.path), str(bigger)])
    assert res.exit_code == 1
    assert "no space left on the device" in res.output
    assert isinstance(res.exception, SystemExit)
    res = runner.invoke(cli, ["export", str(saved.path), str(tmp_path / "out")])
    assert res.exit_code == 1
    assert res.output.strip() == f"{tmp_path / 'out' / 'measures.csv'}: cannot write: no space left on the device; " \
                                 "no file was changed"
    monkeypatch.undo()
    assert sha(saved.path) == before
    assert os.listdir(tmp_path / "out") == []


def test_a_folder_where_files_cannot_be_created(saved, tmp_path, monkeypatch):
    """What a read-only folder does to the product (simulated: root ignores
    permissions): creating the temporary file fails with EACCES."""
    real_open = os.open

    def no_create(path, flags, *a, **k):
        if flags & os.O_CREAT and Path(path).parent == tmp_path and not Path(path).exists():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *a, **k)

    before = sha(saved.path)
    parsed = parse_files(FIXTURES / "measures.csv", clients=FIXTURES / "clients.csv")
    monkeypatch.setattr("os.open", no_create)
    with pytest.raises(DatabaseError, match=r"db\.json: cannot write: permission denied"):
        saved.import_parsed(parsed)
    monkeypatch.undo()
    assert sha(saved.path) == before
    # without a lock file yet, the lock itself cannot be created
    saved.store.lock_path.unlink()
    monkeypatch.setattr("os.open", no_create)
    with pytest.raises(DatabaseError, match=r"db\.json: cannot lock the database \(.*db\.json\.lock\)"):
        saved.import_parsed(parsed)
    monkeypatch.undo()
    assert sha(saved.path) == before
    assert temporaries(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = Database(folder / "db.json")
    db.import_parsed(parse_files(FIXTURES / "measures.csv"))
    before = sha(db.path)
    os.chmod(folder, 0o500)
    try:
        with pytest.raises(DatabaseError):
            db.import_parsed(parse_files(FIXTURES / "measures.csv", clients=FIXTURES / "clients.csv"))
        res = CliRunner().invoke(cli, ["import", str(db.path), str(FIXTURES / "measures.csv"),
                                       "--clients", str(FIXTURES / "clients.csv")])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
        assert len(Database(db.path, read_only=True).load().ratings) == 11
    finally:
        os.chmod(folder, 0o700)
    assert sha(db.path) == before
