"""``/api/health``, ``/api/runs`` and ``/api/runs/{id}`` on real runs, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from continuum.catalog import Catalog
from tests.serve.conftest import AUTH, Served

ROW_KEYS = {
    "run_id", "world", "scenario", "seed", "status", "start_tick", "last_tick", "started_at",
    "ended_at", "ir_hash", "tags", "live",
}  # fmt: skip


def one_line_error(response, status: int, *fragments: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"], body
    for fragment in fragments:
        assert fragment in body["error"], body
    return body["error"]


def test_health_names_the_catalog_without_its_password(served: Served):
    body = served.client.get("/api/health").json()
    assert body["ok"] is True and body["version"] == "0.1.0"
    assert "***" in body["catalog"] or ":" not in body["catalog"].split("@")[0].split("//")[-1]


def test_runs_lists_both_runs_newest_first_with_the_row_shape(served: Served):
    body = served.client.get("/api/runs").json()
    ids = [r["run_id"] for r in body["runs"]]
    assert ids == [served.branch, served.parent]
    assert body["next"] is None and body["total"] == 2
    row = body["runs"][1]
    assert set(row) == ROW_KEYS
    assert (row["world"], row["scenario"], row["status"]) == ("terra", "tiny", "completed")
    assert (row["start_tick"], row["last_tick"], row["live"]) == (0, 200, None)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("world=terra", "both"),
        ("world=mars", "none"),
        ("status=completed", "both"),
        ("status=running", "none"),
        ("scenario=tiny", "both"),
        ("seed=0", "both"),
        ("seed=5", "none"),
        ("covers=10", "parent"),
        ("covers=120", "both"),
        ("param=topology.resolution=8", "both"),
        ("param=topology.resolution>8", "none"),
        ("started_after=2000-01-01", "both"),
        ("started_before=2000-01-01T00:00:00Z", "none"),
        ("tag=owner=nobody", "none"),
    ],
)
def test_filters_are_the_catalog_searchs(served: Served, query, expected):
    body = served.client.get(f"/api/runs?{query}").json()
    want = {
        "both": {served.parent, served.branch},
        "parent": {served.parent},
        "none": set(),
    }[expected]
    assert {r["run_id"] for r in body["runs"]} == want
    assert body["total"] == len(want)


def test_sorted_by_last_tick_either_way(served: Served):
    up = served.client.get("/api/runs?sort=last_tick").json()["runs"]
    down = served.client.get("/api/runs?sort=-last_tick").json()["runs"]
    assert [r["last_tick"] for r in up] == sorted(r["last_tick"] for r in up)
    assert [r["run_id"] for r in down] == [r["run_id"] for r in reversed(up)]


def test_keyset_pages_of_one(served: Served):
    first = served.client.get("/api/runs?limit=1&sort=run_id").json()
    second = served.client.get(f"/api/runs?limit=1&sort=run_id&after={first['next']}").json()
    assert first["total"] == 2 and second["total"] is None  # counted on the first page only
    assert second["next"] is None
    assert [first["runs"][0]["run_id"], second["runs"][0]["run_id"]] == sorted(
        [served.parent, served.branch]
    )


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("seed=-1", "seed"),
        ("seed=nan", "seed"),
        ("seed=99999999999999999999999", "seed"),
        ("covers=1e3", "covers"),
        ("status=bogus", "unknown status"),
        ("sort=seed", "sort"),
        ("after=garbage", "cursor"),
        ("param=k>nan", "param"),
        ("param=%1b%5b31m", "param"),
        ("tag=novalue", "tag"),
        ("started_after=yesterday", "started_after"),
        ("world=a%00b", "world"),
        ("world=" + "x" * 2000, "world"),
        ("bogus=1", "unknown parameter"),
    ],
)
def test_bad_parameters_are_400_with_one_line(served: Served, query, fragment):
    error = one_line_error(served.client.get(f"/api/runs?{query}"), 400, fragment)
    assert "\x1b" not in error and "\x00" not in error


def test_detail_holds_what_the_run_page_shows(served: Served):
    body = served.client.get(f"/api/runs/{served.parent}").json()
    assert set(body) >= ROW_KEYS
    assert body["params"] == {"topology.resolution": 8}
    assert [s["status"] for s in body["segments"]] == ["completed"]
    ticks = [c["tick"] for c in body["checkpoints"]]
    assert ticks == [50, 100, 150, 200]
    assert {c["state"] for c in body["checkpoints"]} == {"committed"}
    assert body["checkpoints"][0]["path_name"] == "checkpoint_0000000050.ckpt"
    assert body["checkpoints"][0]["size"] > 0
    assert body["lineage"] == {
        "parent": None,
        "children": [{"run_id": served.branch, "tick": 100}],
        "ancestors": [],
    }
    assert body["retention"]["policy"] is None and body["retention"]["would_prune"] == []
    lens = body["lens"]
    assert lens["dir"].endswith(served.parent) and "atmosphere.temperature" in lens["fields"]
    assert [(w["start_tick"], w["end_tick"]) for w in lens["windows"]][:2] == [(0, 50), (50, 100)]
    assert lens["gaps"] == []
    assert body["live"] is False and body["control_path"] is None


def test_branch_detail_names_its_parent_and_ancestors(served: Served):
    body = served.client.get(f"/api/runs/{served.branch}").json()
    assert body["lineage"]["parent"] == {"run_id": served.parent, "tick": 100}
    assert body["lineage"]["ancestors"] == [{"run_id": served.parent, "tick": 100}]
    assert body["start_tick"] == 100 and body["last_tick"] == 130


def test_retention_dry_run_shows_what_a_policy_would_prune(served: Served):
    from continuum.catalog import RetentionRules

    with Catalog(served.url) as cat:
        cat.policies.set("run", served.parent, RetentionRules(keep_last=2))
        try:
            body = served.client.get(f"/api/runs/{served.parent}").json()
        finally:
            cat.policies.clear("run", served.parent)
    retention = body["retention"]
    assert retention["policy"]["scope"] == "run"
    # 100 is kept: the branch started from it only if a rule keeps it; keep-last 2 keeps 150, 200
    assert retention["would_prune"] == sorted(set(retention["would_prune"]))
    assert 200 not in retention["would_prune"] and 50 in retention["would_prune"]
    assert [c["state"] for c in body["checkpoints"]] == ["committed"] * 4  # nothing deleted


def test_unknown_run_is_404(served: Served):
    one_line_error(served.client.get("/api/runs/20990101_000000_deadbeef"), 404, "20990101")
    one_line_error(served.client.get("/api/runs/%1b%5b31m"), 400, "run_id")


def test_unknown_endpoint_and_method_are_json(served: Served):
    one_line_error(served.client.get("/api/nothing"), 404, "no such endpoint")
    one_line_error(served.client.delete("/api/health", headers=AUTH), 405, "method")
