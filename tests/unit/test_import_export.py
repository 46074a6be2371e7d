"""Import and export (interchange.md §4): valid import, idempotent
re-import, updates reported, export -> import round trip, and an invalid
file writes nothing. A few cases run the real CLI in a subprocess."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import ValidationFailed
from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating
from supervision_tui.store import files as store_files
from supervision_tui.store.csv_io import export_csv, parse_files
from supervision_tui.store.database import Database

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
M, C, G = FIXTURES / "measures.csv", FIXTURES / "clients.csv", FIXTURES / "goals.csv"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supervision_tui", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def import_fixtures(db: Path) -> Database:
    database = Database(db)
    database.import_parsed(parse_files(M, clients=C, goals=G))
    return database


def canon(cl: Caseload) -> tuple:
    """A caseload as comparable, order-independent values."""
    return (
        sorted(cl.ratings, key=lambda r: (r.client, r.session, r.key)),
        sorted(cl.clients.values(), key=lambda c: c.code),
        sorted(cl.goals, key=lambda g: (g.client, g.goal_id)),
        sorted(cl.clinicians),
    )


# --- end to end through the real CLI --------------------------------------------------


def test_cli_import_validate_export_end_to_end(tmp_path):
    db = tmp_path / "caseload.json"
    out = run_cli("validate", M, C, G, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK: ")

    out = run_cli("import", db, M, "--clients", C, "--goals", G, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "(new database)" in out.stdout
    assert "measures:   11 added, 0 updated, 0 unchanged" in out.stdout
    assert "clients:    3 added, 0 updated, 0 unchanged" in out.stdout
    assert "goals:      4 added, 0 updated, 0 unchanged" in out.stdout
    assert os.stat(db).st_mode & 0o777 == 0o600

    before = sha(db)
    out = run_cli("import", db, M, "--clients", C, "--goals", G, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "nothing changed" in out.stdout
    assert "measures:   0 added, 0 updated, 11 unchanged" in out.stdout
    assert sha(db) == before  # not even rewritten

    out = run_cli("export", db, tmp_path / "out", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(tmp_path / "out" / n) for n in ("measures.csv", "clients.csv", "goals.csv")]


def test_cli_invalid_file_writes_nothing_and_prints_every_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(M.read_text().replace("C-01,T01,1,2025-01-06,attended,SRS,client,38",
                                         "C-01,T01,1,2025-01-06,attended,SRS,client,48")
                   .replace("C-02,T02,2,2025-01-14,cancelled", "C-02,T02,2,2025-01-14,canceled"))
    db = tmp_path / "new.json"
    out = run_cli("import", db, bad, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"{bad}:2: total: must be within 0-40 for SRS (got 48)",
        f"{bad}:11: attendance: must be one of attended, cancelled, no_show or empty (got canceled)",
        "2 errors; nothing was written.",
    ]
    assert "Traceback" not in out.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]  # no database, no lock, no temp file

    existing = tmp_path / "existing.json"
    import_fixtures(existing)
    before = sha(existing)
    out = run_cli("import", existing, bad, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert sha(existing) == before


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00\x00garbage", b'client,"unterminated\n', b"\x00\x01\x02"])
def test_cli_never_prints_a_traceback_for_bad_input(tmp_path, content):
    f = tmp_path / "x.csv"
    f.write_bytes(content)
    for args in (("validate", f), ("import", tmp_path / "db.json", f)):
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode == 1, out
        assert "Traceback" not in out.stderr and out.stderr.strip()
    assert not (tmp_path / "db.json").exists()


def test_cli_usage_errors_exit_2(tmp_path):
    out = run_cli("import", tmp_path / "db.json", cwd=tmp_path)
    assert out.returncode == 2


# --- import semantics ---------------------------------------------------------------------


def test_valid_import_content(tmp_path):
    cl = import_fixtures(tmp_path / "db.json").load()
    assert len(cl.ratings) == 11
    wai = next(r for r in cl.ratings if r.instrument == "WAI-SR" and r.rater == "therapist")
    assert (wai.total, wai.goal, wai.task, wai.bond) == (48.0, 15.0, 16.0, 17.0)  # total = sum
    assert cl.clients["C-02"] == Client("C-02", "T02", "paused", date(2025, 1, 7))
    assert cl.clients["C-03"] == Client("C-03", "T01", "active", None)  # listed without measures
    assert set(cl.clinicians) == {"T01", "T02"}
    assert [g.goal_id for g in cl.goals if g.client == "C-01"] == ["G1", "G2"]
    assert cl.goals[2].description == 'Fewer panic attacks, fewer "bad days"'
    rec = {r.code: r for r in cl.records()}
    assert rec["C-01"].client.clinician == "T02"  # transfer: the latest session's clinician
    assert [s.number for s in rec["C-01"].sessions] == [1, 2, 3, 4]


def test_measures_only_clients_are_created_active_with_latest_clinician(tmp_path):
    db = Database(tmp_path / "db.json")
    report = db.import_parsed(parse_files(M))
    assert (report.clients.added, report.clients.updated) == (2, 0)
    assert db.load().clients["C-01"] == Client("C-01", "T02", "active", None)


def test_idempotent_reimport_and_partial_reimport(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    before = sha(db.path)
    report = db.import_parsed(parse_files(M, clients=C, goals=G))
    assert (report.measures.added, report.measures.updated, report.measures.unchanged) == (0, 0, 11)
    assert (report.goals.unchanged, report.clients.unchanged) == (4, 3)
    assert not report.written and not report.updates
    assert sha(db.path) == before
    assert len(db.load().ratings) == 11

    # a file with only some rows: those are unchanged, the others stay
    some = tmp_path / "some.csv"
    some.write_text("".join(M.read_text().splitlines(keepends=True)[:3]))
    report = db.import_parsed(parse_files(some))
    assert (report.measures.added, report.measures.unchanged) == (0, 2)
    assert (report.clients.added, report.clients.unchanged) == (0, 1)  # the one client of those rows
    assert len(db.load().ratings) == 11


def test_a_changed_value_is_reported_as_an_update(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    changed = tmp_path / "m2.csv"
    changed.write_text(M.read_text().replace("C-01,T01,2,2025-01-13,attended,SRS,client,31,7,,,yes,withdrawal,",
                                             "C-01,T01,2,2025-01-13,attended,SRS,client,33,7,,,no,,")
                       + "C-01,T02,5,2025-02-03,attended,SRS,client,39,,,,,,\n")
    report = db.import_parsed(parse_files(changed))
    assert (report.measures.added, report.measures.updated, report.measures.unchanged) == (1, 1, 10)
    assert report.updates == ["C-01 session 2 SRS (client): total 31 -> 33, rupture yes -> no, "
                              "rupture_type withdrawal -> empty"]
    assert "Updated:\n  C-01 session 2 SRS (client): total 31 -> 33" in report.summary()
    r = next(r for r in db.load().ratings if r.key == ("C-01", 2, "SRS", "client"))
    assert (r.total, r.rupture, r.rupture_type) == (33.0, False, None)


def _import_text(db: Database, path: Path, text: str):
    """Write ``text`` to ``path`` and import it into ``db``: its report."""
    path.write_text(text)
    return db.import_parsed(parse_files(path))


def test_a_file_without_a_column_keeps_the_stored_values_of_that_column(tmp_path):
    """A later file that leaves out ``risk`` and ``rupture`` says nothing about
    them: a stored ``yes`` stays (the active risk flag stays); a file with
    the column, even empty, replaces the value and reports it."""
    from supervision_tui.rules.engine import analyse_caseload

    db = Database(tmp_path / "r.json")
    first = tmp_path / "r1.csv"
    _import_text(db, first, "client,clinician,session,date,instrument,total,risk,rupture\n"
                            "R1,T1,1,2026-01-05,PHQ-9,12,yes,yes\n")
    narrow = tmp_path / "r3.csv"
    report = _import_text(db, narrow, "client,clinician,session,date,instrument,total\nR1,T1,1,2026-01-05,PHQ-9,12\n")
    assert (report.measures.updated, report.measures.unchanged) == (0, 1) and not report.updates
    (r,) = db.load().ratings
    assert (r.risk, r.rupture) == (True, True)
    assert any(f.kind == "risk" for a in analyse_caseload(db.load()) for f in a.flags)
    # a new total, the columns still left out: the total changes, risk and rupture stay
    report = _import_text(db, narrow, "client,clinician,session,date,instrument,total\nR1,T1,1,2026-01-05,PHQ-9,14\n")
    assert report.updates == ["R1 session 1 PHQ-9 (client): total 12 -> 14"]
    (r,) = db.load().ratings
    assert (r.total, r.risk, r.rupture) == (14.0, True, True)
    # the column there and empty: the file's word ("not asked"), reported
    explicit = tmp_path / "r4.csv"
    report = _import_text(db, explicit, "client,clinician,session,date,instrument,total,risk\n"
                                        "R1,T1,1,2026-01-05,PHQ-9,14,\n")
    assert report.updates == ["R1 session 1 PHQ-9 (client): risk yes -> empty"]
    (r,) = db.load().ratings
    assert (r.risk, r.rupture) == (None, True)


def test_subscales_a_file_leaves_out_stay_only_with_their_total(tmp_path):
    """A WAI-SR row's goal, task and bond are kept when a later file gives
    the same total without them, and dropped (reported) when the total
    changes: a total must agree with its subscales."""
    db = Database(tmp_path / "w.json")
    full = tmp_path / "w1.csv"
    _import_text(db, full, "client,clinician,session,date,instrument,total,goal,task,bond,attendance\n"
                           "W1,T1,1,2026-01-05,WAI-SR,45,15,15,15,attended\n")
    totals = tmp_path / "w2.csv"
    report = _import_text(db, totals, "client,clinician,session,date,instrument,total\n"
                                      "W1,T1,1,2026-01-05,WAI-SR,45\n")
    assert not report.updates
    (r,) = db.load().ratings
    assert (r.total, r.goal, r.task, r.bond) == (45.0, 15.0, 15.0, 15.0)
    report = _import_text(db, totals, "client,clinician,session,date,instrument,total\n"
                                      "W1,T1,1,2026-01-05,WAI-SR,48\n")
    assert report.updates == ["W1 session 1 WAI-SR (client): total 45 -> 48, goal 15 -> empty, task 15 -> empty, "
                              "bond 15 -> empty"]
    (r,) = db.load().ratings
    assert (r.total, r.goal, r.task, r.bond) == (48.0, None, None, None)
    # the same total with one subscale changed: the others would no longer add up, so they go too
    _import_text(db, full, "client,clinician,session,date,instrument,total,goal,task,bond,attendance\n"
                           "W1,T1,1,2026-01-05,WAI-SR,40,14,13,13,attended\n")
    some = tmp_path / "w3.csv"
    report = _import_text(db, some, "client,clinician,session,date,instrument,total,goal\n"
                                    "W1,T1,1,2026-01-05,WAI-SR,40,15\n")
    assert report.updates == ["W1 session 1 WAI-SR (client): goal 14 -> 15, task 13 -> empty, bond 13 -> empty"]
    (r,) = db.load().ratings
    assert (r.total, r.goal, r.task, r.bond) == (40.0, 15.0, None, None)


def test_a_huge_session_number_is_refused_by_validate_and_import(tmp_path):
    """A session number past 2^64 passed ``validate`` and then ended
    ``import`` with a traceback (the JSON writer refuses such integers) and
    a lock file left behind. Both refuse it now, naming file, line and
    value; nothing is written."""
    huge = tmp_path / "huge.csv"
    huge.write_text("client,clinician,session,date,attendance,instrument,rater,total,goal,task,bond,rupture,"
                    "rupture_type,risk\nC5,T1,99999999999999999999999999,2026-01-05,attended,SRS,client,38,,,,,,\n")
    for args in (["validate", str(huge)], ["import", str(tmp_path / "huge.json"), str(huge)]):
        r = subprocess.run([sys.executable, "-m", "supervision_tui", *args], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "HOME": str(tmp_path)})
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        out = r.stdout + r.stderr
        assert "huge.csv:2: session: must be a whole number from 1 to 1,000,000 (got 99999999999999999999999999)" in out
        assert "Traceback" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.csv"]


def test_client_and_goal_updates_are_reported(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    c2 = tmp_path / "c2.csv"
    c2.write_text(C.read_text().replace("C-02,T02,paused", "C-02,T02,closed"))
    g2 = tmp_path / "g2.csv"
    g2.write_text(G.read_text().replace("C-01,G2,Return to work part-time,2,partial,active,",
                                        "C-01,G2,Return to work part-time,2,agreed,active,5"))
    report = db.import_parsed(parse_files(M, clients=c2, goals=g2))
    assert (report.clients.updated, report.goals.updated) == (1, 1)
    assert "client C-02: status paused -> closed" in report.updates
    assert "goal G2 of C-01: agreement partial -> agreed, reviewed_session empty -> 5" in report.updates


def test_import_checks_sessions_against_the_database(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    before = sha(db.path)
    extra = tmp_path / "extra.csv"
    extra.write_text("client,clinician,session,date,instrument,total\n"
                     "C-01,T01,2,2025-01-14,ORS,20\n"   # session 2 is on 2025-01-13 in the database
                     "C-01,T02,6,2025-01-20,ORS,20\n"   # before session 4 (2025-01-27)
                     "C-02,T01,3,2025-01-21,ORS,20\n")  # session 3 of C-02 is with T02
    with pytest.raises(ValidationFailed) as info:
        db.import_parsed(parse_files(extra))
    assert info.value.errors == [
        f"{extra}:2: date: session 2 of C-01 has date 2025-01-13 in the database (got 2025-01-14)",
        f"{extra}:3: date: session 6 of C-01 is dated before session 4 (2025-01-27, in the database) "
        "(got 2025-01-20)",
        f"{extra}:4: clinician: session 3 of C-02 is with T02 in the database (got T01)",
    ]
    assert sha(db.path) == before


def test_a_corrected_date_of_a_whole_session_is_an_update(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(M.read_text().replace("C-01,T01,3,2025-01-20", "C-01,T01,3,2025-01-21"))
    report = db.import_parsed(parse_files(fixed))
    assert report.measures.updated == 1
    assert report.updates == ["C-01 session 3 no instrument (client): date 2025-01-20 -> 2025-01-21"]


def test_goal_for_a_client_known_only_to_the_database(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    header = "client,clinician,session,date\n"
    m = tmp_path / "m.csv"
    m.write_text(header)
    g = tmp_path / "g.csv"
    g.write_text("client,goal_id,set_session,agreement\nC-03,G9,1,partial\nC-77,G1,1,agreed\n")
    before = sha(db.path)
    with pytest.raises(ValidationFailed) as info:
        db.import_parsed(parse_files(m, goals=g))
    assert info.value.errors == [f"{g}:3: client: not in the measures or clients file, nor in the database "
                                 "(got C-77)"]
    assert sha(db.path) == before
    g.write_text("client,goal_id,set_session,agreement\nC-03,G9,1,partial\n")
    report = db.import_parsed(parse_files(m, goals=g))
    assert report.goals.added == 1


def test_an_import_with_errors_is_checked_against_the_database_in_the_same_run(tmp_path):
    # rows with an error whose client, session, instrument and rater are valid take part in the checks
    # across rows and against the database; the files' errors and those checks are listed in one run
    db = import_fixtures(tmp_path / "db.json")
    before = sha(db.path)
    extra = tmp_path / "extra.csv"
    extra.write_text("client,clinician,session,date,instrument,total\n"
                     "C-01,T01,2,2025-01-14,ORS,41\n"   # out of range; session 2 is on 2025-01-13 in the database
                     "C-01,T01,2,2025-01-13,ORS,20\n"   # the same client, session, instrument and rater as line 2
                     "C-02,T01,3,2025-01-21,ORS,20\n")  # session 3 of C-02 is with T02
    g = tmp_path / "g.csv"
    g.write_text("client,goal_id,set_session,agreement\nC-01,G9,1,yes\nC-77,G1,1,agreed\n")
    expected = [
        f"{extra}:2: total: must be within 0-40 for ORS (got 41)",
        f"{extra}:2: date: session 2 of C-01 has date 2025-01-13 in the database (got 2025-01-14)",
        f"{extra}:3: instrument: same client, session, instrument and rater as line 2 (got ORS)",
        f"{extra}:4: clinician: session 3 of C-02 is with T02 in the database (got T01)",
        f"{g}:2: agreement: must be one of agreed, partial, disagreed (got yes)",
        f"{g}:3: client: not in the measures or clients file, nor in the database (got C-77)",
    ]
    with pytest.raises(ValidationFailed) as info:
        db.import_parsed(parse_files(extra, goals=g, keep_errors=True))
    assert info.value.errors == expected
    res = CliRunner().invoke(cli, ["import", str(db.path), str(extra), "--goals", str(g)])
    assert res.exit_code == 1
    assert res.output.splitlines() == expected + ["6 errors; nothing was written."]
    assert sha(db.path) == before
    # the default stays: parse_files raises with the files' own errors
    with pytest.raises(ValidationFailed) as info:
        parse_files(extra, goals=g)
    assert info.value.errors == [expected[0], expected[2], expected[4]]


def test_an_import_with_errors_creates_nothing_and_reads_no_damaged_database(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("client,clinician,session,date,instrument,total\nC-01,T01,1,2025-01-06,SRS,41\n"
                   "C-01,T01,1,2025-01-06,SRS,30\n")
    errors = [f"{bad}:2: total: must be within 0-40 for SRS (got 41)",
              f"{bad}:3: instrument: same client, session, instrument and rater as line 2 (got SRS)",
              "2 errors; nothing was written."]
    res = CliRunner().invoke(cli, ["import", str(tmp_path / "new" / "folder" / "db.json"), str(bad)])
    assert res.exit_code == 1 and res.output.splitlines() == errors
    assert not (tmp_path / "new").exists()
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{")
    # the checks that need the database are left out; the files' errors are listed as without it
    res = CliRunner().invoke(cli, ["import", str(damaged), str(bad)])
    assert res.exit_code == 1 and res.output.splitlines() == errors
    assert damaged.read_text() == "{"


def test_a_new_database_can_be_created_in_a_new_folder(tmp_path):
    db = Database(tmp_path / "new" / "folder" / "db.json")
    db.import_parsed(parse_files(M))
    assert os.stat(tmp_path / "new").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path / "new" / "folder").st_mode & 0o777 == 0o700


# --- export ------------------------------------------------------------------------------


def test_export_import_round_trip_is_equal(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    original = db.load()
    files = export_csv(original, tmp_path / "out", include_notes=True)
    assert [f.name for f in files] == ["measures.csv", "clients.csv", "goals.csv"]
    copy = Database(tmp_path / "copy.json")
    copy.import_parsed(parse_files(*files[:1], clients=files[1], goals=files[2]))
    assert canon(copy.load()) == canon(original)
    # and the exported files are a fixed point: exporting the copy gives the same bytes
    again = export_csv(copy.load(), tmp_path / "out2", include_notes=True)
    assert [f.read_bytes() for f in again] == [f.read_bytes() for f in files]


def test_round_trip_of_generated_caseload_with_every_field(tmp_path):
    ratings = [
        Rating("A", "T1", 1, date(2024, 1, 1), "attended", "SRS", "client", 35.3, 8.25, None, None, True,
               "confrontation", None),
        Rating("A", "T1", 1, date(2024, 1, 1), "attended", "WAI-SR", "therapist", 47.0, 15.0, 16.0, 16.0),
        Rating("A", "T1", 2, date(2024, 1, 8), "no_show"),
        # ORS: a decimal scale (PHQ-9 and GAD-7 totals are whole numbers)
        Rating("A", "T1", 3, date(2024, 1, 15), "cancelled", "ORS", "client", 0.1 + 0.2, risk=True),
        Rating("A", "T1", 3, date(2024, 1, 15), "cancelled", "PHQ-9", "client", 12.0, risk=True),
        Rating("B", "T2", 1, date(2024, 2, 1), "attended", "GAD-7", "client", 21.0, risk=False),
        Rating("B", "T2", 2, date(2024, 2, 8), "attended", "ORS", "client", 1e-05),  # written 0.00001
    ]
    cl = Caseload(clients={"A": Client("A", "T1", "dropped_out", date(2023, 12, 30))},
                  clinicians={"T1": Clinician("T1", "trainee")}, ratings=ratings,
                  goals=[Goal("A", "g-1", "private, with \"quotes\"\nand a newline", 1, "partial", "dropped", 3)])
    src = Database(tmp_path / "src.json")
    src.replace_caseload(cl)
    files = export_csv(src.load(), tmp_path / "out", include_notes=True)
    dst = Database(tmp_path / "dst.json")
    dst.import_parsed(parse_files(files[0], clients=files[1], goals=files[2]))
    a, b = canon(src.load()), canon(dst.load())
    assert a[:3] == b[:3]
    assert [r.total for r in b[0] if r.instrument == "ORS"] == [0.1 + 0.2, 1e-05]  # floats survive exactly
    assert "0.00001" in files[0].read_text("utf-8")  # no exponent: import refuses one
    # roles are not part of any CSV: the copy knows the clinicians, not their roles
    assert dst.load().clinicians["T1"] == Clinician("T1", None)


def test_export_without_notes_keeps_descriptions_on_reimport(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    files = export_csv(db.load(), tmp_path / "out")
    text = files[2].read_text()
    assert "Sleep" not in text and "panic" not in text
    assert text.splitlines()[1] == "C-01,G1,,1,agreed,active,4"
    before = sha(db.path)
    report = db.import_parsed(parse_files(files[0], clients=files[1], goals=files[2]))
    assert (report.goals.unchanged, report.goals.updated) == (4, 0)
    assert sha(db.path) == before
    # into a fresh database the descriptions are (documented) lost
    fresh = Database(tmp_path / "fresh.json")
    fresh.import_parsed(parse_files(files[0], clients=files[1], goals=files[2]))
    assert {g.description for g in fresh.load().goals} == {""}


def test_export_one_clinician(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    files = export_csv(db.load(), tmp_path / "out", clinician="T01")
    # C-01 moved to T02 at session 4; only C-03 (no sessions, clients file says T01) is T01's
    assert files[0].read_text().count("\n") == 1
    assert files[1].read_text().splitlines()[1:] == ["C-03,T01,active,"]
    assert files[2].read_text().splitlines()[1:] == ["C-03,G1,,1,agreed,achieved,"]
    files = export_csv(db.load(), tmp_path / "out", clinician="T02", force=True)  # (replaces T01's files)
    lines = files[0].read_text().splitlines()
    assert len(lines) == 12 and lines[1].startswith("C-01,T01,1,")  # all rows of T02's clients


def test_export_files_are_private(tmp_path):
    db = import_fixtures(tmp_path / "db.json")
    for f in export_csv(db.load(), tmp_path / "out", include_notes=True):
        assert os.stat(f).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "out").st_mode & 0o777 == 0o700


def test_cli_export_errors_are_clear(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["export", str(tmp_path / "missing.json"), str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "no such database" in res.output
    db = import_fixtures(tmp_path / "db.json")
    (tmp_path / "afile").write_text("x")
    res = runner.invoke(cli, ["export", str(db.path), str(tmp_path / "afile" / "out")])
    assert res.exit_code == 1, res.output
    assert "cannot create the folder" in res.output
    assert isinstance(res.exception, SystemExit)  # a clean exit, not a traceback


def test_cli_export_never_replaces_earlier_files_without_force(tmp_path):
    """An export into a folder holding measures.csv, clients.csv or
    goals.csv (an earlier export, perhaps of another database) is refused
    with status 1, naming them, and writes nothing; --force replaces them
    (still 0o600, all three)."""
    one, two = import_fixtures(tmp_path / "one.json"), Database(tmp_path / "two.json")
    two.import_parsed(parse_files(M))
    out = tmp_path / "out1"
    first = run_cli("export", one.path, out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (out / "measures.csv").write_text("MY ORIGINAL\n")
    before = {p.name: sha(p) for p in out.iterdir()}

    refused = run_cli("export", two.path, out, cwd=tmp_path)
    assert refused.returncode == 1
    names = ", ".join(str(out / n) for n in ("measures.csv", "clients.csv", "goals.csv"))
    assert refused.stderr == (f"{names}: exist already (an earlier export?); nothing was written. Export into "
                              "another folder, or add --force to replace them\n")
    assert refused.stdout == "" and "Traceback" not in refused.stderr
    assert {p.name: sha(p) for p in out.iterdir()} == before  # no temporary left either
    assert (out / "measures.csv").read_text() == "MY ORIGINAL\n"

    # one file left: only it is named, and the two missing ones are not written either
    (out / "clients.csv").unlink()
    (out / "goals.csv").unlink()
    res = CliRunner().invoke(cli, ["export", str(two.path), str(out)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert res.output == (f"{out / 'measures.csv'}: exists already (an earlier export?); nothing was written. "
                          "Export into another folder, or add --force to replace it\n")
    assert sorted(os.listdir(out)) == ["measures.csv"]

    forced = run_cli("export", two.path, out, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.split() == [str(out / n) for n in ("measures.csv", "clients.csv", "goals.csv")]
    assert sorted(os.listdir(out)) == ["clients.csv", "goals.csv", "measures.csv"]
    for name in ("measures.csv", "clients.csv", "goals.csv"):
        assert os.stat(out / name).st_mode & 0o777 == 0o600
    assert (out / "measures.csv").read_bytes() == export_csv(two.load(), tmp_path / "ref")[0].read_bytes()
    assert "--force" in CliRunner().invoke(cli, ["export", "--help"]).output


def test_export_never_replaces_a_file_made_while_it_writes(tmp_path, monkeypatch):
    """A goals.csv that appears after the first check (another process) is
    not replaced either: the export fails naming it, and the names it had
    already claimed are released (nothing of it is left)."""
    db = import_fixtures(tmp_path / "db.json")
    out = tmp_path / "out"
    out.mkdir()
    real = store_files._write_new

    def another_writer(tmp, path, data):
        real(tmp, path, data)
        if path.name == "clients.csv":
            (out / "goals.csv").write_text("theirs\n")

    monkeypatch.setattr(store_files, "_write_new", another_writer)
    with pytest.raises(store_files.FilesExist) as info:
        export_csv(db.load(), out)
    assert info.value.paths == [out / "goals.csv"]
    assert sorted(os.listdir(out)) == ["goals.csv"]
    assert (out / "goals.csv").read_text() == "theirs\n"


def test_cli_import_missing_measures_file(tmp_path):
    res = CliRunner().invoke(cli, ["import", str(tmp_path / "db.json"), str(tmp_path / "nope.csv")])
    assert res.exit_code == 1
    assert res.output.strip() == f"{tmp_path / 'nope.csv'}: cannot read: no such file"
    assert not (tmp_path / "db.json").exists()

