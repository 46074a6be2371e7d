"""Upgrading a version-1 database to version 2 (``store/columnar.py``).

When: on the **first write** to a version-1 file (an import, ``demo``,
``replace_caseload``), inside that write's transaction, under its lock.
Reading never migrates: ``open --read-only``, ``flags``, ``summary``,
``export`` and the dashboard read a version-1 file as it is and leave it
byte for byte unchanged (the dashboard never writes the database).

How, so that nothing can be lost:

1. the version-1 bytes, exactly as read under the lock, are copied to a
   new file beside the database, ``<stem>.v1-backup.json`` (or
   ``-2``, ``-3`` ... when that name is taken: a backup is never
   overwritten), ``0o600``, written atomically and ``fsync``\\ ed;
2. only then is the database replaced, atomically (``write_private_bytes``),
   by the version-2 content.

A process killed at any moment leaves either the old file (with or without
the backup: the next write makes another) or the new file with its backup
— never a half-written database. The command that migrated says so and
names the backup (``ImportReport.backup``, printed by ``import``).
"""

from __future__ import annotations

from pathlib import Path

from supervision_tui.errors import DatabaseError
from supervision_tui.store.files import FileWriteError, claim_new_names, release_names, write_private_bytes

BACKUP_SUFFIX = "v1-backup.json"


def backup_name_stem(db_path: Path) -> str:
    return db_path.stem


def write_backup(db_path: Path, raw: bytes) -> Path:
    """Copy ``raw`` (the version-1 file as read) to a new backup file beside
    ``db_path``; returns its path. Raises ``DatabaseError`` (nothing is
    migrated then)."""
    db_path = Path(db_path)
    try:
        (path,) = claim_new_names(db_path.parent, backup_name_stem(db_path), (BACKUP_SUFFIX,))
    except FileWriteError as err:
        raise DatabaseError(f"{db_path}: cannot upgrade the database: the backup copy cannot be made: {err}") from err
    try:
        write_private_bytes(path, raw)
    except FileWriteError as err:
        release_names([path])
        raise DatabaseError(f"{db_path}: cannot upgrade the database: the backup copy cannot be made: {err}") from err
    return path


def notice(db_path: Path, backup: Path) -> str:
    """The line a command prints after migrating."""
    return (f"Upgraded {db_path} to database format 2 (faster to open); the format-1 file is kept as {backup} "
            f"(delete it once you no longer need it; older supervision-tui versions read only that one).")
