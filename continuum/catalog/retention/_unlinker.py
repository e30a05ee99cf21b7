"""Unlinking a prune's files: in this process, or in a helper process beside it.

A prune claims a batch of rows, unlinks their files, settles the rows, batch after
batch. Overlapping the database work with the unlinks on a second thread gained
little: the GIL serialises the two (every unlink returns to Python and waits for the
other thread's Python), and a 90,000-file prune took ~1.6x its unlinks alone
(measured, SQLite, 2 cores). So a prune of more than a handful of files
(``prune.HELPER_ROWS``) starts one child process (``python -I -S`` running
``_unlink_worker.py``: standard library only, ~15 ms to start) that unlinks each
batch, on several threads (on a real disk each unlink mostly waits on the
filesystem: see the worker), while this process claims the next batch and settles
the previous one, single-threaded.

Only this project's files directly in a run's own directory are ever unlinked: the
directory must be ``{root}/{run_id}`` as the run's row names it, it is opened without
following a link (a run directory replaced by a symbolic link is refused with one line
and its rows stay ``committed``), and each file is unlinked by name in that descriptor
(:class:`continuum.layout.ConfinedDir`), so no swap of a directory for a link between
a check and an unlink can send a deletion elsewhere. Any other row's file is left in
place and reported.

On object storage (a run whose directory is ``s3://bucket/prefix/{run_id}``) the same
rows are claimed first; each object is then deleted from this process through the
storage seam (one ``DeleteObject`` per key, never sent to the child), and only a key
that is one of this project's blob names directly under the run's own prefix
(:func:`continuum.layout.run_file_name`, :func:`continuum.layout.check_key`); a failed
delete leaves its row ``deleting`` for the next prune or ``verify --repair``.

The child only ever receives files of rows already claimed (``deleting``): if
either side dies, what is left is what any crash leaves, ``deleting`` rows that
the next prune or ``catalog verify --repair`` finishes. If the child cannot be
started, or dies, its batch and the rest are unlinked here (unlinking twice is
harmless: a file already gone counts as deleted).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, NamedTuple

from continuum import layout
from continuum.catalog.retention._claims import Group
from continuum.errors import LayoutError

log = logging.getLogger("continuum.catalog")
WORKER = Path(__file__).with_name("_unlink_worker.py")
LEFT = "left in place"

#: (the groups' rows deleted, and for each file that was not: a one-row group and why)
Unlinked = tuple[list[Group], list[tuple[Group, str]]]


class Target(NamedTuple):
    """A row's file as deletion may touch it: ``name`` in ``root/directory``."""

    root: str
    directory: str
    name: str

    @property
    def dir_path(self) -> str:
        return os.path.join(self.root, self.directory)

    @property
    def path(self) -> str:
        return os.path.join(self.root, self.directory, self.name)


def _targets(g: Group) -> list[Target | str]:
    """Each row's :class:`Target`, or why its file is left in place: the run directory
    must be ``{root}/{run_id}`` (absolute, named for the run) and the file one of this
    project's checkpoint or lens names directly in it (:mod:`continuum.layout`)."""
    if g.base is None:
        why = f"run {g.run_id} names no absolute directory; {LEFT}"
        return [f"{i.path}: {why}" for i in g.items]
    try:
        root, directory = layout.split_run_dir(g.base.rstrip(os.sep) or os.sep, g.run_id)
    except LayoutError as exc:
        return [f"{exc}; {LEFT}" for _ in g.items]
    run_dir = os.path.join(root, directory)
    out: list[Target | str] = []
    for item in g.items:
        try:
            out.append(Target(root, directory, layout.run_file_name(run_dir, item.path)))
        except LayoutError as exc:
            out.append(f"{exc}; {LEFT}")
    return out


