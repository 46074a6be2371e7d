"""`flags` and `summary` commands end to end against a real database file;
the `--clinician` check of every command that has it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from rules_helpers import D0, Case
from supervision_tui.cli import cli
from supervision_tui.store.database import Database


@pytest.fixture()
def db(tmp_path):
    risk = Case("C-0142", "T02")
    for n, v in enumerate([38, 38, 38, 30], 1):
        risk.s(n, SRS=dict(total=v, goal=9), ORS=30)
    risk.s(5, SRS=dict(total=38, goal=9), ORS=30, PHQ=dict(total=14, risk=True))
    worse = Case("C-0107", "T01")
    worse.s(1, SRS=dict(total=38, goal=9), ORS=31).s(2, SRS=dict(total=38, goal=9), ORS=24)
    closed = Case("C-0001", "T01", status="closed")
    closed.series("SRS", [38, 38, 38, 30])
    path = tmp_path / "caseload.json"
    Database(path, read_only=False).replace_caseload(risk.caseload(worse, closed))
    return path


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    return result


def test_flags_json(db):
    r = run("flags", str(db), "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [(x["client"], x["kind"], x["session"], x["status"]) for x in rows] == [
        ("C-0001", "goal", None, "not_set"),
        ("C-0001", "rupture", 4, "unrepaired"),
        ("C-0107", "outcome", 2, "deteriorated"),
        ("C-0142", "rupture", 4, "repaired"),
        ("C-0142", "risk", 5, "risk"),
    ]
    assert rows[3]["repaired_at"] == 5 and rows[2]["change"] == -7.0


def test_summary_json_triage_order_without_closed(db):
    r = run("summary", str(db), "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [(x["client"], x["tier"], x["reason"]) for x in rows] == [
        ("C-0142", 1, "risk"),
        ("C-0107", 2, "outcome deteriorated"),
    ]
    assert rows[0]["alliance"] == {"instrument": "SRS", "latest": 38.0, "index": 0.95}
    assert rows[0]["outcomes"] == {"ORS": "no_change"}


def test_as_of_and_clinician(db):
    as_of = (D0 + timedelta(days=21)).isoformat()  # up to s4
    rows = json.loads(run("summary", str(db), "--json", "--as-of", as_of).output)
    assert [(x["client"], x["tier"], x["reason"]) for x in rows] == [
        ("C-0107", 2, "outcome deteriorated"),
        ("C-0142", 3, "rupture open"),
    ]
    rows = json.loads(run("flags", str(db), "--json", "--clinician", "T02").output)
    assert {x["client"] for x in rows} == {"C-0142"}


def test_text_outputs(db):
    r = run("summary", str(db))
    assert r.exit_code == 0 and "▲1 risk" in r.output and "C-0001" not in r.output
    assert "C-0001" in run("summary", str(db), "--all").output
    r = run("flags", str(db))
    assert r.exit_code == 0 and "unrepaired" in r.output and "5 flags for 3 clients." in r.output
    # three clients are no clinic reference (one with three ORS ratings): the text outputs say not on track is not computed, and why
    for cmd in ("flags", "summary"):
        out = run(cmd, str(db)).output
        assert "Not on track is not computed (clinical-rules §10):\n  ORS: not enough clinic data for an " \
               "expected trajectory: 1 of 30 clients, 4 of 100 ratings after intake" in out, out
        assert "PHQ-9:" not in out.split("Not on track is not computed")[1]  # one rating: not in use
    assert "not computed" not in run("summary", str(db), "--json").output  # the JSON contract is unchanged


def test_config_changes_results_and_bad_config_fails_cleanly(db, tmp_path):
    good = tmp_path / "strict.toml"
    good.write_text("[outcomes]\nreliable_change = { ORS = 8 }\n")
    rows = json.loads(run("summary", str(db), "--json", "--config", str(good)).output)
    assert [x["client"] for x in rows if x["tier"] == 2] == []
    bad = tmp_path / "bad.toml"
    bad.write_text('[rupture]\ndrop_sd = "two"\n')
    r = run("flags", str(db), "--config", str(bad))
    assert r.exit_code == 1
    assert f"{bad}: [rupture] drop_sd: expected a number (got 'two')" in r.output
    assert "Traceback" not in r.output


def test_real_process(db):
    proc = subprocess.run(
        [sys.executable, "-m", "supervision_tui", "flags", str(db), "--json"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 5


@pytest.mark.parametrize("command", [["flags"], ["flags", "--json"], ["summary"], ["summary", "--json"],
                                     ["agenda"], ["export", "OUT"]])
def test_an_unknown_clinician_is_an_error_not_an_empty_result(db, tmp_path, command):
    name, *rest = command
    rest = [str(tmp_path / "out") if a == "OUT" else a for a in rest]
    args = [name, str(db), *rest]  # export: DB OUTDIR
    r = CliRunner().invoke(cli, [*args, "--clinician", "NOPE"])
    assert r.exit_code == 1, r.output
    assert f"no clinician NOPE in {db} (known: T01, T02)" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()  # export wrote nothing
    ok = CliRunner().invoke(cli, [*args, "--clinician", "T02"])
    assert ok.exit_code == 0, ok.output
    assert "C-0142" in ok.output or name == "export"



# --- spec v2 through the real CLI: import CSV files, then flags/summary ------------------------------

MEASURES = """client,clinician,session,date,attendance,instrument,rater,total,goal,task,bond,risk
C-01,T01,1,2026-03-02,attended,PHQ-9,client,15,,,,yes
C-01,T01,2,2026-03-09,no_show,,,,,,,
C-01,T01,3,2026-03-16,no_show,,,,,,,
C-01,T01,4,2026-03-23,cancelled,,,,,,,
C-02,T01,1,2026-03-02,attended,PHQ-9,client,14,,,,yes
C-02,T01,1,2026-03-02,attended,ORS,client,22,,,,
C-02,T01,2,2026-03-09,attended,ORS,client,23,,,,
C-02,T01,2,2026-03-09,attended,GAD-7,client,9,,,,no
C-02,T01,3,2026-03-16,attended,ORS,client,23,,,,
C-02,T01,4,2026-03-23,attended,ORS,client,24,,,,
C-02,T01,5,2026-03-30,attended,ORS,client,24,,,,
C-03,T02,1,2026-03-02,attended,ORS,client,22,,,,
C-03,T02,2,2026-03-09,attended,PHQ-9,client,17,,,,yes
C-03,T02,3,2026-03-16,no_show,,,,,,,
C-03,T02,4,2026-03-23,no_show,,,,,,,
C-04,T02,1,2026-03-02,attended,PHQ-9,client,16,,,,yes
C-04,T02,2,2026-03-09,attended,PHQ-9,client,12,,,,no
C-05,T02,1,2026-03-02,attended,PHQ-9,client,16,,,,yes
C-05,T02,2,2026-03-09,attended,PHQ-9,client,13,,,,
C-06,T01,1,2026-03-02,attended,WAI-SR,client,,18,16,16,
C-06,T01,1,2026-03-02,attended,WAI-SR,therapist,,12,14,14,
C-07,T01,1,2026-03-02,attended,WAI-SR,client,,16,16,16,
C-07,T01,1,2026-03-02,attended,WAI-SR,therapist,,20,16,16,
"""
CLIENTS = """client,clinician,status,started
C-03,T02,dropped_out,2026-03-02
"""


@pytest.fixture()
def v2_db(tmp_path):
    m, c = tmp_path / "measures.csv", tmp_path / "clients.csv"
    m.write_text(MEASURES)
    c.write_text(CLIENTS)
    db = tmp_path / "v2.json"
    r = run("import", str(db), str(m), "--clients", str(c))
    assert r.exit_code == 0, r.output
    return db


def test_v2_risk_objects_in_flags_json(v2_db):
    rows = json.loads(run("flags", str(v2_db), "--json").output)
    risk = {x["client"]: {k: v for k, v in x.items() if k != "detail"} for x in rows if x["kind"] == "risk"}
    base = {"kind": "risk", "rescreened_at": None}
    assert risk == {
        # risk then only no-shows
        "C-01": {**base, "client": "C-01", "clinician": "T01", "session": 1, "status": "risk", "missed_since": 3},
        # risk on a monthly instrument, then sessions of other instruments (GAD-7 no is not a PHQ-9 re-screen)
        "C-02": {**base, "client": "C-02", "clinician": "T01", "session": 1, "status": "risk", "missed_since": 0},
        # risk then drop-out
        "C-03": {**base, "client": "C-03", "clinician": "T02", "session": 2, "status": "risk", "missed_since": 2},
        # re-screened negative
        "C-04": {"client": "C-04", "clinician": "T02", "kind": "risk", "session": 1, "status": "rescreened",
                 "rescreened_at": 2, "missed_since": 0},
        # an empty risk cell after a positive one: not asked, still active
        "C-05": {**base, "client": "C-05", "clinician": "T02", "session": 1, "status": "risk", "missed_since": 0},
    }
    for x in rows:
        if x["kind"] == "risk":
            assert list(x) == ["client", "clinician", "kind", "session", "status", "rescreened_at", "missed_since",
                               "detail"]
            assert "is a screen, not a risk determination" in x["detail"]
    # therapist Goal below the client's: no disagreement; the client's below the therapist's: disagreed
    goals = {x["client"]: x["status"] for x in rows if x["kind"] == "goal"}
    assert "C-06" not in goals and goals["C-07"] == "disagreed"


def test_v2_summary_json_order_and_dropped_out_risk(v2_db):
    rows = json.loads(run("summary", str(v2_db), "--json").output)
    order = [(x["client"], x["status"], x["tier"], x["reason"]) for x in rows]
    # not seen since the risk session first (C-03's risk is the more recent), then the others by date, code
    assert order[:5] == [
        ("C-03", "dropped_out", 1, "risk"),
        ("C-01", "active", 1, "risk"),
        ("C-02", "active", 1, "risk"),
        ("C-05", "active", 1, "risk"),
        ("C-07", "active", 4, "goal disagreed"),
    ]
    assert ("C-04", "active") in [(x["client"], x["status"]) for x in rows]
    assert next(x for x in rows if x["client"] == "C-04")["tier"] != 1


def test_v2_text_outputs_say_words(v2_db):
    out = run("summary", str(v2_db)).output
    assert "risk at s2 (dropped out); not seen since: 2 no-shows" in out
    assert "risk at s1; not seen since: 2 no-shows, 1 cancellation" in out
    assert "dropped out" in out and "dropped_out" not in out
    for token in ("no_change", "not_set", "dropped_out"):
        assert token not in out
    assert "7 no flag" in out  # C-06: tier 7 reads "no flag", never "ok"
    assert " ok " not in out and "✓7" not in out
    assert 'Tier 7 "no flag" means no rule fired, not that the client is cleared.' in out
    flags = run("flags", str(v2_db)).output
    assert "re-screened negative s2" in flags and "re-screened negative" in flags and "not_set" not in flags


def test_v2_change_words_in_the_flags_table(tmp_path):
    worse = Case("C-0107", "T01").s(1, PHQ=10).s(2, PHQ=16)
    path = tmp_path / "w.json"
    Database(path, read_only=False).replace_caseload(worse.caseload())
    (row,) = [x for x in json.loads(run("flags", str(path), "--json").output) if x["kind"] == "outcome"]
    assert row["change"] == -6.0  # the JSON keeps positive = better (interchange §5)
    assert row["detail"].startswith("reliably deteriorated: PHQ-9 10 → 16 (+6, worse)")
    text = run("flags", str(path)).output
    assert "PHQ-9 · +6 worse" in text and "−6" not in text


@pytest.mark.parametrize("command", [["flags"], ["summary", "--json"], ["agenda"]])
def test_as_of_before_any_data_or_in_the_future_is_an_error(v2_db, command):
    name, *rest = command
    for day, words in (("2026-01-01", "is before any data: the first session in this caseload is dated 2026-03-02"),
                       ((date.today() + timedelta(days=1)).isoformat(), "is in the future")):
        r = CliRunner().invoke(cli, [name, str(v2_db), *rest, "--as-of", day])
        assert r.exit_code == 2, r.output
        assert f"--as-of {day} {words}" in r.output and "Traceback" not in r.output
    ok = CliRunner().invoke(cli, [name, str(v2_db), *rest, "--as-of", "2026-03-09"])
    assert ok.exit_code == 0, ok.output


def test_as_of_is_what_was_known_then(v2_db):
    rows = json.loads(run("flags", str(v2_db), "--json", "--as-of", "2026-03-02").output)
    risk = {x["client"]: (x["status"], x["missed_since"]) for x in rows if x["kind"] == "risk"}
    # C-04 not re-screened yet; C-03 had no risk yet (its s2 is later); C-01 not missed anything yet
    assert risk == {"C-01": ("risk", 0), "C-02": ("risk", 0), "C-04": ("risk", 0), "C-05": ("risk", 0)}
    summary = json.loads(run("summary", str(v2_db), "--json", "--as-of", "2026-03-02").output)
    assert all(x["sessions"] >= 1 for x in summary), "a client not seen yet is not shown with 0 sessions"


def test_review_command_choices_follow_the_registries():
    """``review --kind`` offers every registered flag kind (a new kind is one
    registry entry, issue 11) and ``--status`` exactly the review statuses."""
    import click

    from supervision_tui.cli import cli as root
    from supervision_tui.rules.kinds import REGISTRY
    from supervision_tui.store.reviews import REVIEW_STATUSES

    params = {p.name: p for p in root.commands["review"].params}
    assert isinstance(params["kind"].type, click.Choice)
    assert tuple(params["kind"].type.choices) == REGISTRY.ids()
    assert tuple(params["status"].type.choices) == REVIEW_STATUSES
