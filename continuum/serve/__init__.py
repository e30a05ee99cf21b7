"""The inspector: ``continuum serve``, a JSON API and a web page over runs and field history.

Owns: the ASGI application (Starlette under uvicorn), its security (token, host check,
content security policy) and the page's static files. Reads through the catalog, lens,
sql and maintenance packages and talks to live runs through :mod:`continuum.control`.
Must not import: :mod:`continuum.cli`.
"""
