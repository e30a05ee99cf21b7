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
    $XDG_RUNTIME_DIR/continuum/{run_id}.sock   a live run's control socket (mode 0600), in a
    {tmp}/continuum-{uid}/{run_id}.sock        private directory (0700); names past the 103
                                               bytes of a socket path: ``{16 hex}.sock``

Any of those roots may instead be ``s3://bucket/prefix`` (:func:`is_object_url`,
:func:`split_object_url`, :func:`object_child`): the same names below it, as object keys
of plain segments confined to their prefix (:func:`check_key`); ``latest`` and the
manifests there are derived from the catalog, never trusted over it.

Temporaries of the atomic-write protocol are ``.{final}.tmp-{pid}-{8 hex}`` in the
final file's directory. Tick ranges in names are half-open ``[start, end)``.

Identifiers that become path components (run ids, field names, world and scenario
names) must match their grammar; anything else is refused with :class:`LayoutError`
before a path is built from it, wherever it came from (a header, a manifest, a catalog
row, the command line): every builder below checks its identifiers itself.

Confinement on disk (:func:`confine`, :class:`ConfinedDir`): a *root* (a checkpoint,
lens or export directory the user named, or the parent of a run directory the catalog
names) may itself be a symbolic link — a data home often is — and is followed once;
below it no component may be a link. Builders stay lexical (no I/O); code that opens,
writes or deletes below a root proves the path with :func:`confine`, and destructive
code goes further and works on directory descriptors (:class:`ConfinedDir`: each
directory opened ``O_NOFOLLOW`` relative to its parent, files unlinked by name in it),
so a directory swapped for a link between a check and an unlink is never followed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
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


NAME_MAX = 255  # bytes in one path component (Linux, macOS)


def check_component(name: object, root: StrPath | None = None) -> str:
    """``name`` if it is one plain path component (no separator, not ``.``/``..``, no NUL,
    at most :data:`NAME_MAX` bytes), else ``LayoutError``."""
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or os.sep in name
        or "\0" in name
        or len(os.fsencode(name)) > NAME_MAX
    ):
        where = f" under {root}" if root is not None else ""
        raise LayoutError(f"{repr(name)[:80]} is not a plain file name{where}")
    return name


def child(root: StrPath, *names: str) -> Path:
    """``root / names...``, each name one plain path component (:func:`check_component`).

    Every path built from a name goes through here, so no identifier can point outside
    the directory it is joined onto (lexically; :func:`confine` proves it on disk).
    """
    path = Path(root)
    for name in names:
        path = path / check_component(name, root)
    return path


def is_within(root: StrPath, path: StrPath) -> bool:
    """Whether ``path`` lies under ``root`` (lexically, after normalising both)."""
    base = os.path.abspath(os.fspath(root))
    target = os.path.abspath(os.fspath(path))
    return os.path.commonpath([base, target]) == base


def relative_to(path: StrPath, directory: str | None) -> str:
    """``path`` relative to ``directory`` when it lies under it, else as given (object
    URLs too: ``s3://b/p/RUN/x.ckpt`` under ``s3://b/p/RUN`` is ``x.ckpt``)."""
    text = os.fspath(path)
    if is_object_url(text) or is_object_url(directory):
        base = (directory or "").rstrip("/") + "/"
        return text[len(base) :] if directory and text.startswith(base) else text
    if not directory or not os.path.isabs(text) or not is_within(directory, text):
        return text
    return os.path.relpath(os.path.abspath(text), os.path.abspath(directory))


