"""``supervision-tui serve``: the dashboard in a web browser via textual-serve.

textual-serve starts one ``python -m supervision_tui open DB`` process per
browser websocket and checks nobody: any web page open in the same browser
could connect to ``ws://127.0.0.1:PORT/ws`` and read and drive the caseload,
and a DNS-rebinding page (``Host: attacker.example``) could read the page.
So the server we run (``serve_server.GuardedServer``, a subclass of
textual-serve's ``Server``) enforces the :class:`Access` policy below on
every HTTP request and websocket:

- a **per-launch secret token** (``secrets.token_urlsafe(32)``), shown once
  in the address ``serve`` prints (``http://127.0.0.1:8000/?token=…``, as
  Jupyter does). The page answers it with a cookie (HttpOnly,
  SameSite=Strict, named after the port) so the page's own requests and its
  websocket carry it; a request with neither a matching ``?token=`` nor the
  cookie gets 403. Compared in constant time; never logged.
- the ``Host`` header must name the bound address, a loopback name
  (``localhost``, ``127.0.0.1``, ``[::1]``) or the ``public_url``'s host,
  with the served port (defeats DNS rebinding). A wildcard bind
  (``0.0.0.0``/``::``) also accepts this computer's host name and any IP
  address literal: a rebinding attack needs a domain name it controls.
- a websocket must carry an ``Origin`` equal to the served page's own origin
  (``http://`` + the request's Host, or the ``public_url``); any request
  that carries a foreign ``Origin`` is refused too.
- at most ``max_sessions`` app processes at once (each websocket starts
  one); more get 503 with a message saying so.

Binding to 127.0.0.1 (the default) keeps other computers out, not other
accounts on the same computer: the token is what protects the caseload.
Reading taken: "the bound address / localhost" admits every loopback
spelling of this computer (``localhost``, ``127.0.0.1``, ``[::1]``), since
none of them can be a rebinding name.

The browser page is our copy of textual-serve's template
(``serve_templates/app_index.html``) without its link to
fonts.googleapis.com (the page loads nothing from outside this server; a
Content-Security-Policy makes the browser enforce it), plus our favicon and
a script that takes the token out of the address bar and focuses the
terminal as soon as it connects (keys work without a click). A test keeps
the copy in step with the installed textual-serve.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from supervision_tui.errors import UserError
from supervision_tui.serve_templates import FAVICON, TEMPLATES_DIR

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})

#: Concurrent browser sessions (= app processes) one server runs at most.
DEFAULT_MAX_SESSIONS = 4


NO_SERVE = (
    "supervision-tui serve needs textual-serve, an optional extra. Install it with:\n"
    "    pip install 'supervision-tui[serve]'"
)


def is_local(host: str) -> bool:
    """True for the loopback addresses serve may bind without a warning."""
    return _bare(host) in LOCAL_HOSTS


def _bare(host: str) -> str:
    return host.strip().strip("[]").lower()


def exposure_warning(host: str, port: int) -> str:
    return (
        f"WARNING: serving on {host}:{port}, reachable from other computers, over plain HTTP: "
        "the token and the caseload, including client data, cross the network unencrypted, "
        "and anyone who obtains the token can open the caseload. Use --host 127.0.0.1 (the "
        f"default) and an SSH tunnel (ssh -L {port}:127.0.0.1:{port} SERVER) instead."
    )


def new_token() -> str:
    """A fresh secret for one server run (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def url_host(host: str) -> str:
    """``host`` as written in a URL: IPv6 literals in brackets."""
    bare = host.strip().strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def browser_url(host: str, port: int, token: str, public_url: str | None = None) -> str:
    """The address to open: the page with this run's token (the only place it is shown)."""
    if public_url:
        base = public_url.rstrip("/")
    else:
        shown = "127.0.0.1" if _bare(host) in WILDCARD_HOSTS else host
        base = f"http://{url_host(shown)}:{port}"
    return f"{base}/?token={token}"


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` header → (lower-case name without brackets, port or None); None if malformed."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if ":" not in name or (rest and not rest.startswith(":")):  # brackets only around IPv6
            return None
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        name, port_text = value.split(":")
    elif ":" in value:  # an IPv6 address without brackets is not a valid Host
        return None
    else:
        name, port_text = value, None
    if not name:
        return None
    if port_text is None:
        return name, None
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        return None
    return name, int(port_text)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Access:
    """Who may use one ``serve`` run: the token, Host and Origin rules (no I/O).

    ``refusal`` returns why a request is refused (a key of ``REASONS``), or
    None to let it through.
    """

    REASONS = {
        "host": "this server answers only to its own address (Host header not allowed)",
        "origin": "requests from other web pages are not allowed (Origin not allowed)",
        "token": ("this address needs the token that `supervision-tui serve` printed: "
                  "open the full address it shows (.../?token=...)"),
    }

    def __init__(self, host: str, port: int, token: str, public_url: str | None = None):
        if not token:
            raise ValueError("serve needs a token")
        self.port = port
        self._token = token.encode("ascii")
        self.cookie_name = f"supervision_tui_token_{port}"  # cookies ignore ports: one name per port
        bound = _bare(host)
        self._wildcard = bound in WILDCARD_HOSTS
        names = set(LOCAL_HOSTS)
        if not self._wildcard:
            names.add(bound)
        else:
            names.update(n.lower() for n in {socket.gethostname(), socket.getfqdn()} if n)
        self._hosts = {(name, port) for name in names}
        if port == 80:
            self._hosts |= {(name, None) for name in names}
        self._public_origin = None
        if public_url:
            parts = urlsplit(public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"public URL {public_url!r}: needs http:// or https:// and a host")
            default = 443 if parts.scheme == "https" else 80
            public_port = parts.port or default
            self._hosts.add((parts.hostname.lower(), public_port))
            if public_port == default:
                self._hosts.add((parts.hostname.lower(), None))
            self._public_origin = f"{parts.scheme}://{parts.netloc}".lower()

    # -- the three checks -------------------------------------------------

    def host_allowed(self, host: str | None) -> bool:
        parsed = split_host(host or "")
        if parsed is None:
            return False
        if parsed in self._hosts:
            return True
        name, port = parsed
        return self._wildcard and port == self.port and _is_ip(name)

    def origin_allowed(self, origin: str | None, host: str | None, scheme: str = "http") -> bool:
        """The page's own origin: the scheme and Host this request came to, or the public URL's."""
        if not origin or not host:
            return False
        origin = origin.strip().lower()
        return origin == f"{scheme}://{host.strip().lower()}" or origin == self._public_origin

    def token_matches(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self._token)

    def refusal(
        self,
        *,
        host: str | None,
        origin: str | None,
        websocket: bool,
        query_token: str | None,
        cookie_token: str | None,
        scheme: str = "http",
    ) -> str | None:
        """Why this request is refused ("host", "origin" or "token"), or None."""
        if not self.host_allowed(host):
            return "host"
        if (websocket or origin is not None) and not self.origin_allowed(origin, host, scheme):
            return "origin"
        if not (self.token_matches(query_token) or self.token_matches(cookie_token)):
            return "token"
        return None


def app_command(db: Path, config: Path | None = None, read_only: bool = False) -> str:
    """The shell command textual-serve runs for each browser tab.

    ``--no-ssh``: the browser session is not an SSH terminal even if the
    server was started from one, so keep the mouse and animations.
    """
    args = [sys.executable, "-m", "supervision_tui", "open", str(Path(db).resolve()), "--no-ssh"]
    if config is not None:
        args += ["--config", str(Path(config).resolve())]
    if read_only:
        args.append("--read-only")
    if os.name == "nt":  # pragma: no cover - textual-serve uses the platform shell
        return subprocess.list2cmdline(args)
    return shlex.join(args)


def serve(
    db: Path | str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: Path | str | None = None,
    read_only: bool = False,
    *,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    public_url: str | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Serve the dashboard on ``http://host:port/`` until Ctrl+C or SIGTERM.

    ``db`` None serves a private copy of the demo caseload. ``public_url``
    is the address browsers use (behind a proxy); default ``http://host:port``.
    Prints "Serving …" with the token address once the port is bound.
    Raises ``UserError``.
    """
    try:
        import textual_serve.server  # noqa: F401  (optional extra)
    except ImportError:
        raise UserError(NO_SERVE) from None
    stderr = sys.stderr if stderr is None else stderr

    if not 0 < port < 65536:
        raise UserError(f"--port {port}: must be from 1 to 65535")
    if max_sessions < 1:
        raise UserError(f"--max-sessions {max_sessions}: must be at least 1")
    if config is not None and not Path(config).is_file():
        raise UserError(f"{config}: no such settings file")
    if db is None:
        from supervision_tui.demo import private_demo_copy

        db, created = private_demo_copy()
        print(f"Demo caseload: {db}" + (" (new private copy)" if created else ""), file=stderr)
    db = Path(db)
    if not db.exists():
        raise UserError(f"{db}: no such database. Create one with: supervision-tui import {db} MEASURES.csv")

    if not is_local(host):
        print(exposure_warning(host, port), file=stderr, flush=True)

    from supervision_tui.ui.serve_server import GuardedServer

    token = new_token()
    try:
        access = Access(host, port, token, public_url)
    except ValueError as err:
        raise UserError(str(err)) from None
    server = GuardedServer(
        app_command(db, Path(config) if config is not None else None, read_only),
        access=access,
        url=browser_url(host, port, token, public_url),
        host=host,
        port=port,
        max_sessions=max_sessions,
        public_url=public_url,
        out=stderr,
    )
    try:
        server.run()
    except OSError as err:  # address in use, permission denied ...
        raise UserError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
