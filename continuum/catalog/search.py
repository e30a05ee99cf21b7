"""Finding runs: get, show, list and search, newest first, with keyset pages.

Pages are ordered by ``(started_at, run_id)`` descending (or by one of :data:`SORTS`:
start time, last tick or run id, either way, ``run_id`` breaking ties in the same
direction) and continue *after* the last row of the previous page (an opaque cursor
naming its order), so a deep page costs the same as the first and concurrent inserts
never shift rows between pages. Every filter maps to an indexed predicate; filters on
tags, params and checkpoints are ``EXISTS`` subqueries so they combine freely.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, exists, func, select, tuple_

from continuum.catalog.blob_rows import checkpoints_of, lens_chunks_of
from continuum.catalog.db import Database, require_run
from continuum.catalog.db.models import (
    RUN_ID,
    checkpoints,
    run_params,
    run_segments,
    run_tags,
    runs,
    segment_record,
)
from continuum.catalog.liveness import Liveness
from continuum.catalog.records import RUN_STATUSES, RunDetail, RunPage
from continuum.catalog.runs import load_run_records
from continuum.errors import InvalidFilterError

_PARAM = re.compile(r"^\s*([^<>=!\s]+)\s*(<=|>=|!=|==|=|<|>)\s*(\S.*?)\s*$")
MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ParamFilter:
    """``key op value``; a numeric value compares numerically, text only with = and !=.

    ``true``/``false`` in any case match a bool parameter (``continuum run --param
    flag=TRUE`` records the bool ``true``).
    """

    key: str
    op: str
    value: str | float


def parse_param_filter(text: str) -> ParamFilter:
    """Parse ``'k>3'``, ``'mode=fast'``, ``'dt<=1e-3'``; raises ``InvalidFilterError``."""
    match = _PARAM.match(text)
    if match is None:
        raise InvalidFilterError(
            f"malformed param filter {text!r}: expected KEY OP VALUE with OP one of "
            "= != < <= > >=, e.g. 'k>3' or 'mode=fast'"
        )
    key, op, raw = match.groups()
    op = "=" if op == "==" else op
    try:
        number: float | None = float(raw)
    except ValueError:
        number = None
    if number is not None and not math.isfinite(number):
        number = None
    if number is None and op not in ("=", "!="):
        raise InvalidFilterError(f"param filter {text!r}: {op} needs a number, got {raw!r}")
    if number is None and raw.lower() in ("true", "false"):
        raw = raw.lower()  # a bool param's text, however it is typed (``--param flag=true``)
    return ParamFilter(key, op, raw if number is None else number)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Filters that all have to hold (AND); ``None``/empty means "any"."""

    world: str | None = None
    ir_hash: str | None = None  # a prefix of the IR hash
    seed: int | None = None
    scenario: str | None = None
    status: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    params: tuple[ParamFilter, ...] = ()
    tick_covers: int | None = None  # first_tick <= T <= last_tick
    has_checkpoint_after: int | None = None  # a committed checkpoint at tick >= T
    started_after: datetime | None = None  # inclusive
    started_before: datetime | None = None  # exclusive


#: The orders a page may take: a column name, ``-`` for descending. The default is the
#: newest first; ``run_id`` breaks ties in the same direction, so every order is total.
SORTS = ("-started_at", "started_at", "-last_tick", "last_tick", "-run_id", "run_id")
DEFAULT_SORT = "-started_at"
_SORT_COLUMNS = {"started_at": runs.c.started_at, "last_tick": runs.c.last_tick}


def check_sort(sort: str) -> str:
    """``sort`` if it is one of :data:`SORTS`, else one ``InvalidFilterError`` line."""
    if sort not in SORTS:
        raise InvalidFilterError(f"unknown sort {sort!r}; expected one of {', '.join(SORTS)}")
    return sort


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode_cursor(started_at: datetime, run_id: str) -> str:
    """The cursor after a row in the default order (``-started_at``)."""
    return _b64(f"{started_at.isoformat()}|{run_id}")


