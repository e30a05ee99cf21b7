"""Where the catalog lives and how we connect: URL resolution, SQLite tuning, errors."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from continuum.catalog import Catalog, resolve_url
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
