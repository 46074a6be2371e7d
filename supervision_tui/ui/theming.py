"""Themes: TOML files parsed into :class:`textual.theme.Theme`.

Bundled themes live in the repository's top-level ``themes/`` directory
(installed as ``supervision_tui/_themes``); users add their own
``*.toml`` files to ``paths.themes_dir()`` (``<config dir>/themes``). The file format is documented in
``themes/README.md``.

Nothing here raises on a bad theme file: :func:`load_themes` returns the
themes that loaded and one message per file that did not, naming the file
and the problem, so the app can ``notify`` them and carry on with the
default theme.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.theme import Theme

from supervision_tui.paths import themes_dir

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

DEFAULT_THEME = "clinic-dark"
"""Used when nothing else is asked for, and whenever the asked-for theme is
missing or broken."""

BUNDLED_ORDER = ("clinic-dark", "clinic-light", "projector", "ansi", "ansi-light")
"""Bundled themes in cycling order; user-only themes follow, by name."""

COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
REQUIRED_KEYS = ("name", "primary")
ALLOWED_KEYS = frozenset(
    (*COLOR_KEYS, "name", "description", "dark", "ansi", "luminosity_spread", "text_alpha", "variables")
)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_ALPHA_SUFFIX_RE = re.compile(r"^(?P<color>.+?)\s+(?P<pct>\d+(?:\.\d+)?)%$")
_KEYWORD_VALUES = frozenset({"auto", "initial", "transparent"})

# Used only if the bundled clinic-dark.toml is missing or broken (a
# packaging fault), so that DEFAULT_THEME always exists.
_FALLBACK_DEFAULT = Theme(
    name=DEFAULT_THEME,
    primary="#5fafff",
    secondary="#87afd7",
    accent="#5fd7d7",
    warning="#ffd75f",
    error="#ff8787",
    success="#87d787",
    foreground="#e4e4e4",
    background="#1c1c1c",
    surface="#262626",
    panel="#303030",
    dark=True,
)


class ThemeFileError(ValueError):
    """A theme file cannot be used. ``str(err)`` names the file and the problem."""


# --------------------------------------------------------------------------
# Where theme files are


def bundled_themes_dir() -> Traversable:
    """The directory of bundled ``*.toml`` themes.

    An installed wheel has them in ``supervision_tui/_themes`` (see
    pyproject.toml ``package-dir``); a source checkout or an editable
    install reads the repository's ``themes/`` directly.
    """
    installed = resources.files("supervision_tui").joinpath("_themes")
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "themes"


# --------------------------------------------------------------------------
# Parsing


def _check_color(value: Any, key: str, *, allow_keywords: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a colour string such as \"#1d242d\" or \"ansi_red\" (got {value!r})")
    text = value.strip()
    match = _ALPHA_SUFFIX_RE.match(text) if allow_keywords else None
    color = match.group("color") if match else text
    if allow_keywords and color in _KEYWORD_VALUES:
        return value
    try:
        Color.parse(color)
    except ColorParseError as err:
        hint = f"; did you mean {err.suggested_color!r}?" if err.suggested_color else ""
        raise ValueError(f"{key!r} is not a valid colour: {value!r}{hint}") from None
    return value


def _check_variable(key: Any, value: Any) -> None:
    if not isinstance(key, str) or not isinstance(value, str):
        raise ValueError(f"variables: {key!r} = {value!r}: names and values must be strings")
    if key.endswith("style"):
        words = value.split()
        bad = [w for w in words if w not in VALID_STYLE_FLAGS]
        if not words or bad:
            raise ValueError(
                f"variables: {key!r} is not a valid text style: {value!r} "
                f"(use words from: {', '.join(sorted(VALID_STYLE_FLAGS))})"
            )
    else:
        _check_color(value, f"variables.{key}", allow_keywords=True)


def theme_from_mapping(data: Mapping[str, Any]) -> Theme:
    """Validate a parsed theme table and build the Theme.

    Raises ValueError with a one-line description of the first problem.
    """
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ValueError(f"missing required key {key!r}")
    unknown = sorted(set(data) - ALLOWED_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(ALLOWED_KEYS))})"
        )
    name = data["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"'name' must be letters, digits, '-' or '_' (got {name!r})")
    kwargs: dict[str, Any] = {"name": name}
    for key in COLOR_KEYS:
        if key in data:
            kwargs[key] = _check_color(data[key], key)
    for key in ("dark", "ansi"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ValueError(f"{key!r} must be true or false (got {data[key]!r})")
            kwargs[key] = data[key]
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{key!r} must be a number from 0 to 1 (got {value!r})")
            kwargs[key] = float(value)
    if "description" in data and not isinstance(data["description"], str):
        raise ValueError(f"'description' must be a string (got {data['description']!r})")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("'variables' must be a table: [variables]")
    for key, value in variables.items():
        _check_variable(key, value)
    kwargs["variables"] = dict(variables)
    if "border-blurred" not in variables and not kwargs.get("ansi"):
        # the app draws unfocused panel borders in $border-blurred; Textual's
        # own default (the surface, 2.5 % darker) would make them invisible
        kwargs["variables"]["border-blurred"] = f"{kwargs['primary']} 60%"
    theme = Theme(**kwargs)
    try:  # what Textual will do with it when the theme is applied
        theme.to_color_system().generate()
    except Exception as err:  # noqa: BLE001 - any failure makes the theme unusable
        raise ValueError(f"Textual cannot build this theme: {err}") from None
    return theme


def parse_theme(text: str, source: str = "<theme>") -> Theme:
    """Parse one theme file's text. Raises :class:`ThemeFileError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ThemeFileError(f"{source}: not valid TOML: {err}") from None
    try:
        return theme_from_mapping(data)
    except ValueError as err:
        raise ThemeFileError(f"{source}: {err}") from None


