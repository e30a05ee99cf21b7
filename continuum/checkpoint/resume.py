"""Finding the checkpoint to resume from, and checking it fits the world.

Discovery prefers ``latest``; if it is missing, dangling, truncated or corrupt
that is logged and the newest file (by the tick in its name) that fully
verifies is used instead. A half-written file can never be picked: temp files
do not match the checkpoint name pattern, and every candidate is verified.

Validation compares the checkpoint's header with the program it will run
under. An IR hash, era dt or stride difference is refused unless forced; a
signal schema difference is always refused, since the state cannot fit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from continuum.checkpoint.directory import checkpoint_files, latest_target
from continuum.checkpoint.format import (
    CheckpointHeader,
    RunIdentity,
    inspect_checkpoint,
    read_checkpoint,
    verify_checkpoint,
)
from continuum.checkpoint.remote import RemoteRun
from continuum.errors import (
    CheckpointCorruptError,
    CheckpointNotFoundError,
    ResumeMismatchError,
)
from continuum.runtime import State

log = logging.getLogger("continuum.checkpoint")


class Loaded:
    """A checkpoint chosen for resume: its header (checked, and for ``--resume`` its
    payload verified) now, its state only when asked for.

    The state is read on first access of :attr:`state`, which the runner does after
    :func:`validate` and :func:`check_shapes` compared the header with the world: a
    header whose arrays do not fit the world is refused before its payload is
    allocated. The file is re-verified as it is read, and refused if it is no longer
    the file whose header was checked.
    """

    def __init__(
        self,
        header: CheckpointHeader,
        state: State | None = None,
        newest_in_run: bool = True,
        remote: RemoteRun | None = None,
    ) -> None:
        self.header = header
        self.newest_in_run = newest_in_run  # no newer intact checkpoint in its directory
        self.remote = remote  # the run's prefix on object storage it was fetched from
        self._state = state

    @property
    def state(self) -> State:
        if self._state is None:
            header, state = read_checkpoint(self.header.path)
            if header.payload_checksum != self.header.payload_checksum:
                raise CheckpointCorruptError(
                    f"{self.header.path}: the file changed since its header was checked"
                )
            self._state = state
        return self._state


def load_newest_intact(run_dir: Path) -> Loaded:
    """Load the newest checkpoint that verifies, saying why if it is not ``latest``.

    ``latest`` moves only after a checkpoint is durable, so a crash in between
    leaves a newer complete file than the link names; that file is used.
    """
    files = checkpoint_files(run_dir)
    _explain_latest(run_dir, files)
    for path in reversed(files):
        try:
            header = verify_checkpoint(path)
        except CheckpointCorruptError as exc:
            log.warning("skipping %s", exc)
            continue
        return Loaded(header, newest_in_run=path == files[-1])
    raise CheckpointNotFoundError(f"{run_dir}: no intact checkpoint to resume from")


def _explain_latest(run_dir: Path, files: list[Path]) -> None:
    target = latest_target(run_dir)
    if not files:
        return
    if target is None:
        log.warning("%s: no 'latest' link; using the newest intact checkpoint", run_dir)
    elif not target.is_file():
        log.warning("%s: 'latest' points to missing %s; falling back", run_dir, target.name)
    elif target != files[-1]:
        log.warning(
            "%s: 'latest' names %s but %s is newer (a crash between commit and link "
            "update); trying the newest first",
            run_dir,
            target.name,
            files[-1].name,
        )


def load_file(path: Path) -> Loaded:
    """One named checkpoint (``--checkpoint-path``): its header now, its state (verified as
    it is read) when the runner asks, after the header was compared with the world."""
    header = inspect_checkpoint(path)
    newer = [p for p in checkpoint_files(path.parent) if p.name > path.name]
    return Loaded(header, newest_in_run=not newer)


def validate(header: CheckpointHeader, current: RunIdentity, force: bool) -> list[str]:
    """Refuse a checkpoint that does not fit; return the differences ``force`` let pass.

    What no ``--force-resume`` can let through, because the tick loop could not run the
    state: another signal schema, a current era the world does not declare, cadence
    counters for other strata than the world's. (Array names, dtypes and shapes follow
    from the schema and the counts, checked when the file was read and by
    :func:`check_shapes`.)
    """
    saved = header.identity
    schema = _schema_problems(header, current)
    if schema:
        raise ResumeMismatchError(
            f"{header.where}: signal schema differs from world "
            f"{current.world!r}: {schema}; the state cannot be resumed"
        )
    _check_runnable(header, current)
    problems = []
    if saved.ir_hash != current.ir_hash:
        problems.append(
            f"world IR hash differs: checkpoint {saved.ir_hash}, world now {current.ir_hash}"
        )
    problems += _era_problems(saved, current) + _stride_problems(saved, current)
    if problems and not force:
        raise ResumeMismatchError(
            f"{header.where}: {problems[0]}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
            + "; pass --force-resume to resume anyway"
        )
    return problems


def _check_runnable(header: CheckpointHeader, current: RunIdentity) -> None:
    if header.era not in current.eras:
        raise ResumeMismatchError(
            f"{header.where}: the checkpoint is in era {header.era!r}, which world "
            f"{current.world!r} does not declare (it has {sorted(current.eras)}); "
            "the state cannot be resumed"
        )
    saved = set(header.identity.strata)
    if saved != set(current.strata):
        raise ResumeMismatchError(
            f"{header.where}: the checkpoint counts strata {sorted(saved)}, world "
            f"{current.world!r} declares {sorted(current.strata)}; the state cannot be resumed"
        )


def _schema_problems(header: CheckpointHeader, current: RunIdentity) -> str:
    saved = header.identity.schema
    missing = sorted(set(current.schema) - set(saved))
    extra = sorted(set(saved) - set(current.schema))
    if missing or extra:
        return f"world has {missing or 'no'} new, checkpoint has {extra or 'no'} removed signals"
    changed = [n for n in saved if saved[n] != current.schema[n]]
    return f"type or entity changed for {changed}" if changed else ""


def _era_problems(saved: RunIdentity, current: RunIdentity) -> list[str]:
    out = []
    for name, era in saved.eras.items():
        now = current.eras.get(name)
        if now is None:
            out.append(f"era {name!r} of the checkpoint no longer exists")
        elif now["dt"] != era["dt"]:
            out.append(f"era {name!r} dt differs: checkpoint {era['dt']!r}, world {now['dt']!r}")
    return out


def _stride_problems(saved: RunIdentity, current: RunIdentity) -> list[str]:
    return [
        f"stratum {name!r} stride differs: checkpoint {stride}, world {current.strata.get(name)}"
        for name, stride in saved.strata.items()
        if current.strata.get(name) != stride
    ]


def check_shapes(header: CheckpointHeader, counts: dict[str, int]) -> None:
    """Instance counts (e.g. the resolution) must match the world as configured now."""
    for entity, count in header.counts.items():
        if counts.get(entity) != count:
            raise ResumeMismatchError(
                f"{header.where}: entity {entity!r} has {count} instances in the checkpoint but "
                f"{counts.get(entity)} in the world as configured (resolution or count changed)"
            )
