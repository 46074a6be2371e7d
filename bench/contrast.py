"""Contrast of the screens as the terminal shows them (WCAG 2.x ratios).

The theme tests check theme *variables*; what a projector shows is what
the app *sends*: colours blended by Textual, reduced to 256 colours by
Rich, dimmed, reversed. This checker runs the real app in a
pseudo-terminal (:mod:`ptyterm`), walks through every screen, reads the
foreground and background of every cell from the escape codes, and
computes the WCAG contrast ratio of each.

Cells are sorted into three kinds by their character:

* **text**: letters, digits, punctuation, symbols (``▲ ● ⚠ ✓`` carry a
  tier): WCAG 1.4.6 (AAA, 7:1) on the projector, 1.4.3 (AA, 4.5:1)
  elsewhere;
* **graphic**: box drawing (borders, rules, chart axes), block elements
  and braille (chart strokes, sparklines, scrollbars): WCAG 1.4.11,
  3:1 against the cell's own background;
* blank cells (spaces) carry no foreground and are not measured.

A dimmed cell (SGR 2) is measured at half strength (its foreground
blended half way towards its background, as xterm and VTE draw it);
reverse video swaps foreground and background; the terminal's default
colours and the 16 ANSI colours are those of xterm's default palette on
a dark (``ansi`` and RGB dark themes) or light (``ansi-light``)
background.

Run it on its own for a table of the minimum per theme and colour depth:

    .venv/bin/python bench/contrast.py                      # every bundled theme, truecolor and 256
    .venv/bin/python bench/contrast.py --theme projector --depth 256 --worst 15

``tests/ui/test_rendered_contrast.py`` asserts the minima.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from ptyterm import DARK_DEFAULTS, LIGHT_DEFAULTS, ROOT, Cell, PtyTerm  # noqa: E402, F401 (Cell: for callers)

PY = sys.executable

TEXT_MIN = {"projector": 7.0}
"""Text minimum per theme (WCAG 1.4.6 AAA for the projector); others: :data:`TEXT_MIN_DEFAULT`."""
TEXT_MIN_DEFAULT = 4.5
GRAPHIC_MIN = 3.0
"""Borders, chart strokes, sparklines (WCAG 1.4.11)."""
GRAPHIC_CHECKED = ("projector",)
"""Themes whose non-text contrast is asserted (the issue asks it of the projector)."""

DEPTHS = {
    # name: environment that gives Textual/Rich that colour system
    "truecolor": {"TERM": "xterm-256color", "COLORTERM": "truecolor"},
    "256": {"TERM": "xterm-256color"},
    "16": {"TERM": "xterm"},
}
RGB_THEMES = ("clinic-dark", "clinic-light", "projector")
ANSI_THEMES = ("ansi", "ansi-light")
LIGHT_TERMINAL = ("ansi-light",)
"""Themes meant for a light-background terminal (the others: dark)."""


# --------------------------------------------------------------------------
# WCAG


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: str) -> float:
    r, g, b = (int(rgb[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def ratio(fg: str, bg: str) -> float:
    a, b = luminance(fg), luminance(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def blend(fg: str, bg: str, factor: float = 0.5) -> str:
    f = [int(fg[i:i + 2], 16) for i in (0, 2, 4)]
    b = [int(bg[i:i + 2], 16) for i in (0, 2, 4)]
    return "".join(f"{round(bv + (fv - bv) * factor):02x}" for fv, bv in zip(f, b))


# --------------------------------------------------------------------------
# Cells


def kind_of(char: str) -> str | None:
    """``"text"``, ``"graphic"`` or None (blank)."""
    if not char or char.isspace() or char == "\u2800":  # blank braille is blank
        return None
    code = ord(char[0])
    if 0x2500 <= code <= 0x259F or 0x2800 <= code <= 0x28FF or 0x1FB00 <= code <= 0x1FBFF:
        return "graphic"  # box drawing, block elements, braille, legacy computing
    if code in (0x2581, 0x2594, 0x258F, 0x2595):  # eighth blocks (already in the range)
        return "graphic"
    if unicodedata.category(char[0]).startswith("Z"):
        return None
    if code >= 0x1F000 and unicodedata.east_asian_width(char[0]) == "W":
        return None  # a colour emoji (the palette's 🔎): drawn in its own colours, not the cell's
    return "text"


def shown_colours(cell: Cell, defaults: tuple[str, str]) -> tuple[str, str]:
    """(foreground, background) as the terminal draws ``cell``."""
    fg = defaults[0] if cell.fg == "default" else cell.fg
    bg = defaults[1] if cell.bg == "default" else cell.bg
    if cell.reverse:
        fg, bg = bg, fg
    if cell.dim:
        fg = blend(fg, bg, 0.5)
    return fg, bg


@dataclass
class Finding:
    ratio: float
    kind: str
    screen: str
    row: int
    col: int
    snippet: str
    fg: str
    bg: str

    def __str__(self) -> str:
        return (f"{self.ratio:5.2f}:1 {self.kind:7} {self.screen:18} row {self.row:2} col {self.col:3} "
                f"#{self.fg} on #{self.bg}  {self.snippet!r}")


@dataclass
class Report:
    theme: str
    depth: str
    findings: list[Finding] = field(default_factory=list)
    screens: list[str] = field(default_factory=list)

    def worst(self, kind: str, n: int = 1) -> list[Finding]:
        """The ``n`` lowest-contrast findings of ``kind``, one per colour pair."""
        seen: set[tuple[str, str]] = set()
        out: list[Finding] = []
        for f in sorted((f for f in self.findings if f.kind == kind), key=lambda f: f.ratio):
            if (f.fg, f.bg) not in seen:
                seen.add((f.fg, f.bg))
                out.append(f)
            if len(out) == n:
                break
        return out

    def minimum(self, kind: str) -> float | None:
        worst = self.worst(kind)
        return worst[0].ratio if worst else None


def measure(term: PtyTerm, screen: str, defaults: tuple[str, str],
            region: tuple[int, int, int, int] | None = None) -> list[Finding]:
    """One finding per run of cells of the same kind and colours on a row
    (the snippet is the run's text), in ``region`` (x0, y0, x1, y1
    inclusive; default the whole screen)."""
    x0, y0, x1, y1 = region or (0, 0, term.cols - 1, term.rows - 1)
    found: list[Finding] = []
    for y in range(y0, y1 + 1):
        run: list = []
        key = None
        for x in range(x0, x1 + 2):
            cell = term.cell(x, y) if x <= x1 else None
            kind = kind_of(cell.char) if cell else None
            colours = shown_colours(cell, defaults) if cell and kind else None
            this = (kind, colours) if kind else None
            if this != key or cell is None:
                if key is not None:
                    fg, bg = key[1]
                    found.append(Finding(ratio(fg, bg), key[0], screen, y, run[0][0],
                                         "".join(c for _, c in run).strip()[:40], fg, bg))
                run, key = [], this
            if this is not None:
                run.append((x, cell.char))
            elif cell is not None and run:
                run.append((x, cell.char))  # keep spaces inside a run's snippet
    return found


# --------------------------------------------------------------------------
# Running the app


def child_env(home: Path, depth: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEXTUAL_", "SSH_", "SUPERVISION_TUI_", "COLORTERM"))
           and k not in ("NO_COLOR", "COLUMNS", "LINES", "TERM")}
    env.update(DEPTHS[depth])
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), SUPERVISION_TUI_CONFIG_DIR=str(home / "config"),
               PYTHONPATH=str(ROOT))
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Step:
    """One screen of the walk: its name, the keys that reach it from the
    step before, and whether it is a modal over a dimmed backdrop (then
    only the cells it changed are measured: the backdrop is inactive,
    WCAG's "inactive user interface component")."""

    name: str
    keys: tuple[str, ...] = ()
    modal: bool = False
    row: str | None = None
    """After ``keys`` (on the caseload): move the cursor to the first table
    row holding this text, then press enter."""


ROUTE: tuple[Step, ...] = (
    Step("caseload"),
    Step("caseload-present", ("p",)),
    Step("caseload-filter", ("p", "f"), modal=True),
    Step("caseload-search", ("escape", "slash")),
    Step("palette", ("escape", "escape", "ctrl+p"), modal=True),
    Step("help", ("escape", "question_mark"), modal=True),
    Step("client-rupture", ("escape", "home"), row="3 rupture"),
    Step("client-review", ("r",), modal=True),
    Step("client-note", ("escape", "n"), modal=True),
    Step("client-action", ("escape", "x"), modal=True),
    Step("client-goals", ("escape", "g")),
    Step("client-risk", ("escape", "home", "enter")),
    Step("client-tab", ("tab", "tab")),
    Step("clinicians", ("escape", "o")),
    Step("agenda", ("escape", "a")),
    Step("audit", ("escape", "u")),
    Step("client-ok", ("escape", "end", "enter")),
)
"""The walk through every screen; it starts on the caseload."""


def changed_region(before: list[str], after: list[str]) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1, inclusive) of the cells whose character changed."""
    xs, ys = [], []
    for y, (a, b) in enumerate(zip(before, after)):
        for x, (ca, cb) in enumerate(zip(a, b)):
            if ca != cb:
                xs.append(x)
                ys.append(y)
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def modal_region(before: list[str], after: list[str]) -> tuple[int, int, int, int] | None:
    """The dialog a modal step opened: the largest new rounded box
    (``╭`` where there was none) inside the cells that changed; without
    one (the command palette), the changed cells' bounding box. A screen
    that also scrolled underneath changes everywhere: the box keeps the
    dimmed backdrop out."""
    changed = changed_region(before, after)
    if changed is None:
        return None
    x0, y0, x1, y1 = changed
    best = None
    for y in range(y0, y1 + 1):
        row = after[y]
        for x in range(x0, min(x1 + 1, len(row))):
            if row[x] != "╭" or (y < len(before) and x < len(before[y]) and before[y][x] == "╭"):
                continue
            right = row.find("╮", x + 1)
            bottom = next((yy for yy in range(y + 1, len(after)) if x < len(after[yy]) and after[yy][x] == "╰"), None)
            if right < 0 or bottom is None:
                continue
            area = (right - x + 1) * (bottom - y + 1)
            if best is None or area > best[0]:
                best = (area, (x, y, right, bottom))
    return best[1] if best else changed


def walk(term: PtyTerm, route=ROUTE) -> Iterator[tuple[Step, tuple[int, int, int, int] | None]]:
    """Type each step's keys; yield the step and the region to measure
    (None: the whole screen) once the screen is quiet."""
    term.settle(until="C-0", limit=90)
    for step in route:
        if step.row is not None:
            term.press(*step.keys)
            lines = term.screen.display
            header = next(i for i, line in enumerate(lines) if "Tier" in line and "Client" in line)
            target = next(i for i, line in enumerate(lines) if i > header and step.row in line)
            term.press(*(["down"] * (target - header - 1)), "enter")
            yield step, None
            continue
        term.press(*step.keys[:-1])
        before = list(term.screen.display)
        term.press(*step.keys[-1:])
        yield step, (modal_region(before, list(term.screen.display)) if step.modal else None)


def to_caseload(term: PtyTerm) -> None:
    """Escape back to the caseload (its top bar names the program)."""
    for _ in range(5):
        if term.text().splitlines()[0].lstrip().startswith("supervision-tui"):
            break
        term.press("escape")
    term.press("home")


def switch_theme(term: PtyTerm, theme: str) -> None:
    """Press ``t`` until the caseload's top bar shows ``theme``."""
    for _ in range(8):
        if term.text().splitlines()[0].rstrip().endswith(theme):
            return
        term.press("t")
    raise RuntimeError(f"theme {theme} never came up:\n{term.text()}")


