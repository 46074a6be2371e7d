"""Theme files: parsing, contrast, broken files, user themes, cycling,
charts under each theme, and packaging of the themes/ folder."""

from __future__ import annotations

import asyncio
import functools
import tomllib
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import DataTable, Footer, Label

from supervision_tui import paths
from supervision_tui.ui import theming
from supervision_tui.ui.theming import (
    BUNDLED_ORDER,
    DEFAULT_THEME,
    contrast_ratio,
    install_themes,
    load_themes,
    next_theme,
    parse_theme,
    plot_theme,
    resolve_theme,
    series_colors,
    theme_names,
)

REPO = Path(__file__).resolve().parents[2]
THEMES_DIR = REPO / "themes"
REQUIRED = ("clinic-dark", "clinic-light", "projector", "ansi")
AAA = 7.0
AA = 4.5


def run_async(test):
    """Run an async test with asyncio.run (no pytest async plugin here)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path, monkeypatch):
    """Never read the developer's real ~/.config/supervision-tui/themes."""
    monkeypatch.setenv("SUPERVISION_TUI_CONFIG_DIR", str(tmp_path / "config"))


def bundled() -> dict:
    themes, messages = load_themes()
    assert messages == []
    return {t.name: t for t in themes}


def generated(theme) -> dict[str, str]:
    return theme.to_color_system().generate()


def resolve(value: str, background: str) -> Color:
    """A CSS colour value as it lands on ``background`` (alpha blended;
    ``auto`` = Textual's contrast colour)."""
    value = value.strip()
    alpha = 1.0
    if value.endswith("%"):
        value, pct = value.rsplit(None, 1)
        alpha = float(pct[:-1]) / 100
    bg = Color.parse(background)
    color = bg.get_contrast_text(1.0) if value == "auto" else Color.parse(value)
    color = color.multiply_alpha(alpha)
    return bg + color


# --------------------------------------------------------------------------
# Bundled themes parse


def test_every_bundled_file_parses_with_its_file_name():
    files = sorted(THEMES_DIR.glob("*.toml"))
    assert {f.stem for f in files} >= set(REQUIRED)
    for path in files:
        theme = theming.load_theme_file(path)
        assert theme.name == path.stem
        # Textual can build every design variable from it
        assert generated(theme)["primary"]


def test_load_themes_returns_bundled_in_order_and_default_first():
    names = theme_names()
    assert names[: len(BUNDLED_ORDER)] == list(BUNDLED_ORDER)
    assert names[0] == DEFAULT_THEME == "clinic-dark"


def test_bundled_rgb_themes_define_every_base_colour():
    for name in ("clinic-dark", "clinic-light", "projector"):
        theme = bundled()[name]
        for key in ("primary", "secondary", "accent", "warning", "error", "success",
                    "foreground", "background", "surface", "panel"):
            assert getattr(theme, key), (name, key)
        assert not theme.ansi


def test_ansi_themes_use_the_terminal_palette_only():
    for name in ("ansi", "ansi-light"):
        theme = bundled()[name]
        assert theme.ansi is True
        for key in ("foreground", "background", "surface", "panel"):
            assert getattr(theme, key) == "ansi_default", (name, key)
        for key in ("primary", "secondary", "accent", "warning", "error", "success"):
            assert Color.parse(getattr(theme, key)).ansi is not None, (name, key)
        for key, value in theme.variables.items():
            if not key.endswith("style"):
                assert Color.parse(value).ansi is not None, (name, key, value)
        # Textual's ANSI generator: text is the terminal's default colour
        assert generated(theme)["text"] == "ansi_default"


# --------------------------------------------------------------------------
# Contrast


def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#0000ff", "#ffffff") == pytest.approx(8.59, abs=0.01)
    assert contrast_ratio("#ffffff", "#767676") == contrast_ratio("#767676", "#ffffff")


