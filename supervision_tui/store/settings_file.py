"""Writing the settings file (``settings.py`` only reads and validates it).

* ``save_setting(path, section, key, value)``: set one value and write the
  file back atomically, 0o600, through ``store.files`` (the product's only
  writer); the new document is validated first, so an invalid value leaves
  the file untouched.
* ``remember_theme(path, name)``: the dashboard's "remember the theme I
  chose" (``[ui] theme``), with the refusals a user's own file deserves:
  never over a read-only file, never over a file with comments (tomli-w
  would drop them; ``toml_has_comments`` decides), a symlink stays a
  symlink, an existing file keeps its permissions. Returns why not instead
  of raising.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from supervision_tui.errors import SettingsError, UserError
from supervision_tui.instruments import Registry
from supervision_tui.paths import settings_file
from supervision_tui.settings import Settings, read_toml, settings_from_dict
from supervision_tui.store.files import FileWriteError, ensure_private_dir, write_private_bytes


def save_setting(
    path: str | os.PathLike | None, section: str, key: str, value: Any, registry: Registry | None = None
) -> Settings:
    """Set ``[section] key = value`` in the TOML file at ``path`` (None: the
    user config file) and write it back atomically with mode 0o600.

    The new document is validated first; an invalid value raises
    ``SettingsError`` and leaves the file untouched. ``value=None`` removes
    the key. Other keys are preserved (comments are not: tomli-w writes
    plain TOML). Returns the settings as now saved.
    """
    import tomli_w

    path = Path(path) if path is not None else settings_file()
    data: dict[str, Any] = read_toml(path) if path.exists() else {}
    body = data.get(section)
    if body is None:
        body = {}
    elif not isinstance(body, dict):
        raise SettingsError(f"{path}: {section}: expected a [{section}] table")
    if value is None:
        body.pop(key, None)
    else:
        body[key] = value
    if body:
        data[section] = body
    else:
        data.pop(section, None)
    settings = settings_from_dict(data, source=str(path), registry=registry, path=path)
    try:
        text = tomli_w.dumps(data)
    except TypeError as err:
        raise SettingsError(f"{path}: [{section}] {key}: cannot be written as TOML ({err})") from None
    ensure_private_dir(path.parent)
    write_private_bytes(path, text.encode("utf-8"))
    return settings


def toml_has_comments(text: str) -> bool:
    """Does this TOML text hold a comment (a ``#`` outside strings)?

    Conservative: anything it cannot follow counts as a comment, so a
    file is never rewritten (and its comments lost) by mistake."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            return True
        if ch in "\"'":
            triple = text.startswith(ch * 3, i)
            end_mark = ch * 3 if triple else ch
            i += len(end_mark)
            while True:
                if i >= n:
                    return True  # unterminated string: not sure
                if ch == '"' and text[i] == "\\":
                    i += 2
                    continue
                if not triple and text[i] == "\n":
                    return True  # a one-line string across lines: not TOML we can follow
                if text.startswith(end_mark, i):
                    i += len(end_mark)
                    while triple and i < n and text[i] == ch:  # """a"""" ends with a quote in the string
                        i += 1
                    break
                i += 1
            continue
        i += 1
    return False


def remember_theme(path: str | os.PathLike | None, name: str) -> str | None:
    """Write ``[ui] theme = name`` to the settings file at ``path`` (None:
    the user's); None when done (or already so), else why not. Never over
    a read-only file or a file with comments (rewriting it would drop them);
    an existing file keeps its permissions (and a symlink stays a symlink).
    Never raises for a file problem."""
    target: Path | None = None
    try:
        import tomllib

        target = Path(path) if path is not None else settings_file()
        if target.is_symlink():  # (e.g. into a dotfiles folder): write the file, keep the link
            target = target.resolve()
        mode = None
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
            if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
                # (the atomic rewrite would replace a read-only file all the same)
                return f"{target} is read-only"
            text = target.read_text(encoding="utf-8")
            if toml_has_comments(text):
                return f'your settings file has comments; add [ui] theme = "{name}" yourself'
            ui = tomllib.loads(text).get("ui")
            if isinstance(ui, dict) and ui.get("theme") == name:
                return None  # already remembered: no rewrite
        save_setting(target, "ui", "theme", name)
        if mode is not None and stat.S_IMODE(target.stat().st_mode) != mode:
            os.chmod(target, mode)  # (save_setting writes 0o600; the user's choice stands)
    except FileWriteError as err:
        reason = err.os_error.strerror if err.os_error is not None and err.os_error.strerror else None
        return f"cannot write {target}: {reason}" if reason else str(err)
    except UserError as err:
        return str(err)
    except OSError as err:
        return f"cannot write {err.filename or target}: {err.strerror or err}"
    except Exception as err:  # bad TOML, bad encoding, ...: a theme switch never crashes
        return f"{target}: {type(err).__name__}: {err}"
    return None
