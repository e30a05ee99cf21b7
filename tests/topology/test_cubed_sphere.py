"""Cubed-sphere geometry: locating, neighbours, nearest centres, tiles, areas, spec."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

import continuum.topology as topology
from continuum.errors import WorldError
from continuum.topology import (
    FACE_NAMES,
    MAX_LOD,
    CubedSphere,
    decode_tile,
    parent_tile,
    tile_id,
    tile_of,
)
from continuum.topology._faces import E1, E2, NORMAL

RESOLUTIONS = [1, 2, 3, 5, 8, 17]


def random_units(m: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).standard_normal((m, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def near_edges_and_corners(m: int, seed: int = 1) -> np.ndarray:
    """Positions close to cube edges and corners, where cells are most distorted."""
    rng = np.random.default_rng(seed)
    base = rng.choice([-1.0, 1.0], size=(m, 3))
    base[: m // 2, 2] = rng.uniform(-1, 1, m // 2)  # half near edges, half near corners
    p = base + rng.normal(scale=0.05, size=(m, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True)


# -- package surface ----------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(topology).items()
        if not name.startswith("_") and not isinstance(value, type(topology))
    }
    assert len(topology.__all__) == len(set(topology.__all__))  # order: ruff RUF022
    assert set(topology.__all__) == public


def test_import_loads_no_other_continuum_package() -> None:
    code = (
        "import json, sys, continuum.topology; "
        "print(json.dumps([m for m in sys.modules if m.startswith('continuum')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed = {"continuum", "continuum.errors"}
    loaded = json.loads(out.stdout)
    assert all(m in allowed or m.startswith("continuum.topology") for m in loaded), loaded


def test_face_frames_are_right_handed_orthonormal_in_fixed_order() -> None:
    assert FACE_NAMES == ("+X", "-X", "+Y", "-Y", "+Z", "-Z")
    for f, name in enumerate(FACE_NAMES):
        axis = "XYZ".index(name[1])
        assert NORMAL[f, axis] == (1.0 if name[0] == "+" else -1.0)
        frame = np.stack([E1[f], E2[f], NORMAL[f]])
        np.testing.assert_array_equal(frame @ frame.T, np.eye(3))
        np.testing.assert_array_equal(np.cross(E1[f], E2[f]), NORMAL[f])


# -- construction and per-cell tables -----------------------------------------------------


@pytest.mark.parametrize("bad", [0, -3, 1.5, 8.0, True, "8", None, (1 << MAX_LOD) + 1])
def test_bad_resolution_raises_world_error(bad: object) -> None:
    with pytest.raises(WorldError, match="resolution"):
        CubedSphere(bad)  # type: ignore[arg-type]


def test_numpy_integer_resolution_is_accepted_and_equal() -> None:
    grid = CubedSphere(np.int64(4))  # type: ignore[arg-type]
    assert grid == CubedSphere(4) and hash(grid) == hash(CubedSphere(4))
    assert type(grid.resolution) is int
    assert grid.n_cells == 96


def test_cached_tables_are_read_only() -> None:
    grid = CubedSphere(3)
    assert grid.centres is grid.centres
    for table in (grid.centres, grid.lat, grid.lon, grid.neighbours, grid.cell_area):
        with pytest.raises(ValueError):
            table[0] = 0


@pytest.mark.parametrize("n", RESOLUTIONS)
def test_every_centre_locates_to_its_own_cell(n: int) -> None:
    grid = CubedSphere(n)
    assert grid.centres.shape == (6 * n * n, 3)
    np.testing.assert_allclose(np.linalg.norm(grid.centres, axis=1), 1.0, rtol=1e-15)
    face, i, j = grid.locate(grid.centres)
    expected = np.unravel_index(np.arange(grid.n_cells), (6, n, n))
    for got, want in zip((face, i, j), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(grid.cell_of(grid.centres), np.arange(grid.n_cells))


def test_centres_follow_the_face_frames() -> None:
    grid = CubedSphere(4)
    c = grid.centres.reshape(6, 4, 4, 3)
    for f in range(6):
        assert np.all(c[f] @ NORMAL[f] > 0.5)  # on its own face
        assert np.all(np.diff(c[f] @ E1[f], axis=0) > 0)  # i runs along e1
        assert np.all(np.diff(c[f] @ E2[f], axis=1) > 0)  # j runs along e2


def test_lat_lon_ranges_and_face_centres() -> None:
    grid = CubedSphere(1)
    np.testing.assert_allclose(grid.lat, [0, 0, 0, 0, np.pi / 2, -np.pi / 2], atol=1e-15)
    np.testing.assert_allclose(grid.lon[:4], [0, np.pi, np.pi / 2, -np.pi / 2], atol=1e-15)
    grid = CubedSphere(17)
    assert grid.lat.min() >= -np.pi / 2 and grid.lat.max() <= np.pi / 2
    assert grid.lon.min() >= -np.pi and grid.lon.max() <= np.pi
    assert grid.lat.max() > 1.5 and grid.lon.max() > 3.0 and grid.lon.min() < -3.0
    back = np.stack(
        [np.cos(grid.lat) * np.cos(grid.lon), np.cos(grid.lat) * np.sin(grid.lon), np.sin(grid.lat)]
    )
    np.testing.assert_allclose(back.T, grid.centres, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 17, 64])
def test_cell_areas_sum_to_four_pi(n: int) -> None:
    area = CubedSphere(n).cell_area
    assert area.min() > 0
    assert area.sum() == pytest.approx(4 * np.pi, rel=1e-9)
    assert area.max() / area.min() <= np.sqrt(2) + 1e-12


def test_cell_areas_match_where_random_points_land() -> None:
    grid = CubedSphere(3)
    m = 400_000
    counts = np.bincount(grid.cell_of(random_units(m, seed=7)), minlength=grid.n_cells)
    np.testing.assert_allclose(counts / m, grid.cell_area / (4 * np.pi), rtol=0.06)


# -- locate: shapes, edges and corners ----------------------------------------------------


def test_locate_accepts_one_point_and_batches_of_any_length() -> None:
    grid = CubedSphere(8)
    face, i, j = grid.locate([0.0, 0.0, -2.0])
    assert face.shape == () and int(face) == 5 and 0 <= i < 8 and 0 <= j < 8
    assert grid.cell_of(np.array([3.0, 0.1, 0.2])).shape == ()
    pts = random_units(10)
    assert grid.cell_of(pts.reshape(2, 5, 3)).shape == (2, 5)
    assert grid.cell_of(np.empty((0, 3))).shape == (0,)
    np.testing.assert_array_equal(grid.cell_of(pts * 7.25), grid.cell_of(pts))
    np.testing.assert_array_equal(grid.cell_of(pts.astype(np.float32)), grid.cell_of(pts))


@pytest.mark.parametrize("n", [1, 7, 256, 1000])
def test_one_point_locates_exactly_as_in_a_batch(n: int) -> None:
    """A single position takes a scalar path (a value at a position); it must land in the
    cell a batch puts it in, edges, corners and ties included."""
    rng = np.random.default_rng(n)
    pts = rng.normal(size=(3000, 3))
    pts[:600] = rng.choice([-1.0, 1.0, 0.5, -0.5, 0.0, 1e-300], size=(600, 3))
    pts[600:900, 1] = pts[600:900, 0]  # |x| = |y| ties off the corners
    pts = pts[np.abs(pts).max(axis=1) > 0]
    grid = CubedSphere(n)
    batch = grid.locate(pts)
    one = np.array([[int(a) for a in grid.locate(p)] for p in pts])
    np.testing.assert_array_equal(one, np.stack(batch, axis=1))


@pytest.mark.parametrize(
    "bad", [np.zeros(3), [[1.0, 0, 0], [0, 0, 0]], [np.nan, 1, 0], [np.inf, 0, 0], np.ones(2)]
)
def test_locate_rejects_zero_non_finite_and_misshapen_points(bad: object) -> None:
    with pytest.raises(WorldError, match="Expected"):
        CubedSphere(4).locate(bad)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_cube_corners_locate_deterministically_by_face_order(n: int) -> None:
    grid = CubedSphere(n)
    corners = np.array(list(itertools.product([1.0, -1.0], repeat=3)))
    face, i, j = grid.locate(corners)
    # |x| = |y| = |z|: the tie goes to the X faces, the first in the fixed order.
    np.testing.assert_array_equal(face, np.where(corners[:, 0] > 0, 0, 1))
    assert np.all((i >= 0) & (i < n) & (j >= 0) & (j < n))
    assert np.all((i % (n - 1 or 1) == 0) & (j % (n - 1 or 1) == 0))  # a corner cell of the face
    for scale in (1.0, 1e-3, 3.0, 1e6):
        np.testing.assert_array_equal(grid.cell_of(corners * scale), grid.cell_of(corners))


@pytest.mark.parametrize("n", [1, 3, 8])
def test_points_on_face_edges_locate_to_a_cell_beside_the_other_face(n: int) -> None:
    grid = CubedSphere(n)
    # Along each edge, avoid t = 0: for even n it is a cell corner shared by two cells on
    # each face, and the nudged point may then land diagonally across it.
    t = np.concatenate([[-1.0, 1.0], np.linspace(-0.99, 0.99, 40)])
    ones = np.ones_like(t)
    edges = []
    for sa, sb in itertools.product([1.0, -1.0], repeat=2):  # the 12 edges, sampled densely
        edges += [
            np.column_stack(c) for c in ((sa * ones, sb * ones, t), (sa * ones, t, sb * ones))
        ]
        edges.append(np.column_stack((t, sa * ones, sb * ones)))
    pts = np.concatenate(edges)
    cells = grid.cell_of(pts)
    np.testing.assert_array_equal(grid.cell_of(pts.copy()), cells)  # same answer every time
    face = cells // (n * n)
    dominant = np.abs(pts).argmax(axis=1)  # first axis among the tied ones
    np.testing.assert_array_equal(face // 2, dominant)
    # Nudged off the edge onto the other face, the point lands in a neighbouring cell.
    other = 2 - (np.abs(pts[:, ::-1]).argmax(axis=1))  # last axis among the tied ones
    nudged = pts.copy()
    nudged[np.arange(len(pts)), other] *= 1 + 1e-9
    across = grid.cell_of(nudged)
    assert np.all(across // (n * n) != face)
    is_neighbour = (grid.neighbours[cells] == across[:, None]).any(axis=1)
    assert is_neighbour.all()


# -- neighbours ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", RESOLUTIONS)
def test_neighbours_are_symmetric_distinct_and_adjacent(n: int) -> None:
    grid = CubedSphere(n)
    nb = grid.neighbours
    cells = np.arange(grid.n_cells)
    assert nb.shape == (grid.n_cells, 4) and nb.dtype == np.int64
    assert np.all(nb != cells[:, None])
    assert all(len(set(row)) == 4 for row in nb.tolist())
    back = (nb[nb] == cells[:, None, None]).any(axis=2)  # a in neighbours(b) for each b
    assert back.all()
    angle = np.arccos(np.clip(np.einsum("cd,ckd->ck", grid.centres, grid.centres[nb]), -1, 1))
    assert np.all(angle < 2 * np.sqrt(grid.cell_area)[:, None])


def test_interior_neighbours_are_plain_index_steps() -> None:
    n = 8
    nb = CubedSphere(n).neighbours.reshape(6, n, n, 4)
    f, i, j = np.indices((6, n, n))
    inner = (i > 0) & (i < n - 1) & (j > 0) & (j < n - 1)
    index = (f * n + i) * n + j
    for col, step in enumerate((-n, n, -1, 1)):
        np.testing.assert_array_equal(nb[..., col][inner], (index + step)[inner])


def test_neighbours_across_face_edges_follow_the_frames() -> None:
    grid = CubedSphere(1)
    # +X: i runs along +y, j along +z; cells are whole faces at N = 1.
    np.testing.assert_array_equal(grid.neighbours[0], [3, 2, 5, 4])


# -- nearest centre ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 8, 17])
def test_nearest_cell_equals_brute_force(n: int) -> None:
    grid = CubedSphere(n)
    pts = np.concatenate([random_units(20_000, seed=n), near_edges_and_corners(5_000, seed=n)])
    brute = (pts @ grid.centres.T).argmax(axis=1)
    np.testing.assert_array_equal(grid.nearest_cell(pts), brute)


def test_containing_and_nearest_cells_disagree_near_corners_on_purpose() -> None:
    grid = CubedSphere(8)
    pts = random_units(50_000, seed=3)
    containing, nearest = grid.cell_of(pts), grid.nearest_cell(pts)
    differ = containing != nearest
    assert 0.01 < differ.mean() < 0.10  # measured: about 5 %
    closer = np.einsum("md,md->m", pts, grid.centres[nearest])
    own = np.einsum("md,md->m", pts, grid.centres[containing])
    assert np.all(closer[differ] > own[differ])
    assert grid.nearest_cell(pts[0]).shape == ()


# -- tiles ---------------------------------------------------------------------------------


def test_tile_id_bit_layout() -> None:
    # ti = 0b101, tj = 0b011 interleave (ti on odd bits) to 0b10_01_11.
    assert int(tile_id(5, 3, 0b101, 0b011)) == (5 << 59) | (3 << 54) | 0b100111
    assert int(tile_id(0, 0, 0, 0)) == 0
    assert int(tile_id(5, MAX_LOD, 2**27 - 1, 2**27 - 1)) < 2**63 - 1


def test_tile_round_trip_and_unique() -> None:
    rng = np.random.default_rng(5)
    lod = rng.integers(0, MAX_LOD + 1, 5000)
    face = rng.integers(0, 6, 5000)
    ti = rng.integers(0, 1 << lod)
    tj = rng.integers(0, 1 << lod)
    ids = tile_id(face, lod, ti, tj)
    assert ids.dtype == np.int64 and np.all(ids >= 0)
    for got, want in zip(decode_tile(ids), (face, lod, ti, tj)):
        np.testing.assert_array_equal(got, want)
    keys = set(zip(face.tolist(), lod.tolist(), ti.tolist(), tj.tolist()))
    assert len(np.unique(ids)) == len(keys)


@pytest.mark.parametrize(
    "args", [(6, 0, 0, 0), (-1, 0, 0, 0), (0, MAX_LOD + 1, 0, 0), (0, 2, 4, 0), (0, 2, 0, -1)]
)
def test_tile_id_rejects_out_of_range(args: tuple[int, ...]) -> None:
    with pytest.raises(WorldError, match="Expected tile"):
        tile_id(*args)


@pytest.mark.parametrize("bad", [-1, 6 << 59, (28 << 54), (1 << 54) | 0b100, 2**62, 1.0])
def test_decode_tile_rejects_foreign_ids(bad: object) -> None:
    with pytest.raises(WorldError):
        decode_tile(bad)


def test_parent_tile_drops_two_morton_bits_and_contains_child() -> None:
    grid = CubedSphere(16)
    child = tile_id(3, 3, 5, 6)
    parent = parent_tile(child)
    assert tuple(int(x) for x in decode_tile(parent)) == (3, 2, 2, 3)
    assert int(parent) & ((1 << 54) - 1) == (int(child) & ((1 << 54) - 1)) >> 2
    children = [tile_id(3, 3, 2 * 2 + a, 2 * 3 + b) for a in (0, 1) for b in (0, 1)]
    parts = np.concatenate([grid.cells_in_tile(c) for c in children])
    assert set(grid.cells_in_tile(child)) <= set(grid.cells_in_tile(parent))
    np.testing.assert_array_equal(np.sort(parts), grid.cells_in_tile(parent))
    with pytest.raises(WorldError, match="lod >= 1"):
        parent_tile(tile_id(0, 0, 0, 0))


def test_tiles_of_power_of_two_grid_are_exact_cell_blocks() -> None:
    n, k = 16, 4
    grid = CubedSphere(n)
    pts = np.concatenate([random_units(20_000, seed=9), near_edges_and_corners(2_000)])
    face, i, j = grid.locate(pts)
    for lod in range(k + 1):
        shift = k - lod
        np.testing.assert_array_equal(tile_of(pts, lod), tile_id(face, lod, i >> shift, j >> shift))
    block = grid.cells_in_tile(tile_id(2, 2, 1, 3))
    f, bi, bj = np.unravel_index(block, (6, n, n))
    assert len(block) == 16 and np.all(f == 2)
    assert set(bi) == {4, 5, 6, 7} and set(bj) == {12, 13, 14, 15}


@pytest.mark.parametrize("n", [3, 17])
def test_cells_in_tile_partition_any_grid(n: int) -> None:
    grid = CubedSphere(n)
    _, i, j = np.unravel_index(np.arange(grid.n_cells), (6, n, n))
    for lod in (0, 1, 2, 5):
        side = 1 << lod
        f, ti, tj = (x.reshape(-1) for x in np.indices((6, side, side)))
        tiles = tile_id(f, lod, ti, tj)
        parts = [grid.cells_in_tile(t) for t in tiles]
        cells = np.concatenate(parts)
        np.testing.assert_array_equal(np.sort(cells), np.arange(grid.n_cells))
        owner = np.empty(grid.n_cells, dtype=np.int64)
        owner[cells] = np.repeat(tiles, [len(p) for p in parts])
        # Centres strictly inside a tile (not on its boundary) are found there by tile_of.
        inside = (((2 * i + 1) << lod) % (2 * n) != 0) & (((2 * j + 1) << lod) % (2 * n) != 0)
        np.testing.assert_array_equal(tile_of(grid.centres, lod)[inside], owner[inside])


def test_tile_of_single_point_and_bad_lod() -> None:
    assert tuple(int(x) for x in decode_tile(tile_of([0, 0, 1], 0))) == (4, 0, 0, 0)
    for bad in (MAX_LOD + 1, -1, 2.0, [1, 2]):
        with pytest.raises(WorldError, match="lod"):
            tile_of([1, 0, 0], bad)  # type: ignore[arg-type]
    with pytest.raises(WorldError, match="integer tile ti"):
        tile_id(0, 2, 1.5, 0)
    with pytest.raises(WorldError, match="one tile id"):
        CubedSphere(4).cells_in_tile(np.array([0, 0]))


# -- spec ----------------------------------------------------------------------------------


def test_spec_round_trips_through_json() -> None:
    grid = CubedSphere(32)
    spec = json.loads(json.dumps(grid.spec()))
    assert spec == {
        "kind": "cubed_sphere",
        "resolution": 32,
        "projection": "equiangular_gnomonic",
        "face_order": ["+X", "-X", "+Y", "-Y", "+Z", "-Z"],
        "cell_order": "face,i,j",
    }
    assert CubedSphere.from_spec(spec) == grid
    assert CubedSphere.from_spec({"kind": "cubed_sphere", "resolution": 5}) == CubedSphere(5)


@pytest.mark.parametrize(
    "patch",
    [
        {"kind": "healpix"},
        {"projection": "equidistant_gnomonic"},
        {"face_order": ["+X", "+Y", "+Z", "-X", "-Y", "-Z"]},
        {"cell_order": "face,j,i"},
        {"resolution": 0},
        {"resolution": "32"},
        {"extra": 1},
    ],
)
def test_from_spec_rejects_other_conventions(patch: dict[str, object]) -> None:
    spec = {**CubedSphere(4).spec(), **patch}
    with pytest.raises(WorldError):
        CubedSphere.from_spec(spec)


def test_from_spec_rejects_missing_resolution_and_non_mappings() -> None:
    with pytest.raises(WorldError, match="resolution"):
        CubedSphere.from_spec({"kind": "cubed_sphere"})
    with pytest.raises(WorldError, match="mapping"):
        CubedSphere.from_spec([("kind", "cubed_sphere")])  # type: ignore[arg-type]
