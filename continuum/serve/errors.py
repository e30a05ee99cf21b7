"""The API's one error shape: a status and ``{"error": "one line"}``.

:class:`ApiError` is what the handlers raise for the request's own faults (a bad
parameter, an unknown run, a tick that was not captured). :func:`status_of` maps the
project's errors raised below the API to a status in one place, so a ``RunNotFoundError``
is a 404 wherever it comes from, and :func:`error_response` renders any of them as one
JSON line, cut and escaped by :func:`continuum.printable.message_line` (a message may
quote a hostile parameter).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from continuum.errors import (
    BlobStateError,
    CatalogConflictError,
    CatalogUnavailableError,
    ContinuumError,
    ControlError,
    ControlPermissionError,
    ControlTimeoutError,
    InvalidFilterError,
    NotLiveError,
    QueryError,
    RunNotFoundError,
)
from continuum.printable import message_line
from continuum.serve.responses import JSONResponse

log = logging.getLogger("continuum.serve")

#: The longest error line the API returns (escaped characters).
ERROR_LIMIT = 1000


class ApiError(ContinuumError):
    """A request the API refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _control_status(exc: ControlError) -> int:
    """A live run's control channel: not live 409, no access 403, no answer in time 504."""
    if isinstance(exc, NotLiveError):
        return 409
    if isinstance(exc, ControlPermissionError):
        return 403
    if isinstance(exc, ControlTimeoutError):
        return 504
    return 502


def status_of(exc: Exception) -> int:
    """The HTTP status for an error raised while answering a request."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, ControlError):
        return _control_status(exc)
    if isinstance(exc, RunNotFoundError):
        return 404
    if isinstance(exc, InvalidFilterError | QueryError):
        return 400
    if isinstance(exc, CatalogConflictError | BlobStateError):
        return 409
    if isinstance(exc, CatalogUnavailableError):
        return 503
    if isinstance(exc, ContinuumError):
        return 400
    return 500


def error_response(exc: Exception) -> JSONResponse:
    """``{"error": "one line"}`` with the status of ``exc``; an unexpected error is logged
    with its traceback and answered without it."""
    status = status_of(exc)
    if status == 500 and not isinstance(exc, ContinuumError):
        log.error("unexpected error answering a request", exc_info=exc)
        text = f"internal error ({type(exc).__name__}); the server log has the details"
    else:
        text = str(exc)
    return JSONResponse({"error": message_line(text, ERROR_LIMIT)}, status_code=status)


Handler = Callable[[Request], Response]


def answers(handler: Handler) -> Handler:
    """A sync handler whose errors become :func:`error_response` (Starlette runs sync
    handlers on its thread pool, so blocking reads never hold the event loop)."""

    @functools.wraps(handler)
    def wrapped(request: Request) -> Response:
        try:
            return handler(request)
        except Exception as exc:  # every error a request can cause is one JSON line
            return error_response(exc)

    return wrapped


MAX_BODY = 1 << 20
BodyHandler = Callable[[Request, bytes], Response]


def answers_body(handler: BodyHandler) -> Callable[[Request], Awaitable[Response]]:
    """An async endpoint that reads the request body (at most :data:`MAX_BODY` bytes),
    then runs the sync ``handler(request, body)`` on the thread pool; errors as above."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
                chunks.append(chunk)
            return await run_in_threadpool(handler, request, b"".join(chunks))
        except Exception as exc:  # every error a request can cause is one JSON line
            return error_response(exc)

    return wrapped
