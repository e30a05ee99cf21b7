"""Checkpoint files: State <-> ``.ckpt`` bytes, and the header-only inspect.

A checkpoint is a blob container of kind ``CKPT`` (see ``continuum.blobs``):
magic + version, a checksummed JSON header readable without decompressing
anything, zstd frames of raw little-endian arrays, a payload checksum. The
header's ``meta`` holds what resume validates and ``inspect`` prints:

    format_version, world, world_version, ir_hash, scenario, scenario_hash,
    run_id, created_at, state {tick, sim_time, era, seed, counters, counts},
    eras {name: {dt, strata}}, strata {name: stride},
    schema {name: {type, entity}}

Arrays are ``cur/NAME`` and ``prev/NAME`` for every signal and member. Nothing
in a checkpoint depends on an absolute path or the host's byte order.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from continuum.blobs import ContainerInfo, ContainerReader, read_header, write_container
from continuum.errors import CheckpointCorruptError, CheckpointError, CheckpointNotFoundError
from continuum.runtime import State
from continuum.runtime.state import CURRENT, PREVIOUS
from continuum.world import Program, ir_hash

KIND = b"CKPT"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RunIdentity:
    """What every checkpoint of a run says about where it came from."""

    run_id: str
    world: str
    world_version: str
    ir_hash: str
    scenario: str
    scenario_hash: str
    eras: dict[str, Any]
    strata: dict[str, int]
    schema: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, program: Program, run_id: str) -> RunIdentity:
        ir = program.ir
        return cls(
            run_id=run_id,
            world=ir.name,
            world_version=ir.version,
            ir_hash=ir_hash(ir),
            scenario=program.scenario.name,
            scenario_hash=program.scenario.hash,
            eras={e.name: {"dt": e.dt, "strata": dict(e.strata)} for e in ir.eras},
            strata={s.name: s.stride for s in ir.strata},
            schema={
                d.signal.name: {"type": d.signal.type, "entity": d.signal.entity}
                for d in program.declarations
            },
        )


@dataclass(frozen=True)
class CheckpointHeader:
    """Everything ``checkpoint inspect`` shows, read without decompressing the payload."""

    path: Path
    identity: RunIdentity
    tick: int
    sim_time: float
    era: str
    seed: int
    counts: dict[str, int]
    created_at: str
    raw_bytes: int
    disk_bytes: int
    payload_checksum: str
    array_shapes: dict[str, tuple[int, ...]]

    @property
    def compression_ratio(self) -> float:
        return self.raw_bytes / self.disk_bytes if self.disk_bytes else 0.0


def write_checkpoint(
    path: Path, state: State, identity: RunIdentity, level: int = 3
) -> ContainerInfo:
    """Write ``state`` atomically to ``path`` (temp, fsync, rename, fsync dir).

    A signal that did not run in the last tick has ``previous is current``;
    such arrays are stored once and listed under ``aliases``, which halves
    the payload of ticks where the big per-cell strata were idle.
    """
    arrays = state.arrays()
    aliases = {}
    for name, array in state.previous.items():
        if array is state.current.get(name):
            aliases[PREVIOUS + name] = CURRENT + name
            del arrays[PREVIOUS + name]
    meta = {
        "format_version": FORMAT_VERSION,
        **dataclasses.asdict(identity),
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "state": state.meta(),
        "aliases": aliases,
    }
    return write_container(path, KIND, meta, arrays, level=level)


def inspect_checkpoint(path: Path) -> CheckpointHeader:
    """Read and check the header only (a few KB), never the payload."""
    _must_exist(path)
    with _readable(path):
        header = read_header(path, KIND, error_cls=CheckpointCorruptError)
    return _parse_header(path, header)


def read_checkpoint(path: Path) -> tuple[CheckpointHeader, State]:
    """Read, verify every checksum and rebuild the State; any defect is an error."""
    _must_exist(path)
    with _readable(path), ContainerReader(path, KIND, error_cls=CheckpointCorruptError) as reader:
        parsed = _parse_header(path, reader.header)
        arrays = reader.read_all()
    meta = reader.header.meta
    try:
        for alias, target in meta.get("aliases", {}).items():
            arrays[alias] = arrays[target]
        for array in arrays.values():
            array.flags.writeable = False  # State arrays are immutable: no copy needed
        state = State.from_parts(meta["state"], arrays)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointCorruptError(f"{path}: state section is malformed ({exc})") from None
    _check_complete(path, parsed, state)
    return parsed, state


def _must_exist(path: Path) -> None:
    if Path(path).is_dir():
        raise CheckpointNotFoundError(f"{path} is a directory, not a checkpoint file")
    if not Path(path).is_file():
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file")


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _parse_header(path: Path, header: Any) -> CheckpointHeader:
    meta = header.meta
    try:
        if meta["format_version"] != FORMAT_VERSION:
            raise CheckpointCorruptError(
                f"{path}: checkpoint format v{meta['format_version']} is not readable by this "
                f"build (reads v{FORMAT_VERSION}); use the Continuum version that wrote it"
            )
        fields = {k: meta[k] for k in RunIdentity.__dataclass_fields__}
        state = meta["state"]
        return CheckpointHeader(
            path=Path(path),
            identity=RunIdentity(**fields),
            tick=int(state["tick"]),
            sim_time=float(state["sim_time"]),
            era=str(state["era"]),
            seed=int(state["seed"]),
            counts={str(k): int(v) for k, v in state["counts"].items()},
            created_at=str(meta["created_at"]),
            raw_bytes=header.raw_bytes,
            disk_bytes=header.file_size,
            payload_checksum=header.payload_checksum,
            array_shapes={e.name: tuple(e.shape) for e in header.layout},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointCorruptError(
            f"{path}: not a complete checkpoint header (missing or bad {exc}); "
            "the file may come from another tool"
        ) from None


def _check_complete(path: Path, header: CheckpointHeader, state: State) -> None:
    names = set(header.identity.schema)
    if set(state.current) != names or set(state.previous) != names:
        raise CheckpointCorruptError(f"{path}: arrays do not match the header's schema")


def age_seconds(created_at: str) -> float:
    """Seconds since an ISO timestamp written by ``write_checkpoint``."""
    try:
        return max(0.0, time.time() - datetime.fromisoformat(created_at).timestamp())
    except ValueError:
        return float("nan")
