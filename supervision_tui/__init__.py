"""supervision-tui: a terminal dashboard for clinical supervision."""

__version__ = "0.1.0"
