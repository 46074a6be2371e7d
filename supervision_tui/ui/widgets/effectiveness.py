"""Supervisee effectiveness drawn in the terminal (clinical-rules.md §11;
screens.md "Supervisees: effectiveness with intervals").

One block per outcome instrument: a row per supervisee with its case
count, a dot-and-whisker row on a shared axis (``├──●──┤``, ``┼`` at 0),
the effect size with its interval in words and the three rates of §11
(reliably improved, recovered, reliably deteriorated) with their Wilson
intervals, as ``reports.effectiveness.rate_words`` writes them for the CLI
and the agenda export; "too few to compare (10 needed)" below the minimum;
the clinic row last; the reminder that overlapping intervals are not a
difference. Rows are in clinician-id order, never ranked.

The numbers come from ``reports.effectiveness`` (computed in the load
worker); this module only lays them out for a width.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from supervision_tui.reports.effectiveness import (
    METHOD,
    RATES,
    REMINDER,
    EffectRow,
    axis_limit,
    axis_words,
    es_words,
    rate_words,
    whisker,
)
from supervision_tui.wording import count

ID_W = 7
CASES_W = 5
ES_W = 23  # "+0.21 (−0.08 to +0.50)"
RATE_GAP = 2  # cells between two rate columns
MIN_WHISKER = 13  # the whisker row never gets fewer cells
READ_WHISKER = 19  # the effect size in words and the Recovered column only while the whisker keeps this many
# (attribute of EffectRow, full header, short header); a column is as wide as its header and its widest rate
RATE_COLUMNS = (("improved", "Rel. improved", "Rel. impr."), ("recovered", "Recovered", "Recovered"),
                ("deteriorated", "Deteriorated", "Deteriorated"))
# what is shown, widest first: (effect size in words, rate columns, short headers); the first that fits
# wins. The words go first (the whisker row shows them; screens.md sketch), then Recovered (a part of
# reliably improved), then reliably improved; deteriorated stays longest.
LAYOUTS = (
    (True, ("improved", "recovered", "deteriorated"), False),
    (False, ("improved", "recovered", "deteriorated"), False),
    (False, ("improved", "recovered", "deteriorated"), True),
    (False, ("improved", "deteriorated"), False),
    (False, ("improved", "deteriorated"), True),
    (False, ("deteriorated",), False),
    (False, (), False),
)


def _rate_widths(rows: list[EffectRow], short: bool) -> dict[str, int]:
    """Each rate column's width: its header or its widest ``rate_words``."""
    out = {}
    for attr, full, abbrev in RATE_COLUMNS:
        words = [rate_words(getattr(r, attr)) for r in rows if r.enough]
        out[attr] = max([len(abbrev if short else full)] + [len(w) for w in words])
    return out


def _layout(rows: list[EffectRow], room: int) -> tuple[bool, list[tuple[str, str, int]], int]:
    """(effect size in words?, the rate columns as (attribute, header,
    width), whisker cells) for ``room`` cells after the id and the count.
    The words and Recovered need ``READ_WHISKER`` cells of whisker beside
    them; reliably improved and deteriorated ``MIN_WHISKER``."""
    widths_of = {short: _rate_widths(rows, short) for short in (False, True)}
    for es, attrs, short in LAYOUTS:
        widths = widths_of[short]
        cols = [(a, (abbrev if short else full), widths[a]) for a, full, abbrev in RATE_COLUMNS if a in attrs]
        used = (ES_W + 1 if es else 0) + sum(w for _a, _h, w in cols) + RATE_GAP * max(0, len(cols) - 1)
        least = READ_WHISKER if es or "recovered" in attrs else MIN_WHISKER
        if room - used - 2 >= least or not attrs:
            wcells = max(MIN_WHISKER, min(41, room - used - 2))
            wcells -= 1 - wcells % 2  # odd: 0 sits on the middle cell
            return es, cols, wcells
    raise AssertionError("unreachable: the last layout always fits")


def _rate_cells(r: EffectRow, cols: list[tuple[str, str, int]]) -> str:
    """The row's rates in their columns (the last one not padded)."""
    cells = [f"{rate_words(getattr(r, a)):<{w}}" for a, _h, w in cols]
    return (" " * RATE_GAP).join(cells).rstrip()


