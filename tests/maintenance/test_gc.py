"""``catalog gc`` through the Python API: only our stray files, deleted only when asked."""

from __future__ import annotations

import os
import time
from pathlib import Path

from continuum import maintenance
from tests.conftest import files, make_run, name


def test_gc_finds_only_our_stray_files(catalog, tmp_path):
    run, d = make_run(catalog, tmp_path, [1, 2])
    old_tmp = d / f".{name(3)}.tmp-999999-0123abcd"
    young_tmp = d / f".{name(4)}.tmp-999999-89abcdef"
    for p in (old_tmp, young_tmp, d / name(7), d / "notes.txt", d / ".x.tmp-1-zzzzzzzz"):
        p.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(old_tmp, (two_hours_ago, two_hours_ago))
    found = maintenance.gc(catalog)
    assert sorted((s.kind, Path(s.path).name) for s in found) == [
        ("checkpoint", name(7)),
        ("temp", old_tmp.name),
    ]
    assert old_tmp.exists() and (d / name(7)).exists()
    assert all(s.deleted for s in maintenance.gc(catalog, delete=True))
    assert not old_tmp.exists() and not (d / name(7)).exists()
    assert young_tmp.exists() and (d / "notes.txt").exists() and files(d) == {1, 2}
    assert maintenance.gc(catalog) == []
