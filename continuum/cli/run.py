"""``continuum run``: execute a world for N ticks, with checkpoints and resume."""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext

import click

from continuum.cli._output import (
    BLOB_FILE,
    BLOB_ROOT,
    MAX_INT,
    NATURAL,
    POSITIVE,
    ByteSize,
    FiniteFloat,
    check_catalog,
    echo,
    echo_json,
    format_bytes,
    log_to_stderr,
    quiet_option,
)
from continuum.cli._run_labels import params_option, tags_option

MAX_SEED = MAX_INT
#: Exit code of a run that reached its last tick but lost some of what it should have
#: written (checkpoints, lens chunks, manifests, exports, catalog rows): the summary's
#: ``failures`` says which. 1 is a run refused or stopped by an error, 2 a usage error.
EXIT_INCOMPLETE = 3


@click.command()
@click.argument("world")
@click.option(
    "--steps",
    type=NATURAL,
    default=1000,
    show_default=True,
    help="Ticks to run (on resume: ticks more).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=None,
    help="Seed of all noise [default: 0; on resume: the checkpoint's].",
)
@click.option("--scenario", default=None, help="Scenario name (scenarios/NAME.toml) or file.")
@click.option(
    "--checkpoint-dir",
    type=BLOB_ROOT,
    help="Write checkpoints under DIR/RUN_ID/, or s3://BUCKET/PREFIX/RUN_ID/ (AWS_* variables "
    "and ~/.aws say where and as whom; needs the catalog) [default: ./checkpoints when a "
    "checkpoint option is given, else none]. On --resume: where to look [default: the "
    "directories the catalog recorded for the world's runs, then ./checkpoints].",
)
@click.option(
    "--checkpoint-stride",
    type=POSITIVE,
    default=1000,
    show_default=True,
    help="Checkpoint every N ticks (without --checkpoint-dir: into ./checkpoints).",
)
@click.option(
    "--checkpoint-interval",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Also checkpoint every S wall-clock seconds (without --checkpoint-dir: into "
    "./checkpoints).",
)
@click.option(
    "--keep-checkpoints",
    type=POSITIVE,
    default=None,
    help="Keep only the newest N checkpoints of this run (without --checkpoint-dir: in "
    "./checkpoints).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Resume the world's most recently advanced run, from its newest intact checkpoint: "
    "under --checkpoint-dir, else where the catalog recorded the world's runs, else under "
    "./checkpoints.",
)
@click.option(
    "--checkpoint-path",
    type=BLOB_FILE,
    help="Resume from this checkpoint file (or s3://bucket/prefix/RUN_ID/checkpoint_N.ckpt).",
)
@click.option(
    "--force-resume",
    is_flag=True,
    help="Resume even if the world's IR hash, era dt or strides changed.",
)
@click.option(
    "--lens-dir",
    type=BLOB_ROOT,
    help="Capture field frames under DIR/RUN_ID/, or s3://BUCKET/PREFIX/RUN_ID/ (AWS_* variables "
    "say where and as whom) [default: ./lens when a lens option is given, else no capture].",
)
@click.option(
    "--lens-stride",
    type=POSITIVE,
    default=1,
    show_default=True,
    help="Capture fields every N ticks (without --lens-dir: into ./lens).",
)
@click.option(
    "--lens-fields",
    default="all",
    show_default=True,
    help="Fields to capture: 'a.b,c.d' or all (without --lens-dir: into ./lens).",
)
@click.option(
    "--lens-chunk-size",
    type=POSITIVE,
    default=None,
    help="Ticks per lens chunk file (one file per window [kC, (k+1)C)) [default: 1000, "
    "fewer when a window of frames would not fit --lens-memory; a resumed run keeps its own] "
    "(without --lens-dir: into ./lens).",
)
@click.option(
    "--lens-memory",
    type=ByteSize(),
    default=None,
    help="Memory the lens writer may hold (frames waiting, windows being encoded), e.g. "
    "512M or 2G [default: 1G, or an eighth of RAM when less] (without --lens-dir: ./lens).",
)
@click.option(
    "--lens-on-full",
    type=click.Choice(["wait", "drop"]),
    default="wait",
    show_default=True,
    help="When the lens memory is full: the tick loop waits for the writer (nothing lost; "
    "the wait is reported), or frames are dropped (recorded as gaps) (without --lens-dir: "
    "./lens).",
)
@click.option(
    "--lens-full",
    is_flag=True,
    help="Also write lens_snapshot_full.lens at the end (without --lens-dir: into ./lens).",
)
@click.option(
    "--lens-by-sample/--no-lens-by-sample",
    default=True,
    show_default=True,
    help="Keep a by-sample copy of the field history, written in the background, so one "
    "position's history or a region over every tick reads only its samples.",
)
@click.option(
    "--lens-export-dir",
    type=BLOB_ROOT,
    help="Export each sealed lens chunk to Parquet under DIR or s3://BUCKET/PREFIX (for "
    "continuum lens sql).",
)
@click.option(
    "--resume-run",
    metavar="RUN_ID",
    help="Resume RUN_ID from its newest committed checkpoint, found via the catalog.",
)
@click.option(
    "--catalog",
    metavar="URL",
    help="Catalog URL or .db file [default: $CONTINUUM_CATALOG or ~/.local/share/continuum].",
)
@click.option("--no-catalog", is_flag=True, help="Do not record this run in the catalog.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=params_option,
    help="Record a parameter (int, float, true/false or text; repeatable).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=tags_option,
    help="Record a tag (repeatable).",
)
@quiet_option(expose=True, help="No progress bar and no summary (nor the catalog file used).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line at the end.")
def run(world: str, quiet: bool, as_json: bool, **options) -> None:
    """Run WORLD (a directory, or a bundled world's name) for --steps ticks.

    A checkpoint option (--checkpoint-stride, --checkpoint-interval, --keep-checkpoints)
    without --checkpoint-dir writes under ./checkpoints/RUN_ID/; a lens option (--lens-*)
    without --lens-dir captures under ./lens/RUN_ID/. To edit a world, copy a bundled one:
    continuum world copy terra ./terra.

    \b
    Examples:
      continuum run terra --steps 1000 --seed 7
      continuum run terra --steps 5000 --checkpoint-dir ./ckpt --checkpoint-stride 500
      continuum run terra --resume --checkpoint-dir ./ckpt --steps 5000
      continuum run terra --resume --steps 5000   # the catalog knows where
      continuum run ./my-world --scenario tiny --json
      continuum run terra --steps 500 --lens-dir ./lens --lens-stride 10
      continuum run terra --steps 500 --param k=4 --tag team=a

    Exit status: 0 done; 1 refused or stopped by an error (one line); 3 the run
    reached its last tick but not all was written (the summary's failures say what);
    130/143 stopped by SIGINT (Ctrl-C)/SIGTERM after a whole tick, its final checkpoint
    written, the command that resumes it on stderr.
    """
    from continuum.cli.world import copy_hint
    from continuum.errors import WorldNotFoundError
    from continuum.runner import RunRequest, execute, with_default_dirs

    given = _given(options)
    defaulted = with_default_dirs(RunRequest(world=world, **options), given)
    if options["lens_export_dir"] is not None and defaulted.lens_dir is None:
        raise click.UsageError("--lens-export-dir exports lens chunks: it needs --lens-dir")
    if options["no_catalog"] and (options["params"] or options["tags"]):
        raise click.UsageError("--param and --tag are recorded in the catalog: drop --no-catalog")
    hint = copy_hint(world)
    if hint is not None:
        raise WorldNotFoundError(hint)
    if not options["no_catalog"]:
        options["catalog"] = check_catalog(options["catalog"])
    log_to_stderr(logging.ERROR if quiet else logging.WARNING)
    request = with_default_dirs(RunRequest(world=world, **options), given)
    with _progress(request.steps, quiet or as_json) as bar:
        summary = execute(request, on_tick=(lambda _s: bar.update(1)) if bar else None)
    failed = summary.get("failures") or {}
    stopped = summary.get("stopped")  # SIGINT/SIGTERM: see continuum.runner.stop
    if as_json:
        echo_json(summary, indent=None)
    elif not quiet:
        _print_summary(summary)
    what = ", ".join(f"{kind} {n}" for kind, n in failed.items())
    if stopped is not None:
        echo(stopped["message"], err=True)
        if failed:
            echo(f"error: the run stopped but not all was written: {what}", err=True)
        click.get_current_context().exit(stopped["exit_code"])
    if failed:
        echo(f"error: the run completed but not all was written: {what}", err=True)
        click.get_current_context().exit(EXIT_INCOMPLETE)


#: What a summary value means, where its name alone does not say.
STATE_HASH_MEANING = (
    "(blake2b-256 of the causal state, every signal buffer included: equal hashes = "
    "bitwise-identical states and continuations)"
)


def _print_summary(summary: dict) -> None:
    """``key  value`` lines, keys right-aligned; sizes in binary units, the state hash and
    sim time said what they are (``--json`` keeps the raw values)."""
    checkpointing = summary.get("checkpoint_dir") is not None
    hidden = ("time_units", "stopped")  # a stop's line goes to stderr
    shown = {k: v for k, v in summary.items() if k not in hidden}
    width = max(map(len, shown))
    for key, value in shown.items():
        if key == "failures":
            value = ", ".join(f"{kind} {n}" for kind, n in value.items()) or None
        if value is None or (key.startswith("checkpoints_") and not checkpointing):
            continue
        echo(f"{key:>{width}}  {_summary_value(key, value, summary)}")


def _summary_value(key: str, value: object, summary: dict) -> str:
    if key == "state_hash":
        return f"{value}  {STATE_HASH_MEANING}"
    if key == "sim_time" and isinstance(value, float):
        unit = summary.get("time_units")
        if unit:
            return f"{value!r} {unit}"  # exact: a user compares it with other runs
        return f"{value!r}  (in the world's time unit: the unit of its eras' dt)"
    if key == "lens_memory" and isinstance(value, int):
        return format_bytes(value)
    if key == "lens_by_sample_pending" and value:
        how = f"continuum lens compact --lens-dir {summary.get('lens_dir')} --by-sample"
        return f"{value}  (frames only the chunks hold: {how})"
    return str(value)


def _given(options: dict) -> set[str]:
    """The options typed on the command line (or set in the environment), not defaulted."""
    ctx = click.get_current_context()
    defaults = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    return {name for name in options if ctx.get_parameter_source(name) not in defaults}


def _progress(steps: int, silent: bool):
    """click's progress bar on a terminal; nothing otherwise (logs stay clean)."""
    if silent or not sys.stderr.isatty():
        return nullcontext(None)
    return click.progressbar(length=steps, label="ticks", file=sys.stderr)
