"""Structure and project-level promises: the domain core never imports the
UI framework, and CI runs exactly the README's test command."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "supervision_tui"
CORE = ["model.py", "instruments.py", "settings.py", "errors.py", "rules", "store", "reports"]
FORBIDDEN = ("textual", "textual_plotext", "plotext", "supervision_tui.ui")


def _core_files():
    for name in CORE:
        p = PKG / name
        if p.is_dir():
            yield from sorted(p.rglob("*.py"))
        elif p.exists():
            yield p


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_core_modules_never_import_the_ui():
    files = list(_core_files())
    assert len(files) >= 3, "core modules not found: the layout changed?"
    bad = [
        f"{p.relative_to(ROOT)}:{line}: imports {mod}"
        for p in files
        for line, mod in _imports(p)
        if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert not bad, "\n".join(bad)


def test_importing_the_core_does_not_load_textual():
    code = (
        "import sys, importlib\n"
        "for m in ['supervision_tui.model', 'supervision_tui.rules.engine', "
        "'supervision_tui.store.database', 'supervision_tui.store.csv_io', 'supervision_tui.reports.tables']:\n"
        "    importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'plotext', 'textual_plotext')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_import_linter_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), "import-linter is a test dependency"
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _readme_block_after(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    idx = text.index(heading)
    m = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text[idx:], re.S)
    assert m, f"no code block after {heading!r}"
    return m.group(1).strip()


def test_ci_runs_the_readme_test_command():
    readme_cmd = _readme_block_after("Run the tests")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # the README gives one chained line; CI runs the same parts (split only
    # to report pytest's exit 5 clearly)
    for part in readme_cmd.split("&&"):
        part = part.strip()
        assert part.replace(" -q", "") in ci.replace(" -q", ""), f"CI does not run: {part}"


def test_the_loader_and_its_workers_do_not_load_textual(tmp_path):
    """The loader's workers are forked before Textual is imported (cli.py
    ``open``) and must stay light: nothing of the UI framework, even once a
    worker has done its work."""
    code = (
        "import os, sys\n"
        "from supervision_tui import loader\n"
        "from supervision_tui.store.database import Database\n"
        "from supervision_tui.demo import generate_demo\n"
        f"db = Database({str(tmp_path / 'c.json')!r}); db.replace_caseload(generate_demo(1, n_clients=12))\n"
        "r, w = os.pipe()\n"
        "stats = {'part': 0, 'clients': 0, 'analysed': 0, 'cached': 0}\n"
        "import threading\n"
        "t = threading.Thread(target=lambda: [os.read(r, 1 << 20) for _ in iter(int, 1)], daemon=True)\n"
        "t.start()\n"
        "loader._work(loader.LoadRequest(str(db.path), use_cache=False, workers=1), 0, 1, w, stats)\n"
        "assert stats['analysed'] == 12, stats\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'plotext', 'textual_plotext')))\n"
    )
    env = {"SUPERVISION_TUI_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=env)
    assert out.stdout.strip() == "[]", out.stdout
