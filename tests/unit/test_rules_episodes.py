"""Rupture episodes and repair, clinical-rules.md §3 — table-driven.

Session tokens, one per session number from 1:
  38       attended, client SRS total 38
  "x"      no-show (no rows but the session)
  "c"      cancelled
  "-"      attended, ORS only (no SRS rating that session)
  ("R",38) attended, SRS 38 with the client's rupture = yes (self_report)
"""

from __future__ import annotations

import pytest

from rules_helpers import Case
from supervision_tui.instruments import REGISTRY
from supervision_tui.rules.episodes import find_episodes
from supervision_tui.rules.markers import ClientView, find_markers
from supervision_tui.settings import RuptureSettings, Settings


def build(tokens, status="active", instrument="SRS") -> Case:
    key = {"SRS": "SRS", "WAI-SR": "WAI"}[instrument]
    case = Case(status=status)
    for n, t in enumerate(tokens, 1):
        if t in ("x", "c"):
            case.s(n, att={"x": "no_show", "c": "cancelled"}[t])
        elif t == "-":
            case.s(n, ORS=30)
        elif isinstance(t, tuple):
            case.s(n, **{key: dict(total=t[1], rupture=True)})
        else:
            case.s(n, **{key: t})
    return case


def episodes(case: Case, settings: Settings | None = None):
    settings = settings or Settings()
    view = ClientView(case.record(), REGISTRY)
    return find_episodes(view, find_markers(view, settings), settings)


def summary(case: Case, settings: Settings | None = None):
    return [(e.start, e.status, e.repaired_at, e.last_marker) for e in episodes(case, settings)]


X = "x"

CASES = {
    # P = 38 (mean of 38, 38, 38); marker at s4 (low + drop); window to s10
    "repair at +6 after no-shows": ([38, 38, 38, 30, X, X, X, X, X, 38], [(4, "repaired", 10, 4)]),
    "+7 is too late: unrepaired": ([38, 38, 38, 30, X, X, X, X, X, X, 38], [(4, "unrepaired", None, 4)]),
    "cancellations count too": ([38, 38, 38, 30, "c", "c", "c", "c", "c", "c", 38], [(4, "unrepaired", None, 4)]),
    "no session at +6 yet: open": ([38, 38, 38, 30, X, X, X, X, X], [(4, "open", None, 4)]),
    "session +6 below P: unrepaired": ([38, 38, 38, 30, X, X, X, X, X, 37], [(4, "unrepaired", None, 4)]),
    "rating equal to P repairs": ([38, 38, 38, 30, 38], [(4, "repaired", 5, 4)]),
    "below P does not repair": ([38, 38, 38, 30, 37.9], [(4, "open", None, 4)]),
    "marker in window merges": ([38, 38, 38, 30, 37, 33, 37, 38], [(4, "repaired", 8, 6)]),
    "merged marker extends the window": (
        [38, 38, 38, 30, X, X, X, X, 33, X, X, X, X, X, 38],
        [(4, "repaired", 15, 9)],
    ),
    "marker after the window starts a new episode": (
        [38, 38, 38, 30, X, X, X, X, X, X, 30],
        [(4, "unrepaired", None, 4), (11, "open", None, 11)],
    ),
    "marker exactly at +6 joins": (
        [38, 38, 38, 30, X, X, X, X, X, 30, 38],
        [(4, "repaired", 11, 10)],
    ),
    "no primary rating cannot repair": ([38, 38, 38, 30, "-", 38], [(4, "repaired", 6, 4)]),
    "no-show cannot repair": ([38, 38, 38, 30, X], [(4, "open", None, 4)]),
    "marker session cannot repair": ([38, 38, 38, ("R", 38), ("R", 39), 38], [(4, "repaired", 6, 5)]),
    "repaired episode then a new one": (
        [38, 38, 38, 30, 38, 38, 38, ("R", 39), 39],
        [(4, "repaired", 5, 4), (8, "repaired", 9, 8)],
    ),
    # no earlier SRS: P = the SRS cutoff 36 (35 at s2 is itself a low marker and joins)
    "P from the cutoff": ([("R", 30), 35, 36], [(1, "repaired", 3, 2)]),
}


@pytest.mark.parametrize("tokens, expected", list(CASES.values()), ids=list(CASES))
def test_episode_table(tokens, expected):
    assert summary(build(tokens)) == expected


