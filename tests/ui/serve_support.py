"""A real ``supervision-tui serve`` process on a free port, for the serve
tests (tests/ui/test_serve*.py): started as a subprocess, its output read
as it comes, its address (with the token) taken from the line it prints."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SERVING = re.compile(r"Serving the dashboard at (http://\S+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SUPERVISION_TUI_DATA_DIR": str(tmp_path / "data"),
            "SUPERVISION_TUI_CONFIG_DIR": str(tmp_path / "config"),
            "SUPERVISION_TUI_CACHE_DIR": str(tmp_path / "cache")}


class ServeProcess:
    """``python -m supervision_tui serve ARGS --port PORT`` until ``stop``.

    ``url`` (with ``?token=``), ``base`` (``http://127.0.0.1:PORT``) and
    ``token`` come from the "Serving the dashboard at …" line; ``stdout`` and
    ``stderr`` hold everything printed so far.
    """

    def __init__(self, tmp_path: Path, *args: str, port: int | None = None):
        self.port = free_port() if port is None else port
        self.args = [sys.executable, "-m", "supervision_tui", "serve", *args, "--port", str(self.port)]
        self.env = serve_env(tmp_path)
        self.proc: subprocess.Popen | None = None
        self._out: list[str] = []
        self._err: list[str] = []
        self._lines = threading.Condition()
        self.url = self.base = self.token = ""
        #: what the port did at the moment the "Serving" line was read: True = accepted a connection
        self.port_open_when_announced: bool | None = None

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def _read(self, stream, sink: list[str]) -> None:
        for line in iter(stream.readline, ""):
            with self._lines:
                sink.append(line)
                if self.port_open_when_announced is None and SERVING.search(line):
                    self.port_open_when_announced = _connects(self.port)
                self._lines.notify_all()
        stream.close()

    def start(self, timeout: float = 60) -> "ServeProcess":
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env, text=True)
        for stream, sink in ((self.proc.stdout, self._out), (self.proc.stderr, self._err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()
        deadline = time.monotonic() + timeout
        with self._lines:
            while not (match := SERVING.search(self.stdout + self.stderr)):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self._lines.wait(0.5)  # let the readers catch the last lines
                    raise AssertionError(f"serve did not announce itself (exit {self.proc.poll()}):\n"
                                         f"{self.stdout}\n{self.stderr}")
                self._lines.wait(0.2)
        self.url = match.group(1)
        parts = urlsplit(self.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.token = parse_qs(parts.query)["token"][0]
        return self

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.1)
        return self.proc.returncode

    def __enter__(self) -> "ServeProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
