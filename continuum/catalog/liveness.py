"""Telling dead runs from live ones: a run killed with SIGKILL never says it ended.

A run is *stale* when it is marked running and either (with
``check_local_pids``) it runs on this host and its process no longer exists,
or it runs elsewhere and its heartbeat is older than ``stale_after``. On its
own host a live process is never judged by its heartbeat (a long pause is not
a crash); a reused process id can hide a crash there, never invent one.

Stale runs are marked crashed, with their open segments, their tick ranges
settled (:mod:`continuum.catalog.ticks`), and the change is written to the
audit log. ``list``/``show``/``search`` call this first; it costs one indexed
SELECT when nothing is stale.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Connection, or_, select, update

from continuum.catalog.audit import add_audit
from continuum.catalog.db import Database, require_run, utcnow
from continuum.catalog.db.models import run_segments, runs
from continuum.catalog.ticks import settle

DEFAULT_STALE_AFTER = timedelta(minutes=2)
Seen = dict[str, tuple[datetime | None, str]]  # run_id -> (heartbeat judged by, reason)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 probes, never kills)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, it just isn't ours
        return True
    return True


class Liveness:
    """Marking runs that stopped without a word as crashed.

    ``stale_after``: a running run whose heartbeat is older is shown as crashed.
    ``check_local_pids``: judge runs of this host by whether their process exists
    instead (a SIGKILLed run shows ``crashed`` at once, a paused one never does).
    """

    def __init__(self, db: Database, stale_after: timedelta, check_local_pids: bool) -> None:
        self._db = db
        self.stale_after = stale_after
        self.check_local_pids = check_local_pids

    def mark_stale_crashed(self, older_than: timedelta | None = None) -> list[str]:
        """Mark every stale running run crashed; returns their ids."""
        return self._reap(None, older_than)

    def mark_crashed_if_stale(self, run_id: str, older_than: timedelta | None = None) -> bool:
        """Mark one run crashed if it is stale; True if it was."""
        return bool(self._reap(run_id, older_than))

    def _reap(self, run_id: str | None, older_than: timedelta | None) -> list[str]:
        cutoff = utcnow() - (older_than if older_than is not None else self.stale_after)
        seen = self._db.read(lambda conn: self._stale(conn, run_id, cutoff))
        if not seen:
            return []
        return self._db.write(lambda conn: _mark_crashed(conn, seen))

    def _stale(self, conn: Connection, run_id: str | None, cutoff: datetime) -> Seen:
        if run_id is not None:
            require_run(conn, run_id)
        cond = [runs.c.status == "running"]
        if run_id is not None:
            cond.append(runs.c.run_id == run_id)
        if not self.check_local_pids:
            cond.append(or_(runs.c.heartbeat_at.is_(None), runs.c.heartbeat_at < cutoff))
        query = select(runs.c.run_id, runs.c.heartbeat_at, runs.c.host, runs.c.pid).where(*cond)
        host = socket.gethostname()
        stale: Seen = {}
        for rid, beat, run_host, pid in conn.execute(query):
            if self.check_local_pids and run_host == host and pid:
                if not pid_alive(pid):
                    stale[rid] = (beat, f"process {pid} on {host} is gone")
                continue  # its process is alive here: the OS knows better than a heartbeat
            if beat is None or beat < cutoff:
                since = beat.isoformat() if beat else "its start"
                stale[rid] = (beat, f"no heartbeat since {since}")
        return stale


def _mark_crashed(conn: Connection, seen: Seen) -> list[str]:
    """Mark crashed the runs whose heartbeat is still the one they were judged by."""
    now = utcnow()
    marked = []
    for rid, (beat, reason) in seen.items():
        same_beat = runs.c.heartbeat_at.is_(None) if beat is None else runs.c.heartbeat_at == beat
        result = conn.execute(
            update(runs)
            .where(runs.c.run_id == rid, runs.c.status == "running", same_beat)
            .values(status="crashed", ended_at=beat or now)
        )
        if result.rowcount != 1:
            continue  # it sent a heartbeat or ended meanwhile
        conn.execute(
            update(run_segments)
            .where(run_segments.c.run_id == rid, run_segments.c.status == "running")
            .values(status="crashed", ended_at=beat or now)
        )
        settle(conn, rid)  # its range: where its checkpoints got it, not its last heartbeat
        add_audit(conn, "run-crashed", run_id=rid, detail=reason)
        marked.append(rid)
    return marked
