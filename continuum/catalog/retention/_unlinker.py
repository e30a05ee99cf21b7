"""Unlinking a prune's files: in this process, or in a helper process beside it.

A large prune claims a batch of rows, unlinks their files, settles the rows, batch
after batch. Overlapping the database work with the unlinks on a second thread
gained little: the GIL serialises the two (every unlink returns to Python and
waits for the other thread's Python), and a 90,000-file prune took ~1.6x its
unlinks alone (measured, SQLite, 2 cores). So a large prune starts one child
process (``python -I -S`` running ``_unlink_worker.py``: standard library only,
~15 ms to start) that unlinks each batch while this process claims the next
batch and settles the previous one, single-threaded.

The child only ever receives paths of rows already claimed (``deleting``): if
either side dies, what is left is what any crash leaves, ``deleting`` rows that
the next prune or ``catalog verify --repair`` finishes. If the child cannot be
started, or dies, its batch and the rest are unlinked here (unlinking twice is
harmless: a file already gone counts as deleted).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from continuum.catalog.retention._claims import Group
from continuum.catalog.retention.rules import Item

log = logging.getLogger("continuum.catalog")
WORKER = Path(__file__).with_name("_unlink_worker.py")
NOT_ABSOLUTE = "not an absolute path; left in place"

#: (the groups' rows deleted, and for each file that was not: a one-row group and why)
Unlinked = tuple[list[Group], list[tuple[Group, str]]]


def _file(g: Group, path: str) -> str | None:
    if path.startswith(os.sep):
        return path
    return None if g.base is None else g.base + path


def _each_file(groups: Sequence[Group]) -> Iterator[tuple[Item, str | None]]:
    """Each row of ``groups`` with its file (None: not knowable, never deleted)."""
    for g in groups:
        for item in g.items:
            yield item, _file(g, item.path)


def _settled(groups: Sequence[Group], bad: dict[int, str]) -> Unlinked:
    """Split ``groups`` by ``bad`` (``id(item)`` -> why its file is still there)."""
    if not bad:
        return list(groups), []
    done, failed = [], []
    for g in groups:
        mine = [i for i in g.items if id(i) in bad]
        if not mine:
            done.append(g)
            continue
        done.append(g._replace(items=[i for i in g.items if id(i) not in bad]))
        failed += [(g._replace(items=[i]), bad[id(i)]) for i in mine]
    return done, failed


def unlink_here(groups: Sequence[Group]) -> Unlinked:
    """Unlink the files of ``groups`` in this process."""
    bad: dict[int, str] = {}
    for item, file in _each_file(groups):
        if file is None:
            bad[id(item)] = f"{item.path}: {NOT_ABSOLUTE}"
            continue
        try:
            os.unlink(file)
        except FileNotFoundError:
            pass
        except OSError as exc:
            bad[id(item)] = f"{file}: {exc.strerror or exc}"
    return _settled(groups, bad)


class Unlinker:
    """One batch at a time to a child process: :meth:`send`, then :meth:`receive`."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent: Sequence[Group] = ()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            log.warning("catalog: unlinking in this process (no helper process: %s)", exc)

    def __enter__(self) -> Unlinker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, groups: Sequence[Group]) -> None:
        """Start unlinking ``groups``' files (the previous batch must have been received)."""
        self._sent = groups
        if self._proc is None:
            return
        files = [f for _, f in _each_file(groups) if f is not None]
        payload = os.fsencode("\0".join(files))
        try:
            _write(self._proc.stdin, b"%d\n%s" % (len(payload), payload))
        except OSError as exc:
            self._lost(f"could not be sent a batch: {exc}")

    def receive(self) -> Unlinked:
        """Wait for the batch sent last: what was deleted, and what was not."""
        groups = self._sent
        if self._proc is None:
            return unlink_here(groups)
        try:
            answer = _read(self._proc.stdout)
        except (OSError, ValueError) as exc:
            self._lost(f"stopped answering: {exc}")
            return unlink_here(groups)
        return _settled(groups, _failures(groups, answer))

    def close(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a dead child: unsent bytes are moot
                    pipe.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _lost(self, why: str) -> None:
        log.warning("catalog: unlink helper process %s; unlinking in this process", why)
        self.close()


def _write(pipe: IO[bytes] | None, data: bytes) -> None:
    if pipe is None:
        raise OSError("no pipe")
    pipe.write(data)
    pipe.flush()


def _read(pipe: IO[bytes] | None) -> bytes:
    if pipe is None:
        raise OSError("no pipe")
    head = pipe.readline()
    if not head:
        raise OSError("it exited")
    body = pipe.read(int(head))
    if len(body) != int(head):
        raise OSError("it exited mid-answer")
    return body


def _failures(groups: Sequence[Group], answer: bytes) -> dict[int, str]:
    """``id(item)`` -> why, from the child's answer and the paths that were never sent."""
    parts = answer.split(b"\0")[:-1] if answer else []
    why = {os.fsdecode(p): os.strerror(int(e)) for e, p in zip(parts[::2], parts[1::2])}
    if not why and all(g.base is not None for g in groups):
        return {}  # the usual case: every file was known, sent and deleted
    bad: dict[int, str] = {}
    for item, file in _each_file(groups):
        if file is None:
            bad[id(item)] = f"{item.path}: {NOT_ABSOLUTE}"
        elif file in why:
            bad[id(item)] = f"{file}: {why[file]}"
    return bad
