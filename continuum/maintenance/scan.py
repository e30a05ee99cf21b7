"""``catalog scan``: rebuild the catalog's index from checkpoint and lens directories.

The catalog is an index over files; a run written with ``--no-catalog``, into
another catalog, or before the catalog existed, is brought in from what its
directory says: ``manifest.json`` (run identity, seed, lineage, segments) and
each checkpoint file's *header* (tick, sim_time, era, sizes, payload
checksum). Payloads are never decompressed: scanning a terabyte of
checkpoints costs a few KB of reads per file. ``catalog verify`` is the
command that reads payloads.

Decisions:

- Rows get the fields the live recorder writes (``continuum.catalog.imports``):
  path (stored relative to the run directory), bytes_on_disk = file size,
  raw_bytes and checksum from the header, state ``committed``.
- A file whose header is unreadable, or names another tick or run than its
  file name and directory, is recorded as ``corrupt`` (tick from its name,
  sizes from ``stat``) and reported: the catalog then knows the file exists,
  ``verify`` keeps reporting nothing new about it, and retention can delete it.
- A run's status comes from its last manifest segment: ``completed`` and
  ``failed`` as written; one left ``running`` is ``crashed``, unless its
  process is still alive on this host.
- Idempotent: a run already in the catalog only gets missing checkpoint rows
  added and rows whose file differs (path, size or checksum) re-recorded; its
  other fields are the live recorder's and stay as they are, except that a
  missing parent link is filled in once the parent is in the catalog.
- A branch's first segment has no ``resumed_from`` (as the live recorder
  writes it); the lineage lives in ``parent_run_id``/``parent_checkpoint_tick``.
- Identifiers are checked before anything is recorded: a manifest's run id must be a
  run id (:func:`continuum.layout.check_run_id`) and the name of its directory, and a
  parent's run id a run id too; otherwise the directory is skipped with one line naming
  the manifest. A run subdirectory that is a symbolic link is skipped with one line (the
  directory given may itself be a link; nothing below it is followed).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.catalog import (
    Catalog,
    LensScan,
    RunScan,
    ScannedCheckpoint,
    ScannedLens,
    ScannedRun,
    pid_alive,
)
from continuum.catalog.db import utcnow
from continuum.catalog.records import SEGMENT_STATUSES, _Record
from continuum.checkpoint import Manifest, checkpoint_files, inspect_checkpoint
from continuum.errors import CatalogError, CheckpointError, LayoutError
from continuum.maintenance._lens_scan import is_lens_dir, read_lens_dir, record_lens_gaps


@dataclass(frozen=True, slots=True)
class ScanReport(_Record):
    """The result of :func:`scan`: one entry per run directory, plus warnings."""

    runs: tuple[RunScan, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    lens_runs: tuple[LensScan, ...] = ()


def find_run_dirs(root: Path, warnings: list[str] | None = None) -> list[Path]:
    """``root`` itself if it is a run directory (checkpoints or lens), else its run
    subdirectories (a subdirectory that is a symbolic link is skipped, with a warning)."""
    if not root.is_dir():
        raise CatalogError(
            f"{root}: no such directory; expected a checkpoint directory or one run's directory"
        )
    if _is_run_dir(root):
        return [root]
    found = []
    for p in sorted(root.iterdir()):
        if p.is_symlink():
            if p.is_dir() and warnings is not None:
                warnings.append(
                    f"skipped {p}: a symbolic link; Continuum does not follow links below {root}"
                )
            continue
        if p.is_dir() and _is_run_dir(p):
            found.append(p)
    if not found and not warnings:
        raise CatalogError(
            f"{root} is not a checkpoint directory: "
            f"no {layout.MANIFEST} in it or in its subdirectories"
        )
    return found


def _is_run_dir(path: Path) -> bool:
    return layout.manifest_path(path).is_file() or is_lens_dir(path)


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def read_checkpoint_file(path: Path, run_id: str) -> ScannedCheckpoint:
    """The row for one file, from its header; a bad header gives a ``corrupt`` row."""
    tick = layout.checkpoint_tick(path.name)
    assert tick is not None, path  # callers pass names from checkpoint_files()
    size = path.stat().st_size
    bad = ScannedCheckpoint(tick, str(path), size, 0.0, None, None, None, _mtime(path))
    try:
        h = inspect_checkpoint(path)
    except CheckpointError as exc:
        return replace(bad, problem=str(exc).splitlines()[0])
    if h.tick != tick or h.identity.run_id != run_id:
        where = f"tick {h.tick} of run {h.identity.run_id}"
        return replace(bad, problem=f"{path}: header says {where}, its name and directory do not")
    created = _when(h.created_at) or _mtime(path)
    return ScannedCheckpoint(
        tick, str(path), size, h.sim_time, h.era, h.raw_bytes, h.payload_checksum, created
    )


def _segment_status(status: Any, host: Any, pid: Any) -> str:
    if status == "running" and host == socket.gethostname() and isinstance(pid, int):
        return "running" if pid_alive(pid) else "crashed"
    return status if status in SEGMENT_STATUSES and status != "running" else "crashed"


def _segments(data: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
    """``run_segments`` rows (without ids) from the manifest's segment list."""
    rows = []
    for ordinal, seg in enumerate(data.get("segments") or [], start=1):
        resumed = seg.get("resumed_from") if ordinal > 1 else None
        if not isinstance(resumed, str) or layout.checkpoint_tick(resumed) is None:
            resumed = None  # only a checkpoint's file name becomes a path
        status = _segment_status(seg.get("status"), seg.get("host"), seg.get("pid"))
        rows.append(
            {
                "ordinal": ordinal,
                "resumed_from_tick": layout.checkpoint_tick(resumed) if resumed else None,
                "resumed_from_path": str(layout.child(run_dir, resumed)) if resumed else None,
                "start_tick": int(seg.get("start_tick", 0)),
                "end_tick": seg.get("end_tick"),
                "status": status,
                "host": seg.get("host"),
                "pid": seg.get("pid"),
                "started_at": _when(seg.get("started_at"))
                or _when(data.get("updated_at"))
                or utcnow(),
                "ended_at": None if status == "running" else _when(seg.get("ended_at")),
            }
        )
    return rows


