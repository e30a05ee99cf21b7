"""Actions that change something: the control channel, pins and prunes (POST, token-gated).

The token and the cross-site check are :mod:`continuum.serve.security`'s, applied to
every POST before a handler runs. ``ctl`` sends one command to the run's control socket
(:func:`continuum.control.request`) and returns its reply, found and handled as
``continuum ctl`` does: a socket left by a killed run is removed and the catalog's record
of it cleared; a run on another host, ended or without a channel is a 409; no access 403;
no answer in time 504; a refusal (a checkpoint without a checkpoint dir) 409.
``pin``/``unpin`` are the catalog's; ``prune`` is :func:`continuum.maintenance.prune` for
that run (its dry run is ``GET prune-plan``).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

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
from continuum.maintenance import prune
from continuum.serve import params
from continuum.serve.detail import plan_json
from continuum.serve.errors import ApiError, answers, answers_body
from continuum.serve.responses import JSONResponse
from continuum.serve.rows import checkpoint_row
from continuum.serve.runs import run_id_of
from continuum.serve.state import Inspector


def _socket_of(inspector: Inspector, run_id: str) -> Path:
    """Where ``run_id``'s control socket is, or the one line saying why it is not live."""
    catalog = inspector.catalog
    run = catalog.runs.get(run_id)
    if run.control_path is None and run.status == "running":
        catalog.liveness.mark_crashed_if_stale(run_id)  # a killed run: crashed, not live
        run = catalog.runs.get(run_id)
    if run.status != "running":
        raise NotLiveError(
            f"run {run_id} is not live: it is {run.status} (last tick {run.last_tick})"
        )
    here = socket.gethostname()
    if run.host and run.host != here:
        raise NotLiveError(
            f"run {run_id} runs on host {run.host}; its control socket is reachable there "
            f"only (this is {here})"
        )
    if run.control_path is not None:
        return Path(run.control_path)
    fallback = control_path_for(run_id)
    if not os.path.lexists(fallback):
        raise NotLiveError(
            f"run {run_id} is running (pid {run.pid} on {run.host}) but has no control "
            "channel (started by an older Continuum, or its socket could not be opened)"
        )
    return fallback


def send(inspector: Inspector, run_id: str, command: str) -> dict[str, Any]:
    """``command``'s reply from the run's control socket (what ``continuum ctl`` does: a
    socket left by a killed run is removed and the catalog's record of it cleared)."""
    path = _socket_of(inspector, run_id)
    try:
        reply = request(path, command, timeout=inspector.config.control_timeout)
    except StaleSocketError:
        removed = remove_stale_socket(path)
        inspector.catalog.runs.set_control_path(run_id, None, only_if=path)
        what = "removed" if removed else "it could not be removed"
        raise NotLiveError(
            f"run {run_id} is not live (its control socket was left by a process that "
            f"ended; {what})"
        ) from None
    except NotLiveError as exc:
        inspector.catalog.runs.set_control_path(run_id, None, only_if=path)
        raise NotLiveError(f"run {run_id} is not live ({exc})") from None
    except (ControlPermissionError, ControlTimeoutError) as exc:
        raise type(exc)(f"run {run_id}: {exc}") from None
    if not reply.get("ok", False):
        raise ApiError(409, f"run {run_id} refused {command}: {reply.get('error')}")
    return reply


@answers_body
def ctl(request: Request, body: bytes) -> Response:
    inspector: Inspector = request.app.state.inspector
    command = request.path_params["command"]
    if command not in COMMANDS:
        raise ApiError(
            404, f"unknown control command {command[:40]!r}; one of {', '.join(COMMANDS)}"
        )
    return JSONResponse(send(inspector, run_id_of(request), command))


def _pin(pinned: bool):
    @answers_body
    def handler(request: Request, body: bytes) -> Response:
        inspector: Inspector = request.app.state.inspector
        tick = params.need_integer(request.query_params, "tick")
        record = inspector.catalog.checkpoints.pin(run_id_of(request), tick, pinned)
        return JSONResponse(checkpoint_row(record))

    return handler


pin = _pin(True)
unpin = _pin(False)


@answers_body
def run_prune(request: Request, body: bytes) -> Response:
    inspector: Inspector = request.app.state.inspector
    run_id = run_id_of(request)
    inspector.catalog.runs.get(run_id)  # an unknown run: 404 before anything is planned
    report = prune(inspector.catalog, [run_id])
    return JSONResponse(report.to_dict())


@answers
def prune_plan(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    run_id = run_id_of(request)
    inspector.catalog.runs.get(run_id)
    report = prune(inspector.catalog, [run_id], dry_run=True)
    return JSONResponse({**report.to_dict(), **plan_json(report)})
