"""The inspector: ``continuum serve``, a JSON API and a web page over runs and field history.

Owns: the ASGI application (Starlette under uvicorn), its security (token, host check,
content security policy) and the page's static files. Reads through the catalog, lens,
sql and maintenance packages and talks to live runs through :mod:`continuum.control`.
Must not import: :mod:`continuum.cli`.

Modules, one concern each: ``app`` (the routes, :func:`create_app`), ``security`` (the
middleware), ``state`` (:class:`ServeConfig`, the shared parts), ``errors`` (the one
error shape), ``params`` (query parameters), ``rows`` (records as JSON), ``runs`` and
``detail`` (runs), ``fields`` and ``frames`` (maps, values, point histories), ``stores``
(open lens directories), ``signals``, ``sql`` and ``examples``, ``live`` (status and
server-sent events), ``actions`` (control, pin, prune), ``pages`` (the static page).
The endpoints are listed in ``docs/serve-api.md``.
"""

from continuum.serve.app import create_app
from continuum.serve.security import new_token
from continuum.serve.state import DEFAULT_HOST, DEFAULT_PORT, ServeConfig

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServeConfig", "create_app", "new_token"]