def _dir_refusal(path: str, code: int) -> str:
    """Why a run directory could not be opened for deleting in (one line)."""
    if code in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK, errno.EINVAL):
        return (
            f"{path} is a symbolic link or not a directory; Continuum does not follow links "
            f"below a root: {LEFT}"
        )
    return f"{path}: {os.strerror(code)}"


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


def _remote(t: Target | str) -> bool:
    return isinstance(t, Target) and layout.is_object_url(t.root)


def _delete_objects(g: Group, targets: list[Target | str], bad: dict[int, str]) -> None:
    """Delete the objects of a group on object storage, each key confined to its run."""
    from continuum.blobs.storage import open_store  # s3fs, only for a run on object storage
    from continuum.errors import StorageError

    store = None
    for item, t in zip(g.items, targets, strict=True):
        if not isinstance(t, Target):
            bad[id(item)] = t
            continue
        try:
            store = store or open_store(t.root)
            store.delete(layout.check_key(layout.join_key(t.directory, t.name), t.directory))
        except (LayoutError, StorageError) as exc:
            bad[id(item)] = f"{t.path}: {exc}"


def _unlink_group(g: Group, bad: dict[int, str]) -> None:
    targets = _targets(g)
    first = next((t for t in targets if isinstance(t, Target)), None)
    if first is not None and _remote(first):
        _delete_objects(g, targets, bad)
        return
    folder: layout.ConfinedDir | None = None
    why: str | None = None
    if first is not None:
        try:
            folder = layout.ConfinedDir(first.root, first.directory)
        except FileNotFoundError:
            why = ""  # the directory is gone, so are its files
        except (LayoutError, OSError) as exc:
            code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.ELOOP
            why = _dir_refusal(first.dir_path, code)
    try:
        for item, t in zip(g.items, targets, strict=True):
            if not isinstance(t, Target):
                bad[id(item)] = t
            elif folder is None:
                if why:
                    bad[id(item)] = why
            else:
                try:
                    folder.unlink(t.name)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    bad[id(item)] = f"{t.path}: {exc.strerror or exc}"
    finally:
        if folder is not None:
            folder.close()


def unlink_here(groups: Sequence[Group]) -> Unlinked:
    """Unlink the files of ``groups`` in this process (by descriptor, see the worker)."""
    bad: dict[int, str] = {}
    for g in groups:
        _unlink_group(g, bad)
    return _settled(groups, bad)


class Unlinker:
    """One batch at a time to a child process: :meth:`send`, then :meth:`receive`."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent: Sequence[Group] = ()
        self._targets: list[list[Target | str]] = []
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
        self._targets = [_targets(g) for g in groups]  # once a batch: send and receive use it
        if self._proc is None:
            return
        fields = [
            field
            for ts in self._targets
            for t in ts
            if isinstance(t, Target) and not _remote(t)  # objects are deleted here
            for field in t
        ]
        payload = os.fsencode("".join(f"{f}\0" for f in fields))
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
        bad = _failures(groups, self._targets, answer)
        for g, ts in zip(groups, self._targets, strict=True):
            if any(_remote(t) for t in ts):
                _unlink_group(g, bad)
        return _settled(groups, bad)

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


def _failures(
    groups: Sequence[Group], targets: Sequence[list[Target | str]], answer: bytes
) -> dict[int, str]:
    """``id(item)`` -> why, from the child's answer and the rows never sent."""
    parts = answer.split(b"\0")[:-1] if answer else []
    why = {os.fsdecode(p): int(e) for e, p in zip(parts[::2], parts[1::2], strict=False)}
    bad: dict[int, str] = {}
    for g, ts in zip(groups, targets, strict=True):
        for item, t in zip(g.items, ts, strict=True):
            if not isinstance(t, Target):
                bad[id(item)] = t
            elif t.dir_path in why:
                bad[id(item)] = _dir_refusal(t.dir_path, why[t.dir_path])
            elif t.path in why:
                bad[id(item)] = f"{t.path}: {os.strerror(why[t.path])}"
    return bad
