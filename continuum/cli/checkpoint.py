"""``continuum checkpoint``: inspect, list, verify and diff checkpoint files.

``inspect`` and ``list`` read headers only (a few KB per file, nothing
decompressed), so they stay instant on runs of many large checkpoints;
``verify`` and ``diff`` decode everything and check every checksum.

Decisions written down here because DESIGN.md leaves them open:

- ``list`` shows a checkpoint whose header is unreadable as a row with its
  error, so one bad file cannot hide the others; a dangling ``latest`` is a
  warning on stderr there, and a failure in ``verify``.
- ``verify`` prints one line per file as soon as it is checked; on a terminal
  those lines are the progress display. A directory without any checkpoint is
  an error: verifying nothing usually means a wrong path.
- ``verify`` walks directories recursively and checks every ``*.ckpt`` file,
  whatever its name, and every ``latest`` link; it never follows symlinked
  directories (a link loop cannot hang it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from continuum import layout
from continuum.checkpoint import (
    CheckpointHeader,
    checkpoint_files,
    diff_checkpoints,
    inspect_checkpoint,
    latest_target,
    verify_checkpoint,
)
from continuum.checkpoint.diff import ArrayDiff, CheckpointDiff
from continuum.checkpoint.format import age_seconds
from continuum.checkpoint.remote import checkpoint_objects, inspect_object, verify_object
from continuum.cli._output import (
    BLOB_PATH,
    FiniteFloat,
    Group,
    echo,
    echo_json,
    echo_table,
    format_age,
    format_bytes,
    is_quiet,
    json_option,
    note,
    quiet_option,
)
from continuum.errors import CheckpointError, CheckpointNotFoundError, ContinuumError
from continuum.printable import message_line, printable

#: The longest reason shown for one bad file (a table row, a ``verify`` line, ``--json``).
REASON_LIMIT = 500


@contextmanager
def _os_errors(path: Path) -> Iterator[None]:
    """Filesystem errors (permissions, I/O) as one-line ``CheckpointError``s."""
    try:
        yield
    except ContinuumError:
        raise  # CheckpointNotFoundError is an OSError too, and already says it all
    except OSError as exc:
        raise CheckpointError(f"{exc.filename or path}: cannot read: {exc.strerror}") from exc


def _reason(path: Path, exc: Exception) -> str:
    """An error message without the path the caller prints anyway, as one safe line (a
    reader's message must not bring a file's bytes into a table or ``--json``)."""
    return message_line(exc, REASON_LIMIT).removeprefix(f"{printable(path)}: ")


@click.group("checkpoint", cls=Group)
def checkpoint() -> None:
    """Inspect, list, verify and compare checkpoint files (.ckpt).

    \b
    Examples:
      continuum checkpoint list ./ckpt
      continuum checkpoint inspect ./ckpt/RUN_ID/latest
      continuum checkpoint verify ./ckpt
      continuum checkpoint diff A.ckpt B.ckpt --atol 1e-9
    """


# --- inspect ----------------------------------------------------------------------------


@checkpoint.command("inspect")
@click.argument("path", type=BLOB_PATH)
@json_option
def inspect(path: Path | str, as_json: bool) -> None:
    """Show a checkpoint's header: tick, era, world, IR hash, sizes, age.

    Reads the header only, never the payload, so it is instant on any file
    (verify checks the payload).

    \b
    Examples:
      continuum checkpoint inspect ./ckpt/20260116_095430_a1b2c3/latest
      continuum checkpoint inspect checkpoint_0000001000.ckpt --json
      continuum checkpoint inspect s3://bucket/runs/RUN_ID/checkpoint_0000001000.ckpt
    """
    # an object: its header from a ranged GET
    header = inspect_object(path) if isinstance(path, str) else _read_header(path)
    record = inspect_record(header)
    if as_json:
        echo_json(record)
        return
    if isinstance(path, Path) and path.is_symlink():
        record["path"] += f" -> {os.readlink(path)}"
    for key, value in _inspect_lines(record):
        echo(f"{key:<12} {value}")


def _read_header(path: Path) -> CheckpointHeader:
    if path.is_dir():
        raise CheckpointError(
            f"{path}: is a directory, not a checkpoint file; try `continuum checkpoint list {path}`"
        )
    with _os_errors(path):
        return inspect_checkpoint(path)


def inspect_record(header: CheckpointHeader) -> dict[str, Any]:
    """The ``inspect --json`` object: header facts, counts, sizes and age."""
    schema = header.identity.schema.values()
    age = age_seconds(header.created_at)
    return {
        "tick": header.tick,
        "sim_time": header.sim_time,
        "era": header.era,
        "world": header.identity.world,
        "world_version": header.identity.world_version,
        "ir_hash": header.identity.ir_hash,
        "scenario": header.identity.scenario,
        "scenario_hash": header.identity.scenario_hash,
        "run_id": header.identity.run_id,
        "seed": header.seed,
        "signals": sum(1 for s in schema if s.get("entity") is None),
        "entities": len(header.counts),
        "instances": sum(header.counts.values()),
        "members": sum(1 for s in schema if s.get("entity") is not None),
        "raw_bytes": header.raw_bytes,
        "disk_bytes": header.disk_bytes,
        "compression_ratio": round(header.compression_ratio, 4),
        "created_at": header.created_at,
        "age_s": round(age, 3) if math.isfinite(age) else None,
        "path": header.where,
    }


def _inspect_lines(r: dict[str, Any]) -> list[tuple[str, str]]:
    age = f" ({format_age(r['age_s'])})" if r["age_s"] is not None else ""
    return [
        ("path", r["path"]),
        ("run_id", r["run_id"]),
        ("tick", str(r["tick"])),
        ("sim_time", repr(r["sim_time"])),
        ("era", r["era"]),
        ("world", f"{r['world']} {r['world_version']}"),
        ("ir_hash", r["ir_hash"]),
        ("scenario", f"{r['scenario']} ({r['scenario_hash']})"),
        ("seed", str(r["seed"])),
        ("signals", f"{r['signals']} global"),
        ("entities", f"{r['entities']} ({r['instances']} instances, {r['members']} members)"),
        ("raw", f"{format_bytes(r['raw_bytes'])} ({r['raw_bytes']} bytes)"),
        ("on disk", f"{format_bytes(r['disk_bytes'])} ({r['disk_bytes']} bytes)"),
        ("ratio", f"{r['compression_ratio']:.3f}"),
        ("created_at", f"{r['created_at']}{age}"),
    ]


# --- list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    """One checkpoint file in ``list``; ``error`` set when its header is unreadable."""

    run_id: str
    path: str
    tick: int | None
    era: str | None
    sim_time: float | None
    disk_bytes: int | None
    created_at: str | None
    latest: bool
    error: str | None = None


@checkpoint.command("list")
@click.argument("directory", type=BLOB_PATH)
@json_option
@quiet_option
def list_checkpoints(directory: Path | str, as_json: bool) -> None:
    """List the checkpoints of a run directory, or of every run under DIRECTORY.

    One row per file, from its header (nothing is decompressed); '*' marks
    the file 'latest' points to. An unreadable header shows as a row with
    its error. On object storage (s3://) every checkpoint object under the
    prefix is listed from a ranged read of its header; there is no 'latest'
    there (the catalog says which are committed: `continuum catalog show RUN_ID`).

    \b
    Examples:
      continuum checkpoint list ./ckpt
      continuum checkpoint list ./ckpt/20260116_095430_a1b2c3 --json
      continuum checkpoint list s3://bucket/ckpt
    """
    if isinstance(directory, str):
        rows, dangling = _object_rows(directory), []
    else:
        runs = run_dirs(directory)
        rows = [row for run_dir in runs for row in list_rows(run_dir)]
        dangling = [str(layout.latest_path(run_dir)) for run_dir in runs if _dangling(run_dir)]
    if as_json:
        doc = {"checkpoints": [asdict(r) for r in rows], "dangling_latest": dangling}
        echo_json(doc)
        return
    for link in dangling:
        echo(f"warning: {link} points to a missing file", err=True)
    if not rows:
        note(f"no checkpoints under {directory}")
        return
    _print_table(rows)


def _object_rows(url: str) -> list[ListRow]:
    """A row per checkpoint object under ``url``, by run then tick (keys sort so)."""
    rows = []
    for obj in checkpoint_objects(url):
        run_id = obj.rsplit("/", 2)[-2] if obj.count("/") > 3 else "?"
        try:
            h = inspect_object(obj)
        except CheckpointError as exc:  # a bad header, or removed since it was listed
            tick = layout.checkpoint_tick(obj.rsplit("/", 1)[-1])
            reason = message_line(exc, REASON_LIMIT).removeprefix(f"{obj}: ")
            rows.append(ListRow(run_id, obj, tick, None, None, None, None, False, reason))
            continue
        rows.append(
            ListRow(
                h.identity.run_id, obj, h.tick, h.era, h.sim_time, h.disk_bytes, h.created_at, False
            )
        )
    return rows


def run_dirs(directory: Path) -> list[Path]:
    """``directory`` itself if it is a run directory, else the run directories in it."""
    if not directory.is_dir():
        hint = "; `continuum checkpoint inspect` reads one file" if directory.is_file() else ""
        raise CheckpointNotFoundError(f"{directory}: not a checkpoint directory{hint}")
    if _is_run_dir(directory):
        return [directory]
    with _os_errors(directory):
        return sorted(p for p in directory.iterdir() if p.is_dir() and _is_run_dir(p))


def _is_run_dir(path: Path) -> bool:
    return layout.manifest_path(path).is_file() or bool(checkpoint_files(path))


def _dangling(run_dir: Path) -> bool:
    target = latest_target(run_dir)
    return target is not None and not target.is_file()


def list_rows(run_dir: Path) -> list[ListRow]:
    """A row per checkpoint file of one run, oldest first."""
    latest = latest_target(run_dir)
    return [_row(run_dir, path, path == latest) for path in checkpoint_files(run_dir)]


def _row(run_dir: Path, path: Path, latest: bool) -> ListRow:
    try:
        with _os_errors(path):
            h = inspect_checkpoint(path)
    except CheckpointError as exc:
        tick = layout.checkpoint_tick(path.name)
        return ListRow(
            run_dir.name, str(path), tick, None, None, None, None, latest, _reason(path, exc)
        )
    return ListRow(
        h.identity.run_id, str(path), h.tick, h.era, h.sim_time, h.disk_bytes, h.created_at, latest
    )


def _print_table(rows: list[ListRow]) -> None:
    head = ("", "run_id", "tick", "era", "sim_time", "size", "created")
    echo_table(head, [_cells(r) for r in rows], right=(2, 4, 5))


def _cells(r: ListRow) -> tuple[str, ...]:
    mark, tick = "*" if r.latest else "", "?" if r.tick is None else str(r.tick)
    if r.error is not None:
        return (mark, r.run_id, tick, "-", "-", "-", f"error: {r.error}")
    assert r.sim_time is not None and r.disk_bytes is not None and r.created_at is not None
    age = age_seconds(r.created_at)
    created = r.created_at[:19].replace("T", " ")
    created += f" ({format_age(age)})" if math.isfinite(age) else ""
    return (
        mark,
        r.run_id,
        tick,
        str(r.era),
        f"{r.sim_time:.6g}",
        format_bytes(r.disk_bytes),
        created,
    )


# --- verify -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One checked file or ``latest`` link."""

    path: str
    ok: bool
    error: str | None = None


@checkpoint.command("verify")
@click.argument("path", type=BLOB_PATH)
@json_option
@quiet_option
def verify(path: Path | str, as_json: bool) -> None:
    """Decode every checkpoint under PATH and check all its checksums.

    PATH is a file or a directory (searched recursively). Prints 'ok PATH'
    or 'BAD PATH: reason' per file (--quiet: only the BAD ones); a 'latest'
    link to a missing file is BAD too. Exit code 0 if everything is intact,
    1 otherwise.

    \b
    Examples:
      continuum checkpoint verify ./ckpt
      continuum checkpoint verify ./ckpt/RUN_ID/checkpoint_0000001000.ckpt --json
      continuum checkpoint verify s3://bucket/runs/RUN_ID
    """
    checks: list[tuple[Callable[[Any], Verdict], Any]]
    if isinstance(path, str):  # an object, or every checkpoint object under a prefix
        files: list[Any] = checkpoint_objects(path)
        if not files:
            raise CheckpointNotFoundError(f"{path}: no checkpoint objects under it")
        checks = [(_check_object, url) for url in files]
    else:
        files, links = verify_targets(path)
        checks = [(_check_link, p) for p in links] + [(_check_file, p) for p in files]
    verdicts = []
    for check, target in checks:
        verdict = check(target)
        verdicts.append(verdict)
        if not as_json and not (verdict.ok and is_quiet()):
            echo(f"ok {target}" if verdict.ok else f"BAD {target}: {verdict.error}")
    bad = sum(not v.ok for v in verdicts)
    if as_json:
        doc = {"ok": not bad, "checked": len(verdicts), "bad": bad}
        echo_json({**doc, "results": [asdict(v) for v in verdicts]})
    if bad:
        raise CheckpointError(f"{bad} of {len(verdicts)} checkpoint files and links are bad")
    if not as_json:
        note(f"{len(files)} checkpoint(s) verified, all intact")


def verify_targets(path: Path) -> tuple[list[Path], list[Path]]:
    """The ``*.ckpt`` files and ``latest`` links to check under ``path``, sorted."""
    if path.is_symlink() and path.name == layout.LATEST and not path.exists():
        return [], [path]  # a dangling latest named on the command line
    if path.is_file():
        return [path], []
    if not path.is_dir():
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file or directory")
    files, links = [], []
    for root, _dirs, names in os.walk(path, onerror=_raise_walk_error):
        for name in names:
            entry = Path(root) / name
            if name == layout.LATEST and entry.is_symlink():
                links.append(entry)
            elif name.endswith(layout.CHECKPOINT_SUFFIX) and not entry.is_symlink():
                files.append(entry)
    if not files and not links:
        raise CheckpointNotFoundError(
            f"{path}: no checkpoint files (*{layout.CHECKPOINT_SUFFIX}) under it"
        )
    return sorted(files), sorted(links)


def _raise_walk_error(exc: OSError) -> None:
    raise CheckpointError(f"{exc.filename}: cannot list: {exc.strerror}") from exc


def _check_file(path: Path) -> Verdict:
    try:
        with _os_errors(path):
            verify_checkpoint(path)  # streamed: memory bounded by one frame
    except CheckpointError as exc:
        return Verdict(str(path), False, _reason(path, exc))
    return Verdict(str(path), True)


def _check_object(url: str) -> Verdict:
    try:
        verify_object(url)
    except CheckpointError as exc:
        return Verdict(url, False, str(exc).removeprefix(f"{url}: "))
    return Verdict(url, True)


def _check_link(link: Path) -> Verdict:
    target = latest_target(link.parent)
    if target is not None and target.is_file():
        return Verdict(str(link), True)
    return Verdict(str(link), False, f"dangling: points to missing {os.readlink(link)}")


# --- diff -------------------------------------------------------------------------------


@checkpoint.command("diff")
@click.argument("a", type=BLOB_PATH)
@click.argument("b", type=BLOB_PATH)
@click.option(
    "--atol",
    type=FiniteFloat(min=0.0),
    default=0.0,
    show_default=True,
    help="Elements differ only if |a - b| > X.",
    metavar="X",
)
@json_option
def diff(a: Path | str, b: Path | str, atol: float, as_json: bool) -> None:
    """Compare two checkpoints: header facts, and per signal what changed and by how much.

    A report, not a test: the exit code is 0 whether or not they differ
    (with --json, see 'identical'). Both files are fully verified first.

    \b
    Examples:
      continuum checkpoint diff ckpt/RUN/checkpoint_0000001000.ckpt ckpt/RUN/latest
      continuum checkpoint diff straight.ckpt resumed.ckpt --atol 1e-12 --json
      continuum checkpoint diff s3://bucket/ckpt/RUN/checkpoint_0000001000.ckpt local.ckpt
    """
    for path in (a, b):
        if isinstance(path, Path) and path.is_dir():
            raise CheckpointError(f"{path}: is a directory; diff compares two checkpoint files")
    with _os_errors(Path(str(a))):
        report = diff_checkpoints(a, b, atol)
    if as_json:
        echo_json(report.to_dict())
    else:
        _print_diff(report)


def _print_diff(report: CheckpointDiff) -> None:
    echo(f"A  {report.a}")
    echo(f"B  {report.b}")
    if report.identical:
        echo(f"identical: {report.compared} arrays compared (atol {report.atol:g})")
        return
    for f in report.fields:
        echo(f"{f.field:<14} {f.a}  ->  {f.b}")
    changed = sum(d.status == "changed" for d in report.arrays)
    uncomparable = len(report.arrays) - changed
    summary = f"{changed} of {report.compared} arrays differ (atol {report.atol:g})"
    echo(summary + (f", {uncomparable} not comparable" if uncomparable else ""))
    if report.arrays:
        head = ("signal", "buffer", "shape", "differing", "max |a-b|")
        echo_table(head, [_diff_cells(d) for d in report.arrays])


def _diff_cells(d: ArrayDiff) -> tuple[str, str, str, str, str]:
    if d.status != "changed":
        what = {"only_a": "only in A", "only_b": "only in B", "shape": "shape differs"}[d.status]
        return (d.signal, d.buffer, f"{d.shape_a} vs {d.shape_b}", what, "-")
    max_abs = f"{d.max_abs:.6g}" if math.isfinite(d.max_abs) else "nan"
    return (d.signal, d.buffer, str(d.shape_a), f"{d.differing}/{d.size}", max_abs)
