"""Byte shuffle: the compiled unshuffle and the numpy one give back the same bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from continuum.blobs import _shuffle


@settings(max_examples=200, deadline=None)
@given(itemsize=st.sampled_from([1, 2, 3, 4, 8, 16]), n=st.integers(0, 300), seed=st.integers(0, 9))
def test_unshuffle_inverts_shuffle(itemsize: int, n: int, seed: int) -> None:
    """Every element count around the 16-element SIMD step, and the scalar tail after it."""
    raw = np.random.default_rng(seed).integers(0, 256, n * itemsize, dtype=np.uint8)
    shuffled = _shuffle.shuffle_into(raw, itemsize, np.empty(raw.size, np.uint8)).copy()
    for unshuffle in (_shuffle.unshuffle_into, _shuffle.unshuffle_into_numpy):
        out = np.full_like(raw, 0xAA)
        unshuffle(shuffled, itemsize, out)
        assert np.array_equal(out, raw)


def test_a_float64_block_round_trips_exactly() -> None:
    values = np.random.default_rng(1).standard_normal(1 << 17)
    shuffled = _shuffle.shuffle_into(values.view(np.uint8), 8, np.empty(values.nbytes, np.uint8))
    out = np.empty(values.nbytes, np.uint8)
    _shuffle.unshuffle_into(shuffled, 8, out)
    assert np.array_equal(out.view(np.float64), values)


@pytest.mark.skipif(not _shuffle.COMPILED, reason="built without a C compiler")
def test_the_compiled_kernel_refuses_mismatched_buffers() -> None:
    """A caller's mistake is a ValueError, never a write past the end of ``out``."""
    with pytest.raises(ValueError, match="sizes"):
        _shuffle.unshuffle_into(np.zeros(16, np.uint8), 8, np.zeros(8, np.uint8))
    with pytest.raises(ValueError, match="sizes"):
        _shuffle.unshuffle_into(np.zeros(12, np.uint8), 8, np.zeros(12, np.uint8))
