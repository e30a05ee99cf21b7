"""Where a run's Parquet exports lie under an export root, for ``catalog rm`` and ``gc``.

An export root holds every exported run side by side (``continuum.sql.export``)::

    ROOT/run_id=R/field=F/part-SSSSSSSSSS-EEEEEEEEEE.parquet
    ROOT/run_id=R/signals/part-SSSSSSSSSS-EEEEEEEEEE.parquet
    ROOT/run_id=R/ticks/part-SSSSSSSSSS-EEEEEEEEEE.parquet              sim_time per tick
    ROOT/by_sample/run_id=R/field=F/part-....parquet

and the SQL views read every ``run_id=*`` under a root the catalog knows. So removing
a run must remove its files there too, or its field history would outlive it in SQL.
The layout is repeated here rather than imported so catalog commands never import
DuckDB. Only ``part-*.parquet`` files and their write temporaries
(``.part-....parquet.XXXXXXXX.tmp``) are ever deleted, then the directories they leave
empty; anything else a user put there stays.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field

PART_NAME = re.compile(r"^part-\d{10,}-\d{10,}\.parquet$")
PART_TEMP = re.compile(r"^\.part-\d{10,}-\d{10,}\.parquet\.[0-9a-f]{8}\.tmp$")
BY_SAMPLE = "by_sample"
_RUN_DIR = re.compile(r"^run_id=(?P<run>[^/\\]+)$")


@dataclass
class Removed:
    """What removing some export files did."""

    files: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)


def run_trees(root: str, run_id: str) -> list[str]:
    """The directories holding ``run_id``'s exports under ``root`` (existing or not)."""
    if run_id in ("", ".", "..") or os.sep in run_id or "/" in run_id:
        return []  # not a name this project writes: never build a path from it
    name = f"run_id={run_id}"
    return [os.path.join(root, name), os.path.join(root, BY_SAMPLE, name)]


def run_dirs(root: str) -> dict[str, list[str]]:
    """run_id -> its export directories found under ``root`` (both layouts)."""
    out: dict[str, list[str]] = {}
    for base in (root, os.path.join(root, BY_SAMPLE)):
        with contextlib.suppress(OSError):
            for e in os.scandir(base):
                m = _RUN_DIR.match(e.name)
                if m and e.is_dir(follow_symlinks=False):
                    out.setdefault(m["run"], []).append(e.path)
    return out


def part_files(tree: str) -> list[os.DirEntry[str]]:
    """Our part files (and write temporaries) in ``tree``'s ``field=*``, signals, ticks."""
    out = []
    with contextlib.suppress(OSError):
        for sub in os.scandir(tree):
            if not sub.is_dir(follow_symlinks=False):
                continue
            if not (sub.name.startswith("field=") or sub.name in ("signals", "ticks")):
                continue
            with contextlib.suppress(OSError):
                out += [
                    e
                    for e in os.scandir(sub.path)
                    if e.is_file(follow_symlinks=False)
                    and (PART_NAME.match(e.name) or PART_TEMP.match(e.name))
                ]
    return out


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
