"""Find a world directory, read and merge its TOML files, build and check the IR.

``world.toml`` is read first, then every other ``*.toml`` below the directory
(except ``scenarios/``) in sorted path order. Tables merge recursively; the same
key set in two files is an error naming both, never a silent override.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.errors import LayoutError, WorldError, WorldNotFoundError
from continuum.world.ir import WorldIR
from continuum.world.parse import parse_world
from continuum.world.program import compile_world

BUNDLED = Path(__file__).resolve().parent.parent / "worlds"


def resolve_world_path(spec: str | Path) -> Path:
    """A world given by directory path, or by the name of a bundled world."""
    path, name = Path(spec), layout.WORLD_FILE
    if path.is_file():
        raise WorldNotFoundError(f"{path} is a file; a world is a directory holding {name}")
    if path.is_dir():
        if not layout.world_file(path).is_file():
            raise WorldNotFoundError(f"{path} has no {name}; is it a world directory?")
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
    for file in _world_files(root):
        _merge(doc, _read_toml(file), sources, str(file), ())
    ir = parse_world(doc, sources)
    ir = WorldIR(**{**ir.__dict__, "root": root, "sources": tuple(sorted(sources.items()))})
    compile_world(ir)  # type-check every expression now, with file context
    return ir


def _world_files(root: Path) -> list[Path]:
    extra = sorted(
        p
        for p in root.rglob(f"*{layout.TOML_SUFFIX}")
        if p.name != layout.WORLD_FILE or p.parent != root
        if layout.SCENARIOS not in p.relative_to(root).parts[:1]
    )
    return [layout.world_file(root), *extra]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorldError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorldError(f"{path}: cannot read: {exc}") from None


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
            raise WorldError(
                f"{file}: {'.'.join(path)} is already declared in {first}; "
                "declare each key in one file only"
            )


def _record(sources: dict, path: tuple[str, ...], value: Any, file: str) -> None:
    """Remember which file declared each table, down to declaration depth."""
    sources[path] = file
    if isinstance(value, dict) and len(path) < 4:
        for key, child in value.items():
            _record(sources, (*path, key), child, file)
