"""Every on-disk name and path rule of Continuum, and the grammar of identifiers in paths.

Standard library only, so every layer (the catalog included) can import it. No other
module spells a file name or joins an identifier onto a directory: they call these
functions, so a rule changes here, once, and path confinement has exactly one home
(:func:`child`, which every builder below goes through).

    {checkpoint_dir}/{run_id}/
      manifest.json
      checkpoint_0000001000.ckpt                 tick, zero-padded to 10 digits
      latest -> checkpoint_0000001000.ckpt       relative symlink
    {lens_dir}/{run_id}/
      manifest.json
      lens_snapshot_0000000000-0000010000.lens   ticks [start, end)
      lens_snapshot_full.lens                    optional, every frame
    {world_dir}/world.toml, {world_dir}/scenarios/{name}.toml    read, never written
    {export_root}/run_id={run_id}/field={field}/part-SSSSSSSSSS-EEEEEEEEEE.parquet
    {export_root}/run_id={run_id}/ticks/part-....parquet       tick -> sim_time
    {export_root}/run_id={run_id}/signals/part-....parquet     global signals
    {export_root}/by_sample/run_id={run_id}/field={field}/part-....parquet

Temporaries of the atomic-write protocol are ``.{final}.tmp-{pid}-{8 hex}`` in the
final file's directory. Tick ranges in names are half-open ``[start, end)``.

Identifiers that become path components (run ids, field names, world and scenario
names) must match their grammar; anything else is refused with :class:`LayoutError`
before a path is built from it.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from continuum.errors import LayoutError

StrPath = str | os.PathLike[str]

# --- identifiers --------------------------------------------------------------------------

#: Run ids: letters, digits, ``_ . -``; starting with a letter or digit; at most 64
#: (the catalog's column). Generated ids are ``YYYYMMDD_HHMMSS_xxxxxxxx`` (:func:`new_run_id`).
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
#: Dotted names of fields and signals: ``atmosphere.temperature``.
DOTTED_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
#: World and scenario names (a directory's or a ``.toml`` file's stem).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_MAX_DOTTED = 200


def _check(kind: str, value: object, pattern: re.Pattern[str], limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not pattern.match(value):
        shown = repr(value)[:80]
        raise LayoutError(
            f"{shown} is not a valid {kind}: expected {pattern.pattern[1:-1]!r}, "
            f"at most {limit} characters"
        )
    if ".." in value:
        raise LayoutError(f"{value!r} is not a valid {kind}: '..' is not allowed")
    return value


def check_run_id(value: object) -> str:
    """``value`` if it is a run id that may name a directory, else ``LayoutError``."""
    return _check("run id", value, RUN_ID_RE, 64)


def check_field_name(value: object) -> str:
    """``value`` if it is a dotted field (or signal) name, else ``LayoutError``."""
    return _check("field name", value, DOTTED_NAME_RE, _MAX_DOTTED)


def check_name(value: object, kind: str = "name") -> str:
    """``value`` if it is a world or scenario name, else ``LayoutError`` naming ``kind``."""
    return _check(kind, value, NAME_RE, 200)


def is_run_id(value: object) -> bool:
    """Whether ``value`` is a run id this project could have written."""
    try:
        check_run_id(value)
    except LayoutError:
        return False
    return True


def new_run_id(now: datetime | None = None) -> str:
    """``YYYYMMDD_HHMMSS_xxxxxxxx``: UTC start time, then 32 random bits.

    The time prefix keeps ids readable and sortable by start; the random suffix keeps two
    runs started in the same second (on one host or many sharing a catalog) apart without
    any coordination. The one run-id generator of the project.
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d_%H%M%S")
    return f"{stamp}_{secrets.token_hex(4)}"


# --- confinement --------------------------------------------------------------------------


def child(root: StrPath, *names: str) -> Path:
    """``root / names...``, each name one plain path component (no separator, not ``.``/``..``).

    Every path built from a name goes through here, so no identifier can point outside
    the directory it is joined onto.
    """
    path = Path(root)
    for name in names:
        if (
            not isinstance(name, str)
            or not name
            or name in (".", "..")
            or "/" in name
            or os.sep in name
            or "\0" in name
        ):
            raise LayoutError(f"{str(name)[:80]!r} is not a plain file name under {root}")
        path = path / name
    return path


def is_within(root: StrPath, path: StrPath) -> bool:
    """Whether ``path`` lies under ``root`` (lexically, after normalising both)."""
    base = os.path.abspath(os.fspath(root))
    target = os.path.abspath(os.fspath(path))
    return os.path.commonpath([base, target]) == base


def relative_to(path: StrPath, directory: str | None) -> str:
    """``path`` relative to ``directory`` when it lies under it, else as given."""
    text = os.fspath(path)
    if not directory or not os.path.isabs(text) or not is_within(directory, text):
        return text
    return os.path.relpath(os.path.abspath(text), os.path.abspath(directory))


