"""Alliance and outcome charts (textual-plotext), theme-following.

The plot background/foreground follow the app theme through
textual-plotext's ``"auto"`` plot theme; series colours are taken from the
app theme's own colour variables (primary, secondary, error, warning,
success) and re-read on every theme change. Each chart has a legend line
in words and symbols (never colour alone) under the plot.

Charts only *draw* raw ratings and the engine's episodes; they judge
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from supervision_tui.rules.expected import share_words
from supervision_tui.rules.results import Episode
from supervision_tui.ui.context import app_of
from supervision_tui.ui.widgets.viewdata import ClientDisplay, Series, fmt_num

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.ui.app import SupervisionApp

RUPTURE_MARK = "x"
REPAIR_MARK = "✓"
BOTH_MARK = "■"
"""Where a client and a therapist rating of one instrument coincide (same
session, the same score or the same text row), drawn over both series so
neither hides the other."""
BAND_MARK = "┄"
CUTOFF_MARK = "─"
BOTH_LINE_MARK = "═"
"""The cut-off line where a reliable-change band edge falls in its text row."""
# (plotext marker, legend symbol) per alliance instrument, in chart order
CLIENT_MARKERS = (("hd", "▬"), ("braille", "⠶"))
THERAPIST_MARKERS = (("dot", "•"), ("+", "+"))

# the same for the console glyph set (TERM=linux, --ascii): characters every
# Linux console font has (supervision_tui.glyphs)
CONSOLE_MARKS = {"rupture": "x", "repair": "v", "both": "=", "band": "-", "cutoff": "─", "both_line": "═",
                 "expected": "·"}
CONSOLE_CLIENT_MARKERS = (("*", "*"), ("o", "o"))
CONSOLE_THERAPIST_MARKERS = (("+", "+"), ("#", "#"))


ANSI_DARK = {"client": "cyan", "therapist": "magenta+", "cutoff": "red+", "rupture": "orange",
             "repair": "green", "extra": "white"}
ANSI_LIGHT = {"client": "blue", "therapist": "magenta", "cutoff": "red", "rupture": "black",
              "repair": "blue+", "extra": "black"}
"""Chart colours (plotext names; ``+`` = bright) under an ANSI theme on a
dark and on a light terminal."""


_PLOTEXT_TO_RICH = {"orange": "yellow", "orange+": "bright_yellow", "gray": "bright_black", "gray+": "white",
                    "white": "bright_white"}


def rich_colour(plotext_name: str) -> str:
    """A plotext colour name as Rich names the same terminal colour
    (``magenta+`` → ``bright_magenta``; plotext's ``orange`` is ANSI yellow)."""
    if plotext_name in _PLOTEXT_TO_RICH:
        return _PLOTEXT_TO_RICH[plotext_name]
    return f"bright_{plotext_name[:-1]}" if plotext_name.endswith("+") else plotext_name


def chart_marks(app: SupervisionApp | None) -> dict:
    """The marks of the app's glyph set: ``rupture``, ``repair``, ``both``,
    ``band``, ``cutoff``, ``client`` and ``therapist`` (marker tuples);
    ``None`` (a chart not mounted yet): the full set."""
    if app is not None and app.glyphs.console:
        return {**CONSOLE_MARKS, "client": CONSOLE_CLIENT_MARKERS, "therapist": CONSOLE_THERAPIST_MARKERS}
    return {"rupture": RUPTURE_MARK, "repair": REPAIR_MARK, "both": BOTH_MARK, "band": BAND_MARK,
            "cutoff": CUTOFF_MARK, "both_line": BOTH_LINE_MARK, "expected": "·", "client": CLIENT_MARKERS,
            "therapist": THERAPIST_MARKERS}


def coinciding(first: Series, second: Series, tolerance: float = 0.0) -> list[tuple[int, float]]:
    """(session, value of ``first``) where both series have a rating within
    ``tolerance`` of each other (0: equal)."""
    other = dict(zip(second.sessions, second.values))
    return [(x, v) for x, v in zip(first.sessions, first.values)
            if x in other and other[x] is not None and v is not None and abs(other[x] - v) <= tolerance + 1e-9]


def _rgb(app, var: str, fallback: str) -> tuple[int, int, int]:
    try:
        value = app.theme_variables.get(var) or fallback
        return Color.parse(value).rgb
    except Exception:
        return Color.parse(fallback).rgb


def episode_label(e: Episode) -> str:
    span = f"s{e.start}" if e.start == e.last_marker else f"s{e.start}–{e.last_marker}"
    label = f"{span} {e.status.upper()}"
    if e.status == "repaired" and e.repaired_at is not None:
        label += f" at s{e.repaired_at}"
    return label


class _ThemedPlot(PlotextPlot):
    """Redraws (with theme colours) when the app theme changes."""

    DEFAULT_CSS = """
    _ThemedPlot {
        height: 1fr;
        min-height: 6;
    }
    """

    def __init__(self, view: ClientDisplay | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._theme_changed())
        self._theme_changed()

    def _theme_changed(self) -> None:
        try:
            from supervision_tui.ui.theming import plot_theme

            self.theme = plot_theme(self.app.current_theme)  # "clear" for ANSI themes
        except Exception:
            self.theme = "auto"
        self.redraw()

    def set_view(self, view: ClientDisplay) -> None:
        self.view = view
        if self.is_mounted:
            self.redraw()

    def colours(self) -> dict[str, tuple[int, int, int] | str]:
        app = self.app
        if getattr(app.current_theme, "ansi", False):  # terminal palette: plotext colour names
            # each readable (>= 4.5:1) on its background in xterm's palette: on
            # black, blue is 2.2:1 and red 3.6:1; on white, yellow 1.7:1, cyan 2.0:1
            return dict(ANSI_DARK if app.current_theme.dark else ANSI_LIGHT)
        return {
            "client": _rgb(app, "primary", "#0178d4"),
            "therapist": _rgb(app, "secondary", "#004578"),
            "cutoff": _rgb(app, "error", "#ba3c5b"),
            "rupture": _rgb(app, "warning", "#ffa62b"),
            "repair": _rgb(app, "success", "#4eBF71"),
            "extra": _rgb(app, "accent", "#ffa62b"),
        }

    def redraw(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _reset(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()


class AllianceChart(_ThemedPlot):
    """Every alliance instrument of the client; client ratings, therapist
    ratings as their own series; native scale for one instrument, the 0–1
    alliance index for several; the SRS cut-off line; rupture episodes
    marked at their marker sessions (x) and repairs (✓)."""

    def redraw(self) -> None:
        self._reset()
        v = self.view
        if v is None:
            return
        plt = self.plt
        col = self.colours()
        names = v.alliance_instruments
        self.index_mode = len(names) > 1
        series: list[Series] = []
        for n in names:
            for rater in ("client", "therapist"):
                s = v.series.get((n, rater))
                if s is not None and s.values:
                    series.append(s)
        self.display = bool(series)  # no empty frame for a client without ratings
        if not series:
            self.refresh()
            return
        marks = chart_marks(app_of(self))

        def y(s_name: str, value: float) -> float:
            return v.instrument(s_name).index(value) if self.index_mode else value

        all_y: list[float] = []
        all_x: list[int] = []
        # cut-off lines first, so the data draw over them (e.g. SRS 36)
        for n in names:
            iv = v.instrument(n)
            if iv.cutoff is not None:
                cy = y(n, iv.cutoff)
                plt.hline(cy, col["cutoff"])
                all_y.append(cy)
        therapist_palette = [col["therapist"], col["extra"]]
        client_palette = [col["client"], col["extra"]]
        for i, s in enumerate(series):
            ys = [y(s.instrument, val) for val in s.values]
            all_y += ys
            all_x += list(s.sessions)
            inst_i = names.index(s.instrument)
            # each series its own marker too, so NO_COLOR (or a colour-blind
            # reader) can still tell the instruments apart
            if s.rater == "client":
                marker = marks["client"][inst_i % len(marks["client"])][0]
                plt.plot(list(s.sessions), ys, marker=marker, color=client_palette[inst_i % 2])
            else:
                marker = marks["therapist"][inst_i % len(marks["therapist"])][0]
                plt.plot(list(s.sessions), ys, marker=marker, color=therapist_palette[inst_i % 2])

        # a client and a therapist rating in the same text cell: one mark for both
        self.both = {}
        span = (max(all_y) - min(all_y)) or 1.0
        rows = max(4, (self.size.height or 12) - 4)
        for n in names:
            c, t = v.series.get((n, "client")), v.series.get((n, "therapist"))
            if c is None or t is None:
                continue
            iv = v.instrument(n)
            tolerance = span / rows / 2  # half a text row of the drawn scale
            if self.index_mode:  # compare on the drawn scale
                c = Series(c.instrument, c.rater, c.sessions, [iv.index(x) for x in c.values])
                t = Series(t.instrument, t.rater, t.sessions, [iv.index(x) for x in t.values])
            same = coinciding(c, t, tolerance)
            if same:
                self.both[n] = same
                plt.scatter([x for x, _ in same], [yv for _, yv in same], marker=marks["both"],
                            color=col["extra"])

        # rupture episodes: x at each marker session, ✓ at the repair
        a = v.analysis
        for e in a.episodes:
            xs, ys = [], []
            for sess in e.marker_sessions:
                val = self._value_at(v, e.instrument, sess)
                if val is not None:
                    xs.append(sess)
                    ys.append(y(e.instrument, val))
                else:  # a marker without a client rating (e.g. a therapist report)
                    xs.append(sess)
                    ys.append(min(all_y))
            if xs:
                plt.scatter(xs, ys, marker=marks["rupture"], color=col["rupture"])
            if e.repaired_at is not None:
                val = self._value_at(v, e.instrument, e.repaired_at)
                if val is not None:
                    plt.scatter([e.repaired_at], [y(e.instrument, val)], marker=marks["repair"],
                                color=col["repair"])

        cutoffs = [y(n, v.instrument(n).cutoff) for n in names if v.instrument(n).cutoff is not None]
        height = self.size.height or 12
        if self.index_mode:
            lo = max(0.0, min(all_y) - 0.05)
            _y_axis(plt, lo, 1.0, height, cutoffs, floor=0.0)
        else:
            iv = v.instrument(names[0])
            span = iv.hi - iv.lo
            lo = max(iv.lo, min(all_y) - 0.05 * span)
            _y_axis(plt, lo, iv.hi, height, cutoffs, floor=iv.lo)
        _session_ticks(plt, all_x)
        self.refresh()

    @staticmethod
    def _value_at(v: ClientDisplay, instrument: str, session: int) -> float | None:
        s = v.series.get((instrument, "client"))
        if s is None:
            return None
        for x, val in zip(s.sessions, s.values):
            if x == session:
                return val
        return None

    def legend(self) -> Text:
        """The words for what is drawn: series, cut-off, episodes."""
        v = self.view
        t = Text()
        if v is None:
            return t
        col = self.colours() if self.is_mounted else {}
        marks = chart_marks(app_of(self) if self.is_mounted else None)
        names = v.alliance_instruments
        index_mode = len(names) > 1
        if not any((n, r) in v.series and v.series[(n, r)].values for n in names for r in ("client", "therapist")):
            t.append("No alliance ratings yet")
            return t

        def swatch(key: str, mark: str) -> None:
            c = col.get(key)
            if isinstance(c, tuple):
                t.append(mark, style=f"bold rgb({c[0]},{c[1]},{c[2]})")
            else:
                t.append(mark, style=f"bold {rich_colour(c)}" if c else "bold")

        parts = 0
        for i, n in enumerate(names):
            client_mark = marks["client"][i % len(marks["client"])][1]
            therapist_mark = marks["therapist"][i % len(marks["therapist"])][1]
            for rater, key, mark in (("client", "client", client_mark), ("therapist", "therapist", therapist_mark)):
                if (n, rater) in v.series:
                    if parts:
                        t.append("  ")
                    swatch(key if i % 2 == 0 else "extra", mark)
                    t.append(f" {n} {rater}")
                    parts += 1
        for n in getattr(self, "both", {}):
            t.append("  ")
            swatch("extra", marks["both"])
            t.append(f" {n} client = therapist")
        for n in names:
            iv = v.instrument(n)
            if iv.cutoff is not None:
                t.append("  ")
                swatch("cutoff", marks["cutoff"])
                cut = f"{iv.cutoff:g}"
                if index_mode:
                    cut += f" = {iv.index(iv.cutoff):.2f}"
                t.append(f" {n} cut-off {cut}")
        if index_mode:
            t.append("  · y = alliance index 0–1 (score − min) / (max − min)")
        for e in v.analysis.episodes:
            t.append("  ")
            swatch("rupture", marks["rupture"])
            t.append(f" rupture {episode_label(e)}")
        if any(e.repaired_at is not None for e in v.analysis.episodes):
            t.append("  ")
            swatch("repair", marks["repair"])
            t.append(" repair")
        return t


class OutcomeChart(_ThemedPlot):
    """One outcome instrument on its own scale with its clinical cut-off."""

    def __init__(self, view: ClientDisplay | None = None, instrument: str = "ORS", **kwargs) -> None:
        super().__init__(view, **kwargs)
        self.instrument = instrument

    def redraw(self) -> None:
        self._reset()
        v = self.view
        if v is None:
            return
        plt = self.plt
        col = self.colours()
        iv = v.instrument(self.instrument)
        s = v.series.get((self.instrument, "client"))
        if s is None or not s.values:
            plt.title(f"no {self.instrument} ratings")
            self.refresh()
            return
        res = v.analysis.outcomes.get(self.instrument)
        marks = chart_marks(app_of(self))
        xs = list(s.sessions)
        lo_x, hi_x = (xs[0], xs[-1]) if xs[-1] > xs[0] else (xs[0] - 1, xs[0] + 1)
        track = expected_track(v, self.instrument)
        band = [] if track is not None else reliable_band(v, self.instrument)
        curve = track.model.curve(track.first, track.first_session, xs[-1]) if track is not None else []
        lo, hi = outcome_range(iv, list(s.values) + [c[1] for c in curve] + [c[2] for c in curve], band)
        height = self.size.height or 8
        lo, hi = _y_axis(plt, lo, hi, height, [iv.cutoff] if iv.cutoff is not None else None, iv.lo)
        row = (hi - lo) / max(1, height - 5)  # points per text row of the plot area
        self.merged = [b for b in band if iv.cutoff is not None and abs(b - iv.cutoff) < row]
        if track is not None:
            # clinical-rules §10: the clinic's expected course from the intake and its lower limit
            # (drawn instead of the reliable-change band: the legend says what each line is)
            cx = [c[0] for c in curve]
            plt.plot(cx, [c[2] for c in curve], marker=marks["band"], color=col["therapist"])
            plt.plot(cx, [c[1] for c in curve], marker=marks["expected"], color=col["extra"])
        for yv in band:
            # the reliable-change band around the first score: beyond it, change is reliable
            if yv not in self.merged:
                plt.plot([lo_x, hi_x], [yv, yv], marker=marks["band"], color=col["therapist"])
        if iv.cutoff is not None:
            # drawn after the band (plotext puts hline() under every plot). A band
            # edge in the cut-off's text row would vanish under it: that row is
            # drawn with the "both" line and the legend says so.
            plt.plot([lo_x, hi_x], [iv.cutoff, iv.cutoff], marker=marks["both_line"] if self.merged else marks["cutoff"],
                     color=col["cutoff"])
        plt.plot(xs, list(s.values), marker=marks["client"][0][0], color=col["client"])
        _session_ticks(plt, list(s.sessions))
        if isinstance(self.parent, ChartPanel):  # the legend says what this drawing merged
            self.parent.set_legend(outcome_legend(v, self.instrument, marks, self))
        self.refresh()


def band_edges_on_cutoff(v: ClientDisplay, instrument: str, chart: OutcomeChart | None = None) -> list[float]:
    """Band edges drawn as one line with the cut-off: as the chart drew them,
    else those within one text row of an 8-row plot of the default range."""
    if chart is not None and chart.view is v and getattr(chart, "merged", None) is not None:
        return list(chart.merged)
    iv = v.instrument(instrument)
    s = v.series.get((instrument, "client"))
    band = reliable_band(v, instrument)
    if iv.cutoff is None or not band or s is None:
        return []
    lo, hi = outcome_range(iv, list(s.values), band)
    row = (hi - lo) / 7  # an 8-row plot area
    return [b for b in band if abs(b - iv.cutoff) < row]


def reliable_band(v: ClientDisplay, instrument: str) -> list[float]:
    """The edges of the reliable-change band around the client's first
    score that lie on the instrument's scale (both, usually)."""
    iv = v.instrument(instrument)
    res = v.analysis.outcomes.get(instrument)
    if res is None or not iv.reliable_change:
        return []
    return [yv for yv in (res.first - iv.reliable_change, res.first + iv.reliable_change) if iv.lo <= yv <= iv.hi]


def outcome_range(iv, values: list[float], band: list[float]) -> tuple[float, float]:
    """The y range of an outcome chart: the ratings, both band edges and the
    cut-off, with a margin, inside the instrument's scale. On the whole
    0-40 scale an ORS chart of 8 text rows had 5 points a row, and the
    upper band edge shared its row with the cut-off line (and vanished
    under it)."""
    span = iv.hi - iv.lo
    ys = [*values, *band] + ([iv.cutoff] if iv.cutoff is not None else [])
    lo = max(iv.lo, min(ys) - 0.08 * span)
    hi = min(iv.hi, max(ys) + 0.08 * span)
    return lo, hi


def nice_ticks(lo: float, hi: float, max_ticks: int = 6, extra: list[float] | None = None) -> list[float]:
    """Round tick values between lo and hi (steps 1, 2, 2.5, 5 × 10^n),
    plus ``extra`` values such as a cut-off."""
    import math

    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / max(1, max_ticks - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    x = first
    while x <= hi + 1e-9:
        ticks.append(round(x, 6))
        x += step
    for e in extra or []:
        if lo - 1e-9 <= e <= hi + 1e-9:
            # drop a tick too close to the extra one (it would collide)
            ticks = [t for t in ticks if abs(t - e) >= step / 2] + [e]
    return sorted(set(ticks))


def _tick_labels(ticks: list[float]) -> list[str]:
    if all(float(t).is_integer() for t in ticks):
        return [f"{t:.0f}" for t in ticks]
    return [f"{t:.2f}".rstrip("0").rstrip(".") if abs(t) < 10 else f"{t:g}" for t in ticks]


def nice_step(lo: float, hi: float, max_ticks: int) -> float:
    import math

    raw = max(hi - lo, 1e-9) / max(1, max_ticks - 1)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def _y_axis(plt, lo: float, hi: float, height: int, extra: list[float] | None = None,
            floor: float | None = None) -> tuple[float, float]:
    """y range and round ticks; ``lo`` snaps down to a tick (not below
    ``floor``). Returns the range set."""
    import math

    n = max(3, min(6, height // 3))
    step = nice_step(lo, hi, n)
    snapped = math.floor(lo / step + 1e-9) * step
    lo = max(floor, snapped) if floor is not None else snapped
    plt.ylim(lo, hi)
    ticks = nice_ticks(lo, hi, max_ticks=n, extra=extra)
    plt.yticks(ticks, _tick_labels(ticks))
    return lo, hi


def _session_ticks(plt, xs: list[int]) -> None:
    if not xs:
        return
    lo, hi = min(xs), max(xs)
    if hi == lo:
        plt.xlim(lo - 1, hi + 1)
        plt.xticks([lo])
        return
    n = hi - lo + 1
    step = 1 if n <= 16 else (2 if n <= 32 else 5)
    plt.xticks(list(range(lo, hi + 1, step)))
    plt.xlim(lo, hi)


class ChartPanel(Vertical):
    """A chart with its legend line underneath (inside one bordered box)."""

    DEFAULT_CSS = """
    ChartPanel {
        height: auto;
        border: round $primary 50%;
        padding: 0 1;
    }
    ChartPanel > .chart-legend {
        height: auto;
        color: $text-muted;
    }
    """

    # the border title's room: the panel's width less "╭─ " and " ─╮"
    TITLE_CHROME = 6

    def __init__(self, chart: _ThemedPlot, title: str | tuple[str, ...] = "", legend: Text | str = "",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.chart = chart
        self._legend = legend
        self._titles: tuple[str, ...] = ()
        self.set_title(title)

    def set_title(self, title: str | tuple[str, ...]) -> None:
        """The border title: ``title``, or of several wordings (longest
        first) the first that fits the panel whole (again on every resize),
        so a narrow panel shows a shorter title rather than a cut one."""
        self._titles = ((title,) if title else ()) if isinstance(title, str) else tuple(title)
        self._fit_title()

    def _fit_title(self) -> None:
        titles = self._titles
        if not titles:  # no title given: a border_title set directly stays
            return
        width = self.outer_size.width
        if width:
            room = width - self.TITLE_CHROME
            title = next((t for t in titles if cell_len(t) <= room), titles[-1])
        else:  # not laid out yet: the full wording
            title = titles[0]
        if self.border_title != title:
            self.border_title = title

    def on_resize(self, _event) -> None:
        self._fit_title()

    def compose(self) -> ComposeResult:
        yield self.chart
        yield Static(self._legend, classes="chart-legend", markup=False)

    def set_legend(self, legend: Text | str) -> None:
        self._legend = legend
        if self.is_mounted:
            self.query_one(".chart-legend", Static).update(legend)


def alliance_title(v: ClientDisplay) -> str:
    names = v.alliance_instruments
    if not names:
        return "Alliance · no ratings"
    if len(names) == 1:
        iv = v.instrument(names[0])
        return f"Alliance · {names[0]} ({iv.lo:g}–{iv.hi:g}, higher is better) by session"
    return "Alliance · " + " + ".join(names) + " · y = alliance index 0–1 · by session"


def outcome_titles(v: ClientDisplay, instrument: str) -> tuple[str, ...]:
    """The outcome chart's title in wordings from longest to shortest
    (``ChartPanel`` shows the first that fits): scale and direction, then
    the clinical cut-off. Shorter ones keep the cut-off (right after the
    name) and drop the scale, then shorten the direction to an arrow, then
    drop it: ``PHQ-9 (0–27, lower is better) · clinical ≥ 10`` …
    ``PHQ-9 · clinical ≥ 10 · ↓ better`` … ``PHQ-9 · clinical ≥ 10``."""
    iv = v.instrument(instrument)
    way = "higher" if iv.higher_is_better else "lower"
    arrow = "↑" if iv.higher_is_better else "↓"
    full = f"{instrument} ({iv.lo:g}–{iv.hi:g}, {way} is better)"
    if not iv.cutoff_label:
        return (full, f"{instrument} · {way} is better", f"{instrument} · {arrow} better", instrument)
    cut = iv.cutoff_label  # its line symbol is in the legend under the chart
    return (f"{full} · {cut}", f"{instrument} · {cut} · {way} is better", f"{instrument} · {cut} · {arrow} better",
            f"{instrument} · {cut}", instrument)


def outcome_title(v: ClientDisplay, instrument: str) -> str:
    """The full title (where there is room for it)."""
    return outcome_titles(v, instrument)[0]


def expected_track(v: ClientDisplay, instrument: str):
    """The client's ``TrackResult`` on ``instrument`` when the clinic's
    expected course can be drawn (clinical-rules §10), else None."""
    track = getattr(v.analysis, "tracks", {}).get(instrument)
    if track is None or track.expected is None or track.model is None:
        return None
    return track


def expected_legend(v: ClientDisplay, instrument: str) -> str:
    """What the expected-course lines are and where they come from, or why
    there are none ("" when the client has fewer than two ratings)."""
    track = getattr(v.analysis, "tracks", {}).get(instrument)
    if track is None:
        return ""
    m = track.model
    if track.expected is None:
        return f" · no expected course: {m.shortfall()}" if m is not None else ""
    side = "above" if m.instrument.higher_is_better else "below"
    # "at worst" as the not-on-track detail says it (not "lower limit": on PHQ-9 the line is above the course)
    return (f" · · expected course for clients starting at {fmt_num(track.first)} "
            f"({m.clients:,} clinic clients, {m.pairs:,} ratings) · ┄ at worst: "
            f"{share_words(m.z)} of them are {side} it by then")


def outcome_legend(v: ClientDisplay, instrument: str, marks: dict | None = None,
                   chart: OutcomeChart | None = None) -> str:
    """Short: what is drawn and the engine's status word (the full detail
    is in the Outcomes panel). ``marks``: :func:`chart_marks` of the app."""
    marks = marks or chart_marks(None)
    iv = v.instrument(instrument)
    res = v.analysis.outcomes.get(instrument)
    cut = f" · {marks['cutoff']} {iv.cutoff_label}" if iv.cutoff is not None else ""
    if expected_track(v, instrument) is not None:
        cut += expected_legend(v, instrument)
    else:
        band = reliable_band(v, instrument)
        if band:
            edges = "–".join(fmt_num(b) for b in band)
            cut += f" · {marks['band']} first ±{iv.reliable_change:g} (reliable change) {edges}"
            merged = band_edges_on_cutoff(v, instrument, chart)
            if merged:
                cut += (f" · {marks['both_line']} cut-off and band edge {', '.join(fmt_num(b) for b in merged)} "
                        "in one row")
        cut += expected_legend(v, instrument)  # why there is no expected course (too little clinic data)
    if res is not None:
        statuses = getattr(v.analysis, "outcome_statuses", {})
        word = statuses.get(instrument, res.status).replace("_", " ").upper()
        # spec v2: the raw difference on the instrument's scale with a direction word ("10 → 16 (+6, worse)")
        return f"{marks['client'][0][1]} {instrument} client{cut} · {word}: {res.change_text.removeprefix(instrument + ' ')}"
    s = v.series.get((instrument, "client"))
    if s is not None and len(s.values) == 1:
        return f"one rating ({fmt_num(s.values[0])} at s{s.sessions[0]}): no change can be judged yet"
    return ""
