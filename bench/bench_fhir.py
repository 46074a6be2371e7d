"""FHIR import benchmark: N patients × 40 encounters as Bulk Data NDJSON.

    .venv/bin/python bench/bench_fhir.py              # 5 000 patients (several minutes, ~0.5 GB of NDJSON)
    .venv/bin/python bench/bench_fhir.py 500          # quicker
    .venv/bin/python bench/bench_fhir.py 5000 --all   # also validate every resource with fhir.resources

Writes a synthetic export into a temporary folder (deleted at the end):
per patient one Patient (with a name, birth date, address and phone, as
an EHR exports them), 40 weekly Encounters (every 10th cancelled), one
no-show Appointment, an ORS and an SRS Observation per attended session
(clinic codes), a PHQ-9 every 4th session (alternately a total and item 9
Observation pair, and a QuestionnaireResponse with nine coded answers), a
GAD-7 Observation every 4th session, and one Condition (ignored); plus
the Practitioners. Then it measures, each on the same files:

* json: reading the files and ``json.loads`` of every line, nothing else
  (the floor any importer pays); best of two;
* read_fhir: ``store.fhir.read_fhir`` as the import runs it (plain JSON for
  the values, ``fhir.resources`` on the first ``LIBRARY_SAMPLE`` resources
  of each type per file), and with the library switched off; best of two,
  alternating;
* library, all: ``fhir.resources`` ``model_validate`` on every resource read
  (with ``--all``; else on a sample of 20 000 and extrapolated);
* import: the real ``python -m supervision_tui import DB --fhir FOLDER``
  into a new database, wall time of the whole process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOINC = "http://loinc.org"
CLINIC = "http://clinic.example/fhir/CodeSystem/measures"
MRN = "http://clinic.example/fhir/sid/mrn"
PHQ9 = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
LA = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
SESSIONS = 40
CLINICIANS = 40


def generate(folder: Path, n_patients: int, sessions: int = SESSIONS) -> dict[str, int]:
    """Write the NDJSON files; return resources written per type."""
    import random

    rnd = random.Random(2026)
    files = {t: open(folder / f"{t}.ndjson", "w", encoding="utf-8") for t in (
        "Patient", "Practitioner", "Encounter", "Appointment", "Observation", "QuestionnaireResponse", "Condition")}
    counts = dict.fromkeys(files, 0)
    dumps = json.dumps

    def out(r: dict) -> None:
        files[r["resourceType"]].write(dumps(r, separators=(",", ":")) + "\n")
        counts[r["resourceType"]] += 1

    for t in range(CLINICIANS):
        out({"resourceType": "Practitioner", "id": f"pr{t}", "identifier": [{"system": "urn:staff",
            "value": f"T{t:02d}"}], "name": [{"family": f"Clinician{t}", "given": ["Alex"]}]})
    start = date(2025, 1, 6)
    for p in range(n_patients):
        pid = f"p{p}"
        out({"resourceType": "Patient", "id": pid, "identifier": [{"system": MRN, "value": f"C-{p:05d}"}],
             "name": [{"family": f"Family{p}", "given": ["Given"]}], "gender": "female",
             "birthDate": f"19{50 + p % 50}-0{1 + p % 9}-1{p % 10}",
             "address": [{"line": [f"{p} Long Street"], "city": "Town"}],
             "telecom": [{"system": "phone", "value": f"+44 7700 9{p:05d}"}]})
        pr = f"pr{p % CLINICIANS}"
        first = start + timedelta(days=p % 200)
        ors, srs = rnd.uniform(12, 25), rnd.uniform(32, 39)
        for s in range(sessions):
            d = first + timedelta(weeks=s)
            when = f"{d.isoformat()}T10:00:00+01:00"
            eid = f"e{p}-{s}"
            cancelled = s % 10 == 9
            out({"resourceType": "Encounter", "id": eid, "status": "cancelled" if cancelled else "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "subject": {"reference": f"Patient/{pid}"},
                 "participant": [{"individual": {"reference": f"Practitioner/{pr}"}}],
                 "period": {"start": when, "end": f"{d.isoformat()}T10:50:00+01:00"}})
            if cancelled:
                continue
            ors = min(40.0, max(0.0, ors + rnd.uniform(-2, 3)))
            srs = min(40.0, max(0.0, srs + rnd.uniform(-1.5, 1.5)))
            for code, value in (("ors", ors), ("srs", srs)):
                out({"resourceType": "Observation", "id": f"o{p}-{s}-{code}", "status": "final",
                     "code": {"coding": [{"system": CLINIC, "code": code}]}, "subject": {"reference": f"Patient/{pid}"},
                     "encounter": {"reference": f"Encounter/{eid}"}, "effectiveDateTime": when,
                     "valueQuantity": {"value": round(value, 1)}})
            if s % 4 == 0:
                answers = [rnd.randint(0, 3) for _ in PHQ9]
                if s % 8 == 0:
                    out({"resourceType": "QuestionnaireResponse", "id": f"q{p}-{s}", "status": "completed",
                         "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                         "authored": when, "item": [{"linkId": f"/{c}", "answer": [{"valueCoding": {
                             "system": LOINC, "code": LA[a]}}]} for c, a in zip(PHQ9, answers)]})
                else:
                    for code, value in (("44261-6", sum(answers)), ("44260-8", answers[-1])):
                        out({"resourceType": "Observation", "id": f"o{p}-{s}-{code}", "status": "final",
                             "code": {"coding": [{"system": LOINC, "code": code}]},
                             "subject": {"reference": f"Patient/{pid}"},
                             "encounter": {"reference": f"Encounter/{eid}"}, "effectiveDateTime": when,
                             "valueInteger": value})
            if s % 4 == 2:
                out({"resourceType": "Observation", "id": f"o{p}-{s}-gad", "status": "final",
                     "code": {"coding": [{"system": LOINC, "code": "70274-6"}]},
                     "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                     "effectiveDateTime": when, "valueInteger": rnd.randint(0, 21)})
        d = first + timedelta(weeks=sessions, days=2)
        out({"resourceType": "Appointment", "id": f"a{p}", "status": "noshow", "start": f"{d.isoformat()}T10:00:00Z",
             "participant": [{"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"},
                             {"actor": {"reference": f"Practitioner/{pr}"}, "status": "accepted"}]})
        out({"resourceType": "Condition", "id": f"c{p}", "subject": {"reference": f"Patient/{pid}"},
             "code": {"text": "Depressive episode"}})
    for f in files.values():
        f.close()
    return counts


def bench_json(folder: Path) -> float:
    t = time.perf_counter()
    n = 0
    for f in sorted(folder.glob("*.ndjson")):
        for line in f.read_text(encoding="utf-8").split("\n"):
            if line:
                json.loads(line)
                n += 1
    return time.perf_counter() - t


def bench_read(folder: Path, sample: int) -> tuple[float, int, int]:
    from supervision_tui.store.fhir import read_fhir

    t = time.perf_counter()
    res = read_fhir([folder], client_system=MRN, codes={"ORS": [f"{CLINIC}|ors"], "SRS": [f"{CLINIC}|srs"]},
                    library_sample=sample)
    return time.perf_counter() - t, len(res.parsed.ratings), res.library_checked


def bench_library(folder: Path, limit: int | None) -> tuple[float, int]:
    """fhir.resources model_validate on every resource the import reads (or the first ``limit``)."""
    from fhir.resources.R4B import get_fhir_model_class

    used = ("Patient", "Practitioner", "Encounter", "Appointment", "Observation", "QuestionnaireResponse")
    docs_by_type = {}
    total = 0
    for t in used:
        lines = (folder / f"{t}.ndjson").read_text(encoding="utf-8").split("\n")
        docs_by_type[t] = [json.loads(x) for x in lines if x]
        total += len(docs_by_type[t])
    n = 0
    t0 = time.perf_counter()
    for t, docs in docs_by_type.items():
        model = get_fhir_model_class(t)
        share = docs if limit is None else docs[: max(1, limit * len(docs) // total)]
        for d in share:
            model.model_validate(d)
            n += 1
    return time.perf_counter() - t0, n


def bench_cli(folder: Path, work: Path) -> float:
    db = work / "caseload.json"
    settings = work / "settings.toml"
    settings.write_text(f'[fhir.codes]\nORS = "{CLINIC}|ors"\nSRS = "{CLINIC}|srs"\n')
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "supervision_tui", "import", str(db), "--fhir", str(folder),
                          "--client-system", MRN, "--config", str(settings)], capture_output=True, text=True,
                         cwd=ROOT)
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    print(out.stdout.split("\n", 1)[0], file=sys.stderr)
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    return took, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patients", nargs="?", type=int, default=5000)
    ap.add_argument("--all", action="store_true", help="validate every resource with fhir.resources")
    ap.add_argument("--dir", type=Path, help="where to write the temporary export")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fhir-", dir=args.dir))
    try:
        folder = work / "export"
        folder.mkdir()
        t = time.perf_counter()
        counts = generate(folder, args.patients)
        size = sum(f.stat().st_size for f in folder.glob("*.ndjson"))
        n_res = sum(counts.values())
        print(f"generated {n_res:,} resources ({size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()), file=sys.stderr)
        j = min(bench_json(folder) for _ in range(2))
        runs0, runs = [], []
        for _ in range(2):  # alternating, best of two: the machine is shared
            runs0.append(bench_read(folder, 0))
            runs.append(bench_read(folder, 100))
        r0, rows, _ = min(runs0)
        rs, _rows, checked = min(runs)
        lib, n_lib = bench_library(folder, None if args.all else 20000)
        per = lib / n_lib
        read_total = n_res - counts["Condition"]
        lib_all = per * read_total
        cli, peak = bench_cli(folder, work)
        print(f"\n{args.patients:,} patients × {SESSIONS} encounters: {n_res:,} resources, {size / 1e6:.0f} MB "
              f"NDJSON, {rows:,} measures rows\n")
        print("| step | time |")
        print("|---|---|")
        print(f"| json.loads of every line (the floor) | {j:.1f} s |")
        print(f"| read_fhir, library off | {r0:.1f} s |")
        print(f"| read_fhir as imported (library on a sample: {checked} resources) | {rs:.1f} s |")
        how = "measured" if args.all else f"{n_lib:,} measured, extrapolated"
        print(f"| fhir.resources model_validate of all {read_total:,} resources read ({how}) | {lib_all:.1f} s "
              f"({per * 1e6:.0f} µs each) |")
        print(f"| `import DB --fhir FOLDER`, whole process, new database (peak RSS {peak:.0f} MB) | {cli:.1f} s |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
