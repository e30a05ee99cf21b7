"""What a terminal or a parser gets from data that tries to trip it (issue 12, class 8).

A run tagged with ESC/BEL values, a run whose world, scenario, params, era and paths hold
control characters and bidi overrides, and audit entries quoting a foreign file: every
text command shows them as visible escapes, never raw; every ``--json`` output parses
with a strict parser (no ``NaN``/``Infinity`` tokens: NaN and infinities are null).
"""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from continuum.catalog import Catalog, RetentionRules
from continuum.cli import cli
from continuum.printable import UNSAFE
from tests.cli.conftest import catalog_url, ok_json

ESC_TAG = "\x1b[2J\x1b]0;owned\x07"  # clears the screen, sets the window title, rings
BEL_TAG = "ding\x07\x07\rFAKE"
HOSTILE = {
    "world": "w\x1b[31m",
    "scenario": "s\u202eft.toml",
    "era": "e\x9b1m",
    "path": "/tmp/p\x08\x08x\u2066.ckpt",
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("terminal")
    url = catalog_url(tmp)
    ck, lens = tmp / "ck", tmp / "lens"
    summary = ok_json(
        *("run", "terra", "--scenario", "tiny", "--steps", "20", "--json", "--catalog", url),
        *("--checkpoint-dir", ck, "--checkpoint-stride", "10", "--lens-dir", lens),
        *("--lens-chunk-size", "10"),
    )
    run_id = summary["run_id"]
    tagged = ok_json(
        "catalog", "tag", run_id, f"owner={ESC_TAG}", f"bell={BEL_TAG}", "--json", "--catalog", url
    )
    assert tagged == {"bell": BEL_TAG, "owner": ESC_TAG}  # stored exactly; only shown escaped
    with Catalog(url) as cat:
        odd = cat.runs.register(
            world=HOSTILE["world"],
            ir_hash="ab" * 32,
            seed=3,
            scenario=HOSTILE["scenario"],
            params={"k\x1b": float("nan"), "inf": float("inf"), "p": "v\x07"},
            tags={"t": "\u202eevil"},
        )
        cat.checkpoints.record(
            odd.run_id,
            tick=5,
            sim_time=float("inf"),
            era=HOSTILE["era"],
            path=HOSTILE["path"],
            bytes_on_disk=1,
        )
        cat.audit.record(
            "gc-deleted",
            run_id=odd.run_id,
            path="/x/\x1b[1m",
            detail="not a checkpoint: starts with b'root:*:2' \x1b]8;;http://evil\x07",
        )
        cat.policies.set("world", HOSTILE["world"], RetentionRules(keep_last=2))
    return {
        "{cat}": url,
        "{run}": run_id,
        "{odd}": odd.run_id,
        "{ck}": str(ck),
        "{ckfile}": str(ck / run_id / "checkpoint_0000000010.ckpt"),
        "{ckfile2}": str(ck / run_id / "checkpoint_0000000020.ckpt"),
        "{lens}": str(lens / run_id),
        "{lensroot}": str(lens),
        "{tmp}": str(tmp),
    }


def run_ok(made: dict[str, str], *args: str) -> tuple[str, str]:
    argv = []
    for arg in args:
        for key, value in made.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, (argv, result.output, result.exception)
    return result.stdout, result.stderr


def assert_no_raw_unsafe(*texts: str) -> None:
    for text in texts:
        for line in text.splitlines():
            assert UNSAFE.search(line) is None, line


TEXT_COMMANDS = [
    ("catalog", "list", "--catalog", "{cat}"),
    ("catalog", "show", "{run}", "--catalog", "{cat}"),
    ("catalog", "show", "{odd}", "--catalog", "{cat}"),
    ("catalog", "search", "--tag", f"owner={ESC_TAG}", "--catalog", "{cat}"),
    ("catalog", "search", "--world", HOSTILE["world"], "--catalog", "{cat}"),
    ("catalog", "tag", "{run}", f"again={ESC_TAG}", "--catalog", "{cat}"),
    ("catalog", "log", "--catalog", "{cat}"),
    ("catalog", "policy", "show", "--catalog", "{cat}"),
    ("catalog", "prune", "--all", "--dry-run", "--catalog", "{cat}"),
    ("catalog", "verify", "--run", "{odd}", "--catalog", "{cat}"),
]


@pytest.mark.parametrize("args", TEXT_COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_text_output_shows_control_characters_as_escapes(made, args):
    result = CliRunner().invoke(cli, [_fill(a, made) for a in args])
    assert result.exit_code in (0, 1), result.output  # verify finds the odd run's file missing
    assert isinstance(result.exception, SystemExit | None)
    assert_no_raw_unsafe(result.stdout, result.stderr)


def test_show_prints_the_escapes_where_the_values_were(made):
    out, _ = run_ok(made, "catalog", "show", "{run}", "--catalog", "{cat}")
    assert "owner=\\x1b[2J\\x1b]0;owned\\x07" in out and "bell=ding\\x07\\x07\\rFAKE" in out
    odd, _ = run_ok(made, "catalog", "show", "{odd}", "--catalog", "{cat}")
    assert "w\\x1b[31m" in odd and "s\\u202eft.toml" in odd and "e\\x9b1m" in odd
    assert "/tmp/p\\x08\\x08x\\u2066.ckpt" in odd and "t=\\u202eevil" in odd
    listed, _ = run_ok(made, "catalog", "list", "--catalog", "{cat}")
    assert "w\\x1b[31m" in listed
    found, _ = run_ok(made, "catalog", "search", "--tag", f"owner={ESC_TAG}", "--catalog", "{cat}")
    assert made["{run}"] in found and made["{odd}"] not in found


def test_the_audit_log_never_holds_a_files_bytes(made):
    out, _ = run_ok(made, "catalog", "log", "--run", "{odd}", "--catalog", "{cat}")
    assert "root:*:" not in out and "<bytes not shown>" in out
    entries = ok_json(
        "catalog", "log", "--run", made["{odd}"], "--json", "--catalog", made["{cat}"]
    )
    assert "root:*:" not in json.dumps(entries)
    assert entries[0]["detail"].endswith("\\x1b]8;;http://evil\\x07")


def _fill(arg: str, made: dict[str, str]) -> str:
    for key, value in made.items():
        arg = arg.replace(key, value)
    return arg


# --- strict JSON, every command that prints it ------------------------------------------------

#: One valid command line for every command with ``--json`` (or a JSON ``--format``).
JSON_COMMANDS = {
    "catalog gc": ("catalog", "gc", "--json", "--catalog", "{cat}"),
    "catalog list": ("catalog", "list", "--json", "--catalog", "{cat}"),
    "catalog log": ("catalog", "log", "--json", "--catalog", "{cat}"),
    "catalog migrate": ("catalog", "migrate", "--json", "--catalog", "{cat}"),
    "catalog policy set": (
        *("catalog", "policy", "set", "--world", "terra", "--keep-last", "3"),
        *("--json", "--catalog", "{cat}"),
    ),
    "catalog policy show": ("catalog", "policy", "show", "--json", "--catalog", "{cat}"),
    "catalog pin": ("catalog", "pin", "{run}", "10", "--json", "--catalog", "{cat}"),
    "catalog unpin": ("catalog", "unpin", "{run}", "10", "--json", "--catalog", "{cat}"),
    "catalog policy clear": (
        *("catalog", "policy", "clear", "--world", "nowhere", "--json", "--catalog", "{cat}"),
    ),
    "catalog prune": (
        "catalog",
        "prune",
        "--run",
        "{run}",
        "--dry-run",
        "--json",
        "--catalog",
        "{cat}",
    ),
    "catalog rm": None,  # below: it needs a run of its own
    "ctl": None,  # below: it needs a live run
    "catalog scan": ("catalog", "scan", "{ck}", "--json", "--catalog", "{cat}"),
    "catalog search": ("catalog", "search", "--seed", "3", "--json", "--catalog", "{cat}"),
    "catalog show": ("catalog", "show", "{odd}", "--json", "--catalog", "{cat}"),
    "catalog tag": ("catalog", "tag", "{odd}", "x=\x1b", "--json", "--catalog", "{cat}"),
    "catalog verify": ("catalog", "verify", "--run", "{run}", "--json", "--catalog", "{cat}"),
    "checkpoint diff": ("checkpoint", "diff", "{ckfile}", "{ckfile2}", "--json"),
    "checkpoint inspect": ("checkpoint", "inspect", "{ckfile}", "--json"),
    "checkpoint list": ("checkpoint", "list", "{ck}", "--json"),
    "checkpoint verify": ("checkpoint", "verify", "{ck}", "--json"),
    "lens export": (
        "lens",
        "export",
        "{lens}",
        "--output",
        "{tmp}/export",
        "--json",
        "--catalog",
        "{cat}",
    ),
    "lens history": (
        "lens",
        "history",
        "atmosphere.temperature",
        "--position",
        "1,0,0",
        "--lens-dir",
        "{lens}",
        "--format",
        "json",
    ),
    "lens load": ("lens", "load", "{lens}", "--json"),
    "lens compact": ("lens", "compact", "--lens-dir", "{lens}", "--json"),
    "lens plot": (
        *("lens", "plot", "atmosphere.temperature", "--tick", "10", "--width", "90"),
        *("--output", "{tmp}/map.png", "--lens-dir", "{lens}", "--json"),
    ),
    "lens query": (
        "lens",
        "query",
        "atmosphere.temperature",
        "--tick",
        "10",
        "--position",
        "1,0,0",
        "--lens-dir",
        "{lens}",
        "--json",
    ),
    "lens sql": (
        "lens",
        "sql",
        "SELECT 'NaN'::DOUBLE AS n, 'inf'::DOUBLE AS i",
        "--format",
        "json",
        "--catalog",
        "{cat}",
    ),
    "run": ("run", "terra", "--scenario", "tiny", "--steps", "5", "--json", "--no-catalog"),
    "serve": None,  # it serves until stopped: tests/serve/test_serve_cli.py reads its JSON line
    "world copy": ("world", "copy", "terra", "{tmp}/world-copy", "--json"),
    "world list": ("world", "list", "--json"),
}


def strict(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"non-JSON token {token} in {text[:200]!r}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("name", [n for n, a in JSON_COMMANDS.items() if a is not None])
def test_every_json_output_is_strict_json(made, name):
    args = JSON_COMMANDS[name]
    assert args is not None
    result = CliRunner().invoke(cli, [_fill(a, made) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    strict(result.stdout)


def test_nan_and_infinities_are_null_in_json(made):
    shown = ok_json("catalog", "show", made["{odd}"], "--json", "--catalog", made["{cat}"])
    assert shown["checkpoints"][0]["sim_time"] is None  # stored as inf
    inspected = ok_json("checkpoint", "inspect", made["{ckfile}"], "--json")
    assert isinstance(inspected["sim_time"], float)  # finite values stay numbers


def test_rm_json_is_strict(made):
    with Catalog(made["{cat}"]) as cat:
        run = cat.runs.register(world="terra", ir_hash="ab", seed=9)
        cat.runs.finish(run.run_id, status="completed", last_tick=0)
    result = CliRunner().invoke(
        cli, ["catalog", "rm", run.run_id, "--yes", "--json", "--catalog", made["{cat}"]]
    )
    assert result.exit_code == 0, result.output
    assert strict(result.stdout)["run_id"] == run.run_id


def test_every_json_command_is_covered():
    ctx = click.Context(cli)
    with_json: set[str] = set()

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, (*path, name))
                continue
            opts = {o for p in command.params for o in getattr(p, "opts", [])}
            formats = [p for p in command.params if p.name == "fmt"]
            choices = getattr(formats[0].type, "choices", ()) if formats else ()
            if "--json" in opts or "json" in choices:
                with_json.add(" ".join((*path, name)))

    walk(cli, ())
    assert with_json <= set(JSON_COMMANDS), with_json - set(JSON_COMMANDS)


def test_a_foreign_file_among_checkpoints_is_reported_without_its_bytes(made, tmp_path):
    run_dir = tmp_path / "ck" / "20260101_000000_0badf00d"
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint_0000000010.ckpt").write_bytes(b"root:*:20000:0:\x1b]0;owned\x07\n" * 9)
    for args in (
        ("checkpoint", "list", str(run_dir)),
        ("checkpoint", "list", str(run_dir), "--json"),
        ("checkpoint", "verify", str(run_dir)),
        ("checkpoint", "verify", str(run_dir), "--json"),
        ("catalog", "scan", str(tmp_path / "ck"), "--catalog", catalog_url(tmp_path)),
        ("catalog", "scan", str(tmp_path / "ck"), "--json", "--catalog", catalog_url(tmp_path)),
    ):
        result = CliRunner().invoke(cli, list(args))
        assert isinstance(result.exception, SystemExit | None), result.exception
        assert "root:*:" not in result.output, (args, result.output)
        assert_no_raw_unsafe(result.stdout, result.stderr)


def test_ctl_prints_strict_json_and_escaped_text(made):
    """A live run's reply may carry anything its counters hold: NaN is null in JSON, a
    control character is an escape in text."""
    from continuum.control import ControlServer

    with Catalog(made["{cat}"]) as cat:
        live = cat.runs.register(world="terra", ir_hash="cd" * 32, seed=4)
        odd = {"status": ESC_TAG, "queues": {"checkpoint": float("nan"), "lens": BEL_TAG}}
        server = ControlServer.open(live.run_id, start_tick=0, end_tick=9, status=lambda: odd)
        try:
            cat.runs.set_control_path(live.run_id, server.path)
            as_json, _ = run_ok(made, "ctl", live.run_id, "status", "--json", "--catalog", "{cat}")
            reply = strict(as_json)
            assert reply["queues"]["checkpoint"] is None and reply["status"] == ESC_TAG
            text, err = run_ok(made, "ctl", live.run_id, "status", "--catalog", "{cat}")
            assert_no_raw_unsafe(text, err)
            assert "\\x1b" in text
        finally:
            server.close()
            cat.runs.finish(live.run_id, status="completed", last_tick=0)
