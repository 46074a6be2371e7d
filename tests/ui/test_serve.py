"""``supervision-tui serve``: the launcher, the access policy (``Access``,
no I/O), our page template; the real server answering on 127.0.0.1.

Who may use a running server is tested on a real process in
test_serve_access.py, the page in a real browser in test_serve_browser.py."""

from __future__ import annotations

import asyncio
import io
import re
import shlex
import sys
import time
import types
import urllib.request
from pathlib import Path

import pytest

from serve_support import ServeProcess
from supervision_tui.errors import UserError
from supervision_tui.ui import serve as serve_module
from supervision_tui.ui.serve import Access, app_command, browser_url, is_local, serve, split_host


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
    """Stands in for serve_server.GuardedServer: records, serves nothing."""

    instances: list["FakeServer"] = []

    def __init__(self, command, *, access, url, host, port, max_sessions, public_url=None, out=None):
        self.command, self.access, self.url = command, access, url
        self.host, self.port, self.max_sessions, self.public_url = host, port, max_sessions, public_url
        self.served = False
        FakeServer.instances.append(self)

    def run(self):
        self.served = True


@pytest.fixture
def fake_server(monkeypatch):
    from supervision_tui.ui import serve_server

    FakeServer.instances = []
    monkeypatch.setattr(serve_server, "GuardedServer", FakeServer)
    return FakeServer


# --------------------------------------------------------------------------
# The real thing: a subprocess answering HTTP on 127.0.0.1 (who may use it:
# test_serve_access.py; a real browser: test_serve_browser.py)


def test_serve_answers_http_200_on_localhost(db, tmp_path):
    with ServeProcess(tmp_path, str(db)) as server:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            status, body = response.status, response.read().decode("utf-8", "replace")
    assert status == 200
    assert f"127.0.0.1:{server.port}" in body  # the page connects back to the same address
    assert "WARNING" not in server.stderr  # localhost: no exposure warning
    assert_nothing_external(body, f"http://127.0.0.1:{server.port}/")


def assert_nothing_external(page: str, own: str) -> None:
    """The served page loads nothing from anywhere but the server itself
    (textual-serve's own page fetches a web font from fonts.googleapis.com)."""
    import re

    assert "https://" not in page
    assert "fonts.googleapis" not in page and "@import" not in page
    loaded = re.findall(r"""<[a-z]+\s[^>]*?\b(?:src|href)\s*=\s*["']([^"']*)["']""", page, re.I)  # tags
    loaded += re.findall(r"""\burl\(\s*["']?([^"')]*)""", page)  # CSS
    assert loaded and all(u.startswith(own) for u in loaded), loaded
    assert own + "favicon.svg" in loaded


def test_browser_tab_gets_the_dashboard_of_the_demo_copy(tmp_path):
    """End to end: no DB serves the private demo copy; a browser's websocket
    starts ``supervision-tui open`` and receives the caseload screen."""
    import aiohttp

    with ServeProcess(tmp_path) as server:
        async def browse() -> bytes:
            received = b""
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                async with session.get(server.url) as response:
                    assert response.status == 200
                async with session.ws_connect(f"ws://127.0.0.1:{server.port}/ws?width=100&height=30",
                                              origin=server.base) as ws:
                    deadline = time.monotonic() + 60
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

        received = asyncio.run(browse())
    assert b"Caseload" in received, server.stderr[-2000:]
    assert (tmp_path / "data").is_dir()  # the demo copy went to the private data dir
    assert "Demo caseload:" in server.stderr
    # the demo line comes before, not as, the "Serving" line printed once bound
    assert server.stderr.index("Demo caseload:") < server.stderr.index("Serving the dashboard at")


# --------------------------------------------------------------------------
# Exposure warning


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "clinic-server.example.org"])
def test_non_local_host_warns_on_stderr(db, fake_server, host):
    err = io.StringIO()
    serve(db, host=host, port=8123, stderr=err)
    text = err.getvalue()
    assert text.startswith("WARNING")
    assert "other computers" in text and "unencrypted" in text and "token" in text and "caseload" in text
    assert f"{host}:8123" in text
    assert fake_server.instances[-1].host == host and fake_server.instances[-1].served


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "LOCALHOST"])
def test_local_hosts_do_not_warn(db, fake_server, host):
    err = io.StringIO()
    serve(db, host=host, port=8123, stderr=err)
    assert err.getvalue() == ""
    assert is_local(host)


def test_default_binding_is_localhost_with_four_sessions(db, fake_server):
    serve(db, stderr=io.StringIO())
    server = fake_server.instances[-1]
    assert (server.host, server.port, server.max_sessions) == ("127.0.0.1", 8000, 4)
    assert server.url.startswith("http://127.0.0.1:8000/?token=")


