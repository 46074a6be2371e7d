"""SSH detection and what it turns off; 16-colour detection."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest
from textual.app import App

from supervision_tui.ui import terminal
from supervision_tui.ui.terminal import (
    SSH_FPS,
    apply_terminal_env,
    color_system,
    configure_app,
    detect_ssh,
    launch,
    run_kwargs,
    suggested_theme,
    terminal_settings,
)

SSH_ENV = {"SSH_CONNECTION": "10.0.0.2 52100 10.0.0.1 22", "TERM": "xterm-256color"}
LOCAL_ENV = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        (LOCAL_ENV, False),
        ({"SSH_CONNECTION": "10.0.0.2 52100 10.0.0.1 22"}, True),
        ({"SSH_TTY": "/dev/pts/3"}, True),
        ({"SSH_CLIENT": "10.0.0.2 52100 22"}, True),
        ({"SSH_CONNECTION": ""}, False),  # set but empty: not a session
        ({"SSH_AUTH_SOCK": "/tmp/agent"}, False),  # agent forwarding alone is not SSH
    ],
)
def test_detect_ssh(env, expected):
    assert detect_ssh(env) is expected


def test_ssh_turns_mouse_animations_and_frame_rate_down():
    settings = terminal_settings(None, SSH_ENV)
    assert settings["ssh"] is True
    assert settings["mouse"] is False
    assert settings["animation_level"] == "none"
    assert settings["fps"] == SSH_FPS < 60
    assert settings["cursor_blink"] is False
    assert settings["env"] == {"TEXTUAL_ANIMATIONS": "none", "TEXTUAL_FPS": str(SSH_FPS)}


def test_local_terminal_keeps_textual_defaults():
    settings = terminal_settings(None, LOCAL_ENV)
    assert settings == {
        "ssh": False, "mouse": True, "animation_level": "full", "fps": None,
        "cursor_blink": True, "env": {},
    }


def test_flag_overrides_detection():
    assert terminal_settings(False, SSH_ENV)["mouse"] is True  # --no-ssh
    assert terminal_settings(True, LOCAL_ENV)["mouse"] is False  # --ssh


def test_user_set_variables_are_left_alone():
    env = {**SSH_ENV, "TEXTUAL_FPS": "5"}
    settings = apply_terminal_env(None, env)
    assert env["TEXTUAL_FPS"] == "5"
    assert env["TEXTUAL_ANIMATIONS"] == "none"
    assert "TEXTUAL_FPS" not in settings["env"]


def test_apply_terminal_env_sets_variables_only_over_ssh():
    env = dict(SSH_ENV)
    apply_terminal_env(None, env)
    assert env["TEXTUAL_ANIMATIONS"] == "none" and env["TEXTUAL_FPS"] == str(SSH_FPS)
    env = dict(LOCAL_ENV)
    apply_terminal_env(None, env)
    assert env == LOCAL_ENV


def test_module_does_not_import_textual():
    """The CLI imports this module before Textual, so that the variables it
    sets are seen when Textual reads them."""
    code = "import sys, supervision_tui.ui.terminal; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _textual_constants_after_apply(env_extra: dict, ssh_arg: str) -> dict:
    code = f"""
import json, os
from supervision_tui.ui.terminal import apply_terminal_env
settings = apply_terminal_env({ssh_arg})
from textual import constants
from textual.app import App
print(json.dumps({{"fps": constants.MAX_FPS, "animations": constants.TEXTUAL_ANIMATIONS,
                  "app_level": App().animation_level, "effective": settings["env_effective"]}}))
