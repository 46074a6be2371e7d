"""Vendor CSV exports through a mapping (``import --map``): wide → long,
value maps, dates, errors naming the export's file, line, column and
value, the mapping file checked like the settings, and the CLI."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import ValidationFailed
from supervision_tui.store.database import Database
from supervision_tui.store.mapping import MappingError, bundled_mappings, load_mapping, read_mapped

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "mapping"
OPENFIT, MIRAH = FIX / "openfit_sessions.csv", FIX / "mirah_observations.csv"

WIDE = """
[mapping]
name = "Test wide"
date_format = "%d/%m/%Y"

[columns]
client = "Client ID"
clinician = "Therapist"
session = "Session #"
date = "Date"
attendance = "Status"

[values.attendance]
"Attended" = "attended"
"Did not attend" = "no_show"
"Cancelled" = "cancelled"

[values.risk]
"0" = "no"
"1" = "yes"
"2" = "yes"
"3" = "yes"

[[measures]]
instrument = "ORS"
total = "ORS"

[[measures]]
instrument = "SRS"
total = "SRS"
goal = "SRS goals"

[[measures]]
instrument = "PHQ-9"
total = "PHQ9"
risk = "PHQ9 item 9"
"""

HEADER = "Client ID,First name,Therapist,Session #,Date,Status,ORS,SRS,SRS goals,PHQ9,PHQ9 item 9\n"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def setup(tmp_path: Path, rows: str, mapping: str = WIDE, header: str = HEADER) -> tuple[Path, Path]:
    m = tmp_path / "vendor.toml"
    m.write_text(textwrap.dedent(mapping))
    f = tmp_path / "export.csv"
    f.write_text(header + textwrap.dedent(rows))
    return m, f


def rows_of(result):
    return [(r.client, r.clinician, r.session, r.date.isoformat(), r.attendance, r.instrument, r.total, r.goal, r.risk)
            for r in sorted(result.parsed.ratings, key=lambda r: (r.client, r.session, r.instrument or ""))]


def errors_of(mapping: Path, export: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as exc:
        read_mapped(mapping, [export])
    return exc.value.errors


def test_wide_rows_become_one_row_per_measure(tmp_path):
    m, f = setup(tmp_path, """\
        C-1,Quillonia,T01,1,07/09/2026,Attended,18,38,9,14,0
        C-1,Quillonia,T01,2,14/09/2026,Attended,20.5,36.5,8.5,,
        C-1,Quillonia,T01,3,21/09/2026,Did not attend,,,,,
        C-1,Quillonia,T01,4,28/09/2026,Attended,,,,12,2
        """)
    res = read_mapped(m, [f])
    assert rows_of(res) == [
        ("C-1", "T01", 1, "2026-09-07", "attended", "ORS", 18, None, None),
        ("C-1", "T01", 1, "2026-09-07", "attended", "PHQ-9", 14, None, False),
        ("C-1", "T01", 1, "2026-09-07", "attended", "SRS", 38, 9, None),
        ("C-1", "T01", 2, "2026-09-14", "attended", "ORS", 20.5, None, None),
        ("C-1", "T01", 2, "2026-09-14", "attended", "SRS", 36.5, 8.5, None),
        ("C-1", "T01", 3, "2026-09-21", "no_show", None, None, None, None),
        ("C-1", "T01", 4, "2026-09-28", "attended", "PHQ-9", 12, None, True),
    ]
    assert res.source_rows == 4 and res.ignored_columns == ["First name"]
    assert "4 export rows → 7 measures rows" in res.summary()
    assert "columns not read (not in the mapping): First name" in res.summary()


def test_errors_name_the_export_file_line_column_and_value(tmp_path):
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,07/09/2026,Attended,45,38,9,,
        C-1,Q,T01,2,2026-09-14,Attended,20,,,,
        C-1,Q,T01,3,21/09/2026,DNA,20,,,,
        C-1,Q,T01,4,28/09/2026,Attended,,,,,1
        """)
    assert errors_of(m, f) == [
        f"{f}:2: ORS: must be within 0-40 for ORS (got 45)",
        f"{f}:3: Date: must be a date like 31/03/2024 (date_format %d/%m/%Y in vendor.toml) (got 2026-09-14)",
        f"{f}:4: Status: must be one of attended, cancelled, no_show or empty; or map it in "
        "[values.attendance] of vendor.toml (got DNA)",
        f"{f}:5: PHQ9 item 9: yes, but PHQ-9 has no score on this row: it would be lost (got 1)",
    ]


