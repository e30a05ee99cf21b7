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

Messages get one more rule (:func:`message_line`): one line, and no Python bytes literal
(``b'root:*:2'``), which in a message can only be data read from a file; readers should
say "not a Continuum checkpoint" without quoting, and this is the last line of defence
where they do not.
"""

from __future__ import annotations

import re

__all__ = ["BYTES_LITERAL", "UNSAFE", "message_line", "printable", "without_bytes"]

#: Every character :func:`printable` escapes.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

#: A bytes literal as ``repr`` writes it: ``b'...'`` or ``b"..."``, escapes included.
BYTES_LITERAL = re.compile(r"""(?<!['"])\bb(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")

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


def without_bytes(text: str) -> str:
    """``text`` with each bytes literal replaced by ``<bytes not shown>``."""
    return BYTES_LITERAL.sub("<bytes not shown>", text)


def message_line(message: object, limit: int | None = None) -> str:
    """An error message as one safe line: its first non-blank line, bytes literals hidden,
    escaped and cut to ``limit`` (an exception with no message shows its class name)."""
    text = str(message)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        first = type(message).__name__ if isinstance(message, BaseException) else ""
    return printable(without_bytes(first), limit)
