"""The Textual app: factory, loading, screens, keymap, palette.

Public hooks for the other parts of the UI
------------------------------------------
* ``build_app(db_path, settings, ...)`` builds the app; ``run_app`` runs
  it. Every test builds the app through ``build_app``.
* Loaded state: ``app.data`` (a ``LoadedData``: ``caseload``, ``records``,
  ``analyses``, ``by_code``, ``view(code)``), with shortcuts
  ``app.caseload``, ``app.analyses``, ``app.records``. ``app.data_version``
  (reactive int) bumps after every load; watch it with
  ``self.watch(self.app, "data_version", callback)``. ``app.load_error``
  (reactive str | None) holds the message of a failed load.
* ``app.reload()`` re-reads the database and re-runs the engine in a
  thread worker (the screens keep showing the old data until the new data
  are in, then refresh in place, keeping the cursor on the same client).
* Start-up: when the private triage cache (``store.triage_cache``) holds a
  valid copy of the caseload table, ``app.cached_table`` has it until the
  first load ends; the caseload screen paints those rows in its first frame
  (``CaseloadRow.analysis`` is None on them) and the load starts once that
  frame is on screen. Opening a client meanwhile waits for the data. After
  every load (and review change) the table is written back to the cache.
* Speed: one ``ClientScreen`` is built on first use, installed, and refilled
  for every client opened (``ClientScreen.reopen``). The loaded caseload is
  moved out of the garbage collector's way (``gc.freeze``) until the next
  load.
* ``app.present`` (reactive bool): presentation mode. Private free text
  (goal descriptions, review notes, action texts) is hidden while it is
  True; screens watch it.
* ``app.workflow`` (``ui.workflow.Workflow``): reviews, action items,
  audit, agenda/audit exports, polling for other reviewers every 2 s.
  ``app.reviews_version`` (reactive int) bumps after every review write
  or another process's write; ``app.workflow.changed_clients`` says which
  clients (None: any). ``--clinician`` (``initial_clinician``) scopes the
  loaded data to that clinician's clients.
* ``app.review_status(analysis) -> str``: the caseload's Review column and
  the preview's "Review:" line. Replace ``app.review_status_provider``
  (a callable taking a ``ClientAnalysis``) to fill it.
* ``app.decorate_row(row)``: called for each ``CaseloadRow`` as it is
  built; append callables to ``app.row_hooks`` to put values on rows
  (``row.extra[...]``) for columns registered with
  ``widgets.caseload_table.register_column``.
* Bindings are declared with ``Binding(..., id=...)``; ``settings.keys``
  (binding id → key string) is applied with ``App.set_keymap`` at start;
  ``binding_ids()`` lists every known id. Unknown ids are reported with a
  notification, never silently ignored; so is a remapped key that another
  binding of the same screen (or the app) also uses (``keymap_collisions``).
* Themes: ``t`` cycles the app's own themes (bundled + user theme files);
  the palette's theme picker (``search_themes``) offers only those. A theme
  chosen after start-up is remembered as ``[ui] theme`` in the settings
  file, except under ``--read-only`` or when the file has comments (it is
  never rewritten then); an existing file keeps its mode. Failing to write
  it is a notification, never a crash.
"""

from __future__ import annotations

import gc
import os
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import ThemeProvider

from supervision_tui.errors import UserError
from supervision_tui.gc_pause import end_startup
from supervision_tui.ui.commands import SupervisionCommands
from supervision_tui.ui.messages import DataLoaded, LoadFailed
from supervision_tui.ui.screens.caseload import CaseloadScreen
from supervision_tui.ui.terminal import launch, suggested_theme, terminal_settings
from supervision_tui.ui.widgets.caseload_table import CaseloadRow
from supervision_tui.ui.widgets.viewdata import LoadedData
from supervision_tui.ui.workflow import POLL_SECONDS, Workflow, WorkflowActions

Loader = Callable[[], Any]  # returns a Caseload


