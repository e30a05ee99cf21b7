"""Moving many blob rows between states at once, and logging it: prune's SQL.

Rows travel as :class:`Group`\\ s, one run's rows with the directory their paths
are under: the plan already holds them that way, and per-row Python (a tuple
per row, a dict per batch) cost more than the SQL. Why the SQL looks like this
(measured on SQLite with 100,000 checkpoints, where unlinking a 1 KB file
costs 8-15 us): updating rows found by a list of random ids costs ~10 us a
row, by one run and its ticks (the unique index, rows side by side) ~4 us, by
a tick range ~2.5 us; a per-row audit entry ~10 us more. So each step is one
UPDATE per run, its ticks sent as one parameter (a JSON array read by
``json_each`` on SQLite, an array on PostgreSQL: no parameter limit, one
cached statement) or, when the run's rows are exactly a tick range, that range;
the pin guard is part of the UPDATE, not a query per row; and the audit log
gets one entry per run and step (``checkpoint-deleting``, ``checkpoint-pruned``)
naming its ticks, e.g. ``ticks 0-800/100,950`` (see :func:`expand_ticks`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, any_, bindparam, func, select

from continuum import layout
from continuum.catalog.audit import bounded_detail, bounded_path
from continuum.catalog.blob_rows import BlobKind
from continuum.catalog.db import new_id, utcnow
from continuum.catalog.db.models import audit_log
from continuum.catalog.records import BLOB_STATES
from continuum.catalog.retention.rules import Item


class Group(NamedTuple):
    """Rows of one run that move together, and why.

    ``base`` is the directory relative paths are under, ending in a separator
    (None when the run names none: then only absolute paths can be deleted).
    ``items`` are retention :class:`Item`\\ s: a row's key, tick, size and path (absolute,
    or relative to ``base``).
    """

    run_id: str
    base: str | None
    items: Sequence[Item]
    detail: str | None = None


def run_base(run_dir: str | None) -> str | None:
    """``Group.base`` for a run directory (None unless it is absolute)."""
    if run_dir and layout.is_object_url(run_dir):
        return run_dir.rstrip("/") + "/"  # a run's prefix on object storage
    return os.path.join(run_dir, "") if run_dir and os.path.isabs(run_dir) else None


def key_of(kind: BlobKind) -> attrgetter[Any]:
    """What identifies a row of ``kind`` within its run: the tick, or the chunk's id."""
    return attrgetter("tick" if kind.name == "checkpoint" else "key")


def batches(groups: Sequence[Group], n: int) -> Iterator[list[Group]]:
    """``groups`` in lists of about ``n`` rows (a larger group split in pieces)."""
    out: list[Group] = []
    size = 0
    for g in groups:
        for lo in range(0, len(g.items), n):
            part = g if len(g.items) <= n else g._replace(items=g.items[lo : lo + n])
            out.append(part)
            size += len(part.items)
            if size >= n:
                yield out
                out, size = [], 0
    if out:
        yield out


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
    kind: BlobKind,
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
    if any(s not in BLOB_STATES for s in olds):
        raise ValueError(f"unknown states {olds}")
    states = ", ".join(f"'{s}'" for s in olds)
    pinned = " AND NOT pinned" if guard and kind.name == "checkpoint" else ""
    new, run, keys = _named(conn, ("new", "run", "keys"))
    if ranged:  # only if the range holds exactly ``:n`` rows (one count, once a statement)
        lo, hi, n = _named(conn, ("lo", "hi", "n"))
        keys = f"tick BETWEEN {lo} AND {hi}"
        held = f"SELECT count(*) FROM {kind.table.name} WHERE run_id = {run} AND {keys}"
        keys = f"{keys} AND ({held}) = {n}"
    elif conn.dialect.name == "postgresql":  # typed: an int2[] would miss the index
        keys = f"{key} = ANY(CAST({keys} AS {'bigint' if key == 'tick' else 'text'}[]))"
    else:
        keys = f"{key} IN (SELECT value FROM json_each({keys}))"
    return (
        f"UPDATE {kind.table.name} SET state = {new} WHERE run_id = {run} AND {keys}"
        f" AND state IN ({states}){pinned}" + (f" RETURNING {key}" if returning else "")
    )


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
_TICK = attrgetter("tick")


