"""Atomic commits on real files: all or nothing, and nothing left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from continuum import layout
from continuum.blobs import atomic
from continuum.blobs.atomic import (
    atomic_write,
    atomic_writer,
    fsync_dir,
    replace_symlink,
)
from continuum.layout import TEMP_NAME_RE, is_temp_name


class Boom(Exception):
    pass


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_write_bytes_and_chunks(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a.bin", b"hello")
    atomic_write(tmp_path / "b.bin", [b"he", bytearray(b"ll"), memoryview(b"o")])
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes() == b"hello"
    assert names(tmp_path) == ["a.bin", "b.bin"]


def test_old_content_until_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.ckpt"
    path.write_bytes(b"old")
    with atomic_writer(path) as f:
        f.write(b"new")
        f.flush()
        assert path.read_bytes() == b"old"
        assert [n for n in names(tmp_path) if is_temp_name(n)]
    assert path.read_bytes() == b"new"
    assert names(tmp_path) == ["state.ckpt"]


@pytest.mark.parametrize("existing", [False, True])
def test_writer_raising_midway_leaves_no_trace(tmp_path: Path, existing: bool) -> None:
    path = tmp_path / "state.ckpt"
    if existing:
        path.write_bytes(b"old")
    with pytest.raises(Boom), atomic_writer(path) as f:
        f.write(b"half a fi")
        raise Boom
    assert names(tmp_path) == (["state.ckpt"] if existing else [])
    if existing:
        assert path.read_bytes() == b"old"


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_os_error_while_committing_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """ENOSPC/EACCES from the filesystem propagate unchanged; the temp file goes."""
    path = tmp_path / "state.ckpt"
    path.write_bytes(b"old")
    code = errno.ENOSPC if step == "fsync" else errno.EACCES

    def fail(*args: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, step, fail)
    with pytest.raises(OSError) as info:
        atomic_write(path, b"new content")
    assert info.value.errno == code
    monkeypatch.undo()
    assert names(tmp_path) == ["state.ckpt"]
    assert path.read_bytes() == b"old"


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        atomic_write(tmp_path / "plain" / "x.ckpt", b"data")
    assert names(tmp_path) == ["plain"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            atomic_write(directory / "x.ckpt", b"data")
        assert names(directory) == []
    finally:
        directory.chmod(0o700)


def test_temp_names_are_recognisable() -> None:
    name = layout.temp_name("checkpoint_0000001000.ckpt")
    match = TEMP_NAME_RE.match(name)
    assert match and is_temp_name(name)
    assert match["final"] == "checkpoint_0000001000.ckpt"
    assert int(match["pid"]) == os.getpid()
    assert name != layout.temp_name("checkpoint_0000001000.ckpt")
    for other in ["checkpoint_0000001000.ckpt", "latest", ".hidden", ".x.tmp-12-zz"]:
        assert not is_temp_name(other)


def test_replace_symlink(tmp_path: Path) -> None:
    for name in ("checkpoint_0000001000.ckpt", "checkpoint_0000002000.ckpt"):
        (tmp_path / name).write_bytes(name.encode())
    link = tmp_path / "latest"
    replace_symlink(link, "checkpoint_0000001000.ckpt")
    assert os.readlink(link) == "checkpoint_0000001000.ckpt"
    replace_symlink(link, "checkpoint_0000002000.ckpt")
    assert os.readlink(link) == "checkpoint_0000002000.ckpt"
    assert link.read_bytes() == b"checkpoint_0000002000.ckpt"
    assert len(names(tmp_path)) == 3  # no temp link left


def test_replace_dangling_symlink_and_refuse_absolute(tmp_path: Path) -> None:
    link = tmp_path / "latest"
    os.symlink("gone.ckpt", link)
    replace_symlink(link, "other.ckpt")
    assert os.readlink(link) == "other.ckpt"
    with pytest.raises(ValueError, match="relative"):
        replace_symlink(link, str(tmp_path / "abs.ckpt"))
    assert os.readlink(link) == "other.ckpt"


def test_replace_symlink_failure_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "latest").mkdir()  # a directory cannot be replaced by a link
    with pytest.raises(OSError):
        replace_symlink(tmp_path / "latest", "x.ckpt")
    assert names(tmp_path) == ["latest"]


def test_fsync_dir(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")


@pytest.mark.parametrize("existing", [False, True])
def test_commit_file_publishes_a_temporary_written_elsewhere(
    tmp_path: Path, existing: bool
) -> None:
    """What DuckDB's COPY writes to ``layout.temp_path`` becomes the final file, whole."""
    final = tmp_path / "part-0000000000-0000000010.parquet"
    if existing:
        final.write_bytes(b"old")
    tmp = layout.temp_path(final)
    tmp.write_bytes(b"new part")
    atomic.commit_file(tmp, final)
    assert final.read_bytes() == b"new part"
    assert names(tmp_path) == [final.name]


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_commit_file_failure_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    final = tmp_path / "part-0000000000-0000000010.parquet"
    final.write_bytes(b"old")
    tmp = layout.temp_path(final)
    tmp.write_bytes(b"new part")

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(atomic.os, step, fail)
    with pytest.raises(OSError) as info:
        atomic.commit_file(tmp, final)
    monkeypatch.undo()
    assert info.value.errno == errno.EIO
    assert names(tmp_path) == [final.name]
    assert final.read_bytes() == b"old"


def test_make_dirs_syncs_the_parent_of_each_new_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(atomic, "fsync_dir", lambda path: synced.append(Path(path)))
    target = tmp_path / "run_id=r" / "field=f"
    atomic.make_dirs(target)
    assert target.is_dir()
    assert synced == [tmp_path, tmp_path / "run_id=r"]
    synced.clear()
    atomic.make_dirs(target)  # already there: nothing to sync
    assert synced == []


def test_make_dirs_under_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        atomic.make_dirs(tmp_path / "plain" / "sub")
    assert names(tmp_path) == ["plain"]
