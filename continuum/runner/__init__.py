"""Runs: one invocation of ``continuum run``: start or resume, step, checkpoint, report.

Owns the orchestration only: ``request`` (the options), ``resolve`` (what is
resumed: fresh, in place or a branch, and from which checkpoint), ``prepare``
(world + decision -> the state the run starts from), ``outputs`` (the checkpoint
writer, lens capture, Parquet exporter and catalog recorder a run feeds),
``recorder`` (the catalog side of a run), ``reconcile`` (settling what a resumed
run's dead segment left pending), ``stop`` (SIGINT/SIGTERM: the loop ends between two
ticks, the run ends ``stopped`` and says how to resume it), ``execute`` (the order of it
all, the loop and its teardown, and the summary's ``failures``: what the writers could
not write). It must
not hold format, geometry, path or SQL logic of its own: those belong to
``checkpoint``, ``lens``, ``layout``, ``sql`` and ``catalog``, called through their
public APIs, and nothing here runs inside a tick except snapshot hand-off. It may
import checkpoint, lens, catalog, sql, maintenance, runtime, world, blobs, layout and
errors; nothing imports it but the CLI (and scripts, tests).

The order, which keeps a refused run from leaving anything behind: resolve and
prepare (read only) -> lens options checked -> the catalog accepts the run
(``register_run`` or ``start_segment``; skipped with ``--no-catalog``) -> only then
the run directory, the manifests and the writers.

Decisions written down here because DESIGN.md leaves them open:

- Checkpoints are written when ``checkpoint_dir`` is given, and always when
  resuming (into the run directory the run continues in). The CLI fills in
  ``./checkpoints`` (``./lens``) when a checkpoint (lens) option is given without its
  directory (``request.with_default_dirs``). ``--resume`` without ``--checkpoint-dir``
  looks where the catalog recorded the world's runs, then under ``./checkpoints``, as
  in the seed document (``resolve``).
- Triggers: tick divisible by the stride (so files land on round ticks across
  resumes) or ``interval`` wall seconds since the last one; plus a final one.
- Resuming continues *in place* (same run_id, a new segment in the manifest)
  when the checkpoint is the newest of its run and world, scenario and seed
  are unchanged. Anything else — another scenario, a forced resume under a
  changed world, an older checkpoint — is a **branch**: a new run_id whose
  manifest names the parent run and checkpoint. That way a run's directory
  never holds two timelines.
- A resume keeps the checkpoint's seed; a different ``--seed`` is refused.
"""

from continuum.runner.execute import execute
from continuum.runner.outputs import Trigger, open_manifest
from continuum.runner.prepare import Prepared, prepare
from continuum.runner.request import (
    DEFAULT_CHECKPOINT_DIR,
    DEFAULT_LENS_DIR,
    RunRequest,
    with_default_dirs,
)
from continuum.runner.resolve import Mode, Resume, find_checkpoint, resolve

__all__ = [
    "DEFAULT_CHECKPOINT_DIR",
    "DEFAULT_LENS_DIR",
    "Mode",
    "Prepared",
    "Resume",
    "RunRequest",
    "Trigger",
    "execute",
    "find_checkpoint",
    "open_manifest",
    "prepare",
    "resolve",
    "with_default_dirs",
]
