"""Catalog fixtures: the same contract tests run on SQLite files and on PostgreSQL.

PostgreSQL: ``CONTINUUM_TEST_PG_URL`` (default: postgres on 127.0.0.1:5432, db
``test``); each test gets a fresh schema with a random name, selected through
``search_path`` in its URL and dropped afterwards, so tests never see each
other and reruns start clean. Tests skip, saying why, when no server answers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from continuum.catalog import Catalog

PG_URL = os.environ.get(
    "CONTINUUM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DIALECTS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _no_user_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the developer's own catalog: no env URL, XDG data in tmp."""
    monkeypatch.delenv("CONTINUUM_CATALOG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The server URL, or skip when PostgreSQL does not answer."""
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:  # any failure to connect means: no server for these tests
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__})")
    finally:
        engine.dispose()
    return PG_URL


@contextmanager
def private_schema(admin_url: str) -> Iterator[str]:
    """A catalog URL whose tables live in a fresh schema, dropped on exit."""
    schema = f"ct_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    with private_schema(pg_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture(params=DIALECTS)
def catalog_url(request: pytest.FixtureRequest) -> str:
    """An empty catalog location, once per dialect."""
    return request.getfixturevalue(f"{request.param.replace('postgresql', 'pg')}_url")


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """An open, migrated, empty catalog, once per dialect."""
    with Catalog(catalog_url) as cat:
        yield cat


@pytest.fixture(scope="module", params=DIALECTS)
def shared_catalog(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalog]:
    """One catalog per dialect for a module's read-only tests (set up once, not per test)."""
    keep = timedelta(days=1)  # its runs must not turn stale while the module runs
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'catalog.db'}"
        with Catalog(url, stale_after=keep) as cat:
            yield cat
        return
    with (
        private_schema(request.getfixturevalue("pg_admin_url")) as url,
        Catalog(url, stale_after=keep) as cat,
    ):
        yield cat
