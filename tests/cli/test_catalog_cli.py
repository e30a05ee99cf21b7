"""``continuum catalog``: output shapes, pagination, and one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from continuum.catalog import Catalog
from continuum.catalog.db.schema import HEAD
from continuum.cli.main import cli

T0 = datetime(2026, 1, 16, 9, 54, 30, tzinfo=UTC)
RUN_KEYS = {"run_id", "world", "ir_hash", "seed", "status", "first_tick", "last_tick"}


@pytest.fixture(autouse=True)
def _no_user_catalog(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTINUUM_CATALOG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def filled(url, tmp_path):
    """Three runs (p0 oldest); p1 has two checkpoints and a branch, p2."""
    with Catalog(url) as cat:
        for i in range(3):
            cat.runs.register(
                run_id=f"p{i}",
                world="terra",
                ir_hash="abcdef" + "0" * 58,
                seed=i,
                started_at=T0 + timedelta(minutes=i),
                checkpoint_dir=tmp_path / f"p{i}",
                params={"k": i * 10},
            )
        for tick in (1000, 2000):
            path = tmp_path / "p1" / f"checkpoint_{tick:010d}.ckpt"
            cat.checkpoints.record(
                "p1", tick=tick, sim_time=tick * 1e6, era="formation", path=path, bytes_on_disk=512
            )
            cat.checkpoints.mark("p1", tick, "committed")
        cat.runs.finish("p1", status="completed", last_tick=2000)
        cat.runs.finish("p0", status="completed", last_tick=500)
        cat.runs.finish("p2", status="completed", last_tick=100)
        cat.runs.set_params("p2", {"k": 5})
    return url


def invoke(*args):
    return CliRunner().invoke(cli, ["catalog", *args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_table_and_json(filled):
    table = invoke("list", "--catalog", filled)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN_ID", "WORLD", "IR_HASH"]
    assert [line.split()[0] for line in lines[1:]] == ["p2", "p1", "p0"]
    as_json = json.loads(invoke("list", "--catalog", filled, "--json").stdout)
    assert [r["run_id"] for r in as_json] == ["p2", "p1", "p0"]
    assert RUN_KEYS | {"started_at", "ended_at"} <= set(as_json[0])


def test_list_pages_with_the_cursor_on_stderr(filled):
    first = invoke("list", "--catalog", filled, "--limit", "2")
    assert first.stderr.startswith("next page: --after ")
    cursor = first.stderr.split()[-1]
    second = invoke("list", "--catalog", filled, "--limit", "2", "--after", cursor, "--json")
    assert [r["run_id"] for r in json.loads(second.stdout)] == ["p0"]
    assert second.stderr == ""


def test_empty_catalog_lists_no_runs(url):
    result = invoke("list", "--catalog", url)
    assert (result.exit_code, result.stdout) == (0, "no runs\n")


def test_environment_names_the_catalog(filled, monkeypatch):
    monkeypatch.setenv("CONTINUUM_CATALOG", filled)
    assert json.loads(invoke("list", "--json").stdout)[0]["run_id"] == "p2"


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
    shown = json.loads(invoke("show", "p1", "--catalog", filled, "--json").stdout)
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
    result = invoke("show", "p1", "--catalog", filled)
    assert result.exit_code == 0
    assert "checkpoints (2):" in result.stdout and "checkpoint_0000002000.ckpt" in result.stdout


def test_search_filters_combine(filled):
    args = ["search", "--catalog", filled, "--json", "--world", "terra", "--ir-hash", "abc"]
    found = json.loads(invoke(*args, "--param", "k>=5", "--has-checkpoint-after", "1500").stdout)
    assert [r["run_id"] for r in found] == ["p1"]
    found = json.loads(
        invoke(*args, "--param", "k>=5", "--started-after", "2026-01-16T09:55:30Z").stdout
    )
    assert [r["run_id"] for r in found] == ["p2", "p1"]
    found = json.loads(invoke(*args, "--tick-covers", "300", "--status", "completed").stdout)
    assert [r["run_id"] for r in found] == ["p1", "p0"]


def test_tag_sets_and_deletes(filled):
    assert invoke("tag", "p0", "owner=ana", "goal=base line", "--catalog", filled).stdout == (
        "goal=base line owner=ana\n"
    )
    result = invoke("tag", "p0", "--delete", "goal", "--catalog", filled, "--json")
    assert json.loads(result.stdout) == {"owner": "ana"}
    found = invoke("search", "--tag", "owner=ana", "--catalog", filled, "--json")
    assert [r["run_id"] for r in json.loads(found.stdout)] == ["p0"]


def test_migrate_reports_what_it_did(url):
    first = invoke("migrate", "--catalog", url)
    assert first.exit_code == 0 and f"upgraded from empty to {HEAD}" in first.stdout
    again = json.loads(invoke("migrate", "--catalog", url, "--json").stdout)
    assert (again["before"], again["after"]) == (HEAD, HEAD)


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
    assert_one_line_error(invoke(*args, "--catalog", filled), *fragments)


def test_bad_filter_fails_before_the_catalog_is_touched(tmp_path):
    target = tmp_path / "untouched.db"
    result = invoke("search", "--param", "k<=x", "--catalog", f"sqlite:///{target}")
    assert_one_line_error(result, "needs a number")
    assert not target.exists()


def test_failed_tag_writes_nothing(filled):
    invoke("tag", "nope", "a=1", "--catalog", filled)
    with Catalog(filled) as cat:
        assert all(not r.tags for r in cat.search.list().runs)


def test_unreachable_catalog_is_one_line():
    result = invoke("list", "--catalog", "postgresql://postgres@127.0.0.1:1/nothing")
    assert_one_line_error(result, "unavailable", "127.0.0.1")


def test_missing_directory_is_one_line(tmp_path):
    result = invoke("list", "--catalog", f"sqlite:///{tmp_path / 'no' / 'c.db'}")
    assert_one_line_error(result, "does not exist")


def test_newer_schema_is_one_line(filled):
    with Catalog(filled) as cat, cat.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    for command in (["list"], ["migrate"], ["show", "p0"]):
        assert_one_line_error(invoke(*command, "--catalog", filled), "9999_future", HEAD)


@pytest.mark.parametrize("command", ["list", "show", "search", "tag", "migrate"])
def test_every_command_has_help_with_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout and "--catalog" in result.stdout
