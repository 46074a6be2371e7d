"""Who may use ``supervision-tui serve``: a real server process on a free
port, real HTTP and WebSocket clients (aiohttp).

Every request needs this run's token (``?token=`` or the cookie the page
sets), a Host naming the server itself, and, for the websocket or any
request carrying one, the page's own Origin; each websocket starts an app
process, at most ``--max-sessions`` at once. "Serving …" is printed once
the port is bound, and a taken port is a clear error.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import aiohttp
import pytest

from serve_support import ServeProcess, free_port, serve_env

ATTACKER = "http://attacker.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the refusal tests (they start no app process)."""
    with ServeProcess(tmp_path_factory.mktemp("serve")) as proc:
        yield proc


def run(coro):
    return asyncio.run(coro)


async def http_get(url: str, *, headers=None, cookies=None) -> tuple[int, str, aiohttp.ClientResponse]:
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: keep cookies of IP-address hosts
    async with aiohttp.ClientSession(cookie_jar=jar, cookies=cookies) as session:
        async with session.get(url, headers=headers or {}, allow_redirects=False) as response:
            return response.status, await response.text(), response


async def ws_status(url: str, *, origin: str | None, headers=None, cookies=None) -> int:
    """The handshake's HTTP status: 101 if the websocket opened (then closed at once)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), cookies=cookies) as session:
        try:
            async with session.ws_connect(url, origin=origin, headers=headers or {}):
                return 101
        except aiohttp.WSServerHandshakeError as err:
            return err.status


async def screen_text(ws: aiohttp.ClientWebSocketResponse, needle: bytes, timeout: float = 60) -> bytes:
    """Bytes the app sends until ``needle`` shows up (or the time runs out)."""
    received = b""
    deadline = time.monotonic() + timeout
    while needle not in received and time.monotonic() < deadline:
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


# --------------------------------------------------------------------------
# HTTP: every path needs the token and the right Host


PATHS = ["/", "/static/js/textual.js", "/static/css/xterm.css", "/favicon.svg", "/favicon.ico", "/download/x"]


@pytest.mark.parametrize("path", PATHS)
def test_http_without_the_token_is_refused(server, path):
    status, text, _ = run(http_get(server.base + path))
    assert status == 403
    assert "token" in text and server.token not in text


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("how", ["query", "cookie"])
def test_http_with_a_wrong_token_is_refused(server, path, how):
    wrong = server.token[:-1] + ("A" if server.token[-1] != "A" else "B")  # one character off
    for bad in (wrong, "", "x", server.token + "x", server.token.upper(), server.token[:20]):
        if how == "query":
            status, _, _ = run(http_get(f"{server.base}{path}?token={quote(bad)}"))
        else:
            status, _, _ = run(http_get(server.base + path, cookies={f"supervision_tui_token_{server.port}": bad}))
        assert status == 403, (path, bad)
    if how == "query":
        assert run(http_get(f"{server.base}{path}?token={quote('é' * 43)}"))[0] == 403


def test_the_cookie_of_another_port_does_not_open_this_one(server):
    other = f"supervision_tui_token_{server.port + 1}"
    status, _, _ = run(http_get(server.base + "/", cookies={other: server.token}))
    assert status == 403


@pytest.mark.parametrize("host", [
    "attacker.example",                       # DNS rebinding: the attacker's name now points at 127.0.0.1
    "attacker.example:{port}",
    "127.0.0.1.attacker.example:{port}",
    "localhost.attacker.example:{port}",
    "127.0.0.1:{other}",                      # right address, wrong port
    "localhost:{other}",
    "127.0.0.1",                              # no port (would be :80)
    "192.168.1.20:{port}",                    # not the bound address
    "127.0.0.1:{port}:{port}",
    "[127.0.0.1]:{port}",
    "",
])
def test_http_with_a_foreign_host_is_refused_even_with_the_token(server, host):
    host = host.format(port=server.port, other=server.port + 1)
    status, text, _ = run(http_get(f"{server.url}", headers={"Host": host}))
    assert status == 403, host
    assert "Host" in text


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_hosts_with_the_port_and_the_token_get_the_page(server, host):
    host = host.format(port=server.port)
    status, page, _ = run(http_get(server.url, headers={"Host": host}))
    assert status == 200, host
    # The page's own URLs use the address the browser used, so cookie, origin and websocket agree.
    assert f'data-session-websocket-url="ws://{host.lower()}/ws"' in page


def test_a_foreign_origin_is_refused_on_plain_http_too(server):
    status, _, _ = run(http_get(server.url, headers={"Origin": ATTACKER}))
    assert status == 403


def test_the_page_sets_a_private_cookie_and_the_cookie_opens_the_rest(server):
    async def browse():
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.get(server.url) as response:
                page_status, set_cookie = response.status, response.headers.getall("Set-Cookie")
                csp = response.headers["Content-Security-Policy"]
            statuses = {}
            for path in ["/static/js/textual.js", "/favicon.svg", "/"]:  # no ?token= now: the cookie
                async with session.get(server.base + path) as response:
                    statuses[path] = (response.status, response.headers.get("Content-Type", ""))
            return page_status, set_cookie, csp, statuses

    page_status, set_cookie, csp, statuses = run(browse())
    assert page_status == 200
    (cookie,) = set_cookie
    assert cookie.startswith(f"supervision_tui_token_{server.port}={server.token};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert statuses["/static/js/textual.js"][0] == 200
    assert statuses["/favicon.svg"] == (200, "image/svg+xml")
    assert statuses["/"][0] == 200
    # The browser itself refuses to load anything from elsewhere, or to frame the page.
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "https:" not in csp


# --------------------------------------------------------------------------
# WebSocket: token, Host and the page's own Origin


def test_websocket_without_the_token_is_refused(server):
    ws = f"ws://127.0.0.1:{server.port}/ws"
    assert run(ws_status(ws, origin=server.base)) == 403


def test_websocket_with_a_wrong_token_is_refused(server):
    ws = f"ws://127.0.0.1:{server.port}/ws"
    wrong = server.token[::-1]
    assert run(ws_status(f"{ws}?token={wrong}", origin=server.base)) == 403
    cookie = {f"supervision_tui_token_{server.port}": wrong}
    assert run(ws_status(ws, origin=server.base, cookies=cookie)) == 403


@pytest.mark.parametrize("origin", [
    ATTACKER,                                 # any web page open in the same browser
    "http://127.0.0.1:{other}",               # another local server: same site, so it would carry the cookie
    "http://localhost:{port}",                # another origin of this very server
    "https://127.0.0.1:{port}",
    "null",                                   # sandboxed iframes, file:// pages
    None,                                     # browsers always send one: a websocket without is refused
])
def test_websocket_from_a_foreign_origin_is_refused_even_with_the_token(server, origin):
    origin = origin and origin.format(port=server.port, other=server.port + 1)
    ws = f"ws://127.0.0.1:{server.port}/ws?token={server.token}"
    assert run(ws_status(ws, origin=origin)) == 403


def test_websocket_with_a_foreign_host_is_refused(server):
    ws = f"ws://127.0.0.1:{server.port}/ws?token={server.token}"
    status = run(ws_status(ws, origin=ATTACKER, headers={"Host": "attacker.example"}))
    assert status == 403
    # even when the Origin agrees with the forged Host (a rebinding page's own origin)
    status = run(ws_status(ws, origin=f"http://attacker.example:{server.port}",
                           headers={"Host": f"attacker.example:{server.port}"}))
    assert status == 403


def test_the_token_never_reaches_the_log(server):
    """Refusals are logged, without the token, even when it came in the query."""
    logged = (server.stdout + server.stderr).count("Refused GET")
    run(http_get(server.url, headers={"Host": "attacker.example"}))
    run(http_get(server.base + "/?token=" + server.token[::-1]))
    deadline = time.monotonic() + 10  # the reader threads take the lines as they come
    while (server.stdout + server.stderr).count("Refused GET") < logged + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    output = server.stdout + server.stderr
    assert output.count("Refused GET") >= logged + 2
    assert output.count(server.token) == 1  # the one printed address
    assert server.token[::-1] not in output


def test_the_page_and_websocket_with_token_host_and_origin_start_the_app(tmp_path):
    """Accepted: the browser's path (page with the token → cookie → websocket
    with the page's origin) starts the app, which sends the caseload screen."""
    with ServeProcess(tmp_path) as server:
        async def browse() -> bytes:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                async with session.get(server.url) as response:
                    assert response.status == 200
                async with session.ws_connect(f"ws://127.0.0.1:{server.port}/ws?width=100&height=30",
                                              origin=server.base) as ws:
                    return await screen_text(ws, b"Caseload")

        received = run(browse())
        assert b"Caseload" in received, server.stderr[-2000:]
        assert "Browser session started (1 of at most 4)" in server.stderr


