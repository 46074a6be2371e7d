"""The agenda's default "new since" (issue 15): a week before the reference
date, or before the last session when the data end earlier (the demo's
data end on a fixed date, so "a week ago" found nothing new)."""

from __future__ import annotations

from datetime import date, timedelta

from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.reports.agenda import SINCE_DAYS, build_agenda_from, default_since
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.settings import Settings
from supervision_tui.store.database import Database
from supervision_tui.demo import write_demo


def test_default_since_follows_the_data_when_they_end_before_the_reference_date():
    last = date(2026, 11, 20)
    dates = [date(2026, 11, 1), last]
    assert default_since(date(2026, 11, 28), dates) == last - timedelta(days=SINCE_DAYS)
    assert default_since(date(2026, 11, 22), dates) == last - timedelta(days=SINCE_DAYS)  # ref after the data
    assert default_since(date(2026, 11, 15), dates) == date(2026, 11, 8)  # ref inside the data: a week before it
    assert default_since(date(2026, 11, 28), []) == date(2026, 11, 21)  # no data: a week ago


def test_the_demo_agenda_has_something_new_by_default(tmp_path):
    db = tmp_path / "demo.json"
    write_demo(db)
    caseload = Database(db, read_only=True).load()
    last = max(r.date for r in caseload.ratings)
    today = last + timedelta(days=30)  # a demo opened a month after its data end
    agenda = build_agenda_from(caseload, analyse_caseload(caseload, Settings()), None, today=today)
    assert agenda.since == last - timedelta(days=SINCE_DAYS)
    assert any(item.new for section in agenda.sections for group in section.groups for item in group.items)
    # the old default (a week before today) found nothing new
    old = build_agenda_from(caseload, analyse_caseload(caseload, Settings()), None,
                            since=today - timedelta(days=SINCE_DAYS))
    assert not any(item.new for section in old.sections for group in section.groups for item in group.items)


def test_the_cli_agenda_uses_the_same_default(tmp_path):
    db = tmp_path / "demo.json"
    write_demo(db)
    last = max(r.date for r in Database(db, read_only=True).load().ratings)
    out = CliRunner().invoke(cli, ["agenda", str(db)]).output
    assert f"new since {(last - timedelta(days=SINCE_DAYS)).isoformat()}" in out.lower()


def test_since_after_the_agenda_day_is_refused(tmp_path):
    """Newcomer finding: ``--since`` a future date printed an agenda in which
    nothing was new, silently. Now a clear error, exit 1."""
    from click.testing import CliRunner

    from supervision_tui.cli import cli
    from supervision_tui.demo import write_demo

    db = tmp_path / "demo.json"
    write_demo(db, seed=2026, n_clients=12)
    res = CliRunner().invoke(cli, ["agenda", str(db), "--as-of", "2026-11-20", "--since", "2026-11-21"])
    assert res.exit_code == 1 and "--since 2026-11-21 is after the agenda's day 2026-11-20" in res.output
    ok = CliRunner().invoke(cli, ["agenda", str(db), "--as-of", "2026-11-20", "--since", "2026-11-20"])
    assert ok.exit_code == 0 and "new since 2026-11-20" in ok.output
