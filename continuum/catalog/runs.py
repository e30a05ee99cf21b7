"""Run lifecycle: register, segments, heartbeat, finish, tags and params.

A run is created running, with its first segment (the process that started
it). Each resume of the run opens another segment; ``finish_run`` closes the
open one. These are called by the checkpoint writer's thread and by the
``continuum run`` command, never from inside the tick loop. Tick ranges follow
the rules of :mod:`continuum.catalog.ticks`.

Parameters describe the run as it was started (its scenario's overrides and the
user's ``--param``): they are written by ``register`` and a resume in place keeps
them — ``start_segment`` refuses a parameter that differs from, or is not among,
those recorded, since changing one would make the record describe two different
runs under one id. Tags are labels: a resume adds to them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, delete, func, select, update

from continuum import layout
from continuum.catalog.audit import add_audit
from continuum.catalog.db import Database, new_id, require_run, utcnow
from continuum.catalog.db.models import (
    checkpoints,
    decode_param,
    encode_param,
    retention_policies,
    run_params,
    run_record,
    run_segments,
    run_tags,
    runs,
    segment_record,
    worlds,
)
from continuum.catalog.records import RUN_STATUSES, ParamValue, RunRecord, SegmentRecord
from continuum.catalog.ticks import advance, settle
from continuum.errors import CatalogConflictError, CatalogError

_FINAL_STATUSES = tuple(s for s in RUN_STATUSES if s != "running")


def load_run_records(conn: Connection, rows: Sequence[Row[Any]]) -> list[RunRecord]:
    """Records for run rows with their tags and params: two queries for the lot."""
    ids = [r.run_id for r in rows]
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    params: dict[str, dict[str, ParamValue]] = {i: {} for i in ids}
    if ids:
        for rid, key, value in conn.execute(select(run_tags).where(run_tags.c.run_id.in_(ids))):
            tags[rid][key] = value
        mine = select(run_params).where(run_params.c.run_id.in_(ids))
        for rid, key, text, number in conn.execute(mine).all():
            params[rid][key] = decode_param(text, number)
    return [run_record(r, tags[r.run_id], params[r.run_id]) for r in rows]


def _reload(conn: Connection, run_id: str) -> RunRecord:
    return load_run_records(conn, [require_run(conn, run_id)])[0]


def _check_final(status: str) -> str:
    if status not in _FINAL_STATUSES:
        raise CatalogError(f"a run ends as one of {', '.join(_FINAL_STATUSES)}; got {status!r}")
    return status


def _new_segment(conn: Connection, run_id: str, ordinal: int, **values: Any) -> SegmentRecord:
    seg_id = new_id()
    row = {"id": seg_id, "run_id": run_id, "ordinal": ordinal, "status": "running", **values}
    seg = conn.execute(run_segments.insert().values(**row).returning(*run_segments.c)).one()
    return segment_record(seg._mapping)


class Runs:
    """Creating runs and recording what their processes did."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, run_id: str) -> RunRecord:
        """One run, or ``RunNotFoundError``."""
        return self._db.read(lambda conn: _reload(conn, run_id))

    def get_many(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """The runs ``run_ids``, in that order, in three queries for the lot (an overlay of
        100 runs); ``RunNotFoundError`` naming the first unknown one."""

        def op(conn: Connection) -> list[RunRecord]:
            wanted = list(dict.fromkeys(run_ids))
            rows = conn.execute(select(runs).where(runs.c.run_id.in_(wanted))).all()
            found = {r.run_id: r for r in load_run_records(conn, rows)}
            for run_id in wanted:
                if run_id not in found:
                    require_run(conn, run_id)  # raises, naming it
            return [found[r] for r in run_ids]

        return self._db.read(op)

    def register(
        self,
        *,
        world: str,
        ir_hash: str,
        seed: int,
        run_id: str | None = None,
        world_version: str | None = None,
        scenario: str | None = None,
        scenario_hash: str | None = None,
        first_tick: int = 0,
        steps: int | None = None,
        checkpoint_dir: str | Path | None = None,
        lens_dir: str | Path | None = None,
        parent_run_id: str | None = None,
        parent_checkpoint_tick: int | None = None,
        host: str | None = None,
        pid: int | None = None,
        started_at: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, ParamValue] | None = None,
    ) -> RunRecord:
        """Record a new running run and its first segment (this process, by default).

        ``checkpoint_dir`` is the run's own directory of checkpoint files.
        ``parent_run_id``/``parent_checkpoint_tick`` make it a branch of another
        run. The id defaults to :func:`continuum.layout.new_run_id`; a taken id is refused.
        """
        now = started_at or utcnow()
        rid = layout.check_run_id(run_id) if run_id is not None else layout.new_run_id(now)
        proc = {
            "host": socket.gethostname() if host is None else host,
            "pid": os.getpid() if pid is None else pid,
        }
        row = {
            "run_id": rid,
            "world": world,
            "ir_hash": ir_hash,
            "scenario": scenario,
            "scenario_hash": scenario_hash,
            "seed": seed,
            "status": "running",
            "heartbeat_at": now,
            "started_at": now,
            "first_tick": first_tick,
            "last_tick": first_tick,
            "steps": steps,
            "checkpoint_dir": None if checkpoint_dir is None else str(checkpoint_dir),
            "lens_dir": None if lens_dir is None else str(lens_dir),
            "parent_run_id": parent_run_id,
            "parent_checkpoint_tick": parent_checkpoint_tick,
            "dropped_checkpoints": 0,
            **proc,
        }
        world_row = {"name": world, "ir_hash": ir_hash, "version": world_version}

        def op(conn: Connection) -> RunRecord:
            stmt = self._db.insert(worlds).values(**world_row, first_seen_at=now)
            conn.execute(stmt.on_conflict_do_nothing())
            if parent_run_id is not None:
                require_run(conn, parent_run_id)
            if conn.execute(select(runs.c.run_id).where(runs.c.run_id == rid)).first():
                raise CatalogConflictError(
                    f"run {rid!r} is already in the catalog; continue it with "
                    f"--resume-run {rid}, or start a new run without giving an id"
                )
            conn.execute(runs.insert().values(**row))
            _new_segment(conn, rid, 1, start_tick=first_tick, started_at=now, **proc)
            self._put_tags(conn, rid, tags or {})
            self._put_params(conn, rid, params or {})
            return _reload(conn, rid)

        return self._db.write(op)

    def start_segment(
        self,
        run_id: str,
        *,
        start_tick: int,
        resumed_from_tick: int | None = None,
        resumed_from_path: str | None = None,
        host: str | None = None,
        pid: int | None = None,
        params: Mapping[str, ParamValue] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SegmentRecord:
        """Record that a process resumed ``run_id``; the run is running again.

        A segment still marked running is from a process that died without
        ending it, so it is closed as crashed, at its newest committed checkpoint.
        ``params`` must be among the run's recorded ones, with the same values
        (else ``CatalogConflictError`` and nothing is written); ``tags`` are added.
        """
        proc = {
            "host": socket.gethostname() if host is None else host,
            "pid": os.getpid() if pid is None else pid,
        }

        def op(conn: Connection) -> SegmentRecord:
            require_run(conn, run_id)
            _refuse_changed_params(conn, run_id, params or {})
            now = utcnow()
            mine = run_segments.c.run_id == run_id
            conn.execute(
                update(run_segments)
                .where(mine, run_segments.c.status == "running")
                .values(status="crashed", ended_at=now)
            )
            settle(conn, run_id)
            self._put_tags(conn, run_id, tags or {})
            last = conn.scalar(select(func.max(run_segments.c.ordinal)).where(mine)) or 0
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    status="running", ended_at=None, heartbeat_at=now, control_path=None, **proc
                )
            )
            return _new_segment(
                conn,
                run_id,
                last + 1,
                start_tick=start_tick,
                resumed_from_tick=resumed_from_tick,
                resumed_from_path=resumed_from_path,
                started_at=now,
                **proc,
            )

        return self._db.write(op)

    def end_segment(self, segment_id: str, *, status: str, end_tick: int) -> SegmentRecord:
        """Close one segment (``finish_run`` does this for the open segment)."""
        _check_final(status)
        this = run_segments.c.id == segment_id

        def op(conn: Connection) -> SegmentRecord:
            values = {"status": status, "end_tick": end_tick, "ended_at": utcnow()}
            if conn.execute(update(run_segments).where(this).values(**values)).rowcount != 1:
                raise CatalogError(f"no run segment {segment_id!r} in the catalog")
            return segment_record(conn.execute(select(run_segments).where(this)).one()._mapping)

        return self._db.write(op)

    def check_params(self, run_id: str, params: Mapping[str, ParamValue]) -> None:
        """Refuse (``CatalogConflictError``) ``params`` that are not the run's recorded
        ones: what ``start_segment`` checks, asked before a resume settles anything."""
        self._db.read(lambda conn: _refuse_changed_params(conn, run_id, params))

    def advance(self, run_id: str, tick: int) -> None:
        """A checkpoint at ``tick`` committed: the run's range and running segment reach it."""
        self._db.write(lambda conn: advance(conn, run_id, tick))

    def settle_ticks(self, run_id: str) -> RunRecord:
        """A crashed run's range from its committed checkpoints (see ``catalog.ticks``);
        a run in any other state is returned as it is."""

        def op(conn: Connection) -> RunRecord:
            if require_run(conn, run_id).status == "crashed":
                settle(conn, run_id)
            return _reload(conn, run_id)

        return self._db.write(op)

    def heartbeat(self, run_id: str, *, last_tick: int | None = None) -> None:
        """Say the run is alive (and how far it got); revives a run wrongly marked crashed.

        Other hosts judge a run dead once its heartbeat is older than the
        catalog's ``stale_after`` (2 minutes by default): beat every ~30 s.
        """

        def op(conn: Connection) -> None:
            run = require_run(conn, run_id)
            values: dict[str, Any] = {"heartbeat_at": utcnow()}
            if last_tick is not None and last_tick > run.last_tick:
                values["last_tick"] = last_tick
            if run.status == "crashed":
                values.update(status="running", ended_at=None)
                _revive_last_segment(conn, run_id)
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))

        self._db.write(op)

    def finish(
        self, run_id: str, *, status: str, last_tick: int, dropped_checkpoints: int = 0
    ) -> RunRecord:
        """End the run and its open segment; ``dropped_checkpoints`` adds this process's drops."""
        _check_final(status)

        def op(conn: Connection) -> RunRecord:
            run = require_run(conn, run_id)
            now = utcnow()
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    status=status,
                    ended_at=now,
                    heartbeat_at=now,
                    last_tick=max(run.last_tick, last_tick),
                    dropped_checkpoints=runs.c.dropped_checkpoints + dropped_checkpoints,
                    control_path=None,  # not live any more, whatever the ending
                )
            )
            conn.execute(
                update(run_segments)
                .where(run_segments.c.run_id == run_id, run_segments.c.status == "running")
                .values(status=status, end_tick=last_tick, ended_at=now)
            )
            return _reload(conn, run_id)

        return self._db.write(op)

    def set_control_path(
        self, run_id: str, path: str | Path | None, *, only_if: str | Path | None = None
    ) -> None:
        """Record where the live run's control socket is (None: it is not live).

        Set by the run once its socket is up; :meth:`finish` clears it, whatever the
        ending. ``only_if``: clear or change it only while it is still that path (``continuum
        ctl`` clearing a dead socket must not clear a socket a resumed process just recorded).
        """
        value = None if path is None else str(path)
        mine = [runs.c.run_id == run_id]
        if only_if is not None:
            mine.append(runs.c.control_path == str(only_if))

        def op(conn: Connection) -> None:
            require_run(conn, run_id)
            conn.execute(update(runs).where(*mine).values(control_path=value))

        self._db.write(op)

    def set_tags(
        self, run_id: str, tags: Mapping[str, str], *, remove: Iterable[str] = ()
    ) -> RunRecord:
        """Add or overwrite tags (free-form labels) and delete the keys in ``remove``."""
        removed = list(remove)

        def op(conn: Connection) -> RunRecord:
            require_run(conn, run_id)
            if removed:
                mine = run_tags.c.run_id == run_id
                conn.execute(delete(run_tags).where(mine, run_tags.c.key.in_(removed)))
            self._put_tags(conn, run_id, tags)
            return _reload(conn, run_id)

        return self._db.write(op)

    def set_params(self, run_id: str, params: Mapping[str, ParamValue]) -> RunRecord:
        """Add or overwrite parameters; numbers (and numeric strings) are searchable as numbers."""

        def op(conn: Connection) -> RunRecord:
            require_run(conn, run_id)
            self._put_params(conn, run_id, params)
            return _reload(conn, run_id)

        return self._db.write(op)

    def directories(self) -> list[RunDirs]:
        """Every run's status and directories, oldest first (what gc and verify walk)."""
        cols = (runs.c.run_id, runs.c.status, runs.c.checkpoint_dir, runs.c.lens_dir, runs.c.host)
        stmt = select(*cols).order_by(runs.c.started_at, runs.c.run_id)
        return self._db.read(lambda conn: [RunDirs(*row) for row in conn.execute(stmt)])

    def check_removable(self, run_id: str, *, force: bool = False) -> RunRecord:
        """The run, if ``catalog rm`` may remove it: not running, no branches, nothing
        pinned (unless ``force``); else a ``CatalogError`` saying why and what to do."""

        def op(conn: Connection) -> RunRecord:
            run = _reload(conn, run_id)
            if not force:
                _refuse_removal(conn, run)
            return run

        return self._db.read(op)

    def delete(self, run_id: str, audit: Sequence[tuple[str, str]]) -> None:
        """Delete the run's rows (cascading) and its run policy, logging ``audit``
        entries (action, detail) in the same transaction. Its files must be gone."""

        def op(conn: Connection) -> None:
            conn.execute(delete(runs).where(runs.c.run_id == run_id))
            mine = (retention_policies.c.scope == "run", retention_policies.c.scope_key == run_id)
            conn.execute(delete(retention_policies).where(*mine))
            for action, detail in audit:
                add_audit(conn, action, run_id=run_id, detail=detail)

        self._db.write(op)

    def _put_tags(self, conn: Connection, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            row = {"value": str(value)}
            stmt = self._db.insert(run_tags).values(run_id=run_id, key=key, **row)
            conn.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_=row))

    def _put_params(self, conn: Connection, run_id: str, params: Mapping[str, ParamValue]) -> None:
        for key, value in params.items():
            text, number = _encode(value)
            row = {"value_text": text, "value_num": number}
            stmt = self._db.insert(run_params).values(run_id=run_id, key=key, **row)
            conn.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_=row))


