"""The server side: a Unix socket beside the tick loop, which it never waits on.

Threads: one accepts connections, one per connection (at most :data:`MAX_CLIENTS` at
once; more get one refusing line) reads the request line — dropped after
:data:`IDLE_S` without one, or past :data:`~continuum.control.protocol.MAX_REQUEST`
bytes — and answers it. All are daemon threads: a run that ends never waits for a
client.

- ``status`` is answered by the connection's thread from what the loop published last
  (:meth:`ControlServer.publish`: one tuple assigned per tick, and a second one about
  once a second for the recent rate) and a ``status`` callable of the runner's that only
  reads counters. It never takes a lock the loop holds.
- ``checkpoint``, ``flush`` and ``stop`` are queued (:class:`Command`); the loop sees
  the queue between two ticks (:attr:`ControlServer.waiting`: a truth test of a deque),
  takes each command and answers it. The connection's thread waits for that answer up
  to :data:`PENDING_AFTER` seconds, then replies ``{"ok": true, "pending": true}``: the
  command stays queued and runs at the next tick boundary all the same (a long tick).

The socket is made in the private directory (:mod:`continuum.control.directory`) with
mode 0600; a socket file of the same name left by a killed process of the same run (a
resume in place) is removed first, a live one is refused. Peers are also checked by
their credentials (``SO_PEERCRED``, Linux): another user than ours (root aside) is
refused even if the modes were loosened by hand.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from continuum.control.client import probe, remove_stale_socket
from continuum.control.directory import control_path_for
from continuum.control.protocol import (
    LOOP_COMMANDS,
    MAX_REQUEST,
    encode,
    error_reply,
    parse_request,
)
from continuum.errors import ControlError

log = logging.getLogger("continuum.control")

#: Seconds a connection may take to send its request line.
IDLE_S = 2.0
#: Seconds a queued command's connection waits for the loop before replying ``pending``.
PENDING_AFTER = 3.0
#: Connections served at once; more are refused with one line.
MAX_CLIENTS = 16
#: The recent rate of ``status`` is measured over at least this many seconds.
RATE_WINDOW_S = 1.0

Status = Callable[[], dict[str, Any]]


class Command:
    """A command for the tick loop: taken between ticks, answered once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reply: dict[str, Any] | None = None
        self._done = threading.Event()

    def answer(self, reply: dict[str, Any]) -> None:
        """The loop's answer (the first one counts)."""
        if self.reply is None:
            self.reply = reply
            self._done.set()

    def wait(self, timeout: float) -> dict[str, Any] | None:
        """The answer, or None if the loop did not take the command within ``timeout``."""
        return self.reply if self._done.wait(timeout) else None


