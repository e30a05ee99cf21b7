"""``continuum catalog list|show|search|tag``: output shapes, pagination, and one-line errors."""

from __future__ import annotations

import json

import pytest

from continuum.catalog import Catalog
from tests.cli.conftest import assert_one_line_error, invoke, ok, ok_json

RUN_KEYS = {"run_id", "world", "ir_hash", "seed", "status", "first_tick", "last_tick"}


def test_list_table_and_json(filled):
    table = invoke("catalog", "list", "--catalog", filled)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN_ID", "WORLD", "IR_HASH"]
    assert [line.split()[0] for line in lines[1:]] == ["p2", "p1", "p0"]
    as_json = ok_json("catalog", "list", "--catalog", filled, "--json")
    assert [r["run_id"] for r in as_json] == ["p2", "p1", "p0"]
    assert RUN_KEYS | {"started_at", "ended_at"} <= set(as_json[0])


def test_list_pages_with_the_cursor_on_stderr(filled):
    first = invoke("catalog", "list", "--catalog", filled, "--limit", "2")
    assert first.stderr.startswith("next page: --after ")
    cursor = first.stderr.split()[-1]
    second = invoke(
        "catalog", "list", "--catalog", filled, "--limit", "2", "--after", cursor, "--json"
    )
    assert [r["run_id"] for r in json.loads(second.stdout)] == ["p0"]
    assert second.stderr == ""


def test_empty_catalog_lists_no_runs(url):
    result = invoke("catalog", "list", "--catalog", url)
    assert (result.exit_code, result.stdout) == (0, "no runs\n")


def test_environment_names_the_catalog(filled, monkeypatch):
    monkeypatch.setenv("CONTINUUM_CATALOG", filled)
    assert ok_json("catalog", "list", "--json")[0]["run_id"] == "p2"


def test_show_json_has_segments_checkpoints_and_lineage(filled, tmp_path):
    with Catalog(filled) as cat:
        cat.runs.register(
            run_id="b1",
            world="terra",
            ir_hash="ab",
            seed=1,
            parent_run_id="p1",
            parent_checkpoint_tick=1000,
        )
    shown = ok_json("catalog", "show", "p1", "--catalog", filled, "--json")
    assert shown["run_id"] == "p1" and shown["status"] == "completed"
    assert [s["status"] for s in shown["segments"]] == ["completed"]
    first = shown["checkpoints"][0]
    assert (first["tick"], first["sim_time"], first["era"], first["state"]) == (
        1000,
        1e9,
        "formation",
        "committed",
    )
    assert first["path"] == "checkpoint_0000001000.ckpt" and first["bytes_on_disk"] == 512
    assert shown["lineage"] == {"parent": None, "children": [{"run_id": "b1", "tick": 1000}]}


def test_show_table(filled):
    result = invoke("catalog", "show", "p1", "--catalog", filled)
    assert result.exit_code == 0
    assert "checkpoints (2):" in result.stdout and "checkpoint_0000002000.ckpt" in result.stdout


def test_search_filters_combine(filled):
    args = ["search", "--catalog", filled, "--json", "--world", "terra", "--ir-hash", "abc"]
    found = ok_json("catalog", *args, "--param", "k>=5", "--has-checkpoint-after", "1500")
    assert [r["run_id"] for r in found] == ["p1"]
    found = ok_json("catalog", *args, "--param", "k>=5", "--started-after", "2026-01-16T09:55:30Z")
    assert [r["run_id"] for r in found] == ["p2", "p1"]
    found = ok_json("catalog", *args, "--tick-covers", "300", "--status", "completed")
    assert [r["run_id"] for r in found] == ["p1", "p0"]


def test_tag_sets_and_deletes(filled):
    tagged = ok("catalog", "tag", "p0", "owner=ana", "goal=base line", "--catalog", filled)
    assert tagged == "goal=base line owner=ana\n"
    result = ok_json("catalog", "tag", "p0", "--delete", "goal", "--catalog", filled, "--json")
    assert result == {"owner": "ana"}
    found = ok_json("catalog", "search", "--tag", "owner=ana", "--catalog", filled, "--json")
    assert [r["run_id"] for r in found] == ["p0"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["show", "nope"], ["no run 'nope'"]),
        (["tag", "nope", "a=1"], ["no run 'nope'"]),
        (["search", "--param", "k>abc"], ["k>abc", "needs a number"]),
        (["search", "--param", "k"], ["malformed param filter"]),
        (["search", "--tag", "owner"], ["expected KEY=VALUE"]),
        (["search", "--started-after", "yesterday"], ["not an ISO 8601 time"]),
        (["list", "--after", "garbage"], ["malformed page cursor"]),
        (["tag", "p0"], ["nothing to do"]),
    ],
)
def test_bad_input_is_one_line(filled, args, fragments):
    assert_one_line_error(invoke("catalog", *args, "--catalog", filled), *fragments)


def test_bad_filter_fails_before_the_catalog_is_touched(tmp_path):
    target = tmp_path / "untouched.db"
    result = invoke("catalog", "search", "--param", "k<=x", "--catalog", f"sqlite:///{target}")
    assert_one_line_error(result, "needs a number")
    assert not target.exists()


def test_failed_tag_writes_nothing(filled):
    invoke("catalog", "tag", "nope", "a=1", "--catalog", filled)
    with Catalog(filled) as cat:
        assert all(not r.tags for r in cat.search.list().runs)


def test_unreachable_catalog_is_one_line():
    result = invoke("catalog", "list", "--catalog", "postgresql://postgres@127.0.0.1:1/nothing")
    assert_one_line_error(result, "unavailable", "127.0.0.1")


def test_missing_directory_is_one_line(tmp_path):
    result = invoke("catalog", "list", "--catalog", f"sqlite:///{tmp_path / 'no' / 'c.db'}")
    assert_one_line_error(result, "does not exist")


@pytest.mark.parametrize("command", ["list", "show", "search", "tag"])
def test_every_command_has_help_with_an_example(command):
    result = invoke("catalog", command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout and "--catalog" in result.stdout
