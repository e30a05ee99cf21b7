"""Text from data made safe to print and to store: one rule, below every layer that prints.

Anything that came from a file, a catalog row, the environment or the command line (tag
values, params, scenario names, paths, error messages quoting them) may hold characters a
terminal acts on instead of showing: ESC starts an escape sequence (colours, cursor moves,
window titles, hyperlinks), BEL rings, CR and backspace overwrite what came before, bidi
overrides reorder the rest of the line. :func:`printable` shows each of them as a visible
escape, the way Python spells it in a string literal:

- ``\\t``, ``\\n``, ``\\r``; other C0 controls, DEL and C1 controls as ``\\xNN``;
- bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the line and
  paragraph separators (U+2028, U+2029) as ``\\uNNNN``;
- lone surrogates (undecodable bytes of a file name, kept by ``surrogateescape``) as
  ``\\udcNN``, so the text can always be encoded, printed and stored as UTF-8.

Backslashes are left as they are: the goal is a terminal that shows what is there, not a
reversible encoding (``--json`` is the exact form). Standard library only, so the catalog
(the audit log) and the CLI share it.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE", "printable"]

#: Every character :func:`printable` escapes.
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: object, limit: int | None = None) -> str:
    """``str(text)`` with every :data:`UNSAFE` character escaped, cut to ``limit`` characters.

    A cut keeps the first ``limit`` characters of the escaped text and says how long the
    whole was, so a message quoting a megabyte of foreign data stays one readable line.
    """
    shown = UNSAFE.sub(_escape, text if isinstance(text, str) else str(text))
    if limit is not None and len(shown) > limit:
        return f"{shown[:limit]}... ({len(shown) - limit} more characters)"
    return shown
