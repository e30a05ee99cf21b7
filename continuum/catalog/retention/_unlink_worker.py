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
"""

import errno
import os
import sys

FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
GONE, FAILED = -1, -2


def open_run_dir(root: bytes, name: bytes) -> int:
    """``root/name`` as a descriptor, ``name`` opened without following a link."""
    fd = os.open(root, FLAGS)
    try:
        return os.open(name, FLAGS | os.O_NOFOLLOW, dir_fd=fd)
    finally:
        os.close(fd)


def _plain(name: bytes) -> bool:
    return bool(name) and b"/" not in name and name not in (b".", b"..")


def unlink_all(payload: bytes) -> bytes:
    parts = payload.split(b"\0") if payload else []
    failed: list[bytes] = []
    dirs: dict[tuple[bytes, bytes], int] = {}
    try:
        for root, name, file in zip(parts[0::3], parts[1::3], parts[2::3], strict=False):
            fd = dirs.get((root, name))
            if fd is None:
                try:
                    fd = open_run_dir(root, name) if _plain(name) else FAILED
                except FileNotFoundError:
                    fd = GONE
                except OSError as exc:
                    fd = FAILED
                    where = os.path.join(root, name)
                    failed.append(b"%d\0%s\0" % (exc.errno or 0, where))
                if fd == FAILED and not _plain(name):
                    failed.append(b"%d\0%s\0" % (errno.EINVAL, os.path.join(root, name)))
                dirs[(root, name)] = fd
            if fd < 0:
                continue
            try:
                if not _plain(file):
                    raise OSError(errno.EINVAL, "not a plain file name")
                os.unlink(file, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed.append(b"%d\0%s\0" % (exc.errno or 0, os.path.join(root, name, file)))
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
