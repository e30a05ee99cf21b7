"""Checkpoints: lossless causal state for crash recovery, resume and branching.

Owns the ``.ckpt`` format (``format``), the run directory and its manifest
(``layout``), the background writer (``writer``) and discovery + validation
on resume (``resume``). It must not touch the tick loop's timing (the loop
only hands over snapshots) or the catalog directly (the writer calls
callbacks it is given). Importing it loads neither sqlalchemy nor duckdb.
"""

from continuum.checkpoint.diff import (
    ArrayDiff,
    CheckpointDiff,
    FieldDiff,
    diff_checkpoints,
    diff_headers,
    diff_states,
)
from continuum.checkpoint.format import (
    CheckpointHeader,
    RunIdentity,
    checkpoint_name,
    inspect_checkpoint,
    read_checkpoint,
    tick_of,
    write_checkpoint,
)
from continuum.checkpoint.layout import LATEST, MANIFEST, Manifest, checkpoint_files, latest_target
from continuum.checkpoint.resume import (
    Loaded,
    check_shapes,
    load_file,
    load_newest_intact,
    newest_run_dir,
    validate,
)
from continuum.checkpoint.writer import DEFAULT_QUEUE_DEPTH, CheckpointWriter, Committed

__all__ = [
    "DEFAULT_QUEUE_DEPTH",
    "LATEST",
    "MANIFEST",
    "ArrayDiff",
    "CheckpointDiff",
    "CheckpointHeader",
    "CheckpointWriter",
    "Committed",
    "FieldDiff",
    "Loaded",
    "Manifest",
    "RunIdentity",
    "check_shapes",
    "checkpoint_files",
    "checkpoint_name",
    "diff_checkpoints",
    "diff_headers",
    "diff_states",
    "inspect_checkpoint",
    "latest_target",
    "load_file",
    "load_newest_intact",
    "newest_run_dir",
    "read_checkpoint",
    "tick_of",
    "validate",
    "write_checkpoint",
]
