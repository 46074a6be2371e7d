"""Small wording helpers shared by the CLI, the reports and the screens
(no Textual import): counts read "1 client", "2 clients", never "1 client(s)"."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "client")`` → ``"1 client"``; ``count(3, "client")`` →
    ``"3 clients"``; irregular plurals: ``count(2, "child", "children")``."""
    word = singular if n == 1 else (plural if plural is not None else singular + "s")
    return f"{n} {word}"