def read_run_dir(run_dir: Path) -> ScannedRun:
    """Everything ``scan`` records for one run directory; ``CheckpointError`` if unusable."""
    run_dir = run_dir.resolve()
    data = Manifest.load(run_dir).data
    run_id = _manifest_run_id(data, run_dir)
    try:
        files = [read_checkpoint_file(p, run_id) for p in checkpoint_files(run_dir)]
        return _scanned_run(data, run_dir, files)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{layout.manifest_path(run_dir)}: malformed manifest ({exc!r})"
        ) from None


def _manifest_run_id(data: dict[str, Any], run_dir: Path) -> str:
    """The manifest's run id, once it is a run id and its directory's name."""
    where = layout.manifest_path(run_dir)
    grammar = "letters, digits, '_', '.', '-', at most 64, no '..'"
    parent = data.get("parent")
    try:
        run_id = layout.check_run_id(data.get("run_id"))
    except LayoutError:  # the value is not echoed: it is a foreign file's bytes
        raise CheckpointError(f"{where}: its run_id is not a run id ({grammar})") from None
    try:
        if parent is not None:
            layout.check_run_id(parent.get("run_id") if isinstance(parent, dict) else None)
    except LayoutError:
        raise CheckpointError(f"{where}: its parent's run_id is not a run id ({grammar})") from None
    if run_id != run_dir.name:
        raise CheckpointError(
            f"{where}: names run {run_id!r} but its directory is {run_dir.name!r}; "
            "a run directory is named for its run"
        )
    return run_id


