"""``continuum catalog prune|log|gc|rm``: deleting what the policies do not keep.

``prune --dry-run`` prints, per run, every committed checkpoint with the
rules that keep it (``keep-last``, ``pinned``, ``lineage``, ``newest``...) or
``delete`` and the bytes it would free, and deletes nothing.
"""

from __future__ import annotations

import json

import click

from continuum.catalog import Catalog, PruneReport
from continuum.cli.catalog import _table, _time, catalog_option, json_option
from continuum.errors import InvalidFilterError


def human(n: int) -> str:
    """Bytes as a short, readable size (1024-based, like the option values)."""
    size = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}iB"
        size /= 1024
    raise AssertionError("unreachable")


@click.command("prune")
@click.option("--run", "run_id", metavar="RUN_ID", help="Prune one run.")
@click.option("--world", metavar="NAME", help="Prune every run of a world.")
@click.option("--all", "everything", is_flag=True, help="Prune every run.")
@click.option(
    "--dry-run", is_flag=True, help="Print what would be kept and deleted; delete nothing."
)
@json_option
@catalog_option
def prune(run_id, world, everything, dry_run, as_json, catalog_url) -> None:
    """Delete checkpoints (and lens chunks) that no rule of the applying policy keeps.

    Pinned checkpoints, those another run branched or resumed from, the newest
    of each run and anything not committed are never deleted. Crash-safe: an
    interrupted prune is finished by the next one (or catalog verify --repair).

    \b
    Example:
      continuum catalog prune --all --dry-run
      continuum catalog prune --world terra --json
    """
    if sum(map(bool, (run_id, world, everything))) != 1:
        raise InvalidFilterError("give exactly one of --run ID, --world NAME or --all")
    with Catalog(catalog_url) as cat:
        report = cat.retention.prune([run_id] if run_id else None, world, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)


def _print_report(report: PruneReport) -> None:
    for kind, plan in report.plans:
        what = "checkpoints" if kind == "checkpoint" else "lens chunks"
        click.echo(
            f"run {plan.run_id} {what} (policy: {plan.policy or 'none'}): keep {len(plan.kept)}, "
            f"delete {len(plan.delete)} ({human(plan.bytes_freed)})"
        )
        if report.dry_run:
            rows = [["keep", i.tick, ",".join(r)] for i, r in plan.kept]
            rows += [["delete", i.tick, human(i.size)] for i in plan.delete]
            _table(["  ACTION", "TICK", "WHY / BYTES"], [["  " + a, t, w] for a, t, w in rows])
    if report.finished:
        click.echo(f"finished {report.finished} deletions left by an interrupted prune")
    verb = "would delete" if report.dry_run else "deleted"
    count = sum(len(p.delete) for _, p in report.plans) if report.dry_run else report.deleted
    click.echo(f"{verb} {count} files, {human(report.bytes_freed)}")
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)


@click.command("log")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only this run's entries.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@catalog_option
def log(run_id, limit, as_json, catalog_url) -> None:
    """The audit log, newest first: every prune, deletion and crash detection.

    \b
    Example:
      continuum catalog log --run 20260116_095430_a1b2c3 --limit 20
    """
    with Catalog(catalog_url) as cat:
        entries = cat.audit.list(run_id, limit=limit)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
    elif not entries:
        click.echo("no entries")
    else:
        rows = [
            [_time(e.at), e.action, e.run_id or "-", "-" if e.tick is None else e.tick]
            + [e.detail or e.path or ""]
            for e in entries
        ]
        _table(["AT (UTC)", "ACTION", "RUN_ID", "TICK", "DETAIL"], rows)


@click.command("gc")
@click.option("--delete", is_flag=True, help="Delete what is found (default: only list it).")
@json_option
@catalog_option
def gc(delete, as_json, catalog_url) -> None:
    """Find files in known run directories that no catalog row accounts for.

    Only this project's names: atomic-write temporaries older than an hour,
    checkpoint files no row references (adopt those with catalog scan), and
    Parquet exports of runs the catalog removed, in the export roots it knows.

    \b
    Example:
      continuum catalog gc
      continuum catalog gc --delete
    """
    with Catalog(catalog_url) as cat:
        from continuum import maintenance

        found = maintenance.gc(cat, delete=delete)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found], indent=2))
        return
    for s in found:
        state = "deleted" if s.deleted else ("NOT deleted" if delete else "stray")
        click.echo(f"{state:<12}{s.kind:<12}{human(s.bytes):>10}  {s.path}")
    total = sum(s.bytes for s in found)
    verb = "deleted" if delete else "found (dry run; --delete to remove)"
    click.echo(f"{len(found)} stray files, {human(total)} {verb}")


@click.command("rm")
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Even if live, branched from or pinned.")
@json_option
@catalog_option
def rm(run_id, force, as_json, catalog_url) -> None:
    """Delete a run as a whole: its files (crash-safe), then its catalog rows.

    Files: checkpoints, lens chunks, and its Parquet exports (so the SQL views
    stop showing it); files this project did not write stay.

    \b
    Example:
      continuum catalog rm 20260116_095430_a1b2c3
    """
    with Catalog(catalog_url) as cat:
        from continuum import maintenance

        report = maintenance.remove_run(cat, run_id, force=force)
    if as_json:
        out = {"run_id": run_id, "deleted": report.deleted, "bytes_freed": report.bytes_freed}
        click.echo(json.dumps(out))
    else:
        click.echo(f"removed run {run_id}: {report.deleted} files, {human(report.bytes_freed)}")
