"""What user SQL may read: the configured export roots, never what data says.

The readable set is decided before a file is opened, from configuration only: the
default export root (``$XDG_DATA_HOME/continuum/exports``, where ``continuum lens
export`` writes unless told ``--output``), the directories listed in
``CONTINUUM_EXPORT_ROOTS`` (separated by ``:``, for a user whose live runs export with
``--lens-export-dir`` elsewhere), plus the roots a caller names (``--export-dir``,
``connect(roots=...)``). Catalog ``parquet_exports.path`` rows only say where to *look*
inside them: a row outside every root is ignored with one warning line, so a row ``/``
or an earlier ``lens export --output .`` never makes a directory readable.

Every comparison is by realpath: a root named through a symlink is its target, and a
file the views would list whose realpath leaves the roots (a planted symlink to a file
or a directory outside), or that is not a regular file (a FIFO would hang the session),
is skipped and said so. DuckDB checks again when it opens each file
(``allowed_directories``, which resolves symlinks in 2.0 — measured in the tests).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from continuum import layout
from continuum.errors import QueryError

#: The default export root's directory name under ``$XDG_DATA_HOME/continuum``.
EXPORTS_DIR = "exports"

#: Further configured export roots, ``os.pathsep``-separated.
ROOTS_ENV = "CONTINUUM_EXPORT_ROOTS"

Warn = Callable[[str], None]


def default_root() -> Path:
    """``$XDG_DATA_HOME/continuum/exports`` (XDG's default data home: ``~/.local/share``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return layout.child(base, layout.CATALOG_DIR, EXPORTS_DIR)


def shown(path: object) -> str:
    """A path for a message, control characters escaped (a name must not drive a terminal)."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    return text if text.isprintable() else repr(text)[1:-1]


def _minimal(paths: Iterable[Path]) -> list[Path]:
    """Distinct paths, dropping any inside another (its files are under that one)."""
    kept: list[Path] = []
    for p in sorted(set(paths), key=lambda q: (len(q.parts), str(q))):
        if not any(layout.is_within(k, p) for k in kept):
            kept.append(p)
    return sorted(kept)


def configured_roots(
    explicit: Sequence[str | os.PathLike[str]], *, default: bool, warn: Warn | None = None
) -> list[Path]:
    """Realpaths of the readable roots: the default root when it exists (``default``),
    and every explicit root, which must be a directory other than ``/`` (one that does not
    exist yet, e.g. a live export's, is skipped with a warning)."""
    roots = []
    if default and default_root().is_dir():
        roots.append(default_root().resolve())
    if default:  # configuration the user wrote down, like the default root itself
        env = os.environ.get(ROOTS_ENV, "")
        explicit = [*(p for p in env.split(os.pathsep) if p), *explicit]
    for given in explicit:
        path = Path(given)
        if not path.exists() and warn is not None:
            warn(f"export dir {shown(given)} does not exist (yet): nothing read from it")
            continue
        if not path.is_dir():
            raise QueryError(
                f"export dir {shown(given)} is not a directory; pass a directory "
                "`continuum lens export --output` wrote"
            )
        real = path.resolve()
        if real == Path(real.anchor):
            raise QueryError(
                f"refusing {shown(given)} as an export dir: every file on the machine would "
                "be readable by SQL; pass the directory `continuum lens export` wrote"
            )
        roots.append(real)
    return _minimal(roots)


def _inside(roots: Sequence[Path], real: str) -> bool:
    return any(layout.is_within(r, real) for r in roots)


def search_dirs(roots: Sequence[Path], recorded: Iterable[str], warn: Warn) -> list[Path]:
    """Where to look for parts: the roots, plus each recorded export dir inside one.

    A recorded dir (a catalog row) outside every root is ignored; one warning line says
    how many and how to include one (``--export-dir``). Missing dirs are skipped quietly
    (an export since removed), and so are dirs inside a partition (their parts are
    found from the root already).
    """
    found, ignored = list(roots), []
    for text in sorted(set(recorded)):
        real = os.path.realpath(text)
        if _inside(roots, real):
            if os.path.isdir(real) and not _in_partition(roots, Path(real)):
                found.append(Path(real))
        elif os.path.isdir(real):
            ignored.append(text)
    if ignored:
        more = f" and {len(ignored) - 1} more" if len(ignored) > 1 else ""
        warn(
            f"ignoring exports the catalog records outside the SQL export dirs: "
            f"{shown(ignored[0])}{more}; pass --export-dir DIR (roots= in Python) or list it in "
            f"{ROOTS_ENV} to query one"
        )
    return sorted(set(found))


def _in_partition(roots: Sequence[Path], path: Path) -> bool:
    """Whether ``path`` is (inside) a ``run_id=`` partition or a ``by_sample`` tree."""
    root = next(r for r in roots if layout.is_within(r, path))
    parts = path.relative_to(root).parts
    return any(layout.parse_run_partition(p) or p == layout.BY_SAMPLE for p in parts)


@dataclass
class Files:
    """The parts the views read, each a regular file whose realpath is inside a root."""

    by_time: list[Path] = field(default_factory=list)
    by_sample: list[Path] = field(default_factory=list)
    signals: list[Path] = field(default_factory=list)
    ticks: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def _confined(
    roots: Sequence[Path], paths: Iterable[Path], skipped: list[Path], seen: set[str]
) -> list[Path]:
    """The regular files among ``paths`` whose realpath is inside a root, each file once."""
    kept = []
    for p in sorted(paths):
        real = os.path.realpath(p)
        try:
            regular = stat.S_ISREG(os.stat(real).st_mode)
        except OSError:
            regular = False
        if not regular or not _inside(roots, real):
            skipped.append(p)
        elif real not in seen:
            seen.add(real)
            kept.append(p)
    return kept


def list_files(roots: Sequence[Path], dirs: Sequence[Path], warn: Warn) -> Files:
    """Every part under ``dirs`` (each inside ``roots``) that may be read; one warning line
    if any was skipped (a symlink leading outside the roots, or not a regular file)."""
    out, seen = Files(), set[str]()
    for d in dirs:
        copies = _confined(roots, d.glob(layout.BY_SAMPLE_PART_GLOB), out.skipped, seen)
        timed = _confined(roots, d.glob(layout.FIELD_PART_GLOB), out.skipped, seen)
        have = {p.relative_to(layout.child(d, layout.BY_SAMPLE)) for p in copies}
        out.by_time += timed
        out.by_sample += copies + [p for p in timed if p.relative_to(d) not in have]
        out.signals += _confined(roots, d.glob(layout.SIGNALS_PART_GLOB), out.skipped, seen)
        out.ticks += _confined(roots, d.glob(layout.TICKS_PART_GLOB), out.skipped, seen)
    if out.skipped:
        more = f" and {len(out.skipped) - 1} more" if len(out.skipped) > 1 else ""
        warn(
            f"skipped {shown(out.skipped[0])}{more}: not a regular file inside the export "
            "dirs (a symlink leading outside them?)"
        )
    return out