def _status_pairs(theme):
    """(label, text colour, background colour) pairs a reader depends on."""
    colors = generated(theme)
    grounds = {"background": theme.background, "surface": theme.surface, "panel": theme.panel}
    pairs = []
    for ground_name, ground in grounds.items():
        pairs.append((f"foreground on {ground_name}", theme.foreground, ground))
        pairs.append((f"$text on {ground_name}", resolve(colors["text"], ground), ground))
        for status in ("error", "warning", "success", "accent"):
            pairs.append((f"{status} on {ground_name}", getattr(theme, status), ground))
            pairs.append((f"$text-{status} on {ground_name}", colors[f"text-{status}"], ground))
    return pairs, colors


def test_projector_text_and_status_colours_reach_wcag_aaa():
    theme = bundled()["projector"]
    pairs, colors = _status_pairs(theme)
    pairs += [
        ("$text-muted on background", resolve(colors["text-muted"], theme.background), theme.background),
        ("block cursor", colors["block-cursor-foreground"], colors["block-cursor-background"]),
        ("blurred block cursor", resolve(colors["block-cursor-blurred-foreground"], "#ffffff"),
         resolve(colors["block-cursor-blurred-background"], theme.surface)),
        ("footer", colors["footer-foreground"], colors["footer-background"]),
        ("footer key", colors["footer-key-foreground"], colors["footer-background"]),
        ("primary on background", theme.primary, theme.background),
    ]
    failures = [(label, round(contrast_ratio(fg, bg), 2)) for label, fg, bg in pairs
                if contrast_ratio(fg, bg) < AAA]
    assert failures == []
    assert len(pairs) >= 30  # the check really covered every pair


def test_contrast_check_catches_a_low_contrast_projector(tmp_path):
    """The AAA check fails a theme whose error red is too light."""
    text = (THEMES_DIR / "projector.toml").read_text().replace('error = "#990000"', 'error = "#e06060"')
    assert 'error = "#e06060"' in text
    theme = parse_theme(text, "projector-light-red.toml")
    pairs, _ = _status_pairs(theme)
    low = [label for label, fg, bg in pairs if contrast_ratio(fg, bg) < AAA]
    assert "error on background" in low


@pytest.mark.parametrize("name", ["clinic-dark", "clinic-light"])
def test_everyday_themes_reach_wcag_aa(name):
    theme = bundled()[name]
    pairs, colors = _status_pairs(theme)
    pairs.append(("block cursor", resolve(colors["block-cursor-foreground"], colors["block-cursor-background"]),
                  colors["block-cursor-background"]))
    failures = [(label, round(contrast_ratio(fg, bg), 2)) for label, fg, bg in pairs
                if contrast_ratio(fg, bg) < AA]
    assert failures == []


def _at_256_colours(color) -> Color:
    """What Textual sends to a 256-colour terminal (Rich's downgrade)."""
    from rich.color import Color as RichColor, ColorSystem as RichColorSystem

    color = color if isinstance(color, Color) else Color.parse(color)
    rich = RichColor.from_rgb(*color.rgb).downgrade(RichColorSystem.EIGHT_BIT)
    return Color(*rich.get_truecolor())


@pytest.mark.parametrize("name", ["clinic-dark", "clinic-light", "projector"])
def test_text_stays_readable_at_256_colours(name):
    """OpenSSH forwards TERM but not COLORTERM: remote sessions are often
    256 colours. Every text pair keeps WCAG AA (4.5:1) after the downgrade."""
    theme = bundled()[name]
    pairs, _ = _status_pairs(theme)
    failures = [
        (label, round(contrast_ratio(_at_256_colours(fg), _at_256_colours(bg)), 2))
        for label, fg, bg in pairs
        if contrast_ratio(_at_256_colours(fg), _at_256_colours(bg)) < AA
    ]
    assert failures == []


def test_dark_greys_stay_grey_at_256_colours():
    """A blue-grey background turns navy or teal at 256 colours."""
    theme = bundled()["clinic-dark"]
    for key in ("background", "surface", "panel"):
        r, g, b = _at_256_colours(getattr(theme, key)).rgb
        assert r == g == b, (key, (r, g, b))


def test_projector_is_black_on_white():
    theme = bundled()["projector"]
    assert contrast_ratio(theme.foreground, theme.background) == pytest.approx(21.0)
    assert theme.dark is False


