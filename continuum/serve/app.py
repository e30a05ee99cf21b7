"""The application: :func:`create_app` builds the Starlette app over one :class:`Inspector`.

Routes are plain functions (one module per concern); the security middleware
(:mod:`continuum.serve.security`) wraps everything, so no route answers before the Host
check, the token and the cross-site check. Unknown paths and methods are JSON errors
too. Starlette was chosen over FastAPI: routes + plain functions, no pydantic (headers
and manifests are already validated by msgspec), one small dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from continuum import __version__
from continuum.serve import actions, detail, fields, live, pages, runs, signals, sql
from continuum.serve.errors import answers
from continuum.serve.responses import JSONResponse
from continuum.serve.security import Security
from continuum.serve.state import Inspector, ServeConfig


@answers
def health(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    return JSONResponse({"ok": True, "version": __version__, "catalog": inspector.catalog.where})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = {404: f"no such endpoint: {request.url.path[:200]}", 405: "method not allowed here"}
    return JSONResponse(
        {"error": text.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code
    )


RUN = "/api/runs/{run_id}"
FIELD = RUN + "/fields/{name}"


def routes() -> list[Route | Mount]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/", pages.index, methods=get),
        Mount("/static", app=pages.static_files(), name="static"),
        Route("/api/health", health, methods=get),
        Route("/api/runs", runs.list_runs, methods=get),
        Route(RUN, detail.run_detail, methods=get),
        Route(RUN + "/fields", fields.list_fields, methods=get),
        Route(FIELD + "/frame", fields.frame, methods=get),
        Route(FIELD + "/value", fields.value, methods=get),
        Route(FIELD + "/history", fields.history, methods=get),
        Route(RUN + "/signals", signals.run_signals, methods=get),
        Route("/api/signals", signals.overlay, methods=get),
        Route("/api/sql", sql.post_sql, methods=post),
        Route("/api/sql.csv", sql.get_csv, methods=get),
        Route("/api/sql/examples", sql.examples, methods=get),
        Route("/api/live", live.live, methods=get),
        Route("/api/events", live.events, methods=get),
        Route(RUN + "/ctl/{command}", actions.ctl, methods=post),
        Route(RUN + "/pin", actions.pin, methods=post),
        Route(RUN + "/unpin", actions.unpin, methods=post),
        Route(RUN + "/prune", actions.run_prune, methods=post),
        Route(RUN + "/prune-plan", actions.prune_plan, methods=get),
    ]


def create_app(config: ServeConfig | None = None) -> Starlette:
    """The inspector's ASGI app for ``config`` (the catalog is opened now, so a bad
    ``--catalog`` fails before anything listens), closed when the app shuts down."""
    config = config or ServeConfig()
    inspector = Inspector(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            inspector.close()

    app = Starlette(
        routes=routes(),
        middleware=[Middleware(Security, token=config.token, host=config.host)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.inspector = inspector
    return app