def run_themes(themes: list[str], depth: str, *, size: tuple[int, int] = (120, 40), route=ROUTE,
               extra_env: dict[str, str] | None = None, args: list[str] | None = None,
               on_screen: Callable[[str, str, PtyTerm], None] | None = None) -> list[Report]:
    """One app at colour ``depth``: every screen of ``route`` under each of
    ``themes`` in turn (switched with ``t``, so consecutive in the cycle)."""
    reports = []
    with tempfile.TemporaryDirectory(prefix="contrast-") as tmp:
        home = Path(tmp)
        argv = [PY, "-m", "supervision_tui", "open", "--theme", themes[0], *(args or [])]
        term = PtyTerm(argv, child_env(home, depth, extra_env), cols=size[0], rows=size[1])
        try:
            for i, theme in enumerate(themes):
                if i:
                    to_caseload(term)
                    switch_theme(term, theme)
                defaults = LIGHT_DEFAULTS if theme in LIGHT_TERMINAL else DARK_DEFAULTS
                report = Report(theme, depth)
                for step, region in walk(term, route):
                    report.screens.append(step.name)
                    report.findings.extend(measure(term, step.name, defaults, region))
                    if on_screen:
                        on_screen(theme, step.name, term)
                reports.append(report)
        finally:
            term.close("q")
    return reports


