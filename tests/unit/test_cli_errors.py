"""CLI errors a newcomer meets (issue 15): a folder where a file is
expected and a missing file get one form (``PATH: problem``, exit 1); an
impossible ``--as-of`` date says it is not a real date; ``validate`` does
not claim that nothing was written; a failed ``import m.csv m.csv``
leaves no lock file; counts read "1 client", not "1 client(s)"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.wording import count

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(*args: str, cwd: Path | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("command", [
    ["flags", "{dir}"], ["summary", "{dir}"], ["agenda", "{dir}"], ["audit", "{dir}"], ["open", "{dir}"],
    ["validate", "{dir}"], ["import", "{dir}", "{measures}"], ["import", "{tmp}/new.json", "{dir}"],
    ["flags", "{tmp}/db.json", "--config", "{dir}"], ["export", "{dir}", "{tmp}/out"],
])
def test_a_folder_where_a_file_is_expected_is_a_plain_error_with_status_1(tmp_path, command):
    folder = tmp_path / "folder"
    folder.mkdir()
    args = [a.format(dir=folder, tmp=tmp_path, measures=FIXTURES / "measures.csv") for a in command]
    r = run(*args)
    assert r.exit_code == 1, r.output
    assert r.output.strip().startswith(f"{folder}: is a folder, not "), r.output
    assert "Usage:" not in r.output and "Traceback" not in r.output


def test_a_missing_file_has_the_same_form_and_status(tmp_path):
    missing = tmp_path / "nope.json"
    r = run("flags", missing)
    assert r.exit_code == 1
    assert r.output.strip().startswith(f"{missing}: ")
    assert "Usage:" not in r.output


def test_a_file_where_a_folder_is_expected(tmp_path):
    (tmp_path / "db.json").write_text("{}")
    target = tmp_path / "out.txt"
    target.write_text("x")
    r = run("export", tmp_path / "db.json", target)
    assert r.exit_code == 1 and r.output.strip() == f"{target}: is a file, not a folder"


@pytest.mark.parametrize(("value", "says"), [
    ("2026-02-30", "'2026-02-30' is not a real date: February 2026 has 28 days"),
    ("2028-02-30", "'2028-02-30' is not a real date: February 2028 has 29 days"),
    ("2026-04-31", "'2026-04-31' is not a real date: April 2026 has 30 days"),
    ("2026-13-01", "'2026-13-01' is not a real date: there is no month 13"),
    ("2026-00-10", "there is no month 0"),
    ("26-1-1", "'26-1-1' is not a date: write it as YYYY-MM-DD"),
    ("yesterday", "write it as YYYY-MM-DD"),
])
def test_impossible_dates_are_named_as_such(tmp_path, value, says):
    r = run("flags", tmp_path / "db.json", "--as-of", value)
    assert r.exit_code == 2  # wrong usage (interchange.md §4)
    assert says in r.output
    assert "does not match the format" not in r.output


def test_a_real_date_still_works(tmp_path):
    db = tmp_path / "db.json"
    assert run("import", db, FIXTURES / "measures.csv").exit_code == 0
    assert run("flags", db, "--as-of", "2025-01-31").exit_code == 0
    assert run("agenda", db, "--since", "2024-01-01", "--as-of", "2025-01-31").exit_code == 0


def test_validate_reports_errors_without_claiming_to_have_written_nothing(tmp_path):
    bad = tmp_path / "measures.csv"
    text = (FIXTURES / "measures.csv").read_text().splitlines()
    text[1] = text[1].replace(",38,", ",4x,", 1)  # the SRS total of the first row
    bad.write_text("\n".join(text) + "\n")
    r = run("validate", bad)
    assert r.exit_code == 1, r.output
    assert "nothing was written" not in r.output
    assert r.output.strip().splitlines()[-1] == "1 error."
    # the same file in an import still says so: that one would have written
    r = run("import", tmp_path / "db.json", bad)
    assert r.exit_code == 1 and "nothing was written" in r.output
    assert not (tmp_path / "db.json").exists()


@pytest.mark.parametrize("db_name", ["m.csv", "other.csv"])
def test_a_failed_import_into_a_csv_leaves_no_lock_file(tmp_path, db_name):
    measures = tmp_path / "m.csv"
    shutil.copy(FIXTURES / "measures.csv", measures)
    if db_name != "m.csv":
        shutil.copy(FIXTURES / "measures.csv", tmp_path / db_name)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run("import", tmp_path / db_name, measures)
    assert r.exit_code == 1
    assert "nothing was written" in r.output and "import DB.json MEASURES.csv" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no m.csv.lock, nothing else
    assert measures.read_bytes() == (FIXTURES / "measures.csv").read_bytes()


def test_counts_are_singular_or_plural():
    assert count(1, "client") == "1 client"
    assert count(0, "client") == "0 clients"
    assert count(2, "flag") == "2 flags"
    assert count(2, "child", "children") == "2 children"


@pytest.mark.parametrize("command", [["import", "{db}", "{measures}"], ["summary", "{db}"], ["flags", "{db}"]])
def test_a_database_path_in_a_symlink_loop_is_a_plain_error(tmp_path, command):
    # a fault audit: import ended with a traceback (RuntimeError: Symlink loop, from Path.resolve)
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    args = [a.format(db=tmp_path / "a.json", measures=FIXTURES / "measures.csv") for a in command]
    res = run(*args)
    assert res.exit_code == 1, res.output
    assert "Too many levels of symbolic links" in res.output and "Traceback" not in res.output
    assert not isinstance(res.exception, RuntimeError)


UNREADABLE_COMMANDS = [["summary", "{db}"], ["flags", "{db}"], ["effectiveness", "{db}"], ["agenda", "{db}"],
                       ["export", "{db}", "{dir}/out"], ["validate", "{csv}"], ["import", "{dir}/new.json", "{csv}"],
                       ["flags", "{good}", "--config", "{csv}"]]


@pytest.mark.parametrize("command", UNREADABLE_COMMANDS, ids=[c[0] + ("-config" if "--config" in c else "")
                                                                for c in UNREADABLE_COMMANDS])
def test_an_unreadable_file_is_the_readers_plain_error_with_status_1(tmp_path_factory, command):
    """A fault audit: an unreadable database or CSV got Click's usage error (status 2, "Invalid value
    for 'DB'"); it is a plain "cannot read: permission denied" with status 1 like every other reading
    error. Root reads any file, so as root the command runs as ``nobody`` (setpriv)."""
    import os
    import subprocess
    import sys
    import tempfile

    as_nobody: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: root reads any file, no unreadable file to try")
        as_nobody = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if subprocess.run([*as_nobody, sys.executable, "-c", "import supervision_tui"], capture_output=True,
                          timeout=60).returncode != 0:
            pytest.skip("running as root, and nobody cannot run this interpreter or import the project (a "
                        "private folder above it): no other user to be refused the file")
    folder = Path(tempfile.mkdtemp(prefix="unreadable-"))  # (tmp_path's parents are root's 0700 folders)
    try:
        os.chmod(folder, 0o777)
        good = folder / "good.json"
        assert run("import", good, FIXTURES / "measures.csv").exit_code == 0
        os.chmod(good, 0o644)
        db = folder / "db.json"
        shutil.copy(good, db)
        csv = folder / "m.csv"
        shutil.copy(FIXTURES / "measures.csv", csv)
        for p in (db, csv):
            os.chmod(p, 0)
        args = [a.format(db=db, csv=csv, dir=folder, good=good) for a in command]
        env = {**os.environ, "SUPERVISION_TUI_CACHE_DIR": str(folder / "cache"),
               "SUPERVISION_TUI_CONFIG_DIR": str(folder / "config"), "HOME": str(folder)}
        res = subprocess.run([*as_nobody, sys.executable, "-m", "supervision_tui", *args], capture_output=True,
                             text=True, env=env, cwd=folder, timeout=120)
        out = res.stdout + res.stderr
        assert res.returncode == 1, out
        assert "permission denied" in out and ("db.json" in out or "m.csv" in out), out
        assert "Invalid value" not in out and "Traceback" not in out, out
    finally:
        shutil.rmtree(folder, ignore_errors=True)

