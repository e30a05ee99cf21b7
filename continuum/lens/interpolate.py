"""Temporal interpolation between the two captured frames that bracket a time.

Written once for both field sources (:mod:`continuum.lens.source`): :func:`moment` reads
what a query asks for, :func:`bracket` finds the frames around it and the weight,
:func:`interpolate` samples one or both frames and :func:`blend` mixes them;
:func:`sample_between` does all of it for many positions given a source's frames.

- At a captured tick or time the frame itself is returned, bit for bit (no blend).
- Scalars: the linear blend ``a + w (b - a)``, ``w = (t - t0) / (t1 - t0)``.
- Vectors: *lerp then normalise* — the direction is the normalised linear blend
  (nlerp), the length the linear blend of the two lengths. For unit/direction fields
  (a dipole axis, a plate's position) the result stays a unit vector, which a plain lerp
  would shrink when the vector turns. For non-unit vectors such as plate velocities it
  means: direction interpolated on the sphere of directions, speed interpolated
  linearly — a turning plate keeps a plausible speed instead of slowing down at
  mid-frame. It is still an estimate between two samples, not the dynamics: the
  runtime's velocity between captures is not stored anywhere. If the blended vector is
  zero (exactly opposite vectors at mid-frame) the zero lerp is returned.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from continuum.errors import LensError
from continuum.lens.reconstruct import POINTS, Reconstruction


def moment(time: float | None, tick: float | None) -> tuple[float, bool]:
    """``(t, by_time)`` of a query at sim ``time`` or at ``tick``: exactly one is given."""
    if time is not None and tick is None:
        return float(time), True
    if tick is not None and time is None:
        return float(tick), False
    raise LensError("Expected exactly one of time= (sim time) or tick=")


def bracket(keys: np.ndarray, t: float, what: str) -> tuple[int, int, float]:
    """(i0, i1, w) with keys[i0] <= t <= keys[i1]; ``i0 == i1, w = 0`` at an exact key.

    ``keys`` is strictly increasing (ticks or sim times). Outside their range raises a
    LensError naming the range, since extrapolating observer data would invent it.
    """
    if not len(keys):
        raise LensError(f"no frames of {what}")
    if not np.isfinite(t) or t < keys[0] or t > keys[-1]:
        raise LensError(f"{t} is outside the captured range [{keys[0]}, {keys[-1]}] of {what}")
    i1 = int(np.searchsorted(keys, t, side="left"))
    if keys[i1] == t:
        return i1, i1, 0.0
    return i1 - 1, i1, float((t - keys[i1 - 1]) / (keys[i1] - keys[i1 - 1]))


def blend(kind: str, a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Blend frame values ``a`` and ``b`` at weight ``w`` in [0, 1] (see module docstring)."""
    if w == 0.0:
        return a
    if kind == "scalar":
        return a + w * (b - a)
    lerp = (1.0 - w) * a + w * b
    norm = np.linalg.norm(lerp, axis=-1, keepdims=True)
    length = (1.0 - w) * np.linalg.norm(a, axis=-1, keepdims=True)
    length += w * np.linalg.norm(b, axis=-1, keepdims=True)
    scale = np.divide(length, norm, out=np.ones_like(norm), where=norm > 0)
    return lerp * scale


def interpolate(
    kind: str, sample: Callable[[int], np.ndarray], i0: int, i1: int, w: float
) -> np.ndarray:
    """Frame ``i0`` sampled, blended with frame ``i1`` at weight ``w`` (only read if w > 0)."""
    first = sample(i0)
    return blend(kind, first, sample(i1), w) if w else first


def sample_between(
    frame: Callable[[int], Reconstruction], i0: int, i1: int, w: float, positions: object
) -> tuple[np.ndarray, str]:
    """(values at ``positions`` blended between frames ``i0`` and ``i1``, the rule used).

    ``frame(i)`` reconstructs frame ``i``. Samples that do not move (cells, global) are
    located once for both frames; point samples are looked up in each frame.
    """
    first = frame(i0)

    def recon(i: int) -> Reconstruction:
        return first if i == i0 else frame(i)

    if first.config.positions == POINTS:

        def sample(i: int) -> np.ndarray:
            return recon(i).sample_batch(positions)

    else:
        idx = first.indices(positions)

        def sample(i: int) -> np.ndarray:
            return recon(i).values.take(idx, axis=0)

    return interpolate(first.config.kind, sample, i0, i1, w), str(first.rule)
