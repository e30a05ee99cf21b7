"""A checkpoint run directory: which checkpoints it holds, where ``latest`` points, its manifest.

    {checkpoint_dir}/{run_id}/
      manifest.json                 run metadata, segments, dropped count
      checkpoint_0000001000.ckpt
      latest -> checkpoint_0000001000.ckpt   (relative: the directory can move)

The names and paths are :mod:`continuum.layout`'s; this module only reads the directory
and keeps the manifest. The manifest is rewritten atomically; the checkpoint files and
their headers remain the truth about what exists (the manifest never lists them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from continuum import layout
from continuum.blobs import decode_json, read_small_file
from continuum.blobs.manifest import JsonManifest
from continuum.errors import CheckpointError

MANIFEST_VERSION = 1

_Count = Annotated[int, Meta(ge=0, le=1 << 62)]
_RunId = Annotated[str, Meta(pattern=layout.RUN_ID_RE.pattern)]
_Text = Annotated[str, Meta(max_length=1024, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
_CheckpointName = Annotated[str, Meta(pattern=layout.CHECKPOINT_NAME_RE.pattern)]


class _ParentDoc(msgspec.Struct):
    run_id: _RunId
    tick: _Count
    checkpoint: _CheckpointName | None = None


class _SegmentDoc(msgspec.Struct):
    start_tick: _Count = 0
    end_tick: _Count | None = None
    status: _Text | None = None
    host: _Text | None = None
    pid: _Count | None = None
    started_at: _Text | None = None
    ended_at: _Text | None = None
    resumed_from: _CheckpointName | None = None
    stopped_by: _Text | None = None  # a stopped segment's reason: SIGINT, SIGTERM or ctl


class RunManifestDoc(msgspec.Struct):
    """What a checkpoint run manifest must look like to be believed: typed, bounded, the
    identifiers in :mod:`continuum.layout`'s grammar (a run id or a checkpoint name in it
    may become a path). Fields a run always writes but older tests omit are optional."""

    run_id: _RunId
    manifest_version: Annotated[int, Meta(ge=1)] = MANIFEST_VERSION
    world: _Text | None = None
    ir_hash: _Text | None = None
    scenario: _Text | None = None
    scenario_hash: _Text | None = None
    seed: _Count | None = None
    parent: _ParentDoc | None = None
    segments: list[_SegmentDoc] = []
    dropped_checkpoints: _Count = 0
    keep_checkpoints: Annotated[int, Meta(ge=1)] | None = None  # the run's keep-last
    failed_checkpoints: _Count = 0
    updated_at: _Text = ""


_DOC_DECODER = msgspec.json.Decoder(RunManifestDoc)
_DICT_DECODER = msgspec.json.Decoder(dict[str, Any])


def read_run_manifest(path: Path) -> tuple[RunManifestDoc, dict[str, Any]]:
    """A run manifest, typed and as the dict it is rewritten from; CheckpointError if it
    is not a regular file of bounded size, not JSON, or malformed (naming the field).
    ``FileNotFoundError`` propagates."""
    data = read_small_file(path, "checkpoint manifest", CheckpointError)
    return parse_run_manifest(data, str(path))


def parse_run_manifest(data: bytes, where: str) -> tuple[RunManifestDoc, dict[str, Any]]:
    """:func:`read_run_manifest` of bytes read elsewhere (an object) named ``where``."""
    what = "checkpoint manifest"
    doc = decode_json(data, _DOC_DECODER, where, what, CheckpointError)
    return doc, decode_json(data, _DICT_DECODER, where, what, CheckpointError)


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The run's checkpoint files, oldest first (by the tick in their name)."""
    if not run_dir.is_dir():
        return []
    found = [(layout.checkpoint_tick(p.name), p) for p in run_dir.iterdir() if p.is_file()]
    return [p for tick, p in sorted((t, p) for t, p in found if t is not None)]


def latest_target(run_dir: Path) -> Path | None:
    """Where ``latest`` points (it may dangle), or None without a link."""
    name = layout.read_latest(run_dir)
    if not name or name in (".", ".."):  # not a file name: no checkpoint it could name
        return None
    return layout.child(run_dir, name)


class Manifest(JsonManifest):
    """``manifest.json`` of one checkpoint run directory."""

    @classmethod
    def load(cls, run_dir: Path) -> Manifest:
        path = layout.manifest_path(run_dir)
        try:
            _, data = read_run_manifest(path)
        except FileNotFoundError:
            raise CheckpointError(
                f"{path}: missing; is {run_dir} a checkpoint run directory?"
            ) from None
        except OSError as exc:
            raise CheckpointError(f"{path}: unreadable manifest ({exc.strerror or exc})") from None
        return cls(run_dir, data)

    @classmethod
    def create(cls, run_dir: Path, data: dict[str, Any]) -> Manifest:
        run_dir.mkdir(parents=True, exist_ok=True)
        manifest = cls(
            run_dir,
            {
                "manifest_version": MANIFEST_VERSION,
                **data,
                "segments": [],
                "dropped_checkpoints": 0,
                "failed_checkpoints": 0,
            },
        )
        manifest.save()
        return manifest
