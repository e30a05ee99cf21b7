"""Who can reach a run: the private directory, stale sockets of killed runs, other users."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from continuum import layout
from continuum.control import (
    ControlError,
    ControlPermissionError,
    ControlServer,
    NotLiveError,
    StaleSocketError,
    control_path_for,
    private_dir,
    remove_stale_socket,
    request,
)

NOBODY = 65534
SETPRIV = shutil.which("setpriv")
as_root = pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None,
    reason="needs root and setpriv to act as another user (uid 65534)",
)


def dead_socket(path: Path) -> Path:
    """A socket file nobody listens on: what a SIGKILLed run leaves."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.fspath(path))
    sock.close()
    return path


def as_nobody(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Python ``code`` run as uid/gid 65534 (with this interpreter and package)."""
    assert SETPRIV is not None
    argv = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    argv += [sys.executable, "-c", code]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_the_private_dir_is_made_0700_under_the_runtime_dir(runtime_dir):
    made = private_dir()
    assert made == runtime_dir / "continuum"
    st = os.lstat(made)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
    assert control_path_for("run_9") == made / "run_9.sock"


def test_without_a_runtime_dir_of_ours_the_temp_dir_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("TMPDIR", "/tmp")
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert control_path_for("run_9").parent == Path(f"/tmp/continuum-{os.geteuid()}")


def test_a_directory_open_to_others_is_refused_not_repaired(runtime_dir):
    (runtime_dir / "continuum").mkdir(mode=0o755)
    os.chmod(runtime_dir / "continuum", 0o755)
    with pytest.raises(ControlError, match="chmod 700"):
        ControlServer.open("run_1", start_tick=0, end_tick=1)
    assert stat.S_IMODE(os.lstat(runtime_dir / "continuum").st_mode) == 0o755


def test_a_link_in_place_of_the_directory_is_refused(runtime_dir, tmp_path):
    (runtime_dir / "continuum").symlink_to(tmp_path)
    with pytest.raises(ControlError, match="not a directory"):
        private_dir()


@as_root
def test_a_directory_of_another_user_is_refused(runtime_dir):
    mine = runtime_dir / "continuum"
    mine.mkdir(mode=0o700)
    os.chown(mine, NOBODY, NOBODY)
    with pytest.raises(ControlPermissionError, match=f"belongs to uid {NOBODY}"):
        ControlServer.open("run_1", start_tick=0, end_tick=1)


def test_socket_paths_past_103_bytes_are_shortened_deterministically(tmp_path):
    deep = Path("/tmp") / ("d" * 60)
    run_id = "r" * 64
    path = layout.control_socket_path(deep, run_id)
    assert len(os.fsencode(path)) <= layout.MAX_SOCKET_PATH
    assert path == layout.control_socket_path(deep, run_id) and path.name.endswith(".sock")
    assert layout.is_control_socket_name(path.name)
    assert layout.control_socket_path("/run/user/1000/continuum", "abc") == Path(
        "/run/user/1000/continuum/abc.sock"
    )
    with pytest.raises(layout.LayoutError, match="too long"):
        layout.control_socket_path("/" + "x" * 100, "abc")
    with pytest.raises(layout.LayoutError):
        layout.control_socket_path(tmp_path, "../etc")


def test_a_stale_socket_is_told_apart_and_removed(runtime_dir):
    path = dead_socket(private_dir() / "run_3.sock")
    with pytest.raises(StaleSocketError, match="left by a process that ended"):
        request(path, "status")
    assert remove_stale_socket(path) is True and not path.exists()
    with pytest.raises(NotLiveError) as caught:
        request(path, "status")
    assert not isinstance(caught.value, StaleSocketError)
    assert remove_stale_socket(path) is False  # gone already


def test_live_status_is_the_reply_or_none(runtime_dir, server):
    from continuum.control import live_status

    assert live_status(server.path)["run_id"] == "run_1"
    assert live_status(None) is None
    assert live_status(dead_socket(private_dir() / "run_7.sock")) is None  # stale
    assert live_status(private_dir() / "run_8.sock") is None  # no socket


def test_remove_stale_socket_touches_nothing_else(runtime_dir, tmp_path, server):
    assert remove_stale_socket(server.path) is False and server.path.exists()  # live
    assert request(server.path, "status")["ok"]
    regular = private_dir() / "run_4.sock"
    regular.write_text("not a socket")
    assert remove_stale_socket(regular) is False and regular.exists()
    elsewhere = dead_socket(tmp_path / "run_5.sock")  # not in the private directory
    assert remove_stale_socket(elsewhere) is False and elsewhere.exists()
    link = private_dir() / "run_6.sock"
    link.symlink_to(elsewhere)
    assert remove_stale_socket(link) is False and link.is_symlink() and elsewhere.exists()
    odd = dead_socket(private_dir() / "notes.txt")  # not a control socket's name
    assert remove_stale_socket(odd) is False and odd.exists()


@as_root
def test_another_user_cannot_reach_the_socket_and_is_told_whose_it_is(server):
    code = (
        "from continuum.control import request, ControlPermissionError\n"
        f"try:\n    request({str(server.path)!r}, 'status')\n"
        "except ControlPermissionError as exc:\n    print(exc)\n"
    )
    done = as_nobody(code)
    assert done.returncode == 0, done.stderr
    assert "you cannot reach the control socket" in done.stdout
    assert f"owned by uid {os.geteuid()}" in done.stdout and f"uid {NOBODY}" in done.stdout


@as_root
def test_a_peer_of_another_user_is_refused_even_with_loosened_modes(server, runtime_dir):
    """Modes loosened by hand (0777): the server still checks who connects (SO_PEERCRED)."""
    os.chmod(server.path.parent, 0o777)
    os.chmod(server.path, 0o777)
    saved = {runtime_dir: stat.S_IMODE(os.lstat(runtime_dir).st_mode)}
    try:
        os.chmod(runtime_dir, 0o711)  # /tmp/ctl-...: the rest of the way is open already
        code = "from continuum.control import request\n"
        code += f"print(request({str(server.path)!r}, 'status'))"
        done = as_nobody(code)
    finally:
        for p, mode in saved.items():
            os.chmod(p, mode)
    assert done.returncode == 0, done.stderr
    assert "'ok': False" in done.stdout and "not the run's user" in done.stdout
