"""The audit trail screen (``u``): every review and action-item change,
newest first, from ``ReviewStore.audit()``. Note and action text are
shown as "(hidden)" while presenting. ``e`` exports CSV to the private
data folder without note/action text, ``E`` with it. ``enter`` opens the
client. With ``--clinician`` only that clinician's clients are listed.

The Change column takes the room the other columns leave and a longer
change is cut with "…" (never silently at the screen's edge: a cut due
date read as a whole one); the line under the table shows the highlighted
change in full.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from supervision_tui.service.reviews import entry_client
from supervision_tui.ui.context import AppScreen
from supervision_tui.ui.keymap import bindings
from supervision_tui.ui.widgets.fasttable import fixed_width
from supervision_tui.ui.widgets.footer import AppFooter
from supervision_tui.ui.widgets.review_panels import ModeBar

ACTION_WORDS = {
    "review.set": "review",
    "review.note": "note",
    "action.add": "action added",
    "action.update": "action edited",
    "action.done": "action done",
    "action.undone": "action reopened",
    "action.delete": "action deleted",
}
WIDE_MIN_WIDTH = 120
MAX_ROWS = 2000
CHANGE_MIN_WIDTH = 10  # narrower than this, the Change column scrolls rather than cuts


def fit_cell(text: str, width: int) -> Text:
    """``text`` in at most ``width`` cells, cut with "…" when longer."""
    t = Text(text, no_wrap=True, overflow="ellipsis")
    if cell_len(text) > width:
        t.truncate(width, overflow="ellipsis")
    return t


def target_text(e) -> str:
    """``rupture s6 SRS`` / ``client`` / ``action 3f9a0c1e``."""
    if e.target.startswith("action:"):
        return f"action {e.target.split(':', 1)[1]}"
    parts = e.target.split("|")
    if len(parts) != 4:
        return e.target
    _client, kind, sess, inst = parts
    return " ".join(p for p in (kind, f"s{sess}" if sess else "", inst) if p)


def change_text(e, include_notes: bool) -> str:
    """What changed, in words: ``new → discussed · note: …``; note and
    action text as "(hidden)" unless ``include_notes``."""
    j = e.to_json(include_notes)
    before, after = j["before"] or {}, j["after"] or {}

    def text(v) -> str:
        return f"“{' '.join(str(v).split())}”" if v and v != "(hidden)" else "(hidden)" if v else "—"

    parts: list[str] = []
    if e.action in ("review.set", "review.note"):
        if e.action == "review.set":
            parts.append(f"{before.get('status') or 'new'} → {after.get('status') or 'new'}")
        if before.get("note") != after.get("note"):
            parts.append(f"note: {text(after.get('note'))}" if after.get("note") else "note cleared")
    elif e.action == "action.add":
        parts.append(text(after.get("text")))
        parts.append(f"owner {after.get('owner') or '—'}")
        if after.get("due"):
            parts.append(f"due {after['due']}")
    elif e.action in ("action.done", "action.undone", "action.delete"):
        parts.append(text((after or before).get("text")))
    else:  # action.update
        for key in ("text", "owner", "due"):
            if before.get(key) != after.get(key):
                new = after.get(key)
                parts.append(f"{key}: {text(new) if key == 'text' else (new or '—')}")
    return " · ".join(parts) or e.summary(include_notes) or "—"


class AuditTable(DataTable):
    BINDINGS = bindings("lists")


class AuditScreen(AppScreen[None]):
    BINDINGS = bindings("audit")
    HELP_TITLE = "Keys · audit trail"

    def __init__(self) -> None:
        super().__init__(id="audit")
        self.entries: list = []
        self._wide: bool | None = None
        self._width: int | None = None
        self._changes: list[str] = []

    def compose(self) -> ComposeResult:
        yield ModeBar()
        yield Static("", id="audit-header", markup=False)
        with Vertical(id="audit-box"):
            yield AuditTable(id="audit-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="audit-message", markup=False)
        yield Static("", id="audit-detail", markup=False)
        yield AppFooter()

    def on_mount(self) -> None:
        box = self.query_one("#audit-box")
        box.border_title = "Audit trail · newest first"
        box.border_subtitle = "enter open client · e export CSV (E with notes)"
        self.watch(self.app, "reviews_version", lambda _v: self.fill(), init=False)
        self.watch(self.app, "data_version", lambda _v: self.fill(), init=False)
        self.watch(self.app, "present", lambda _v: self.fill(), init=False)
        self.fill()
        self.query_one(AuditTable).focus()

    def on_resize(self, event) -> None:
        if (event.size.width >= WIDE_MIN_WIDTH) != self._wide or self._room() != self._width:
            self.fill()

    def _room(self) -> int:
        """Cells the table's columns can take: the table's width less its
        vertical scrollbar (before the first layout: the terminal's less
        the box's border)."""
        table = self.query_one(AuditTable)
        width = table.size.width or (self.size.width or self.app.size.width) - 2
        return width - table.styles.scrollbar_size_vertical

    def fill(self) -> None:
        table = self.query_one(AuditTable)
        msg = self.query_one("#audit-message", Static)
        app = self.sup
        present = app.present
        wide = (self.size.width or self.app.size.width) >= WIDE_MIN_WIDTH
        self._wide = wide
        keep = table.cursor_row if table.row_count else 0
        self.entries = app.reviews.audit_entries(app.data.by_code if app.data is not None else None)
        table.clear(columns=True)
        # "Flag / item" stays at 80 columns (without it two reviews of one client looked
        # identical); the date is shortened there instead
        cols = [("at", "When (UTC)"), ("user", "Who"), ("client", "Client"), ("what", "What"),
                ("target", "Flag / item"), ("change", "Change")]
        rows: list[list[Text]] = []
        self._changes = []
        for e in self.entries[:MAX_ROWS]:
            at = e.at.replace("T", " ")[:16]
            if not wide:
                at = at[5:]  # "11-28 15:28": the year goes at 80 columns
            rows.append([Text(at), Text(e.user), Text(entry_client(e) or "—", style="bold"),
                         Text(ACTION_WORDS.get(e.action, e.action)), Text(target_text(e))])
            self._changes.append(change_text(e, include_notes=not present) or "—")
        # every column as wide as its widest cell, the Change column the rest (each column
        # takes its width plus the table's cell padding on both sides)
        widths = [fixed_width(label, (r[i] for r in rows)) for i, (_k, label) in enumerate(cols[:-1])]
        self._width = room = self._room()
        pad = 2 * table.cell_padding
        change_w = max(CHANGE_MIN_WIDTH, room - sum(widths) - pad * len(cols))
        for (key, label), w in zip(cols, [*widths, change_w]):
            table.add_column(label, key=key, width=w)
        for n, (cells, change) in enumerate(zip(rows, self._changes)):
            table.add_row(*cells, fit_cell(change, change_w), key=str(n))
        scope = app.scope
        total = len(self.entries)
        head = f"Audit trail · {total} change{'s' if total != 1 else ''}"
        if total > MAX_ROWS:
            head += f" (latest {MAX_ROWS} listed; e exports all)"
        if scope:
            head += f" · clients of clinician {scope} only"
        if present:
            head += " · note and action text hidden"
        self.query_one("#audit-header", Static).update(head)
        error = app.reviews.error
        if error:
            msg.update(f"⚠ {error}")
            msg.display = True
        elif not self.entries:
            msg.update("No reviews or action items yet. r marks a client discussed on the caseload.")
            msg.display = True
        else:
            msg.display = False
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted change in full, under the table."""
        detail = self.query_one("#audit-detail", Static)
        table = self.query_one(AuditTable)
        row = table.cursor_row if table.row_count else None
        if row is None or not 0 <= row < len(self._changes):
            detail.display = False
            return
        e = self.entries[row]
        t = Text()
        t.append(entry_client(e) or "—", style="bold")
        t.append(f" · {ACTION_WORDS.get(e.action, e.action)} · {target_text(e)} · {e.user} "
                 f"{e.at.replace('T', ' ')[:16]}\n")
        t.append(self._changes[row])
        detail.update(t)
        detail.display = True

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#audit-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        try:
            e = self.entries[int(event.row_key.value)]
        except (TypeError, ValueError, IndexError):
            return
        code = entry_client(e)
        data = self.sup.data
        if code and data is not None and code in data.by_code:
            self.sup.show_client(code, [code], origin=self)
        elif code:
            self.notify(f"{code} is not in the loaded caseload", severity="warning")

    def action_back(self) -> None:
        self.dismiss(None)

    def _export(self, include_notes: bool) -> None:
        self.sup.export_audit(include_notes)

    def action_export(self) -> None:
        self._export(False)

    def action_export_with_notes(self) -> None:
        self._export(True)
