"""Every column rule of interchange.md §1–3, table-driven, asserting the
exact error line ``FILE:LINE: column: what is wrong (got VALUE)``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from supervision_tui.errors import UserError, ValidationFailed
from supervision_tui.store.csv_io import (
    CLIENTS_COLUMNS,
    GOALS_COLUMNS,
    MEASURES_COLUMNS,
    parse_files,
    validate_files,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

BASE = {
    "client": "C-01", "clinician": "T01", "session": "1", "date": "2025-01-06", "attendance": "attended",
    "instrument": "SRS", "rater": "client", "total": "36", "goal": "", "task": "", "bond": "",
    "rupture": "", "rupture_type": "", "risk": "",
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # file names in messages are as given: "m.csv"


def csv_text(columns, rows) -> str:
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(row.get(c, "") for c in columns))
    return "\n".join(lines) + "\n"


def write(name: str, text: str | bytes) -> Path:
    p = Path(name)
    if isinstance(text, str):
        p.write_text(text, encoding="utf-8", newline="")
    else:
        p.write_bytes(text)
    return p


def measure_errors(*rows: dict) -> list[str]:
    write("m.csv", csv_text(MEASURES_COLUMNS, [{**BASE, **r} for r in rows]))
    try:
        parse_files("m.csv")
    except ValidationFailed as err:
        return err.errors
    return []


def measure_ok(*rows: dict):
    write("m.csv", csv_text(MEASURES_COLUMNS, [{**BASE, **r} for r in rows]))
    return parse_files("m.csv")


# --- measures: one column at a time -------------------------------------------------

MEASURE_CASES = [
    # client / clinician: required, alphabet, length
    ({"client": ""}, "client: required (got empty)"),
    ({"client": "C 01"}, "client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 4 characters, not a code; not shown)"),
    ({"client": "C/01"}, "client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 4 characters, not a code; not shown)"),
    ({"client": "Ü1"}, "client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 2 characters, not a code; not shown)"),
    ({"client": "C" * 33}, "client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 33 characters, not a code; not shown)"),
    ({"clinician": ""}, "clinician: required (got empty)"),
    ({"clinician": "Dr Who"}, "clinician: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 6 characters, not a code; not shown)"),
    # session
    ({"session": ""}, "session: required (got empty)"),
    ({"session": "0"}, "session: must be a whole number from 1 to 1,000,000 (got 0)"),
    ({"session": "-2"}, "session: must be a whole number from 1 to 1,000,000 (got -2)"),
    ({"session": "1.5"}, "session: must be a whole number from 1 to 1,000,000 (got 1.5)"),
    ({"session": "one"}, "session: must be a whole number from 1 to 1,000,000 (got one)"),
    ({"session": "\u0663"}, "session: must be a whole number from 1 to 1,000,000 (got \u0663)"),  # an Arabic-Indic 3
    # no treatment has a millionth session; past 2^64 the database's JSON writer refused it (a traceback)
    ({"session": "1000001"}, "session: must be a whole number from 1 to 1,000,000 (got 1000001)"),
    ({"session": "99999999999999999999999999"},
     "session: must be a whole number from 1 to 1,000,000 (got 99999999999999999999999999)"),
    ({"session": "9" * 5000}, "session: must be a whole number from 1 to 1,000,000 (got " + "9" * 39 + "…)"),
    # date
    ({"date": ""}, "date: required (got empty)"),
    ({"date": "2025-02-30"}, "date: must be a date YYYY-MM-DD (got 2025-02-30)"),
    ({"date": "06/01/2025"}, "date: must be a date YYYY-MM-DD (got 06/01/2025)"),
    ({"date": "20250106"}, "date: must be a date YYYY-MM-DD (got 20250106)"),
    ({"date": "2025-1-6"}, "date: must be a date YYYY-MM-DD (got 2025-1-6)"),
    # attendance / instrument / rater vocabularies
    ({"attendance": "present"}, "attendance: must be one of attended, cancelled, no_show or empty (got present)"),
    ({"attendance": "Attended"}, "attendance: must be one of attended, cancelled, no_show or empty (got Attended)"),
    ({"instrument": "XYZ"}, "instrument: must be one of SRS, WAI-SR, ORS, PHQ-9, GAD-7 or empty (got XYZ)"),
    ({"instrument": "srs"}, "instrument: must be one of SRS, WAI-SR, ORS, PHQ-9, GAD-7 or empty (got srs)"),
    ({"rater": "patient"}, "rater: must be one of client, therapist or empty (got patient)"),
    # total: required, numeric, within the instrument's range
    ({"instrument": "ORS", "total": ""}, "total: required for ORS (got empty)"),
    ({"instrument": "PHQ-9", "total": ""}, "total: required for PHQ-9 (got empty)"),
    ({"total": "abc"}, "total: must be a number (got abc)"),
    ({"total": "3O"}, "total: must be a number (got 3O)"),
    ({"total": "nan"}, "total: must be a number (got nan)"),
    ({"total": "41"}, "total: must be within 0-40 for SRS (got 41)"),
    ({"total": "-1"}, "total: must be within 0-40 for SRS (got -1)"),
    ({"instrument": "ORS", "total": "40.5"}, "total: must be within 0-40 for ORS (got 40.5)"),
    ({"instrument": "PHQ-9", "total": "28"}, "total: must be within 0-27 for PHQ-9 (got 28)"),
    ({"instrument": "GAD-7", "total": "22"}, "total: must be within 0-21 for GAD-7 (got 22)"),
    ({"instrument": "WAI-SR", "total": "11"}, "total: must be within 12-60 for WAI-SR (got 11)"),
    ({"instrument": "WAI-SR", "total": "61"}, "total: must be within 12-60 for WAI-SR (got 61)"),
    # totals that are sums of integer items are whole numbers (Instrument.integer)
    ({"instrument": "GAD-7", "total": "7.5"}, "total: must be a whole number for GAD-7 (got 7.5)"),
    ({"instrument": "PHQ-9", "total": "12.25"}, "total: must be a whole number for PHQ-9 (got 12.25)"),
    ({"instrument": "WAI-SR", "total": "40.5"}, "total: must be a whole number for WAI-SR (got 40.5)"),
    ({"instrument": "PHQ-9", "total": "27.5"}, "total: must be within 0-27 for PHQ-9 (got 27.5)"),  # range first
    # numbers are plain decimals: no exponent (values are stripped of spaces, see VALID_ROWS)
    ({"total": "1e1"}, "total: must be a plain decimal number without an exponent: write 10 (got 1e1)"),
    ({"instrument": "ORS", "total": "2.25e1"},
     "total: must be a plain decimal number without an exponent: write 22.5 (got 2.25e1)"),
    ({"instrument": "ORS", "total": "1E+400"}, "total: must be a plain decimal number without an exponent (got 1E+400)"),
    ({"goal": "9E-1"}, "goal: must be a plain decimal number without an exponent: write 0.9 (got 9E-1)"),
    # goal component: WAI-SR Goal 4-20, SRS goals & topics 0-10, nothing else
    ({"goal": "11"}, "goal: must be within 0-10 for SRS (got 11)"),
    ({"goal": "-0.5"}, "goal: must be within 0-10 for SRS (got -0.5)"),
    ({"goal": "x"}, "goal: must be a number (got x)"),
    ({"instrument": "WAI-SR", "total": "40", "goal": "3"}, "goal: must be within 4-20 for WAI-SR (got 3)"),
    ({"instrument": "WAI-SR", "total": "40", "goal": "21"}, "goal: must be within 4-20 for WAI-SR (got 21)"),
    ({"instrument": "ORS", "total": "20", "goal": "5"}, "goal: ORS has no goal score; leave it empty (got 5)"),
    # task / bond: WAI-SR only, 4-20
    ({"instrument": "WAI-SR", "total": "40", "task": "21"}, "task: must be within 4-20 for WAI-SR (got 21)"),
    ({"instrument": "WAI-SR", "total": "40", "bond": "3"}, "bond: must be within 4-20 for WAI-SR (got 3)"),
    # WAI-SR subscales are sums of four 1-5 items (Component.integer)
    ({"instrument": "WAI-SR", "total": "40", "task": "12.5"}, "task: must be a whole number for WAI-SR (got 12.5)"),
    ({"instrument": "WAI-SR", "total": "", "goal": "15.1", "task": "16", "bond": "17"},
     "goal: must be a whole number for WAI-SR (got 15.1)"),
    ({"task": "10"}, "task: SRS has no task score (only goal); leave it empty (got 10)"),
    ({"bond": "10"}, "bond: SRS has no bond score (only goal); leave it empty (got 10)"),
    ({"instrument": "GAD-7", "total": "5", "bond": "10"}, "bond: GAD-7 has no bond score; leave it empty (got 10)"),
    # WAI-SR total from the subscales
    ({"instrument": "WAI-SR", "total": "", "goal": "15", "task": "16"},
     "total: required for WAI-SR unless goal, task and bond are all given (got empty)"),
    ({"instrument": "WAI-SR", "total": "", "bond": "15"},
     "total: required for WAI-SR unless goal, task and bond are all given (got empty)"),
    ({"instrument": "WAI-SR", "total": "47", "goal": "15", "task": "16", "bond": "17"},
     "total: must equal goal + task + bond = 48 (got 47)"),
    # scores on a row without an instrument
    ({"instrument": "", "total": "30"}, "total: a score needs an instrument, but the instrument column is empty (got 30)"),
    ({"instrument": "", "total": "", "goal": "8"},
     "goal: a score needs an instrument, but the instrument column is empty (got 8)"),
    ({"instrument": "", "total": "", "task": "8"},
     "task: a score needs an instrument, but the instrument column is empty (got 8)"),
    ({"instrument": "", "total": "", "bond": "8"},
     "bond: a score needs an instrument, but the instrument column is empty (got 8)"),
    # rupture / rupture_type / risk
    ({"rupture": "maybe"}, "rupture: must be one of yes, no or empty (got maybe)"),
    ({"rupture": "Yes"}, "rupture: must be one of yes, no or empty (got Yes)"),
    ({"rupture": "yes", "rupture_type": "angry"},
     "rupture_type: must be one of withdrawal, confrontation or empty (got angry)"),
    ({"rupture_type": "withdrawal"}, "rupture_type: only allowed when rupture is yes (got withdrawal)"),
    ({"rupture": "no", "rupture_type": "confrontation"},
     "rupture_type: only allowed when rupture is yes (got confrontation)"),
    ({"risk": "y"}, "risk: must be one of yes, no or empty (got y)"),
    ({"instrument": "", "total": "", "risk": "yes"},
     "risk: needs an instrument: the risk rule only reads rows with a measure (got yes)"),
]


@pytest.mark.parametrize("override,expected", MEASURE_CASES, ids=[e.split(" (got")[0] for _, e in MEASURE_CASES])
def test_measures_column_rule(override, expected):
    assert measure_errors(override) == [f"m.csv:2: {expected}"]


def test_a_session_number_with_leading_zeros_is_its_number():
    assert measure_errors({"session": "0000000000001000000"}) == []  # 1,000,000: the largest


def test_each_error_is_on_its_own_row_line():
    errs = measure_errors({}, {"session": "2", "date": "2025-01-13"}, {"session": "3", "date": "2025-01-20",
                                                                       "total": "99"})
    assert errs == ["m.csv:4: total: must be within 0-40 for SRS (got 99)"]


def test_all_errors_of_a_row_are_reported():
    errs = measure_errors({"client": "", "session": "x", "total": "50"})
    assert errs == [
        "m.csv:2: client: required (got empty)",
        "m.csv:2: session: must be a whole number from 1 to 1,000,000 (got x)",
        "m.csv:2: total: must be within 0-40 for SRS (got 50)",
    ]


VALID_ROWS = [
    ({}, dict(instrument="SRS", total=36.0, rater="client", attendance="attended")),
    ({"attendance": "", "rater": ""}, dict(attendance="attended", rater="client")),
    ({"total": "0"}, dict(total=0.0)),
    ({"total": "40", "goal": "10"}, dict(total=40.0, goal=10.0)),
    ({"total": "35.5", "goal": "8.7"}, dict(total=35.5, goal=8.7)),
    ({"instrument": "WAI-SR", "total": "12"}, dict(total=12.0)),
    ({"instrument": "WAI-SR", "total": "60", "rater": "therapist"}, dict(total=60.0, rater="therapist")),
    ({"instrument": "WAI-SR", "total": "", "goal": "15", "task": "16", "bond": "17"},
     dict(total=48.0, goal=15.0, task=16.0, bond=17.0)),
    ({"instrument": "WAI-SR", "total": "48", "goal": "15", "task": "16", "bond": "17"}, dict(total=48.0)),
    ({"instrument": "WAI-SR", "total": "48.0", "goal": "15.0", "task": "16", "bond": "17"}, dict(total=48.0)),
    ({"instrument": "WAI-SR", "total": "40", "goal": "4"}, dict(goal=4.0, task=None)),
    ({"instrument": "PHQ-9", "total": "27", "risk": "yes"}, dict(total=27.0, risk=True)),
    ({"instrument": "GAD-7", "total": "21", "risk": "no"}, dict(total=21.0, risk=False)),
    ({"instrument": "GAD-7", "total": "7.0"}, dict(total=7.0)),  # a whole number written with .0
    ({"instrument": "ORS", "total": "+22.5"}, dict(total=22.5)),
    ({"instrument": "ORS", "total": ".5"}, dict(total=0.5)),
    # every value is stripped of surrounding spaces (csv_io's module doc): numbers like codes and dates
    ({"instrument": "ORS", "total": " 22.5 "}, dict(total=22.5)),
    ({"total": " 37 ", "session": " 1 ", "client": " C-01 ", "date": " 2025-01-06"},
     dict(total=37.0, session=1, client="C-01")),
    ({"instrument": "", "total": ""}, dict(instrument=None, total=None)),
    # a session without a measure may carry a post-session rupture report and risk=no
    ({"instrument": "", "total": "", "rupture": "yes", "rupture_type": "withdrawal", "risk": "no"},
     dict(instrument=None, rupture=True, rupture_type="withdrawal", risk=False)),
    # a non-attended session may carry scores (stored; the rules ignore them)
    ({"attendance": "cancelled", "total": "20"}, dict(attendance="cancelled", total=20.0)),
    ({"attendance": "no_show", "instrument": "", "total": ""}, dict(attendance="no_show", instrument=None)),
    ({"rupture": "yes", "rupture_type": "confrontation"}, dict(rupture=True, rupture_type="confrontation")),
    ({"rupture": "no"}, dict(rupture=False, rupture_type=None)),
    ({"client": "a_B-9" + "x" * 27}, dict(client="a_B-9" + "x" * 27)),
    # issue 13: "." is an identifier character (record numbers such as MRN.0042.7)
    ({"client": "MRN.0042.7", "clinician": "dr.lee"}, dict(client="MRN.0042.7", clinician="dr.lee")),
]


@pytest.mark.parametrize("override,expect", VALID_ROWS)
def test_measures_valid_row(override, expect):
    parsed = measure_ok(override)
    (r,) = parsed.ratings
    assert r.date == date(2025, 1, 6)
    for k, v in expect.items():
        assert getattr(r, k) == v, k


@pytest.fixture
def decimal_parts():
    """A made-up alliance instrument whose components may be decimals and
    add up to its total (the WAI-SR rule, by the registry, without WAI-SR's
    whole numbers)."""
    from supervision_tui import instruments as ins

    inst = ins.Instrument("DEC-3", "decimal parts", ins.ALLIANCE, 12, 60, components=(
        ins.Component("goal", "Goal", 4, 20), ins.Component("task", "Task", 4, 20),
        ins.Component("bond", "Bond", 4, 20)))
    ins.register(inst)
    try:
        yield inst
    finally:
        ins.REGISTRY.unregister("DEC-3")


@pytest.mark.parametrize("override,expect", [
    ({"total": "", "goal": "15.1", "task": "16.2", "bond": "17.3"}, dict(total=48.6)),  # not 48.599…
    ({"total": "48.6", "goal": "15.1", "task": "16.2", "bond": "17.3"}, dict(total=48.6)),
])
def test_total_from_decimal_components(decimal_parts, override, expect):
    (r,) = measure_ok({"instrument": "DEC-3", **override}).ratings
    for k, v in expect.items():
        assert getattr(r, k) == v, k
    assert measure_errors({"instrument": "DEC-3", "total": "48.5", "goal": "15.1", "task": "16.2",
                           "bond": "17.3"}) == ["m.csv:2: total: must equal goal + task + bond = 48.6 (got 48.5)"]


def test_whole_number_rule_is_registry_data():
    from supervision_tui import instruments as ins

    assert {i.id for i in ins.REGISTRY if i.integer} == {"WAI-SR", "PHQ-9", "GAD-7"}
    assert all(c.integer for c in ins.REGISTRY["WAI-SR"].components)
    assert not ins.REGISTRY["SRS"].component("goal").integer  # a 0-10 visual analogue line


# --- measures: rules across rows -----------------------------------------------------

CROSS_ROW_CASES = [
    ([{}, {}], ["m.csv:3: instrument: same client, session, instrument and rater as line 2 (got SRS)"]),
    ([{"instrument": "", "total": ""}, {"instrument": "", "total": ""}],
     ["m.csv:3: instrument: same client, session, instrument and rater as line 2 (got empty)"]),
    ([{}, {"instrument": "ORS", "date": "2025-01-07"}],
     ["m.csv:3: date: session 1 of C-01 has date 2025-01-06 on line 2 (got 2025-01-07)"]),
    ([{}, {"instrument": "ORS", "attendance": "no_show"}],
     ["m.csv:3: attendance: session 1 of C-01 is attended on line 2 (got no_show)"]),
    ([{}, {"instrument": "ORS", "clinician": "T02"}],
     ["m.csv:3: clinician: session 1 of C-01 is with T01 on line 2 (got T02)"]),
]


def test_measures_duplicate_key():
    assert measure_errors({}, {}) == CROSS_ROW_CASES[0][1]
    assert measure_errors(*CROSS_ROW_CASES[1][0]) == CROSS_ROW_CASES[1][1]


def test_measures_same_key_other_rater_is_not_a_duplicate():
    assert measure_errors({}, {"rater": "therapist"}) == []


@pytest.mark.parametrize("rows,expected", CROSS_ROW_CASES[2:5])
def test_measures_one_session_one_date_attendance_clinician(rows, expected):
    assert measure_errors(*rows) == expected


def test_measures_session_going_back_in_date():
    errs = measure_errors({}, {"session": "2", "date": "2025-01-13"}, {"session": "3", "date": "2025-01-10"})
    assert errs == ["m.csv:4: date: session 3 of C-01 is dated before session 2 (2025-01-13, on line 3) "
                    "(got 2025-01-10)"]


def test_measures_going_back_is_found_whatever_the_row_order():
    errs = measure_errors({"session": "3", "date": "2025-01-10"}, {"session": "2", "date": "2025-01-13"})
    assert errs == ["m.csv:2: date: session 3 of C-01 is dated before session 2 (2025-01-13, on line 3) "
                    "(got 2025-01-10)"]


def test_measures_sessions_may_share_a_date_and_clients_may_transfer():
    assert measure_errors(
        {}, {"session": "2"}, {"session": "3", "date": "2025-01-13", "clinician": "T02"},
        {"client": "C-02", "session": "1", "date": "2024-12-01"},
    ) == []


# --- files and headers ---------------------------------------------------------------

HEADER = ",".join(MEASURES_COLUMNS)
ROW = ",".join(BASE[c] for c in MEASURES_COLUMNS)


def file_errors(content: str | bytes, name: str = "m.csv") -> list[str]:
    write(name, content)
    with pytest.raises(ValidationFailed) as info:
        parse_files(name)
    return info.value.errors


FILE_CASES = [
    ("", ["m.csv:1: header: missing: the file is empty (got empty)"]),
    ("\n\n  \n", ["m.csv:1: header: missing: the file is empty (got empty)"]),
    (f"{ROW}\n", ["m.csv:1: header: missing: the first line must name the columns, e.g. "
                  "client,clinician,session,date (got C-01,T01,…)"]),
    ("client,clinician,sesion,date\nC-01,T01,1,2025-01-06\n", [
        "m.csv:1: header: unknown column; allowed are client, clinician, session, date, attendance, instrument, "
        "rater, total, goal, task, bond, rupture, rupture_type, risk (got sesion)",
        "m.csv:1: session: required column is missing from the header (got client,clinician,sesion,date)",
    ]),
    ("client,clinician,session\nC-01,T01,1\n",
     ["m.csv:1: date: required column is missing from the header (got client,clinician,session)"]),
    ("clinician,session,date\nT01,1,2025-01-06\n",
     ["m.csv:1: client: required column is missing from the header (got clinician,session,date)"]),
    ("client,session,date\nC-01,1,2025-01-06\n",
     ["m.csv:1: clinician: required column is missing from the header (got client,session,date)"]),
    ("client,clinician,session,date,date\nC-01,T01,1,2025-01-06,2025-01-06\n",
     ["m.csv:1: date: column appears twice in the header (got client,clinician,session,date,date)"]),
    ("client,clinician,status,started\nC-01,T01,active,\n",
     ["m.csv:1: header: this looks like a clients file, not a measures file (got client,clinician,status,started)"]),
    (f"{HEADER}\n{ROW},extra\n", ["m.csv:2: row: has 15 fields but the header has 14 (got 15)"]),
    (f"{HEADER}\nC-01,T01,1,2025-01-06\n", ["m.csv:2: row: has 4 fields but the header has 14 (got 4)"]),
    (f"{HEADER},\n{ROW},oops\n", ["m.csv:2: column 15: has a value but no name in the header (got oops)"]),
    (b"client,clinician,session,date\nC-\xe9,T01,1,2025-01-06\n",
     ['m.csv:2: file: is not UTF-8 text; save it as "CSV UTF-8" (got byte 0xE9)']),
    ("client,clinician,session,date\n".encode("utf-16"),
     ['m.csv:1: file: is UTF-16 text; save it as "CSV UTF-8" (got FF FE)']),
    (b"client,clinician,session,date\nC-01,T01\x00,1,2025-01-06\n",
     ["m.csv:2: file: contains a NUL byte: this is not a text CSV file (got byte 0x00)"]),
    ('client,clinician,session,date\nC-01,T01,1,"2025-01-06\n',
     ["m.csv:2: file: is not valid CSV: unexpected end of data (got empty)"]),
    ('client,clinician,session,date\nC-01,"T01"x,1,2025-01-06\n',
     ["m.csv:2: file: is not valid CSV: ',' expected after '\"' (got empty)"]),
    # semicolon-separated (a spreadsheet in a decimal-comma locale): one clear line, no row noise
    ("client;clinician;session;date\nC-01;T01;1;2025-01-06\n",
     ["m.csv:1: header: the file is separated by semicolons; save it as comma-separated CSV "
      "(got client;clinician;session;date)"]),
    ("client;clinician;session;date;instrument;total\nC-01;T01;1;2025-01-06;ORS;22,5\n",
     ["m.csv:1: header: the file is separated by semicolons; save it as comma-separated CSV "
      "(got client;clinician;session;date;instrumen…)"]),
    ("client;clinician,session;date\nC-01;T01,1;2025-01-06\n",
     ["m.csv:1: header: the file is separated by semicolons; save it as comma-separated CSV "
      "(got client;clinician,session;date)"]),
    ("Client;Clinician;Session;Date\nC-01;T01;1;2025-01-06\n",
     ["m.csv:1: header: the file is separated by semicolons; save it as comma-separated CSV "
      "(got Client;Clinician;Session;Date)"]),
    # column names are exact: a capitalised header says so, and the rows are still checked
    ("Client,Clinician,Session,Date\nC-01,T01,1,2025-01-06\n",
     ["m.csv:1: header: column names are lowercase: client, clinician, session, date "
      "(got Client,Clinician,Session,Date)"]),
    ("client,clinician,SESSION,date\nC-01,T01,0,2025-01-06\n",
     ["m.csv:1: header: column names are lowercase: session (got SESSION)",
      "m.csv:2: session: must be a whole number from 1 to 1,000,000 (got 0)"]),
]


@pytest.mark.parametrize("content,expected", FILE_CASES)
def test_file_level_problems(content, expected):
    assert file_errors(content) == expected


def test_bom_crlf_blank_lines_and_spreadsheet_residue_are_accepted():
    text = "\ufeff" + f"{HEADER},,\r\n\r\n{ROW},,\r\n,,,,,,,,,,,,,,,,\r\n{ROW.replace(',1,', ',2,')},,\r\n\r\n\r\n"
    write("m.csv", text)
    parsed = parse_files("m.csv")
    assert [r.session for r in parsed.ratings] == [1, 2]
    assert parsed.rating_origins == [("m.csv", 3), ("m.csv", 5)]


def test_header_only_file_is_valid_and_empty():
    write("m.csv", HEADER + "\n")
    assert parse_files("m.csv").ratings == []


def test_columns_in_any_order_and_optional_columns_absent():
    write("m.csv", "total,date,instrument,session,clinician,client\n31,2025-01-06,SRS,1,T01,C-01\n")
    (r,) = parse_files("m.csv").ratings
    assert (r.client, r.total, r.attendance, r.rater) == ("C-01", 31.0, "attended", "client")


def test_line_numbers_are_physical_lines_after_a_multiline_field():
    write("g.csv", 'client,goal_id,description,set_session,agreement\n'
                   'C-01,G1,"two\nlines",1,agreed\n'
                   'C-01,G2,x,0,agreed\n')
    write("c.csv", "client,clinician\nC-01,T01\n")
    write("m.csv", HEADER + "\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files("m.csv", clients="c.csv", goals="g.csv")
    assert info.value.errors == ["g.csv:4: set_session: must be a whole number from 1 to 1,000,000 (got 0)"]


def test_long_values_are_cut_and_control_characters_escaped():
    errs = measure_errors({"date": "2" * 50})
    assert errs == [f"m.csv:2: date: must be a date YYYY-MM-DD (got {'2' * 39}…)"]
    errs = measure_errors({"clinician": "T" * 50})  # not a code: described, not shown (sanitize.code_shown)
    assert errs == ["m.csv:2: clinician: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - "
                    "(got 50 characters, not a code; not shown)"]
    errs = measure_errors({"session": "1\t2"})
    assert errs == ["m.csv:2: session: contains a control character: tab (U+0009) at character 2 (got 1\\t2)"]


def test_at_most_50_errors_then_a_count():
    rows = [{"session": str(n), "date": "2025-01-06", "total": "99"} for n in range(1, 61)]
    write("m.csv", csv_text(MEASURES_COLUMNS, [{**BASE, **r} for r in rows]))
    with pytest.raises(ValidationFailed) as info:
        parse_files("m.csv")
    lines = str(info.value).splitlines()
    assert len(info.value.errors) == 60
    assert len(lines) == 51
    assert lines[0] == "m.csv:2: total: must be within 0-40 for SRS (got 99)"
    assert lines[49] == "m.csv:51: total: must be within 0-40 for SRS (got 99)"
    assert lines[50] == "... and 10 more: 60 errors; nothing was written."


def test_unreadable_file_is_a_user_error():
    with pytest.raises(UserError, match=r"^missing\.csv: cannot read: no such file$"):
        parse_files("missing.csv")
    Path("adir").mkdir()
    with pytest.raises(UserError, match="it is a folder"):
        parse_files("adir")


# --- clients CSV ----------------------------------------------------------------------


def client_errors(*rows: dict) -> list[str]:
    base = {"client": "C-01", "clinician": "T01", "status": "", "started": ""}
    write("m.csv", HEADER + "\n")
    write("c.csv", csv_text(CLIENTS_COLUMNS, [{**base, **r} for r in rows]))
    try:
        parse_files("m.csv", clients="c.csv")
    except ValidationFailed as err:
        return err.errors
    return []


CLIENT_CASES = [
    ({"client": ""}, "client: required (got empty)"),
    ({"client": "C#1"}, "client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 3 characters, not a code; not shown)"),
    ({"clinician": ""}, "clinician: required (got empty)"),
    ({"clinician": "T 1"}, "clinician: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 3 characters, not a code; not shown)"),
    ({"status": "gone"}, "status: must be one of active, paused, closed, dropped_out or empty (got gone)"),
    ({"status": "Closed"}, "status: must be one of active, paused, closed, dropped_out or empty (got Closed)"),
    ({"started": "2025-13-01"}, "started: must be a date YYYY-MM-DD (got 2025-13-01)"),
    ({"started": "yesterday"}, "started: must be a date YYYY-MM-DD (got yesterday)"),
]


@pytest.mark.parametrize("override,expected", CLIENT_CASES)
def test_clients_column_rule(override, expected):
    assert client_errors(override) == [f"c.csv:2: {expected}"]


def test_clients_defaults_duplicates_and_header():
    assert client_errors({}, {"client": "C-02", "status": "dropped_out", "started": "2025-02-01"}) == []
    assert client_errors({}, {"status": "closed"}) == ["c.csv:3: client: already listed on line 2 (got C-01)"]
    write("c.csv", "client,status\nC-01,active\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files("m.csv", clients="c.csv")
    assert info.value.errors == ["c.csv:1: clinician: required column is missing from the header (got client,status)"]
    write("c.csv", "client,clinician,note\nC-01,T01,x\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files("m.csv", clients="c.csv")
    assert info.value.errors == ["c.csv:1: header: unknown column; allowed are client, clinician, status, started "
                                 "(got note)"]


def test_clients_values():
    write("m.csv", HEADER + "\n")
    write("c.csv", "client,clinician,status,started\nC-01,T01,,\nC-02,T02,paused,2025-03-04\n")
    parsed = parse_files("m.csv", clients="c.csv")
    assert [(c.code, c.clinician, c.status, c.started) for c in parsed.clients] == [
        ("C-01", "T01", "active", None), ("C-02", "T02", "paused", date(2025, 3, 4))]


# --- goals CSV --------------------------------------------------------------------------

GOAL_BASE = {"client": "C-01", "goal_id": "G1", "description": "Sleep better", "set_session": "1",
             "agreement": "agreed", "status": "", "reviewed_session": ""}


def goal_errors(*rows: dict, with_client: bool = True) -> list[str]:
    write("m.csv", HEADER + "\n" + (ROW + "\n" if with_client else ""))
    write("g.csv", csv_text(GOALS_COLUMNS, [{**GOAL_BASE, **r} for r in rows]))
    try:
        parse_files("m.csv", goals="g.csv")
    except ValidationFailed as err:
        return err.errors
    return []


GOAL_CASES = [
    ({"client": ""}, "client: required (got empty)"),
    ({"client": "C 1"}, "client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 3 characters, not a code; not shown)"),
    ({"goal_id": ""}, "goal_id: required (got empty)"),
    ({"goal_id": "goal one"}, "goal_id: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 8 characters, not a code; not shown)"),
    ({"set_session": ""}, "set_session: required (got empty)"),
    ({"set_session": "0"}, "set_session: must be a whole number from 1 to 1,000,000 (got 0)"),
    ({"agreement": ""}, "agreement: required: one of agreed, partial, disagreed (got empty)"),
    ({"agreement": "yes"}, "agreement: must be one of agreed, partial, disagreed (got yes)"),
    ({"status": "done"}, "status: must be one of active, achieved, dropped or empty (got done)"),
    ({"reviewed_session": "x"}, "reviewed_session: must be a whole number from 1 to 1,000,000 (got x)"),
    ({"set_session": "3", "reviewed_session": "2"}, "reviewed_session: must not be before set_session 3 (got 2)"),
]


@pytest.mark.parametrize("override,expected", GOAL_CASES)
def test_goals_column_rule(override, expected):
    assert goal_errors(override) == [f"g.csv:2: {expected}"]


def test_goals_duplicate_and_private_text_never_echoed():
    errs = goal_errors({"description": "very private words"}, {"description": "more private words"})
    assert errs == ["g.csv:3: goal_id: goal G1 of C-01 already given on line 2 (got G1)"]
    write("g.csv", "client,goal_id,description,set_session,agreement\nC-01,G1,very private words,1,agreed,extra\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files("m.csv", goals="g.csv")
    assert "private" not in str(info.value)


def test_goals_values_and_defaults():
    assert goal_errors({}, {"goal_id": "G2", "description": "", "status": "achieved", "set_session": "2",
                            "reviewed_session": "2", "agreement": "partial"}) == []
    parsed = parse_files("m.csv", goals="g.csv")
    g1, g2 = parsed.goals
    assert (g1.status, g1.reviewed_session, g1.description) == ("active", None, "Sleep better")
    assert (g2.status, g2.reviewed_session, g2.description, g2.agreement) == ("achieved", 2, "", "partial")


def test_goal_for_a_client_in_neither_file():
    # parse_files defers the check to the database (which may know the client)
    assert goal_errors({"client": "C-99"}) == []
    parsed = parse_files("m.csv", goals="g.csv")
    assert parsed.unresolved(database=False) == ["g.csv:2: client: not in the measures or clients file (got C-99)"]
    assert parsed.unresolved({"C-99"}) == []
    # validate knows no database: an error when a measures/clients file is given
    with pytest.raises(ValidationFailed) as info:
        validate_files(["m.csv", "g.csv"])
    assert info.value.errors == ["g.csv:2: client: not in the measures or clients file (got C-99)"]


def test_goal_client_from_the_clients_file_only():
    write("m.csv", HEADER + "\n")
    write("c.csv", "client,clinician\nC-05,T01\n")
    write("g.csv", csv_text(GOALS_COLUMNS, [{**GOAL_BASE, "client": "C-05"}]))
    assert validate_files(["m.csv", "c.csv", "g.csv"]).startswith("OK")
    assert parse_files("m.csv", clients="c.csv", goals="g.csv").unknown_goal_clients == []


# --- validate_files ------------------------------------------------------------------------


def test_validate_recognises_each_kind_from_its_header():
    msg = validate_files([FIXTURES / "goals.csv", FIXTURES / "measures.csv", FIXTURES / "clients.csv"])
    assert msg.startswith("OK: ")
    assert f"{FIXTURES / 'measures.csv'} (measures, 11 rows)" in msg
    assert f"{FIXTURES / 'clients.csv'} (clients, 3 rows)" in msg
    assert f"{FIXTURES / 'goals.csv'} (goals, 4 rows)" in msg


def test_validate_goals_alone_says_clients_were_not_checked():
    msg = validate_files([FIXTURES / "goals.csv"])
    assert "Goal clients not checked" in msg


def test_validate_unknown_kind_and_missing_header():
    write("x.csv", "foo,bar\n1,2\n")
    with pytest.raises(ValidationFailed) as info:
        validate_files(["x.csv"])
    assert info.value.errors == ["x.csv:1: header: missing: the first line must name the columns (got foo,bar)"]
    write("y.csv", "clinician\nT01\n")
    with pytest.raises(ValidationFailed) as info:
        validate_files(["y.csv"])
    assert info.value.errors == ["y.csv:1: header: cannot tell a measures, clients or goals file from these "
                                 "column names (got clinician)"]


def test_validate_header_messages_whatever_the_kind():
    write("c.csv", "Client,Clinician,Status\nC-01,T01,active\n")
    write("g.csv", "client;goal_id;description;set_session;agreement\nC-01;G1;private words;1;agreed\n")
    with pytest.raises(ValidationFailed) as info:
        validate_files(["c.csv", "g.csv"])
    assert info.value.errors == [
        "c.csv:1: header: column names are lowercase: client, clinician, status (got Client,Clinician,Status)",
        "g.csv:1: header: the file is separated by semicolons; save it as comma-separated CSV "
        "(got client;goal_id;description;set_session;…)",
    ]
    assert "private" not in str(info.value)


def test_validate_reports_errors_of_every_file_in_order():
    write("m.csv", csv_text(MEASURES_COLUMNS, [{**BASE, "total": "99"}]))
    write("c.csv", "client,clinician,status\nC-01,T01,gone\n")
    with pytest.raises(ValidationFailed) as info:
        validate_files(["m.csv", "c.csv"])
    assert info.value.errors == [
        "m.csv:2: total: must be within 0-40 for SRS (got 99)",
        "c.csv:2: status: must be one of active, paused, closed, dropped_out or empty (got gone)",
    ]


def test_unknown_column_is_reported_and_the_rows_are_still_checked():
    errors = file_errors("client,clinician,session,date,colour\nC 1,T01,0,2025-01-06,red\n")
    assert errors[0].startswith("m.csv:1: header: unknown column; allowed are client,")
    assert errors[0].endswith("(got colour)")
    assert "m.csv:2: client: must be 1-32 characters of A-Z a-z 0-9 . _ -, not starting with - (got 3 characters, not a code; not shown)" in errors
    assert "m.csv:2: session: must be a whole number from 1 to 1,000,000 (got 0)" in errors


def test_an_unquoted_decimal_comma_never_shifts_values_silently():
    # "35,5" meant 35.5: the row has one field more than the header even
    # though the extra field at the end is empty
    errors = file_errors("client,clinician,session,date,instrument,total,goal,risk\n"
                         "C-01,T01,1,2025-01-06,SRS,35,5,,\n")
    assert errors == ["m.csv:2: row: has 9 fields but the header has 8 (got 9)"]


# --- one run lists every error (a row with an error still takes part in the checks across rows/files) ---

M_HEAD = "client,clinician,session,date,instrument,total\n"
# the newcomer's trial: a range error on line 2 hid line 3's duplicate of it and line 4's date going back
M_TRIAL = M_HEAD + "X-1,A1,1,2026-10-01,SRS,41\nX-1,A1,1,2026-10-01,SRS,30\nX-1,A1,2,2026-09-01,PHQ-9,7.5\n"
M_TRIAL_ERRORS = [
    "measures.csv:2: total: must be within 0-40 for SRS (got 41)",
    "measures.csv:3: instrument: same client, session, instrument and rater as line 2 (got SRS)",
    "measures.csv:4: total: must be a whole number for PHQ-9 (got 7.5)",
    "measures.csv:4: date: session 2 of X-1 is dated before session 1 (2026-10-01, on line 2) (got 2026-09-01)",
]
M_GOOD = M_HEAD + "X-1,A1,1,2026-10-01,SRS,30\n"
G_HEAD = "client,goal_id,set_session,agreement\n"
G_DUP_AFTER_BAD = G_HEAD + "X-1,G1,0,agreed\nX-1,G1,1,agreed\n"
C_DUP_AFTER_BAD = "client,clinician,status\nX-1,A1,gone\nX-1,A1,active\n"
G_DUP_AND_UNKNOWN = G_HEAD + "X-1,G1,1,agreed\nX-1,G1,1,agreed\nX-7,G2,1,agreed\n"
SET_SESSION_0 = "goals.csv:2: set_session: must be a whole number from 1 to 1,000,000 (got 0)"
GOAL_DUP = "goals.csv:3: goal_id: goal G1 of X-1 already given on line 2 (got G1)"
X7_UNKNOWN_DB = "goals.csv:4: client: not in the measures or clients file, nor in the database (got X-7)"

M_BLANK_INSTRUMENT = ("client,clinician,session,date,attendance,instrument,rater,total\n"
                      "C-01,T01,1,2025-01-06,attended,,client,38\n"
                      "C-01,T01,1,2025-01-06,attended,,client,18.4\n")

ONE_RUN_CASES = [
    # (id, files, command, every line the run prints)
    # a second read: two rows of a session with scores but no instrument are two errors, not also a
    # duplicate of each other (the instrument they mean is not named: they have no identity to compare)
    ("blank-instrument-no-duplicate", {"measures.csv": M_BLANK_INSTRUMENT}, ["validate", "measures.csv"], [
        "measures.csv:2: total: a score needs an instrument, but the instrument column is empty (got 38)",
        "measures.csv:3: total: a score needs an instrument, but the instrument column is empty (got 18.4)",
        "2 errors."]),
    ("measures-validate", {"measures.csv": M_TRIAL}, ["validate", "measures.csv"],
     M_TRIAL_ERRORS + ["4 errors."]),
    ("measures-import", {"measures.csv": M_TRIAL}, ["import", "my.json", "measures.csv"],
     M_TRIAL_ERRORS + ["4 errors; nothing was written."]),
    ("goals-duplicate-after-a-bad-line", {"measures.csv": M_GOOD, "goals.csv": G_DUP_AFTER_BAD},
     ["validate", "measures.csv", "goals.csv"], [SET_SESSION_0, GOAL_DUP, "2 errors."]),
    ("goals-duplicate-after-a-bad-line-import", {"measures.csv": M_GOOD, "goals.csv": G_DUP_AFTER_BAD},
     ["import", "my.json", "measures.csv", "--goals", "goals.csv"],
     [SET_SESSION_0, GOAL_DUP, "2 errors; nothing was written."]),
    ("clients-duplicate-after-a-bad-line", {"measures.csv": M_GOOD, "clients.csv": C_DUP_AFTER_BAD},
     ["validate", "measures.csv", "clients.csv"], [
         "clients.csv:2: status: must be one of active, paused, closed, dropped_out or empty (got gone)",
         "clients.csv:3: client: already listed on line 2 (got X-1)",
         "2 errors."]),
    # the check across files (and against the database) runs although the goals file has an error
    ("goals-duplicate-and-unknown-client-import", {"measures.csv": M_GOOD, "goals.csv": G_DUP_AND_UNKNOWN},
     ["import", "my.json", "measures.csv", "--goals", "goals.csv"],
     [GOAL_DUP, X7_UNKNOWN_DB, "2 errors; nothing was written."]),
    # ... and although another file has errors
    ("every-file-import", {"measures.csv": M_TRIAL, "clients.csv": C_DUP_AFTER_BAD, "goals.csv": G_DUP_AND_UNKNOWN},
     ["import", "my.json", "measures.csv", "--clients", "clients.csv", "--goals", "goals.csv"],
     M_TRIAL_ERRORS + [
         "clients.csv:2: status: must be one of active, paused, closed, dropped_out or empty (got gone)",
         "clients.csv:3: client: already listed on line 2 (got X-1)",
         GOAL_DUP, X7_UNKNOWN_DB, "8 errors; nothing was written."]),
    ("every-file-validate", {"measures.csv": M_TRIAL, "goals.csv": G_DUP_AND_UNKNOWN},
     ["validate", "measures.csv", "goals.csv"],
     M_TRIAL_ERRORS + [GOAL_DUP, "goals.csv:4: client: not in the measures or clients file (got X-7)",
                       "6 errors."]),
    # never a consequence of an error as a second error: an unreadable date is not "dated before"; the
    # session's next readable date is its date for the checks
    ("unreadable-date", {"measures.csv": M_HEAD + "X-1,A1,1,2026-10-01,SRS,30\nX-1,A1,2,2026-13-01,SRS,30\n"
                                                   "X-1,A1,2,2026-09-01,PHQ-9,7\n"},
     ["validate", "measures.csv"], [
         "measures.csv:3: date: must be a date YYYY-MM-DD (got 2026-13-01)",
         ("measures.csv:4: date: session 2 of X-1 is dated before session 1 (2026-10-01, on line 2) "
          "(got 2026-09-01)"),
         "2 errors."]),
    # ... nor a goal of a client whose measures row has an error as a goal of an unknown client
    ("goal-of-a-client-whose-row-has-an-error", {"measures.csv": M_HEAD + "X-1,A1,1,2026-10-01,SRS,41\n",
                                                "goals.csv": G_HEAD + "X-1,G1,1,agreed\n"},
     ["import", "my.json", "measures.csv", "--goals", "goals.csv"],
     ["measures.csv:2: total: must be within 0-40 for SRS (got 41)", "1 error; nothing was written."]),
    ("goal-of-a-client-whose-row-has-an-error-validate", {"measures.csv": M_HEAD + "X-1,A1,1,2026-10-01,SRS,41\n",
                                                         "goals.csv": G_HEAD + "X-1,G1,1,agreed\n"},
     ["validate", "measures.csv", "goals.csv"], ["measures.csv:2: total: must be within 0-40 for SRS (got 41)",
                                                 "1 error."]),
    # ... nor when the measures file's rows cannot be read at all (its header) or that row does not line up
    ("goal-of-a-client-in-an-unread-file", {"measures.csv": "client,clinician,session,dat\nX-1,A1,1,2026-10-01\n",
                                           "goals.csv": G_HEAD + "X-1,G1,1,agreed\n"},
     ["import", "my.json", "measures.csv", "--goals", "goals.csv"], [
         ("measures.csv:1: header: unknown column; allowed are client, clinician, session, date, attendance, "
          "instrument, rater, total, goal, task, bond, rupture, rupture_type, risk (got dat)"),
         "measures.csv:1: date: required column is missing from the header (got client,clinician,session,dat)",
         "2 errors; nothing was written."]),
    ("goal-of-a-client-on-a-row-that-does-not-line-up",
     {"measures.csv": M_HEAD + "X-1,A1,1,2026-10-01,SRS,35,5\n", "goals.csv": G_HEAD + "X-1,G1,1,agreed\n"},
     ["import", "my.json", "measures.csv", "--goals", "goals.csv"],
     ["measures.csv:2: row: has 7 fields but the header has 6 (got 7)", "1 error; nothing was written."]),
    # a row with an error agrees with its session on its valid fields; an invalid attendance says nothing
    ("session-fields-of-a-row-with-an-error",
     {"measures.csv": "client,clinician,session,date,attendance,instrument,total\n"
                      "X-1,A1,1,2026-10-01,present,SRS,41\nX-1,B2,1,2026-10-01,no_show,ORS,20\n"
                      "X-1,A1,1,2026-10-02,attended,GAD-7,5\n"},
     ["validate", "measures.csv"], [
         "measures.csv:2: attendance: must be one of attended, cancelled, no_show or empty (got present)",
         "measures.csv:2: total: must be within 0-40 for SRS (got 41)",
         "measures.csv:3: clinician: session 1 of X-1 is with A1 on line 2 (got B2)",
         "measures.csv:4: date: session 1 of X-1 has date 2026-10-01 on line 2 (got 2026-10-02)",
         "measures.csv:4: attendance: session 1 of X-1 is no_show on line 3 (got attended)",
         "5 errors."]),
    # a row whose identity itself is invalid (instrument, rater) is no duplicate of anything
    ("invalid-identity", {"measures.csv": "client,clinician,session,date,instrument,rater,total\n"
                                          "X-1,A1,1,2026-10-01,SRX,client,30\nX-1,A1,1,2026-10-01,SRX,client,30\n"
                                          "X-1,A1,1,2026-10-01,SRS,patient,30\nX-1,A1,1,2026-10-01,SRS,patient,30\n"},
     ["validate", "measures.csv"], [
         "measures.csv:2: instrument: must be one of SRS, WAI-SR, ORS, PHQ-9, GAD-7 or empty (got SRX)",
         "measures.csv:3: instrument: must be one of SRS, WAI-SR, ORS, PHQ-9, GAD-7 or empty (got SRX)",
         "measures.csv:4: rater: must be one of client, therapist or empty (got patient)",
         "measures.csv:5: rater: must be one of client, therapist or empty (got patient)",
         "4 errors."]),
    # a cell with a control character: reported once, the row not checked further, but its identity counts
    ("control-character", {"measures.csv": M_HEAD + "X-1,A1,1,2026-10-01,SRS,3\t0\nX-1,A1,1,2026-10-01,SRS,30\n"},
     ["validate", "measures.csv"], [
         "measures.csv:2: total: contains a control character: tab (U+0009) at character 2 (got 3\\t0)",
         "measures.csv:3: instrument: same client, session, instrument and rater as line 2 (got SRS)",
         "2 errors."]),
]


@pytest.mark.parametrize("files,command,expected", [c[1:] for c in ONE_RUN_CASES], ids=[c[0] for c in ONE_RUN_CASES])
def test_one_run_lists_every_error(files, command, expected):
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    for name, text in files.items():
        write(name, text)
    res = CliRunner().invoke(cli, command)
    assert res.exit_code == 1, res.output
    assert res.output.splitlines() == expected
    assert not Path("my.json").exists()  # nothing written
