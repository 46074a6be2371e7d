"""Bytes on the wire over SSH: what each keypress costs the terminal.

    .venv/bin/python bench/bench_ssh.py                 # 80x24 and 120x40, the demo caseload
    .venv/bin/python bench/bench_ssh.py --sizes 120x40 --moves 20

The real ``python -m supervision_tui`` runs in a pseudo-terminal as an SSH
session has it: ``SSH_CONNECTION`` set (the app's SSH mode: no mouse
tracking, no animations, 20 frames a second), ``TERM=xterm-256color`` and
no ``COLORTERM`` (OpenSSH forwards ``TERM`` only, so 256 colours). Every
byte the app writes is counted (:mod:`ptyterm`); an SSH link carries
these bytes plus its own framing and encryption.

Measured, for each terminal size:

* **start-up**: bytes until the caseload is painted and the output is
  quiet, and how many *full repaints* that took (a burst of output that
  rewrites at least 90 % of the screen's rows);
* **cursor move, settled**: one ``down`` on the caseload, then wait until
  the output is quiet (the row moves and the detail panels show the new
  client); mean and maximum over ``--moves`` moves;
* **cursor move, held**: ``--moves`` ``down`` keys 50 ms apart (a held
  key repeats at 20-30 a second), then quiet: total bytes divided by the
  moves. The target (issue 15) is at most 1.5 KB per move at 120x40;
* **open client**, **next client** (``right`` on the client screen) and
  **back** (``escape``).

The report is a Markdown table on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from contrast import child_env  # noqa: E402
from ptyterm import KEYS, PtyTerm  # noqa: E402

PY = sys.executable
TARGET_HELD_MOVE_BYTES = 1536  # at 120x40
ROW_RE = re.compile(rb"\x1b\[(\d+);\d+H")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rows_touched(burst: bytes) -> int:
    """Screen rows a burst of output positions the cursor on (Textual
    moves to the start of every line segment it rewrites)."""
    return len({int(m) for m in ROW_RE.findall(burst)})


def full_repaints(term: PtyTerm, start: int = 0) -> int:
    need = int(term.rows * 0.9)
    return sum(1 for burst in term.bursts(start) if rows_touched(burst) >= need)


def measure(cols: int, rows: int, moves: int, extra_args: list[str] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ssh-") as tmp:
        env = child_env(Path(tmp), "256", {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"})
        term = PtyTerm([PY, "-m", "supervision_tui", "open", *(extra_args or [])], env, cols=cols, rows=rows)
        try:
            startup = term.settle(quiet=1.5, limit=60, until="C-0")
            result = {"size": f"{cols}x{rows}", "startup": startup, "startup_repaints": full_repaints(term)}

            settled = [term.press("down", quiet=0.8) for _ in range(moves)]
            result["move_mean"] = statistics.mean(settled)
            result["move_max"] = max(settled)
            term.press("home", quiet=0.8)

            start = len(term.raw)
            for _ in range(moves):
                term.send(KEYS["down"])
                term.settle(quiet=0.05, limit=0.05)  # keep reading; the keys come 50 ms apart
            term.settle(quiet=0.8)
            result["held_per_move"] = (len(term.raw) - start) / moves
            term.press("home", quiet=0.8)

            result["open_client"] = term.press("enter", quiet=1.0)
            nexts = [term.press("right", quiet=1.0) for _ in range(3)]
            result["next_client"] = statistics.mean(nexts)
            result["back"] = term.press("escape", quiet=1.0)
            return result
        finally:
            term.close("q")


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def report(results: list[dict]) -> list[str]:
    lines = [
        "| terminal | start-up (full repaints) | cursor move, settled: mean / max | cursor move, held | "
        "open client | next client | back |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']} | {kb(r['startup'])} ({r['startup_repaints']}) | {kb(r['move_mean'])} / "
            f"{kb(r['move_max'])} | {kb(r['held_per_move'])} | {kb(r['open_client'])} | "
            f"{kb(r['next_client'])} | {kb(r['back'])} |"
        )
    for r in results:
        if r["size"] == "120x40":
            ok = r["held_per_move"] <= TARGET_HELD_MOVE_BYTES
            lines.append("")
            lines.append(f"Held cursor move at 120x40: {kb(r['held_per_move'])} per move "
                         f"({'meets' if ok else 'misses'} the target of {kb(TARGET_HELD_MOVE_BYTES)}).")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="80x24,120x40")
    parser.add_argument("--moves", type=int, default=10)
    opts = parser.parse_args(argv)
    results = []
    for size in opts.sizes.split(","):
        cols, rows = (int(v) for v in size.split("x"))
        log(f"{size} ...")
        t0 = time.monotonic()
        results.append(measure(cols, rows, opts.moves))
        log(f"{size}: {time.monotonic() - t0:.0f} s")
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
