"""Which lens data a lens command reads: the one home of how its arguments are resolved.

``query``, ``history``, ``plot`` and ``compact`` read a lens run dir
(:func:`lens_run_dir`); ``load`` and ``export`` read a run dir or one ``.lens`` file
(:func:`lens_source`). The rules, written down here because the persistence document
only shows its commands (``continuum lens query atmosphere.temperature --tick 5000
--position 0,0,1``, ``continuum lens load ./terra-lens/lens_snapshot_full.lens``):

- ``--lens-dir D`` is a run's lens dir, or a lens root holding run dirs; ``--run ID``
  picks one of a root's runs. A root with several runs and no ``--run`` means its
  **newest** run.
- Neither: the newest run the catalog records with a lens dir that exists on this host
  (the catalog's order: most recently started first, as ``catalog list`` shows), then
  ``./lens`` (its newest run); ``--run ID`` alone: that run's lens dir in the catalog.
- ``PATH`` (``load``, ``export``): a ``.lens`` file; a lens run dir; a lens root (its
  newest run); a run id (its lens dir in the catalog). No ``PATH``: as with neither above.
- A missing ``.../lens_snapshot_full.lens``: the document writes runs under
  ``./terra-lens/{run_id}/`` and then names ``./terra-lens/lens_snapshot_full.lens``, a
  file directly under the lens root that no run writes. So a missing full snapshot under
  a lens root means that root's newest run: its ``lens_snapshot_full.lens`` if it was
  written (``--lens-full``, ``lens compact``), else the run dir (all its chunks, the same
  frames). Under a run dir without one, that run dir. Either way one stderr line says so.

"Newest" in a lens root, without the catalog: the run whose lens manifest records the
latest start (its first segment's ``started_at``, the run's own clock), then the greater
run id; a run dir without a readable manifest ranks last. Whenever a command reads a run
it was not named exactly (a root's newest, the catalog's newest, a substitute for a
missing file), one line on stderr names the run and why, so stdout stays data.

The catalog is only asked when one exists: a lens command on a fresh install does not
create the default catalog file as a side effect.

Object storage: ``--lens-dir`` and ``PATH`` may be ``s3://bucket/prefix`` (a lens root,
a run's lens dir, or one ``.lens`` object), and a run the catalog records with an
``s3://`` lens dir is read there. Such a location is read through a local *view* of its
names whose bytes are fetched by range (:mod:`continuum.lens.remote`); every rule above
then applies to the view as to a directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from continuum import layout
from continuum.cli._output import catalog_files, check_catalog, echo
from continuum.errors import ContinuumError, LensError

#: Where lens data is looked for last (``continuum run``'s default ``--lens-dir``).
DEFAULT_LENS_DIR = Path("lens")
FULL_NAME = "lens_snapshot_full.lens"  # continuum.layout.LENS_FULL_NAME (layout: no click)
#: Runs read from the catalog per query while looking for the newest with a lens dir.
PAGE = 200
#: ``catalog_url`` default: ``$CONTINUUM_CATALOG`` or the default file, checked when asked.
FROM_ENV = "$CONTINUUM_CATALOG"


class Location(click.ParamType):
    """A local path (a ``Path``) or an ``s3://bucket/prefix`` URL (kept a ``str``: a
    ``Path`` would fold its ``//``)."""

    name = "path|s3://bucket/prefix"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | str:
        if isinstance(value, Path):
            return value
        text = str(value)
        if not layout.is_object_url(text):
            return Path(text)
        try:
            layout.split_object_url(text)
        except ContinuumError as exc:
            self.fail(str(exc), param, ctx)
        return text.rstrip("/")


#: ``--lens-dir`` and a lens command's ``PATH``
LOCATION = Location()


def local(location: Path | str | None) -> Path | None:
    """``location`` as a local path: an ``s3://`` location becomes its view (module doc);
    a URL naming one ``.lens`` object, that placeholder in the view of its prefix."""
    if location is None or isinstance(location, Path):
        return location
    if not layout.is_object_url(location):
        return Path(location)
    from continuum.lens.remote import remote_path

    return remote_path(location)


@dataclass(frozen=True)
class LensSource:
    """What ``load``/``export`` read: a run dir, or one ``.lens`` file in it."""

    run_dir: Path
    file: Path | None = None


def lens_dir_of(run_id: str, catalog_url: str | None) -> str | None:
    """The lens dir the catalog recorded for ``run_id`` (None: it captured no lens data)."""
    from continuum.catalog import Catalog

    with Catalog(catalog_url) as cat:
        return cat.runs.get(run_id).lens_dir


def note(text: str) -> None:
    """Which run a command reads, on stderr (stdout stays the command's data)."""
    echo(f"note: {text}", err=True)


def lens_run_dir(
    location: Path | str | None, run_id: str | None, catalog_url: str | None = FROM_ENV
) -> Path:
    """The lens run dir of ``--lens-dir D [--run ID]`` (module doc)."""
    from continuum.lens import resolve_run_dir

    lens_dir = local(location)
    if lens_dir is not None:
        if run_id is not None:
            return resolve_run_dir(lens_dir, run_id)
        return _in_root(lens_dir)
    if run_id is not None:
        return resolve_run_dir(_catalog_lens_dir(run_id, _url(catalog_url)))
    return _newest_anywhere(_url(catalog_url))


