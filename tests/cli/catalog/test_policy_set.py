"""``catalog policy set`` merges into the policy at its scope, or replaces it with
``--replace``, and prints the result (issue 13: it used to replace the keep-last that
``run --keep-checkpoints`` had set, silently)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import assert_one_line_error, catalog_url, invoke, ok, ok_json, run_json


def test_set_merges_with_the_runs_keep_last_replace_replaces_and_both_print(tmp_path: Path):
    url = catalog_url(tmp_path)
    ck = ("--checkpoint-dir", tmp_path / "ck", "--checkpoint-stride", "5")
    rid = run_json(*ck, "--keep-checkpoints", "3", "--steps", "10", "--catalog", url)["run_id"]
    cat = ("--catalog", url)

    text = ok("catalog", "policy", "set", "--run", rid, "--keep-within", "7d", *cat)
    assert text.splitlines()[0] == f"merged into the policy of run {rid}; it is now:"
    assert "keep-last=3 keep-within=1w" in text  # the run flag's keep-last survives

    merged = ok_json("catalog", "policy", "set", "--run", rid, "--keep-last", "4", "--json", *cat)
    assert [(p["scope"], p["keep_last"], p["keep_within_s"]) for p in merged] == [
        ("run", 4, 7 * 86400)
    ]

    replaced = ok_json(
        "catalog", "policy", "set", "--run", rid, "--replace", "--keep-daily", "2", "--json", *cat
    )  # fmt: skip
    assert len(replaced) == 1
    rules = {k: v for k, v in replaced[0].items() if k.startswith(("keep", "max", "lens")) and v}
    assert rules == {"keep_daily": 2}
    shown = ok_json("catalog", "policy", "show", "--run", rid, "--json", *cat)
    assert shown == replaced  # what set printed is what applies

    text = ok("catalog", "policy", "set", "--run", rid, "--replace", "--keep-last", "1", *cat)
    assert text.startswith(f"replaced the policy of run {rid}; it is now:")
    assert "keep-last=1" in text and "keep-daily" not in text


def test_a_new_scope_says_which_broader_policy_it_now_hides(tmp_path: Path):
    cat = ("--catalog", catalog_url(tmp_path))
    first = invoke("catalog", "policy", "set", "--global", "--keep-last", "9", *cat)
    assert first.exit_code == 0 and first.stdout.startswith("set the policy of global")
    assert first.stderr == ""
    world = invoke("catalog", "policy", "set", "--world", "terra", "--keep-daily", "3", *cat)
    assert world.exit_code == 0, world.output
    assert "note: world terra's own policy now applies instead of global's (keep-last=9)" in (
        world.stderr
    )
    again = invoke("catalog", "policy", "set", "--world", "terra", "--keep-last", "2", *cat)
    assert again.exit_code == 0 and again.stderr == ""  # merged: nothing newly hidden
    assert "keep-last=2 keep-daily=3" in again.stdout


def test_bad_policy_set_is_one_line(tmp_path: Path):
    cat = ("--catalog", catalog_url(tmp_path))
    assert_one_line_error(
        invoke("catalog", "policy", "set", "--global", "--replace", *cat), "at least one rule"
    )
    unknown = "20260101_000000_abcdef12"
    assert_one_line_error(
        invoke("catalog", "policy", "set", "--run", unknown, "--keep-last", "1", *cat), unknown
    )
