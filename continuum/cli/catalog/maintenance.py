"""``continuum catalog scan|verify|gc|rm|log``: the catalog held against the files on disk.

``scan`` adopts files into the catalog, ``verify`` checks both ways, ``gc`` finds what no
row accounts for (dry unless ``--delete``), ``rm`` deletes a whole run, and ``log`` shows
the audit trail all of these leave.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from continuum.catalog import Catalog
from continuum.cli._output import (
    BLOB_ROOT,
    catalog_option,
    echo,
    echo_done,
    echo_json,
    echo_table,
    format_bytes,
    format_time,
    json_option,
    progress,
    quiet_option,
)
from continuum.errors import CatalogError
from continuum.printable import message_line

if TYPE_CHECKING:  # maintenance imports numpy: only the commands that use it load it
    from continuum.maintenance import ScanReport, VerifyReport


@click.command("scan")
@click.argument("directory", metavar="DIR", type=BLOB_ROOT)
@json_option
@quiet_option
@catalog_option
def scan(directory: Path | str, as_json: bool, catalog_url: str | None) -> None:
    """Index checkpoint and lens directories (DIR: a root, or one run's directory).

    Reads each run's manifest.json and each checkpoint's or lens chunk's header,
    never a payload. Running it again changes nothing; a run already in the
    catalog only gets rows for new or rewritten files. Checkpoints whose header
    is bad are recorded as corrupt and reported; lens chunks that cannot be
    read are reported and left unrecorded.

    \b
    Example:
      continuum catalog scan ./checkpoints --catalog postgresql://me@db-host/continuum
    """
    if isinstance(directory, str):  # s3://: the catalog that wrote it is its index
        raise CatalogError(
            f"catalog scan indexes directories on this host, not {directory}: runs on "
            "object storage are recorded by the catalog that wrote them (their rows are "
            "the commit points); `continuum catalog verify --repair` adopts objects of "
            "known runs that no row lists"
        )
    with Catalog(catalog_url) as cat:
        from continuum import maintenance

        with progress("scanning run directories") as step:
            report = maintenance.scan(cat, directory, on_dir=step)
    if as_json:
        echo_json(report.to_dict())
    else:
        _print_scan(report)


def _print_scan(report: ScanReport) -> None:
    rows = [
        [r.action, r.run_id, "checkpoints", r.checkpoints_added, r.checkpoints_updated]
        + [r.checkpoint_dir]
        for r in report.runs
    ]
    rows += [
        [lens.action, lens.run_id, "lens chunks", lens.chunks_added, lens.chunks_updated]
        + [lens.lens_dir]
        for lens in report.lens_runs
    ]
    if rows:
        echo_table(["ACTION", "RUN_ID", "FILES", "ADDED", "RE-RECORDED", "DIR"], rows, (3, 4))
    for r in report.runs:
        for problem in r.corrupt:
            echo(f"corrupt ({r.run_id}): {message_line(problem)}")
    for warning in report.warnings:
        echo(f"warning: {message_line(warning)}", err=True)
    lens_dirs = f", {len(report.lens_runs)} lens director(ies)" if report.lens_runs else ""
    echo(f"{len(report.runs)} run(s) scanned{lens_dirs}")


@click.command("verify")
@click.option("--run", "run_id", metavar="ID", help="Only this run.")
@click.option(
    "--repair", is_flag=True, help="Settle rows (missing, corrupt, pruned...), record orphans."
)
@json_option
@quiet_option
@catalog_option
def verify(run_id: str | None, repair: bool, as_json: bool, catalog_url: str | None) -> None:
    """Check every checkpoint and lens chunk file the catalog lists, and find orphans.

    Each listed file must exist, have its recorded size and checksum and decode
    in full; files in a run's directories that no row lists (orphans) and
    temporaries of crashed writes are reported. Lens problems name the
    chunk's tick range.

    Exit code 1 when problems are found (with --repair: when some remain).
    --repair never deletes a checkpoint or lens chunk file that no row lists; an
    orphan lens chunk that does not verify is left in place and stays reported.

    \b
    Example:
      continuum catalog verify --run 20260116_095430_a1b2c3
      continuum catalog verify --repair --json
    """
    with Catalog(catalog_url) as cat:
        from continuum import maintenance

        with progress("verifying runs") as step:
            report = maintenance.verify(cat, run_id, repair=repair, on_run=step)
    if as_json:
        echo_json({**report.to_dict(), "clean": report.clean})
    else:
        _print_verify(report)
    if not report.clean:
        raise SystemExit(1)


def _print_verify(report: VerifyReport) -> None:
    for problem in report.problems:
        echo(message_line(problem.line()))
    repaired = sum(1 for p in report.problems if p.repaired)
    echo(
        f"checked {report.checkpoints} checkpoint(s) and {report.lens_chunks} lens chunk(s) "
        f"in {report.runs} run(s): {len(report.problems)} problem(s), {repaired} repaired"
    )


@click.command("gc")
@click.option("--delete", is_flag=True, help="Delete what is found (default: only list it).")
@json_option
@quiet_option
@catalog_option
def gc(delete: bool, as_json: bool, catalog_url: str | None) -> None:
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

        warnings: list[str] = []
        found = maintenance.gc(cat, delete=delete, warnings=warnings)
    for warning in warnings:
        echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json([s.to_dict() for s in found])
        return
    rows = [
        ["deleted" if s.deleted else ("NOT deleted" if delete else "stray")]
        + [s.kind, format_bytes(s.bytes), s.path]
        for s in found
    ]
    if rows:
        echo_table(["STATE", "KIND", "SIZE", "PATH"], rows, right=(2,))
    total = sum(s.bytes for s in found)
    verb = "deleted" if delete else "found (dry run; --delete to remove)"
    echo(f"{len(found)} stray files, {format_bytes(total)} {verb}")


@click.command("rm")
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Even if live, branched from or pinned.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed when stdin is not a terminal).")
@json_option
@quiet_option
@catalog_option
def rm(run_id: str, force: bool, yes: bool, as_json: bool, catalog_url: str | None) -> None:
    """Delete a run as a whole: its files (crash-safe), then its catalog rows.

    Files: checkpoints, lens chunks, and its Parquet exports (so the SQL views
    stop showing it); files this project did not write stay. Asks first unless
    --yes; without a terminal to ask on, it refuses without --yes.

    \b
    Example:
      continuum catalog rm 20260116_095430_a1b2c3
      continuum catalog rm 20260116_095430_a1b2c3 --yes --json
    """
    with Catalog(catalog_url) as cat:
        from continuum import maintenance

        if not yes:
            _confirm_rm(cat, run_id)
        report = maintenance.remove_run(cat, run_id, force=force)
    if as_json:
        out = {"run_id": run_id, "deleted": report.deleted, "bytes_freed": report.bytes_freed}
        echo_json(out, indent=None)
    else:
        echo_done(
            f"removed run {run_id}: {report.deleted} files, {format_bytes(report.bytes_freed)}"
        )


def _confirm_rm(cat: Catalog, run_id: str) -> None:
    """Ask on the terminal before ``rm`` deletes ``run_id`` (an unknown run fails first, as
    it would without asking); refuse when stdin is no terminal: a script must say --yes."""
    detail = cat.search.show(run_id)
    what = f"{len(detail.checkpoints)} checkpoint(s), {len(detail.lens_chunks)} lens chunk(s)"
    if not sys.stdin.isatty():
        raise CatalogError(
            f"catalog rm would delete run {run_id} ({what}) and stdin is not a terminal to "
            "ask on; pass --yes to delete it"
        )
    if not click.confirm(f"delete run {run_id}: {what} and its Parquet exports?", err=True):
        raise CatalogError(f"run {run_id} not removed: not confirmed")


@click.command("log")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only this run's entries.")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="Newest entries shown.",
)
@json_option
@quiet_option
@catalog_option
def log(run_id: str | None, limit: int, as_json: bool, catalog_url: str | None) -> None:
    """The audit log, newest first: every prune, deletion and crash detection.

    \b
    Example:
      continuum catalog log --run 20260116_095430_a1b2c3 --limit 20
    """
    with Catalog(catalog_url) as cat:
        entries = cat.audit.list(run_id, limit=limit)
    if as_json:
        echo_json([e.to_dict() for e in entries])
    elif not entries:
        echo("no entries")
    else:
        rows = [
            [format_time(e.at), e.action, e.run_id or "-", "-" if e.tick is None else e.tick]
            + [e.detail or e.path or ""]
            for e in entries
        ]
        echo_table(["AT (UTC)", "ACTION", "RUN_ID", "TICK", "DETAIL"], rows)


COMMANDS = (scan, verify, gc, rm, log)
