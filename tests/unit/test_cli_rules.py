"""`flags` and `summary` commands end to end against a real database file;
the `--clinician` check of every command that has it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

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

