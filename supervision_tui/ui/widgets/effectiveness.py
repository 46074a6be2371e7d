"""Supervisee effectiveness drawn in the terminal (clinical-rules.md §11;
screens.md "Supervisees: effectiveness with intervals").

One block per outcome instrument: a row per supervisee with its case
count, a dot-and-whisker row on a shared axis (``├──●──┤``, ``┼`` at 0),
the effect size with its interval in words and the rates with their Wilson
intervals; "too few to compare (10 needed)" below the minimum; the clinic
row last; the reminder that overlapping intervals are not a difference.
Rows are in clinician-id order, never ranked.

The numbers come from ``reports.effectiveness`` (computed in the load
worker); this module only lays them out for a width.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from supervision_tui.reports.effectiveness import (
    REMINDER,
    EffectRow,
    axis_limit,
    axis_words,
    es_words,
    rate_words,
    whisker,
)

ID_W = 7
CASES_W = 5
ES_W = 23  # "+0.21 (−0.08 to +0.50)"
RATE_W = 14  # "44 % (30–59)"
MIN_WHISKER = 13


def effectiveness_text(rows: list[EffectRow], width: int, *, ascii: bool = False,
                       instruments: list[str] | None = None, clinic: bool = True) -> Text:
    """The effectiveness blocks for ``width`` cells. Columns drop out as
    the width shrinks (the effect size in words, which the whisker row
    shows, then reliably improved, then deteriorated); the whisker row
    always stays."""
    out = Text(no_wrap=True, overflow="ellipsis")
    by_inst: dict[str, list[EffectRow]] = {}
    for r in rows:
        if r.clinician is None and not clinic:
            continue
        by_inst.setdefault(r.instrument, []).append(r)
    if instruments is not None:
        by_inst = {k: v for k, v in by_inst.items() if k in instruments}
    if not by_inst:
        out.append("No outcome cases yet: effectiveness needs clients with two or more ratings of an "
                   "outcome instrument.", style="dim")
        return out
    fixed = ID_W + 1 + CASES_W + 2
    show_es = show_imp = show_det = True
    room = width - fixed
    for _ in range(3):
        need = MIN_WHISKER + (ES_W + 1 if show_es else 0) + (RATE_W + 1 if show_imp else 0) + \
            (RATE_W if show_det else 0)
        if need <= room:
            break
        if show_es:  # the whisker row shows it; the words go first (screens.md sketch)
            show_es = False
        elif show_imp:
            show_imp = False
        else:
            show_det = False
    wide = room - (ES_W + 1 if show_es else 0) - (RATE_W + 1 if show_imp else 0) - (RATE_W if show_det else 0)
    wcells = max(MIN_WHISKER, min(41, wide - 2))
    wcells -= 1 - wcells % 2  # odd: 0 sits on the middle cell
    first = True
    for iid, group in by_inst.items():
        if not first:
            out.append("\n")
        first = False
        limit = axis_limit(group)
        out.append(f"{iid} · severity-adjusted effect size, 95 % interval\n", style="bold")
        head = f"{'Id':<{ID_W}} {'Cases':>{CASES_W}}  {axis_words(limit, wcells)}  "
        if show_es:
            head += f"{'Effect (95 %)':<{ES_W}} "
        if show_imp:
            head += f"{'Rel. improved':<{RATE_W}} "
        if show_det:
            head += f"{'Deteriorated':<{RATE_W}}"
        out.append(head.rstrip() + "\n", style="dim")
        for r in group:
            name = "Clinic" if r.clinician is None else r.clinician
            out.append(f"{name:<{ID_W}} ", style="bold" if r.clinician is None else "")
            out.append(f"{r.cases:>{CASES_W}}  ")
            if not r.enough or r.es is None:
                out.append(r.note or "too few to compare", style="dim italic")
                if r.enough and show_imp:  # rates without an effect size (every intake the same)
                    out.append(f"  {rate_words(r.improved)}")
                out.append("\n")
                continue
            row = whisker(r.es, r.es_low, r.es_high, limit, wcells, ascii)
            for ch in row:
                style = "bold" if ch in "●o" else "dim" if ch in "│┼:+" else ""
                out.append(ch, style=style)
            out.append("  ")
            if show_es:
                out.append(f"{es_words(r):<{ES_W}} ")
            if show_imp:
                out.append(f"{rate_words(r.improved):<{RATE_W}} ")
            if show_det:
                out.append(f"{rate_words(r.deteriorated):<{RATE_W}}")
            out.rstrip()
            out.append("\n")
    out.append(REMINDER, style="italic")
    if not (show_es and show_imp and show_det):
        out.append("\nWiden the window for the numbers (or: supervision-tui effectiveness DB).", style="dim")
    return out


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
