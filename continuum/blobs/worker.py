"""Background writer threads that outlive their own failures, and waits that always end.

Every writer a run feeds (the checkpoint writer, the lens stages, the Parquet exporter)
is one daemon thread draining a bounded queue. Two promises, kept here once for all:

- **A failure is not a death.** Any ``Exception`` of the thread's handler — an
  ``OSError`` of a full disk, a ``ContinuumError`` of a malformed manifest, a bug —
  goes to the writer's ``on_error`` (which counts and logs it) and the thread takes
  the next item. Only a ``BaseException`` (``SystemExit``...) ends it; that is
  logged once and remembered (:attr:`Worker.died`).
- **No wait is forever.** :meth:`Worker.put` waits for room in slices of ``POLL_S``
  and gives up (``False``) once the thread is gone; :meth:`Worker.finish` hands over
  the stop marker the same way and joins a thread that is still working. A thread
  that is alive is waited for: it makes progress or its handler is stuck in the
  kernel, which no timeout here could undo.

:class:`Failures` is the count-and-log-once half of ``on_error``: one line per kind of
failure on its 1st, 2nd, 4th, 8th... occurrence (a full disk fails every write; the
log must not drown), and the totals for the run's summary.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from continuum.errors import ContinuumError
from continuum.layout import StrPath

__all__ = [
    "KILL_AFTER_ENV",
    "POLL_S",
    "SLOW_ENV",
    "Failures",
    "Worker",
    "describe",
    "kill_point",
    "slow_point",
]

log = logging.getLogger("continuum")

#: Test-only fault injection, never set outside tests: ``POINT[:TICK]`` makes the writer
#: that reaches ``POINT`` (``rename``: a checkpoint renamed into place, before ``latest``
#: and the catalog hear of it; ``lens-rename``: a lens chunk, before its manifest entry and
#: catalog row) SIGKILL its own process there — for the chunk or checkpoint of ``TICK``
#: (a checkpoint's tick, a chunk's end), or the first one without ``:TICK``.
KILL_AFTER_ENV = "CONTINUUM_TEST_KILL_AFTER"

#: Test-only, never set outside tests: ``POINT:SECONDS`` makes the writer stage ``POINT``
#: (``lens-io``: before each lens chunk is written) sleep that long, as a slow disk would.
SLOW_ENV = "CONTINUUM_TEST_SLOW"
#: How often a waiting producer checks that the thread it waits for is still alive.
POLL_S = 0.05

T = TypeVar("T")


def describe(exc: BaseException) -> str:
    """One line for a log: the message of an expected error, the type too for anything else.

    An ``OSError`` is its reason (``No space left on device``): the caller's line names
    the file, and the temporary the error would name is no business of the reader's.
    Continuum's own errors say what happened in their message; for any other exception
    (a bug, a malformed value slipping through) the type is the most useful word.
    """
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = (str(exc).splitlines() or [""])[0]
    if isinstance(exc, OSError | ContinuumError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def start_failure(
    error: type[ContinuumError], what: str, directory: StrPath, manifest: StrPath, exc: Exception
) -> ContinuumError:
    """``exc``, raised while a ``what`` directory (``checkpoint``, ``lens``) and its
    manifest were opened, as the one line the run stops with, saying what to do."""
    if isinstance(exc, ContinuumError):
        return exc
    if isinstance(exc, OSError):
        return error(
            f"cannot write {what} directory {directory}: {describe(exc)}; "
            "free space there or make it writable, then run again"
        )
    return error(  # a manifest that loaded but holds values it should not
        f"{manifest}: not a usable {what} manifest ({describe(exc)}); move it away and run again"
    )


def kill_point(point: str, tick: int) -> None:
    """Test-only: SIGKILL this process here if ``CONTINUUM_TEST_KILL_AFTER`` names it."""
    spec = os.environ.get(KILL_AFTER_ENV)
    if not spec:
        return  # the production path: one dict look-up per committed blob
    name, _, at = spec.partition(":")
    if name == point and (not at or at == str(tick)):
        os.kill(os.getpid(), signal.SIGKILL)


def slow_point(point: str) -> None:
    """Test-only: sleep here if ``CONTINUUM_TEST_SLOW`` names ``point``."""
    spec = os.environ.get(SLOW_ENV)
    if not spec:
        return
    name, _, seconds = spec.partition(":")
    if name == point:
        time.sleep(float(seconds or 0))


class Failures:
    """Failures of one writer, counted by kind, each kind logged on a power-of-two count."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._lock = threading.Lock()  # several stages of one writer can fail at once
        self.counts: dict[str, int] = {}

    def add(self, kind: str, message: str) -> int:
        """Count one failure of ``kind``; log ``message`` on its 1st, 2nd, 4th... time."""
        with self._lock:
            n = self.counts[kind] = self.counts.get(kind, 0) + 1
        if n & (n - 1) == 0:
            more = f" ({n} so far)" if n > 1 else ""
            self._log.warning("%s%s", message, more)
        return n

    def __getitem__(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _Stop:
    """The marker that ends a worker after what is queued before it."""


_STOP = _Stop()


class Worker(Generic[T]):
    """One daemon thread calling ``handle(item)`` for each queued item, in order."""

    def __init__(
        self,
        name: str,
        handle: Callable[[T], None],
        *,
        depth: int,
        on_error: Callable[[T, Exception], None],
    ) -> None:
        self.name = name
        self._queue: queue.Queue[T | _Stop] = queue.Queue(maxsize=depth)
        self._handle = handle
        self._on_error = on_error
        self.died: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Items queued and not yet taken (approximate: read from any thread)."""
        return self._queue.qsize()

    def offer(self, item: T) -> bool:
        """Queue ``item`` if there is room now; False (nothing queued) if not."""
        if not self.alive:
            return False
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def put(self, item: T) -> bool:
        """Queue ``item``, waiting for room while the thread lives; False if it is gone."""
        return self._put(item)

    def finish(self) -> bool:
        """Let the thread do what is queued, then stop it; False if it had died.

        Safe to call twice; never from the worker's own thread (it would wait for itself).
        """
        if self._put(_STOP):
            self._thread.join()
        return self.died is None

    def _put(self, item: T | _Stop) -> bool:
        while self.alive:
            try:
                self._queue.put(item, timeout=POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def _loop(self) -> None:
        try:
            while not isinstance(item := self._queue.get(), _Stop):
                try:
                    self._handle(item)
                except Exception as exc:  # the stage's failure: counted, the thread goes on
                    self._report(item, exc)
        except BaseException as exc:  # noqa: BLE001 - the thread must say why it ends
            self.died = exc
            log.error("%s thread stopped: %s", self.name, describe(exc))

    def _report(self, item: T, exc: Exception) -> None:
        try:
            self._on_error(item, exc)
        except Exception as again:  # a failing error handler must not end the thread either
            log.error("%s: %s (and reporting it failed: %s)", self.name, describe(exc), again)