def test_a_bad_value_writes_nothing(tmp_path):
    m, f = setup(tmp_path, "C-1,Q,T01,1,07/09/2026,Attended,18,38,9,,\n")
    db = tmp_path / "db.json"
    res = CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f)])
    assert res.exit_code == 0, res.output
    before = sha(db)
    f.write_text(HEADER + "C-1,Q,T01,1,07/09/2026,Attended,18,38,9,,\nC-2,Q,T01,1,07/09/2026,Attended,18,41,9,,\n")
    res = CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f)])
    assert res.exit_code == 1
    assert res.output.splitlines() == [f"{f}:3: SRS: must be within 0-40 for SRS (got 41)",
                                       "1 error; nothing was written."]
    assert sha(db) == before


def test_reimport_is_idempotent(tmp_path):
    m, f = setup(tmp_path, "C-1,Q,T01,1,07/09/2026,Attended,18,38,9,,\n")
    db = tmp_path / "db.json"
    CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f)])
    before = sha(db)
    res = CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f)])
    assert res.exit_code == 0 and "nothing changed" in res.output and sha(db) == before


def test_session_consistency_errors_name_the_export_column(tmp_path):
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,07/09/2026,Attended,18,,,,
        C-1,Q,T01,2,01/09/2026,Attended,18,,,,
        """)
    errs = errors_of(m, f)
    assert errs == [f"{f}:3: Date: session 2 of C-1 is dated before session 1 (2026-09-07, on line 2) "
                    "(got 2026-09-01)"]


def test_duplicate_session_is_an_error(tmp_path):
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,07/09/2026,Attended,18,,,,
        C-1,Q,T01,1,07/09/2026,Attended,19,,,,
        """)
    assert "same client, session, instrument and rater as line 2" in errors_of(m, f)[0]


def test_openfit_bundled_mapping_items_and_skips():
    res = read_mapped("openfit", [OPENFIT])
    got = rows_of(res)
    assert ("C-201", "T01", 2, "2026-09-14", "attended", "ORS", 20, None, None) in got  # 5 + 5.5 + 4 + 5.5
    assert ("C-201", "T01", 2, "2026-09-14", "attended", "SRS", 38.1, None, None) in got
    assert ("C-201", "T01", 3, "2026-09-21", "attended", None, None, None, None) in got  # both skipped
    assert len(got) == 11
    assert "Client_FirstName" in res.ignored_columns and "Notes" in res.ignored_columns


def test_openfit_private_columns_never_reach_the_database(tmp_path):
    db = tmp_path / "db.json"
    res = CliRunner().invoke(cli, ["import", str(db), "--map", "openfit", str(OPENFIT)])
    assert res.exit_code == 0, res.output
    data = db.read_bytes()
    for text in ("Quillonia", "Zebrastripe", "Wobblebottom", "Vantablack", "hesper@clinic.example", "sister"):
        assert text.encode() in OPENFIT.read_bytes()
        assert text.encode() not in data


def test_mirah_long_layout_numbers_sessions_by_date():
    res = read_mapped("mirah-observations", [MIRAH])
    assert rows_of(res) == [
        ("MRN-501", "T01", 1, "2026-09-07", "attended", "GAD-7", 9, None, None),
        ("MRN-501", "T01", 1, "2026-09-07", "attended", "PHQ-9", 12, None, None),
        ("MRN-501", "T01", 2, "2026-09-21", "attended", "PHQ-9", 8, None, None),
        ("MRN-502", "T01", 1, "2026-09-08", "attended", "GAD-7", 11, None, None),
    ]
    # the fixed clinician is said, never silent (newcomer finding: every client went to T01 unnoticed)
    assert "clinician: T01 for every row ([fixed] in the mapping; 2 clients)" in res.summary()


