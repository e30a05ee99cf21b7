"""Private staging directories: local working space of a writer whose blobs go elsewhere.

A lens capture into ``s3://`` (:mod:`continuum.lens.mirror`) and a Parquet export to
``s3://`` (:mod:`continuum.sql.remote`) work in a directory of their own in the temp dir,
``continuum-{kind}-{pid}-{random}`` (mode 0700, from :func:`tempfile.mkdtemp`), removed
when they are done. A process killed before that (SIGKILL, a power cut) leaves its
directory behind; the next one of the same kind removes those whose process is gone
(only directories of this user, never through a link), so crashed runs do not fill the
temp dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

_NAME = re.compile(r"^continuum-(?P<kind>[a-z]+)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 probes, never kills
    except ProcessLookupError:
        return False
    except OSError:  # it exists, and is not ours
        return True
    return True


def sweep(kind: str, base: str | None = None) -> list[Path]:
    """Remove the staging directories of ``kind`` whose process is gone; returns them."""
    root = Path(base or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _NAME.match(entry.name)
            if match is None or match["kind"] != kind or int(match["pid"]) == os.getpid():
                continue
            try:
                info = entry.lstat()
            except OSError:
                continue
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue  # a link, a file, or another user's: never ours to remove
            if not _alive(int(match["pid"])):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def staging_dir(kind: str) -> Path:
    """A new private directory ``continuum-{kind}-{pid}-*`` in the temp dir (stale ones of
    dead processes removed first); the caller removes it when done."""
    sweep(kind)
    return Path(tempfile.mkdtemp(prefix=f"continuum-{kind}-{os.getpid()}-"))
