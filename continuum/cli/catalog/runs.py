"""``continuum catalog list|show|search|tag``: finding runs and labelling them.

Options are parsed into catalog values (``SearchQuery``, ``ParamFilter``)
before the catalog is opened, so bad input fails without touching it. Output is
a table by default and JSON with ``--json``; the next-page cursor goes to
stderr so stdout stays one table or one JSON document.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from continuum.catalog import (
    RUN_STATUSES,
    Catalog,
    RunDetail,
    RunPage,
    RunRecord,
    SearchQuery,
    parse_param_filter,
)
from continuum.cli._output import (
    NATURAL,
    catalog_option,
    echo,
    echo_json,
    echo_table,
    format_bytes,
    format_time,
    json_option,
    quiet_option,
)
from continuum.errors import InvalidFilterError


@click.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="Runs per page (1-10000); the next page's cursor goes to stderr.",
)
@click.option("--after", metavar="CURSOR", help="Continue after a page (cursor from stderr).")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs in this state.")
@json_option
@quiet_option
@catalog_option
def list_runs(
    limit: int, after: str | None, status: str | None, as_json: bool, catalog_url: str | None
) -> None:
    """List runs, newest first, one page at a time.

    \b
    Example:
      continuum catalog list --limit 50
      continuum catalog list --limit 50 --after CURSOR --json
      continuum catalog list --status stopped
    """
    with Catalog(catalog_url) as cat:
        page = cat.search.list(limit=limit, after=after, status=status)
    _print_page(page, as_json)


@click.command("show")
@click.argument("run_id")
@json_option
@quiet_option
@catalog_option
def show(run_id: str, as_json: bool, catalog_url: str | None) -> None:
    """Show one run: its segments, checkpoints, lens gaps, parent and branches.

    \b
    Example:
      continuum catalog show 20260116_095430_a1b2c3 --json
    """
    with Catalog(catalog_url) as cat:
        detail = cat.search.show(run_id)
        gaps = cat.lens_gaps.list(run_id)
    if as_json:
        echo_json({**detail.to_dict(), "lens_gaps": [g.to_dict() for g in gaps]})
    else:
        _print_detail(detail)
        echo()
        echo(f"lens gaps ({len(gaps)}):")
        gap_rows = [[f"[{g.start_tick}, {g.end_tick})", g.cause] for g in gaps]
        echo_table(["TICKS", "CAUSE"], gap_rows)


@click.command("search")
@click.option("--world", help="World name.")
@click.option("--ir-hash", "ir_hash", metavar="PREFIX", help="IR hash or a prefix of it.")
@click.option("--seed", type=NATURAL, help="Runs of this seed.")
@click.option("--scenario", help="Scenario name.")
@click.option(
    "--status",
    type=click.Choice(RUN_STATUSES),
    help="Runs in this state (crashed: its process died without ending it; stopped: "
    "SIGINT/SIGTERM ended it after a whole tick, resumable).",
)
@click.option("--tag", "tags", multiple=True, metavar="K=V", help="Tag equals (repeatable).")
@click.option(
    "--param", "params", multiple=True, metavar="EXPR", help="e.g. 'k>3', 'mode=fast' (repeatable)."
)
@click.option("--tick-covers", type=NATURAL, metavar="T", help="Runs whose tick range holds T.")
@click.option(
    "--has-checkpoint-after", type=NATURAL, metavar="T", help="A checkpoint at tick >= T."
)
@click.option("--started-after", metavar="ISO", help="Started at or after (UTC if no zone).")
@click.option("--started-before", metavar="ISO", help="Started before (UTC if no zone).")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="Runs per page (1-10000); the next page's cursor goes to stderr.",
)
@click.option("--after", metavar="CURSOR", help="Continue after a page (cursor from stderr).")
@json_option
@quiet_option
@catalog_option
def search(
    limit: int,
    after: str | None,
    as_json: bool,
    catalog_url: str | None,
    **filters: Any,
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


@click.command("tag")
@click.argument("run_id")
@click.argument("pairs", nargs=-1, metavar="K=V...")
@click.option("--delete", "remove", multiple=True, metavar="KEY", help="Remove a tag.")
@json_option
@quiet_option
@catalog_option
def tag(
    run_id: str,
    pairs: Sequence[str],
    remove: Sequence[str],
    as_json: bool,
    catalog_url: str | None,
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
        echo_json(run.tags, sort_keys=True)
    else:
        echo(" ".join(f"{k}={v}" for k, v in sorted(run.tags.items())) or "(no tags)")


def _pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidFilterError(f"malformed {what} {text!r}: expected KEY=VALUE")
    return key, value


def _text(value: object) -> str:
    """A tag's or param's value as a search filter would name it (a bool as true/false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


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


def _run_row(r: RunRecord) -> list[Any]:
    ticks = f"{r.first_tick}-{r.last_tick}"
    return [r.run_id, r.world, r.ir_hash[:12], r.seed, r.status, ticks, format_time(r.started_at)]


def _print_page(page: RunPage, as_json: bool) -> None:
    if as_json:
        echo_json([r.to_dict() for r in page.runs])
    elif page.runs:
        header = ["RUN_ID", "WORLD", "IR_HASH", "SEED", "STATUS", "TICKS", "STARTED (UTC)"]
        echo_table(header, [_run_row(r) for r in page.runs])
    else:
        echo("no runs")
    if page.next_cursor:
        echo(f"next page: --after {page.next_cursor}", err=True)


def _print_detail(d: RunDetail) -> None:
    r = d.run
    for key in ("run_id", "world", "ir_hash", "seed", "scenario", "status", "host", "pid"):
        echo(f"{key + ':':<16}{getattr(r, key)}")
    echo(f"{'ticks:':<16}{r.first_tick}-{r.last_tick}")
    echo(f"{'started:':<16}{format_time(r.started_at)}  ended: {format_time(r.ended_at)}")
    echo(f"{'checkpoints in:':<16}{r.checkpoint_dir or '-'}")
    if r.control_path:  # live: continuum ctl RUN_ID status|checkpoint|flush|stop
        echo(f"{'control:':<16}{r.control_path}  (continuum ctl {r.run_id} status)")
    if r.parent_run_id:
        echo(f"{'branched from:':<16}{r.parent_run_id} @ tick {r.parent_checkpoint_tick}")
    for child in d.children:
        echo(f"{'branch:':<16}{child.run_id} @ tick {child.parent_checkpoint_tick}")
    for label, mapping in (("tags:", r.tags), ("params:", r.params)):
        if mapping:
            echo(f"{label:<16}" + " ".join(f"{k}={_text(v)}" for k, v in sorted(mapping.items())))
    echo()
    echo("segments:")
    seg_rows = [
        [s.ordinal, s.status, f"{s.start_tick}-{s.end_tick if s.end_tick is not None else ''}"]
        + [s.resumed_from_tick if s.resumed_from_tick is not None else "-", s.host, s.pid]
        for s in d.segments
    ]
    echo_table(["#", "STATUS", "TICKS", "RESUMED_FROM", "HOST", "PID"], seg_rows)
    echo()
    echo(f"checkpoints ({len(d.checkpoints)}):")
    ck_rows = [
        [c.tick, c.sim_time, c.era or "-", c.state + (" pinned" if c.pinned else "")]
        + [format_bytes(c.bytes_on_disk), c.path]
        for c in d.checkpoints
    ]
    echo_table(["TICK", "SIM_TIME", "ERA", "STATE", "SIZE", "PATH"], ck_rows, right=(0, 1, 4))


COMMANDS = (list_runs, show, search, tag)
