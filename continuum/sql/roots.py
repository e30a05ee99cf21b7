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

**Object storage.** A root may be ``s3://bucket/prefix`` (``--export-dir``,
``connect(roots=...)``, ``CONTINUUM_EXPORT_ROOTS``). Its parts are found by listing the
prefix (:meth:`Store.list`, confined to it) and read by DuckDB through the same s3fs
filesystem, registered on the connection before it is locked
(:func:`continuum.sql.sandbox.sandboxed`); ``allowed_directories`` holds the prefix with
a trailing ``/``, so another bucket, a sibling prefix (``s3://b/exp2`` beside
``s3://b/exp``), a ``..`` and every local file outside the local roots stay refused by
DuckDB itself (measured in the tests). A part on object storage is an
:class:`ObjectPath`: the views use its ``parent`` and ``name`` as a file's, and its
text is its URL.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from continuum import layout
from continuum.errors import QueryError

#: The default export root's directory name under ``$XDG_DATA_HOME/continuum``.
EXPORTS_DIR = "exports"

#: Further configured export roots, ``os.pathsep``-separated.
ROOTS_ENV = "CONTINUUM_EXPORT_ROOTS"

Warn = Callable[[str], None]
#: A readable root: a local directory (its realpath) or an ``s3://bucket/prefix`` URL.
Root = Path | str


class ObjectPath(PurePosixPath):
    """An object's ``s3://`` URL with the path API the views use (``parent``, ``name``,
    ``relative_to``); ``str()`` (and ``os.fspath``) give the URL back whole."""

    def __str__(self) -> str:
        scheme, _, rest = super().__str__().partition(":/")
        return f"{scheme}://{rest}"

    def __fspath__(self) -> str:
        return str(self)


def split_roots(text: str) -> list[str]:
    """``CONTINUUM_EXPORT_ROOTS`` split on ``os.pathsep`` (``:``), an ``s3://...`` kept whole."""
    pieces, out = text.split(os.pathsep), list[str]()
    for piece in pieces:
        if out and piece.startswith("//") and layout.is_object_url(f"{out[-1]}:{piece}"):
            out[-1] = f"{out[-1]}:{piece}"
        elif piece:
            out.append(piece)
    return out


def _remote_root(given: str) -> str:
    try:
        scheme, bucket, prefix = layout.split_object_url(given)
    except Exception as exc:
        raise QueryError(f"export dir {shown(given)}: {exc}") from None
    return layout.object_url(scheme, bucket, prefix)


def _minimal_urls(urls: Iterable[str]) -> list[str]:
    """Distinct URL roots, dropping any under another."""
    kept: list[str] = []
    for url in sorted(set(urls), key=len):
        if not any(url == k or url.startswith(k + "/") for k in kept):
            kept.append(url)
    return sorted(kept)


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
) -> list[Root]:
    """Realpaths of the readable roots: the default root when it exists (``default``),
    and every explicit root, which must be a directory other than ``/`` (one that does not
    exist yet, e.g. a live export's, is skipped with a warning), or an ``s3://`` URL
    (kept as given, normalised: nothing is listed until the views are built)."""
    roots = []
    urls: list[str] = []
    if default and default_root().is_dir():
        roots.append(default_root().resolve())
    if default:  # configuration the user wrote down, like the default root itself
        env = os.environ.get(ROOTS_ENV, "")
        explicit = [*split_roots(env), *explicit]
    for given in explicit:
        if isinstance(given, str) and layout.is_object_url(given):
            urls.append(_remote_root(given))
            continue
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
    return [*_minimal(roots), *_minimal_urls(urls)]


def local_roots(roots: Sequence[Root]) -> list[Path]:
    """The local directories among ``roots``."""
    return [r for r in roots if isinstance(r, Path)]


def remote_roots(roots: Sequence[Root]) -> list[str]:
    """The ``s3://`` URLs among ``roots``."""
    return [r for r in roots if isinstance(r, str)]


def _inside(roots: Sequence[Path], real: str) -> bool:
    return any(layout.is_within(r, real) for r in roots)


