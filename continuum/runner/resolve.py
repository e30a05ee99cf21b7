"""What a run starts from — fresh, its run continued in place, or a branch — decided first.

:func:`find_checkpoint` turns the request's resume options into the checkpoint they
name: ``--checkpoint-path FILE``; ``--resume-run RUN_ID``, the newest committed
checkpoint the catalog knows for that run; ``--resume``, the newest intact checkpoint
of the world's most recently advanced run under ``--checkpoint-dir`` (the rule:
:mod:`continuum.checkpoint.choice`). Without ``--checkpoint-dir``, ``--resume`` looks in
the directories the catalog recorded for the world's runs (their roots: a run's
``checkpoint_dir`` is ``{root}/{run_id}``; every run under those roots is a candidate,
ranked by the same rule), and only when no run of the world is there, under
``./checkpoints``; with ``--no-catalog``, under ``./checkpoints`` alone. A root recorded
by another host that does not exist here is skipped. When nothing is found the error
names every place it looked. :func:`resolve` then
decides what resuming from it means under the
program the run will execute, and refuses what cannot be resumed. Both only read
(checkpoint files, manifests, the catalog): nothing here writes to disk, so every
refusal comes before a run directory, a manifest or a catalog row exists. The one
write is to the index: ``--resume-run`` first settles the rows the run's dead segment
left ``pending`` (:mod:`continuum.runner.reconcile`), so that "the newest committed
checkpoint" is the newest intact one, not an older tick behind a killed commit.

In place means the same run id and directory, one more segment; it needs the newest
checkpoint of its run, the same scenario, no difference let through by
``--force-resume`` and the run's manifest beside the file. Anything else that resumes
is a branch: a new run id whose manifest names the parent run and checkpoint. With
``--resume``, both start from the chosen run's newest intact checkpoint: ``--resume
--scenario X`` branches from the run ``--resume`` alone would continue.

On object storage (``--checkpoint-dir s3://...``, or a run whose catalog row names an
``s3://`` prefix) the catalog decides alone: ``--resume-run`` reads the run's newest
committed row, ``--resume`` the world's run under that root (or, without
``--checkpoint-dir`` and nothing on this host's disks, under any root) with the newest
committed checkpoint; the object is fetched and verified whole. "Newest of its run" is
the catalog's word, so a run continues in place from there as from a file; anything
else is a branch under the same root (or ``--checkpoint-dir``). A catalog is required.

``--resume`` says what it chose, before the run starts: the run, the tick, whether it
continues or branches, the other runs of the world it was chosen among (a few, most
recently advanced first) and how to name one instead. With other runs there the line is
a warning, shown by ``continuum run`` unless ``--quiet``: the choice was a guess the user
should be able to check before ticks are spent. With the world's only run there was
nothing to choose, and the line is logged at INFO (the summary's ``resumed_from`` names
the file).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from continuum import layout
from continuum.checkpoint import (
    CheckpointHeader,
    Loaded,
    RunChoice,
    RunIdentity,
    find_run,
    load_file,
    skipped_note,
    validate,
)
from continuum.checkpoint.remote import RemoteRun
from continuum.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    LayoutError,
    ResumeMismatchError,
    WorldError,
)
from continuum.runner.request import DEFAULT_CHECKPOINT_DIR, RunRequest
from continuum.world import (
    DEFAULT_SCENARIO,
    Program,
    Scenario,
    WorldIR,
    compile_world,
    load_named_scenario,
    load_scenario,
)

log = logging.getLogger("continuum.run")


class Mode(StrEnum):
    """How a run relates to the checkpoint it starts from."""

    FRESH = "fresh"  # no checkpoint: tick 0, a new run id
    IN_PLACE = "in_place"  # the checkpoint's run goes on: same id, same directory
    BRANCH = "branch"  # a new run id whose parent is the checkpoint's run


@dataclass(frozen=True)
class Resume:
    """The decision, and the program the run executes under."""

    mode: Mode
    program: Program
    loaded: Loaded | None = None  # the checkpoint resumed from, verified
    run_id: str | None = None  # IN_PLACE: the run continued
    run_dir: Path | None = None  # IN_PLACE: its directory (the checkpoint's)
    root: Path | str | None = None  # FRESH, BRANCH: where the new run goes (a dir or s3:// URL)
    parent: tuple[str, int] | None = None  # BRANCH: (run id, tick) of the checkpoint
    problems: tuple[str, ...] = ()  # differences --force-resume let through
    remote: RemoteRun | None = None  # IN_PLACE on object storage: the run's prefix

    @property
    def checkpoint(self) -> Path | None:
        """The file resumed from (on object storage: its name), or None for a fresh run."""
        return self.loaded.header.path if self.loaded is not None else None

    @property
    def checkpoint_where(self) -> str | None:
        """The file or object URL resumed from, or None for a fresh run."""
        return self.loaded.header.where if self.loaded is not None else None


def resolve(req: RunRequest, ir: WorldIR) -> Resume:
    """Decide what ``req`` resumes under world ``ir``; refuse a checkpoint that does not fit."""
    _check_remote(req)
    loaded, choice = _find(req, ir.name)
    if loaded is None:
        program = compile_world(ir, load_scenario(ir, req.scenario))
        return Resume(Mode.FRESH, program, root=req.checkpoint_dir)
    header = loaded.header
    _check_seed(req, header)
    program = compile_world(ir, _scenario_for(ir, req, header.identity.scenario))
    identity = RunIdentity.of(program, header.identity.run_id)
    problems = tuple(validate(header, identity, req.force_resume))
    for problem in problems:
        log.warning("resuming despite: %s", problem)
    if loaded.remote is not None:
        return _resolve_remote(req, loaded, loaded.remote, program, problems)
    if _continues(loaded, program, problems):
        run_id, run_dir = header.identity.run_id, header.path.parent
        _check_run_dir(run_dir, run_id)
        if choice is not None:
            _report(choice, Mode.IN_PLACE, req)
        return Resume(Mode.IN_PLACE, program, loaded, run_id, run_dir, problems=problems)
    root = req.checkpoint_dir or _branch_root(header)
    parent = (header.identity.run_id, header.tick)
    if choice is not None:
        _report(choice, Mode.BRANCH, req)
    return Resume(Mode.BRANCH, program, loaded, root=root, parent=parent, problems=problems)


def find_checkpoint(req: RunRequest, world: str) -> Loaded | None:
    """The checkpoint ``req`` resumes from, read and verified; None for a fresh run."""
    return _find(req, world)[0]


def _find(req: RunRequest, world: str) -> tuple[Loaded | None, RunChoice | None]:
    """The checkpoint, and for ``--resume`` the choice of run that named it."""
    if req.checkpoint_path is not None:
        if layout.is_object_url(req.checkpoint_path):
            return load_object(str(req.checkpoint_path)), None
        return load_file(Path(req.checkpoint_path)), None
    if req.resume_run is not None:
        return _load_of_run(req.catalog, req.resume_run), None
    if req.resume and layout.is_object_url(req.checkpoint_dir):
        return _choose_remote(req, world, str(req.checkpoint_dir)), None
    if req.resume:
        try:
            choice = _choose(req, world)
        except CheckpointNotFoundError:
            if req.checkpoint_dir is not None or req.no_catalog:
                raise
            # no run of the world on this host's disks: one the catalog has on object storage
            remote = _choose_remote(req, world, None, missing_ok=True)
            if remote is None:
                raise
            return remote, None
        return choice.loaded, choice
    return None, None


def _choose(req: RunRequest, world: str) -> RunChoice:
    """``--resume``: the run to continue, looked for as the module doc says."""
    if req.checkpoint_dir is not None:
        places = [Path(req.checkpoint_dir)]
        choice = find_run(places, world)
    else:
        roots = [] if req.no_catalog else catalog_roots(req.catalog, world)
        places = [*roots, DEFAULT_CHECKPOINT_DIR]
        choice = (find_run(roots, world) if roots else None) or find_run(
            DEFAULT_CHECKPOINT_DIR, world
        )
    if choice is not None:
        return choice
    if req.checkpoint_dir is not None:
        where = f"under {req.checkpoint_dir}"
    elif req.no_catalog:
        where = f"under ./{DEFAULT_CHECKPOINT_DIR} (--no-catalog: the catalog was not asked)"
    elif len(places) == 1:
        where = (
            f"under ./{DEFAULT_CHECKPOINT_DIR} (the catalog records no checkpoint directory of it)"
        )
    else:
        shown = ", ".join(map(str, places[:-1][:LISTED_RUNS]))
        more = f" and {len(places) - 1 - LISTED_RUNS} more" if len(places) - 1 > LISTED_RUNS else ""
        where = (
            f"in the directories the catalog recorded for its runs ({shown}{more}) "
            f"nor under ./{DEFAULT_CHECKPOINT_DIR}"
        )
    raise CheckpointNotFoundError(
        f"no checkpoints of world {world!r} {where}{skipped_note(places)}; pass "
        "--checkpoint-dir where an earlier run wrote them, or --checkpoint-path FILE"
    )


#: runs of a world read from the catalog per query when collecting their directories
ROOTS_PAGE = 1000


def catalog_roots(url: str | None, world: str) -> list[Path]:
    """The checkpoint roots the catalog recorded for ``world``'s runs, newest run's first,
    each once; roots missing on this host are left out."""
    from continuum.catalog import Catalog, SearchQuery  # sqlalchemy: only when asked

    roots: dict[str, Path] = {}
    with Catalog(url) as catalog:
        after = None
        while True:
            page = catalog.search.find(SearchQuery(world=world), limit=ROOTS_PAGE, after=after)
            for run in page.runs:
                if run.checkpoint_dir is None:
                    continue
                try:
                    root, _ = layout.split_run_dir(run.checkpoint_dir, run.run_id)
                except LayoutError:  # a row not in the layout: no root to look in
                    continue
                roots.setdefault(root, Path(root))
            if page.next_cursor is None:
                break
            after = page.next_cursor
    return [path for path in roots.values() if path.is_dir()]


#: how many of the other runs the ``--resume`` line lists (the rest are counted)
LISTED_RUNS = 3


def _report(choice: RunChoice, mode: Mode, req: RunRequest) -> None:
    """Say which run ``--resume`` chose and how to name another (see the module doc)."""
    header = choice.loaded.header
    verb = "resuming run" if mode is Mode.IN_PLACE else "branching from run"
    where = f"world {choice.world!r} in {choice.directory}"
    chosen = f"{verb} {choice.chosen.run_id} at tick {header.tick}"
    if not choice.others:
        log.info("%s (the only run of %s)", chosen, where)
        return
    listed = "; ".join(
        f"{run.run_id} at tick {run.tick} (scenario {run.scenario}, written {run.created_at})"
        for run in choice.others[:LISTED_RUNS]
    )
    rest = len(choice.others) - LISTED_RUNS
    if rest > 0:
        listed += f"; {rest} more (continuum checkpoint list {choice.directory})"
    if req.no_catalog:  # a run recorded nowhere is named by its file
        how = f"--checkpoint-path {choice.others[0].path}"
    else:
        how = f"--resume-run {choice.others[0].run_id}"
    log.warning(
        "%s, written %s: the most recently advanced of %d runs of %s; the others: %s; "
        "to resume another instead: %s",
        chosen,
        header.created_at,
        len(choice.runs),
        where,
        listed,
        how,
    )


def _load_of_run(url: str | None, run_id: str) -> Loaded:
    """``--resume-run``: the newest committed checkpoint of a run, local or on object storage."""
    from continuum.catalog import Catalog  # sqlalchemy: only when the catalog is asked
    from continuum.runner.reconcile import settle_dead_run

    with Catalog(url) as catalog:
        run = settle_dead_run(catalog, run_id)
        record = catalog.checkpoints.latest_committed(run_id)
    if record is None or run.checkpoint_dir is None:
        raise CheckpointNotFoundError(f"run {run_id} has no committed checkpoint in the catalog")
    if layout.is_object_url(run.checkpoint_dir):
        return load_remote(RemoteRun.of_url(run.checkpoint_dir, run_id), record.path)
    return load_file(checkpoint_of_run(run.checkpoint_dir, run_id, record.path))


def load_remote(remote: RemoteRun, stored: str, newest_in_run: bool = True) -> Loaded:
    """A committed checkpoint object, fetched and verified whole (there is nothing local to
    read its header from first); ``newest_in_run``: the catalog has no newer committed one."""
    name = layout.run_file_name(remote.url, stored)
    try:
        header, state = remote.read(name)
    except CheckpointNotFoundError:
        raise CheckpointNotFoundError(
            f"the catalog's newest checkpoint of run {remote.run_id} is missing in object "
            f"storage ({remote.location(name)}); run `continuum catalog verify --repair`"
        ) from None
    return Loaded(header, state, newest_in_run=newest_in_run, remote=remote)


def load_object(url: str) -> Loaded:
    """``--checkpoint-path s3://bucket/[prefix/]RUN_ID/checkpoint_N.ckpt``: that object,
    fetched and verified whole. "Newest of its run" (whether resume may continue the run
    in place) is asked of the listing: any newer checkpoint object, committed or not,
    makes it a branch, which never touches the run's own objects."""
    scheme, bucket, key = layout.split_object_url(url)
    parts = key.split("/")
    if len(parts) < 2:
        raise CheckpointError(
            f"{url}: not a checkpoint of a run; name one as "
            "s3://bucket/[prefix/]RUN_ID/checkpoint_N.ckpt"
        )
    root = layout.object_url(scheme, bucket, "/".join(parts[:-2]))
    remote, name = RemoteRun(root, parts[-2]), parts[-1]
    header, state = remote.read(name)
    newer = [n for n in remote.checkpoint_names() if n > name]
    return Loaded(header, state, newest_in_run=not newer, remote=remote)