# --------------------------------------------------------------------------
# Broken files fall back, with a message naming file and problem


GOOD = 'name = "mine"\nprimary = "#336699"\nbackground = "#101010"\n'


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "bad"\nprimary = "#336699\n', "not valid TOML"),
        ('name = "bad"\n', "missing required key 'primary'"),
        ('primary = "#336699"\n', "missing required key 'name'"),
        ('name = "bad"\nprimary = "#336699"\nbackgroud = "#000000"\n', "unknown key 'backgroud'"),
        ('name = "bad"\nprimary = "#33669"\n', "'primary' is not a valid colour: '#33669'"),
        ('name = "bad"\nprimary = "ansi_reddd"\n', "did you mean 'ansi_red'"),
        ('name = "bad"\nprimary = 3366\n', "'primary' must be a colour string"),
        ('name = "bad"\nprimary = "#336699"\ndark = "yes"\n', "'dark' must be true or false"),
        ('name = "bad one"\nprimary = "#336699"\n', "'name' must be letters"),
        ('name = "bad"\nprimary = "#336699"\nluminosity_spread = 3\n', "'luminosity_spread' must be a number"),
        ('name = "bad"\nprimary = "#336699"\nvariables = 3\n', "'variables' must be a table"),
        ('name = "bad"\nprimary = "#336699"\n[variables]\nborder = "bleu"\n',
         "'variables.border' is not a valid colour"),
        ('name = "bad"\nprimary = "#336699"\n[variables]\n"block-cursor-text-style" = "blinky"\n',
         "not a valid text style"),
    ],
)
def test_broken_user_theme_is_skipped_with_a_message(tmp_path, text, problem):
    user = tmp_path / "themes"
    path = write(user, "bad.toml", text)
    themes, messages = load_themes(user)
    names = [t.name for t in themes]
    assert "bad" not in names and "bad one" not in names
    assert names[: len(BUNDLED_ORDER)] == list(BUNDLED_ORDER)
    assert len(messages) == 1
    assert str(path) in messages[0]
    assert problem in messages[0]


def test_broken_file_does_not_hide_good_ones(tmp_path):
    user = tmp_path / "themes"
    write(user, "a-broken.toml", "name = ")
    write(user, "b-good.toml", GOOD)
    themes, messages = load_themes(user)
    assert "mine" in [t.name for t in themes]
    assert len(messages) == 1 and "a-broken.toml" in messages[0]


def test_requesting_a_broken_theme_falls_back_to_default(tmp_path):
    user = tmp_path / "themes"
    write(user, "mine.toml", 'name = "mine"\nprimary = "not-a-colour"\n')
    themes, messages = load_themes(user)
    name, message = resolve_theme("mine", [t.name for t in themes])
    assert name == DEFAULT_THEME
    assert "'mine' is not available" in message
    assert "mine.toml" in messages[0] and "not a valid colour" in messages[0]


def test_unreadable_encoding_is_reported(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "latin1.toml").write_bytes(b'name = "caf\xe9"\nprimary = "#336699"\n')
    _, messages = load_themes(user)
    assert len(messages) == 1 and "latin1.toml" in messages[0] and "cannot be read" in messages[0]


def test_missing_bundled_default_uses_builtin_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(theming, "bundled_themes_dir", lambda: tmp_path / "nothing-here")
    themes, messages = load_themes(tmp_path / "no-user-themes")
    assert [t.name for t in themes] == [DEFAULT_THEME]
    assert "not found" in messages[0]


# --------------------------------------------------------------------------
# User theme directory


def test_user_dir_extends_the_bundled_themes(tmp_path):
    user = tmp_path / "themes"
    write(user, "zeta.toml", GOOD.replace("mine", "zeta"))
    write(user, "alpha.toml", GOOD.replace("mine", "alpha"))
    write(user, "notes.txt", "not a theme")
    names = theme_names(user)
    assert names == [*BUNDLED_ORDER, "alpha", "zeta"]


