"""Issue 13: hostile text. Control characters (terminal escape sequences)
are refused where text enters and neutralised where it is read back;
identifiers are identifiers; CSV exports run no formula; the Markdown agenda
carries no live link from user text."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import ValidationFailed
from supervision_tui.model import Caseload, Client, Goal, Rating
from supervision_tui.store import sanitize
from supervision_tui.store.csv_io import export_csv, parse_files, validate_files
from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore, WorkflowError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOTE = "NOTE-7c1d private"

# Every C0 control, DEL, a sample of C1 controls and a lone surrogate, inside
# text, at its start and at its end; plus the classic attacks.
CONTROLS = [chr(n) for n in range(0x20) if n != 0x0A] + ["\x7f", "\x80", "\x85", "\x9b", "\x9d", "\x9f", "\udcff"]
ATTACKS = ["\x1b[2J", "\x1b]0;owned\x07", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "\x9b2J",
           "\x1bP+q\x1b\\", "a\rb"]
HOSTILE = [f"ok {c} ok" for c in CONTROLS] + [c + "x" for c in CONTROLS] + ATTACKS


def raw_controls(text: str) -> list[str]:
    """Control characters a terminal would act on (line breaks aside)."""
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


# --- the text rules themselves -----------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_control_problem_names_the_character_not_the_text(text):
    problem = sanitize.control_problem("private " + text)
    assert problem is not None
    assert "private" not in problem and "owned" not in problem
    assert not raw_controls(problem)
    assert sanitize.control_problem("private " + text, newlines=True) is not None


@pytest.mark.parametrize("text", ["plain", "é ü 中文 — “quotes”", "emoji 🙂", "a" * 5000])
def test_ordinary_text_has_no_problem(text):
    assert sanitize.control_problem(text) is None
    assert sanitize.printable(text) is text


def test_line_breaks_only_where_allowed():
    assert sanitize.control_problem("one\ntwo") == "contains a control character: line break (U+000A) at character 4"
    assert sanitize.control_problem("one\ntwo", newlines=True) is None
    assert sanitize.control_problem("one\ttwo", newlines=True) == (
        "contains a control character: tab (U+0009) at character 4; only line breaks are allowed")
    assert sanitize.normalise_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_leaves_no_control_character(text):
    out = sanitize.printable(text)
    assert not raw_controls(out) and "\n" not in out
    assert not re.search("[\ud800-\udfff]", out)
    out = sanitize.printable(text + "\nline 2", newlines=True)
    assert not raw_controls(out) and out.endswith("\nline 2")


def test_printable_shows_what_was_there():
    assert sanitize.printable("a\x1b[2Jb") == "a\u241b[2Jb"  # ␛
    assert sanitize.printable("a\x9bb\x7f") == "a\ufffdb\u2421"
    assert sanitize.printable("a\r\nb", newlines=True) == "a\nb"


@pytest.mark.parametrize("value,ok", [
    ("C-0142", True), ("T01", True), ("_x", True), ("a" * 32, True), ("9", True),
    ("-C1", False), ("", False), ("a" * 33, False), ("C 1", False), ("C.1", True), (".5", True), ("C:1", False), ("Ü1", False),
    ("C\x1b1", False), ("=1+1", False), ("@SUM", False), ("+1", False), (None, False), (7, False),
])
def test_identifiers(value, ok):
    assert sanitize.is_identifier(value) is ok


@pytest.mark.parametrize("text,cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'=x", "''=x"), ("''-x", "'''-x"), ("'x", "'x"), ("x=1", "x=1"), ("", ""),
    ("'", "'"),
])
def test_csv_cells_run_no_formula_and_read_back_exactly(text, cell):
    assert sanitize.csv_cell(text) == cell
    assert sanitize.csv_uncell(sanitize.csv_cell(text)) == text


# --- CSV import refuses control characters and non-identifiers --------------------------------


MEASURES_HEADER = "client,clinician,session,date,attendance,instrument,rater,total,goal,task,bond,rupture,rupture_type,risk"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("column,value", [
    ("client", "C\x1b[2J1"), ("clinician", "T\x9b1"), ("attendance", "attended\x07"), ("instrument", "SRS\x1b"),
    ("rater", "client\x1fx"), ("total", "3\x1b6"), ("rupture", "no\x7f"),
])
def test_measures_import_refuses_control_characters(tmp_path, column, value):
    row = dict(client="C-01", clinician="T01", session="1", date="2025-01-06", attendance="attended",
               instrument="SRS", rater="client", total="36")
    row[column] = value
    cols = MEASURES_HEADER.split(",")
    body = ",".join(f'"{row.get(c, "")}"' for c in cols)
    m = write(tmp_path / "m.csv", MEASURES_HEADER + "\n" + body + "\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files(m)
    (line,) = info.value.errors
    assert line.startswith(f"{m}:2: {column}: contains a control character: "), line  # the real problem named
    assert not raw_controls(str(info.value))


# in a CSV file: a carriage return is a line break, a lone surrogate cannot be
# written as UTF-8, NUL makes the whole file "not a text CSV file" (tested elsewhere)
IN_CSV = [t for t in HOSTILE if not any(c in t for c in "\r\udcff\x00")]


@pytest.mark.parametrize("text", IN_CSV)
def test_goal_descriptions_with_control_characters_are_refused_without_echo(tmp_path, text):
    m = write(tmp_path / "m.csv", MEASURES_HEADER + "\nC-01,T01,1,2025-01-06,attended,SRS,client,36,,,,,,\n")
    g = tmp_path / "g.csv"
    with g.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["client", "goal_id", "description", "set_session", "agreement"])
        w.writerow(["C-01", "G1", f"{NOTE} {text}", "1", "agreed"])
    with pytest.raises(ValidationFailed) as info:
        parse_files(m, goals=g)
    (line,) = info.value.errors
    assert line.startswith(f"{g}:2: description: contains a control character"), line
    assert line.endswith("(got (private text))")
    assert NOTE not in str(info.value) and not raw_controls(str(info.value))
    with pytest.raises(ValidationFailed):
        validate_files([m, g])


def test_multi_line_goal_descriptions_import_with_plain_line_breaks(tmp_path):
    m = write(tmp_path / "m.csv", MEASURES_HEADER + "\nC-01,T01,1,2025-01-06,attended,SRS,client,36,,,,,,\n")
    g = write(tmp_path / "g.csv", 'client,goal_id,description,set_session,agreement\r\n'
                                  'C-01,G1,"line one\r\nline two",1,agreed\r\n')
    (goal,) = parse_files(m, goals=g).goals
    assert goal.description == "line one\nline two"


@pytest.mark.parametrize("column,value", [("client", "-C01"), ("clinician", "-T1")])
def test_identifiers_may_not_start_with_a_dash(tmp_path, column, value):
    row = {"client": "C-01", "clinician": "T01"}
    row[column] = value
    m = write(tmp_path / "m.csv", MEASURES_HEADER + f"\n{row['client']},{row['clinician']},1,2025-01-06,,SRS,,36,,,,,,\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files(m)
    # a value that is not a code is described, not shown (it may be a name): sanitize.code_shown
    assert info.value.errors == [f"{m}:2: {column}: must be {sanitize.IDENTIFIER_RULE} "
                                 f"(got {len(value)} characters, not a code; not shown)"]


@pytest.mark.parametrize("value, shown", [
    ("C-01", "C-01"), ("", ""), ("Jane Doe", "8 characters, not a code; not shown"),
    ("-C01", "4 characters, not a code; not shown"), ("Ü", "1 character, not a code; not shown"),
])
def test_code_shown_describes_a_value_that_is_not_a_code(value, shown):
    assert sanitize.code_shown(value) == shown


@pytest.mark.parametrize("column, value", [
    ("client", "Quillonia Zebrastripe"), ("clinician", "Dr Xanthippe"), ("client", "Quillonia\x1bZ"),
])
def test_a_name_in_a_code_column_is_never_echoed(tmp_path, column, value):
    """A native CSV with names where the codes belong: the error says what
    is wrong and how long the value is, never the value (it may be a name)."""
    row = {"client": "C-01", "clinician": "T01", column: value}
    m = write(tmp_path / "m.csv", MEASURES_HEADER + f'\n"{row["client"]}","{row["clinician"]}",1,2025-01-06,,SRS,,36,'
                                                    ",,,,,\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files(m)
    (line,) = info.value.errors
    assert line.startswith(f"{m}:2: {column}: ")
    assert line.endswith(f"(got {len(value)} characters, not a code; not shown)")
    assert "Quillonia" not in str(info.value) and "Xanthippe" not in str(info.value)
    res = CliRunner().invoke(cli, ["validate", str(m)])
    assert res.exit_code == 1 and "Quillonia" not in res.output and "Xanthippe" not in res.output


def test_a_valid_code_is_still_shown_in_errors(tmp_path):
    c = write(tmp_path / "c.csv", "client,clinician\nC-01,T01\nC-01,T02\n")
    m = write(tmp_path / "m.csv", MEASURES_HEADER + "\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files(m, clients=c)
    assert info.value.errors == [f"{c}:3: client: already listed on line 2 (got C-01)"]


def test_goal_ids_and_clients_csv_codes_are_identifiers_too(tmp_path):
    m = write(tmp_path / "m.csv", MEASURES_HEADER + "\nC-01,T01,1,2025-01-06,,SRS,,36,,,,,,\n")
    c = write(tmp_path / "c.csv", "client,clinician\n-C02,T01\nC-03,-T9\n")
    g = write(tmp_path / "g.csv", "client,goal_id,description,set_session,agreement\nC-01,-G1,,1,agreed\n")
    with pytest.raises(ValidationFailed) as info:
        parse_files(m, clients=c, goals=g)
    assert info.value.errors == [
        f"{c}:2: client: must be {sanitize.IDENTIFIER_RULE} (got 4 characters, not a code; not shown)",
        f"{c}:3: clinician: must be {sanitize.IDENTIFIER_RULE} (got 3 characters, not a code; not shown)",
        f"{g}:2: goal_id: must be {sanitize.IDENTIFIER_RULE} (got 3 characters, not a code; not shown)",
    ]


# --- entry: reviews, action items, users --------------------------------------------------------


def small_db(tmp_path: Path, description: str = "goal text", name: str = "unit", fmt: int = 2) -> Database:
    """As the product writes it (format 2), or a format-1 file (``fmt=1``:
    an old database whose tables the tests edit)."""
    cl = Caseload(
        clients={"C-1": Client("C-1", "T1")},
        ratings=[Rating("C-1", "T1", n, date(2026, 1, 5 + 7 * (n - 1)), instrument="SRS", total=38.0)
                 for n in (1, 2, 3)],
        goals=[Goal("C-1", "G1", description, 1, "agreed")],
        name=name,
    )
    if fmt == 1:
        from v1_helpers import write_v1

        write_v1(tmp_path / "db.json", cl)
        return Database(tmp_path / "db.json")
    db = Database(tmp_path / "db.json")
    db.replace_caseload(cl)
    return db


# (in free text a carriage return is a line break: see the next test)
@pytest.mark.parametrize("text", [t for t in HOSTILE if "\r" not in t])
def test_review_notes_and_action_texts_refuse_control_characters(tmp_path, text):
    db = small_db(tmp_path)
    store = ReviewStore(db, user="sup")
    with pytest.raises(WorkflowError) as info:
        store.set_client_review("C-1", "discussed", note=f"{NOTE} {text}")
    assert str(info.value).startswith("note ") and NOTE not in str(info.value)
    assert not raw_controls(str(info.value))
    with pytest.raises(WorkflowError):
        store.add_action("C-1", f"{NOTE} {text}")
    item = store.add_action("C-1", "call")
    with pytest.raises(WorkflowError):
        store.update_action(item.id, text=f"{NOTE} {text}")
    with pytest.raises(WorkflowError):
        store.set_client_review("C-1", "discussed", user=f"sup{text}")
    with pytest.raises(WorkflowError):
        ReviewStore(db, user=f"sup{text}")
    assert all(e.action == "action.add" for e in store.audit())  # nothing else was written


def test_notes_may_hold_line_breaks_but_owners_and_users_may_not(tmp_path):
    store = ReviewStore(small_db(tmp_path), user="sup")
    assert store.set_client_review("C-1", "discussed", note="one\ntwo").note == "one\ntwo"
    assert store.add_action("C-1", "call\r\nthe GP").text == "call\nthe GP"
    for bad in ("T1\n", "-T1", "T\x1b1"):
        with pytest.raises(WorkflowError):
            store.add_action("C-1", "x", owner=bad)
    for bad in ("sup\nroot", "sup\rroot", "sup\x1b[2J", "sup\udcff"):
        with pytest.raises(WorkflowError):
            store.set_client_review("C-1", "discussed", user=bad)


@pytest.mark.parametrize("option,value", [("--note", f"{NOTE} \x1b]0;owned\x07"), ("--user", "sup\x1b[2J"),
                                          ("--user", "sup\udcff"), ("--note", "x\x9b2J")])
def test_review_cli_refuses_control_characters(tmp_path, option, value):
    db = small_db(tmp_path)
    res = CliRunner().invoke(cli, ["review", str(db.path), "C-1", "--status", "discussed", option, value])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit)
    assert NOTE not in res.output and not raw_controls(res.output)
    assert not db.sidecar_path.exists()


# --- reading back: old files with control characters never reach a terminal raw ----------------


def hostile_workflow(db: Database) -> None:
    ReviewStore(db, user="sup").set_client_review("C-1", "discussed", note="placeholder")
    doc = json.loads(db.sidecar_path.read_text(encoding="utf-8"))
    (key,) = doc["reviews"]
    doc["reviews"][key]["note"] = "note \x1b[2J\x1b]0;owned\x07"
    doc["reviews"][key]["by"] = "sup\x9b2J"
    doc["audit"][0]["user"] = "sup\x1b[31m"
    doc["audit"][0]["after"]["note"] = "after \x1b[2J"
    doc["actions"] = {"0a1b2c3d": {"client": "C-1", "text": "act \x1b]0;x\x07", "owner": "T1", "done": False,
                                   "n": 1, "created_by": "sup\x1b", "created_at": "2026-01-01T00:00:00+00:00"}}
    db.sidecar_path.write_text(json.dumps(doc), encoding="utf-8")


def test_text_read_from_an_old_database_is_neutralised(tmp_path):
    db = small_db(tmp_path, fmt=1)
    data = json.loads(db.path.read_text(encoding="utf-8"))
    data["goals"]["1"]["description"] = "goal \x1b[2J\x1b]0;owned\x07 end\r\nline 2"
    data["meta"]["1"]["name"] = "clinic\x1b[31m"
    db.path.write_text(json.dumps(data), encoding="utf-8")
    cl = Database(db.path, read_only=True).load()
    (goal,) = cl.goals
    assert goal.description == "goal \u241b[2J\u241b]0;owned\u2407 end\nline 2"
    assert cl.name == "clinic\u241b[31m"


def test_text_read_from_an_old_workflow_file_is_neutralised(tmp_path):
    db = small_db(tmp_path)
    hostile_workflow(db)
    store = ReviewStore(Database(db.path, read_only=True))
    (review,) = store.reviews().values()
    (item,) = store.actions()
    entries = store.audit()
    shown = [review.note, review.by, item.text, item.created_by, *(e.user for e in entries),
             *(e.summary(include_notes=True) for e in entries), store.audit_text("csv", include_notes=True),
             store.audit_text("json", include_notes=True)]
    for text in shown:
        assert not raw_controls(text.replace("\\u001b", "")), text


def test_cli_output_of_hostile_files_carries_no_escape_sequence(tmp_path):
    db = small_db(tmp_path, name="clinic", fmt=1)
    hostile_workflow(db)
    data = json.loads(db.path.read_text(encoding="utf-8"))
    data["goals"]["1"]["description"] = "goal \x1b[2J"
    data["meta"]["1"]["name"] = "clinic\x1b]0;owned\x07"
    db.path.write_text(json.dumps(data), encoding="utf-8")
    runner = CliRunner()
    for args in (["agenda", str(db.path), "--include-notes", "--as-of", "2026-02-01"],
                 ["agenda", str(db.path), "--include-notes", "--format", "html"],
                 ["audit", str(db.path), "--include-notes"], ["audit", str(db.path), "--format", "json"],
                 ["summary", str(db.path)], ["flags", str(db.path), "--json"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, (args, res.output)
        assert not raw_controls(res.output), args


# --- exports --------------------------------------------------------------------------------------


def test_every_exported_csv_cell_is_neutralised_and_reimports_exactly(tmp_path):
    texts = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "-2 sessions", "@SUM(A1)", "'=x", "plain"]
    cl = Caseload(
        clients={"C-1": Client("C-1", "T1")},
        ratings=[Rating("C-1", "T1", 1, date(2026, 1, 5), instrument="SRS", total=38.0)],
        goals=[Goal("C-1", f"G{i}", t, 1, "agreed") for i, t in enumerate(texts)],
        name="unit",
    )
    out = tmp_path / "out"
    export_csv(cl, out, include_notes=True)
    for name in ("measures.csv", "clients.csv", "goals.csv"):
        with (out / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert cell[:1] not in sanitize.FORMULA_TRIGGERS, (name, cell)
    parsed = parse_files(out / "measures.csv", clients=out / "clients.csv", goals=out / "goals.csv")
    assert sorted(g.description for g in parsed.goals) == sorted(texts)


def test_audit_csv_uses_the_same_neutralisation(tmp_path):
    store = ReviewStore(small_db(tmp_path), user="sup")
    store.set_client_review("C-1", "discussed", note="=cmd|' /C calc'!A0")
    text = store.audit_text("csv", include_notes=True)
    for row in csv.reader(text.splitlines()):
        assert all(cell[:1] not in sanitize.FORMULA_TRIGGERS for cell in row), row


# --- the Markdown agenda: no live link or image from user text -----------------------------------


LINKS = ["[click](http://evil.example)", "![img](http://evil.example/x.png)", "<http://evil.example>",
         "http://evil.example/a", "https://evil.example", "www.evil.example", "mail me@evil.example",
         "[ref]: http://evil.example", "<img src=x onerror=alert(1)>", "[x][ref]"]

LIVE = [
    re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\("),  # [text](  and ![alt](
    re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\["),  # [text][ref]
    re.compile(r"(?<!\\)<[A-Za-z/!?]"),  # <http://…>, <img …>
    re.compile(r"[A-Za-z]+(?<!\\)://"),  # bare scheme://
    re.compile(r"(?i)\bwww(?<!\\)\.[a-z]"),  # www.…
    re.compile(r"[A-Za-z0-9](?<!\\)@[A-Za-z0-9]"),  # e-mail
]


def live_links(markdown: str) -> list[str]:
    return [m.group() for p in LIVE for m in p.finditer(markdown)]


def test_markdown_agenda_makes_no_link_from_user_text(tmp_path):
    db = small_db(tmp_path, name=" ".join(LINKS))
    store = ReviewStore(db, user="sup")
    for i, link in enumerate(LINKS):
        store.add_action("C-1", f"act {link}", owner="T1")
        store.set_client_review("C-1", "discussed", note=f"note {link}", user=f"u{i} {link}")
    res = CliRunner().invoke(cli, ["agenda", str(db.path), "--include-notes", "--as-of", "2026-02-01"])
    assert res.exit_code == 0, res.output
    assert "evil" in res.output  # the text is there, as text
    assert live_links(res.output) == []
    # and a real renderer (CommonMark + GFM-style autolinks) makes no link or image of it
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table", "strikethrough"]).render(
        res.output)
    assert "<a " not in rendered and "<img" not in rendered
    assert "<a " in MarkdownIt("commonmark", {"linkify": True}).enable("linkify").render(" ".join(LINKS))
    # the detector itself finds what it is meant to find
    assert len(live_links(" ".join(LINKS))) >= len(LINKS) - 1


def test_a_triage_cache_holding_control_characters_is_ignored(tmp_path):
    """The cached first screen is read from disk too (e.g. written by an older
    version from a database whose text was not yet neutralised)."""
    from supervision_tui.settings import Settings
    from supervision_tui.store import triage_cache as tc

    db = small_db(tmp_path)
    row = {"code": "C-1", "clinician": "T1", "status": "active", "tier": 3, "why": "open since s4 (drop)",
           "alliance_text": "SRS 31", "alliance_index": 0.775, "spark": "▇▆", "goal": "agreed", "outcome": "",
           "sessions": 3, "last_date": date(2026, 1, 19), "review": "• new", "kinds": ["review"]}
    header = {"name": "unit", "clinicians": ["T1"], "latest_date": "2026-01-19"}
    key = tc.cache_key(db.path, Settings())
    tc.write_cache(key, header, [row])
    assert tc.read_cache(key) is not None
    for bad_header, bad_row in ((dict(header, name="unit\x1b]0;owned\x07"), row),
                                (header, dict(row, why="drop \x1b[2J")), (header, dict(row, kinds=["\x9b2J"]))):
        tc.write_cache(key, bad_header, [bad_row])
        assert tc.read_cache(key) is None