def checkpoint_of_run(checkpoint_dir: str, run_id: str, stored: str) -> Path:
    """The file of a run's committed row ``stored`` under its ``checkpoint_dir``, proved on disk."""
    root, _ = layout.split_run_dir(checkpoint_dir, run_id)
    # proved on disk: a run directory swapped for a link is refused, never resumed through
    path = layout.confine(root, layout.resolve_under(checkpoint_dir, stored))
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"the catalog's newest checkpoint of run {run_id} is missing on disk ({path}); "
            "run `continuum catalog verify --repair`"
        )
    return path


def _branch_root(header: CheckpointHeader) -> Path:
    """Where a branch goes without ``--checkpoint-dir``: beside the run it branches from,
    when the checkpoint lies in that run's own directory. A loose file (copied to /tmp, say)
    has no such place — its grandparent could be ``/`` — so the user is asked for one."""
    run_dir = Path(os.path.abspath(header.path)).parent
    if run_dir.name == header.identity.run_id and layout.manifest_path(run_dir).is_file():
        return run_dir.parent
    raise ResumeMismatchError(
        f"{header.path} is not in its run's directory ({header.identity.run_id}/ with a "
        "manifest.json), so a run resumed from it has no place of its own: pass "
        "--checkpoint-dir DIR for the new run"
    )


