"""What a session may read: configured roots only; catalog rows only look inside them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from continuum import layout
from continuum.errors import QueryError
from continuum.sql import default_root, open_session
from continuum.sql.roots import configured_roots, search_dirs

from .conftest import Runs


def test_default_root_is_under_the_data_home(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_root() == tmp_path / "continuum" / "exports"
    assert configured_roots([], default=True) == []  # not there yet: nothing readable
    default_root().mkdir(parents=True)
    assert configured_roots([], default=True) == [default_root().resolve()]
    assert configured_roots([], default=False) == []


def test_roots_listed_in_the_environment_are_configured(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    (tmp_path / "live").mkdir()
    (tmp_path / "other").mkdir()
    monkeypatch.setenv("CONTINUUM_EXPORT_ROOTS", f"{tmp_path / 'live'}:{tmp_path / 'other'}")
    assert configured_roots([], default=True) == [
        (tmp_path / "live").resolve(),
        (tmp_path / "other").resolve(),
    ]
    assert configured_roots([], default=False) == []  # a caller that names its own roots
    monkeypatch.setenv("CONTINUUM_EXPORT_ROOTS", "/")
    with pytest.raises(QueryError, match="every file on the machine"):
        configured_roots([], default=True)


def test_nested_and_repeated_roots_collapse(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    got = configured_roots([tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a"], default=False)
    assert got == [(tmp_path / "a").resolve()]


def test_a_file_is_not_a_root(tmp_path: Path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(QueryError, match="not a directory"):
        configured_roots([tmp_path / "f"], default=False)


def test_recorded_dirs_inside_a_root_are_searched(tmp_path: Path):
    root = tmp_path / "root"
    (root / "project").mkdir(parents=True)
    partition = layout.run_partition(root, "r1")
    partition.mkdir()
    (tmp_path / "elsewhere").mkdir()
    warned: list[str] = []
    recorded = [str(root / "project"), str(partition), str(tmp_path / "elsewhere"), "/nope"]
    got = search_dirs([root], recorded, warned.append)
    assert got == [root, root / "project"]  # a partition is found from the root already
    assert len(warned) == 1 and "elsewhere" in warned[0]


def test_an_export_in_a_subdirectory_of_a_root_is_read(runs: Runs, tmp_path: Path):
    root = tmp_path / "root"
    shutil.copytree(runs.exports, root / "project")
    with open_session([], [root], search=[str(root / "project")]) as s:
        n = s.execute("SELECT count(*) FROM fields").fetchone()
    with runs.session() as s:
        assert n == s.execute("SELECT count(*) FROM fields").fetchone() != (0,)
