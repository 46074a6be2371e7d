"""Private, atomic file writes: everything the product writes goes through here.

Privacy (clinical-rules.md §9): every file the product creates is readable
and writable by its owner only (``0o600``) and every directory it creates is
``0o700``. The mode is set when the file is created (``os.open(..., 0o600)``),
so there is no moment at which the data is readable by others; a umask can
only remove bits from it.

Atomicity: ``write_private_bytes`` writes a temporary file in the target's
own directory (same file system, so the rename is atomic), flushes and
``fsync``s it, ``os.replace``s it over the target, then ``fsync``s the
directory so the rename itself survives a power cut. A reader, or a process
killed at any instant, sees either the complete old file or the complete
new one, never a mix. If anything fails, the temporary file is removed and
the target is untouched.

Temporary files are named ``.<target name>.<random>.tmp``. A writer killed
with SIGKILL can leave one behind; ``remove_stale_temporaries`` deletes
them, and ``LockedStore`` (database.py) calls it while holding its lock,
when no other writer can be mid-write.

Errors: an ``OSError`` (permission denied, no space left, read-only file
system ...) becomes ``FileWriteError``, a ``UserError`` whose message names
the file and the reason, so the CLI shows it without a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

from supervision_tui.errors import UserError

FILE_MODE = 0o600
DIR_MODE = 0o700

__all__ = [
    "append_private_bytes",
    "link_new_name",
    "FILE_MODE",
    "DIR_MODE",
    "FileWriteError",
    "FilesExist",
    "write_private_bytes",
    "write_private_text",
    "write_private_files",
    "claim_new_names",
    "release_names",
    "ensure_private_dir",
    "remove_stale_temporaries",
    "remove_stale_temporaries_in",
]


class FileWriteError(UserError):
    """A file or directory could not be written; nothing was changed."""

    def __init__(self, message: str, os_error: OSError | None = None):
        super().__init__(message)
        self.os_error = os_error
        self.errno = os_error.errno if os_error is not None else None


class FilesExist(FileWriteError):
    """Files that ``write_private_files(..., replace=False)`` would have
    replaced (``paths``, in the order given); nothing was written."""

    def __init__(self, paths: list[Path]):
        self.paths = list(paths)
        names = ", ".join(str(p) for p in self.paths)
        super().__init__(f"{names}: {'exists' if len(self.paths) == 1 else 'exist'} already; "
                         "nothing was written")


def _reason(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.EROFS:
        return "the file system is read-only"
    if err.errno == errno.ENOENT:
        return "the folder does not exist"
    return err.strerror or str(err)


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) with mode 0o700; an existing
    directory is left as it is (its mode is the user's choice)."""
    path = Path(path)
    if path.is_dir():
        return path
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        for d in reversed(missing):
            os.mkdir(d, DIR_MODE)
            os.chmod(d, DIR_MODE)  # umask may have removed bits we want (never adds any)
    except FileExistsError:
        if not path.is_dir():
            raise FileWriteError(f"{path}: cannot create the folder: a file of that name exists") from None
    except OSError as err:
        raise FileWriteError(f"{path}: cannot create the folder: {_reason(err)}", err) from err
    return path


def _write_all(fd: int, data: bytes | list[bytes]) -> None:
    for part in [data] if isinstance(data, (bytes, bytearray, memoryview)) else data:
        view = memoryview(part)
        while view:
            n = os.write(fd, view)
            view = view[n:]


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # pragma: no cover - directories cannot be fsynced there
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data itself is synced
    finally:
        os.close(fd)


def open_read_only(path: str | os.PathLike[str]) -> int:
    """A descriptor to read ``path`` (not inherited by child processes);
    raises ``OSError``. (Here because every ``os.open`` of the product is
    here: a read-only one creates nothing.)"""
    return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))


