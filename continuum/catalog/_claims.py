"""Moving many blob rows between states at once, and logging it: prune's SQL.

Why it looks like this (measured on SQLite with 100,000 checkpoints, where
unlinking a 1 KB file costs 10-20 us): updating rows found by a list of
random ids costs ~10 us a row, by one run and its ticks (the unique index,
rows side by side) ~4 us; a per-row audit entry ~10 us more. So each step is
one UPDATE per run, its ticks sent as one parameter (a JSON array read by
``json_each`` on SQLite, an array on PostgreSQL: no parameter limit, one
cached statement); the branch-point guard is read once per batch, not per
row; and the audit log gets one entry per run and step
(``checkpoint-deleting``, ``checkpoint-pruned``) naming its ticks, e.g.
``ticks 0-800/100,950`` (see :func:`expand_ticks`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, any_, bindparam, func, select

from continuum.catalog._base import new_id, utcnow
from continuum.catalog.models import audit_log, runs
from continuum.catalog.planning import Kind
from continuum.catalog.records import CHECKPOINT_STATES


class Target(NamedTuple):
    """One row to delete: its id, run, stored path, the file to unlink, why."""

    id: str
    run_id: str
    tick: int
    path: str
    file: str | None
    size: int = 0
    detail: str | None = None


def batches(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def file_of(run_dir: str | None, path: str) -> str | None:
    """The absolute file a row names, or None when it cannot be known for sure."""
    full = os.path.join(run_dir, path) if run_dir else path
    return full if os.path.isabs(full) else None


def values_in(conn: Connection, col: Any, values: Sequence[Any], type_: Any = String) -> Any:
    """``col IN values`` with one bound parameter however many values: a JSON array read
    by ``json_each`` on SQLite, an array with ``= ANY`` on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return col == any_(bindparam("values", list(values), type_=ARRAY(type_)))
    each = func.json_each(bindparam("values", json.dumps(list(values)))).table_valued("value")
    return col.in_(select(each.c.value))


def _update_sql(
    conn: Connection,
    kind: Kind,
    olds: tuple[str, ...],
    guard: bool,
    returning: bool,
    ranged: bool = False,
) -> str:
    """``UPDATE ... SET state = :new WHERE run_id = :run AND key IN :keys AND state IN olds``
    (``ranged``: ``AND tick BETWEEN :lo AND :hi`` instead of the key list).

    Plain driver SQL on the transaction's own DBAPI connection, built once and
    run once per run: through SQLAlchemy each call costs more than its rows.
    """
    key = "tick" if kind.name == "checkpoint" else "id"
    if any(s not in CHECKPOINT_STATES for s in olds):
        raise ValueError(f"unknown states {olds}")
    states = ", ".join(f"'{s}'" for s in olds)
    pinned = " AND NOT pinned" if guard and kind.name == "checkpoint" else ""
    new, run, keys = _named(conn, ("new", "run", "keys"))
    if ranged:
        lo, hi = _named(conn, ("lo", "hi"))
        keys = f"tick BETWEEN {lo} AND {hi}"
    elif conn.dialect.name == "postgresql":  # typed: an int2[] would miss the index
        keys = f"{key} = ANY(CAST({keys} AS {'bigint' if key == 'tick' else 'text'}[]))"
    else:
        keys = f"{key} IN (SELECT value FROM json_each({keys}))"
    return (
        f"UPDATE {kind.table.name} SET state = {new} WHERE run_id = {run} AND {keys}"
        f" AND state IN ({states}){pinned}" + (f" RETURNING {key}" if returning else "")
    )


def branched_from(conn: Connection, rows: Sequence[Target]) -> set[tuple[str, int]]:
    """(run_id, tick) of ``rows`` that another run branched from, as of now."""
    run_ids = sorted({r.run_id for r in rows})
    stmt = select(runs.c.parent_run_id, runs.c.parent_checkpoint_tick).where(
        values_in(conn, runs.c.parent_run_id, run_ids)
    )
    return {(r, t) for r, t in conn.execute(stmt)}


def ticks_text(ticks: Sequence[int]) -> str:
    """Sorted ticks as arithmetic runs: ``0-800/100,950`` (``a-b/step``, or one tick)."""
    ticks, parts, i = sorted(ticks), [], 0
    if len(ticks) >= 3:  # the usual case, one progression: checked at C speed
        lo, step, hi = ticks[0], ticks[1] - ticks[0], ticks[-1]
        if step > 0 and ticks == list(range(lo, hi + 1, step)):
            return f"{lo}-{hi}/{step}"
    while i < len(ticks):
        j = i + 1
        step = ticks[j] - ticks[i] if j < len(ticks) else 0
        while j + 1 < len(ticks) and ticks[j + 1] - ticks[j] == step:
            j += 1
        if j - i >= 2:
            parts.append(f"{ticks[i]}-{ticks[j]}/{step}")
            i = j + 1
        else:
            parts.append(str(ticks[i]))
            i += 1
    return ",".join(parts)


