"""What one ``continuum run`` asks for: the CLI's options as one dataclass.

And the directories a run writes to when its options ask for checkpoints or lens capture
but name no directory (:func:`with_default_dirs`): the persistence document's layouts are
``./checkpoints/{run_id}/`` and ``./lens/{run_id}/``, and its examples pass
``--checkpoint-stride`` or ``--lens-stride`` alone; an option that configures something
must not be accepted and then do nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

#: What a ``--param`` value is once parsed (``continuum.catalog.records.ParamValue``).
ParamValue = str | float | int | bool


@dataclass
class RunRequest:
    world: str
    steps: int = 1000
    seed: int | None = None
    scenario: str | None = None
    checkpoint_dir: Path | str | None = None  # a str only for object storage (s3://...)
    checkpoint_stride: int = 1000
    checkpoint_interval: float | None = None
    keep_checkpoints: int | None = None
    resume: bool = False
    checkpoint_path: Path | str | None = None  # a str only for an object (s3://...)
    force_resume: bool = False
    queue_depth: int = 3
    lens_dir: Path | str | None = None  # a str only for object storage (s3://...)
    lens_stride: int = 1
    lens_fields: str | None = None  # "a.b,c.d" or "all"/None (every field)
    lens_chunk_size: int | None = None  # None: 1000, fewer when windows outgrow lens_memory
    lens_memory: int | None = None  # bytes; None: continuum.lens.default_memory()
    lens_on_full: str = "wait"  # "wait" | "drop" (continuum.lens.OnFull)
    lens_full: bool = False
    lens_by_sample: bool = True  # by-sample copies of the history (continuum.lens.compaction)
    lens_export_dir: Path | str | None = None  # export each sealed chunk to Parquet here (or s3://)
    catalog: str | None = None  # URL; None: CONTINUUM_CATALOG or the default SQLite file
    no_catalog: bool = False
    resume_run: str | None = None
    #: ``--param``: user parameters recorded with the run (they change nothing in it)
    params: dict[str, ParamValue] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # ``--tag``: labels recorded with it


#: Where a fresh run's checkpoints go when a checkpoint option names no directory, and
#: where ``--resume`` looks last (after the catalog's directories).
DEFAULT_CHECKPOINT_DIR = Path("checkpoints")
#: Where lens capture goes when a lens option names no ``--lens-dir``.
DEFAULT_LENS_DIR = Path("lens")
#: Options that configure checkpoints (``RunRequest`` field names).
CHECKPOINT_OPTIONS = ("checkpoint_stride", "checkpoint_interval", "keep_checkpoints")
#: Options that configure lens capture (``RunRequest`` field names).
LENS_OPTIONS = (
    "lens_stride",
    "lens_fields",
    "lens_chunk_size",
    "lens_full",
    "lens_by_sample",
    "lens_memory",
    "lens_on_full",
)


def resumes(req: RunRequest) -> bool:
    """Whether ``req`` starts from a checkpoint (``--resume``, ``--resume-run``, a path)."""
    return req.resume or req.resume_run is not None or req.checkpoint_path is not None


def with_default_dirs(req: RunRequest, given: Collection[str]) -> RunRequest:
    """``req`` with :data:`DEFAULT_CHECKPOINT_DIR` / :data:`DEFAULT_LENS_DIR` filled in when
    one of ``given`` (the options the user typed) configures that output but no directory
    was named.

    A resumed run gets no default checkpoint directory: it writes into the directory of the
    run it continues (or beside it, for a branch), and ``--resume`` without
    ``--checkpoint-dir`` looks through the catalog before ``./checkpoints``
    (:mod:`continuum.runner.resolve`); a default here would narrow that search.
    """
    checkpoint_dir, lens_dir = req.checkpoint_dir, req.lens_dir
    if checkpoint_dir is None and not resumes(req) and set(given) & set(CHECKPOINT_OPTIONS):
        checkpoint_dir = DEFAULT_CHECKPOINT_DIR
    if lens_dir is None and set(given) & set(LENS_OPTIONS):
        lens_dir = DEFAULT_LENS_DIR
    return replace(req, checkpoint_dir=checkpoint_dir, lens_dir=lens_dir)
