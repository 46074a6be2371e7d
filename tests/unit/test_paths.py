"""paths: the one home of the config, data and cache folders."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from supervision_tui import paths


@pytest.mark.parametrize(
    ("func", "env_name", "platform"),
    [
        (paths.config_dir, paths.CONFIG_DIR_ENV, platformdirs.user_config_dir),
        (paths.data_dir, paths.DATA_DIR_ENV, platformdirs.user_data_dir),
        (paths.cache_dir, paths.CACHE_DIR_ENV, platformdirs.user_cache_dir),
    ],
)
def test_each_folder_has_its_variable_else_the_platform_folder(func, env_name, platform, tmp_path, monkeypatch):
    assert func({env_name: str(tmp_path / "x")}) == tmp_path / "x"
    assert func({env_name: "~/elsewhere"}) == Path("~/elsewhere").expanduser()
    assert func({env_name: ""}) == Path(platform("supervision-tui"))  # empty: not set
    assert func({}) == Path(platform("supervision-tui"))
    monkeypatch.setenv(env_name, str(tmp_path / "env"))
    assert func() == tmp_path / "env"  # default: the process environment
    monkeypatch.delenv(env_name)
    assert func() == Path(platform("supervision-tui"))


def test_files_and_subfolders_live_in_their_folder(tmp_path):
    env = {paths.CONFIG_DIR_ENV: str(tmp_path / "c"), paths.DATA_DIR_ENV: str(tmp_path / "d")}
    assert paths.settings_file(env) == tmp_path / "c" / "settings.toml"
    assert paths.themes_dir(env) == tmp_path / "c" / "themes"
    assert paths.exports_dir(env) == tmp_path / "d"
    assert paths.screenshots_dir(env) == tmp_path / "d" / "screenshots"


def test_computing_a_path_creates_nothing(tmp_path):
    env = {name: str(tmp_path / name) for name in (paths.CONFIG_DIR_ENV, paths.DATA_DIR_ENV, paths.CACHE_DIR_ENV)}
    for func in (paths.config_dir, paths.data_dir, paths.cache_dir, paths.settings_file, paths.themes_dir,
                 paths.exports_dir, paths.screenshots_dir):
        func(env)
    assert list(tmp_path.iterdir()) == []


def test_no_other_module_reads_the_folder_variables_or_platformdirs():
    """One home: the environment variables and platformdirs appear in
    ``paths`` only."""
    root = Path(paths.__file__).parent
    offenders = []
    for p in sorted(root.rglob("*.py")):
        if p.name == "paths.py" and p.parent == root:
            continue
        text = p.read_text(encoding="utf-8")
        for needle in ("SUPERVISION_TUI_CONFIG_DIR", "SUPERVISION_TUI_DATA_DIR", "SUPERVISION_TUI_CACHE_DIR",
                       "import platformdirs", "platformdirs."):
            if needle in text:
                offenders.append(f"{p.relative_to(root)}: {needle}")
    assert not offenders, offenders
