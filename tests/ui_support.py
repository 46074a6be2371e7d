"""Shared fixtures and helpers of the UI tests (tests/test_ui_*.py,
tests/test_snapshots.py): a small deterministic demo database, the app
factory with fixed theme/date, and a frozen cursor blink."""

from __future__ import annotations

import asyncio
import functools
from datetime import date
from pathlib import Path

import pytest
from rich.text import Text

from supervision_tui.settings import Settings
from supervision_tui.store.demo import scenario_clients, write_demo
from supervision_tui.ui import app as app_module
from supervision_tui.ui.app import SupervisionApp, build_app

SEED = 2026
N_CLIENTS = 18
AS_OF = date(2026, 11, 20)
SMALL = (80, 24)
LARGE = (160, 48)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "demo.json"
    write_demo(path, seed=SEED, n_clients=N_CLIENTS)
    return path


@pytest.fixture(scope="session")
def scenarios() -> dict[str, str]:
    """scenario key -> client code, e.g. scenarios["risk"] == "C-0122"."""
    return scenario_clients(SEED, N_CLIENTS)


@pytest.fixture(autouse=True)
def _frozen_cursor(monkeypatch):
    """No blinking cursor: snapshots and timings stay stable."""
    real = app_module.terminal_settings

    def settings(ssh=None, env=None):
        out = dict(real(False if ssh is None else ssh, env))
        out["cursor_blink"] = False
        return out

    monkeypatch.setattr(app_module, "terminal_settings", settings)


def async_test(fn):
    """Run an ``async def`` test with asyncio (no pytest-asyncio here)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def make_app(db: Path, **kwargs) -> SupervisionApp:
    kwargs.setdefault("theme", "textual-dark")
    kwargs.setdefault("as_of", AS_OF)
    kwargs.setdefault("ssh", False)
    settings = kwargs.pop("settings", None) or Settings()
    return build_app(db, settings, **kwargs)


async def loaded(pilot) -> None:
    """Wait for the load worker and the screens to refresh."""
    app = pilot.app
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.data is not None or app.load_error:
            break
    await pilot.pause()


def plain(value) -> str:
    if isinstance(value, Text):
        return value.plain
    return str(value)


def static_text(widget) -> str:
    """The text a Static shows (Text, str or a Rich Group of them)."""
    content = widget.content if hasattr(widget, "content") else widget.renderable
    return renderable_text(content)


def renderable_text(r) -> str:
    from rich.console import Group
    from rich.padding import Padding

    if isinstance(r, Group):
        return "\n".join(renderable_text(x) for x in r.renderables)
    if isinstance(r, Padding):
        return renderable_text(r.renderable)
    if isinstance(r, Text):
        return r.plain
    if hasattr(r, "plain"):
        return r.plain
    return str(r)


def table_column(table, key: str) -> list[str]:
    return [plain(v) for v in table.get_column(key)]


def shown_columns(table) -> list[str]:
    return [c.key.value for c in table.ordered_columns]