def test_user_theme_overrides_a_bundled_one(tmp_path):
    user = tmp_path / "themes"
    write(user, "projector.toml", 'name = "projector"\nprimary = "#123456"\n')
    themes, messages = load_themes(user)
    by_name = {t.name: t for t in themes}
    assert by_name["projector"].primary == "#123456"
    assert [t.name for t in themes].count("projector") == 1
    assert messages == []


def test_two_user_files_with_one_name_report_the_clash(tmp_path):
    user = tmp_path / "themes"
    write(user, "a.toml", GOOD)
    write(user, "b.toml", GOOD.replace("#336699", "#993366"))
    themes, messages = load_themes(user)
    assert {t.name: t for t in themes}["mine"].primary == "#993366"
    assert len(messages) == 1 and "a.toml" in messages[0] and "b.toml" in messages[0]


def test_default_user_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISION_TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    assert paths.themes_dir() == tmp_path / "cfg" / "themes"
    write(tmp_path / "cfg" / "themes", "mine.toml", GOOD)
    assert "mine" in theme_names()


def test_default_user_dir_without_override_is_platform_config(monkeypatch):
    import platformdirs

    monkeypatch.delenv("SUPERVISION_TUI_CONFIG_DIR", raising=False)
    assert paths.themes_dir() == Path(platformdirs.user_config_dir("supervision-tui")) / "themes"


# --------------------------------------------------------------------------
# Choosing and cycling


def test_next_theme_cycles_and_wraps():
    names = ["a", "b", "c"]
    assert next_theme("a", names) == "b"
    assert next_theme("c", names) == "a"
    assert next_theme("textual-dark", names) == "a"
    seen, current = [], DEFAULT_THEME
    for _ in range(len(BUNDLED_ORDER)):
        current = next_theme(current)
        seen.append(current)
    assert seen == [*BUNDLED_ORDER[1:], BUNDLED_ORDER[0]]


def test_resolve_theme():
    assert resolve_theme(None, ["clinic-dark"]) == (DEFAULT_THEME, None)
    assert resolve_theme("projector", ["clinic-dark", "projector"]) == ("projector", None)
    name, message = resolve_theme("nope", ["clinic-dark", "projector"])
    assert name == DEFAULT_THEME and "'nope'" in message and "projector" in message


class _ThemedApp(App):
    def __init__(self, requested=None, user_dir=None):
        super().__init__()
        self.names, self.messages = install_themes(self, requested, user_dir)

    def compose(self) -> ComposeResult:
        yield Label("▲1 risk  C-0142", id="label")
        table = DataTable()
        table.add_columns("Tier", "Client")
        table.add_row("▲1 risk", "C-0142")
        yield table
        yield Footer()


@run_async
async def test_install_themes_registers_and_applies(tmp_path):
    user = tmp_path / "themes"
    write(user, "broken.toml", "name = 1")
    app = _ThemedApp("projector", user)
    async with app.run_test(size=(60, 12)):
        assert app.theme == "projector"
        assert set(REQUIRED) <= set(app.available_themes)
        assert any("broken.toml" in m for m in app.messages)
        for name in app.names:  # every theme applies without a CSS error
            app.theme = name
            await app.workers.wait_for_complete()
        assert app.theme == app.names[-1]


@run_async
async def test_install_unknown_theme_falls_back_with_message(tmp_path):
    app = _ThemedApp("does-not-exist", tmp_path / "none")
    async with app.run_test(size=(60, 12)):
        assert app.theme == DEFAULT_THEME
        assert any("'does-not-exist' is not available" in m for m in app.messages)


@run_async
async def test_projector_screen_uses_theme_colours(tmp_path):
    app = _ThemedApp("projector", tmp_path / "none")
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        assert app.screen.styles.background == Color.parse("#ffffff")
        style = app.query_one("#label").rich_style
        assert (style.color.triplet.hex, style.bgcolor.triplet.hex) == ("#000000", "#ffffff")


# --------------------------------------------------------------------------
# Charts follow the theme


class _ChartApp(App):
    def __init__(self, theme_name):
        super().__init__()
        install_themes(self, theme_name, "/nonexistent")

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        yield PlotextPlot(id="plot")

    def on_mount(self) -> None:
        plot = self.query_one("#plot")
        plot.theme = plot_theme(self.current_theme)
        plot.plt.plot([1, 2, 3, 4, 5], [31, 33, 30, 36, 38], label="SRS")
        plot.plt.title("Alliance")


