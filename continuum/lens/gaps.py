"""Lens gaps: ticks the lens was meant to capture that no chunk file holds.

A gap ``[start, end, cause]`` is a half-open tick range; the ticks it means are the
*capture ticks* in it, ``t % stride == 0`` (a lens only ever meant to capture those).
Causes: ``dropped`` (the writer dropped frames on a full queue), ``failed`` (a chunk
write failed), ``lost`` (frames buffered when the process stopped), which the writer
records in the manifest, and ``missing``: a hole only the files show (no file holds the
ticks and the manifest says nothing about them, e.g. the manifest lagged a SIGKILL).
Manifests before causes were recorded hold ``[start, end]`` pairs: read as ``lost``
(the only gaps the old writer recorded were frames lost between segments).

Every gap is given in one canonical form so that gaps from different sources compare
and merge: its range is tight, ``[first missing capture tick, last missing + 1)``.
Two gaps of one cause with no capture tick between them are one gap. Where sources
disagree about a tick, a recorded cause beats ``missing`` (the writer knew why), and
files beat everything: a tick some file holds is never in a gap.

The arithmetic works on *capture indices* ``t // stride`` (consecutive integers), so a
million-tick gap is one interval, never a million ticks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DROPPED, FAILED, LOST, MISSING = "dropped", "failed", "lost", "missing"
#: Causes a writer records (the manifest, the catalog); ``missing`` is derived from files.
RECORDED_CAUSES = (DROPPED, FAILED, LOST)
CAUSES = (*RECORDED_CAUSES, MISSING)
#: How messages name a cause.
CAUSE_TEXT = {
    DROPPED: "frames dropped",
    FAILED: "a chunk write failed",
    LOST: "frames lost when the run stopped",
    MISSING: "no chunk file holds them",
}


@dataclass(frozen=True, order=True)
class LensGap:
    """Ticks ``[start, end)`` (capture ticks only) that no file holds, and why."""

    start: int
    end: int
    cause: str
    ticks: int  # capture ticks in [start, end): what is missing

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "cause": self.cause, "ticks": self.ticks}

    @property
    def text(self) -> str:
        """``[476, 480) (frames dropped)``: how messages name it."""
        return f"[{self.start}, {self.end}) ({CAUSE_TEXT.get(self.cause, self.cause)})"


def manifest_gaps(entries: object) -> list[tuple[int, int, str]]:
    """The manifest's ``gaps``: ``[start, end, cause]`` entries (older ``[start, end]``
    pairs read as ``lost``); an entry that is not one is skipped (files are the truth)."""
    out: list[tuple[int, int, str]] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, list | tuple) or len(entry) not in (2, 3):
            continue
        start, end = entry[0], entry[1]
        cause = entry[2] if len(entry) == 3 else LOST
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            continue
        if 0 <= start < end and cause in CAUSES:
            out.append((start, end, cause))
    return out


def _first_index(tick: int, stride: int) -> int:
    """Index of the first capture tick >= ``tick``."""
    return -(-tick // stride)


Span = tuple[int, int]  # capture indices [i0, i1)


def _subtract(spans: list[Span], cut: list[Span]) -> list[Span]:
    """``spans`` minus ``cut`` (both lists of [i0, i1) intervals)."""
    out = spans
    for c0, c1 in cut:
        nxt: list[Span] = []
        for s0, s1 in out:
            if c1 <= s0 or s1 <= c0:
                nxt.append((s0, s1))
                continue
            if s0 < c0:
                nxt.append((s0, c0))
            if c1 < s1:
                nxt.append((c1, s1))
        out = nxt
    return out


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s0, s1 in sorted(spans):
        if out and s0 <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], s1))
        else:
            out.append((s0, s1))
    return out


def _runs(indices: np.ndarray) -> list[Span]:
    """Sorted unique integers -> maximal [i0, i1) runs of consecutive ones."""
    if not len(indices):
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1)
    starts = np.r_[indices[0], indices[breaks + 1]]
    ends = np.r_[indices[breaks], indices[-1]] + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def derive_gaps(
    stride: int,
    ranges: Sequence[Span],
    frames: Sequence[int],
    ticks_of: Callable[[int], np.ndarray],
    recorded: Sequence[tuple[int, int, str]] = (),
) -> list[LensGap]:
    """The gaps of a lens run from its files and what its manifest recorded.

    ``ranges``: the tick ranges ``[a, b)`` the run's chunk files are authoritative for,
    sorted by start (superseded files already left out); ``frames[k]``: how many frames
    file ``k`` holds; ``ticks_of(k)``: its ticks, read only when needed (a file holding
    fewer frames than its range's capture ticks, or one a recorded gap overlaps).
    ``recorded``: the manifest's ``(start, end, cause)`` gaps, which may lie beyond the
    files (frames dropped after the last chunk) and may lag behind them.
    """
    stride = max(int(stride), 1)
    cache: dict[int, list[Span]] = {}

    def held(k: int) -> list[Span]:
        """Capture indices file ``k`` holds, as runs."""
        if k not in cache:
            t = np.asarray(ticks_of(k), dtype=np.int64)
            cache[k] = _runs(np.unique(t[t % stride == 0] // stride))
        return cache[k]

    def expected(k: int) -> Span:
        a, b = ranges[k]
        return _first_index(a, stride), _first_index(b, stride)

    missing: list[Span] = []
    end = None
    for k, (a, b) in enumerate(ranges):
        if end is not None and end < a:  # a hole between files
            missing.append((_first_index(end, stride), _first_index(a, stride)))
        end = b if end is None else max(end, b)
        i0, i1 = expected(k)
        if frames[k] < i1 - i0:  # fewer frames than capture ticks: look at which
            missing += _subtract([(i0, i1)], held(k))
    missing = _holes_minus_files(missing, ranges, held, expected)

    # recorded causes first (in manifest order), then "missing" where nothing is recorded
    painted: list[tuple[Span, str]] = []
    covered: list[Span] = []
    for start, stop, cause in recorded:
        span = [(_first_index(start, stride), _first_index(stop, stride))]
        parts = _holes_minus_files(_subtract(span, covered), ranges, held, expected)
        painted += [(p, cause) for p in parts if p[0] < p[1]]
        covered = _merge([*covered, *parts])
    painted += [(p, MISSING) for p in _subtract(_merge(missing), covered) if p[0] < p[1]]
    return _gaps(painted, stride)


def _holes_minus_files(
    spans: list[Span],
    ranges: Sequence[Span],
    held: Callable[[int], list[Span]],
    expected: Callable[[int], Span],
) -> list[Span]:
    """``spans`` without the capture ticks some file holds (files beat every record)."""
    out = [s for s in spans if s[0] < s[1]]
    for k in range(len(ranges)):
        e0, e1 = expected(k)
        if any(s0 < e1 and e0 < s1 for s0, s1 in out):
            out = _subtract(out, held(k))
    return out


def _gaps(painted: list[tuple[Span, str]], stride: int) -> list[LensGap]:
    """Merge touching spans of one cause and turn capture indices back into ticks."""
    merged: list[tuple[Span, str]] = []
    for span, cause in sorted(painted):
        if merged and merged[-1][1] == cause and span[0] <= merged[-1][0][1]:
            last = merged[-1][0]
            merged[-1] = ((last[0], max(last[1], span[1])), cause)
        else:
            merged.append((span, cause))
    return [
        LensGap(i0 * stride, (i1 - 1) * stride + 1, cause, i1 - i0) for (i0, i1), cause in merged
    ]


def in_window(gaps: Iterable[LensGap], start: float | None, stop: float | None) -> list[LensGap]:
    """The gaps with a tick in ``[start, stop]`` (inclusive, None: open), as ``--from/--to``."""
    return [
        g for g in gaps if (start is None or g.end > start) and (stop is None or g.start <= stop)
    ]


def without(gaps: list[LensGap], spans: Sequence[Span], stride: int) -> list[LensGap]:
    """``gaps`` minus the tick ranges ``spans`` (chunks retention pruned: their ticks are
    pruned, not missing), each part's capture ticks counted again."""
    stride = max(int(stride), 1)
    cut = _merge([(_first_index(a, stride), _first_index(b, stride)) for a, b in spans])
    out = []
    for g in gaps:
        parts = _subtract([(_first_index(g.start, stride), _first_index(g.end, stride))], cut)
        out += [
            LensGap(i0 * stride, (i1 - 1) * stride + 1, g.cause, i1 - i0)
            for i0, i1 in parts
            if i0 < i1
        ]
    return out


def capture_ticks(start: int, end: int, stride: int) -> int:
    """How many capture ticks (multiples of ``stride``) lie in ``[start, end)``."""
    return max(0, _first_index(end, stride) - _first_index(start, stride))


def missing_in(tick_range: Span, ticks: np.ndarray, stride: int) -> list[Span]:
    """The ``[start, end)`` tick runs of ``tick_range``'s capture ticks not in ``ticks``."""
    lo, hi = tick_range
    t = np.asarray(ticks, dtype=np.int64)
    held = _runs(np.unique(t[t % stride == 0] // stride))
    expected = [(_first_index(lo, stride), _first_index(hi, stride))]
    return [(i0 * stride, (i1 - 1) * stride + 1) for i0, i1 in _subtract(expected, held) if i0 < i1]
