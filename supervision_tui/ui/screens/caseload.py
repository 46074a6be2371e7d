"""The caseload (triage) screen: the first screen.

One row per client in the engine's triage order, filters (clinician,
tier/kind, text search, closed clients), sort, and a preview of the
selected client. Columns drop out by width (recomputed on resize); at
80×24 Tier, Client, Why and Goal stay and the preview hides.

``r`` marks the selected client discussed (the client-level review and
every flag still new or changed since reviewed); pressing it again on a
client with nothing left to mark opens the status picker, which changes
the client and the flags that were marked with it. The Review column and
the preview refresh in place after a write. With ``--clinician`` the
loaded data hold only that clinician's clients and the clinician filter
cannot be changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from supervision_tui.rules.results import ClientAnalysis
from supervision_tui.service.reviews import CHANGED_MARK, STATUS_ORDER, STATUS_SYMBOLS, status_text, who_when
from supervision_tui.ui.context import AppModal, AppScreen, PaletteCommand
from supervision_tui.ui.filters import KIND_BY_KEY, KIND_FILTERS
from supervision_tui.ui.keymap import bindings, hint_key
from supervision_tui.ui.widgets.caseload_table import (
    CaseloadRow,
    CaseloadTable,
    ColumnSpec,
    row_from_cache,
    row_of,
    row_to_cache,
    sortable_columns,
    tier_cell,
)
from supervision_tui.ui.widgets.footer import AppFooter
from supervision_tui.ui.widgets.viewdata import LoadedData

PREVIEW_DELAY = 0.06
"""Seconds the cursor rests before the preview shows its client."""
PREVIEW_DELAY_SSH = 0.25
"""The same over SSH: longer than a held key's repeat interval."""
# width/height under which the preview pane is hidden
PREVIEW_MIN_WIDTH = 100
PREVIEW_MIN_HEIGHT = 30
SEARCH_DEBOUNCE = 0.12  # seconds


# --- filters (the filter list itself: ui.filters) -----------------------------------


def pinned_first(row: CaseloadRow) -> bool:
    """Active risk (tier 1) rows, closed and dropped-out clients' too: first
    whatever the sort, and kept whatever the filter (clinical-rules §6:
    risk always goes first and is never hidden)."""
    return row.tier == 1 and not row.ended


def tier_cell_text(row: CaseloadRow) -> str:
    """The Tier column's words ("▲1 risk", "✓7 dropped"), for the search
    (a client not triaged: also its status in full, "dropped out")."""
    return f"{tier_cell(row).plain} {row.status.replace('_', ' ')}" if row.ended else row.tier_text


class FilterPicker(AppModal[str | None]):
    """Pick a tier/kind or clinician filter (enter) or cancel (escape)."""

    BINDINGS = bindings("filter-picker")

    def __init__(self, clinicians: list[str], current_kind: str | None, current_clinician: str | None) -> None:
        super().__init__()
        self.clinicians = clinicians
        self.current_kind = current_kind
        self.current_clinician = current_clinician

    def compose(self) -> ComposeResult:
        opts: list[Option | None] = [Option("All clients (clear tier/kind and clinician filters)", id="clear")]
        opts.append(None)
        for f in KIND_FILTERS:
            mark = "• " if f.key == self.current_kind else "  "
            opts.append(Option(f"{mark}{f.label}", id=f"kind:{f.key}"))
        opts.append(None)
        for c in self.clinicians:
            mark = "• " if c == self.current_clinician else "  "
            opts.append(Option(f"{mark}clinician {c}", id=f"clinician:{c}"))
        with Vertical(id="picker"):
            yield Static("Filter the caseload · enter choose · esc cancel", id="picker-title")
            yield OptionList(*opts, id="picker-list")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        target = f"kind:{self.current_kind}" if self.current_kind else None
        if target:
            try:
                ol.highlighted = ol.get_option_index(target)
            except Exception:
                pass
        ol.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the screen -------------------------------------------------------------------


