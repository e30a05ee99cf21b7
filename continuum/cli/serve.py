"""``continuum serve``: the inspector, one URL printed.

Thin: the options are parsed and checked (the host resolves, the port fits, the catalog
opens) before anything listens; the socket is bound here so ``--port 0`` can print the
port the OS picked; then uvicorn serves :func:`continuum.serve.create_app` until SIGINT
or SIGTERM, which end it cleanly (exit 0; connections get a few seconds to finish).
The printed line carries the token: whoever holds it may pin, prune, checkpoint and stop.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import click

from continuum.cli._output import catalog_option, echo, echo_json, is_quiet, quiet_option
from continuum.errors import ContinuumError

GRACE_S = 3


class ServeError(ContinuumError):
    """``continuum serve`` cannot start as asked."""


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServeError(f"--host {host!r}: not an address or a known host name ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    return sock


def _more_open_files(wanted: int = 4096) -> None:
    """Raise the soft open-file limit toward ``wanted`` (within the hard limit): the
    inspector keeps lens stores open, each with a few chunk files."""
    try:
        import resource
    except ImportError:  # not on this platform: the default stands
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # refused: the default stands
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _url(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; another host needs e.g. 0.0.0.0 (and then every request "
    "needs the token).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free port, printed).",
)
@click.option(
    "--export-dir",
    "roots",
    metavar="DIR",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Also let the SQL console read the Parquet exports under DIR (repeatable), as "
    "lens sql --export-dir.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the URL, host, port and token as JSON."
)
@quiet_option
@catalog_option
def serve(
    host: str, port: int, roots: tuple[Path, ...], as_json: bool, catalog_url: str | None
) -> None:
    """Serve the inspector: runs, fields, signals, SQL and live runs in a browser.

    Prints one line with the URL to open; its token is needed for anything that
    changes something (pin, prune, checkpoint, stop). Ctrl-C stops it.

    \b
    Example:
      continuum serve
      continuum serve --port 0 --json
    """
    import uvicorn  # the server: only when serving

    from continuum.serve import ServeConfig, create_app

    if not host or not host.isprintable() or len(host) > 255:
        raise ServeError(f"--host {host[:80]!r}: not an address or a host name")
    sock = _bind(host, port)
    _more_open_files()
    try:
        real_port = sock.getsockname()[1]
        config = ServeConfig(catalog_url=catalog_url, host=host, port=real_port, export_roots=roots)
        app = create_app(config)
        url = _url(host, real_port, config.token)
        if as_json:
            doc = {"url": url, "host": host, "port": real_port, "token": config.token}
            echo_json(doc, indent=None)  # one line: a script reads it as soon as it is there
        else:
            echo(f"Continuum inspector: {url}")
        server = _server_class(uvicorn.Server)(
            app.state.inspector.stopping,
            uvicorn.Config(
                app,
                log_level="error" if is_quiet() else "warning",
                timeout_graceful_shutdown=GRACE_S,
                lifespan="on",
            ),
        )
        _run(server, sock)
    finally:
        sock.close()


def _server_class(base: type[Any]) -> type[Any]:
    """uvicorn's server, telling the app when a signal starts the shutdown: the live event
    streams then end by themselves within their 0.1 s poll instead of being cancelled after
    the grace period (which uvicorn reports with a traceback)."""

    class Server(base):
        def __init__(self, stopping: threading.Event, config: Any) -> None:
            super().__init__(config)
            self._stopping = stopping

        def handle_exit(self, sig: int, frame: Any) -> None:
            self._stopping.set()
            super().handle_exit(sig, frame)

    return Server


class _Stopped(Exception):
    """SIGTERM arrived: end as on Ctrl-C."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def _run(server: Any, sock: socket.socket) -> None:
    """Serve until SIGINT or SIGTERM. uvicorn shuts down gracefully, then raises the signal
    it caught again for the handler it found: ours, so both end here with exit 0."""
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
