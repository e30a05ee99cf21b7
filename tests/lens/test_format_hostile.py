"""Hostile ``.lens`` chunks: headers rewritten with valid checksums (issue 12, classes 3,
5 and 7). Whatever a header says: a LensError in one line naming the file, or exactly the
frames that were written; identifiers that may become paths (run id, field names) are in
:mod:`continuum.layout`'s grammar; a forged topology resolution or frame count is refused
before any table or index is built.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from continuum import layout
from continuum.errors import LensError
from continuum.lens.format import ChunkFile
from tests.blobs.craft import rewrite, split
from tests.blobs.manifest_props import outcome
from tests.blobs.test_hostile import JSON_VALUES, _leaves, _set
from tests.cli.conftest import assert_one_line_error, invoke

NAME = layout.lens_chunk_name(10, 20)
MEMORY_BOUND = 16 << 20  # a chunk of ~15 KB decodes to ~20 KB; forged sizes are refused


def frames(chunk: ChunkFile) -> dict[str, bytes]:
    data = chunk.read_all()
    out = {"ticks": data.ticks.tobytes(), "sim_times": data.sim_times.tobytes()}
    for name, series in data.fields.items():
        out[f"{name}/rows"] = np.asarray(series.rows).tobytes()
        out[f"{name}/values"] = np.asarray(series.values).tobytes()
        out[f"{name}/shape"] = repr(np.asarray(series.values).shape).encode()
    for name, values in data.signals.items():
        out[f"signal/{name}"] = values.tobytes()
    return out


@pytest.fixture(scope="module")
def reference(lens_run) -> tuple[bytes, dict[str, bytes], list[tuple]]:
    data = (lens_run / NAME).read_bytes()
    with ChunkFile(lens_run / NAME) as chunk:
        expected = frames(chunk)
    return data, expected, [p for p in _leaves(split(data)[1]) if p]


def _verified(path: Path) -> dict[str, bytes]:
    with ChunkFile(path, threads=0) as chunk:
        chunk.verify()
        return frames(chunk)


def read(path: Path, data: bytes) -> dict[str, bytes] | None:
    return outcome(_verified, LensError, path, data, MEMORY_BOUND)


def _reinterprets(path: tuple) -> bool:
    """A layout entry's ``shuffle`` flag: the one claim no schema can check (a float array
    is stored shuffled or not, both valid). A forger who recomputes the header checksum
    can write any valid file, so a flipped flag is a forgery of values, not damage: the
    reader must only stay within the declared sizes (it does, below), and random damage to
    the flag is caught by the header checksum (``test_a_damaged_shuffle_flag_is_caught``)."""
    return path[-1] == "shuffle"


def _same_shapes(result: dict[str, bytes], expected: dict[str, bytes]) -> bool:
    return set(result) == set(expected) and all(
        len(result[k]) == len(expected[k]) for k in expected
    )


@given(data=st.data())
def test_any_header_field_rewritten_with_a_valid_checksum(reference, tmp_path_factory, data):
    blob, expected, paths = reference
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    crafted = rewrite(blob, lambda header: _set(header, path, value))
    result = read(tmp_path_factory.mktemp("lens") / NAME, crafted)
    if _reinterprets(path):
        assert result is None or _same_shapes(result, expected)
    else:
        assert result is None or result == expected


def test_a_damaged_shuffle_flag_is_caught(reference, tmp_path):
    """The flag flipped in place, checksum not recomputed (what a disk does): refused."""
    blob = reference[0]
    at = blob.index(b'"shuffle":') + len(b'"shuffle":')
    damaged = blob[:at] + bytes([blob[at] ^ 0x20]) + blob[at + 1 :]  # true -> True
    assert read(tmp_path / NAME, damaged) is None
    entries = split(blob)[1]["layout"]
    k = next(i for i, e in enumerate(entries) if "/values/" in e["name"])  # a float tile
    was = entries[k]["shuffle"]
    forged = rewrite(blob, lambda header: _set(header, ("layout", k, "shuffle"), not was))
    (tmp_path / "forged").mkdir()
    result = read(tmp_path / "forged" / NAME, forged)  # a forgery reads other valid bytes
    assert result is not None and _same_shapes(result, reference[1])


@given(cut=st.integers(0, 1 << 16))
def test_truncations(reference, tmp_path_factory, cut):
    blob = reference[0]
    assert read(tmp_path_factory.mktemp("lens") / NAME, blob[: cut % len(blob)]) is None


def meta(h: dict[str, Any]) -> dict[str, Any]:
    return h["meta"]


def rename_field(h: dict[str, Any]) -> None:
    configs = meta(h)["field_configs"]
    configs["../../escape"] = configs.pop("surface.elevation")


CRAFTED = {
    "run id that is a path": (lambda h: meta(h).update(run_id="../../victim"), "$.run_id"),
    "field name that is a path": (rename_field, "$.field_configs"),
    "topology of a billion cells": (
        lambda h: meta(h)["topology"].update(resolution=1 << 19),
        "over the size ceiling",
    ),
    "frames beyond any chunk": (lambda h: meta(h).update(frames=1 << 40), "$.frames"),
    "negative tick range": (lambda h: meta(h).update(tick_range=[-5, 20]), "$.tick_range"),
    "a count of the wrong type": (lambda h: meta(h).update(frames="3"), "$.frames"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_lens_header_is_one_line_through_the_cli(case, lens_run, tmp_path):
    mutate, fragment = CRAFTED[case]
    run_dir = Path(shutil.copytree(lens_run, tmp_path / lens_run.name))
    path = run_dir / NAME
    path.write_bytes(rewrite(path.read_bytes(), mutate))
    with pytest.raises(LensError) as info:
        ChunkFile(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert_one_line_error(invoke("lens", "load", path), str(path), fragment)
