"""Lens run dirs with gaps, written chunk by chunk with ``write_chunk`` (no run needed).

Every frame of field ``t.temp`` (cell-centred, 6x1x1 cells) holds the value ``tick`` in
every cell and sim time ``10 * tick``, so an interpolated value names the frames it blended.
"""

from __future__ import annotations

import json
from pathlib import Path

from continuum import layout
from continuum.lens import FieldLens, LensIdentity, write_chunk
from continuum.lens.format import header_of
from continuum.lens.manifest import chunk_entry
from continuum.topology import CubedSphere

RUN_ID = "20260101_120000_ab12cd34"
FIELD = "t.temp"
TOPOLOGY = CubedSphere(1)


def identity(stride: int) -> LensIdentity:
    return LensIdentity(RUN_ID, "terra", 7, "h" * 8, stride, TOPOLOGY.spec())


def chunk(
    run_dir: Path, ticks: list[int], tick_range: tuple[int, int], *, name: tuple[int, int] | None
) -> dict:
    """Write the frames at ``ticks`` as one file authoritative for ``tick_range``, named by
    ``name`` (a window; None: the range itself, as older writers named pieces); returns
    its manifest entry."""
    lens = FieldLens(TOPOLOGY, max_frames=None)
    for t in ticks:
        lens.record_many(t, {FIELD: [float(t)] * TOPOLOGY.n_cells}, sim_time=10.0 * t)
    span = name or tick_range
    path = layout.lens_chunk_path(run_dir, *span)
    stride = 1 if len(ticks) < 2 else min(b - a for a, b in zip(ticks, ticks[1:]))
    info = write_chunk(path, lens.to_chunk(), identity(stride), tick_range=tick_range)
    return chunk_entry(header_of(info))


def manifest(run_dir: Path, entries: list[dict], *, stride: int, gaps: list, **extra) -> None:
    """A manifest listing ``entries`` and recording ``gaps``."""
    doc = {
        "format": "continuum.lens.manifest",
        "manifest_version": 1,
        "run_id": RUN_ID,
        "world": "terra",
        "seed": 7,
        "stride": stride,
        "chunk_size": 10,
        "topology": TOPOLOGY.spec(),
        "chunks": entries,
        "segments": [],
        "gaps": gaps,
        "dropped_frames": 0,
        "failed_chunks": 0,
        "full": None,
        **extra,
    }
    layout.manifest_path(run_dir).write_text(json.dumps(doc))


def gappy_run(root: Path) -> Path:
    """A run of stride 1, chunk size 10, ticks [0, 40), with every kind of gap:

    - window [0, 10): one file named by the window, every tick;
    - window [10, 20): a merged window file [10, 20) missing 14 (the manifest records
      ``[14, 15, "dropped"]``), and the piece [10, 13) it merged still beside it
      (superseded);
    - window [20, 30): one file named by the window whose tick_range is [20, 26) (the
      segment ended at 25); ticks 26..29 are in no file and the manifest does not know
      (a hole: ``missing``);
    - window [30, 40): [30, 40), every tick but 33..34, which the manifest records as
      an old ``[start, end]`` pair (read as ``lost``);
    - the manifest records ``[40, 42, "dropped"]`` after the last file.
    """
    run_dir = root / RUN_ID
    run_dir.mkdir(parents=True)
    entries = [
        chunk(run_dir, list(range(0, 10)), (0, 10), name=(0, 10)),
        chunk(run_dir, [10, 11, 12], (10, 13), name=None),
        chunk(run_dir, [t for t in range(10, 20) if t != 14], (10, 20), name=(10, 20)),
        chunk(run_dir, list(range(20, 26)), (20, 26), name=(20, 30)),
        chunk(run_dir, [t for t in range(30, 40) if t not in (33, 34)], (30, 40), name=(30, 40)),
    ]
    gaps = [[14, 15, "dropped"], [33, 35], [40, 42, "dropped"]]
    manifest(run_dir, entries[:2] + entries[3:], stride=1, gaps=gaps)  # [10, 20) not listed
    return run_dir


#: the gaps of :func:`gappy_run`: (start, end, cause, ticks)
GAPPY = [
    (14, 15, "dropped", 1),
    (26, 30, "missing", 4),
    (33, 35, "lost", 2),
    (40, 42, "dropped", 2),
]
