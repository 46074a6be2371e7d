"""bench/compare.py: interleaved cold starts of copies of the code, each run
from its own folder (the code of that folder, not the project's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / "compare.py"), *args], capture_output=True,
                          text=True, timeout=300)


def test_each_tree_runs_its_own_code(tmp_path):
    """Two copies of the package, one with a marker in its loader's trace:
    only that copy's starts carry it (a start run from the project folder
    would not)."""
    from supervision_tui.demo import generate_demo
    from supervision_tui.store.database import Database

    db = Database(tmp_path / "demo.json")
    db.replace_caseload(generate_demo(5, n_clients=20, sessions=5))
    plain, marked = tmp_path / "plain", tmp_path / "marked"
    for tree in (plain, marked):
        tree.mkdir()
        subprocess.run(["cp", "-r", str(REPO / "supervision_tui"), str(tree)], check=True)
    loader = marked / "supervision_tui" / "ui" / "loader.py"
    text = loader.read_text()
    assert 'trace(f"worker {part} start")' in text
    loader.write_text(text.replace('trace(f"worker {part} start")', 'trace(f"worker {part} start MARKED")'))

    sys.path.insert(0, str(REPO / "bench"))
    import compare

    seen: dict[str, list[str]] = {}
    real = compare.bench.app_start

    def app_start(db_path, rows, env, folder, cache, tag):
        start = real(db_path, rows, env, folder, cache, tag)
        seen.setdefault(str(compare.bench.ROOT), []).extend(line for _t, line in start["timeline"])
        return start

    compare.bench.app_start = app_start
    try:
        assert compare.main([str(db.path), str(plain), str(marked), "--reps", "1"]) == 0
    finally:
        compare.bench.app_start = real
    assert not any("MARKED" in line for line in seen[str(plain)])
    assert any("MARKED" in line for line in seen[str(marked)])
    assert compare.bench.ROOT == REPO  # (put back)


def test_a_folder_without_the_package_is_refused(tmp_path):
    (tmp_path / "db.json").write_text("{}")
    r = _compare(str(tmp_path / "db.json"), str(tmp_path))
    assert r.returncode == 2 and "no supervision_tui package" in r.stderr
