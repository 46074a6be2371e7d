"""Hostile text: the one place that says what text may hold and how it is
made harmless. Every byte read is hostile (engineering.md); these functions
are used where text enters (CSV import, review and action entry, the
``--user`` option) and where it is read back from disk (the database and
the workflow file), so every view, export and error message gets clean
text whatever wrote the file.

Control characters
------------------
A *control character* is a C0 control (U+0000–U+001F), DEL (U+007F) or a
C1 control (U+0080–U+009F), plus a lone surrogate (U+D800–U+DFFF: what
Python makes of bytes that are not UTF-8 in a command-line argument or a
file name). ESC (U+001B) and CSI (U+009B) start terminal escape sequences
(clear the screen, retitle the window, ...); others break CSV, JSON or SVG
consumers. They are:

* refused on entry: ``control_problem(text, newlines=...)`` says what is
  wrong, naming the character and its position but never echoing the text
  (it may be private). Only free text (goal descriptions, review notes,
  action item texts) may hold a line break, and only ``\\n``
  (``normalise_newlines`` turns ``\\r\\n`` and a lone ``\\r`` into ``\\n``
  first, so a description from a Windows spreadsheet imports); a tab is a
  control character like any other;
* neutralised on reading: ``printable(text, newlines=...)`` replaces each
  one by a visible stand-in (C0 by its Unicode control picture, ESC by
  ``␛``; DEL by ``␡``; C1 and lone surrogates by ``�``), so text written
  by an older version, or by hand, reaches no terminal raw.

Identifiers
-----------
Client codes, clinician ids and goal ids are *identifiers*: 1–32 of
``A–Z a–z 0–9 . _ -``, not starting with ``-`` (so an identifier is never
taken for a command-line option nor run as a formula by a spreadsheet).
``is_identifier`` / ``IDENTIFIER_RULE``. Issue 13 widened interchange.md
§1's ``A–Z a–z 0–9 _ -`` by ``.`` (record numbers and FHIR identifiers
often have dots): every file valid before is valid still.

An error about a value given for an identifier shows it through
``code_shown(value)``: a valid identifier is shown (codes are not
private), anything else only by its length (``8 characters, not a code;
not shown``): a value that is not a code may be a person's name (a native
CSV with names in the client column, a vendor mapping that points
``client`` at a name column, a FHIR identifier that is not a record
number). The CSV, mapped-CSV and FHIR imports all use it.

Spreadsheet formulas
--------------------
``csv_cell(text)`` is the text of a CSV cell that a spreadsheet will not
run as a formula: a cell whose text starts, after any apostrophes, with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe (the spreadsheet convention for "this is text").
``csv_uncell`` undoes it exactly, so export → import gives back the same
text (``'=x`` → ``''=x`` → ``'=x``). Every CSV the product writes uses it.
"""

from __future__ import annotations

import re

__all__ = [
    "IDENTIFIER_RE",
    "IDENTIFIER_RULE",
    "is_identifier",
    "code_shown",
    "control_problem",
    "has_control",
    "printable",
    "normalise_newlines",
    "csv_cell",
    "csv_uncell",
    "FORMULA_TRIGGERS",
]

IDENTIFIER_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9._-]{0,31}", re.ASCII)
IDENTIFIER_RULE = "1-32 characters of A-Z a-z 0-9 . _ -, not starting with -"


def is_identifier(value: object) -> bool:
    """A client code, clinician id or goal id (see the module doc)."""
    return type(value) is str and IDENTIFIER_RE.fullmatch(value) is not None


def code_shown(value: str) -> str:
    """What an error may show of ``value``, given where an identifier (client
    code, clinician id, goal id) belongs: the value itself when it is a
    valid identifier or empty, else only its length (see the module doc).
    Used by every import (native CSV, mapped CSV, FHIR)."""
    if value == "" or is_identifier(value):
        return value
    n = len(value)
    return f"{n} character{'' if n == 1 else 's'}, not a code; not shown"


_CONTROL = "\x00-\x1f\x7f-\x9f\ud800-\udfff"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_CONTROL_BUT_NEWLINE_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "backspace", 0x09: "tab", 0x0A: "line break", 0x0D: "carriage return",
          0x1B: "ESC", 0x7F: "DEL", 0x9B: "CSI"}


def _describe(ch: str) -> str:
    n = ord(ch)
    if 0xD800 <= n <= 0xDFFF:
        return "a byte that is not UTF-8"
    name = _NAMES.get(n)
    return f"{name} (U+{n:04X})" if name else f"U+{n:04X}"


def has_control(text: str, *, newlines: bool = False) -> bool:
    """True when ``text`` holds a control character (``\\n`` allowed when
    ``newlines``)."""
    pattern = _CONTROL_BUT_NEWLINE_RE if newlines else _CONTROL_RE
    return pattern.search(text) is not None


def control_problem(text: str, *, newlines: bool = False) -> str | None:
    """What is wrong with ``text`` (None when nothing): e.g. ``contains a
    control character: ESC (U+001B) at character 4``. Never quotes the
    text itself. ``newlines``: a ``\\n`` is allowed (free text)."""
    pattern = _CONTROL_BUT_NEWLINE_RE if newlines else _CONTROL_RE
    m = pattern.search(text)
    if m is None:
        return None
    ch = m.group()
    what = "is not valid text" if "\ud800" <= ch <= "\udfff" else "contains a control character"
    where = f" at character {m.start() + 1}" if len(text) > 1 else ""
    allowed = "; only line breaks are allowed" if newlines and what != "is not valid text" else ""
    return f"{what}: {_describe(ch)}{where}{allowed}"


def _picture(n: int) -> str:
    if n < 0x20:
        return chr(0x2400 + n)  # ␀ … ␟ (ESC is ␛)
    if n == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


_TABLE = {n: _picture(n) for n in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_TABLE_KEEP_NEWLINE = {k: v for k, v in _TABLE.items() if k != 0x0A}


def normalise_newlines(text: str) -> str:
    """``\\r\\n`` and a lone ``\\r`` as ``\\n``."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control character replaced by a visible stand-in
    (see the module doc); with ``newlines``, line breaks (``\\n``, and
    ``\\r\\n`` / ``\\r`` as ``\\n``) are kept. Cheap when there is nothing
    to replace (one regular-expression search)."""
    if newlines:
        if _CONTROL_BUT_NEWLINE_RE.search(text) is None:
            return text
        text = normalise_newlines(text)
        table = _TABLE_KEEP_NEWLINE
    else:
        if _CONTROL_RE.search(text) is None:
            return text
        table = _TABLE
    text = text.translate(table)
    if _CONTROL_RE.search(text) is not None:  # lone surrogates (not in the table: a str.translate limit)
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """The cell text a spreadsheet does not run as a formula (module doc)."""
    if text.lstrip("'")[:1] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def csv_uncell(text: str) -> str:
    """The inverse of ``csv_cell``: one leading apostrophe before
    apostrophes and a formula trigger is dropped."""
    if text[:1] == "'" and text.lstrip("'")[:1] in FORMULA_TRIGGERS:
        return text[1:]
    return text
