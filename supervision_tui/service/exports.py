"""Export files of the review workflow: the agenda (Markdown + HTML) and the
audit listing (CSV), written private (0o600 in a 0o700 folder) through
``store.files`` into ``paths.exports_dir()`` unless a folder is given.

Names carry the database's stem, since every database exports to the same
folder: ``agenda-<db>-<as of>[-<clinician>][-with-notes].md``/``.html``,
``audit-<db>-<day>[-<clinician>][-with-notes].csv``. An existing file is
never overwritten: the new one gets ``-2``, ``-3`` ... (one number for all
files of one export). Without ``include_notes`` no review note, action
text or goal description is written.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from supervision_tui.reports.agenda import Agenda
    from supervision_tui.store.reviews import AuditEntry


def safe_stem(name: str) -> str:
    """``name`` usable inside a file name on every platform: characters
    other than letters, digits, ``.``, ``_`` and ``-`` become ``_``."""
    return re.sub(r"[^\w.-]", "_", name, flags=re.ASCII).lstrip(".-") or "caseload"


def db_stem(db_path: Path | None) -> str:
    """The database file's name without its suffix, for export names."""
    return safe_stem(Path(db_path).stem if db_path is not None else "caseload")


def write_new(folder: Path, stem: str, texts: dict[str, str]) -> list[Path]:
    """Write ``texts`` (suffix -> text) under fresh names sharing one stem:
    ``<stem>.<suffix>``, or ``<stem>-2.<suffix>``, ``-3`` ... when a file of
    that name exists. An existing file is never overwritten; a failure
    leaves no file behind."""
    from supervision_tui.store.files import claim_new_names, ensure_private_dir, release_names, write_private_text

    folder = ensure_private_dir(folder)
    paths = claim_new_names(folder, stem, tuple(texts))
    try:
        for path, text in zip(paths, texts.values()):
            write_private_text(path, text)
    except BaseException:
        release_names(paths)
        raise
    return paths


def _folder(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    from supervision_tui.paths import exports_dir

    return exports_dir()


def export_agenda(agenda: Agenda, db_path: Path | None, include_notes: bool = False,
                  directory: Path | None = None) -> list[Path]:
    """The agenda as Markdown and HTML; returns both paths."""
    from supervision_tui.reports.agenda import render

    stem = f"agenda-{db_stem(db_path)}-{agenda.as_of.isoformat()}"
    if agenda.clinician:
        stem += f"-{agenda.clinician}"
    if include_notes:
        stem += "-with-notes"
    texts = {fmt: render(agenda, fmt, include_notes) for fmt in ("md", "html")}
    return write_new(_folder(directory), stem, texts)


def export_audit(entries: list[AuditEntry], db_path: Path | None, day: date, scope: str | None = None,
                 include_notes: bool = False, directory: Path | None = None) -> Path:
    """``entries`` as CSV (``store.reviews.audit_csv``, the one renderer)."""
    from supervision_tui.store.reviews import audit_csv

    stem = f"audit-{db_stem(db_path)}-{day.isoformat()}"
    if scope:
        stem += f"-{scope}"
    if include_notes:
        stem += "-with-notes"
    (path,) = write_new(_folder(directory), stem, {"csv": audit_csv(entries, include_notes)})
    return path
