"""What every command's output shares: the ``--json``, ``--quiet`` and ``--catalog``
options, group listings, lines, tables, JSON, progress bars, times and byte sizes, so each
is written (and changed) once.

``--quiet`` is one rule for every command: results and errors stay, the rest goes (progress
bars, ``note`` lines on stderr such as the catalog file used, ``echo_done`` confirmations
on stdout). Progress bars (:func:`progress`) are drawn on stderr only when it is a
terminal, so a log, a pipe or a test sees nothing of them. A group's listing
(:class:`Group`) gives each command's first docstring line whole, wrapped, never cut.

Text for people goes through :func:`echo` (and :func:`table_lines`), which escape the
characters a terminal would act on (ESC, BEL, CR, backspace, other C0/C1 controls, bidi
overrides; see :func:`continuum.printable.printable`): every value shown may come from a
file, a catalog row or the command line. A line is escaped whole, so a line that should
be blank is its own :func:`echo` call, never an embedded newline.

JSON for scripts (:func:`json_text`, :func:`echo_json`) is strict RFC 8259: NaN and the
infinities, which ``json.dumps`` would write as the non-JSON tokens ``NaN`` and
``Infinity``, are written as ``null`` (a value that is not a number is no number); strings
keep their exact content, escaped by JSON itself.

A result file a user names (``--output FILE``) goes through :func:`output_path`: only a
new file or an existing regular file is written, never a device, a FIFO, a symlink, a
directory, the catalog in use or a file Continuum writes itself (a checkpoint, a lens
chunk, a manifest, a Parquet part): a write (atomic or not) would replace or feed them.

One unit convention for sizes in human output: binary (B, KiB, MiB, GiB, TiB), the units
the size options (``--max-bytes 10G``) are read in; ``--json`` keeps raw integers.

Imports click, the standard library, :mod:`continuum.errors` and :mod:`continuum.printable`
only (:mod:`continuum.layout` when an output path is checked), so the lightest
command (``catalog list``) pays nothing for it: the catalog is imported only when a
``--catalog`` value is checked.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from continuum import layout
from continuum.errors import ContinuumError
from continuum.printable import printable

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "BLOB_FILE",
    "BLOB_PATH",
    "BLOB_ROOT",
    "MAX_INT",
    "NATURAL",
    "POSITIVE",
    "BlobRoot",
    "FiniteFloat",
    "Group",
    "catalog_files",
    "catalog_option",
    "check_catalog",
    "echo",
    "echo_done",
    "echo_json",
    "echo_table",
    "finite_json",
    "format_age",
    "format_bytes",
    "format_duration",
    "format_time",
    "is_quiet",
    "json_alias",
    "json_option",
    "json_text",
    "log_to_stderr",
    "note",
    "output_path",
    "printable",
    "progress",
    "quiet_option",
    "short_help",
    "table_lines",
]


#: The largest integer a catalog column or a file header holds (signed 64-bit).
MAX_INT = 2**63 - 1
#: A tick, a seed or a count as typed: an integer from 0 that fits the catalog.
NATURAL = click.IntRange(0, MAX_INT)
#: A stride, a count of things to keep: an integer from 1 that fits the catalog.
POSITIVE = click.IntRange(1, MAX_INT)


class FiniteFloat(click.FloatRange):
    """A float option that refuses NaN and the infinities (click's FloatRange admits NaN:
    every comparison with it is false), with optional bounds like ``FloatRange``'s."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class BlobRoot(click.ParamType):
    """A blob root: a local directory (a ``Path``, as ``click.Path(file_okay=False)``) or
    object storage, ``s3://bucket/prefix`` (kept a ``str``: a ``Path`` would fold ``//``)."""

    name = "dir|s3://bucket/prefix"

    def __init__(self, file_okay: bool = False, dir_okay: bool = True) -> None:
        self.file_okay, self.dir_okay = file_okay, dir_okay
        if file_okay:
            self.name = "path|s3://bucket/key"
        if not dir_okay:
            self.name = "file|s3://bucket/key"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path):
            return value
        text = str(value)
        if layout.is_object_url(text):
            try:
                layout.split_object_url(text)
            except ContinuumError as exc:
                self.fail(str(exc), param, ctx)
            return text.rstrip("/")
        local = click.Path(file_okay=self.file_okay, dir_okay=self.dir_okay, path_type=Path)
        return local.convert(text, param, ctx)


