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

    def __init__(self, errors: list[str], limit: int = 50):
        self.errors = errors
        shown = errors[:limit]
        more = len(errors) - len(shown)
        lines = list(shown)
        lines.append(f"{len(errors)} error(s); nothing was written." if not more
                     else f"... and {more} more: {len(errors)} error(s); nothing was written.")
        super().__init__("\n".join(lines))


class DatabaseError(UserError):
    """The database file cannot be read, is invalid, or cannot be written."""


class SettingsError(UserError):
    """The settings file has an unknown key, a wrong type or bad TOML."""
