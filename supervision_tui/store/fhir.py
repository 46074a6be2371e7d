"""FHIR R4 import: Bundles, single resources, Bulk Data NDJSON (interchange.md §8).

Public API::

    read_fhir(paths, client_system=None, clinician_system=None, codes=None) -> FhirImport
        # raises ValidationFailed (every error) or UserError (a path cannot be read)
    FhirImport.parsed      # csv_io.ParsedImport, for Database.import_parsed
    FhirImport.summary()   # what was read, skipped and ignored, with counts

The result is the same ``ParsedImport`` the CSV import builds, and its
measure rows go through the CSV import's own row validator
(``csv_io._measure``: ranges, whole numbers, vocabularies), so the two
imports accept the same values and the database's merge (all-or-nothing,
atomic, idempotent, updates reported) is shared.

Errors read ``FILE:ENTRY: Resource/id: field: what is wrong (got VALUE)``.
ENTRY is ``entry[i]`` for a Bundle entry (0-based, as FHIRPath and jq
count: ``jq '.entry[3]' bundle.json`` shows it; a Bundle inside a Bundle
gives ``entry[2]/entry[0]``), the line number for NDJSON, and 1 for a file
holding one resource. File-level problems read ``FILE:LINE: file: ...``
(an NDJSON line that is not JSON names the column within that line). An
error that is no one resource's (the Patients' identifier systems, see
below) reads ``--client-system: ...`` and comes first. Identical error
lines are reported once.

Privacy, by construction: a Patient is cut down to ``resourceType``,
``id``, ``meta`` and ``identifier`` the moment it is parsed; its name,
birth date, address, telecom and everything else are never looked at,
never stored and never shown. Values are echoed in errors only from fields
that hold codes, numbers, dates and references; a Patient or Practitioner
identifier that cannot serve as a code is described by its length only
(``sanitize.code_shown``, shared with the CSV imports: ``(got 21
characters, not a code; not shown)``), and free-text answers are never
shown.

Readings of the spec, decided here:

* Client code: ``--client-system`` picks the identifier; without it, the
  Patient's first identifier with a value, but only when that gives one
  system for all Patients and that system is not a national number.
  Patients whose first identifiers come from different systems are an
  error that lists the systems with a count each (never a value) and asks
  for ``--client-system``: codes from a mix of systems would mix a record
  number with, say, a national number. A system that looks like a
  person's national number (its URI has ``ssn``, ``national``,
  ``nhs-number``, ``bsn``, ``nir``, ``insee``, ``nino``, ``passport`` or
  ``driver`` as a word, or it is the OID of the US SSN, UK NHS number,
  Dutch BSN, French INS, a US driver's licence or passport; or the
  identifier's HL7 v2-0203 ``type`` is SS, NI, NNxxx, PPN, DL, NH, JHN,
  TAX or CZ) is never taken by default: the import is refused, and it is
  used only when ``--client-system`` names it, with a warning in the
  summary. The summary names the systems used. The code must fit the
  client code alphabet (1–32 of ``A–Z a–z 0–9 . _ -``). Two Patients with
  one code are an error.
* Clinician: the Practitioner's identifier (``--clinician-system``, else its
  first). Bulk Data Patient- and Group-level exports hold only the
  patient compartment, which has no Practitioners: a participant whose
  Practitioner is not in the import gets the reference's id
  (``Practitioner/T02`` → ``T02``) and the summary says how many. An
  Encounter with no Practitioner participant is an error.
* Encounter status: ``finished``, ``in-progress``, ``arrived``, ``triaged``,
  ``onleave`` → attended (the client was there); ``cancelled`` →
  cancelled; ``entered-in-error`` skipped; ``planned`` and ``unknown``
  skipped with a notice (not a session yet / attendance unknown).
  ``period.start`` must give a day.
* No-show: an ``Appointment`` with status ``noshow`` names its Patient and
  day (``start``). An Encounter of that patient and day that references
  the Appointment, else one that is cancelled, becomes ``no_show``; with
  none, the Appointment is a session of its own (clinician: its
  Practitioner participant), numbered with the encounters. An attended
  Encounter that references a no-show Appointment is an error. Other
  Appointment statuses are not used (counted as ignored).
* Sessions are numbered per client by day, then start time, then id
  (interchange §8). Into a database that already has the client, the
  numbers continue its history: a session on a day the database has takes
  that day's number, a later one the next number. So a re-export of the
  same history gives the same numbers (idempotent) and an export of only
  newer data (``_since``) adds sessions after the stored ones; a session
  dated between stored sessions is an error (numbers cannot be inserted).
  A stored session the export no longer has is kept (imports never
  delete, as with the CSV import).
* Observation status ``final``, ``amended``, ``corrected`` are read;
  ``preliminary``, ``registered``, ``cancelled`` and ``unknown`` are skipped
  with a notice, ``entered-in-error`` skipped. A read Observation with no
  value but a ``dataAbsentReason`` is skipped with a notice. PHQ-9 item 9
  (44260-8) may also be a ``valueCodeableConcept`` with the LOINC answers
  LA6568-5…LA6571-9 (its usual shape in EHRs). A ``valueQuantity`` with a
  ``comparator`` (``>= 10``) is an error: a bound is not a score.
* A skipped PHQ-9 item 9 above 0 (an Observation skipped for its status,
  or a skipped QuestionnaireResponse whose item 9 answer is above 0) is a
  risk endorsement the import leaves out, so no flag is raised from it.
  Its notice says so, with the client and session where the references
  give them: ``Observation/o3: PHQ-9 item 9 = 2 (risk endorsed) of C-1 at
  session 2 (2026-10-08) not imported: status preliminary; check the
  record``, and the summary lists all of these first, under "Needs
  attention", never cut short. ``entered-in-error`` is a retraction, not
  an endorsement: counted as skipped, no notice. A skipped resource's
  other faults are not errors (it is not imported).
* QuestionnaireResponse status ``completed`` and ``amended`` are read;
  ``in-progress`` and ``stopped`` skipped with a notice. An item's code is
  its Questionnaire's ``item.code`` when that Questionnaire is in the
  import (matched by ``questionnaire`` = its url, url|version or
  ``Questionnaire/id``), else the linkId itself or its last ``/`` part
  (``/44250-9``, the LOINC forms' linkIds). An item carrying a total code
  (44261-6, 70274-6) must equal the sum of the answers.
* The session of a measure: its ``encounter``; without one, the patient's
  only session on the same day (``effective[x]`` / ``authored``); none or
  several is an error. The encounter must be of the same patient.
* One PHQ-9 of a session from two resources (an EHR often stores the
  QuestionnaireResponse and the total Observation derived from it) is one
  row when they agree and an error when they do not. Item 9 without a
  PHQ-9 total at that session is an error (risk is part of the PHQ-9 row),
  and so is item 9 above that total (an item cannot exceed the sum of the
  items; the error names both resources).
* Clinic codes (``[fhir.codes] ORS = "SYSTEM|CODE"``) read an
  Observation's ``valueInteger``/``valueQuantity.value`` as that
  instrument's total, rated by the client.
* The same resource (type and id) twice, in one file or in several (a
  Bundle and the NDJSON of the same data given together), is read once
  when both say the same; when they differ it is an error.
* A resource type this import does not use is ignored and counted; a
  ``resourceType`` that is not an R4/R4B resource type is an error.
* FHIR library: ``fhir.resources`` (R4B models, pydantic) checks a sample of
  the resources read — the first ``LIBRARY_SAMPLE`` of each type in each
  file — against the R4B structure. Its problems are errors like any
  other. The values themselves are read from the plain JSON by this module
  for every resource, with its own checks of every field it uses. Measured
  with bench/bench_fhir.py at 5 000 patients × 40 encounters (700 000
  resources, 243 MB of NDJSON): the library's ``model_validate`` costs
  90–220 µs a resource, 60–150 s for all of them, against 20–30 s for this
  whole reading (``json.loads`` alone: 3–4 s); so it validates a sample. A
  wrong-version or malformed export is systematic and shows in the first
  resources; a one-off fault in a field this import uses is caught by its
  own checks, and one in a field it does not use does not matter to it.
  The library is imported only here, inside the import, never at start-up.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from supervision_tui.errors import UserError, ValidationFailed
from supervision_tui.gc_pause import gc_paused
from supervision_tui.store.csv_io import CODE_COLUMNS, CODE_RE, ParsedImport
from supervision_tui.store.csv_io import _measure as _native_measure  # the CSV import's row validator
from supervision_tui.store.csv_io import _read_bytes
from supervision_tui.store.csv_io import _Row as _NativeRow
from supervision_tui.store.sanitize import code_shown
from supervision_tui.wording import count

__all__ = ["FhirImport", "read_fhir", "LOINC", "parse_code", "FHIR_SUFFIXES", "LIBRARY_SAMPLE"]

LOINC = "http://loinc.org"
PHQ9_TOTAL, PHQ9_ITEM9, GAD7_TOTAL = "44261-6", "44260-8", "70274-6"
PHQ9_ITEMS = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")
GAD7_ITEMS = ("69725-0", "68509-5", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
ITEMS = {"PHQ-9": PHQ9_ITEMS, "GAD-7": GAD7_ITEMS}
TOTAL_ITEM = {PHQ9_TOTAL: "PHQ-9", GAD7_TOTAL: "GAD-7"}
ITEM_OF = {code: inst for inst, codes in ITEMS.items() for code in codes}
ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}

FHIR_SUFFIXES = (".json", ".ndjson", ".jsonl")
LIBRARY_SAMPLE = 100  # resources of each type per file checked with fhir.resources
MAX_NOTICES = 10

ENCOUNTER_ATTENDANCE = {
    "finished": "attended", "in-progress": "attended", "arrived": "attended", "triaged": "attended",
    "onleave": "attended", "cancelled": "cancelled",
}
ENCOUNTER_NOTICE = {"planned": "not a session yet", "unknown": "attendance unknown"}
OBS_READ = ("final", "amended", "corrected")
OBS_NOTICE = ("preliminary", "registered", "cancelled", "unknown")
QR_READ = ("completed", "amended")
QR_NOTICE = ("in-progress", "stopped")
APPOINTMENT_STATUSES = ("proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                        "entered-in-error", "checked-in", "waitlist")

# R4 and R4B resource types (anything else is not a FHIR resource)
RESOURCE_TYPES = frozenset("""
Account ActivityDefinition AdministrableProductDefinition AdverseEvent AllergyIntolerance Appointment
AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Citation Claim ClaimResponse ClinicalImpression
ClinicalUseDefinition CodeSystem Communication CommunicationRequest CompartmentDefinition Composition ConceptMap
Condition Consent Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device
DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference
EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition
Evidence EvidenceReport EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization ImmunizationEvaluation
ImmunizationRecommendation ImplementationGuide Ingredient InsurancePlan Invoice Library Linkage List Location
ManufacturedItemDefinition Measure MeasureReport Media Medication MedicationAdministration MedicationDispense
MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct MedicinalProductAuthorization
MedicinalProductContraindication MedicinalProductDefinition MedicinalProductIndication MedicinalProductIngredient
MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical
MedicinalProductUndesirableEffect MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder
NutritionProduct Observation ObservationDefinition OperationDefinition OperationOutcome Organization
OrganizationAffiliation PackagedProductDefinition Parameters Patient PaymentNotice PaymentReconciliation Person
PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse
RegulatedAuthorization RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy
ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
SpecimenDefinition StructureDefinition StructureMap Subscription SubscriptionStatus SubscriptionTopic Substance
SubstanceDefinition SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task TerminologyCapabilities
TestReport TestScript ValueSet VerificationResult VisionPrescription
""".split())

# the parts of a Patient this module may look at; everything else is dropped on reading
PATIENT_KEPT = ("resourceType", "id", "meta", "identifier")

DATETIME_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?", re.ASCII)
SAFE_TEXT_RE = re.compile(r"[A-Za-z0-9._:/|#+\-]{1,64}", re.ASCII)  # codes, ids, references, dates

# identifiers that are a person's national number, never a client code by default (see _looks_national)
NATIONAL_TOKENS = ("ssn", "bsn", "nir", "insee", "nino", "nhs-number", "social-security", "us-ssn", "national-id")
NATIONAL_PREFIXES = ("national", "passport", "driver", "socialsecurity", "nhsnumber")
NATIONAL_OIDS = ("2.16.840.1.113883.4.1",  # US social security number
                 "2.16.840.1.113883.2.1.4.1",  # UK NHS number
                 "2.16.840.1.113883.2.4.6.3",  # Dutch citizen service number (BSN)
                 "1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10")  # French INS (NIR, NIA)
NATIONAL_OID_ARCS = ("2.16.840.1.113883.4.3.", "2.16.840.1.113883.4.330.")  # US driver's licences, passports
# HL7 v2 table 0203 identifier types: social security, national, passport, driver's licence, national health
# plan, jurisdictional health number, tax, citizenship card; NNxxx is a country's national person identifier
NATIONAL_TYPES = ("SS", "NI", "PPN", "DL", "NH", "JHN", "TAX", "CZ")
NATIONAL_WHAT = "a social security, national, health service, passport or driver's licence number"


# --- positions and errors --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """Where a resource came from: file, entry and ``Resource/id``."""

    file: str
    entry: int | str  # NDJSON line, 1 for a single resource, or "entry[3]"
    order: tuple  # sort key: (file index, position)
    label: str  # "Observation/o1" ("" for the file itself)

    def text(self) -> str:
        return f"{self.file}:{self.entry}" + (f": {self.label}" if self.label else "")


def _pos(where: Where) -> str:
    """``entry[3]: Observation/o1``: the LINE part of a CSV-style origin
    (``csv_io._fmt`` prints ``FILE:LINE: column: …``) for the database's
    cross-checks against rows already stored."""
    return f"{where.entry}: {where.label}" if where.label else str(where.entry)


def _got(value: Any) -> str:
    if value is None or value == "":
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = str(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= 40 else text[:39] + "…"


def _hidden(value: Any) -> str:
    """A description of a value that must not be shown (it may identify a person)."""
    if isinstance(value, str):
        return f"{len(value)} characters, not shown"
    return _got(value) if isinstance(value, (int, float, bool, type(None))) else "a value, not shown"


class _Errors:
    """Error lines with a sort key; an identical line is kept once."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple, str]] = []
        self._seen: set[str] = set()

    def add(self, where: Where, fld: str, what: str, value: Any = None, *, shown: str | None = None) -> None:
        got = shown if shown is not None else _got(value)
        self.line((where.order, len(self.items)), f"{where.text()}: {fld}: {what} (got {got})")

    def file(self, where: Where, what: str) -> None:
        self.line((where.order, len(self.items)), f"{where.file}:{where.entry}: file: {what}")

    def line(self, key: tuple, text: str) -> None:
        if text not in self._seen:
            self._seen.add(text)
            self.items.append((key, text))

    def lines(self) -> list[str]:
        return [line for _k, line in sorted(self.items, key=lambda kv: kv[0])]

    def __bool__(self) -> bool:
        return bool(self.items)