#: ``--checkpoint-dir``, ``--lens-dir``, ``--lens-export-dir``: a directory or s3:// URL
BLOB_ROOT = BlobRoot()
#: a blob or a directory of them, or an object or prefix on object storage
BLOB_PATH = BlobRoot(file_okay=True)
#: one blob: a file, or an object on object storage (``--checkpoint-path``)
BLOB_FILE = BlobRoot(file_okay=True, dir_okay=False)


class ByteSize(click.ParamType):
    """A size in bytes: ``536870912``, ``512M``, ``2G``, ``1.5GiB`` (K, M, G, T; an ``i``
    and a ``B`` are optional: the units are binary, as ``free -h`` prints them)."""

    name = "size"
    _UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", str(value), re.I)
        if match is None:
            self.fail(f"{value!r} is not a size (e.g. 512M, 2G, 1073741824)", param, ctx)
        number = float(match[1]) * self._UNITS[match[2].upper()]
        if not 1 <= number <= MAX_INT:
            self.fail(f"{value!r} is not a size between 1 byte and 8 EiB", param, ctx)
        return int(number)


def short_help(command: click.Command) -> str:
    """What a group's listing says of ``command``: its ``short_help``, else its docstring's
    first line, whole (click's default cuts it at the terminal width with ``...``)."""
    if command.short_help:
        return command.short_help
    lines = [line.strip() for line in (command.help or "").strip().splitlines()]
    return lines[0] if lines else ""


class Group(click.Group):
    """A click group whose listing gives each command's first line whole, wrapped rather
    than cut (:func:`short_help`)."""

    def command_rows(self, ctx: click.Context) -> list[tuple[str, str]]:
        """(name, short help) of each listed command."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, short_help(command)))
        return rows

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = self.command_rows(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def json_option(fn: F) -> F:
    """``--json`` (as ``as_json``): data for scripts instead of text for people."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON instead of text (NaN/inf as null)."
    )(fn)


#: ``ctx.meta`` key of ``--quiet`` (meta is shared by a command's context and its parents').
QUIET = "continuum.quiet"


def quiet_option(fn: F | None = None, *, help: str | None = None, expose: bool = False) -> Any:
    """``--quiet``/``-q``: no progress bars, notes or confirmations (errors and the data
    asked for stay). Eager, so it is known before ``--catalog``'s callback would say which
    file it uses (:func:`check_catalog`); :func:`is_quiet` reads it, and only with
    ``expose`` is it also the command's ``quiet`` argument."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[QUIET] = True
        return value

    def decorate(f: F) -> F:
        return click.option(
            "--quiet",
            "-q",
            is_flag=True,
            is_eager=True,
            expose_value=expose,
            callback=remember,
            help=help or "Print only the results and errors: no progress, notes or confirmations.",
        )(f)

    return decorate if fn is None else decorate(fn)


def is_quiet() -> bool:
    """The running command was given ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and bool(ctx.meta.get(QUIET))


def note(line: object) -> None:
    """A line for people on stderr (what was used, what to type next), unless ``--quiet``."""
    if not is_quiet():
        echo(line, err=True)


def echo_done(line: object) -> None:
    """What a command did (``pinned checkpoint 100 of run R``), on stdout, unless ``--quiet``."""
    if not is_quiet():
        echo(line)


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """``step(done, total)`` to report a task's progress: a progress bar on stderr when
    stderr is a terminal and not ``--quiet``, drawn from the first step (so a callback
    that learns the total late can drive it); nothing otherwise (a log or a pipe stays
    clean)."""
    if is_quiet() or not sys.stderr.isatty():
        yield lambda _done, _total: None
        return
    with ExitStack() as stack:
        bars: list[Any] = []

        def step(done: int, total: int) -> None:
            if not bars:
                bar = click.progressbar(length=total, label=label, file=sys.stderr)
                bars.append(stack.enter_context(bar))
            bars[0].update(done - bars[0].pos)

        yield step


