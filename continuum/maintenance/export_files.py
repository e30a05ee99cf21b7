"""Where a run's Parquet exports lie under an export root, for ``catalog rm`` and ``gc``.

An export root holds every exported run side by side (names: :mod:`continuum.layout`),
and the SQL views read every ``run_id=*`` under a root the catalog knows. So removing
a run must remove its files there too, or its field history would outlive it in SQL.
Only Parquet parts and their write temporaries are ever deleted, then the directories
they leave empty; anything else a user put there stays.

The root may be a symbolic link; nothing below it is followed. Every directory is
opened by descriptor without following a link (:class:`continuum.layout.ConfinedDir`)
and files are unlinked by name in it, so a ``run_id=R``, ``by_sample`` or ``field=F``
directory replaced by a link is reported and left in place, never walked into.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby

from continuum import layout
from continuum.errors import LayoutError

#: A directory below an export root: (the root, the names leading to it).
Tree = tuple[str, tuple[str, ...]]


@dataclass
class Removed:
    """What removing some export files did."""

    files: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PartFile:
    """One part file (or write temporary) of ours: ``name`` in ``root/dirs``."""

    root: str
    dirs: tuple[str, ...]
    name: str
    size: int
    mtime: float

    @property
    def path(self) -> str:
        return os.path.join(self.root, *self.dirs, self.name)


def tree_path(tree: Tree) -> str:
    return os.path.join(tree[0], *tree[1])


def run_trees(root: str, run_id: str) -> list[Tree]:
    """The directories holding ``run_id``'s exports under ``root`` (existing or not)."""
    if not layout.is_run_id(run_id):
        return []  # not a name this project writes: never build a path from it
    partition = f"run_id={run_id}"
    return [(root, (partition,)), (root, (layout.BY_SAMPLE, partition))]


def _entries(root: str, names: tuple[str, ...]) -> list[tuple[str, os.stat_result]]:
    with layout.ConfinedDir(root, *names) as folder:
        return folder.entries()


def run_dirs(root: str, warnings: list[str] | None = None) -> dict[str, list[Tree]]:
    """run_id -> its export directories found under ``root`` (both layouts)."""
    out: dict[str, list[Tree]] = {}
    for base in ((), (layout.BY_SAMPLE,)):
        try:
            entries = _entries(root, base)
        except LayoutError as exc:
            if warnings is not None:
                warnings.append(str(exc))
            continue
        except OSError:
            continue
        for name, st in entries:
            run_id = layout.parse_run_partition(name)
            if run_id and stat.S_ISDIR(st.st_mode):
                out.setdefault(run_id, []).append((root, (*base, name)))
            elif run_id and stat.S_ISLNK(st.st_mode) and warnings is not None:
                warnings.append(f"{os.path.join(root, *base, name)} is a symbolic link; skipped")
    return out


def part_files(tree: Tree, errors: list[str] | None = None) -> list[PartFile]:
    """Our part files (and write temporaries) in ``tree``'s ``field=*``, signals, ticks."""
    root, names = tree
    out: list[PartFile] = []
    try:
        folder = layout.ConfinedDir(root, *names)
    except LayoutError as exc:
        if errors is not None:
            errors.append(str(exc))
        return out
    except OSError:
        return out
    with folder:
        for sub, sub_st in folder.entries():
            if not layout.is_part_directory_name(sub):
                continue
            if not stat.S_ISDIR(sub_st.st_mode):
                if stat.S_ISLNK(sub_st.st_mode) and errors is not None:
                    errors.append(
                        f"{os.path.join(folder.path, sub)} is a symbolic link; "
                        "Continuum does not follow links below a root: left in place"
                    )
                continue
            with contextlib.suppress(OSError, LayoutError), folder.sub(sub) as inner:
                for name, st in inner.entries():
                    if stat.S_ISREG(st.st_mode) and layout.is_part_name(name):
                        dirs = (*names, sub)
                        out.append(PartFile(root, dirs, name, st.st_size, st.st_mtime))
    return out


def is_part_temp(name: str) -> bool:
    """A write temporary of a Parquet part (either scheme)."""
    return layout.is_part_name(name) and layout.PART_NAME_RE.match(name) is None


def remove_files(files: Iterable[PartFile], into: Removed) -> list[PartFile]:
    """Unlink ``files`` by name in their directories (opened without following links);
    the ones removed."""
    done: list[PartFile] = []
    key = lambda f: (f.root, f.dirs)  # noqa: E731
    for (root, dirs), mine in groupby(sorted(files, key=key), key=key):
        try:
            folder = layout.ConfinedDir(root, *dirs)
        except FileNotFoundError:
            continue
        except (LayoutError, OSError) as exc:
            into.errors.append(str(exc))
            continue
        with folder:
            for f in mine:
                try:
                    folder.unlink(f.name)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    into.errors.append(f"{f.path}: {exc.strerror or exc}")
                    continue
                into.files += 1
                into.bytes += f.size
                done.append(f)
    return done


def remove_tree(tree: Tree, into: Removed) -> None:
    """Unlink our files in ``tree``, then the directories they leave empty."""
    remove_files(part_files(tree, into.errors), into)
    root, names = tree
    with contextlib.suppress(OSError, LayoutError):
        with layout.ConfinedDir(root, *names) as folder:
            for sub, st in folder.entries():
                if stat.S_ISDIR(st.st_mode):
                    with contextlib.suppress(OSError):
                        folder.rmdir(sub)  # only if empty
        with layout.ConfinedDir(root, *names[:-1]) as parent:
            parent.rmdir(names[-1])


def remove_remote_run(
    root: str,
    run_id: str,
    into: Removed,
    keep: Callable[[str], bool] | None = None,
) -> None:
    """``run_id``'s parts under an ``s3://`` export root: only keys of our part names in
    its own partitions (``run_id=R/...``, ``by_sample/run_id=R/...``), nothing else there,
    and of those not ``keep(name)`` (retention: the parts of chunks still kept). A prefix
    has no directories to leave empty, and no links to follow."""
    from continuum.blobs.storage import open_store
    from continuum.errors import StorageError

    store = open_store(root)
    partition = layout.run_partition(".", run_id).name  # run_id=R
    for top in (partition, f"{layout.BY_SAMPLE}/{partition}"):
        try:
            keys = store.list(top)
        except StorageError as exc:
            into.errors.append(f"{store.location(top)}: {exc}")
            continue
        for key in keys:
            name = key.rsplit("/", 1)[-1]
            if not layout.is_part_name(name) or (keep is not None and keep(name)):
                continue
            try:
                size = store.size(key)
                store.delete(key)
            except StorageError as exc:
                into.errors.append(f"{store.location(key)}: {exc}; left in place")
                continue
            into.files += 1
            into.bytes += size