def _encode(value: ParamValue) -> tuple[str, float | None]:
    """``encode_param``, except that a bool keeps its number (1/0) too: that is what
    tells ``true`` the bool from the text "true" when the row is read back."""
    if isinstance(value, bool):
        return ("true" if value else "false"), float(value)
    return encode_param(value)


def _shown(key: str, value: ParamValue) -> str:
    """``k=4``, ``flag=true``; text quoted (``k='4'``), so a number and its text differ."""
    return f"{key}={value!r}" if isinstance(value, str) else f"{key}={_encode(value)[0]}"


def _same(a: ParamValue, b: ParamValue) -> bool:
    """Equal values of one kind: 4 and 4.0 are the same number, ``true`` is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    return a == b


def _refuse_changed_params(conn: Connection, run_id: str, given: Mapping[str, ParamValue]) -> None:
    if not given:
        return
    mine = select(run_params.c.key, run_params.c.value_text, run_params.c.value_num)
    rows = conn.execute(mine.where(run_params.c.run_id == run_id)).all()
    recorded = {key: decode_param(text, number) for key, text, number in rows}
    for key, value in given.items():
        if key not in recorded:
            raise CatalogConflictError(
                f"run {run_id} was started without parameter {key!r}; a resume keeps the "
                f"run's parameters: drop --param {key}, or start a new run with it"
            )
        if not _same(recorded[key], value):
            raise CatalogConflictError(
                f"run {run_id} was started with {_shown(key, recorded[key])}, not "
                f"{_shown(key, value)}; a resume keeps the run's parameters: drop "
                f"--param {key}, or start a new run with it"
            )


class RunDirs(NamedTuple):
    """A run's status and the directories its files are in."""

    run_id: str
    status: str
    checkpoint_dir: str | None
    lens_dir: str | None
    host: str | None


def _refuse_removal(conn: Connection, run: RunRecord) -> None:
    run_id = run.run_id
    if run.status == "running":
        raise CatalogError(
            f"run {run_id!r} is running (pid {run.pid} on {run.host}); stop it, or pass --force"
        )
    kids = conn.scalar(select(func.count()).where(runs.c.parent_run_id == run_id))
    if kids:
        raise CatalogError(f"run {run_id!r} has {kids} branch(es); pass --force to remove it")
    pinned = conn.scalar(
        select(func.count()).where(checkpoints.c.run_id == run_id, checkpoints.c.pinned)
    )
    if pinned:
        raise CatalogError(
            f"run {run_id!r} has {pinned} pinned checkpoint(s); unpin them "
            f"(continuum catalog unpin {run_id} TICK) or pass --force"
        )


def _revive_last_segment(conn: Connection, run_id: str) -> None:
    last = conn.execute(
        select(run_segments.c.id, run_segments.c.status)
        .where(run_segments.c.run_id == run_id)
        .order_by(run_segments.c.ordinal.desc())
        .limit(1)
    ).first()
    if last is not None and last.status == "crashed":
        conn.execute(
            update(run_segments)
            .where(run_segments.c.id == last.id)
            .values(status="running", ended_at=None)
        )