def run_theme(theme: str, depth: str, **kwargs) -> Report:
    """Run the app with ``theme`` at colour ``depth`` and measure every screen of ``route``."""
    on_screen = kwargs.pop("on_screen", None)
    if on_screen is not None:
        kwargs["on_screen"] = lambda _theme, name, term: on_screen(name, term)
    return run_themes([theme], depth, **kwargs)[0]


def text_min(theme: str) -> float:
    return TEXT_MIN.get(theme, TEXT_MIN_DEFAULT)


def contexts() -> list[tuple[str, str]]:
    """(theme, depth) pairs worth measuring: RGB themes at truecolor and
    256 colours, ANSI themes on a 16-colour terminal."""
    return [(t, d) for d in ("truecolor", "256") for t in RGB_THEMES] + [(t, "16") for t in ANSI_THEMES]


def runs() -> list[tuple[str, list[str]]]:
    """(depth, themes) per app process: one process per colour depth."""
    return [("truecolor", list(RGB_THEMES)), ("256", list(RGB_THEMES)), ("16", list(ANSI_THEMES))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--theme", action="append", help="theme (repeatable; default: every bundled one)")
    parser.add_argument("--depth", action="append", choices=list(DEPTHS))
    parser.add_argument("--worst", type=int, default=3, help="list the N worst cells of each kind")
    parser.add_argument("--size", default="120x40")
    opts = parser.parse_args(argv)
    cols, rows = (int(v) for v in opts.size.split("x"))
    pairs = [(t, d) for t, d in contexts()
             if (not opts.theme or t in opts.theme) and (not opts.depth or d in opts.depth)]
    if opts.theme:
        pairs += [(t, d) for t in opts.theme for d in (opts.depth or ["truecolor"]) if (t, d) not in pairs]
    print("| theme | colours | text min (needs) | graphic min |")
    print("|---|---|---|---|")
    details = []
    for depth, themes in runs():
        themes = [t for t in themes if (t, depth) in pairs]
        if not themes:
            continue
        for report in run_themes(themes, depth, size=(cols, rows)):
            t, g = report.minimum("text"), report.minimum("graphic")
            need = f"{text_min(report.theme)}" + (f", graphics {GRAPHIC_MIN}" if report.theme in GRAPHIC_CHECKED else "")
            print(f"| {report.theme} | {depth} | {t:.2f} ({need}) | {g:.2f} |", flush=True)
            details.append((report.theme, depth, report))
    for theme, depth, report in details:
        print(f"\n{theme} at {depth}:")
        for kind in ("text", "graphic"):
            for f in report.worst(kind, opts.worst):
                print("  ", f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