def _check_run_dir(run_dir: Path, run_id: str) -> None:
    """A run continued in place writes in its checkpoint's directory: it must be the run's
    own (named for it, not a link), or the run would write where its header points."""
    if run_dir.name != run_id:
        raise ResumeMismatchError(
            f"{run_dir}: the checkpoint's header names run {run_id}, not this directory's "
            "run; a run directory is named for its run (copy the run's whole directory)"
        )
    layout.confine(run_dir.parent, run_dir)


def _check_seed(req: RunRequest, header: CheckpointHeader) -> None:
    if req.seed is not None and req.seed != header.seed:
        raise ResumeMismatchError(
            f"{header.where}: the checkpoint's seed is {header.seed}; a "
            f"resume keeps it (drop --seed {req.seed})"
        )


def _scenario_for(ir: WorldIR, req: RunRequest, saved: str) -> Scenario:
    """``--scenario`` if given, else the one the checkpoint ran under."""
    if req.scenario is not None:
        return load_scenario(ir, req.scenario)
    if saved == DEFAULT_SCENARIO.name:
        return DEFAULT_SCENARIO
    try:
        return load_named_scenario(ir, saved)  # a name from a file: never opened as a path
    except WorldError as exc:
        raise ResumeMismatchError(
            f"the checkpoint ran under scenario {saved!r}, which cannot be "
            f"loaded now ({exc}); pass --scenario"
        ) from None