def expand_ticks(text: str) -> list[int]:
    """The ticks :func:`ticks_text` wrote (for reading the audit log back)."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        if "-" in part[1:]:
            span, step = part.split("/")
            lo, hi = span.split("-", 1)
            out += range(int(lo), int(hi) + 1, int(step))
        else:
            out.append(int(part))
    return out


def _named(conn: Connection, names: Sequence[str]) -> list[str]:
    """Placeholders in the driver's named style (``:x`` for sqlite3, ``%(x)s`` for psycopg)."""
    pg = conn.dialect.name == "postgresql"
    return [f"%({n})s" if pg else f":{n}" for n in names]


_AUDIT_COLS = ("id", "at", "action", "run_id", "tick", "path", "detail")


def audit(conn: Connection, kind: Kind, state: str, rows: Sequence[Target]) -> None:
    """One entry per run (and reason): action ``{kind}-{state}``, its ticks in ``detail``."""
    groups: dict[tuple[str, str | None], list[Target]] = {}
    for key, group in groupby(rows, key=attrgetter("run_id", "detail")):  # runs side by side
        groups.setdefault(key, []).extend(group)
    at = audit_log.c.at.type._cached_bind_processor(conn.dialect)(utcnow())
    entries = []
    for (run_id, why), mine in groups.items():
        one = mine[0] if len(mine) == 1 else None
        what = f"ticks {ticks_text(list(map(attrgetter('tick'), mine)))} ({len(mine)} files)"
        entries.append(
            {"id": new_id(), "at": at, "action": f"{kind.name}-{state}", "run_id": run_id}
            | {"tick": one and one.tick, "path": one and one.path}
            | {"detail": f"{what}; {why}" if why else what}
        )
    if entries:
        values = ", ".join(_named(conn, _AUDIT_COLS))
        sql = f"INSERT INTO {audit_log.name} ({', '.join(_AUDIT_COLS)}) VALUES ({values})"
        conn.connection.cursor().executemany(sql, entries)


def move(
    conn: Connection,
    kind: Kind,
    rows: Sequence[Target],
    old: str | tuple[str, ...],
    new: str,
    *,
    guard: bool = False,
) -> list[Target]:
    """Move ``rows`` from ``old`` to ``new`` where they still are ``old``: the moved ones.

    One UPDATE per run. ``guard``: leave pinned checkpoints and ones another run
    branched from (re-checked here, in the claiming transaction, not trusted from
    the plan).
    """
    if guard and kind.name == "checkpoint" and rows:
        taken = branched_from(conn, rows)
        rows = [r for r in rows if (r.run_id, r.tick) not in taken]
    if not rows:
        return []
    attr = "tick" if kind.name == "checkpoint" else "id"
    olds = (old,) if isinstance(old, str) else old
    pg = conn.dialect.name == "postgresql"
    by_run: dict[str, dict[Any, Target]] = {}
    for r in rows:
        by_run.setdefault(r.run_id, {})[getattr(r, attr)] = r
    params = [
        {"new": new, "run": run_id, "keys": list(mine) if pg else json.dumps(list(mine))}
        for run_id, mine in by_run.items()
    ]
    cursor = conn.connection.cursor()  # the driver's own: SQLAlchemy costs ~0.1 ms a call
    # Almost always every row moves: then the row counts say which (all of them) and
    # RETURNING (~1-2 us a row on SQLite) is not needed. If a run moves fewer rows than
    # it was asked to (a racing prune, a pin), undo and ask each run which rows moved.
    cursor.execute("SAVEPOINT move_all")
    sql = _update_sql(conn, kind, olds, guard, returning=False)
    # SQLite, checkpoints: when a run's ticks lo..hi hold exactly the rows to move and no
    # other (one count on the (run_id, tick) index), move them by that range: no key list
    # to read (2.5 instead of 4 us a row). Exact because the transaction holds SQLite's
    # write lock from its start: no row enters or leaves the range before the UPDATE.
    ranged = not pg and kind.name == "checkpoint"
    if ranged:
        count = f"SELECT count(*) FROM {kind.table.name} WHERE run_id = ? AND tick BETWEEN ? AND ?"
        by_range = _update_sql(conn, kind, olds, guard, returning=False, ranged=True)
    for p, mine in zip(params, by_run.values(), strict=True):
        if ranged:
            lo, hi = min(mine), max(mine)
            if cursor.execute(count, (p["run"], lo, hi)).fetchone()[0] == len(mine):
                cursor.execute(by_range, {"new": new, "run": p["run"], "lo": lo, "hi": hi})
            else:
                cursor.execute(sql, p)
        else:
            cursor.execute(sql, p)
        if cursor.rowcount != len(mine):
            cursor.execute("ROLLBACK TO SAVEPOINT move_all")
            break
    else:
        cursor.execute("RELEASE SAVEPOINT move_all")
        moved = [r for mine in by_run.values() for r in mine.values()]
        if new in ("deleting", "pruned"):
            audit(conn, kind, new, moved)
        return moved
    cursor.execute("RELEASE SAVEPOINT move_all")
    sql, moved = _update_sql(conn, kind, olds, guard, returning=True), []
    for p, mine in zip(params, by_run.values(), strict=True):
        cursor.execute(sql, p)
        moved += [mine[k] for (k,) in cursor.fetchall() if k in mine]
    if new in ("deleting", "pruned"):
        audit(conn, kind, new, moved)
    return moved
