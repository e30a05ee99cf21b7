"""The private directory the control sockets live in: only their user can reach them.

A socket's own mode is not enough on every system (some ignore it for ``connect``), so
the guarantee is the directory's: mode 0700, owned by the user, not a symbolic link. It
is ``$XDG_RUNTIME_DIR/continuum`` when ``$XDG_RUNTIME_DIR`` is a directory of the user's
(what systemd makes per login: private, on tmpfs, emptied at logout), else
``{tempfile.gettempdir()}/continuum-{uid}``. A directory found there owned by another
user, or reachable by group or others, is refused, never chmod-ed or used: in a shared
``/tmp`` it may have been made by someone waiting for our sockets.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from continuum import layout
from continuum.errors import ControlError, ControlPermissionError


def candidate_dirs() -> list[Path]:
    """The private directories this user's runs may use, preferred first."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and not _owned_dir(runtime):
        runtime = None  # not a directory of this user: not "usable"
    return layout.control_dirs(runtime, tempfile.gettempdir(), os.geteuid())


def _owned_dir(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def check_private(path: layout.StrPath) -> os.stat_result:
    """The directory's ``lstat`` if it is this user's private directory; else
    ``ControlPermissionError`` (another user's) or ``ControlError`` (a link, a file, or
    reachable by group or others), each saying what to do. ``FileNotFoundError`` if absent."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ControlError(
            f"{path} is not a directory (a link or a file); the control channel needs a private "
            "directory there: remove it"
        )
    if st.st_uid != os.geteuid():
        raise ControlPermissionError(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}); control "
            "sockets are not put in another user's directory: remove it or set XDG_RUNTIME_DIR"
        )
    if st.st_mode & 0o077:
        raise ControlError(
            f"{path} is reachable by other users (mode {stat.S_IMODE(st.st_mode):o}); control "
            f"sockets need a private directory: chmod 700 {path}"
        )
    return st


def private_dir(*, create: bool = True, run_id: str | None = None) -> Path:
    """This user's private directory of control sockets, made (mode 0700) if ``create``.

    With ``run_id``, the first candidate whose socket path for it fits (a long
    ``$XDG_RUNTIME_DIR`` falls back to the temp directory). ``ControlError`` or
    ``ControlPermissionError`` if the directory found is not private; ``FileNotFoundError``
    if it does not exist and ``create`` is off.
    """
    candidates = candidate_dirs()
    if not create:
        for path in candidates:
            if os.path.lexists(path):
                check_private(path)
                return path
        raise FileNotFoundError(errno.ENOENT, "no private control directory", str(candidates[-1]))
    path = candidates[0]
    if run_id is not None:
        for candidate in candidates:
            try:
                layout.control_socket_path(candidate, run_id)
            except layout.LayoutError:
                continue
            path = candidate
            break
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ControlError(
            f"cannot create the control directory {path}: {exc.strerror or exc}"
        ) from None
    else:
        os.chmod(path, 0o700, follow_symlinks=False)  # mkdir's mode is cut by the umask
    check_private(path)
    return path


def control_path_for(run_id: str, *, create: bool = False) -> Path:
    """Where run ``run_id`` of this user has (or would have) its control socket.

    Without ``create`` nothing is made: the directory preferred now, or the one that
    exists (a run started with another ``$XDG_RUNTIME_DIR`` is found by the catalog's
    ``control_path``, not here).
    """
    layout.check_run_id(run_id)
    if create:
        return layout.control_socket_path(private_dir(create=True, run_id=run_id), run_id)
    for directory in candidate_dirs():
        path = layout.control_socket_path(directory, run_id)
        if os.path.lexists(path):
            return path
    return layout.control_socket_path(candidate_dirs()[0], run_id)
