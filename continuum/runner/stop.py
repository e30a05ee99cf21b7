"""Stopping a run on SIGINT or SIGTERM: after a whole tick, outputs closed, a way back printed.

While a run executes, :class:`StopSignals` turns SIGINT (Ctrl-C) and SIGTERM into a
request the tick loop reads between ticks: the tick in progress always completes (a
signal never lands inside one, so no state is half-advanced). The run then ends as at
its last tick, only with status ``stopped``: its final checkpoint when it checkpoints
(unless one at that tick is already on disk), the lens's last window sealed as a
partial window, the segment ``stopped`` in the run manifest and the catalog, and one
line on stderr (:func:`stop_line`): where it stopped, the checkpoint, and the exact
command that resumes it. ``continuum run`` then exits ``128 + signal`` (130 for SIGINT,
143 for SIGTERM), the shell's convention for a process ended by a signal.

Decisions where the issue leaves a choice:

- **A second signal while stopping is ignored**, with one line saying the stop is in
  progress. The stop only waits for writers that make progress (their waits give up on
  a thread that is gone, :mod:`continuum.blobs.worker`), so it ends by itself; cutting
  it short would lose the checkpoint the stop exists to write. A user who must end it at
  once can ``kill -KILL`` the process (the line gives its pid): the run is then
  ``crashed``, the catalog settles its range at its newest committed checkpoint and the
  writers' temporaries are removed by the next resume, as for any killed run.
- A signal after the last tick (while the run's outputs close) changes nothing: the run
  ran all its ticks and is ``completed``.
- A stop before the first tick (while the run is being prepared) takes effect at the
  first check: the run stops at its start tick.
- The resume command names the run by id (``--resume-run``) when the catalog recorded
  it and by its checkpoint file (``--checkpoint-path``) when it runs without one; it
  repeats what shapes the run's files (checkpoint stride and directory, lens directory,
  stride and fields, ...) and ``--steps`` for the ticks still to run, so that running it
  ends where the uninterrupted run would have, bitwise. A catalog URL given with
  ``--catalog`` is repeated (its password, if any, shown as ``***``); the one the
  environment names is not.
- **A stop asked on the control channel** (``continuum ctl RUN_ID stop``,
  :mod:`continuum.runner.live`) is this same stop, taken between two ticks: status
  ``stopped``, resumable bitwise, exit 143 as for SIGTERM. Its reason is ``ctl`` (the
  summary's ``stopped.reason``, the line's ``(ctl)``, the manifest segment's
  ``stopped_by`` and the catalog's ``run-stopped`` audit entry; a signal's reason is
  its name there).
- Signals are only caught on the main thread (Python delivers them there); ``execute``
  called from another thread leaves them alone. A signal the process was started with
  ignored (SIGINT of a job started with ``&`` by a script) stays ignored.
"""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from continuum.runner.prepare import Prepared
from continuum.runner.request import RunRequest

#: The signals that stop a run gracefully.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Test-only, never set outside tests: seconds to sleep after each tick, so that a test's
#: signal lands mid-run on a world that would otherwise finish before it is sent.
TICK_SLEEP_ENV = "CONTINUUM_TEST_TICK_SLEEP"


class StopSignals:
    """While entered: SIGINT and SIGTERM ask the run to stop instead of ending the process."""

    def __init__(self, tick_of: Callable[[], int | None] = lambda: None) -> None:
        self.signum: int | None = None
        self.reason: str | None = None  # SIGINT, SIGTERM or ctl
        self.ending = False  # set once the loop is over: a signal then changes nothing
        self.tick_of = tick_of
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def ask(self, reason: str) -> bool:
        """Stop as SIGTERM does, for ``reason`` (``ctl``: the control channel); False if a
        stop is already under way or the loop is over (nothing changes then)."""
        if self.signum is not None or self.ending:
            return False
        self.reason = reason
        self.signum = signal.SIGTERM
        return True

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # ignored by whoever started us (``cmd &`` in a script): still ignored
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        """The handler: record the first signal; say what is going on for any other."""
        if self.signum is None and not self.ending:
            self.signum = signum
            self.reason = signal.Signals(signum).name
            return
        tick = self.tick_of()
        at = f" at tick {tick}" if tick is not None else ""
        what = "stopping" if self.signum is not None else "ending (all ticks ran)"
        # os.write: the handler may interrupt a write to sys.stderr (a progress bar), and a
        # buffered stream written re-entrantly raises
        os.write(
            2,
            f"continuum: {signal.Signals(signum).name} ignored: already {what}{at}, writing the "
            f"last checkpoint and lens window; wait for it (kill -KILL {os.getpid()} abandons "
            "them: the run is then crashed and resumes from its newest committed "
            "checkpoint)\n".encode(),
        )


def tick_sleep() -> float:
    """The test-only pause after each tick (:data:`TICK_SLEEP_ENV`), 0 without it."""
    try:
        return max(0.0, float(os.environ.get(TICK_SLEEP_ENV) or 0))
    except ValueError:
        return 0.0


def step(
    p: Prepared,
    steps: int,
    observer: Callable[[Any], None] | None,
    stop: StopSignals,
    between: Callable[[], None] | None = None,
) -> bool:
    """Run up to ``steps`` ticks, checking for a stop before each; True if all ran.

    ``between`` is called before each tick's stop check (the control channel takes its
    commands there, so a ``stop`` it takes is seen before the next tick)."""
    pause = tick_sleep()
    for _ in range(steps):
        if between is not None:
            between()
        if stop.requested:
            return False
        p.sim.step(p.state)
        if observer is not None:
            observer(p.state)
        if pause:
            time.sleep(pause)
    return True