def resolve_under(directory: str | None, stored: str) -> str:
    """The path to open for a ``stored`` path (relative to ``directory`` when it is).

    A relative stored path (a catalog row's) is plain components under ``directory``
    (``LayoutError`` for ``..``, empty or NUL components): a row cannot climb out of
    its run directory. An absolute one is the catalog's word for where a file is
    (it is read, never deleted: see :func:`run_file_name`).
    """
    if not isinstance(stored, str) or "\0" in stored:
        raise LayoutError(f"{repr(stored)[:80]} is not a stored file path")
    if is_object_url(directory) and not is_object_url(stored):
        return object_child(directory or "", *stored.split("/"))  # a key below the run's prefix
    if os.path.isabs(stored) or is_object_url(stored) or not directory:
        return stored
    return str(child(directory, *stored.split("/")))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def confine(root: StrPath, path: StrPath) -> Path:
    """``path`` (absolute or relative to ``root``) resolved, proved to lie under ``root``.

    ``root`` may itself be a symbolic link and is resolved (``realpath``) once; ``path``
    must lie under it lexically, and no component of it below the root that exists may be
    a symbolic link (``lstat`` each: a link is refused, never followed). Components that
    do not exist yet are fine (a directory about to be made); the result's ``realpath``
    is checked to be under the root's as well. ``LayoutError`` (one line) otherwise.
    """
    base = os.path.abspath(os.fspath(root))
    real_root = os.path.realpath(base)
    given = os.fspath(path)
    target = os.path.abspath(os.path.join(base, given))
    for anchor in (base, real_root):
        if os.path.commonpath([anchor, target]) == anchor:
            rel = os.path.relpath(target, anchor)
            break
    else:
        raise LayoutError(f"{given[:200]} is not under {root}; refused")
    current = real_root
    for part in [] if rel == "." else rel.split(os.sep):
        current = os.path.join(current, part)
        st = _lstat(current)
        if st is None:
            break
        if stat.S_ISLNK(st.st_mode):
            raise LayoutError(
                f"{current} is a symbolic link below {root}; Continuum does not follow links "
                "there: replace it with the directory or file itself"
            )
    resolved = os.path.join(real_root, rel) if rel != "." else real_root
    real = os.path.realpath(resolved)
    if os.path.commonpath([real_root, real]) != real_root:  # pragma: no cover - lstat saw all
        raise LayoutError(f"{given[:200]} resolves outside {root}; refused")
    return Path(resolved)


