"""``continuum catalog policy|pin|unpin|prune|log|gc|rm``: retention from the command line.

Durations (``90m``, ``36h``, ``7d``, ``2w``) and sizes (``500M``, ``10G``) are
parsed before the catalog is opened, so bad values fail with one line and
touch nothing. Destructive commands say what they would do first: ``prune
--dry-run`` and ``gc`` (dry unless ``--delete``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from continuum.catalog import Catalog, RetentionPolicy, RetentionRules, parse_duration, parse_size
from continuum.cli.catalog import _table, _time, catalog_option, json_option
from continuum.cli.catalog_prune import gc, human, log, prune, rm
from continuum.errors import InvalidFilterError

POSITIVE = click.IntRange(min=1)


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
            key, value = key[:-2], _duration(value)
        elif key.endswith("max_bytes"):
            value = human(value)
        parts.append(f"{key.replace('_', '-')}={value}")
    return " ".join(parts)


def _duration(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.group("policy")
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
@click.option("--lens-keep-last", type=POSITIVE, metavar="N", help="Newest N lens chunks.")
@click.option("--lens-keep-within", metavar="DUR", help="Lens chunks created within DUR.")
@click.option("--lens-max-bytes", metavar="SIZE", help="Newest lens chunks within SIZE.")
@json_option
@catalog_option
def policy_set(run, world, everywhere, as_json, catalog_url, **opts: Any) -> None:
    """Attach a policy (replacing the one at that scope). A checkpoint is kept if any rule keeps it.

    \b
    Example:
      continuum catalog policy set --global --keep-last 5 --keep-every-ticks 100000
      continuum catalog policy set --run 20260116_095430_a1b2c3 --keep-within 7d --max-bytes 10G
    """
    scope, key = _scope(run, world, everywhere)
    for name in ("keep_within", "lens_keep_within"):
        text = opts.pop(name)
        opts[f"{name}_s"] = parse_duration(text) if text else None
    for name in ("max_bytes", "lens_max_bytes"):
        opts[name] = parse_size(opts[name]) if opts[name] else None
    rules = RetentionRules(**opts)
    with Catalog(catalog_url) as cat:
        stored = cat.policies.set(scope, key, rules)
    _print_policies([stored], as_json)


@policy.command("show")
@click.option("--run", metavar="RUN_ID", help="The policy that applies to this run.")
@json_option
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
@catalog_option
def policy_clear(run, world, everywhere, catalog_url) -> None:
    """Remove the policy at one scope.

    \b
    Example:
      continuum catalog policy clear --world terra
    """
    scope, key = _scope(run, world, everywhere)
    with Catalog(catalog_url) as cat:
        removed = cat.policies.clear(scope, key)
    label = scope if key is None else f"{scope} {key}"
    click.echo(f"cleared the policy of {label}" if removed else f"no policy at {label}")


def _print_policies(
    found: list[RetentionPolicy], as_json: bool, empty: str = "no policies"
) -> None:
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in found], indent=2))
    elif not found:
        click.echo(empty)
    else:
        _table(
            ["SCOPE", "RULES", "UPDATED (UTC)"],
            [[p.label, _rules_text(p.rules), _time(p.updated_at)] for p in found],
        )


def _pin(pinned: bool) -> click.Command:
    verb = "pin" if pinned else "unpin"

    @click.command(verb)
    @click.argument("run_id")
    @click.argument("tick", type=int)
    @catalog_option
    def command(run_id: str, tick: int, catalog_url: str | None) -> None:
        with Catalog(catalog_url) as cat:
            cat.checkpoints.pin(run_id, tick, pinned)
        click.echo(f"{verb}ned checkpoint {tick} of run {run_id}")

    what = "retention never deletes it" if pinned else "retention may delete it again"
    command.help = (
        f"{verb.capitalize()} a checkpoint ({what}).\n\n"
        f"\b\nExample:\n  continuum catalog {verb} 20260116_095430_a1b2c3 100000"
    )
    return command


def register(group: click.Group) -> None:
    """Attach the retention commands to the ``catalog`` group."""
    for command in (policy, _pin(True), _pin(False), prune, log, gc, rm):
        group.add_command(command)