def _plot_cells(app):
    """(foreground, background) of every non-blank cell the plot draws."""
    plot = app.query_one("#plot")
    cells = []
    for y in range(plot.size.height):
        for segment in plot.render_line(y):
            if segment.text.strip() and segment.style is not None:
                fg = segment.style.color
                bg = segment.style.bgcolor
                cells.append((segment.text, fg, bg))
    return cells


@pytest.mark.parametrize("name", ["clinic-dark", "clinic-light", "projector"])
@run_async
async def test_plotext_auto_theme_is_legible(name):
    app = _ChartApp(name)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        theme = app.current_theme
        surface = Color.parse(app.theme_variables["surface"])
        cells = _plot_cells(app)
        assert cells, "the plot drew nothing"
        text_cells = [c for c in cells if any(ch.isalnum() for ch in c[0])]
        assert text_cells, "no axis labels or title"
        for text, fg, bg in text_cells:
            assert bg is not None and Color.from_rich_color(bg) == surface, (name, text)
            ratio = contrast_ratio(Color.from_rich_color(fg), surface)
            assert ratio >= (AAA if name == "projector" else AA), (name, text, ratio)
        assert theme.dark == (surface.brightness < 0.5)


@run_async
async def test_plot_under_ansi_theme_uses_terminal_colours():
    app = _ChartApp("ansi")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert plot_theme(app.current_theme) == "clear"
        cells = _plot_cells(app)
        text_cells = [c for c in cells if any(ch.isalnum() for ch in c[0])]
        assert text_cells
        for text, fg, bg in text_cells:  # no RGB black-on-black: default colours
            assert fg is None or fg.is_default, (text, fg)
            assert bg is None or bg.is_default, (text, bg)


@run_async
async def test_auto_plot_theme_would_be_black_on_black_under_ansi():
    """Why plot_theme() exists: textual-plotext's "auto" takes RGB surface
    and foreground, which an ANSI theme does not have."""
    app = _ChartApp("ansi")
    async with app.run_test(size=(60, 20)) as pilot:
        app.query_one("#plot").theme = "auto"
        await pilot.pause()
        text_cells = [c for c in _plot_cells(app) if any(ch.isalnum() for ch in c[0])]
        assert text_cells
        assert {(fg.triplet.hex, bg.triplet.hex) for _, fg, bg in text_cells} == {("#000000", "#000000")}
    assert plot_theme(bundled()["clinic-dark"]) == "auto"


@pytest.mark.parametrize("name", ["clinic-dark", "clinic-light", "projector", "ansi"])
@run_async
async def test_series_colours_stand_out_from_the_chart_surface(name):
    app = _ChartApp(name)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        colours = series_colors(app)
        assert len(colours) == len(set(map(str, colours))) == 6
        if name == "ansi":
            assert colours[0] == "blue"
            return
        surface = Color.parse(app.theme_variables["surface"])
        for rgb in colours:  # WCAG 1.4.11: graphics at least 3:1
            assert contrast_ratio(Color(*rgb), surface) >= 3.0, (name, rgb)
        plot = app.query_one("#plot")
        plot.plt.clear_data()
        plot.plt.plot([1, 2, 3], [1, 3, 2], color=colours[0])
        plot.refresh()
        await pilot.pause()
        drawn = {tuple(fg.triplet) for _, fg, _ in _plot_cells(app) if fg is not None and fg.triplet}
        assert tuple(colours[0]) in drawn


# --------------------------------------------------------------------------
# Packaging: themes/ must reach a normal (non-editable) install


def test_bundled_dir_is_found_from_the_source_tree():
    directory = theming.bundled_themes_dir()
    assert Path(str(directory)).resolve() == THEMES_DIR.resolve()