def _scanned_run(data: dict[str, Any], run_dir: Path, files: list[ScannedCheckpoint]) -> ScannedRun:
    segs = _segments(data, run_dir)
    ticks = [c.tick for c in files]
    first = segs[0] if segs else {}
    last = segs[-1] if segs else {}
    ends = [s["end_tick"] for s in segs if s["end_tick"] is not None]
    first_tick = first.get("start_tick", min(ticks, default=0))
    done = first.get("end_tick")
    updated = _when(data.get("updated_at")) or _mtime(layout.manifest_path(run_dir))
    run = {
        "run_id": str(data["run_id"]),
        "world": str(data["world"]),
        "ir_hash": str(data["ir_hash"]),
        "scenario": data.get("scenario"),
        "scenario_hash": data.get("scenario_hash"),
        "seed": int(data["seed"]),
        "status": last.get("status", "crashed"),
        "host": last.get("host"),
        "pid": last.get("pid"),
        "heartbeat_at": last.get("ended_at") or updated,
        "started_at": first.get("started_at") or updated,
        "ended_at": last.get("ended_at"),
        "first_tick": first_tick,
        "last_tick": max([first_tick, *ends, *ticks, *(s["start_tick"] for s in segs)]),
        "steps": None if done is None else done - first_tick,
        "checkpoint_dir": str(run_dir),
        "lens_dir": None,
        "dropped_checkpoints": int(data.get("dropped_checkpoints", 0)),
    }
    parent = data.get("parent")
    return ScannedRun(
        run=run,
        world_version=_world_version(files),
        parent=(str(parent["run_id"]), int(parent["tick"])) if parent else None,
        segments=tuple(segs),
        checkpoints=tuple(files),
    )


def _world_version(files: list[ScannedCheckpoint]) -> str | None:
    """The world version from the newest readable header (the manifest lacks it)."""
    for c in reversed(files):
        if c.problem is None:
            try:
                return inspect_checkpoint(Path(c.path)).identity.world_version
            except CheckpointError:
                continue
    return None


def parents_first(scanned: list[ScannedRun]) -> list[ScannedRun]:
    """Order runs so a branch comes after its parent when both are being scanned."""
    by_id = {s.run_id: s for s in scanned}
    out: list[ScannedRun] = []
    seen: set[str] = set()

    def visit(s: ScannedRun, depth: int = 0) -> None:
        if s.run_id in seen:
            return
        seen.add(s.run_id)
        if s.parent and s.parent[0] in by_id and depth < len(by_id):
            visit(by_id[s.parent[0]], depth + 1)
        out.append(s)

    for s in scanned:
        visit(s)
    return out


def scan(
    catalog: Catalog,
    directory: str | Path,
    *,
    on_dir: Callable[[int, int], None] | None = None,
) -> ScanReport:
    """Index every run under ``directory``: a checkpoint or lens root, or one run's
    directory. Checkpoint directories first, so a lens directory finds its run.
    ``on_dir(done, total)``: called before the first run directory is read and after each
    (a progress bar's feed)."""
    warnings: list[str] = []
    scanned: list[ScannedRun] = []
    lenses: list[ScannedLens] = []
    run_dirs = find_run_dirs(Path(directory), warnings)
    for read, run_dir in enumerate(run_dirs):
        if on_dir is not None:
            on_dir(read, len(run_dirs))
        if is_lens_dir(run_dir):
            found = read_lens_dir(run_dir, warnings)
            lenses += [found] if found else []
            continue
        try:
            scanned.append(read_run_dir(run_dir))
        except CheckpointError as exc:
            warnings.append(f"skipped {run_dir}: {exc}")
    if on_dir is not None:
        on_dir(len(run_dirs), len(run_dirs))
    results = [catalog.imports.run(s, warnings) for s in parents_first(scanned)]
    lens_results = [catalog.imports.lens(s, warnings) for s in lenses]
    for s, done in zip(lenses, lens_results):
        if done.action != "skipped":
            record_lens_gaps(catalog, s.run_id, Path(s.lens_dir), warnings)
    return ScanReport(tuple(results), tuple(warnings), tuple(lens_results))