def test_cli_serve_defaults_to_localhost_and_warns_otherwise(db, fake_server):
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(db)])
    assert result.exit_code == 0, result.output
    assert fake_server.instances[-1].host == "127.0.0.1"
    result = CliRunner().invoke(cli, ["serve", str(db), "--host", "0.0.0.0", "--port", "9001",
                                      "--max-sessions", "2"])
    assert result.exit_code == 0
    assert "WARNING" in result.output and "other computers" in result.output
    assert fake_server.instances[-1].max_sessions == 2


# --------------------------------------------------------------------------
# The token, the address shown, the Host and Origin rules (no server)


def test_each_launch_makes_a_new_secret_token(db, fake_server):
    serve(db, stderr=io.StringIO())
    serve(db, stderr=io.StringIO())
    one, two = (server.url.split("token=")[1] for server in fake_server.instances)
    assert one != two and len(one) >= 40  # 32 random bytes, URL-safe
    assert fake_server.instances[0].access.token_matches(one)
    assert not fake_server.instances[0].access.token_matches(two)


@pytest.mark.parametrize("host, public_url, expected", [
    ("127.0.0.1", None, "http://127.0.0.1:8000/?token=T"),
    ("localhost", None, "http://localhost:8000/?token=T"),
    ("::1", None, "http://[::1]:8000/?token=T"),
    ("0.0.0.0", None, "http://127.0.0.1:8000/?token=T"),  # a wildcard bind: open it here
    ("0.0.0.0", "https://dash.example.org/", "https://dash.example.org/?token=T"),
])
def test_browser_url(host, public_url, expected):
    assert browser_url(host, 8000, "T", public_url) == expected


@pytest.mark.parametrize("value, expected", [
    ("127.0.0.1:8000", ("127.0.0.1", 8000)),
    ("LocalHost:8000", ("localhost", 8000)),
    ("[::1]:8000", ("::1", 8000)),
    ("[::1]", ("::1", None)),
    ("example.org", ("example.org", None)),
    ("", None), (":8000", None), ("::1:8000", None), ("[127.0.0.1]:8000", None), ("[::1]x", None),
    ("[::1", None), ("host:80a", None), ("host:８０", None), ("host:123456", None), ("a:1:2", None),
])
def test_split_host(value, expected):
    assert split_host(value) == expected


LOOPBACK = Access("127.0.0.1", 8000, "secret-token")


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True), ("LOCALHOST:8000", True),
    ("127.0.0.1:8001", False), ("127.0.0.1", False), ("attacker.example:8000", False),
    ("attacker.example", False), ("localhost.attacker.example:8000", False), ("10.0.0.5:8000", False),
    ("localhost.:8000", False), ("", False), (None, False),
])
def test_loopback_server_answers_only_to_loopback_names_with_its_port(host, allowed):
    assert LOOPBACK.host_allowed(host) is allowed


def test_a_specific_address_is_allowed_and_port_80_may_be_left_out():
    access = Access("192.168.1.20", 80, "t")
    assert access.host_allowed("192.168.1.20") and access.host_allowed("192.168.1.20:80")
    assert access.host_allowed("localhost")
    assert not access.host_allowed("192.168.1.21") and not access.host_allowed("attacker.example")


def test_a_wildcard_bind_allows_ip_literals_and_this_computers_name_but_no_other_name():
    import socket

    access = Access("0.0.0.0", 8000, "t")
    assert access.host_allowed("10.1.2.3:8000") and access.host_allowed("[fe80::1]:8000")
    assert access.host_allowed(f"{socket.gethostname()}:8000")
    assert not access.host_allowed("10.1.2.3:8001")
    assert not access.host_allowed("attacker.example:8000")


def test_public_url_host_and_origin_are_allowed():
    access = Access("127.0.0.1", 8000, "t", public_url="https://dash.example.org")
    assert access.host_allowed("dash.example.org") and access.host_allowed("dash.example.org:443")
    assert not access.host_allowed("dash.example.org:8000")
    assert access.origin_allowed("https://dash.example.org", "127.0.0.1:8000")
    assert not access.origin_allowed("http://dash.example.org", "127.0.0.1:8000")
    with pytest.raises(ValueError, match="public URL"):
        Access("127.0.0.1", 8000, "t", public_url="ftp://x")


@pytest.mark.parametrize("origin, allowed", [
    ("http://127.0.0.1:8000", True), ("HTTP://127.0.0.1:8000", True),
    ("http://localhost:8000", False), ("http://127.0.0.1:8001", False), ("https://127.0.0.1:8000", False),
    ("http://attacker.example", False), ("null", False), ("", False), (None, False),
])
def test_origin_must_be_the_pages_own(origin, allowed):
    assert LOOPBACK.origin_allowed(origin, "127.0.0.1:8000") is allowed


