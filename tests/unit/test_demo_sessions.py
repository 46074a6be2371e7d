"""``demo --sessions N`` (issue 15): every client, scripted ones included,
has exactly N sessions; stories that need more are left out and named."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.demo import generate_demo, scenario_clients, stories_left_out
from supervision_tui.store.database import Database


def _sessions_per_client(caseload) -> Counter:
    per: dict[str, set[int]] = {}
    for r in caseload.ratings:
        per.setdefault(r.client, set()).add(r.session)
    return Counter(len(s) for s in per.values())


@pytest.mark.parametrize("n", [6, 10, 40])
def test_every_client_has_the_asked_number_of_sessions(n):
    caseload = generate_demo(sessions=n)
    assert _sessions_per_client(caseload) == Counter({n: len(caseload.clients)})


def test_stories_that_need_more_sessions_are_left_out_and_named():
    left = stories_left_out(sessions=6)
    assert left["unrepaired"] == 14 and "risk" not in left
    told = scenario_clients(sessions=6)
    assert "unrepaired" not in told and "risk" in told
    assert stories_left_out(sessions=40) == {} and set(scenario_clients(sessions=40)) == set(scenario_clients())


def test_the_cli_says_which_stories_were_left_out(tmp_path):
    r = CliRunner().invoke(cli, ["demo", str(tmp_path / "d.json"), "--sessions", "8"])
    assert r.exit_code == 0, r.output
    assert "Every client has 8 sessions" in r.output and "unrepaired (14)" in r.output
    caseload = Database(tmp_path / "d.json", read_only=True).load()
    assert set(_sessions_per_client(caseload)) == {8}
    r = CliRunner().invoke(cli, ["demo", str(tmp_path / "e.json"), "--sessions", "30"])
    assert r.exit_code == 0 and "left out" not in r.output