def encode_sort_cursor(sort: str, row: Any) -> str:
    """The cursor after ``row`` (a runs row) in order ``sort``; it names its order, so a
    cursor of one order passed with another is refused instead of skipping rows."""
    if sort == DEFAULT_SORT:
        return encode_cursor(row.started_at, row.run_id)
    key = sort.lstrip("-")
    value = "" if key == "run_id" else getattr(row, key)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return _b64(f"{sort}|{text}|{row.run_id}")


def _malformed(cursor: str) -> InvalidFilterError:
    return InvalidFilterError(
        f"malformed page cursor {cursor[:80]!r}: pass the value printed after the previous page"
    )


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (started_at, run_id) a default-order cursor continues after; raises on anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, run_id = raw.split("|", 1)
        at = datetime.fromisoformat(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _malformed(cursor) from exc
    if at.tzinfo is None or not run_id:
        raise _malformed(cursor)
    return at, run_id


def decode_sort_cursor(sort: str, cursor: str) -> tuple[Any, str]:
    """The (sort value, run_id) a cursor of order ``sort`` continues after."""
    if sort == DEFAULT_SORT:
        return decode_cursor(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        named, text, run_id = raw.split("|", 2)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _malformed(cursor) from exc
    if named != sort:
        raise InvalidFilterError(
            f"page cursor of order {named[:20]!r} passed with sort {sort!r}: "
            "start again from the first page of this order"
        )
    key = sort.lstrip("-")
    try:
        value: Any = None
        if key == "started_at":
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                raise ValueError(text)
        elif key == "last_tick":
            value = int(text)
    except ValueError as exc:
        raise _malformed(cursor) from exc
    if not run_id:
        raise _malformed(cursor)
    return value, run_id


def _param_condition(p: ParamFilter) -> ColumnElement[bool]:
    column = run_params.c.value_text if isinstance(p.value, str) else run_params.c.value_num
    compare = {
        "=": column == p.value,
        "!=": column != p.value,
        "<": column < p.value,
        "<=": column <= p.value,
        ">": column > p.value,
        ">=": column >= p.value,
    }[p.op]
    return exists().where(run_params.c.run_id == runs.c.run_id, run_params.c.key == p.key, compare)


def _ir_hash_condition(prefix: str) -> ColumnElement[bool]:
    prefix = prefix.strip()
    if prefix and all(c in string.hexdigits for c in prefix):
        low = prefix.lower()  # hex hashes: an index range instead of LIKE
        return and_(runs.c.ir_hash >= low, runs.c.ir_hash < low + "g")
    return runs.c.ir_hash.startswith(prefix, autoescape=True)


def conditions(q: SearchQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a query, validated."""
    if q.status is not None and q.status not in RUN_STATUSES:
        raise InvalidFilterError(
            f"unknown status {q.status!r}; expected one of {', '.join(RUN_STATUSES)}"
        )
    c: list[ColumnElement[bool]] = []
    for column, value in (
        (runs.c.world, q.world),
        (runs.c.seed, q.seed),
        (runs.c.scenario, q.scenario),
    ):
        if value is not None:
            c.append(column == value)
    if q.status is not None:
        c.append(runs.c.status == q.status)
    if q.ir_hash:
        c.append(_ir_hash_condition(q.ir_hash))
    for key, value in q.tags:
        c.append(
            exists().where(
                run_tags.c.run_id == runs.c.run_id, run_tags.c.key == key, run_tags.c.value == value
            )
        )
    c.extend(_param_condition(p) for p in q.params)
    if q.tick_covers is not None:
        c += [runs.c.first_tick <= q.tick_covers, runs.c.last_tick >= q.tick_covers]
    if q.has_checkpoint_after is not None:
        c.append(
            exists().where(
                checkpoints.c.run_id == runs.c.run_id,
                checkpoints.c.state == "committed",
                checkpoints.c.tick >= q.has_checkpoint_after,
            )
        )
    if q.started_after is not None:
        c.append(runs.c.started_at >= q.started_after)
    if q.started_before is not None:
        c.append(runs.c.started_at < q.started_before)
    return c


def _page(conn: Connection, q: SearchQuery, limit: int, after: str | None, sort: str) -> RunPage:
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    column = _SORT_COLUMNS.get(key)
    stmt = select(runs).where(*conditions(q))
    if after is not None:
        value, run_id = decode_sort_cursor(sort, after)
        after_id = bindparam("after_id", run_id, type_=RUN_ID)
        if column is None:  # by run id alone
            stmt = stmt.where(runs.c.run_id < after_id if descending else runs.c.run_id > after_id)
        else:
            keyset = tuple_(bindparam("after_key", value, type_=column.type), after_id)
            mine = tuple_(column, runs.c.run_id)
            stmt = stmt.where(mine < keyset if descending else mine > keyset)
    order = [c.desc() if descending else c.asc() for c in (column, runs.c.run_id) if c is not None]
    rows = conn.execute(stmt.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_sort_cursor(sort, rows[-1]) if more else None
    return RunPage(tuple(load_run_records(conn, rows)), cursor)


def _count(conn: Connection, q: SearchQuery) -> int:
    return int(
        conn.execute(select(func.count()).select_from(runs).where(*conditions(q))).scalar_one()
    )


class Search:
    """Reading runs. Each call first marks stale runs crashed (cheap when none are)."""

    def __init__(self, db: Database, liveness: Liveness) -> None:
        self._db = db
        self._liveness = liveness

    def show(self, run_id: str) -> RunDetail:
        """The run with its segments, checkpoints, lens chunks and child branches."""
        self._liveness.mark_crashed_if_stale(run_id)
        return self._db.read(lambda conn: _detail(conn, run_id))

    def list(
        self, *, limit: int = 50, after: str | None = None, status: str | None = None
    ) -> RunPage:
        """Newest runs first (only those in ``status``, if given); ``after`` is the
        ``next_cursor`` of the previous page."""
        return self.find(SearchQuery(status=status), limit=limit, after=after)

    def find(
        self,
        query: SearchQuery,
        *,
        limit: int = 50,
        after: str | None = None,
        sort: str = DEFAULT_SORT,
    ) -> RunPage:
        """Runs matching every filter of ``query``, one page in order ``sort`` (one of
        :data:`SORTS`; newest first by default)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidFilterError(f"page limit must be between 1 and {MAX_LIMIT}, got {limit}")
        check_sort(sort)
        conditions(query)  # validate before touching the database
        if after is not None:
            decode_sort_cursor(sort, after)
        self._liveness.mark_stale_crashed()
        return self._db.read(lambda conn: _page(conn, query, limit, after, sort))

    def count(self, query: SearchQuery) -> int:
        """How many runs match every filter of ``query`` (one COUNT over the same predicates)."""
        conditions(query)
        return self._db.read(lambda conn: _count(conn, query))


def _detail(conn: Connection, run_id: str) -> RunDetail:
    run = require_run(conn, run_id)
    segments = conn.execute(
        select(run_segments).where(run_segments.c.run_id == run_id).order_by(run_segments.c.ordinal)
    )
    children = conn.execute(
        select(runs)
        .where(runs.c.parent_run_id == run_id)
        .order_by(runs.c.started_at, runs.c.run_id)
    ).all()
    return RunDetail(
        run=load_run_records(conn, [run])[0],
        segments=tuple(segment_record(seg._mapping) for seg in segments),
        checkpoints=tuple(checkpoints_of(conn, run_id)),
        children=tuple(load_run_records(conn, children)),
        lens_chunks=tuple(lens_chunks_of(conn, run_id)),
    )
