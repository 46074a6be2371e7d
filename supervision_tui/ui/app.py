"""The Textual app: the shell that holds the loaded data, the review
service and the screens.

What lives where
----------------
* Loading: ``ui.loading.load`` (read + analyse, in a thread worker that
  posts ``messages.DataLoaded``/``LoadFailed``; the app handles them with
  ``@on``). The triage cache: ``ui.loading`` over ``store.triage_cache``.
* Reviews, action items, agenda, audit and exports: ``service.reviews.ReviewService``
  (``app.reviews``, UI-free); the app turns its results into notifications
  (``tell``/``apply``) and refreshes (``reviews_version``).
* Keys: ``ui.keymap`` (every binding by id; ``[keys]`` is checked there).
* Settings file writes (the theme chosen): ``store.settings_file``.

Public hooks for the screens (they reach the app through
``ui.context.app_of``, typed)
----------------------------------------------------------------------
* ``build_app(db_path, settings, ...)`` builds the app; ``run_app`` runs
  it (and exits non-zero on any crash). Every test builds the app through
  ``build_app``.
* Loaded state: ``app.data`` (a ``LoadedData``: ``caseload``, ``records``,
  ``analyses``, ``by_code``, ``view(code)``), with shortcuts
  ``app.caseload``, ``app.analyses``, ``app.records``. ``app.data_version``
  (reactive int) bumps after every load; watch it with
  ``self.watch(self.app, "data_version", callback)``. ``app.load_error``
  (reactive str | None) holds the message of a failed load.
* ``app.reload()`` re-reads the database and re-runs the engine in a
  thread worker (the screens keep showing the old data until the new data
  are in, then refresh in place, keeping the cursor on the same client).
* Start-up: when the private triage cache holds a valid copy of the
  caseload table, ``app.cached_table`` has it until the first load ends;
  the caseload screen paints those rows in its first frame
  (``CaseloadRow.analysis`` is None on them) and the load starts once that
  frame is on screen. Opening a client meanwhile waits for the data. After
  every load (and review change) the table is written back to the cache.
* Speed: one ``ClientScreen`` per place a client is opened from (the
  caseload, the agenda, the audit trail) is built on first use, installed,
  and refilled for every client opened there (``ClientScreen.reopen``).
  The loaded caseload is moved out of the garbage collector's way
  (``gc.freeze``) until the next load.
* Navigation: ``show_client(code, order, origin=...)`` is the one way to
  open a client (caseload, agenda, audit trail, palette); ``_close_above``
  the one way screens are closed to reach another.
* ``app.present`` (reactive bool): presentation mode. Private free text
  (goal descriptions, review notes, action texts) is hidden while it is
  True; screens watch it.
* ``app.reviews_version`` (reactive int) bumps after every review write
  or another process's write; ``app.changed_clients`` says which clients
  (None: any). ``--clinician`` (``initial_clinician``) scopes the loaded
  data to that clinician's clients.
* ``app.review_status(analysis) -> str``: the caseload's Review column and
  the preview's "Review:" line.
* ``app.decorate_row(row)``: called for each ``CaseloadRow`` as it is
  built; append callables to ``app.row_hooks`` to put values on rows
  (``row.extra[...]``) for columns registered with
  ``widgets.caseload_table.register_column``.
* Themes: ``t`` cycles the app's own themes (bundled + user theme files);
  the palette's theme picker (``search_themes``) offers only those. A theme
  chosen after start-up is remembered as ``[ui] theme`` in the settings
  file (``store.settings_file.remember_theme``), except under
  ``--read-only``. Failing to write it is a notification, never a crash.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on, work
from textual.app import App
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import ThemeProvider

from supervision_tui.errors import UserError
from supervision_tui.gc_pause import end_startup
from supervision_tui.service.reviews import DASHBOARD_LOCK_TIMEOUT, POLL_SECONDS, Notice, Outcome, ReviewService
from supervision_tui.settings import Settings
from supervision_tui.ui import keymap
from supervision_tui.ui.commands import SupervisionCommands
from supervision_tui.ui.loading import Loader, load, read_cached_table, write_cached_table
from supervision_tui.ui.messages import DataLoaded, LoadFailed, LoadProgress
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.terminal import launch, suggested_theme, terminal_settings
from supervision_tui.ui.widgets.caseload_table import CaseloadRow
from supervision_tui.ui.widgets.viewdata import LoadedData

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.store.triage_cache import CachedTable, CacheKey
    from supervision_tui.ui.screens.client import ClientScreen

T = TypeVar("T")

#: how often, at most, a cold load's "n of N clients" is shown (each is one small repaint, on the
#: same two cores as the loader's workers)
PROGRESS_SECONDS = 0.25

class AppThemeProvider(ThemeProvider):
    """The palette's theme picker, limited to the app's own themes
    (``SupervisionApp.theme_names``: bundled, then user theme files)."""

    @property
    def commands(self) -> list[tuple[str, Callable[[], None]]]:
        app = self.app
        names = set(app.theme_names) if isinstance(app, SupervisionApp) else set()
        return [(name, callback) for name, callback in super().commands if not names or name in names]


class SupervisionApp(App[None]):
    """supervision-tui: caseload triage, client detail, supervisees."""

    CSS_PATH = "app.tcss"
    TITLE = "supervision-tui"
    #: the last "n of N clients" of the load running (``LoadProgress``); None: none yet
    load_progress: tuple[int, int | None] | None = None
    COMMANDS = App.COMMANDS | {SupervisionCommands}
    BINDINGS = keymap.bindings("app")

    present: reactive[bool] = reactive(False)
    reviews_version: reactive[int] = reactive(0)
    data_version: reactive[int] = reactive(0)
    load_error: reactive[str | None] = reactive(None)
    loading: reactive[bool] = reactive(False)

    def __init__(
        self,
        db_path: Path | str | None,
        settings: Settings | None = None,
        *,
        config_path: Path | None = None,
        theme: str | None = None,
        present: bool = False,
        read_only: bool = False,
        clinician: str | None = None,
        as_of: date | None = None,
        ssh: bool | None = None,
        show_all: bool = False,
        loader: Loader | None = None,
        preload: Any = None,
        ascii_glyphs: bool | None = None,
    ) -> None:
        super().__init__()
        from supervision_tui import glyphs

        # TERM=linux (or --ascii): only what Linux console fonts can draw
        self.glyphs: glyphs.GlyphSet = glyphs.choose(ascii_glyphs)
        from supervision_tui.ui.line_filters import install, install_simplify

        if self.glyphs.console:
            install(self)
        if terminal_settings(ssh)["ssh"]:  # one escape code per run of one style: fewer bytes on the wire
            install_simplify(self)
        self.db_path = Path(db_path) if db_path is not None else None
        self.settings: Settings = settings if settings is not None else Settings()
        self.config_path = config_path
        self.read_only = read_only
        self.as_of = as_of
        self.terminal = terminal_settings(ssh)  # ssh, mouse, animation_level, cursor_blink
        self.ssh: bool = self.terminal["ssh"]
        self.initial_clinician = clinician
        self.initial_show_all = show_all
        self._loader = loader
        self._preload = preload  # loader.LoadHandle started by the CLI before Textual was imported
        self._load_handle: Any = None  # the running loader.LoadHandle
        self.data: LoadedData | None = None
        self.cached_table: CachedTable | None = None  # shown until the data are loaded
        self._cache_written: CacheKey | None = None
        self._open_when_loaded: str | None = None  # a client asked for while loading
        self._client_screens: dict[str, ClientScreen] = {}  # origin -> its client screen (see show_client)
        # review saves run on this thread and wait at most DASHBOARD_LOCK_TIMEOUT for the lock (see there)
        self.reviews = ReviewService(self.db_path, scope=clinician, read_only=read_only, as_of=as_of,
                                     lock_timeout=DASHBOARD_LOCK_TIMEOUT)
        self.changed_clients: frozenset[str] | None = None  # clients of the last review change (None: any)
        self.row_hooks: list[Callable[[CaseloadRow], None]] = []
        self._startup_messages: list[Notice] = []
        self._keymap_to_check: dict[str, str] = {}
        self.theme_names: list[str] = []
        self.set_reactive(SupervisionApp.present, present)
        self.animation_level = self.terminal["animation_level"]
        self._install_themes(theme)
        self._apply_keymap()

    # -- set-up -----------------------------------------------------------------------

    @property
    def scope(self) -> str | None:
        """``--clinician``: the only clinician whose clients this session sees."""
        return self.reviews.scope

    def _install_themes(self, requested: str | None) -> None:
        from supervision_tui.ui.theming import install_themes

        # NO_COLOR wins over a theme remembered from a colour session (not over --theme):
        # an RGB theme under NO_COLOR turns to greys in which urgency reads upside down.
        # So does a 16-colour terminal: an RGB theme remembered from a 256-colour session
        # collapsed there (projector's rupture tier came out yellow on white, 1.7:1)
        remembered = None if self.no_color else self.settings.ui.theme
        fallback = remembered or suggested_theme()  # (also instead of a --theme that is not available)
        chosen = requested
        requested = requested or fallback
        self.theme_names, messages = install_themes(self, requested, fallback=fallback)
        if self.few_colours and not self._is_ansi(self.theme):
            if chosen:  # the user's own choice: kept, with a word about it
                messages.append(f"Theme {self.theme!r} is made of RGB colours: on this 16-colour terminal they "
                                "collapse and lose their contrast. The ansi themes keep it (t switches).")
            else:
                self.theme = suggested_theme() or "ansi"
        self._startup_messages += [Notice(m, "warning", 8) for m in messages]

    @property
    def few_colours(self) -> bool:
        """A 16-colour terminal or ``NO_COLOR``: only the ANSI themes (the
        terminal's own palette) keep their contrast."""
        return suggested_theme() == "ansi"

    def _is_ansi(self, name: str) -> bool:
        theme = self.available_themes.get(name)
        return bool(theme is not None and getattr(theme, "ansi", False))

    def _apply_keymap(self) -> None:
        if not self.settings.keys:
            return
        applied, messages = keymap.check(self.settings.keys)
        for m in messages:
            self._startup_messages.append(Notice(m, "information" if "is now called" in m else "warning", 8))
        self.set_keymap(applied)
        self._keymap_to_check = applied  # (checked for collisions after the first frame)

    def get_default_screen(self) -> Screen:
        # read here, before any screen mounts: the caseload screen paints it first
        if self._loader is None:
            self.cached_table = read_cached_table(self.db_path, self.settings, self.as_of, self.initial_clinician)
        return CaseloadScreen(clinician=self.initial_clinician, show_closed=self.initial_show_all)

    def on_mount(self) -> None:
        for notice in self._startup_messages:
            self.tell(notice)
        self._startup_messages.clear()
        self.set_interval(POLL_SECONDS, self.poll_workflow)
        self._watch_terminal()
        # a theme chosen from now on (t, the palette) is remembered; the start-up one is not
        self.watch(self, "theme", self._theme_chosen, init=False)
        self.call_after_refresh(end_startup)  # cli.main's start-up pause ends with the first frame
        from supervision_tui.ui.loader import trace

        trace("app mounted")
        self.call_after_refresh(trace, "first frame")
        if self._keymap_to_check:
            self.call_after_refresh(self._report_keymap_collisions)
        if self.cached_table is not None:
            # the cached rows are on the first frame; read the database once it is painted
            # (the loading thread would otherwise compete with the first paint)
            self.call_after_refresh(self._start_loading)
        else:
            self._start_loading()

    def _watch_terminal(self) -> None:
        """Quit when the terminal hangs up (``ui.terminal.hung_up``: no SIGHUP
        reaches a program started in a session of its own). Only for a real
        terminal (not under ``run_test``, not in a browser)."""
        import os

        from supervision_tui.ui.terminal import HANGUP_CHECK_SECONDS, hung_up

        fd = getattr(self._driver, "fileno", None)
        try:
            if not isinstance(fd, int) or not os.isatty(fd):
                return
        except OSError:  # pragma: no cover - a closed descriptor
            return

        def check() -> None:
            if hung_up(fd):
                self.exit(return_code=1)

        self.set_interval(HANGUP_CHECK_SECONDS, check, name="terminal hang-up")

    def _report_keymap_collisions(self) -> None:
        applied, self._keymap_to_check = self._keymap_to_check, {}
        for message in keymap.collisions(applied):
            self.notify(message, severity="warning", timeout=10, markup=False)

    def _start_loading(self) -> None:
        notice = self.reviews.start()
        if notice is not None:
            self.tell(notice)
        self.reload()

    # -- notices and review results ----------------------------------------------------------

    def tell(self, notice: Notice) -> None:
        """Show a service's ``Notice`` as a notification (never markup)."""
        if notice.timeout is None:
            self.notify(notice.message, severity=notice.severity, markup=False)
        else:
            self.notify(notice.message, severity=notice.severity, timeout=notice.timeout, markup=False)

    def apply(self, outcome: Outcome[T]) -> T | None:
        """Take a review write's outcome: say why it was refused or failed,
        refresh the screens for the clients it touched; its value (None:
        nothing written)."""
        if outcome.notice is not None:
            self.tell(outcome.notice)
        if outcome.touched is None or outcome.touched:
            self.reviews_changed(outcome.touched)
        return outcome.value if outcome.notice is None else None

    def can_write(self) -> bool:
        """True when a review write may go ahead; else says why."""
        refused = self.reviews.refusal()
        if refused is not None:
            self.tell(refused)
            return False
        return True

    def reviews_changed(self, clients: Iterable[str] | None) -> None:
        """Tell the screens that reviews of ``clients`` (None: any) changed."""
        self.changed_clients = frozenset(clients) if clients is not None else None
        self.reviews_version += 1

    def poll_workflow(self) -> bool:
        """One poll of the files (every ``POLL_SECONDS``): another process's
        review write refreshes the screens, a changed database reloads.
        True when something changed. Never raises."""
        try:
            result = self.reviews.poll()
        except Exception as err:  # a poll must never take the app down
            self.notify(f"Checking for updates failed: {type(err).__name__}: {err}", severity="error", markup=False)
            return False
        if result.database_changed:
            self.notify("The caseload file changed on disk: reloading", timeout=4)
            self.reload()
        if result.notice is not None:
            self.tell(result.notice)
        if result.reviews_changed:
            self.reviews_changed(None)
            self.notify("Reviews updated by another user", timeout=4)
        self.save_triage_cache()  # after a review write: the Review column of the next start
        return result.changed

    def review_status(self, analysis) -> str:
        """The Review column of ``analysis`` (``?``: reviews unavailable)."""
        return self.reviews.status_text(analysis)

    def decorate_row(self, row: CaseloadRow) -> None:
        row.review = self.review_status(row.analysis)
        for hook in self.row_hooks:
            hook(row)

    # -- themes and screenshots ---------------------------------------------------------

    def get_css_variables(self) -> dict[str, str]:
        """Textual's variables for the current theme; under ``NO_COLOR`` also
        re-picks Textual's colour filter for the theme and, with an ANSI
        theme, marks the cursor with reverse video (see ``theming.no_color_filter``).
        Textual calls this at start and after every theme change."""
        from supervision_tui.ui.theming import no_color_filter, no_color_variables

        no_color_filter(self)
        variables = no_color_variables(self, super().get_css_variables())
        self.theme_variables = variables
        return variables

    def action_allowed(self, action: str) -> bool:
        """Whether ``action`` can do anything now; the screens' and the app's
        ``check_action`` hide the keys that cannot (footer, help, palette):
        write keys under ``--read-only``, everything but quit, help and the
        theme while the caseload could not be opened, and nothing once the app
        is quitting (a key typed right after ``q`` would open a screen the
        closing app never mounts: a traceback on the terminal)."""
        name = action.rpartition(".")[2]
        if self._exit:
            return False
        if self.read_only and name in keymap.WRITE_ACTIONS:
            return False
        if self.data is None and self.load_error and name not in keymap.WITHOUT_DATA:
            return False
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.action_allowed(action)

    def on_key(self, event) -> None:
        """A write key under ``--read-only`` is hidden from the footer, so it
        reaches here unhandled: say why nothing happens."""
        if self.read_only and event.key in keymap.write_keys(self.screen.id or "", self.settings.keys):
            event.stop()
            self.can_write()  # tells: read-only

    def get_key_display(self, binding) -> str:
        """How the footer and the help show a key; the console glyph set
        spells out the keys its fonts have no symbol for (⏎ → "enter")."""
        text = super().get_key_display(binding)
        if self.glyphs.console:
            text = self.glyphs.text(text.replace("⏎", self.glyphs.enter))
        return text

    def action_cycle_theme(self) -> None:
        """Switch to the next theme (remembered by ``_theme_chosen``); on a
        16-colour terminal (or under ``NO_COLOR``) the next ANSI theme only
        (the palette's theme switch still offers every theme)."""
        from supervision_tui.ui.theming import next_theme

        names = self.theme_names or None
        if self.few_colours and names:
            names = [n for n in names if self._is_ansi(n)] or names
        self.theme = next_theme(self.theme, names)

    def _theme_chosen(self, name: str) -> None:
        """Every theme change after start-up (``t``, the palette's theme
        picker): remember it in the settings file when that is safe, and say
        which theme it is and whether it was remembered. Never raises."""
        if self.read_only:
            why: str | None = "read-only"
        else:
            from supervision_tui.store.settings_file import remember_theme

            why = remember_theme(self.config_path, name)
        if why is None:
            self.notify(f"Theme {name}", timeout=2, markup=False)
        else:
            chosen = why == "read-only" or why.endswith("is read-only") or why.startswith("your settings")
            # (the user's own choice, or a real failure)
            self.notify(f"Theme {name} (not remembered: {why})", severity="information" if chosen else "warning",
                        timeout=8, markup=False)

    def search_themes(self) -> None:
        """The command palette's theme picker ("Theme" command): this app's
        themes only (bundled and user theme files), not Textual's built-in
        ones, which stay usable by name (``--theme``) but are not offered."""
        from textual.command import CommandPalette

        self.push_screen(CommandPalette(providers=[AppThemeProvider], placeholder="Search for themes…"))

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the current screen (private folder, 0o600).

        Overrides Textual's own action, which writes to ~/Downloads with
        default permissions. What is hidden on screen (presentation mode)
        is hidden in the file too."""
        from supervision_tui.ui.screenshot import save_screenshot

        try:
            saved = save_screenshot(self)
        except UserError as err:
            self.notify(str(err), severity="error", markup=False)
            return
        note = "" if self.present else " (not presenting: private text may be in it)"
        self.notify(f"Screenshot saved: {saved}{note}", timeout=8, markup=False)

    def _fatal_error(self) -> None:
        """Textual's crash report (textual/app.py ``_fatal_error``) without
        its panel of local variables: they may hold private text (a note, a
        goal), even in presentation mode. Exits with status 1 (run_app)."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    def get_system_commands(self, screen: Screen):
        from textual.app import SystemCommand

        for cmd in super().get_system_commands(screen):
            if cmd.title == "Screenshot":
                yield SystemCommand(
                    "Screenshot", "Save an SVG to the private screenshots folder", self.action_screenshot
                )
            else:
                yield cmd

    # -- loading ---------------------------------------------------------------------

    @property
    def caseload(self):
        return self.data.caseload if self.data is not None else None

    @property
    def analyses(self):
        return self.data.analyses if self.data is not None else []

    @property
    def records(self):
        return self.data.records if self.data is not None else {}

    def reload(self) -> None:
        """Re-read the database and re-run the engine in a worker thread."""
        self.loading = True
        self.load_progress = None
        gc.unfreeze()  # what the last load froze is collectable again (see _loaded)
        self._load_worker()

    def load_data(self) -> LoadedData | None:
        """Read and analyse (blocking; runs in the worker thread). The
        database is read and analysed in worker processes (``supervision_tui.ui.loader``);
        this thread only receives their results. With a ``loader`` callable
        (tests building data in memory) it runs the engine here instead
        (``ui.loading.load``)."""
        if self._loader is None and self.db_path is not None:
            try:
                from textual.worker import get_current_worker

                worker = get_current_worker()
            except Exception:  # (called outside a worker: never cancelled)
                worker = None
            return self._load_from_processes(lambda: worker is not None and worker.is_cancelled)
        return load(self.db_path, self.settings, self.as_of, self.initial_clinician, self._loader)

    def _load_from_processes(self, cancelled: Callable[[], bool]) -> LoadedData | None:
        from dataclasses import replace

        from supervision_tui.ui import loader
        from supervision_tui.gc_pause import gc_paused
        from supervision_tui.store.triage_cache import cache_key

        handle, self._preload = self._preload, None
        if handle is None:
            handle = loader.spawn(loader.LoadRequest(str(self.db_path), self.settings, self.as_of,
                                                     scope=self.initial_clinician or None))
        self._load_handle = handle
        scope = self.initial_clinician
        # the triage cache's key: the file as it was *before* the workers read it
        key = replace(cache_key(self.db_path, self.settings, self.as_of, scope, sidecar_file=None),
                      db_file=handle.db_token)
        rows: dict[str, Any] = {}
        each = None
        version = self.reviews_version
        glyphs = self.glyphs.sparkline if hasattr(self, "glyphs") else None
        if not self.row_hooks:  # (hooks may expect the UI thread)
            from supervision_tui.ui.widgets.caseload_table import render_spark, row_of
            from supervision_tui.ui.widgets.sparkline import BLOCKS

            status = self.review_status

            def each(analysis, extras, previous=None) -> None:
                # the table's row, built as each client arrives (the workers are still busy); called
                # again with the client's final analysis once it is judged against the clinic
                # reference (``previous``: the one its row was built from): the same flags (the same
                # tuple) are the same row
                if not scope or analysis.clinician == scope:
                    row = rows.get(analysis.client)
                    if (previous is not None and row is not None and row.analysis is previous
                            and analysis.flags is previous.flags):
                        row.analysis = analysis
                        return
                    spark = render_spark(extras.get("spark"), glyphs or BLOCKS)
                    row = rows[analysis.client] = row_of(analysis, spark, 0)
                    row.review = status(analysis)
        # The collector stays off until the caseload is frozen (below): every object made while it was
        # off is in its youngest generation, and the first collection after it is back would walk them
        # all (about 0.1 s at 5 000 clients, holding the interpreter lock: a frozen screen)
        shown = [0.0]

        def progress(received: int, total: int | None) -> None:  # (the load thread: a message, never a wait)
            now = time.monotonic()
            if (received or total) and now - shown[0] >= PROGRESS_SECONDS:
                shown[0] = now
                self.post_message(LoadProgress(received, total))

        with gc_paused():
            try:
                result = loader.receive(handle, cancelled, progress, each=each)
            except loader.LoaderError as err:
                raise UserError(str(err)) from None
            finally:
                if self._load_handle is handle:
                    self._load_handle = None
            if result is None:
                return None
            try:
                data = self._loaded_data(result, key, scope, rows if each is not None else None, version, glyphs)
            except BaseException:  # (a future --as-of, an unknown --clinician: this load's cache is never written)
                result.discard_cache()
                raise
            gc.freeze()  # (see _loaded; reload() unfreezes)
            return data

    def _loaded_data(self, result, key, scope, rows, version, glyphs) -> LoadedData:
        """``LoadedData`` of a finished load (the load thread), with the
        table rows built meanwhile (``rows``: code → row, or None)."""
        from supervision_tui.ui import loader
        from supervision_tui.ui.widgets.sparkline import BLOCKS
        result.check_as_of(self.as_of)  # a future day or one before any data: an error, not an empty screen
        if scope:  # as the CLI: an unknown --clinician is an error listing the known ids (the same message)
            from types import SimpleNamespace

            from supervision_tui.rules.engine import check_clinician

            known = SimpleNamespace(clinicians=result.clinicians, clients={}, ratings=[
                SimpleNamespace(clinician=a.clinician) for a in result.analyses])
            check_clinician(known, scope, self.db_path)
        analyses, docs = result.analyses, result.docs
        if scope:  # --clinician: the whole app sees only this clinician's clients
            analyses = [a for a in analyses if a.clinician == scope]
            docs = {a.client: docs[a.client] for a in analyses}
        data = LoadedData(self.db_path, loader.LoadedCaseload(result.name, result.clinicians, docs),
                          loader.LazyRecords(docs, self.as_of), analyses, self.as_of, settings=self.settings,
                          scope=scope or None, cache_key=key, extras=result.extras, stats=result.stats,
                          max_views=64, reference=result.reference, effects=result.effects)
        _ = data.by_code, data.clinicians
        if rows is not None:
            # the caseload table's rows, built in this thread (5 000 rows and their Review cells take a
            # few tenths of a second: on the UI thread, a freeze); the caseload screen takes them when
            # the Review column's source has not changed meanwhile
            ordered = [rows[a.client] for a in analyses]
            for i, row in enumerate(ordered):
                row.order = i
            data.prebuilt_rows = ((version, glyphs or BLOCKS), ordered)
        self._keep_cache(result)
        return data

    def _keep_cache(self, result: Any) -> None:
        """The load whose analysis cache is written once its data are shown
        (``_loaded``); an earlier one still waiting (its data never shown: a
        newer load replaced it) is dropped, its temporary file removed."""
        earlier, self._pending_cache = getattr(self, "_pending_cache", None), result
        if earlier is not None and earlier is not result:
            earlier.discard_cache()

    def stop_loading(self) -> None:
        """Stop the loading processes (the app quits); a cache not yet
        written is dropped."""
        for handle in (self._preload, self._load_handle):
            if handle is not None:
                handle.kill()
        self._preload = self._load_handle = None
        self._keep_cache(None)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self) -> None:
        from supervision_tui.rules.engine import UnknownClinician

        try:
            data = self.load_data()
            if data is None:
                return
        except UnknownClinician as err:  # the CLI's error, and its exit status (run_app prints it)
            self.post_message(LoadFailed(str(err), fatal=True))
            return
        except UserError as err:
            self.post_message(LoadFailed(str(err)))
            return
        except Exception as err:  # never a traceback on screen
            self.post_message(LoadFailed(f"Unexpected error while loading: {type(err).__name__}: {err}"))
            return
        self.post_message(DataLoaded(data))

    @on(DataLoaded)
    def _loaded(self, message: DataLoaded) -> None:
        from supervision_tui.ui.loader import trace

        trace("loaded (UI thread)")
        self.data = message.data
        self.load_error = None
        self.loading = False
        self.data_version += 1  # the screens replace the cached rows, if any, here
        self.cached_table = None
        trace("rows built")
        self.call_after_refresh(trace, "rows painted")
        pending, self._pending_cache = getattr(self, "_pending_cache", None), None
        if pending is not None:  # the analysis cache, for the next start (a thread of its own: the load is over)
            # (a description given: Textual would describe the worker by repr(), of every analysis)
            self.run_worker(pending.save_cache, name="analysis-cache", group="analysis-cache", thread=True,
                            exit_on_error=False, description="write the analysis cache")
        self.save_triage_cache()  # (or the caseload screen does, once it has built its rows)
        if self._open_when_loaded is not None:
            code, self._open_when_loaded = self._open_when_loaded, None
            if self.screen is self.caseload_screen:
                self.show_client(code)
        # The caseload lives until the next load: move it (and everything else
        # alive now) out of the collector's way, so the full collections that
        # later UI work triggers do not walk 10⁵–10⁶ objects each time (a
        # pause of 0.1 s at 500 clients, seconds at 5 000). Frozen objects are
        # still freed by reference counting when dropped; reload() unfreezes.
        gc.freeze()

    @on(LoadProgress)
    def _load_progress(self, message: LoadProgress) -> None:
        # kept: a count that arrives before the caseload screen is mounted is shown when it mounts
        self.load_progress = (message.received, message.total)
        try:
            screen = self.caseload_screen
        except LookupError:
            return
        screen.show_load_progress(message.received, message.total)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.loading = False
        self.load_error = message.error
        self._open_when_loaded = None
        if message.fatal and self.data is None:
            self.exit(return_code=1)
            return
        if self.cached_table is not None:  # never leave cached rows up as if they were the data
            self.cached_table = None
        if self.data is not None:  # a failed reload keeps the old data on screen
            self.notify(f"Reload failed; showing the previous data. {message.error}", severity="error", timeout=10,
                        markup=False)

    # -- the triage cache --------------------------------------------------------------------

    def save_triage_cache(self) -> None:
        """Write the caseload table to the private triage cache, for the next
        start (after each load, and when the Review column changed since the
        last write). Also with ``--read-only``: the file is the user's own
        (0o600 in the user cache folder), never next to the database."""
        data = self.data
        if data is None or data.cache_key is None or self.loading or self.reviews.error:
            return
        store = self.reviews.store
        token = store.snapshot_token if store is not None else None
        if token is not None and len(token) != 4:  # the Review column's source is not known yet
            return
        key = replace(data.cache_key, sidecar_file=list(token) if token is not None else None)
        if key == self._cache_written:
            return
        try:
            screen = self.caseload_screen
        except LookupError:
            return
        rows = screen.rows_for_cache()
        if rows is None:
            return
        header = {"name": data.caseload.name, "clinicians": list(data.clinicians),
                  "latest_date": data.latest_date.isoformat() if data.latest_date else None}
        self._cache_written = key
        # (run_worker with a name: the @work decorator would repr() every row to name the worker)
        self.run_worker(lambda: self._write_triage_cache(key, header, rows), name="triage-cache",
                        group="triage-cache", thread=True, exit_on_error=False, description="write the triage cache")

    def _write_triage_cache(self, key: CacheKey, header: dict, rows: list) -> None:
        write_cached_table(key, header, rows)

    # -- navigation (used by bindings and the command palette) -------------------------

    @property
    def caseload_screen(self) -> CaseloadScreen:
        for screen in self.screen_stack:
            if isinstance(screen, CaseloadScreen):
                return screen
        raise LookupError("caseload screen not mounted")

    def _close_above(self, screen: Screen) -> None:
        """Close every screen above ``screen`` (which must be in the stack):
        the one way the app goes back to a screen."""
        if screen not in self.screen_stack:
            raise LookupError(f"{screen!r} is not open")
        while self.screen is not screen:
            self.pop_screen()

    def _to_caseload(self) -> CaseloadScreen:
        """Close everything above the caseload screen."""
        base = self.caseload_screen
        self._close_above(base)
        return base

    def show_client(self, code: str, order: list[str] | None = None, *, origin: Screen | None = None) -> None:
        """Open client ``code``: the one way to, from anywhere.

        ``origin`` is the screen it is opened from (the caseload, the agenda
        or the audit trail): the client screen goes on top of it, escape
        comes back to it, ←/→ walk ``order`` (default: the caseload's list).
        Each origin keeps one client screen, refilled for every client
        opened from it (so the agenda's client screen and the caseload's
        can both be open). Without an origin (the palette), a client screen
        already open is refilled where it is; else the client opens over
        the caseload."""
        from supervision_tui.ui.screens.client import ClientScreen

        if self.data is None and self.cached_table is not None:
            # the cached rows are up, the data not yet: open it when they are
            self._open_when_loaded = code
            self.notify(f"Loading the caseload… {code} opens in a moment", timeout=2)
            return
        if self.data is None or code not in self.data.by_code:
            self.notify(f"No client {code} in the caseload", severity="warning")
            return
        shown = [s for s in self.screen_stack if isinstance(s, ClientScreen)]
        # each screen clients are opened from keeps its own client screen (escape returns there)
        name = (origin.id or type(origin).__name__) if origin is not None else "caseload"
        screen = self._client_screens.get(name)
        if origin is None and shown:
            screen = shown[-1]  # the palette: refill the topmost client screen where it is
        if screen is not None and screen in self.screen_stack:
            self._close_above(screen)
            if order is None:
                order = screen.order if code in screen.order else self._caseload_order(self.caseload_screen, code)
            screen.reopen(code, order)
            return
        if origin is None:
            origin = self.caseload_screen
        self._close_above(origin)
        if isinstance(origin, CaseloadScreen):
            order = self._caseload_order(origin, code) if order is None else order
            on_close: Callable[[str | None], None] | None = origin.returned_to
        else:
            order = order if order is not None and code in order else [code]
            on_close = None
        if screen is None:
            # one client screen per origin, kept when closed (installed): opening the next
            # client refills it instead of building ~90 widgets again
            screen_id = "client" if name == "caseload" else f"client-{name}"
            screen = self._client_screens[name] = ClientScreen(code, order, id=screen_id)
            self.install_screen(screen, name=screen_id)
        else:
            screen.reopen(code, order)  # (holds the paint until the refilled screen is laid out)
        self.push_screen(screen, on_close)

    def _caseload_order(self, base: CaseloadScreen, code: str) -> list[str]:
        """The caseload's current list, for ←/→ (a closed client not listed
        shows the closed clients first)."""
        order = [r.code for r in base.rows]
        if code not in order:
            assert self.data is not None
            if not self.data.by_code[code].triaged and not base.show_closed:
                base.set_show_closed(True)
                order = [r.code for r in base.rows]
            if code not in order:
                order = [code]
        return order

    def _raise_or_push(self, screen_type: type[Screen], make: Callable[[], Screen]) -> None:
        """Go back to the open screen of ``screen_type``, else open one."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, screen_type):
                self._close_above(screen)
                return
        self.push_screen(make())

    def action_agenda(self) -> None:
        """The weekly supervision agenda (from anywhere)."""
        from supervision_tui.ui.screens.agenda import AgendaScreen

        if self.data is None:
            self.notify("The caseload is not loaded yet", severity="warning")
            return
        self._raise_or_push(AgendaScreen, AgendaScreen)

    def action_audit(self) -> None:
        """The audit trail of reviews and action items."""
        from supervision_tui.ui.screens.audit import AuditScreen

        self._raise_or_push(AuditScreen, AuditScreen)

    def action_toggle_present(self) -> None:
        self.present = not self.present
        if self.present:
            self.notify("PRESENTING · private text hidden (p again to stop)", timeout=3)
        else:
            self.notify("Presentation mode off: notes and goal texts are shown", timeout=3)

    def action_blank(self) -> None:
        from supervision_tui.ui.screens.blank import BlankScreen

        if not isinstance(self.screen, BlankScreen):
            self.push_screen(BlankScreen())

    def action_clinicians(self) -> None:
        from supervision_tui.ui.screens.clinicians import CliniciansScreen

        base = self._to_caseload()

        def chosen(result: str | None) -> None:
            if result is None:
                return
            base.set_clinician(result or None)

        self.push_screen(CliniciansScreen(base.clinician), chosen)

    def action_help(self) -> None:
        from supervision_tui.ui.screens.help import HelpScreen, collect_help, help_title

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        screen = self.screen
        self.push_screen(HelpScreen(collect_help(self, screen), help_title(screen)))

    def action_search(self) -> None:
        self._to_caseload().action_search()

    def action_filter(self) -> None:
        self._to_caseload().action_filter()

    def filter_clinician(self, clinician: str | None) -> None:
        self._to_caseload().set_clinician(clinician)

    def filter_kind(self, key: str | None) -> None:
        self._to_caseload().set_kind(key)

    def clear_filters(self) -> None:
        base = self._to_caseload()
        base.kind = None
        base.clinician = None
        base.set_search("")

    def set_show_closed(self, value: bool) -> None:
        self._to_caseload().set_show_closed(value)

    def sort_by(self, key: str) -> None:
        self._to_caseload().set_sort(key)

    # -- exports (palette commands, the agenda and audit screens) -----------------------------

    def export_agenda(self, include_notes: bool = False) -> list[Path] | None:
        """Export the agenda shown (or, elsewhere, the default week's)."""
        from supervision_tui.ui.screens.agenda import AgendaScreen

        screen = self.screen
        if isinstance(screen, AgendaScreen):
            return screen.export(include_notes)
        try:
            if self.data is None:
                raise UserError("The caseload is not loaded yet")
            agenda = self.reviews.build_agenda(self.data.caseload, self.data.analyses, self.data.as_of,
                                               reference=self.data.reference, effects=self.data.effects)
            paths = self.reviews.export_agenda(agenda, include_notes)
        except UserError as err:
            self.notify(f"Agenda not saved: {err}", severity="error", markup=False)
            return None
        self.notify_export(paths, include_notes)
        return paths

    def export_audit(self, include_notes: bool = False) -> Path | None:
        data = self.data
        try:
            path = self.reviews.export_audit(include_notes, loaded=data.by_code if data is not None else None,
                                             day=data.as_of if data is not None else None)
        except UserError as err:
            self.notify(f"Audit trail not saved: {err}", severity="error", markup=False)
            return None
        self.notify_export([path], include_notes)
        return path

    def notify_export(self, paths: list[Path], include_notes: bool) -> None:
        what = "WITH notes and texts (private)" if include_notes else "notes and texts hidden"
        shown = str(paths[0]) if len(paths) == 1 else f"{paths[0]} and .{paths[1].suffix.lstrip('.')}"
        self.notify(f"Saved ({what}): {shown}", timeout=10, markup=False)


def build_app(db_path: Path | str | None, settings: Settings | None = None, **options: Any) -> SupervisionApp:
    """The app for ``db_path``: the one factory the CLI (``run_app``) and
    every test use. ``options`` are ``SupervisionApp``'s keyword arguments
    (``theme``, ``present``, ``read_only``, ``clinician``, ``as_of``, ``ssh``,
    ``show_all``, ``config_path``, and ``loader``: a callable returning a
    Caseload, for tests that build data in memory)."""
    return SupervisionApp(db_path, settings, **options)


def run_app(db_path: Path | str, settings: Settings | None = None, **kwargs: Any) -> None:
    """Build and run the app (the CLI's ``open``). Exits non-zero when the
    caseload could not be opened or the app crashed."""
    import sys

    app = build_app(db_path, settings, **kwargs)
    try:
        launch(app, app.ssh)
    finally:
        app.stop_loading()
    if app.load_error and app.data is None:
        print(app.load_error, file=sys.stderr)
        if app.return_code in (None, 0):
            sys.exit(1)
    if app.return_code not in (None, 0):
        sys.exit(app.return_code)
