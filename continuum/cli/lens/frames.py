"""``continuum lens load|query|history|plot|compact``: captured field frames, read back.

Every command reads a lens run dir (``--lens-dir D``, either a run's lens dir or the
lens root with ``--run ID``; without either, the newest run with lens data: how each is
found is :mod:`continuum.cli.lens._runs`) through :class:`continuum.lens.LensStore`, which
opens only the chunk files a question needs; numpy and the lens package load only when
one runs.
User errors are ``LensError``s: one line, exit 1.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from continuum.cli._output import (
    NATURAL,
    FiniteFloat,
    catalog_files,
    echo,
    echo_done,
    echo_json,
    format_bytes,
    json_alias,
    json_option,
    output_path,
    progress,
    quiet_option,
)
from continuum.cli.lens._runs import LOCATION, lens_run_dir, lens_source
from continuum.errors import LensError

if TYPE_CHECKING:
    from continuum.lens import LensStore

LENS_DIR = click.option(
    "--lens-dir",
    type=LOCATION,
    default=None,
    help="A run's lens dir, or a lens root (its newest run; --run picks another), local or "
    "s3://BUCKET/PREFIX [default: the newest run with lens data in the catalog, else ./lens].",
)
RUN = click.option(
    "--run",
    "run_id",
    default=None,
    help="Run id: a subdirectory of --lens-dir, or (without --lens-dir) found via the catalog.",
)
RULE = click.option(
    "--rule",
    type=click.Choice(["containing", "nearest"]),
    default=None,
    help="Reconstruction rule [default: containing for cell fields, nearest for points].",
)
ACROSS_GAPS = click.option(
    "--across-gaps",
    is_flag=True,
    help="Interpolate (query) or list rows (history) across lens gaps: ticks the lens "
    "meant to capture and no file holds (see lens load). Refused without it.",
)
POSITION = click.option(
    "--position", required=True, help="A direction x,y,z (any length, not zero), e.g. 1,0,0."
)


def _position(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(abs(v) < float("inf") for v in values) or not any(values):
        raise LensError(f"Expected --position x,y,z (three numbers, not all zero), got {text!r}")
    return values


def _store(lens_dir: Path | str | None, run_id: str | None) -> LensStore:
    from continuum.lens import LensStore

    return LensStore(lens_run_dir(lens_dir, run_id))


def _load_target(path: Path | str | None) -> Path:
    """``lens load [PATH]``: the ``.lens`` file or the lens run dir it reads (``_runs``)."""
    source = lens_source(path, None)
    return source.file or source.run_dir


#: The summary keys that are byte counts (shown in binary units).
_BYTES = frozenset({"bytes", "raw_bytes", "by_sample_bytes"})


def _echo_mapping(data: dict[str, Any]) -> None:
    """``lens load``'s summary for people: one ``key  value`` line each, a list or a mapping
    as one line per item under its key, never a Python repr."""
    for key, value in data.items():
        if value is None or value == [] or value == {} or key == "verified":
            continue
        for n, line in enumerate(_value_lines(key, value)):
            echo(f"{key if n == 0 else '':>16}  {line}")


def _value_lines(key: str, value: Any) -> list[str]:
    if key in _BYTES and isinstance(value, int):
        return [f"{format_bytes(value)} ({value} bytes)"]
    if key == "tick_range":
        return [f"[{value[0]}, {value[1]})"]
    if key == "gaps":  # its tick range, how many capture ticks it misses, and why
        return [f"[{g['start']}, {g['end']})  {g['ticks']} ticks  {g['cause']}" for g in value]
    if key == "pruned_chunks":
        return [f"{c['name']}  ticks [{c['tick_range'][0]}, {c['tick_range'][1]})" for c in value]
    if key == "topology" and isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k != "kind"}
        return [" ".join([str(value.get("kind", "?")), *_pairs(rest)])]
    if isinstance(value, dict):  # one aligned line per entry: fields, signals
        text = _field_text if key == "fields" else _plain
        width = max(len(str(k)) for k in value)
        return [f"{k!s:<{width}}  {text(v)}" for k, v in value.items()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return [_plain(value)]


def _field_text(config: Any) -> str:
    """``scalar, 384 cells, 10 frames``: a field of one chunk file, then its other settings."""
    if not isinstance(config, dict):
        return _plain(config)
    known = ("kind", "samples", "positions", "frames")
    head = f"{config.get('kind', '?')}, {config.get('samples', '?')} {config.get('positions', '')}"
    if "frames" in config:
        head += f", {config['frames']} frames"
    return " ".join([head, *_pairs({k: v for k, v in config.items() if k not in known})])


def _pairs(mapping: dict[str, Any]) -> list[str]:
    return [f"{k}={_plain(v)}" for k, v in mapping.items()]


def _plain(value: Any) -> str:
    """A value as text: lists comma-joined, mappings as ``k=v`` pairs, the rest ``str``."""
    if isinstance(value, list | tuple):
        return ",".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_pairs(value))
    return str(value)


@click.command("load")
@click.argument("path", required=False, type=LOCATION)
@click.option(
    "--verify",
    is_flag=True,
    help="Also decode every array of every chunk file and check its checksums; ends with a "
    "verdict line (exit 1 at the first bad file).",
)
@json_option
@quiet_option
def load(path: Path | str | None, verify: bool, as_json: bool) -> None:
    """Describe a .lens file or a lens run: fields, tick range, frames, sizes.

    PATH: a .lens file, a lens run dir, a lens root (its newest run) or a run id
    [default: the newest run with lens data in the catalog, else ./lens]. A missing
    ROOT/lens_snapshot_full.lens reads the root's newest run (said on stderr).

    \b
    Examples:
      continuum lens load lens/RUN_ID
      continuum lens load lens/RUN_ID/lens_snapshot_0000000000-0000001000.lens --verify
      continuum lens load ./terra-lens/lens_snapshot_full.lens
    """
    path = _load_target(path)
    if path.is_file():
        files = [path]
        info = _file_summary(path)
    elif path.is_dir():
        with _store(path, None) as store:
            info = store.summary()
            files = [ref.path for ref in store.chunks]
        if info.get("full_file"):
            files.append(Path(info["full_file"]))
    else:
        raise LensError(f"{path} does not exist (expected a .lens file or a lens run dir)")
    if verify:
        _verify_files(files)  # raises at the first bad file: nothing printed but the error
        info["verified"] = True
    if as_json:
        echo_json(info, indent=None)
        return
    _echo_mapping(info)
    if verify:
        echo(
            f"verified: {len(files)} lens file(s) intact (every array decoded, "
            "every checksum matched)"
        )


def _verify_files(files: list[Path]) -> None:
    """Decode each file whole and check its checksums, streamed (memory: one frame)."""
    from continuum.lens import ChunkFile

    with progress("verifying lens files") as step:
        step(0, len(files))
        for done, path in enumerate(files, 1):
            with ChunkFile(path) as chunk:
                chunk.verify()
            step(done, len(files))


def _file_summary(path: Path) -> dict[str, Any]:
    from continuum.lens import ChunkFile

    with ChunkFile(path) as chunk:
        h = chunk.header
    return {
        "path": str(path),
        "run_id": h.identity.run_id,
        "world": h.identity.world,
        "seed": h.identity.seed,
        "created_at": h.created_at,
        "tick_range": list(h.tick_range),
        "frames": h.frames,
        "first_tick": h.first_tick,
        "last_tick": h.last_tick,
        "fields": {
            n: {**c.to_json(), "frames": h.field_frames[n], "units": h.identity.field_units.get(n)}
            for n, c in h.fields.items()
        },
        "signals": h.signals,
        "signal_units": h.identity.signal_units,
        "time_units": h.identity.time_units,
        "bytes": h.disk_bytes,
        "raw_bytes": h.raw_bytes,
        "checksum": h.checksum,
        "verified": None,
    }


@click.command("query")
@click.argument("field")
@click.option("--tick", type=NATURAL, default=None, help="Tick (between captures: interpolated).")
@click.option(
    "--time", "sim_time", type=FiniteFloat(), default=None, help="Sim time instead of --tick."
)
@POSITION
@LENS_DIR
@RUN
@RULE
@ACROSS_GAPS
@json_option
@quiet_option
def query(
    field: str,
    tick: int | None,
    sim_time: float | None,
    position: str,
    lens_dir: Path | str | None,
    run_id: str | None,
    rule: str | None,
    across_gaps: bool,
    as_json: bool,
) -> None:
    """Value of FIELD at one position, at --tick T or --time S.

    Only the chunk(s) holding the bracketing frames are read. Between two captured
    frames with a lens gap in between, refused unless --across-gaps.

    \b
    Example:
      continuum lens query atmosphere.temperature --tick 500 --position 1,0,0 --lens-dir lens
    """
    point = _position(position)
    if (tick is None) == (sim_time is None):
        raise LensError("Expected exactly one of --tick T or --time S")
    with _store(lens_dir, run_id) as store:
        got = store.query(field, point, sim_time, tick=tick, rule=rule, across_gaps=across_gaps)
        units, time_units = store.units(field), store.time_units
    shown = got.value if isinstance(got.value, float) else [float(v) for v in got.value]
    if as_json:
        when = {"tick": tick} if tick is not None else {"time": sim_time}
        how = {"rule": got.rule, "ticks": list(got.ticks), "weight": got.weight}
        value = {"value": shown, "units": units, "time_units": time_units}
        echo_json({"field": field, "position": point, **when, **value, **how}, indent=None)
        return
    k0, k1 = got.ticks
    where = f"tick {k0}" if k0 == k1 else f"between ticks {k0} and {k1}, w={got.weight:.6g}"
    echo(f"{shown}{f' {units}' if units else ''}  ({got.rule}; {where})")


@click.command("history")
@click.argument("field")
@POSITION
@click.option("--from", "start", type=NATURAL, default=None, help="First tick (inclusive).")
@click.option("--to", "stop", type=NATURAL, default=None, help="Last tick (inclusive).")
@LENS_DIR
@RUN
@RULE
@ACROSS_GAPS
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: a header and one row per tick; json: one document (same as --json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (--format json).")
@quiet_option
def history(
    field: str,
    position: str,
    start: int | None,
    stop: int | None,
    lens_dir: Path | str | None,
    run_id: str | None,
    rule: str | None,
    across_gaps: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """FIELD at one position, one row per captured tick.

    A window holding a lens gap is refused unless --across-gaps; then the rows skip the
    gap's ticks, the JSON lists the gaps, and CSV names each on stderr.

    \b
    Example:
      continuum lens history surface.elevation --position 0,0,1 --from 0 --to 1000
    """
    fmt = json_alias(fmt, as_json)
    point = _position(position)
    with _store(lens_dir, run_id) as store:
        h = store.history(field, point, start=start, stop=stop, rule=rule, across_gaps=across_gaps)
        units = {"units": store.units(field), "time_units": store.time_units}
    if fmt == "json":
        doc = {"field": field, "position": point, "rule": h.rule, "ticks": h.ticks.tolist()}
        doc.update(units)
        gaps = [g.to_json() for g in h.gaps]
        echo_json(
            {**doc, "sim_times": h.sim_times.tolist(), "values": h.values.tolist(), "gaps": gaps},
            indent=None,
        )
        return
    for g in h.gaps:  # the rows skip these: said where a reader of the CSV sees it
        echo(f"warning: lens gap {g.text}: {g.ticks} capture ticks not in the rows", err=True)
    out = csv.writer(sys.stdout, lineterminator="\n")
    vector = h.values.ndim == 2
    # the value's and sim_time's units as two last columns (empty: none declared), so the
    # column names stay the same for every world
    labels = [units["units"] or "", units["time_units"] or ""]
    out.writerow(["tick", "sim_time", *(["x", "y", "z"] if vector else ["value"]), *units])
    for tick, time, value in zip(h.ticks.tolist(), h.sim_times.tolist(), h.values.tolist()):
        out.writerow([tick, repr(time), *(map(repr, value) if vector else [repr(value)]), *labels])


#: The formats ``lens plot`` writes, chosen by the --output suffix (matplotlib's savefig
#: would append ``.png`` to a name without one, writing a file the user did not name).
PLOT_SUFFIXES = frozenset({".png", ".svg", ".pdf"})


@click.command("plot")
@click.argument("field")
@click.option("--tick", type=NATURAL, required=True, help="A captured tick.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The image to write: FILE.png, FILE.svg or FILE.pdf (the suffix picks the format).",
)
@click.option(
    "--width",
    type=click.IntRange(90, 8000),
    default=1440,
    show_default=True,
    help="Image width in pixels (90-8000); the map is sampled on WIDTH x WIDTH/2 points.",
)
@LENS_DIR
@RUN
@RULE
@json_option
@quiet_option
def plot(
    field: str,
    tick: int,
    output: Path,
    width: int,
    lens_dir: Path | str | None,
    run_id: str | None,
    rule: str | None,
    as_json: bool,
) -> None:
    """Render FIELD at --tick on a lat/lon map (PNG, SVG, PDF by extension).

    Needs matplotlib: pip install 'continuum[plot]'.

    \b
    Example:
      continuum lens plot atmosphere.temperature --tick 500 --output map.png
    """
    from continuum.lens.plot import render_map

    output_path(output, suffixes=PLOT_SUFFIXES, protected=catalog_files(None), error=LensError)
    with _store(lens_dir, run_id) as store:
        recon = store.at(field, tick, rule=rule)
    render_map(recon, output, width=width)
    if as_json:
        doc = {"output": str(output), "field": field, "tick": tick, "rule": recon.rule}
        echo_json({**doc, "width": width}, indent=None)
    else:
        echo_done(str(output))


@click.command("compact")
@LENS_DIR
@RUN
@click.option(
    "--by-sample",
    is_flag=True,
    help="Write the run's by-sample copies instead (what a capture does in the background; "
    "for runs captured with --no-lens-by-sample or before copies existed).",
)
@json_option
@quiet_option
def compact(
    lens_dir: Path | str | None, run_id: str | None, by_sample: bool, as_json: bool
) -> None:
    """Write every frame of a run into lens_snapshot_full.lens (needs them all in memory),
    or with --by-sample its point-major copies (streamed, any size).

    \b
    Examples:
      continuum lens compact --lens-dir lens --run 20260101_120000_ab12cd34
      continuum lens compact --lens-dir lens --run 20260101_120000_ab12cd34 --by-sample
    """
    _refuse_remote(lens_dir, run_id)
    if by_sample:
        _compact_by_sample(lens_dir, run_id, as_json)
        return
    with _store(lens_dir, run_id) as store, progress("reading lens chunks") as step:
        info = store.compact(on_chunk=step)
    frames = info.header.meta["frames"]
    if as_json:
        echo_json({"path": str(info.path), "frames": frames, "bytes": info.disk_bytes}, indent=None)
    else:
        echo_done(f"{info.path}  {frames} frames, {format_bytes(info.disk_bytes)}")


def _compact_by_sample(lens_dir: Path | str | None, run_id: str | None, as_json: bool) -> None:
    from continuum.lens.compaction import compact_history

    with _store(lens_dir, run_id) as store:
        run_dir = store.run_dir
    done = compact_history(run_dir)
    sizes = {str(c.path): c.bytes for c in done.written}
    if as_json:
        echo_json({"run_dir": str(run_dir), "written": sizes}, indent=None)
    elif not sizes:
        echo_done(f"{run_dir}: its by-sample copies are current")
    else:
        for path, size in sizes.items():
            echo_done(f"{path}  {format_bytes(size)}")


def _refuse_remote(lens_dir: Path | str | None, run_id: str | None) -> None:
    """``lens compact`` writes into the lens dir: an ``s3://`` one is read through a view
    (:mod:`continuum.lens.remote`) that holds no data to write from. A remote capture
    writes its by-sample copies itself (:mod:`continuum.lens.mirror`)."""
    from continuum.lens.remote import is_view

    if isinstance(lens_dir, str) or is_view(lens_run_dir(lens_dir, run_id)):
        raise LensError(
            "lens compact writes into a local lens dir; this run's is on object storage "
            "(its capture already wrote its by-sample copies there): copy it locally "
            "(aws s3 sync) to compact it"
        )


COMMANDS = (load, query, history, plot, compact)