@pytest.mark.parametrize("kw, reason", [
    (dict(host="127.0.0.1:8000", origin=None, websocket=False, query_token="secret-token", cookie_token=None), None),
    (dict(host="127.0.0.1:8000", origin=None, websocket=False, query_token=None, cookie_token="secret-token"), None),
    (dict(host="127.0.0.1:8000", origin="http://127.0.0.1:8000", websocket=True, query_token=None,
          cookie_token="secret-token"), None),
    (dict(host="127.0.0.1:8000", origin=None, websocket=False, query_token=None, cookie_token=None), "token"),
    (dict(host="127.0.0.1:8000", origin=None, websocket=False, query_token="secret-tokeN", cookie_token="x"),
     "token"),
    (dict(host="evil:8000", origin=None, websocket=False, query_token="secret-token", cookie_token=None), "host"),
    (dict(host="127.0.0.1:8000", origin=None, websocket=True, query_token="secret-token", cookie_token=None),
     "origin"),
    (dict(host="127.0.0.1:8000", origin="http://evil", websocket=False, query_token="secret-token",
          cookie_token=None), "origin"),
])
def test_refusal(kw, reason):
    assert LOOPBACK.refusal(**kw) == reason
    if reason:
        assert "secret-token" not in Access.REASONS[reason]


def test_a_non_ascii_token_guess_is_refused_not_an_error():
    assert not LOOPBACK.token_matches("é" * 12)
    assert not LOOPBACK.token_matches("\udcff")


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


def test_serve_passes_the_command_to_the_server(db, fake_server):
    serve(db, read_only=True, stderr=io.StringIO())
    server = fake_server.instances[-1]
    assert server.command == app_command(db, None, True)


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
    assert "Demo caseload:" in err.getvalue() and "Serving" not in err.getvalue()


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


def test_bad_port_and_session_limit_are_user_errors(db, fake_server):
    with pytest.raises(UserError, match="--port 0"):
        serve(db, port=0)
    with pytest.raises(UserError, match="--max-sessions 0: must be at least 1"):
        serve(db, max_sessions=0)
    assert fake_server.instances == []
    assert serve_module.LOCAL_HOSTS == {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------
# Our copy of textual-serve's page template, without the web font


OURS = re.compile(r"[ \t]*\{# ours #\}.*?\{# /ours #\}\n", re.S)


def test_our_page_is_textual_serves_page_without_the_web_font_plus_our_blocks():
    """Kept in step with the installed textual-serve: a new version whose
    page changed fails here (copy its template again, minus the font link,
    and put our blocks back)."""
    import textual_serve

    theirs = (Path(textual_serve.__file__).parent / "templates" / "app_index.html").read_text(encoding="utf-8")
    ours = (serve_module.TEMPLATES_DIR / "app_index.html").read_text(encoding="utf-8")
    font_link = re.compile(r"\n[ \t]*<link\s[^>]*fonts\.googleapis\.com[^>]*/?>", re.S)
    assert font_link.search(theirs), "textual-serve's page no longer loads the web font: drop our copy?"
    assert len(OURS.findall(ours)) == 1
    assert OURS.sub("", re.sub(r"\A\{#.*?#\}\n", "", ours, flags=re.S)) == font_link.sub("", theirs)
    assert "https://" not in ours


def test_our_page_renders_with_nothing_external():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(serve_module.TEMPLATES_DIR))
    own = "http://127.0.0.1:8000/"
    page = env.get_template("app_index.html").render(
        config={"static": {"url": own + "static/"}}, app_websocket_url="ws://127.0.0.1:8000/ws",
        font_size=16, application={"name": "supervision-tui"}, favicon_url=own + "favicon.svg")
    assert_nothing_external(page, own)
    assert 'data-pingurl=""' in page  # no ping address: the page fetches nothing before connecting


def test_the_favicon_is_a_small_self_contained_svg():
    icon = serve_module.FAVICON.read_text(encoding="utf-8")
    assert icon.lstrip().startswith("<svg") and "href" not in icon and "url(" not in icon
    assert "<script" not in icon


def test_the_page_template_and_favicon_ship_in_the_wheel():
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert serve_module.TEMPLATES_DIR == root / "supervision_tui" / "serve_templates"
    assert "supervision_tui.serve_templates" in config["packages"]
    patterns = config["package-data"]["supervision_tui.serve_templates"]
    for name in ("app_index.html", "favicon.svg"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
