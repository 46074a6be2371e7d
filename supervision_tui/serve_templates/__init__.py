"""Data only: the page template ``supervision-tui serve`` gives textual-serve
(see ``supervision_tui.serve``). A package so that setuptools ships it."""
