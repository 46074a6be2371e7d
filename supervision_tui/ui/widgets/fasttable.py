"""``FastDataTable``: Textual's ``DataTable`` with two costs of large fills
taken out, for the caseload table (5 000 rows) and the client's sessions
table (refilled for every client opened).

* ``add_rows_fast(items)``: ``add_row(*cells, key=key)`` for a batch, with
  DataTable's per-row bookkeeping (re-validating the cursor, scheduling an
  idle check) done once for the batch instead of once per row. Same state
  as ``add_row`` (tests compare the two); falls back to ``add_row`` where
  this Textual lacks what it uses (Textual is pinned to 8.2.x).
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

from rich.text import Text
from textual.widgets import DataTable


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
