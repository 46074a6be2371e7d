"""Format-1 databases for tests: the layout every file had before format 2
(one ``measures`` document per rating row), written exactly as the product
wrote it then (compact JSON, canonical order), so that migration and the
read-only format-1 path are tested on real format-1 bytes."""

from __future__ import annotations

import json
from pathlib import Path

from supervision_tui.model import Caseload, Client, Clinician
from supervision_tui.store import schema
from supervision_tui.store.files import write_private_bytes


def v1_tables(cl: Caseload, name: str | None = None, created: str = "2026-01-01T00:00:00+00:00") -> dict:
    def table(docs):
        return {str(i): d for i, d in enumerate(docs, start=1)}

    clients = dict(cl.clients)
    latest: dict[str, tuple[int, str]] = {}
    for r in cl.ratings:
        cur = latest.get(r.client)
        if cur is None or r.session > cur[0]:
            latest[r.client] = (r.session, r.clinician)
    for code, (_s, clin) in latest.items():
        clients.setdefault(code, Client(code, clin))
    clinicians = dict(cl.clinicians)
    for cid in ({c.clinician for c in clients.values() if c.clinician} | {r.clinician for r in cl.ratings}):
        clinicians.setdefault(cid, Clinician(cid))
    order = lambda r: (r.client, r.session, r.instrument or "", r.rater)  # noqa: E731
    return {
        "meta": {"1": {"schema_version": 1, "created": created, "name": name or cl.name}},
        "clinicians": table([schema.clinician_to_doc(clinicians[k]) for k in sorted(clinicians)]),
        "clients": table([schema.client_to_doc(clients[k]) for k in sorted(clients)]),
        "measures": table([schema.rating_to_doc(r) for r in sorted(cl.ratings, key=order)]),
        "goals": table([schema.goal_to_doc(g) for g in sorted(cl.goals, key=lambda g: (g.client, g.goal_id))]),
    }


def v1_bytes(cl: Caseload, name: str | None = None) -> bytes:
    return json.dumps(v1_tables(cl, name), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def write_v1(path: Path, cl: Caseload, name: str | None = None) -> Path:
    write_private_bytes(path, v1_bytes(cl, name))
    return path
