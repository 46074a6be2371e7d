"""``supervision-tui serve`` in a real browser: headless Chromium (Debian's
``/usr/bin/chromium``) driven by Playwright, against a real server process.

- The page opened with the token works at once: the terminal has the focus
  without a click, the footer shows its keys, ``?`` opens the help.
- The token leaves the address bar; the cookie is HttpOnly, SameSite=Strict.
- The favicon is served; no request leaves the server; no Content-Security-
  Policy violation.
- Another page in the same browser (another local port: same site, so it
  would carry the cookie) cannot open the websocket; a DNS-rebinding name
  gets 403 even with the token.

Skipped, saying why, where Playwright or Chromium is missing (CI installs
only ``.[test]``; the HTTP/WebSocket tests in test_serve_access.py always
run). Never ``playwright install``: the system Chromium is used.
"""

from __future__ import annotations

import http.server
import os
import re
import threading
import time

import pytest

from serve_support import ServeProcess, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server",
        "--host-resolver-rules=MAP attacker.example 127.0.0.1"]  # a DNS-rebinding name, for one test

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="browser check skipped: Playwright is not installed "
                       "(pip install playwright; the system Chromium is used, never `playwright install`)"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"browser check skipped: no {CHROMIUM} "
                       "(apt-get install chromium); the HTTP/WebSocket checks in test_serve_access.py still run"),
]

CSI = re.compile(rb"\x1b(?:\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


def text_of(frames: list) -> str:
    data = b"".join(f if isinstance(f, bytes) else f.encode() for f in frames)
    return CSI.sub(b"", data).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServeProcess(tmp_path_factory.mktemp("browser")) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def wait_for(page, condition, timeout: float = 60) -> bool:
    """Poll ``condition`` while Playwright delivers events (it does so only
    inside its own calls, hence ``page.wait_for_timeout``, not ``time.sleep``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        page.wait_for_timeout(200)
    return condition()


def test_the_page_works_without_a_click_and_loads_nothing_from_elsewhere(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    requests, responses, console, received, sent, sockets = [], {}, [], [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: responses.setdefault(r.url.split("?")[0], (r.status, r.headers.get("content-type"))))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))

    def on_websocket(ws):
        sockets.append(ws.url)
        ws.on("framereceived", lambda payload: received.append(payload))
        ws.on("framesent", lambda payload: sent.append(payload))

    page.on("websocket", on_websocket)
    page.goto(server.url)

    # No click, no key: the app starts, draws its caseload and, having the focus, its footer.
    assert wait_for(page, lambda: "Caseload" in text_of(received)), text_of(received)[-500:] + server.stderr[-2000:]
    assert wait_for(page, lambda: "Quit" in text_of(received)), "the footer never showed its keys"
    assert page.evaluate("document.activeElement.classList.contains('xterm-helper-textarea')")
    assert '["focus"]' in sent  # the page told the app it has the focus
    page.screenshot(path=str(tmp_path / "serve-loaded.png"))

    before = len(received)
    page.keyboard.press("?")  # a key, still without any click
    assert wait_for(page, lambda: "Keys" in text_of(received[before:])), text_of(received[before:])[-800:]
    page.screenshot(path=str(tmp_path / "serve-help.png"))
    page.keyboard.press("Escape")

    # The token left the address bar; the cookie that replaced it is out of scripts' reach.
    assert "token" not in page.url and page.url == server.base + "/"
    (cookie,) = context.cookies()
    assert cookie["name"] == f"supervision_tui_token_{server.port}"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""

    # The favicon, served; nothing but this server asked for anything.
    wait_for(page, lambda: server.base + "/favicon.svg" in responses, timeout=10)
    assert responses[server.base + "/favicon.svg"] == (200, "image/svg+xml")
    ws_base = "ws" + server.base[4:] + "/"
    assert requests and all(url.startswith(server.base + "/") for url in requests), requests
    assert sockets and all(url.startswith(ws_base) for url in sockets), sockets
    assert not [line for line in console if "Content Security Policy" in line or line.startswith("error")], console
    context.close()


EVIL_PAGE = """<!DOCTYPE html><html><head><title>waiting</title></head><body><script>
const ws = new WebSocket("ws://127.0.0.1:%(port)d/ws?width=80&height=24");
ws.onopen = () => { document.title = "open"; };
ws.onclose = (event) => { if (document.title !== "open") document.title = "refused " + event.code; };
</script></body></html>"""


def test_another_page_in_the_same_browser_cannot_open_the_caseload(server, browser):
    """The supervisor has the dashboard open (so the browser holds the
    cookie); a page from another local port, which counts as the same site
    and so sends that cookie, tries the websocket: refused by its Origin."""
    evil_port = free_port()
    body = (EVIL_PAGE % {"port": server.port}).encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", evil_port), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url)  # the dashboard: the cookie is set
        assert context.cookies()
        attacker = context.new_page()
        attacker.goto(f"http://127.0.0.1:{evil_port}/")
        assert wait_for(attacker, lambda: attacker.title() != "waiting", timeout=30)
        assert attacker.title().startswith("refused"), attacker.title()
    finally:
        context.close()
        evil.shutdown()
    deadline = time.monotonic() + 10
    while "Refused GET '/ws'" not in server.stderr and time.monotonic() < deadline:
        time.sleep(0.2)
    assert re.search(r"Refused GET '/ws' .*: origin", server.stderr), server.stderr[-1000:]


def test_a_dns_rebinding_name_gets_403_even_with_the_token(server, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"http://attacker.example:{server.port}/?token={server.token}")
        assert response.status == 403
        assert "Host" in page.content()
    finally:
        context.close()
