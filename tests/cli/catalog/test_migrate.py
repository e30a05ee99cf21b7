"""``continuum catalog migrate``, and a catalog newer than this code refused by every command."""

from __future__ import annotations

from sqlalchemy import text

from continuum.catalog import Catalog
from continuum.catalog.db.schema import HEAD
from tests.cli.conftest import assert_one_line_error, invoke, ok_json


def test_migrate_reports_what_it_did(url):
    first = invoke("catalog", "migrate", "--catalog", url)
    assert first.exit_code == 0 and f"upgraded from empty to {HEAD}" in first.stdout
    again = ok_json("catalog", "migrate", "--catalog", url, "--json")
    assert (again["before"], again["after"]) == (HEAD, HEAD)


def test_newer_schema_is_one_line(filled):
    with Catalog(filled) as cat, cat.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    for command in (["list"], ["migrate"], ["show", "p0"]):
        assert_one_line_error(invoke("catalog", *command, "--catalog", filled), "9999_future", HEAD)


def test_migrate_has_help_with_an_example():
    result = invoke("catalog", "migrate", "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout and "--catalog" in result.stdout