def toml_has_comments(text: str) -> bool:
    """Does this TOML text hold a comment (a ``#`` outside strings)?

    Conservative: anything it cannot follow counts as a comment, so a
    file is never rewritten (and its comments lost) by mistake."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            return True
        if ch in "\"'":
            triple = text.startswith(ch * 3, i)
            end_mark = ch * 3 if triple else ch
            i += len(end_mark)
            while True:
                if i >= n:
                    return True  # unterminated string: not sure
                if ch == '"' and text[i] == "\\":
                    i += 2
                    continue
                if not triple and text[i] == "\n":
                    return True  # a one-line string across lines: not TOML we can follow
                if text.startswith(end_mark, i):
                    i += len(end_mark)
                    while triple and i < n and text[i] == ch:  # """a"""" ends with a quote in the string
                        i += 1
                    break
                i += 1
            continue
        i += 1
    return False


class AppThemeProvider(ThemeProvider):
    """The palette's theme picker, limited to the app's own themes
    (``SupervisionApp._theme_names``: bundled, then user theme files)."""

    @property
    def commands(self) -> list[tuple[str, Callable[[], None]]]:
        names = set(getattr(self.app, "_theme_names", None) or ())
        return [(name, callback) for name, callback in super().commands if not names or name in names]


class SupervisionApp(WorkflowActions, App[None]):
    """supervision-tui: caseload triage, client detail, supervisees."""

    CSS_PATH = "app.tcss"
    TITLE = "supervision-tui"
    COMMANDS = App.COMMANDS | {SupervisionCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("t", "cycle_theme", "Theme", id="cycle-theme", tooltip="Next theme (remembered in the settings file)"),
        Binding(
            "f2,ctrl+s",
            "screenshot",
            "Screenshot",
            id="screenshot",
            show=False,
            tooltip="Save an SVG of the screen to the private screenshots folder",
        ),
        Binding("a", "agenda", "Agenda", id="agenda", tooltip="The weekly supervision agenda"),
        Binding("p", "toggle_present", "Present", id="present", tooltip="Presentation mode: private text hidden"),
        Binding("b", "blank", "Blank screen", id="blank", show=False, tooltip="Blank the screen; any key returns"),
        Binding("u", "audit", "Audit trail", id="audit", show=False, tooltip="Audit trail of reviews and action items"),
    ]

    present: reactive[bool] = reactive(False)
    reviews_version: reactive[int] = reactive(0)
    data_version: reactive[int] = reactive(0)
    load_error: reactive[str | None] = reactive(None)
    loading: reactive[bool] = reactive(False)

    def __init__(
        self,
        db_path: Path | str | None,
        settings: Any = None,
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
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path) if db_path is not None else None
        self.settings = settings
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
        self.cached_table: Any = None  # store.triage_cache.CachedTable shown until the data are loaded
        self._cache_written: Any = None  # the CacheKey last written
        self._open_when_loaded: str | None = None  # a client asked for while loading
        self._client_screen: Any = None  # the ClientScreen, built on first use (see show_client)
        self.review_status_provider: Callable[[Any], str] | None = None
        self.row_hooks: list[Callable[[CaseloadRow], None]] = []
        self._startup_messages: list[tuple[str, str]] = []
        self._keymap_to_check: dict[str, str] = {}
        self._theme_names: list[str] = []
        self.workflow = Workflow(self)  # sets review_status_provider
        self.set_reactive(SupervisionApp.present, present)
        self.animation_level = self.terminal["animation_level"]
        self._install_themes(theme)
        self._apply_keymap()

    # -- set-up -----------------------------------------------------------------------

    def _install_themes(self, requested: str | None) -> None:
        ui = getattr(self.settings, "ui", None)
        requested = requested or getattr(ui, "theme", None) or suggested_theme()
        try:
            from supervision_tui.ui.theming import install_themes
        except Exception:  # theming module missing: Textual's own themes
            if requested and requested in self.available_themes:
                self.theme = requested
            elif requested:
                self._startup_messages.append((f"Theme {requested!r} is not available", "warning"))
            return
        self._theme_names, messages = install_themes(self, requested)
        for m in messages:
            self._startup_messages.append((m, "warning"))

    def _apply_keymap(self) -> None:
        keys = dict(getattr(self.settings, "keys", None) or {})
        if not keys:
            return
        for old, new in RENAMED_BINDING_IDS.items():
            if old in keys:
                value = keys.pop(old)
                keys.setdefault(new, value)
                self._startup_messages.append((f"[keys] {old} is now called {new}; please rename it", "information"))
        known = binding_ids()
        unknown = sorted(k for k in keys if k not in known)
        if unknown:
            self._startup_messages.append(
                (f"[keys] unknown binding id(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}", "warning")
            )
        keymap = {k: v for k, v in keys.items() if k in known}
        self.set_keymap(keymap)
        self._keymap_to_check = keymap  # (checked for collisions after the first frame)

    def _report_keymap_collisions(self) -> None:
        keymap, self._keymap_to_check = self._keymap_to_check, {}
        try:
            messages = keymap_collisions(keymap, type(self)) if keymap else []
        except Exception:  # pragma: no cover  (a check, never a reason not to start)
            messages = []
        for message in messages:
            self.notify(message, severity="warning", timeout=10, markup=False)

    def get_default_screen(self) -> Screen:
        # read here, before any screen mounts: the caseload screen paints it first
        self.cached_table = self._read_triage_cache()
        return CaseloadScreen(clinician=self.initial_clinician, show_closed=self.initial_show_all)

    def on_mount(self) -> None:
        for message, severity in self._startup_messages:
            self.notify(message, severity=severity, timeout=8, markup=False)
        self._startup_messages.clear()
        self.set_interval(POLL_SECONDS, self.poll_workflow)
        # a theme chosen from now on (t, the palette) is remembered; the start-up one is not
        self.watch(self, "theme", self._theme_chosen, init=False)
        self.call_after_refresh(end_startup)  # cli.main's start-up pause ends with the first frame
        from supervision_tui.loader import trace

        trace("app mounted")
        self.call_after_refresh(trace, "first frame")
        if self._keymap_to_check:  # (imports the lazily loaded screens: after the first frame)
            self.call_after_refresh(self._report_keymap_collisions)
        if self.cached_table is not None:
            # the cached rows are on the first frame; read the database once it is painted
            # (the loading thread would otherwise compete with the first paint)
            self.call_after_refresh(self._start_loading)
        else:
            self._start_loading()

    def _start_loading(self) -> None:
        self.workflow.start()
        self.reload()

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

    def action_cycle_theme(self) -> None:
        """Switch to the next theme (remembered by ``_theme_chosen``)."""
        from supervision_tui.ui.theming import next_theme

        self.theme = next_theme(self.theme, self._theme_names or None)

    def _theme_chosen(self, name: str) -> None:
        """Every theme change after start-up (``t``, the palette's theme
        picker): remember it in the settings file when that is safe, and say
        which theme it is and whether it was remembered. Never raises."""
        why = self._remember_theme(name)
        if why is None:
            self.notify(f"Theme {name}", timeout=2, markup=False)
        else:
            chosen = why == "read-only" or why.endswith("is read-only") or why.startswith("your settings")
            severity = "information" if chosen else "warning"  # (the user's own choice, or a real failure)
            self.notify(f"Theme {name} (not remembered: {why})", severity=severity, timeout=8, markup=False)

    def _remember_theme(self, name: str) -> str | None:
        """Write ``[ui] theme = name`` to the settings file; None when done
        (or already so), else why not. Never under ``--read-only``, over a
        read-only file, or over a file with comments (rewriting it would drop
        them); an existing file keeps its permissions (and a symlink stays
        a symlink)."""
        if self.read_only:
            return "read-only"
        path: Path | None = None
        try:
            import tomllib

            from supervision_tui.settings import default_settings_path, save_setting

            path = Path(self.config_path) if self.config_path is not None else default_settings_path()
            if path.is_symlink():  # (e.g. into a dotfiles folder): write the file, keep the link
                path = path.resolve()
            mode = None
            if path.exists():
                mode = stat.S_IMODE(path.stat().st_mode)
                if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
                    # (the atomic rewrite would replace a read-only file all the same)
                    return f"{path} is read-only"
                text = path.read_text(encoding="utf-8")
                if toml_has_comments(text):
                    return f'your settings file has comments; add [ui] theme = "{name}" yourself'
                ui = tomllib.loads(text).get("ui")
                if isinstance(ui, dict) and ui.get("theme") == name:
                    return None  # already remembered: no rewrite
            save_setting(path, "ui", "theme", name)
            if mode is not None and stat.S_IMODE(path.stat().st_mode) != mode:
                os.chmod(path, mode)  # (save_setting writes 0o600; the user's choice stands)
        except UserError as err:
            return str(err)
        except OSError as err:
            return f"cannot write {err.filename or path}: {err.strerror or err}"
        except Exception as err:  # bad TOML, bad encoding, ...: a theme switch never crashes
            return f"{path}: {type(err).__name__}: {err}"
        return None

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
        gc.unfreeze()  # what the last load froze is collectable again (see _loaded)
        self._load_worker()

    def _read_caseload(self):
        if self._loader is not None:
            return self._loader()
        if self.db_path is None:
            raise UserError("No database given.")
        from supervision_tui.store.database import Database

        return Database(self.db_path, read_only=True).load()

    def load_data(self) -> LoadedData | None:
        """Read and analyse (blocking; runs in the worker thread). The
        database is read and analysed in worker processes (``supervision_tui.loader``);
        this thread only receives their results. With a ``loader`` callable
        (tests building data in memory) it runs the engine here instead."""
        if self._loader is None and self.db_path is not None:
            try:
                from textual.worker import get_current_worker

                worker = get_current_worker()
            except Exception:  # (called outside a worker: never cancelled)
                worker = None
            return self._load_from_processes(lambda: worker is not None and worker.is_cancelled)
        from supervision_tui.gc_pause import gc_paused
        from supervision_tui.rules.engine import analyse_records, check_as_of, known_records

        scope = self.initial_clinician
        key = None
        if self._loader is None and self.db_path is not None:
            from supervision_tui.store.triage_cache import cache_key

            # the file as it is *before* reading it (a write meanwhile only makes the cache stale);
            # the workflow file's part is set when the cache is written
            key = cache_key(self.db_path, self.settings, self.as_of, scope, sidecar_file=None)
        # no cyclic collection while ~10⁶ acyclic objects are built (the
        # collector would walk the growing caseload again and again)
        with gc_paused():
            caseload = self._read_caseload()
            check_as_of(caseload, self.as_of)  # a future day or one before any data: an error, not an empty screen
            grouped = known_records(caseload, self.as_of)  # grouped once, for the engine and the screens
            if scope:  # --clinician: the whole app sees only this clinician's clients
                grouped = [r for r in grouped if r.client.clinician == scope]
            analyses = analyse_records(grouped, self.settings, today=self.as_of)  # triage order, as analyse_caseload
            records = {r.code: r for r in grouped}
            data = LoadedData(self.db_path, caseload, records, analyses, self.as_of, settings=self.settings,
                              scope=scope or None, cache_key=key)
            _ = data.by_code, data.clinicians
            for a in analyses:  # derive chart/table series here, off the UI thread
                _ = data.view(a.client).series
        return data

    def _load_from_processes(self, cancelled: Callable[[], bool]) -> LoadedData | None:
        from dataclasses import replace

        from supervision_tui import loader
        from supervision_tui.gc_pause import gc_paused
        from supervision_tui.store.triage_cache import cache_key

        handle, self._preload = self._preload, None
        if handle is None:
            handle = loader.spawn(loader.LoadRequest(str(self.db_path), self.settings, self.as_of))
        self._load_handle = handle
        scope = self.initial_clinician
        # the triage cache's key: the file as it was *before* the workers read it
        key = replace(cache_key(self.db_path, self.settings, self.as_of, scope, sidecar_file=None),
                      db_file=handle.db_token)
        rows: dict[str, Any] = {}
        each = None
        version = self.reviews_version
        if not self.row_hooks:  # (hooks may expect the UI thread)
            from supervision_tui.ui.widgets.caseload_table import row_of

            status = self.review_status

            def each(analysis, extras) -> None:
                # the table's row, built as each client arrives (the workers are still busy)
                if not scope or analysis.clinician == scope:
                    row = rows[analysis.client] = row_of(analysis, extras.get("spark") or "", 0)
                    row.review = status(analysis)
        try:
            with gc_paused():
                result = loader.receive(handle, cancelled, each=each)
        except loader.LoaderError as err:
            raise UserError(str(err)) from None
        finally:
            if self._load_handle is handle:
                self._load_handle = None
        if result is None:
            return None
        result.check_as_of(self.as_of)  # a future day or one before any data: an error, not an empty screen
        analyses, docs = result.analyses, result.docs
        if scope:  # --clinician: the whole app sees only this clinician's clients
            analyses = [a for a in analyses if a.clinician == scope]
            docs = {a.client: docs[a.client] for a in analyses}
        data = LoadedData(self.db_path, loader.LoadedCaseload(result.name, result.clinicians, docs),
                          loader.LazyRecords(docs, self.as_of), analyses, self.as_of, settings=self.settings,
                          scope=scope or None, cache_key=key, extras=result.extras, stats=result.stats,
                          max_views=64)
        _ = data.by_code, data.clinicians
        if each is not None:
            # the caseload table's rows, built in this thread (5 000 rows and their Review cells take a
            # few tenths of a second: on the UI thread, a freeze); the caseload screen takes them when
            # the Review column's source has not changed meanwhile
            ordered = [rows[a.client] for a in analyses]
            for i, row in enumerate(ordered):
                row.order = i
            data.prebuilt_rows = (version, ordered)
        self._pending_cache = result
        return data

    def stop_loading(self) -> None:
        """Stop the loading processes (the app quits)."""
        for handle in (self._preload, self._load_handle):
            if handle is not None:
                handle.kill()
        self._preload = self._load_handle = None

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self) -> None:
        try:
            data = self.load_data()
            if data is None:
                return
        except UserError as err:
            self.call_from_thread(self._load_failed, str(err))
            return
        except Exception as err:  # never a traceback on screen
            self.call_from_thread(self._load_failed, f"Unexpected error while loading: {type(err).__name__}: {err}")
            return
        self.call_from_thread(self._loaded, data)
        pending, self._pending_cache = getattr(self, "_pending_cache", None), None
        if pending is not None:
            pending.save_cache()  # (the analysis cache, for the next start; after the data are shown)

    def _loaded(self, data: LoadedData) -> None:
        from supervision_tui.loader import trace

        trace("loaded (UI thread)")
        self.data = data
        self.load_error = None
        self.loading = False
        self.data_version += 1  # the screens replace the cached rows, if any, here
        self.cached_table = None
        self.post_message(DataLoaded(self.data_version))
        trace("rows built")
        self.call_after_refresh(trace, "rows painted")
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

    def _load_failed(self, error: str) -> None:
        self.loading = False
        self.load_error = error
        self._open_when_loaded = None
        if self.cached_table is not None:  # never leave cached rows up as if they were the data
            self.cached_table = None
        if self.data is not None:  # a failed reload keeps the old data on screen
            self.notify(f"Reload failed; showing the previous data. {error}", severity="error", timeout=10, markup=False)
        self.post_message(LoadFailed(error))

    # -- the triage cache (store.triage_cache) ------------------------------------------

    def _read_triage_cache(self):
        """The cached caseload table for this database, settings, as-of date
        and scope, when it is still valid; else None."""
        if self.db_path is None or self._loader is not None:
            return None
        try:
            from supervision_tui.store import triage_cache

            key = triage_cache.cache_key(self.db_path, self.settings, self.as_of, self.initial_clinician)
            return triage_cache.read_cache(key)
        except Exception:  # a cache can only make the start faster, never stop it
            return None

    def save_triage_cache(self) -> None:
        """Write the caseload table to the private triage cache, for the next
        start (after each load, and when the Review column changed since the
        last write). Also with ``--read-only``: the file is the user's own
        (0o600 in the user cache folder), never next to the database."""
        data = self.data
        if data is None or data.cache_key is None or self.loading or self.workflow.error:
            return
        store = self.workflow.store
        token = store.snapshot_token if store is not None else None
        if token is not None and len(token) != 4:  # the Review column's source is not known yet
            return
        from dataclasses import replace

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
                        group="triage-cache", thread=True, exit_on_error=False)

    def _write_triage_cache(self, key, header: dict, rows: list) -> None:
        from supervision_tui.store.triage_cache import write_cache
        from supervision_tui.ui.screens.caseload import kind_keys
        from supervision_tui.ui.widgets.caseload_table import row_to_cache

        out = []
        for row, review in rows:  # the cells and the filters each client matches, off the UI thread
            cached = row_to_cache(row, kind_keys(row.analysis))
            cached["review"] = review
            out.append(cached)
        write_cache(key, header, out)

    def poll_workflow(self) -> None:
        super().poll_workflow()
        self.save_triage_cache()  # after a review write: the Review column of the next start

    # -- hooks for other screens ----------------------------------------------------

    def review_status(self, analysis) -> str:
        if self.review_status_provider is not None:
            try:
                return self.review_status_provider(analysis)
            except Exception:
                return "?"
        return "—"

    def decorate_row(self, row: CaseloadRow) -> None:
        row.review = self.review_status(row.analysis)
        for hook in self.row_hooks:
            hook(row)

    # -- navigation (used by bindings and the command palette) -------------------------

    @property
    def caseload_screen(self) -> CaseloadScreen:
        for screen in self.screen_stack:
            if isinstance(screen, CaseloadScreen):
                return screen
        raise LookupError("caseload screen not mounted")

    def _to_caseload(self) -> CaseloadScreen:
        """Close everything above the caseload screen."""
        base = self.caseload_screen
        while self.screen is not base and len(self.screen_stack) > 1:
            self.pop_screen()
        return base

    def show_client(self, code: str, order: list[str] | None = None) -> None:
        from supervision_tui.ui.screens.client import ClientScreen

        if self.data is None and self.cached_table is not None:
            # the cached rows are up, the data not yet: open it when they are
            self._open_when_loaded = code
            self.notify(f"Loading the caseload… {code} opens in a moment", timeout=2)
            return
        if self.data is None or code not in self.data.by_code:
            self.notify(f"No client {code} in the caseload", severity="warning")
            return
        screen = self._client_screen
        if screen is not None and screen in self.screen_stack:  # shown: refill it where it is
            while self.screen is not screen:
                self.pop_screen()
            base = self.caseload_screen
        else:
            base = self._to_caseload()
        if order is None:
            order = [r.code for r in base.rows]
        if code not in order:
            if not self.data.by_code[code].triaged and not base.show_closed:
                base.set_show_closed(True)
                order = [r.code for r in base.rows]
            if code not in order:
                order = [code]
        if screen is None:
            # one client screen for the whole session, kept when closed (installed):
            # opening the next client refills it instead of building ~90 widgets again
            screen = self._client_screen = ClientScreen(code, order)
            self.install_screen(screen, name="client")
            self.push_screen(screen, base.returned_to)
            return
        screen.reopen(code, order)  # (holds the paint until the refilled screen is laid out)
        if self.screen is not screen:
            self.push_screen(screen, base.returned_to)

    def action_clinicians(self) -> None:
        from supervision_tui.ui.screens.clinicians import CliniciansScreen

        base = self._to_caseload()

        def chosen(result: str | None) -> None:
            if result is None:
                return
            base.set_clinician(result or None)

        self.push_screen(CliniciansScreen(base.clinician), chosen)

    def action_help(self) -> None:
        from supervision_tui.ui.screens.help import HelpScreen, collect_help

        if type(self.screen).__name__ == "HelpScreen":
            self.pop_screen()
            return
        screen = self.screen
        title = {
            "caseload": "Keys · caseload",
            "client": "Keys · client",
            "clinicians": "Keys · clinicians",
            "agenda": "Keys · agenda",
            "audit": "Keys · audit trail",
        }.get(screen.id or "", f"Keys · {type(screen).__name__}")
        self.push_screen(HelpScreen(collect_help(self, screen), title))

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


#: Binding ids declared by screens that are imported lazily (after the app
#: starts); add yours here so a [keys] entry for them is not reported unknown.
EXTRA_BINDING_IDS: set[str] = {
    # ui/screens/agenda.py, audit.py, dialogs.py (imported when first opened)
    "agenda-since", "export-agenda", "export-agenda-notes", "export-audit", "export-audit-notes",
    "status-new", "status-discussed", "status-action", "status-resolved", "status-dismissed",
}


#: Binding ids that were renamed: a [keys] entry under the old name still works (and says so).
RENAMED_BINDING_IDS: dict[str, str] = {"cycle_theme": "cycle-theme"}


def _ui_classes() -> list[type]:
    """The DOM classes of ``supervision_tui.*`` imported so far."""
    from textual.dom import DOMNode

    out: list[type] = []
    seen: set[type] = set()
    stack: list[type] = [DOMNode]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            if sub.__module__.startswith("supervision_tui."):
                out.append(sub)
    return out


def _class_bindings(cls: type) -> list[Binding]:
    """The ``Binding``s with an id that ``cls`` declares or inherits from
    the app's own classes."""
    out: list[Binding] = []
    for base in cls.__mro__:
        if base is cls or base.__module__.startswith("supervision_tui."):
            out.extend(b for b in vars(base).get("BINDINGS", []) if isinstance(b, Binding) and b.id)
    return out


