"""FHIR R4 import (interchange.md §8): every row of the table, Bundle and
NDJSON alike, privacy on the written file, errors that name the resource,
all-or-nothing and idempotent imports, and the CLI."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui.cli import cli
from supervision_tui.errors import SettingsError, UserError, ValidationFailed
from supervision_tui.settings import settings_from_dict
from supervision_tui.store.database import Database
from supervision_tui.store.fhir import read_fhir

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
BUNDLE, BULK, SETTINGS = FIX / "bundle.json", FIX / "bulk", FIX / "settings.toml"
PRIVATE = json.loads((FIX / "private.json").read_text(encoding="utf-8"))
MRN = "http://clinic.example/fhir/sid/mrn"
CODES = {"ORS": ("http://clinic.example/fhir/CodeSystem/measures|ors",),
         "SRS": ("http://clinic.example/fhir/CodeSystem/measures|srs",)}
LOINC = "http://loinc.org"
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
GAD7_ITEMS = ["69725-0", "68509-5", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- building resources ------------------------------------------------------------------


def patient(pid="p1", code="C-1", system="urn:mrn", **extra):
    return {"resourceType": "Patient", "id": pid, "identifier": [{"system": system, "value": code}], **extra}


def practitioner(pid="t1", ident="T01"):
    return {"resourceType": "Practitioner", "id": pid, "identifier": [{"system": "urn:staff", "value": ident}]}


def encounter(eid="e1", pid="p1", start="2026-03-02T10:00:00+01:00", status="finished", prid="t1", **extra):
    e = {"resourceType": "Encounter", "id": eid, "status": status,
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": {"reference": f"Patient/{pid}"}, "period": {"start": start}, **extra}
    if prid:
        e["participant"] = [{"individual": {"reference": f"Practitioner/{prid}"}}]
    return e


def obs(oid="o1", code="44261-6", value=None, eid="e1", pid="p1", status="final", system=LOINC,
        when="2026-03-02T10:30:00+01:00", **extra):
    o = {"resourceType": "Observation", "id": oid, "status": status,
         "code": {"coding": [{"system": system, "code": code}]}, "subject": {"reference": f"Patient/{pid}"},
         "effectiveDateTime": when, **extra}
    if eid:
        o["encounter"] = {"reference": f"Encounter/{eid}"}
    if value is not None and not any(k.startswith("value") for k in extra):
        o["valueInteger"] = value
    return o


def qr(rid="r1", answers=None, codes=PHQ9_ITEMS, eid="e1", pid="p1", status="completed", coded=False, **extra):
    answers = answers if answers is not None else [1] * len(codes)
    items = []
    for code, a in zip(codes, answers):
        if a is None:
            continue
        value = ({"valueCoding": {"system": LOINC, "code": ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"][a]}}
                 if coded else {"valueInteger": a})
        items.append({"linkId": f"/{code}", "answer": [value]})
    r = {"resourceType": "QuestionnaireResponse", "id": rid, "status": status,
         "subject": {"reference": f"Patient/{pid}"}, "authored": "2026-03-02T10:40:00+01:00",
         "item": [{"linkId": "group", "item": items}], **extra}
    if eid:
        r["encounter"] = {"reference": f"Encounter/{eid}"}
    return r


def bundle(*resources, btype="collection"):
    return {"resourceType": "Bundle", "type": btype, "entry": [{"resource": r} for r in resources]}


def base(*more):
    return [patient(), practitioner(), encounter(), *more]


def write(tmp_path: Path, resources, name="export.json") -> Path:
    p = tmp_path / name
    if name.endswith(".ndjson"):
        p.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    else:
        p.write_text(json.dumps(bundle(*resources)), encoding="utf-8")
    return p


def ratings(tmp_path, resources, **kw):
    res = read_fhir([write(tmp_path, resources)], **kw)
    return sorted(res.parsed.ratings, key=lambda r: (r.client, r.session, r.instrument or "")), res


def errors_of(tmp_path, resources, **kw) -> list[str]:
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([write(tmp_path, resources)], **kw)
    return exc.value.errors


# --- the table, row by row ---------------------------------------------------------------------


def test_patient_code_from_client_system_or_first_identifier(tmp_path):
    p = patient(code="C-9")
    p["identifier"].insert(0, {"system": "urn:local-id", "value": "L-123"})
    rs, res = ratings(tmp_path, [p, practitioner(), encounter()], client_system="urn:mrn")
    assert [r.client for r in rs] == ["C-9"]
    rs, res = ratings(tmp_path, [p, practitioner(), encounter()])
    assert [r.client for r in rs] == ["L-123"]
    assert res.client_systems == {"urn:local-id": 1}
    assert "urn:local-id (1)" in res.summary()


def test_a_national_number_is_never_the_client_code_by_default(tmp_path):
    p = patient(code="C-9")
    p["identifier"].insert(0, {"system": "urn:national", "value": "NAT-123"})
    errs = errors_of(tmp_path, [p, practitioner(), encounter()])
    assert errs == ["--client-system: missing, and the Patients' first identifiers are urn:national (1 Patient, "
                    "e.g. Patient/p1), which looks like a social security, national, health service, passport or "
                    "driver's licence number: give the system of your client codes with --client-system (name this "
                    "system with --client-system only if it really is to be the client code)"]
    # named explicitly it is used, with a warning in the summary
    rs, res = ratings(tmp_path, [p, practitioner(), encounter()], client_system="urn:national")
    assert [r.client for r in rs] == ["NAT-123"]
    assert "warning: urn:national looks like a social security, national" in res.summary()
    _rs, res = ratings(tmp_path, [p, practitioner(), encounter()], client_system="urn:mrn")
    assert "warning" not in res.summary()


@pytest.mark.parametrize("system, type_code, national", [
    ("http://hl7.org/fhir/sid/us-ssn", None, True),
    ("https://fhir.nhs.uk/Id/nhs-number", None, True),
    ("http://fhir.nl/fhir/NamingSystem/bsn", None, True),
    ("urn:oid:1.2.250.1.213.1.4.8", None, True),  # French INS-NIR
    ("urn:oid:2.16.840.1.113883.4.1", None, True),  # US SSN
    ("urn:oid:2.16.840.1.113883.4.3.25", None, True),  # a US state's driver's licences
    ("http://hl7.org/fhir/sid/passport-USA", None, True),
    ("https://registry.example/insee", None, True),
    ("urn:clinic:drivers-license", None, True),
    ("http://clinic.example/fhir/sid/NationalID", None, True),
    ("urn:clinic:ids", "SS", True),  # the identifier's HL7 v2-0203 type says it
    ("urn:clinic:ids", "NNGBR", True),
    ("urn:clinic:ids", "MR", False),
    ("http://clinic.example/fhir/sid/mrn", None, False),
    ("http://hospital-assn.example/mrn", None, False),  # "assn" is not "ssn"
    ("http://clinic.example/environment/patient-id", None, False),
])
def test_national_identifier_systems(tmp_path, system, type_code, national):
    p = patient(system=system)
    if type_code:
        p["identifier"][0]["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                  "code": type_code}]}
    resources = [p, practitioner(), encounter()]
    if national:
        errs = errors_of(tmp_path, resources)
        assert errs[0].startswith(f"--client-system: missing, and the Patients' first identifiers are {system} ")
        assert "C-1" not in errs[0]
        rs, _res = ratings(tmp_path, resources, client_system=system)
        assert [r.client for r in rs] == ["C-1"]
    else:
        rs, res = ratings(tmp_path, resources)
        assert [r.client for r in rs] == ["C-1"] and "warning" not in res.summary()


def test_patients_identified_in_different_systems_need_client_system(tmp_path):
    resources = [patient("p1", "C-1", "urn:mrn"), patient("p2", "C-2", "urn:mrn"), patient("p3", "C-3", "urn:other"),
                 practitioner(), encounter()]
    errs = errors_of(tmp_path, resources)
    assert errs == ["--client-system: missing, and the Patients' first identifiers come from 2 systems: urn:mrn "
                    "(2 Patients, e.g. Patient/p1), urn:other (1 Patient, e.g. Patient/p3); give the system of your "
                    "client codes with --client-system (codes are not taken from a mix of identifier systems)"]
    # the export of the fixture: one Patient's first identifier is a national number
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([BUNDLE], codes=CODES)
    (line,) = exc.value.errors
    assert ("identifiers come from 2 systems: http://clinic.example/fhir/sid/mrn (3 Patients, e.g. Patient/p-1), "
            "http://clinic.example/fhir/sid/national-id (1 Patient, e.g. Patient/p-2; looks like a national "
            "number)") in line
    assert "ZZ-99" not in line and "C-10" not in line  # counts, never values
    res = read_fhir([BUNDLE], client_system=MRN, codes=CODES)
    assert res.client_systems == {MRN: 4}


def test_patient_without_usable_identifier_is_an_error(tmp_path):
    p = patient()
    del p["identifier"]
    errs = errors_of(tmp_path, [p, practitioner(), encounter()])
    assert errs == [f"{tmp_path / 'export.json'}:entry[0]: Patient/p1: identifier: missing: a Patient needs an "
                    "identifier to become a client code (got none)"]
    errs = errors_of(tmp_path, base(), client_system="urn:other")
    assert "Patient/p1: identifier: no identifier with system urn:other" in errs[0]


def test_patient_identifier_that_is_not_a_code_is_not_shown(tmp_path):
    errs = errors_of(tmp_path, [patient(code="Quillonia Zebrastripe"), practitioner(), encounter()])
    assert "Patient/p1: identifier[0].value: cannot be a client code" in errs[0]
    assert "(got 21 characters, not a code; not shown)" in errs[0]
    assert "Quillonia" not in "\n".join(errs)


def test_practitioner_identifier_that_is_not_a_code_is_not_shown(tmp_path):
    errs = errors_of(tmp_path, [patient(), practitioner(ident="Dr Quillonia"), encounter()])
    assert errs[0].endswith("Practitioner/t1: identifier[0].value: cannot be a clinician id: it must be 1-32 "
                            "characters of A-Z a-z 0-9 . _ - (choose another identifier with --clinician-system) "
                            "(got 12 characters, not a code; not shown)")
    assert "Quillonia" not in "\n".join(errs)


def test_practitioner_is_the_clinician(tmp_path):
    rs, _ = ratings(tmp_path, [patient(), practitioner(ident="T07"), encounter()], clinician_system="urn:staff")
    assert rs[0].clinician == "T07"


def test_practitioner_not_in_the_import_gives_the_reference_id(tmp_path):
    rs, res = ratings(tmp_path, [patient(), encounter(prid="T05")])
    assert rs[0].clinician == "T05"
    assert res.fallback_clinicians == 1 and "reference's id" in res.summary()


def test_encounter_without_a_practitioner_is_an_error(tmp_path):
    errs = errors_of(tmp_path, [patient(), encounter(prid=None)])
    assert "Encounter/e1: participant.individual: no participant is a Practitioner" in errs[0]


@pytest.mark.parametrize("status, attendance", [
    ("finished", "attended"), ("in-progress", "attended"), ("arrived", "attended"), ("cancelled", "cancelled"),
])
def test_encounter_status_gives_attendance(tmp_path, status, attendance):
    rs, _ = ratings(tmp_path, [patient(), practitioner(), encounter(status=status)])
    assert [(r.session, r.date, r.attendance, r.instrument) for r in rs] == [(1, date(2026, 3, 2), attendance, None)]


@pytest.mark.parametrize("status, skipped, notice", [
    ("entered-in-error", "Encounter entered-in-error", False), ("planned", "Encounter planned", True),
])
def test_encounter_skipped_statuses(tmp_path, status, skipped, notice):
    rs, res = ratings(tmp_path, [patient(), practitioner(), encounter("e0"),
                                 encounter("e1", status=status, start="2026-03-09")])
    assert len(rs) == 1 and res.skipped == {skipped: 1}
    assert bool(res.notices) is notice


def test_encounters_are_numbered_by_start_then_id(tmp_path):
    es = [encounter("e-b", start="2026-03-09T09:00:00Z"), encounter("e-a", start="2026-03-09T09:00:00Z"),
          encounter("e-c", start="2026-03-02"), encounter("e-d", start="2026-03-09T08:00:00Z"),
          encounter("e-e", start="2026-03-16T23:30:00-05:00")]
    obs_ = [obs(f"o-{e['id']}", value=i, eid=e["id"]) for i, e in enumerate(es)]
    rs, _ = ratings(tmp_path, [patient(), practitioner(), *es, *obs_])
    assert [(r.session, r.date.isoformat(), r.total) for r in rs] == [
        (1, "2026-03-02", 2), (2, "2026-03-09", 3), (3, "2026-03-09", 1), (4, "2026-03-09", 0),
        (5, "2026-03-16", 4),  # the day as written (local), not the UTC day
    ]


def noshow(aid="a1", start="2026-03-09T10:00:00+01:00", pid="p1", prid="t1", status="noshow"):
    return {"resourceType": "Appointment", "id": aid, "status": status, "start": start,
            "participant": [{"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"},
                            {"actor": {"reference": f"Practitioner/{prid}"}, "status": "accepted"}]}


def test_noshow_appointment_without_an_encounter_is_a_session(tmp_path):
    rs, res = ratings(tmp_path, base(noshow(), encounter("e2", start="2026-03-16")))
    assert [(r.session, r.attendance) for r in rs] == [(1, "attended"), (2, "no_show"), (3, "attended")]
    assert res.read["Appointment (no-show)"] == 1


def test_noshow_appointment_marks_the_cancelled_encounter_of_that_day(tmp_path):
    rs, _ = ratings(tmp_path, base(encounter("e2", start="2026-03-09T10:00:00+01:00", status="cancelled"),
                                   noshow()))
    assert [(r.session, r.attendance) for r in rs] == [(1, "attended"), (2, "no_show")]


def test_attended_encounter_linked_to_a_noshow_is_an_error(tmp_path):
    e2 = encounter("e2", start="2026-03-09T10:00:00+01:00", appointment=[{"reference": "Appointment/a1"}])
    errs = errors_of(tmp_path, base(e2, noshow()))
    assert "Encounter/e2: status: the encounter is finished but its Appointment/a1 is a no-show" in errs[0]


def test_other_appointment_statuses_are_ignored(tmp_path):
    _rs, res = ratings(tmp_path, base(noshow(status="booked")))
    assert res.ignored == {"Appointment booked": 1}


@pytest.mark.parametrize("code, instrument", [("44261-6", "PHQ-9"), ("70274-6", "GAD-7")])
def test_observation_totals_by_loinc(tmp_path, code, instrument):
    rs, _ = ratings(tmp_path, base(obs(code=code, value=12)))
    assert [(r.instrument, r.rater, r.total, r.risk) for r in rs] == [(instrument, "client", 12, None)]


def test_value_quantity_is_read_like_value_integer(tmp_path):
    o = obs(valueQuantity={"value": 9, "unit": "{score}"})
    rs, _ = ratings(tmp_path, base(o))
    assert rs[0].total == 9


@pytest.mark.parametrize("item9, risk", [(0, False), (1, True), (3, True)])
def test_phq9_item9_sets_risk(tmp_path, item9, risk):
    rs, _ = ratings(tmp_path, base(obs(value=11), obs("o2", code="44260-8", value=item9)))
    assert [(r.instrument, r.total, r.risk) for r in rs] == [("PHQ-9", 11, risk)]


def test_phq9_item9_as_a_loinc_answer(tmp_path):
    q9 = obs("o2", code="44260-8", valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6570-1"}]})
    rs, _ = ratings(tmp_path, base(obs(value=11), q9))
    assert rs[0].risk is True


def test_item9_without_a_total_is_an_error(tmp_path):
    errs = errors_of(tmp_path, base(obs("o2", code="44260-8", value=2)))
    assert "Observation/o2: valueInteger: PHQ-9 item 9 without a PHQ-9 total at session 1 of C-1" in errs[0]


def test_observation_without_encounter_uses_the_same_day_encounter(tmp_path):
    rs, _ = ratings(tmp_path, base(encounter("e2", start="2026-03-09"), obs(value=5, eid=None,
                                                                              when="2026-03-09T12:00:00Z")))
    assert [(r.session, r.instrument) for r in rs] == [(1, None), (2, "PHQ-9")]


def test_same_day_fallback_prefers_the_attended_session(tmp_path):
    rs, _ = ratings(tmp_path, base(noshow(start="2026-03-02T08:00:00+01:00"), obs(value=5, eid=None)))
    assert [(r.session, r.attendance, r.instrument) for r in rs] == [(1, "no_show", None), (2, "attended", "PHQ-9")]
    errs = errors_of(tmp_path, base(encounter("e2", start="2026-03-02T15:00:00+01:00"), obs(value=5, eid=None)))
    assert "2 encounters of C-1 on that day: give the encounter reference" in errs[0]


def test_observation_without_encounter_or_same_day_encounter_is_an_error(tmp_path):
    errs = errors_of(tmp_path, base(obs(value=5, eid=None, when="2026-03-20")))
    assert errs[0].endswith("Observation/o1: effectiveDateTime: no encounter of C-1 on that day and no "
                            "encounter reference (got 2026-03-20)")


@pytest.mark.parametrize("coded", [False, True])
def test_questionnaire_response_phq9_sums_the_answers(tmp_path, coded):
    answers = [3, 2, 1, 0, 3, 2, 1, 0, 2]
    rs, res = ratings(tmp_path, base(qr(answers=answers, coded=coded)))
    assert [(r.instrument, r.total, r.risk) for r in rs] == [("PHQ-9", 14, True)]
    assert res.read["QuestionnaireResponse"] == 1


def test_questionnaire_response_gad7(tmp_path):
    rs, _ = ratings(tmp_path, base(qr(answers=[1, 2, 3, 0, 1, 2, 3], codes=GAD7_ITEMS)))
    assert [(r.instrument, r.total, r.risk) for r in rs] == [("GAD-7", 12, None)]


def test_questionnaire_response_codes_from_its_questionnaire(tmp_path):
    q = {"resourceType": "Questionnaire", "id": "phq", "url": "http://x.example/Questionnaire/phq",
         "status": "active", "item": [{"linkId": f"PHQ.{i + 1}", "type": "choice",
                                       "code": [{"system": LOINC, "code": c}]} for i, c in enumerate(PHQ9_ITEMS)]}
    r = qr(answers=[1] * 9, questionnaire="http://x.example/Questionnaire/phq")
    for i, item in enumerate(r["item"][0]["item"]):
        item["linkId"] = f"PHQ.{i + 1}"
    rs, _ = ratings(tmp_path, base(r, q))  # the Questionnaire may come after the response
    assert [(r.instrument, r.total) for r in rs] == [("PHQ-9", 9)]


def test_questionnaire_response_missing_item_is_an_error(tmp_path):
    errs = errors_of(tmp_path, base(qr(answers=[1, 1, 1, 1, None, 1, 1, 1, 1])))
    assert "QuestionnaireResponse/r1: item: PHQ-9 is missing item 44251-7: a total needs every item (no " \
           "prorating) (got 8 of 9 items)" in errs[0]


def test_questionnaire_response_bad_answer_is_an_error_without_free_text(tmp_path):
    r = qr()
    r["item"][0]["item"][2]["answer"] = [{"valueString": "I feel ashamed of the argument"}]
    errs = errors_of(tmp_path, base(r))
    assert "item[0].item[2].answer[0]: must be valueInteger 0-3 or a valueCoding" in errs[0]
    assert "ashamed" not in errs[0] and "(got valueString, not shown)" in errs[0]


def test_questionnaire_response_total_item_must_equal_the_sum(tmp_path):
    r = qr(answers=[1] * 9)
    r["item"][0]["item"].append({"linkId": "/44261-6", "answer": [{"valueInteger": 10}]})
    errs = errors_of(tmp_path, base(r))
    assert "the PHQ-9 total item does not equal the sum of the answers (9) (got 10)" in errs[0]


def test_questionnaire_response_and_observation_of_one_phq9_agree_or_fail(tmp_path):
    rs, _ = ratings(tmp_path, base(qr(answers=[1] * 9), obs(value=9)))
    assert len(rs) == 1 and rs[0].total == 9
    errs = errors_of(tmp_path, base(qr(answers=[1] * 9), obs(value=10)))
    assert "PHQ-9 of session 1 of C-1 is 9 in QuestionnaireResponse/r1" in "\n".join(errs)


def test_other_questionnaire_responses_are_ignored(tmp_path):
    other = qr(codes=["12345-6", "23456-7"], answers=[1, 2])
    _rs, res = ratings(tmp_path, base(other))
    assert res.ignored == {"QuestionnaireResponse (no PHQ-9 or GAD-7 items)": 1}
    assert "QuestionnaireResponse" not in res.read


def test_clinic_declared_codes_for_ors_srs(tmp_path):
    o1 = obs("o1", system="urn:clinic", code="ors", valueQuantity={"value": 23.5})
    o2 = obs("o2", system="urn:clinic", code="srs", value=36)
    rs, _ = ratings(tmp_path, base(o1, o2), codes={"ORS": ["urn:clinic|ors"], "SRS": "urn:clinic|srs"})
    assert [(r.instrument, r.total) for r in rs] == [("ORS", 23.5), ("SRS", 36)]
    _rs, res = ratings(tmp_path, base(o1, o2))  # without the settings they are other codes
    assert res.ignored == {"Observation (other codes)": 2}


@pytest.mark.parametrize("status, key, notice", [
    ("entered-in-error", "Observation entered-in-error", False),
    ("preliminary", "Observation preliminary", True),
    ("registered", "Observation registered", True),
])
def test_observation_skipped_statuses(tmp_path, status, key, notice):
    rs, res = ratings(tmp_path, base(obs(value=3, status=status)))
    assert [r.instrument for r in rs] == [None] and res.skipped == {key: 1}
    assert bool(res.notices) is notice
    if notice:
        assert f"Observation/o1: status {status}: skipped" in res.summary()


ITEM9_CODED = {"coding": [{"system": LOINC, "code": "LA6571-9"}]}


@pytest.mark.parametrize("status", ["preliminary", "registered", "cancelled", "unknown"])
@pytest.mark.parametrize("value, shown", [(2, "2"), (None, "3")])
def test_a_skipped_item9_endorsement_needs_attention(tmp_path, status, value, shown):
    q9 = obs("o2", code="44260-8", value=value, status=status,
             **({} if value is not None else {"valueCodeableConcept": ITEM9_CODED}))
    rs, res = ratings(tmp_path, base(obs(value=11), q9))
    assert [(r.instrument, r.total, r.risk) for r in rs] == [("PHQ-9", 11, None)]
    text = res.summary().splitlines()
    assert text[:2] == [
        "Needs attention: 1 PHQ-9 item 9 risk endorsement NOT imported (no flag is raised from them); check these "
        "records:",
        f"  {tmp_path / 'export.json'}:entry[4]: Observation/o2: PHQ-9 item 9 = {shown} (risk endorsed) of C-1 at "
        f"session 1 (2026-03-02) not imported: status {status}; check the record"]
    assert "Observation/o2: status" not in res.summary()  # not also a plain notice
    assert res.skipped == {f"Observation {status}": 1}


def test_a_skipped_item9_of_0_and_an_entered_in_error_one_are_plain(tmp_path):
    rs, res = ratings(tmp_path, base(obs(value=11), obs("o2", code="44260-8", value=0, status="preliminary"),
                                     obs("o3", code="44260-8", value=3, status="entered-in-error")))
    assert res.attention == [] and "Needs attention" not in res.summary()
    assert "Observation/o2: status preliminary: skipped" in res.summary()


def test_a_skipped_item9_without_an_encounter_names_the_day(tmp_path):
    q9 = obs("o2", code="44260-8", value=1, status="preliminary", eid=None, when="2026-03-09")
    _rs, res = ratings(tmp_path, base(obs(value=11), q9))
    assert res.attention == [f"{tmp_path / 'export.json'}:entry[4]: Observation/o2: PHQ-9 item 9 = 1 (risk "
                             "endorsed) of C-1 on 2026-03-09 not imported: status preliminary; check the record"]


@pytest.mark.parametrize("status", ["in-progress", "stopped"])
def test_a_skipped_questionnaire_response_with_item9_needs_attention(tmp_path, status):
    r = qr(answers=[0] * 8 + [2], status=status)
    _rs, res = ratings(tmp_path, base(r, qr("r2", answers=[1] * 7, codes=GAD7_ITEMS, status=status)))
    assert res.attention == [f"{tmp_path / 'export.json'}:entry[3]: QuestionnaireResponse/r1: PHQ-9 item 9 = 2 "
                             "(risk endorsed) of C-1 at session 1 (2026-03-02) not imported: status "
                             f"{status}; check the record"]
    assert res.summary().startswith("Needs attention: 1 PHQ-9 item 9")
    assert f"QuestionnaireResponse/r2: status {status}: skipped" in res.summary()  # GAD-7: a plain notice


def test_a_skipped_response_item9_is_found_by_its_questionnaire(tmp_path):
    q = {"resourceType": "Questionnaire", "id": "phq", "url": "http://x.example/Questionnaire/phq",
         "status": "active", "item": [{"linkId": f"PHQ.{i + 1}", "type": "choice",
                                       "code": [{"system": LOINC, "code": c}]} for i, c in enumerate(PHQ9_ITEMS)]}
    r = qr(answers=[0] * 8 + [1], coded=True, status="in-progress", questionnaire="Questionnaire/phq")
    for i, item in enumerate(r["item"][0]["item"]):
        item["linkId"] = f"PHQ.{i + 1}"
    _rs, res = ratings(tmp_path, base(r, q))
    assert len(res.attention) == 1 and "QuestionnaireResponse/r1: PHQ-9 item 9 = 1 (risk endorsed)" \
        in res.attention[0]


def test_the_import_prints_needs_attention_first(tmp_path):
    db = tmp_path / "db.json"
    f = write(tmp_path, base(obs(value=11), obs("o2", code="44260-8", value=2, status="preliminary")))
    res = CliRunner().invoke(cli, ["import", str(db), "--fhir", str(f)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("Needs attention: 1 PHQ-9 item 9 risk endorsement NOT imported")


def test_item9_above_the_phq9_total_is_an_error_naming_both(tmp_path):
    errs = errors_of(tmp_path, base(obs(value=1), obs("o2", code="44260-8", value=3)))
    assert errs == [f"{tmp_path / 'export.json'}:entry[4]: Observation/o2: valueInteger: PHQ-9 item 9 is more than "
                    f"the PHQ-9 total 1 of session 1 of C-1 in Observation/o1 ({tmp_path / 'export.json'} at "
                    "entry[3]): an item cannot exceed the total (got 3)"]
    rs, _res = ratings(tmp_path, base(obs(value=3), obs("o2", code="44260-8", value=3)))  # equal is possible
    assert rs[0].risk is True


@pytest.mark.parametrize("comparator", [">", "<", ">=", "<="])
def test_a_value_with_a_comparator_is_not_a_score(tmp_path, comparator):
    errs = errors_of(tmp_path, base(obs(valueQuantity={"value": 10, "comparator": comparator})))
    assert errs == [f"{tmp_path / 'export.json'}:entry[3]: Observation/o1: valueQuantity.comparator: a bound is not "
                    f"a score: the value must be exact (no comparator) (got {comparator})"]


def test_other_resource_types_are_ignored_and_counted(tmp_path):
    cond = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
    med = {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
           "subject": {"reference": "Patient/p1"}}
    _rs, res = ratings(tmp_path, base(cond, med, obs("bp", code="8480-6", value=120)))
    assert res.ignored == {"Condition": 1, "MedicationRequest": 1, "Observation (other codes)": 1}
    assert "ignored (not used by this import): 1 Condition, 1 MedicationRequest, 1 Observation (other codes)" \
        in res.summary()


def test_transaction_bundle_with_urn_uuid_references(tmp_path):
    entries = [
        {"fullUrl": "urn:uuid:1", "resource": {k: v for k, v in patient().items() if k != "id"}},
        {"fullUrl": "urn:uuid:2", "resource": {k: v for k, v in practitioner().items() if k != "id"}},
        {"fullUrl": "urn:uuid:3", "resource": {**encounter(), "subject": {"reference": "urn:uuid:1"},
                                               "participant": [{"individual": {"reference": "urn:uuid:2"}}]}},
    ]
    del entries[2]["resource"]["id"]
    o = obs(value=7, pid="x")
    o["subject"] = {"reference": "urn:uuid:1"}
    o["encounter"] = {"reference": "urn:uuid:3"}
    del o["id"]
    entries.append({"fullUrl": "urn:uuid:4", "resource": o})
    p = tmp_path / "tx.json"
    p.write_text(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
    # an Encounter referenced by urn:uuid has no Practitioner type in its reference: it has no clinician
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([p])
    assert "participant.individual: no participant is a Practitioner" in exc.value.errors[0]
    entries[2]["resource"]["participant"] = [{"individual": {"reference": "Practitioner/t1"}}]
    entries[1]["resource"]["id"] = "t1"
    p.write_text(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
    res = read_fhir([p])
    assert [(r.client, r.clinician, r.instrument, r.total) for r in res.parsed.ratings] == [("C-1", "T01", "PHQ-9", 7)]


# --- malformed input: clear errors, nothing written -----------------------------------------------


@pytest.mark.parametrize("content, expected", [
    ("{not json", ":1: file: is not valid JSON (Expecting property name enclosed in double quotes at line 1, "
                  "column 2)"),
    ("[1, 2]", ":1: file: holds an array, not a FHIR resource"),
    ('{"resourceType": "Patients", "id": "p1"}', ":1: Patients/p1: resourceType: not a FHIR R4 resource type "
                                                  "(got Patients)"),
    ('{"resourceType": "observation", "id": "o"}', "(it is spelled Observation)"),
    ('{"id": "x"}', ":1: resourceType: missing: this is not a FHIR resource (got empty)"),
    ("", ":1: file: is empty"),
])
def test_malformed_files(tmp_path, content, expected):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([p])
    assert expected in exc.value.errors[0], exc.value.errors


def test_ndjson_bad_line_is_named(tmp_path):
    p = tmp_path / "Observation.ndjson"
    p.write_text(json.dumps(patient()) + "\n" + "{oops\n")
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([p])
    assert exc.value.errors == [f"{p}:2: file: line is not valid JSON (Expecting property name enclosed in double "
                                "quotes at column 2); NDJSON has one resource per line"]


@pytest.mark.parametrize("name, newline", [("Observation.ndjson", "\n"), ("export.json", "\r\n")])
def test_ndjson_syntax_error_names_the_column_of_the_line(tmp_path, name, newline):
    p = tmp_path / name
    p.write_text(json.dumps(patient()) + newline + '{"resourceType":"Observation",' + newline, newline="")
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([p])
    assert exc.value.errors == [f"{p}:2: file: line is not valid JSON (Expecting property name enclosed in double "
                                "quotes at column 31); NDJSON has one resource per line"]


def test_a_field_the_library_requires_is_reported_as_missing(tmp_path):
    e = encounter()
    del e["class"]  # required in R4
    errs = errors_of(tmp_path, [patient(), practitioner(), e])
    assert errs == [f"{tmp_path / 'export.json'}:entry[2]: Encounter/e1: class: not valid FHIR R4: field required "
                    "(got nothing)"]


def test_missing_subject_and_unknown_patient(tmp_path):
    no_subject = obs("o1", value=3)
    del no_subject["subject"]
    errs = errors_of(tmp_path, base(no_subject, obs("o2", value=4, pid="nobody")))
    assert errs == [
        f"{tmp_path / 'export.json'}:entry[3]: Observation/o1: subject: missing (got empty)",
        f"{tmp_path / 'export.json'}:entry[4]: Observation/o2: subject: reference to a Patient that is not in "
        "the import (got Patient/nobody)",
    ]


def test_unknown_encounter_and_wrong_patient_encounter(tmp_path):
    errs = errors_of(tmp_path, [*base(obs("o1", value=3, eid="nope")), patient("p2", "C-2"),
                                obs("o2", value=4, pid="p2")])
    joined = "\n".join(errs)
    assert "Observation/o1: encounter: reference to an Encounter that is not in the import (got Encounter/nope)" \
        in joined
    assert "Observation/o2: encounter: the Encounter is of another patient (C-1, not C-2)" in joined


def test_r5_encounter_gets_a_hint(tmp_path):
    e = encounter(status="completed")
    errs = errors_of(tmp_path, [patient(), practitioner(), e])
    assert "status: not an R4 Encounter status (an R5 status: export FHIR R4) (got completed)" in errs[0]


def test_library_checks_the_structure(tmp_path):
    e = encounter()
    e["class"] = "AMB"  # a Coding in R4, not a string
    errs = errors_of(tmp_path, [patient(), practitioner(), e])
    assert any("Encounter/e1: class: not valid FHIR R4:" in x for x in errs), errs
    _rs, res = ratings(tmp_path, [patient(), practitioner(), e], library_sample=0)  # the values themselves are fine


def test_same_resource_twice_with_other_content_is_an_error(tmp_path):
    a = write(tmp_path, base(obs(value=3)), "a.json")
    b = write(tmp_path, [obs(value=4)], "b.ndjson")
    with pytest.raises(ValidationFailed) as exc:
        read_fhir([a, b])
    assert exc.value.errors == [f"{b}:1: Observation/o1: id: Observation/o1 is also in {a} at entry[3] with other "
                                "content (got o1)"]


def test_bundle_and_ndjson_together_are_read_once():
    one = read_fhir([BUNDLE], client_system=MRN, codes=CODES)
    both = read_fhir([BULK, BUNDLE], client_system=MRN, codes=CODES)
    assert sorted(both.parsed.ratings, key=lambda r: r.key) == sorted(one.parsed.ratings, key=lambda r: r.key)
    assert both.read == one.read and both.skipped == one.skipped and both.ignored == one.ignored
    assert both.duplicates > 60


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        read_fhir([tmp_path / "nope.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no .json or .ndjson files"):
        read_fhir([tmp_path / "empty"])


# --- the fixtures through the real CLI ---------------------------------------------------------


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supervision_tui", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def fhir_import(db: Path, *paths, runner=None):
    runner = runner or CliRunner()
    return runner.invoke(cli, ["import", str(db), "--fhir", *map(str, paths), "--client-system", MRN,
                               "--config", str(SETTINGS)])


def test_bundle_and_ndjson_give_identical_flags(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    ra, rb = fhir_import(a, BUNDLE), fhir_import(b, BULK)
    assert ra.exit_code == 0 and rb.exit_code == 0, ra.output + rb.output
    fa = CliRunner().invoke(cli, ["flags", str(a), "--json"])
    fb = CliRunner().invoke(cli, ["flags", str(b), "--json"])
    assert fa.exit_code == 0 and fa.output == fb.output
    flags = json.loads(fa.output)
    kinds = {(f["client"], f["kind"], f["status"]) for f in flags}
    # the fixture's stories: C-101's alliance drops at s7 and item 9 at s8; C-102 deteriorates and misses two
    assert {("C-101", "rupture", "open"), ("C-101", "risk", "risk"), ("C-102", "outcome", "deteriorated"),
            ("C-103", "risk", "risk")} <= kinds
    sa = CliRunner().invoke(cli, ["summary", str(a), "--json"])
    sb = CliRunner().invoke(cli, ["summary", str(b), "--json"])
    assert sa.output == sb.output


def test_fixture_import_content_and_summary(tmp_path):
    db = tmp_path / "caseload.json"
    res = fhir_import(db, BULK)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "FHIR: read 32 Observation, 18 Encounter, 4 Patient, 3 QuestionnaireResponse, 2 Practitioner, " \
           "1 Appointment (no-show), 1 Questionnaire; 19 sessions." in out
    assert "skipped: 1 Observation entered-in-error, 1 Observation preliminary" in out
    assert "ignored (not used by this import): 1 Appointment booked, 1 Condition, 1 MedicationRequest, " \
           "1 Observation (other codes)" in out
    assert "Observation.ndjson:34: Observation/o-4-pre: status preliminary: skipped" in out
    cl = Database(db).load()
    c102 = sorted((r.session, r.attendance) for r in cl.ratings if r.client == "C-102" and r.instrument != "GAD-7")
    assert c102 == [(1, "attended"), (2, "attended"), (3, "attended"), (4, "cancelled"), (5, "no_show"),
                    (6, "attended")]
    assert sorted(cl.clients) == ["C-101", "C-102", "C-103", "C-104"]
    assert sorted(cl.clinicians) == ["T01", "T02"]


def test_names_birth_dates_addresses_telecom_never_reach_the_database(tmp_path):
    db = tmp_path / "caseload.json"
    fhir_import(db, BUNDLE)
    fhir_import(db, BULK)
    data = db.read_bytes()
    fixture = BUNDLE.read_bytes()
    planted = [s for group in PRIVATE.values() for s in group]
    assert len(planted) > 15
    for text in planted:
        assert text.encode() in fixture, text  # the planted text is really in the export …
        assert text.encode() not in data, text  # … and never in the database
        assert text.encode("unicode_escape") not in data
    assert b"birthDate" not in data and b"telecom" not in data and b"address" not in data
    for sidecar in tmp_path.iterdir():
        assert not any(t.encode() in sidecar.read_bytes() for t in planted if sidecar.is_file())


def test_reimport_is_idempotent_and_leaves_the_file_untouched(tmp_path):
    db = tmp_path / "caseload.json"
    assert fhir_import(db, BUNDLE).exit_code == 0
    before = sha(db)
    again = fhir_import(db, BULK)  # a re-export of the same data, in the other format
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert "34 unchanged" in again.output
    assert re.search(r"clients: +0 added, 0 updated, [1-9]\d* unchanged", again.output), again.output
    assert sha(db) == before


def test_bad_value_rejects_the_whole_import_naming_the_resource(tmp_path):
    db = tmp_path / "caseload.json"
    assert fhir_import(db, BUNDLE).exit_code == 0
    before = sha(db)
    doc = json.loads(BUNDLE.read_text())
    idx = next(i for i, e in enumerate(doc["entry"]) if e["resource"]["id"] == "o-2-phq-3")
    doc["entry"][idx]["resource"]["valueInteger"] = 31
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = fhir_import(db, bad)
    assert res.exit_code == 1
    assert res.output.splitlines() == [
        f"{bad}:entry[{idx}]: Observation/o-2-phq-3: valueInteger: must be within 0-27 for PHQ-9 (got 31)",
        "1 error; nothing was written.",
    ]
    assert sha(db) == before
    new = tmp_path / "new.json"
    assert fhir_import(new, bad).exit_code == 1 and not new.exists()


def test_malformed_fhir_through_the_cli_writes_nothing(tmp_path):
    db = tmp_path / "caseload.json"
    cases = {
        "notjson.json": "{\"resourceType\": \"Bundle\",",
        "wrongtype.json": json.dumps({"resourceType": "Patinet", "id": "p"}),
        "nosubject.ndjson": json.dumps({**obs(value=3), "subject": None}),
    }
    for name, content in cases.items():
        p = tmp_path / name
        p.write_text(content)
        out = run("import", db, "--fhir", p)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert str(p) in out.stderr and "nothing was written" in out.stderr
        assert not db.exists()
    unknown = write(tmp_path, [practitioner(), encounter(pid="ghost")], "unknown.ndjson")
    out = run("validate", "--fhir", unknown)
    assert out.returncode == 1
    assert f"{unknown}:2: Encounter/e1: subject: reference to a Patient that is not in the import (got " \
           "Patient/ghost)" in out.stderr


def test_validate_fhir_writes_nothing_and_reports(tmp_path):
    res = CliRunner().invoke(cli, ["validate", "--fhir", str(BULK), "--client-system", MRN,
                                   "--config", str(SETTINGS)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("OK: 34 measure rows of 4 clients would be imported.\nFHIR: read ")


@pytest.mark.parametrize("args", [
    ["import", "DB", "--fhir", "--map", "openfit", "x.json"],
    ["import", "DB", "x.json", "--client-system", "urn:x"],
    ["import", "DB", "--fhir", "x.json", "--clients", "c.csv"],
    ["import", "DB", "a.csv", "b.csv"],
    ["validate", "--fhir", "--map", "openfit", "x.json"],
])
def test_usage_errors_exit_2(tmp_path, args):
    res = CliRunner().invoke(cli, [str(tmp_path / a) if a in ("DB",) else a for a in args])
    assert res.exit_code == 2, res.output


def test_help_texts_mention_fhir_and_map():
    for cmd in ("import", "validate"):
        out = CliRunner().invoke(cli, [cmd, "--help"]).output
        for word in ("--fhir", "--client-system", "--clinician-system", "--map", "--config"):
            assert word in out, (cmd, word)


def test_the_fhir_library_is_not_imported_at_start_up():
    code = ("import sys\nimport supervision_tui.cli, supervision_tui.ui.app, supervision_tui.store.fhir\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fhir', 'fhir_core', 'pydantic')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# --- settings: [fhir.codes] ----------------------------------------------------------------------


def test_fhir_codes_settings():
    s = settings_from_dict({"fhir": {"codes": {"ORS": "urn:c|ors", "WAI-SR": ["urn:c|wai", "urn:d|wai"]}}})
    assert s.fhir.codes == {"ORS": ("urn:c|ors",), "WAI-SR": ("urn:c|wai", "urn:d|wai")}
    assert s.to_toml_dict()["fhir"] == {"codes": {"ORS": ["urn:c|ors"], "WAI-SR": ["urn:c|wai", "urn:d|wai"]}}


@pytest.mark.parametrize("doc, message", [
    ({"fhir": {"codes": {"XYZ": "a|b"}}}, "[fhir] codes.XYZ: unknown instrument"),
    ({"fhir": {"code": {}}}, "[fhir] code: unknown key (known: codes)"),
    ({"fhir": {"codes": {"ORS": "ors"}}}, "[fhir] codes.ORS: expected \"SYSTEM|CODE\""),
    ({"fhir": {"codes": {"ORS": "a|b", "SRS": "a|b"}}}, "[fhir] codes.SRS: a|b is also the code of ORS"),
    ({"fhir": {"codes": {"ORS": "http://loinc.org|44261-6"}}}, "LOINC 44261-6 is read by the import already"),
])
def test_fhir_codes_settings_errors(doc, message):
    with pytest.raises(SettingsError) as exc:
        settings_from_dict(doc)
    assert message in str(exc.value)


def test_a_later_export_continues_the_session_numbers(tmp_path):
    """An export of only newer data (Bulk Data _since) adds sessions after the
    stored ones; the full history exported again then changes nothing."""
    db = tmp_path / "caseload.json"
    first = write(tmp_path, base(obs(value=5)), "first.json")
    assert CliRunner().invoke(cli, ["import", str(db), "--fhir", str(first)]).exit_code == 0
    later = write(tmp_path, [patient(), practitioner(), encounter("e9", start="2026-04-06T10:00:00+01:00"),
                             obs("o9", value=4, eid="e9")], "later.ndjson")
    res = CliRunner().invoke(cli, ["import", str(db), "--fhir", str(later)])
    assert res.exit_code == 0, res.output
    assert sorted((r.session, r.date.isoformat(), r.total) for r in Database(db).load().ratings) == [
        (1, "2026-03-02", 5), (2, "2026-04-06", 4)]
    before = sha(db)
    res = CliRunner().invoke(cli, ["import", str(db), "--fhir", str(first), str(later)])
    assert res.exit_code == 0 and "nothing changed" in res.output and sha(db) == before


def test_a_session_between_stored_sessions_is_refused(tmp_path):
    db = tmp_path / "caseload.json"
    first = write(tmp_path, base(encounter("e2", start="2026-04-06")), "first.json")
    assert CliRunner().invoke(cli, ["import", str(db), "--fhir", str(first)]).exit_code == 0
    before = sha(db)
    middle = write(tmp_path, [patient(), practitioner(), encounter("e5", start="2026-03-16T10:00:00Z")],
                   "middle.ndjson")
    res = CliRunner().invoke(cli, ["import", str(db), "--fhir", str(middle)])
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == (
        f"{middle}:3: Encounter/e5: period.start: a session of C-1 between sessions already in the database "
        "(s1 on 2026-03-02 and s2 on 2026-04-06): session numbers cannot be inserted; import the whole history "
        "into a new database (got 2026-03-16)")
    assert sha(db) == before


def test_a_session_before_the_first_stored_one_is_refused(tmp_path):
    db = tmp_path / "caseload.json"
    assert CliRunner().invoke(cli, ["import", str(db), "--fhir", str(write(tmp_path, base()))]).exit_code == 0
    early = write(tmp_path, [patient(), practitioner(), encounter("e0", start="2026-01-05")], "early.ndjson")
    res = CliRunner().invoke(cli, ["import", str(db), "--fhir", str(early)])
    assert res.exit_code == 1 and "between sessions already in the database (s1 on 2026-03-02)" in res.output
