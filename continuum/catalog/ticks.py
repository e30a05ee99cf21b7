"""How far a run got: the tick ranges of its segments and of the run, kept truthful.

A segment covers ``[start_tick, end_tick)``; the run's ``first_tick``..``last_tick``
covers all its segments. What moves them, and why:

- a checkpoint commits (:func:`advance`, from the writer thread through the recorder):
  the run's ``last_tick`` and its running segment's ``end_tick`` reach its tick, so a
  run killed between two heartbeats still shows how far it is resumable;
- a segment ends normally: ``Runs.finish`` writes the tick the process stopped at;
- a run is found dead (:func:`settle`: liveness marking it crashed, a resume settling
  it, ``catalog verify --repair``): each crashed segment ends at the newest checkpoint
  it committed, and the run's ``last_tick`` is the furthest segment end — not the last
  heartbeat, which may be past anything that survived the crash. A checkpoint counts
  if it was committed once (``committed``, or since ``deleting``/``pruned`` by
  retention); ``pending``, ``missing`` and ``corrupt`` rows prove nothing. A segment
  that committed nothing ends where it started.

A run without a checkpoint directory leaves nothing to settle against: its range stays
what its last heartbeat said, and a crashed segment of it ends there.

Connection-level functions, so liveness (below ``runs`` in the catalog's layers) can
settle in the same transaction that marks a run crashed.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, or_, select, update

from continuum.catalog.db.models import checkpoints, run_segments, runs

#: Checkpoint states that prove the run reached the tick (the file was committed once).
REACHED = ("committed", "deleting", "pruned")


def advance(conn: Connection, run_id: str, tick: int) -> None:
    """A checkpoint of ``run_id`` at ``tick`` committed: its range and open segment reach it."""
    conn.execute(
        update(runs).where(runs.c.run_id == run_id, runs.c.last_tick < tick).values(last_tick=tick)
    )
    seg = run_segments.c
    conn.execute(
        update(run_segments)
        .where(
            seg.run_id == run_id,
            seg.status == "running",
            seg.start_tick <= tick,
            or_(seg.end_tick.is_(None), seg.end_tick < tick),
        )
        .values(end_tick=tick)
    )


def settle(conn: Connection, run_id: str) -> None:
    """End each crashed segment of ``run_id`` at its newest committed checkpoint and set
    the run's ``last_tick`` to the furthest segment end (see the module docstring)."""
    run = conn.execute(
        select(runs.c.first_tick, runs.c.last_tick, runs.c.checkpoint_dir).where(
            runs.c.run_id == run_id
        )
    ).first()
    if run is None:
        return
    seg = run_segments.c
    rows = conn.execute(
        select(seg.id, seg.start_tick, seg.end_tick, seg.status)
        .where(seg.run_id == run_id)
        .order_by(seg.ordinal)
    ).all()
    ends: list[int] = []
    for i, row in enumerate(rows):
        end = row.end_tick
        if row.status == "crashed":
            bound = rows[i + 1].start_tick if i + 1 < len(rows) else None
            if run.checkpoint_dir is None:  # nothing on disk to judge by: its last word
                last_word = run.last_tick if bound is None else bound
                end = last_word if row.end_tick is None else row.end_tick
            else:
                end = _crashed_end(conn, run_id, row.start_tick, row.end_tick, bound)
            if end != row.end_tick:
                conn.execute(update(run_segments).where(seg.id == row.id).values(end_tick=end))
        if end is not None:
            ends.append(end)
    if run.checkpoint_dir is not None:
        last = max([run.first_tick, *ends])
        if last != run.last_tick:
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(last_tick=last))


def _crashed_end(
    conn: Connection,
    run_id: str,
    start: int,
    recorded: int | None,
    bound: int | None,
) -> int:
    """Where a crashed segment ended: its newest reached checkpoint in
    ``[start, bound]`` (the next segment resumed at ``bound``), at least what it
    recorded while running, at least its start."""
    ck = checkpoints.c
    cond = [ck.run_id == run_id, ck.state.in_(REACHED), ck.tick >= start]
    if bound is not None:
        cond.append(ck.tick <= bound)
    newest = conn.scalar(select(func.max(ck.tick)).where(*cond))
    return max(t for t in (start, recorded, newest) if t is not None)
