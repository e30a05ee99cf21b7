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

from continuum.errors import WorldError, WorldNotFoundError
from continuum.world.ir import WorldIR
from continuum.world.parse import parse_world
from continuum.world.program import compile_world

BUNDLED = Path(__file__).resolve().parent.parent / "worlds"


def resolve_world_path(spec: str | Path) -> Path:
    """A world given by directory path, or by the name of a bundled world."""
    path = Path(spec)
    if path.is_file():
        raise WorldNotFoundError(f"{path} is a file; a world is a directory holding world.toml")
    if path.is_dir():
        if not (path / "world.toml").is_file():
            raise WorldNotFoundError(f"{path} has no world.toml; is it a world directory?")
        return path.resolve()
    bundled = BUNDLED / str(spec)
    if "/" not in str(spec) and (bundled / "world.toml").is_file():
        return bundled
    names = sorted(p.name for p in BUNDLED.iterdir() if (p / "world.toml").is_file())
    raise WorldNotFoundError(
        f"no world at {spec!r}: not a directory, and not a bundled world ({', '.join(names)})"
    )


def load_world(spec: str | Path) -> WorldIR:
    """Load, parse and type-check the world at ``spec`` (path or bundled name)."""
    root = resolve_world_path(spec)
    doc: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {(): str(root / "world.toml")}
    for file in _world_files(root):
        _merge(doc, _read_toml(file), sources, str(file), ())
    ir = parse_world(doc, sources)
    ir = WorldIR(**{**ir.__dict__, "root": root, "sources": tuple(sorted(sources.items()))})
    compile_world(ir)  # type-check every expression now, with file context
    return ir


def _world_files(root: Path) -> list[Path]:
    extra = sorted(
        p
        for p in root.rglob("*.toml")
        if p.name != "world.toml" or p.parent != root
        if "scenarios" not in p.relative_to(root).parts[:1]
    )
    return [root / "world.toml", *extra]


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
