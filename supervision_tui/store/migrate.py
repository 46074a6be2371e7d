"""Upgrading a version-1 database to version 2 (``store/columnar.py``).

When: on the **first write** to a version-1 file (an import, ``demo``,
``replace_caseload``), inside that write's transaction, under its lock.
Reading never migrates: ``open --read-only``, ``flags``, ``summary``,
``export`` and the dashboard read a version-1 file as it is and leave it
byte for byte unchanged (the dashboard never writes the database).

How, so that nothing can be lost:

1. the version-1 bytes, exactly as read under the lock, are copied to a
   new file beside the database, ``<stem>.v1-backup.json`` (or
   ``<stem>-2.v1-backup.json`` ... when that name is taken: a backup is
   never overwritten), ``0o600``, fsynced, and appearing complete or not at
   all (``write_backup``);
2. only then is the database replaced, atomically (``write_private_bytes``),
   by the version-2 content.

A process killed at any moment leaves either the old file (with or without
the backup: the next write makes another) or the new file with its backup
— never a half-written database. The command that migrated says so and
names the backup (``ImportReport.backup``, printed by ``import``).
"""

from __future__ import annotations

import os
from pathlib import Path

from supervision_tui.errors import DatabaseError
from supervision_tui.store.files import FileWriteError, link_new_name, remove_stale_temporaries, write_private_bytes

BACKUP_SUFFIX = "v1-backup.json"


MAX_BACKUPS = 1000


def write_backup(db_path: Path, raw: bytes) -> Path:
    """Copy ``raw`` (the version-1 file as read) to a new backup file beside
    ``db_path``; returns its path. Raises ``DatabaseError`` (nothing is
    migrated then).

    The bytes go to a hidden file first (``.<stem>.v1-backup.partial``,
    written atomically and fsynced), which is then hard-linked under the
    first free name: a backup appears complete or not at all, and an
    existing one is never replaced (``link`` fails on an existing name). A
    partial file a killed process left is removed here (under the
    database's lock)."""
    db_path = Path(db_path)
    folder = db_path.parent
    partial = folder / f".{db_path.stem}.v1-backup.partial"

    def fail(err: Exception) -> DatabaseError:
        return DatabaseError(f"{db_path}: cannot upgrade the database: the backup copy cannot be made: {err}")

    remove_stale_temporaries(partial)
    try:
        write_private_bytes(partial, raw)
    except FileWriteError as err:
        raise fail(err) from err
    try:
        for n in range(1, MAX_BACKUPS + 1):
            path = folder / (f"{db_path.stem}.{BACKUP_SUFFIX}" if n == 1 else f"{db_path.stem}-{n}.{BACKUP_SUFFIX}")
            try:
                if link_new_name(partial, path):
                    return path
            except FileWriteError as err:
                raise fail(err) from err
        raise fail(f"no free name for it (tried up to {MAX_BACKUPS}); move old backups away")
    finally:
        try:
            os.unlink(partial)
        except OSError:
            pass


def notice(db_path: Path, backup: Path) -> str:
    """The line a command prints after migrating."""
    return (f"Upgraded {db_path} to database format 2 (faster to open); the format-1 file is kept as {backup} "
            f"(delete it once you no longer need it; older supervision-tui versions read only that one).")
