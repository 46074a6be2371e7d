"""The guarded textual-serve server behind ``supervision-tui serve``.

A subclass of textual-serve's ``Server`` (site-packages untouched):

- an aiohttp middleware applies ``serve.Access`` (token, Host, Origin) to
  every request before any route, static file or websocket sees it; refusals
  are 403 with a plain-text reason, logged without the token or query;
- ``handle_index`` renders our page with URLs on the address the browser
  used (so the cookie, the page's origin and the websocket agree), sets the
  token cookie (HttpOnly, SameSite=Strict) when the token came in the query,
  and says so when the session limit is reached;
- ``handle_websocket`` counts the app processes and refuses one past
  ``max_sessions`` with 503;
- ``/favicon.svg`` (and ``/favicon.ico``) serve our icon; every response
  carries a Content-Security-Policy that lets the page load only from this
  server, ``Referrer-Policy: no-referrer`` and no framing;
- ``run`` replaces ``Server.serve``: it binds first and prints
  "Serving …" only then (textual-serve prints before binding, even when the
  port is taken); no access log (it would record ``?token=``), and log
  records never show local variables.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, TextIO

import aiohttp_jinja2
import jinja2
from aiohttp import hdrs, web
from textual_serve.server import Server, to_int

from supervision_tui.serve_templates import FAVICON, TEMPLATES_DIR

if TYPE_CHECKING:  # pragma: no cover  (serve imports this module when serving: no import back)
    from supervision_tui.ui.serve import Access

log = logging.getLogger("supervision-tui.serve")

#: Seconds a stopping server gives its app processes to quit.
SHUTDOWN_GRACE = 5.0


def _printable(text: str, limit: int = 80) -> str:
    """Header text for a log line: hostile, so no control characters and bounded."""
    return ascii(text[:limit])


class GuardedServer(Server):
    """textual-serve's Server with the token, Host, Origin and session checks."""

    def __init__(
        self,
        command: str,
        *,
        access: Access,
        url: str,
        host: str,
        port: int,
        max_sessions: int,
        public_url: str | None = None,
        out: TextIO | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title="supervision-tui",
                         public_url=public_url, templates_path=TEMPLATES_DIR)
        self.access = access
        self.url = url
        self.max_sessions = max_sessions
        self.explicit_public_url = public_url.rstrip("/") if public_url else None
        self.out = sys.stderr if out is None else out
        self.sessions = 0
        self._session_tasks: set[asyncio.Task] = set()
        self._stop: asyncio.Event | None = None

    # -- logging: our stream, no locals, no access log ---------------------

    def initialize_logging(self) -> None:
        handler = logging.StreamHandler(self.out)
        handler.setFormatter(logging.Formatter("%(message)s"))
        for name in ("textual-serve", log.name):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.setLevel(logging.DEBUG if self.debug else logging.INFO)
            logger.propagate = False

    # -- the aiohttp application --------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.get("/favicon.svg", self.handle_favicon, name="favicon"),
            web.get("/favicon.ico", self.handle_favicon),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        app.on_response_prepare.append(self._security_headers)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket" or request.path == "/ws"
        reason = self.access.refusal(
            host=request.headers.get(hdrs.HOST),
            origin=request.headers.get(hdrs.ORIGIN),
            websocket=websocket,
            query_token=request.query.get("token"),
            cookie_token=request.cookies.get(self.access.cookie_name),
            scheme=request.scheme,
        )
        if reason is not None:
            log.warning("Refused %s %s from %s (Host %s): %s", request.method, _printable(request.path),
                        request.remote, _printable(request.headers.get(hdrs.HOST, "")), reason)
            raise web.HTTPForbidden(text=f"403 Forbidden: {self.access.REASONS[reason]}.\n")
        return await handler(request)

    def _base_url(self, request: web.Request) -> str:
        """Where the browser reached us: the public URL, else the (checked) Host it used."""
        return self.explicit_public_url or f"{request.scheme}://{request.host.strip().lower()}"

    async def _security_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        base = self._base_url(request) if self.access.host_allowed(request.headers.get(hdrs.HOST)) else ""
        sockets = f" ws{base[4:]}" if base.startswith("http") else ""
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
            f"connect-src 'self'{sockets}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "no-store")

    def _full(self) -> bool:
        return self.sessions >= self.max_sessions

    def _full_message(self) -> str:
        return (f"Too many browser sessions: this server runs at most {self.max_sessions} at once "
                "(supervision-tui serve --max-sessions N). Close another tab, then reload this page.")

    # -- routes ------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self._full():
            return web.Response(status=503, text=self._full_message() + "\n")
        base = self._base_url(request)
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": "ws" + base[4:] + "/ws",  # http→ws, https→wss
            "config": {"static": {"url": base + "/static/"}},
            "application": {"name": self.title},
            "favicon_url": base + "/favicon.svg",
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        token = request.query.get("token")
        if self.access.token_matches(token):
            response.set_cookie(self.access.cookie_name, token, path="/", httponly=True, samesite="Strict",
                                secure=base.startswith("https"))
        return response

    async def handle_favicon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=FAVICON.read_bytes(), content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if self._full():  # checked and counted without an await between: no race
            log.warning("Refused a browser session: %d of %d already open", self.sessions, self.max_sessions)
            raise web.HTTPServiceUnavailable(text=self._full_message() + "\n")
        self.sessions += 1
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        log.info("Browser session started (%d of at most %d)", self.sessions, self.max_sessions)
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions -= 1
            self._session_tasks.discard(task)
            log.info("Browser session ended (%d open)", self.sessions)

    async def on_shutdown(self, app: web.Application) -> None:
        """Close the sessions (each tells its app process to quit) before the server goes."""
        tasks = [task for task in self._session_tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)

    # -- running -----------------------------------------------------------

    def request_exit(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def serve(self, debug: bool = False) -> None:  # textual-serve's entry point, guarded
        self.debug = debug
        self.run()

    def run(self) -> None:
        """Bind, print the address, serve until SIGINT/SIGTERM. OSError if the port cannot be bound."""
        self.initialize_logging()
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_exit)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows / not main thread
                pass
        runner = web.AppRunner(await self._make_app(), handle_signals=False, access_log=None,
                               shutdown_timeout=SHUTDOWN_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()  # OSError: port taken ...
            print(f"Serving the dashboard at {self.url}", file=self.out, flush=True)
            print("Keep this address private: anyone who has it can open the caseload. "
                  f"At most {self.max_sessions} browser sessions at once. Ctrl+C stops.", file=self.out, flush=True)
            await self._stop.wait()
        finally:
            await runner.cleanup()
