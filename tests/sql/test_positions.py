"""face, i, j, lat, lon filters on the views select exactly CubedSphere's cells."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from continuum.lens import LensStore
from continuum.sql import open_session

from .conftest import Runs

FIELD = "atmosphere.temperature"
Cols = dict[str, np.ndarray]

#: (SQL predicate, the same predicate over numpy columns of every cell)
PREDICATES: list[tuple[str, Callable[[Cols], np.ndarray]]] = [
    ("face = 2", lambda c: c["face"] == 2),
    ("i BETWEEN 3 AND 5", lambda c: (c["i"] >= 3) & (c["i"] <= 5)),
    ("j = 0 AND face IN (1, 5)", lambda c: (c["j"] == 0) & np.isin(c["face"], [1, 5])),
    ("lat BETWEEN 10 AND 20", lambda c: (c["lat"] >= 10) & (c["lat"] <= 20)),
    ("lon BETWEEN -30 AND 45", lambda c: (c["lon"] >= -30) & (c["lon"] <= 45)),
    ("face = 4 AND lat > 60", lambda c: (c["face"] == 4) & (c["lat"] > 60)),
    ("lat < -50 OR lon > 170", lambda c: (c["lat"] < -50) | (c["lon"] > 170)),
]


def cube_cells(runs: Runs) -> Cols:
    """Every cell's position from the run's own CubedSphere (the lens API's topology)."""
    with LensStore(runs.lens(1)) as store:
        topo = store.topology
    n = topo.resolution
    cells = np.arange(topo.n_cells)
    p = topo.centres / np.linalg.norm(topo.centres, axis=1, keepdims=True)
    return {
        "sample": cells,
        "face": cells // (n * n),
        "i": cells // n % n,
        "j": cells % n,
        "lat": np.degrees(np.arcsin(np.clip(p[:, 2], -1, 1))),
        "lon": np.degrees(np.arctan2(p[:, 1], p[:, 0])),
    }


def selected(session, view: str, predicate: str, run_id: str) -> Cols:
    return session.execute(
        f"SELECT sample, any_value(face) AS face, any_value(i) AS i, any_value(j) AS j, "
        f"any_value(lat) AS lat, any_value(lon) AS lon, count(*) AS n FROM {view} "
        f"WHERE run_id = ? AND field = '{FIELD}' AND ({predicate}) GROUP BY sample "
        "ORDER BY sample",
        [run_id],
    ).fetchnumpy()


@pytest.mark.parametrize("view", ["fields", "fields_by_sample"])
@pytest.mark.parametrize(("predicate", "mask"), PREDICATES, ids=[p for p, _ in PREDICATES])
def test_filters_select_the_cubed_sphere_cells(runs: Runs, view: str, predicate: str, mask):
    cube = cube_cells(runs)
    ticks, _, _ = runs.frames(1, FIELD)
    want = mask(cube)
    assert 0 < want.sum() < len(want)  # the filter selects something, not everything
    got = selected(runs.session(), view, predicate, runs.ids[1])
    assert np.array_equal(got["sample"], cube["sample"][want])
    assert np.array_equal(got["n"], np.full(want.sum(), len(ticks)))  # every tick
    for c in ("face", "i", "j", "lat", "lon"):
        assert np.array_equal(got[c], cube[c][want]), c  # the topology's own numbers


@pytest.mark.parametrize(("predicate", "mask"), PREDICATES[:4], ids=[p for p, _ in PREDICATES[:4]])
def test_same_cells_as_positions_computed_per_row(runs: Runs, predicate: str, mask):
    """The unrouted views compute positions per row: the same cells, within an ulp."""
    with open_session([], [runs.exports], routed=False) as plain:
        computed = selected(plain, "fields", predicate, runs.ids[1])
    joined = selected(runs.session(), "fields", predicate, runs.ids[1])
    assert np.array_equal(computed["sample"], joined["sample"])
    np.testing.assert_allclose(computed["lat"], joined["lat"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(computed["lon"], joined["lon"], rtol=0, atol=1e-12)
