"""Clinicians screen, help, command palette and the keymap."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Static

from supervision_tui.settings import Settings
from supervision_tui.ui.keymap import binding_ids
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.screens.client import ClientScreen
from supervision_tui.ui.screens.clinicians import CliniciansScreen, CliniciansTable
from supervision_tui.ui.screens.help import HelpScreen
from supervision_tui.ui.widgets.caseload_table import CaseloadTable
from ui_support import (
    LARGE,
    SMALL,
    async_test,
    loaded,
    make_app,
    plain,
    static_text,
    table_column,
)


@async_test
async def test_clinicians_screen_lists_supervisees_and_enter_filters(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, CliniciansScreen)
        table = app.screen.query_one(CliniciansTable)
        names = table_column(table, "clinician")
        assert names == ["T01", "T02", "T03", "T04", "All"]  # the supervisor has no clients: not listed
        roles = table_column(table, "role")
        assert roles[:4] == ["trainee", "staff", "trainee", "staff"]
        clients = [int(x) for x in table_column(table, "clients")]
        assert clients[-1] == sum(clients[:-1]) == sum(1 for a in app.analyses if a.triaged)
        # tier 1 column: the risk client's clinician has 1
        risk_clin = next(a.clinician for a in app.analyses if a.tier == 1)
        t1 = dict(zip(names, table_column(table, "t1")))
        assert t1[risk_clin] == "1"
        repair = table_column(table, "repair")
        assert all(r == "—" or r.split()[0].isdigit() for r in repair)
        # at 160 columns the full table (one column per tier) fits: nothing scrolls sideways
        assert "t1" in [c.key.value for c in table.ordered_columns]
        assert table.virtual_size.width <= table.scrollable_content_region.width
        # a clinician without a recorded role reads "—"
        from supervision_tui.model import Clinician

        app.data.caseload.clinicians["T02"] = Clinician("T02", None)
        app.screen.fill()
        assert table_column(table, "role")[:4] == ["trainee", "—", "trainee", "staff"]
        # enter on T03 filters the caseload and returns
        await pilot.press("down", "down")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)
        assert app.screen.clinician == "T03"
        codes = table_column(app.screen.query_one(CaseloadTable), "client")
        codes = [c for c in codes if app.data.by_code[c].tier != 1]  # risk is kept on top whatever the filter
        assert codes and all(app.data.by_code[c].clinician == "T03" for c in codes)
        # "All" clears it
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("end")
        await pilot.press("ctrl+end")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.clinician is None


@async_test
async def test_clinicians_screen_at_80_columns_compacts_tiers(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        await pilot.press("o")
        await pilot.pause()
        table = app.screen.query_one(CliniciansTable)
        keys = [c.key.value for c in table.ordered_columns]
        assert "tiers" in keys and "t1" not in keys
        assert plain(table.ordered_columns[keys.index("tiers")].label) == "▲1 ▲2 ●3 ◆4 ○5 ·6  7"  # tier 7 "no flag" has no symbol
        # the Role column stays at 80 columns, next to the clinician (screens.md §3)
        assert keys[:3] == ["clinician", "role", "clients"]
        assert table_column(table, "role") == ["trainee", "staff", "trainee", "staff", ""]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)
        assert app.screen.clinician is None


@async_test
async def test_help_lists_the_bindings_of_the_screen_and_app(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = static_text(app.screen.query_one("#help-text", Static))
        for line in ("/  Search", "f  Filter", "o  Clinicians", "c  Closed", "s  Sort", "q  Quit", "? f1  Help", "^p  Command palette",
                     "⏎  Open", "j  Down"):
            assert line in text, line
        assert "[show-closed]" in text  # ids shown so users can remap them
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)

        # on the client screen: its own keys
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        text = static_text(app.screen.query_one("#help-text", Static))
        assert "Prev client" in text and "Next client" in text and "g  Goals" in text
        assert "esc  Back" in text
        await pilot.press("q")
    assert not app.is_running


@async_test
async def test_palette_opens_and_runs_commands(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        target = scenarios["goal_stale"]
        await pilot.press(*f"open client {target}")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ClientScreen)
        assert app.screen.code == target

        # from the client screen, a filter command goes back to the caseload
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"filter: clinician T02")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, CaseloadScreen)
        assert app.screen.clinician == "T02"

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"show closed clients")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen.show_closed


@async_test
async def test_palette_lists_actions_when_empty(demo_db):
    from supervision_tui.ui.commands import SupervisionCommands

    app = make_app(demo_db)
    async with app.run_test(size=LARGE) as pilot:
        await loaded(pilot)
        provider = SupervisionCommands(app.screen)
        names = [name for name, _action, _help in provider._commands()]
        for wanted in ("Clinicians overview", "Help: keys of this screen", "Show closed clients",
                       "Search clients", "Filter: ▲1 risk · risk screen positive, not re-screened", "Filter: clinician T01", "Reload the database"):
            assert wanted in names, wanted
        assert sum(n.startswith("Open client ") for n in names) == len(app.analyses)


@async_test
async def test_keymap_from_settings_remaps_bindings(demo_db):
    settings = Settings(keys={"clinicians": "v", "search": "ctrl+f", "no-such-binding": "x"})
    app = make_app(demo_db, settings=settings)
    notes = []
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        await loaded(pilot)
        notes = [n.message for n in app._notifications]
        assert any("no-such-binding" in m for m in notes)
        await pilot.press("o")  # no longer bound
        await pilot.pause()
        assert isinstance(app.screen, CaseloadScreen)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, CliniciansScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+f")
        assert app.screen.query_one("#search").has_focus
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        text = static_text(app.screen.query_one("#help-text", Static))
        assert "v  Clinicians" in text and "o  Clinicians" not in text


def test_binding_ids_are_unique_per_screen_and_include_the_public_ones():
    ids = binding_ids()
    for wanted in ("quit", "help", "search", "filter", "clinicians", "show-closed", "sort", "open-client",
                   "back", "previous-client", "next-client", "focus-goals", "cursor-down", "cursor-up"):
        assert wanted in ids
    # app-wide keys (agenda, present, blank, audit, theme, screenshot) are never taken by a screen
    for cls in (CaseloadScreen, ClientScreen, CaseloadTable):
        keys = {k.strip() for b in cls.BINDINGS for k in b.key.split(",")}
        assert not keys & {"a", "p", "b", "u", "t", "ctrl+s", "f2"}, cls
    # the review keys belong to the workflow
    by_key = {k: b.id for b in CaseloadScreen.BINDINGS for k in b.key.split(",")}
    assert by_key["r"] == "review-client"
    by_key = {k: b.id for b in ClientScreen.BINDINGS for k in b.key.split(",")}
    assert (by_key["r"], by_key["n"], by_key["x"], by_key["d"]) == (
        "review-flag", "review-note", "add-action", "toggle-action")
    for wanted in ("agenda", "present", "blank", "audit", "review-client", "review-flag", "review-note",
                   "add-action", "toggle-action"):
        assert wanted in ids, wanted


def test_every_binding_of_every_screen_and_widget_is_in_the_keymap_registry():
    """The registry is complete: each binding a screen or widget of the UI
    declares (lazily imported screens included) has its id and its default
    key in ``ui.keymap``, so a [keys] entry for it is never reported unknown
    and really remaps something."""
    import importlib
    import pkgutil

    import supervision_tui.ui as ui_pkg
    from supervision_tui.ui import keymap

    registered = {(k.id, k.keys, k.action) for keys in keymap.KEYMAP.values() for k in keys}
    seen = 0
    for mod in pkgutil.walk_packages(ui_pkg.__path__, "supervision_tui.ui."):
        if mod.name.endswith(".serve"):
            continue
        module = importlib.import_module(mod.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__:
                for b in vars(obj).get("BINDINGS", []):
                    seen += 1
                    assert b.id, f"{obj.__name__}: a binding without an id ({b.key} {b.action})"
                    assert (b.id, b.key, b.action) in registered, (obj.__name__, b.id)
    assert seen >= 40


def test_keymap_check_reports_unknown_and_renamed_ids():
    from supervision_tui.ui import keymap

    applied, messages = keymap.check({"cycle_theme": "T", "sort": "S", "no-such": "x"})
    assert applied == {"cycle-theme": "T", "sort": "S"}
    assert messages[0] == "[keys] cycle_theme is now called cycle-theme; please rename it"
    assert messages[1].startswith("[keys] unknown binding id: no-such. Known: ")
    assert keymap.check({}) == ({}, [])


def test_keymap_collisions_are_per_screen_and_ignore_shared_ids():
    from supervision_tui.ui import keymap

    assert keymap.collisions({"review-client": "q"}) == ["[keys] review-client = q also used by quit"]
    assert keymap.collisions({"sort": "S"}) == []
    # e is "export" on the agenda and the audit screen, never both at once: no clash with either
    assert keymap.collisions({"agenda-since": "e"}) == ["[keys] agenda-since = e also used by export-agenda"]
    assert keymap.collisions({"open-client": "/"}) == ["[keys] open-client = / also used by search"]


@async_test
async def test_reload_refreshes_the_open_client_screen(demo_db, scenarios):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        app.show_client(scenarios["open"])
        await pilot.pause()
        screen = app.screen
        old = app.data
        app.reload()
        for _ in range(100):
            await pilot.pause(0.02)
            if app.data is not old:
                break
        await pilot.pause()
        assert app.data is not old
        assert app.screen is screen and screen.code == scenarios["open"]
        assert screen.view.analysis is app.data.by_code[scenarios["open"]]
        assert static_text(screen.query_one("#client-header", Static)).startswith(scenarios["open"])


@async_test
async def test_header_follows_theme_and_presentation_mode(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot)
        modes = app.screen.query_one("#topbar-theme", Static)
        assert "presenting" not in static_text(modes)
        app.present = True
        await pilot.pause()
        # at 80 columns the theme name gives way to the mode
        assert static_text(modes) == "PRESENTING · private text hidden"
        app.present = False
        app.theme = "textual-light"
        await pilot.pause()
        assert static_text(modes) == "textual-light"
        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        app.present = True
        await pilot.pause()
        assert static_text(modes) == "PRESENTING · private text hidden · textual-light"
