"""Attendance (disengaging) and risk, clinical-rules.md §6."""

from __future__ import annotations

import pytest

from rules_helpers import Case
from supervision_tui.settings import AttendanceSettings, RiskSettings, Settings


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


def _risk_case(risk_session: int, latest: int, att: str = "attended") -> Case:
    case = Case()
    for n in range(1, latest + 1):
        if n == risk_session:
            case.s(n, att=att, PHQ=dict(total=15, risk=True))
        else:
            case.s(n, ORS=30)
    return case


@pytest.mark.parametrize(
    "risk_session, latest, flagged",
    [
        (10, 10, True),  # latest
        (8, 10, True),  # 3rd most recent
        (7, 10, False),  # 4th most recent
    ],
)
def test_risk_window(risk_session, latest, flagged):
    a = _risk_case(risk_session, latest).analyse()
    assert (a.risk is not None) is flagged
    if flagged:
        assert a.risk.session == risk_session
        assert a.tier == 1 and a.reason == "risk"
        assert a.why == f"risk item at s{risk_session}"


def test_risk_counts_unattended_sessions_and_names_the_latest():
    case = Case().s(1, PHQ=dict(total=15, risk=True)).s(2, att="no_show", PHQ=dict(total=15, risk=True)).s(3, ORS=30)
    a = case.analyse()
    assert a.risk.session == 2
    assert a.risk.instruments == ("PHQ-9",)
    (f,) = [f for f in a.flags if f.kind == "risk"]
    assert (f.session, f.status, f.extra) == (2, "risk", {})


def test_risk_window_counts_sessions_not_rows():
    # many rows in the latest session still count as one session
    case = _risk_case(2, 4)
    case.s(4, SRS=38, WAI=50, GAD=5)
    assert case.analyse().risk.session == 2
    assert _risk_case(1, 4).analyse().risk is None


def test_risk_window_setting():
    settings = Settings(risk=RiskSettings(window=4))
    assert _risk_case(7, 10).analyse(settings).risk.session == 7


def test_risk_needs_an_instrument_row():
    case = Case().s(1, ORS=30)
    from supervision_tui.model import Rating
    from rules_helpers import D0

    case.rows.append(Rating("C-1", "T1", 2, D0, risk=True))  # a row without instrument
    assert case.analyse().risk is None


def test_risk_from_therapist_row_counts():
    case = Case().s(1, tWAI=dict(total=50, risk=True))
    assert case.analyse().risk.session == 1