def test_pyproject_ships_themes_and_demo_data_in_the_wheel():
    """A wheel only contains what pyproject.toml maps: the top-level themes/
    and data/ folders are installed as supervision_tui/_themes and
    supervision_tui/_data. With an explicit package list, every subpackage
    must be listed or it is missing from the installed product."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config.get("package-dir", {}).get("supervision_tui._themes") == "themes", (
        "pyproject.toml: map supervision_tui._themes to themes/ (issue #6)"
    )
    assert config["package-dir"].get("supervision_tui._data") == "data"
    packages = config.get("packages")
    assert isinstance(packages, list), "[tool.setuptools] packages must list the packages"
    assert {"supervision_tui._themes", "supervision_tui._data"} <= set(packages)
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "supervision_tui").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk - set(packages) == set(), "subpackages missing from [tool.setuptools] packages"
    data = config["package-data"]
    assert "*.toml" in data["supervision_tui._themes"]
    assert "*.json" in data["supervision_tui._data"]


def test_builtin_fallback_default_matches_the_bundled_file():
    fallback, shipped = theming._FALLBACK_DEFAULT, bundled()[DEFAULT_THEME]
    for key in theming.COLOR_KEYS + ("dark", "ansi"):
        assert getattr(fallback, key) == getattr(shipped, key), key


def test_readme_format_example_parses():
    import re

    text = (THEMES_DIR / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    theme = parse_theme(example, "themes/README.md example")
    assert theme.name == "my-theme" and theme.variables["input-selection-background"] == "#4f9bd9 40%"


def test_a_theme_not_available_falls_back_to_the_remembered_one():
    # a newcomer's trial: with "projector" remembered, --theme nope used clinic-dark
    name, message = resolve_theme("nope", ["clinic-dark", "projector"], fallback="projector")
    assert name == "projector" and "using 'projector'" in message
    name, _message = resolve_theme("nope", ["clinic-dark"], fallback="gone")  # the remembered one is gone too
    assert name == DEFAULT_THEME


def test_the_app_falls_back_to_the_remembered_theme(tmp_path):
    import asyncio
    from dataclasses import replace

    from supervision_tui.settings import Settings, UISettings
    from ui_support import make_app

    settings = replace(Settings(), ui=UISettings(theme="projector"))
    app = make_app(tmp_path / "none.json", theme="nope", settings=settings)

    async def run():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.theme == "projector"

    asyncio.run(run())


def _start(tmp_path, monkeypatch, term, theme=None, remembered="clinic-light", keys=()):
    import asyncio
    from dataclasses import replace

    from supervision_tui.settings import Settings, UISettings
    from ui_support import make_app

    monkeypatch.setenv("TERM", term)
    for var in ("COLORTERM", "NO_COLOR", "TEXTUAL_COLOR_SYSTEM"):
        monkeypatch.delenv(var, raising=False)
    settings = replace(Settings(), ui=UISettings(theme=remembered))
    app = make_app(tmp_path / "none.json", theme=theme, settings=settings)
    seen = []

    async def run():
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.pause()
            seen.append(app.theme)
            app.shown = [n.message for n in app._notifications]
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
                seen.append(app.theme)
        return app

    asyncio.run(run())
    return seen, app


def test_a_16_colour_terminal_starts_in_an_ansi_theme_and_t_keeps_to_them(tmp_path, monkeypatch):
    """A supervisor's trial: on TERM=xterm, t led from ansi into clinic-light and remembered it; its
    rupture tier came out yellow on white (1.7:1). A remembered RGB theme is not used there, and t
    cycles the ANSI themes only."""
    seen, _app = _start(tmp_path, monkeypatch, "xterm", keys=("t", "t", "t"))
    assert seen == ["ansi", "ansi-light", "ansi", "ansi-light"]
    seen, _app = _start(tmp_path, monkeypatch, "xterm-256color", keys=("t",))
    assert seen[0] == "clinic-light" and seen[1] != "clinic-light"  # 256 colours: the remembered one


def test_an_rgb_theme_asked_for_on_16_colours_is_kept_with_a_word(tmp_path, monkeypatch):
    seen, app = _start(tmp_path, monkeypatch, "xterm", theme="projector")
    assert seen == ["projector"]
    assert any("16-colour terminal" in m and "projector" in m for m in app.shown), app.shown
