"""continuum.layout: the one run-id generator, checkpoint names and path confinement."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from continuum import layout
from continuum.errors import LayoutError
from continuum.layout import new_run_id


def test_run_ids_have_the_timestamp_form_and_never_collide_within_a_second():
    now = datetime(2026, 1, 16, 9, 54, 30, tzinfo=UTC)
    ids = {new_run_id(now) for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"20260116_095430_[0-9a-f]{8}", i) for i in ids)


def test_generated_run_ids_are_valid_run_ids():
    assert all(layout.is_run_id(new_run_id()) for _ in range(50))


@pytest.mark.parametrize("tick", [0, 1, 999, 1000, 123456789, 9_999_999_999, 10**12])
def test_checkpoint_name_and_tick_round_trip(tick):
    name = layout.checkpoint_name(tick)
    assert layout.checkpoint_tick(name) == tick
    assert layout.is_run_file_name(name)


def test_checkpoint_names_sort_chronologically():
    ticks = [0, 5, 40, 1000, 20000, 10**9]
    names = [layout.checkpoint_name(t) for t in ticks]
    assert sorted(names) == names
    assert layout.checkpoint_name(1000) == "checkpoint_0000001000.ckpt"


@pytest.mark.parametrize(
    "name",
    [
        "checkpoint_1000.ckpt",  # fewer than 10 digits
        "checkpoint_00000010x0.ckpt",
        "checkpoint_0000001000.ckpt.tmp",
        ".checkpoint_0000001000.ckpt.tmp-12-0123abcd",
        "latest",
        "manifest.json",
        "",
    ],
)
def test_checkpoint_tick_is_none_for_other_names(name):
    assert layout.checkpoint_tick(name) is None


def test_negative_ticks_have_no_checkpoint_name():
    with pytest.raises(LayoutError):
        layout.checkpoint_name(-1)


def test_checkpoint_path_and_latest_live_in_the_run_dir(tmp_path):
    run_dir = layout.run_dir(tmp_path, "20260116_095430_0123abcd")
    assert run_dir == tmp_path / "20260116_095430_0123abcd"
    assert layout.checkpoint_path(run_dir, 7) == run_dir / "checkpoint_0000000007.ckpt"
    assert layout.latest_path(run_dir) == run_dir / "latest"
    assert layout.manifest_path(run_dir) == run_dir / "manifest.json"


def test_latest_is_read_as_a_file_name(tmp_path):
    assert layout.read_latest(tmp_path) is None
    layout.latest_path(tmp_path).symlink_to(layout.checkpoint_name(30))
    assert layout.read_latest(tmp_path) == "checkpoint_0000000030.ckpt"
    assert layout.latest_tick(tmp_path) == 30


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/etc", "x\0y"])
def test_child_refuses_anything_but_one_plain_component(tmp_path, name):
    with pytest.raises(LayoutError):
        layout.child(tmp_path, name)


def test_child_joins_plain_names(tmp_path):
    assert layout.child(tmp_path, "a", "b.c") == Path(tmp_path) / "a" / "b.c"


@pytest.mark.parametrize("run_id", ["..", "../x", "a/b", "", ".hidden", "x" * 65, "a..b"])
def test_run_dir_refuses_ids_that_are_not_run_ids(tmp_path, run_id):
    with pytest.raises(LayoutError):
        layout.run_dir(tmp_path, run_id)


def test_temp_names_are_hidden_and_name_their_final_file():
    final = layout.checkpoint_name(10)
    temp = layout.temp_name(final)
    assert temp.startswith(".") and layout.is_temp_name(temp)
    assert layout.temp_final_name(temp) == final
    assert layout.checkpoint_tick(temp) is None  # resume can never pick a half-written file


def test_world_files_are_named_here(tmp_path):
    assert layout.world_file(tmp_path) == tmp_path / "world.toml"
    assert layout.scenario_path(tmp_path, "tiny") == tmp_path / "scenarios" / "tiny.toml"


@pytest.mark.parametrize("name", ["../tiny", "a/b", "/etc/passwd"])
def test_scenario_names_stay_under_scenarios(tmp_path, name):
    with pytest.raises(LayoutError):
        layout.scenario_path(tmp_path, name)
