"""The program's entry point (``supervision-tui``, ``python -m supervision_tui``).

For ``open`` (the dashboard) the caseload is read and analysed by worker
processes (``supervision_tui/ui/loader.py``) while the app starts. They are
forked here, first thing, before the command-line library, the CLI and
Textual are imported: the sooner they start, the sooner the first screen
has its rows. Only a plain ``open`` invocation is recognised here
(``supervision-tui DB`` or ``open DB`` with ``--config``, ``--as-of`` and
the flag options); anything else (``--help``, another command, the demo,
an option this parser does not know, a missing file) starts no worker,
and ``cli.open_cmd`` starts them itself after parsing properly. The
workers started here are used only if ``open_cmd`` arrives at the same
database, settings and as-of date (``loader.take_early``); otherwise they
are stopped.
"""

from __future__ import annotations

import os
import sys

_VALUED = ("--config", "--theme", "--clinician", "--as-of")
_FLAGS = ("--present", "--read-only", "--ssh", "--no-ssh", "--all")
_COMMANDS = ("open", "import", "validate", "export", "flags", "summary", "agenda", "review", "audit", "demo", "serve")


def early_open(argv: list[str]) -> tuple[str, str | None, str | None, str | None] | None:
    """(database path, --config, --as-of, --clinician) of a plain ``open``
    command line, else None."""
    args = list(argv)
    if args and args[0] == "open":
        args = args[1:]
    elif args and args[0] in _COMMANDS:
        return None
    db = config = as_of = scope = None
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition("=")
        if name in _VALUED:
            if not eq:
                if i + 1 >= len(args):
                    return None
                value = args[i + 1]
                i += 1
            if name == "--config":
                config = value
            elif name == "--as-of":
                as_of = value
            elif name == "--clinician":
                scope = value
        elif a in _FLAGS:
            pass
        elif a.startswith("-"):
            return None  # --help, --version, an unknown option: the CLI decides
        elif db is None:
            db = a
        else:
            return None
        i += 1
    if db is None:
        return None
    return db, config, as_of, scope


def _prestart(argv: list[str]) -> None:
    parsed = early_open(argv)
    if parsed is None:
        return
    db, config, as_of, scope = parsed
    try:
        from datetime import date
        from pathlib import Path

        day = date.fromisoformat(as_of) if as_of is not None else None
        path = os.path.realpath(db)
        if not os.path.isfile(path):
            return
        from supervision_tui.settings import load_settings

        settings = load_settings(Path(config) if config is not None else None)
    except Exception:  # anything unusual: the CLI reports it properly
        return
    from supervision_tui.ui import loader

    loader.trace("launch forks")
    loader.prestart_early(loader.LoadRequest(path, settings, day, scope=scope or None))


def main() -> None:
    from supervision_tui.gc_pause import pause_for_startup

    pause_for_startup()  # (cli.main pauses again: a no-op; its end_startup ends it)
    _prestart(sys.argv[1:])
    from supervision_tui.cli import main as cli_main

    cli_main()


if __name__ == "__main__":  # pragma: no cover
    main()
