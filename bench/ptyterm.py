"""A real terminal for tests and benchmarks: a program in a pseudo-terminal,
its output counted byte by byte and fed to a ``pyte`` screen.

What the terminal *receives* is what these tools measure: the contrast
checker (``bench/contrast.py``) reads the colour of every cell from the
escape codes the app sent, and the SSH benchmark (``bench/bench_ssh.py``)
counts the bytes each keypress costs.

    term = PtyTerm([PY, "-m", "supervision_tui", "open", db], env, cols=120, rows=40)
    term.settle()                       # wait until the output goes quiet
    sent = term.press("down")           # bytes the app wrote after the key
    cell = term.cell(0, 3)              # Cell(char, fg, bg, bold, dim, reverse)
    term.close()

``pyte`` does not keep SGR 2 (dim); :class:`Screen` keeps it in the
``blink`` slot of pyte's character tuple (the app never blinks) and
:meth:`PtyTerm.cell` reports it as ``dim``.

Colours come back as ``"rrggbb"`` hex strings, or ``"default"`` for the
terminal's default colour. The 16 ANSI colours resolve to xterm's default
palette (pyte's table); ``default`` to :data:`DARK_DEFAULTS` or
:data:`LIGHT_DEFAULTS`, whichever the caller says the terminal has.

Not a test module: ``tests/ui/test_rendered_contrast.py`` and
``bench/bench_ssh.py`` import it.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pyte
from pyte import graphics

ROOT = Path(__file__).resolve().parents[1]

KEYS = {
    "enter": "\r",
    "escape": "\x1b",
    "tab": "\t",
    "shift+tab": "\x1b[Z",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "space": " ",
    "ctrl+p": "\x10",
    "f1": "\x1bOP",
    "question_mark": "?",
    "slash": "/",
}
"""Key names the way Textual names them, as a terminal sends them."""

ANSI_NAMES = {
    "black": 0, "red": 1, "green": 2, "brown": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7,
    "brightblack": 8, "brightred": 9, "brightgreen": 10, "brightbrown": 11, "brightblue": 12,
    "brightmagenta": 13, "brightcyan": 14, "brightwhite": 15,
}
"""pyte's names for the 16 ANSI colours, as palette indexes."""

DARK_DEFAULTS = ("e5e5e5", "000000")
"""(foreground, background) of a dark terminal's default colours (xterm's
palette: white 7 on black 0)."""
LIGHT_DEFAULTS = ("000000", "ffffff")
"""(foreground, background) of a light terminal's default colours."""


class Screen(pyte.Screen):
    """A pyte screen that also keeps SGR 2 (dim), in the ``blink`` slot."""

    def __init__(self, columns: int, lines: int) -> None:
        self._dim = False
        super().__init__(columns, lines)

    def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:  # noqa: ARG002
        kept: list[int] = []
        i = 0
        while i < len(attrs):
            attr = attrs[i]
            if attr in (38, 48) and i + 1 < len(attrs):  # colour: skip its parameters
                width = 3 if attrs[i + 1] == 5 else 5 if attrs[i + 1] == 2 else 2
                kept.extend(attrs[i:i + width])
                i += width
                continue
            if attr == 2:
                self._dim = True
            else:
                if attr in (0, 22):
                    self._dim = False
                kept.append(attr)
            i += 1
        if kept or not attrs:
            super().select_graphic_rendition(*kept)
        self.cursor.attrs = self.cursor.attrs._replace(blink=self._dim)


@dataclass(frozen=True)
class Cell:
    char: str
    fg: str  # "rrggbb" or "default"
    bg: str
    bold: bool
    dim: bool
    reverse: bool


def hex_of(colour: str) -> str:
    """pyte's colour value as ``"rrggbb"`` (ANSI names through xterm's
    palette), or ``"default"``."""
    if colour == "default":
        return colour
    if colour in ANSI_NAMES:
        return graphics.FG_BG_256[ANSI_NAMES[colour]]
    return colour.lower()


class PtyTerm:
    """``argv`` running in a ``cols`` x ``rows`` pseudo-terminal."""

    def __init__(self, argv: list[str], env: dict[str, str], *, cols: int = 120, rows: int = 40,
                 cwd: Path | str = ROOT) -> None:
        self.cols, self.rows = cols, rows
        self.screen = Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.chunks: list[tuple[float, int, int]] = []
        """(monotonic time, offset in ``raw``, length) of every read."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=str(cwd),
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.exited = False
        self.closed = False

    # -- reading -----------------------------------------------------------

    def _read(self, timeout: float) -> int:
        """Read what is there within ``timeout`` s; bytes read (-1: the program ended)."""
        if self.exited:
            return -1
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return 0
        try:
            chunk = os.read(self.master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            self.exited = True
            return -1
        self.chunks.append((time.monotonic(), len(self.raw), len(chunk)))
        self.raw += chunk
        self.stream.feed(chunk)
        return len(chunk)

    def settle(self, quiet: float = 0.6, limit: float = 30.0, until: str | None = None) -> int:
        """Read until nothing arrives for ``quiet`` s (and, with ``until``,
        the screen shows that text), at most ``limit`` s. Returns the bytes read."""
        start = len(self.raw)
        deadline = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < deadline:
            n = self._read(0.05)
            now = time.monotonic()
            if n < 0:
                break
            if n:
                last = now
            elif now - last >= quiet and (until is None or until in self.text()):
                break
        return len(self.raw) - start

    def bursts(self, start: int = 0, gap: float = 0.03) -> list[bytes]:
        """The output from offset ``start`` on, split where nothing arrived
        for ``gap`` s: roughly one screen update each."""
        out: list[bytes] = []
        last = None
        for t, offset, n in self.chunks:
            if offset + n <= start:
                continue
            piece = bytes(self.raw[max(offset, start):offset + n])
            if last is None or t - last > gap:
                out.append(piece)
            else:
                out[-1] += piece
            last = t
        return out

    # -- typing ------------------------------------------------------------

    def send(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def press(self, *keys: str, quiet: float = 0.6, limit: float = 30.0) -> int:
        """Type ``keys`` (Textual key names or plain characters), each
        followed by :meth:`settle`; returns the bytes the program wrote."""
        total = 0
        for key in keys:
            self.send(KEYS.get(key, key))
            total += self.settle(quiet, limit)
        return total

    # -- the screen ---------------------------------------------------------

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def cell(self, x: int, y: int) -> Cell:
        char = self.screen.buffer[y][x]
        return Cell(char.data, hex_of(char.fg), hex_of(char.bg), char.bold, char.blink, char.reverse)

    def cells(self) -> list[list[Cell]]:
        return [[self.cell(x, y) for x in range(self.cols)] for y in range(self.rows)]

    # -- ending ------------------------------------------------------------

    def close(self, quit_keys: str | None = None, wait: float = 5.0) -> int | None:
        """Type ``quit_keys`` (if any), wait up to ``wait`` s for the
        program to end, else terminate it. Returns its exit status."""
        if self.closed:
            return self.proc.returncode
        try:
            if quit_keys and not self.exited:
                try:
                    self.send(quit_keys)
                except OSError:
                    pass
            deadline = time.monotonic() + wait
            while self.proc.poll() is None and time.monotonic() < deadline:
                self._read(0.05)
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        finally:
            self.closed = True
            os.close(self.master)
        return self.proc.returncode

    def __enter__(self) -> PtyTerm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
