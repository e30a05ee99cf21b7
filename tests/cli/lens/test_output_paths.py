"""``--output FILE`` writes only a new or regular file: never a device, a FIFO, a symlink,
the catalog in use or a file Continuum owns; lens plot never picks a name the user did not
type; lens sql's CSV on a terminal shows control characters as escapes (issue 12)."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_line_error, catalog_url, invoke, ok

QUERY = "SELECT 42 AS answer"
CONTROL = "SELECT chr(27) || '[31mred' || chr(7) || chr(155) || 'x' AS cell"


def sql_to(output: Path, *args: object):
    return invoke("lens", "sql", QUERY, "--format", "csv", "--output", output, *args)


def plot_to(output: Path, tmp_path: Path):
    """``lens plot`` with a lens dir that does not exist: the output is refused first."""
    where = ["--tick", "1", "--lens-dir", tmp_path / "no-lens"]
    return invoke("lens", "plot", "surface.elevation", "--output", output, *where)


def char_device(path: Path) -> Path:
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def link_to_file(path: Path) -> Path:
    target = path.with_name("target.txt")
    target.write_text("keep me\n")
    path.symlink_to(target)
    return path


def link_to_stdout(path: Path) -> Path:
    path.symlink_to("/proc/self/fd/1")
    return path


SPECIAL: dict[str, tuple[Callable[[Path], Path], str]] = {
    "char device": (char_device, "is a character device"),
    "fifo": (fifo, "is a FIFO"),
    "symlink to a file": (link_to_file, "is a symlink"),
    "symlink to stdout": (link_to_stdout, "is a symlink"),
}


def snapshot(path: Path) -> tuple[int, int, str | None]:
    """What a special file is: its mode, device numbers and link target."""
    found = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(found.st_mode) else None
    return found.st_mode, found.st_rdev, target


def listing(directory: Path) -> dict[str, str]:
    """Every regular file under ``directory`` with its content (links and devices not read)."""
    return {
        str(p.relative_to(directory)): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink() and stat.S_ISREG(os.lstat(p).st_mode)
    }


@pytest.mark.parametrize("kind", SPECIAL)
def test_sql_never_replaces_a_special_file(tmp_path: Path, kind: str):
    make, says = SPECIAL[kind]
    output = make(tmp_path / "out.csv")
    before, files = snapshot(output), listing(tmp_path)
    assert_one_line_error(sql_to(output), str(output), says, "not replaced")
    assert snapshot(output) == before and listing(tmp_path) == files


@pytest.mark.parametrize("kind", SPECIAL)
def test_plot_never_writes_a_special_file(tmp_path: Path, kind: str):
    make, says = SPECIAL[kind]
    output = make(tmp_path / "map.png")
    before, files = snapshot(output), listing(tmp_path)
    assert_one_line_error(plot_to(output, tmp_path), str(output), says, "not replaced")
    assert snapshot(output) == before and listing(tmp_path) == files


def test_a_directory_is_refused_as_a_usage_error(tmp_path: Path):
    """click's ``dir_okay=False`` refuses it first: one line, exit 2, the directory kept."""
    output = tmp_path / "out.png"
    (output / "inner").mkdir(parents=True)
    for got in (sql_to(output), plot_to(output, tmp_path)):
        assert got.exit_code == 2 and isinstance(got.exception, SystemExit), got.output
        assert got.stderr.count("\n") == 1 and "is a directory" in got.stderr
        assert "Traceback" not in got.stderr
    assert [p.name for p in output.iterdir()] == ["inner"]


def test_sql_never_replaces_the_catalog_in_use(tmp_path: Path):
    url = catalog_url(tmp_path)
    ok("catalog", "list", "--catalog", url)  # the catalog exists and has its tables
    db = tmp_path / "cat.db"
    before = db.read_bytes()
    os.link(db, tmp_path / "same.csv")  # the same file under another name
    for output in (db, tmp_path / "cat.db-wal", tmp_path / "same.csv", tmp_path / "." / "cat.db"):
        assert_one_line_error(sql_to(output, "--catalog", url), "catalog in use")
    assert db.read_bytes() == before
    ok("catalog", "list", "--catalog", url)


