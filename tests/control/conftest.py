"""Helpers for control-channel tests: a private runtime directory, a server, a tick loop."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from continuum.control import ControlServer


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``$XDG_RUNTIME_DIR`` of this test: short (socket paths hold 103 bytes) and private,
    so no socket of another test or process is ever in the way."""
    made = Path(tempfile.mkdtemp(prefix="ctl-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(made))
    yield made
    shutil.rmtree(made, ignore_errors=True)


class Loop:
    """A tick loop on a thread: publishes a tick every ``period`` s and answers what is
    queued, as ``continuum.runner.live`` does between two ticks."""

    def __init__(self, server: ControlServer, period: float = 0.01) -> None:
        self.server, self.period = server, period
        self.tick = server.start_tick
        self.taken: list[tuple[str, int]] = []
        self.busy = threading.Event()  # set: the "tick" in progress does not end
        self._stop = threading.Event()
        self.answer: Callable[[str, int], dict[str, Any]] = lambda name, tick: {
            "ok": True,
            "tick": tick,
            "done": name,
        }
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Loop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.busy.clear()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            while self.busy.is_set() and not self._stop.is_set():
                time.sleep(0.01)
            self.tick += 1
            self.server.publish(self.tick)
            while (command := self.server.take()) is not None:
                self.taken.append((command.name, self.tick))
                command.answer(self.answer(command.name, self.tick))
            time.sleep(self.period)


@pytest.fixture
def server(runtime_dir: Path) -> Iterator[ControlServer]:
    """A real server for run ``run_1`` (ticks [0, 1000)), its status with a queue depth."""
    made = ControlServer.open(
        "run_1", start_tick=0, end_tick=1000, status=lambda: {"queues": {"checkpoint": 0}}
    )
    yield made
    made.close()
