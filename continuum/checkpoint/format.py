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
from typing import Annotated, Any

import msgspec
import numpy as np
from msgspec import Meta

from continuum import layout
from continuum.blobs import (
    ContainerHeader,
    ContainerInfo,
    ContainerReader,
    decode_json,
    read_header,
    write_container,
)
from continuum.errors import CheckpointCorruptError, CheckpointError, CheckpointNotFoundError
from continuum.runtime import State
from continuum.runtime.state import CURRENT, PREVIOUS
from continuum.world import SCALAR, VEC3, Program, ir_hash

KIND = b"CKPT"
FORMAT_VERSION = 1
#: every state array is float64 (``runtime.state.frozen``), stored little-endian
STATE_DTYPE = "<f8"


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
    #: the object (``s3://...``) the bytes were fetched from; ``path`` is then only its
    #: name (``checkpoint_0000001000.ckpt``, under ``{run_id}``): nothing local to open
    url: str | None = None

    @property
    def where(self) -> str:
        """What messages name: the object URL, or the file."""
        return self.url or str(self.path)

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
    meta, arrays = checkpoint_meta(state, identity)
    return write_container(path, KIND, meta, arrays, level=level)


def checkpoint_meta(
    state: State, identity: RunIdentity
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header meta and the arrays of a checkpoint of ``state`` (whatever it is written to)."""
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
    return meta, arrays


def inspect_checkpoint(path: Path) -> CheckpointHeader:
    """Read and check the header only (a few KB), never the payload."""
    _must_exist(path)
    with _readable(path):
        header = read_header(path, KIND, error_cls=CheckpointCorruptError)
    return _parse_header(path, header)


def verify_checkpoint(path: Path) -> CheckpointHeader:
    """The header, after verifying every byte of the payload without keeping it (memory
    stays within one frame, whatever the header declares)."""
    _must_exist(path)
    with _readable(path), ContainerReader(path, KIND, error_cls=CheckpointCorruptError) as reader:
        parsed = _parse_header(path, reader.header)
        reader.verify()
    return parsed


def read_checkpoint(path: Path) -> tuple[CheckpointHeader, State]:
    """Read, verify every checksum and rebuild the State; any defect is an error."""
    _must_exist(path)
    with _readable(path), ContainerReader(path, KIND, error_cls=CheckpointCorruptError) as reader:
        parsed = _parse_header(path, reader.header)
        arrays = reader.read_all()
    return parsed, _rebuild(path, parsed, reader.header.meta, arrays)


def _rebuild(
    where: Path | str, parsed: CheckpointHeader, meta: dict[str, Any], arrays: dict[str, Any]
) -> State:
    """The State of checked arrays (``meta`` already typed and checked by _parse_header)."""
    for alias, target in meta.get("aliases", {}).items():
        arrays[alias] = arrays[target]
    for array in arrays.values():
        array.flags.writeable = False  # State arrays are immutable: no copy needed
    state = State.from_parts(meta["state"], arrays)
    _check_complete(where, parsed, state)
    return state


def inspect_checkpoint_head(head: bytes, size: int, url: str) -> CheckpointHeader:
    """:func:`inspect_checkpoint` of an object of ``size`` bytes from its first bytes
    ``head`` (a ranged GET covering the header): nothing else is fetched."""
    from continuum.blobs.storage import anonymous_file

    with anonymous_file(head, size) as fd:
        header = read_header(url, KIND, error_cls=CheckpointCorruptError, fd=fd)
    return _parse_header(_object_path(url), header, url)


def verify_checkpoint_bytes(data: bytes, url: str) -> CheckpointHeader:
    """:func:`verify_checkpoint` of a checkpoint fetched whole from object storage."""
    with ContainerReader(url, KIND, error_cls=CheckpointCorruptError, data=data) as reader:
        parsed = _parse_header(_object_path(url), reader.header, url)
        reader.verify()
    return parsed


def _object_path(url: str) -> Path:
    """``{run_id}/{name}`` of an object URL: the ``path`` of a header read from it."""
    name = url.rsplit("/", 2)
    return Path(name[-2], name[-1]) if len(name) == 3 else Path(name[-1])


def read_checkpoint_bytes(data: bytes, url: str) -> tuple[CheckpointHeader, State]:
    """:func:`read_checkpoint` of a checkpoint fetched whole from object storage (``url``):
    the same checks (every checksum, every array against the header), in memory."""
    with ContainerReader(url, KIND, error_cls=CheckpointCorruptError, data=data) as reader:
        parsed = _parse_header(_object_path(url), reader.header, url)
        arrays = reader.read_all()
    return parsed, _rebuild(url, parsed, reader.header.meta, arrays)


def _must_exist(path: Path) -> None:
    """A directory or nothing is "not found"; any other non-regular file (a FIFO, a
    device) is refused by the container reader, which opens without blocking."""
    if Path(path).is_dir():
        raise CheckpointNotFoundError(f"{path} is a directory, not a checkpoint file")
    if not Path(path).exists():
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file")


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None


# -- reading: the header's meta, typed at the boundary -------------------------------------

_Count = Annotated[int, Meta(ge=0, le=1 << 62)]
_Hex64 = Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]
#: Era, stratum and entity names: one bounded line of printable text (the world's own
#: grammar applies on resume, where each must be one the world declares).
_Label = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]
#: A scenario's name (a name under the world's ``scenarios/``, or a TOML file's
#: ``[scenario] name``): printable, no path separator, not ``.`` or ``..``.
_ScenarioName = Annotated[
    str, Meta(min_length=1, max_length=200, pattern=r"^(?!\.{1,2}$)[^/\\\x00-\x1f\x7f-\x9f]+$")
]
_SignalName = Annotated[str, Meta(max_length=200, pattern=layout.DOTTED_NAME_RE.pattern)]
_RunId = Annotated[str, Meta(pattern=layout.RUN_ID_RE.pattern)]
_Finite = Annotated[float, Meta(ge=-1.7976931348623157e308, le=1.7976931348623157e308)]


class _EraDoc(msgspec.Struct):
    dt: _Finite
    strata: dict[_Label, Annotated[str, Meta(pattern="^(active|gated)$")]]


class _SchemaDoc(msgspec.Struct):
    type: Annotated[str, Meta(pattern=f"^({SCALAR}|{VEC3})$")]
    entity: _Label | None


class _StateDoc(msgspec.Struct):
    tick: _Count
    sim_time: _Finite
    era: _Label
    seed: Annotated[int, Meta(ge=0)]
    counters: dict[_Label, _Count]
    counts: dict[_Label, _Count]


class _MetaDoc(msgspec.Struct):
    format_version: Annotated[int, Meta(ge=1)]
    run_id: _RunId
    world: _Label
    world_version: Annotated[str, Meta(max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
    ir_hash: _Hex64
    scenario: _ScenarioName
    scenario_hash: _Hex64
    eras: dict[_Label, _EraDoc]
    strata: dict[_Label, Annotated[int, Meta(ge=1, le=1 << 62)]]
    schema: dict[_SignalName, _SchemaDoc]
    created_at: Annotated[str, Meta(max_length=64, pattern=r"^[0-9T:.+\-Z ]+$")]
    state: _StateDoc
    aliases: dict[Annotated[str, Meta(max_length=256)], Annotated[str, Meta(max_length=256)]] = {}


_META_DECODER = msgspec.json.Decoder(_MetaDoc)


def _decode_meta(path: Path | str, header: ContainerHeader) -> _MetaDoc:
    """The checkpoint meta, typed; a newer format is named as such, not as corruption."""
    version = header.meta.get("format_version")
    if type(version) is int and version > FORMAT_VERSION:
        raise CheckpointCorruptError(
            f"{path}: checkpoint format v{version} is not readable by this "
            f"build (reads v{FORMAT_VERSION}); use the Continuum version that wrote it"
        )
    doc = decode_json(
        header.meta_json, _META_DECODER, str(path), "checkpoint header", CheckpointCorruptError
    )
    if doc.format_version != FORMAT_VERSION:
        raise CheckpointCorruptError(
            f"{path}: checkpoint format v{doc.format_version} is not readable by this "
            f"build (reads v{FORMAT_VERSION})"
        )
    return doc


def _parse_header(path: Path, header: ContainerHeader, url: str | None = None) -> CheckpointHeader:
    where = url or path  # what messages name: the file, or the object it was fetched from
    doc = _decode_meta(where, header)
    _check_meta(where, doc)
    _check_layout(where, doc, header)
    identity = RunIdentity(
        run_id=doc.run_id,
        world=doc.world,
        world_version=doc.world_version,
        ir_hash=doc.ir_hash,
        scenario=doc.scenario,
        scenario_hash=doc.scenario_hash,
        eras={n: {"dt": e.dt, "strata": dict(e.strata)} for n, e in doc.eras.items()},
        strata=dict(doc.strata),
        schema={n: {"type": s.type, "entity": s.entity} for n, s in doc.schema.items()},
    )
    st = doc.state
    return CheckpointHeader(
        path=Path(path),
        url=url,
        identity=identity,
        tick=st.tick,
        sim_time=st.sim_time,
        era=st.era,
        seed=st.seed,
        counts=dict(st.counts),
        created_at=doc.created_at,
        raw_bytes=header.raw_bytes,
        disk_bytes=header.file_size,
        payload_checksum=header.payload_checksum,
        array_shapes={e.name: tuple(e.shape) for e in header.layout},
    )


def _corrupt(path: Path | str, what: str) -> CheckpointCorruptError:
    return CheckpointCorruptError(f"{path}: inconsistent checkpoint header: {what}")


def _check_meta(path: Path | str, doc: _MetaDoc) -> None:
    """The state section agrees with the header's own eras, strata and entities."""
    st = doc.state
    if st.era not in doc.eras:
        raise _corrupt(path, "$.state.era is not one of the header's eras")
    if set(st.counters) != set(doc.strata):
        raise _corrupt(path, "$.state.counters do not name the header's strata")
    for name, counter in st.counters.items():
        if counter >= doc.strata[name]:
            raise _corrupt(path, "$.state.counters: a counter is not below its stride")
    entities = {s.entity for s in doc.schema.values() if s.entity is not None}
    if not entities <= set(st.counts):
        raise _corrupt(path, "$.schema names an entity $.state.counts does not count")


def expected_arrays(schema: dict[str, Any], counts: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Every ``cur/``/``prev/`` array a state of this schema holds, with its shape.

    The shapes are :mod:`continuum.world.kinds`' storage rule: global scalar ``()``,
    global vec3 ``(3,)``, member scalar ``(n,)``, member vec3 ``(3, n)``.
    """
    out: dict[str, tuple[int, ...]] = {}
    for name, sig in schema.items():
        entity = sig["entity"] if isinstance(sig, dict) else sig.entity
        kind = sig["type"] if isinstance(sig, dict) else sig.type
        n = None if entity is None else counts[entity]
        if n is None:
            shape: tuple[int, ...] = (3,) if kind == VEC3 else ()
        else:
            shape = (3, n) if kind == VEC3 else (n,)
        out[CURRENT + name] = out[PREVIOUS + name] = shape
    return out


def _check_layout(path: Path | str, doc: _MetaDoc, header: ContainerHeader) -> None:
    """Before any payload is read: every array is one the schema implies, stored as the
    writer stores it (``<f8``, byte-shuffled), with the shape the counts imply; every
    array of the schema is there once, directly or as an alias of its current value."""
    expected = expected_arrays({n: s for n, s in doc.schema.items()}, dict(doc.state.counts))
    entries = {e.name: e for e in header.layout}
    for alias, target in doc.aliases.items():
        if not alias.startswith(PREVIOUS) or target != CURRENT + alias[len(PREVIOUS) :]:
            raise _corrupt(path, "$.aliases: an alias is not prev/NAME -> cur/NAME")
        if alias in entries or target not in entries:
            raise _corrupt(path, "$.aliases: an alias shadows a stored array or names none")
    if set(entries) | set(doc.aliases) != set(expected):
        raise _corrupt(path, "the arrays stored are not the arrays of the header's schema")
    for name, entry in entries.items():
        if entry.dtype != STATE_DTYPE or not entry.shuffle:
            raise _corrupt(
                path,
                f"array {name!r}: stored as {entry.dtype} shuffle={entry.shuffle}, "
                f"checkpoints store {STATE_DTYPE} byte-shuffled",
            )
        if entry.shape != expected[name]:
            raise _corrupt(
                path, f"array {name!r}: shape {entry.shape}, the schema implies {expected[name]}"
            )


def _check_complete(path: Path | str, header: CheckpointHeader, state: State) -> None:
    names = set(header.identity.schema)
    if set(state.current) != names or set(state.previous) != names:
        raise CheckpointCorruptError(f"{path}: arrays do not match the header's schema")


def age_seconds(created_at: str) -> float:
    """Seconds since an ISO timestamp written by ``write_checkpoint``."""
    try:
        return max(0.0, time.time() - datetime.fromisoformat(created_at).timestamp())
    except ValueError:
        return float("nan")
