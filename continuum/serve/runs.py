"""``/api/runs`` (keyset pages over the catalog's search) and ``/api/runs/{id}`` (a run's detail).

The filters are ``continuum catalog search``'s, parsed into the same
:class:`~continuum.catalog.SearchQuery`; pages continue after a cursor, never by OFFSET,
so the 2,000th page costs what the first does. ``total`` (one COUNT over the same
filters) is given with the first page only: later pages pay nothing for it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from continuum.catalog import SORTS, SearchQuery, parse_param_filter
from continuum.catalog.records import parse_label
from continuum.serve import params
from continuum.serve.errors import ApiError, answers
from continuum.serve.live import live_row
from continuum.serve.responses import JSONResponse
from continuum.serve.rows import run_row
from continuum.serve.state import Inspector

MAX_PAGE = 500
DEFAULT_PAGE = 50


def run_id_of(request: Request) -> str:
    """The ``{run_id}`` of the path, checked printable and bounded (a 404 follows if unknown)."""
    return params.check_text("run_id", request.path_params["run_id"])


def query_of(q: Any) -> SearchQuery:
    """The :class:`SearchQuery` of the request's parameters (400 on any bad one)."""
    tags = []
    for text in params.texts(q, "tag"):
        tags.append(parse_label(text, "tag"))
    return SearchQuery(
        world=params.text(q, "world"),
        ir_hash=params.text(q, "ir_hash"),
        seed=params.integer(q, "seed"),
        scenario=params.text(q, "scenario"),
        status=params.text(q, "status"),
        tags=tuple(tags),
        params=tuple(parse_param_filter(p) for p in params.texts(q, "param")),
        tick_covers=params.integer(q, "covers"),
        has_checkpoint_after=params.integer(q, "has_checkpoint_after"),
        started_after=params.when(q, "started_after"),
        started_before=params.when(q, "started_before"),
    )


def _known(q: Any) -> None:
    allowed = {
        "world", "ir_hash", "seed", "scenario", "status", "tag", "param", "covers",
        "has_checkpoint_after", "started_after", "started_before", "sort", "limit", "after",
    }  # fmt: skip
    unknown = sorted(set(q.keys()) - allowed)
    if unknown:
        raise ApiError(
            400, f"unknown parameter {unknown[0]!r}; filters: {', '.join(sorted(allowed))}"
        )


@answers
def list_runs(request: Request) -> Response:
    inspector: Inspector = request.app.state.inspector
    q = request.query_params
    _known(q)
    query = query_of(q)
    sort = params.choice(q, "sort", SORTS, "-started_at")
    limit = params.integer(q, "limit", DEFAULT_PAGE, lo=1, hi=MAX_PAGE)
    after = params.text(q, "after")
    assert limit is not None
    search = inspector.catalog.search
    page = search.find(query, limit=limit, after=after, sort=sort)
    total = search.count(query) if after is None else None
    rows = [run_row(r, live_row(r)) for r in page.runs]
    return JSONResponse({"runs": rows, "next": page.next_cursor, "total": total})