def load_theme_file(path: Path | Traversable) -> Theme:
    """Read and parse one theme file. Raises :class:`ThemeFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ThemeFileError(f"{path}: cannot be read: {err}") from None
    return parse_theme(text, str(path))


def _toml_files(directory: Path | Traversable) -> list[Path | Traversable]:
    try:
        if not directory.is_dir():
            return []
        return sorted(
            (entry for entry in directory.iterdir() if entry.name.endswith(".toml") and entry.is_file()),
            key=lambda entry: entry.name,
        )
    except OSError:
        return []


# --------------------------------------------------------------------------
# Loading, choosing and cycling


def load_themes(user_dir: Path | str | None = None) -> tuple[list[Theme], list[str]]:
    """All usable themes, and one message per problem.

    Bundled themes come first in :data:`BUNDLED_ORDER`; then each
    ``*.toml`` in ``user_dir`` (default ``paths.themes_dir()``). A user
    theme with a bundled theme's name replaces it. A file that cannot be
    used is skipped and reported (``"<path>: <problem>; ..."``); the
    default theme is always in the result.
    """
    messages: list[str] = []
    themes: dict[str, Theme] = {}
    origin: dict[str, str] = {}

    for path in _toml_files(bundled_themes_dir()):
        try:
            theme = load_theme_file(path)
        except ThemeFileError as err:
            messages.append(f"{err}; bundled theme skipped")
            continue
        themes[theme.name] = theme
        origin[theme.name] = str(path)
    if DEFAULT_THEME not in themes:
        themes[DEFAULT_THEME] = _FALLBACK_DEFAULT
        messages.append(f"bundled theme {DEFAULT_THEME!r} not found; using a built-in copy")
    bundled = set(themes)

    directory = themes_dir() if user_dir is None else Path(user_dir)
    for path in _toml_files(directory):
        try:
            theme = load_theme_file(path)
        except ThemeFileError as err:
            messages.append(f"Theme file {err}; the file was ignored")
            continue
        if theme.name in origin and theme.name not in bundled:
            messages.append(
                f"Theme file {path}: theme {theme.name!r} is also defined in {origin[theme.name]}; "
                f"using {path.name}"
            )
        themes[theme.name] = theme
        origin[theme.name] = str(path)

    ordered = [themes[name] for name in BUNDLED_ORDER if name in themes]
    ordered += [themes[name] for name in sorted(themes) if name not in BUNDLED_ORDER]
    return ordered, messages


def theme_names(user_dir: Path | str | None = None) -> list[str]:
    """Names of all usable themes, in cycling order."""
    themes, _ = load_themes(user_dir)
    return [theme.name for theme in themes]


def next_theme(current: str, names: Sequence[str] | None = None) -> str:
    """The theme after ``current`` in ``names`` (default: :func:`theme_names`),
    wrapping round. A theme not in the list (e.g. a Textual built-in picked
    from the command palette) is followed by the first one."""
    names = list(theme_names() if names is None else names)
    if not names:
        return DEFAULT_THEME
    try:
        return names[(names.index(current) + 1) % len(names)]
    except ValueError:
        return names[0]


def resolve_theme(
    requested: str | None, available: Iterable[str], listed: Iterable[str] | None = None,
    fallback: str | None = None,
) -> tuple[str, str | None]:
    """The theme to use for ``requested`` and a message if it cannot be used.

    ``None`` or ``""`` means the default, silently. ``listed``: the names
    the message suggests (default: all of ``available``). ``fallback``: the
    theme instead of one that is not available (the remembered one, when
    it is), else the default.
    """
    if not requested:
        return DEFAULT_THEME, None
    available = list(available)
    if requested in available:
        return requested, None
    instead = fallback if fallback and fallback in available else DEFAULT_THEME
    choices = ", ".join(listed if listed is not None else sorted(available))
    return instead, f"Theme {requested!r} is not available; using {instead!r}. Themes: {choices}"


# --------------------------------------------------------------------------
# App integration (tiny on purpose)


def install_themes(
    app: App, requested: str | None = None, user_dir: Path | str | None = None, fallback: str | None = None,
) -> tuple[list[str], list[str]]:
    """Register every theme with ``app`` and switch to ``requested`` (else
    to ``fallback``, else the default: ``resolve_theme``).

    Returns ``(names in cycling order, messages to notify)``. Call from
    ``App.__init__`` (after ``super().__init__()``) or ``on_mount``.
    """
    themes, messages = load_themes(user_dir)
    for theme in themes:
        app.register_theme(theme)
    names = [theme.name for theme in themes]
    name, problem = resolve_theme(requested, app.available_themes, listed=names, fallback=fallback)
    if problem:
        messages.append(problem)
    app.theme = name
    return names, messages


def plot_theme(theme: Theme) -> str:
    """The ``PlotextPlot.theme`` to use under ``theme``.

    ``"auto"`` follows the app theme's surface and foreground colours. An
    ANSI theme has no RGB surface or foreground (``transparent`` and
    ``ansi_default`` both read as black), so "auto" would draw black ticks
    on a black canvas; plotext's ``"clear"`` theme uses the terminal's own
    default colours instead.
    """
    return "clear" if theme.ansi else "auto"


SERIES_KEYS = ("primary", "accent", "success", "error", "secondary", "warning")
_ANSI_SERIES = ("blue", "magenta", "green", "red", "cyan", "yellow")


def series_colors(app: App) -> list[tuple[int, int, int]] | list[str]:
    """Colours for chart series (``plt.plot(..., color=...)``) from the
    current theme, in :data:`SERIES_KEYS` order.

    plotext's own sequence under "auto" is fixed (blue, green, yellow ...)
    and its green and yellow fade on a white surface; the theme's colours
    are chosen for the theme's surface. Under an ANSI theme: plotext's
    16-colour names, which the terminal draws in its own palette.
    """
    if app.current_theme.ansi:
        return list(_ANSI_SERIES)
    variables = app.theme_variables
    return [Color.parse(variables[key]).rgb for key in SERIES_KEYS]


# --------------------------------------------------------------------------
# WCAG contrast (used by the tests and by anyone checking a theme)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str | Color) -> float:
    """WCAG 2.x relative luminance of an opaque colour."""
    rgb = Color.parse(color) if isinstance(color, str) else color
    r, g, b = rgb.rgb
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str | Color, second: str | Color) -> float:
    """WCAG contrast ratio, 1.0 to 21.0."""
    la, lb = relative_luminance(first), relative_luminance(second)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


# --------------------------------------------------------------------------
# NO_COLOR


NO_COLOR_ANSI_VARIABLES = {
    # Without colour the block cursor's background is gone; reverse video is
    # what every terminal can still show (the selected row stays visible).
    "block-cursor-text-style": "bold reverse",
    "block-cursor-blurred-text-style": "underline",
}
"""Variables that replace the theme's under ``NO_COLOR`` with an ANSI theme."""


