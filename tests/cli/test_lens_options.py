"""`continuum run --lens-memory / --lens-on-full / --lens-chunk-size` as typed (issue 13)."""

from __future__ import annotations

import pytest

from .conftest import assert_one_line_error, invoke, ok_json

RUN = ("run", "terra", "--scenario", "tiny", "--steps", "12", "--no-catalog", "--json")


@pytest.mark.parametrize(
    ("typed", "budget"),
    [("1M", 1 << 20), ("1.5MiB", 3 << 19), ("2mb", 2 << 20), ("1048576", 1 << 20)],
)
def test_a_lens_memory_budget_in_any_spelling(tmp_path, typed, budget):
    summary = ok_json(*RUN, "--lens-dir", tmp_path, "--lens-memory", typed)
    assert summary["lens_memory"] == budget and summary["lens_missing_ticks"] == 0


@pytest.mark.parametrize("typed", ["12Q", "-1M", "", "1e9", "0", "99999999999T"])
def test_a_lens_memory_that_is_not_a_size_is_a_usage_error(tmp_path, typed):
    result = invoke(*RUN, "--lens-dir", tmp_path, "--lens-memory", typed)
    assert result.exit_code == 2 and "--lens-memory" in result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())


def test_a_budget_below_the_floor_is_refused_in_one_line(tmp_path):
    result = invoke(*RUN, "--lens-dir", tmp_path, "--lens-memory", "64K")
    assert_one_line_error(result, "lens memory budget of at least 1.0 MiB")


def test_lens_on_full_names_its_choices(tmp_path):
    result = invoke(*RUN, "--lens-dir", tmp_path, "--lens-on-full", "maybe")
    assert result.exit_code == 2 and "'wait'" in result.stderr and "'drop'" in result.stderr
    summary = ok_json(*RUN, "--lens-dir", tmp_path, "--lens-on-full", "drop")
    assert summary["lens_frames"] + summary["lens_missing_ticks"] == 13
