"""``supervision-tui serve``: textual-serve on localhost, loud when exposed."""

from __future__ import annotations

import asyncio
import io
import os
import shlex
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from supervision_tui.ui import serve as serve_module
from supervision_tui.errors import UserError
from supervision_tui.ui.serve import app_command, is_local, serve


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "case load.json"  # a space: the command must be quoted
    path.write_text("{}", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISION_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUPERVISION_TUI_CONFIG_DIR", str(tmp_path / "config"))


class FakeServer:
    """Stands in for textual_serve.server.Server: records, serves nothing."""

    instances: list["FakeServer"] = []

    def __init__(self, command, host="localhost", port=8000, title=None, public_url=None, **kw):
        self.command, self.host, self.port, self.title, self.public_url = command, host, port, title, public_url
        self.kw = kw
        self.served = False
        FakeServer.instances.append(self)

    def serve(self, debug=False):
        self.served = True


@pytest.fixture
def fake_server(monkeypatch):
    FakeServer.instances = []
    module = types.ModuleType("textual_serve.server")
    module.Server = FakeServer
    monkeypatch.setitem(sys.modules, "textual_serve.server", module)
    return FakeServer


# --------------------------------------------------------------------------
# The real thing: a subprocess answering HTTP on 127.0.0.1


def test_serve_answers_http_200_on_localhost(db, tmp_path):
    port = free_port()
    env = {**os.environ, "SUPERVISION_TUI_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervision_tui", "serve", str(db), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    status, body, error = None, "", None
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    status, body = response.status, response.read().decode("utf-8", "replace")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                error = err
                time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert status == 200, f"no answer from {url}: {error}; stderr: {stderr.decode(errors='replace')}"
    assert f"127.0.0.1:{port}" in body  # the page connects back to the same address
    assert b"WARNING" not in stderr  # localhost: no exposure warning
    assert_nothing_external(body, f"http://127.0.0.1:{port}/")


def assert_nothing_external(page: str, own: str) -> None:
    """The served page loads nothing from anywhere but the server itself
    (textual-serve's own page fetches a web font from fonts.googleapis.com)."""
    import re

    assert "https://" not in page
    assert "fonts.googleapis" not in page and "@import" not in page
    loaded = re.findall(r"""<[a-z]+\s[^>]*?\b(?:src|href)\s*=\s*["']([^"']*)["']""", page, re.I)  # tags
    loaded += re.findall(r"""\burl\(\s*["']?([^"')]*)""", page)  # CSS
    assert loaded and all(u.startswith(own) for u in loaded), loaded


def test_browser_tab_gets_the_dashboard_of_the_demo_copy(tmp_path):
    """End to end: no DB serves the private demo copy; a browser's websocket
    starts ``supervision-tui open`` and receives the caseload screen."""
    import aiohttp

    port = free_port()
    env = {**os.environ, "SUPERVISION_TUI_DATA_DIR": str(tmp_path / "data"),
           "SUPERVISION_TUI_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervision_tui", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )

    async def browse() -> bytes:
        received = b""
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 10
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        assert response.status == 200
                    break
                except aiohttp.ClientConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    await asyncio.sleep(0.2)
            async with session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=100&height=30") as ws:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and b"Caseload" not in received:
                    try:
                        message = await ws.receive(timeout=2)
                    except asyncio.TimeoutError:
                        continue
                    if message.type == aiohttp.WSMsgType.BINARY:
                        received += message.data
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        received += message.data.encode()
                    else:
                        break
        return received

    try:
        received = asyncio.run(browse())
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert b"Caseload" in received, stderr.decode(errors="replace")[-2000:]
    assert (tmp_path / "data").is_dir()  # the demo copy went to the private data dir
    assert b"Serving the demo caseload" in stderr


def test_serve_refuses_a_port_in_use(db, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "supervision_tui", "serve", str(db), "--port", str(port)],
            capture_output=True, text=True, timeout=20,
        )
    assert proc.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------
# Exposure warning


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "clinic-server.example.org"])
def test_non_local_host_warns_on_stderr(db, fake_server, host):
    err = io.StringIO()
    serve(db, host=host, port=8123, stderr=err)
    text = err.getvalue()
    assert text.startswith("WARNING")
    assert "no authentication" in text and "anyone who can reach" in text and "caseload" in text
    assert f"{host}:8123" in text
    assert fake_server.instances[-1].host == host and fake_server.instances[-1].served


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "LOCALHOST"])
def test_local_hosts_do_not_warn(db, fake_server, host):
    err = io.StringIO()
    serve(db, host=host, port=8123, stderr=err)
    assert err.getvalue() == ""
    assert is_local(host)


def test_default_binding_is_localhost(db, fake_server):
    serve(db, stderr=io.StringIO())
    server = fake_server.instances[-1]
    assert (server.host, server.port) == ("127.0.0.1", 8000)


