"""Actions that change something: the control channel, pins and prunes (POST, token-gated).

The token and the cross-site check are :mod:`continuum.serve.security`'s, applied to
every POST before a handler runs. ``ctl`` sends one command to the run's control socket
(:func:`continuum.control.request`, the contract's client) and returns its reply; a
socket left by a killed run is removed and the catalog's record of it cleared, as
``continuum ctl`` does. ``pin``/``unpin`` are the catalog's; ``prune`` is
:func:`continuum.maintenance.prune` for that run (its dry run is ``GET prune-plan``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from continuum.maintenance import prune
from continuum.serve import params
from continuum.serve.detail import plan_json
from continuum.serve.errors import ApiError, answers, answers_body
from continuum.serve.live import control, control_path
from continuum.serve.responses import JSONResponse
from continuum.serve.rows import checkpoint_row
from continuum.serve.runs import run_id_of
from continuum.serve.state import Inspector

COMMANDS = ("status", "checkpoint", "flush", "stop")


def _clear_control_path(inspector: Inspector, run_id: str) -> None:
    setter = getattr(inspector.catalog.runs, "set_control_path", None)
    if setter is not None:
        setter(run_id, None)


def send(inspector: Inspector, run_id: str, command: str) -> dict[str, Any]:
    """``command``'s reply from the run's control socket (see the module docstring)."""
    run = inspector.catalog.runs.get(run_id)
    module = control()
    if module is None:
        raise ApiError(501, "this installation has no control channel (continuum.control)")
    path = control_path(run)
    if path is None or run.status != "running":
        raise ApiError(409, f"run {run_id} is not live (status {run.status}, no control socket)")
    try:
        reply = module.request(path, command, timeout=inspector.config.control_timeout)
    except module.StaleSocketError:
        module.remove_stale_socket(path)
        _clear_control_path(inspector, run_id)
        raise ApiError(
            409,
            f"run {run_id} is not live (its control socket was left by a process that ended; "
            "removed)",
        ) from None
    if not isinstance(reply, dict):
        raise ApiError(502, f"run {run_id} answered {command} with no JSON object")
    if not reply.get("ok", False):
        error = reply.get("error") or f"run {run_id} refused {command}"
        raise ApiError(409, str(error))
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
