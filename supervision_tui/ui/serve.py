"""``supervision-tui serve``: the dashboard in a web browser via textual-serve.

textual-serve starts one ``python -m supervision_tui open DB`` process per
browser tab and has **no authentication**: anyone who can reach the port
can open the caseload. So it binds to 127.0.0.1 by default and warns
loudly when asked to bind to anything else. textual-serve is an optional
extra: ``pip install 'supervision-tui[serve]'``.

The browser page is our copy of textual-serve's template
(``serve_templates/app_index.html``, passed as ``templates_path``) without
its link to fonts.googleapis.com: the page loads nothing from outside this
server, so opening the dashboard tells no third party about it. A test
keeps the copy in step with the installed textual-serve.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from supervision_tui.errors import UserError

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: Our page template for textual-serve (package data, see pyproject.toml).
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "serve_templates"

NO_SERVE = (
    "supervision-tui serve needs textual-serve, an optional extra. Install it with:\n"
    "    pip install 'supervision-tui[serve]'"
)


def is_local(host: str) -> bool:
    """True for the loopback addresses serve may bind without a warning."""
    return host.strip().strip("[]").lower() in LOCAL_HOSTS


def exposure_warning(host: str, port: int) -> str:
    return (
        f"WARNING: serving on {host}:{port}, not on this computer only. textual-serve has no "
        "authentication: anyone who can reach this address and port can open the caseload, "
        "including client data. Use --host 127.0.0.1 (the default) and an SSH tunnel "
        f"(ssh -L {port}:127.0.0.1:{port} SERVER) instead, or protect the port yourself."
    )


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
    public_url: str | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Serve the dashboard on ``http://host:port/`` until Ctrl+C.

    ``db`` None serves a private copy of the demo caseload. ``public_url``
    is the address browsers use (needed behind a proxy or when binding
    0.0.0.0); default ``http://host:port``. Raises ``UserError``.
    """
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UserError(NO_SERVE) from None
    stderr = sys.stderr if stderr is None else stderr

    if db is None:
        from supervision_tui.demo import private_demo_copy

        db, created = private_demo_copy()
        print(f"Serving the demo caseload: {db}" + (" (new private copy)" if created else ""), file=stderr)
    db = Path(db)
    if not db.exists():
        raise UserError(f"{db}: no such database. Create one with: supervision-tui import {db} MEASURES.csv")
    if config is not None and not Path(config).is_file():
        raise UserError(f"{config}: no such settings file")
    if not 0 < port < 65536:
        raise UserError(f"--port {port}: must be from 1 to 65535")

    if not is_local(host):
        print(exposure_warning(host, port), file=stderr, flush=True)

    server = Server(
        app_command(db, Path(config) if config is not None else None, read_only),
        host=host,
        port=port,
        title="supervision-tui",
        public_url=public_url,
        templates_path=TEMPLATES_DIR,  # absolute: textual-serve joins it to its own folder
    )
    try:
        server.serve()
    except OSError as err:  # address in use, permission denied ...
        raise UserError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
