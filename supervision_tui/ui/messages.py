"""Messages of the app's load worker.

The worker (a thread) posts ``LoadProgress`` while clients arrive, then
``DataLoaded`` or ``LoadFailed``, to the app;
the app handles them (``@on``) on its own thread: it takes the data, bumps
``data_version`` (the screens watch it) and writes the triage cache, or
shows the error. Tests watch them with ``run_test(message_hook=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.ui.widgets.viewdata import LoadedData


class DataLoaded(Message):
    """The database was read and the engine ran: ``data`` is the result."""

    def __init__(self, data: LoadedData) -> None:
        super().__init__()
        self.data = data


class LoadFailed(Message):
    """Loading failed; ``error`` is the message shown to the user (never a
    traceback, never private text)."""

    def __init__(self, error: str, fatal: bool = False) -> None:
        super().__init__()
        self.error = error
        self.fatal = fatal  # nothing to show at all (an unknown --clinician): the app exits with it


class LoadProgress(Message):
    """``received`` of ``total`` clients are in (``total``: None until the
    loader's workers have counted them). Posted a few times a second at
    most; the caseload screen shows it while it has no rows to show."""

    def __init__(self, received: int, total: int | None) -> None:
        super().__init__()
        self.received = received
        self.total = total
