"""Which run ``--resume`` continues: the most recently advanced run of a world in a directory.

A checkpoint directory holds several runs — the main run, branches made from it, old runs
of the same world, runs of other worlds — and ``--resume`` names none of them. It takes
the run the user most plausibly means, by this rule:

- **Candidates**: every run directory under the checkpoint directory (or directories:
  ``--resume`` without ``--checkpoint-dir`` passes the ones the catalog recorded for the
  world's runs, each run directory counted once) whose manifest names the world and that
  holds a checkpoint. A manifest that cannot be read is skipped with
  a warning; a run whose newest file is damaged counts with its newest intact one.
- **Chosen**: the run whose newest intact checkpoint was written most recently, by the
  ``created_at`` its header records (the run's own clock when it wrote the state). Equal
  times: the higher tick, then the greater run id, so the choice never depends on the
  order a directory lists its entries.

Only what the runs themselves record decides. File times never do: ``cp -r`` and ``touch``
change them and nothing else. Nor does the manifest's ``updated_at``: a killed run's
manifest stops at its segment's start while its checkpoints go on (a branch made from it
meanwhile looked newer, issue 13), and commands that only rewrite the manifest do not
advance a run. Nor does the catalog rank them: it need not know every run of the directory
(one written with ``--no-catalog``, into another catalog, or copied in), and ``--resume
--checkpoint-dir D`` must choose the same with ``--catalog`` and without. The catalog only
says *where* to look when no directory is given (which directories hold the world's runs).
Hosts whose clocks disagree are ordered by those clocks; ``--resume-run`` or
``--checkpoint-path`` then name the run.

Cost: one header read (a few KB) per run, and a full verification only of the checkpoint
about to be chosen; a damaged one gives way to its run's next newest and the ranking is
taken again, so a damaged file never wins and never hides its run.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from continuum import layout
from continuum.checkpoint.directory import checkpoint_files, read_run_manifest
from continuum.checkpoint.format import CheckpointHeader, inspect_checkpoint, verify_checkpoint
from continuum.checkpoint.resume import Loaded, _explain_latest
from continuum.errors import CheckpointCorruptError, CheckpointError, CheckpointNotFoundError

log = logging.getLogger("continuum.checkpoint")


@dataclass(frozen=True)
class RunSeen:
    """One candidate run, as its newest checkpoint describes it."""

    run_id: str
    run_dir: Path
    scenario: str  # the scenario its newest checkpoint ran under
    tick: int
    created_at: str  # when that checkpoint was written (its header's own record)
    path: Path  # that checkpoint's file


@dataclass(frozen=True)
class RunChoice:
    """The run ``--resume`` continues, and the other runs it was chosen among.

    ``runs[0]`` is the chosen run at its newest *intact* checkpoint (``loaded``); the
    others follow, most recently advanced first, described by their newest readable
    header (only the chosen checkpoint is verified: it is the one resumed).
    """

    directory: Path
    world: str
    loaded: Loaded
    runs: tuple[RunSeen, ...]

    @property
    def chosen(self) -> RunSeen:
        return self.runs[0]

    @property
    def others(self) -> tuple[RunSeen, ...]:
        return self.runs[1:]


@dataclass
class _Run:
    run_id: str
    run_dir: Path
    files: list[Path]  # oldest first (by the tick in the name)
    at: int = 0  # index in files of the newest checkpoint not yet ruled out
    header: CheckpointHeader | None = None  # that checkpoint's header


def choose_run(checkpoint_dir: Path | Sequence[Path], world: str) -> RunChoice:
    """The most recently advanced run of ``world`` under ``checkpoint_dir`` (module doc).

    ``checkpoint_dir`` may be several directories (the ones the catalog recorded for the
    world's runs): their runs are candidates together, by the same rule.
    CheckpointNotFoundError when no run of the world has an intact checkpoint there.
    """
    choice = find_run(checkpoint_dir, world)
    if choice is None:
        directories = _directories(checkpoint_dir)
        shown = ", ".join(map(str, directories))
        raise CheckpointNotFoundError(
            f"no checkpoints of world {world!r} under {shown}{skipped_note(directories)}; "
            "pass --checkpoint-dir where an earlier run wrote them, or --checkpoint-path FILE"
        )
    return choice


def find_run(checkpoint_dir: Path | Sequence[Path], world: str) -> RunChoice | None:
    """:func:`choose_run`, or None when no run of ``world`` holds a checkpoint file there
    (so a caller can look elsewhere); CheckpointNotFoundError when runs of it are there
    but every checkpoint of theirs is damaged (looking elsewhere would hide them)."""
    directories = _directories(checkpoint_dir)
    runs = _dedupe(run for directory in directories for run in _runs_of(directory, world))
    if not runs:
        return None
    live = [run for run in runs if _step_back(run, len(run.files))]
    while live:
        best = max(live, key=_rank)
        assert best.header is not None
        path = best.files[best.at]
        try:
            header = verify_checkpoint(path)
        except (CheckpointCorruptError, CheckpointNotFoundError) as exc:
            log.warning("skipping %s", exc)
            if not _step_back(best, best.at):
                live.remove(best)
            continue
        _explain_latest(best.run_dir, best.files)
        loaded = Loaded(header, newest_in_run=best.at == len(best.files) - 1)
        best.header = header
        others = sorted((run for run in live if run is not best), key=_rank, reverse=True)
        seen = tuple(_seen(run) for run in (best, *others))
        directory = directories[0] if len(directories) == 1 else best.run_dir.parent
        return RunChoice(directory, world, loaded, seen)
    shown = ", ".join(map(str, directories))
    raise CheckpointNotFoundError(
        f"no intact checkpoint of world {world!r} under {shown} "
        f"({len(runs)} run(s) of it there, every checkpoint damaged); "
        "see `continuum checkpoint verify`"
    )


def _directories(checkpoint_dir: Path | Sequence[Path]) -> list[Path]:
    if isinstance(checkpoint_dir, str | os.PathLike):
        return [Path(checkpoint_dir)]
    return [Path(d) for d in checkpoint_dir]


def _dedupe(runs: Iterable[_Run]) -> list[_Run]:
    """One candidate per run directory, however many of the given directories reach it
    (``./checkpoints`` and its absolute path, a directory and a link to it)."""
    seen: dict[str, _Run] = {}
    for run in runs:
        seen.setdefault(os.path.realpath(run.run_dir), run)
    return list(seen.values())


def newest_run_dir(checkpoint_dir: Path, world: str) -> Path:
    """The directory of the run :func:`choose_run` picks."""
    return choose_run(checkpoint_dir, world).chosen.run_dir


def _runs_of(directory: Path, world: str) -> list[_Run]:
    """Run directories of ``world`` that hold a checkpoint file; bad manifests skipped."""
    found = []
    for manifest in _manifests(directory):
        try:
            doc, _ = read_run_manifest(manifest)
        except (OSError, CheckpointError) as exc:
            log.warning("%s; skipped", _why(manifest, exc))
            continue
        files = checkpoint_files(manifest.parent)
        if doc.world == world and files:
            found.append(_Run(doc.run_id, manifest.parent, files))
    return found


def skipped_note(directories: Path | Sequence[Path]) -> str:
    """A run hidden by a bad manifest is named: "no checkpoints" alone would mislead."""
    skipped = []
    for manifest in (m for d in _directories(directories) for m in _manifests(d)):
        try:
            read_run_manifest(manifest)
        except (OSError, CheckpointError) as exc:
            skipped.append(_why(manifest, exc))
    return f" (skipped {len(skipped)}: {skipped[0]})" if skipped else ""


def _why(manifest: Path, exc: Exception) -> str:
    return str(exc) if isinstance(exc, CheckpointError) else f"{manifest}: unreadable"


def _manifests(checkpoint_dir: Path) -> Iterator[Path]:
    """The manifest of each directory in ``checkpoint_dir`` that has one (a run directory),
    in name order (the choice does not depend on it; the warnings' order does)."""
    try:
        entries = sorted(checkpoint_dir.iterdir())
    except OSError:  # missing or unreadable: no run directories to offer
        return
    for entry in entries:
        manifest = layout.manifest_path(entry)
        if os.path.lexists(manifest):
            yield manifest


def _step_back(run: _Run, before: int) -> bool:
    """Move ``run`` to its newest checkpoint older than index ``before`` whose header
    reads; False when none does (the run has no intact checkpoint left)."""
    for at in range(before - 1, -1, -1):
        try:
            run.header = inspect_checkpoint(run.files[at])
        except (CheckpointCorruptError, CheckpointNotFoundError) as exc:
            log.warning("skipping %s", exc)
            continue
        run.at = at
        return True
    run.header = None
    return False


def _rank(run: _Run) -> tuple[float, int, str]:
    """Most recently written first; then the higher tick; then the run id."""
    assert run.header is not None
    return (_timestamp(run.header.created_at), run.header.tick, run.run_id)


def _timestamp(created_at: str) -> float:
    """A header's ``created_at`` as POSIX seconds; one that does not parse ranks last
    (the header's grammar admits digits and separators that make no date)."""
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return -math.inf
    if when.tzinfo is None:  # written in UTC; a naive stamp is read as such
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _seen(run: _Run) -> RunSeen:
    header = run.header
    assert header is not None
    return RunSeen(
        run.run_id,
        run.run_dir,
        header.identity.scenario,
        header.tick,
        header.created_at,
        run.files[run.at],
    )
