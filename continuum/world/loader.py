"""Find a world directory, read and merge its TOML files, build and check the IR.

``world.toml`` is read first, then every other ``*.toml`` below the directory
(except ``scenarios/``) in sorted path order. Tables merge recursively; the same
key set in two files is an error naming both, never a silent override.

Limits (``continuum.world.limits``), each checked before what it bounds is read,
recursed into or allocated, and each a one-line ``WorldError`` naming the file and key:

- files: ``MAX_TOML_FILE_BYTES`` (256 KiB) each, ``MAX_WORLD_BYTES`` (1 MiB) together,
  ``MAX_WORLD_FILES`` (256), lines of ``MAX_TOML_LINE_CHARS`` (2048); regular files only
  (never a FIFO or a device), UTF-8.
- values: tables and arrays nested at most ``MAX_TOML_DEPTH`` (8) deep, integers at most
  ``MAX_INTEGER`` (2**63 - 1) in magnitude, numbers finite, every key of the type its
  declaration needs (a section that is not a table, a list where a name belongs...).
- expressions: ``MAX_EXPR_CHARS`` (2048) characters, ``MAX_EXPR_DEPTH`` (100) levels,
  number literals within float64 range.
- memory: the topology's tables plus every member's values
  (``estimate_bytes``: cells x ``TOPOLOGY_BYTES_PER_CELL`` + instances x components x
  ``BYTES_PER_VALUE``) must fit ``memory_limit()``: half of physical memory, or
  ``$CONTINUUM_WORLD_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix). Checked for the
  world's own resolution at load and again for a scenario's in ``compile_world``.

Run time: arithmetic follows IEEE 754 (``1/0`` is inf, ``(0-8)**0.5`` NaN, never an
exception or a complex number), and a resolve or initial value that is NaN or infinite
stops the run with one line naming the signal, the tick and the expression, unless the
signal's (or field's) table says ``allow_nonfinite = true``. That key enters the IR hash
only when set, so worlds that do not use it keep their hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.errors import LayoutError, WorldNotFoundError
from continuum.world.ir import WorldIR
from continuum.world.limits import (
    MAX_WORLD_BYTES,
    MAX_WORLD_FILES,
    load_toml,
    printable,
    world_error,
)
from continuum.world.parse import parse_world
from continuum.world.program import compile_world

BUNDLED = Path(__file__).resolve().parent.parent / "worlds"


def resolve_world_path(spec: str | Path) -> Path:
    """A world given by directory path, or by the name of a bundled world."""
    path, name = Path(spec), layout.WORLD_FILE
    if path.is_file():
        raise WorldNotFoundError(
            printable(f"{path} is a file; a world is a directory holding {name}")
        )
    if path.is_dir():
        if not layout.world_file(path).is_file():
            raise WorldNotFoundError(printable(f"{path} has no {name}; is it a world directory?"))
        return path.resolve()
    bundled = _bundled(str(spec))
    if bundled is not None:
        return bundled
    names = sorted(p.name for p in BUNDLED.iterdir() if layout.world_file(p).is_file())
    raise WorldNotFoundError(
        f"no world at {spec!r}: not a directory, and not a bundled world ({', '.join(names)})"
    )


def _bundled(name: str) -> Path | None:
    """The bundled world called ``name``, if there is one."""
    try:
        world_dir = layout.child(BUNDLED, name)
    except LayoutError:  # not one plain name: no bundled world has it
        return None
    return world_dir if layout.world_file(world_dir).is_file() else None


def load_world(spec: str | Path) -> WorldIR:
    """Load, parse and type-check the world at ``spec`` (path or bundled name)."""
    root = resolve_world_path(spec)
    doc: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {(): str(layout.world_file(root))}
    remaining = MAX_WORLD_BYTES
    for file in _world_files(root):
        new, size = load_toml(file, remaining)
        remaining -= size
        _merge(doc, new, sources, str(file), ())
    ir = parse_world(doc, sources)
    ir = WorldIR(**{**ir.__dict__, "root": root, "sources": tuple(sorted(sources.items()))})
    compile_world(ir)  # type-check every expression and the memory it needs, with file context
    return ir


def _world_files(root: Path) -> list[Path]:
    extra = []
    for p in root.rglob(f"*{layout.TOML_SUFFIX}"):
        if p.name == layout.WORLD_FILE and p.parent == root:
            continue
        if layout.SCENARIOS in p.relative_to(root).parts[:1]:
            continue
        extra.append(p)
        if len(extra) >= MAX_WORLD_FILES:
            raise world_error(
                f"{root}: more than {MAX_WORLD_FILES} TOML files; is this a world directory?"
            )
    return [layout.world_file(root), *sorted(extra)]


def _merge(
    into: dict[str, Any],
    new: Mapping[str, Any],
    sources: dict[tuple[str, ...], str],
    file: str,
    prefix: tuple[str, ...],
) -> None:
    for key, value in new.items():
        path = (*prefix, key)
        if key not in into:
            into[key] = value
            _record(sources, path, value, file)
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value, sources, file, path)
        else:
            first = sources.get(path, sources[()])
            raise world_error(
                f"{file}: {'.'.join(path)} is already declared in {first}; "
                "declare each key in one file only"
            )


def _record(sources: dict, path: tuple[str, ...], value: Any, file: str) -> None:
    """Remember which file declared each table, down to declaration depth."""
    sources[path] = file
    if isinstance(value, dict) and len(path) < 4:
        for key, child in value.items():
            _record(sources, (*path, key), child, file)
