"""The page: ``/`` is ``static/index.html``, ``/static/...`` the files beside it.

The files are package data (``continuum.serve`` ``static/*`` in pyproject), found through
:mod:`importlib.resources` so a regular (non-editable) install serves them too.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles


def static_dir() -> Path:
    with as_file(files("continuum.serve") / "static") as path:
        return Path(path)


def index(request: Request) -> Response:
    return FileResponse(static_dir() / "index.html", headers={"cache-control": "no-cache"})


def static_files() -> StaticFiles:
    return StaticFiles(directory=static_dir())
