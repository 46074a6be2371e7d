"""Data only: the page template ``supervision-tui serve`` gives textual-serve
(see ``supervision_tui.ui.serve``). A package so that setuptools ships it."""