def test_sql_never_replaces_the_catalog_named_by_the_environment(tmp_path, monkeypatch):
    db = tmp_path / "env.db"
    monkeypatch.setenv("CONTINUUM_CATALOG", f"sqlite:///{db}")
    ok("catalog", "list")
    before = db.read_bytes()
    assert_one_line_error(sql_to(db), "catalog in use")
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(sql_to(Path("env.db")), "catalog in use")
    plain = sql_to(Path("env.db"), "--catalog", "env.db")  # a plain path, said on stderr
    assert plain.exit_code == 1 and plain.stdout == "" and "Traceback" not in plain.stderr
    said, refused = plain.stderr.splitlines()
    assert said.startswith("using SQLite catalog file") and "catalog in use" in refused
    assert db.read_bytes() == before


@pytest.mark.parametrize(
    "name",
    [
        "checkpoint_0000000010.ckpt",
        "lens_snapshot_0000000000-0000000010.lens",
        "lens_snapshot_full.lens",
        "manifest.json",
        "part-0000000000-0000000010.parquet",
        ".part-0000000000-0000000010.parquet.tmp-12-0123abcd",
    ],
)
def test_sql_never_replaces_a_file_continuum_owns(tmp_path: Path, name: str):
    output = tmp_path / name
    output.write_text("continuum's\n")
    assert_one_line_error(sql_to(output), name, "Continuum writes")
    assert output.read_text() == "continuum's\n"
    assert not (tmp_path / "new").exists()
    assert_one_line_error(sql_to(tmp_path / "new" / name), "does not exist")


def test_sql_refuses_a_missing_directory_and_writes_nothing(tmp_path: Path):
    output = tmp_path / "missing" / "out.csv"
    assert_one_line_error(sql_to(output), "missing", "does not exist", "create it first")
    assert list(tmp_path.iterdir()) == []


def test_sql_replaces_a_regular_file_and_writes_a_new_one(tmp_path: Path):
    old = tmp_path / "old.csv"
    old.write_text("stale\n")
    for output in (old, tmp_path / "new.csv"):
        got = sql_to(output)
        assert got.exit_code == 0 and got.stdout == "" and got.stderr == "", got.output
        assert output.read_text() == "answer\n42\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "old.csv"]


@pytest.mark.parametrize("name", ["noext", "map.txt", "map.png.bak", "map."])
def test_plot_refuses_a_name_without_a_format_suffix(tmp_path: Path, name: str):
    output = tmp_path / name
    assert_one_line_error(plot_to(output, tmp_path), str(output), ".png", ".svg", ".pdf")
    assert list(tmp_path.iterdir()) == []  # no noext.png beside it


def test_plot_refuses_a_missing_directory(tmp_path: Path):
    output = tmp_path / "missing" / "map.png"
    assert_one_line_error(plot_to(output, tmp_path), "does not exist", "create it first")
    assert list(tmp_path.iterdir()) == []


def test_plot_takes_a_known_suffix_in_any_case(tmp_path: Path):
    """A good name gets past the output check to the lens dir (which does not exist here)."""
    for name in ("map.png", "MAP.PNG", "map.svg", "map.pdf"):
        got = plot_to(tmp_path / name, tmp_path)
        assert got.exit_code == 1 and "no-lens" in got.stderr and "--output" not in got.stderr


def _run_on(stdout: int, query: str) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-m", "continuum.cli", "lens", "sql", query, "--format", "csv"]
    return subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, timeout=120)


def _read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 1)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_csv_on_a_terminal_is_escaped_and_a_pipe_gets_the_bytes():
    leader, follower = pty.openpty()
    try:
        proc = _run_on(follower, CONTROL)
        os.close(follower)
        shown = _read_all(leader)
    finally:
        os.close(leader)
    assert proc.returncode == 0, proc.stderr
    assert not any(c in shown for c in (b"\x1b", b"\x07", "\x9b".encode())), shown
    assert b"\\x1b[31mred\\x07\\x9bx" in shown
    piped = _run_on(subprocess.PIPE, CONTROL)
    assert piped.returncode == 0 and piped.stdout == "cell\n\x1b[31mred\x07\x9bx\n".encode()