def lens_source(
    location: Path | str | None, run_id: str | None, catalog_url: str | None = FROM_ENV
) -> LensSource:
    """What ``load``/``export PATH [--run ID]`` read (module doc)."""
    path = local(location)
    if path is None or run_id is not None:
        return LensSource(lens_run_dir(path, run_id, catalog_url))
    if path.is_file():
        return LensSource(path.parent, path)
    if path.is_dir():
        return LensSource(_in_root(path))
    if path.name == FULL_NAME and path.parent.is_dir():
        return _missing_full(path)
    if _is_run_id(str(path)):
        return LensSource(lens_run_dir(None, str(path), catalog_url))
    raise LensError(
        f"{path} does not exist (expected a .lens file, a lens run dir, a lens root or a run id)"
    )


def _missing_full(path: Path) -> LensSource:
    """A ``lens_snapshot_full.lens`` that is not there (module doc)."""
    from continuum.lens.manifest import is_lens_run_dir

    parent = path.parent
    run_dir = parent if is_lens_run_dir(parent) else _in_root(parent, quiet=True)
    full = run_dir / FULL_NAME
    if full.is_file():
        note(f"{path} does not exist; reading {full}, the full snapshot of run {run_dir.name}")
        return LensSource(run_dir, full)
    why = "the newest run under " + str(parent) if run_dir != parent else "its run dir"
    note(
        f"{path} does not exist and run {run_dir.name} wrote no full snapshot; reading all "
        f"its chunks in {run_dir} ({why})"
    )
    return LensSource(run_dir)


def _in_root(lens_dir: Path, quiet: bool = False) -> Path:
    """``lens_dir`` itself if it is a run's lens dir, else its newest run (said on stderr)."""
    from continuum.lens import resolve_run_dir
    from continuum.lens.manifest import is_lens_run_dir

    if not lens_dir.is_dir() or is_lens_run_dir(lens_dir):
        return resolve_run_dir(lens_dir)  # its own errors: missing, not lens data
    runs = sorted((p for p in lens_dir.iterdir() if is_lens_run_dir(p)), key=_started)
    if len(runs) <= 1:
        return resolve_run_dir(lens_dir)
    if not quiet:
        note(
            f"reading run {runs[-1].name}, the newest of {len(runs)} runs under {lens_dir} "
            "(--run ID picks another)"
        )
    return runs[-1]


def _started(run_dir: Path) -> tuple[int, str, str]:
    """Rank of a run in a lens root: its manifest's first start, then its id."""
    from continuum.lens import LensManifest

    try:
        doc = LensManifest.read(run_dir) or {}
    except LensError:  # unreadable: ranks last (and its own commands say why)
        doc = {}
    segments = doc.get("segments") or [{}]
    started = segments[0].get("started_at") if isinstance(segments[0], dict) else None
    if isinstance(started, str):
        return (1, started, run_dir.name)
    return (0, "", run_dir.name)


def _url(catalog_url: str | None) -> str | None:
    return check_catalog(None) if catalog_url == FROM_ENV else catalog_url


def _catalog_lens_dir(run_id: str, url: str | None) -> Path:
    """``--run ID`` alone: the run's lens dir as the catalog recorded it."""
    if not _catalog_exists(url):
        raise LensError(f"no catalog to find run {run_id} in; pass --lens-dir DIR")
    lens_dir = lens_dir_of(run_id, url)  # an unknown run: the catalog's own error
    if lens_dir is None:
        raise LensError(f"run {run_id} captured no lens data (it ran without --lens-dir)")
    found = local(lens_dir)
    assert found is not None
    return found


def _newest_anywhere(url: str | None) -> Path:
    """No ``--lens-dir`` and no ``--run``: the catalog's newest lens run, then ``./lens``."""
    found = _catalog_newest(url) if _catalog_exists(url) else None
    if found is not None:
        run_id, lens_dir = found
        note(f"reading run {run_id}, the newest run with lens data in the catalog ({lens_dir})")
        return lens_dir
    if DEFAULT_LENS_DIR.is_dir():
        run_dir = _in_root(DEFAULT_LENS_DIR, quiet=True)
        note(f"reading run {run_dir.name} in ./{DEFAULT_LENS_DIR} (none in the catalog)")
        return run_dir
    raise LensError(
        "no lens data found: the catalog records no run with a lens dir on this host and "
        f"./{DEFAULT_LENS_DIR} does not exist; pass --lens-dir DIR (or a run's lens dir)"
    )


def _catalog_newest(url: str | None) -> tuple[str, Path] | None:
    """The most recently started run whose recorded lens dir exists here."""
    from continuum.catalog import Catalog
    from continuum.lens.manifest import is_lens_run_dir

    with Catalog(url) as cat:
        after = None
        while True:
            page = cat.search.list(limit=PAGE, after=after)
            for run in page.runs:
                if run.lens_dir and layout.is_object_url(run.lens_dir):  # any host reaches it
                    found = local(run.lens_dir)
                    assert found is not None
                    return run.run_id, found
                if run.lens_dir and is_lens_run_dir(Path(run.lens_dir)):
                    return run.run_id, Path(run.lens_dir)
            if page.next_cursor is None:
                return None
            after = page.next_cursor


def _catalog_exists(url: str | None) -> bool:
    """False for a SQLite catalog whose file is not there yet (asking would create it)."""
    files = catalog_files(url)
    return not files or files[0].is_file()


def _is_run_id(text: str) -> bool:
    return os.sep not in text and layout.is_run_id(text)
