"""Building retention plans from the catalog: a few queries for any number of runs.

Reads every stored policy, the chosen runs, their ``committed`` rows, and the
lineage (branch points and resume points) once, then plans each run with
:func:`continuum.catalog.retention.plan_items`. Only ``committed`` rows are
candidates: pending, deleting, missing and corrupt rows are never planned for
deletion (``verify`` settles those). Checkpoints always carry the protections
``pinned``, ``lineage``, ``latest`` (where the run's ``latest`` link points,
read from disk) and ``newest``; lens chunks have no pins or lineage, and are
kept whole unless the policy has lens rules.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, select

from continuum.catalog._base import utcnow
from continuum.catalog.models import checkpoints, lens_chunks, run_segments, runs
from continuum.catalog.policies import load_policies, resolve
from continuum.catalog.retention import Item, KeepTicks, Newest, Pinned, Plan, plan_items

_CKPT_PREFIX, _CKPT_SUFFIX = "checkpoint_", ".ckpt"


@dataclass(frozen=True)
class Kind:
    """A kind of blob retention handles: its table and the columns that matter."""

    name: str  # audit actions are f"{name}-deleting", f"{name}-pruned"
    table: Table
    tick_col: str
    size_col: str
    dir_col: Column[Any]  # the runs column its paths are relative to


KINDS = (
    Kind("checkpoint", checkpoints, "tick", "bytes_on_disk", runs.c.checkpoint_dir),
    Kind("lens-chunk", lens_chunks, "end_tick", "bytes", runs.c.lens_dir),
)


def _latest_tick(run_dir: str | None) -> int | None:
    """The tick of the file ``latest`` points to (without importing numpy)."""
    if not run_dir:
        return None
    try:
        name = os.path.basename(os.readlink(os.path.join(run_dir, "latest")))
    except OSError:
        return None
    digits = name.removeprefix(_CKPT_PREFIX).removesuffix(_CKPT_SUFFIX)
    return int(digits) if digits.isdigit() else None


def _lineage(conn: Connection) -> dict[str, set[int]]:
    """run_id -> ticks that a branch or a resumed segment started from."""
    out: dict[str, set[int]] = defaultdict(set)
    kids = select(runs.c.parent_run_id, runs.c.parent_checkpoint_tick).where(
        runs.c.parent_run_id.is_not(None), runs.c.parent_checkpoint_tick.is_not(None)
    )
    segs = select(run_segments.c.run_id, run_segments.c.resumed_from_tick).where(
        run_segments.c.resumed_from_tick.is_not(None)
    )
    for stmt in (kids, segs):
        for run_id, tick in conn.execute(stmt):
            out[run_id].add(tick)
    return out


def _items(conn: Connection, kind: Kind, chosen: Any) -> dict[str, list[Item]]:
    """run_id -> its committed items of ``kind``, for the runs ``chosen`` selects."""
    t = kind.table
    pinned = t.c.pinned if kind.name == "checkpoint" else None
    cols = [t.c.id, t.c.run_id, t.c[kind.tick_col], t.c.created_at, t.c[kind.size_col]]
    stmt = select(*cols, *([pinned] if pinned is not None else [])).where(
        t.c.state == "committed", t.c.run_id.in_(chosen)
    )
    out: dict[str, list[Item]] = defaultdict(list)
    for row in conn.execute(stmt):
        out[row[1]].append(Item(row[0], row[2], row[3], row[4], bool(row[5:] and row[5])))
    return out


def plan_runs(
    conn: Connection, run_ids: Sequence[str] | None, world: str | None
) -> list[tuple[str, Plan]]:
    """(kind, plan) for each chosen run that has committed items of that kind."""
    policies = load_policies(conn)
    chosen = select(runs.c.run_id)
    if run_ids is not None:
        chosen = chosen.where(runs.c.run_id.in_(list(run_ids)))
    if world is not None:
        chosen = chosen.where(runs.c.world == world)
    info = {
        r.run_id: r
        for r in conn.execute(
            select(runs.c.run_id, runs.c.world, runs.c.checkpoint_dir).where(
                runs.c.run_id.in_(chosen)
            )
        )
    }
    lineage, now = _lineage(conn), utcnow()
    out: list[tuple[str, Plan]] = []
    for kind in KINDS:
        for run_id, items in sorted(_items(conn, kind, chosen).items()):
            run = info[run_id]
            policy = resolve(policies, run_id, run.world)
            label = policy.label if policy else None
            if kind.name == "checkpoint":
                rules = policy.rules.checkpoint_rules(now) if policy else []
                latest = _latest_tick(run.checkpoint_dir)
                rules += [
                    Pinned(),
                    KeepTicks(frozenset(lineage.get(run_id, ())), "lineage"),
                    KeepTicks(frozenset(() if latest is None else (latest,)), "latest"),
                    Newest(),
                ]
            else:
                rules = policy.rules.lens_rules(now) if policy else []
            out.append((kind.name, plan_items(run_id, items, rules, label)))
    return out
