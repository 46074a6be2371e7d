"""Issue 13: nothing overwrites the database. Output paths that are the
database, its workflow file, their locks or the audit archive are refused;
a symlinked database is one database; export is all-or-nothing; created
folders are private under any umask; a non-UTF-8 file name is a clear
error; a killed archive writer's temporaries are cleaned."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import UserError
from supervision_tui.model import Caseload, Client, Goal, Rating
from supervision_tui.store import files
from supervision_tui.store.csv_io import export_csv
from supervision_tui.store.database import Database, LockedStore
from supervision_tui.store.reviews import ReviewStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_db(path: Path) -> Database:
    cl = Caseload(
        clients={"C-1": Client("C-1", "T1")},
        ratings=[Rating("C-1", "T1", n, date(2026, 1, 5 + 7 * (n - 1)), instrument="SRS", total=38.0)
                 for n in (1, 2, 3)],
        goals=[Goal("C-1", "G1", "goal", 1, "agreed")],
        name="unit",
    )
    db = Database(path)
    db.replace_caseload(cl)
    return db


@pytest.fixture
def db(tmp_path) -> Database:
    d = make_db(tmp_path / "caseload.json")
    store = ReviewStore(d, user="sup", audit_chunk=1)
    for status in ("discussed", "action", "resolved"):
        store.set_client_review("C-1", status)  # with a chunk of 1: an audit archive exists
    assert store.archive_dir.is_dir() and d.sidecar_path.exists()
    return d


def protected(db: Database) -> list[Path]:
    archive = db.sidecar_path.with_name(db.sidecar_path.stem + ".audit")
    return [db.path, db.sidecar_path, db.store.lock_path, db.sidecar.lock_path, archive,
            next(archive.iterdir())]


def snapshot(db: Database) -> dict[str, str]:
    out = {}
    for p in sorted(db.path.parent.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p)] = sha(p)
    return out


# --- output paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", range(6))
@pytest.mark.parametrize("command", ["agenda", "audit"])
def test_output_paths_that_are_the_database_or_its_files_are_refused(db, tmp_path, which, command):
    target = protected(db)[which]
    before = snapshot(db)
    runner = CliRunner()
    # the same path three ways: as is, relative with "..", through a symlink
    link = tmp_path / "elsewhere"
    link.symlink_to(target)
    os.chdir(tmp_path)
    for out in (target, Path("sub/..") / target.relative_to(tmp_path), link):
        (tmp_path / "sub").mkdir(exist_ok=True)
        res = runner.invoke(cli, [command, str(db.path), "--out", str(out)])
        assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
        if target.is_dir():  # (the archive folder: refused as a folder, like every path error: exit 1)
            assert res.exit_code == 1 and "is a folder" in res.output, (out, res.output)
        else:
            assert res.exit_code == 1 and "refusing to write" in res.output, (out, res.output)
    assert snapshot(db) == before


def test_export_into_the_database_folder_never_replaces_the_database(tmp_path):
    db = make_db(tmp_path / "measures.csv")  # a database that happens to be called like an export file
    before = sha(db.path)
    res = CliRunner().invoke(cli, ["export", str(db.path), str(tmp_path)])
    assert res.exit_code == 1, res.output
    assert "refusing to write" in res.output
    assert sha(db.path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["measures.csv", "measures.csv.lock"]


def test_other_output_paths_still_work(db, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["agenda", str(db.path), "--out", str(tmp_path / "agenda.md")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["audit", str(db.path), "--out", str(tmp_path / "audit.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "agenda.md").read_text().startswith("# Supervision agenda")


def test_the_protected_paths_of_a_database(db):
    assert set(db.owned_paths()) == {p.resolve() for p in protected(db)[:5]}
    for p in protected(db):
        with pytest.raises(UserError, match="refusing to write"):
            db.check_output(p)
    db.check_output(db.path.with_name("other.json"))


# --- one database behind a symlink ---------------------------------------------------------------


def test_a_symlinked_database_is_one_database(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    db = make_db(real_dir / "caseload.json")
    link = tmp_path / "link.json"
    link.symlink_to(db.path)
    via_link = Database(link)
    assert via_link.path == db.path.resolve()
    assert via_link.sidecar_path == db.sidecar_path
    assert via_link.store.lock_path == db.store.lock_path
    # reviews go beside the real file, whichever path was used
    ReviewStore(via_link, user="sup").set_client_review("C-1", "discussed", note="via the link")
    assert db.sidecar_path.exists() and not (tmp_path / "link.workflow.json").exists()
    assert ReviewStore(db).client_review("C-1").review.note == "via the link"
    # import through the link writes the target and keeps the link
    res = CliRunner().invoke(cli, ["import", str(link), str(FIXTURES / "measures.csv")])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and Path(os.readlink(link)) == db.path
    assert len(Database(db.path).load().ratings) == 3 + 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    # the CLI's review, agenda and audit agree too
    runner = CliRunner()
    res = runner.invoke(cli, ["review", str(link), "C-1", "--status", "resolved", "--user", "sup"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["audit", str(db.path)])
    assert res.exit_code == 0 and res.output.count("review.") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]


def test_a_lock_taken_through_the_link_excludes_the_real_path(tmp_path):
    db = make_db(tmp_path / "caseload.json")
    link = tmp_path / "link.json"
    link.symlink_to(db.path)
    with Database(link).store.transaction():
        with pytest.raises(UserError, match="busy"):
            with LockedStore(db.path, timeout=0.05).transaction():
                pass


# --- export: all or nothing --------------------------------------------------------------------


def test_export_is_all_or_nothing_when_the_disk_fills(db, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []
    real = files._write_all

    def full_after_first(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(files, "_write_all", full_after_first)
    with pytest.raises(UserError, match="no space left"):
        export_csv(db.load(), out)
    monkeypatch.undo()
    assert len(calls) == 2
    assert sorted(os.listdir(out)) == []
    # an earlier export in the folder is left whole (--force: replacing it is asked for)
    export_csv(db.load(), out)
    before = {p.name: sha(p) for p in out.iterdir()}
    calls.clear()
    monkeypatch.setattr(files, "_write_all", full_after_first)
    res = CliRunner().invoke(cli, ["export", str(db.path), str(out), "--include-notes", "--force"])
    monkeypatch.undo()
    assert res.exit_code == 1 and "no space left" in res.output
    assert {p.name: sha(p) for p in out.iterdir()} == before


def test_export_failing_at_a_rename_restores_nothing_half(db, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = os.replace
    n = [0]

    def second_rename_fails(src, dst):
        n[0] += 1
        if n[0] == 2:
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(UserError):
        export_csv(db.load(), out)
    monkeypatch.undo()
    assert sorted(os.listdir(out)) == []


# --- private folders under any umask -------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
def test_created_parents_are_private_under_any_umask(tmp_path, monkeypatch, umask):
    from supervision_tui.store.settings_file import save_setting

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    old = os.umask(umask)
    try:
        target = home / ".config" / "supervision-tui" / "settings.toml"
        save_setting(target, "ui", "theme", "clinic-dark")
        deep = tmp_path / "a" / "b" / "c"
        files.ensure_private_dir(deep)
        files.write_private_text(deep / "x.txt", "x")
    finally:
        os.umask(old)
    for d in (home / ".config", home / ".config" / "supervision-tui", tmp_path / "a", tmp_path / "a" / "b", deep):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((deep / "x.txt").stat().st_mode) == 0o600


# --- non-UTF-8 file names -----------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="file names are bytes on POSIX only")
def test_a_database_name_that_is_not_utf8_is_a_clear_error(tmp_path):
    name = os.fsdecode(b"case\xffload.json")
    res = CliRunner().invoke(cli, ["import", str(tmp_path / name), str(FIXTURES / "measures.csv")])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit)
    assert "not valid UTF-8" in res.output and "Traceback" not in res.output
    assert os.listdir(tmp_path) == []
    for args in (["summary", str(tmp_path / name)], ["review", str(tmp_path / name), "C-1", "--status", "new"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1 and "not valid UTF-8" in res.output


# --- killed archive writers ---------------------------------------------------------------------


def test_temporaries_a_killed_archive_writer_left_are_cleaned(db):
    archive = db.sidecar_path.with_name(db.sidecar_path.stem + ".audit")
    stale = archive / ".audit-000000004-000000004.json.0123456789ab.tmp"
    stale.write_bytes(b"half")
    foreign = archive / "notes.txt"  # not ours: left alone
    foreign.write_text("x")
    ReviewStore(db, user="sup").set_client_review("C-1", "discussed")
    assert not stale.exists() and foreign.exists()


def test_private_bytes_written_from_parts(tmp_path):
    """``write_private_bytes`` takes a list of byte strings (the analysis
    cache's entries, written without a joined copy): the file is their
    concatenation, private, written atomically over an old one."""
    path = tmp_path / "parts.bin"
    path.write_bytes(b"old")
    parts = [b"head", bytearray(b"-"), b"x" * 70_000, memoryview(b"tail")]
    files.write_private_bytes(path, parts, durable=False)
    assert path.read_bytes() == b"head-" + b"x" * 70_000 + b"tail"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    files.write_private_bytes(path, [], durable=False)
    assert path.read_bytes() == b""


def test_a_file_written_in_pieces_appears_whole_or_not_at_all(tmp_path):
    """``PrivateFileWriter`` (the analysis cache, written as a load's clients
    arrive): until ``commit`` the old file is there unchanged and the pieces
    are in a private temporary; ``discard`` (or leaving the ``with`` block
    without committing, or an error) removes the temporary."""
    path = tmp_path / "cache.bin"
    path.write_bytes(b"old")
    with files.PrivateFileWriter(path, durable=False) as w:
        w.write(b"new ")
        w.write([b"in ", b"pieces"])
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".cache.bin.")]
        assert len(temps) == 1 and stat.S_IMODE(os.stat(temps[0]).st_mode) == 0o600
        assert path.read_bytes() == b"old"
        assert w.commit() == path
    assert path.read_bytes() == b"new in pieces" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with files.PrivateFileWriter(path, durable=False) as w:
        w.write(b"dropped")
    assert path.read_bytes() == b"new in pieces"
    with pytest.raises(RuntimeError):
        with files.PrivateFileWriter(path) as w:
            w.write(b"half")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"new in pieces"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin"]  # (no temporary left)
    with pytest.raises(files.FileWriteError):
        w.write(b"after the end")


# --- write-protected files and leftovers (a fault audit's findings) ---------------------------------


def test_a_write_protected_database_or_workflow_file_is_not_replaced(db, tmp_path):
    """``chmod 400`` is the owner's word: an atomic write needs only the folder to be writable, so
    the import and the review save replaced both files (and made them 0600). Refused, even as root."""
    measures = tmp_path / "m.csv"
    measures.write_text("client,clinician,session,date,attendance,instrument,rater,total\n"
                        "C-2,T1,1,2026-02-02,attended,SRS,client,37\n")
    for path, args in ((db.path, ["import", str(db.path), str(measures)]),
                       (db.sidecar_path, ["review", str(db.path), "C-1", "--status", "action", "--note", "x"])):
        os.chmod(path, 0o400)
        before = sha(path)
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1, res.output
        assert f"{path}: cannot write: the file is write-protected (mode 0400)" in res.output
        assert "chmod u+w" in res.output and "Traceback" not in res.output
        assert sha(path) == before and stat.S_IMODE(os.stat(path).st_mode) == 0o400
        os.chmod(path, 0o600)
        res = CliRunner().invoke(cli, args)  # writable again: the same command works
        assert res.exit_code == 0, res.output
        assert sha(path) != before


def test_write_protected_export_targets_are_refused_whole(db, tmp_path):
    out = tmp_path / "out"
    export_csv(db.load(), out)
    os.chmod(out / "goals.csv", 0o444)
    before = {p.name: sha(p) for p in out.iterdir()}
    res = CliRunner().invoke(cli, ["export", str(db.path), str(out), "--force"])
    assert res.exit_code == 1 and "goals.csv: cannot write: the file is write-protected (mode 0444)" in res.output
    assert {p.name: sha(p) for p in out.iterdir()} == before


def test_an_export_removes_the_old_temporaries_a_killed_export_left(db, tmp_path):
    """A killed export left ``.measures.csv.<random>.tmp`` (client data) that no later export
    removed: the next export into the folder removes those older than ten minutes; a young one
    may be another export's, still running, and stays."""
    out = tmp_path / "out"
    out.mkdir()
    old = out / ".measures.csv.0123456789ab.tmp"
    young = out / ".goals.csv.ba9876543210.tmp"
    other = out / ".notes.txt.0123456789ab.tmp"  # not a name this export writes
    for p in (old, young, other):
        p.write_text("C-1,...")
    hour_ago = os.stat(old).st_mtime - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    res = CliRunner().invoke(cli, ["export", str(db.path), str(out)])
    assert res.exit_code == 0, res.output
    assert not old.exists() and young.exists() and other.exists()
    assert {"measures.csv", "clients.csv", "goals.csv"} <= set(os.listdir(out))


def test_a_new_file_that_cannot_be_written_is_not_said_to_be_unchanged(tmp_path, monkeypatch):
    # a fault audit: "agenda --out new.md" on a full disk said "the file was not changed" of a file that never was
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_write_all", full)
    new = tmp_path / "new.md"
    with pytest.raises(UserError) as info:
        files.write_private_bytes(new, b"x")
    assert str(info.value) == f"{new}: cannot write: no space left on the device; nothing was written"
    assert os.listdir(tmp_path) == []
    old = tmp_path / "old.md"
    old.write_bytes(b"before")
    with pytest.raises(UserError) as info:
        files.write_private_bytes(old, b"x")
    assert str(info.value).endswith("no space left on the device; the file was not changed")
    assert old.read_bytes() == b"before"


def test_a_write_protected_v1_database_gets_no_backup_copy(tmp_path):
    """A second read: the refusal came only when the new file was written, after the upgrade hook
    had copied the format-1 file to a backup beside it: every refused import left one more copy of
    the client data (db.v1-backup.json, db-2.v1-backup.json ...)."""
    from v1_helpers import write_v1

    cl = make_db(tmp_path / "src.json").load()
    db = write_v1(tmp_path / "db.json", cl)
    os.chmod(db, 0o400)
    measures = tmp_path / "m.csv"
    measures.write_text("client,clinician,session,date,attendance,instrument,rater,total\n"
                        "C-2,T1,1,2026-02-02,attended,SRS,client,37\n")
    for _ in range(2):
        res = CliRunner().invoke(cli, ["import", str(db), str(measures)])
        assert res.exit_code == 1 and "write-protected (mode 0400)" in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == []


def test_a_write_protected_workflow_file_gets_no_audit_archive(db):
    """The same for the workflow file: an audit rotation wrote its archive before the refused save."""
    store = ReviewStore(db, user="sup", audit_chunk=1)
    archive = store.archive_dir
    before = sorted(os.listdir(archive))
    os.chmod(db.sidecar_path, 0o400)
    with pytest.raises(UserError, match="write-protected"):
        store.set_client_review("C-1", "dismissed")
    assert sorted(os.listdir(archive)) == before
    os.chmod(db.sidecar_path, 0o600)
    store.set_client_review("C-1", "dismissed")
    assert len(os.listdir(archive)) > len(before)
