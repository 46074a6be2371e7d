"""Fixtures of the UI tests (tests/ui): a small deterministic demo
database, its scenario clients, and a frozen cursor blink. Helpers that
tests call (the app factory, text extraction) are in ``ui_support``."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervision_tui.demo import scenario_clients, write_demo
from supervision_tui.ui import app as app_module
from ui_support import AS_OF, N_CLIENTS, SEED


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "demo.json"
    write_demo(path, seed=SEED, n_clients=N_CLIENTS)
    return path


@pytest.fixture(scope="module")
def demo40(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The bundled demo's size (40 clients and 40 past ones: every outcome
    instrument has a clinic reference; not on track, deteriorated, a risk
    client not seen since), and its scenario clients. One per test module
    (tests save reviews in it)."""
    path = tmp_path_factory.mktemp("demo40") / "demo.json"
    write_demo(path, seed=2026, n_clients=40)
    return path, scenario_clients(2026, 40)


@pytest.fixture(scope="session")
def scenarios() -> dict[str, str]:
    """scenario key -> client code, e.g. scenarios["risk"] == "C-0122"."""
    return scenario_clients(SEED, N_CLIENTS)


@pytest.fixture(autouse=True)
def _reviews_made_on_the_as_of_day(monkeypatch):
    """The app's day is pinned with --as-of (ui_support.AS_OF): reviews the
    tests write are made on that day, as at a meeting on it (--as-of shows
    the reviews made by the end of its day, and a past day is read-only)."""
    from supervision_tui.store import reviews

    monkeypatch.setattr(reviews, "_utc_now", lambda: f"{AS_OF.isoformat()}T12:00:00+00:00")


@pytest.fixture(autouse=True)
def _frozen_cursor(monkeypatch):
    """No blinking cursor: snapshots and timings stay stable."""
    real = app_module.terminal_settings

    def settings(ssh=None, env=None):
        out = dict(real(False if ssh is None else ssh, env))
        out["cursor_blink"] = False
        return out

    monkeypatch.setattr(app_module, "terminal_settings", settings)