class ControlServer:
    """The control socket of one live run.

    ``start_tick``/``end_tick``: where the segment starts and the tick it runs to;
    ``status``: extra fields of a ``status`` reply (queue depths, drops...), read on the
    server's threads. Use :meth:`open` to bind and start, :meth:`close` at the end.
    """

    def __init__(
        self,
        path: Path,
        run_id: str,
        *,
        start_tick: int,
        end_tick: int,
        status: Status | None = None,
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.start_tick, self.end_tick = start_tick, end_tick
        self._status = status or dict
        now = time.monotonic()
        self.started = now
        self._latest = (start_tick, now)  # (tick, monotonic): assigned by the loop
        self._mark = self._previous = self._latest
        self._inbox: collections.deque[Command] = collections.deque()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._closing = False
        self._final: str | None = None  # why queued commands are refused after close
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._uid = os.geteuid()

    @classmethod
    def open(
        cls,
        run_id: str,
        *,
        start_tick: int,
        end_tick: int,
        status: Status | None = None,
        path: Path | None = None,
    ) -> ControlServer:
        """Bind the run's socket (in the private directory unless ``path``) and serve.

        ``ControlError`` (one line) if it cannot: another live process holds the socket,
        the private directory is not private, the path is too long.
        """
        server = cls(
            path or control_path_for(run_id, create=True),
            run_id,
            start_tick=start_tick,
            end_tick=end_tick,
            status=status,
        )
        server.start()
        return server

    def start(self) -> None:
        path = self.path
        if os.path.lexists(path):
            if probe(path):
                raise ControlError(
                    f"{path} is answered by another live process of run {self.run_id}; "
                    "the run is not continued twice"
                )
            remove_stale_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(path))
            os.chmod(path, 0o600)
            sock.listen(MAX_CLIENTS)
        except OSError as exc:
            sock.close()
            raise ControlError(
                f"cannot open the control socket {path}: {exc.strerror or exc}"
            ) from None
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="control-accept", daemon=True)
        self._thread.start()

    # -- the tick loop's side (cheap: called every tick) -----------------------------------

    def publish(self, tick: int) -> None:
        """The loop is between ticks at ``tick``: what ``status`` reports (two assignments,
        and a third about once a second)."""
        now = time.monotonic()
        self._latest = (tick, now)
        if now - self._mark[1] >= RATE_WINDOW_S:
            self._previous, self._mark = self._mark, (tick, now)

    @property
    def waiting(self) -> bool:
        """Commands are queued for the loop (a truth test: cheap every tick)."""
        return bool(self._inbox)

    def take(self) -> Command | None:
        """The oldest queued command, or None."""
        try:
            return self._inbox.popleft()
        except IndexError:
            return None

    # -- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The ``status`` reply, from what the loop published (never waits on it)."""
        tick, at = self._latest
        mark = self._previous if self._previous[1] < at else self._mark
        if mark[1] >= at:
            mark = (self.start_tick, self.started)
        span = at - mark[1]
        rate = (tick - mark[0]) / span if span > 0 else None
        now = time.monotonic()
        beat = datetime.now(UTC).timestamp() - (now - at)
        extra = {}
        try:
            extra = self._status()
        except Exception as exc:  # a counter the runner could not read: status still answers
            log.debug("control status: %s", exc)
        return {
            "ok": True,
            "run_id": self.run_id,
            "tick": tick,
            "start_tick": self.start_tick,
            "end_tick": self.end_tick,
            "ticks_per_s": None if rate is None else round(rate, 3),
            "elapsed_s": round(now - self.started, 3),
            "pid": os.getpid(),
            "status": "running",
            "heartbeat_at": datetime.fromtimestamp(beat, UTC).isoformat(),
            **extra,
        }

    # -- connections -----------------------------------------------------------------------

    def _accept(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._closing:
            try:
                conn, _ = sock.accept()
            except OSError:
                if self._closing:
                    return
                time.sleep(0.05)  # EMFILE and the like: try again, never spin
                continue
            if self._closing:
                conn.close()
                return
            if not self._slots.acquire(blocking=False):
                self._refuse(conn, f"run {self.run_id} is serving {MAX_CLIENTS} clients; retry")
                continue
            threading.Thread(
                target=self._serve, args=(conn,), name="control-client", daemon=True
            ).start()

    def _refuse(self, conn: socket.socket, why: str) -> None:
        """Reply ``why`` and close, without the reset a close with the client's request
        unread would send (the client would lose the reply): its line is drained briefly."""
        with contextlib.suppress(OSError):
            conn.settimeout(0.2)
            conn.sendall(encode(error_reply(why)))
            conn.shutdown(socket.SHUT_WR)
            conn.recv(MAX_REQUEST + 1)
        conn.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(IDLE_S)
                if not self._peer_allowed(conn):
                    _read_line(conn)  # read first: closing on an unread request resets it
                    conn.sendall(encode(error_reply("refused: not the run's user")))
                    return
                reply = self._answer(conn)
                if reply is not None:
                    conn.sendall(encode(reply))
        except OSError:
            pass  # the client went away: nothing to tell it
        finally:
            self._slots.release()

    def _peer_allowed(self, conn: socket.socket) -> bool:
        option = getattr(socket, "SO_PEERCRED", None)
        if option is None:  # not Linux: the directory's mode is the guarantee
            return True
        try:
            raw = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
        except OSError:
            return True
        _pid, uid, _gid = struct.unpack("3i", raw)
        return uid in (self._uid, 0)

    def _answer(self, conn: socket.socket) -> dict[str, Any] | None:
        line = _read_line(conn)
        if line is None:
            return error_reply(f"no request line within {IDLE_S:g} s")
        if len(line) > MAX_REQUEST:
            return error_reply(f"the request is longer than {MAX_REQUEST} bytes")
        try:
            command = parse_request(line)
        except ControlError as exc:
            return error_reply(exc)
        if command == "status":
            return self.status()
        assert command in LOOP_COMMANDS
        return self._queue(command)

    def _queue(self, name: str) -> dict[str, Any]:
        if self._closing:
            return error_reply(self._final or f"run {self.run_id} is ending")
        command = Command(name)
        self._inbox.append(command)
        if self._closing:  # closed while queueing: close() may not have seen it
            self._drain()
        reply = command.wait(PENDING_AFTER)
        if reply is None:
            tick = self._latest[0]
            return {"ok": True, "pending": True, "tick": tick, "command": name}
        return reply

    # -- the end ---------------------------------------------------------------------------

    def close(self, why: str | None = None) -> None:
        """Stop serving, remove the socket, refuse what is still queued with ``why``."""
        if self._closing:
            return
        self._final = why or f"run {self.run_id} ended before it took the command"
        self._closing = True
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
            wake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with contextlib.suppress(OSError), wake:  # elsewhere: a connection of our own
                wake.settimeout(0.2)
                wake.connect(os.fspath(self.path))
            sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._drain()

    def _drain(self) -> None:
        while (command := self.take()) is not None:
            command.answer(error_reply(self._final or "the run ended"))

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(conn: socket.socket) -> bytes | None:
    """The request line (without its newline), cut past :data:`MAX_REQUEST` bytes; None
    if the client sent nothing whole in time."""
    data = b""
    deadline = time.monotonic() + IDLE_S
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        conn.settimeout(left)
        try:
            chunk = conn.recv(MAX_REQUEST + 1 - len(data))
        except TimeoutError:
            return None
        if not chunk:
            break  # the client closed its side: what it sent is the request
        data += chunk
        if len(data) > MAX_REQUEST:
            return data
    line = data.split(b"\n", 1)[0]
    return line if line.strip() or b"\n" in data else (line or None)
