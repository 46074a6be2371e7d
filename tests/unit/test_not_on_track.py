"""Not on track (clinical-rules §10) and effectiveness (§11) through the
engine, the reports, the settings and the real CLI on a real database file.

The clinic: 120 simulated closed reference clients on ORS (tests/unit/
clinic_sim.py, fixed seed) plus hand-made clients whose verdicts are known.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from clinic_sim import ORS_COURSE, simulate_clinic, to_caseload
from rules_helpers import D0, Case
from supervision_tui.cli import cli
from supervision_tui.errors import SettingsError
from supervision_tui.instruments import ORS, fmt
from supervision_tui.model import Client
from supervision_tui.reports import tables
from supervision_tui.rules.engine import analyse_caseload, analyse_records, prepare_shared
from supervision_tui.rules.expected import reference_of
from supervision_tui.settings import EffectivenessSettings, NotOnTrackSettings, Settings, settings_from_dict
from supervision_tui.store.database import Database

FLAT = [16, 16.5, 15.8, 16.2, 16, 15.9, 16.1, 16]  # ORS 16 at intake and 8 sessions later


def clinic(extra: list[Case] = ()):
    sim = simulate_clinic(3, ORS, ORS_COURSE, reference=120, active_on=0, active_off=0, clinicians={"T3": 0.0})
    cl = to_caseload(sim, ORS)
    for c in extra:
        cl.clients[c.code] = Client(c.code, c.clinician, c.status)
        cl.ratings.extend(c.rows)
    return cl


def hand_clients() -> list[Case]:
    return [
        Case("F-1", "T1").series("ORS", FLAT),  # flat while others improve: not on track
        Case("P-1", "T1", status="paused").series("ORS", FLAT),
        Case("X-1", "T2", status="closed").series("ORS", FLAT),  # ended: never signalled
        Case("D-1", "T2").series("ORS", [20, 18, 17, 16, 15, 14, 13, 13]),  # deteriorated (−7): that wins
        Case("G-1", "T2").series("ORS", [16, 19, 21, 22, 24, 25, 26, 27]),  # improving: on track
    ]


@pytest.fixture(scope="module")
def analyses():
    shared: dict = {}
    out = {a.client: a for a in analyse_caseload(clinic(hand_clients()), shared=shared)}
    return out, reference_of(shared)


def test_flags_and_triage(analyses):
    an, ref = analyses
    assert ref["ORS"].enough and ref["ORS"].clients == 125
    f1 = an["F-1"]
    (flag,) = [f for f in f1.flags if f.kind == "outcome"]
    assert flag.status == "not_on_track" and flag.session == 8
    d = flag.to_json()
    assert list(d) == ["client", "clinician", "kind", "session", "status", "instrument", "change", "expected",
                       "lower", "reference_clients", "detail"]
    assert d["change"] == 0.0 and d["reference_clients"] == 125
    track = f1.tracks["ORS"]
    assert d["expected"] == round(track.expected, 2) and d["lower"] == round(track.lower, 2)
    assert d["expected"] > d["lower"] > 0
    assert (f1.tier, f1.reason) == (2, "outcome not on track")
    assert f1.why == f"not on track: ORS 16 at s8; 9 in 10 reach ≥ {fmt(track.lower_score)}"
    assert flag.detail.startswith("ORS 16 → 16 at s8 (0, same): expected about ")
    assert flag.detail.endswith("not on track [clinic reference: 125 clients, " + f"{ref['ORS'].pairs:,} ratings]")
    assert [f.status for f in an["P-1"].flags if f.kind == "outcome"] == ["not_on_track"]


def test_closed_clients_and_deterioration_are_not_signalled(analyses):
    an, _ = analyses
    assert not [f for f in an["X-1"].flags if f.kind == "outcome"]
    assert an["X-1"].tracks["ORS"].status is None and "treatment ended" in an["X-1"].tracks["ORS"].detail
    d1 = an["D-1"]
    assert d1.tracks["ORS"].not_on_track, "below the expected course too"
    assert [f.status for f in d1.flags if f.kind == "outcome"] == ["deteriorated"]  # deterioration wins
    assert d1.reason == "outcome deteriorated"
    assert an["G-1"].tracks["ORS"].status == "on_track" and an["G-1"].tier == 6  # goal not set, nothing else


def test_summary_values(analyses):
    an, _ = analyses
    rows = {r["client"]: r for r in tables.summary_data(an.values())}
    assert rows["F-1"]["outcomes"] == {"ORS": "not_on_track"}
    assert rows["D-1"]["outcomes"] == {"ORS": "deteriorated"}
    assert rows["G-1"]["outcomes"]["ORS"] in ("improved", "recovered")
    assert "X-1" not in rows
    text = tables.summary_table(an.values())
    assert "ORS not on track" in text and "not_on_track" not in text


def test_no_reference_for_a_client_on_its_own():
    from supervision_tui.rules.engine import analyse_client

    a = analyse_client(Case("F-1").series("ORS", FLAT).record())
    assert a.tracks == {} and not [f for f in a.flags if f.status == "not_on_track"]


def test_below_the_minimum_nothing_signals_and_the_reference_says_why():
    shared: dict = {}
    an = analyse_caseload(Case("F-1").series("ORS", FLAT).caseload(Case("F-2").series("ORS", FLAT)), shared=shared)
    assert not [f for a in an for f in a.flags if f.status == "not_on_track"]
    ref = reference_of(shared)
    assert ref["ORS"].shortfall() == ("not enough clinic data for an expected trajectory: 2 of 30 clients, "
                                      "14 of 100 ratings after intake")
    assert "not enough clinic data" in an[0].tracks["ORS"].detail


def test_the_reference_is_refitted_when_the_data_change():
    base = clinic(hand_clients())
    one: dict = {}
    analyse_caseload(base, shared=one)
    more = clinic(hand_clients() + [Case(f"N-{i}", "T3", status="closed").series("ORS", [10, 10, 10, 10])
                                    for i in range(20)])
    two: dict = {}
    an = {a.client: a for a in analyse_caseload(more, shared=two)}
    assert reference_of(two)["ORS"].clients == reference_of(one)["ORS"].clients + 20
    assert reference_of(two)["ORS"].beta0 != reference_of(one)["ORS"].beta0
    assert an["F-1"].tracks["ORS"].reference_clients == 145


def test_the_reference_can_come_from_more_clients_than_are_analysed():
    """The app scoped to one clinician: the reference is still the clinic's."""
    records = clinic(hand_clients()).records()
    shared = prepare_shared(records, Settings())
    only = [r for r in records if r.client.clinician == "T1"]
    an = analyse_records(only, Settings(), shared=shared)
    assert {a.client for a in an} == {"F-1", "P-1"}
    f1 = next(a for a in an if a.client == "F-1")
    assert f1.tracks["ORS"].reference_clients == 125 and f1.tier == 2
    alone = next(a for a in analyse_records(only, Settings()) if a.client == "F-1")
    assert alone.tracks["ORS"].reference_clients == 2 and alone.tracks["ORS"].status is None


