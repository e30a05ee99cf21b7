"""A lens dataset as one netCDF-4 file or one Zarr store, written window by window.

``continuum lens export --format netcdf|zarr --output PATH`` (and the Python
:func:`export_dataset`) write the dataset :func:`continuum.lens.open_dataset` gives —
variables, coordinates, CF attributes, the topology written out in the global attributes
(:func:`continuum.lens.dataset.topology_attrs`) — through xarray's own writers, so the
files are what ``Dataset.to_netcdf`` / ``to_zarr`` make of it and any netCDF4, h5netcdf
or zarr-python reader reads them back.

Decisions, since the design names only the formats:

- **Window by window**: one chunk window of every field is loaded at a time (the windows
  the writer sized to fit memory), never a whole field's history; with or without dask.
  netCDF: xarray writes the file's structure (``tick`` unlimited), then each window's
  rows are written into it through h5netcdf; Zarr: the first window makes the store
  (``mode="w-"``), the others are appended along ``tick``.
- **Compression**: netCDF zlib level 1 with byte shuffle (what every netCDF-4 reader can
  decode; level 1 for the writer's speed, as the chunks use zstd level 1); Zarr its
  default codecs (zstd). Chunked on disk by window along ``tick`` and by values tile
  along ``sample``, as the lens reads them.
- **Atomic**: written under a temporary name beside ``PATH`` and renamed over it when
  complete (a Zarr directory replaces an older Zarr store at ``PATH``: the old one is
  renamed aside first, then removed); a crash leaves the old file or the new, and at
  worst a temporary that ``continuum catalog verify`` reports like any other.
- **Catalog**: not recorded (the catalog's exports are Parquet part trees that
  ``lens sql`` reads; neither file is one).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from continuum import layout
from continuum.blobs import commit_file, fsync_dir, fsync_file
from continuum.errors import LensError

if TYPE_CHECKING:
    import xarray as xr

FORMATS = ("netcdf", "zarr")
#: netCDF compression: zlib level 1, byte-shuffled (readable by every netCDF-4 library)
NETCDF_LEVEL = 1


@dataclass(frozen=True)
class Exported:
    """What :func:`export_dataset` wrote."""

    path: Path
    format: str
    frames: int
    fields: tuple[str, ...]
    bytes: int


def export_dataset(
    ds: xr.Dataset,
    output: Path | str,
    fmt: str,
    *,
    on_window: Callable[[int, int], None] | None = None,
) -> Exported:
    """Write ``ds`` (a lens dataset) to ``output`` as ``fmt`` (``netcdf`` | ``zarr``);
    ``on_window(done, total)`` follows the windows written."""
    if fmt not in FORMATS:
        raise LensError(f"Expected a format in {list(FORMATS)}, got {fmt!r} instead")
    output = Path(output)
    windows = _windows(ds)
    write = _write_netcdf if fmt == "netcdf" else _write_zarr
    write(ds, output, windows, on_window or (lambda done, total: None))
    fields = tuple(str(n) for n in ds.data_vars)
    return Exported(output, fmt, int(ds.sizes.get("tick", 0)), fields, _size(output))


def _windows(ds: xr.Dataset) -> list[tuple[int, int]]:
    """[a, b) positions along ``tick`` of the chunk windows (the lens's preferred chunks)."""
    n = int(ds.sizes.get("tick", 0))
    sizes: Any = None
    for var in ds.data_vars.values():
        sizes = var.encoding.get("preferred_chunks", {}).get("tick")
        if sizes is not None:
            break
    if isinstance(sizes, int) and sizes > 0:
        sizes = [sizes] * -(-n // sizes)
    if not sizes or sum(sizes) != n:
        sizes = [1000] * -(-n // 1000)
    out, at = [], 0
    for size in sizes:
        if at >= n:
            break
        out.append((at, min(at + int(size), n)))
        at += int(size)
    return out


def _chunking(ds: xr.Dataset, windows: list[tuple[int, int]]) -> dict[str, tuple[int, ...]]:
    """On-disk chunk shape of each variable along ``tick``: the longest window; along
    the sample axis: the values tile."""
    longest = max((b - a for a, b in windows), default=1)
    out = {}
    for name, var in ds.variables.items():
        if not var.dims or var.dims[0] != "tick":
            continue
        shape = [longest]
        preferred = var.encoding.get("preferred_chunks", {})
        for dim in var.dims[1:]:
            tile = preferred.get(dim)
            shape.append(int(tile) if isinstance(tile, int) else int(var.sizes[dim]))
        out[str(name)] = tuple(shape)
    return out


def _write_netcdf(
    ds: xr.Dataset,
    output: Path,
    windows: list[tuple[int, int]],
    on_window: Callable[[int, int], None],
) -> None:
    import h5netcdf

    tmp = layout.temp_path(output)
    encoding: dict[str, dict[str, Any]] = {}
    for name, chunks in _chunking(ds, windows).items():
        encoding[name] = {"chunksizes": chunks}
        if ds[name].dtype.kind == "f":
            encoding[name].update(zlib=True, complevel=NETCDF_LEVEL, shuffle=True)
    try:
        _clean(ds.isel(tick=slice(0, 0))).to_netcdf(
            tmp, engine="h5netcdf", unlimited_dims=["tick"], encoding=encoding
        )
        on_window(0, len(windows))
        with h5netcdf.File(tmp, "a") as f:
            f.resize_dimension("tick", int(ds.sizes.get("tick", 0)))
            for done, (a, b) in enumerate(windows, 1):
                part = ds.isel(tick=slice(a, b)).load()
                for key, var in part.variables.items():
                    if var.dims and var.dims[0] == "tick":
                        f.variables[str(key)][a:b, ...] = var.values
                on_window(done, len(windows))
        commit_file(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_zarr(
    ds: xr.Dataset,
    output: Path,
    windows: list[tuple[int, int]],
    on_window: Callable[[int, int], None],
) -> None:
    if output.exists() and not _is_zarr(output):
        raise LensError(
            f"--output {output} exists and is not a Zarr store, so it is not replaced; "
            "name a new path"
        )
    tmp = layout.temp_path(output)
    encoding = {name: {"chunks": chunks} for name, chunks in _chunking(ds, windows).items()}
    try:
        with warnings.catch_warnings():
            # consolidated metadata (what xarray reads first) is outside the Zarr 3 spec;
            # every array's own zarr.json is written too, so other readers need none of it
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            _append_windows(ds, tmp, windows, encoding, on_window)
        _sync_tree(tmp)
        _replace_dir(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _append_windows(
    ds: xr.Dataset,
    tmp: Path,
    windows: list[tuple[int, int]],
    encoding: dict[str, dict[str, Any]],
    on_window: Callable[[int, int], None],
) -> None:
    """The first window makes the store, each next one is appended along ``tick``."""
    on_window(0, len(windows))
    if not windows:
        _clean(ds).load().to_zarr(tmp, mode="w-", encoding=encoding, consolidated=True)
    for done, (a, b) in enumerate(windows, 1):
        part = _clean(ds.isel(tick=slice(a, b))).load()
        if done == 1:
            part.to_zarr(tmp, mode="w-", encoding=encoding, consolidated=True)
        else:
            part.to_zarr(tmp, append_dim="tick", consolidated=True)
        on_window(done, len(windows))


def _clean(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without the read-side encoding (preferred chunks, dask chunk sizes) that a
    writer would take for its own."""
    out = ds.copy()
    for var in out.variables.values():
        var.encoding = {k: v for k, v in var.encoding.items() if k in ("dtype",)}
    return out


def _is_zarr(path: Path) -> bool:
    return path.is_dir() and ((path / "zarr.json").is_file() or (path / ".zgroup").is_file())


def _sync_tree(root: Path) -> None:
    for parent, _dirs, files in os.walk(root):
        for name in files:
            fsync_file(Path(parent) / name)
        fsync_dir(parent)


def _replace_dir(tmp: Path, output: Path) -> None:
    """Rename the finished store ``tmp`` to ``output`` (an older store renamed aside first,
    then removed), then sync the parent directory."""
    old = None
    if output.exists():
        old = layout.temp_path(output.with_name(output.name + ".old"))
        os.replace(output, old)
    os.replace(tmp, output)
    fsync_dir(output.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(
        (Path(parent) / name).stat().st_size
        for parent, _d, files in os.walk(path)
        for name in files
    )
