"""Helpers of the UI tests (tests/ui): the app factory with fixed
theme/date, waiting for the load, and text extraction. The fixtures are
in ``conftest.py`` beside this file."""

from __future__ import annotations

import asyncio
import functools
from datetime import date
from pathlib import Path

from rich.text import Text

from supervision_tui.settings import Settings
from supervision_tui.ui.app import SupervisionApp, build_app

SEED = 2026
N_CLIENTS = 18
AS_OF = date(2026, 11, 20)
SMALL = (80, 24)
LARGE = (160, 48)


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


async def settle(pilot) -> None:
    """Wait until the app's workers are done and the screens refreshed."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_client(pilot, code: str):
    """Open client ``code``'s screen and wait for it (asserts it is shown)."""
    from supervision_tui.ui.screens.client import ClientScreen

    pilot.app.show_client(code)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ClientScreen) and screen.code == code
    return screen


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
