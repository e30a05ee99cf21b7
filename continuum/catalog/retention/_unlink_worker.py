"""Child process of :mod:`continuum.catalog.retention._unlinker`: unlink the paths it is sent.

Standard library only and run by path (``python -I -S _unlink_worker.py``), so it
starts in ~15 ms without importing the project. Reads batches from stdin
(``<n>\\n`` then n bytes of NUL-separated paths), unlinks each (already gone counts
as done) and answers each batch on stdout (``<n>\\n`` then n bytes of
``errno NUL path NUL`` per file it could not unlink). Exits at end of input.
"""

import os
import sys


def unlink_all(paths: bytes) -> bytes:
    failed = []
    for path in paths.split(b"\0") if paths else ():
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(b"%d\0%s\0" % (exc.errno or 0, path))
    return b"".join(failed)


def main() -> None:
    src, dst = sys.stdin.buffer, sys.stdout.buffer
    while head := src.readline():
        answer = unlink_all(src.read(int(head)))
        dst.write(b"%d\n%s" % (len(answer), answer))
        dst.flush()


if __name__ == "__main__":
    main()