def resolve_under(directory: str | None, stored: str) -> str:
    """The path to open for a ``stored`` path (relative to ``directory`` when it is)."""
    return os.path.join(directory, stored) if directory else stored


# --- the default catalog -------------------------------------------------------------------

CATALOG_DIR, CATALOG_FILE = "continuum", "catalog.db"


def catalog_path(data_home: StrPath) -> Path:
    """The default SQLite catalog under a data directory (``$XDG_DATA_HOME``)."""
    return child(data_home, CATALOG_DIR, CATALOG_FILE)


# --- run directories ----------------------------------------------------------------------

MANIFEST = "manifest.json"
LATEST = "latest"


def run_dir(root: StrPath, run_id: str) -> Path:
    """A run's directory of checkpoints (or of lens chunks) under ``root``."""
    return child(root, check_run_id(run_id))


def manifest_path(run_dir: StrPath) -> Path:
    return child(run_dir, MANIFEST)


def latest_path(run_dir: StrPath) -> Path:
    return child(run_dir, LATEST)


# --- worlds (read, never written) --------------------------------------------------------

WORLD_FILE = "world.toml"
SCENARIOS = "scenarios"
TOML_SUFFIX = ".toml"


def world_file(world_dir: StrPath) -> Path:
    """``{world_dir}/world.toml``: what makes a directory a world."""
    return child(world_dir, WORLD_FILE)


def scenarios_dir(world_dir: StrPath) -> Path:
    return child(world_dir, SCENARIOS)


def scenario_path(world_dir: StrPath, name: str) -> Path:
    """``{world_dir}/scenarios/{name}.toml``; ``LayoutError`` if ``name`` is not one component."""
    return child(scenarios_dir(world_dir), f"{name}{TOML_SUFFIX}")


# --- checkpoints --------------------------------------------------------------------------

CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX = "checkpoint_", ".ckpt"
CHECKPOINT_NAME_RE = re.compile(r"^checkpoint_(?P<tick>[0-9]{10,})\.ckpt$")


def checkpoint_name(tick: int) -> str:
    """``checkpoint_0000001000.ckpt``: lexicographic order is chronological."""
    if tick < 0:
        raise LayoutError(f"a checkpoint tick is >= 0; got {tick}")
    return f"{CHECKPOINT_PREFIX}{tick:010d}{CHECKPOINT_SUFFIX}"


def checkpoint_path(run_dir: StrPath, tick: int) -> Path:
    return child(run_dir, checkpoint_name(tick))


def checkpoint_tick(name: str) -> int | None:
    """The tick in a checkpoint file name, or None if ``name`` is not one."""
    match = CHECKPOINT_NAME_RE.match(name)
    return int(match["tick"]) if match else None


def read_latest(run_dir: StrPath) -> str | None:
    """The file name ``latest`` points to (it may dangle), or None without a link."""
    try:
        return os.path.basename(os.readlink(latest_path(run_dir)))
    except OSError:
        return None


def latest_tick(run_dir: StrPath) -> int | None:
    """The tick of the checkpoint ``latest`` names, or None."""
    name = read_latest(run_dir)
    return None if name is None else checkpoint_tick(name)


# --- lens chunks --------------------------------------------------------------------------

LENS_FULL_NAME = "lens_snapshot_full.lens"
LENS_SUFFIX = ".lens"
LENS_CHUNK_RE = re.compile(r"^lens_snapshot_(?P<start>[0-9]{10,})-(?P<end>[0-9]{10,})\.lens$")


def lens_chunk_name(start: int, end: int) -> str:
    """``lens_snapshot_0000000000-0000010000.lens`` for ticks ``[start, end)``."""
    if not 0 <= start < end:
        raise LayoutError(
            f"a lens chunk covers ticks [start, end) with 0 <= start < end; got [{start}, {end})"
        )
    return f"lens_snapshot_{start:010d}-{end:010d}{LENS_SUFFIX}"


def lens_chunk_path(run_dir: StrPath, start: int, end: int) -> Path:
    return child(run_dir, lens_chunk_name(start, end))


def lens_full_path(run_dir: StrPath) -> Path:
    return child(run_dir, LENS_FULL_NAME)


def parse_lens_chunk_name(name: str) -> tuple[int, int] | None:
    """The ``[start, end)`` of a chunk file name, or None if ``name`` is not one."""
    match = LENS_CHUNK_RE.match(name)
    if match is None:
        return None
    start, end = int(match["start"]), int(match["end"])
    return (start, end) if start < end else None


def is_lens_file_name(name: str) -> bool:
    """A chunk or the full snapshot: the ``.lens`` files a lens run directory holds."""
    return name == LENS_FULL_NAME or parse_lens_chunk_name(name) is not None


