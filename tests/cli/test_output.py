"""``continuum.cli._output``: one byte-size convention (binary units) and one table layout."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import click
import pytest
from click.testing import CliRunner

from continuum.cli._output import (
    FiniteFloat,
    echo,
    format_bytes,
    format_duration,
    format_time,
    json_text,
    log_to_stderr,
    table_lines,
)


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


# --- what reaches a terminal or a parser -----------------------------------------------------


def strict_json(text: str):
    """``json.loads`` that refuses the ``NaN``/``Infinity`` tokens Python would accept."""

    def refuse(token: str):
        raise ValueError(f"non-JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_table_cells_are_escaped_before_they_are_measured():
    lines = table_lines(["K", "V"], [["\x1b[31m", "x"], ["ab", "\u202ey"]])
    assert lines == ["K" + " " * 9 + "V", "\\x1b[31m  x", "ab" + " " * 8 + "\\u202ey"]


def test_echo_escapes_the_whole_line():
    @click.command()
    def show() -> None:
        echo("tag=\x1b]0;owned\x07 path=a\rb")
        echo("warn \x9b", err=True)

    got = CliRunner().invoke(show)
    assert got.stdout == "tag=\\x1b]0;owned\\x07 path=a\\rb\n"
    assert got.stderr == "warn \\x9b\n"


def test_json_is_strict_nan_and_infinities_are_null():
    doc = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": {"d": (0.0, "\x1b")}}
    text = json_text(doc)
    assert strict_json(text) == {"a": None, "b": [None, None, 1.5], "c": {"d": [0.0, "\x1b"]}}
    assert "\x1b" not in text  # JSON escapes it itself (\u001b)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309", "NaN"])
def test_finite_float_refuses_nan_and_infinities(value):
    @click.command()
    @click.option("--x", type=FiniteFloat())
    def take(x: float) -> None:
        echo(repr(x))

    got = CliRunner().invoke(take, ["--x", value])
    assert got.exit_code == 2 and "not a finite number" in got.stderr
    assert CliRunner().invoke(take, ["--x", "2.5"]).stdout == "2.5\n"


def test_log_lines_are_escaped_and_reach_the_current_stderr():
    @click.command()
    def warn() -> None:
        log_to_stderr()
        logging.getLogger("continuum.test").warning("file %s is odd", "x\x1b[2Jy")

    for _ in range(2):  # a second runner swaps sys.stderr: the handler must follow it
        got = CliRunner().invoke(warn)
        assert got.stderr == "WARNING: file x\\x1b[2Jy is odd\n"
