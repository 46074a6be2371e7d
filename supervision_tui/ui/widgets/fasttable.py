"""``FastDataTable``: Textual's ``DataTable`` with two costs of large fills
taken out, for the caseload table (5 000 rows) and the client's sessions
table (refilled for every client opened).

* ``add_rows_fast(items)``: ``add_row(*cells, key=key)`` for a batch, with
  DataTable's per-row bookkeeping (re-validating the cursor, scheduling an
  idle check) done once for the batch instead of once per row. Same state
  as ``add_row`` (tests compare the two); falls back to ``add_row`` where
  this Textual lacks what it uses (Textual is pinned to 8.2.x).
* ``_render_cell``: DataTable renders every cell through Rich's general
  pipeline (a ``Padding`` in a ``Styled`` through ``render_lines``: about
  90 µs a cell, 30 ms for a 120 × 40 screen of new rows, the most of a
  first paint after a load or a filter). A one-line ``Text`` cell that
  fits its column, in a row of height 1, is built here from its own
  segments with the same padding and the same style layering, about 20 µs;
  anything else takes DataTable's path. The segments are equal to
  DataTable's (a test renders every cell of real tables both ways).
* ``_update_dimensions``: DataTable measures every cell of every new row to
  size auto-width columns (5 000 rows × 8 columns: 40 000 measurements,
  most of a second). When every column has a fixed width and no row a
  label or an auto height, the measurements change nothing and are
  skipped; the virtual size is computed as always.
  ``fixed_width(label, cells)`` is the width an auto-width column would
  take, so a table can give every column a fixed width and look the same.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Iterable

from rich.segment import Segment
from rich.style import Style
from rich.containers import Lines
from rich.text import Text
from textual.widgets import DataTable

_JUSTIFY_AS_IS = (None, "default")
_JOIN = Text("\n")


def fixed_width(label: str | Text, cells: Iterable[Text | str]) -> int:
    """The width DataTable gives an auto-width column with this label and
    these (one-line) cells: the widest of them."""
    widest = label.cell_len if isinstance(label, Text) else Text(label).cell_len
    for c in cells:
        n = c.cell_len if isinstance(c, Text) else Text(c).cell_len
        if n > widest:
            widest = n
    return widest


class FastDataTable(DataTable):
    """A DataTable with batch adds and no per-cell measuring of fixed-width columns."""

    def add_rows_fast(self, items: list[tuple[list, str]]) -> None:
        """``add_row(*cells, key=key)`` for every ``(cells, key)`` of ``items``."""
        try:
            from textual.widgets._data_table import DuplicateKey, Row, RowKey

            locations, data, table_rows, new_rows = self._row_locations, self._data, self.rows, self._new_rows
            column_keys = [c.key for c in self.ordered_columns]
        except (ImportError, AttributeError):  # pragma: no cover - another Textual
            for cells, key in items:
                self.add_row(*cells, key=key)
            return
        start = self.row_count
        for cells, _key in items:
            if len(cells) > len(column_keys):
                raise ValueError("More values provided than there are columns.")
        for i, (cells, key) in enumerate(items):
            row_key = RowKey(key)
            if row_key in locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            locations[row_key] = start + i
            data[row_key] = dict(zip_longest(column_keys, cells))
            table_rows[row_key] = Row(row_key, 1, None, False)
            new_rows.add(row_key)
        if not items:
            return
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if start == 0 and len(self.columns) > 0 and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += len(items)
        self.check_idle()

    def _update_dimensions(self, new_rows) -> None:
        columns = self.columns.values()
        if columns and not any(c.auto_width for c in columns) and not getattr(self, "_labelled_row_exists", True):
            new_rows = [k for k in new_rows if (r := self.rows.get(k)) is not None
                        and (r.label is not None or r.auto_height)]
        super()._update_dimensions(new_rows)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False):
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        try:
            row_key = self._row_locations.get_key(row_index)
            column_key = self._column_locations.get_key(column_index)
            key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor, self._update_count,
                   self._pseudo_class_state)
            cache = self._cell_render_cache
        except AttributeError:  # pragma: no cover - another Textual
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        lines = cache.get(key)
        if lines is not None:
            return lines
        lines = self._render_text_cell(row_index, column_index, row_key, base_style, width, cursor, hover)
        if lines is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache[key] = lines
        return lines

    def _render_text_cell(self, row_index: int, column_index: int, row_key, base_style: Style, width: int,
                          cursor: bool, hover: bool) -> list[list[Segment]] | None:
        """DataTable's segments of a one-line ``Text`` cell that fits, or
        None (then DataTable renders it). DataTable renders
        ``Styled(Padding(cell, (0, p)), pre_style, post_style)`` in a line of
        ``width``: ``p`` spaces, the text's segments, spaces to the inner
        width (unstyled), ``p`` spaces; every segment then ``pre + style``,
        and ``+ post`` when a post style is set."""
        row = self.rows.get(row_key)
        if row is None or row.height != 1 or row.auto_height:
            return None
        cells = self._get_row_renderables(row_index).cells
        if column_index >= len(cells):
            return None
        cell = cells[column_index]
        pad = self.cell_padding
        inner = width - 2 * pad
        options = self.app.console_options
        overflow = cell.overflow or options.overflow or "fold"
        # (Rich wraps a Text that says no_wrap=False itself, and never justifies overflow="ignore":
        # those, like multi-line text and text wider than the column, take DataTable's path)
        if (type(cell) is not Text or inner < 0 or cell.end != "\n" or "\n" in cell.plain or "\t" in cell.plain
                or cell.no_wrap is False or overflow == "ignore" or cell.cell_len > inner):
            return None
        fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, fixed, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        null = Style.null()
        # as ``Text.__rich_console__`` renders a line that fits: justified (Rich's own ``Lines.justify``:
        # right and centre pad the text itself, in its style), joined (its own style becomes a span)
        justify = cell.justify or options.justify or "default"
        line = cell
        if justify not in _JUSTIFY_AS_IS:
            line = cell.copy()
            Lines([line]).justify(self.app.console, inner, justify=justify, overflow=overflow)
        segments = list(_JOIN.join((line,)).render(self.app.console, end=""))
        # the width as Rich pads a line: the sum of its segments' widths (a character's width may
        # depend on the next one in the same string, e.g. a variation selector, not across segments)
        room = inner - sum(seg.cell_length for seg in segments)
        if room < 0:
            return None
        if room:
            segments.append(Segment(" " * room, null))
        if pad:
            segments = [Segment(" " * pad, null), *segments, Segment(" " * pad, null)]
        out = []
        for seg in segments:
            style = pre + seg.style
            if post_style:
                style = style + post_style if style else post_style
            out.append(Segment(seg.text, style))
        return [out]
