"""Test-wide safety: no test reads or writes the real user's settings,
themes, demo copy, screenshots or triage cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_user_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("SUPERVISION_TUI_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("SUPERVISION_TUI_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("SUPERVISION_TUI_CACHE_DIR", str(base / "cache"))
    for var in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(var, raising=False)
    # one terminal for every test, whatever runs the suite (a 16-colour TERM=xterm or NO_COLOR makes the
    # app choose its ANSI themes: tests that are about that set it themselves)
    monkeypatch.setenv("TERM", "xterm-256color")
    for var in ("NO_COLOR", "COLORTERM", "TEXTUAL_COLOR_SYSTEM"):
        monkeypatch.delenv(var, raising=False)
