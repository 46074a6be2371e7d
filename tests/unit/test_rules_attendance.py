"""Attendance (disengaging), clinical-rules.md §6 (risk: test_rules_risk.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules_helpers import D0, Case
from supervision_tui.settings import AttendanceSettings, Settings


@pytest.mark.parametrize(
    "tail, missed, disengaging",
    [
        ([], 0, False),
        (["no_show"], 1, False),
        (["no_show", "cancelled"], 2, True),
        (["cancelled", "cancelled", "no_show"], 3, True),
        (["no_show", "attended"], 0, False),  # a run must be trailing
        (["no_show", "attended", "no_show"], 1, False),
    ],
)
def test_disengaging(tail, missed, disengaging):
    case = Case().s(1, SRS=38)
    for n, att in enumerate(tail, 2):
        case.s(n, att=att) if att != "attended" else case.s(n, SRS=38)
    a = case.analyse()
    assert (a.attendance.missed, a.attendance.disengaging) == (missed, disengaging)
    flags = [f for f in a.flags if f.kind == "attendance"]
    if disengaging:
        (f,) = flags
        assert (f.session, f.status, f.extra) == (1 + len(tail), "disengaging", {"missed": missed})
    else:
        assert flags == []


def test_disengaging_setting():
    settings = Settings(attendance=AttendanceSettings(disengaging_missed=3))
    case = Case().s(1, SRS=38).s(2, att="no_show").s(3, att="no_show")
    assert not case.analyse(settings).attendance.disengaging
    assert case.analyse().attendance.disengaging


@pytest.mark.parametrize(
    "attendance, last_seen_session",
    [
        (["attended"], 1),
        (["attended", "no_show", "cancelled"], 1),  # missed sessions are not "seen"
        (["attended", "no_show", "attended", "no_show"], 3),
        (["no_show", "cancelled"], None),  # never attended: no date
    ],
)
def test_last_seen_is_the_last_attended_session(attendance, last_seen_session):
    """The caseload's "Last seen" is the last session the client attended,
    not the last one booked (review finding: a client who missed three
    sessions showed the no-show's date as last seen)."""
    case = Case()
    for n, att in enumerate(attendance, 1):
        case.s(n, SRS=38) if att == "attended" else case.s(n, att=att)
    a = case.analyse()
    expected = None if last_seen_session is None else D0 + timedelta(days=7 * (last_seen_session - 1))
    assert a.last_attended_date == expected
    assert a.latest_date == D0 + timedelta(days=7 * (len(attendance) - 1))