class _Bad(Exception):
    """One problem with one field of the resource being read."""

    def __init__(self, fld: str, what: str, value: Any = None, shown: str | None = None):
        super().__init__(what)
        self.fld, self.what, self.value, self.shown = fld, what, value, shown


# --- small readers of FHIR JSON (raise _Bad) -----------------------------------------------


def _str(obj: dict, key: str, fld: str | None = None, required: bool = True) -> str | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise _Bad(fld or key, "missing")
        return None
    if not isinstance(v, str) or not v.strip():
        raise _Bad(fld or key, "must be a non-empty string", v if not isinstance(v, str) else v)
    return v.strip()


def _list(obj: dict, key: str, fld: str | None = None) -> list:
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise _Bad(fld or key, "must be an array", v)
    return v


def _obj(v: Any, fld: str) -> dict:
    if not isinstance(v, dict):
        raise _Bad(fld, "must be an object", v)
    return v


def _reference(obj: dict, key: str, required: bool = True) -> str | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise _Bad(key, "missing")
        return None
    v = _obj(v, key)
    ref = v.get("reference")
    if ref is None:
        if "identifier" in v:
            raise _Bad(f"{key}.reference", "missing: a reference by identifier only is not supported")
        raise _Bad(f"{key}.reference", "missing")
    if not isinstance(ref, str) or not ref.strip():
        raise _Bad(f"{key}.reference", "must be a non-empty string", ref)
    return sys.intern(ref.strip())  # one copy of "Patient/p1" for all of its resources


def _when(text: Any, fld: str) -> tuple[date, tuple]:
    """A FHIR date or dateTime with at least a day: (the day as written, sort key)."""
    if not isinstance(text, str):
        raise _Bad(fld, "must be a date or dateTime", text)
    hit = _WHEN_CACHE.get(text)
    if hit is not None:
        return hit
    out = _parse_when(text, fld)
    if len(_WHEN_CACHE) > 100_000:
        _WHEN_CACHE.clear()
    _WHEN_CACHE[text] = out
    return out


_WHEN_CACHE: dict[str, tuple[date, tuple]] = {}  # a session's time stamp recurs in its encounter and measures


def _parse_when(text: str, fld: str) -> tuple[date, tuple]:
    m = DATETIME_RE.fullmatch(text.strip())
    if not m:
        raise _Bad(fld, "must be a FHIR date or dateTime (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)", text)
    y, mo, d, hh, mi, ss, tz = m.groups()
    if mo is None or d is None:
        raise _Bad(fld, "needs a day, not only a year or month", text)
    try:
        day = date(int(y), int(mo), int(d))
    except ValueError:
        raise _Bad(fld, "is not a calendar date", text) from None
    if hh is None:
        return day, (day, 0, 0.0)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(fld, "is not a valid time", text) from None
    if moment.tzinfo is not None:
        stamp = moment.astimezone(timezone.utc).replace(tzinfo=None).timestamp()
    else:
        stamp = moment.replace(tzinfo=timezone.utc).timestamp()
    return day, (day, 1, stamp)


def _number(v: Any, fld: str) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Bad(fld, "must be a number", v)
    return v


def _num_text(x: int | float) -> str:
    if isinstance(x, int):
        return str(x)
    if x != x or x in (float("inf"), float("-inf")):
        return repr(x)
    return format(Decimal(repr(x)).normalize(), "f") if "e" in repr(x) else repr(x)