class CaseloadScreen(AppScreen[None]):
    """Triage list + preview."""

    BINDINGS = bindings("caseload")
    HELP_TITLE = "Keys · caseload"

    def __init__(self, clinician: str | None = None, show_closed: bool = False) -> None:
        super().__init__(id="caseload")
        self.clinician: str | None = clinician
        self.kind: str | None = None
        self.search: str = ""
        self.show_closed: bool = show_closed
        self.sort_key: str = "tier"
        self.sort_reverse: bool = False
        self.all_rows: list[CaseloadRow] = []
        self.rows: list[CaseloadRow] = []
        self._preview_timer: Timer | None = None
        self._search_timer: Timer | None = None
        self._preview_code: str | None = None
        self._compact = False
        self._filled_width = 0  # the width the table's columns were fitted to
        self._rows_of: LoadedData | None = None  # the LoadedData all_rows were built from
        self._reference_notice_of: LoadedData | None = None  # the LoadedData the reference line is of

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static("supervision-tui", id="topbar-title", markup=False)
            yield Static("", id="topbar-theme", markup=False)
        yield Static("", id="notice", markup=False)
        yield Static("", id="reference-notice", markup=False)
        yield Input(placeholder="search client, clinician, tier or why · enter keep · esc clear", id="search")
        with Vertical(id="table-box"):
            yield CaseloadTable(id="caseload-table")
            yield Static("Loading the caseload…", id="table-message", markup=False)
        with Horizontal(id="preview"):
            yield Static("", id="preview-trend", markup=False)
            yield Static("", id="preview-why", markup=False)
        yield AppFooter()

    @property
    def table(self) -> CaseloadTable:
        return self.query_one(CaseloadTable)

    def on_mount(self) -> None:
        search = self.query_one("#search", Input)
        search.display = False
        search.cursor_blink = bool(self.sup.terminal.get("cursor_blink", True))
        self.query_one("#notice").display = False
        self.query_one("#reference-notice").display = False
        self.query_one("#preview-trend").border_title = "Alliance trend"
        self.query_one("#preview-why").border_title = "Why this client is here"
        self.watch(self.app, "data_version", self._data_changed, init=False)
        self.watch(self.app, "load_error", self._load_error_changed, init=False)
        self.watch(self.app, "present", lambda _v: self._present_changed(), init=False)
        self.watch(self.app, "reviews_version", lambda _v: self._reviews_changed(), init=False)
        self.app.theme_changed_signal.subscribe(self, lambda _t: self._theme_changed())
        self._apply_compact(self.size.width, self.size.height)
        app = self.sup
        if app.data is not None:
            self._data_changed()
        elif app.load_error:
            self._load_error_changed(app.load_error)
        elif app.cached_table is not None:
            self._show_cached(app.cached_table)
        else:
            self._show_message("Loading the caseload…")
            if app.load_progress is not None:  # (counted before this screen was mounted)
                self.call_later(self.show_load_progress, *app.load_progress)
        self._update_header()
        self.table.focus()

    def on_resize(self, event) -> None:
        self._apply_compact(event.size.width, event.size.height)
        self._update_header()
        if self.all_rows and self._available_width() != self._filled_width:  # the columns may fit otherwise
            self.refresh_rows(keep=self.table.current_code)

    def _apply_compact(self, width: int, height: int) -> None:
        compact = width < PREVIEW_MIN_WIDTH or height < PREVIEW_MIN_HEIGHT
        self._compact = compact
        self.set_class(compact, "-compact")

    def _available_width(self) -> int:
        # border (2) + vertical scrollbar (1) + a spare cell
        width = self.size.width or self.app.size.width
        return max(30, width - 4)

    # -- data -------------------------------------------------------------------

    def _show_cached(self, cached) -> None:
        """The rows of the triage cache (``store.triage_cache``), shown until
        the data are loaded: same cells, no analysis behind them yet."""
        self.all_rows = [row_from_cache(r, i) for i, r in enumerate(cached.rows)]
        self._hide_message()
        self.refresh_rows()

    @property
    def provisional(self) -> bool:
        """The rows come from the triage cache; the data are loading."""
        return bool(self.all_rows) and self.all_rows[0].analysis is None

    def _data_changed(self, _version: int | None = None) -> None:
        data = self.sup.data
        if data is None:
            return
        hook = self.sup.decorate_row
        keep = self.table.current_code if self.rows else None
        cached = [r.shown() for r in self.all_rows] if self.provisional else None
        glyphs = self.sup.glyphs.sparkline
        pre, data.prebuilt_rows = data.prebuilt_rows, None
        if pre is not None and pre[0] == (self.sup.reviews_version, glyphs):
            self.all_rows = pre[1]  # built in the load thread (app._load_from_processes)
        else:
            spark = data.spark
            self.all_rows = [row_of(a, spark(a.client, glyphs), i, hook) for i, a in enumerate(data.analyses)]
        self._hide_message()
        self._preview_code = None  # new data: the preview is redrawn even for the same client
        if cached is not None and cached == [r.shown() for r in self.all_rows] and self._swap_rows():
            self._schedule_preview()  # the cache was right: the table already shows these cells
        else:
            self.refresh_rows(keep=keep)
        self._update_header()
        self._rows_of = data
        # The table has just been shown (it was hidden behind "Loading the caseload…"): lay the
        # screen out at the next frame. Otherwise that frame is painted before Textual's layout
        # message for the table arrives, with the table's box empty, and the rows come one frame
        # later (25-50 ms later in bench/compare.py's cold starts at 540 and 5,040).
        self.refresh(layout=True)
        self.sup.save_triage_cache()  # these rows are the next start's first screen

    def _swap_rows(self) -> bool:
        """Put the loaded rows behind the cells the table shows (the cached
        ones, equal), without refilling it; False when the visible list
        would differ."""
        visible = self.visible_rows()
        if [r.code for r in visible] != [r.code for r in self.rows]:
            return False
        self.rows = visible
        self.table.rows_shown = visible
        return True

    def rows_for_cache(self) -> list[tuple[CaseloadRow, str]] | None:
        """(row, its Review cell now) for every row, for the triage cache
        (``row_to_cache`` makes each one's dict off the UI thread); None until
        the rows of the loaded data are built."""
        if self._rows_of is None or self._rows_of is not self.sup.data:
            return None
        return [(r, r.review) for r in self.all_rows]

    def _load_error_changed(self, error: str | None) -> None:
        if error and self.sup.data is None:  # a failed reload keeps the previous data up
            self._show_message(f"⚠ Cannot open the caseload\n\n{error}\n\nPress {hint_key(self, 'quit')} to quit.")
            self._update_header()
        self.refresh_bindings()  # only the keys that work stay in the footer (action_allowed)

    def show_load_progress(self, received: int, total: int | None) -> None:
        """"Loading the caseload… 1,200 of 5,040 clients" while the first load
        runs and there is nothing else to show (no cached rows, no error)."""
        if not self.is_mounted:  # (composed or not: on_mount shows the app's last count, load_progress)
            return
        msg = self.query_one("#table-message", Static)
        if self.table.display or not msg.display or self.sup.data is not None or self.sup.load_error:
            return
        count = f"{received:,} of {total:,} clients" if total else f"{received:,} clients"
        # (no layout: the message fills the table's box whatever its text, and a layout of the
        # screen each time cost the app ~10 ms of CPU the loader's workers needed)
        msg.update(f"Loading the caseload… {count}", layout=False)

    def _show_message(self, text: str) -> None:
        msg = self.query_one("#table-message", Static)
        msg.update(text)
        msg.display = True
        self.table.display = False

    def _hide_message(self) -> None:
        self.query_one("#table-message", Static).display = False
        self.table.display = True

    def _theme_changed(self) -> None:
        self._update_header()
        if self.all_rows:
            self.refresh_rows(keep=self.table.current_code)

    # -- review workflow ------------------------------------------------------------

    @property
    def scope(self) -> str | None:
        """``--clinician``: the data hold only this clinician's clients."""
        return self.sup.scope

    def _present_changed(self) -> None:
        self._update_header()
        if self._preview_code is not None:
            self._set_preview(self._preview_code)

    def _reviews_changed(self) -> None:
        """Refresh the Review cells of the clients whose reviews changed
        (one cell each; the layout does not move) and the preview."""
        codes = self.sup.changed_clients
        for row in self.all_rows:
            if (codes is not None and row.code not in codes) or row.analysis is None:
                continue
            row.review = self.sup.review_status(row.analysis)
            for spec, _w in self.table.layout_columns:
                if spec.key in ("review", "review-mark"):
                    cell = spec.render(row)
                    if row.code in self.table.rows:  # filtered-out rows are not shown
                        self.table.update_cell(row.code, spec.key, cell if isinstance(cell, Text) else Text(cell))
        if self.sort_key == "review":
            self.refresh_rows(keep=self.table.current_code)
        else:
            self._update_titles()  # the Rev column's legend
        if self._preview_code is not None and (codes is None or self._preview_code in codes):
            self._set_preview(self._preview_code)

    def action_review_client(self) -> None:
        """Mark the selected client discussed; again: pick another status."""
        app = self.sup
        code = self.table.current_code
        data = app.data
        if code is not None and data is None and self.provisional:
            self.notify("Loading the caseload… one moment", timeout=2)
            return
        if code is None or data is None or code not in data.by_code:
            return
        if not app.can_write():
            return
        a = data.by_code[code]
        state = app.reviews.state(a)
        if state.needs_marking:
            n = app.apply(app.reviews.mark_client(a, "discussed"))
            if n is not None:
                flags = f" with {n} flag{'s' if n != 1 else ''}" if n else ""
                self.notify(f"{code} marked discussed{flags} · {hint_key(self, 'review-client')} again: another status",
                            timeout=4)
            return
        self.pick_client_status(code)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        code = self.table.current_code
        if code:
            yield (f"Mark {code} discussed", self.action_review_client,
                   "The client and its new or changed flags (again: pick another status)")
            yield (f"Review status of {code}…", partial(self.pick_client_status, code),
                   "Pick the client's status: new, discussed, action, resolved, dismissed")

    def pick_client_status(self, code: str) -> None:
        """The status picker for a client (and the flags marked with it)."""
        from supervision_tui.ui.screens.dialogs import ReviewChoice, ReviewDialog, save_note

        app = self.sup
        data = app.data
        if data is None or code not in data.by_code or not app.can_write():
            return
        a = data.by_code[code]
        state = app.reviews.state(a)
        keys = app.reviews.marked_together(a)
        now = status_text(state.client.status)
        if state.client.review is not None:
            now += f" by {who_when(state.client)}"
        n = len(keys)
        explain = f"also sets the {n} flag{'s' if n != 1 else ''} marked with it" if n else ""
        note = state.client.review.note if state.client.review is not None else None

        def save(status: str, text: str | None, expected: str | None):
            from supervision_tui.service.reviews import NO_CHECK, Notice, Outcome

            if app.data is None or code not in app.data.by_code:
                return Outcome(notice=Notice(f"{code} is not in the caseload any more (reloaded?): not saved",
                                             "warning"))
            return app.reviews.mark_client(app.data.by_code[code], status, text, keys=keys,
                                           expect_note=NO_CHECK if text is None else expected)

        def chosen(choice: ReviewChoice | None) -> None:
            if choice is None or app.data is None or code not in app.data.by_code:
                return

            def done(_outcome) -> None:
                self.notify(f"{code} marked {choice.status}", timeout=3)

            if choice.note is None:  # the status only: never refused for a note changed meanwhile
                if app.apply(save(choice.status, None, None)) is not None:
                    done(None)
                return
            save_note(app, f"{code} · the client as a whole", choice.note, note,
                      lambda text, expected: save(choice.status, text, expected), done, status=choice.status)

        app.push_screen(ReviewDialog(f"{code} · the client as a whole", state.client.status, now, note,
                                     explain), chosen)

    # -- the list ------------------------------------------------------------------

    def matches(self, row: CaseloadRow, *, ignore: str = "") -> bool:
        """Does ``row`` pass the current filters (``ignore`` one of them)?"""
        if row.ended and not self.show_closed and ignore != "closed":
            return False
        if self.clinician and ignore != "clinician" and row.clinician != self.clinician and not self.scope:
            return False
        if self.kind and ignore != "kind":
            f = KIND_BY_KEY.get(self.kind)
            if f is not None and not (f.test(row.analysis) if row.analysis is not None else f.key in row.kinds):
                return False
        if self.search and ignore != "search":
            q = self.search.lower()
            hay = f"{row.code} {row.clinician} {row.why} {tier_cell_text(row)}".lower()
            if not all(part in hay for part in q.split()):
                return False
        return True

    def visible_rows(self) -> list[CaseloadRow]:
        # clinical-rules §6: a filter never removes an active risk (named above the list instead)
        rows = [r for r in self.all_rows if self.matches(r) or pinned_first(r)]
        spec = next((c for c in sortable_columns() if c.key == self.sort_key), None)
        if spec is None or spec.sort_key is None or self.sort_key == "tier":
            rows.sort(key=lambda r: (r.ended, r.order))  # the engine's order, closed last
        else:
            rows.sort(key=spec.sort_key)
        if self.sort_reverse:
            rows.reverse()
        # clinical-rules §6: risk always goes first, whatever the sort (stable: the order stays within each part)
        rows.sort(key=lambda r: not pinned_first(r))
        return rows

    def refresh_rows(self, keep: str | None = None, to_match: bool = False) -> None:
        """Fill the table with the visible rows, the cursor on ``keep`` when
        it is listed. ``to_match`` (a search or a filter was applied): on
        ``keep`` only when that client matches the search and the filters,
        else on the first row that does, not on a risk row listed above them
        only because risk is never hidden (``pinned_first``)."""
        self.rows = self.visible_rows()
        if to_match and (self.search or self.kind or self.clinician):
            keep = self._first_match(keep)
        self._filled_width = self._available_width()
        self.table.show_rows(self.rows, self._filled_width, keep=keep)
        self._update_titles()
        self._update_notice()
        if not self.rows and self.all_rows:
            self._set_preview(None)
        self._schedule_preview()

    def _first_match(self, keep: str | None) -> str | None:
        """``keep`` when its row passes the filters and the search itself,
        else the first such row (``keep`` when none does: only pinned risk
        rows are listed)."""
        for r in self.rows:
            if r.code == keep:
                if self.matches(r):
                    return keep
                break
        return next((r.code for r in self.rows if self.matches(r)), keep)

    def _update_titles(self) -> None:
        box = self.query_one("#table-box")
        filters = []
        if self.scope:
            filters.append(f"clinician {self.scope} only (--clinician)")
        elif self.clinician:
            filters.append(f"clinician {self.clinician}")
        if self.kind:
            f = KIND_BY_KEY.get(self.kind)
            filters.append(f.label if f else self.kind)
        if self.search:
            filters.append(f'"{self.search}"')
        order = "triage order"
        if self.sort_key != "tier":
            spec = next((c for c in sortable_columns() if c.key == self.sort_key), None)
            order = f"risk first, then by {spec.sort_label if spec else self.sort_key}"
        if self.sort_reverse:
            order = ("risk first, then triage order" if self.sort_key == "tier" else order) + " (reversed)"
        title = f"Caseload · {order} · filter: {', '.join(filters) if filters else 'all'}"
        if self.show_closed:
            title += " · closed shown"
        box.border_title = title
        n_triaged = sum(1 for r in self.all_rows if not r.ended)
        n_ended = len(self.all_rows) - n_triaged
        count = f"{len(self.rows)} of {n_triaged if not self.show_closed else len(self.all_rows)}"
        c = hint_key(self, "show-closed")
        closed = [f"{n_ended} closed hidden ({c})", f"+{n_ended} closed ({c})"] if n_ended and not self.show_closed else []
        legend = self.review_legend()
        # the longest that fits: the Rev column's legend first, the closed count shortened, then dropped
        room = max(10, (self.size.width or self.app.size.width) - 6)
        options = [[legend, count, c] for c in closed] + [[legend, count]] + [[count, c] for c in closed] + [[count]]
        for parts in options:
            sub = " · ".join(p for p in parts if p)
            if len(sub) <= room:
                break
        box.border_subtitle = sub

    def review_legend(self) -> str:
        """"Rev: • new ✓ discussed": the symbols the compact Review column
        (Rev) shows now, in words; "" when the full column (words) is shown."""
        if "review-mark" not in {c.key for c, _w in self.table.layout_columns}:
            return ""
        marks = {r.review.split(" ", 1)[0] for r in self.rows if r.review and r.review not in ("—", "?")}
        words = [f"{STATUS_SYMBOLS[s]} {s}" for s in STATUS_ORDER if STATUS_SYMBOLS[s] in marks]
        if any(r.review.endswith(CHANGED_MARK) for r in self.rows):
            words.append(f"{CHANGED_MARK} changed")
        return f"Rev: {' '.join(words)}" if words else ""

    @on(CaseloadTable.Filled, "#caseload-table")
    def _filled(self, _event: CaseloadTable.Filled) -> None:
        """A long list was added in pieces after the load froze the heap
        (app._loaded): its rows and cells live as long as the data, so they
        join the frozen objects too, out of the collector's way (a full
        collection walking 20 000 rows' cells takes most of a second)."""
        import gc

        if self.sup.data is not None and not self.sup.loading:
            gc.freeze()

    def _update_notice(self) -> None:
        """Risk is never hidden: name the risk clients the filter would hide
        (they stay in the list, pinned first)."""
        notice = self.query_one("#notice", Static)
        hidden = [r for r in self.all_rows if pinned_first(r) and not self.matches(r)]
        if hidden:
            codes = ", ".join(r.code for r in hidden[:4]) + (" …" if len(hidden) > 4 else "")
            notice.update(f"⚠ RISK kept on top, outside the filter: {codes} · esc clears")
            notice.display = True
        else:
            notice.display = False
        self._update_reference_notice()

    def _update_reference_notice(self) -> None:
        """Clinical-rules §10 "Enough data": where an outcome measure in use
        has too small a clinic reference, not on track is not computed, and
        the caseload says so (one muted line; the client screen, agenda and
        CLI give the full counts)."""
        data = self.sup.data
        if data is self._reference_notice_of:
            return
        self._reference_notice_of = data
        line = self.query_one("#reference-notice", Static)
        if data is None:
            line.display = False
            return
        from supervision_tui.rules.expected import shortfalls

        short = shortfalls(data.reference, data.by_code.values())
        if short:
            line.update(f"Not on track not computed, too little clinic data: {'; '.join(short)}")
        line.display = bool(short)

    def _update_header(self) -> None:
        """Left: what is loaded; right: the modes (presenting, read-only) and
        the theme. On a narrow terminal the least useful parts go first
        (app name, file name, caseload name, theme), never the date or a mode."""
        app = self.sup
        data = app.data
        width = self.size.width or app.size.width
        db = app.db_path
        facts: list[str] = []
        name = ""
        cached = app.cached_table if data is None and self.provisional else None
        if data is not None or cached is not None:
            if data is not None:
                name = data.caseload.name
                n = sum(1 for a in data.analyses if a.triaged)
                n_clinicians, as_of, latest = len(data.clinicians), data.as_of, data.latest_date
                latest_text = latest.isoformat() if latest is not None else None
            else:  # the triage cache's header, until the data are loaded
                assert cached is not None
                name = cached.header["name"]
                n = sum(1 for r in self.all_rows if not r.ended)
                n_clinicians, as_of = len(cached.header["clinicians"]), app.as_of
                latest_text = cached.header["latest_date"]
            name = name or (db.name if db is not None else "caseload")
            n_ended = sum(1 for r in self.all_rows if r.ended) if self.show_closed else 0
            facts.append(f"{n} client{'s' if n != 1 else ''}" + (f" (+{n_ended} closed shown)" if n_ended else ""))
            facts.append(f"{n_clinicians} clinician{'s' if n_clinicians != 1 else ''}")
            if as_of is not None:
                facts.append(f"as of {as_of.isoformat()}")
            elif latest_text is not None:
                facts.append(f"data to {latest_text}")
        else:
            name = db.name if db is not None else ""
            facts.append("not loaded" if app.load_error else "loading…")
        modes = []
        if app.present:
            modes.append("PRESENTING · private text hidden")
        if app.read_only:
            modes.append("read-only")
        if self.scope:
            modes.append(f"clinician {self.scope} only")
        theme = str(app.theme)
        full_name = (f"{name} ({db.name})" if ((data is not None or cached is not None) and db is not None
                                                and name != db.stem) else name)
        candidates = [
            (["supervision-tui", full_name, *facts], [*modes, theme]),
            (["supervision-tui", name, *facts], [*modes, theme]),
            ([name, *facts], [*modes, theme]),
            (facts, [*modes, theme]),
            (facts, modes or [theme]),
        ]
        room = max(0, width - 5)  # paddings
        for left, right in candidates:
            left_s = " · ".join(p for p in left if p)
            right_s = " · ".join(right)
            if len(left_s) + len(right_s) <= room:
                break
        self.query_one("#topbar-title", Static).update(left_s)
        self.query_one("#topbar-theme", Static).update(right_s)
        self.query_one("#topbar-theme", Static).set_class(app.present, "-presenting")

    # -- preview -------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#caseload-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._schedule_preview()

    def _schedule_preview(self) -> None:
        if self._compact:
            return
        if self._preview_timer is not None:
            self._preview_timer.stop()
        # the preview waits until the cursor rests: over SSH a held arrow key (about 30 moves a
        # second) would otherwise redraw both panels (4 KB at 120x40) for every row it passes
        delay = PREVIEW_DELAY_SSH if self.sup.ssh else PREVIEW_DELAY
        self._preview_timer = self.set_timer(delay, self._update_preview)

    def _update_preview(self) -> None:
        code = self.table.current_code
        if code == self._preview_code:
            return
        self._set_preview(code)

    def _set_preview(self, code: str | None) -> None:
        self._preview_code = code
        trend = self.query_one("#preview-trend", Static)
        why = self.query_one("#preview-why", Static)
        app = self.sup
        data = app.data
        if code is None or data is None or code not in data.by_code:
            trend.border_title = "Alliance trend"
            trend.update("", layout=False)
            why.update("Loading the caseload…" if code is not None and data is None and self.provisional else "",
                       layout=False)
            return
        from supervision_tui.ui.widgets.panels import trend_text, why_lines  # after the first frame

        v = data.view(code)
        a = v.analysis
        trend.border_title = f"{a.client} · {a.clinician} · {a.status.replace('_', ' ')} · {a.sessions} sessions"
        width = max(20, trend.content_size.width or 40)
        # the preview boxes have a fixed size: no layout pass, which would also redraw
        # the table's scrollbar down the whole screen (1.2 KB a move over SSH)
        trend.update(trend_text(v, width=width, height=3), layout=False)
        review = app.review_status(a)
        text = why_lines(a, None)
        state = app.reviews.state(a)
        lines = state.explain(app.present)
        text.append("\n")
        text.append("Review:", style="bold")
        text.append(f" {review}")
        if lines:
            text.append(f" · {lines[0]}")
            for line in lines[1:]:
                text.append(f"\n  {line}")
        n_open = len(state.open_actions)
        why.border_subtitle = f"Review: {review}" + (f" · {n_open} open action{'s' if n_open != 1 else ''}"
                                                      if n_open else "")
        why.update(text, layout=False)

    # -- actions -------------------------------------------------------------------

    def action_open_client(self) -> None:
        code = self.table.current_code
        if code is not None:
            self.open_client(code)

    @on(DataTable.RowSelected, "#caseload-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        code = event.row_key.value if event.row_key is not None else None
        if code:
            self.open_client(code)

    def open_client(self, code: str) -> None:
        order = [r.code for r in self.rows]
        if code not in order:
            order = [code]
        self.sup.show_client(code, order, origin=self)

    def returned_to(self, code: str | None) -> None:
        """Called when the client screen closes: cursor on that client."""
        if code is None:
            return
        for i, r in enumerate(self.rows):
            if r.code == code:
                self.table.move_cursor(row=i, animate=False, scroll=True)
                break
        self.table.focus()

    def action_search(self) -> None:
        inp = self.query_one("#search", Input)
        inp.display = True
        inp.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        """Filter as you type, debounced so a large caseload never lags typing."""
        if self._search_timer is not None:
            self._search_timer.stop()
        # the field's value when the timer fires, not the event's: a late
        # Changed event must not bring back text the field no longer holds
        inp = event.input
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE, lambda: self._apply_search(inp.value.strip()))

    def _apply_search(self, value: str) -> None:
        self._search_timer = None
        if value != self.search:
            self.search = value
            self.refresh_rows(keep=self.table.current_code, to_match=True)

    @on(Input.Submitted, "#search")
    def _search_done(self, _event: Input.Submitted) -> None:
        inp = self.query_one("#search", Input)
        if self._search_timer is not None:
            self._search_timer.stop()
        self._apply_search(inp.value.strip())
        if not inp.value.strip():
            inp.display = False
        self.table.focus()

    def set_search(self, text: str) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        inp = self.query_one("#search", Input)
        inp.value = text
        inp.display = bool(text)
        self.search = text.strip()
        self.refresh_rows(keep=self.table.current_code)

    def action_clear_filter(self) -> None:
        """One layer per press: search, then tier/kind, then clinician."""
        inp = self.query_one("#search", Input)
        if inp.has_focus:
            if self._search_timer is not None:
                self._search_timer.stop()
                self._search_timer = None
            if inp.value:
                inp.value = ""
            inp.display = False
            self.search = ""
            self.table.focus()
            self.refresh_rows(keep=self.table.current_code)
            return
        if self.search:
            self.set_search("")
        elif self.kind:
            self.set_kind(None)
        elif self.clinician:
            self.set_clinician(None)

    def action_filter(self) -> None:
        data = self.sup.data
        cached = self.sup.cached_table
        clinicians = data.clinicians if data is not None else list(cached.header["clinicians"]) if cached else []

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            if choice == "clear":
                self.kind = None
                self.clinician = None
                self.refresh_rows(keep=self.table.current_code)
            elif choice.startswith("kind:"):
                self.set_kind(choice.split(":", 1)[1])
            elif choice.startswith("clinician:"):
                self.set_clinician(choice.split(":", 1)[1])

        self.app.push_screen(FilterPicker(clinicians, self.kind, self.clinician), chosen)

    def set_kind(self, key: str | None) -> None:
        self.kind = key if key in KIND_BY_KEY else None
        self.refresh_rows(keep=self.table.current_code, to_match=self.kind is not None)

    def set_clinician(self, clinician: str | None) -> None:
        if self.scope and (clinician or None) not in (None, self.scope):
            self.notify(f"This session shows clinician {self.scope}'s clients only (--clinician)",
                        severity="warning", timeout=4)
            return
        self.clinician = clinician or None
        self.refresh_rows(keep=self.table.current_code, to_match=self.clinician is not None)

    def action_clinicians(self) -> None:
        self.sup.action_clinicians()

    def action_toggle_closed(self) -> None:
        self.set_show_closed(not self.show_closed)

    def set_show_closed(self, value: bool) -> None:
        self.show_closed = value
        self.refresh_rows(keep=self.table.current_code)
        self._update_header()
        n = sum(1 for r in self.all_rows if r.ended)
        self.notify(
            f"Closed and dropped-out clients {'shown' if value else 'hidden'} ({n})", timeout=2
        )

    def sort_choices(self) -> list[ColumnSpec]:
        shown = {c.key for c, _w in self.table.layout_columns} or {c.key for c in sortable_columns()}
        return [c for c in sortable_columns() if c.key in shown]

    def action_sort(self) -> None:
        """Cycle the sort column through the shown sortable columns."""
        keys = [c.key for c in self.sort_choices()]
        if not keys:
            return
        i = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.set_sort(keys[(i + 1) % len(keys)])

    def set_sort(self, key: str, reverse: bool = False) -> None:
        self.sort_key = key
        self.sort_reverse = reverse
        self.refresh_rows(keep=self.table.current_code)

    @on(DataTable.HeaderSelected, "#caseload-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key is None or key not in {c.key for c in sortable_columns()}:
            return
        if key == self.sort_key:
            self.set_sort(key, not self.sort_reverse)
        else:
            self.set_sort(key)