def _key_names(keys: str) -> set[str]:
    """``"/,f1"`` → ``{"slash", "f1"}``: single characters by their key
    names, as Textual's keymap normalises them, so "/" in the settings file
    and "slash" in a binding compare equal."""
    try:  # (Textual's own normalisation is private: guarded, identity without it)
        from textual.keys import _character_to_key
    except ImportError:  # pragma: no cover
        def _character_to_key(character: str) -> str:
            return character

    return {_character_to_key(k) if len(k) == 1 else k for k in (k.strip() for k in keys.split(",")) if k}


def keymap_collisions(keymap: dict[str, str], app_class: type | None = None) -> list[str]:
    """One message per remapped binding whose new key is also bound to
    another binding active at the same time: the app's (active everywhere),
    one of the same screen, or one of a widget on that screen (a widget
    class imported by the screen's module). E.g. ``[keys] review-client = q
    also used by quit`` (on the caseload screen q would no longer quit).

    Only pairs involving a remapped binding are reported; two bindings
    sharing an id (the same command on a screen and its table) never clash."""
    import sys

    from textual.screen import Screen as _Screen

    binding_ids()  # (imports the main screens)
    for name in ("agenda", "audit", "dialogs"):  # the lazily imported ones (only with a [keys] table)
        try:
            __import__(f"supervision_tui.ui.screens.{name}")
        except Exception:  # pragma: no cover  (a broken screen must not stop the start)
            pass
    classes = _ui_classes()
    app_bindings = _class_bindings(app_class) if app_class is not None else []
    screens = [c for c in classes if issubclass(c, _Screen)]
    widgets = [c for c in classes if not issubclass(c, _Screen) and not issubclass(c, App)]
    # the groups of bindings active together: each screen with its widgets, each widget alone
    groups: list[list[Binding]] = []
    for screen in screens:
        module = vars(sys.modules.get(screen.__module__, object))
        members = [w for w in widgets if module.get(w.__name__) is w]
        groups.append(_class_bindings(screen) + [b for w in members for b in _class_bindings(w)])
    groups += [_class_bindings(w) for w in widgets]
    groups = [g + app_bindings for g in groups] + [app_bindings]

    def effective(binding: Binding) -> set[str]:
        return _key_names(keymap.get(binding.id or "", binding.key))

    clashes: dict[str, set[str]] = {}
    for group in groups:
        for b in group:
            if b.id not in keymap:
                continue
            mine = effective(b)
            for other in group:
                if other.id == b.id:
                    continue
                if mine & effective(other):
                    clashes.setdefault(b.id, set()).add(other.id or other.action)
    return [
        f"[keys] {binding_id} = {keymap[binding_id]} also used by {', '.join(sorted(others))}"
        for binding_id, others in sorted(clashes.items())
    ]


