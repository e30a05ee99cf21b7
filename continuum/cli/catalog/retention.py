"""``continuum catalog policy|pin|unpin|prune``: what retention keeps, and deleting the rest.

Durations (``90m``, ``36h``, ``7d``, ``2w``) and sizes (``500M``, ``10G``) are
parsed before the catalog is opened, so bad values fail with one line and
touch nothing. ``prune --dry-run`` prints, per run, every committed checkpoint
with the rules that keep it (``keep-last``, ``pinned``, ``latest``, ``newest``...)
or ``delete`` and the bytes it would free, and every lens chunk window by its tick range
(``0-999``: the ticks it holds, inclusive), and deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click

from continuum.catalog import (
    Catalog,
    PruneReport,
    RetentionPolicy,
    RetentionRules,
    parse_duration,
    parse_size,
)
from continuum.cli._output import (
    MAX_INT,
    NATURAL,
    POSITIVE,
    Group,
    catalog_option,
    echo,
    echo_done,
    echo_json,
    echo_table,
    format_bytes,
    format_duration,
    format_time,
    json_option,
    note,
    progress,
    quiet_option,
)
from continuum.errors import InvalidFilterError
from continuum.printable import message_line

#: The longest duration a policy may name: what a ``timedelta`` holds (about 2.7 million years).
MAX_DURATION_S = int(timedelta.max.total_seconds())


def _parsed(parse: Callable[[str], int], text: str, option: str, limit: int) -> int:
    """``parse(text)`` for ``option``, refusing values past ``limit`` (and digit strings so
    long that Python would refuse to read them) with one line instead of an overflow."""
    value = parse(text) if len(text) <= 64 else limit + 1
    if value > limit:
        shown = text if len(text) <= 64 else text[:64] + "..."
        raise InvalidFilterError(f"{option} {shown!r} is too large (at most {limit})")
    return value


def _scope(run: str | None, world: str | None, everywhere: bool) -> tuple[str, str | None]:
    given = [(s, k) for s, k in (("run", run), ("world", world)) if k] + (
        [("global", None)] if everywhere else []
    )
    if len(given) != 1:
        raise InvalidFilterError("give exactly one of --run ID, --world NAME or --global")
    return given[0]


def scope_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--global", "everywhere", is_flag=True, help="Every run.")(fn)
    fn = click.option("--world", metavar="NAME", help="Runs of this world.")(fn)
    return click.option("--run", metavar="RUN_ID", help="One run.")(fn)


def _rules_text(r: RetentionRules) -> str:
    """``keep-last=3 keep-within=7d max-bytes=10.0 GiB``: as the options were written."""
    parts = []
    for key, value in r.to_dict().items():
        if value is None:
            continue
        if key.endswith("_within_s"):
            key, value = key[:-2], format_duration(value)
        elif key.endswith("max_bytes"):
            value = format_bytes(value)
        parts.append(f"{key.replace('_', '-')}={value}")
    return " ".join(parts)


@click.group("policy", cls=Group)
def policy() -> None:
    """Retention policies: attach to a run, a world or globally; the most specific wins.

    \b
    Example:
      continuum catalog policy set --world terra --keep-last 10 --keep-daily 7
      continuum catalog policy show --run 20260116_095430_a1b2c3
    """


@policy.command("set")
@scope_options
@click.option("--keep-last", type=POSITIVE, metavar="N", help="Newest N checkpoints.")
@click.option("--keep-every-ticks", type=POSITIVE, metavar="N", help="Ticks divisible by N.")
@click.option("--keep-within", metavar="DUR", help="Created within, e.g. 36h, 7d, 2w.")
@click.option("--keep-hourly", type=POSITIVE, metavar="N", help="Newest of each of N hours.")
@click.option("--keep-daily", type=POSITIVE, metavar="N", help="Newest of each of N days.")
@click.option("--keep-weekly", type=POSITIVE, metavar="N", help="Newest of each of N weeks.")
@click.option("--max-bytes", metavar="SIZE", help="Newest that fit in e.g. 500M, 10G per run.")
@click.option("--lens-keep-last", type=POSITIVE, metavar="N", help="Newest N lens chunk windows.")
@click.option("--lens-keep-within", metavar="DUR", help="Lens chunks created within DUR.")
@click.option("--lens-max-bytes", metavar="SIZE", help="Newest lens chunk windows within SIZE.")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the policy at that scope instead of merging these rules into it.",
)
@json_option
@quiet_option
@catalog_option
def policy_set(
    run: str | None,
    world: str | None,
    everywhere: bool,
    replace: bool,
    as_json: bool,
    catalog_url: str | None,
    **opts: Any,
) -> None:
    """Set rules of a policy and print the result. A checkpoint is kept if any rule keeps it.

    The rules given are merged into the policy already at that scope (a rule given
    replaces the same rule, the others stay: the keep-last that `run --keep-checkpoints`
    set survives `policy set --run ID --keep-within 7d`); --replace makes these rules
    the whole policy. A policy at a scope replaces the broader ones for its runs (run >
    world > global): when that starts now, a note on stderr says which one it hides.

    \b
    Example:
      continuum catalog policy set --global --keep-last 5 --keep-every-ticks 100000
      continuum catalog policy set --run 20260116_095430_a1b2c3 --keep-within 7d --max-bytes 10G
      continuum catalog policy set --run 20260116_095430_a1b2c3 --replace --keep-last 3
    """
    scope, key = _scope(run, world, everywhere)
    for name in ("keep_within", "lens_keep_within"):
        text = opts.pop(name)
        option = "--" + name.replace("_", "-")
        opts[f"{name}_s"] = _parsed(parse_duration, text, option, MAX_DURATION_S) if text else None
    for name in ("max_bytes", "lens_max_bytes"):
        text, option = opts[name], "--" + name.replace("_", "-")
        opts[name] = _parsed(parse_size, text, option, MAX_INT) if text else None
    rules = RetentionRules(**opts)
    with Catalog(catalog_url) as cat:
        old = cat.policies.get(scope, key)
        hidden = _broader(cat, scope, key) if old is None else None
        stored = cat.policies.set(scope, key, rules, merge=not replace)
    if not as_json:
        verb = "set" if old is None else "replaced" if replace else "merged into"
        echo_done(f"{verb} the policy of {stored.label}; it is now:")
    _print_policies([stored], as_json)
    if hidden is not None:
        note(
            f"note: {stored.label}'s own policy now applies instead of {hidden.label}'s "
            f"({_rules_text(hidden.rules)})"
        )


def _broader(cat: Catalog, scope: str, key: str | None) -> RetentionPolicy | None:
    """The policy that applied at ``scope`` until it has one of its own (or None)."""
    if scope == "run":
        assert key is not None
        return cat.policies.effective(key)  # an unknown run: RunNotFoundError, one line
    if scope == "world":
        return cat.policies.get("global")
    return None


@policy.command("show")
@click.option("--run", metavar="RUN_ID", help="The policy that applies to this run.")
@json_option
@quiet_option
@catalog_option
def policy_show(run: str | None, as_json: bool, catalog_url: str | None) -> None:
    """Show every policy, or the one that applies to a run (and where it comes from).

    \b
    Example:
      continuum catalog policy show --run 20260116_095430_a1b2c3 --json
    """
    with Catalog(catalog_url) as cat:
        found = [cat.policies.effective(run)] if run else cat.policies.list()
    _print_policies(
        [p for p in found if p is not None], as_json, empty="no policy: prune keeps all"
    )


@policy.command("clear")
@scope_options
@json_option
@quiet_option
@catalog_option
def policy_clear(
    run: str | None, world: str | None, everywhere: bool, as_json: bool, catalog_url: str | None
) -> None:
    """Remove the policy at one scope.

    \b
    Example:
      continuum catalog policy clear --world terra
    """
    scope, key = _scope(run, world, everywhere)
    with Catalog(catalog_url) as cat:
        removed = cat.policies.clear(scope, key)
    if as_json:
        echo_json({"scope": scope, "key": key, "cleared": removed}, indent=None)
        return
    label = scope if key is None else f"{scope} {key}"
    echo_done(f"cleared the policy of {label}" if removed else f"no policy at {label}")


def _print_policies(
    found: list[RetentionPolicy], as_json: bool, empty: str = "no policies"
) -> None:
    if as_json:
        echo_json([p.to_dict() for p in found])
    elif not found:
        echo(empty)
    else:
        echo_table(
            ["SCOPE", "RULES", "UPDATED (UTC)"],
            [[p.label, _rules_text(p.rules), format_time(p.updated_at)] for p in found],
        )


def _pin(pinned: bool) -> click.Command:
    verb = "pin" if pinned else "unpin"

    @click.command(verb)
    @click.argument("run_id")
    @click.argument("tick", type=NATURAL)
    @json_option
    @quiet_option
    @catalog_option
    def command(run_id: str, tick: int, as_json: bool, catalog_url: str | None) -> None:
        with Catalog(catalog_url) as cat:
            cat.checkpoints.pin(run_id, tick, pinned)
        if as_json:
            echo_json({"run_id": run_id, "tick": tick, "pinned": pinned}, indent=None)
        else:
            echo_done(f"{verb}ned checkpoint {tick} of run {run_id}")

    what = "retention never deletes it" if pinned else "retention may delete it again"
    command.help = (
        f"{verb.capitalize()} a checkpoint ({what}).\n\n"
        f"\b\nExample:\n  continuum catalog {verb} 20260116_095430_a1b2c3 100000"
    )
    return command


@click.command("prune")
@click.option("--run", "run_id", metavar="RUN_ID", help="Prune one run.")
@click.option("--world", metavar="NAME", help="Prune every run of a world.")
@click.option("--all", "everything", is_flag=True, help="Prune every run.")
@click.option(
    "--dry-run", is_flag=True, help="Print what would be kept and deleted; delete nothing."
)
@json_option
@quiet_option
@catalog_option
def prune(
    run_id: str | None,
    world: str | None,
    everything: bool,
    dry_run: bool,
    as_json: bool,
    catalog_url: str | None,
) -> None:
    """Delete checkpoints (and lens chunks) that no rule of the applying policy keeps.

    Pinned checkpoints, the newest of each run (and latest's target) and anything not
    committed are never deleted; a checkpoint a run branched or resumed from is kept only
    if a rule keeps it or it is pinned (lineage is in the records). Lens rules count chunk
    windows; pruned chunks are recorded in the lens manifest (lens load lists them as
    pruned) and their Parquet exports are removed with them. Crash-safe: an
    interrupted prune is finished by the next one (or catalog verify --repair).

    \b
    Example:
      continuum catalog prune --all --dry-run
      continuum catalog prune --world terra --json
    """
    if sum(map(bool, (run_id, world, everything))) != 1:
        raise InvalidFilterError("give exactly one of --run ID, --world NAME or --all")
    from continuum.maintenance import prune as prune_runs  # lens and exports: imported late

    chosen = [run_id] if run_id else None
    with Catalog(catalog_url) as cat, progress("deleting files") as step:
        report = prune_runs(cat, chosen, world, dry_run=dry_run, on_rows=None if dry_run else step)
    if as_json:
        echo_json(report.to_dict())
    else:
        _print_prune(report)


def _span(window: tuple[int, int]) -> str:
    """A chunk window's ticks as a user reads them: ``0-999`` for [0, 1000)."""
    return f"{window[0]}-{window[1] - 1}"


def _print_prune(report: PruneReport) -> None:
    for kind, plan in report.plans:
        if kind != "checkpoint":
            what = "lens chunk windows"
            kept, gone = len(plan.kept_windows()), len(plan.deleted_windows())
        else:
            what, kept, gone = "checkpoints", len(plan.kept), len(plan.delete)
        echo(
            f"run {plan.run_id} {what} (policy: {plan.policy or 'none'}): keep {kept}, "
            f"delete {gone} ({format_bytes(plan.bytes_freed)})"
        )
        if report.dry_run and kind != "checkpoint":  # lens chunk windows, by tick range
            rows = [["  keep", _span(w), len(f), ",".join(r)] for w, f, r in plan.kept_windows()]
            rows += [
                ["  delete", _span(w), len(f), format_bytes(sum(i.size for i in f))]
                for w, f, _ in plan.deleted_windows()
            ]
            echo_table(["  ACTION", "TICKS", "FILES", "WHY / BYTES"], rows)
        elif report.dry_run:
            rows = [["  keep", i.tick, ",".join(r)] for i, r in plan.kept]
            rows += [["  delete", i.tick, format_bytes(i.size)] for i in plan.delete]
            echo_table(["  ACTION", "TICK", "WHY / BYTES"], rows)
    if report.finished:
        echo(f"finished {report.finished} deletions left by an interrupted prune")
    verb = "would delete" if report.dry_run else "deleted"
    count = sum(len(p.delete) for _, p in report.plans) if report.dry_run else report.deleted
    echo(f"{verb} {count} files, {format_bytes(report.bytes_freed)}")
    if report.export_files:
        echo(
            f"removed {report.export_files} Parquet export files of pruned lens chunks, "
            f"{format_bytes(report.export_bytes)}"
        )
    for error in report.errors:
        echo(f"warning: {message_line(error)}", err=True)


COMMANDS = (policy, _pin(True), _pin(False), prune)
