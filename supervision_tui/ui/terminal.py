"""Terminal conditions: SSH sessions, 16-colour terminals.

Over SSH every mouse move and every animation frame costs bytes on a slow
link, so an SSH session runs with mouse tracking off (``App.run(mouse=False)``),
animations off and a lower frame rate.

Textual reads ``TEXTUAL_FPS`` and ``TEXTUAL_ANIMATIONS`` once, when
``textual.constants`` / ``textual.screen`` are first imported. So the CLI
must call :func:`apply_terminal_env` *before* it imports the app module:

    from supervision_tui.ui.terminal import apply_terminal_env
    apply_terminal_env(ssh)                     # sets env vars, no textual import
    from supervision_tui.ui.app import run_app  # imports textual

and ``run_app`` starts the app with :func:`launch`, which also applies the
run-time settings (``animation_level``, ``mouse``), the part that works
even if Textual was imported earlier.

This module must not import Textual at import time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

SSH_VARIABLES = ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT")
SSH_FPS = 20
"""Frames per second over SSH (Textual's default is 60)."""


def detect_ssh(env: Mapping[str, str] | None = None) -> bool:
    """True if this process runs in an SSH session (``SSH_CONNECTION``,
    ``SSH_TTY`` or ``SSH_CLIENT`` set and non-empty)."""
    env = os.environ if env is None else env
    return any(env.get(name) for name in SSH_VARIABLES)


def resolve_ssh(ssh: bool | None, env: Mapping[str, str] | None = None) -> bool:
    """``--ssh``/``--no-ssh`` win; ``None`` means detect."""
    return detect_ssh(env) if ssh is None else bool(ssh)


def terminal_settings(ssh: bool | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """How to run in this terminal.

    Keys: ``ssh`` (bool), ``mouse`` (bool, for ``App.run``),
    ``animation_level`` (``"none"`` or ``"full"``, for ``App.animation_level``),
    ``fps`` (int or None = Textual's default), ``cursor_blink`` (bool, for
    ``Input``/``TextArea``: a blinking cursor redraws twice a second), and
    ``env`` (environment variables to set before Textual is imported; a
    variable the user already set is left alone).
    """
    env = os.environ if env is None else env
    is_ssh = resolve_ssh(ssh, env)
    if not is_ssh:
        return {
            "ssh": False,
            "mouse": True,
            "animation_level": "full",
            "fps": None,
            "cursor_blink": True,
            "env": {},
        }
    wanted = {"TEXTUAL_ANIMATIONS": "none", "TEXTUAL_FPS": str(SSH_FPS)}
    return {
        "ssh": True,
        "mouse": False,
        "animation_level": "none",
        "fps": SSH_FPS,
        "cursor_blink": False,
        "env": {key: value for key, value in wanted.items() if not env.get(key)},
    }


def apply_terminal_env(ssh: bool | None = None, env: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """Set the SSH environment variables in ``env`` (default ``os.environ``)
    and return :func:`terminal_settings`.

    Call before anything imports Textual. If Textual is already imported,
    ``settings["env_effective"]`` is False: the frame rate then stays at
    Textual's default, while :func:`launch` still turns off the mouse and
    animations.
    """
    target = os.environ if env is None else env
    settings = terminal_settings(ssh, target)
    for key, value in settings["env"].items():
        target[key] = value
    settings["env_effective"] = "textual.constants" not in sys.modules
    return settings


def run_kwargs(ssh: bool | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``App.run``: ``{"mouse": False}`` over SSH."""
    return {"mouse": terminal_settings(ssh, env)["mouse"]}


def configure_app(app: App, ssh: bool | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Apply the run-time settings to ``app`` (animation level); returns them."""
    settings = terminal_settings(ssh, env)
    app.animation_level = settings["animation_level"]
    return settings


def not_a_terminal(env: Mapping[str, str] | None = None, stdin: Any = None, screen: Any = None) -> str | None:
    """Why the dashboard cannot run here, or None: it needs a terminal on
    its standard input and on the stream Textual draws on (standard error
    on Linux and macOS, ``linux_driver``; standard output on Windows), so
    ``supervision-tui DB > log`` still works and ``2> log`` is refused
    instead of drawing into the file. Without one (``</dev/null``, cron)
    Textual would wait forever on a closed input and keep a core busy. A
    driver named in ``TEXTUAL_DRIVER`` (the browser mode's) brings its own
    input and output."""
    env = os.environ if env is None else env
    if env.get("TEXTUAL_DRIVER"):
        return None
    stdin = sys.__stdin__ if stdin is None else stdin
    if screen is None:
        screen = sys.__stdout__ if sys.platform == "win32" else sys.__stderr__
    screen_name = "output" if sys.platform == "win32" else "error (where the screen is drawn)"
    for name, stream in (("input", stdin), (screen_name, screen)):
        try:
            tty = stream is not None and stream.isatty()
        except (ValueError, OSError):  # a closed stream
            tty = False
        if not tty:
            return (f"the dashboard needs a terminal, and its standard {name} is not one (over SSH with a "
                    f"command: ssh -t). For scripts use the commands (supervision-tui summary, flags, agenda, …); "
                    f"in a browser: supervision-tui serve")
    return None


#: how often the app looks whether its terminal has hung up (``hung_up``)
HANGUP_CHECK_SECONDS = 1.0


def hung_up(fd: int) -> bool:
    """Has the terminal on ``fd`` gone (``POLLHUP``/``POLLERR``:
    an SSH connection dropped, a terminal window closed)?

    Why the app asks: the kernel sends SIGHUP on a hang-up only to a process
    whose controlling terminal it is (and its foreground group). A program
    started in a session of its own with the terminal handed to it (some
    wrappers, a web terminal, ``setsid``) gets none, and Textual's input
    thread then reads an endless end of file: a core at 90 % for ever on a
    shared server. The app polls this every ``HANGUP_CHECK_SECONDS`` and
    quits. False where it cannot tell (not a terminal, no ``poll``)."""
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # pragma: no cover - no poll on this platform
        return False
    # (not POLLNVAL: macOS's poll does not support /dev/tty and answers POLLNVAL for it on a live
    # terminal; a hung-up Linux pty gives POLLHUP | POLLERR)
    gone = select.POLLHUP | select.POLLERR
    return any(mask & gone for _fd, mask in events)


def launch(app: App, ssh: bool | None = None, env: Mapping[str, str] | None = None) -> Any:
    """Run ``app`` for this terminal: ``configure_app`` then
    ``app.run(**run_kwargs(ssh))``; returns what ``app.run`` returns.
    Raises ``UserError`` without a terminal (``not_a_terminal``)."""
    problem = not_a_terminal(env)
    if problem is not None:
        from supervision_tui.errors import UserError

        raise UserError(problem)
    configure_app(app, ssh, env)
    return app.run(**run_kwargs(ssh, env))


# --------------------------------------------------------------------------
# Colour depth

_TERM_COLOURS = {"256color": "256", "kitty": "256", "16color": "standard"}


def color_system(env: Mapping[str, str] | None = None) -> str:
    """The colour system Textual will use: ``"truecolor"``, ``"256"``,
    ``"standard"`` (16 colours) or ``"none"``.

    ``TEXTUAL_COLOR_SYSTEM`` wins (``"auto"`` means detect); detection
    follows Rich's rules (COLORTERM, then the ``TERM`` suffix), which is
    what Textual uses.
    """
    env = os.environ if env is None else env
    forced = (env.get("TEXTUAL_COLOR_SYSTEM") or "auto").lower()
    if forced != "auto":
        return {"eight_bit": "256", "windows": "standard"}.get(forced, forced)
    if env.get("NO_COLOR"):
        return "none"
    if (env.get("COLORTERM") or "").strip().lower() in ("truecolor", "24bit"):
        return "truecolor"
    term = (env.get("TERM") or "").strip().lower()
    if term in ("dumb", "unknown"):
        return "none"
    _, _, suffix = term.rpartition("-")
    return _TERM_COLOURS.get(suffix, "standard")


def suggested_theme(env: Mapping[str, str] | None = None) -> str | None:
    """``"ansi"`` when the terminal has only 16 colours (RGB themes then
    collapse to the nearest of 16 and lose their contrast) or ``NO_COLOR``
    is set, else None.

    Under ``NO_COLOR`` Textual turns an RGB theme into greys by luminance:
    labels on a grey panel fell to 3.2:1 and the amber of tier 3 came out
    brighter than the red of tier 2 (urgency read upside down). An ANSI
    theme under ``NO_COLOR`` keeps the terminal's own colours, marks the
    cursor in reverse video and leaves urgency to symbols, words and text
    styles (see ``theming.no_color_filter``).

    Use only when the user chose no theme on the command line (the app
    lets ``NO_COLOR`` win over a theme remembered in the settings).
    An unset ``TERM`` (tests, pipes, CI) suggests nothing.
    """
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return "ansi"
    forced = (env.get("TEXTUAL_COLOR_SYSTEM") or "auto").lower() != "auto"
    if not forced and not (env.get("TERM") or "").strip():
        return None
    return "ansi" if color_system(env) == "standard" else None
