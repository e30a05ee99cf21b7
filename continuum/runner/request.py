"""What one ``continuum run`` asks for: the CLI's options as one dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: What a ``--param`` value is once parsed (``continuum.catalog.records.ParamValue``).
ParamValue = str | float | int | bool


@dataclass
class RunRequest:
    world: str
    steps: int = 1000
    seed: int | None = None
    scenario: str | None = None
    checkpoint_dir: Path | None = None
    checkpoint_stride: int = 1000
    checkpoint_interval: float | None = None
    keep_checkpoints: int | None = None
    resume: bool = False
    checkpoint_path: Path | None = None
    force_resume: bool = False
    queue_depth: int = 3
    lens_dir: Path | None = None
    lens_stride: int = 1
    lens_fields: str | None = None  # "a.b,c.d" or "all"/None (every field)
    lens_chunk_size: int | None = None  # None: 1000, fewer when windows outgrow lens_memory
    lens_memory: int | None = None  # bytes; None: continuum.lens.default_memory()
    lens_on_full: str = "wait"  # "wait" | "drop" (continuum.lens.OnFull)
    lens_full: bool = False
    lens_export_dir: Path | None = None  # export each sealed chunk to Parquet here
    catalog: str | None = None  # URL; None: CONTINUUM_CATALOG or the default SQLite file
    no_catalog: bool = False
    resume_run: str | None = None
    #: ``--param``: user parameters recorded with the run (they change nothing in it)
    params: dict[str, ParamValue] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # ``--tag``: labels recorded with it