def test_items_partly_given_or_disagreeing_with_the_total(tmp_path):
    mapping = """
        [mapping]
        [columns]
        client = "c"
        clinician = "t"
        session = "s"
        date = "d"
        [[measures]]
        instrument = "ORS"
        total = "tot"
        items = ["q1", "q2", "q3", "q4"]
        """
    m, f = setup(tmp_path, """\
        C-1,T01,1,2026-09-07,,5,5,,5
        C-1,T01,2,2026-09-14,21,5,5,5,5
        C-1,T01,3,2026-09-21,,5,5,5,5
        """, mapping, header="c,t,s,d,tot,q1,q2,q3,q4\n")
    assert errors_of(m, f) == [
        f"{f}:2: q3: empty, but other items of ORS are given: a total needs every item (no prorating) (got empty)",
        f"{f}:3: tot: does not equal the sum of q1, q2, q3, q4 (20) (got 21)",
    ]


def test_semicolons_decimal_comma_cp1252_and_fixed_clinician(tmp_path):
    mapping = """
        [mapping]
        delimiter = ";"
        decimal = ","
        encoding = "cp1252"
        sessions = "by_date"
        [columns]
        client = "Klient"
        date = "Datum"
        [fixed]
        clinician = "T09"
        [[measures]]
        instrument = "SRS"
        total = "SRS"
        """
    m = tmp_path / "eu.toml"
    m.write_text(textwrap.dedent(mapping))
    f = tmp_path / "eu.csv"
    f.write_bytes("Klient;Name;Datum;SRS\nC-1;Jürgen Müß;2026-09-14;35,5\nC-1;Jürgen Müß;2026-09-07;36\n"
                  .encode("cp1252"))
    res = read_mapped(m, [f])
    assert rows_of(res) == [("C-1", "T09", 1, "2026-09-07", "attended", "SRS", 36, None, None),
                            ("C-1", "T09", 2, "2026-09-14", "attended", "SRS", 35.5, None, None)]


def test_missing_column_is_named_with_a_hint(tmp_path):
    m, f = setup(tmp_path, "C-1,Q,T01,1,07/09/2026,Attended,18,38,9,,\n",
                 header=HEADER.replace("Client ID", "client id"))
    assert errors_of(m, f) == [f"{f}:1: Client ID: named by [columns] client of the mapping but not in the header; "
                               "the header has 'client id' (got client id,First name,Therapist,Session …)"]


def test_semicolon_file_with_a_comma_mapping_gets_a_hint(tmp_path):
    m, f = setup(tmp_path, "C-1;Q;T01;1;07/09/2026;Attended;18;38;9;;\n", header=HEADER.replace(",", ";"))
    assert "looks separated by semicolons: set delimiter in [mapping]" in errors_of(m, f)[0]


