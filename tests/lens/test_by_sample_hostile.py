"""Hostile by-sample copies: any header field rewritten with a valid checksum is refused
with one line naming the file, or reads exactly what was written — within a memory
bound, whatever sizes the header claims."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuum import layout
from continuum.errors import LensError
from continuum.lens.by_sample import BySampleFile
from tests.blobs.craft import rewrite, split
from tests.blobs.manifest_props import outcome
from tests.blobs.test_hostile import JSON_VALUES, _leaves, _set

from .helpers import run, run_dir

MEMORY_BOUND = 32 << 20


def answers(path: Path) -> dict[str, bytes]:
    with BySampleFile(path, threads=0) as copy:
        out = {"ticks": copy.ticks().tobytes(), "times": copy.sim_times().tobytes()}
        for name in copy.fields:
            samples = copy.config(name).samples
            out[f"{name}/rows"] = copy.rows(name).tobytes()
            out[f"{name}/first"] = copy.history(name, 0).tobytes()
            out[f"{name}/last"] = copy.history(name, samples - 1).tobytes()
            out[f"{name}/sum"] = copy.sums(name, [(0, samples)]).tobytes()
        return out


def read(path: Path, data: bytes) -> dict[str, bytes] | None:
    return outcome(answers, LensError, path, data, MEMORY_BOUND)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[bytes, dict[str, bytes], list[tuple]]:
    summary = run(steps=12, lens_dir=tmp_path_factory.mktemp("copy"), lens_chunk_size=5)
    lens = run_dir(summary)
    path = next(p for p in lens.iterdir() if layout.parse_lens_by_sample_name(p.name))
    data = path.read_bytes()
    return data, answers(path), [p for p in _leaves(split(data)[1]) if p]


def _same_shapes(result: dict[str, bytes], expected: dict[str, bytes]) -> bool:
    return set(result) == set(expected) and all(
        len(result[k]) == len(expected[k]) for k in expected
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_any_header_field_rewritten_with_a_valid_checksum(reference, tmp_path_factory, data):
    blob, expected, paths = reference
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    crafted = rewrite(blob, lambda header: _set(header, path, value))
    result = read(
        tmp_path_factory.mktemp("h") / "lens_by_sample_0000000000-0000000013.lens", crafted
    )
    if path[-1] == "shuffle":  # a forgery of values no schema can check: sizes hold
        assert result is None or _same_shapes(result, expected)
    else:
        assert result is None or result == expected


@pytest.mark.parametrize("cut", [1, 100, 5000])
def test_a_cut_copy_is_refused(reference, tmp_path, cut):
    blob = reference[0]
    assert read(tmp_path / "c.lens", blob[:-cut]) is None


def test_a_flipped_payload_bit_is_caught(reference, tmp_path):
    blob = bytearray(reference[0])
    rng = np.random.default_rng(5)
    for at in rng.integers(len(blob) // 2, len(blob) - 40, size=8):
        damaged = bytearray(blob)
        damaged[int(at)] ^= 0x10
        result = read(tmp_path / f"d{at}.lens", bytes(damaged))
        assert result is None or result == reference[1]  # a bit no read touched
