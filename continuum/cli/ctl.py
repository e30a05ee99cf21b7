"""``continuum ctl RUN_ID status|checkpoint|flush|stop``: talk to a live run.

Thin: the catalog says where the run's control socket is (``runs.control_path``; for a
run not in the catalog, this user's private directory is looked in), and
:func:`continuum.control.request` asks. What can go wrong is one line and exit 1: a run
that is not live (ended, or never had a channel), a socket left by a killed run (removed
and the catalog's path cleared, so the next call says plainly that it is not live), a
socket of another user, a run on another host, no answer in time, or the run refusing
(a checkpoint without ``--checkpoint-dir``...). A reply ``pending`` (the run is in a
long tick) is a success: the command is queued and runs at the next tick boundary.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from continuum.cli._output import (
    FiniteFloat,
    catalog_option,
    echo,
    echo_done,
    echo_json,
    json_option,
    quiet_option,
)
from continuum.control import (
    COMMANDS,
    ControlPermissionError,
    ControlTimeoutError,
    NotLiveError,
    StaleSocketError,
    control_path_for,
    remove_stale_socket,
    request,
)
from continuum.errors import ControlError, RunNotFoundError
from continuum.layout import check_run_id


@click.command("ctl")
@click.argument("run_id")
@click.argument("command", type=click.Choice(COMMANDS))
@click.option(
    "--timeout",
    type=FiniteFloat(min=0, min_open=True, max=3600),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the run's answer (a run in a long tick answers 'pending' "
    "after about 3 s).",
)
@json_option
@quiet_option
@catalog_option
def ctl(run_id: str, command: str, timeout: float, as_json: bool, catalog_url: str | None) -> None:
    """Ask a live run for its status, a checkpoint now, a lens flush, or a graceful stop.

    status: tick, rate, queue depths, drops, gaps. checkpoint: write one now (as the
    stride would). flush: seal the current lens window (partial; rewritten whole when
    it ends). stop: the graceful stop of SIGTERM (final checkpoint, status stopped,
    resumable). Only the user who started the run can reach it.

    \b
    Examples:
      continuum ctl 20260116_095430_a1b2c3d4 status
      continuum ctl 20260116_095430_a1b2c3d4 checkpoint --json
      continuum ctl 20260116_095430_a1b2c3d4 stop
    """
    check_run_id(run_id)
    path, forget = _locate(run_id, catalog_url)
    try:
        reply = request(path, command, timeout=timeout)
    except StaleSocketError:
        removed = remove_stale_socket(path)
        forget()
        what = "removed" if removed else "it could not be removed"
        raise NotLiveError(
            f"run {run_id} is not live (its control socket was left by a process that "
            f"ended; {what})"
        ) from None
    except NotLiveError as exc:  # no socket file: nothing can reach the run there
        forget()
        raise NotLiveError(f"run {run_id} is not live ({exc})") from None
    except (ControlPermissionError, ControlTimeoutError) as exc:
        raise type(exc)(f"run {run_id}: {exc}") from None
    if as_json:
        echo_json(reply, indent=None)
    if not reply["ok"]:
        if as_json:
            click.get_current_context().exit(1)
        raise ControlError(f"run {run_id} refused {command}: {reply['error']}")
    if not as_json:
        _print(run_id, command, reply)


def _locate(run_id: str, catalog_url: str | None) -> tuple[Path, Any]:
    """The socket to ask, and what clears the catalog's record of it (a dead socket)."""
    from continuum.catalog import Catalog  # sqlalchemy: after the arguments are checked

    with Catalog(catalog_url) as cat:
        try:
            run = cat.runs.get(run_id)
            if run.control_path is None:  # a killed run without a socket reads as crashed
                cat.liveness.mark_crashed_if_stale(run_id)
                run = cat.runs.get(run_id)
        except RunNotFoundError:
            run = None
        where = cat.where
    if run is None:
        path = control_path_for(run_id)
        if not os.path.lexists(path):
            raise NotLiveError(
                f"no run {run_id} in the catalog {where}, and no control socket of yours "
                f"for it at {path}: it is not live here"
            )
        return path, lambda: None
    if run.control_path is None:
        if run.status != "running":
            raise NotLiveError(
                f"run {run_id} is not live: it is {run.status} (last tick {run.last_tick})"
            )
        fallback = control_path_for(run_id)
        if not os.path.lexists(fallback):
            raise NotLiveError(
                f"run {run_id} is running (pid {run.pid} on {run.host}) but has no control "
                "channel (started by an older Continuum, or its socket could not be opened)"
            )
        return fallback, lambda: None
    here = socket.gethostname()
    if run.host and run.host != here:
        raise NotLiveError(
            f"run {run_id} runs on host {run.host}; its control socket is reachable there "
            f"only (this is {here})"
        )
    path = Path(run.control_path)

    def forget() -> None:
        with Catalog(catalog_url) as cat:
            cat.runs.set_control_path(run_id, None, only_if=path)

    return path, forget


def _print(run_id: str, command: str, reply: dict[str, Any]) -> None:
    tick = reply.get("tick")
    if reply.get("pending"):
        echo(
            f"run {run_id} is in a long tick (tick {tick}): {command} is queued and runs "
            "at the next tick boundary"
        )
        return
    if command == "status":
        for line in status_lines(reply):
            echo(line)
    elif command == "checkpoint":
        echo_done(
            f"run {run_id}: checkpoint at tick {tick} handed to the writer (its row is "
            "pending, then committed)"
        )
    elif command == "flush":
        start, end = reply.get("window") or (None, None)
        echo_done(
            f"run {run_id}: lens window [{start}, {end}) sealed up to tick {tick} (a "
            "partial chunk, rewritten whole when the window ends)"
        )
    else:
        echo_done(
            f"run {run_id}: stopping after tick {tick} (final checkpoint, status stopped, "
            "resumable)"
        )


def status_lines(reply: dict[str, Any]) -> list[str]:
    """A status reply for people: three lines."""
    tick, start, end = reply.get("tick"), reply.get("start_tick"), reply.get("end_tick")
    rate = reply.get("ticks_per_s")
    done = ""
    if isinstance(tick, int) and isinstance(start, int) and isinstance(end, int) and end > start:
        done = f" ({100 * (tick - start) / (end - start):.1f}%)"
    speed = f"{rate:g} ticks/s" if isinstance(rate, int | float) else "rate not known yet"
    queues = reply.get("queues") or {}
    last = reply.get("last_checkpoint_tick")
    return [
        f"run {reply.get('run_id')}: {reply.get('status')}, tick {tick} of [{start}, {end})"
        f"{done}, {speed}, pid {reply.get('pid')}, {reply.get('elapsed_s')} s",
        f"queues: checkpoint {queues.get('checkpoint', 0)}, lens {queues.get('lens', 0)}; "
        f"dropped checkpoints {reply.get('dropped_checkpoints', 0)}; lens gaps "
        f"{reply.get('lens_gaps', 0)}; last checkpoint "
        f"{'none' if last is None else f'tick {last}'}",
        f"last tick published {_age(reply.get('heartbeat_at'))}",
    ]


def _age(iso: object) -> str:
    try:
        at = datetime.fromisoformat(str(iso))
    except ValueError:
        return "at an unknown time"
    return f"{max(0.0, (datetime.now(UTC) - at).total_seconds()):.1f} s ago"
