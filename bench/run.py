"""Proof benchmarks (issue #7): one command, one Markdown table.

    .venv/bin/python bench/run.py                  # 50, 500 and 5 000 clients x 40 sessions
    .venv/bin/python bench/run.py --quick          # 50 and 500, fewer repetitions (< 60 s)
    .venv/bin/python bench/run.py --sizes 500,2000

For each size the demo generator (``demo.generate_demo``) makes a
caseload of that many clients x 40 sessions in a temporary folder, exports
it to CSV (``export_csv``) and measures, on that data:

* import: the real ``python -m supervision_tui import DB measures.csv
  --clients clients.csv --goals goals.csv`` command into a new database,
  wall time of the whole process;
* load: ``Database(path, read_only=True).load()``, best of N;
* rules: ``analyse_caseload``, best of N, from ``bench_rules.bench_rules``
  (its own seeded synthetic caseload of the same size, denser in rupture
  markers than the demo);
* first screen: the real ``python -m supervision_tui open DB`` started in a
  pseudo-terminal (120 x 40); the time from just before the process is
  spawned until the terminal output contains the first client code of the
  caseload table (the rows are painted). The same measurement, in the same
  run and alternating with it, of a bare Textual app that shows a DataTable
  of as many rows; median of N each, and their ratio. The app is timed with
  its triage cache (written by an earlier start, as for a user opening the
  same database again) and cold (an empty cache folder: the rows wait for
  the database to be read and the rules to run);
* peak RSS: ``VmHWM`` of the cold app process when its rows appeared (the
  caseload loaded);
* open client: in a pseudo-terminal, the app built with ``build_app`` and
  run normally (real driver, real output) with an auto-pilot that calls
  ``app.show_client(code)`` for clients spread over the list and waits
  until the client screen is mounted and painted; median. The same child
  also times "next client" (right arrow) and a clinician filter;
* save review: ``bench_reviews.bench_review_save`` (``ReviewStore.set_review``,
  lock + re-read + atomic write), p50 and p95.

See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for _p in (str(ROOT), str(BENCH)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

PY = sys.executable
SEED = 2026
SESSIONS = 40
COLS, ROWS = 120, 40  # the pseudo-terminal: wide and tall enough for the preview pane
CODE_RE = re.compile(r"C-\d{4}")
# CSI, OSC, DCS/PM/APC strings and two-byte escapes
ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]")

TARGETS_AT = 500
TARGET_RATIO, AIM_RATIO = 1.5, 1.25
TARGET_RULES_MS = 100.0
TARGET_OPEN_MS = 50.0
TARGET_SAVE_P95_MS = 20.0
TARGET_IMPORT_S = 5.0
TARGET_RSS_MB = 200.0


def log(msg: str) -> None:
    print(f"  · {msg}", file=sys.stderr, flush=True)


# --- the two programs started in a pseudo-terminal ----------------------------------

#: A bare Textual app: one DataTable with as many rows as the caseload
#: table shows, 8 columns of similar text, nothing else. Run with
#: ``python -c``; argv: N_ROWS.
BARE_APP = r"""
import sys
from textual.app import App
from textual.widgets import DataTable

N = int(sys.argv[1])

class Bare(App):
    def compose(self):
        yield DataTable(cursor_type="row")

    def on_mount(self):
        t = self.query_one(DataTable)
        t.add_columns("Tier", "Client", "Clinician", "Sessions", "Why", "Goal", "Review", "Latest")
        t.add_rows(
            [f"T{1 + i % 7}", f"C-{1000 + i:04d}", f"T{i % 4:02d}", str(40), "SRS drop below cutoff at s38",
             "agreed", "—", "2026-11-20"]
            for i in range(N)
        )
        t.focus()

Bare().run()
"""

#: The product app, built by the factory and run with the real driver, with
#: an auto-pilot that times what a user waits for once the caseload is on
#: screen. Run with ``python -c``; argv: DB OUT.json N_CLIENTS_TO_OPEN.
#: Every timing ends when the screen has been repainted after the change
#: (``settled``); keys are posted as the terminal driver posts them.
OPEN_CLIENT = r"""
import asyncio, gc, json, sys, time
from pathlib import Path
from textual import events
from supervision_tui.ui.app import build_app

