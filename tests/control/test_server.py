"""The socket protocol against a real server object: status, queued commands, misbehaving peers."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from continuum.control import (
    ControlError,
    ControlServer,
    NotLiveError,
    request,
)
from continuum.control import server as server_module
from continuum.control.protocol import MAX_REQUEST, parse_request

from .conftest import Loop


def raw(path: os.PathLike[str] | str, data: bytes, *, close_write: bool = True) -> dict:
    """Send ``data`` as it is and read the one reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(os.fspath(path))
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while b"\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return json.loads(reply)


def test_the_socket_is_private_and_gone_after_close(server, runtime_dir):
    path = server.path
    assert path == runtime_dir / "continuum" / "run_1.sock"
    assert stat.S_ISSOCK(os.lstat(path).st_mode) and stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(path.parent).st_mode) == 0o700
    server.close()
    assert not path.exists()
    with pytest.raises(NotLiveError, match="no control socket at"):
        request(path, "status")


def test_status_is_answered_from_what_the_loop_published(server):
    first = request(server.path, "status")
    assert first["ok"] is True and first["tick"] == 0 and first["ticks_per_s"] is None
    assert (first["run_id"], first["start_tick"], first["end_tick"]) == ("run_1", 0, 1000)
    assert first["pid"] == os.getpid() and first["status"] == "running"
    assert first["queues"] == {"checkpoint": 0}  # the runner's counters, merged in
    with Loop(server, period=0.005):
        time.sleep(0.3)
        second = request(server.path, "status")
    assert second["tick"] > first["tick"] and second["ticks_per_s"] > 0
    assert second["elapsed_s"] >= 0.3 and second["heartbeat_at"].endswith("+00:00")


def test_status_never_waits_for_a_busy_loop(server):
    with Loop(server) as loop:
        time.sleep(0.05)
        loop.busy.set()  # a tick that does not end
        began = time.monotonic()
        reply = request(server.path, "status", timeout=2)
        assert time.monotonic() - began < 0.5 and reply["ok"]


@pytest.mark.parametrize("command", ["checkpoint", "flush", "stop"])
def test_loop_commands_are_taken_between_ticks_and_answered_by_the_loop(server, command):
    with Loop(server) as loop:
        reply = request(server.path, command)
    assert reply["ok"] and reply["done"] == command
    assert loop.taken == [(command, reply["tick"])]


def test_a_busy_loop_gets_a_pending_reply_and_the_command_runs_later(server, monkeypatch):
    monkeypatch.setattr(server_module, "PENDING_AFTER", 0.3)
    with Loop(server) as loop:
        time.sleep(0.05)
        loop.busy.set()
        reply = request(server.path, "checkpoint", timeout=5)
        assert reply == {"ok": True, "pending": True, "tick": loop.tick, "command": "checkpoint"}
        assert loop.taken == []
        loop.busy.clear()  # the long tick ends: the queued command is taken at its boundary
        deadline = time.monotonic() + 5
        while not loop.taken and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [name for name, _ in loop.taken] == ["checkpoint"]


def test_a_refusal_of_the_loop_reaches_the_client(server):
    with Loop(server) as loop:
        loop.answer = lambda name, tick: {"ok": False, "error": "no lens here"}
        assert request(server.path, "flush") == {"ok": False, "error": "no lens here"}


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"not json\n", "not one JSON line"),
        (b"\xff\xfe\n", "not one JSON line"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"command": 3}\n', "JSON object"),
        (b'{"command": "rm -rf"}\n', "unknown command"),
        (b'{"cmd": "status"}\n', "JSON object"),
        (b"x" * (MAX_REQUEST + 10), "longer than 4096"),
    ],
    ids=["text", "bytes", "list", "number", "unknown", "no-command", "too-long"],
)
def test_a_bad_request_is_one_line_and_the_server_goes_on(server, data, said):
    reply = raw(server.path, data)
    assert reply["ok"] is False and said in reply["error"] and "\n" not in reply["error"]
    assert request(server.path, "status")["ok"]


def test_a_request_without_its_newline_is_taken_when_the_client_closes(server):
    assert raw(server.path, b'{"command": "status"}')["tick"] == 0


def test_an_idle_client_is_dropped_and_others_are_served_meanwhile(server, monkeypatch):
    monkeypatch.setattr(server_module, "IDLE_S", 0.3)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.settimeout(5)
        idle.connect(os.fspath(server.path))
        assert request(server.path, "status")["ok"]  # served while the idle one waits
        began = time.monotonic()
        reply = json.loads(idle.recv(4096))
        assert reply["ok"] is False and "no request line" in reply["error"]
        assert time.monotonic() - began < 2
        assert idle.recv(4096) == b""  # and the connection is closed


def test_clients_past_the_limit_are_refused_with_one_line(server, monkeypatch):
    monkeypatch.setattr(server_module, "IDLE_S", 1.0)
    idle = []
    try:
        for _ in range(server_module.MAX_CLIENTS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(os.fspath(server.path))
            idle.append(sock)
        time.sleep(0.1)
        reply = request(server.path, "status")
        assert reply["ok"] is False and "clients" in reply["error"]
    finally:
        for sock in idle:
            sock.close()
    time.sleep(1.2)
    assert request(server.path, "status")["ok"]  # the slots came back


def test_closing_refuses_what_the_loop_never_took(server):
    answers: list[dict] = []
    waiting = threading.Thread(target=lambda: answers.append(request(server.path, "stop")))
    waiting.start()
    deadline = time.monotonic() + 5
    while not server.waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    server.close("run run_1 is ending (completed)")
    waiting.join(5)
    assert answers == [{"ok": False, "error": "run run_1 is ending (completed)"}]


def test_a_second_live_server_for_the_same_run_is_refused(server):
    with pytest.raises(ControlError, match="another live process"):
        ControlServer.open("run_1", start_tick=0, end_tick=1)
    assert request(server.path, "status")["ok"]  # the first one is untouched


def test_a_socket_left_by_a_dead_process_of_the_run_is_replaced(runtime_dir):
    """A real process opens the run's socket and is SIGKILLed: the file stays, nobody
    listens, and the next process of the run takes the path over."""
    code = (
        "import sys, time; from continuum.control import ControlServer; "
        "s = ControlServer.open('run_2', start_tick=0, end_tick=10); "
        "print(s.path, flush=True); time.sleep(120)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        path = Path(proc.stdout.readline().strip())
        assert request(path, "status")["start_tick"] == 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert path.exists()  # as a SIGKILL leaves it
    second = ControlServer.open("run_2", start_tick=5, end_tick=10)
    try:
        assert second.path == path
        assert request(second.path, "status")["start_tick"] == 5
    finally:
        second.close()


def test_parse_request_takes_exactly_the_commands():
    assert [parse_request(json.dumps({"command": c}).encode()) for c in ("status", "stop")] == [
        "status",
        "stop",
    ]
    with pytest.raises(ControlError, match="unknown command"):
        parse_request(b'{"command": "STATUS"}')
    with pytest.raises(ControlError, match="unknown control command"):
        request("/nonexistent.sock", "reboot")