@pytest.mark.parametrize("change, message", [
    ("[colums]\nclient = \"x\"\n", "[colums]: unknown section"),
    ("[mapping]\ndate_fmt = \"%d\"\n", "[mapping] date_fmt: unknown key (known: name, source"),
    ("[values.colour2]\n\"a\" = \"b\"\n", "[values.colour2]: unknown column"),
    ("[mapping]\nsessions = \"auto\"\n", "[mapping] sessions: expected \"column\" or \"by_date\""),
    ("[mapping]\nencoding = \"utf-16\"\n", "[mapping] encoding: expected one of utf-8, cp1252, latin-1"),
    ("[mapping]\ndelimiter = \";;\"\n", "[mapping] delimiter: expected one character"),
    ("[values.colour]\n\"a\" = \"b\"\n", "[values.colour]: unknown column"),
    ("[values.rater]\n\"a\" = 1\n", "[values.rater] 'a': expected a string (got 1)"),
    ("[[measures]]\ninstrument = \"BDI\"\ntotal = \"x\"\n", "[[measures]] 4 instrument: expected one of SRS"),
    ("[[measures]]\ninstrument = \"ORS\"\ntotl = \"x\"\n", "[[measures]] 4 totl: unknown key"),
    ("[[measures]]\ninstrument = \"ORS\"\nrater = \"parent\"\ntotal = \"x\"\n", "rater: expected one of client, "
                                                                                "therapist"),
    ("[[measures]]\ninstrument = \"ORS\"\n", "[[measures]] 4 (ORS): give at least one of total"),
    ("[[measures]]\ninstrument = \"ORS\"\ntotal = \"x\"\nskip = \"y\"\n", "give skip and skip_values together"),
    ("[[measures]]\ninstrument = \"ORS\"\ntotal = \"x\"\nitems = [\"a\"]\n", "items: expected a list of two"),
])
def test_mapping_file_is_checked_like_the_settings(tmp_path, change, message):
    m = tmp_path / "bad.toml"
    text = textwrap.dedent(WIDE)
    m.write_text(text.replace("[mapping]\n", change, 1) if change.startswith("[mapping]") else text + change)
    with pytest.raises(MappingError) as exc:
        load_mapping(m)
    assert str(exc.value).startswith(f"{m}: ") and message in str(exc.value), str(exc.value)


def test_date_format_must_read_its_own_dates(tmp_path):
    m = tmp_path / "bad.toml"
    m.write_text(textwrap.dedent(WIDE).replace('"%d/%m/%Y"', '"%Y"'))
    with pytest.raises(MappingError, match=r"\[mapping\] date_format: expected strftime codes with a day"):
        load_mapping(m)


@pytest.mark.parametrize("remove, message", [
    ('client = "Client ID"', "[columns] client: missing"),
    ('clinician = "Therapist"', "[columns] clinician: missing"),
    ('session = "Session #"', "[columns] session: missing (or sessions = \"by_date\""),
])
def test_required_columns(tmp_path, remove, message):
    m = tmp_path / "bad.toml"
    m.write_text(textwrap.dedent(WIDE).replace(remove, ""))
    with pytest.raises(MappingError, match=message.replace("(", r"\(").replace("[", r"\[").replace("]", r"\]")):
        load_mapping(m)


def test_scores_in_columns_and_measures_clash(tmp_path):
    m = tmp_path / "bad.toml"
    m.write_text(textwrap.dedent(WIDE).replace('attendance = "Status"', 'attendance = "Status"\ntotal = "T"'))
    with pytest.raises(MappingError, match=r"\[columns\] total: with \[\[measures\]\], give it in the measure"):
        load_mapping(m)


def test_unknown_mapping_name_lists_the_bundled_ones(tmp_path):
    with pytest.raises(MappingError, match="no such mapping file .bundled mappings: mirah-observations, openfit"):
        load_mapping("nope")


def test_bundled_mappings_all_load_and_name_a_source():
    shipped = bundled_mappings()
    assert set(shipped) >= {"openfit", "mirah-observations"}
    for name, path in shipped.items():
        m = load_mapping(name)
        assert m.source and m.name, name
        assert "Source" in path.read_text() or "source" in path.read_text()