def json_alias(fmt: str, as_json: bool) -> str:
    """``--json`` is ``--format json``; with another --format given it is a contradiction."""
    ctx = click.get_current_context()
    given = ctx.get_parameter_source("fmt") is not ParameterSource.DEFAULT
    if as_json and given and fmt != "json":
        raise click.UsageError(f"--json and --format {fmt} contradict each other; give one")
    return "json" if as_json else fmt


def catalog_option(fn: F) -> F:
    """``--catalog URL`` (as ``catalog_url``), checked by :func:`check_catalog` when parsed."""
    return click.option(
        "--catalog",
        "catalog_url",
        metavar="URL",
        default=None,
        callback=lambda _ctx, _param, value: check_catalog(value),
        help="Catalog URL (sqlite:///PATH.db, postgresql+psycopg://USER@HOST/DB) or a .db "
        "file (default: $CONTINUUM_CATALOG, else ~/.local/share/continuum/catalog.db).",
    )(fn)


def check_catalog(value: str | None) -> str | None:
    """The catalog URL a command uses: ``value`` (``--catalog``) or ``$CONTINUUM_CATALOG``.

    Either must be a catalog URL or a plain path to an existing or creatable ``.db`` file
    (:func:`continuum.catalog.locate_catalog`; anything else is one line and nothing is
    created); a plain path is said on stderr, once. None (neither given) leaves the
    default file to the catalog, which names the flag to use if it cannot be made.
    """
    if value is None and not os.environ.get("CONTINUUM_CATALOG"):
        return None
    from continuum.catalog import locate_catalog  # standard library (catalog.db.location)

    where = locate_catalog(value)
    if where.plain_path is not None:
        note(f"using SQLite catalog file {where.plain_path}")
    return where.url


def echo(line: object = "", *, err: bool = False) -> None:
    """One line for people, on stdout (or stderr), its unsafe characters escaped."""
    click.echo(printable(line), err=err)


#: The longest log line printed (escaped characters).
LOG_LIMIT = 4000


