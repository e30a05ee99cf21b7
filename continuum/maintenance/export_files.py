"""Where a run's Parquet exports lie under an export root, for ``catalog rm`` and ``gc``.

An export root holds every exported run side by side (names: :mod:`continuum.layout`),
and the SQL views read every ``run_id=*`` under a root the catalog knows. So removing
a run must remove its files there too, or its field history would outlive it in SQL.
Only Parquet parts and their write temporaries are ever deleted, then the directories
they leave empty; anything else a user put there stays.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from continuum import layout


@dataclass
class Removed:
    """What removing some export files did."""

    files: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)


def run_trees(root: str, run_id: str) -> list[str]:
    """The directories holding ``run_id``'s exports under ``root`` (existing or not)."""
    if not layout.is_run_id(run_id):
        return []  # not a name this project writes: never build a path from it
    return [str(p) for p in layout.run_partitions(root, run_id)]


def run_dirs(root: str) -> dict[str, list[str]]:
    """run_id -> its export directories found under ``root`` (both layouts)."""
    out: dict[str, list[str]] = {}
    for base in (root, os.path.join(root, layout.BY_SAMPLE)):
        with contextlib.suppress(OSError):
            for e in os.scandir(base):
                run_id = layout.parse_run_partition(e.name)
                if run_id and e.is_dir(follow_symlinks=False):
                    out.setdefault(run_id, []).append(e.path)
    return out


def part_files(tree: str) -> list[os.DirEntry[str]]:
    """Our part files (and write temporaries) in ``tree``'s ``field=*``, signals, ticks."""
    out = []
    with contextlib.suppress(OSError):
        for sub in os.scandir(tree):
            if not sub.is_dir(follow_symlinks=False) or not layout.is_part_directory_name(sub.name):
                continue
            with contextlib.suppress(OSError):
                out += [
                    e
                    for e in os.scandir(sub.path)
                    if e.is_file(follow_symlinks=False) and layout.is_part_name(e.name)
                ]
    return out


def is_part_temp(name: str) -> bool:
    """A write temporary of a Parquet part (either scheme)."""
    return layout.is_part_name(name) and layout.PART_NAME_RE.match(name) is None


def remove_tree(tree: str, into: Removed) -> None:
    """Unlink our files in ``tree``, then the directories they leave empty."""
    for e in part_files(tree):
        try:
            size = e.stat(follow_symlinks=False).st_size
            os.unlink(e.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            into.errors.append(f"{e.path}: {exc.strerror or exc}")
            continue
        into.files += 1
        into.bytes += size
    with contextlib.suppress(OSError):
        for sub in os.scandir(tree):
            if sub.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.rmdir(sub.path)  # only if empty
    with contextlib.suppress(OSError):
        os.rmdir(tree)
