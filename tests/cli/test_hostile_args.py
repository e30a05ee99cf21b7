"""Every command, given hostile arguments, refuses with one clean line (issue 12, classes 7-8).

Control characters, bidi overrides, NUL bytes, 100,000-character strings, unknown or
path-like run ids, negative numbers, NaN and infinities where numbers go, values that do
not fit 64 bits: each case must exit non-zero with exactly one ``error: ...`` line on
stderr, no traceback, and no raw unsafe character anywhere in what it printed. The
cases run in-process (click's runner); a few run as real processes to show that no
traceback reaches a real stderr. ``test_every_command_is_swept`` keeps the list whole:
a new command without a case here fails it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from continuum.cli import cli
from continuum.cli.main import ERROR_LIMIT
from continuum.printable import UNSAFE
from tests.cli.conftest import catalog_url, ok_json

REPO = Path(__file__).resolve().parents[2]

ESC = "\x1b[31mred\x1b]0;owned\x07"
BIDI = "\u202eevil\u2066"
NUL = "a\x00b"
LONG = "x" * 100_000
UNKNOWN = "20990101_000000_deadbeef"  # a well-formed run id no catalog holds
BIG = "99999999999999999999999"  # more than 64 bits
NUMBERS = ["nan", "inf", "-inf", "-1", "1e309", BIG, ESC]  # where integers go
FLOATS = ["nan", "inf", "-inf", "-1", "1e309", ESC]  # where finite non-negative floats go
UNDECODABLE = "bad\udcff"  # what Python makes of a non-UTF-8 byte in argv (surrogateescape)
RUN_IDS = [ESC, BIDI, NUL, LONG, UNKNOWN, UNDECODABLE, "../../etc", "/etc"]
PATHS = [ESC, BIDI, NUL, LONG, UNDECODABLE, "/nonexistent/\x07x"]


def _each(template: tuple[str, ...], values: list[str]) -> list[tuple[str, ...]]:
    """``template`` with its ``@`` slot filled by each value."""
    return [tuple(value if a == "@" else a for a in template) for value in values]


def cases() -> list[tuple[str, ...]]:
    """Command lines that must be refused; ``{run}``, ``{ck}``, ``{ckfile}``, ``{lens}``,
    ``{cat}`` and ``{foreign}`` name what the module's fixture made."""
    cat = ("--catalog", "{cat}")
    lens = ("--lens-dir", "{lens}")
    out: list[tuple[str, ...]] = []
    add = out.extend
    out += [(ESC,), ("--bogus" + ESC,), ("catalog", NUL), ("catalog", ESC)]
    # catalog: runs
    add(_each(("catalog", "show", "@", *cat), RUN_IDS))
    add(_each(("catalog", "rm", "@", *cat), RUN_IDS))
    add(_each(("catalog", "tag", "@", "k=v", *cat), RUN_IDS))
    add(_each(("catalog", "tag", "{run}", "@", *cat), ["novalue" + ESC, "=v", "k=" + UNDECODABLE]))
    add(_each(("catalog", "list", "--limit", "@", *cat), [*NUMBERS, "0"]))
    add(_each(("catalog", "list", "--after", "@", *cat), [ESC, LONG, NUL]))
    for option in ("--seed", "--tick-covers", "--has-checkpoint-after", "--limit"):
        add(_each(("catalog", "search", option, "@", *cat), NUMBERS))
    for option in ("--started-after", "--started-before", "--param", "--tag", "--after"):
        add(_each(("catalog", "search", option, "@", *cat), [ESC, LONG]))
    for option in ("--world", "--scenario", "--ir-hash"):
        add(_each(("catalog", "search", option, "@", *cat), [UNDECODABLE]))
    add(_each(("catalog", "search", "--tag", "@", *cat), ["k=" + UNDECODABLE]))
    add(_each(("catalog", "search", "--status", "@", *cat), [ESC, "bogus"]))
    add(_each(("catalog", "search", "--param", "@", *cat), ["k>nan", "k>" + BIG * 200]))
    # catalog: retention
    for verb in ("pin", "unpin"):
        add(_each(("catalog", verb, "{run}", "@", *cat), NUMBERS))
        add(_each(("catalog", verb, "@", "10", *cat), RUN_IDS))
        out.append(("catalog", verb, "{run}", "7", *cat))  # no checkpoint at tick 7
    for option in ("--keep-last", "--keep-every-ticks", "--keep-hourly", "--lens-keep-last"):
        add(_each(("catalog", "policy", "set", "--global", option, "@", *cat), [*NUMBERS, "0"]))
    for option in ("--keep-within", "--lens-keep-within", "--max-bytes", "--lens-max-bytes"):
        values = ["nan", "inf", "-1", "0", ESC, LONG, "9" * 63 + "w", "9" * 5000]
        add(_each(("catalog", "policy", "set", "--global", option, "@", *cat), values))
    add(_each(("catalog", "policy", "set", "--run", "@", "--keep-last", "1", *cat), RUN_IDS))
    add(_each(("catalog", "policy", "show", "--run", "@", *cat), RUN_IDS))
    out.append(("catalog", "policy", "clear", *cat))
    add(_each(("catalog", "prune", "--run", "@", "--dry-run", *cat), RUN_IDS))
    out.append(("catalog", "prune", *cat))
    # catalog: maintenance and schema
    add(_each(("catalog", "scan", "@", *cat), [*PATHS, "{ckfile}"]))
    add(_each(("catalog", "verify", "--run", "@", *cat), RUN_IDS))
    add(_each(("catalog", "log", "--limit", "@", *cat), [*NUMBERS, "0"]))
    for command in (("catalog", "migrate"), ("catalog", "gc"), ("catalog", "list")):
        catalogs = ["not a url", ESC, BIDI, NUL, LONG, "", "mysql://u@h/db", "x.sqlite"]
        add(_each((*command, "--catalog", "@"), [*catalogs, "/nonexistent/dir/c.db"]))
    # checkpoint
    for verb in ("inspect", "list", "verify"):
        add(_each(("checkpoint", verb, "@"), [*PATHS, "{foreign}"]))
    add(_each(("checkpoint", "diff", "{ckfile}", "@"), [*PATHS, "{foreign}"]))
    add(_each(("checkpoint", "diff", "{ckfile}", "{ckfile}", "--atol", "@"), FLOATS))
    # lens
    add(_each(("lens", "load", "@"), [*PATHS, "{foreign}"]))
    query = ("lens", "query", "atmosphere.temperature", "--position", "1,0,0", *lens)
    add(_each((*query, "--tick", "@"), NUMBERS))
    add(_each((*query, "--time", "@"), FLOATS))
    add(_each(("lens", "query", "@", "--tick", "10", "--position", "1,0,0", *lens), [ESC, NUL]))
    for position in ("nan,0,0", "inf,0,0", "0,0,0", "1,2", ESC, LONG):
        out.append(
            ("lens", "query", "atmosphere.temperature", "--tick", "10", *lens)
            + ("--position", position)
        )
    add(
        _each(
            (
                "lens",
                "query",
                "atmosphere.temperature",
                "--tick",
                "10",
                "--position",
                "1,0,0",
                "--lens-dir",
                "@",
            ),
            PATHS,
        )
    )
    add(
        _each(
            (
                "lens",
                "query",
                "atmosphere.temperature",
                "--tick",
                "10",
                "--position",
                "1,0,0",
                "--run",
                "@",
            ),
            RUN_IDS,
        )
    )
    history = ("lens", "history", "atmosphere.temperature", "--position", "1,0,0", *lens)
    add(_each((*history, "--from", "@"), NUMBERS))
    add(_each((*history, "--to", "@"), NUMBERS))
    add(_each(("lens", "history", "@", "--position", "1,0,0", *lens), [ESC, LONG]))
    plot = ("lens", "plot", "atmosphere.temperature", *lens)
    add(_each((*plot, "--output", "{tmp}/map.png", "--tick", "@"), NUMBERS))
    add(_each((*plot, "--tick", "10", "--output", "{tmp}/map.png", "--width", "@"), NUMBERS))
    add(_each(("lens", "compact", "--lens-dir", "@"), PATHS))
    add(_each(("lens", "compact", "--lens-dir", "{lensroot}", "--run", "@"), RUN_IDS))
    add(_each(("lens", "export", "@", "--output", "{tmp}/export"), [*PATHS, "{foreign}"]))
    add(_each(("lens", "export", "{lens}", "--output", "{tmp}/export", "--from", "@"), NUMBERS))
    for fmt, name in (("netcdf", "x.nc"), ("zarr", "x.zarr")):  # through xarray (issue 18)
        xarray_out = ("--format", fmt, "--output", "{tmp}/" + name)
        add(_each(("lens", "export", "@", *xarray_out), [*PATHS, "{foreign}"]))
        add(_each(("lens", "export", "{lens}", *xarray_out, "--to", "@"), NUMBERS))
        add(_each(("lens", "export", "{lens}", *xarray_out, "--fields", "@"), [ESC, BIDI, LONG]))
    add(_each(("lens", "sql", "@", *cat), ["SELECT " + ESC, "SELECT " + NUL, "SELECT " + LONG]))
    # run
    run = ("run", "terra", "--scenario", "tiny", "--no-catalog")
    for option in (
        "--steps",
        "--seed",
        "--checkpoint-stride",
        "--keep-checkpoints",
        "--lens-stride",
        "--lens-chunk-size",
    ):
        add(_each((*run, option, "@"), NUMBERS))
    add(_each((*run, "--seed", "@"), [str(2**63)]))
    add(_each((*run, "--checkpoint-interval", "@"), [*FLOATS, "0"]))
    add(_each(("run", "@", "--steps", "1", "--no-catalog"), [*PATHS, "{foreign}"]))
    add(
        _each(
            ("run", "terra", "--steps", "1", "--no-catalog", "--scenario", "@"),
            [ESC, NUL, LONG, "../../etc/passwd", "/etc/passwd", "{foreign}"],
        )
    )
    add(_each((*run, "--steps", "1", "--lens-dir", "{tmp}/l2", "--lens-fields", "@"), [ESC, LONG]))
    add(_each((*run, "--resume", "--checkpoint-dir", "@"), PATHS))
    add(_each((*run, "--checkpoint-path", "@"), [*PATHS, "{foreign}"]))
    add(
        _each(
            ("run", "terra", "--scenario", "tiny", "--steps", "1", "--resume-run", "@", *cat),
            RUN_IDS,
        )
    )
    add(
        _each(
            ("run", "terra", "--scenario", "tiny", "--steps", "1", "--catalog", "@"),
            ["not a url", ESC, NUL, "x.sqlite"],
        )
    )
    # ctl: a run that is not live, bad commands, timeouts that are no number of seconds
    add(_each(("ctl", "@", "status", *cat), RUN_IDS))
    add(_each(("ctl", "{run}", "@", *cat), [ESC, NUL, "reboot", "", LONG]))
    add(_each(("ctl", "{run}", "status", "--timeout", "@", *cat), [*FLOATS, "0", "1e9"]))
    add(_each(("ctl", "{run}", "stop", "--catalog", "@"), ["not a url", ESC, NUL, "x.sqlite"]))
    out.append(("ctl", "{run}", "checkpoint", *cat))  # completed: not live
    # world
    names = [ESC, BIDI, NUL, LONG, UNKNOWN, UNDECODABLE, "../../etc", "/etc", ""]
    add(_each(("world", "copy", "@", "{tmp}/world-copy"), names))
    add(_each(("world", "copy", "terra", "@"), ["{ck}", "{ckfile}"]))  # not empty; a file
    out.append(("world", "list", "--bogus" + ESC))
    # serve: every case is refused before anything listens (none may start a server)
    add(_each(("serve", "--port", "@", *cat), [*NUMBERS, "65536"]))
    hosts = [ESC, BIDI, LONG, UNDECODABLE, "", "no-such-host.invalid", "256.1.1.1"]
    add(_each(("serve", "--port", "0", "--host", "@", *cat), hosts))
    add(_each(("serve", "--port", "0", "--export-dir", "@", *cat), [*PATHS, "{ckfile}"]))
    add(_each(("serve", "--port", "0", "--catalog", "@"), ["not a url", ESC, "x.sqlite"]))
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A catalog with one real run (checkpoints, lens chunks) tagged with ESC/BEL values."""
    tmp = tmp_path_factory.mktemp("hostile")
    url = catalog_url(tmp)
    ck, lens = tmp / "ck", tmp / "lens"
    summary = ok_json(
        *("run", "terra", "--scenario", "tiny", "--steps", "20", "--json", "--catalog", url),
        *("--checkpoint-dir", ck, "--checkpoint-stride", "10", "--lens-dir", lens),
        *("--lens-chunk-size", "10"),
    )
    run_id = summary["run_id"]
    foreign = tmp / "foreign.ckpt"
    foreign.write_bytes(b"root:*:20000:0:99999:7:::\n\x1b]0;owned\x07\x00" * 50)
    return {
        "{cat}": url,
        "{run}": run_id,
        "{ck}": str(ck),
        "{ckfile}": str(ck / run_id / "checkpoint_0000000010.ckpt"),
        "{lens}": str(lens / run_id),
        "{lensroot}": str(lens),
        "{foreign}": str(foreign),
        "{tmp}": str(tmp),
    }


def fill(args: tuple[str, ...], made: dict[str, str]) -> list[str]:
    out = []
    for arg in args:
        for key, value in made.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def assert_clean_refusal(result: Result) -> None:
    """Non-zero, one ``error:`` line (bounded), no traceback, no raw unsafe character."""
    shown = f"rc={result.exit_code} stdout={result.stdout[:500]!r} stderr={result.stderr[:800]!r}"
    assert result.exit_code != 0, shown
    assert isinstance(result.exception, SystemExit), (result.exception, shown)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    assert len(lines[0]) <= ERROR_LIMIT + 100, shown
    for text in (*result.stdout.splitlines(), lines[0]):
        assert UNSAFE.search(text) is None, shown
    assert "root:*:" not in result.output, shown  # a foreign file's bytes are never echoed


def _id(args: tuple[str, ...]) -> str:
    return " ".join(a[:24].encode("unicode_escape").decode() for a in args)[:90]


@pytest.mark.parametrize("args", cases(), ids=_id)
def test_hostile_arguments_are_one_clean_line(made, args):
    assert_clean_refusal(CliRunner().invoke(cli, fill(args, made)))


def test_no_file_is_created_by_a_catalog_that_is_not_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for value in ("not a url", "catalog", "x.sqlite", ESC):
        assert_clean_refusal(CliRunner().invoke(cli, ["catalog", "list", "--catalog", value]))
        monkeypatch.setenv("CONTINUUM_CATALOG", value)
        result = CliRunner().invoke(cli, ["catalog", "list"])
        assert_clean_refusal(result)
        assert "$CONTINUUM_CATALOG" in result.stderr
        monkeypatch.delenv("CONTINUUM_CATALOG")
    assert list(tmp_path.iterdir()) == []


def test_a_plain_db_path_is_used_and_said_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["catalog", "list", "--catalog", "runs.db", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "[]\n"
    assert result.stderr == f"using SQLite catalog file {tmp_path / 'runs.db'}\n"
    monkeypatch.setenv("CONTINUUM_CATALOG", "runs.db")
    again = CliRunner().invoke(cli, ["catalog", "list"])
    assert (again.exit_code, again.stdout) == (0, "no runs\n")
    assert again.stderr.count("using SQLite catalog file") == 1


def test_unwritable_default_catalog_is_one_line_naming_the_way_out(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.delenv("CONTINUUM_CATALOG")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "file"))
    for args in (["catalog", "list"], ["run", "terra", "--scenario", "tiny", "--steps", "1"]):
        result = CliRunner().invoke(cli, args)
        assert_clean_refusal(result)
        assert str(tmp_path / "file") in result.stderr
        assert "--catalog URL" in result.stderr and "CONTINUUM_CATALOG" in result.stderr


def test_every_command_is_swept():
    ctx = click.Context(cli)
    commands: list[str] = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, (*path, name))
            else:
                commands.append(" ".join((*path, name)))

    walk(cli, ())
    leaves = ("run", "ctl", "serve")  # commands named by their first word alone
    swept = {" ".join(c[:2]) if c[0] not in leaves else c[0] for c in cases()}
    swept |= {" ".join(c[:3]) for c in cases() if c[:2] == ("catalog", "policy")}
    assert set(commands) <= swept, set(commands) - swept


# --- as real processes: nothing reaches a real stderr but the one line ------------------------

SUBPROCESS_CASES = [
    ("catalog", "show", ESC, "--catalog", "{cat}"),
    ("catalog", "list", "--catalog", "not a url"),
    ("catalog", "policy", "set", "--global", "--keep-last", "nan", "--catalog", "{cat}"),
    ("checkpoint", "inspect", "{foreign}"),
    ("run", "terra", "--scenario", "tiny", "--steps", "inf", "--no-catalog"),
    ("lens", "sql", "SELECT " + ESC, "--catalog", "{cat}"),
    ("ctl", "{run}", "status", "--catalog", "{cat}"),
]


@pytest.mark.parametrize("args", SUBPROCESS_CASES, ids=_id)
def test_a_real_process_prints_one_line_and_no_traceback(made, tmp_path, args):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [sys.executable, "-m", "continuum.cli", *fill(args, made)]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert not any(b in proc.stdout + proc.stderr for b in (b"\x1b", b"\x07", b"\xe2\x80\xae"))
    assert list(tmp_path.iterdir()) == []  # nothing made in the current directory


def test_undecodable_argument_bytes_are_one_line_in_a_real_process(made, tmp_path):
    """A non-UTF-8 byte in argv reaches Python as a lone surrogate, which no database takes."""
    for args in (["catalog", "show", b"bad\xff"], ["catalog", "tag", made["{run}"], b"k=\xff"]):
        argv = [sys.executable, "-m", "continuum.cli", *args, "--catalog", made["{cat}"]]
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=120)
        err = proc.stderr.decode("utf-8")
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert err.count("\n") == 1 and err.startswith("error: ") and "\\udcff" in err, err
