"""Migrations are the schema: upgrade, downgrade, models == migrations, one head."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from continuum.catalog import Catalog
from continuum.catalog.db import schema
from continuum.catalog.db.engine import create_catalog_engine
from continuum.catalog.db.models import metadata
from continuum.errors import CatalogSchemaError

REPO = Path(__file__).resolve().parents[3]


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(schema.migrations_dir()))
    return ScriptDirectory.from_config(config)


def test_single_head_and_known_revisions_match_the_scripts():
    scripts = script_directory()
    assert scripts.get_heads() == [schema.HEAD]
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert tuple(reversed(chain)) == schema.REVISIONS


def test_shipped_migrations_are_the_top_level_directory():
    assert schema.migrations_dir().resolve() == (REPO / "migrations").resolve()
    assert (REPO / "alembic.ini").is_file()


def test_upgrade_from_empty_and_downgrade_to_base(catalog_url):
    engine = create_catalog_engine(catalog_url)
    try:
        assert schema.upgrade(engine, "test") == (None, schema.HEAD)
        assert schema.upgrade(engine, "test") == (schema.HEAD, schema.HEAD)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        assert schema.downgrade(engine, "test") == (schema.HEAD, None)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert schema.upgrade(engine, "test") == (None, schema.HEAD)
    finally:
        engine.dispose()


def test_0004_keeps_rows_and_still_refuses_unknown_states(catalog_url, tmp_path):
    """0004 rewrites the state checks (a table copy on SQLite): rows survive, the rule holds."""
    from sqlalchemy.exc import IntegrityError

    with Catalog(catalog_url) as cat:
        run = cat.runs.register(world="w", ir_hash="ab", seed=1)
        for tick in (0, 10, 20):
            cat.checkpoints.record(
                run.run_id,
                tick=tick,
                sim_time=tick,
                path=f"c{tick}",
                bytes_on_disk=1,
                state="pruned",
            )
    engine = create_catalog_engine(catalog_url)
    try:
        assert schema.downgrade(engine, "test", "0003") == (schema.HEAD, "0003")
        assert schema.upgrade(engine, "test") == ("0003", schema.HEAD)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT tick, state FROM checkpoints ORDER BY tick")).all()
            assert [tuple(r) for r in rows] == [(0, "pruned"), (10, "pruned"), (20, "pruned")]
            with pytest.raises(IntegrityError):
                conn.execute(text("UPDATE checkpoints SET state = 'bogus' WHERE tick = 0"))
    finally:
        engine.dispose()


def test_0005_makes_lens_chunk_ranges_half_open_and_back(catalog_url):
    """0005: a lens chunk's end_tick goes from its last frame to the tick after it, as
    its file name says, and back on downgrade; PostgreSQL says so in column comments."""
    with Catalog(catalog_url) as cat:
        run = cat.runs.register(world="w", ir_hash="ab", seed=1)
        for start in (0, 100):
            cat.lens_chunks.record(
                run.run_id,
                start_tick=start,
                end_tick=start + 100,
                frames=100,
                fields=["a.b"],
                path=f"/l/{start}",
                bytes=1,
                checksum=None,
            )
    engine = create_catalog_engine(catalog_url)
    query = text("SELECT start_tick, end_tick FROM lens_chunks ORDER BY start_tick")
    try:
        assert schema.downgrade(engine, "test", "0004") == (schema.HEAD, "0004")
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(query)] == [(0, 99), (100, 199)]
        assert schema.upgrade(engine, "test") == ("0004", schema.HEAD)
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(query)] == [(0, 100), (100, 200)]
        if engine.dialect.name == "postgresql":
            comments = {
                (t, c["name"]): c.get("comment")
                for t in ("lens_chunks", "parquet_exports", "run_segments")
                for c in inspect(engine).get_columns(t)
                if c["name"] in ("start_tick", "end_tick")
            }
            assert len(comments) == 6 and all(
                "[start_tick, end_tick)" in v for v in comments.values()
            )
    finally:
        engine.dispose()


def test_models_match_migrations(catalog):
    with catalog.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_first_use_creates_the_schema(catalog_url):
    with Catalog(catalog_url) as cat:
        assert cat.revision() == schema.HEAD


def test_newer_schema_is_refused_with_both_revisions(catalog_url):
    with Catalog(catalog_url) as cat, cat.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(CatalogSchemaError) as info:
        Catalog(catalog_url)
    message = str(info.value)
    assert "9999_future" in message and schema.HEAD in message
    assert "upgrade continuum" in message and "\n" not in message


def test_catalog_without_auto_migrate_refuses_an_empty_schema(catalog_url):
    with pytest.raises(CatalogSchemaError, match="continuum catalog migrate"):
        Catalog(catalog_url, auto_migrate=False)


def test_normal_open_does_not_import_alembic(sqlite_url):
    Catalog(sqlite_url).close()  # migrated here, so the child only checks
    code = (
        "import sys; from continuum.catalog import Catalog; "
        f"Catalog({sqlite_url!r}).search.list(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_alembic_cli_from_a_checkout(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    cmd = [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    check = [sys.executable, "-m", "alembic", "-x", f"url={url}", "check"]
    subprocess.run(check, cwd=REPO, check=True, capture_output=True)
    with Catalog(url, auto_migrate=False) as cat:
        assert cat.revision() == schema.HEAD
