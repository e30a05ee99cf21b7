"""What every command's output shares: the ``--json`` and ``--catalog`` options, tables, JSON,
times and byte sizes, so each is written (and changed) once.

One unit convention for sizes in human output: binary (B, KiB, MiB, GiB, TiB), the units
the size options (``--max-bytes 10G``) are read in; ``--json`` keeps raw integers.

Imports click and the standard library only, so the lightest command (``catalog list``)
pays nothing for it: it must not import numpy, duckdb or any other continuum package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    """``--json`` (as ``as_json``): data for scripts instead of text for people."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def catalog_option(fn: F) -> F:
    """``--catalog URL`` (as ``catalog_url``): None lets the catalog pick its default."""
    return click.option(
        "--catalog",
        "catalog_url",
        metavar="URL",
        default=None,
        help="Catalog URL or SQLite file (default: $CONTINUUM_CATALOG, else "
        "~/.local/share/continuum/catalog.db).",
    )(fn)


def echo_json(doc: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """One JSON document on stdout (warnings and cursors go to stderr, never here)."""
    click.echo(json.dumps(doc, indent=indent, sort_keys=sort_keys))


def table_lines(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    right: Collection[int] = (),
    rule: bool = False,
) -> list[str]:
    """Aligned columns two spaces apart (``right``: right-aligned ones; ``rule``: a dashed
    line under the header); trailing blanks are cut so the last column is not padded."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in cells
    ]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def echo_table(
    header: Sequence[object], rows: Iterable[Sequence[object]], right: Collection[int] = ()
) -> None:
    """Print :func:`table_lines` on stdout."""
    for line in table_lines(header, rows, right):
        click.echo(line)


def format_time(at: datetime | None) -> str:
    """``2026-01-16 09:54:30`` in UTC (the tables say so in their header), ``-`` for none."""
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_age(seconds: float) -> str:
    """``3m 12s ago``: the two largest units, for people scanning a listing."""
    rest = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size or (unit == "s" and not parts):
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts[:2]) + " ago"


def format_duration(seconds: int) -> str:
    """``7d``, ``36h``, ``90m``: the largest unit that divides it, as durations are typed."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_bytes(n: int) -> str:
    """``512 B``, ``1.5 KiB``, ``10.0 GiB``: binary units, like the size options read them."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{int(n)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