def test_validate_map_through_the_cli(tmp_path):
    res = CliRunner().invoke(cli, ["validate", "--map", "openfit", str(OPENFIT)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("OK: 11 measure rows of 2 clients would be imported.\nMapped by openfit")
    m, f = setup(tmp_path, "C-1,Q,T01,1,07/09/2026,Attended,45,,,,\n")
    res = CliRunner().invoke(cli, ["validate", "--map", str(m), str(f)])
    assert res.exit_code == 1 and f"{f}:2: ORS: must be within 0-40 for ORS (got 45)" in res.output


def test_map_with_clients_and_goals_files(tmp_path):
    m, f = setup(tmp_path, "C-1,Q,T01,1,07/09/2026,Attended,18,38,9,,\n")
    clients = tmp_path / "clients.csv"
    clients.write_text("client,clinician,status\nC-1,T01,paused\n")
    goals = tmp_path / "goals.csv"
    goals.write_text("client,goal_id,set_session,agreement\nC-1,G1,1,agreed\nC-9,G1,1,agreed\n")
    db = tmp_path / "db.json"
    res = CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f), "--clients", str(clients),
                                   "--goals", str(goals)])
    assert res.exit_code == 1
    assert f"{goals}:3: client: not in the measures or clients file, nor in the database (got C-9)" in res.output
    goals.write_text("client,goal_id,set_session,agreement\nC-1,G1,1,agreed\n")
    res = CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f), "--clients", str(clients),
                                   "--goals", str(goals)])
    assert res.exit_code == 0, res.output
    cl = Database(db).load()
    assert cl.clients["C-1"].status == "paused" and [g.goal_id for g in cl.goals] == ["G1"]


def test_by_date_sessions_continue_the_database(tmp_path):
    db = tmp_path / "db.json"
    assert CliRunner().invoke(cli, ["import", str(db), "--map", "mirah-observations", str(MIRAH)]).exit_code == 0
    later = tmp_path / "later.csv"
    later.write_text("identifiers,subjectId,effectiveDate,code,valueFloat,valueInt,valueString,performer,note,"
                     "interpretation,encounterId\n"
                     "obs-5,MRN-501,2026-09-21T10:05:00-04:00,phq9,,8,,,,,\n"
                     "obs-6,MRN-501,2026-10-05,phq9,,6,,,,,\n")
    res = CliRunner().invoke(cli, ["import", str(db), "--map", "mirah-observations", str(later)])
    assert res.exit_code == 0, res.output
    got = sorted((r.session, r.date.isoformat(), r.instrument) for r in Database(db).load().ratings
                 if r.client == "MRN-501")
    assert got == [(1, "2026-09-07", "GAD-7"), (1, "2026-09-07", "PHQ-9"), (2, "2026-09-21", "PHQ-9"),
                   (3, "2026-10-05", "PHQ-9")]
    between = tmp_path / "between.csv"
    between.write_text(later.read_text().splitlines()[0] + "\nobs-7,MRN-501,2026-09-14,phq9,,7,,,,,\n")
    res = CliRunner().invoke(cli, ["import", str(db), "--map", "mirah-observations", str(between)])
    assert res.exit_code == 1
    assert f"{between}:2: effectiveDate: a session of MRN-501 between sessions already in the database" in res.output


def test_a_row_level_error_of_a_wide_row_is_reported_once(tmp_path):
    """An unknown attendance value on a row with three measures is one
    error, counted once (not once per measure row)."""
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,07/09/2026,Attended,18,38,9,14,0
        C-1,Q,T01,2,14/09/2026,DNA,20,36,8,12,0
        """)
    with pytest.raises(ValidationFailed) as exc:
        read_mapped(m, [f])
    assert exc.value.errors == [f"{f}:3: Status: must be one of attended, cancelled, no_show or empty; or map it in "
                                "[values.attendance] of vendor.toml (got DNA)"]
    assert str(exc.value).endswith("\n1 error; nothing was written.")


def test_a_name_in_the_client_or_clinician_column_is_never_shown(tmp_path):
    """A mapping that points client at a name column, or a clinician column
    holding names: the error says what is wrong without the value."""
    by_name = WIDE.replace('client = "Client ID"', 'client = "First name"')
    m, f = setup(tmp_path, """\
        C-1,Quillonia Zebrastripe,Dr Xanthippe Q,1,07/09/2026,Attended,18,38,9,14,0
        C-2,Ottoline,T01,1,07/09/2026,Attended,18,38,9,14,0
        """, mapping=by_name)
    errs = errors_of(m, f)
    assert errs == [
        f"{f}:2: First name: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - "
        "(got 21 characters, not a code; not shown)",
        f"{f}:2: Therapist: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - "
        "(got 14 characters, not a code; not shown)",
    ]  # "Ottoline" is a valid code: a one-word name cannot be told from a code
    res = CliRunner().invoke(cli, ["validate", "--map", str(m), str(f)])
    assert res.exit_code == 1
    for secret in ("Quillonia", "Zebrastripe", "Xanthippe"):
        assert secret not in res.output


def test_risk_yes_on_a_measure_marked_not_taken_is_an_error(tmp_path):
    """A skip column that drops a PHQ-9 whose item 9 says risk: the
    endorsement would disappear silently, so the row is refused."""
    mapping = WIDE.replace('risk = "PHQ9 item 9"', 'risk = "PHQ9 item 9"\nskip = "PHQ9 skipped"\nskip_values = ["Y"]')
    header = HEADER.rstrip("\n") + ",PHQ9 skipped\n"
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,07/09/2026,Attended,18,,,14,0,Y
        C-1,Q,T01,2,14/09/2026,Attended,18,,,,2,Y
        """, mapping=mapping, header=header)
    assert errors_of(m, f) == [f"{f}:3: PHQ9 item 9: yes, but PHQ-9 is marked not taken (PHQ9 skipped = Y): it "
                               "would be lost (got 2)"]


