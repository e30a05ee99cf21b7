"""``continuum world list|copy``: the bundled example worlds, and a copy of one to edit.

``continuum run terra`` runs the bundled world by name; the persistence document (and
any user who wants to change a world) runs ``continuum run ./terra``, a directory.
``continuum world copy terra ./terra`` makes that directory.

Decisions (the design names the command, not its rules):

- Only the world's TOML files are copied (``world.toml``, ``scenarios/*.toml`` and any
  other ``*.toml`` the loader merges): the bundled directory is also a Python package
  directory (``__init__.py``, ``__pycache__``), which is not part of the world.
- ``DEST`` may be missing (it is made, with its parents) or an empty directory; anything
  else is refused in one line and nothing is written, so a copy never mixes with or
  overwrites a world the user has edited.
- The copy is written into a hidden sibling directory and renamed onto ``DEST`` at the
  end: an interrupted copy leaves no half world that ``continuum run`` would load.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tomllib
from importlib import resources
from pathlib import Path

import click

from continuum.cli._output import echo_done, echo_json, echo_table, json_option, quiet_option
from continuum.errors import WorldNotFoundError

WORLD_FILE = "world.toml"


def bundled_worlds() -> dict[str, Path]:
    """Name -> directory of every bundled world (``continuum/worlds/NAME/world.toml``)."""
    root = Path(str(resources.files("continuum.worlds")))
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and (p / WORLD_FILE).is_file()}


def copy_hint(spec: str) -> str | None:
    """For ``continuum run SPEC`` where SPEC is a missing path: how to get that world.

    None unless SPEC is a path (not a bare name, which ``run`` already resolves to the
    bundled world) whose last part names a bundled world.
    """
    path = Path(spec)
    if os.sep not in spec.rstrip(os.sep):  # a name (``terra``, ``terra/``): the loader's
        return None
    if path.exists() or path.name not in bundled_worlds():
        return None
    return (
        f"no world directory {spec}; to get the bundled world {path.name!r} there: "
        f"`continuum world copy {path.name} {spec}` (or run it by name: "
        f"`continuum run {path.name}`)"
    )


def _source(name: str) -> Path:
    worlds = bundled_worlds()
    if name not in worlds:
        raise WorldNotFoundError(
            f"no bundled world {name!r}; bundled: {', '.join(worlds) or 'none'} "
            "(see `continuum world list`)"
        )
    return worlds[name]


def _check_dest(dest: Path) -> None:
    """DEST may be missing or an empty directory (see the module doc)."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise click.ClickException(f"{dest} exists and is not a directory; name a new directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise click.ClickException(
            f"{dest} exists and is not empty; name a new or empty directory "
            "(a copy never overwrites a world you may have edited)"
        )


def _world_files(src: Path) -> list[Path]:
    """The TOML files of a bundled world, relative to it (no Python package files)."""
    return sorted(p.relative_to(src) for p in src.rglob("*.toml") if "__pycache__" not in p.parts)


def copy_world(name: str, dest: Path) -> list[Path]:
    """Copy the bundled world ``name`` to ``dest``; returns the files written (relative)."""
    src = _source(name)
    _check_dest(dest)
    files = _world_files(src)
    parent = dest.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{dest.name}.copy-{os.getpid()}"
    try:
        for rel in files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, tmp / rel)
        os.replace(tmp, dest)  # onto a missing or empty directory: atomic on POSIX
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return files


def _describe(world_dir: Path) -> dict[str, str]:
    """Name, version and title from a bundled world's ``[world]`` table."""
    with open(world_dir / WORLD_FILE, "rb") as f:
        table = tomllib.load(f).get("world", {})
    return {
        "name": str(table.get("name", world_dir.name)),
        "version": str(table.get("version", "")),
        "title": str(table.get("title", "")),
    }


@click.group()
def world() -> None:
    """The bundled example worlds: list them, copy one to a directory to edit.

    \b
    Examples:
      continuum world list
      continuum world copy terra ./terra
      continuum run ./terra --steps 1000
    """


@world.command("list")
@json_option
@quiet_option
def list_worlds(as_json: bool) -> None:
    """List the bundled worlds (run one by name, or copy it with `world copy`).

    \b
    Example:
      continuum world list --json
    """
    rows = [_describe(path) for path in bundled_worlds().values()]
    if as_json:
        echo_json(rows, indent=None)
        return
    echo_table(["name", "version", "title"], [[r["name"], r["version"], r["title"]] for r in rows])


@world.command("copy")
@click.argument("name")
@click.argument("dest", type=click.Path())
@json_option
@quiet_option
def copy(name: str, dest: str, as_json: bool) -> None:
    """Copy the bundled world NAME to the directory DEST (new or empty).

    \b
    Example:
      continuum world copy terra ./terra && continuum run ./terra --steps 1000
    """
    files = copy_world(name, Path(dest))
    if as_json:
        echo_json({"world": name, "path": dest, "files": [str(f) for f in files]}, indent=None)
        return
    echo_done(f"copied world {name} to {dest} ({len(files)} files); run it: continuum run {dest}")


__all__ = ["bundled_worlds", "copy_hint", "copy_world", "world"]