def test_settings_change_the_signal(analyses):
    cl = clinic(hand_clients())
    strict = {a.client: a for a in analyse_caseload(cl, Settings(not_on_track=NotOnTrackSettings(z=3.0)))}
    an, _ = analyses
    assert strict["F-1"].tracks["ORS"].lower < an["F-1"].tracks["ORS"].lower
    high = {a.client: a for a in analyse_caseload(cl, Settings(not_on_track=NotOnTrackSettings(min_clients=500)))}
    assert high["F-1"].tier != 2 and high["F-1"].tracks["ORS"].status is None
    assert "125 of 500 clients" in high["F-1"].tracks["ORS"].detail


@pytest.mark.parametrize(
    "data,error",
    [
        ({"not_on_track": {"z": "high"}}, "[not_on_track] z: expected a number (got 'high')"),
        ({"not_on_track": {"z": 0}}, "[not_on_track] z: must be > 0"),
        ({"not_on_track": {"min_clients": 2.5}}, "[not_on_track] min_clients: expected an integer"),
        ({"not_on_track": {"min_pairs": 1}}, "[not_on_track] min_pairs: must be ≥ 2"),
        ({"not_on_track": {"bands": 3}}, "[not_on_track] bands: unknown key (known: z, min_clients, min_pairs)"),
        ({"effectiveness": {"min_cases": 1}}, "[effectiveness] min_cases: must be ≥ 2"),
        ({"effectiveness": {"min": 5}}, "[effectiveness] min: unknown key (known: min_cases)"),
    ],
)
def test_settings_errors_name_the_key(data, error):
    with pytest.raises(SettingsError) as err:
        settings_from_dict(data, source="s.toml")
    assert error in str(err.value)


def test_settings_defaults_and_values():
    s = Settings()
    assert (s.not_on_track.z, s.not_on_track.min_clients, s.not_on_track.min_pairs) == (1.28, 30, 100)
    assert s.effectiveness.min_cases == 10
    t = settings_from_dict({"not_on_track": {"z": 1.645, "min_clients": 50}, "effectiveness": {"min_cases": 20}})
    assert t.not_on_track == NotOnTrackSettings(1.645, 50, 100)
    assert t.effectiveness == EffectivenessSettings(20)
    assert t.to_toml_dict()["not_on_track"] == {"z": 1.645, "min_clients": 50, "min_pairs": 100}


