"""The inspector under test: a real run with lens data in a real catalog, per dialect.

``served`` (module scope, once per dialect) makes two real runs with ``continuum run``
into a SQLite or a PostgreSQL catalog — a parent with checkpoints every 50 ticks and
lens chunks of 50 ticks, and a branch of it from tick 100 — then opens the app with
Starlette's TestClient (no network; the Host is 127.0.0.1). Tests that change
something (pin, prune) use ``fresh`` instead, a private run of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from continuum.serve import ServeConfig, create_app
from tests.cli.conftest import ok_json
from tests.conftest import private_schema

TOKEN = "test-token-0123456789"
BASE = "http://127.0.0.1:8765"
AUTH = {"X-Continuum-Token": TOKEN}
FIELD = "atmosphere.temperature"


@dataclass
class Served:
    client: TestClient
    url: str
    parent: str
    branch: str
    lens: Path
    checkpoints: Path


def make_runs(url: str, root: Path) -> tuple[str, str]:
    """A parent run (200 ticks) and a branch of it from its checkpoint at tick 100."""
    lens, ck = root / "lens", root / "ck"
    common = ("--lens-dir", lens, "--lens-chunk-size", "50", "--checkpoint-dir", ck)
    common += ("--checkpoint-stride", "50", "--catalog", url, "--json")
    parent = ok_json("run", "terra", "--scenario", "tiny", "--steps", "200", *common)
    start = ck / parent["run_id"] / "checkpoint_0000000100.ckpt"
    branch = ok_json("run", "terra", "--checkpoint-path", start, "--steps", "30", *common)
    assert branch["parent_run"] == parent["run_id"], branch
    return parent["run_id"], branch["run_id"]


def client_for(url: str, token: str = TOKEN, host: str = "127.0.0.1", **kw: object) -> TestClient:
    config = ServeConfig(catalog_url=url, token=token, host=host, **kw)  # type: ignore[arg-type]
    return TestClient(create_app(config), base_url=BASE)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalog_of_module(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('servecat') / 'catalog.db'}"
        return
    with private_schema(request.getfixturevalue("pg_admin_url")) as url:
        yield url


@pytest.fixture(scope="module")
def served(catalog_of_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    parent, branch = make_runs(catalog_of_module, root)
    with client_for(catalog_of_module) as client:
        yield Served(client, catalog_of_module, parent, branch, root / "lens", root / "ck")
