"""Checkpoints: lossless causal state for crash recovery, resume and branching.

Owns the ``.ckpt`` format (``format``), reading a run directory and keeping its
manifest (``directory``), the background writer (``writer``), discovery + validation
on resume (``resume``), which run ``--resume`` continues (``choice``) and comparing two
checkpoints (``diff``). File names and paths
are :mod:`continuum.layout`'s. It must not touch the tick loop's timing (the loop
only hands over snapshots) or the catalog directly (the writer calls callbacks it is
given). It may import runtime, world, blobs, layout and errors; never catalog, lens,
sql or runner. Importing it loads neither sqlalchemy nor duckdb.
"""

from continuum.checkpoint.choice import (
    RunChoice,
    RunSeen,
    choose_run,
    find_run,
    newest_run_dir,
    skipped_note,
)
from continuum.checkpoint.diff import (
    ArrayDiff,
    CheckpointDiff,
    FieldDiff,
    diff_checkpoints,
    diff_headers,
    diff_states,
)
from continuum.checkpoint.directory import Manifest, checkpoint_files, latest_target
from continuum.checkpoint.format import (
    CheckpointHeader,
    RunIdentity,
    inspect_checkpoint,
    read_checkpoint,
    verify_checkpoint,
    write_checkpoint,
)
from continuum.checkpoint.remote import RemoteManifest, RemoteRun, read_remote_manifest
from continuum.checkpoint.resume import (
    Loaded,
    check_shapes,
    load_file,
    load_newest_intact,
    validate,
)
from continuum.checkpoint.writer import DEFAULT_QUEUE_DEPTH, CheckpointWriter, Committed

__all__ = [
    "DEFAULT_QUEUE_DEPTH",
    "ArrayDiff",
    "CheckpointDiff",
    "CheckpointHeader",
    "CheckpointWriter",
    "Committed",
    "FieldDiff",
    "Loaded",
    "Manifest",
    "RemoteManifest",
    "RemoteRun",
    "RunChoice",
    "RunIdentity",
    "RunSeen",
    "check_shapes",
    "checkpoint_files",
    "choose_run",
    "diff_checkpoints",
    "diff_headers",
    "diff_states",
    "find_run",
    "inspect_checkpoint",
    "latest_target",
    "load_file",
    "load_newest_intact",
    "newest_run_dir",
    "read_checkpoint",
    "read_remote_manifest",
    "skipped_note",
    "validate",
    "verify_checkpoint",
    "write_checkpoint",
]
