"""Messages the app posts (one module, so tests and other screens can
listen for them, e.g. ``app.run_test(message_hook=...)``)."""

from __future__ import annotations

from textual.message import Message


class DataLoaded(Message):
    """The database was (re)loaded and the engine ran; ``app.data`` is new."""

    def __init__(self, version: int) -> None:
        super().__init__()
        self.version = version


class LoadFailed(Message):
    """Loading failed; ``error`` is the message shown to the user."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ClientOpened(Message):
    """The client screen now shows ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code