# --- what a run directory may hold ---------------------------------------------------------


def is_run_file_name(name: str) -> bool:
    """A name this project writes into a checkpoint or lens run directory."""
    return (
        name in (MANIFEST, LATEST) or checkpoint_tick(name) is not None or is_lens_file_name(name)
    )


# --- temporaries of the atomic-write protocol ------------------------------------------------

TEMP_NAME_RE = re.compile(r"^\.(?P<final>.+)\.tmp-(?P<pid>[0-9]+)-(?P<token>[0-9a-f]{8})$")


def temp_name(final_name: str) -> str:
    """A fresh, hidden temporary name for ``final_name`` in the same directory."""
    return f".{final_name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def temp_path(final: StrPath) -> Path:
    final = Path(final)
    return final.with_name(temp_name(final.name))


def is_temp_name(name: str) -> bool:
    """True if ``name`` (a bare file name) is a temporary of :func:`temp_name`."""
    return TEMP_NAME_RE.match(name) is not None


def temp_pid(name: str) -> int | None:
    """The pid of the process that made temporary ``name``, or None if it is not one."""
    match = TEMP_NAME_RE.match(name)
    return int(match["pid"]) if match else None


def temp_final_name(name: str) -> str | None:
    """The final name a temporary was written for, or None if ``name`` is not one."""
    match = TEMP_NAME_RE.match(name)
    return match["final"] if match else None


# --- Parquet exports ------------------------------------------------------------------------

BY_SAMPLE = "by_sample"
TICKS = "ticks"
SIGNALS = "signals"
RUN_PARTITION_RE = re.compile(r"^run_id=(?P<run>[^/\\]+)$")
PART_NAME_RE = re.compile(r"^part-(?P<start>[0-9]{10,})-(?P<end>[0-9]{10,})\.parquet$")
#: Temporaries of Parquet parts written before they followed :func:`temp_name`.
LEGACY_PART_TEMP_RE = re.compile(r"^\.part-[0-9]{10,}-[0-9]{10,}\.parquet\.[0-9a-f]{8}\.tmp$")
#: The glob of time-major field parts under an export root, for readers.
FIELD_PART_GLOB = "run_id=*/field=*/part-*.parquet"
TICKS_PART_GLOB = f"run_id=*/{TICKS}/part-*.parquet"
SIGNALS_PART_GLOB = f"run_id=*/{SIGNALS}/part-*.parquet"
BY_SAMPLE_PART_GLOB = f"{BY_SAMPLE}/{FIELD_PART_GLOB}"


def part_name(start: int, end: int) -> str:
    """``part-SSSSSSSSSS-EEEEEEEEEE.parquet`` for one chunk's ticks ``[start, end)``."""
    return f"part-{start:010d}-{end:010d}.parquet"


def is_part_name(name: str) -> bool:
    """A Parquet part (or one's write temporary) this project writes."""
    if PART_NAME_RE.match(name) or LEGACY_PART_TEMP_RE.match(name):
        return True
    final = temp_final_name(name)
    return final is not None and PART_NAME_RE.match(final) is not None


def run_partition(root: StrPath, run_id: str, layout: str = "time") -> Path:
    """``root/run_id=R`` (time-major) or ``root/by_sample/run_id=R`` (sample-major)."""
    base = child(root, BY_SAMPLE) if layout == "sample" else Path(root)
    return child(base, f"run_id={check_run_id(run_id)}")


def run_partitions(root: StrPath, run_id: str) -> list[Path]:
    """Both layouts' partitions of one run under ``root`` (existing or not)."""
    return [run_partition(root, run_id, "time"), run_partition(root, run_id, "sample")]


def field_partition(root: StrPath, run_id: str, field: str, layout: str = "time") -> Path:
    return child(run_partition(root, run_id, layout), f"field={check_field_name(field)}")


def ticks_part_path(root: StrPath, run_id: str, start: int, end: int) -> Path:
    return child(run_partition(root, run_id), TICKS, part_name(start, end))


def signals_part_path(root: StrPath, run_id: str, start: int, end: int) -> Path:
    return child(run_partition(root, run_id), SIGNALS, part_name(start, end))


def parse_run_partition(name: str) -> str | None:
    """The run id of a ``run_id=R`` directory name, or None if it is not one of ours."""
    match = RUN_PARTITION_RE.match(name)
    return match["run"] if match and is_run_id(match["run"]) else None


def is_part_directory_name(name: str) -> bool:
    """A directory under ``run_id=R`` that holds parts: ``field=F``, ticks, signals."""
    return name in (TICKS, SIGNALS) or (
        name.startswith("field=") and DOTTED_NAME_RE.match(name[len("field=") :]) is not None
    )