def binding_ids() -> set[str]:
    """Every binding id declared by the app and the UI's screens and widgets
    (classes in ``supervision_tui.*`` imported so far; this module's screens
    are imported here) plus ``EXTRA_BINDING_IDS``."""
    import supervision_tui.ui.screens.caseload  # noqa: F401
    import supervision_tui.ui.screens.client  # noqa: F401
    import supervision_tui.ui.screens.clinicians  # noqa: F401
    import supervision_tui.ui.screens.help  # noqa: F401
    from textual.dom import DOMNode

    ids: set[str] = set(EXTRA_BINDING_IDS)
    seen: set[type] = set()
    stack: list[type] = [DOMNode]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            if sub.__module__.startswith("supervision_tui."):
                for b in getattr(sub, "BINDINGS", []):
                    if isinstance(b, Binding) and b.id:
                        ids.add(b.id)
    return ids


def build_app(db_path: Path | str | None, settings: Any = None, **options: Any) -> SupervisionApp:
    """The app for ``db_path``: the one factory the CLI (``run_app``) and
    every test use. ``options`` are ``SupervisionApp``'s keyword arguments
    (``theme``, ``present``, ``read_only``, ``clinician``, ``as_of``, ``ssh``,
    ``show_all``, ``config_path``, and ``loader``: a callable returning a
    Caseload, for tests that build data in memory)."""
    return SupervisionApp(db_path, settings, **options)


def run_app(db_path: Path | str, settings: Any = None, **kwargs: Any) -> None:
    """Build and run the app (the CLI's ``open``)."""
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
    if app.return_code:  # a crash (Textual sets 1): the CLI exits with it, not 0
        sys.exit(app.return_code)
