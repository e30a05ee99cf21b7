"""Retention through the CLI: run --keep-checkpoints, policy, pin, prune, log, gc, rm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from continuum.cli import cli


def invoke(runner, *args: str) -> str:
    """stdout of a successful command (warnings on stderr stay out of the JSON)."""
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def run_json(runner, *args: str) -> dict:
    return json.loads(invoke(runner, "run", "terra", "--scenario", "tiny", "--json", *args))


def show(runner, url: str, run_id: str) -> dict:
    return json.loads(invoke(runner, "catalog", "show", run_id, "--catalog", url, "--json"))


def on_disk(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.glob("checkpoint_*.ckpt"))


def test_keep_checkpoints_keeps_newest_three_files_and_rows(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    d = tmp_path / "D"
    keep = ["--checkpoint-stride", "50", "--keep-checkpoints", "3", "--catalog", url]
    out = run_json(runner, "--steps", "500", "--checkpoint-dir", str(d), *keep)
    run = show(runner, url, out["run_id"])
    states = {c["tick"]: c["state"] for c in run["checkpoints"]}
    committed = sorted(t for t, s in states.items() if s == "committed")
    assert len(committed) == 3 and committed[-1] == 500  # written ticks: drops are allowed
    assert set(states.values()) == {"committed", "pruned"}
    assert all(t < committed[0] for t, s in states.items() if s == "pruned")
    assert on_disk(d / out["run_id"]) == [f"checkpoint_{t:010d}.ckpt" for t in committed]
    policy = json.loads(
        invoke(
            runner, "catalog", "policy", "show", "--run", out["run_id"], "--catalog", url, "--json"
        )
    )
    assert policy[0]["keep_last"] == 3 and policy[0]["scope"] == "run"
    verify = runner.invoke(cli, ["catalog", "verify", "--repair", "--catalog", url])
    assert verify.exit_code == 0, verify.output  # the catalog and the disk agree


def test_resumed_and_branched_checkpoints_survive_keep_last_1(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    ckpt = tmp_path / "ckpt"
    common = ["--checkpoint-dir", str(ckpt), "--checkpoint-stride", "100", "--catalog", url]
    first = run_json(runner, "--steps", "400", *common)
    rid = first["run_id"]
    run_json(runner, "--steps", "100", "--resume", *common)  # in place, resumed from 400
    branch_from = ckpt / rid / "checkpoint_0000000200.ckpt"
    child = run_json(runner, "--steps", "50", "--checkpoint-path", str(branch_from), *common)
    assert child["parent_run"] == rid
    invoke(runner, "catalog", "policy", "set", "--run", rid, "--keep-last", "1", "--catalog", url)

    dry = json.loads(
        invoke(runner, "catalog", "prune", "--run", rid, "--dry-run", "--json", "--catalog", url)
    )
    assert on_disk(ckpt / rid) == [f"checkpoint_{t:010d}.ckpt" for t in (100, 200, 300, 400, 500)]
    kept = {k["tick"]: k["rules"] for k in dry["runs"][0]["kept"]}
    assert kept == {200: ["lineage"], 400: ["lineage"], 500: ["keep-last", "latest", "newest"]}
    assert [x["tick"] for x in dry["runs"][0]["delete"]] == [100, 300]

    text = invoke(runner, "catalog", "prune", "--run", rid, "--catalog", url)
    assert "deleted 2 files" in text
    assert on_disk(ckpt / rid) == [f"checkpoint_{t:010d}.ckpt" for t in (200, 400, 500)]
    log = json.loads(invoke(runner, "catalog", "log", "--run", rid, "--json", "--catalog", url))
    pruned = [e["detail"] for e in log if e["action"] == "checkpoint-pruned"]
    assert len(pruned) == 1 and pruned[0].startswith("ticks 100,300 (2 files)")


def test_policy_pin_prune_dry_run_and_rm(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    d = tmp_path / "D"
    out = run_json(
        runner,
        "--steps",
        "300",
        "--checkpoint-dir",
        str(d),
        "--checkpoint-stride",
        "100",
        "--catalog",
        url,
    )
    rid = out["run_id"]
    invoke(
        runner,
        "catalog",
        "policy",
        "set",
        "--global",
        "--keep-last",
        "1",
        "--keep-within",
        "90m",
        "--max-bytes",
        "10G",
        "--catalog",
        url,
    )
    shown = invoke(runner, "catalog", "policy", "show", "--catalog", url)
    assert "global" in shown and "keep-within=90m" in shown and "max-bytes=10.0 GiB" in shown
    invoke(
        runner, "catalog", "policy", "set", "--world", "terra", "--keep-last", "1", "--catalog", url
    )
    assert "world terra" in invoke(
        runner, "catalog", "policy", "show", "--run", rid, "--catalog", url
    )
    invoke(runner, "catalog", "pin", rid, "100", "--catalog", url)
    dry = invoke(runner, "catalog", "prune", "--all", "--dry-run", "--catalog", url)
    assert "pinned" in dry and "would delete 1 files" in dry
    assert len(on_disk(d / rid)) == 3
    invoke(runner, "catalog", "unpin", rid, "100", "--catalog", url)
    assert "deleted 2 files" in invoke(
        runner, "catalog", "prune", "--world", "terra", "--catalog", url
    )
    assert "cleared" in invoke(
        runner, "catalog", "policy", "clear", "--world", "terra", "--catalog", url
    )
    assert "0 stray files" in invoke(runner, "catalog", "gc", "--catalog", url)
    removed = json.loads(invoke(runner, "catalog", "rm", rid, "--json", "--catalog", url))
    assert removed["deleted"] == 1 and not (d / rid).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["policy", "set", "--global", "--keep-within", "7x"], "duration '7x'"),
        (["policy", "set", "--global", "--max-bytes", "lots"], "size 'lots'"),
        (["policy", "set", "--keep-last", "3"], "exactly one of"),
        (["policy", "set", "--global", "--world", "w", "--keep-last", "3"], "exactly one of"),
        (["policy", "set", "--global"], "at least one rule"),
        (["policy", "set", "--run", "nope", "--keep-last", "1"], "no run 'nope'"),
        (["prune", "--dry-run"], "exactly one of --run ID, --world NAME or --all"),
        (["prune", "--run", "nope"], "no run 'nope'"),
        (["pin", "nope", "5"], "no run 'nope'"),
        (["rm", "nope"], "no run 'nope'"),
    ],
)
def test_bad_input_is_one_line(tmp_path, runner, args, message):
    result = runner.invoke(cli, ["catalog", *args, "--catalog", str(tmp_path / "c.db")])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


@pytest.mark.parametrize(
    "command", [["policy", "set"], ["policy", "show"], ["pin"], ["prune"], ["log"], ["gc"], ["rm"]]
)
def test_help_has_an_example(runner, command):
    assert "Example:" in invoke(runner, "catalog", *command, "--help")