def _continues(loaded: Loaded, program: Program, problems: tuple[str, ...]) -> bool:
    """Whether resuming ``loaded`` under ``program`` is its own run going on (see above)."""
    header = loaded.header
    return (
        loaded.newest_in_run
        and not problems
        and program.scenario.hash == header.identity.scenario_hash
        and layout.manifest_path(header.path.parent).is_file()
    )


# --- object storage (s3://): the catalog decides, the objects are only read -----------------


def _check_remote(req: RunRequest) -> None:
    """An ``s3://`` checkpoint directory needs the catalog: its rows are the commit points."""
    if req.no_catalog and layout.is_object_url(req.checkpoint_dir):
        raise CheckpointError(
            f"--checkpoint-dir {req.checkpoint_dir} is object storage, where the catalog row "
            "is what commits a checkpoint: drop --no-catalog (and pass --catalog URL)"
        )


def _choose_remote(
    req: RunRequest, world: str, root: str | None, missing_ok: bool = False
) -> Loaded | None:
    """``--resume --checkpoint-dir s3://...``: the world's run under that root (None: under
    any object-storage root) whose newest committed checkpoint is the most recent, read
    from the catalog (never from a listing); None if there is none and ``missing_ok``."""
    from continuum.catalog import Catalog, SearchQuery  # sqlalchemy: only when asked
    from continuum.runner.reconcile import settle_dead_run

    root = root.rstrip("/") if root is not None else None
    best: tuple[datetime, str] | None = None
    with Catalog(req.catalog) as catalog:
        after = None
        while True:
            page = catalog.search.find(SearchQuery(world=world), limit=ROOTS_PAGE, after=after)
            for run in page.runs:
                if run.checkpoint_dir is None or not layout.is_object_url(run.checkpoint_dir):
                    continue
                if (
                    root is not None
                    and layout.split_run_dir(run.checkpoint_dir, run.run_id)[0] != root
                ):
                    continue
                record = catalog.checkpoints.latest_committed(run.run_id)
                if record is not None and (best is None or record.created_at > best[0]):
                    best = (record.created_at, run.run_id)
            if page.next_cursor is None:
                break
            after = page.next_cursor
        if best is None and missing_ok:
            return None
        if best is None:
            raise CheckpointNotFoundError(
                f"the catalog knows no committed checkpoint of world {world!r} under {root}; "
                "pass --resume-run RUN_ID, or the --checkpoint-dir an earlier run wrote to"
            )
        run_id = best[1]
        run = settle_dead_run(catalog, run_id)
        record = catalog.checkpoints.latest_committed(run_id)
    assert record is not None and run.checkpoint_dir is not None
    where = root or layout.split_run_dir(run.checkpoint_dir, run_id)[0]
    log.info("resuming run %s of world %r under %s at tick %d", run_id, world, where, record.tick)
    return load_remote(RemoteRun.of_url(run.checkpoint_dir, run_id), record.path)


def _resolve_remote(
    req: RunRequest, loaded: Loaded, remote: RemoteRun, program: Program, problems: tuple[str, ...]
) -> Resume:
    """In place or a branch, for a checkpoint on object storage: as :func:`resolve` decides
    for files, with the catalog's word (newest committed row) for "newest of its run"."""
    header = loaded.header
    continues = (
        loaded.newest_in_run
        and not problems
        and program.scenario.hash == header.identity.scenario_hash
        and (req.checkpoint_dir is None or str(req.checkpoint_dir).rstrip("/") == remote.root)
    )
    if continues:
        run_id = header.identity.run_id
        return Resume(
            Mode.IN_PLACE, program, loaded, run_id, None, problems=problems, remote=remote
        )
    root = req.checkpoint_dir or remote.root
    parent = (header.identity.run_id, header.tick)
    return Resume(Mode.BRANCH, program, loaded, root=root, parent=parent, problems=problems)
