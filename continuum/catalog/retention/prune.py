"""Executing retention: plan from the catalog, then mark, delete, mark done.

The protocol per batch of rows, crash-safe at every instant:

1. *claim*: one ``UPDATE ... SET state='deleting' WHERE <these rows> AND
   state='committed' AND NOT pinned ... RETURNING id`` (branch points
   re-checked in the same transaction), plus audit entries, committed. Only
   the rows this process changed are its to delete, so two prunes racing on a
   run never both claim a row, and each deletion is logged once;
2. unlink each claimed file (already gone is fine);
3. *finish*: ``UPDATE ... SET state='pruned' WHERE <these rows> AND
   state='deleting'``, plus audit entries. A file that cannot be unlinked
   (permissions...) goes back to ``committed`` and is reported.

A crash between 1 and 3 leaves ``deleting`` rows, never a ``committed`` row
whose file is gone; every prune first finishes leftover ``deleting`` rows
(as ``catalog verify --repair`` does). Rows move one statement a run (see
``_claims.py``), and while a helper process unlinks one batch this process
claims the next and finishes the previous one (``_unlinker.py``), so a prune
costs little more than its unlinks. Only rows the catalog holds are ever unlinked, and only
a checkpoint or lens file name directly in the run's own directory ``{root}/{run_id}``,
opened without following a link (``_unlinker.py``); anything else is left in place with
one report line and a ``{kind}-refused`` audit entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from continuum.catalog.audit import add_audit
from continuum.catalog.blob_rows import KINDS, BlobKind
from continuum.catalog.db import Database, require_run
from continuum.catalog.db.models import runs
from continuum.catalog.retention._claims import Group, batches, move, run_base
from continuum.catalog.retention._unlinker import Unlinked, Unlinker, unlink_here
from continuum.catalog.retention.planning import plan_runs
from continuum.catalog.retention.rules import Item, Plan

BATCH = 5_000  # rows per transaction: a crash leaves at most a few batches to finish
#: from this many rows on, the helper process unlinks (with threads: on a disk an unlink
#: waits ~2 ms on the filesystem, see ``_unlink_worker.py``); fewer (a run's writer
#: thread, a handful of files) are unlinked here, without a process to start
HELPER_ROWS = 256


@dataclass
class PruneReport:
    """What a prune (or its dry run) decided and did."""

    plans: list[tuple[str, Plan]] = field(default_factory=list)  # (kind, plan)
    dry_run: bool = False
    deleted: int = 0
    bytes_freed: int = 0
    finished: int = 0  # leftover ``deleting`` rows completed first
    errors: list[str] = field(default_factory=list)
    export_files: int = 0  # Parquet parts of pruned lens chunks (continuum.maintenance.prune)
    export_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "runs": [{"kind": k, **p.to_dict()} for k, p in self.plans],
            "deleted": self.deleted,
            "bytes_freed": self.bytes_freed,
            "finished_leftovers": self.finished,
            "export_files_removed": self.export_files,
            "export_bytes_freed": self.export_bytes,
            "errors": self.errors,
        }


Claim = tuple[str | tuple[str, ...], bool] | None  # (states claimed from, guard) or no claim


class Retention:
    """``prune``, its dry run, and what the writer thread and ``catalog rm`` delete with."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _claim_batch(self, kind: BlobKind, groups: Sequence[Group], claim: Claim) -> list[Group]:
        if claim is None:  # already ``deleting``: a crashed prune's, to finish
            return list(groups)
        old, guard = claim
        return self._db.write(lambda c: move(c, kind, groups, old, "deleting", guard=guard))

    def _settle_batch(
        self, kind: BlobKind, done: list[Group], failed: list[tuple[Group, str]]
    ) -> list[Group]:
        def op(conn: Connection) -> list[Group]:
            if conn.dialect.name == "postgresql" and not failed:
                # no need to wait for the WAL flush: lost in a server crash, these rows
                # are left ``deleting``, which the next prune finishes (files already gone)
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            move(conn, kind, [g for g, _ in failed], "deleting", "committed")
            for run_id, why in dict.fromkeys((g.run_id, why) for g, why in failed):
                add_audit(conn, f"{kind.name}-refused", run_id=run_id, detail=why)
            return move(conn, kind, done, "deleting", "pruned")

        return self._db.write(op)

    def _settled(self, kind: BlobKind, unlinked: Unlinked, report: PruneReport) -> int:
        """Settle a batch after its unlinks; rows pruned. Files left in place (refused, or
        not removable) put their rows back to ``committed``, one audit entry and one
        report line per reason (a symlinked run directory is one line, not one a file)."""
        done, failed = unlinked
        return _tally(report, self._settle_batch(kind, done, failed), failed)

    def delete_rows(
        self,
        kind: BlobKind,
        groups: Sequence[Group],
        report: PruneReport,
        claim: Claim,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Claim, unlink, settle batch by batch; rows pruned. A child process unlinks each
        batch (its threads in parallel) while this one claims the next and settles the
        previous (see ``_unlinker.py``), from two batches or :data:`HELPER_ROWS` rows on.
        ``on_batch(rows)``: after each batch is settled,
        with the rows it held (a progress bar's feed)."""
        parts = list(batches(groups, BATCH))
        tick = on_batch or (lambda _rows: None)
        if len(parts) <= 1 and sum(len(g.items) for g in groups) < HELPER_ROWS:  # tiny: here
            pruned = 0
            for p in parts:
                pruned += self._settled(
                    kind, unlink_here(self._claim_batch(kind, p, claim)), report
                )
                tick(sum(len(g.items) for g in p))
            return pruned
        pruned = 0
        with Unlinker() as unlinker:
            unlinker.send(self._claim_batch(kind, parts[0], claim))
            for i in range(len(parts)):
                following = parts[i + 1] if i + 1 < len(parts) else None
                claimed = self._claim_batch(kind, following, claim) if following else None
                unlinked = unlinker.receive()
                if claimed is not None:
                    unlinker.send(claimed)
                pruned += self._settled(kind, unlinked, report)
                tick(sum(len(g.items) for g in parts[i]))
        return pruned

    def rows_in(
        self,
        kind: BlobKind,
        states: str | tuple[str, ...],
        run_ids: Sequence[str] | None,
        detail: str | None = None,
    ) -> list[Group]:
        """The rows of ``kind`` in ``states`` (of ``run_ids``, or of every run), by run."""
        return self._db.read(lambda conn: rows_in(conn, kind, states, run_ids, detail))

    def finish_deleting(self, run_ids: Sequence[str] | None = None) -> int:
        """Complete rows left ``deleting`` by a crash: unlink their files, mark them pruned."""
        scratch, finished = PruneReport(), 0
        for kind in KINDS:
            rows = self.rows_in(kind, "deleting", run_ids)
            finished += self.delete_rows(kind, rows, scratch, None)
        return finished

    def plan(
        self,
        run_ids: Sequence[str] | None = None,
        world: str | None = None,
        chunk_sizes: Mapping[str, int] | None = None,
    ) -> list[tuple[str, Plan]]:
        """The plans for the chosen runs (all runs by default): (kind, plan) pairs.

        ``chunk_sizes`` (run_id -> lens chunk size) lets lens rules count chunk windows;
        :func:`continuum.maintenance.prune` reads them from the lens manifests.
        """
        return self._db.read(lambda conn: plan_runs(conn, run_ids, world, chunk_sizes))

    def prune(
        self,
        run_ids: Sequence[str] | None = None,
        world: str | None = None,
        *,
        dry_run: bool = False,
        chunk_sizes: Mapping[str, int] | None = None,
        on_rows: Callable[[int, int], None] | None = None,
    ) -> PruneReport:
        """Apply the retention policies to the chosen runs (all by default).

        Only rows and files: the lens manifests and Parquet exports of pruned chunks are
        :func:`continuum.maintenance.prune`'s (the catalog reads neither). ``on_rows(done,
        total)``: the planned deletions, before the first and after each batch.
        """
        if run_ids is not None:
            self._db.read(lambda conn: [require_run(conn, r) for r in run_ids])
        finished = 0 if dry_run else self.finish_deleting(run_ids)
        plans = self.plan(run_ids, world, chunk_sizes)
        report = PruneReport(plans, dry_run, finished=finished)
        if dry_run:
            report.bytes_freed = sum(p.bytes_freed for _, p in report.plans)
            return report
        return self.execute(report, on_rows)

    def execute(
        self, report: PruneReport, on_rows: Callable[[int, int], None] | None = None
    ) -> PruneReport:
        """Delete what ``report.plans`` (from :meth:`plan`) delete, into ``report``;
        ``on_rows(done, total)`` as in :meth:`prune`."""
        targets = [(k, _targets([p for n, p in report.plans if n == k.name])) for k in KINDS]
        total = sum(len(g.items) for _, groups in targets for g in groups)
        done = [0]

        def step(rows: int) -> None:
            done[0] += rows
            if on_rows is not None:
                on_rows(done[0], total)

        step(0)
        for kind, rows in targets:
            self.delete_rows(kind, rows, report, ("committed", True), step)
        return report


def _tally(report: PruneReport, pruned: list[Group], failed: list[tuple[Group, str]]) -> int:
    rows = sum(len(g.items) for g in pruned)
    report.deleted += rows
    report.bytes_freed += sum(i.size for g in pruned for i in g.items)
    report.errors += [m for m in dict.fromkeys(m for _, m in failed) if m not in report.errors]
    return rows


def rows_in(
    conn: Connection,
    kind: BlobKind,
    states: str | tuple[str, ...],
    run_ids: Sequence[str] | None,
    detail: str | None = None,
) -> list[Group]:
    """The rows of ``kind`` in ``states`` (of ``run_ids``, or of every run), by run."""
    t = kind.table
    states = (states,) if isinstance(states, str) else states
    cols = (t.c.run_id, kind.dir_col, t.c.id, t.c[kind.tick_col], t.c.path, t.c[kind.size_col])
    stmt = select(*cols).join(runs, runs.c.run_id == t.c.run_id).where(t.c.state.in_(states))
    if run_ids is not None:
        stmt = stmt.where(t.c.run_id.in_(list(run_ids)))
    items: dict[str, list[Item]] = {}
    bases: dict[str, str | None] = {}
    for run_id, run_dir, key, tick, path, size in conn.execute(stmt):
        items.setdefault(run_id, []).append(Item(key, tick, None, size, False, path))
        bases[run_id] = run_base(run_dir)
    return [Group(r, bases[r], mine, detail) for r, mine in items.items()]


def _targets(plans: Sequence[Plan]) -> list[Group]:
    """The rows ``plans`` delete, a group per run (the plans' own items: no copying)."""
    return [
        Group(p.run_id, run_base(p.run_dir), p.delete, f"retention: policy of {p.policy}")
        for p in plans
        if p.delete
    ]
