"""A live run's control channel, runner side: publish each tick, take commands between ticks.

:func:`open_control` binds the run's socket (:class:`continuum.control.ControlServer`)
once the run is accepted and its writers run, and records its path in the catalog. The
loop then calls the returned :class:`LiveControl` before every tick: it publishes the
tick (two assignments) and, only when a command is queued (a truth test), takes it:

- ``checkpoint``: the current state handed to the checkpoint writer exactly as the
  stride's trigger hands it (``submit``: never waits; a full queue drops it, and the
  reply says so) — the row appears ``pending``, then ``committed``, as always;
- ``flush``: the lens window sealed now as a partial chunk (:meth:`LensCapture.flush`;
  the window is rewritten whole when it ends, so the lens keeps one file per window);
- ``stop``: the graceful stop of SIGTERM, reason ``ctl`` (:mod:`continuum.runner.stop`).

Neither command changes the state, so a run commanded this way ends bitwise where it
would have. A socket that cannot be opened (a private directory that is not private, a
path too long) is one warning: the run goes on without a control channel, as a run goes
on without a catalog row it could not write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from continuum.checkpoint import CheckpointWriter
    from continuum.control import ControlServer
    from continuum.lens import LensCapture
    from continuum.runner.prepare import Prepared
    from continuum.runner.recorder import RunRecorder
    from continuum.runner.stop import StopSignals

log = logging.getLogger("continuum.control")


class LiveControl:
    """The tick loop's side of one run's control socket (see the module docstring)."""

    def __init__(
        self,
        server: ControlServer,
        p: Prepared,
        *,
        writer: CheckpointWriter | None,
        lens: LensCapture | None,
        stop: StopSignals,
        last_checkpoint: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.server, self.p = server, p
        self.writer, self.lens, self.stop = writer, lens, stop
        self.last_checkpoint = last_checkpoint  # the newest committed checkpoint's tick
        self._handlers: dict[str, Callable[[int], dict[str, Any]]] = {
            "checkpoint": self._checkpoint,
            "flush": self._flush,
            "stop": self._stop,
        }

    @property
    def path(self) -> Path:
        return self.server.path

    def __call__(self) -> None:
        """Between two ticks: publish where the run is, take what is queued."""
        server = self.server
        server.publish(self.p.state.tick)
        if server.waiting:
            self._take()

    def _take(self) -> None:
        tick = self.p.state.tick
        while (command := self.server.take()) is not None:
            try:
                reply = self._handlers[command.name](tick)
            except Exception as exc:  # a command must never end the run
                log.warning("control: %s at tick %d failed: %s", command.name, tick, exc)
                reply = {"ok": False, "error": f"{command.name} failed at tick {tick}: {exc}"}
            command.answer(reply)

    def _checkpoint(self, tick: int) -> dict[str, Any]:
        writer = self.writer
        if writer is None:
            return _refused(
                f"run {self.p.run_id} writes no checkpoints (it was started without "
                "--checkpoint-dir); there is nothing to write one to"
            )
        if writer.last_tick == tick:  # the stride's trigger queued this tick already
            return {"ok": True, "tick": tick, "queued": True}
        if not writer.submit(self.p.state.snapshot()):
            return _refused(
                f"the checkpoint at tick {tick} was dropped: the writer's queue is full "
                f"({writer.queued} waiting); try again once it has drained"
            )
        return {"ok": True, "tick": tick, "queued": True}

    def _flush(self, tick: int) -> dict[str, Any]:
        lens = self.lens
        if lens is None:
            return _refused(
                f"run {self.p.run_id} captures no lens (it was started without --lens-dir); "
                "there is nothing to flush"
            )
        window = lens.flush(tick)
        if window is None:
            return _refused(f"the lens writer of run {self.p.run_id} has stopped")
        return {"ok": True, "tick": tick, "window": list(window)}

    def _stop(self, tick: int) -> dict[str, Any]:
        self.stop.ask("ctl")  # False: already stopping, which is what was asked
        return {"ok": True, "tick": tick, "stopping": True}

    def status(self) -> dict[str, Any]:
        """Counters for ``status``, read on the server's thread (reads only)."""
        writer, lens = self.writer, self.lens
        return {
            "status": "stopping" if self.stop.requested else "running",
            "world": self.p.ir.name,
            "queues": {
                "checkpoint": writer.queued if writer else 0,
                "lens": lens.queued if lens else 0,
            },
            "dropped_checkpoints": writer.dropped if writer else 0,
            "lens_gaps": len(lens.gaps) if lens else 0,
            "last_checkpoint_tick": self.last_checkpoint(),
        }

    def close(self, status: str) -> None:
        """Stop serving and remove the socket; what is still queued is refused."""
        self.server.close(f"run {self.p.run_id} is ending ({status}); the command was not taken")


def _refused(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def open_control(
    p: Prepared,
    *,
    end_tick: int,
    writer: CheckpointWriter | None,
    lens: LensCapture | None,
    stop: StopSignals,
    recorder: RunRecorder | None,
    last_checkpoint: Callable[[], int | None],
) -> LiveControl | None:
    """The run's control channel, its path recorded in the catalog; None (one warning)
    when the socket cannot be opened."""
    from continuum.control import ControlServer

    live: LiveControl | None = None

    def status() -> dict[str, Any]:
        return live.status() if live is not None else {}

    try:
        server = ControlServer.open(
            p.run_id, start_tick=p.state.tick, end_tick=end_tick, status=status
        )
    except Exception as exc:  # ContinuumError, OSError; any other is a bug, never the run's end
        log.warning(
            "run %s has no control channel (continuum ctl cannot reach it): %s", p.run_id, exc
        )
        return None
    live = LiveControl(
        server, p, writer=writer, lens=lens, stop=stop, last_checkpoint=last_checkpoint
    )
    if recorder is not None:
        recorder.control_path(server.path)
    return live
