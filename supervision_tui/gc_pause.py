"""Pausing the cyclic garbage collector around batches that allocate a lot.

Loading a caseload, importing CSV files and running the rule engine each
create 10⁵–10⁶ small objects (ratings, sessions, results, strings) and no
reference cycles: reference counting frees whatever is dropped. Each time
the cyclic collector runs meanwhile it walks every live object, the whole
caseload included, so on a large caseload it costs a third of the batch
and grows faster than the caseload. ``gc_paused()`` turns it off for the
batch and back on afterwards.

Pauses nest and may overlap between threads (the app loads in a worker
thread while the UI thread runs): the collector is re-enabled when the
last pause ends, and only if it was enabled when the first one began.
No Textual import: the domain, storage and rules use it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # gc_paused() blocks running
_reenable = False  # enable the collector when the last one ends
_startup = False  # pause_for_startup() is in force


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (see the module doc)."""
    global _depth, _reenable
    with _lock:
        if _depth == 0:
            _reenable = gc.isenabled() or _startup  # the start-up pause ends in end_startup()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _reenable and not _startup:
                gc.enable()


# --- the start of a command ----------------------------------------------------------


def pause_for_startup() -> None:
    """Turn the collector off while a command starts (imports, settings,
    building the app and its first frame): some 10⁵ long-lived objects are
    created then and no garbage worth a collection, yet each full collection
    would walk them all (about a tenth of the app's time to its first
    frame). ``cli.main`` calls this; ``end_startup`` ends it: the app once
    its first frame is on the screen, ``serve`` before it serves, and
    ``cli.main`` when the command returns (the batch commands keep the
    pause to the end: they are short and make no reference cycles to speak of)."""
    global _startup
    with _lock:
        if not _startup and gc.isenabled():
            gc.disable()
            _startup = True


def end_startup() -> None:
    """End ``pause_for_startup``'s pause (no-op when there is none). A
    ``gc_paused`` batch running meanwhile re-enables the collector when it ends."""
    global _startup, _reenable
    with _lock:
        if not _startup:
            return
        _startup = False
        if _depth:
            _reenable = True
        else:
            gc.enable()
