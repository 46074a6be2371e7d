"""Small wording helpers shared by the CLI, the reports and the screens
(no Textual import): counts read "1 client", "2 clients", never "1 client(s)"."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "client")`` → ``"1 client"``; ``count(3, "client")`` →
    ``"3 clients"``; irregular plurals: ``count(2, "child", "children")``."""
    word = singular if n == 1 else (plural if plural is not None else singular + "s")
    return f"{n} {word}"


def percent(share: float) -> int:
    """A share from 0 to 1 as a whole percentage, a half rounded up, as
    people round: 1 of 8 is 13 %, not Python's ``round(12.5)`` = 12 (which
    rounds halves to even, so 12.5 % read 12 % beside 55.6 % reading 56 %).
    The tiny allowance absorbs the binary fraction of a true half (0.145 ×
    100 is 14.499999999999998)."""
    import math

    return math.floor(share * 100 + 0.5 + 1e-9)
