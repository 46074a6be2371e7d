"""Structure and project-level promises: the domain core never imports the
UI framework, the package has no import cycle, the layers hold, and CI
runs exactly the README's test command."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "supervision_tui"
CORE = ["model.py", "instruments.py", "settings.py", "errors.py", "paths.py", "rules", "store", "reports",
        "service", "demo"]
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
        "'supervision_tui.store.database', 'supervision_tui.store.csv_io', 'supervision_tui.reports.tables', "
        "'supervision_tui.service.reviews', 'supervision_tui.service.exports', 'supervision_tui.store.settings_file', "
        "'supervision_tui.ui.loading', 'supervision_tui.ui.filters']:\n"
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


# --- import cycles ------------------------------------------------------------------------------


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph(pkg: Path = PKG) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, from the source: every
    ``import``/``from … import`` anywhere in the file (inside functions and
    methods too), relative ones resolved; ``from pkg import module`` counts
    as importing the module. Only ``if TYPE_CHECKING:`` blocks are left out:
    they never run (annotations only)."""
    modules = {_module_name(p, pkg.parent): p for p in pkg.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()

        def visit(node: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child):
                    for other in child.orelse:
                        visit(other)
                    continue
                if isinstance(child, ast.Import):
                    found.update(filter(None, (known(a.name) for a in child.names)))
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                        base = ".".join(parts + ([child.module] if child.module else []))
                    for a in child.names:
                        full = f"{base}.{a.name}"
                        target = full if full in modules else known(base)
                        if target:
                            found.add(target)
                visit(child)

        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        graph[name] = {m for m in found if m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, …, a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = walk(start)
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "supervision_tui.ui.app" in graph["supervision_tui.cli"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one_inside_a_function(tmp_path):
    """The check itself: a cycle closed by an import inside a function is
    found; one closed only under TYPE_CHECKING is not."""
    pkg = tmp_path / "demo_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from demo_pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from demo_pkg.a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("from . import c\n")
    graph = import_graph(pkg)
    assert graph["demo_pkg.b"] == {"demo_pkg.a"} and graph["demo_pkg.c"] == set()
    assert find_cycle(graph) == ["demo_pkg.a", "demo_pkg.b", "demo_pkg.a"]


WRITES = re.compile(r"os\.(replace|rename|open|mkdir|makedirs)\(|\btempfile\.|\.write_(text|bytes)\(|\.mkdir\(|"
                    r"\bopen\([^)]*[\'\"][wax]b?\+?[\'\"]")


def test_store_files_is_the_only_module_that_writes_files():
    """Privacy and atomicity live in one place: every file and folder the
    product creates goes through ``store/files.py`` (0o600/0o700, atomic
    replace). Lock files are ``filelock``'s (created 0o600 by the database)."""
    offenders = []
    for p in sorted(PKG.rglob("*.py")):
        if p == PKG / "store" / "files.py":
            continue
        lines = p.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Call):
                call = lines[node.lineno - 1][node.col_offset:node.col_offset + 80]
                if WRITES.search(call):
                    offenders.append(f"{p.relative_to(ROOT)}:{node.lineno}: {call.strip()}")
    assert not offenders, "\n".join(offenders)


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
        "from supervision_tui.ui import loader\n"
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


_REFLECTION = {"getattr", "hasattr", "setattr", "delattr"}


def app_by_name(source: str) -> list[tuple[int, str]]:
    """(line, attribute) of each ``getattr``/``hasattr``/``setattr``/``delattr``
    with a literal attribute name on the app: ``app``, ``self.app``, ``node.app``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _REFLECTION
                and len(node.args) >= 2):
            continue
        target, name = node.args[0], node.args[1]
        on_app = (isinstance(target, ast.Name) and target.id == "app") or (
            isinstance(target, ast.Attribute) and target.attr == "app")
        if on_app and isinstance(name, ast.Constant) and isinstance(name.value, str):
            found.append((node.lineno, name.value))
    return found


def test_the_ui_reaches_the_app_by_type_not_by_attribute_name():
    """Screens and widgets reach ``SupervisionApp`` through the typed
    accessor (``ui.context.app_of`` / ``self.sup``), never by looking an
    attribute up by its name: a renamed app attribute then breaks loudly
    (and in a type checker) instead of silently taking a default."""
    offenders = [f"{p.relative_to(ROOT)}:{line}: {attr!r}"
                 for p in sorted((PKG / "ui").rglob("*.py"))
                 for line, attr in app_by_name(p.read_text(encoding="utf-8"))]
    assert not offenders, "string attribute lookups on the app:\n" + "\n".join(offenders)


def test_the_app_attribute_lookup_finder_finds_them():
    """The check itself: each form is found; other objects, and a name
    that is not a literal, are not."""
    source = ('getattr(self.app, "data", None)\nhasattr(app, "glyphs")\nsetattr(node.app, "x", 1)\n'
              'getattr(self, "data", None)\ngetattr(self.app, name)\ngetattr(self.apps, "x")\n')
    assert app_by_name(source) == [(1, "data"), (2, "glyphs"), (3, "x")]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def test_no_message_says_item_s():
    """Counts read "1 client", "2 clients" (``wording.count``), never
    "client(s)": no string the program shows (docstrings aside) has "(s)"."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                if re.search(r"\w\(s\)", node.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []
