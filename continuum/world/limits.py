"""Size limits of a world, declared up front and checked at load, before anything is built.

A world directory is input like any other: it may come from someone else. Every limit
below is checked before the thing it bounds is parsed, recursed into or allocated, and a
world over one fails with one ``WorldError`` line naming the file and the key. The
numbers are far above what a real world needs (``terra`` uses a few percent of each).
"""

from __future__ import annotations

import os
import re
import reprlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from continuum.errors import WorldError

MAX_TOML_FILE_BYTES = 256 * 1024
"""Largest world or scenario TOML file. The terra world is about 5 KiB."""

MAX_WORLD_BYTES = 1024 * 1024
"""Largest total size of all the TOML files of one world."""

MAX_WORLD_FILES = 256
"""Most TOML files one world directory may hold (``world.toml`` included)."""

MAX_TOML_LINE_CHARS = 2048
"""Longest line of a TOML file. Bounds the cost of the standard TOML parser, which is
quadratic in the parts of one dotted key; wrap a longer expression in a multi-line
string with line-ending backslashes."""

MAX_TOML_DEPTH = 8
"""Deepest nesting of tables and arrays in a parsed world (the schema needs 5:
``entities.NAME.members.NAME.KEY``)."""

MAX_INTEGER = 2**63 - 1
"""Largest magnitude of any integer in world TOML (strides, counts, resolutions...)."""

MAX_EXPR_CHARS = 2048
"""Longest expression source text (terra's longest is about 330 characters)."""

MAX_EXPR_DEPTH = 100
"""Deepest expression tree. A chain ``a + b + c ...`` nests one level per operator, as do
``**``, ``if``/``else``, unary signs and calls; evaluation recurses once per level."""

MEMORY_LIMIT_ENV = "CONTINUUM_WORLD_MEMORY_LIMIT"
"""Environment variable overriding the memory ceiling of one simulation: a byte count,
optionally with a K, M, G or T suffix (powers of 1024), e.g. ``64G``."""

DEFAULT_MEMORY_FRACTION = 0.5
"""Without the variable, one simulation may use at most this fraction of physical memory."""

FALLBACK_MEMORY_LIMIT = 4 * 1024**3
"""The ceiling where physical memory cannot be read."""

TOPOLOGY_BYTES_PER_CELL = 256
"""Memory the cubed-sphere tables take per cell (centres, lat/lon, neighbours, areas and
their construction temporaries: ~190 B measured at 128x128 cells per face, rounded up)."""

BYTES_PER_VALUE = 6 * 8
"""Memory per float64 component of a member per instance: current, previous and the new
value, plus the temporaries evaluating its expression (~4.5 copies measured)."""


def world_error(message: str) -> WorldError:
    """A ``WorldError`` whose message is one printable line, whatever the file held."""
    return WorldError(printable(message))


def shown(value: object, width: int = 60) -> str:
    """``repr(value)`` cut to about ``width`` characters: messages stay one short line."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = width
    short.maxlong = 40
    short.maxlevel = 2
    short.maxlist = short.maxdict = 4
    return short.repr(value)


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (``\\x1b``).

    A key or value from a world file may hold an ESC or a newline; a message must stay
    one line and must not drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


EXPR_WIDTH = 200
"""How much of an expression's source an error message shows."""


def read_toml_text(path: Path, remaining: int = MAX_WORLD_BYTES) -> str:
    """The text of a regular file of at most ``MAX_TOML_FILE_BYTES`` (and ``remaining``).

    Never opens a FIFO or a device (``/dev/zero`` would never end), never reads more than
    one byte past the limit, and refuses lines longer than ``MAX_TOML_LINE_CHARS``.
    """
    limit = min(MAX_TOML_FILE_BYTES, remaining)
    try:
        if not path.is_file():
            raise world_error(f"{path}: not a regular file; world files must be plain TOML files")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise world_error(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_TOML_FILE_BYTES:
        raise world_error(
            f"{path}: too large: one file may hold at most {MAX_TOML_FILE_BYTES} bytes"
        )
    if len(data) > limit:
        raise world_error(
            f"{path}: the world is too large: its TOML files may hold at most "
            f"{MAX_WORLD_BYTES} bytes together"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise world_error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_TOML_LINE_CHARS:
            raise world_error(
                f"{path}: line {number} is longer than {MAX_TOML_LINE_CHARS} characters; "
                "wrap long expressions in a multi-line string"
            )
    return text


def load_toml(path: Path, remaining: int = MAX_WORLD_BYTES) -> tuple[dict[str, Any], int]:
    """Read (``read_toml_text``), parse and check (``check_document``) one TOML file.

    Returns the document and the file's size in bytes, to charge to the world's budget.
    """
    text = read_toml_text(path, remaining)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise world_error(f"{path}: not valid TOML: {exc}") from None
    except ValueError:  # an integer past Python's 4300-digit conversion limit
        raise world_error(f"{path}: not valid TOML: an integer with too many digits") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise world_error(
            f"{path}: arrays or inline tables nested deeper than {MAX_TOML_DEPTH} levels"
        ) from None
    check_document(doc, str(path))
    return doc, len(text.encode("utf-8"))


def check_document(doc: Mapping[str, Any], file: str) -> None:
    """Refuse nesting deeper than ``MAX_TOML_DEPTH`` and integers beyond ``MAX_INTEGER``.

    Iterative, so a hostile document cannot exhaust the stack of the check itself.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict | list):
            if len(path) > MAX_TOML_DEPTH:
                raise world_error(
                    f"{file}: {_dotted(path[:MAX_TOML_DEPTH])}: nested deeper than "
                    f"{MAX_TOML_DEPTH} tables or arrays"
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((child, (*path, str(key))) for key, child in items)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            raise world_error(
                f"{file}: {_dotted(path)}: integer too large (at most {MAX_INTEGER}, 19 digits)"
            )


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "(top level)"


def memory_limit() -> int:
    """The memory ceiling of one simulation, in bytes (see ``MEMORY_LIMIT_ENV``)."""
    raw = os.environ.get(MEMORY_LIMIT_ENV)
    if raw is not None:
        return parse_bytes(raw)
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return FALLBACK_MEMORY_LIMIT
    return int(physical * DEFAULT_MEMORY_FRACTION) if physical > 0 else FALLBACK_MEMORY_LIMIT


_BYTES_RE = re.compile(r"^\s*(\d{1,20})\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_bytes(text: str) -> int:
    """``"64G"`` -> 68719476736; a bad value is a ``WorldError`` naming the variable."""
    match = _BYTES_RE.match(text)
    if match is None or int(match.group(1)) == 0:
        raise world_error(
            f"{MEMORY_LIMIT_ENV}={shown(text)}: expected a positive byte count such as "
            "8000000000 or 64G"
        )
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def estimate_bytes(cells: int, values: Mapping[str, tuple[int, int]]) -> int:
    """Memory one simulation needs: the topology's tables plus every member's values.

    ``values`` maps each entity to ``(instances, float64 components per instance)``.
    Exact integers, so an absurd size is compared, never overflowed.
    """
    members = sum(n * components for n, components in values.values())
    return cells * TOPOLOGY_BYTES_PER_CELL + members * BYTES_PER_VALUE


def format_bytes(n: int) -> str:
    """A byte count for people: ``12.0 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