def audit(conn: Connection, kind: BlobKind, state: str, groups: Sequence[Group]) -> None:
    """One entry per run (and reason): action ``{kind}-{state}``, its ticks in ``detail``."""
    merged: dict[tuple[str, str | None], list[Item]] = {}
    for g in groups:
        merged.setdefault((g.run_id, g.detail), []).extend(g.items)
    bind = audit_log.c.at.type._cached_bind_processor(conn.dialect)
    at = bind(utcnow()) if bind else utcnow()
    entries = []
    for (run_id, why), mine in merged.items():
        one = mine[0] if len(mine) == 1 else None
        what = f"ticks {ticks_text(list(map(_TICK, mine)))} ({len(mine)} files)"
        entries.append(
            {"id": new_id(), "at": at, "action": f"{kind.name}-{state}", "run_id": run_id}
            | {"tick": one and one.tick, "path": bounded_path(one and one.path)}
            | {"detail": f"{what}; {bounded_detail(why)}" if why else what}
        )
    if entries:
        values = ", ".join(_named(conn, _AUDIT_COLS))
        sql = f"INSERT INTO {audit_log.name} ({', '.join(_AUDIT_COLS)}) VALUES ({values})"
        conn.connection.cursor().executemany(sql, entries)


def move(
    conn: Connection,
    kind: BlobKind,
    groups: Sequence[Group],
    old: str | tuple[str, ...],
    new: str,
    *,
    guard: bool = False,
) -> list[Group]:
    """Move the rows of ``groups`` from ``old`` to ``new`` where they still are ``old``:
    the groups of the rows moved.

    One UPDATE per group. ``guard``: leave pinned checkpoints (re-checked here, in the
    claiming transaction, not trusted from the plan). A checkpoint another run branched
    from is not guarded: lineage is kept by the records (``retention/planning.py``).
    """
    groups = [g for g in groups if g.items]
    if not groups:
        return []
    olds = (old,) if isinstance(old, str) else old
    cursor = conn.connection.cursor()  # the driver's own: SQLAlchemy costs ~0.1 ms a call
    # Almost always every row moves: then the row counts say which (all of them) and
    # RETURNING (~1-2 us a row on SQLite) is not needed. If a group moves fewer rows
    # than it was asked to (a racing prune, a pin), undo and ask each which rows moved.
    step = _Step(kind, olds, new, guard)
    cursor.execute("SAVEPOINT move_all")
    if _move_all(conn, cursor, step, groups):
        moved = groups
    else:
        cursor.execute("ROLLBACK TO SAVEPOINT move_all")
        moved = _move_returning(conn, cursor, step, groups)
    cursor.execute("RELEASE SAVEPOINT move_all")
    if new in ("deleting", "pruned"):
        audit(conn, kind, new, moved)
    return moved


class _Step(NamedTuple):
    """One state change: which rows (kind), from which states, to which, guarded or not."""

    kind: BlobKind
    olds: tuple[str, ...]
    new: str
    guard: bool


def _move_all(conn: Connection, cursor: Any, step: _Step, groups: Sequence[Group]) -> bool:
    """Move every row of ``groups``; False as soon as one group moves fewer rows."""
    kind, olds, new, guard = step
    pg = conn.dialect.name == "postgresql"
    by_keys = _update_sql(conn, kind, olds, guard, returning=False)
    # SQLite, checkpoints: when a run's ticks lo..hi hold exactly the rows to move and no
    # other (a count on the (run_id, tick) index, inside the UPDATE: one statement a run),
    # move them by that range: no key list to read (2.5 instead of 4 us a row). Exact
    # because the transaction holds SQLite's write lock from its start: no row enters or
    # leaves the range meanwhile. Nothing moved: the range holds other rows too (or every
    # row was taken meanwhile), and the key list decides.
    ranged = not pg and kind.name == "checkpoint"
    by_range = _update_sql(conn, kind, olds, guard, returning=False, ranged=True)
    key = key_of(kind)
    for g in groups:
        keys = list(map(key, g.items))
        if ranged:
            lo, hi, n = min(keys), max(keys), len(keys)
            cursor.execute(by_range, {"new": new, "run": g.run_id, "lo": lo, "hi": hi, "n": n})
            if cursor.rowcount == n:
                continue
            if cursor.rowcount:
                return False
        param = keys if pg else json.dumps(keys)
        cursor.execute(by_keys, {"new": new, "run": g.run_id, "keys": param})
        if cursor.rowcount != len(keys):
            return False
    return True


def _move_returning(
    conn: Connection, cursor: Any, step: _Step, groups: Sequence[Group]
) -> list[Group]:
    """Move what still can be of each group, asking which rows moved."""
    kind, olds, new, guard = step
    pg = conn.dialect.name == "postgresql"
    sql, key, moved = _update_sql(conn, kind, olds, guard, returning=True), key_of(kind), []
    for g in groups:
        keys = list(map(key, g.items))
        cursor.execute(sql, {"new": new, "run": g.run_id, "keys": keys if pg else json.dumps(keys)})
        got = {k for (k,) in cursor.fetchall()}
        mine = [i for i in g.items if key(i) in got]
        if mine:
            moved.append(g._replace(items=mine))
    return moved
