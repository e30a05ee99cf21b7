"""``continuum.cli._output``: one byte-size convention (binary units) and one table layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from continuum.cli._output import format_bytes, format_duration, format_time, table_lines


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (16160, "15.8 KiB"),
        (5 * 1024**2 // 2, "2.5 MiB"),
        (10 * 1024**3, "10.0 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (2048 * 1024**4, "2048.0 TiB"),
    ],
)
def test_sizes_are_binary(n, shown):
    assert format_bytes(n) == shown


def test_times_and_durations():
    at = datetime(2026, 1, 16, 10, 54, 30, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(at) == "2026-01-16 09:54:30" and format_time(None) == "-"
    assert format_time(at.astimezone(UTC)) == "2026-01-16 09:54:30"
    assert [format_duration(s) for s in (5400, 129600, 604800, 61)] == ["90m", "36h", "1w", "61s"]


def test_table_aligns_and_trims():
    lines = table_lines(["A", "BB", "C"], [[1, "x", ""], [22, "yyy", "z"]], right=(0,))
    assert lines == [" A  BB   C", " 1  x", "22  yyy  z"]
    ruled = table_lines(("n", "v"), [("1", None)], rule=True)
    assert ruled == ["n  v", "-  ----", "1  None"]
