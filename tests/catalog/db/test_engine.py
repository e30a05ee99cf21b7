"""Where the catalog lives and how we connect: URL resolution, SQLite tuning, errors."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from sqlalchemy import text

from continuum.catalog import Catalog, CatalogLocation, locate_catalog, resolve_url
from continuum.catalog.db.engine import create_catalog_engine, describe_url
from continuum.errors import CatalogError, CatalogUnavailableError


def test_explicit_url_beats_environment(monkeypatch):
    monkeypatch.setenv("CONTINUUM_CATALOG", "sqlite:////env.db")
    assert resolve_url("sqlite:////explicit.db") == "sqlite:////explicit.db"
    assert resolve_url(None) == "sqlite:////env.db"


def test_default_is_a_file_under_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = resolve_url(None)
    assert url == f"sqlite:///{tmp_path / 'data' / 'continuum' / 'catalog.db'}"
    assert (tmp_path / "data" / "continuum").is_dir()


def test_default_without_xdg_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_url(None).endswith("/.local/share/continuum/catalog.db")


def test_bare_path_is_sqlite_and_postgres_means_psycopg(tmp_path):
    assert resolve_url(str(tmp_path / "c.db")) == f"sqlite:///{tmp_path / 'c.db'}"
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_password_is_hidden_in_messages():
    assert "s3cret" not in describe_url("postgresql+psycopg://me:s3cret@host/db")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url):
    engine = create_catalog_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_missing_directory_is_a_one_line_error(tmp_path):
    with pytest.raises(CatalogUnavailableError, match="does not exist"):
        Catalog(f"sqlite:///{tmp_path / 'nope' / 'c.db'}")
    assert not (tmp_path / "nope").exists()


def test_unsupported_scheme_is_refused():
    with pytest.raises(CatalogError, match="a catalog URL looks like sqlite"):
        Catalog("mysql://u@h/db")


def test_closed_postgresql_port_fails_fast():
    start = time.monotonic()
    with pytest.raises(CatalogUnavailableError) as info:
        Catalog("postgresql://postgres@127.0.0.1:1/nothing")
    assert time.monotonic() - start < 10
    assert "127.0.0.1" in str(info.value) and "\n" not in str(info.value)


def test_in_memory_catalog_works():
    with Catalog("sqlite://") as cat:
        run = cat.runs.register(world="w", ir_hash="ab", seed=1)
        assert cat.runs.get(run.run_id).seed == 1


# --- what may name a catalog (issue 12: a typo must not become a new SQLite file) -----------

NOT_CATALOGS = [
    "not a url",
    "catalog",  # no .db: most likely a typo, or a directory
    "runs.sqlite",
    "",
    "   ",
    "a\x00b.db",
    "mysql://u@h/db",
    "http://example.com/c.db",
    "file:///tmp/c.db",
    "sqlite:/c.db",  # one slash: not a URL at all
]


@pytest.mark.parametrize("value", NOT_CATALOGS)
def test_a_value_that_is_not_a_catalog_is_refused_and_creates_nothing(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CatalogError, match="a catalog URL looks like sqlite:///") as info:
        Catalog(value)
    assert "--catalog" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["not a url", "catalog", "mysql://u@h/db"])
def test_the_environment_variable_follows_the_same_rules(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTINUUM_CATALOG", value)
    with pytest.raises(CatalogError, match=r"\$CONTINUUM_CATALOG .* a catalog URL looks like"):
        Catalog()
    assert list(tmp_path.iterdir()) == []


def test_a_plain_db_path_is_a_sqlite_file_and_says_it_was_plain(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    new = locate_catalog("new.db")  # creatable: its directory exists
    assert new == CatalogLocation(f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "new.db")
    assert locate_catalog("sqlite:///new.db").plain_path is None  # a URL is what it says
    with Catalog("new.db") as cat:
        cat.runs.register(world="w", ir_hash="ab", seed=1)
    assert (tmp_path / "new.db").is_file()
    assert locate_catalog(str(tmp_path / "new.db")).plain_path == tmp_path / "new.db"


def test_a_plain_path_must_be_a_file_in_an_existing_directory(tmp_path):
    with pytest.raises(CatalogUnavailableError, match="does not exist"):
        Catalog(str(tmp_path / "missing" / "c.db"))
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(CatalogError, match="is not a file"):
        Catalog(str(tmp_path / "dir.db"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.db"]


def test_a_password_is_not_quoted_when_a_url_is_refused():
    with pytest.raises(CatalogError) as info:
        Catalog("mysql://me:s3cret@host/db")
    assert "s3cret" not in str(info.value)


def _refuses_default(message: str, path: str) -> None:
    with pytest.raises(CatalogUnavailableError) as info:
        Catalog()
    text = str(info.value)
    assert message in text and path in text and "\n" not in text
    assert "--catalog URL" in text and "CONTINUUM_CATALOG" in text


def test_default_location_under_a_file_is_one_line_naming_the_way_out(monkeypatch, tmp_path):
    (tmp_path / "data").write_text("not a directory")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    _refuses_default("cannot create the default catalog's directory", str(tmp_path / "data"))
    assert (tmp_path / "data").read_text() == "not a directory"


def test_default_location_that_cannot_be_made_is_one_line(monkeypatch):
    monkeypatch.setenv(
        "XDG_DATA_HOME", "/proc/self"
    )  # no directory can be made there, even by root
    _refuses_default("cannot create the default catalog's directory", "/proc/self/continuum")


@pytest.fixture
def read_only(tmp_path):
    """A directory ``ro`` (holding ``continuum/``) that cannot be written: mode 0500, or for
    root, whom modes do not stop, a read-only tmpfs (skipped where mounting is not allowed)."""
    ro = tmp_path / "ro"
    (ro / "continuum").mkdir(parents=True)
    if os.geteuid() != 0:
        for d in (ro / "continuum", ro):
            d.chmod(0o500)
        yield ro
        for d in (ro, ro / "continuum"):
            d.chmod(0o700)
        return
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(ro)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("running as root and not allowed to mount a read-only tmpfs")
    try:
        (ro / "continuum").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True, capture_output=True)
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], check=True, capture_output=True)


def test_default_location_in_a_read_only_directory_is_one_line(monkeypatch, read_only):
    monkeypatch.setenv("XDG_DATA_HOME", str(read_only / "deeper"))
    _refuses_default("cannot create the default catalog's directory", str(read_only / "deeper"))


def test_catalog_file_in_a_read_only_directory_is_one_line(monkeypatch, read_only):
    monkeypatch.setenv("XDG_DATA_HOME", str(read_only))
    _refuses_default("is not writable", str(read_only / "continuum"))
    assert not (read_only / "continuum" / "catalog.db").exists()
