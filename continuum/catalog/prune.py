"""Executing retention: plan from the catalog, then mark, delete, mark done.

The protocol per batch of rows, crash-safe at every instant:

1. *claim*: one ``UPDATE ... SET state='deleting' WHERE id IN (...) AND
   state='committed'`` (and, for checkpoints, not pinned and not branched
   from) with ``RETURNING``, plus its audit entries, in one transaction. Only
   the rows this process changed are its to delete, so two prunes racing on a
   run never both delete a file or both log it;
2. unlink each claimed file (already gone is fine);
3. *finish*: ``UPDATE ... SET state='pruned' WHERE id IN (...) AND
   state='deleting'``, plus audit entries. A file that cannot be unlinked
   (permissions...) goes back to ``committed`` and is reported.

A crash between 1 and 3 leaves ``deleting`` rows, never a ``committed`` row
whose file is gone; every prune first finishes leftover ``deleting`` rows
(as ``catalog verify --repair`` does). Statements are batched by id (not per
row, not per run), so pruning costs little more than the unlinks themselves.
Only rows the catalog holds are ever unlinked, at the path the row names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, exists, select, update

from continuum.catalog._base import CatalogBase, new_id, require_run, utcnow
from continuum.catalog.models import audit_log, runs
from continuum.catalog.planning import KINDS, Kind, plan_runs
from continuum.catalog.policies import RetentionRules
from continuum.catalog.retention import Plan
from continuum.errors import CatalogError

log = logging.getLogger("continuum.catalog")
BATCH = 500  # ids per statement: well under SQLite's bound-parameter limit


@dataclass
class PruneReport:
    """What a prune (or its dry run) decided and did."""

    plans: list[tuple[str, Plan]] = field(default_factory=list)  # (kind, plan)
    dry_run: bool = False
    deleted: int = 0
    bytes_freed: int = 0
    finished: int = 0  # leftover ``deleting`` rows completed first
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "runs": [{"kind": k, **p.to_dict()} for k, p in self.plans],
            "deleted": self.deleted,
            "bytes_freed": self.bytes_freed,
            "finished_leftovers": self.finished,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class Target:
    """One row to delete: its id, run, stored path, the file to unlink, why."""

    id: str
    run_id: str
    tick: int
    path: str
    file: str | None
    size: int = 0
    detail: str | None = None


def _batches(seq: Sequence[Any], n: int = BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def file_of(run_dir: str | None, path: str) -> str | None:
    """The absolute file a row names, or None when it cannot be known for sure."""
    full = os.path.join(run_dir, path) if run_dir else path
    return full if os.path.isabs(full) else None


def _claim_guard(kind: Kind) -> list[Any]:
    """Conditions re-checked at claim time: a pin or branch made since planning wins."""
    t = kind.table
    if kind.name != "checkpoint":
        return []
    child = exists(
        select(runs.c.run_id).where(
            runs.c.parent_run_id == t.c.run_id, runs.c.parent_checkpoint_tick == t.c.tick
        )
    ).correlate(t)
    return [t.c.pinned.is_(False), ~child]


def _audit(conn: Connection, kind: Kind, state: str, rows: Sequence[Target]) -> None:
    if rows:
        now = utcnow()
        action = f"{kind.name}-{state}"
        conn.execute(
            audit_log.insert(),
            [
                {"id": new_id(), "at": now, "action": action, "run_id": r.run_id}
                | {"tick": r.tick, "path": r.path, "detail": r.detail}
                for r in rows
            ],
        )


def _move(
    conn: Connection,
    kind: Kind,
    rows: Sequence[Target],
    old: str | tuple[str, ...],
    new: str,
    guard: Sequence[Any] = (),
) -> list[Target]:
    """Move ``rows`` from ``old`` to ``new`` where they still are ``old``; the moved ones."""
    t = kind.table
    by_id = {r.id: r for r in rows}
    olds = (old,) if isinstance(old, str) else old
    stmt = (
        update(t)
        .where(t.c.id.in_(list(by_id)), t.c.state.in_(olds), *guard)
        .values(state=new)
        .returning(t.c.id)
    )
    moved = [by_id[i] for i in conn.execute(stmt).scalars()]
    if new in ("deleting", "pruned"):
        _audit(conn, kind, new, moved)
    return moved


def _unlink(rows: Sequence[Target]) -> tuple[list[Target], list[tuple[Target, str]]]:
    done, failed = [], []
    for r in rows:
        if r.file is None:
            failed.append((r, f"{r.path}: not an absolute path; left in place"))
            continue
        try:
            os.unlink(r.file)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append((r, f"{r.file}: {exc.strerror or exc}"))
            continue
        done.append(r)
    return done, failed


class PruneOps(CatalogBase):
    """``prune``, its dry run, and the writer thread's ``apply_retention``."""

    def _delete_rows(self, kind: Kind, rows: Sequence[Target], report: PruneReport) -> None:
        """Claim, unlink, finish — batch by batch (see the module docstring)."""
        guard = _claim_guard(kind)
        for batch in _batches(rows):
            mine = self._write(lambda c, b=batch: _move(c, kind, b, "committed", "deleting", guard))
            self._finish(kind, mine, report)

    def _finish(self, kind: Kind, rows: Sequence[Target], report: PruneReport) -> int:
        """Unlink claimed rows' files and mark them pruned (or back to committed)."""
        if not rows:
            return 0
        done, failed = _unlink(rows)
        back = [r for r, _ in failed]

        def op(conn: Connection) -> list[Target]:
            if back:
                _move(conn, kind, back, "deleting", "committed")
            return _move(conn, kind, done, "deleting", "pruned")

        pruned = self._write(op)
        report.deleted += len(pruned)
        report.bytes_freed += sum(r.size for r in pruned)
        report.errors += [msg for _, msg in failed]
        return len(pruned)

    def finish_deleting(self, run_ids: Sequence[str] | None = None) -> PruneReport:
        """Complete rows left ``deleting`` by a crash: unlink their files, mark them pruned."""
        report = PruneReport()
        for kind in KINDS:
            rows = self._read(lambda c, k=kind: rows_in(c, k, "deleting", run_ids))
            for batch in _batches(rows):
                report.finished += self._finish(kind, batch, report)
        report.deleted = 0
        report.bytes_freed = 0
        return report

    def plan_retention(
        self, run_ids: Sequence[str] | None = None, world: str | None = None
    ) -> list[tuple[str, Plan]]:
        """The plans for the chosen runs (all runs by default): (kind, plan) pairs."""
        return self._read(lambda conn: plan_runs(conn, run_ids, world))

    def prune(
        self,
        run_ids: Sequence[str] | None = None,
        world: str | None = None,
        *,
        dry_run: bool = False,
    ) -> PruneReport:
        """Apply the retention policies to the chosen runs (all by default)."""
        if run_ids is not None:
            self._read(lambda conn: [require_run(conn, r) for r in run_ids])
        finished = 0 if dry_run else self.finish_deleting(run_ids).finished
        report = PruneReport(self.plan_retention(run_ids, world), dry_run, finished=finished)
        if dry_run:
            report.bytes_freed = sum(p.bytes_freed for _, p in report.plans)
            return report
        for kind in KINDS:
            rows = _targets(self, kind, [p for k, p in report.plans if k == kind.name])
            self._delete_rows(kind, rows, report)
        return report


