"""launch.py: the loader's workers forked before the CLI is imported, for a
plain ``open`` only, and used only for exactly what ``open`` asks."""

from __future__ import annotations

import os
import signal
from datetime import date

import pytest

from supervision_tui.ui import loader
from supervision_tui.launch import early_open
from supervision_tui.settings import Settings


@pytest.mark.parametrize("argv,expected", [
    (["db.json"], ("db.json", None, None, None)),
    (["open", "db.json"], ("db.json", None, None, None)),
    (["db.json", "--read-only", "--as-of", "2026-01-05", "--config=c.toml"], ("db.json", "c.toml", "2026-01-05", None)),
    (["--theme", "clinic-light", "open"], ("open", None, None, None)),  # (as click reads it: a database named "open")
    (["open", "--all", "--clinician", "T1", "db.json", "--no-ssh"], ("db.json", None, None, "T1")),
    (["open"], None),  # the demo
    ([], None),
    (["import", "db.json", "m.csv"], None),
    (["db.json", "--help"], None),
    (["db.json", "--unknown"], None),
    (["db.json", "other.json"], None),
    (["db.json", "--as-of"], None),
])
def test_only_a_plain_open_is_recognised(argv, expected):
    assert early_open(argv) == expected


def test_early_workers_are_used_only_for_the_same_request(tmp_path, monkeypatch):
    killed = []
    started = []

    class FakeHandle:
        def __init__(self, req):
            self.request = req

        def kill(self):
            killed.append(self.request)

    monkeypatch.setattr(loader, "prestart", lambda req: started.append(req) or FakeHandle(req))
    req = loader.LoadRequest(str(tmp_path / "db.json"), Settings(), date(2026, 1, 5))
    loader.prestart_early(req)
    got = loader.take_early(loader.LoadRequest(str(tmp_path / "db.json"), Settings(), date(2026, 1, 5)))
    assert got is not None and got.request is req and killed == []
    assert loader.take_early(req) is None  # taken once
    loader.prestart_early(req)
    assert loader.take_early(loader.LoadRequest(str(tmp_path / "db.json"), Settings(), None)) is None
    assert killed == [req]  # another as-of date: the early workers are stopped
