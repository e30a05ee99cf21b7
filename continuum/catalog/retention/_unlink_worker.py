"""Child process of :mod:`continuum.catalog.retention._unlinker`: unlink the files it is sent.

Standard library only and run by path (``python -I -S _unlink_worker.py``), so it
starts in ~15 ms without importing the project. Reads batches from stdin (``<n>\\n``
then n bytes of ``root NUL directory NUL name NUL`` per file), and unlinks each name
in ``root/directory`` the way :class:`continuum.layout.ConfinedDir` does (the one rule,
repeated here because this process cannot import the project): ``root`` is followed,
``directory`` is opened ``O_DIRECTORY | O_NOFOLLOW`` relative to it (a link there is
refused, never followed), and the file is unlinked by name in that descriptor. The
parent has already checked every directory and name against the layout's grammar.
Already gone counts as done. Answers each batch on stdout (``<n>\\n`` then n bytes of
``errno NUL path NUL`` per directory it could not open or file it could not unlink).
Exits at end of input.

Why threads: on a real disk an unlink of a file whose blocks are on disk waits on the
filesystem (journal, block freeing, and with ``-o discard`` a discard per extent),
~2 ms a file on this project's ext4 machines, while the CPU it needs is ~10 us.
Measured there (30,000 synced 1 KB files): 2,529 us a file with one thread, 817 with
2, 333 with 4, 201 with 8, 79 with 16, no better beyond. ``os.unlink`` releases the
GIL, so :data:`THREADS` threads each unlink a share of the batch; the directories are
opened once, before, by the main thread (unlinks go by name relative to those
descriptors, closed only after every thread is done). On tmpfs or files not yet
written back an unlink is CPU only and the threads cost a little GIL traffic.
"""

import errno
import os
import sys
import threading

FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
GONE, FAILED = -1, -2
THREADS = 16
PER_THREAD = 64  # fewer files than this a thread: fewer threads (starting one is ~50 us)


def open_run_dir(root: bytes, name: bytes) -> int:
    """``root/name`` as a descriptor, ``name`` opened without following a link."""
    fd = os.open(root, FLAGS)
    try:
        return os.open(name, FLAGS | os.O_NOFOLLOW, dir_fd=fd)
    finally:
        os.close(fd)


def _plain(name: bytes) -> bool:
    return bool(name) and b"/" not in name and name not in (b".", b"..")


def _open_dirs(parts: list, failed: list, dirs: dict) -> list:
    """``(dir fd, file, path)`` of each file to unlink; the directories opened into ``dirs``."""
    work = []
    for root, name, file in zip(parts[0::3], parts[1::3], parts[2::3], strict=False):
        fd = dirs.get((root, name))
        if fd is None:
            try:
                fd = open_run_dir(root, name) if _plain(name) else FAILED
            except FileNotFoundError:
                fd = GONE
            except OSError as exc:
                fd = FAILED
                failed.append(b"%d\0%s\0" % (exc.errno or 0, os.path.join(root, name)))
            if fd == FAILED and not _plain(name):
                failed.append(b"%d\0%s\0" % (errno.EINVAL, os.path.join(root, name)))
            dirs[(root, name)] = fd
        if fd < 0:
            continue
        if not _plain(file):
            failed.append(b"%d\0%s\0" % (errno.EINVAL, os.path.join(root, name, file)))
            continue
        work.append((fd, file, root, name))
    return work


def _unlink_share(work: list, failed: list) -> None:
    """Unlink ``work``'s files by name in their directory descriptors (list appends are
    atomic: the threads share ``failed``)."""
    for fd, file, root, name in work:
        try:
            os.unlink(file, dir_fd=fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(b"%d\0%s\0" % (exc.errno or 0, os.path.join(root, name, file)))


def unlink_all(payload: bytes) -> bytes:
    parts = payload.split(b"\0") if payload else []
    failed: list = []
    dirs: dict = {}
    try:
        work = _open_dirs(parts, failed, dirs)
        n = max(1, min(THREADS, len(work) // PER_THREAD))
        threads = [
            threading.Thread(target=_unlink_share, args=(work[i::n], failed)) for i in range(1, n)
        ]
        for t in threads:
            t.start()
        try:
            _unlink_share(work[0::n], failed)
        finally:
            for t in threads:
                t.join()
    finally:
        for fd in dirs.values():
            if fd >= 0:
                os.close(fd)
    return b"".join(failed)


def main() -> None:
    src, dst = sys.stdin.buffer, sys.stdout.buffer
    while head := src.readline():
        answer = unlink_all(src.read(int(head)))
        dst.write(b"%d\n%s" % (len(answer), answer))
        dst.flush()


if __name__ == "__main__":
    main()
