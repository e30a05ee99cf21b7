"""Every SQL example of README's "Field history in SQL", run on two real runs, checked with numpy.

The queries are parsed out of README.md, so the documentation cannot drift from what runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from continuum.lens import LensStore
from continuum.sql import run_query

from .conftest import Runs

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_queries() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Field history in SQL", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


QUERIES = readme_queries()


def rows(runs: Runs, k: int) -> list[tuple]:
    return run_query(runs.session(), QUERIES[k]).rows


def test_readme_has_six_queries():
    assert len(QUERIES) == 6


def test_mean_per_tick_of_one_run(runs: Runs):
    ticks, values, _ = runs.frames(1, "atmosphere.temperature")
    got = rows(runs, 0)
    assert [r[0] for r in got] == ticks.tolist()
    np.testing.assert_allclose([r[1] for r in got], values.mean(axis=1), rtol=1e-12)


def test_mean_per_seed_matches_numpy(runs: Runs):
    got = rows(runs, 1)
    for seed in (1, 2):
        ticks, values, _ = runs.frames(seed, "atmosphere.temperature")
        mine = [r for r in got if r[0] == seed]
        assert [r[1] for r in mine] == ticks.tolist()
        np.testing.assert_allclose([r[2] for r in mine], values.mean(axis=1), rtol=1e-12)


def test_point_history_of_nearest_sample(runs: Runs):
    lat, lon = np.radians(45.0), np.radians(10.0)
    target = [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
    got = rows(runs, 2)
    for seed, run_id in runs.ids.items():
        with LensStore(runs.lens(seed)) as store:
            cell = int(store.topology.nearest_cell(np.array(target)))
            history = store.history("surface.elevation", target, rule="nearest")
        mine = [r for r in got if r[0] == run_id]
        assert [r[1] for r in mine] == history.ticks.tolist()
        assert [r[2] for r in mine] == history.values.tolist()
        assert cell >= 0


def test_first_crossing_per_run(runs: Runs):
    got = {r[0]: (r[1], r[2]) for r in rows(runs, 3)}
    assert got  # the threshold is crossed in these runs: the check is not vacuous
    for seed, run_id in runs.ids.items():
        ticks, values, _ = runs.frames(seed, "atmosphere.temperature")
        hot = np.flatnonzero((values > 300).any(axis=1))
        if hot.size:
            assert got[run_id] == (seed, int(ticks[hot[0]]))
        else:
            assert run_id not in got


def test_two_runs_cell_by_cell(runs: Runs):
    ticks, a, _ = runs.frames(1, "surface.elevation")
    _, b, _ = runs.frames(2, "surface.elevation")
    k = int(np.flatnonzero(ticks == 10)[0])
    diff = b[k] - a[k]
    order = sorted(range(diff.size), key=lambda s: (-abs(diff[s]), s))[:10]
    got = rows(runs, 4)
    assert [r[0] for r in got] == order
    assert [r[6] for r in got] == pytest.approx(diff[order].tolist(), rel=0, abs=0)