def effectiveness_lines(rows: list[EffectRow], width: int, *, ascii: bool = False,
                        instruments: list[str] | None = None, clinic: bool = True,
                        lead: bool = True, compact: bool = True) -> list[tuple[EffectRow | None, Text]]:
    """The effectiveness blocks for ``width`` cells, one ``Text`` a line,
    each with the row it shows (None: a title, header or note line).
    Columns drop out as the width shrinks (the effect size in words, which
    the whisker row shows, then recovered, then reliably improved, then
    deteriorated; "Rel. improved" is "Rel. impr." before a column goes);
    the whisker row always stays. Every row line fits ``width``; only the
    method note is longer (it wraps). ``compact``: an instrument on which
    no supervisee has enough cases is one line ("GAD-7 · too few to
    compare any supervisee: T01 6, T02 4 of 10 needed · clinic 32 cases")."""
    out: list[tuple[EffectRow | None, Text]] = []
    by_inst: dict[str, list[EffectRow]] = {}
    for r in rows:
        if r.clinician is None and not clinic:
            continue
        by_inst.setdefault(r.instrument, []).append(r)
    if instruments is not None:
        by_inst = {k: v for k, v in by_inst.items() if k in instruments}
    if not by_inst:
        return [(None, Text("No outcome cases yet: effectiveness needs clients with two or more ratings of an "
                            "outcome instrument.", style="dim"))]
    fixed = ID_W + 1 + CASES_W + 2
    show_es, cols, wcells = _layout([r for group in by_inst.values() for r in group], width - fixed)
    if lead:  # the reminder first: at 24 rows the end of the blocks may be below the fold
        t = Text("Effectiveness · ", style="bold")
        t.append(REMINDER, style="italic")
        out += [(None, t), (None, Text(""))]
    prev_compact = True  # no blank line before the first block
    for iid, group in by_inst.items():
        people = [r for r in group if r.clinician is not None]
        if compact and people and not any(r.enough for r in people):
            if not prev_compact:
                out.append((None, Text("")))
            prev_compact = True
            clinic_n = next((r.cases for r in group if r.clinician is None), None)
            t = Text(f"{iid} · ", style="bold")
            t.append(f"too few to compare any supervisee: {', '.join(f'{r.clinician} {r.cases}' for r in people)} "
                     f"of {people[0].min_cases} needed", style="dim italic")
            if clinic_n is not None:
                t.append(f" · clinic {count(clinic_n, 'case')}", style="dim")
            out.append((None, t))
            continue
        if out and out[-1][1].plain:
            out.append((None, Text("")))
        prev_compact = False
        limit = axis_limit(group)
        out.append((None, Text(f"{iid} · severity-adjusted effect size, 95 % interval", style="bold")))
        head = f"{'Id':<{ID_W}} {'Cases':>{CASES_W}}  {axis_words(limit, wcells)}  "
        if show_es:
            head += f"{'Effect (95 %)':<{ES_W}} "
        head += (" " * RATE_GAP).join(f"{h:<{w}}" for _a, h, w in cols)
        out.append((None, Text(head.rstrip(), style="dim")))
        before_rates = wcells + 2 + (ES_W + 1 if show_es else 0)  # the cells before the first rate column
        for r in group:
            line = Text()
            name = "Clinic" if r.clinician is None else r.clinician
            line.append(f"{name:<{ID_W}} ", style="bold" if r.clinician is None else "")
            line.append(f"{r.cases:>{CASES_W}}  ")
            if not r.enough or r.es is None:
                note = r.note or "too few to compare"
                if r.enough and cols:  # rates without an effect size (every intake the same): in their columns
                    if len(note) + 1 > before_rates:
                        note = "no effect size"
                    line.append(f"{note:<{before_rates}}", style="dim italic")
                    line.append(_rate_cells(r, cols))
                else:
                    line.append(note, style="dim italic")
                line.rstrip()
                out.append((r, line))
                continue
            for ch in whisker(r.es, r.es_low, r.es_high, limit, wcells, ascii):
                line.append(ch, style="bold" if ch in "●o" else "dim" if ch in "│┼:+" else "")
            line.append("  ")
            if show_es:
                line.append(f"{es_words(r):<{ES_W}} ")
            line.append(_rate_cells(r, cols))
            line.rstrip()
            out.append((r, line))
    out.append((None, Text(f"{METHOD} {RATES}", style="dim")))
    if not show_es or len(cols) < len(RATE_COLUMNS):
        out.append((None, Text("Widen the window for the numbers (or: supervision-tui effectiveness DB).",
                               style="dim")))
    return out


def effectiveness_text(rows: list[EffectRow], width: int, **kw) -> Text:
    """``effectiveness_lines`` as one ``Text``."""
    return Text("\n").join(t for _r, t in effectiveness_lines(rows, width, **kw))


class EffectivenessPanel(Static):
    """A ``Static`` that redraws its effectiveness blocks at its width."""

    DEFAULT_CSS = """
    EffectivenessPanel { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self._rows: list[EffectRow] | None = None
        self._placeholder = "Computing effectiveness…"

    def show(self, rows: list[EffectRow] | None, placeholder: str | None = None) -> None:
        """``rows`` None: not computed yet (a placeholder is shown)."""
        self._rows = rows
        if placeholder is not None:
            self._placeholder = placeholder
        self._redraw()

    def on_resize(self, _event) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if self._rows is None:
            self.update(Text(self._placeholder, style="dim italic"))
            return
        width = self.content_size.width or self.size.width or self.app.size.width
        self.update(effectiveness_text(self._rows, max(40, width)))
