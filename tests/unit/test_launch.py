"""launch.py: the loader's workers forked before the CLI is imported, for a
plain ``open`` only, and used only for exactly what ``open`` asks."""

from __future__ import annotations

import os
import signal
from datetime import date

import pytest

from supervision_tui.ui import loader
from supervision_tui.launch import early_open
from supervision_tui.settings import Settings


@pytest.mark.parametrize("argv,expected", [
    (["db.json"], ("db.json", None, None, None)),
    (["open", "db.json"], ("db.json", None, None, None)),
    (["db.json", "--read-only", "--as-of", "2026-01-05", "--config=c.toml"], ("db.json", "c.toml", "2026-01-05", None)),
    (["--theme", "clinic-light", "open"], ("open", None, None, None)),  # (as click reads it: a database named "open")
    (["open", "--all", "--clinician", "T1", "db.json", "--no-ssh"], ("db.json", None, None, "T1")),
    (["open"], None),  # the demo
    ([], None),
    (["import", "db.json", "m.csv"], None),
    (["db.json", "--help"], None),
    (["db.json", "--unknown"], None),
    (["db.json", "other.json"], None),
    (["db.json", "--as-of"], None),
])
def test_only_a_plain_open_is_recognised(argv, expected):
    assert early_open(argv) == expected


def test_early_workers_are_used_only_for_the_same_request(tmp_path, monkeypatch):
    killed = []
    started = []

    class FakeHandle:
        def __init__(self, req):
            self.request = req

        def kill(self):
            killed.append(self.request)

    monkeypatch.setattr(loader, "prestart", lambda req: started.append(req) or FakeHandle(req))
    req = loader.LoadRequest(str(tmp_path / "db.json"), Settings(), date(2026, 1, 5))
    loader.prestart_early(req)
    got = loader.take_early(loader.LoadRequest(str(tmp_path / "db.json"), Settings(), date(2026, 1, 5)))
    assert got is not None and got.request is req and killed == []
    assert loader.take_early(req) is None  # taken once
    loader.prestart_early(req)
    assert loader.take_early(loader.LoadRequest(str(tmp_path / "db.json"), Settings(), None)) is None
    assert killed == [req]  # another as-of date: the early workers are stopped


_PRESTART = """
import json, os, sys
from supervision_tui.ui import loader
before = set(sys.modules)
handle = loader.prestart(loader.LoadRequest(sys.argv[1], None, None, use_cache=False))
import fcntl
pipes = [fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) for fd in handle.fds]
imported = sorted(m for m in loader._ANALYSIS_MODULES if m not in before and m in sys.modules)
r = loader.receive(handle)
print(json.dumps({"nice": [w["nice"] for w in r.stats["workers"]], "imported": imported,
                  "mine": os.getpriority(os.PRIO_PROCESS, 0), "clients": len(r.analyses), "pipes": pipes}))
"""


def _demo_db(tmp_path):
    from supervision_tui.demo import generate_demo
    from supervision_tui.store.database import Database

    db = Database(tmp_path / "demo.json")
    db.replace_caseload(generate_demo(4, n_clients=24, sessions=6))
    return db.path


@pytest.mark.skipif(not hasattr(os, "fork"), reason="prestart forks: POSIX only")
def test_prestarted_workers_inherit_the_analysis_imports_and_run_nicer(tmp_path):
    """``prestart`` (run in a fresh process, as launch.py runs it: no thread)
    imports the analysis modules before it forks, and its workers run
    ``WORKER_NICE`` nicer than the app."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PRESTART, str(_demo_db(tmp_path))], capture_output=True,
                         text=True, check=True, timeout=120)
    got = json.loads(out.stdout)
    assert got["clients"] == 24
    assert got["imported"] == sorted(loader._ANALYSIS_MODULES)  # in the app's process, before the fork
    assert got["nice"] == [min(19, got["mine"] + loader.WORKER_NICE)] * loader.WORKERS
    if sys.platform.startswith("linux"):  # the workers' pipes hold PIPE_BYTES (the default is 64 KiB)
        assert got["pipes"] == [loader.PIPE_BYTES] * loader.WORKERS


def test_spawned_workers_run_nicer_than_the_app(tmp_path):
    """A reload's workers (new interpreters) lower their priority too, and
    write to pipes of ``PIPE_BYTES``."""
    import sys

    handle = loader.spawn(loader.LoadRequest(str(_demo_db(tmp_path)), None, None, use_cache=False))
    if sys.platform.startswith("linux"):
        import fcntl

        assert [fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) for fd in handle.fds] == [loader.PIPE_BYTES] * loader.WORKERS
    r = loader.receive(handle)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert [w["nice"] for w in r.stats["workers"]] == [min(19, mine + loader.WORKER_NICE)] * loader.WORKERS
    assert len(r.analyses) == 24
