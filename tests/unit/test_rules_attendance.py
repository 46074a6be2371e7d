"""Attendance (disengaging), clinical-rules.md §6 (risk: test_rules_risk.py)."""

from __future__ import annotations

import pytest

from rules_helpers import Case
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
