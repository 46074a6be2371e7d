"""The repository documents its own formats and rules: no link leaves the
repository (a fresh clone has no ../shared), and the CSV page and
``validate --help`` name exactly the columns and values the importer
accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervision_tui import instruments, model
from supervision_tui.cli import cli
from supervision_tui.store import csv_io

REPO = Path(__file__).resolve().parents[2]
MARKDOWN = sorted(p for p in REPO.rglob("*.md") if ".venv" not in p.parts and ".git" not in p.parts
                  and "__snapshots__" not in p.parts and ".pytest_cache" not in p.parts)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CSV_PAGE = REPO / "docs" / "csv-formats.md"


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_inside_the_repository(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert REPO in path.parents or path == REPO, f"{page.name}: {target} leaves the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"


def test_the_readme_points_at_the_docs_in_the_repository():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    assert "(docs/csv-formats.md)" in readme and "(docs/clinical-rules.md)" in readme
    for name in ("csv-formats.md", "clinical-rules.md", "interchange.md"):
        assert (REPO / "docs" / name).is_file()


def _table(section: str) -> dict[str, tuple[str, str]]:
    """The column table under ``## <section>``: {column: (required, values)}."""
    text = CSV_PAGE.read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


@pytest.mark.parametrize(("section", "kind"), [("Measures", "measures"), ("Clients", "clients"), ("Goals", "goals")])
def test_the_csv_page_lists_exactly_the_importers_columns(section, kind):
    table = _table(section)
    assert list(table) == list(csv_io.COLUMNS[kind])
    required = [c for c, (req, _v) in table.items() if req == "yes"]
    assert required == list(csv_io.REQUIRED[kind])


def test_the_csv_page_names_every_accepted_value():
    measures, clients, goals = _table("Measures"), _table("Clients"), _table("Goals")
    for value in model.ATTENDANCE:
        assert f"`{value}`" in measures["attendance"][1]
    for value in model.RATERS:
        assert f"`{value}`" in measures["rater"][1]
    for value in model.RUPTURE_TYPES:
        assert f"`{value}`" in measures["rupture_type"][1]
    for value in instruments.ids():
        assert f"`{value}`" in measures["instrument"][1]
    for value in model.CLIENT_STATUSES:
        assert f"`{value}`" in clients["status"][1]
    for value in model.GOAL_AGREEMENTS:
        assert f"`{value}`" in goals["agreement"][1]
    for value in model.GOAL_STATUSES:
        assert f"`{value}`" in goals["status"][1]


def test_the_csv_page_gives_each_instruments_range():
    text = CSV_PAGE.read_text(encoding="utf-8")
    for inst in instruments.REGISTRY:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{inst.id}` |"))
        assert f"{inst.min:g}–{inst.max:g}" in row, inst.id
        assert ("| yes |" in row) == bool(getattr(inst, "integer", False)), inst.id
        assert row.rstrip(" |").endswith("higher" if inst.higher_is_better else "lower"), inst.id


def test_validate_help_names_the_columns_and_values():
    out = CliRunner().invoke(cli, ["validate", "--help"]).output
    flat = " ".join(out.split())
    for kind, columns in csv_io.COLUMNS.items():
        line = flat.split(f"{kind}:", 1)[1].split(":", 1)[0]
        for column in columns:
            star = "*" if column in csv_io.REQUIRED[kind] else ""
            assert re.search(rf"\b{column}{re.escape(star)}(,|\s|$)", line), (kind, column)
    for inst in instruments.REGISTRY:
        assert f"{inst.id} {inst.min:g}-{inst.max:g}" in flat
    for value in (*model.ATTENDANCE, *model.CLIENT_STATUSES, *model.GOAL_AGREEMENTS, *model.GOAL_STATUSES,
                  *model.RUPTURE_TYPES, *model.RATERS):
        assert value in flat, value
    assert "docs/csv-formats.md" in flat


def test_the_readme_settings_example_loads(tmp_path):
    """The README's settings example is a valid settings file: every key it
    shows exists and every value has the right type (a renamed key would
    otherwise leave the documentation quietly wrong)."""
    from supervision_tui.settings import load_settings

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Settings"):]
    block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "settings.toml"
    path.write_text(block, encoding="utf-8")
    settings = load_settings(path)
    assert settings.rupture.repair_window == 6
    assert settings.risk.expire_days == 0
