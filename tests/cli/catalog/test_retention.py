"""Retention through the CLI: run --keep-checkpoints, policy, pin, prune, log, gc, rm."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import (
    assert_one_line_error,
    catalog_url,
    invoke,
    ok,
    ok_json,
    run_json,
    show_run,
)


def on_disk(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.glob("checkpoint_*.ckpt"))


def test_keep_checkpoints_keeps_newest_three_files_and_rows(tmp_path):
    url = catalog_url(tmp_path)
    d = tmp_path / "D"
    keep = ["--checkpoint-stride", "50", "--keep-checkpoints", "3", "--catalog", url]
    out = run_json("--steps", "500", "--checkpoint-dir", str(d), *keep)
    run = show_run(url, out["run_id"])
    states = {c["tick"]: c["state"] for c in run["checkpoints"]}
    committed = sorted(t for t, s in states.items() if s == "committed")
    assert len(committed) == 3 and committed[-1] == 500  # written ticks: drops are allowed
    assert set(states.values()) == {"committed", "pruned"}
    assert all(t < committed[0] for t, s in states.items() if s == "pruned")
    assert on_disk(d / out["run_id"]) == [f"checkpoint_{t:010d}.ckpt" for t in committed]
    policy = ok_json(
        "catalog", "policy", "show", "--run", out["run_id"], "--catalog", url, "--json"
    )
    assert policy[0]["keep_last"] == 3 and policy[0]["scope"] == "run"
    verify = invoke("catalog", "verify", "--repair", "--catalog", url)
    assert verify.exit_code == 0, verify.output  # the catalog and the disk agree


def test_resume_and_branch_points_are_kept_only_when_pinned(tmp_path):
    url = catalog_url(tmp_path)
    ckpt = tmp_path / "ckpt"
    common = ["--checkpoint-dir", str(ckpt), "--checkpoint-stride", "100", "--catalog", url]
    first = run_json("--steps", "400", *common)
    rid = first["run_id"]
    run_json("--steps", "100", "--resume", *common)  # in place, resumed from 400
    branch_from = ckpt / rid / "checkpoint_0000000200.ckpt"
    child = run_json("--steps", "50", "--checkpoint-path", str(branch_from), *common)
    assert child["parent_run"] == rid
    ok("catalog", "policy", "set", "--run", rid, "--keep-last", "1", "--catalog", url)
    ok("catalog", "pin", rid, "200", "--catalog", url)  # how a branch point is kept

    dry = ok_json("catalog", "prune", "--run", rid, "--dry-run", "--json", "--catalog", url)
    assert on_disk(ckpt / rid) == [f"checkpoint_{t:010d}.ckpt" for t in (100, 200, 300, 400, 500)]
    kept = {k["tick"]: k["rules"] for k in dry["runs"][0]["kept"]}
    # 400, where the second segment resumed, is kept by no rule: lineage is in the records
    assert kept == {200: ["pinned"], 500: ["keep-last", "latest", "newest"]}
    assert [x["tick"] for x in dry["runs"][0]["delete"]] == [100, 300, 400]

    text = ok("catalog", "prune", "--run", rid, "--catalog", url)
    assert "deleted 3 files" in text
    assert on_disk(ckpt / rid) == [f"checkpoint_{t:010d}.ckpt" for t in (200, 500)]
    log = ok_json("catalog", "log", "--run", rid, "--json", "--catalog", url)
    pruned = [e["detail"] for e in log if e["action"] == "checkpoint-pruned"]
    assert len(pruned) == 1 and pruned[0].startswith("ticks 100,300,400 (3 files)"), pruned
    shown = show_run(url, child["run_id"])  # the branch still says where it came from
    assert (shown["parent_run_id"], shown["parent_checkpoint_tick"]) == (rid, 200)


def test_policy_pin_prune_dry_run_and_rm(tmp_path):
    url = catalog_url(tmp_path)
    d = tmp_path / "D"
    out = run_json(
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
    ok(
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
    shown = ok("catalog", "policy", "show", "--catalog", url)
    assert "global" in shown and "keep-within=90m" in shown and "max-bytes=10.0 GiB" in shown
    ok("catalog", "policy", "set", "--world", "terra", "--keep-last", "1", "--catalog", url)
    assert "world terra" in ok("catalog", "policy", "show", "--run", rid, "--catalog", url)
    ok("catalog", "pin", rid, "100", "--catalog", url)
    dry = ok("catalog", "prune", "--all", "--dry-run", "--catalog", url)
    assert "pinned" in dry and "would delete 1 files" in dry
    assert len(on_disk(d / rid)) == 3
    ok("catalog", "unpin", rid, "100", "--catalog", url)
    assert "deleted 2 files" in ok("catalog", "prune", "--world", "terra", "--catalog", url)
    assert "cleared" in ok("catalog", "policy", "clear", "--world", "terra", "--catalog", url)
    assert "0 stray files" in ok("catalog", "gc", "--catalog", url)
    removed = ok_json("catalog", "rm", rid, "--yes", "--json", "--catalog", url)
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
def test_bad_input_is_one_line(tmp_path, args, message):
    result = invoke("catalog", *args, "--catalog", catalog_url(tmp_path, "c.db"))
    assert_one_line_error(result, message)


@pytest.mark.parametrize(
    "command", [["policy", "set"], ["policy", "show"], ["pin"], ["prune"], ["log"], ["gc"], ["rm"]]
)
def test_help_has_an_example(command):
    assert "Example:" in ok("catalog", *command, "--help")
