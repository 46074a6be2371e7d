"""Interleaved cold starts of two or more copies of the code: is a change faster?

    .venv/bin/python bench/compare.py DB TREE[:NAME=VALUE,...] [TREE ...] [--reps 9]

Each TREE is a folder holding a ``supervision_tui`` package, e.g. a
``git worktree add /tmp/base <commit>`` of the commit before a change, and
the project itself. The starts alternate (one of each tree, then the bare
Textual app of ``bench/run.py``, again ``--reps`` times), each cold (an
empty cache folder), in the pseudo-terminal of ``bench/run.py``: this
machine's speed swings over minutes, so only starts made in the same
minutes compare. ``TREE:NAME=VALUE,...`` adds environment variables to
that tree's starts (a switch read by an experiment; the same TREE may be
given twice with different settings).

Each start runs with the TREE as its working folder: ``python -m
supervision_tui`` puts the working folder first on the import path, ahead
of ``PYTHONPATH``. (Choosing the code by ``PYTHONPATH`` alone ran the
project's own code every time: two comparisons made that way on
2026-11-29 compared a commit with itself; ``bench/README.md``.)

Prints, per tree: the median first screen and its ratio to the bare app's
median, every start sorted, the median first frame, and the median seconds
from the last client received to the first screen (the serial step and the
paint: less noisy than the whole start).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: the pseudo-terminal and the bare app)


def _tree(spec: str) -> tuple[Path, dict[str, str]]:
    folder, _, settings = spec.partition(":")
    return Path(folder).resolve(), dict(kv.split("=", 1) for kv in settings.split(",") if kv)


def after(start: dict, label: str) -> float | None:
    """Seconds from the trace line starting with ``label`` to the first screen."""
    times = [t for t, line in start["timeline"] if line.startswith(label)]
    return start["seconds"] - times[0] if times else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("trees", nargs="+", help="folders holding a supervision_tui package, each optionally "
                    "followed by :NAME=VALUE,... (environment variables for its starts)")
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args(argv)
    trees = [(s, *_tree(s)) for s in args.trees]
    for _spec, folder, _env in trees:
        if not (folder / "supervision_tui" / "__init__.py").is_file():
            ap.error(f"{folder}: no supervision_tui package in this folder")
    if not args.db.is_file():
        ap.error(f"{args.db}: no such database")
    rows = 10  # the first screen: ten client codes painted (bench/run.py's marker)
    work = Path(tempfile.mkdtemp(prefix="compare-"))
    root = bench.ROOT
    try:
        env = bench._child_env(work)
        starts: dict[str, list[dict]] = {s: [] for s, _f, _e in trees}
        bare: list[float] = []
        for i in range(args.reps):
            for j, (spec, folder, extra) in enumerate(trees):
                bench.ROOT = folder  # (run_in_pty starts the app in bench.ROOT)
                starts[spec].append(bench.app_start(args.db.resolve(), rows, dict(env, **extra), work,
                                                    work / f"cache-{i}-{j}", f"{i}-{j}"))
            bench.ROOT = root
            b = bench.run_in_pty([bench.PY, "-c", bench.BARE_APP, str(rows)], env, marker=bench.rows_shown(rows),
                                 quit_keys=b"\x11")
            bare.append(b["seconds"])
    finally:
        bench.ROOT = root
        shutil.rmtree(work, ignore_errors=True)
    bare_median = statistics.median(bare)
    print(f"bare app: median {bare_median:.3f} s")
    for spec, _f, _e in trees:
        xs = [s["seconds"] for s in starts[spec]]
        med = statistics.median(xs)
        tails = [t for t in (after(s, "all received") for s in starts[spec]) if t is not None]
        frames = [s["first_frame"] for s in starts[spec] if s["first_frame"] is not None]
        print(f"{spec}: median {med:.3f} s ({med / bare_median:.2f}x)  all: {' '.join(f'{x:.3f}' for x in sorted(xs))}"
              f"  first frame {statistics.median(frames):.3f} s"
              + (f"  last client in -> first screen {statistics.median(tails):.3f} s" if tails else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
