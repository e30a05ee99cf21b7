"""Fields: the list, frames (binary and JSON), hover values, point histories, signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from continuum.lens import LensStore
from continuum.lens.plot import lat_lon_grid
from tests.serve.conftest import FIELD, Served
from tests.serve.test_runs import one_line_error


def store(served: Served, run_id: str) -> LensStore:
    return LensStore(served.lens / run_id)


def test_fields_list_kinds_units_resolution_and_ticks(served: Served):
    body = served.client.get(f"/api/runs/{served.parent}/fields").json()
    by_name = {f["name"]: f for f in body["fields"]}
    temp = by_name[FIELD]
    assert (temp["kind"], temp["units"], temp["resolution"], temp["positions"]) == (
        "scalar", "K", 8, "cells"
    )  # fmt: skip
    assert temp["ticks"] == {"first": 0, "last": 200, "stride": 1, "count": 201}
    assert by_name["plates.velocity"]["kind"] == "vector"


def test_binary_frame_is_the_field_on_the_lat_lon_grid(served: Served):
    response = served.client.get(f"/api/runs/{served.parent}/fields/{FIELD}/frame?tick=60&width=64")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert (response.headers["x-width"], response.headers["x-height"]) == ("64", "32")
    assert response.headers["x-field-tick"] == "60" and response.headers["x-field-units"] == "K"
    pixels = np.frombuffer(response.content, dtype="<f4").reshape(32, 64)
    with store(served, served.parent) as s:
        recon = s.at(FIELD, 60)
        _, _, xyz = lat_lon_grid(64)
        expected = recon.sample_batch(xyz.reshape(-1, 3)).reshape(32, 64)
        low, high = float(recon.values.min()), float(recon.values.max())
    np.testing.assert_array_equal(pixels, expected.astype("<f4"))
    assert float(response.headers["x-field-min"]) == low
    assert float(response.headers["x-field-max"]) == high


def test_frames_differ_between_ticks_and_json_matches_binary(served: Served):
    base = f"/api/runs/{served.parent}/fields/{FIELD}/frame"
    a = served.client.get(f"{base}?tick=0&width=32").content
    b = served.client.get(f"{base}?tick=200&width=32").content
    assert a != b
    body = served.client.get(f"{base}?tick=200&width=32&format=json").json()
    assert (body["width"], body["height"], body["tick"], body["units"]) == (32, 16, 200, "K")
    assert np.array_equal(np.array(body["values"], dtype="<f4"), np.frombuffer(b, dtype="<f4"))


def test_vector_and_point_fields_draw_their_magnitude(served: Served):
    url = f"/api/runs/{served.parent}/fields/plates.velocity/frame?tick=10&width=16"
    pixels = np.frombuffer(served.client.get(url).content, dtype="<f4")
    assert pixels.shape == (128,) and (pixels >= 0).all() and np.isfinite(pixels).all()


@pytest.mark.parametrize(
    "query, status, fragment",
    [
        ("tick=1000", 404, "nearest captured: 200"),
        ("", 400, "missing parameter tick"),
        ("tick=-1", 400, "tick"),
        ("tick=10&width=3", 400, "even"),
        ("tick=10&width=4096", 400, "width"),
        ("tick=10&width=0", 400, "width"),
        ("tick=10&width=512&format=json", 400, "format=json"),
        ("tick=10&format=png", 400, "format"),
    ],
)
def test_bad_frame_requests(served: Served, query, status, fragment):
    url = f"/api/runs/{served.parent}/fields/{FIELD}/frame?{query}"
    one_line_error(served.client.get(url), status, fragment)


def test_uncaptured_tick_between_frames_names_both_neighbours(served: Served):
    url = f"/api/runs/{served.branch}/fields/{FIELD}/frame?tick=50"
    one_line_error(served.client.get(url), 404, "nearest captured: 100")


def test_unknown_field_and_run_without_lens(served: Served):
    one_line_error(
        served.client.get(f"/api/runs/{served.parent}/fields/nope/frame?tick=1"),
        404,
        "captured fields",
    )
    one_line_error(served.client.get("/api/runs/20990101_000000_deadbeef/fields"), 404, "20990101")


def test_value_names_the_cell_and_its_value(served: Served):
    url = f"/api/runs/{served.parent}/fields/{FIELD}/value?tick=60&lat=30&lon=-45"
    body = served.client.get(url).json()
    with store(served, served.parent) as s:
        la, lo = math.radians(30), math.radians(-45)
        pos = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
        expected = s.at(FIELD, 60).sample(pos)
        cell = int(s.topology.cell_of(pos))
    assert body["value"] == pytest.approx(expected) and body["sample"] == cell
    assert body["face"] * 64 + body["i"] * 8 + body["j"] == cell
    assert (body["units"], body["tick"], body["lat"], body["lon"]) == ("K", 60, 30.0, -45.0)


@pytest.mark.parametrize(
    "query, fragment",
    [("tick=60&lat=91&lon=0", "lat"), ("tick=60&lat=0", "lon"), ("tick=60&lat=nan&lon=0", "lat")],
)
def test_bad_positions(served: Served, query, fragment):
    url = f"/api/runs/{served.parent}/fields/{FIELD}/value?{query}"
    one_line_error(served.client.get(url), 400, fragment)


def test_history_of_a_point_in_this_run_and_its_branch(served: Served):
    url = f"/api/runs/{served.parent}/fields/{FIELD}/history?lat=10&lon=20&runs={served.branch}"
    body = served.client.get(url).json()
    mine, theirs = body["series"]
    assert (mine["run_id"], theirs["run_id"]) == (served.parent, served.branch)
    with store(served, served.parent) as s:
        la, lo = math.radians(10), math.radians(20)
        pos = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
        h = s.history(FIELD, pos)
    assert mine["ticks"] == h.ticks.tolist() and mine["values"] == pytest.approx(h.values.tolist())
    assert theirs["ticks"][0] == 100 and theirs["ticks"][-1] == 130
    # the branch starts from the parent's state at tick 100: the same value there
    assert theirs["values"][0] == pytest.approx(mine["values"][100])
    by_sample = served.client.get(
        f"/api/runs/{served.parent}/fields/{FIELD}/history?sample={body['sample']}"
    ).json()
    assert by_sample["series"][0]["values"] == mine["values"]


def test_history_refuses_a_sample_out_of_range(served: Served):
    url = f"/api/runs/{served.parent}/fields/{FIELD}/history?sample=384"
    one_line_error(served.client.get(url), 400, "below 384")


def test_signals_list_and_overlay(served: Served):
    listed = served.client.get(f"/api/runs/{served.parent}/signals").json()["signals"]
    assert {"name": "core.temp", "kind": "scalar", "units": "K"} in listed
    url = f"/api/signals?runs={served.parent},{served.branch}&name=core.temp"
    series = served.client.get(url).json()["series"]
    assert [s["run_id"] for s in series] == [served.parent, served.branch]
    assert series[0]["ticks"] == list(range(201)) and len(series[0]["values"]) == 201
    assert series[1]["ticks"][0] == 100
    with store(served, served.parent) as s:
        ticks, values = s.signal_history("core.temp")
    assert series[0]["values"] == pytest.approx(values.tolist())


def test_signals_are_thinned_keeping_first_last_and_extremes(served: Served):
    url = f"/api/signals?runs={served.parent}&name=core.temp&max_points=20"
    s = served.client.get(url).json()["series"][0]
    assert len(s["ticks"]) <= 20 and s["ticks"][0] == 0 and s["ticks"][-1] == 200
    assert s["points"] == 201 and s["ticks"] == sorted(s["ticks"])


@pytest.mark.parametrize(
    "query, status, fragment",
    [
        ("name=core.temp", 400, "runs"),
        ("runs={run}", 400, "name"),
        ("runs=20990101_000000_deadbeef&name=core.temp", 404, "20990101"),
        ("runs={run}&name=core.temp&max_points=1", 400, "max_points"),
        ("runs=" + ",".join(f"r{i}" for i in range(101)) + "&name=x", 400, "at most 100"),
    ],
)
def test_bad_signal_requests(served: Served, query, status, fragment):
    url = "/api/signals?" + query.replace("{run}", served.parent)
    one_line_error(served.client.get(url), status, fragment)


def test_an_unknown_signal_is_an_error_in_its_series(served: Served):
    url = f"/api/signals?runs={served.parent}&name=nope"
    (only,) = served.client.get(url).json()["series"]
    assert only["values"] == [] and "no signal 'nope'" in only["error"]
