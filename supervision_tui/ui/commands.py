"""Command palette (ctrl+p): every action of the app, plus one command per
client and per clinician, built from the loaded caseload.

Commands call the app's public methods (``show_client``,
``filter_clinician``, ``filter_kind``, ``set_show_closed``, ...), the
same ones the key bindings use; a screen adds its own commands with
``AppScreen.palette_commands``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from supervision_tui.ui.context import AppScreen, app_of
from supervision_tui.ui.filters import KIND_FILTERS, tier_label
from supervision_tui.ui.widgets.caseload_table import sortable_columns


class SupervisionCommands(Provider):
    """Clients, clinicians, filters, sorting, screens."""

    def _commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        app = app_of(self)
        if app.data is None and app.load_error:
            # the caseload could not be opened: nothing here would show anything
            yield "Help: keys of this screen", app.action_help, "Every key binding of the current screen and the app"
            return
        data = app.data
        try:
            caseload = app.caseload_screen
        except LookupError:
            caseload = None
        yield "Clinicians overview", app.action_clinicians, "Supervisees: tiers, ruptures, repair rate, outcomes"
        yield "Help: keys of this screen", app.action_help, "Every key binding of the current screen and the app"
        yield "Search clients", app.action_search, "Filter the caseload by client code, clinician or why"
        yield "Filter picker", app.action_filter, "Pick a tier, kind or clinician filter"
        yield "Clear filters", app.clear_filters, "Show every client again"
        if caseload is not None and caseload.show_closed:
            yield "Hide closed clients", partial(app.set_show_closed, False), "Hide closed and dropped-out clients"
        else:
            yield "Show closed clients", partial(app.set_show_closed, True), "Also list closed and dropped-out clients"
        yield "Reload the database", app.reload, "Re-read the database and re-run the analysis"
        yield from self._workflow_commands()
        for f in KIND_FILTERS:
            yield f"Filter: {f.label}", partial(app.filter_kind, f.key), "Caseload tier/kind filter"
        for spec in sortable_columns():
            yield f"Sort by {spec.sort_label or spec.label}", partial(app.sort_by, spec.key), "Caseload sort order"
        if data is not None:
            for cid in data.clinicians:
                yield f"Filter: clinician {cid}", partial(app.filter_clinician, cid), "Only this clinician's clients"
            for a in data.analyses:
                status = "" if a.triaged else f" · {a.status.replace('_', ' ')}"
                yield (
                    f"Open client {a.client}",
                    partial(app.show_client, a.client),
                    f"{tier_label(a.tier)} · {a.clinician}{status} · {a.why}",
                )

    def _workflow_commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        """Review workflow: agenda, audit, presentation, exports, and the
        review keys of the current screen."""
        app = app_of(self)
        screen = self.screen  # the screen the palette was opened on
        yield "Weekly agenda", app.action_agenda, "Safety, not on track, ruptures, goals, patterns, action items"
        yield ("Export agenda", partial(app.export_agenda, False),
               "Markdown + HTML to the private data folder; notes, goal and action texts left out")
        yield ("Export agenda with notes", partial(app.export_agenda, True),
               "Markdown + HTML including review notes, goal descriptions and action texts (private files)")
        yield "Audit trail", app.action_audit, "Every review and action item change, newest first"
        yield ("Export audit trail", partial(app.export_audit, False),
               "CSV to the private data folder; note and action texts hidden")
        yield ("Export audit trail with notes", partial(app.export_audit, True),
               "CSV including note and action texts (private file)")
        if app.present:
            yield "Presentation mode: off", app.action_toggle_present, "Show notes, goal and action texts again"
        else:
            yield "Presentation mode: on", app.action_toggle_present, "Hide notes, goal and action texts"
        yield "Blank the screen", app.action_blank, "Hide everything at once; any key returns"
        if isinstance(screen, AppScreen):  # the screen's own commands (its review keys)
            yield from screen.palette_commands()

    async def discover(self) -> Hits:
        for name, action, help_text in self._commands():
            if name.startswith("Open client") or name.startswith("Filter: clinician") or name.startswith("Sort by"):
                continue  # listed when searched for; the empty palette stays short
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)
