"""Private SVG screenshots of the current screen.

A screenshot is exactly what is on screen, nothing more: private text is
left out only if the screen is already hiding it. Take screenshots for
slides or supervision notes **in presentation mode** (``p`` or
``--present``), where client free text is hidden; outside presentation
mode the file holds whatever the screen shows, and is kept private
(directory 0o700, file 0o600), never in Downloads (Textual's own
"Screenshot" command saves there with default permissions, so the app
replaces it).

Default folder: ``paths.screenshots_dir()`` (``<data>/screenshots``).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from supervision_tui.paths import APP_NAME, screenshots_dir
from supervision_tui.store.files import ensure_private_dir, write_private_text

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

def _unique_path(directory: Path, now: datetime) -> Path:
    stem = f"supervision-tui-{now:%Y-%m-%d-%H%M%S}"
    candidate = directory / f"{stem}.svg"
    n = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{n}.svg"
        n += 1
    return candidate


def save_screenshot(app: App, directory: str | os.PathLike[str] | None = None) -> Path:
    """Save an SVG of ``app``'s current screen and return its path.

    ``directory`` defaults to :func:`screenshots_dir`; it is created with
    mode 0o700 if missing, and the file is written with mode 0o600.
    Raises ``FileWriteError`` (a ``UserError``) if it cannot be written.
    The app must be running (``export_screenshot`` needs its driver).
    """
    folder = ensure_private_dir(Path(directory) if directory is not None else screenshots_dir())
    svg = app.export_screenshot(title=app.title or APP_NAME)
    return write_private_text(_unique_path(folder, datetime.now()), svg)