@pytest.mark.parametrize("status", ["closed", "dropped_out"])
def test_treatment_ended_while_open_is_unrepaired(status):
    eps = episodes(build([38, 38, 38, 30, 37], status=status))
    assert [(e.status, e.repaired_at) for e in eps] == [("unrepaired", None)]
    assert f"treatment ended ({status.replace('_', ' ')})" in eps[0].detail


def test_treatment_ended_keeps_repaired_episodes():
    assert summary(build([38, 38, 38, 30, 38], status="closed")) == [(4, "repaired", 5, 4)]


def test_paused_client_keeps_open_episode():
    assert summary(build([38, 38, 38, 30], status="paused")) == [(4, "open", None, 4)]


def test_wai_sr_without_earlier_rating_has_undefined_p():
    # self_report on the first WAI-SR rating: no earlier ratings, no cutoff
    eps = episodes(build([("R", 50), 40], instrument="WAI-SR"))
    assert [(e.instrument, e.baseline, e.status, e.repaired_at) for e in eps] == [("WAI-SR", None, "repaired", 2)]


def test_undefined_p_needs_an_attended_session():
    eps = episodes(build([("R", 50), X, "-"], instrument="WAI-SR"))
    # s2 no-show cannot repair; s3 attended without a WAI-SR rating can (P undefined)
    assert [(e.status, e.repaired_at) for e in eps] == [("repaired", 3)]


def test_wai_sr_clinic_cutoff_defines_p():
    settings = Settings(rupture=RuptureSettings(low_cutoff={"SRS": 36.0, "WAI-SR": 45.0}))
    eps = episodes(build([("R", 50), 44, 45], instrument="WAI-SR"), settings)
    assert eps[0].baseline == 45.0
    # s2 44 < 45 is a clinic `low` marker and joins; s3 45 ≥ P repairs
    assert [(e.status, e.repaired_at, e.last_marker) for e in eps] == [("repaired", 3, 2)]


def test_primary_instrument_srs_first_and_repair_reads_only_primary():
    case = (
        Case()
        .s(1, SRS=38, WAI=50).s(2, SRS=38, WAI=50).s(3, SRS=38, WAI=50)
        .s(4, SRS=30, WAI=40)  # SRS low+drop, WAI drop
        .s(5, WAI=55)  # WAI high, no SRS: cannot repair an SRS episode
        .s(6, SRS=38)
    )
    eps = episodes(case)
    assert [(e.instrument, e.status, e.repaired_at) for e in eps] == [("SRS", "repaired", 6)]
    assert eps[0].baseline == 38


def test_primary_instrument_wai_when_first_marker_is_wai():
    case = Case().s(1, SRS=38, WAI=50).s(2, SRS=38, WAI=50).s(3, SRS=38, WAI=50).s(4, SRS=38, WAI=40).s(5, SRS=30)
    eps = episodes(case)
    assert eps[0].instrument == "WAI-SR"
    assert eps[0].marker_sessions == (4, 5)  # an SRS marker joins the WAI-SR episode


def test_repair_window_setting():
    settings = Settings(rupture=RuptureSettings(repair_window=2))
    assert summary(build([38, 38, 38, 30, X, 38]), settings) == [(4, "repaired", 6, 4)]
    assert summary(build([38, 38, 38, 30, X, X, 38]), settings) == [(4, "unrepaired", None, 4)]


def test_episode_detail_explains():
    (ep,) = episodes(build([38, 38, 38, 30, 38]))
    assert ep.detail.startswith("repaired at s5 (drop, low, s4): SRS 38 ≥ baseline 38 = mean of 3 before s4 "
                                "([our default] repair criterion).")
    assert "SRS 30 < cutoff 36 (PCOMS practice threshold, Duncan et al. 2003)" in ep.detail


def test_repair_window_and_criterion_are_labelled_our_default():
    """spec v2 §3: "no repair by s18" never stands without its label."""
    (ep,) = episodes(build([38, 38, 38, 30, 37, 37, 37, 37, 37, 37]))
    assert ep.status == "unrepaired"
    assert "repair window 6 sessions after the last marker [our default]" in ep.detail
    assert "repair = back to baseline 38 = mean of 3 before s4 [our default]" in ep.detail
    (ep,) = episodes(build([38, 38, 38, 30]))
    assert ep.status == "open"
    assert "window to s10 (repair window 6 sessions after the last marker [our default]; repair = back to" in ep.detail
    s = Settings(rupture=RuptureSettings(repair_window=8, repair_baseline=2))
    (ep,) = episodes(build([38, 38, 38, 30]), s)
    assert "repair window 8 sessions after the last marker [clinic setting]" in ep.detail
    assert "mean of 2 before s4 [clinic setting]" in ep.detail