def _codings(concept: Any, fld: str) -> list[tuple[str, str]]:
    if concept is None:
        return []
    concept = _obj(concept, fld)
    out = []
    for i, c in enumerate(_list(concept, "coding", f"{fld}.coding")):
        c = _obj(c, f"{fld}.coding[{i}]")
        system, code = c.get("system"), c.get("code")
        if isinstance(system, str) and isinstance(code, str):
            out.append((system.strip(), code.strip()))
    return out


def parse_code(text: str) -> tuple[str, str] | None:
    """``"SYSTEM|CODE"`` as (system, code); None when not of that shape."""
    if not isinstance(text, str) or text.count("|") != 1:
        return None
    system, code = (p.strip() for p in text.split("|"))
    if not system or not code:
        return None
    return system, code


# --- what each resource becomes (compact records) ------------------------------------------


@dataclass(slots=True)
class _Patient:
    where: Where
    code: str
    system: str | None
    national: bool = False  # the identifier looks like a national number (_looks_national)


@dataclass(slots=True)
class _Practitioner:
    where: Where
    ident: str


@dataclass(slots=True)
class _Encounter:
    where: Where
    subject: str
    status: str
    day: date
    key: tuple
    participants: tuple[str, ...]
    appointments: tuple[str, ...]


@dataclass(slots=True)
class _Appointment:
    where: Where
    patient: str
    practitioner: str | None
    day: date
    key: tuple


@dataclass(slots=True)
class _Measure:
    """An Observation or QuestionnaireResponse's contribution to a session."""

    where: Where
    subject: str
    encounter: str | None
    day: date | None
    day_field: str
    instrument: str
    total: int | float | None  # None: item 9 only
    risk: bool | None
    value_field: str
    item9: int | float | None = None  # PHQ-9 item 9's value, when this source gives it


@dataclass(slots=True)
class _Response:
    """A QuestionnaireResponse, its items resolved later (Questionnaires may come after it)."""

    where: Where
    subject: str
    encounter: str | None
    day: date | None
    questionnaire: str | None
    answers: list[tuple[str, str, list]]  # (linkId, field path, answers)


@dataclass(slots=True)
class _Session:
    client: str
    clinician: str
    day: date
    key: tuple
    attendance: str
    where: Where
    encounter: _Encounter | None = None
    number: int = 0
    measures: dict = field(default_factory=dict)  # instrument -> [total source, risk source]


# --- the import -------------------------------------------------------------------------