class _StderrHandler(logging.Handler):
    """``LEVEL: message`` on the current stderr, escaped and bounded like every other line.

    It looks ``sys.stderr`` up at each record (click's test runner swaps it per call), and
    it replaces Python's last-resort handler, which would print a message quoting a file
    or a catalog row raw.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(printable(self.format(record), LOG_LIMIT), err=True)
        except (OSError, ValueError, TypeError):  # closed/broken stderr, a bad format string
            self.handleError(record)  # logging's own policy: report once, never raise


def log_to_stderr(level: int = logging.WARNING) -> None:
    """Continuum's warnings (dropped checkpoints, ignored rows, fallbacks) on stderr."""
    logger = logging.getLogger("continuum")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def json_text(doc: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``doc`` as strict JSON: NaN/inf as null, never the ``NaN``/``Infinity`` tokens."""
    return json.dumps(finite_json(doc), indent=indent, sort_keys=sort_keys, allow_nan=False)


def echo_json(doc: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """One strict JSON document on stdout (warnings and cursors go to stderr, never here)."""
    click.echo(json_text(doc, indent=indent, sort_keys=sort_keys))


def table_lines(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    right: Collection[int] = (),
    rule: bool = False,
) -> list[str]:
    """Aligned columns two spaces apart (``right``: right-aligned ones; ``rule``: a dashed
    line under the header); trailing blanks are cut so the last column is not padded.
    Cells are escaped (:func:`printable`) before they are measured, so columns align."""
    cells = [[printable(c) for c in header]] + [[printable(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in cells
    ]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def echo_table(
    header: Sequence[object], rows: Iterable[Sequence[object]], right: Collection[int] = ()
) -> None:
    """Print :func:`table_lines` on stdout."""
    for line in table_lines(header, rows, right):
        click.echo(line)  # escaped cell by cell


def format_time(at: datetime | None) -> str:
    """``2026-01-16 09:54:30`` in UTC (the tables say so in their header), ``-`` for none."""
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_age(seconds: float) -> str:
    """``3m 12s ago``: the two largest units, for people scanning a listing."""
    rest = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size or (unit == "s" and not parts):
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts[:2]) + " ago"


def format_duration(seconds: int) -> str:
    """``7d``, ``36h``, ``90m``: the largest unit that divides it, as durations are typed."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_bytes(n: int) -> str:
    """``512 B``, ``1.5 KiB``, ``10.0 GiB``: binary units, like the size options read them."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{int(n)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


# --- result files named by the user -----------------------------------------------------------

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)
#: The files SQLite keeps beside a database while it is in use.
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def catalog_files(url: str | None) -> tuple[Path, ...]:
    """The files of the SQLite catalog ``url`` names (None: ``$CONTINUUM_CATALOG``, else the
    default file): the database and its WAL, shared-memory and journal files; none for
    PostgreSQL, an in-memory catalog, or a URL that cannot be parsed (its command says so)."""
    from sqlalchemy.engine import make_url  # only for commands that write a result file

    from continuum.catalog import default_catalog_path, locate_catalog

    try:
        if url is None and not os.environ.get("CONTINUUM_CATALOG"):
            url = f"sqlite:///{default_catalog_path()}"
        parsed = make_url(locate_catalog(url).url)
    except (ContinuumError, ValueError):
        return ()
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return ()
    if database.startswith("file:"):
        return ()
    db = Path(database).expanduser().absolute()
    return tuple(db.with_name(db.name + side) for side in _SQLITE_SIDE_FILES)


def output_path(
    path: Path,
    *,
    option: str = "--output",
    suffixes: Collection[str] | None = None,
    protected: Iterable[Path] = (),
    error: type[ContinuumError] = ContinuumError,
) -> Path:
    """``path`` if a result may be written there, else ``error`` (one line saying why).

    It may be a new file in an existing directory or an existing regular file (lstat: a
    symlink is refused, whatever it points to, as are devices, FIFOs, sockets and
    directories: writing would replace them or write through them). It may not be one of
    ``protected`` (the catalog's files, compared by real path and by inode) nor carry a
    name Continuum writes (:mod:`continuum.layout`). With ``suffixes`` (lower case, with
    the dot), its suffix must be one of them: a writer that picks the format by extension
    would otherwise append one and write a file the user did not name.
    """
    from continuum import layout

    shown = f"{option} {path}"
    found = _lstat(path, shown, error)
    if found is not None and not stat.S_ISREG(found.st_mode):
        kind = next((what for test, what in _KINDS if test(found.st_mode)), "not a regular file")
        raise error(f"{shown} is {kind}, which is not replaced; name a new or regular file")
    parent = path.parent
    if not parent.is_dir():
        raise error(f"{shown}: directory {parent} does not exist; create it first")
    name = path.name
    if layout.is_run_file_name(name) or layout.is_part_name(name) or layout.is_temp_name(name):
        raise error(f"{shown} is a name Continuum writes its own files under; choose another name")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        known = ", ".join(sorted(suffixes))
        raise error(f"{shown} has no known format suffix; name a file ending in one of {known}")
    real = parent.resolve() / name
    for own in protected:
        if _same_file(real, found, own):
            raise error(f"{shown} is the catalog in use, which is not replaced; name another file")
    return path


def _lstat(path: Path, shown: str, error: type[ContinuumError]) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a parent that is a file, a name too long, no permission
        raise error(f"{shown}: {exc.strerror or type(exc).__name__}") from None


def _same_file(real: Path, found: os.stat_result | None, own: Path) -> bool:
    """``real`` (stat ``found``) is ``own``: the same real path, or the same inode."""
    try:
        if real == own.resolve():
            return True
        mine = os.stat(own)
    except OSError:
        return False
    return found is not None and (found.st_dev, found.st_ino) == (mine.st_dev, mine.st_ino)