def test_one_run_lists_every_error_of_an_export_and_its_goals(tmp_path):
    # a row with an error whose client, session, instrument and rater are valid takes part in the
    # duplicate and date checks; the goals file is checked (and against the database) all the same
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,07/09/2026,Attended,45,,,,
        C-1,Q,T01,1,07/09/2026,Attended,20,,,,
        C-1,Q,T01,2,01/09/2026,Attended,,,,7.5,
        """)
    goals = tmp_path / "goals.csv"
    goals.write_text("client,goal_id,set_session,agreement\nC-1,G1,1,agreed\nC-1,G1,1,agreed\nC-9,G1,1,agreed\n")
    export_errors = [
        f"{f}:2: ORS: must be within 0-40 for ORS (got 45)",
        f"{f}:3: [[measures]] ORS: same client, session, instrument and rater as line 2 (got ORS)",
        f"{f}:4: PHQ9: must be a whole number for PHQ-9 (got 7.5)",
        f"{f}:4: Date: session 2 of C-1 is dated before session 1 (2026-09-07, on line 2) (got 2026-09-01)",
    ]
    res = CliRunner().invoke(cli, ["validate", "--map", str(m), str(f)])
    assert res.exit_code == 1 and res.output.splitlines() == export_errors + ["4 errors."]
    db = tmp_path / "db.json"
    res = CliRunner().invoke(cli, ["import", str(db), "--map", str(m), str(f), "--goals", str(goals)])
    assert res.exit_code == 1
    assert res.output.splitlines() == export_errors + [
        f"{goals}:3: goal_id: goal G1 of C-1 already given on line 2 (got G1)",
        f"{goals}:4: client: not in the measures or clients file, nor in the database (got C-9)",
        "6 errors; nothing was written.",
    ]
    assert not db.exists()


def test_a_goal_of_a_client_whose_export_row_has_an_error_is_not_unknown(tmp_path):
    # the row's error only: "not in the measures or clients file" would repeat it
    m, f = setup(tmp_path, """\
        C-1,Q,T01,1,2026-09-07,Attended,18,,,,
        C-2,Q,T01,1,07/09/2026,Attended,18,,,,,
        """)
    goals = tmp_path / "goals.csv"
    goals.write_text("client,goal_id,set_session,agreement\nC-1,G1,1,agreed\nC-2,G1,1,agreed\n")
    res = CliRunner().invoke(cli, ["import", str(tmp_path / "db.json"), "--map", str(m), str(f), "--goals",
                                   str(goals)])
    assert res.exit_code == 1
    assert res.output.splitlines() == [
        f"{f}:2: Date: must be a date like 31/03/2024 (date_format %d/%m/%Y in vendor.toml) (got 2026-09-07)",
        f"{f}:3: row: has 12 fields but the header has 11 (got 12)",
        "2 errors; nothing was written.",
    ]