def confined_child(root: StrPath, *names: str) -> Path:
    """:func:`child`, then :func:`confine`: ``root/names`` proved on disk to stay under it."""
    return confine(root, child(root, *names))


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _refused(path: str, exc: OSError) -> Exception:
    """The error for a directory below a root that could not be opened without following."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return LayoutError(
            f"{path} is a symbolic link or not a directory; Continuum does not follow links "
            "below a root: left in place"
        )
    return exc


class ConfinedDir:
    """A directory below a root held open by descriptor, for deleting in it safely.

    Opened as ``root`` (followed: a root may be a link), then each name below it with
    ``O_DIRECTORY | O_NOFOLLOW`` relative to the one before, so no link below the root
    is followed, and later unlinks are by name in *this* directory however its path is
    changed meanwhile. ``FileNotFoundError`` if a component does not exist,
    ``LayoutError`` if one is a link or not a directory. Use as a context manager.
    """

    def __init__(self, root: StrPath, *names: str) -> None:
        self.path = child(root, *names)
        fd = os.open(os.fspath(root), _DIR_FLAGS)
        try:
            where = os.fspath(root)
            for name in names:
                where = os.path.join(where, name)
                try:
                    new = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    raise _refused(where, exc) from None
                os.close(fd)
                fd = new
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    @classmethod
    def _of(cls, path: Path, fd: int) -> ConfinedDir:
        made = cls.__new__(cls)
        made.path, made.fd = path, fd
        return made

    def sub(self, name: str) -> ConfinedDir:
        """The directory ``name`` in this one, opened without following a link."""
        try:
            fd = os.open(check_component(name, self.path), _DIR_FLAGS | _NOFOLLOW, dir_fd=self.fd)
        except OSError as exc:
            raise _refused(os.path.join(self.path, name), exc) from None
        return ConfinedDir._of(child(self.path, name), fd)

    def entries(self) -> list[tuple[str, os.stat_result]]:
        """This directory's entries: each name with its ``lstat`` (links not followed)."""
        out = []
        with os.scandir(self.fd) as it:
            for e in it:
                with contextlib.suppress(FileNotFoundError):
                    out.append((e.name, e.stat(follow_symlinks=False)))
        return out

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(check_component(name, self.path), dir_fd=self.fd, follow_symlinks=False)

    def unlink(self, name: str) -> None:
        """Remove the file (or link) ``name`` in this directory; never a directory."""
        os.unlink(check_component(name, self.path), dir_fd=self.fd)

    def rmdir(self, name: str) -> None:
        """Remove the empty directory ``name`` here (a link of that name is not followed)."""
        os.rmdir(check_component(name, self.path), dir_fd=self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> ConfinedDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- object storage locations ---------------------------------------------------------------
#
# A blob root may be ``s3://bucket/prefix`` instead of a directory. Keys below a root are
# relative, ``/``-separated, each segment a plain component (:func:`check_component`): no
# ``..`` or ``.``, no empty segment (``a//b``), no leading ``/``. Lexical rules only, like
# :func:`child`; object stores have no links, so lexical confinement is the whole proof.

OBJECT_SCHEMES = ("s3",)
# S3 bucket names (the rules AWS enforces for new buckets; MinIO and moto follow them)
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
KEY_MAX = 1024  # bytes in one S3 object key


def is_object_url(location: object) -> bool:
    """Whether ``location`` names object storage (``s3://...``) rather than a local path."""
    if not isinstance(location, str):
        return False
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() in OBJECT_SCHEMES


def check_key(key: object, prefix: str | None = None) -> str:
    """``key`` if it is a relative object key of plain segments, else ``LayoutError``.

    With ``prefix`` (a run's prefix, itself a checked key), ``key`` must also lie under
    it: equal to it or ``prefix/...``. The one confinement test of every object key
    that is written, listed or deleted.
    """
    if not isinstance(key, str) or not key or key.startswith("/"):
        raise LayoutError(f"{repr(key)[:80]} is not a relative object key")
    for segment in key.split("/"):
        check_component(segment, prefix)
    if len(key.encode()) > KEY_MAX:
        raise LayoutError(f"object key {key[:80]}... is longer than {KEY_MAX} bytes")
    if prefix is not None and not key_within(prefix, key):
        raise LayoutError(f"object key {key[:200]} is outside prefix {prefix[:200]}")
    return key


def key_within(prefix: str, key: str) -> bool:
    """Whether ``key`` is ``prefix`` itself or below it (``prefix/...``); ``""`` holds all."""
    return not prefix or key == prefix or key.startswith(prefix.rstrip("/") + "/")


def join_key(prefix: str, *names: str) -> str:
    """``prefix/name/...`` with each name one plain segment (the object-key :func:`child`)."""
    parts = [prefix] if prefix else []
    parts.extend(check_component(name, prefix or None) for name in names)
    return "/".join(parts)


def split_object_url(url: str) -> tuple[str, str, str]:
    """``(scheme, bucket, prefix)`` of ``s3://bucket[/prefix]`` (no trailing ``/``).

    ``LayoutError`` for another scheme, a bucket name S3 would refuse, or a prefix that
    is not plain segments (``..``, ``//``): a root that could alias another.
    """
    if not is_object_url(url):
        raise LayoutError(f"{url[:200]!r} is not an object storage URL (s3://bucket/prefix)")
    scheme, _, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if not BUCKET_RE.match(bucket) or ".." in bucket:
        raise LayoutError(
            f"{url[:200]}: {bucket[:80]!r} is not a bucket name (3-63 lower-case letters, "
            "digits, '.' or '-'); write s3://bucket/prefix"
        )
    prefix = prefix.rstrip("/")
    if prefix:
        check_key(prefix)
    return scheme.lower(), bucket, prefix


def object_url(scheme: str, bucket: str, key: str) -> str:
    """The URL of ``key`` in ``bucket`` (what messages, catalog rows and other tools read)."""
    return f"{scheme}://{bucket}/{key}" if key else f"{scheme}://{bucket}"


def object_child(url: str, *names: str) -> str:
    """``url/name/...`` for an object-storage root: a run's prefix under a blob root."""
    scheme, bucket, prefix = split_object_url(url)
    return object_url(scheme, bucket, join_key(prefix, *names))


def location_child(root: StrPath, *names: str) -> str:
    """A child of a blob root, local directory or object URL alike (as a string)."""
    if is_object_url(root):
        return object_child(os.fspath(root), *names)
    return str(child(root, *names))


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


def split_run_dir(run_dir: StrPath, run_id: str) -> tuple[str, str]:
    """``(root, run_id)`` of an absolute run directory ``{root}/{run_id}`` (a catalog
    row's), the form every destructive operation opens it in (:class:`ConfinedDir`);
    ``LayoutError`` unless it is absolute, normalised and named for its run."""
    text = os.fspath(run_dir)
    check_run_id(run_id)
    if is_object_url(text):  # s3://bucket/prefix/{run_id}: the root is the URL above it
        scheme, bucket, prefix = split_object_url(text)
        root, _, name = prefix.rpartition("/")
        if name != run_id:
            raise LayoutError(f"{text[:200]} is not named for its run {run_id}")
        return object_url(scheme, bucket, root), name
    if not os.path.isabs(text) or os.path.normpath(text) != text.rstrip(os.sep) or "\0" in text:
        raise LayoutError(f"{text[:200]!r} is not an absolute run directory of run {run_id}")
    root, name = os.path.split(text.rstrip(os.sep))
    if name != run_id:
        raise LayoutError(f"{text[:200]} is not named for its run {run_id}")
    return root, name


def run_file_name(run_dir: StrPath, stored: str) -> str:
    """The bare name of a stored blob path directly in ``run_dir`` (relative, or absolute
    with ``run_dir`` as its directory) when it is a checkpoint or lens file name of ours;
    ``LayoutError`` otherwise — the one test of what deletion may touch."""
    if isinstance(stored, str) and "/" not in stored and is_blob_file_name(stored):
        return stored  # the usual case: a name relative to the run directory
    if not isinstance(stored, str) or "\0" in stored:
        raise LayoutError(f"{repr(stored)[:80]} is not a stored file path")
    directory, name = os.path.split(stored)
    if directory and os.path.normpath(directory) != os.path.normpath(os.fspath(run_dir)):
        raise LayoutError(f"{stored[:200]} is not directly in run directory {run_dir}")
    if not is_blob_file_name(name):
        raise LayoutError(f"{stored[:200]} is not a checkpoint or lens file name")
    return name


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
    """``{world_dir}/scenarios/{name}.toml``; ``LayoutError`` unless ``name`` is a scenario
    name (:data:`NAME_RE`: no separator, no ``..``, not a path such as ``/etc/passwd``)."""
    return child(scenarios_dir(world_dir), f"{check_name(name, 'scenario name')}{TOML_SUFFIX}")


# --- checkpoints --------------------------------------------------------------------------

CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX = "checkpoint_", ".ckpt"
CHECKPOINT_NAME_RE = re.compile(r"^checkpoint_(?P<tick>[0-9]{10,})\.ckpt$")


def check_tick(value: object, what: str = "tick") -> int:
    """``value`` if it is an int >= 0 (not a bool), else ``LayoutError``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LayoutError(f"a {what} is an integer >= 0; got {repr(value)[:80]}")
    return value


def _check_span(start: object, end: object, what: str) -> tuple[int, int]:
    lo, hi = check_tick(start, f"{what} start tick"), check_tick(end, f"{what} end tick")
    if not lo < hi:
        raise LayoutError(
            f"a {what} covers ticks [start, end) with 0 <= start < end; got [{lo}, {hi})"
        )
    return lo, hi


def checkpoint_name(tick: int) -> str:
    """``checkpoint_0000001000.ckpt``: lexicographic order is chronological."""
    check_tick(tick, "checkpoint tick")
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
    start, end = _check_span(start, end, "lens chunk")
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


LENS_BY_SAMPLE_RE = re.compile(r"^lens_by_sample_(?P<start>[0-9]{10,})-(?P<end>[0-9]{10,})\.lens$")


def lens_by_sample_name(start: int, end: int) -> str:
    """``lens_by_sample_0000000000-0000004096.lens``: the point-major copy of the chunks
    covering ticks ``[start, end)`` (:mod:`continuum.lens.by_sample`)."""
    start, end = _check_span(start, end, "lens by-sample file")
    return f"lens_by_sample_{start:010d}-{end:010d}{LENS_SUFFIX}"


def lens_by_sample_path(run_dir: StrPath, start: int, end: int) -> Path:
    return child(run_dir, lens_by_sample_name(start, end))


def parse_lens_by_sample_name(name: str) -> tuple[int, int] | None:
    """The ``[start, end)`` of a by-sample file name, or None if ``name`` is not one."""
    match = LENS_BY_SAMPLE_RE.match(name)
    if match is None:
        return None
    start, end = int(match["start"]), int(match["end"])
    return (start, end) if start < end else None


def is_lens_file_name(name: str) -> bool:
    """A chunk, the full snapshot or a by-sample copy: the ``.lens`` files a lens run
    directory holds."""
    return (
        name == LENS_FULL_NAME
        or parse_lens_chunk_name(name) is not None
        or parse_lens_by_sample_name(name) is not None
    )


def is_blob_file_name(name: str) -> bool:
    """A checkpoint or lens file name: the files retention and ``catalog rm`` may delete."""
    return checkpoint_tick(name) is not None or is_lens_file_name(name)


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
    check_component(final_name)
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
    start, end = _check_span(start, end, "Parquet part")
    return f"part-{start:010d}-{end:010d}.parquet"


def is_part_name(name: str) -> bool:
    """A Parquet part (or one's write temporary) this project writes."""
    if PART_NAME_RE.match(name) or LEGACY_PART_TEMP_RE.match(name):
        return True
    final = temp_final_name(name)
    return final is not None and PART_NAME_RE.match(final) is not None


def run_partition(root: StrPath, run_id: str, layout: str = "time") -> Path:
    """``root/run_id=R`` (time-major) or ``root/by_sample/run_id=R`` (sample-major)."""
    if layout not in ("time", "sample"):
        raise LayoutError(f"an export layout is 'time' or 'sample'; got {repr(layout)[:40]}")
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


def partition_base(part: StrPath) -> Path:
    """The directory holding a part's ``run_id=R`` partition: its Hive base path.

    Every part lies two levels below its run's partition (``run_id=R/field=F/part-*``,
    ``run_id=R/ticks/part-*``, ``run_id=R/signals/part-*``); a reader discovering the
    partition columns from the path (Spark's ``basePath``) starts there. A path not so
    shaped: LayoutError.
    """
    path = Path(part)
    if len(path.parents) < 3 or parse_run_partition(path.parents[1].name) is None:
        raise LayoutError(f"{repr(os.fspath(part))[:200]} is not a part under run_id=R/DIR/")
    return path.parents[2]


def is_part_directory_name(name: str) -> bool:
    """A directory under ``run_id=R`` that holds parts: ``field=F``, ticks, signals."""
    return name in (TICKS, SIGNALS) or (
        name.startswith("field=") and DOTTED_NAME_RE.match(name[len("field=") :]) is not None
    )


# --- control sockets of live runs ------------------------------------------------------------

#: The private directory's name under ``$XDG_RUNTIME_DIR``, and its prefix under the temp dir.
CONTROL_DIR = "continuum"
CONTROL_SUFFIX = ".sock"
#: The longest Unix socket path that binds everywhere: ``sun_path`` is 104 bytes on macOS
#: and the BSDs (108 on Linux), the terminating NUL included.
MAX_SOCKET_PATH = 103
_HASHED_SOCKET_RE = re.compile(r"^[0-9a-f]{16}\.sock$")


def control_dirs(runtime_dir: str | None, temp_dir: StrPath, uid: int) -> list[Path]:
    """Where a user's private directory of control sockets may be, in order of preference:
    ``$XDG_RUNTIME_DIR/continuum`` (when that is an absolute path), then
    ``{temp_dir}/continuum-{uid}``. Lexical: :mod:`continuum.control` checks and makes them."""
    found = []
    if runtime_dir and os.path.isabs(runtime_dir) and "\0" not in runtime_dir:
        found.append(child(runtime_dir, CONTROL_DIR))
    found.append(child(temp_dir, f"{CONTROL_DIR}-{int(uid)}"))
    return found


def control_socket_name(run_id: str) -> str:
    """``{run_id}.sock``: the control socket of a live run."""
    return f"{check_run_id(run_id)}{CONTROL_SUFFIX}"


def control_socket_path(directory: StrPath, run_id: str) -> Path:
    """``{directory}/{run_id}.sock``, or ``{directory}/{16 hex}.sock`` (blake2b of the run
    id: deterministic, so client and server agree) when the first is longer than
    :data:`MAX_SOCKET_PATH` bytes; ``LayoutError`` when even that does not fit."""
    path = child(directory, control_socket_name(run_id))
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.blake2b(run_id.encode(), digest_size=8).hexdigest()
    short = child(directory, f"{digest}{CONTROL_SUFFIX}")
    if len(os.fsencode(short)) > MAX_SOCKET_PATH:
        raise LayoutError(
            f"{directory} is too long for a control socket (a Unix socket path holds at most "
            f"{MAX_SOCKET_PATH} bytes); set XDG_RUNTIME_DIR or TMPDIR to a shorter directory"
        )
    return short


def is_control_socket_name(name: str) -> bool:
    """A name :func:`control_socket_path` gives (the only files removed from the private dir)."""
    if _HASHED_SOCKET_RE.match(name):
        return True
    return name.endswith(CONTROL_SUFFIX) and is_run_id(name[: -len(CONTROL_SUFFIX)])
