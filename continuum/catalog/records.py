"""Plain, frozen values the catalog hands to callers.

ORM rows never leave ``continuum.catalog``: every operation returns one of
these, so a caller cannot trigger lazy loads or hold a session open by accident.
``to_dict()`` gives the JSON shape the CLI prints (timestamps as ISO 8601 UTC).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from continuum.errors import InvalidFilterError

#: ``stopped``: ended on purpose by SIGINT/SIGTERM after a whole tick, its final checkpoint
#: written (revision 0007); resumable, and its range is settled like a completed run's.
RUN_STATUSES = ("running", "completed", "failed", "crashed", "stopped")
SEGMENT_STATUSES = RUN_STATUSES
BLOB_STATES = ("pending", "committed", "deleting", "pruned", "missing", "corrupt")

ParamValue = str | float | int | bool

#: A parameter or tag key: what a ``--param`` filter can name (no spaces, no = < > !).
LABEL_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,199}")
MAX_LABEL_VALUE = 1000  # the catalog's value columns
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")
_INT64 = 2**63


def parse_value(text: str) -> ParamValue:
    """A parameter's value typed by its text: an int, a float, ``true``/``false``
    (any case) as a bool, anything else the string itself.

    Only plain decimal notation is a number (``4``, ``-2.5``, ``1e-3``): ``nan``,
    ``inf``, ``0x10`` and ``1_000`` stay text, and so does an integer past 64 bits,
    which no SQL number column holds exactly.
    """
    if _INT.fullmatch(text) and -_INT64 <= int(text) < _INT64:
        return int(text)
    if _FLOAT.fullmatch(text) and not _INT.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_label(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` of a ``--param``/``--tag`` as (key, value text); one clear
    ``InvalidFilterError`` line for anything else."""
    key, sep, value = text.partition("=")
    shown = repr(text[:80])
    if not sep:
        raise InvalidFilterError(f"{option} {shown}: expected KEY=VALUE, e.g. {option} k=4")
    if not LABEL_KEY.fullmatch(key):
        raise InvalidFilterError(
            f"{option} {shown}: the key must start with a letter or '_' and hold only "
            "letters, digits and _ . : / - (at most 200), e.g. k or thermal.k"
        )
    if not value:
        raise InvalidFilterError(f"{option} {shown}: give a value after '=' ({key}=VALUE)")
    if len(value) > MAX_LABEL_VALUE or not value.isprintable():
        raise InvalidFilterError(
            f"{option} {key}=...: the value must be printable text of at most "
            f"{MAX_LABEL_VALUE} characters"
        )
    return key, value


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
    #: the live run's control socket (revision 0009), None when it is not live
    control_path: str | None = None
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
