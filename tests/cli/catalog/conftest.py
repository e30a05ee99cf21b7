"""A private catalog for each ``continuum catalog`` test, empty (``url``) or with three runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from continuum.catalog import Catalog
from tests.cli.conftest import catalog_url

T0 = datetime(2026, 1, 16, 9, 54, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_user_catalog(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTINUUM_CATALOG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def url(tmp_path):
    return catalog_url(tmp_path, "catalog.db")


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
