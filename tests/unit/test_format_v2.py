"""Database format 2 (store/columnar.py) and the upgrade from format 1
(store/migrate.py): the same content in, the same caseload and the same
analysis out; format-1 files read as they are and upgraded, with a backup,
by the first write only; a killed upgrade loses nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import DatabaseError
from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.reports import tables
from supervision_tui.store import columnar, schema
from supervision_tui.store.csv_io import export_csv, parse_files
from supervision_tui.store.database import Database
from supervision_tui.demo import generate_demo

from v1_helpers import v1_bytes, write_v1

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def odd_caseload() -> Caseload:
    """Content a format-1 file could hold though no import makes it: a
    session whose rows disagree on the date, a client known only from its
    rows, a goal of a client known nowhere else, an unsorted session, a
    therapist rating, every optional field."""
    d1, d2, d3 = date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)
    return Caseload(
        clients={"C-1": Client("C-1", "T1", "paused", d1), "C-3": Client("C-3", "", "closed")},
        clinicians={"T1": Clinician("T1", "supervisor"), "T9": Clinician("T9")},
        ratings=[
            Rating("C-1", "T1", 2, d2, "attended", "WAI-SR", "therapist", 44.0, 15.0, 14.0, 15.0),
            Rating("C-1", "T1", 1, d1, "attended", "SRS", "client", 36.5, 9.0, None, None, True, "withdrawal", True),
            Rating("C-1", "T1", 2, d2, "attended", "SRS", "client", 31.0),
            Rating("C-1", "T2", 2, d3, "attended", "ORS", "client", 20.5),  # same session, other date/clinician
            Rating("C-1", "T1", 3, d3, "no_show"),
            Rating("C-2", "T2", 1, d2, "cancelled", None, "client", None, None, None, None, None, None, False),
            Rating("C-2", "T2", 2, d3, "attended", "PHQ-9", "client", 12.0),
        ],
        goals=[Goal("C-1", "G2", "private text", 2, "partial", "active", 3), Goal("C-1", "G1", "", 1, "agreed"),
               Goal("C-4", "G1", "orphan", 1, "disagreed")],
        name="odd",
    )


def same_records(a: Caseload, b: Caseload, as_of: date | None = None) -> None:
    assert a.records(as_of) == b.records(as_of)


def test_round_trip_keeps_the_whole_caseload(tmp_path):
    for cl in (odd_caseload(), generate_demo(7, n_clients=60)):
        db = Database(tmp_path / f"{cl.name}.json")
        db.replace_caseload(cl)
        back = db.load()
        assert back.name == cl.name
        assert back.clients == {**{c: x for c, x in cl.clients.items()},
                                **{c: back.clients[c] for c in back.clients.keys() - cl.clients.keys()}}
        assert sorted(back.ratings, key=lambda r: (r.key, r.date)) == sorted(cl.ratings, key=lambda r: (r.key, r.date))
        assert sorted(back.goals, key=lambda g: (g.client, g.goal_id)) == sorted(cl.goals,
                                                                                 key=lambda g: (g.client, g.goal_id))
        from_v1 = cl_from_v1(tmp_path, cl)
        for as_of in (None, date(2024, 1, 8), date(2025, 3, 1)):
            same_records(back, from_v1, as_of)
            same_records(back, cl, as_of)
        db.path.unlink()


def cl_from_v1(tmp_path: Path, cl: Caseload) -> Caseload:
    path = write_v1(tmp_path / f"v1-{cl.name}.json", cl)
    try:
        return Database(path, read_only=True).load()
    finally:
        path.unlink()


def test_client_record_equals_caseload_records_per_client(tmp_path):
    """The loader builds one client at a time (columnar.client_record); it
    must be exactly what the engine analyses (known_records: Caseload.records
    less the clients not known yet), for every as-of date."""
    from supervision_tui.rules.engine import known_records

    cl = odd_caseload()
    cl.clients["C-5"] = Client("C-5", "T1", "active", date(2024, 1, 8))  # started, never seen
    docs = columnar.client_docs(cl.clients, cl.ratings, cl.goals)
    for as_of in (None, date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)):
        expected = {r.code: r for r in known_records(cl, as_of)}
        got = {}
        for i, doc in enumerate(docs):
            data = columnar.decode_bytes(str(i), columnar.dumps(doc))
            if columnar.has_record(data, as_of):
                got[data.code] = columnar.client_record(data, as_of)
        assert got == expected, as_of
    fast = [columnar.decode_client("1", d) for d in docs]
    assert fast[0].runs is None  # C-1: a session in two runs takes the general path
    assert fast[1].runs is not None  # C-2: canonical


def test_a_hand_formatted_file_reads_the_same(tmp_path):
    db = Database(tmp_path / "a.json")
    cl = generate_demo(3, n_clients=20)
    db.replace_caseload(cl)
    raw = db.path.read_bytes()
    split = columnar.split_file(raw)
    assert split.fast and len(split.docs) == 20
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(raw), indent=2), "utf-8")  # (TinyDB or an editor)
    whole = columnar.split_file(pretty.read_bytes())
    assert not whole.fast
    assert [(i, json.loads(b)) for i, b in whole.docs] == [(i, json.loads(b)) for i, b in split.docs]
    same_records(Database(pretty, read_only=True).load(), db.load())
    # two documents on one line: still valid JSON, so still read (parsed whole)
    lines = raw.split(b"\n")
    joined = tmp_path / "joined.json"
    joined.write_bytes(b"\n".join([lines[0], lines[1] + lines[2]] + lines[3:]))
    same_records(Database(joined, read_only=True).load(), db.load())


def _parts_of(path: Path, parts: int) -> list[tuple[str, bytes]]:
    out = []
    for k in range(parts):
        share = columnar.read_part(path, k, parts)
        assert share is not None
        with share:
            docs = share.docs(0, len(share))
            assert share.keys == [columnar.content_hash(b) for _i, b in docs]
            # read a chunk at a time, the same documents
            assert [d for a in range(0, len(share), 3) for d in share.docs(a, min(a + 3, len(share)))] == docs
        out += docs
    return out


@pytest.mark.parametrize("parts", [1, 2, 3, 5, 40])
def test_worker_shares_of_a_file_are_every_client_once(tmp_path, parts):
    """``read_part``: the loader's workers' shares (the client lines that
    start in each one's range of the file's bytes) are together exactly
    the documents ``split_checked`` finds, each once, in file order; more
    workers than clients leaves some with none."""
    db = Database(tmp_path / "a.json")
    db.replace_caseload(generate_demo(5, n_clients=25, sessions=6))
    split = columnar.split_checked(db.path.read_bytes())
    assert split is not None and split.fast
    assert _parts_of(db.path, parts) == split.docs
    share = columnar.read_part(db.path, 0, parts)
    with share:
        assert share.head == split.head


def test_a_worker_reads_only_its_share_of_the_file(tmp_path, monkeypatch):
    """The memory a worker needs does not grow with the whole file: it reads
    the head line, the file's last bytes and its own range (a block at a
    time), not the file."""
    db = Database(tmp_path / "a.json")
    db.replace_caseload(generate_demo(6, n_clients=300, sessions=20))
    size = db.path.stat().st_size
    read: list[int] = []
    real = os.pread

    def counting(fd, n, offset):
        data = real(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(columnar.os, "pread", counting)
    monkeypatch.setattr(columnar, "_BLOCK", 1 << 14)
    for k in range(4):
        read.clear()
        share = columnar.read_part(db.path, k, 4)
        with share:
            assert len(share) > 0
            assert sum(read) < 0.25 * size + 3 * (1 << 14)  # its quarter (and a line beyond it), the head, the tail
            read.clear()
            share.docs(0, len(share))
            assert sum(read) < 0.25 * size + (1 << 14)
            assert max(read) < 0.25 * size + (1 << 14)


def test_a_file_written_in_place_while_a_worker_reads_it_is_noticed(tmp_path):
    """The product replaces its files whole (a worker keeps reading the file
    it opened); a file another program writes in place after a worker found
    its share (other size or modification time) makes the worker say so
    (``NotOneDocument``: the loader reads the file again whole) instead of
    decoding bytes that moved."""
    db = Database(tmp_path / "a.json")
    db.replace_caseload(generate_demo(7, n_clients=10, sessions=4))
    share = columnar.read_part(db.path, 0, 2)
    with share:
        assert len(share.docs(0, 2)) == 2
        st = db.path.stat()
        with open(db.path, "r+b") as f:  # (the same length, another byte)
            f.seek(st.st_size // 2)
            f.write(b" ")
        os.utime(db.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        with pytest.raises(columnar.NotOneDocument):
            share.docs(0, 2)
    longer = columnar.read_part(db.path, 1, 2)
    with longer:
        with open(db.path, "ab") as f:  # grown: its size says so
            f.write(b"\n")
        with pytest.raises(columnar.NotOneDocument):
            longer.docs(0, 1)


def test_odd_files_fall_back_to_the_whole_file(tmp_path):
    """Any layout but the product's is parsed whole, and the shares are then
    a part of its documents by count: a hand-indented file, two documents
    on one line (still valid JSON), trailing white space, no client at all;
    a format-1 file, a damaged one or a missing one gives None (the
    database's own reading names the problem)."""
    db = Database(tmp_path / "a.json")
    db.replace_caseload(generate_demo(3, n_clients=12, sessions=4))
    raw = db.path.read_bytes()
    expected = columnar.split_checked(raw).docs
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(raw), indent=2), "utf-8")
    got = _parts_of(pretty, 2)
    assert [(i, json.loads(b)) for i, b in got] == [(i, json.loads(b)) for i, b in expected]
    spaced = tmp_path / "spaced.json"
    spaced.write_bytes(raw + b"\n" * 100)  # (more white space than the tail the reader looks at)
    assert _parts_of(spaced, 3) == expected
    lines = raw.split(b"\n")
    joined = tmp_path / "joined.json"  # (a line of two documents looks like one line: the decoder refuses it)
    joined.write_bytes(b"\n".join([lines[0], lines[1] + lines[2]] + lines[3:]))
    assert [i for i, _b in _parts_of(joined, 2)] == [i for i, _b in columnar.split_checked(joined.read_bytes()).docs]
    # a line that is not one of ours, in one worker's range only: that worker says so (the loader
    # then reads the file whole, in one process: shares by bytes and by count never mix)
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\n".join(lines[:3] + [b"garbage"] + lines[4:]))
    with pytest.raises(columnar.NotOneDocument):
        columnar.read_part(broken, 0, 2)
    assert len(columnar.read_part(broken, 1, 2)) > 0
    empty = Database(tmp_path / "empty.json")
    empty.replace_caseload(Caseload(clients={}, clinicians={}, ratings=[], goals=[], name="e"))
    assert _parts_of(empty.path, 2) == []
    write_v1(tmp_path / "v1.json", generate_demo(3, n_clients=4, sessions=3))
    assert columnar.read_part(tmp_path / "v1.json", 0, 2) is None
    assert columnar.read_part(tmp_path / "missing.json", 0, 2) is None
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(raw[: len(raw) // 2])
    assert columnar.read_part(truncated, 1, 2) is None


@pytest.mark.parametrize("middle", ["pretty", "garbage"])
def test_loader_reads_a_file_with_odd_lines_in_one_half(tmp_path, middle):
    """A file in the product's layout but for a few lines in the first half
    (indented by hand: still valid JSON; or a damaged line): the loader's
    first worker finds it, the load is done again from the whole file in
    one process, and the result is the whole caseload's analysis (never one
    half by bytes and the other by count), or the file's error."""
    from supervision_tui.ui import loader

    db = Database(tmp_path / "a.json")
    cl = generate_demo(4, n_clients=30, sessions=6)
    db.replace_caseload(cl)
    lines = db.path.read_bytes().split(b"\n")
    odd = tmp_path / "odd.json"
    if middle == "pretty":
        doc_line = lines[4]
        key, _, doc = doc_line.partition(b":")
        pretty = json.dumps(json.loads(doc.rstrip(b",")), indent=1).encode()
        odd.write_bytes(b"\n".join(lines[:4] + [key + b":" + pretty + b","] + lines[5:]))
    else:
        odd.write_bytes(b"\n".join(lines[:4] + [b"garbage,"] + lines[5:]))
    req = loader.LoadRequest(str(odd), None, None, use_cache=False)
    if middle == "garbage":
        with pytest.raises(loader.LoaderError, match="odd.json"):
            loader.receive(loader.spawn(req))
        return
    r = loader.receive(loader.spawn(req))
    assert r.analyses == analyse_caseload(Database(odd, read_only=True).load())
    assert len(r.analyses) == len(analyse_caseload(cl))


def v2_bytes(tmp_path: Path) -> bytes:
    db = Database(tmp_path / "src2.json")
    db.replace_caseload(odd_caseload())
    raw = db.path.read_bytes()
    db.path.unlink()
    return raw


def _edit_doc(raw: bytes, code: str, change) -> bytes:
    data = json.loads(raw)
    for doc in data["clients"].values():
        if doc["code"] == code:
            change(doc)
    return columnar.encode_file(data, data["clients"])


BAD_V2 = {
    "session_not_int": (lambda d: d["sessions"]["number"].__setitem__(0, "1"),
                        "sessions.number (row 1): 'number' must be a whole number >= 1 (got '1')"),
    "rows_count_wrong": (lambda d: d["sessions"]["rows"].__setitem__(0, 99), "must have"),
    "column_too_short": (lambda d: d["rows"]["total"].pop(), "rows.total: must have"),
    "score_not_number": (lambda d: d["rows"]["total"].__setitem__(1, "36"),
                         "rows.total (row 2): 'total' must be a number (got '36')"),
    "score_bool": (lambda d: d["rows"]["total"].__setitem__(1, True), "'total' must be a number (got True)"),
    "bad_date": (lambda d: d["sessions"]["date"].__setitem__(0, "2024-13-01"), "must be a date string"),
    "bad_attendance": (lambda d: d["sessions"]["attendance"].__setitem__(0, "absent"),
                       "'attendance' must be one of attended, cancelled, no_show (got 'absent')"),
    "bad_instrument_index": (lambda d: d["rows"]["instrument"].__setitem__(0, 7),
                             "rows.instrument (row 1): must be an index into 'instruments'"),
    "unknown_instrument": (lambda d: d["instruments"].__setitem__(0, "XYZ"), "'instrument' must be one of"),
    "bad_rater": (lambda d: d["rows"].__setitem__("rater", [2] * len(d["rows"]["total"])),
                  "rows.rater (row 1): must be 0 (client) or 1 (therapist) (got 2)"),
    "bad_rupture": (lambda d: d["rows"]["rupture"].__setitem__(0, "yes"), "'rupture' must be true or false"),
    "bad_rupture_type": (lambda d: d["rows"]["rupture_type"].__setitem__(0, "silence"),
                         "'rupture_type' must be one of withdrawal, confrontation"),
    "total_missing": (lambda d: d["rows"]["total"].__setitem__(0, None), "'total' is missing for instrument"),
    "bad_code": (lambda d: d.__setitem__("code", "C 1"), "'code' must be a code"),
    "bad_clinician": (lambda d: d["sessions"]["clinician"].__setitem__(0, "T/1"), "'clinician' must be a code"),
    "unknown_field": (lambda d: d.__setitem__("notes", "x"), "unknown field 'notes'"),
    "column_not_list": (lambda d: d["rows"].__setitem__("total", {"0": 1}), "rows.total: must be a JSON array"),
    "bad_goal": (lambda d: d["goals"][0].__setitem__("agreement", "maybe"), "'agreement' must be one of"),
    # the checks of a format-1 document (store/schema.py, issue 13), in the columns
    "total_out_of_range": (lambda d: set_score(d, "SRS", "total", 41), "'total' must be within 0-40 for SRS (got 41)"),
    "total_negative": (lambda d: set_score(d, "SRS", "total", -1), "'total' must be within 0-40 for SRS"),
    "total_huge": (lambda d: set_score(d, "SRS", "total", 1e308), "'total' must be within 0-40 for SRS"),
    "goal_out_of_range": (lambda d: set_score(d, "SRS", "goal", 11), "'goal' must be within 0-10 for SRS"),
    "not_a_score_of": (lambda d: set_score(d, "SRS", "task", 5), "'task' is not a score of SRS"),
    "not_whole": (lambda d: set_score(d, "WAI-SR", "total", 44.5), "'total' must be a whole number for WAI-SR"),
    "score_without_instrument": (lambda d: set_score(d, None, "total", 3), "'total' needs an instrument"),
    "duplicate_row": (lambda d: d["rows"]["instrument"].__setitem__(row_of(d, "ORS"), row_of(d, "SRS", index=True)),
                      "the same session, instrument and rater as row"),
    "code_not_identifier": (lambda d: d.__setitem__("code", "-C1"), "'code' must be a code of 1-32 characters"),
}


def row_of(doc: dict, inst: str | None, index: bool = False, session: int = 2) -> int:
    """The row of ``inst`` in ``session`` (with ``index``: the instrument's
    index in ``doc["instruments"]`` instead)."""
    insts = doc["instruments"]
    col = doc["rows"]["instrument"]
    rows = [i for i, v in enumerate(col) if (v is None and inst is None) or (v is not None and insts[v] == inst)]
    if index:
        return insts.index(inst)
    return rows[-1] if inst is None else rows[0]


def set_score(doc: dict, inst: str | None, column: str, value) -> None:
    n = len(doc["rows"]["instrument"])
    col = doc["rows"].setdefault(column, [None] * n)
    col[row_of(doc, inst)] = value


@pytest.mark.parametrize("case", sorted(BAD_V2))
def test_a_bad_format_2_document_is_a_clear_error_and_never_rewritten(tmp_path, case):
    change, expected = BAD_V2[case]
    content = _edit_doc(v2_bytes(tmp_path), "C-1", change)
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    for read_only in (True, False):
        with pytest.raises(DatabaseError) as info:
            Database(path, read_only=read_only).load()
        msg = str(info.value)
        assert msg.startswith(f"{path}: cannot read the database: not a valid supervision-tui database: "
                              'table "clients", document 1')
        assert expected in msg, msg
        assert msg.endswith("The file was not changed.")
    with pytest.raises(DatabaseError):
        Database(path).import_parsed(parse_files(FIXTURES / "measures.csv"))
    assert path.read_bytes() == content
    assert not list(tmp_path.glob("*backup*"))


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_a_number_that_is_not_finite_is_refused(tmp_path, literal):
    path = tmp_path / "nan.json"
    raw = v2_bytes(tmp_path)
    path.write_bytes(raw.replace(b'"total":[36.5', b'"total":[' + literal, 1))
    assert path.read_bytes() != raw
    with pytest.raises(DatabaseError, match="'total' must be a finite number"):
        Database(path, read_only=True).load()


def test_text_read_from_a_format_2_file_is_neutralised(tmp_path):
    raw = _edit_doc(v2_bytes(tmp_path), "C-1", lambda d: d["goals"][0].__setitem__(
        "description", "goal \x1b[2J\x1b]0;owned\x07 end\r\nline 2"))
    data = json.loads(raw)
    data["meta"]["1"]["name"] = "clinic\x1b[31m"
    path = tmp_path / "hostile.json"
    path.write_bytes(columnar.encode_file(data, data["clients"]))
    cl = Database(path, read_only=True).load()
    assert {g.description for g in cl.goals if g.client == "C-1"} >= {"goal \u241b[2J\u241b]0;owned\u2407 end\nline 2"}
    assert cl.name == "clinic\u241b[31m"


# --- format 1: read as it is; upgraded by the first write -------------------------------------


def test_a_format_1_file_is_read_without_being_changed(tmp_path):
    cl = odd_caseload()
    path = write_v1(tmp_path / "old.json", cl)
    before = path.read_bytes()
    loaded = Database(path, read_only=True).load()
    same_records(loaded, cl)
    assert Database(path).load().ratings == loaded.ratings  # writable handle: reading still writes nothing
    r = CliRunner().invoke(cli, ["flags", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]  # no lock, no backup, no temporary


def test_the_first_write_upgrades_with_a_backup_and_says_so(tmp_path):
    cl = generate_demo(5, n_clients=30)
    path = write_v1(tmp_path / "team.json", cl)
    v1 = path.read_bytes()
    export_csv(Caseload(ratings=[r for r in cl.ratings if r.client == cl.ratings[0].client]), tmp_path / "csv")
    r = CliRunner().invoke(cli, ["import", str(path), str(tmp_path / "csv" / "measures.csv")])
    assert r.exit_code == 0, r.output
    backup = tmp_path / "team.v1-backup.json"
    assert backup.read_bytes() == v1
    assert os.stat(backup).st_mode & 0o777 == 0o600
    assert f"kept as {backup}" in r.output and "format 2" in r.output
    assert columnar.file_version(path.read_bytes()) == 2
    assert Database(path).meta()["created"] == json.loads(v1)["meta"]["1"]["created"]
    same_records(Database(path).load(), cl)
    # later writes: no second backup
    r = CliRunner().invoke(cli, ["import", str(path), str(tmp_path / "csv" / "measures.csv")])
    assert r.exit_code == 0 and "kept as" not in r.output
    assert sorted(p.name for p in tmp_path.glob("team*")) == ["team.json", "team.json.lock", "team.v1-backup.json"]


def test_a_second_upgrade_never_overwrites_a_backup(tmp_path):
    path = write_v1(tmp_path / "c.json", odd_caseload())
    (tmp_path / "c.v1-backup.json").write_bytes(b"an older backup")
    Database(path).replace_caseload(odd_caseload())
    assert (tmp_path / "c.v1-backup.json").read_bytes() == b"an older backup"
    assert (tmp_path / "c-2.v1-backup.json").read_bytes() == v1_bytes(odd_caseload())


def test_a_failed_backup_upgrades_nothing(tmp_path, monkeypatch):
    from supervision_tui.store import files, migrate

    path = write_v1(tmp_path / "c.json", odd_caseload())
    before = path.read_bytes()

    def fail(p, data, **kw):
        raise files.FileWriteError(f"{p}: cannot write: no space left on the device")

    monkeypatch.setattr(migrate, "write_private_bytes", fail)
    with pytest.raises(DatabaseError, match="backup copy cannot be made"):
        Database(path).replace_caseload(odd_caseload())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.json.lock"]


def test_a_failed_write_after_the_backup_keeps_the_old_file(tmp_path, monkeypatch):
    from supervision_tui.store import database, files

    path = write_v1(tmp_path / "c.json", odd_caseload())
    before = path.read_bytes()

    def fail(p, data, **kw):
        raise files.FileWriteError(f"{p}: cannot write: no space left on the device")

    monkeypatch.setattr(database, "write_private_bytes", fail)
    with pytest.raises(DatabaseError):
        Database(path).replace_caseload(odd_caseload())
    assert path.read_bytes() == before  # still format 1, still readable
    assert (tmp_path / "c.v1-backup.json").read_bytes() == before
    same_records(Database(path, read_only=True).load(), odd_caseload())


UPGRADER = r"""
import sys
from supervision_tui.store.database import Database
from supervision_tui.store.csv_io import parse_files
print("ready", flush=True)
Database(sys.argv[1]).import_parsed(parse_files(sys.argv[2]))
print("done", flush=True)
"""


def test_an_upgrade_killed_at_any_moment_loses_nothing(tmp_path):
    """SIGKILL at random moments of an import that upgrades a format-1
    file: afterwards the database is the old format-1 file, byte for byte,
    or the complete new one with its backup beside it."""
    cl = generate_demo(11, n_clients=150, sessions=20)
    export_csv(Caseload(ratings=[r for r in cl.ratings if r.client == cl.ratings[0].client]), tmp_path / "csv")
    v1 = v1_bytes(cl)
    rng = random.Random(3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes = set()
    for run in range(12):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        path = folder / "db.json"
        path.write_bytes(v1)
        p = subprocess.Popen([sys.executable, "-c", UPGRADER, str(path), str(tmp_path / "csv" / "measures.csv")],
                             env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        p.stdout.close()
        raw = path.read_bytes()
        backups = sorted(folder.glob("*.v1-backup.json"))
        if raw == v1:
            outcomes.add("old")
            assert all(b.read_bytes() == v1 for b in backups)  # at most a complete copy
        else:
            outcomes.add("new")
            assert columnar.file_version(raw) == 2
            assert [b.read_bytes() for b in backups] == [v1]
            same_records(Database(path, read_only=True).load(), cl)
        # whatever happened, the next write completes the upgrade and leaves no partial copy
        Database(path).import_parsed(parse_files(tmp_path / "csv" / "measures.csv"))
        assert columnar.file_version(path.read_bytes()) == 2
        same_records(Database(path, read_only=True).load(), cl)
        assert all(b.read_bytes() == v1 for b in folder.glob("*.v1-backup.json"))
        assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    print(f"killed 12 upgrades: outcomes {sorted(outcomes)}")
    assert outcomes  # (which ones depends on the machine's speed; both are checked when they happen)


# --- the analysis is the same before and after -------------------------------------------------


@pytest.mark.parametrize("make", [lambda: generate_demo(), lambda: generate_demo(2026, n_clients=300, sessions=40)],
                         ids=["demo", "generated-300x40"])
def test_analysis_is_identical_before_and_after_the_upgrade(tmp_path, make):
    cl = make()
    old = write_v1(tmp_path / "c.json", cl)
    runner = CliRunner()
    before = {cmd: runner.invoke(cli, [cmd, str(old), "--json"]).output for cmd in ("flags", "summary")}
    before_asof = runner.invoke(cli, ["summary", str(old), "--json", "--as-of", "2025-06-01"]).output
    v1_analyses = analyse_caseload(Database(old, read_only=True).load())
    Database(old).replace_caseload(Database(old).load())  # the first write: upgraded
    assert columnar.file_version(old.read_bytes()) == 2
    assert (tmp_path / "c.v1-backup.json").exists()
    after = {cmd: runner.invoke(cli, [cmd, str(old), "--json"]).output for cmd in ("flags", "summary")}
    assert after == before
    assert json.loads(after["flags"])  # (not an empty comparison)
    assert runner.invoke(cli, ["summary", str(old), "--json", "--as-of", "2025-06-01"]).output == before_asof
    assert analyse_caseload(Database(old).load()) == v1_analyses
    assert tables.flags_json(v1_analyses) == before["flags"].rstrip("\n")
