"""The stop's resume command, without a process: what it repeats of the catalog URL."""

from __future__ import annotations

import pytest

from continuum.runner.stop import _catalog_shown


def test_a_catalog_password_is_never_printed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CONTINUUM_CATALOG", raising=False)
    url = "postgresql+psycopg://ana:s3cret@db-host:5432/continuum"
    shown = _catalog_shown(url)
    assert shown is not None and "s3cret" not in shown
    assert shown == "postgresql+psycopg://ana:***@db-host:5432/continuum"


def test_the_catalog_the_environment_names_is_not_repeated(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("CONTINUUM_CATALOG", url)
    assert _catalog_shown(url) is None
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert _catalog_shown(other) == other
