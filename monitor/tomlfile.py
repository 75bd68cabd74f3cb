"""Small TOML helpers: reading with locatable errors, a writer for flat tables, atomic saving.

The standard library reads TOML (tomllib) but does not write it. tiltmon's files only need flat
tables of strings, numbers, booleans and lists of strings, so a small writer is enough; it is
tested by round trip through tomllib.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.private_files import private_output

Value = str | int | float | bool | Sequence[str]

_LINE_IN_MESSAGE = re.compile(r"\(at line (\d+), column \d+\)")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def parse(text: str, path: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """tomllib.loads, with a syntax error turned into `error` naming the file and the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _LINE_IN_MESSAGE.search(str(exc))
        message = _LINE_IN_MESSAGE.sub("", str(exc)).strip()
        line = int(match.group(1)) if match else None
        raise error(f"not valid TOML: {message}", path=path, line=line) from exc


def find_line(text: str, table: str, key: str) -> int | None:
    """The 1-based line that sets `key` in `[table]`, for error messages; None if not found.

    A line scan, not a parser: good enough to point at a key in a hand-edited flat table.
    """
    header = re.compile(r"\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?$")
    other_header = re.compile(r"\s*\[")
    setting = re.compile(r"\s*\"?" + re.escape(key) + r"\"?\s*=")
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            inside = True
        elif other_header.match(line):
            inside = False
        elif inside and setting.match(line):
            return number
    return None


def find_table_line(text: str, table: str) -> int | None:
    """The 1-based line of the `[table]` header; None if not found."""
    header = re.compile(r"\s*\[\s*\"?" + re.escape(table) + r"\"?\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            return number
    return None


def dumps(document: Mapping[str, Mapping[str, Value]]) -> str:
    """TOML text for a document of flat tables. Raises TypeError for values it cannot write."""
    parts: list[str] = []
    for table, values in document.items():
        lines = [f"[{_key(table)}]"]
        lines += [f"{_key(key)} = {_value(value, key)}" for key, value in values.items()]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: object, key: str) -> str:
    # bool before int: bool is an int subclass.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest round-tripping form; always has '.', 'e' or is inf/nan
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(_string(item) for item in value) + "]"
    raise TypeError(f"{key}: cannot write {type(value).__name__} to TOML (only flat tables)")


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")  # other control characters are not allowed raw
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half of
    one; owner-only (:func:`monitor.private_files.private_output`)."""
    with private_output(path) as file:
        file.write(text)
