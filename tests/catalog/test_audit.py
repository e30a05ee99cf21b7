"""The audit log stores what it is told escaped and bounded: never a foreign file's raw bytes."""

from __future__ import annotations

from continuum.catalog.audit import DETAIL_LIMIT, PATH_LIMIT
from continuum.printable import UNSAFE


def test_entries_are_escaped_and_bounded(catalog):
    quoted = "bad header: b'root:*:2\\x1b[2J' \x1b]0;owned\x07 \u202eevil \udcff"
    catalog.audit.record("gc-deleted", run_id="r1", path="/tmp/a\x1b\udcfe.ckpt", detail=quoted)
    catalog.audit.record("gc-deleted", run_id="r1", path="/p/" + "x" * 10_000, detail="y" * 10**6)
    long, short = catalog.audit.list("r1")
    assert short.detail == "bad header: <bytes not shown> \\x1b]0;owned\\x07 \\u202eevil \\udcff"
    assert short.path == "/tmp/a\\x1b\\udcfe.ckpt"
    assert long.detail is not None and long.path is not None
    assert long.detail.startswith("y" * DETAIL_LIMIT + "... (") and len(long.detail) < 1100
    assert len(long.path) < PATH_LIMIT + 100
    for entry in (long, short):
        assert UNSAFE.search(entry.detail + entry.path) is None
