"""Errors a user can cause. The CLI prints them without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, files or settings.

    ``str(err)`` is the whole message shown to the user. ``exit_code``
    follows interchange.md §4: 1 invalid input, 2 wrong usage.
    """

    exit_code = 1


class ValidationFailed(UserError):
    """Input files failed validation; ``errors`` lists
    ``FILE:LINE: column: what is wrong (got VALUE)`` lines."""

    def __init__(self, errors: list[str], limit: int = 50, *, writing: bool = True):
        """``writing``: the check guarded a write (import), so the message
        says that nothing was written; ``validate`` never writes and says
        only how many errors there are."""
        self.errors = errors
        shown = errors[:limit]
        more = len(errors) - len(shown)
        lines = list(shown)
        count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
        tail = "; nothing was written." if writing else "."
        lines.append(f"{count}{tail}" if not more else f"... and {more} more: {count}{tail}")
        super().__init__("\n".join(lines))


class DatabaseError(UserError):
    """The database file cannot be read, is invalid, or cannot be written."""


class SettingsError(UserError):
    """The settings file has an unknown key, a wrong type or bad TOML."""
