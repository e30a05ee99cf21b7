"""``continuum catalog``: list, show, search, tag, scan, verify and migrate the run catalog.

Options are parsed into catalog values (``SearchQuery``, ``ParamFilter``)
before the catalog is opened, so bad input fails without touching it. Output is
a table by default and JSON with ``--json``; the next-page cursor goes to
stderr so stdout stays one table or one JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from continuum.catalog import (
    Catalog,
    RunDetail,
    RunPage,
    RunRecord,
    SearchQuery,
    migrate_catalog,
    parse_param_filter,
)
from continuum.errors import InvalidFilterError

if TYPE_CHECKING:  # maintenance imports numpy: only the commands that need it load it
    from continuum.maintenance import ScanReport, VerifyReport

F = TypeVar("F", bound=Callable[..., Any])


def catalog_option(fn: F) -> F:
    return click.option(
        "--catalog",
        "catalog_url",
        metavar="URL",
        default=None,
        help="Catalog URL or SQLite file (default: $CONTINUUM_CATALOG, else "
        "~/.local/share/continuum/catalog.db).",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )


@click.group("catalog")
def catalog() -> None:
    """Find runs and checkpoints in the SQL run catalog.

    \b
    Example:
      continuum catalog list --limit 20
      continuum catalog search --world terra --param 'thermal.k>1e-4' --json
    """


@catalog.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--after", metavar="CURSOR", help="Continue after a page (cursor from stderr).")
@json_option
@catalog_option
def list_runs(limit: int, after: str | None, as_json: bool, catalog_url: str | None) -> None:
    """List runs, newest first, one page at a time.

    \b
    Example:
      continuum catalog list --limit 50
      continuum catalog list --limit 50 --after CURSOR --json
    """
    with Catalog(catalog_url) as cat:
        page = cat.search.list(limit=limit, after=after)
    _print_page(page, as_json)


@catalog.command("show")
@click.argument("run_id")
@json_option
@catalog_option
def show(run_id: str, as_json: bool, catalog_url: str | None) -> None:
    """Show one run: its segments, checkpoints, parent and branches.

    \b
    Example:
      continuum catalog show 20260116_095430_a1b2c3 --json
    """
    with Catalog(catalog_url) as cat:
        detail = cat.search.show(run_id)
    if as_json:
        click.echo(json.dumps(detail.to_dict(), indent=2))
    else:
        _print_detail(detail)


@catalog.command("search")
@click.option("--world", help="World name.")
@click.option("--ir-hash", "ir_hash", metavar="PREFIX", help="IR hash or a prefix of it.")
@click.option("--seed", type=int)
@click.option("--scenario", help="Scenario name.")
@click.option("--status", type=click.Choice(["running", "completed", "failed", "crashed"]))
@click.option("--tag", "tags", multiple=True, metavar="K=V", help="Tag equals (repeatable).")
@click.option(
    "--param", "params", multiple=True, metavar="EXPR", help="e.g. 'k>3', 'mode=fast' (repeatable)."
)
@click.option("--tick-covers", type=int, metavar="T", help="Runs whose tick range holds T.")
@click.option("--has-checkpoint-after", type=int, metavar="T", help="A checkpoint at tick >= T.")
@click.option("--started-after", metavar="ISO", help="Started at or after (UTC if no zone).")
@click.option("--started-before", metavar="ISO", help="Started before (UTC if no zone).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--after", metavar="CURSOR", help="Continue after a page (cursor from stderr).")
@json_option
@catalog_option
def search(
    limit: int, after: str | None, as_json: bool, catalog_url: str | None, **filters: Any
) -> None:
    """Search runs; all filters must hold. Newest first, paginated.

    \b
    Example:
      continuum catalog search --world terra --status completed --param 'seed_count>=3'
      continuum catalog search --tag owner=ana --has-checkpoint-after 10000 --json
    """
    query = _query(**filters)
    with Catalog(catalog_url) as cat:
        page = cat.search.find(query, limit=limit, after=after)
    _print_page(page, as_json)


@catalog.command("tag")
@click.argument("run_id")
@click.argument("pairs", nargs=-1, metavar="K=V...")
@click.option("--delete", "remove", multiple=True, metavar="KEY", help="Remove a tag.")
@json_option
@catalog_option
def tag(
    run_id: str, pairs: Sequence[str], remove: Sequence[str], as_json: bool, catalog_url: str | None
) -> None:
    """Set (or --delete) tags on a run.

    \b
    Example:
      continuum catalog tag 20260116_095430_a1b2c3 owner=ana purpose=baseline
    """
    tags = dict(_pair(p, "tag") for p in pairs)
    if not tags and not remove:
        raise InvalidFilterError("nothing to do: give K=V pairs or --delete KEY")
    with Catalog(catalog_url) as cat:
        run = cat.runs.set_tags(run_id, tags, remove=remove)
    if as_json:
        click.echo(json.dumps(run.tags, indent=2, sort_keys=True))
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in sorted(run.tags.items())) or "(no tags)")


@catalog.command("scan")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@json_option
@catalog_option
def scan(directory: Path, as_json: bool, catalog_url: str | None) -> None:
    """Index checkpoint directories (DIR: a checkpoint root or one run's directory).

    Reads each run's manifest.json and each checkpoint's header, never a
    payload. Running it again changes nothing; a run already in the catalog
    only gets rows for new or rewritten files. Files whose header is bad are
    recorded as corrupt and reported.

    \b
    Example:
      continuum catalog scan ./checkpoints --catalog postgresql://me@db-host/continuum
    """
    with Catalog(catalog_url) as cat:
        from continuum import maintenance

        report = maintenance.scan(cat, directory)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_scan(report)


@catalog.command("verify")
@click.option("--run", "run_id", metavar="ID", help="Only this run.")
@click.option(
    "--repair", is_flag=True, help="Settle rows (missing, corrupt, pruned...), record orphans."
)
@json_option
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

        report = maintenance.verify(cat, run_id, repair=repair)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "clean": report.clean}, indent=2))
    else:
        _print_verify(report)
    if not report.clean:
        raise SystemExit(1)


@catalog.command("migrate")
@json_option
@catalog_option
def migrate(as_json: bool, catalog_url: str | None) -> None:
    """Create the catalog schema, or upgrade it to this version's newest revision.

    \b
    Example:
      continuum catalog migrate --catalog postgresql://me@db-host/continuum
    """
    where, before, after = migrate_catalog(catalog_url)
    if as_json:
        click.echo(json.dumps({"catalog": where, "before": before, "after": after}))
    elif before == after:
        click.echo(f"catalog {where} is at revision {after}; nothing to do")
    else:
        click.echo(f"catalog {where} upgraded from {before or 'empty'} to {after}")


def _print_scan(report: ScanReport) -> None:
    for r in report.runs:
        counts = f"{r.checkpoints_added} added, {r.checkpoints_updated} re-recorded"
        click.echo(f"{r.action:<9} {r.run_id}  {counts}  {r.checkpoint_dir}")
        for problem in r.corrupt:
            click.echo(f"  corrupt: {problem}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{len(report.runs)} run(s) scanned")


def _print_verify(report: VerifyReport) -> None:
    for problem in report.problems:
        click.echo(problem.line())
    repaired = sum(1 for p in report.problems if p.repaired)
    click.echo(
        f"checked {report.checkpoints} checkpoint(s) and {report.lens_chunks} lens chunk(s) "
        f"in {report.runs} run(s): {len(report.problems)} problem(s), {repaired} repaired"
    )


def _pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidFilterError(f"malformed {what} {text!r}: expected KEY=VALUE")
    return key, value


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidFilterError(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-01-16T09:54:30Z)"
        ) from exc
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _query(**f: Any) -> SearchQuery:
    return SearchQuery(
        world=f["world"],
        ir_hash=f["ir_hash"],
        seed=f["seed"],
        scenario=f["scenario"],
        status=f["status"],
        tags=tuple(_pair(t, "--tag") for t in f["tags"]),
        params=tuple(parse_param_filter(p) for p in f["params"]),
        tick_covers=f["tick_covers"],
        has_checkpoint_after=f["has_checkpoint_after"],
        started_after=_when(f["started_after"], "--started-after"),
        started_before=_when(f["started_before"], "--started-before"),
    )


def _time(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [list(header)] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _run_row(r: RunRecord) -> list[Any]:
    ticks = f"{r.first_tick}-{r.last_tick}"
    return [r.run_id, r.world, r.ir_hash[:12], r.seed, r.status, ticks, _time(r.started_at)]


def _print_page(page: RunPage, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in page.runs], indent=2))
    elif page.runs:
        header = ["RUN_ID", "WORLD", "IR_HASH", "SEED", "STATUS", "TICKS", "STARTED (UTC)"]
        _table(header, [_run_row(r) for r in page.runs])
    else:
        click.echo("no runs")
    if page.next_cursor:
        click.echo(f"next page: --after {page.next_cursor}", err=True)


def _print_detail(d: RunDetail) -> None:
    r = d.run
    for key in ("run_id", "world", "ir_hash", "seed", "scenario", "status", "host", "pid"):
        click.echo(f"{key + ':':<16}{getattr(r, key)}")
    click.echo(f"{'ticks:':<16}{r.first_tick}-{r.last_tick}")
    click.echo(f"{'started:':<16}{_time(r.started_at)}  ended: {_time(r.ended_at)}")
    click.echo(f"{'checkpoints in:':<16}{r.checkpoint_dir or '-'}")
    if r.parent_run_id:
        click.echo(f"{'branched from:':<16}{r.parent_run_id} @ tick {r.parent_checkpoint_tick}")
    for child in d.children:
        click.echo(f"{'branch:':<16}{child.run_id} @ tick {child.parent_checkpoint_tick}")
    for label, mapping in (("tags:", r.tags), ("params:", r.params)):
        if mapping:
            click.echo(f"{label:<16}" + " ".join(f"{k}={v}" for k, v in sorted(mapping.items())))
    click.echo("\nsegments:")
    seg_rows = [
        [s.ordinal, s.status, f"{s.start_tick}-{s.end_tick if s.end_tick is not None else ''}"]
        + [s.resumed_from_tick if s.resumed_from_tick is not None else "-", s.host, s.pid]
        for s in d.segments
    ]
    _table(["#", "STATUS", "TICKS", "RESUMED_FROM", "HOST", "PID"], seg_rows)
    click.echo(f"\ncheckpoints ({len(d.checkpoints)}):")
    ck_rows = [
        [c.tick, c.sim_time, c.era or "-", c.state + (" pinned" if c.pinned else "")]
        + [c.bytes_on_disk, c.path]
        for c in d.checkpoints
    ]
    _table(["TICK", "SIM_TIME", "ERA", "STATE", "BYTES", "PATH"], ck_rows)


from continuum.cli.catalog_retention import register  # noqa: E402 (needs `catalog` above)

register(catalog)
