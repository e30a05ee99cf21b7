"""A small TOML writer for tests: any dict of TOML values -> text ``tomllib`` reads back.

Tables become ``[a."b"]`` headers, arrays and tables inside arrays are inline, every key
is quoted and every string escaped, so generated documents (control characters, empty
keys, NaN, 400-digit integers) round-trip exactly.
"""

from __future__ import annotations

import math
from typing import Any

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def dumps(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    _table(lines, (), doc)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], path: tuple[str, ...], table: dict[str, Any]) -> None:
    subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if path:
        lines.append("[" + ".".join(_key(p) for p in path) + "]")
    for key, value in table.items():
        if key not in subtables:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables.items():
        _table(lines, (*path, key), value)


def _key(key: str) -> str:
    return _string(key)


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a TOML value: {type(value).__name__}")
