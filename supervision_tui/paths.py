"""Where supervision-tui keeps its own files: the one home of the user's
config, data and cache folders and of the environment variables that move
them (tests, portable use, a shared server).

=========================  ======================================  ==============================
folder                     default (``platformdirs``)              override
=========================  ======================================  ==============================
config: settings, themes   the user config folder                  ``SUPERVISION_TUI_CONFIG_DIR``
data: demo copy, exports,  the user data folder                    ``SUPERVISION_TUI_DATA_DIR``
screenshots
cache: triage cache        the user cache folder                   ``SUPERVISION_TUI_CACHE_DIR``
=========================  ======================================  ==============================

The functions only compute paths: they create nothing (folders are created
0o700 when something is first written there, by ``store.files``). Each one
takes an optional ``env`` mapping (default ``os.environ``) so tests need not
touch the process environment. ``platformdirs`` is imported only when no
override is set (it is not needed on the start-up path otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "supervision-tui"

CONFIG_DIR_ENV = "SUPERVISION_TUI_CONFIG_DIR"
DATA_DIR_ENV = "SUPERVISION_TUI_DATA_DIR"
CACHE_DIR_ENV = "SUPERVISION_TUI_CACHE_DIR"

SETTINGS_FILE = "settings.toml"


def _folder(env_name: str, platform_dir: str, env: Mapping[str, str] | None) -> Path:
    override = (os.environ if env is None else env).get(env_name)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(getattr(platformdirs, platform_dir)(APP_NAME))


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Settings and user theme files: ``$SUPERVISION_TUI_CONFIG_DIR``, else
    the platform's user config folder."""
    return _folder(CONFIG_DIR_ENV, "user_config_dir", env)


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The demo copy, agenda and audit exports, screenshots:
    ``$SUPERVISION_TUI_DATA_DIR``, else the platform's user data folder."""
    return _folder(DATA_DIR_ENV, "user_data_dir", env)


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The triage cache: ``$SUPERVISION_TUI_CACHE_DIR``, else the platform's
    user cache folder (never the database's folder)."""
    return _folder(CACHE_DIR_ENV, "user_cache_dir", env)


def settings_file(env: Mapping[str, str] | None = None) -> Path:
    """``<config>/settings.toml``: read when no ``--config`` is given."""
    return config_dir(env) / SETTINGS_FILE


def themes_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<config>/themes``: the user's own theme files."""
    return config_dir(env) / "themes"


def exports_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the dashboard's agenda and audit exports go (``<data>``)."""
    return data_dir(env)


def screenshots_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<data>/screenshots``: the dashboard's SVG screenshots."""
    return data_dir(env) / "screenshots"