# --------------------------------------------------------------------------
# At most --max-sessions app processes


def test_sessions_past_the_limit_are_refused_with_a_message(tmp_path):
    with ServeProcess(tmp_path, "--max-sessions", "1") as server:
        ws_url = f"ws://127.0.0.1:{server.port}/ws?token={server.token}&width=100&height=30"

        async def scenario():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(ws_url, origin=server.base) as first:
                    first_screen = await screen_text(first, b"Caseload")
                    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                        async with session.ws_connect(ws_url, origin=server.base):
                            pass
                    async with session.get(server.url) as response:
                        page = (response.status, await response.text())
                # The first tab closed: its slot frees once its app process has quit.
                deadline = time.monotonic() + 60
                while True:
                    try:
                        async with session.ws_connect(ws_url, origin=server.base) as again:
                            return first_screen, refused.value.status, page, await screen_text(again, b"Caseload")
                    except aiohttp.WSServerHandshakeError:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.3)

        first_screen, refused_status, page, again_screen = run(scenario())
        assert b"Caseload" in first_screen
        assert refused_status == 503
        assert page[0] == 503 and "at most 1 at once" in page[1] and "--max-sessions" in page[1]
        assert b"Caseload" in again_screen
        assert "Refused a browser session: 1 of 1 already open" in server.stderr


def test_max_sessions_must_be_positive(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "supervision_tui", "serve", "--max-sessions", "0",
                           "--port", str(free_port())], capture_output=True, text=True, timeout=60,
                          env=serve_env(tmp_path))
    assert proc.returncode == 1
    assert "--max-sessions 0: must be at least 1" in proc.stderr


# --------------------------------------------------------------------------
# "Serving" once bound; a taken port is a clear error


def test_serving_is_printed_once_the_port_accepts_connections(tmp_path):
    with ServeProcess(tmp_path) as server:
        assert server.port_open_when_announced is True
        assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"
        assert len(server.token) >= 40  # 32 random bytes


def test_each_run_has_its_own_token(tmp_path):
    with ServeProcess(tmp_path / "a") as one, ServeProcess(tmp_path / "b") as two:
        assert one.token != two.token
        # one run's token does not open the other
        status, _, _ = run(http_get(f"{two.base}/?token={one.token}"))
        assert status == 403


def test_a_taken_port_is_an_error_and_nothing_says_serving(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "supervision_tui", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60, env=serve_env(tmp_path))
    assert proc.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}: " in proc.stderr and "in use" in proc.stderr
    assert "Serving" not in proc.stdout + proc.stderr
    assert "token=" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