class ReadDescriptor:
    """Something that reads from one open descriptor (``self._fd``; None
    once closed): ``close`` and the context manager, for the loader's
    readers (``columnar.FilePart``, ``analysis_cache.CachedEntries``)."""

    _fd: int | None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PrivateFileWriter:
    """A file written in pieces to a private temporary beside ``path``
    (0o600), then put in place atomically (``commit``) or dropped
    (``discard``): readers see the old file or the whole new one, never a
    part. Raises ``FileWriteError``; on any error the temporary is removed
    and the old file is unchanged. ``durable=False`` skips the ``fsync``s
    (see ``write_private_bytes``). As a context manager: discarded unless
    committed."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True):
        self.path = Path(path)
        self.durable = durable
        refuse_write_protected(self.path, "the file was not changed")
        self._tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            self._fd: int | None = os.open(self._tmp, flags, FILE_MODE)
        except OSError as err:
            raise self._error(err) from err
        try:
            os.fchmod(self._fd, FILE_MODE)  # exactly 0o600 whatever the umask (it may have removed the owner's bits)
        except OSError as err:
            self.discard()
            raise self._error(err) from err

    def _error(self, err: OSError) -> FileWriteError:
        # (a file that did not exist was not "changed": nothing was written)
        unchanged = "the file was not changed" if os.path.lexists(self.path) else "nothing was written"
        return FileWriteError(f"{self.path}: cannot write: {_reason(err)}; {unchanged}", err)

    def write(self, data: bytes | list[bytes]) -> None:
        if self._fd is None:
            raise FileWriteError(f"{self.path}: cannot write: already closed; the file was not changed")
        try:
            _write_all(self._fd, data)
        except BaseException as err:
            self.discard()
            if isinstance(err, OSError):
                raise self._error(err) from err
            raise

    def commit(self) -> Path:
        if self._fd is None:
            raise FileWriteError(f"{self.path}: cannot write: already closed; the file was not changed")
        fd, self._fd = self._fd, None
        try:
            try:
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp, self.path)
        except BaseException as err:
            self._remove_tmp()
            if isinstance(err, OSError):
                raise self._error(err) from err
            raise
        if self.durable:
            _fsync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Drop what was written (nothing changes); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        try:
            os.unlink(self._tmp)
        except OSError:
            pass

    def __enter__(self) -> "PrivateFileWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def __del__(self) -> None:  # (a writer forgotten uncommitted: its temporary does not outlive it)
        if getattr(self, "_fd", None) is not None:
            try:
                self.discard()
            except Exception:  # (at interpreter exit the modules may be gone already)
                pass


def write_private_bytes(path: str | os.PathLike[str], data: bytes | list[bytes], *, durable: bool = True) -> Path:
    """Atomically replace ``path`` with ``data`` (bytes, or a list of bytes
    written one after the other: no joined copy); the file ends up 0o600.

    The parent directory must exist (see ``ensure_private_dir``).
    Raises ``FileWriteError``; on error the old file is unchanged and no
    temporary file is left behind. ``durable=False`` skips the two
    ``fsync``s (for a cache: still atomic for readers, but a power cut may
    leave the old file or an empty one, which a cache must then ignore).
    """
    with PrivateFileWriter(path, durable=durable) as writer:
        writer.write(data)
        return writer.commit()


def write_private_files(items: list[tuple[Path, bytes]], *, replace: bool = True) -> list[Path]:
    """Write several files all-or-nothing (an export's files belong together).

    Every file is first written in full to its temporary (0o600, fsynced):
    a full disk or any other write error then leaves every target as it was.
    Only then are the temporaries renamed over their targets; should a
    rename fail, the targets already replaced are put back (an earlier file
    is restored from a hard link taken just before; a new one is removed).
    Raises ``FileWriteError``; no temporary is left behind.

    ``replace=False`` never replaces an existing file: when any target
    exists (a file, a folder, a symlink), ``FilesExist`` names every one of
    them and nothing is written. The targets are claimed (created empty,
    0o600, with ``O_EXCL``) just before the renames, so a file another
    process creates meanwhile is not replaced either.
    """
    items = [(Path(path), data) for path, data in items]
    remove_old_temporaries([path for path, _data in items])
    for path, _data in items:
        refuse_write_protected(path, "no file was changed")
    if not replace:
        existing = [path for path, _data in items if os.path.lexists(path)]
        if existing:
            raise FilesExist(existing)
    staged: list[tuple[Path, Path]] = []  # (temporary, target)
    claimed: list[Path] = []  # (replace=False) the empty placeholders created for the targets
    done: list[tuple[Path, Path | None]] = []  # (target, backup of the old file or None)
    try:
        for path, data in items:
            tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
            _write_new(tmp, path, data)
            staged.append((tmp, path))
        if not replace:
            _claim(claimed, [path for _tmp, path in staged])
        for tmp, path in staged:
            backup: Path | None = None
            if path not in claimed and os.path.lexists(path):
                backup = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
                try:
                    os.link(path, backup, follow_symlinks=False)
                except OSError:
                    backup = None  # no hard links here: this file cannot be put back
            try:
                os.replace(tmp, path)
            except OSError as err:
                _unlink(backup)
                raise FileWriteError(f"{path}: cannot write: {_reason(err)}; no file was changed", err) from err
            done.append((path, backup))
    except BaseException:
        for path, backup in reversed(done):
            try:
                if backup is not None:
                    os.replace(backup, path)
                else:
                    os.unlink(path)
            except OSError:
                pass
        replaced = {path for path, _backup in done}
        release_names([p for p in claimed if p not in replaced])
        for tmp, _path in staged:
            _unlink(tmp)
        raise
    for _path, backup in done:
        _unlink(backup)
    for directory in {p.parent for _t, p in staged}:
        _fsync_dir(directory)
    return [p for _t, p in staged]


def refuse_write_protected(path: Path, unchanged: str) -> None:
    """``FileWriteError`` when ``path`` exists and its owner took away its
    own write permission (``chmod 400``, ``chmod u-w``): an atomic write
    needs only the folder to be writable, so it would otherwise replace the
    file and give it the mode 0o600 (even as root, who ignores permissions:
    the owner's choice is kept). A missing file, or one that cannot be
    looked at, is left to the write itself to report."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and not st.st_mode & stat.S_IWUSR:
        raise FileWriteError(f"{path}: cannot write: the file is write-protected (mode {stat.S_IMODE(st.st_mode):04o}); "
                             f"{unchanged}. Give its owner write permission (chmod u+w) to change it")


#: A temporary older than this beside a target ``write_private_files`` writes was left by a
#: writer killed mid-write (an export takes seconds) and is removed
STALE_TEMPORARY_SECONDS = 600


def remove_old_temporaries(paths: list[Path]) -> int:
    """Remove the temporaries of ``paths`` (``.<name>.<random>.tmp``) older
    than ``STALE_TEMPORARY_SECONDS``: left by a writer killed mid-write
    where no lock guards the folder (an export folder), so a younger one
    may belong to a writer still running and stays. Each folder is listed
    once. Returns how many were removed."""
    removed = 0
    by_folder: dict[Path, list[str]] = {}
    for path in paths:
        by_folder.setdefault(path.parent, []).append(re.escape(path.name))
    for folder, names in by_folder.items():
        pattern = re.compile(r"\.(?:" + "|".join(names) + r")\." + _TEMPORARY_TAIL)
        removed += remove_matching_temporaries(folder, pattern, older_than=STALE_TEMPORARY_SECONDS)
    return removed


def _claim(claimed: list[Path], paths: list[Path]) -> None:
    """Create every one of ``paths`` empty (0o600, ``O_EXCL``), appending
    each to ``claimed`` as it is created; ``FilesExist`` when one exists
    (the caller releases those already claimed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for path in paths:
        try:
            os.close(os.open(path, flags, FILE_MODE))
        except FileExistsError:
            raise FilesExist([p for p in paths if p not in claimed and os.path.lexists(p)] or [path]) from None
        except OSError as err:
            raise FileWriteError(f"{path}: cannot write: {_reason(err)}; no file was changed", err) from err
        claimed.append(path)


def _unlink(path: Path | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


def _write_new(tmp: Path, path: Path, data: bytes) -> None:
    """Create ``tmp`` (0o600, exclusively) holding ``data``, fsynced;
    errors name ``path``; on error ``tmp`` does not exist."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, FILE_MODE)
    except OSError as err:
        raise FileWriteError(f"{path}: cannot write: {_reason(err)}; the file was not changed", err) from err
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as err:
        _unlink(tmp)
        if isinstance(err, OSError):
            raise FileWriteError(f"{path}: cannot write: {_reason(err)}; the file was not changed", err) from err
        raise


def append_private_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Append ``data`` to ``path`` (created 0o600 when missing; one
    ``write`` with O_APPEND, so lines from several processes do not mix).
    For diagnostics only (``ui.loader.trace``): not atomic, never fsynced.
    Raises ``OSError``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def link_new_name(source: Path, target: Path) -> bool:
    """Give the complete file ``source`` the new name ``target`` (a hard
    link: the name appears with the whole content or not at all, and an
    existing ``target`` is never replaced); False when ``target`` exists.
    The folder is fsynced. Raises ``FileWriteError``."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError as err:
        raise FileWriteError(f"{target}: cannot write: {_reason(err)}", err) from err
    _fsync_dir(Path(target).parent)
    return True


def write_private_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """``write_private_bytes`` for text (UTF-8 by default)."""
    return write_private_bytes(path, text.encode(encoding))


MAX_NAME_TRIES = 1000


def claim_new_names(folder: str | os.PathLike[str], stem: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Reserve fresh file names ``<stem>.<suffix>`` in ``folder`` for every
    suffix, or, when any of them exists, ``<stem>-2.<suffix>``,
    ``<stem>-3.<suffix>`` ...: the first number free for all suffixes, so
    an export never overwrites an existing file and its files keep one stem.

    Each name is created empty (0o600) with ``O_EXCL``, so two processes
    exporting at the same moment never get the same name; fill the files
    with ``write_private_*`` (an atomic replace of the empty placeholder)
    and ``release_names`` them if that fails. Raises ``FileWriteError``.
    """
    folder = Path(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for n in range(1, MAX_NAME_TRIES + 1):
        base = stem if n == 1 else f"{stem}-{n}"
        paths = [folder / f"{base}.{suffix}" for suffix in suffixes]
        if any(os.path.lexists(p) for p in paths):
            continue
        claimed: list[Path] = []
        try:
            for p in paths:
                os.close(os.open(p, flags, FILE_MODE))
                claimed.append(p)
        except FileExistsError:  # taken by someone else meanwhile: try the next number
            release_names(claimed)
            continue
        except OSError as err:
            release_names(claimed)
            raise FileWriteError(f"{paths[len(claimed)]}: cannot write: {_reason(err)}", err) from err
        return paths
    raise FileWriteError(f"{folder / stem}: cannot find a free file name (tried -2 to -{MAX_NAME_TRIES}); "
                         "move old exports away")


def release_names(paths: list[Path]) -> None:
    """Remove files ``claim_new_names`` claimed (an export that failed
    half-way leaves nothing behind)."""
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def remove_stale_temporaries(path: str | os.PathLike[str]) -> int:
    """Delete temporary files a killed writer left for target ``path``.

    Only safe while no other process can be writing ``path`` (i.e. under
    the lock of ``LockedStore``). Returns how many were removed.
    """
    path = Path(path)
    return remove_matching_temporaries(path.parent, re.compile(re.escape(f".{path.name}.") + _TEMPORARY_TAIL))


def remove_stale_temporaries_in(folder: str | os.PathLike[str]) -> int:
    """Delete every temporary file a killed writer left in ``folder`` (a
    folder written under one lock only, e.g. the audit archive under the
    workflow file's lock; only safe while holding it)."""
    return remove_matching_temporaries(Path(folder), re.compile(r"\..+\." + _TEMPORARY_TAIL))


_TEMPORARY_TAIL = r"[0-9a-f]{12}\.tmp"  # see write_private_bytes


def remove_matching_temporaries(folder: Path, pattern: re.Pattern[str], older_than: float | None = None) -> int:
    """Unlink the names in ``folder`` that match ``pattern`` (``older_than``:
    only regular files last modified more than that many seconds ago)."""
    import time

    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    now = time.time()
    for name in names:
        if pattern.fullmatch(name):
            try:
                if older_than is not None:
                    st = os.lstat(folder / name)
                    if not stat.S_ISREG(st.st_mode) or now - st.st_mtime <= older_than:
                        continue
                os.unlink(folder / name)
                removed += 1
            except OSError:
                pass
    return removed
