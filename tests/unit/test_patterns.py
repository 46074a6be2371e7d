"""supervision_tui.reports.patterns: per-supervisee aggregates of the
engine's results (UI-free; used by the clinicians screen and the agenda)."""

from __future__ import annotations

from datetime import date

import pytest

from supervision_tui.model import Caseload, Client, Clinician, Rating
from supervision_tui.reports.patterns import (
    clinician_patterns,
    missing_recent_measures,
    total_pattern,
)
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.demo import generate_demo


def _r(client, clin, s, inst=None, total=None, att="attended", rater="client", **kw):
    return Rating(client, clin, s, date(2026, 1, s), att, inst, rater, total, **kw)


def _caseload() -> Caseload:
    cl = Caseload(name="t")
    cl.clinicians = {"T1": Clinician("T1", "trainee"), "T2": Clinician("T2", "staff"), "S": Clinician("S", "supervisor")}
    rows = []
    # A: steady SRS 38, ORS 20 -> 30 (recovered)
    for s in range(1, 6):
        rows.append(_r("A", "T1", s, "SRS", 38))
        rows.append(_r("A", "T1", s, "ORS", 20 + (s - 1) * 2.5))
    # B: SRS then 3 sessions with ORS only -> missing recent alliance; ORS 30 -> 20 deteriorated
    for s in range(1, 7):
        if s <= 3:
            rows.append(_r("B", "T1", s, "SRS", 38))
        rows.append(_r("B", "T1", s, "ORS", 30 - (s - 1) * 2))
    # C: T2, SRS dip at s4 repaired at s5 (V shape)
    for s, v in zip(range(1, 7), [38, 38.5, 38, 31, 38.5, 38.5]):
        rows.append(_r("C", "T2", s, "SRS", v))
    # D: T2 closed client, not counted by default
    for s in range(1, 3):
        rows.append(_r("D", "T2", s, "SRS", 39))
    cl.ratings = rows
    cl.clients = {
        "A": Client("A", "T1"), "B": Client("B", "T1"), "C": Client("C", "T2"), "D": Client("D", "T2", "closed"),
    }
    return cl


def test_aggregates_per_clinician():
    cl = _caseload()
    analyses = analyse_caseload(cl)
    by = {p.clinician: p for p in clinician_patterns(analyses, cl.records(), cl.clinicians)}
    assert set(by) == {"T1", "T2", "S"}  # a listed clinician without clients is still a row
    t1, t2 = by["T1"], by["T2"]
    assert t1.role == "trainee" and t1.clients == 2
    assert sum(t1.tiers.values()) == 2
    assert t1.outcome_clients == 2
    assert t1.deteriorated == 1 and t1.pct_deteriorated == pytest.approx(0.5)
    assert t1.recovered == 1 and t1.pct_recovered == pytest.approx(0.5)
    assert t1.missing_recent == ("B",)
    assert t1.mean_srs == pytest.approx(38.0)
    assert t2.clients == 1  # D is closed
    assert t2.ruptures_repaired == 1 and t2.ruptures_unrepaired == 0
    assert t2.repair_rate == pytest.approx(1.0)
    assert t1.repair_rate is None  # no repaired or unrepaired episode: "—", not 0 %
    assert by["S"].clients == 0 and by["S"].pct_deteriorated is None


def test_closed_clients_count_on_request():
    cl = _caseload()
    analyses = analyse_caseload(cl)
    by = {p.clinician: p for p in clinician_patterns(analyses, cl.records(), include_ended=True)}
    assert by["T2"].clients == 2


def test_missing_recent_measures_looks_at_the_last_three_sessions():
    cl = _caseload()
    recs = {r.code: r for r in cl.records()}
    assert missing_recent_measures(recs["B"]) is True
    assert missing_recent_measures(recs["A"]) is False
    assert missing_recent_measures(recs["B"], recent=4) is False


def test_therapist_only_alliance_does_not_count_as_a_client_measure():
    cl = Caseload(name="t")
    cl.ratings = [_r("E", "T1", s, "WAI-SR", 40, rater="therapist") for s in range(1, 4)]
    rec = cl.records()[0]
    assert missing_recent_measures(rec) is True


def test_totals_weight_means_by_clients():
    analyses = analyse_caseload(generate_demo(2026, n_clients=18))
    pats = clinician_patterns(analyses)
    total = total_pattern(pats)
    assert total.clients == sum(p.clients for p in pats) == sum(1 for a in analyses if a.triaged)
    assert total.tiers[1] == sum(1 for a in analyses if a.triaged and a.tier == 1)
    srs = [a.alliance.latest for a in analyses if a.triaged and a.alliance and a.alliance.instrument == "SRS"]
    assert total.mean_srs == pytest.approx(sum(srs) / len(srs))