"""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSH_", "TEXTUAL_"))}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_textual_sees_the_ssh_settings_when_applied_before_import():
    seen = _textual_constants_after_apply({"SSH_TTY": "/dev/pts/1"}, "None")
    assert seen == {"fps": SSH_FPS, "animations": "none", "app_level": "none", "effective": True}


def test_textual_keeps_defaults_without_ssh():
    seen = _textual_constants_after_apply({}, "None")
    assert seen["fps"] == 60 and seen["animations"] == "full"


def test_no_ssh_flag_beats_an_ssh_session():
    seen = _textual_constants_after_apply({"SSH_TTY": "/dev/pts/1"}, "False")
    assert seen["fps"] == 60 and seen["animations"] == "full"


def test_run_kwargs_fit_app_run():
    for ssh in (True, False):
        inspect.signature(App.run).bind(App(), **run_kwargs(ssh))
    assert run_kwargs(True) == {"mouse": False}
    assert run_kwargs(False) == {"mouse": True}
    assert run_kwargs(None, SSH_ENV) == {"mouse": False}


class _RecordingApp(App):
    """Runs headless and records what the driver was given."""

    seen: dict = {}

    def run(self, **kwargs):
        type(self).seen = {"run_kwargs": dict(kwargs)}
        return super().run(headless=True, **kwargs)

    def on_mount(self) -> None:
        type(self).seen["driver_mouse"] = self._driver._mouse
        type(self).seen["animation_level"] = self.animation_level
        self.exit("done")


@pytest.mark.parametrize(
    ("env", "mouse", "level"),
    [(SSH_ENV, False, "none"), (LOCAL_ENV, True, "full")],
)
def test_launch_passes_the_settings_to_app_run(env, mouse, level, monkeypatch):
    monkeypatch.setattr(terminal, "not_a_terminal", lambda env=None: None)  # (pytest's streams are no terminal)
    app = _RecordingApp()
    assert launch(app, None, env) == "done"
    assert _RecordingApp.seen == {
        "run_kwargs": {"mouse": mouse},
        "driver_mouse": mouse,
        "animation_level": level,
    }


def test_configure_app_turns_animations_off_at_run_time():
    app = App()
    app.animation_level = "full"
    configure_app(app, True)
    assert app.animation_level == "none"


# --------------------------------------------------------------------------
# Colour depth


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "truecolor"),
        ({"TERM": "xterm-256color"}, "256"),  # SSH forwards TERM, not COLORTERM
        ({"TERM": "tmux-256color"}, "256"),
        ({"TERM": "xterm-kitty"}, "256"),
        ({"TERM": "xterm"}, "standard"),
        ({"TERM": "screen"}, "standard"),
        ({"TERM": "linux"}, "standard"),
        ({"TERM": "dumb"}, "none"),
        ({"TERM": "xterm-256color", "TEXTUAL_COLOR_SYSTEM": "standard"}, "standard"),
        ({"TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "256"}, "256"),
        ({"TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "auto"}, "standard"),
    ],
)
def test_color_system(env, expected):
    assert color_system(env) == expected


def test_color_system_agrees_with_rich():
    """Textual asks Rich; our guess must match it for the cases we suggest on."""
    from rich.console import Console

    for term in ("xterm", "xterm-256color", "screen", "linux", "tmux-256color"):
        console = Console(force_terminal=True, _environ={"TERM": term})
        ours = color_system({"TERM": term})
        assert console.color_system == {"standard": "standard", "256": "256"}[ours], term


def test_sixteen_colour_terminal_suggests_the_ansi_theme():
    assert suggested_theme({"TERM": "xterm"}) == "ansi"
    assert suggested_theme({"TERM": "xterm-256color", "TEXTUAL_COLOR_SYSTEM": "standard"}) == "ansi"
    assert suggested_theme({"TERM": "xterm-256color"}) is None
    assert suggested_theme({"TERM": "xterm-256color", "COLORTERM": "truecolor"}) is None
    assert suggested_theme({}) is None  # no TERM: a test or a pipe, not a 16-colour terminal
    assert suggested_theme({"TEXTUAL_COLOR_SYSTEM": "standard"}) == "ansi"


def test_suggested_theme_is_a_bundled_theme():
    from supervision_tui.ui.theming import BUNDLED_ORDER

    assert suggested_theme({"TERM": "linux"}) in BUNDLED_ORDER
    assert terminal.SSH_VARIABLES  # documented public constant


class _Stream:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_not_a_terminal_names_the_stream_and_the_way_out():
    from supervision_tui.ui.terminal import not_a_terminal

    assert not_a_terminal({}, _Stream(True), _Stream(True)) is None
    assert "standard input is not one" in not_a_terminal({}, _Stream(False), _Stream(True))
    assert "standard error (where the screen is drawn) is not one" in not_a_terminal({}, _Stream(True),
                                                                                    _Stream(False))
    assert "supervision-tui summary" in not_a_terminal({}, _Stream(False), _Stream(False))
    # the browser mode's driver brings its own input and output
    assert not_a_terminal({"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}, _Stream(False),
                          _Stream(False)) is None


def test_open_without_a_terminal_exits_at_once(tmp_path):
    """Newcomer finding: ``supervision-tui DB </dev/null`` never exited and
    kept a core busy. Now: a clear error, status 1, nothing left running."""
    import subprocess
    import sys

    from supervision_tui.demo import write_demo

    db = tmp_path / "demo.json"
    write_demo(db, seed=2026, n_clients=12)
    proc = subprocess.run([sys.executable, "-m", "supervision_tui", str(db)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "the dashboard needs a terminal" in proc.stderr and "Traceback" not in proc.stderr
    assert "standard input is not one" in proc.stderr


def test_open_with_its_output_redirected_still_runs(tmp_path):
    """Textual draws on standard error (Linux driver): ``DB > log`` in a
    terminal is not refused, ``2> log`` is (it would draw into the file)."""
    import pty

    from supervision_tui.demo import write_demo

    db = tmp_path / "demo.json"
    write_demo(db, seed=2026, n_clients=12)
    for redirect, refused in (("stdout", False), ("stderr", True)):
        master, slave = pty.openpty()
        log = tmp_path / f"{redirect}.log"
        with open(log, "wb") as sink:
            streams = {"stdin": slave, "stdout": slave, "stderr": slave, redirect: sink}
            env = {**os.environ, "TERM": "xterm-256color"}
            env.pop("TEXTUAL_DRIVER", None)
            proc = subprocess.Popen([sys.executable, "-m", "supervision_tui", str(db), "--no-ssh"], env=env,
                                    start_new_session=True, **streams)
            try:
                rc = proc.wait(timeout=20 if refused else 4)
            except subprocess.TimeoutExpired:
                rc = None  # still running: it started
                os.killpg(proc.pid, 9)  # (with its loader processes)
                proc.wait()
        os.close(slave)
        os.close(master)
        if refused:
            assert rc == 1 and "standard error (where the screen is drawn)" in log.read_text(errors="replace")
        else:
            assert rc is None and "needs a terminal" not in log.read_text(errors="replace")


def test_hung_up_sees_the_other_end_of_the_terminal_close():
    import pty

    from supervision_tui.ui.terminal import hung_up

    master, slave = pty.openpty()
    try:
        assert not hung_up(slave)
        os.close(master)
        assert hung_up(slave)
    finally:
        os.close(slave)


def test_the_app_quits_when_its_terminal_hangs_up_without_a_sighup(tmp_path):
    """Started in a session of its own with the terminal handed to it (no
    controlling terminal: no SIGHUP when the terminal goes), the app used to
    stay behind reading an endless end of file, a core at ~90 %. It now
    notices the hang-up (``ui.terminal.hung_up``) and exits."""
    import pty
    import select as select_mod
    import time

    from supervision_tui.demo import write_demo

    db = tmp_path / "demo.json"
    write_demo(db, seed=2026, n_clients=12)
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "XDG_CACHE_HOME": str(tmp_path / "k"), "XDG_DATA_HOME": str(tmp_path / "d")}
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.Popen([sys.executable, "-m", "supervision_tui", str(db), "--no-ssh", "--read-only"], env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while b"C-0" not in seen and time.monotonic() < deadline:  # the caseload is on the screen
            ready, _, _ = select_mod.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"C-0" in seen, seen[-500:]
        os.close(master)  # the terminal goes away
        master = None
        rc = proc.wait(timeout=30)  # (before: still running, reading end-of-file, until killed)
        assert rc == 1
    finally:
        if master is not None:
            os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