def rows_in(
    conn: Connection,
    kind: Kind,
    states: str | tuple[str, ...],
    run_ids: Sequence[str] | None,
    detail: str | None = None,
) -> list[Target]:
    """Targets for the rows of ``kind`` in ``states`` (of ``run_ids``, or of every run)."""
    t = kind.table
    states = (states,) if isinstance(states, str) else states
    cols = (t.c.id, t.c.run_id, t.c[kind.tick_col], t.c.path, t.c[kind.size_col], kind.dir_col)
    stmt = select(*cols).join(runs, runs.c.run_id == t.c.run_id).where(t.c.state.in_(states))
    if run_ids is not None:
        stmt = stmt.where(t.c.run_id.in_(list(run_ids)))
    return [
        Target(i, r, tick, p, file_of(d, p), size, detail)
        for i, r, tick, p, size, d in conn.execute(stmt)
    ]


def _targets(cat: PruneOps, kind: Kind, plans: Sequence[Plan]) -> list[Target]:
    """Rows to claim for ``plans``: paths and run directories read in one query."""
    ids = {i.key: (p, i) for p in plans for i in p.delete}
    if not ids:
        return []
    t = kind.table
    out: list[Target] = []

    def op(conn: Connection) -> None:
        for batch in _batches(list(ids)):
            stmt = (
                select(t.c.id, t.c.path, kind.dir_col)
                .join(runs, runs.c.run_id == t.c.run_id)
                .where(and_(t.c.id.in_(batch)))
            )
            for rid, path, run_dir in conn.execute(stmt):
                plan, item = ids[rid]
                detail = f"retention: policy of {plan.policy}"
                out.append(
                    Target(
                        rid, plan.run_id, item.tick, path, file_of(run_dir, path), item.size, detail
                    )
                )

    cat._read(op)
    return out


def apply_retention(catalog: PruneOps, run_id: str) -> PruneReport:
    """Prune one run now (the checkpoint writer calls this after each commit)."""
    return catalog.prune([run_id])


def retention_callback(catalog: Any, run_id: str, keep_last: int) -> Callable[[object], None]:
    """``--keep-checkpoints N``: merge keep-last N into the run's policy, and a commit
    callback that applies the policy (on the writer thread, off the tick loop)."""
    try:
        catalog.set_policy("run", run_id, RetentionRules(keep_last=keep_last), merge=True)
    except CatalogError as exc:  # the run goes on; its checkpoints are kept until a prune
        log.warning("catalog: could not set keep-last %d for run %s: %s", keep_last, run_id, exc)
    return lambda _committed: apply_retention(catalog, run_id)
