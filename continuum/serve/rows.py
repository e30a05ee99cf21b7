"""Catalog records as the API's JSON: the run row every list shows, times in ISO 8601 UTC.

``tags`` is a list of ``key=value`` texts (the syntax of the ``tag`` filter), sorted;
``live`` is filled for running runs only (:mod:`continuum.serve.live`).
"""

from __future__ import annotations

import math
from typing import Any

from continuum.catalog import CheckpointRecord, RunRecord


def iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def finite(value: float | None) -> float | None:
    """A float JSON can hold (NaN and the infinities: null)."""
    return value if value is None or math.isfinite(value) else None


def tag_texts(tags: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in sorted(tags.items())]


def run_row(r: RunRecord, live: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "world": r.world,
        "scenario": r.scenario,
        "seed": r.seed,
        "status": r.status,
        "start_tick": r.first_tick,
        "last_tick": r.last_tick,
        "started_at": iso(r.started_at),
        "ended_at": iso(r.ended_at),
        "ir_hash": r.ir_hash,
        "tags": tag_texts(r.tags),
        "live": live,
    }


def checkpoint_row(c: CheckpointRecord) -> dict[str, Any]:
    """``state`` is the catalog's, except a committed pinned checkpoint shows ``pinned``
    (the page colours it so); ``pinned`` and ``row_state`` keep both facts."""
    state = "pinned" if c.pinned and c.state == "committed" else c.state
    return {
        "tick": c.tick,
        "state": state,
        "row_state": c.state,
        "pinned": c.pinned,
        "size": c.bytes_on_disk,
        "raw_size": c.raw_bytes,
        "path_name": c.path.replace("\\", "/").rsplit("/", 1)[-1],
        "sim_time": finite(c.sim_time),
        "era": c.era,
        "created_at": iso(c.created_at),
    }