def search_dirs(roots: Sequence[Root], recorded: Iterable[str], warn: Warn) -> list[Root]:
    """Where to look for parts: the roots, plus each recorded export dir inside one.

    A recorded dir (a catalog row) outside every root is ignored; one warning line says
    how many and how to include one (``--export-dir``). Missing dirs are skipped quietly
    (an export since removed), and so are dirs inside a partition (their parts are
    found from the root already).
    """
    found: list[Root] = list(roots)
    urls, ignored = remote_roots(roots), []
    local = local_roots(roots)
    for text in sorted(set(recorded)):
        if layout.is_object_url(text):  # a remote root is listed whole: only say if outside
            if not any(text == u or text.startswith(u + "/") for u in urls):
                ignored.append(text)
            continue
        real = os.path.realpath(text)
        if _inside(local, real):
            if os.path.isdir(real) and not _in_partition(local, Path(real)):
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
    return [*sorted(set(local_roots(found))), *remote_roots(roots)]


def _in_partition(roots: Sequence[Path], path: Path) -> bool:
    """Whether ``path`` is (inside) a ``run_id=`` partition or a ``by_sample`` tree."""
    root = next(r for r in roots if layout.is_within(r, path))
    parts = path.relative_to(root).parts
    return any(layout.parse_run_partition(p) or p == layout.BY_SAMPLE for p in parts)


def _matches(key: str, pattern: str) -> bool:
    """``key`` matches a part glob segment by segment (``*`` never crosses a ``/``)."""
    names, globs = key.split("/"), pattern.split("/")
    return len(names) == len(globs) and all(map(fnmatch.fnmatchcase, names, globs))


def _list_remote(url: str, out: Files, fs: Any = None) -> None:
    """The parts under an ``s3://`` root, as a directory's are found: listed through the
    seam (confined to the prefix, errors one line), then through ``fs`` once more so its
    listing cache answers DuckDB's opens (sizes, existence) without a request each."""
    from continuum.blobs.storage import open_store

    store = open_store(url)
    keys = store.list()
    if fs is not None and keys:
        _scheme, bucket, prefix = layout.split_object_url(url)
        with contextlib.suppress(Exception):  # a cold cache is slower, not wrong
            getattr(fs, "prime", fs.find)(f"{bucket}/{prefix}" if prefix else bucket)

    def part(key: str) -> Path:
        return ObjectPath(store.location(key))  # type: ignore[return-value]

    copies = {
        k[len(layout.BY_SAMPLE) + 1 :] for k in keys if _matches(k, layout.BY_SAMPLE_PART_GLOB)
    }
    timed = [k for k in keys if _matches(k, layout.FIELD_PART_GLOB)]
    out.by_time += [part(k) for k in timed]
    out.by_sample += [part(f"{layout.BY_SAMPLE}/{k}") for k in sorted(copies)]
    out.by_sample += [part(k) for k in timed if k not in copies]
    out.signals += [part(k) for k in keys if _matches(k, layout.SIGNALS_PART_GLOB)]
    out.ticks += [part(k) for k in keys if _matches(k, layout.TICKS_PART_GLOB)]


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


def list_files(roots: Sequence[Root], dirs: Sequence[Root], warn: Warn, fs: Any = None) -> Files:
    """Every part under ``dirs`` (each inside ``roots``) that may be read; one warning line
    if any was skipped (a symlink leading outside the roots, or not a regular file).
    ``fs``: the filesystem that will read ``s3://`` parts, whose listing cache is filled."""
    out, seen = Files(), set[str]()
    for url in remote_roots(dirs):
        _list_remote(url, out, fs)
    local = local_roots(roots)
    for d in local_roots(dirs):
        copies = _confined(local, d.glob(layout.BY_SAMPLE_PART_GLOB), out.skipped, seen)
        timed = _confined(local, d.glob(layout.FIELD_PART_GLOB), out.skipped, seen)
        have = {p.relative_to(layout.child(d, layout.BY_SAMPLE)) for p in copies}
        out.by_time += timed
        out.by_sample += copies + [p for p in timed if p.relative_to(d) not in have]
        out.signals += _confined(local, d.glob(layout.SIGNALS_PART_GLOB), out.skipped, seen)
        out.ticks += _confined(local, d.glob(layout.TICKS_PART_GLOB), out.skipped, seen)
    if out.skipped:
        more = f" and {len(out.skipped) - 1} more" if len(out.skipped) > 1 else ""
        warn(
            f"skipped {shown(out.skipped[0])}{more}: not a regular file inside the export "
            "dirs (a symlink leading outside them?)"
        )
    return out