@dataclass
class FhirImport:
    """The validated content of FHIR files and what was done with each resource."""

    parsed: ParsedImport
    read: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # "entered-in-error Observation" -> n
    ignored: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)  # risk endorsements NOT imported: shown first, all of them
    duplicates: int = 0
    client_systems: dict[str, int] = field(default_factory=dict)
    national_systems: list[str] = field(default_factory=list)  # named with --client-system, look national
    fallback_clinicians: int = 0
    library_checked: int = 0
    sessions: int = 0

    def summary(self, max_notices: int = MAX_NOTICES) -> str:
        def listing(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {what}" for what, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

        lines = []
        if self.attention:
            n = len(self.attention)
            lines.append(f"Needs attention: {n} PHQ-9 item 9 risk endorsement{'s' if n != 1 else ''} NOT imported "
                         "(no flag is raised from them); check these records:")
            lines += [f"  {a}" for a in self.attention]
        lines.append(f"FHIR: read {listing(self.read) or 'nothing'}"
                     + (f"; {self.sessions} session{'s' if self.sessions != 1 else ''}" if self.sessions else "")
                     + ".")
        if self.skipped:
            lines.append(f"  skipped: {listing(self.skipped)}")
        if self.ignored:
            lines.append(f"  ignored (not used by this import): {listing(self.ignored)}")
        if self.duplicates:
            lines.append(f"  duplicates: {count(self.duplicates, 'resource')} given twice with the same content, read once")
        if self.client_systems:
            systems = ", ".join(f"{s or '(no system)'} ({n})" for s, n in sorted(self.client_systems.items()))
            lines.append(f"  client codes from Patient identifiers: {systems}")
        for system in self.national_systems:
            lines.append(f"  warning: {system} looks like {NATIONAL_WHAT}; it was named with --client-system, so "
                         "these numbers are the client codes in the database")
        if self.fallback_clinicians:
            lines.append(f"  clinicians: {count(self.fallback_clinicians, 'participant')} whose Practitioner is not in the "
                         "import got the reference's id as clinician id")
        if self.library_checked:
            lines.append(f"  checked with fhir.resources (FHIR R4B models): {count(self.library_checked, 'resource')}")
        if self.notices:
            lines.append("Notices:")
            lines += [f"  {n}" for n in self.notices[:max_notices]]
            if len(self.notices) > max_notices:
                lines.append(f"  ... and {len(self.notices) - max_notices} more")
        return "\n".join(lines)


def fhir_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files to read: files as given, folders searched (recursively,
    sorted) for ``.json``, ``.ndjson`` and ``.jsonl`` files."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in FHIR_SUFFIXES)
            if not found:
                raise UserError(f"{p}: no .json or .ndjson files in this folder")
            out += found
        else:
            if not p.exists():
                raise UserError(f"{p}: cannot read: no such file or folder")
            out.append(p)
    seen: set[Path] = set()
    unique = []
    for f in out:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(f)
    return unique


def read_fhir(paths: Sequence[str | os.PathLike[str]], client_system: str | None = None,
              clinician_system: str | None = None, codes: dict[str, Sequence[str]] | None = None,
              library_sample: int = LIBRARY_SAMPLE, existing: Any = None) -> FhirImport:
    """Read and validate FHIR files; see the module docstring.

    ``codes`` maps instrument ids to ``"SYSTEM|CODE"`` strings (the settings'
    ``[fhir.codes]``). ``library_sample``: resources of each type per file
    checked with fhir.resources (0: none; -1: all). ``existing``: the
    caseload already in the database the import goes into (its session
    numbers are kept, see ``_Reader._number``). Raises
    ``ValidationFailed`` listing every error, ``UserError`` when a path
    cannot be read.
    """
    files = fhir_files(paths)
    with gc_paused():
        known: dict[str, list[tuple[int, date]]] = {}
        if existing is not None:
            seen: set[tuple[str, int]] = set()
            for r in existing.ratings:
                if (r.client, r.session) not in seen:
                    seen.add((r.client, r.session))
                    known.setdefault(r.client, []).append((r.session, r.date))
        reader = _Reader(client_system, clinician_system, codes or {}, library_sample, known)
        for n, path in enumerate(files):
            reader.read_file(path, n)
        return reader.finish([str(f) for f in files])


class _Reader:
    def __init__(self, client_system: str | None, clinician_system: str | None,
                 codes: dict[str, Sequence[str]], library_sample: int,
                 existing: dict[str, list[tuple[int, date]]] | None = None):
        self.existing = existing or {}
        self.client_system = client_system
        self.clinician_system = clinician_system
        self.errors = _Errors()
        self.notices: list[tuple[tuple, str]] = []
        # skipped PHQ-9 item 9 endorsements: (where, subject and encounter references, day, value, why skipped)
        self.risk_skips: list[tuple[Where, str | None, str | None, date | None, int | float, str]] = []
        self.skipped_responses: list[tuple[_Response, str]] = []  # their item 9 is read in finish()
        self.read: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.ignored: dict[str, int] = {}
        self.duplicates = 0
        self.client_systems: dict[str, int] = {}
        self.library_sample = library_sample
        self.library_checked = 0
        self._sampled: dict[tuple[int, str], int] = {}
        self._validators: dict[str, Any] = {}
        # what the resources became
        self.patients: list[_Patient] = []
        self.practitioners: list[_Practitioner] = []
        self.encounters: list[_Encounter] = []
        self.appointments: list[_Appointment] = []
        self.measures: list[_Measure] = []
        self.responses: list[_Response] = []
        self.questionnaires: dict[str, dict[str, str]] = {}  # url, url|version, Questionnaire/id -> linkId -> code
        # references: "Type/id" and fullUrl -> the record
        self.by_key: dict[str, Any] = {}
        self.skipped_refs: dict[str, str] = {}  # "Encounter/x" -> why it was skipped
        self.failed: set[str] = set()  # resources with errors: references to them add no more errors
        self._seen: dict[str, tuple[Any, Where]] = {}
        self._quiet = False  # reading a second copy of a resource: count nothing
        # Observation codes: (system, code) -> (kind, instrument)
        self.codes: dict[tuple[str, str], tuple[str, str]] = {
            (LOINC, PHQ9_TOTAL): ("total", "PHQ-9"),
            (LOINC, GAD7_TOTAL): ("total", "GAD-7"),
            (LOINC, PHQ9_ITEM9): ("item9", "PHQ-9"),
        }
        for inst, values in codes.items():
            for text in ([values] if isinstance(values, str) else values):
                sc = parse_code(text)
                if sc is not None:
                    self.codes[sc] = ("total", inst)

    # -- counting -----------------------------------------------------------------------

    def _count(self, table: dict[str, int], what: str) -> None:
        if not self._quiet:
            table[what] = table.get(what, 0) + 1

    def _notice(self, where: Where, text: str) -> None:
        if not self._quiet:
            self.notices.append((where.order, f"{where.text()}: {text}"))

    # -- files --------------------------------------------------------------------------

    def read_file(self, path: Path, n: int) -> None:
        name = str(path)
        if path.suffix.lower() in (".ndjson", ".jsonl"):
            self._stream_ndjson(path, name, n)  # line by line: a Bulk Data file can be hundreds of MB
            return
        raw = _read_bytes(path)
        here = Where(name, 1, (n, 0), "")
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.errors.file(here, "is UTF-16 text; FHIR JSON must be UTF-8")
            return
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            self.errors.file(Where(name, line, (n, line), ""), f"is not UTF-8 text (byte 0x{raw[err.start]:02X})")
            return
        del raw
        if not text.strip():
            self.errors.file(here, "is empty: expected FHIR JSON (a Bundle, a resource or NDJSON lines)")
            return
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            first = text.lstrip().split("\n", 1)[0]
            if err.msg == "Extra data" and _one_json_object(first):
                self._read_ndjson(name, n, text)  # NDJSON under another name
                return
            where = Where(name, err.lineno, (n, err.lineno), "")
            self.errors.file(where, f"is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})")
            return
        except RecursionError:
            self.errors.file(here, "is not valid JSON (nested too deeply)")
            return
        del text
        self._take(doc, name, n, 1, (0,), None)

    def _stream_ndjson(self, path: Path, name: str, n: int) -> None:
        loads = json.loads
        anything = False
        try:
            fh = open(path, "rb")
        except OSError as err:
            raise UserError(f"{path}: cannot read: {err.strerror or err}") from None
        with fh:
            for lineno, raw in enumerate(fh, start=1):
                if lineno == 1:
                    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                        self.errors.file(Where(name, 1, (n, 1), ""), "is UTF-16 text; FHIR JSON must be UTF-8")
                        return
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                if not raw.strip():
                    continue
                anything = True
                where = Where(name, lineno, (n, lineno), "")
                try:
                    doc = loads(raw.rstrip(b"\r\n").decode("utf-8"))  # the line end would shift the column
                except UnicodeDecodeError as err:
                    self.errors.file(where, f"is not UTF-8 text (byte 0x{raw[err.start]:02X})")
                    continue
                except json.JSONDecodeError as err:
                    self.errors.file(where, f"line is not valid JSON ({err.msg} at column {err.colno}); NDJSON "
                                            "has one resource per line")
                    continue
                except RecursionError:
                    self.errors.file(where, "line is not valid JSON (nested too deeply)")
                    continue
                self._take(doc, name, n, lineno, (lineno,), None)
        if not anything:
            self.errors.file(Where(name, 1, (n, 0), ""), "is empty: expected FHIR JSON (a Bundle, a resource or "
                                                         "NDJSON lines)")

    def _read_ndjson(self, name: str, n: int, text: str) -> None:
        loads = json.loads
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                doc = loads(line.rstrip("\r"))
            except json.JSONDecodeError as err:
                self.errors.file(Where(name, lineno, (n, lineno), ""),
                                 f"line is not valid JSON ({err.msg} at column {err.colno}); NDJSON has one "
                                 "resource per line")
                continue
            except RecursionError:
                self.errors.file(Where(name, lineno, (n, lineno), ""), "line is not valid JSON (nested too deeply)")
                continue
            self._take(doc, name, n, lineno, (lineno,), None)

    # -- resources ----------------------------------------------------------------------

    def _take(self, doc: Any, name: str, n: int, entry: int | str, pos: tuple, full_url: str | None) -> None:
        if not isinstance(doc, dict):
            kind = "an array" if isinstance(doc, list) else type(doc).__name__
            self.errors.file(Where(name, entry, (n, *pos), ""),
                             f"holds {kind}, not a FHIR resource (a JSON object with a resourceType)")
            return
        rtype = doc.get("resourceType")
        rid = doc.get("id")
        rid = rid.strip() if isinstance(rid, str) and rid.strip() else None
        label = f"{rtype}/{rid or '(no id)'}" if isinstance(rtype, str) and rtype else ""
        where = Where(name, entry, (n, *pos), label)
        if not isinstance(rtype, str) or not rtype:
            self.errors.add(where, "resourceType", "missing: this is not a FHIR resource", rtype)
            return
        if rtype not in RESOURCE_TYPES:
            hint = next((t for t in RESOURCE_TYPES if t.lower() == rtype.lower()), None)
            self.errors.add(where, "resourceType", "not a FHIR R4 resource type"
                            + (f" (it is spelled {hint})" if hint else ""),
                            shown=rtype if SAFE_TEXT_RE.fullmatch(rtype) else _hidden(rtype))
            return
        if rtype == "Bundle":
            self._bundle(doc, name, n, entry, pos, where)
            return
        key = f"{rtype}/{rid}" if rid else None
        again = key is not None and key in self._seen  # a second copy: counted once, compared below
        handler = _HANDLERS.get(rtype)
        if handler is None:
            if again:
                self.duplicates += 1
            else:
                self._count(self.ignored, rtype)
                if key is not None:
                    self._seen[key] = (None, where)
            return
        if rtype == "Patient":
            doc = {k: doc[k] for k in PATIENT_KEPT if k in doc}  # privacy: drop everything else now
        self._quiet = again
        try:
            record = handler(self, doc, where)
        except _Bad as bad:
            self.errors.add(where, bad.fld, bad.what, bad.value, shown=bad.shown)
            if rid:
                self.failed.add(f"{rtype}/{rid}")
            if full_url:
                self.failed.add(full_url)
            return
        finally:
            self._quiet = False
        if record is not None and not isinstance(record, _Skip) and not again:
            self._library_check(doc, rtype, where, n)
        self._register(key, full_url, record, where)

    def _bundle(self, doc: dict, name: str, n: int, entry: int | str, pos: tuple, where: Where) -> None:
        entries = doc.get("entry", [])
        if not isinstance(entries, list):
            self.errors.add(where, "entry", "must be an array", entries)
            return
        prefix = "" if isinstance(entry, int) else f"{entry}/"
        for i, e in enumerate(entries):
            label = f"{prefix}entry[{i}]"
            if not isinstance(e, dict):
                self.errors.file(Where(name, label, (n, *pos, i), ""), "a Bundle entry must be an object")
                continue
            resource = e.get("resource")
            if resource is None:
                self._count(self.ignored, "Bundle entry without a resource")
                continue
            full_url = e.get("fullUrl")
            full_url = full_url.strip() if isinstance(full_url, str) and full_url.strip() else None
            self._take(resource, name, n, label, (*pos, i), full_url)

    def _register(self, key: str | None, full_url: str | None, record: Any, where: Where) -> None:
        """Keep the record, once per resource (type and id)."""
        if key is not None:
            seen = self._seen.get(key)
            if seen is not None:
                prev, prev_where = seen
                if _same_record(prev, record):
                    self.duplicates += 1
                    if full_url and full_url not in self.by_key and prev is not None:
                        self.by_key[full_url] = prev
                    return
                self.errors.add(where, "id", f"{key} is also in {prev_where.file} at {prev_where.entry} "
                                "with other content", key.split("/", 1)[1])
                return
            self._seen[key] = (record, where)
        if record is None:
            return
        rtype = where.label.split("/", 1)[0]
        if isinstance(record, _Skip):
            if key:
                self.skipped_refs[key] = record.why
            if full_url:
                self.skipped_refs[full_url] = record.why
            return
        if isinstance(record, _REFERENCED):  # Observations and responses are not referenced: not indexed
            if key:
                self.by_key[key] = record
            if full_url:
                self.by_key[full_url] = record
        lst = {_Patient: self.patients, _Practitioner: self.practitioners, _Encounter: self.encounters,
               _Appointment: self.appointments, _Measure: self.measures, _Response: self.responses}.get(type(record))
        if lst is not None:
            lst.append(record)
            self._count(self.read, _READ_LABEL.get(rtype, rtype))

    def _library_check(self, doc: dict, rtype: str, where: Where, n: int) -> None:
        """Check the resource with fhir.resources (a sample of each type per file)."""
        if self.library_sample == 0:
            return
        if self.library_sample > 0:
            k = (n, rtype)
            done = self._sampled.get(k, 0)
            if done >= self.library_sample:
                return
            self._sampled[k] = done + 1
        model = self._validators.get(rtype)
        if model is None:
            model = self._validators[rtype] = _library_model(rtype)
        self.library_checked += 1
        for fld, what, value in _library_problems(model, doc):
            self.errors.add(where, fld, f"not valid FHIR R4: {what}", shown=value)

    # -- handlers (return a record, a _Skip, or None when only counted) ---------------------

    def _status(self, doc: dict, rtype: str, read: Sequence[str], notice: Sequence[str]) -> tuple[str, bool]:
        """(status, skipped); a skipped resource is counted here, its notice is the caller's."""
        status = _str(doc, "status")
        if status == "entered-in-error":
            self._count(self.skipped, f"{rtype} entered-in-error")
            return status, True
        if status in notice:
            self._count(self.skipped, f"{rtype} {status}")
            return status, True
        if status in read:
            return status, False
        raise _Bad("status", f"not a status this import knows for {rtype}", status)

    def _skip_notice(self, where: Where, why: str, item9: Any = None, subject: str | None = None,
                     encounter: str | None = None, day: date | None = None) -> None:
        """The notice of a skipped measure; a PHQ-9 item 9 above 0 is a risk
        endorsement that is not imported: it goes to "Needs attention"."""
        if self._quiet:
            return
        if isinstance(item9, (int, float)) and not isinstance(item9, bool) and item9 > 0:
            self.risk_skips.append((where, subject, encounter, day, item9, why))
        else:
            self._notice(where, f"{why}: skipped")

    def patient(self, doc: dict, where: Where) -> _Patient:
        idents = _list(doc, "identifier")
        chosen = None
        for i, ident in enumerate(idents):
            ident = _obj(ident, f"identifier[{i}]")
            system = ident.get("system")
            value = ident.get("value")
            if self.client_system is not None and system != self.client_system:
                continue
            if isinstance(value, str) and value.strip():
                chosen = (i, system if isinstance(system, str) else None, value.strip(), ident)
                break
        if chosen is None:
            if self.client_system is not None:
                raise _Bad("identifier", f"no identifier with system {self.client_system} and a value "
                           "(--client-system)", shown="none")
            raise _Bad("identifier", "missing: a Patient needs an identifier to become a client code", shown="none")
        i, system, value, ident = chosen
        if not CODE_RE.fullmatch(value):
            raise _Bad(f"identifier[{i}].value", "cannot be a client code: it must be 1-32 characters of "
                       "A-Z a-z 0-9 . _ - (choose another identifier with --client-system)", shown=code_shown(value))
        return _Patient(where, value, system, _looks_national(system, ident))

    def practitioner(self, doc: dict, where: Where) -> _Practitioner:
        idents = _list(doc, "identifier")
        for i, ident in enumerate(idents):
            ident = _obj(ident, f"identifier[{i}]")
            if self.clinician_system is not None and ident.get("system") != self.clinician_system:
                continue
            value = ident.get("value")
            if isinstance(value, str) and value.strip():
                value = value.strip()
                if not CODE_RE.fullmatch(value):
                    raise _Bad(f"identifier[{i}].value", "cannot be a clinician id: it must be 1-32 characters "
                               "of A-Z a-z 0-9 . _ - (choose another identifier with --clinician-system)",
                               shown=code_shown(value))
                return _Practitioner(where, value)
        if self.clinician_system is not None:
            raise _Bad("identifier", f"no identifier with system {self.clinician_system} and a value "
                       "(--clinician-system)", shown="none")
        raise _Bad("identifier", "missing: a Practitioner needs an identifier to become a clinician id", shown="none")

    def encounter(self, doc: dict, where: Where) -> Any:
        status = _str(doc, "status")
        if status == "entered-in-error":
            self._count(self.skipped, "Encounter entered-in-error")
            return _Skip("entered-in-error")
        if status in ENCOUNTER_NOTICE:
            self._count(self.skipped, f"Encounter {status}")
            self._notice(where, f"status {status} ({ENCOUNTER_NOTICE[status]}): skipped")
            return _Skip(status)
        if status not in ENCOUNTER_ATTENDANCE:
            hint = " (an R5 status: export FHIR R4)" if status == "completed" else ""
            raise _Bad("status", f"not an R4 Encounter status{hint}", status)
        subject = _reference(doc, "subject")
        period = doc.get("period")
        if period is None:
            if "actualPeriod" in doc:
                raise _Bad("period.start", "missing (this looks like FHIR R5, which has actualPeriod: export R4)")
            raise _Bad("period.start", "missing: the session's day comes from it")
        period = _obj(period, "period")
        if period.get("start") is None:
            raise _Bad("period.start", "missing: the session's day comes from it")
        day, key = _when(period.get("start"), "period.start")
        participants = []
        for i, p in enumerate(_list(doc, "participant")):
            p = _obj(p, f"participant[{i}]")
            ind = p.get("individual")
            if ind is None:
                continue
            ind = _obj(ind, f"participant[{i}].individual")
            ref = ind.get("reference")
            if isinstance(ref, str) and ref.strip():
                participants.append(ref.strip())
        appointments = []
        for i, a in enumerate(_list(doc, "appointment")):
            a = _obj(a, f"appointment[{i}]")
            ref = a.get("reference")
            if isinstance(ref, str) and ref.strip():
                appointments.append(ref.strip())
        return _Encounter(where, subject, status, day, (*key, where.label), tuple(participants), tuple(appointments))

    def appointment(self, doc: dict, where: Where) -> Any:
        status = _str(doc, "status")
        if status == "entered-in-error":
            self._count(self.skipped, "Appointment entered-in-error")
            return _Skip("entered-in-error")
        if status not in APPOINTMENT_STATUSES:
            raise _Bad("status", "not an R4 Appointment status", status)
        if status != "noshow":
            self._count(self.ignored, f"Appointment {status}")
            return None
        patient = practitioner = None
        for i, p in enumerate(_list(doc, "participant")):
            p = _obj(p, f"participant[{i}]")
            actor = p.get("actor")
            if actor is None:
                continue
            ref = _obj(actor, f"participant[{i}].actor").get("reference")
            if not isinstance(ref, str):
                continue
            kind = _ref_type(ref)
            if kind == "Patient" and patient is None:
                patient = ref.strip()
            elif kind == "Practitioner" and practitioner is None:
                practitioner = ref.strip()
        if patient is None:
            raise _Bad("participant", "no participant.actor is a Patient", shown="none")
        if doc.get("start") is None:
            raise _Bad("start", "missing: the no-show's day comes from it")
        day, key = _when(doc.get("start"), "start")
        return _Appointment(where, patient, practitioner, day, (*key, where.label))

    def observation(self, doc: dict, where: Where) -> Any:
        kinds = [self.codes[c] for c in _codings(doc.get("code"), "code") if c in self.codes]
        if not kinds:
            self._count(self.ignored, "Observation (other codes)")
            return None
        kind, instrument = kinds[0]
        status, skipped = self._status(doc, "Observation", OBS_READ, OBS_NOTICE)
        if skipped:
            if status != "entered-in-error":
                self._skip_notice(where, f"status {status}", *self._peek_item9(doc, kind))
            return _Skip("skipped")
        subject = _reference(doc, "subject")
        encounter = _reference(doc, "encounter", required=False)
        day, day_field = None, "effectiveDateTime"
        for key in ("effectiveDateTime", "effectiveInstant"):
            if doc.get(key) is not None:
                day, _k = _when(doc[key], key)
                day_field = key
                break
        else:
            if doc.get("effectivePeriod") is not None:
                per = _obj(doc["effectivePeriod"], "effectivePeriod")
                if per.get("start") is not None:
                    day, _k = _when(per["start"], "effectivePeriod.start")
                    day_field = "effectivePeriod.start"
        value, value_field = self._obs_value(doc, kind)
        if value is None:
            self._count(self.skipped, "Observation without a value")
            self._skip_notice(where, "no value (dataAbsentReason)")  # no value: no endorsement to lose
            return _Skip("no value")
        if kind == "item9":
            if not (0 <= value <= 3) or float(value) != int(value):
                raise _Bad(value_field, "PHQ-9 item 9 must be 0, 1, 2 or 3", value)
            return _Measure(where, subject, encounter, day, day_field, instrument, None, value > 0, value_field,
                            value)
        return _Measure(where, subject, encounter, day, day_field, instrument, value, None, value_field)

    def _peek_item9(self, doc: dict, kind: str) -> tuple[Any, str | None, str | None, date | None]:
        """A skipped item 9's value, subject, encounter and day, as far as
        they can be read (a skipped resource's faults are not errors)."""
        if kind != "item9":
            return None, None, None, None
        try:
            value, _f = self._obs_value(doc, kind)
        except _Bad:
            return None, None, None, None
        subject, encounter, day = _peek_ref(doc, "subject"), _peek_ref(doc, "encounter"), None
        for key in ("effectiveDateTime", "effectiveInstant"):
            try:
                if doc.get(key) is not None:
                    day = _when(doc[key], key)[0]
                    break
            except _Bad:
                pass
        return value, subject, encounter, day

    def _obs_value(self, doc: dict, kind: str) -> tuple[int | float | None, str]:
        if "valueInteger" in doc:
            v = doc["valueInteger"]
            if isinstance(v, bool) or not isinstance(v, int):
                raise _Bad("valueInteger", "must be an integer", v)
            return v, "valueInteger"
        if "valueQuantity" in doc:
            q = _obj(doc["valueQuantity"], "valueQuantity")
            comparator = q.get("comparator")
            if comparator is not None:
                raise _Bad("valueQuantity.comparator", "a bound is not a score: the value must be exact (no "
                           "comparator)", shown=comparator if comparator in ("<", "<=", ">=", ">")
                           else _hidden(comparator))
            if q.get("value") is None:
                raise _Bad("valueQuantity.value", "missing")
            return _number(q["value"], "valueQuantity.value"), "valueQuantity.value"
        if kind == "item9" and "valueCodeableConcept" in doc:
            for system, code in _codings(doc["valueCodeableConcept"], "valueCodeableConcept"):
                if system == LOINC and code in ANSWERS:
                    return ANSWERS[code], "valueCodeableConcept"
            raise _Bad("valueCodeableConcept", "must be a LOINC answer LA6568-5, LA6569-3, LA6570-1 or LA6571-9",
                       shown="no such coding")
        if "dataAbsentReason" in doc:
            return None, ""
        other = next((k for k in doc if k.startswith("value")), None)
        if other is not None:
            raise _Bad(other, "a score must be valueInteger or valueQuantity.value", shown=f"{other}, not shown")
        raise _Bad("value[x]", "missing: valueInteger or valueQuantity.value", shown="none")

    def questionnaire_response(self, doc: dict, where: Where) -> Any:
        status, skipped = self._status(doc, "QuestionnaireResponse", QR_READ, QR_NOTICE)
        if skipped:
            if status != "entered-in-error" and not self._quiet:
                # its item 9 is read in finish(), when every Questionnaire is known
                self.skipped_responses.append((_peek_response(doc, where), f"status {status}"))
            return _Skip("skipped")
        subject = _reference(doc, "subject")
        encounter = _reference(doc, "encounter", required=False)
        day = None
        if doc.get("authored") is not None:
            day, _k = _when(doc["authored"], "authored")
        q = doc.get("questionnaire")
        q = q.strip() if isinstance(q, str) and q.strip() else None
        answers: list[tuple[str, str, list]] = []
        _flatten(_list(doc, "item"), "item", answers)
        return _Response(where, subject, encounter, day, q, answers)

    def questionnaire(self, doc: dict, where: Where) -> None:
        codes: dict[str, str] = {}
        _questionnaire_codes(_list(doc, "item"), codes)
        keys = []
        rid = doc.get("id")
        if isinstance(rid, str) and rid.strip():
            keys.append(f"Questionnaire/{rid.strip()}")
        url = doc.get("url")
        if isinstance(url, str) and url.strip():
            keys.append(url.strip())
            version = doc.get("version")
            if isinstance(version, str) and version.strip():
                keys.append(f"{url.strip()}|{version.strip()}")
        for k in keys:
            self.questionnaires[k] = codes
        self._count(self.read, "Questionnaire")
        return None

    # -- resolution ---------------------------------------------------------------------------

    def _resolve(self, ref: str, rtype: str) -> Any:
        hit = self.by_key.get(ref)
        if hit is not None:
            return hit
        parts = ref.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) >= 2:
            return self.by_key.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def _skipped_why(self, ref: str) -> str | None:
        why = self.skipped_refs.get(ref)
        if why is not None:
            return why
        parts = ref.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        return self.skipped_refs.get("/".join(parts[-2:])) if len(parts) >= 2 else None

    def _failed(self, ref: str) -> bool:
        """The referenced resource had errors of its own (already reported)."""
        if ref in self.failed:
            return True
        parts = ref.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        return len(parts) >= 2 and "/".join(parts[-2:]) in self.failed

    def _patient_code(self, ref: str, where: Where, fld: str) -> str | None:
        if self._failed(ref):
            return None
        if ref.startswith("#"):
            self.errors.add(where, fld, "a contained Patient cannot be a client", ref)
            return None
        kind = _ref_type(ref)
        if kind is not None and kind != "Patient":
            self.errors.add(where, fld, "must reference a Patient", ref)
            return None
        p = self._resolve(ref, "Patient")
        if not isinstance(p, _Patient):
            self.errors.add(where, fld, "reference to a Patient that is not in the import", ref)
            return None
        return p.code

    def _check_client_systems(self) -> list[str]:
        """Without --client-system, the client codes must come from one system
        that is not a national number; returns the systems named with
        --client-system that look national (for the summary's warning)."""
        by_system: dict[str, list[_Patient]] = {}
        for p in self.patients:
            by_system.setdefault(p.system or "", []).append(p)
        national = {s for s, ps in by_system.items() if any(p.national for p in ps)}
        if self.client_system is not None:
            return sorted(national)

        def counted(system: str, ps: list[_Patient], marked: bool = True) -> str:
            mark = "; looks like a national number" if marked and system in national else ""
            return (f"{system or '(no system)'} ({len(ps)} Patient{'s' if len(ps) != 1 else ''}, e.g. "
                    f"{ps[0].where.label}{mark})")

        if len(by_system) > 1:
            listing = ", ".join(counted(s, ps) for s, ps in sorted(by_system.items(),
                                                                    key=lambda kv: (-len(kv[1]), kv[0])))
            self.errors.line(((-1,), 0), f"--client-system: missing, and the Patients' first identifiers come from "
                             f"{len(by_system)} systems: {listing}; give the system of your client codes with "
                             "--client-system (codes are not taken from a mix of identifier systems)")
        elif national:
            system = next(iter(national))
            self.errors.line(((-1,), 0), f"--client-system: missing, and the Patients' first identifiers are "
                             f"{counted(system, by_system[system], False)}, which looks like {NATIONAL_WHAT}: give the "
                             "system of your client codes with --client-system (name this system with "
                             "--client-system only if it really is to be the client code)")
        return []

    def finish(self, files: list[str]) -> FhirImport:
        # patients: one code each, from one identifier system
        national_systems = self._check_client_systems()
        codes: dict[str, _Patient] = {}
        for p in self.patients:
            prev = codes.get(p.code)
            if prev is not None:
                self.errors.add(p.where, "identifier", f"client code already used by {prev.where.label} "
                                f"({prev.where.file} at {prev.where.entry})", p.code)
            else:
                codes[p.code] = p
            self._count(self.client_systems, p.system or "")
        # skipped measures: a PHQ-9 item 9 above 0 among them is a risk endorsement the import leaves out
        for r, why in self.skipped_responses:
            self._skipped_response_notice(r, why)
        fallback = 0
        # sessions from encounters
        sessions: dict[str, list[_Session]] = {}
        enc_session: dict[int, _Session] = {}
        for e in self.encounters:
            client = self._patient_code(e.subject, e.where, "subject")
            clinician = None
            for ref in e.participants:
                if _ref_type(ref) != "Practitioner":
                    continue
                if self._failed(ref):
                    clinician = ""  # the Practitioner's own error is reported
                    break
                pr = self._resolve(ref, "Practitioner")
                if isinstance(pr, _Practitioner):
                    clinician = pr.ident
                else:
                    rid = ref.split("/")[-1]
                    if not CODE_RE.fullmatch(rid):
                        self.errors.add(e.where, "participant.individual", "the Practitioner is not in the import "
                                        "and its id cannot be a clinician id", ref)
                        clinician = ""
                        break
                    clinician = rid
                    fallback += 1
                break
            if clinician is None:
                self.errors.add(e.where, "participant.individual", "no participant is a Practitioner: the "
                                "session needs a clinician", shown="none")
                continue
            if client is None or not clinician:
                continue
            s = _Session(client, clinician, e.day, e.key, ENCOUNTER_ATTENDANCE[e.status], e.where, e)
            sessions.setdefault(client, []).append(s)
            enc_session[id(e)] = s
        # no-show appointments
        for a in self.appointments:
            client = self._patient_code(a.patient, a.where, "participant.actor")
            if client is None:
                continue
            same_day = [s for s in sessions.get(client, ()) if s.day == a.day and s.encounter is not None]
            linked = [s for s in same_day if any(self._resolve(r, "Appointment") is a
                                                 for r in s.encounter.appointments)]  # type: ignore[union-attr]
            if linked:
                s = linked[0]
                if s.attendance == "attended":
                    self.errors.add(s.where, "status", f"the encounter is {s.encounter.status} but its "  # type: ignore[union-attr]
                                    f"{a.where.label} is a no-show", s.encounter.status)  # type: ignore[union-attr]
                    continue
                s.attendance = "no_show"
                continue
            cancelled = [s for s in same_day if s.attendance == "cancelled"]
            if cancelled:
                cancelled[0].attendance = "no_show"
                continue
            clinician = None
            if a.practitioner is not None:
                pr = self._resolve(a.practitioner, "Practitioner")
                if isinstance(pr, _Practitioner):
                    clinician = pr.ident
                else:
                    rid = a.practitioner.split("/")[-1]
                    if CODE_RE.fullmatch(rid):
                        clinician = rid
                        fallback += 1
            if clinician is None:
                self.errors.add(a.where, "participant.actor", "no Practitioner participant: the no-show needs a "
                                "clinician", shown="none")
                continue
            sessions.setdefault(client, []).append(_Session(client, clinician, a.day, a.key, "no_show", a.where))
        # numbering: by day, then time, then id; continuing the sessions already in the database
        by_day: dict[tuple[str, date], list[_Session]] = {}
        for client, lst in sessions.items():
            lst.sort(key=lambda s: s.key)
            self._number(client, lst)
            for s in lst:
                by_day.setdefault((client, s.day), []).append(s)
        # questionnaire responses become measures
        for r in self.responses:
            self._response_measures(r)
        # measures into sessions, in file order (the first source of a value is the one others must match)
        self.measures.sort(key=lambda m: m.where.order)
        for m in self.measures:
            client = self._patient_code(m.subject, m.where, "subject")
            if client is None:
                continue
            s = self._session_of(m, client, enc_session, by_day)
            if s is None:
                continue
            slot = s.measures.setdefault(m.instrument, [None, None])
            if m.total is not None:
                prev = slot[0]
                if prev is None:
                    slot[0] = m
                elif prev.total != m.total:
                    self.errors.add(m.where, m.value_field, f"{m.instrument} of session {s.number} of {client} is "
                                    f"{_num_text(prev.total)} in {prev.where.label} ({prev.where.file} at "
                                    f"{prev.where.entry})", m.total)
            if m.risk is not None:
                prev = slot[1]
                if prev is None:
                    slot[1] = m
                elif prev.risk != m.risk:
                    self.errors.add(m.where, m.value_field, f"PHQ-9 item 9 of session {s.number} of {client} "
                                    f"says risk {'yes' if prev.risk else 'no'} in {prev.where.label}",
                                    "risk yes" if m.risk else "risk no")
        attention = self._attention(enc_session)
        parsed = ParsedImport(files=files)
        adapter = _RowErrors(self.errors)
        for client in sorted(sessions):
            for s in sessions[client]:
                self._rows(s, parsed, adapter)
        if self.errors:
            raise ValidationFailed(self.errors.lines())
        n_sessions = sum(len(v) for v in sessions.values())
        return FhirImport(parsed=parsed, read=self.read, skipped=self.skipped, ignored=self.ignored,
                          notices=[t for _k, t in sorted(self.notices, key=lambda kv: kv[0])],
                          attention=attention, national_systems=national_systems,
                          duplicates=self.duplicates, client_systems=self.client_systems,
                          fallback_clinicians=fallback, library_checked=self.library_checked, sessions=n_sessions)

    def _attention(self, enc_session: dict[int, _Session]) -> list[str]:
        """The skipped risk endorsements, each with its client and session
        (or day) where the references give them."""
        out = []
        for where, subject, encounter, day, value, why in sorted(self.risk_skips, key=lambda t: t[0].order):
            p = self._resolve(subject, "Patient") if subject else None
            e = self._resolve(encounter, "Encounter") if encounter else None
            s = enc_session.get(id(e)) if isinstance(e, _Encounter) else None
            of = f" of {p.code}" if isinstance(p, _Patient) else ""
            if s is not None and isinstance(p, _Patient) and s.client == p.code:
                of += f" at session {s.number} ({s.day.isoformat()})"
            elif day is not None:
                of += f" on {day.isoformat()}"
            out.append(f"{where.text()}: PHQ-9 item 9 = {_num_text(value)} (risk endorsed){of} not imported: "
                       f"{why}; check the record")
        return out

    def _number(self, client: str, lst: list[_Session]) -> None:
        """Session numbers 1, 2, … in order; a client already in the database
        keeps its numbers: a session on a day the database has takes that
        day's number (in order), a later one continues after the last."""
        known = self.existing.get(client)
        if not known:
            for i, s in enumerate(lst, start=1):
                s.number = i
            return
        numbers_of: dict[date, list[int]] = {}
        for number, day in sorted(known):
            numbers_of.setdefault(day, []).append(number)
        last_number, last_day = max(known)[0], max(day for _n, day in known)
        for s in lst:
            free = numbers_of.get(s.day)
            if free:
                s.number = free.pop(0)
            elif s.day >= last_day:
                last_number += 1
                s.number = last_number
            else:
                before = max(((n, d) for n, d in known if d < s.day), default=None)
                after = min(((n, d) for n, d in known if d > s.day), default=None)
                between = " and ".join(f"s{x[0]} on {x[1].isoformat()}" for x in (before, after) if x is not None)
                fld = "period.start" if s.encounter is not None else "start"
                self.errors.add(s.where, fld, f"a session of {client} between sessions already in the database "
                                f"({between}): session numbers cannot be inserted; import the whole history "
                                "into a new database", s.day.isoformat())
                s.number = 0

    def _session_of(self, m: _Measure, client: str, enc_session: dict[int, _Session],
                    by_day: dict[tuple[str, date], list[_Session]]) -> _Session | None:
        if m.encounter is not None:
            e = self._resolve(m.encounter, "Encounter")
            if not isinstance(e, _Encounter):
                if self._failed(m.encounter):
                    return None
                why = self._skipped_why(m.encounter)
                if why is not None:
                    self.errors.add(m.where, "encounter", f"the Encounter was skipped ({why})", m.encounter)
                elif _ref_type(m.encounter) not in (None, "Encounter"):
                    self.errors.add(m.where, "encounter", "must reference an Encounter", m.encounter)
                else:
                    self.errors.add(m.where, "encounter", "reference to an Encounter that is not in the import",
                                    m.encounter)
                return None
            s = enc_session.get(id(e))
            if s is None:
                return None  # the encounter's own error is reported
            if s.client != client:
                self.errors.add(m.where, "encounter", f"the Encounter is of another patient ({s.client}, not "
                                f"{client})", m.encounter)
                return None
            return s
        if m.day is None:
            self.errors.add(m.where, m.day_field if m.day_field != "effectiveDateTime" else "effective[x]",
                            "missing: without an encounter the session is found by its day", shown="none")
            return None
        found = by_day.get((client, m.day), [])
        if len(found) > 1:  # a no-show slot and a session the same day: the measure is the session's
            found = [s for s in found if s.attendance == "attended"] or found
        if len(found) == 1:
            return found[0]
        if not found:
            self.errors.add(m.where, m.day_field, f"no encounter of {client} on that day and no encounter "
                            "reference", m.day.isoformat())
        else:
            self.errors.add(m.where, m.day_field, f"{len(found)} encounters of {client} on that day: give the "
                            "encounter reference", m.day.isoformat())
        return None

    def _item_codes(self, r: _Response) -> dict[str, str]:
        """linkId -> item code from the response's Questionnaire, when it is in the import."""
        qcodes = self.questionnaires.get(r.questionnaire or "", {})
        if not qcodes and r.questionnaire and "/" in r.questionnaire:
            tail = r.questionnaire.split("|")[0]
            qcodes = self.questionnaires.get(tail, {}) or self.questionnaires.get(
                "Questionnaire/" + tail.rstrip("/").split("/")[-1], {})
        return qcodes

    def _skipped_response_notice(self, r: _Response, why: str) -> None:
        """A skipped QuestionnaireResponse: its notice, in "Needs attention"
        when it answers PHQ-9 item 9 above 0."""
        qcodes = self._item_codes(r)
        item9 = None
        for link_id, _path, answers in r.answers:
            if (qcodes.get(link_id) or link_id.rstrip("/").split("/")[-1]) == PHQ9_ITEM9 and len(answers) == 1:
                item9 = _answer_score(answers[0])[0]
                break
        self._skip_notice(r.where, why, item9, r.subject or None, r.encounter, r.day)

    def _response_measures(self, r: _Response) -> None:
        qcodes = self._item_codes(r)
        found: dict[str, dict[str, tuple[int, str]]] = {}
        totals: dict[str, tuple[int | float, str]] = {}
        bad = False
        for link_id, path, answers in r.answers:
            code = qcodes.get(link_id) or link_id.rstrip("/").split("/")[-1]
            inst = ITEM_OF.get(code)
            if inst is None:
                t_inst = TOTAL_ITEM.get(code)
                if t_inst is not None and answers:
                    v = _answer_number(answers[0])
                    if v is not None:
                        totals[t_inst] = (v, path)
                continue
            if len(answers) != 1:
                self.errors.add(r.where, path, f"item {code} must have one answer", f"{len(answers)} answers")
                bad = True
                continue
            score, shown = _answer_score(answers[0])
            if score is None:
                self.errors.add(r.where, f"{path}.answer[0]", "must be valueInteger 0-3 or a valueCoding with a "
                                "LOINC answer LA6568-5, LA6569-3, LA6570-1 or LA6571-9", shown=shown)
                bad = True
                continue
            items = found.setdefault(inst, {})
            if code in items:
                self.errors.add(r.where, path, f"item {code} answered twice (also at {items[code][1]})", code)
                bad = True
                continue
            items[code] = (score, path)
        if not found:
            self._count(self.ignored, "QuestionnaireResponse (no PHQ-9 or GAD-7 items)")
            self.read["QuestionnaireResponse"] -= 1
            if not self.read["QuestionnaireResponse"]:
                del self.read["QuestionnaireResponse"]
            return
        for inst, items in found.items():
            missing = [c for c in ITEMS[inst] if c not in items]
            if missing:
                self.errors.add(r.where, "item", f"{inst} is missing {'items' if len(missing) > 1 else 'item'} {', '.join(missing)}: a total needs "
                                "every item (no prorating)", f"{len(items)} of {len(ITEMS[inst])} items")
                bad = True
                continue
            total = sum(score for score, _p in items.values())
            if inst in totals and float(totals[inst][0]) != float(total):
                value, path = totals[inst]
                self.errors.add(r.where, path, f"the {inst} total item does not equal the sum of the answers "
                                f"({total})", value)
                bad = True
                continue
            if bad:
                continue
            item9 = items[PHQ9_ITEM9][0] if inst == "PHQ-9" else None
            self.measures.append(_Measure(r.where, r.subject, r.encounter, r.day, "authored", inst, total,
                                          None if item9 is None else item9 > 0, "item", item9))

    def _rows(self, s: _Session, parsed: ParsedImport, adapter: "_RowErrors") -> None:
        base = {"client": s.client, "clinician": s.clinician, "session": str(s.number),
                "date": s.day.isoformat(), "attendance": s.attendance, "rater": "client"}
        if not s.measures:
            self._row(dict(base), s.where, {}, parsed, adapter)
            return
        for inst in sorted(s.measures):
            total_src, risk_src = s.measures[inst]
            if total_src is None:
                self.errors.add(risk_src.where, risk_src.value_field, f"PHQ-9 item 9 without a PHQ-9 total at "
                                f"session {s.number} of {s.client}: risk is stored with the total", shown="no total")
                continue
            if (risk_src is not None and risk_src.item9 is not None and total_src.total is not None
                    and risk_src.item9 > total_src.total):
                self.errors.add(risk_src.where, risk_src.value_field, f"PHQ-9 item 9 is more than the PHQ-9 total "
                                f"{_num_text(total_src.total)} of session {s.number} of {s.client} in "
                                f"{total_src.where.label} ({total_src.where.file} at {total_src.where.entry}): "
                                "an item cannot exceed the total", risk_src.item9)
                continue
            values = dict(base, instrument=inst, total=_num_text(total_src.total))
            if risk_src is not None:
                values["risk"] = "yes" if risk_src.risk else "no"
            fields = {"total": total_src.value_field}
            if risk_src is not None:
                fields["risk"] = risk_src.value_field
            self._row(values, total_src.where, fields, parsed, adapter)

    def _row(self, values: dict[str, str], where: Where, fields: dict[str, str], parsed: ParsedImport,
             adapter: "_RowErrors") -> None:
        origin = _RowOrigin(where, fields)
        rating = _native_measure(_NativeRow(origin, values, adapter))  # type: ignore[arg-type]
        if rating is not None:
            parsed.ratings.append(rating)
            parsed.rating_origins.append((where.file, _pos(where)))  # type: ignore[arg-type]


