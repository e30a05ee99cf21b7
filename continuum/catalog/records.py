"""Plain, frozen values the catalog hands to callers.

ORM rows never leave ``continuum.catalog``: every operation returns one of
these, so a caller cannot trigger lazy loads or hold a session open by accident.
``to_dict()`` gives the JSON shape the CLI prints (timestamps as ISO 8601 UTC).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

RUN_STATUSES = ("running", "completed", "failed", "crashed")
SEGMENT_STATUSES = RUN_STATUSES
BLOB_STATES = ("pending", "committed", "deleting", "pruned", "missing", "corrupt")

ParamValue = str | float | int | bool


def span_text(start: int | None, end: int | None) -> str:
    """A half-open tick range as every output shows it: ``[start, end)``."""
    return f"[{start}, {end})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready plain data."""
        return _jsonable(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class RunRecord(_Record):
    """One run: world + scenario + seed executed by one or more processes (segments)."""

    run_id: str
    world: str
    ir_hash: str
    seed: int
    status: str
    scenario: str | None
    scenario_hash: str | None
    host: str | None
    pid: int | None
    started_at: datetime
    heartbeat_at: datetime | None
    ended_at: datetime | None
    first_tick: int
    last_tick: int
    steps: int | None
    checkpoint_dir: str | None
    lens_dir: str | None
    parent_run_id: str | None
    parent_checkpoint_tick: int | None
    dropped_checkpoints: int
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SegmentRecord(_Record):
    """One process that advanced a run, from where it started to where it stopped."""

    segment_id: str
    run_id: str
    ordinal: int
    resumed_from_tick: int | None
    resumed_from_path: str | None
    start_tick: int
    end_tick: int | None
    status: str
    host: str | None
    pid: int | None
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class CheckpointRecord(_Record):
    """What the catalog knows about one checkpoint file, without opening it.

    ``path`` is as stored (relative to the run's checkpoint_dir when it lies
    under it); ``resolved_path`` is the path to open.
    """

    checkpoint_id: str
    run_id: str
    tick: int
    sim_time: float
    era: str | None
    path: str
    resolved_path: str
    bytes_on_disk: int
    raw_bytes: int | None
    checksum: str | None
    created_at: datetime
    state: str
    pinned: bool
    segment_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``bytes`` (bytes on disk) is the name the JSON contract promises."""
        return {**_Record.to_dict(self), "bytes": self.bytes_on_disk}  # slots: no bare super()


@dataclass(frozen=True, slots=True)
class LensChunkRecord(_Record):
    """One lens chunk file: the tick range and fields it holds, and how to check it."""

    chunk_id: str
    run_id: str
    start_tick: int
    end_tick: int
    frames: int
    fields: tuple[str, ...]
    path: str
    bytes: int
    checksum: str | None
    state: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ParquetExportRecord(_Record):
    """One lens chunk exported to Parquet under an export root (``path``)."""

    export_id: str
    run_id: str
    fields: tuple[str, ...]
    start_tick: int | None
    end_tick: int | None
    path: str
    rows: int
    bytes: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord(_Record):
    """One entry of the audit log (prunes, deletes, crash detection...)."""

    audit_id: str
    at: datetime
    action: str
    run_id: str | None
    tick: int | None
    path: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class RunPage(_Record):
    """One page of runs, newest first; pass ``next_cursor`` as ``after`` for the next."""

    runs: tuple[RunRecord, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunDetail(_Record):
    """A run with its segments, checkpoints, lens chunks and lineage (``catalog show``)."""

    run: RunRecord
    segments: tuple[SegmentRecord, ...]
    checkpoints: tuple[CheckpointRecord, ...]
    children: tuple[RunRecord, ...]
    lens_chunks: tuple[LensChunkRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Run fields at the top level, then segments, checkpoints and lineage."""
        out = self.run.to_dict()
        out["segments"] = [s.to_dict() for s in self.segments]
        out["checkpoints"] = [c.to_dict() for c in self.checkpoints]
        out["lens_chunks"] = [c.to_dict() for c in self.lens_chunks]
        parent = None
        if self.run.parent_run_id is not None:
            parent = {"run_id": self.run.parent_run_id, "tick": self.run.parent_checkpoint_tick}
        out["lineage"] = {
            "parent": parent,
            "children": [
                {"run_id": c.run_id, "tick": c.parent_checkpoint_tick} for c in self.children
            ],
        }
        return out
