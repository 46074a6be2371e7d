"""The page template and favicon ``supervision-tui serve`` gives
textual-serve (see ``supervision_tui.ui.serve``). A package so that
setuptools ships them; ``serve`` and ``serve_server`` both read the paths
here (neither imports the other at import time: no import cycle)."""

from pathlib import Path

#: Our page template and favicon for textual-serve (package data, see pyproject.toml).
TEMPLATES_DIR = Path(__file__).resolve().parent
FAVICON = TEMPLATES_DIR / "favicon.svg"
