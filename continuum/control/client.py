"""The client side: one request to a live run's socket, and cleaning up after dead ones.

What a failed connection means is decided here once, for ``continuum ctl`` and the
inspector alike: no socket file -> :class:`NotLiveError`; a socket file nobody listens on
(``ECONNREFUSED``: its process was killed before it could remove it) ->
:class:`StaleSocketError`; ``EACCES``/``EPERM`` (another user's private directory or
socket) -> :class:`ControlPermissionError`, naming the owner; no reply in time ->
:class:`ControlTimeoutError`.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.control.directory import check_private
from continuum.control.protocol import MAX_REPLY, parse_reply, request_line
from continuum.errors import (
    ControlError,
    ControlPermissionError,
    ControlTimeoutError,
    NotLiveError,
    StaleSocketError,
)
from continuum.layout import StrPath


def request(path: StrPath, command: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """Send ``command`` to the run whose control socket is ``path``; its reply (a dict
    with ``ok``; ``error`` when ``ok`` is false).

    Raises :class:`NotLiveError`, :class:`StaleSocketError`, :class:`ControlPermissionError`,
    :class:`ControlTimeoutError` or :class:`ControlError` (a reply that is not the
    protocol's), each one line.
    """
    line = request_line(command)
    where = os.fspath(path)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(where)
        except OSError as exc:
            raise _connect_error(Path(where), exc) from None
        try:
            sock.sendall(line)
            return parse_reply(_read_reply(sock, deadline, where))
        except TimeoutError:
            raise ControlTimeoutError(
                f"the run at {where} did not answer {command!r} within {timeout:g} s (pass a "
                "longer --timeout; a checkpoint, flush or stop sent stays queued)"
            ) from None
        except (ConnectionResetError, BrokenPipeError):
            raise NotLiveError(f"the run at {where} closed the connection (it is ending)") from None


def live_status(path: StrPath | None, *, timeout: float = 1.0) -> dict[str, Any] | None:
    """The ``status`` reply of the run at ``path``, or None when there is none to be had
    (no path, not live, a stale socket, another user's, no answer within ``timeout``):
    for listings that show whichever runs answer (the inspector's live view)."""
    if path is None:
        return None
    try:
        reply = request(path, "status", timeout=timeout)
    except (ControlError, OSError):
        return None
    return reply if reply.get("ok") else None


def _read_reply(sock: socket.socket, deadline: float, where: str) -> bytes:
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REPLY:
            raise ControlError(f"the reply of {where} is longer than {MAX_REPLY} bytes")
    if not data:
        raise NotLiveError(f"the run at {where} closed the connection without a reply")
    return data.split(b"\n", 1)[0]


def _connect_error(path: Path, exc: OSError) -> ControlError:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotLiveError(f"no control socket at {path}")
    if exc.errno == errno.ECONNREFUSED:
        return StaleSocketError(
            f"{path} is a control socket nobody answers: left by a process that ended"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ControlPermissionError(
            f"you cannot reach the control socket {path} (owned by uid {_owner(path)}; you "
            f"are uid {os.geteuid()}): only the user who started the run can"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return ControlError(f"{path} is too long for a Unix socket path")
    return ControlError(f"cannot connect to {path}: {exc.strerror or exc}")


def _owner(path: Path) -> str:
    """The uid owning the socket, else its private directory, else the directory that
    holds that one (``/run/user/UID``): the nearest that this user may look at."""
    for candidate in (path, path.parent, path.parent.parent):
        try:
            return str(os.lstat(candidate).st_uid)
        except OSError:
            continue
    return "?"


def probe(path: StrPath) -> bool:
    """Whether a process listens on ``path`` (a connect that succeeds; nothing is sent)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(os.fspath(path))
        except OSError:
            return False
    return True


def remove_stale_socket(path: StrPath) -> bool:
    """Remove the socket file at ``path`` if nobody listens on it; True if it was removed.

    Only a socket (never a link: ``lstat``) of this user with a control socket's name,
    directly in a private control directory of this user (named as
    :func:`continuum.layout.control_dirs` names them, and passing
    :func:`~continuum.control.directory.check_private`: a run started under another
    ``$XDG_RUNTIME_DIR`` of the same user is cleaned up too), is removed, by name in that
    directory opened without following links. A socket a process answers is left alone
    (False), as is anything else.
    """
    target = Path(os.path.abspath(os.fspath(path)))
    directory = target.parent
    names = {layout.CONTROL_DIR, f"{layout.CONTROL_DIR}-{os.geteuid()}"}
    if not layout.is_control_socket_name(target.name) or directory.name not in names:
        return False
    try:
        check_private(directory)
    except (ControlError, OSError):
        return False
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return False
    try:
        try:
            st = os.stat(target.name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid() or probe(target):
            return False
        try:
            os.unlink(target.name, dir_fd=fd)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)