def test_cli_serve_defaults_to_localhost_and_warns_otherwise(db, fake_server):
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(db)])
    assert result.exit_code == 0, result.output
    assert fake_server.instances[-1].host == "127.0.0.1"
    result = CliRunner().invoke(cli, ["serve", str(db), "--host", "0.0.0.0", "--port", "9001"])
    assert result.exit_code == 0
    assert "WARNING" in result.output and "no authentication" in result.output


# --------------------------------------------------------------------------
# The command each browser tab runs


def test_app_command_runs_this_python_on_the_database(db, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("", encoding="utf-8")
    args = shlex.split(app_command(db, config, read_only=True))
    assert args[:4] == [sys.executable, "-m", "supervision_tui", "open"]
    assert args[4] == str(db.resolve())
    assert "--no-ssh" in args  # a browser tab is not an SSH terminal
    assert args[args.index("--config") + 1] == str(config.resolve())
    assert "--read-only" in args
    plain = shlex.split(app_command(db))
    assert "--read-only" not in plain and "--config" not in plain


def test_serve_passes_the_command_to_textual_serve(db, fake_server):
    serve(db, read_only=True, stderr=io.StringIO())
    server = fake_server.instances[-1]
    assert server.command == app_command(db, None, True)
    assert server.title == "supervision-tui"


def test_no_database_serves_the_private_demo_copy(tmp_path, fake_server, monkeypatch):
    demo = tmp_path / "data" / "demo.json"
    demo.parent.mkdir(parents=True)
    demo.write_text("{}", encoding="utf-8")
    fake_demo = types.ModuleType("supervision_tui.demo")
    fake_demo.private_demo_copy = lambda: (demo, True)
    monkeypatch.setitem(sys.modules, "supervision_tui.demo", fake_demo)
    err = io.StringIO()
    serve(None, stderr=err)
    assert str(demo.resolve()) in shlex.split(fake_server.instances[-1].command)
    assert "demo caseload" in err.getvalue()


# --------------------------------------------------------------------------
# Errors are UserErrors


def test_missing_textual_serve_says_how_to_install(db, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # import fails
    with pytest.raises(UserError) as err:
        serve(db)
    assert "pip install 'supervision-tui[serve]'" in str(err.value)


def test_cli_without_textual_serve_exits_1_with_the_hint(db, monkeypatch):
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    result = CliRunner().invoke(cli, ["serve", str(db)])
    assert result.exit_code == 1
    assert "supervision-tui[serve]" in result.output
    assert "Traceback" not in result.output


def test_missing_database_is_a_user_error(tmp_path, fake_server):
    with pytest.raises(UserError, match="no such database"):
        serve(tmp_path / "nope.json")
    assert fake_server.instances == []


def test_missing_config_is_a_user_error(db, tmp_path, fake_server):
    with pytest.raises(UserError, match="no such settings file"):
        serve(db, config=tmp_path / "nope.toml")


def test_bad_port_is_a_user_error(db, fake_server):
    with pytest.raises(UserError, match="--port 0"):
        serve(db, port=0)
    assert serve_module.LOCAL_HOSTS == {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------
# Our copy of textual-serve's page template, without the web font


def test_serve_uses_our_page_template(db, fake_server):
    serve(db, stderr=io.StringIO())
    server = fake_server.instances[-1]
    templates = Path(server.kw["templates_path"])
    assert templates == serve_module.TEMPLATES_DIR and templates.is_absolute()
    assert (templates / "app_index.html").is_file()


def test_our_page_is_textual_serves_page_without_the_web_font():
    """Kept in step with the installed textual-serve: a new version whose
    page changed fails here (copy its template again, minus the font link)."""
    import re

    import textual_serve

    theirs = (Path(textual_serve.__file__).parent / "templates" / "app_index.html").read_text(encoding="utf-8")
    ours = (serve_module.TEMPLATES_DIR / "app_index.html").read_text(encoding="utf-8")
    font_link = re.compile(r"\n[ \t]*<link\s[^>]*fonts\.googleapis\.com[^>]*/?>", re.S)
    assert font_link.search(theirs), "textual-serve's page no longer loads the web font: drop our copy?"
    assert re.sub(r"\A\{#.*?#\}\n", "", ours, flags=re.S) == font_link.sub("", theirs)
    assert "https://" not in ours


def test_our_page_renders_with_nothing_external():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(serve_module.TEMPLATES_DIR))
    own = "http://127.0.0.1:8000/"
    page = env.get_template("app_index.html").render(
        config={"static": {"url": own + "static/"}}, ping_url=own + "ping", app_websocket_url="ws://127.0.0.1:8000/ws",
        font_size=16, application={"name": "supervision-tui"})
    assert_nothing_external(page, own)


def test_the_page_template_ships_in_the_wheel():
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert serve_module.TEMPLATES_DIR == root / "supervision_tui" / "serve_templates"
    assert "supervision_tui.serve_templates" in config["packages"]
    patterns = config["package-data"]["supervision_tui.serve_templates"]
    assert any(fnmatch.fnmatch("app_index.html", pattern) for pattern in patterns)