_REFERENCED = (_Patient, _Practitioner, _Encounter, _Appointment)


@dataclass(slots=True)
class _Skip:
    why: str


class _RowOrigin:
    __slots__ = ("where", "fields")

    def __init__(self, where: Where, fields: dict[str, str]):
        self.where = where
        self.fields = fields


class _RowErrors:
    """The CSV row validator's error sink, naming FHIR fields instead of columns."""

    def __init__(self, errors: _Errors):
        self.errors = errors

    def add(self, origin: _RowOrigin, column: str, what: str, value: str, shown: str | None = None) -> None:
        shown = code_shown(value) if column in CODE_COLUMNS else None
        self.errors.add(origin.where, origin.fields.get(column, column), what, value,
                        shown=shown if shown != value else None)


_READ_LABEL: dict[str, str] = {"Appointment": "Appointment (no-show)"}

_HANDLERS = {
    "Patient": _Reader.patient,
    "Practitioner": _Reader.practitioner,
    "Encounter": _Reader.encounter,
    "Appointment": _Reader.appointment,
    "Observation": _Reader.observation,
    "QuestionnaireResponse": _Reader.questionnaire_response,
    "Questionnaire": _Reader.questionnaire,
}


def _ref_type(ref: str) -> str | None:
    """The resource type a reference names (None for urn:uuid and the like)."""
    parts = ref.strip().split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2] in RESOURCE_TYPES:
        return parts[-2]
    return None