# --- the real CLI on a real file -----------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("not-on-track") / "caseload.json"
    Database(path, read_only=False).replace_caseload(clinic(hand_clients()))
    return path


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cli_flags_json_stays_an_array_and_with_reference_is_an_object(db):
    plain = run("flags", str(db), "--json")
    assert plain.exit_code == 0, plain.output
    rows = json.loads(plain.output)
    assert isinstance(rows, list)
    assert {(r["client"], r["status"]) for r in rows if r["kind"] == "outcome" and not r["client"].startswith("S-")} == {
        ("F-1", "not_on_track"), ("P-1", "not_on_track"), ("D-1", "deteriorated")}
    r = run("flags", str(db), "--json", "--with-reference")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert list(obj) == ["flags", "reference"] and obj["flags"] == rows
    ors = obj["reference"]["ORS"]
    assert {"beta0", "beta1", "sigma", "clients", "pairs", "enough"} <= set(ors)
    assert ors["clients"] == 125 and ors["enough"] is True
    assert list(ors["sigma"]) == ["2", "3", "4", "5", "6–8", "9–12", "13–20", "21+"]
    assert obj["reference"]["PHQ-9"] == {**obj["reference"]["PHQ-9"], "clients": 0, "enough": False,
                                         "beta0": None}


def test_cli_flags_text_with_reference(db):
    r = run("flags", str(db), "--with-reference")
    assert r.exit_code == 0, r.output
    assert "not on track" in r.output and "not_on_track" not in r.output.split("Clinic reference")[0]
    f1 = next(line for line in r.output.splitlines() if line.startswith("F-1") and "not on track" in line)
    # raw differences with their direction, never a better-signed number (clinical-rules §5)
    assert "ORS · no difference · expected +" in f1 and " better · lower limit +" in f1 and "reference 125 clients" in f1
    tail = r.output.split("Clinic reference", 1)[1]
    assert "ORS: β0 = " in tail and "[clinic reference: 125 clients" in tail
    assert "PHQ-9: not enough clinic data for an expected trajectory: 0 of 30 clients" in tail


def test_cli_summary_json_outcome_value(db):
    rows = {x["client"]: x for x in json.loads(run("summary", str(db), "--json").output)}
    assert rows["F-1"]["outcomes"] == {"ORS": "not_on_track"} and rows["F-1"]["tier"] == 2


def test_cli_effectiveness(db):
    r = run("effectiveness", str(db), "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows[-1]["clinician"] is None and rows[-1]["instrument"] == "ORS" and rows[-1]["cases"] == 125
    assert [x["clinician"] for x in rows] == ["T1", "T2", "T3", None]
    t1, t2, t3 = rows[:3]
    assert (t1["cases"], t2["cases"], t3["cases"]) == (2, 3, 120)
    assert t3["enough"] is True and t3["es_low"] < t3["es"] < t3["es_high"]
    assert t2["enough"] is False and t2["es"] is None
    text = run("effectiveness", str(db))
    assert text.exit_code == 0
    assert "too few to compare (10 needed)" in text.output and "Never a ranking." in text.output
    assert "●" in text.output
    only = json.loads(run("effectiveness", str(db), "--json", "--clinician", "T2", "--instrument", "ORS").output)
    assert [(x["clinician"], x["instrument"]) for x in only] == [("T2", "ORS"), (None, "ORS")]


def test_cli_effectiveness_wrong_usage(db):
    r = run("effectiveness", str(db), "--instrument", "SRS")
    assert r.exit_code == 2 and "--instrument SRS: not an outcome instrument (known: ORS, PHQ-9, GAD-7)" in r.output
    r = run("effectiveness", str(db), "--clinician", "T9")
    assert r.exit_code == 1 and "no clinician T9" in r.output
    r = run("effectiveness", str(db), "--as-of", (D0 - timedelta(days=400)).isoformat())
    assert r.exit_code == 2 and "before any data" in r.output


def test_cli_effectiveness_settings(db, tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[effectiveness]\nmin_cases = 3\n", encoding="utf-8")
    rows = json.loads(run("effectiveness", str(db), "--json", "--config", str(cfg)).output)
    assert rows[1]["clinician"] == "T2" and rows[1]["enough"] is True and rows[0]["enough"] is False


def test_deterioration_leads_over_not_on_track():
    """Clinical-rules §10 "deterioration wins where both hold", for the
    client as well as per instrument: a client not on track on ORS (its
    latest evidence, s8) and reliably deteriorated on PHQ-9 (s4) is
    explained by the deterioration first, in the caseload's Why, the
    summary's reason, the review list and the agenda (newcomer finding)."""
    from supervision_tui.rules.kinds import REGISTRY as KINDS

    both = Case("M-1", "T1").series("ORS", FLAT).s(1, PHQ=5).s(4, PHQ=12)
    a = next(x for x in analyse_caseload(clinic([both])) if x.client == "M-1")
    statuses = sorted(f.status for f in a.flags if f.kind == "outcome")
    assert statuses == ["deteriorated", "not_on_track"]
    assert (a.tier, a.reason) == (2, "outcome deteriorated")
    assert a.why.startswith("deteriorated: PHQ-9 5 → 12 (+7, worse)") and a.why.endswith("; 1 more")
    lead = min((f for f in a.flags if f.kind == "outcome"), key=KINDS.urgency)
    assert lead.status == "deteriorated"
