"""The database file: modes, read-only, unreadable files never rewritten,
the locked store API, schema checks, load speed."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from tinydb import TinyDB

from supervision_tui.errors import DatabaseError, UserError
from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating
from supervision_tui.store import schema
from supervision_tui.store.csv_io import export_csv, parse_files
from supervision_tui.store.database import Database, LockedStore
from supervision_tui.store.files import write_private_bytes, write_private_text

from v1_helpers import write_v1

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def listing(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.iterdir()) if p.is_file()}


def small_caseload() -> Caseload:
    return Caseload(
        clients={"C-1": Client("C-1", "T1", "paused", date(2024, 1, 1))},
        clinicians={"T1": Clinician("T1", "supervisor")},
        ratings=[Rating("C-1", "T1", 1, date(2024, 1, 1), "attended", "SRS", "client", 36.0, 9.0),
                 Rating("C-1", "T1", 2, date(2024, 1, 8), "no_show"),
                 Rating("C-2", "T2", 1, date(2024, 1, 2), "attended", "ORS", "client", 20.5)],
        goals=[Goal("C-1", "G1", "text", 1, "agreed")],
        name="unit",
    )


@pytest.fixture
def db(tmp_path) -> Database:
    d = Database(tmp_path / "caseload.json")
    d.import_parsed(parse_files(FIXTURES / "measures.csv", clients=FIXTURES / "clients.csv",
                                goals=FIXTURES / "goals.csv"))
    return d


# --- privacy: file modes ------------------------------------------------------------------


@pytest.fixture
def open_umask():
    old = os.umask(0o002)  # a permissive umask must not make files readable by others
    yield
    os.umask(old)


def test_new_database_lock_sidecar_and_exports_are_owner_only(open_umask, tmp_path):
    db = Database(tmp_path / "caseload.json")
    db.import_parsed(parse_files(FIXTURES / "measures.csv", goals=FIXTURES / "goals.csv",
                                 clients=FIXTURES / "clients.csv"))
    with db.sidecar.transaction() as data:
        data["reviews"] = {"1": {"client": "C-01"}}
    assert mode(db.path) == 0o600
    assert mode(db.store.lock_path) == 0o600
    assert mode(db.sidecar_path) == 0o600
    assert mode(db.sidecar.lock_path) == 0o600
    for f in export_csv(db.load(), tmp_path / "exp" / "sub"):
        assert mode(f) == 0o600
    assert mode(tmp_path / "exp") == 0o700 and mode(tmp_path / "exp" / "sub") == 0o700


def test_rewriting_a_readable_file_makes_it_private(tmp_path):
    p = tmp_path / "agenda.md"
    p.write_text("old")
    os.chmod(p, 0o644)
    write_private_text(p, "new")
    assert p.read_text() == "new" and mode(p) == 0o600
    write_private_bytes(p, b"\x00bytes")
    assert p.read_bytes() == b"\x00bytes" and mode(p) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["agenda.md"]  # no temporary left


def test_sidecar_is_next_to_the_database(tmp_path):
    assert Database(tmp_path / "caseload.json").sidecar_path == tmp_path / "caseload.workflow.json"
    assert Database(tmp_path / "x").sidecar_path == tmp_path / "x.workflow.json"


# --- read-only ----------------------------------------------------------------------------


def test_read_only_writes_nothing(db, tmp_path):
    with db.sidecar.transaction() as data:
        data["reviews"] = {"1": {"client": "C-01"}}
    os.remove(db.store.lock_path)
    os.remove(db.sidecar.lock_path)
    before = listing(tmp_path)
    ro = Database(db.path, read_only=True)
    cl = ro.load()
    assert len(cl.ratings) == 11
    assert ro.meta()["schema_version"] == schema.SCHEMA_VERSION
    assert ro.sidecar.read() == {"reviews": {"1": {"client": "C-01"}}}
    with ro.sidecar.tinydb() as tdb:
        assert tdb.table("reviews").all() == [{"client": "C-01"}]
        with pytest.raises(DatabaseError, match="read-only"):
            tdb.table("reviews").insert({"client": "C-02"})
    with pytest.raises(DatabaseError, match="read-only"):
        with ro.sidecar.transaction():
            pass
    with pytest.raises(DatabaseError, match="read-only"):
        ro.import_parsed(parse_files(FIXTURES / "measures.csv"))
    with pytest.raises(DatabaseError, match="read-only"):
        ro.replace_caseload(small_caseload())
    assert listing(tmp_path) == before  # not a byte, not a lock file


def test_read_only_missing_database_creates_nothing(tmp_path):
    ro = Database(tmp_path / "none.json", read_only=True)
    with pytest.raises(DatabaseError, match=r"none\.json: no such database"):
        ro.load()
    assert ro.sidecar.read() == {}
    assert os.listdir(tmp_path) == []


# --- files that cannot be read: clear error, never rewritten ------------------------------


def _valid_bytes(tmp_path: Path) -> bytes:
    """A valid format-1 file (the cases below edit its measures documents)."""
    return write_v1(tmp_path / "src.json", small_caseload()).read_bytes()


def _edit(ok: bytes, change) -> bytes:
    data = json.loads(ok)
    change(data)
    return json.dumps(data).encode()


BAD_FILES = {
    "empty": (lambda ok: b"", "the file is empty (0 bytes)"),
    "blank": (lambda ok: b"  \n", "the file is empty (3 bytes)"),
    "truncated": (lambda ok: ok[: len(ok) // 2], "is not valid JSON"),
    "truncated_end": (lambda ok: ok[:-1], "the file is truncated"),
    "not_json": (lambda ok: b"client,clinician\nC-1,T1\n", "is not valid JSON"),
    "not_utf8": (lambda ok: b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8 text"),
    "a_list": (lambda ok: b"[1, 2, 3]", "the top level must be a JSON object"),
    "tinydb_not_ours": (lambda ok: b'{"_default": {"1": {"a": 1}}}', 'no "meta" table'),
    "no_version": (lambda ok: b'{"meta": {"1": {"name": "x"}}}', '"schema_version" must be a whole number'),
    "unknown_table": (lambda ok: ok.replace(b'"goals"', b'"targets"'), "unknown table 'targets'"),
    "bad_doc": (lambda ok: ok.replace(b'"session":2', b'"session":"2"'),
                "table \"measures\", document 2: 'session' must be a whole number >= 1 (got '2')"),
    "bad_vocab": (lambda ok: ok.replace(b'"no_show"', b'"absent"'),
                  "'attendance' must be one of attended, cancelled, no_show (got 'absent')"),
    "unknown_field": (lambda ok: ok.replace(b'"total":20.5', b'"score":20.5'), "unknown field 'score'"),
    "doc_not_object": (lambda ok: _edit(ok, lambda d: d["clients"].update({"1": ["C-1", "T1"]})),
                       'table "clients", document 1: must be a JSON object (got list)'),
    "table_not_object": (lambda ok: _edit(ok, lambda d: d.update(goals=[])),
                         'table "goals" must be a JSON object of documents'),
    "two_meta_docs": (lambda ok: _edit(ok, lambda d: d["meta"].update({"2": {"schema_version": 1}})),
                      'table "meta" must hold exactly one document'),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unreadable_database_is_a_clear_error_and_never_rewritten(tmp_path, case):
    make, expected = BAD_FILES[case]
    content = make(_valid_bytes(tmp_path))
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    for read_only in (True, False):
        d = Database(path, read_only=read_only)
        with pytest.raises(DatabaseError) as info:
            d.load()
        msg = str(info.value)
        assert msg.startswith(f"{path}: cannot read the database: ")
        assert expected in msg
        assert msg.endswith("The file was not changed.")
    d = Database(path)
    with pytest.raises(DatabaseError):
        d.import_parsed(parse_files(FIXTURES / "measures.csv"))
    with pytest.raises(DatabaseError):
        d.replace_caseload(small_caseload())
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "bad.json.lock", "src.json"]


def test_future_schema_version_is_refused(tmp_path):
    data = json.loads(_valid_bytes(tmp_path))
    data["meta"]["1"]["schema_version"] = schema.SCHEMA_VERSION + 1
    data["reviews_v2"] = {}
    path = tmp_path / "future.json"
    content = json.dumps(data).encode()
    path.write_bytes(content)
    with pytest.raises(DatabaseError) as info:
        Database(path, read_only=True).load()
    assert str(info.value) == (
        f"{path}: it was written by a newer supervision-tui (schema version {schema.SCHEMA_VERSION + 1}; "
        f"this version reads up to {schema.SCHEMA_VERSION}). Upgrade supervision-tui to open it. "
        "The file was not changed.")
    with pytest.raises(DatabaseError, match="newer supervision-tui"):
        Database(path).import_parsed(parse_files(FIXTURES / "measures.csv"))
    assert path.read_bytes() == content


def test_a_folder_or_unreadable_path_is_a_clear_error(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(DatabaseError, match="it is a folder"):
        Database(tmp_path / "dir.json").load()


# --- the format ---------------------------------------------------------------------------


def test_file_is_tinydb_compatible_and_documented_shape(db):
    tdb = TinyDB(db.path, access_mode="r")
    try:
        assert set(tdb.tables()) == set(schema.TABLES_BY_VERSION[2])
        assert tdb.table("meta").get(doc_id=1)["schema_version"] == schema.SCHEMA_VERSION == 2
        docs = tdb.table("clients").all()
        assert [d["code"] for d in docs] == sorted(d["code"] for d in docs)
        c01 = docs[0]
        assert c01["code"] == "C-01"
        assert c01["client"] == {"clinician": "T02", "status": "active", "started": "2025-01-06"}
        sessions = c01["sessions"]
        assert sessions["number"][2] == 3 and sessions["attendance"][2] == "no_show"  # the no-show session
        assert sum(sessions["rows"]) == len(c01["rows"]["instrument"])
        assert sum(sum(d["sessions"]["rows"]) for d in docs) == 11  # every rating row of the fixture
    finally:
        tdb.close()
    # one client per line, so the loader can take each client's bytes without parsing the rest
    lines = db.path.read_bytes().split(b"\n")
    assert lines[0].endswith(b'"clients":{') and len(lines) == 1 + len(docs)


def test_replace_caseload_round_trip_and_created_is_kept(tmp_path):
    d = Database(tmp_path / "db.json")
    cl = small_caseload()
    d.replace_caseload(cl)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", d.meta()["created"])
    loaded = d.load()
    assert loaded.name == "unit"
    assert sorted(loaded.ratings, key=lambda r: r.key) == sorted(cl.ratings, key=lambda r: r.key)
    assert loaded.goals == cl.goals
    assert loaded.clinicians == {"T1": Clinician("T1", "supervisor"), "T2": Clinician("T2", None)}
    assert loaded.clients["C-2"] == Client("C-2", "T2")  # derived from its ratings
    data = json.loads(d.path.read_bytes())
    data["meta"]["1"]["created"] = "2020-01-02T03:04:05+00:00"
    d.path.write_bytes(json.dumps(data).encode())
    d.replace_caseload(cl)
    assert d.meta()["created"] == "2020-01-02T03:04:05+00:00"


# --- LockedStore ----------------------------------------------------------------------------


def test_locked_store_transaction_semantics(tmp_path):
    s = LockedStore(tmp_path / "w.json")
    assert s.read() == {}
    with s.transaction() as data:
        pass
    assert not s.path.exists()  # nothing to write: nothing created
    with s.transaction() as data:
        data["a"] = {"1": {"x": 1}}
    assert s.read() == {"a": {"1": {"x": 1}}}
    stamp = s.path.stat().st_mtime_ns
    raw = s.path.read_bytes()
    with s.transaction() as data:
        data["a"]["1"] = {"x": 1}  # same content
    assert s.path.read_bytes() == raw and s.path.stat().st_mtime_ns == stamp
    with pytest.raises(KeyError):
        with s.transaction() as data:
            data["a"]["2"] = {"x": 2}
            raise KeyError("abort")
    assert s.read() == {"a": {"1": {"x": 1}}}  # an exception writes nothing
    with pytest.raises(RuntimeError, match="do not nest"):
        with s.transaction():
            with s.transaction():
                pass
    # another instance (another process, as far as the file knows) sees each commit
    other = LockedStore(s.path)
    with other.transaction() as data:
        data["a"]["3"] = {"x": 3}
    with s.transaction() as data:
        assert set(data["a"]) == {"1", "3"}


def test_locked_store_tinydb_is_fresh_per_transaction(tmp_path):
    s = LockedStore(tmp_path / "w.json")
    with s.tinydb() as tdb:
        assert tdb.table("reviews").insert({"client": "C-1"}) == 1
    # a write by someone else between transactions is seen (TinyDB #331)
    with LockedStore(s.path).tinydb() as tdb:
        assert tdb.table("reviews").insert({"client": "C-2"}) == 2
    with s.tinydb() as tdb:
        assert tdb.table("reviews").insert({"client": "C-3"}) == 3
        assert [d["client"] for d in tdb.table("reviews").all()] == ["C-1", "C-2", "C-3"]
    with pytest.raises(ValueError):
        with s.tinydb() as tdb:
            tdb.table("reviews").truncate()
            raise ValueError
    assert len(s.read()["reviews"]) == 3


def test_locked_store_busy_lock_times_out_clearly(tmp_path):
    from filelock import FileLock

    s = LockedStore(tmp_path / "w.json", timeout=0.2)
    with FileLock(s.lock_path):
        with pytest.raises(DatabaseError, match=r"busy: another process has held its lock \(w\.json\.lock\)"):
            with s.transaction():
                pass


def test_sidecar_write_does_not_touch_the_database(db):
    before = (db.path.stat().st_mtime_ns, db.path.read_bytes())
    for i in range(5):
        with db.sidecar.transaction() as data:
            data.setdefault("reviews", {})[str(i)] = {"client": "C-01", "note": "private"}
    assert (db.path.stat().st_mtime_ns, db.path.read_bytes()) == before
    assert len(Database(db.path, read_only=True).sidecar.read()["reviews"]) == 5


def test_errors_are_user_errors():
    assert issubclass(DatabaseError, UserError)


# --- speed -----------------------------------------------------------------------------------


def test_a_large_caseload_loads_whole_and_a_workflow_save_leaves_it_untouched(tmp_path):
    """Speed is measured by bench/run.py, not asserted here (machines are
    noisy); what a test can check is the design that makes saves cheap: a
    workflow save writes only the sidecar, never the big caseload file."""
    ratings = []
    for c in range(500):
        code, clin = f"C-{c:04d}", f"T{c % 8}"
        for s in range(1, 41):
            d = date(2024, 1, 1) + timedelta(days=7 * s)
            ratings.append(Rating(code, clin, s, d, "attended", "SRS", "client", 30.0 + s % 10, 8.0))
            ratings.append(Rating(code, clin, s, d, "attended", "ORS", "client", 20.5))
    d = Database(tmp_path / "big.json")
    d.replace_caseload(Caseload(ratings=ratings))
    cl = Database(d.path, read_only=True).load()
    assert len(cl.ratings) == 40_000
    before = (d.path.stat().st_mtime_ns, d.path.read_bytes())
    with d.sidecar.transaction() as data:
        data["reviews"] = {"1": {"client": "C-0001"}}
    assert (d.path.stat().st_mtime_ns, d.path.read_bytes()) == before
    assert d.sidecar.read()["reviews"] == {"1": {"client": "C-0001"}}


def test_threads_may_share_a_store(tmp_path):
    import threading

    s = LockedStore(tmp_path / "w.json")

    def work(who: str) -> None:
        for i in range(50):
            with s.transaction() as data:
                data.setdefault("t", {})[f"{who}-{i}"] = i

    threads = [threading.Thread(target=work, args=(f"t{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(s.read()["t"]) == 150


# --- the fast reader --------------------------------------------------------------------------


def _doc_variants():
    """Valid measures documents and damaged ones, one change at a time."""
    base = {"client": "C-0001", "clinician": "T01", "session": 3, "date": "2025-02-03", "instrument": "WAI-SR",
            "rater": "therapist", "total": 44, "goal": 13.5, "task": 15, "bond": 16, "rupture": True,
            "rupture_type": "withdrawal", "risk": False}
    yield dict(base)
    yield {"client": "C-0001", "clinician": "T01", "session": 4, "date": "2025-02-10", "attendance": "no_show"}
    yield {"client": "C-0002", "clinician": "T02", "session": 1, "date": "2025-02-10", "instrument": "SRS",
           "total": 36.5}
    bad_values = {
        "client": [None, 7, "", "C 1", ["C-1"], "x" * 33], "clinician": [None, 1.5, "T 1", {}],
        "session": [0, -1, "2", 2.0, True, None], "date": ["2025-2-3", "2025-02-30", 20250203, None, ["x"]],
        "attendance": [None, "absent", 1, ["attended"]], "instrument": ["XYZ", 3, ["SRS"]],
        "rater": [None, "peer", 0], "total": ["44", True, [1], None], "goal": ["13", False, {}],
        "task": ["x"], "bond": [[]], "rupture": [1, "yes", 0], "rupture_type": ["angry", 2, ["withdrawal"]],
        "risk": [1, "no"],
    }
    for key, values in bad_values.items():
        for v in values:
            doc = dict(base)
            doc[key] = v
            yield doc
    for key in base:
        doc = dict(base)
        del doc[key]
        yield doc
    yield dict(base, score=3)
    yield ["not", "a", "dict"]
    yield None


def test_rating_reader_checks_exactly_like_rating_from_doc():
    from supervision_tui.store.schema import RatingReader, SchemaError, rating_from_doc

    reader = RatingReader()
    for n, doc in enumerate(_doc_variants()):
        for attempt in range(2):  # the second time the values are remembered
            try:
                expected = rating_from_doc(str(n), doc)
            except SchemaError as err:
                with pytest.raises(SchemaError) as info:
                    reader(str(n), doc)
                assert str(info.value) == str(err), doc
            else:
                assert reader(str(n), doc) == expected, doc


def test_rating_reader_keeps_one_copy_of_repeated_values():
    from supervision_tui.store.schema import RatingReader

    reader = RatingReader()
    docs = [json.loads(json.dumps({"client": "C-0001", "clinician": "T01", "session": s, "date": "2025-02-03",
                                   "instrument": "SRS", "total": 36})) for s in range(1, 4)]
    a, b, c = (reader(str(i), d) for i, d in enumerate(docs))
    assert a.client is b.client is c.client and a.clinician is b.clinician and a.date is b.date
    assert a.total is b.total and a.total == 36.0 and type(a.total) is float
