"""Loading the caseload for the dashboard, and its triage cache.

``load(...)`` reads the database, runs the rule engine and derives the
display data (blocking: the app runs it in a thread worker); it returns a
``LoadedData``. ``read_cached_table``/``write_cached_table`` wrap
``store.triage_cache`` for the first frame of the next start. No Textual
import.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervision_tui.errors import UserError
from supervision_tui.ui.widgets.viewdata import LoadedData

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.model import Caseload
    from supervision_tui.settings import Settings
    from supervision_tui.store.triage_cache import CachedTable, CacheKey

Loader = Callable[[], "Caseload"]


def load(db_path: Path | None, settings: Settings, as_of: date | None, scope: str | None,
         loader: Loader | None = None) -> LoadedData:
    """Read and analyse: the whole app sees only ``scope``'s clients when
    given (``--clinician``). ``loader`` (tests) returns a Caseload instead
    of reading ``db_path``."""
    from supervision_tui.gc_pause import gc_paused
    from supervision_tui.reports.effectiveness import effectiveness_for
    from supervision_tui.rules.engine import (
        analyse_records,
        check_as_of,
        check_clinician,
        known_records,
    )
    from supervision_tui.rules.expected import reference_of
    from supervision_tui.settings import Settings

    key = None
    if loader is None and db_path is not None:
        from supervision_tui.store.triage_cache import cache_key

        # the file as it is *before* reading it (a write meanwhile only makes the cache stale);
        # the workflow file's part is set when the cache is written
        key = cache_key(db_path, settings, as_of, scope, sidecar_file=None)
    # no cyclic collection while ~10⁶ acyclic objects are built (the
    # collector would walk the growing caseload again and again)
    with gc_paused():
        caseload = _read(db_path, loader)
        check_clinician(caseload, scope, db_path if db_path is not None else "the caseload")  # as the CLI
        check_as_of(caseload, as_of)  # a future day or one before any data: an error, not an empty screen
        every = known_records(caseload, as_of)  # grouped once, for the engine and the screens
        grouped = every
        if scope:
            grouped = [r for r in grouped if r.client.clinician == scope]
        rule_settings = settings if settings is not None else Settings()
        # the clinic reference of not on track (clinical-rules §10) is the whole clinic's, also when the
        # app shows one clinician: every client is analysed (in the worker, never on the first screen)
        shared: dict = {}
        clinic = analyse_records(every, rule_settings, today=as_of, shared=shared)  # triage order
        analyses = [a for a in clinic if a.clinician == scope] if scope else clinic
        # supervisee effectiveness (§11): every client of the clinic is a case; one clinician's rows when scoped
        effects = effectiveness_for(every, clinic, rule_settings, clinician=scope or None)
        records = {r.code: r for r in grouped}
        data = LoadedData(db_path, caseload, records, analyses, as_of, settings=settings,
                          scope=scope or None, cache_key=key, reference=reference_of(shared), effects=effects)
        _ = data.by_code, data.clinicians
        for a in analyses:  # derive chart/table series here, off the UI thread
            _ = data.view(a.client).series
    return data


def _read(db_path: Path | None, loader: Loader | None) -> Caseload:
    if loader is not None:
        return loader()
    if db_path is None:
        raise UserError("No database given.")
    from supervision_tui.store.database import Database

    return Database(db_path, read_only=True).load()


def read_cached_table(db_path: Path | None, settings: Settings, as_of: date | None,
                      scope: str | None) -> CachedTable | None:
    """The cached caseload table for this database, settings, as-of date
    and scope, when it is still valid; else None (never raises: a cache can
    only make the start faster, never stop it)."""
    if db_path is None:
        return None
    try:
        from supervision_tui.store import triage_cache

        return triage_cache.read_cache(triage_cache.cache_key(db_path, settings, as_of, scope))
    except Exception:
        return None


def write_cached_table(key: CacheKey, header: dict[str, Any], rows: list[tuple[Any, str]]) -> None:
    """Write the table (rows: each ``CaseloadRow`` with its Review cell as it
    was when the write was asked); each row's dict and the filters it passes
    are made here (off the UI thread: 5 000 rows take a tenth of a second)."""
    from supervision_tui.store.triage_cache import write_cache
    from supervision_tui.ui.filters import kind_keys
    from supervision_tui.ui.widgets.caseload_table import row_to_cache

    out = []
    for row, review in rows:
        cached = row_to_cache(row, kind_keys(row.analysis))
        cached["review"] = review
        out.append(cached)
    write_cache(key, header, out)
