"""How long does saving one review take, and does it depend on caseload size?

    .venv/bin/python bench/bench_reviews.py            # 50 and 500 clients x 40 sessions
    .venv/bin/python bench/bench_reviews.py 50 500 2000

``bench_review_save(n_clients, n_sessions=40, n=200)`` writes the demo
caseload (``demo.generate_demo``) of that size as a real database in
a temporary folder, runs the rule engine once, then times ``n`` calls of
``ReviewStore.set_review`` on real flags (cycling through the flags and
the review statuses, with a note every third time, so every save really
changes the sidecar and appends an audit entry). Each timing is one whole
save as the UI does it: lock, re-read of the sidecar, change, atomic write
with fsync, unlock. Returns p50/p95/max in milliseconds plus the sizes of
the caseload and sidecar files.

Target (issue #5): p95 <= 20 ms at 50 and at 500 clients. A third line
shows 500 clients after 3 000 earlier saves (the audit has been rotated
into archive files; the sidecar stays bounded).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from supervision_tui.rules.engine import analyse_caseload  # noqa: E402
from supervision_tui.store.database import Database  # noqa: E402
from supervision_tui.store.reviews import REVIEW_STATUSES, ReviewStore  # noqa: E402

TARGET_P95_MS = 20.0


def _caseload(n_clients: int, n_sessions: int):
    from supervision_tui.demo import generate_demo

    return generate_demo(2026, n_clients=n_clients, sessions=n_sessions, history=0)


def _percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def bench_review_save(n_clients: int, n_sessions: int = 40, n: int = 200, directory: str | None = None,
                      history: int = 0) -> dict:
    """Time ``n`` review saves on a caseload of ``n_clients`` x ``n_sessions``;
    ``history`` untimed saves first (an aged sidecar with a long audit)."""
    with tempfile.TemporaryDirectory(prefix="bench-reviews-", dir=directory) as tmp:
        path = Path(tmp) / "caseload.json"
        db = Database(path)
        db.replace_caseload(_caseload(n_clients, n_sessions))
        flags = [f for a in analyse_caseload(db.load()) for f in a.flags]
        if not flags:
            raise RuntimeError("the caseload has no flags to review")
        store = ReviewStore(db, user="bench")
        statuses = [s for s in REVIEW_STATUSES if s != "new"]
        times = []
        for i in range(history):
            store.set_review(flags[i % len(flags)], statuses[i % len(statuses)], f"earlier note {i}")
        for i in range(n):
            flag = flags[i % len(flags)]
            status = statuses[i % len(statuses)]
            note = f"bench note {i}" if i % 3 == 0 else None
            t0 = time.perf_counter()
            store.set_review(flag, status, note)
            times.append((time.perf_counter() - t0) * 1000)
        return {
            "clients": n_clients,
            "sessions": n_sessions,
            "saves": n,
            "history": history,
            "flags": len(flags),
            "caseload_bytes": path.stat().st_size,
            "sidecar_bytes": db.sidecar_path.stat().st_size,
            "p50": round(statistics.median(times), 2),
            "p95": round(_percentile(times, 0.95), 2),
            "max": round(max(times), 2),
        }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [50, 500]
    worst = 0.0
    for n_clients in sizes:
        r = bench_review_save(n_clients)
        worst = max(worst, r["p95"])
        print(f"{r['clients']:>5} clients x {r['sessions']} sessions ({r['flags']} flags, caseload "
              f"{r['caseload_bytes'] / 1e6:.1f} MB, sidecar after {r['saves']} saves {r['sidecar_bytes'] / 1e3:.0f} kB): "
              f"save p50 {r['p50']:.2f} ms  p95 {r['p95']:.2f} ms  max {r['max']:.2f} ms")
    r = bench_review_save(500, history=3000)
    print(f"  500 clients after {r['history']} earlier saves (sidecar {r['sidecar_bytes'] / 1e3:.0f} kB, older "
          f"audit archived): save p50 {r['p50']:.2f} ms  p95 {r['p95']:.2f} ms  max {r['max']:.2f} ms")
    verdict = "OK" if worst <= TARGET_P95_MS else "OVER TARGET"
    print(f"target p95 <= {TARGET_P95_MS:g} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