@dataclass(frozen=True)
class Stopped:
    """What the summary says about a stopped run (``summary["stopped"]``)."""

    signal: str | None  # SIGINT, SIGTERM; None for a stop asked on the control channel
    tick: int
    checkpoint: str | None  # the checkpoint a resume continues from, None without one
    resume: str | None  # the command that resumes the run, None without a checkpoint
    exit_code: int  # 128 + the signal's number
    message: str  # the line ``continuum run`` prints on stderr
    reason: str  # SIGINT, SIGTERM, or ctl (``continuum ctl RUN_ID stop``)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stopped(
    p: Prepared,
    req: RunRequest,
    signum: int,
    checkpoint: tuple[int, Path | str] | None,
    recorded: bool,
    last_tick: int,
    reason: str | None = None,
) -> Stopped:
    """The stop's record and line. ``checkpoint`` (tick, path): the run's newest one on
    disk; ``recorded``: whether the catalog holds the run and its checkpoints (so that
    ``--resume-run`` finds that one); ``last_tick``: where the run was to end;
    ``reason``: ``ctl`` for a stop asked on the control channel (default: the signal)."""
    name = signal.Signals(signum).name
    cause = reason or name
    shown_signal = name if cause == name else None
    tick = p.state.tick
    head = f"stopped run {p.run_id} at tick {tick} ({cause})"
    if checkpoint is None:
        none = p.checkpoints_at is None
        why = "it writes none" if none else "its final one was not written"
        again = start_command(p, req)
        hint = " (add --checkpoint-dir DIR to make it resumable)" if none else ""
        message = (
            f"{head}; no checkpoint of it exists ({why}), so it cannot be resumed; "
            f"to start it again{hint}: {again}"
        )
        return Stopped(shown_signal, tick, None, None, 128 + signum, message, cause)
    at, path = checkpoint
    command = resume_command(p, req, (at, path), recorded, last_tick - at)
    where = f"checkpoint: {path}"
    if at != tick:
        where = f"its final checkpoint was not written; the newest is tick {at}: {path}"
    message = f"{head}; {where}; resume with: {command}"
    return Stopped(shown_signal, tick, str(path), command, 128 + signum, message, cause)


def resume_command(
    p: Prepared, req: RunRequest, checkpoint: tuple[int, Path | str], recorded: bool, left: int
) -> str:
    """``continuum run`` continuing this run from ``checkpoint`` for ``left`` more ticks."""
    path = checkpoint[1]
    if p.remote is not None:  # the catalog knows where: a run on object storage always has one
        how = ["--resume-run", p.run_id, "--checkpoint-dir", p.remote.root]
    elif recorded:
        assert p.run_dir is not None
        how = ["--resume-run", p.run_id, "--checkpoint-dir", str(p.run_dir.parent)]
    else:
        how = ["--checkpoint-path", str(path)]
    args = [req.world, *how, "--steps", str(left), *_checkpoint_options(req), *_shared(req)]
    return _command(args)


def start_command(p: Prepared, req: RunRequest) -> str:
    """``continuum run`` starting this run again from its start (same world, scenario, seed)."""
    args = [req.world]
    if req.scenario is not None:
        args += ["--scenario", req.scenario]
    args += ["--seed", str(p.sim.seed), "--steps", str(req.steps), *_shared(req)]
    return _command(args)


def _checkpoint_options(req: RunRequest) -> list[str]:
    args = ["--checkpoint-stride", str(req.checkpoint_stride)]
    if req.checkpoint_interval is not None:
        args += ["--checkpoint-interval", repr(req.checkpoint_interval)]
    if req.keep_checkpoints is not None:
        args += ["--keep-checkpoints", str(req.keep_checkpoints)]
    return args


def _shared(req: RunRequest) -> list[str]:
    """Lens and catalog options: what the continued run must write the same way."""
    args: list[str] = []
    if req.lens_dir is not None:
        args += ["--lens-dir", str(req.lens_dir), "--lens-stride", str(req.lens_stride)]
        args += ["--lens-fields", req.lens_fields or "all"]
        if req.lens_chunk_size is not None:
            args += ["--lens-chunk-size", str(req.lens_chunk_size)]
        if req.lens_memory is not None:
            args += ["--lens-memory", str(req.lens_memory)]
        if req.lens_on_full != "wait":
            args += ["--lens-on-full", req.lens_on_full]
        if req.lens_full:
            args.append("--lens-full")
        if not req.lens_by_sample:
            args.append("--no-lens-by-sample")
        if req.lens_export_dir is not None:
            args += ["--lens-export-dir", str(req.lens_export_dir)]
    if req.no_catalog:
        args.append("--no-catalog")
    elif req.catalog is not None:
        shown = _catalog_shown(req.catalog)
        if shown is not None:
            args += ["--catalog", shown]
    return args


def _catalog_shown(url: str) -> str | None:
    """The ``--catalog`` to repeat: None if ``$CONTINUUM_CATALOG`` names it anyway."""
    from sqlalchemy.engine import make_url  # the catalog is in use: sqlalchemy is loaded

    from continuum.catalog import locate_catalog

    env = os.environ.get("CONTINUUM_CATALOG")
    if env and locate_catalog(env).url == url:
        return None
    return make_url(url).render_as_string(hide_password=True)


def _command(args: list[str]) -> str:
    return " ".join(["continuum", "run", *map(shlex.quote, args)])