def _looks_national(system: str | None, ident: dict) -> bool:
    """The identifier looks like a person's national number (social
    security, national id, NHS number, BSN, NIR, passport, driver's
    licence): by words of its system URI, by a few well-known OIDs, or by
    its HL7 v2-0203 ``type`` code. Such a number identifies the person
    outside the clinic; it is never the client code by default."""
    if system:
        low = system.strip().lower()
        oid = low.removeprefix("urn:oid:")
        if oid in NATIONAL_OIDS or oid.startswith(NATIONAL_OID_ARCS):
            return True
        tokens = [t for t in re.split(r"[^a-z0-9]+", low) if t]
        joined = "-" + "-".join(tokens) + "-"
        if any(f"-{w}-" in joined for w in NATIONAL_TOKENS) or any(t.startswith(NATIONAL_PREFIXES) for t in tokens):
            return True
    kind = ident.get("type")
    if isinstance(kind, dict):
        for c in kind.get("coding") or []:
            code = c.get("code") if isinstance(c, dict) else None
            if isinstance(code, str) and (code in NATIONAL_TYPES or re.fullmatch(r"NN[A-Z]{3}", code)):
                return True
    return False


def _peek_response(doc: dict, where: Where) -> _Response:
    """A skipped QuestionnaireResponse as far as it can be read (its faults
    are not errors: it is not imported), to look for its item 9."""
    day = None
    answers: list[tuple[str, str, list]] = []
    try:
        if doc.get("authored") is not None:
            day = _when(doc["authored"], "authored")[0]
    except _Bad:
        pass
    try:
        _flatten(_list(doc, "item"), "item", answers)
    except _Bad:
        pass
    q = doc.get("questionnaire")
    q = q.strip() if isinstance(q, str) and q.strip() else None
    return _Response(where, _peek_ref(doc, "subject") or "", _peek_ref(doc, "encounter"), day, q, answers)


