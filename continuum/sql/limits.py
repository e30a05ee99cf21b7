"""Bounds of a user-SQL session: DuckDB's memory limit and a statement timeout.

DuckDB's own default memory limit is 80% of RAM, and it has no statement timeout (2.0.1:
no such setting). A session gets ``memory_limit`` (default ``min(1 GiB, 25% of RAM)``;
beyond it DuckDB spills to the session's private temp dir, else the query fails with one
line) and a timeout (default 60 s) that runs from ``execute`` until the result is fully
fetched or closed: one process-wide watchdog thread calls the statement's
``cursor.interrupt()`` when its deadline passes (a thread per statement cost ~0.25 ms,
measured; arming the watchdog costs microseconds).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from continuum.errors import QueryError

GIB = 1 << 30
DEFAULT_TIMEOUT_S = 60.0
MIN_MEMORY = 16 << 20  # below this DuckDB cannot plan a simple scan


def ram_bytes() -> int | None:
    """Physical memory, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_memory_limit() -> int:
    """``min(1 GiB, 25% of RAM)``: bounded on a shared machine, spilling beyond it."""
    ram = ram_bytes()
    return GIB if ram is None else max(MIN_MEMORY, min(GIB, ram // 4))


def format_size(n: int) -> str:
    """``1 GiB``, ``512 MiB``: how a limit is named in messages."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.3g} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class Limits:
    """``memory``: DuckDB's memory limit in bytes; ``timeout``: seconds, None for none."""

    memory: int
    timeout: float | None

    @classmethod
    def of(
        cls, memory_limit: int | str | None = None, timeout: float | None = DEFAULT_TIMEOUT_S
    ) -> Limits:
        """Limits from user values: sizes like ``2G`` or bytes; a timeout of 0 or None: none."""
        if isinstance(memory_limit, str):
            from continuum.catalog import parse_size  # the one size grammar (500M, 2G)

            try:
                memory_limit = parse_size(memory_limit)
            except ValueError as exc:  # InvalidFilterError is a ValueError too
                raise QueryError(f"memory limit: {exc}") from None
        memory = default_memory_limit() if memory_limit is None else int(memory_limit)
        if memory < MIN_MEMORY:
            raise QueryError(
                f"memory limit {format_size(memory)} is too small: at least "
                f"{format_size(MIN_MEMORY)}, e.g. 2G"
            )
        if timeout is not None and not timeout >= 0:  # also refuses NaN
            raise QueryError(f"timeout must be >= 0 seconds (0: none), got {timeout}")
        if not timeout or timeout == float("inf"):
            return cls(memory, None)
        return cls(memory, float(timeout))


class Deadline:
    """One statement's timeout: ``fired`` once the watchdog has interrupted it."""

    def __init__(self, seconds: float | None, interrupt: Callable[[], object]) -> None:
        self.seconds, self.fired = seconds, False
        self._interrupt = interrupt
        self._token = None if seconds is None else WATCHDOG.arm(seconds, self._fire)

    def _fire(self) -> None:
        self.fired = True
        self._interrupt()

    def cancel(self) -> None:
        """The statement finished (or was closed): its deadline no longer applies."""
        if self._token is not None:
            WATCHDOG.disarm(self._token)
            self._token = None


class Watchdog:
    """One daemon thread that calls each armed callback when its deadline passes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, fire: Callable[[], None]) -> int:
        """Call ``fire`` in ``seconds`` unless disarmed first; returns the token."""
        with self._cond:
            token = next(self._ids)
            self._armed[token] = fire
            heapq.heappush(self._heap, (time.monotonic() + seconds, token))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._loop, name="sql-watchdog")
                self._thread.daemon = True
                self._thread.start()
            self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        """Forget ``token``'s callback; its heap entry goes when due or at a compaction."""
        with self._cond:
            self._armed.pop(token, None)
            if len(self._heap) > 2 * len(self._armed) + 1024:  # many short statements
                self._heap = [e for e in self._heap if e[1] in self._armed]
                heapq.heapify(self._heap)

    def _loop(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                when, token = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(min(delay, 3600.0))
                    continue
                heapq.heappop(self._heap)
                fire = self._armed.pop(token)
                with contextlib.suppress(Exception):  # a closed cursor must not stop the thread
                    fire()


WATCHDOG = Watchdog()