db, out, k = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
app = build_app(db, read_only=True)
pauses = {0: [], 1: [], 2: []}
_gc_t0 = [0.0]

def _gc(phase, info):
    if phase == "start":
        _gc_t0[0] = time.perf_counter()
    else:
        pauses[info["generation"]].append((time.perf_counter() - _gc_t0[0]) * 1000)

async def painted():
    # runs once the current screen has no pending layout or repaint, i.e.
    # after it was composed and written to the terminal
    fut = asyncio.get_running_loop().create_future()
    app.screen.call_after_refresh(lambda: fut.done() or fut.set_result(None))
    await fut

async def settled():
    await painted()
    while not all(w.is_mounted for w in app.screen.walk_children()):
        await asyncio.sleep(0)
    await painted()

async def until(cond, limit=30.0):
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > limit:
            raise TimeoutError("no reaction")
        await asyncio.sleep(0)

def key(name):
    app.post_message(events.Key(name, None))

async def pilot(p):
    t0 = time.perf_counter()
    while True:
        if app.data is not None:
            try:
                if app.caseload_screen.query_one("DataTable").row_count:
                    break
            except Exception:
                pass
        if app.load_error or time.perf_counter() - t0 > 300:
            out.write_text(json.dumps({"error": app.load_error or "the caseload never showed"}))
            app.exit()
            return
        await asyncio.sleep(0.005)
    await settled()
    gc.callbacks.append(_gc)
    base = app.caseload_screen
    table = base.query_one("DataTable")
    codes = [r.code for r in base.rows] or [a.client for a in app.analyses]
    picks = [codes[round(i * (len(codes) - 1) / max(1, k - 1))] for i in range(k)]
    picks = list(dict.fromkeys(picks))
    res = {"open": [], "next": [], "move": [], "filter": [], "clients": picks}
    for code in picks:
        t = time.perf_counter()
        app.show_client(code)
        await settled()
        res["open"].append((time.perf_counter() - t) * 1000)
        screen = app.screen
        assert type(screen).__name__ == "ClientScreen" and screen.code == code, (type(screen), code)
        if screen.order.index(code) < len(screen.order) - 1:
            t = time.perf_counter()
            key("right")
            await until(lambda: screen.code != code)
            await settled()
            res["next"].append((time.perf_counter() - t) * 1000)
        await app.pop_screen()
        await settled()
    table.focus()
    table.move_cursor(row=0, animate=False)
    await settled()
    for name in ["down"] * 10:
        row = table.cursor_row
        t = time.perf_counter()
        key(name)
        await until(lambda: table.cursor_row != row)
        await settled()
        res["move"].append((time.perf_counter() - t) * 1000)
    clinicians = sorted({r.clinician for r in base.rows if r.clinician})
    for c in clinicians[:3]:
        t = time.perf_counter()
        app.filter_clinician(c)
        await settled()
        res["filter"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        app.filter_clinician(None)
        await settled()
        res["filter"].append((time.perf_counter() - t) * 1000)
    gc.callbacks.remove(_gc)
    res["gc"] = {str(g): v for g, v in pauses.items()}
    out.write_text(json.dumps(res))
    app.exit()

app.run(auto_pilot=pilot)
"""


def _child_env(home: Path) -> dict[str, str]:
    """The same clean terminal for every child: xterm-256color, truecolor,
    not SSH, no Textual overrides, no user settings, a triage cache of its
    own (never the user's), and bytecode written as a user's install has it
    (PYTHONDONTWRITEBYTECODE in the calling shell would make every start
    compile the program's modules again)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEXTUAL_", "SSH_", "SUPERVISION_TUI_"))
           and k not in ("NO_COLOR", "COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"), PYTHONPATH=str(ROOT))
    return env


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rows_shown(n_rows: int) -> Callable[[str], bool]:
    """True once the screen text holds ``min(n_rows, 10)`` distinct client
    codes: the table's rows are painted (not just one code in a header)."""
    want = max(1, min(n_rows, 10))
    return lambda text: len(set(CODE_RE.findall(text))) >= want


def run_in_pty(argv: list[str], env: dict[str, str], *, marker: Callable[[str], bool] | None = None,
               early: Callable[[str], bool] | None = None, quit_keys: bytes = b"q",
               timeout: float = 300.0) -> dict:
    """Run ``argv`` in a fresh pseudo-terminal of COLS x ROWS, draining its
    output. With ``marker``: the seconds from just before the spawn until
    ``marker(ANSI-stripped output so far)`` is first true (``seconds``),
    the child's VmHWM then (``hwm_mb``), then ``quit_keys`` are typed;
    without: wait for the child to exit. ``early``: a second condition,
    timed the same way (``early_seconds``). Returns also ``maxrss_mb``
    (wait4) and ``rc``."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=str(ROOT),
                            start_new_session=True, close_fds=True)
    os.close(slave)
    raw = bytearray()
    found_at = hwm = early_at = None
    quit_sent_at = None
    deadline = t0 + timeout
    try:
        while True:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"timed out: {' '.join(argv[:4])} …\n{_tail(raw)}")
            if quit_sent_at is not None and now - quit_sent_at > 10:
                log(f"{argv[1:3]} did not quit 10 s after {quit_keys!r}: terminating it")
                proc.send_signal(signal.SIGTERM)
                quit_sent_at = now + 1e9
            r, _, _ = select.select([master], [], [], 0.5)
            if not r:
                if proc.poll() is not None and found_at is None and marker is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal (exited)
                break
            if not chunk:
                break
            raw += chunk
            if marker is not None and found_at is None:
                t = time.monotonic()
                text = ANSI_RE.sub("", raw.decode("utf-8", "replace"))
                if early is not None and early_at is None and early(text):
                    early_at = t
                if marker(text):
                    found_at = t
                    hwm = _hwm_mb(proc.pid)
                    os.write(master, quit_keys)
                    quit_sent_at = time.monotonic()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        os.close(master)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if marker is not None and found_at is None:
        raise RuntimeError(f"the table never showed (exit {proc.returncode}): {' '.join(argv[:4])} …\n"
                           f"{_tail(raw)}")
    return {
        "seconds": (found_at - t0) if found_at is not None else None,
        "early_seconds": (early_at - t0) if early_at is not None else None,
        "hwm_mb": hwm,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "rc": proc.returncode,
        "output": bytes(raw),
    }


def _tail(raw: bytes | bytearray, n: int = 800) -> str:
    return ANSI_RE.sub("", bytes(raw).decode("utf-8", "replace"))[-n:]


# --- measurements ------------------------------------------------------------------


def prepare(n: int, folder: Path) -> tuple[Path, int]:
    """Generate n clients x 40 sessions and export them to CSV in ``folder``."""
    from supervision_tui.store.csv_io import export_csv
    from supervision_tui.demo import generate_demo

    caseload = generate_demo(SEED, n_clients=n, sessions=SESSIONS, history=0)  # exactly n clients
    export_csv(caseload, folder / "csv", include_notes=True)
    return folder / "csv", len(caseload.ratings)


def time_import(csv_dir: Path, folder: Path, reps: int, env: dict[str, str]) -> tuple[float, Path]:
    """The real CLI import into a new database; median wall seconds."""
    times, db = [], None
    for i in range(reps):
        db = folder / f"caseload-{i}.json"
        argv = [PY, "-m", "supervision_tui", "import", str(db), str(csv_dir / "measures.csv"),
                "--clients", str(csv_dir / "clients.csv"), "--goals", str(csv_dir / "goals.csv")]
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=env, cwd=str(ROOT), capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise RuntimeError(f"import failed ({r.returncode}): {r.stderr or r.stdout}")
    assert db is not None
    final = folder / "caseload.json"
    db.rename(final)
    return statistics.median(times), final


def time_load(db: Path, reps: int) -> tuple[float, object]:
    import gc

    from supervision_tui.store.database import Database

    best, caseload = float("inf"), None
    for _ in range(reps):
        caseload = None
        gc.collect()
        t0 = time.perf_counter()
        caseload = Database(db, read_only=True).load()
        best = min(best, time.perf_counter() - t0)
    return best, caseload


def time_rules_demo(caseload, reps: int) -> tuple[float, int]:
    """``analyse_caseload`` on the imported demo caseload, best of ``reps``
    (seconds), each from a collected heap — bench_rules' protocol. Also
    returns how many clients are triaged (the rows the caseload table
    shows by default, closed and dropped-out clients hidden)."""
    import gc

    from supervision_tui.rules.engine import analyse_caseload

    best, triaged = float("inf"), 0
    for _ in range(reps):
        analyses = None
        gc.collect()
        t0 = time.perf_counter()
        analyses = analyse_caseload(caseload)
        best = min(best, time.perf_counter() - t0)
        triaged = sum(1 for a in analyses if a.triaged)
    return best, triaged


def time_rules(n: int, reps: int) -> dict:
    from bench_rules import bench_rules

    return bench_rules(n, SESSIONS, repeat=reps)


def time_first_screen(db: Path, n_rows: int, reps: int, env: dict[str, str], folder: Path) -> dict:
    """Product and bare app, alternating, ``reps`` each; medians.

    The app twice per repetition: with its triage cache (written by the run
    before, as by any earlier start on this database) and *cold*, with an
    empty cache folder of its own, so the rows can only come from reading the
    database and running the rules. One unmeasured run first fills the
    cache. Peak RSS is that of the cold runs: the moment their rows appear,
    the caseload is loaded (a cached first screen has not read it yet)."""
    app_argv = [PY, "-m", "supervision_tui", "open", str(db), "--read-only"]
    bare_argv = [PY, "-c", BARE_APP, str(n_rows)]
    run_in_pty(app_argv, env, marker=rows_shown(n_rows))  # writes the triage cache
    app_t, cold_t, bare_t, hwm, cached_hwm, bare_hwm, first_frame = [], [], [], [], [], [], []
    for i in range(reps):
        a = run_in_pty(app_argv, env, marker=rows_shown(n_rows), early=lambda text: "supervision-tui" in text)
        if a["early_seconds"] is not None:
            first_frame.append(a["early_seconds"])
        cold_env = dict(env, SUPERVISION_TUI_CACHE_DIR=str(folder / f"no-cache-{i}"))
        c = run_in_pty(app_argv, cold_env, marker=rows_shown(n_rows))
        b = run_in_pty(bare_argv, env, marker=rows_shown(n_rows), quit_keys=b"\x11")  # ctrl+q: Textual's quit
        app_t.append(a["seconds"])
        cold_t.append(c["seconds"])
        bare_t.append(b["seconds"])
        cached_hwm.append(a["hwm_mb"] or a["maxrss_mb"])
        hwm.append(c["hwm_mb"] or c["maxrss_mb"])
        bare_hwm.append(b["hwm_mb"] or b["maxrss_mb"])
    return {
        "app": statistics.median(app_t),
        "cold": statistics.median(cold_t),
        "bare": statistics.median(bare_t),
        "app_all": app_t,
        "cold_all": cold_t,
        "first_frame": statistics.median(first_frame) if first_frame else None,
        "bare_all": bare_t,
        "rss_mb": statistics.median(hwm),
        "cached_rss_mb": statistics.median(cached_hwm),
        "bare_rss_mb": statistics.median(bare_hwm),
    }


def time_open_client(db: Path, k: int, env: dict[str, str], folder: Path) -> dict:
    import json

    out = folder / "open-client.json"
    r = run_in_pty([PY, "-c", OPEN_CLIENT, str(db), str(out), str(k)], env, timeout=600)
    if not out.exists():
        raise RuntimeError(f"the open-client run wrote no result (exit {r['rc']}):\n{_tail(r['output'], 2000)}")
    res = json.loads(out.read_text())
    if "error" in res:
        raise RuntimeError(f"the open-client run failed: {res['error']}")
    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    return {
        "open": med(res["open"]),
        "open_max": max(res["open"]),
        "next": med(res["next"]),
        "filter": med(res["filter"]),
        "move": med(res["move"]),
        "gc2_n": len(res["gc"]["2"]),
        "gc2_max": max(res["gc"]["2"], default=0.0),
        "gc2_total": sum(res["gc"]["2"]),
        "k": len(res["open"]),
    }


def time_save_review(n: int, saves: int, folder: Path) -> dict:
    from bench_reviews import bench_review_save

    return bench_review_save(n, SESSIONS, n=saves, directory=str(folder))


# --- the run -------------------------------------------------------------------------


def machine() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f", {kb / 1024 / 1024:.1f} GB RAM"
    except (OSError, IndexError, ValueError):
        pass

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    commit = ""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if head:
            commit = f"commit {head}" + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return [
        f"Machine: {cpu}, {usable} cores usable (of {os.cpu_count()}){mem}, {platform_name()}",
        f"Python {sys.version.split()[0]} · textual {ver('textual')} · tinydb {ver('tinydb')} · "
        f"supervision-tui {ver('supervision-tui')}" + (f" · {commit}" if commit else ""),
    ]


def fs_of(path: Path) -> str:
    """The folder's filesystem type (save and import times depend on it)."""
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) >= len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return f"{path.parent} ({kind})"


def platform_name() -> str:
    import platform

    return f"{platform.system()} {platform.release()}"


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x >= 1 else f"{x * 1000:.0f} ms"


def fmt_ms(x: float) -> str:
    return f"{x:.0f} ms" if x >= 10 else f"{x:.1f} ms"


def reps_for(n: int, quick: bool) -> dict[str, int]:
    if quick:
        return {"import": 1, "load": 3, "rules": 3, "screen": 3, "open": 5, "saves": 60}
    if n <= 500:
        return {"import": 3, "load": 5, "rules": 5, "screen": 5, "open": 9, "saves": 200}
    return {"import": 1, "load": 3, "rules": 3, "screen": 3, "open": 9, "saves": 200}


def bench_size(n: int, quick: bool, tmp: Path, env: dict[str, str]) -> dict:
    folder = tmp / f"n{n}"
    folder.mkdir()
    reps = reps_for(n, quick)
    t_size = time.perf_counter()
    log(f"{n} clients: generating and exporting to CSV")
    csv_dir, n_ratings = prepare(n, folder)
    log(f"{n} clients: import (CLI) x{reps['import']}")
    imp, db = time_import(csv_dir, folder, reps["import"], env)
    log(f"{n} clients: load x{reps['load']}")
    load, caseload = time_load(db, reps["load"])
    n_clients = len(caseload.clients)
    log(f"{n} clients: rules x{reps['rules']} (this caseload, then bench_rules' caseload)")
    rules_demo, n_rows = time_rules_demo(caseload, reps["rules"])
    log(f"{n} clients: not on track and effectiveness (clinical-rules §10–11)")
    from bench_rules import bench_signals
    signals = bench_signals(repeat=reps["rules"], caseload=caseload)
    del caseload
    rules = time_rules(n, reps["rules"])
    log(f"{n} clients: first screen, app and bare app x{reps['screen']}")
    screen = time_first_screen(db, n_rows, reps["screen"], env, folder)
    log(f"{n} clients: open client x{reps['open']}")
    opened = time_open_client(db, reps["open"], env, folder)
    log(f"{n} clients: save review x{reps['saves']} (bench_reviews)")
    save = time_save_review(n, reps["saves"], folder)
    log(f"{n} clients: done in {time.perf_counter() - t_size:.0f} s")
    return {
        "n": n,
        "clients": n_clients,
        "table_rows": n_rows,
        "ratings": n_ratings,
        "db_mb": db.stat().st_size / 1e6,
        "import_s": imp,
        "load_s": load,
        "rules_ms": rules["total_ms"],
        "rules_demo_ms": rules_demo * 1000,
        "rules_rows": rules["n_rows"],
        "signals": signals,
        "screen": screen,
        "open": opened,
        "save": save,
    }


def table(results: list[dict]) -> list[str]:
    head = ("| clients × sessions | rows (db size) | import | load | rules: demo / dense | first screen: app (cold) "
            "| bare app | ratio (cold) "
            "| open client | save review p50 / p95 | peak RSS |")
    out = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in results:
        s = r["screen"]
        out.append(
            f"| {r['clients']:,} × {SESSIONS} | {r['ratings']:,} ({r['db_mb']:.1f} MB) | {fmt_s(r['import_s'])} "
            f"| {fmt_s(r['load_s'])} | {fmt_ms(r['rules_demo_ms'])} / {fmt_ms(r['rules_ms'])} "
            f"| {fmt_s(s['app'])} ({fmt_s(s['cold'])}) | {fmt_s(s['bare'])} "
            f"| {s['app'] / s['bare']:.2f}× ({s['cold'] / s['bare']:.2f}×) | {fmt_ms(r['open']['open'])} "
            f"| {r['save']['p50']:.1f} / {r['save']['p95']:.1f} ms | {s['rss_mb']:.0f} MB |"
        )
    return out


def growth(results: list[dict]) -> list[str]:
    """Cost per client at each size and its ratio between consecutive sizes:
    1.00 = linear, below 1 = a fixed cost being spread, above ~1.3 = growing
    faster than the caseload. First screen and peak RSS are counted above
    the bare app's (which carries the interpreter and Textual)."""
    if len(results) < 2:
        return []
    metrics = [
        ("import", lambda r: r["import_s"] * 1000, "ms"),
        ("load", lambda r: r["load_s"] * 1000, "ms"),
        ("rules (demo)", lambda r: r["rules_demo_ms"], "ms"),
        ("rules (dense)", lambda r: r["rules_ms"], "ms"),
        ("first screen, app − bare", lambda r: (r["screen"]["app"] - r["screen"]["bare"]) * 1000, "ms"),
        ("first screen cold, app − bare", lambda r: (r["screen"]["cold"] - r["screen"]["bare"]) * 1000, "ms"),
        ("peak RSS, app − bare", lambda r: r["screen"]["rss_mb"] - r["screen"]["bare_rss_mb"], "MB"),
    ]
    sizes = [r["clients"] for r in results]
    pairs = list(zip(range(len(sizes) - 1), range(1, len(sizes))))
    cols = ["per client"] + [f"{n:,}" for n in sizes] + [f"ratio {sizes[j]:,}/{sizes[i]:,}" for i, j in pairs]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for name, f, unit in metrics:
        per = [f(r) / n for r, n in zip(results, sizes)]
        cells = [name] + [_per(p, unit) for p in per]
        cells += [f"{per[j] / per[i]:.2f}" if per[i] > 0 else "–" for i, j in pairs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _per(x: float, unit: str) -> str:
    if unit == "ms":
        return f"{x:.3f} ms" if x < 1 else f"{x:.2f} ms"
    return f"{x * 1024:.0f} kB" if x < 1 else f"{x:.2f} MB"


def verdicts(results: list[dict]) -> list[str]:
    at = next((r for r in results if r["clients"] == TARGETS_AT), None)
    lines = []
    if at is not None:
        s = at["screen"]
        ratio = s["app"] / s["bare"]

        def line(ok: bool, text: str) -> None:
            lines.append(f"- {'met   ' if ok else 'MISSED'} {text}")

        line(ratio <= TARGET_RATIO, f"first screen ≤ {TARGET_RATIO}× bare app (aim {AIM_RATIO}×): {ratio:.2f}× "
             f"({fmt_s(s['app'])} vs {fmt_s(s['bare'])})" + ("" if ratio <= AIM_RATIO else " — above the aim")
             + f"; cold (no triage cache: database read first) {s['cold'] / s['bare']:.2f}× ({fmt_s(s['cold'])})")
        worst = max(at["rules_ms"], at["rules_demo_ms"])
        line(worst <= TARGET_RULES_MS, f"rules ≤ {TARGET_RULES_MS:g} ms: {fmt_ms(at['rules_demo_ms'])} on the demo "
             f"caseload, {fmt_ms(at['rules_ms'])} on bench_rules' denser one")
        line(at["open"]["open"] <= TARGET_OPEN_MS, f"open client ≤ {TARGET_OPEN_MS:g} ms: "
             f"{fmt_ms(at['open']['open'])} median (max {fmt_ms(at['open']['open_max'])})")
        p95s = [r["save"]["p95"] for r in results]
        line(at["save"]["p95"] <= TARGET_SAVE_P95_MS and max(p95s) <= TARGET_SAVE_P95_MS,
             f"save review p95 ≤ {TARGET_SAVE_P95_MS:g} ms, not growing with size: "
             + ", ".join(f"{r['save']['p95']:.1f} ms at {r['clients']:,}" for r in results))
        line(at["import_s"] <= TARGET_IMPORT_S, f"import ≤ {TARGET_IMPORT_S:g} s: {fmt_s(at['import_s'])}")
        line(s["rss_mb"] <= TARGET_RSS_MB, f"peak memory ≤ {TARGET_RSS_MB:g} MB: {s['rss_mb']:.0f} MB")
        lines.insert(0, f"Targets at {TARGETS_AT} × {SESSIONS}:")
    big = [r for r in results if r["clients"] >= 5000]
    for r in big:
        s, o = r["screen"], r["open"]
        lines.append(
            f"At {r['clients']:,} × {SESSIONS}: first screen {fmt_s(s['app'])} ({s['app'] / s['bare']:.2f}× bare; "
            f"cold {fmt_s(s['cold'])}, {s['cold'] / s['bare']:.2f}×), "
            f"peak RSS {s['rss_mb']:.0f} MB; then open client {fmt_ms(o['open'])}, next client "
            f"{fmt_ms(o['next'])}, cursor move {fmt_ms(o['move'])}, clinician filter {fmt_ms(o['filter'])} (medians)."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", help="comma-separated client counts (default 50,500,5000; --quick: 50,500)")
    ap.add_argument("--quick", action="store_true", help="50 and 500 only, fewer repetitions (under a minute)")
    ap.add_argument("--dir", type=Path, help="where to put the temporary files (default: the system temp folder); "
                    "choose the disk your databases live on")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else ([50, 500] if args.quick else [50, 500, 5000])
    if any(n < 1 or n > 5000 for n in sizes):
        ap.error("sizes must be between 1 and 5000 (the demo generator's range)")

    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="supervision-bench-", dir=args.dir))
    try:
        env = _child_env(tmp)
        # warm-up: compile bytecode and fill the disk cache before timing anything
        log("warming up (bytecode, disk cache)")
        warm = tmp / "warm"
        warm.mkdir()
        csv_dir, _ = prepare(20, warm)
        _, db = time_import(csv_dir, warm, 1, env)
        run_in_pty([PY, "-m", "supervision_tui", "open", str(db), "--read-only"], env, marker=rows_shown(20))
        run_in_pty([PY, "-c", BARE_APP, "20"], env, marker=rows_shown(20), quit_keys=b"\x11")
        results = [bench_size(n, args.quick, tmp, env) for n in sizes]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = machine()
    lines.append(f"Run: `bench/run.py{' --quick' if args.quick else ''}"
                 f"{' --sizes ' + args.sizes if args.sizes else ''}`, {time.perf_counter() - t_all:.0f} s; "
                 f"files in {fs_of(tmp)}; first screen measured in a {COLS}×{ROWS} pseudo-terminal.")
    lines.append("")
    lines += table(results)
    lines.append("")
    g = growth(results)
    if g:
        lines.append("Cost per client (ratio 1.00 = linear, < 1 = fixed cost spread over more clients, "
                     "> 1.3 = growing faster than the caseload):")
        lines.append("")
        lines += g
        lines.append("")
    lines += verdicts(results)
    lines.append("")
    lines.append("Details:")
    for r in results:
        s, o = r["screen"], r["open"]
        lines.append(
            f"- {r['clients']:,}: {r['table_rows']:,} rows in the caseload table (closed and dropped-out hidden; "
            f"the bare app shows as many); first screen app {' / '.join(f'{x:.2f}' for x in s['app_all'])} s "
            + (f"(its first frame at {fmt_s(s['first_frame'])}; RSS then {s['cached_rss_mb']:.0f} MB), "
               if s["first_frame"] else "")
            + f"cold {' / '.join(f'{x:.2f}' for x in s['cold_all'])} s, bare "
            f"{' / '.join(f'{x:.2f}' for x in s['bare_all'])} s (bare RSS {s['bare_rss_mb']:.0f} MB); open client "
            f"median of {o['k']} {fmt_ms(o['open'])} (max {fmt_ms(o['open_max'])}), next client {fmt_ms(o['next'])}, "
            f"cursor move {fmt_ms(o['move'])}, clinician filter {fmt_ms(o['filter'])} (during these: "
            f"{o['gc2_n']} full garbage collections, longest {fmt_ms(o['gc2_max'])}); save review over "
            f"{r['save']['flags']} flags, max {r['save']['max']:.1f} ms; rules dense = bench_rules on "
            f"{r['rules_rows']:,} rows"
        )
        g = r["signals"]
        lines.append(
            f"  not on track and effectiveness (demo caseload; the first two are part of rules): reference fit "
            f"{fmt_ms(g['reference_ms'])}, the signal on every client {fmt_ms(g['signals_ms'])}, effectiveness "
            f"{fmt_ms(g['effectiveness_ms'])} (in the load worker); {g['not_on_track']} not-on-track flags"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