def _peek_ref(doc: dict, key: str) -> str | None:
    try:
        return _reference(doc, key, required=False)
    except _Bad:
        return None


def _one_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def _same_record(a: Any, b: Any) -> bool:
    """Two records of one resource say the same (their positions aside)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (_Skip, type(None))):
        return a == b
    return all(getattr(a, f) == getattr(b, f) for f in a.__slots__ if f != "where")


def _flatten(items: list, path: str, out: list[tuple[str, str, list]]) -> None:
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        item = _obj(item, p)
        link_id = item.get("linkId")
        answers = _list(item, "answer", f"{p}.answer")
        if isinstance(link_id, str) and link_id.strip():
            out.append((link_id.strip(), p, answers))
        _flatten(_list(item, "item", f"{p}.item"), f"{p}.item", out)
        for j, a in enumerate(answers):
            a = _obj(a, f"{p}.answer[{j}]")
            _flatten(_list(a, "item", f"{p}.answer[{j}].item"), f"{p}.answer[{j}].item", out)


def _questionnaire_codes(items: list, out: dict[str, str]) -> None:
    known = set(ITEM_OF) | set(TOTAL_ITEM)
    for item in items:
        if not isinstance(item, dict):
            continue
        link_id = item.get("linkId")
        for c in item.get("code") or []:
            if (isinstance(c, dict) and c.get("system") == LOINC and c.get("code") in known
                    and isinstance(link_id, str)):
                out[link_id.strip()] = c["code"]
                break
        _questionnaire_codes(item.get("item") or [], out)


def _answer_score(answer: Any) -> tuple[int | None, str]:
    """An item answer as 0-3 (None when not a valid PHQ/GAD answer) and how to show it."""
    if not isinstance(answer, dict):
        return None, "not an object"
    if "valueInteger" in answer:
        v = answer["valueInteger"]
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3:
            return v, str(v)
        return None, _got(v) if isinstance(v, (int, float, bool)) else "valueInteger, not shown"
    if "valueCoding" in answer:
        c = answer["valueCoding"]
        if isinstance(c, dict):
            code, system = c.get("code"), c.get("system")
            if code in ANSWERS and system in (LOINC, None):
                return ANSWERS[code], code
            shown = f"{system}|{code}" if all(isinstance(x, str) and SAFE_TEXT_RE.fullmatch(x)
                                                for x in (system, code)) else "valueCoding, not shown"
            return None, shown
        return None, "valueCoding, not shown"
    key = next((k for k in answer if k.startswith("value")), None)
    return None, f"{key}, not shown" if key else "no value"


def _answer_number(answer: Any) -> int | float | None:
    if not isinstance(answer, dict):
        return None
    for key in ("valueInteger", "valueDecimal"):
        v = answer.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
    q = answer.get("valueQuantity")
    if isinstance(q, dict) and isinstance(q.get("value"), (int, float)) and not isinstance(q.get("value"), bool):
        return q["value"]
    return None


# --- the FHIR library ---------------------------------------------------------------------


def _library_model(rtype: str) -> Any:
    """The fhir.resources R4B model class of a resource type (imported here,
    on the import path only)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(rtype)


