"""Actions with the token: pin, unpin, prune (and its plan), ctl on a run that is not live."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from continuum.catalog import Catalog, RetentionRules
from tests.cli.conftest import ok_json
from tests.serve.conftest import AUTH, client_for
from tests.serve.test_runs import one_line_error


@dataclass
class Acted:
    client: TestClient
    url: str
    run_id: str
    checkpoints: Path


@pytest.fixture(scope="module")
def acted(catalog_of_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acted]:
    root = tmp_path_factory.mktemp("acted")
    summary = ok_json(
        *("run", "terra", "--scenario", "tiny", "--steps", "60", "--json"),
        *(
            "--checkpoint-dir",
            root / "ck",
            "--checkpoint-stride",
            "10",
            "--catalog",
            catalog_of_module,
        ),
    )
    with client_for(catalog_of_module) as client:
        yield Acted(client, catalog_of_module, summary["run_id"], root / "ck" / summary["run_id"])


def states(acted: Acted) -> dict[int, str]:
    body = acted.client.get(f"/api/runs/{acted.run_id}").json()
    return {c["tick"]: c["state"] for c in body["checkpoints"]}


def test_pin_and_unpin(acted: Acted):
    pinned = acted.client.post(f"/api/runs/{acted.run_id}/pin?tick=20", headers=AUTH)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned"] is True and pinned.json()["state"] == "pinned"
    assert states(acted)[20] == "pinned"
    unpinned = acted.client.post(f"/api/runs/{acted.run_id}/unpin?tick=20", headers=AUTH).json()
    assert unpinned["pinned"] is False and states(acted)[20] == "committed"


@pytest.mark.parametrize(
    "path, status, fragment",
    [
        ("pin?tick=7", 409, "no checkpoint at tick 7"),
        ("pin", 400, "tick"),
        ("pin?tick=-3", 400, "tick"),
        ("unpin?tick=abc", 400, "tick"),
        ("ctl/explode", 404, "unknown control command"),
    ],
)
def test_bad_actions(acted: Acted, path, status, fragment):
    response = acted.client.post(f"/api/runs/{acted.run_id}/{path}", headers=AUTH)
    one_line_error(response, status, fragment)


def test_actions_on_an_unknown_run_are_404(acted: Acted):
    for path in ("pin?tick=10", "prune", "ctl/status"):
        response = acted.client.post(f"/api/runs/20990101_000000_deadbeef/{path}", headers=AUTH)
        one_line_error(response, 404, "20990101")
    one_line_error(acted.client.get("/api/runs/20990101_000000_deadbeef/prune-plan"), 404, "2099")


@pytest.mark.parametrize("command", ["status", "checkpoint", "flush", "stop"])
def test_ctl_on_a_run_that_is_not_live_is_409(acted: Acted, command):
    response = acted.client.post(f"/api/runs/{acted.run_id}/ctl/{command}", headers=AUTH)
    assert response.status_code in (409, 501), response.text
    assert "not live" in response.json()["error"] or "control" in response.json()["error"]


def test_prune_plan_then_prune_deletes_what_the_plan_said(acted: Acted):
    with Catalog(acted.url) as cat:
        cat.policies.set("run", acted.run_id, RetentionRules(keep_last=2))
    ticks = sorted(t for t, s in states(acted).items() if s == "committed")
    doomed = ticks[:-2]  # keep-last 2 keeps the two newest
    assert doomed, ticks  # a checkpoint dropped under load (queue full) only shortens it
    plan = acted.client.get(f"/api/runs/{acted.run_id}/prune-plan").json()
    assert plan["dry_run"] is True
    assert plan["would_prune"] == doomed, plan["plans"]
    path = acted.checkpoints / f"checkpoint_{doomed[0]:010d}.ckpt"
    assert path.exists()
    report = acted.client.post(f"/api/runs/{acted.run_id}/prune", headers=AUTH).json()
    assert report["dry_run"] is False and report["deleted"] == len(doomed)
    assert sorted(t for t, s in states(acted).items() if s == "pruned") == doomed
    assert not path.exists()
    assert (acted.checkpoints / f"checkpoint_{ticks[-1]:010d}.ckpt").exists()
    again = acted.client.get(f"/api/runs/{acted.run_id}/prune-plan").json()
    assert again["would_prune"] == []