def no_color_filter(app: App) -> None:
    """Keep Textual's ``NO_COLOR`` filter right for the current theme.

    With ``NO_COLOR`` Textual strips colours with one of two filters, chosen
    once when the app is created: ``Monochrome`` (greys) for RGB themes,
    ``NoColor`` (the terminal's default colours) for ANSI themes. The app is
    created under Textual's default theme and switches to ours afterwards,
    so an ANSI theme (``ansi``, ``ansi-light``, a user's) would get
    ``Monochrome``, which turns ``ansi_default`` into black: black text on a
    black background. Call whenever the theme may have changed (the app calls
    it from ``get_css_variables``). Does nothing without ``NO_COLOR``.
    """
    if not app.no_color:  # (set by Textual's App.__init__ before it first asks for the CSS variables)
        return
    try:
        from textual.filter import Monochrome, NoColor

        filters = app._filters  # noqa: SLF001 - Textual keeps its line filters here
        wanted = NoColor if app.native_ansi_color else Monochrome
    except Exception:  # noqa: BLE001 - another Textual: leave its choice alone
        return
    for i, current in enumerate(filters):
        if isinstance(current, (Monochrome, NoColor)) and type(current) is not wanted:
            filters[i] = wanted()


def no_color_variables(app: App, variables: dict[str, str]) -> dict[str, str]:
    """``variables`` with :data:`NO_COLOR_ANSI_VARIABLES` applied when
    ``NO_COLOR`` is set and the theme is an ANSI one (colours all become the
    terminal's default, so only text styles are left to mark the cursor).

    Also turns the full-strength line filter on or off for the theme
    (``"dim-text-style" = "none"``, see ``line_filters``): the app calls
    this whenever the theme's variables are computed."""
    try:
        from supervision_tui.ui.line_filters import set_full_strength, wants_full_strength

        set_full_strength(app, wants_full_strength(variables))
    except AttributeError:  # an app without Textual's line filters (a test double)
        pass
    if app.no_color and app.native_ansi_color:
        return {**variables, **NO_COLOR_ANSI_VARIABLES}
    return variables
