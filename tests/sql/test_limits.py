"""Bounds of a session: a statement timeout, a memory limit, results streamed not fetched whole."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from continuum.errors import QueryError
from continuum.sql import Limits, default_memory_limit, open_session
from continuum.sql.limits import GIB, Watchdog, ram_bytes

from .conftest import Runs

ENDLESS = "SELECT count(*) FROM range(1000000000000) a, range(1000) b"


def _bytes(setting: str) -> float:
    """DuckDB's ``1.0 GiB`` / ``64.0 MiB`` as bytes."""
    value, unit = setting.split()
    return float(value) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def test_default_memory_limit_is_bounded(runs: Runs):
    ram = ram_bytes()
    assert ram is not None
    assert default_memory_limit() == min(GIB, ram // 4)
    with runs.session() as s:
        got = s.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]
    assert _bytes(got) == pytest.approx(default_memory_limit(), rel=0.01)  # not 80% of RAM


def test_a_runaway_statement_stops_at_its_timeout(tmp_path: Path):
    with open_session([], [tmp_path], limits=Limits.of(timeout=0.5)) as s:
        start = time.monotonic()
        with pytest.raises(QueryError, match=r"stopped at its 0.5 s timeout.*--timeout"):
            s.execute(ENDLESS).fetchall()
        assert time.monotonic() - start < 10
        assert s.execute("SELECT 42").fetchone() == (42,)  # the session goes on


def test_the_timeout_covers_fetching(tmp_path: Path):
    """Rows streamed slower than the deadline: the fetch after it raises, DuckDB stops."""
    with open_session([], [tmp_path], limits=Limits.of(timeout=0.5)) as s:
        cursor = s.execute("SELECT * FROM range(1000000000000)")
        start, got = time.monotonic(), 0
        with pytest.raises(QueryError, match="timeout"):
            while time.monotonic() - start < 30:
                got += len(cursor.fetchmany(1000))
                time.sleep(0.01)
        assert got > 0 and time.monotonic() - start < 10


def test_no_timeout_when_asked(tmp_path: Path):
    for off in (0, None, float("inf")):
        assert Limits.of(timeout=off).timeout is None
    with pytest.raises(QueryError, match="timeout must be >= 0"):
        Limits.of(timeout=float("nan"))


def test_a_finished_statement_is_never_interrupted(tmp_path: Path):
    with open_session([], [tmp_path], limits=Limits.of(timeout=0.2)) as s:
        rows = s.execute("SELECT * FROM range(10)").fetchall()
        time.sleep(0.4)  # past the deadline: it was cancelled when the rows ran out
        assert len(rows) == 10 and s.execute("SELECT 1").fetchone() == (1,)


def test_the_memory_limit_is_one_line(tmp_path: Path):
    with open_session([], [tmp_path], limits=Limits.of(memory_limit="64M")) as s:
        got = s.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]
        assert _bytes(got) == pytest.approx(64 << 20, rel=0.01)
        with pytest.raises(QueryError, match=r"more than its 64 MiB memory limit.*--memory-limit"):
            s.execute("SELECT list(i) FROM range(100000000) t(i)").fetchall()
        assert s.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize(("value", "fragment"), [("1K", "too small"), ("lots", "expected")])
def test_bad_memory_limits_are_one_line(value: str, fragment: str):
    with pytest.raises(QueryError, match=fragment):
        Limits.of(memory_limit=value)


def test_a_huge_result_streams(tmp_path: Path):
    """300M rows: the first batches come at once, memory does not grow with the result."""
    with open_session([], [tmp_path]) as s:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.monotonic()
        cursor = s.execute("SELECT i, i * 2 AS j FROM range(300000000) t(i)")
        n = sum(len(b) for _, b in zip(range(50), cursor.batches(10_000)))
        cursor.close()
        assert n == 500_000 and time.monotonic() - start < 10
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
        assert grown < 300_000  # 300M rows as tuples would be tens of GB


def test_the_watchdog_fires_in_deadline_order():
    fired: list[int] = []
    dog = Watchdog()
    for k, delay in enumerate((0.3, 0.1, 0.2)):
        dog.arm(delay, lambda k=k: fired.append(k))
    dog.disarm(dog.arm(0.05, lambda: fired.append(99)))
    time.sleep(0.6)
    assert fired == [1, 2, 0]


@pytest.mark.slow
def test_streaming_to_a_file_keeps_memory_flat(tmp_path: Path):
    """`lens sql --output` of 2M rows in a subprocess: its peak RSS stays near an empty
    query's (main fetched every row first: 2M rows took 302 MB there)."""
    code = (
        "import resource, sys\n"
        "from continuum.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )

    def peak(n: int) -> int:
        out = tmp_path / f"{n}.csv"
        args = ["lens", "sql", f"SELECT i FROM range({n}) t(i)", "--output", str(out)]
        done = subprocess.run(
            [sys.executable, "-c", code, *args, "--format", "csv"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.read_text().count("\n") == n + 1
        return int(done.stderr.strip().splitlines()[-1])

    assert peak(2_000_000) - peak(1) < 100_000  # KiB: every row fetched would be ~170 MB