_SAFE_FIELDS = {"status", "resourceType", "id", "system", "code", "reference", "valueInteger", "valueDecimal",
                "value", "start", "end", "authored", "issued", "effectiveDateTime", "effectiveInstant",
                "linkId", "url", "version", "use", "unit", "lastUpdated", "versionId"}


def _library_problems(model: Any, doc: dict) -> list[tuple[str, str, str]]:
    """(field, what, shown value) for every problem the library finds.
    Its messages are generic; values are shown only from fields that hold
    codes, numbers, dates or references."""
    from pydantic import ValidationError

    try:
        model.model_validate(doc)
    except ValidationError as err:
        out = []
        for e in err.errors(include_url=False):
            loc = e.get("loc", ())
            fld = ""
            for part in loc:
                if isinstance(part, int):
                    fld += f"[{part}]"
                else:
                    fld += ("." if fld else "") + str(part)
            last = next((p for p in reversed(loc) if isinstance(p, str)), "")
            value = e.get("input")
            if e.get("type") == "missing":
                shown = "nothing"  # the input is the object the field is missing from
            elif isinstance(value, (int, float, bool)) or value is None:
                shown = _got(value)
            elif isinstance(value, str) and last in _SAFE_FIELDS and SAFE_TEXT_RE.fullmatch(value):
                shown = value
            else:
                shown = _hidden(value)
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            out.append((fld or "(resource)", msg[:1].lower() + msg[1:], shown))
        return out
    except (TypeError, ValueError, KeyError, RecursionError) as err:  # the library's own validators
        return [("(resource)", f"rejected by the FHIR library ({type(err).__name__})", "not shown")]
    return []
