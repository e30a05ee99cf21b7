"""Shared fixtures: copies of the bundled world to edit, a CLI runner, and catalogs.

Catalog fixtures run the same tests on SQLite files and on PostgreSQL.
PostgreSQL: ``CONTINUUM_TEST_PG_URL`` (default: postgres on 127.0.0.1:5432, db
``test``); each test gets a fresh schema with a random name, selected through
``search_path`` in its URL and dropped afterwards, so tests never see each
other and reruns start clean. Tests skip, saying why, when no server answers.

Object storage: ``s3_endpoint`` is a real S3 server for the session — moto's
``ThreadedMotoServer`` on 127.0.0.1 (a free port), or any endpoint given in
``CONTINUUM_TEST_S3_URL`` (MinIO, ...; credentials from the usual AWS variables). The
AWS variables it sets are inherited by the CLI subprocesses tests start. Each test gets
its own bucket (``s3_bucket``) and a fresh prefix in it (``s3_root``).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from continuum.catalog import Catalog, LensChunkRecord
from continuum.catalog.db import new_id, utcnow
from continuum.catalog.db.models import checkpoints, runs
from continuum.catalog.retention._claims import expand_ticks
from continuum.cli import cli
from continuum.world.loader import BUNDLED

TERRA = BUNDLED / "terra"

# Property tests: a bounded example count keeps CI inside its budget on 2 cores; no deadline,
# because a noisy machine makes per-example timing a flaky test. HYPOTHESIS_PROFILE=deep for more.
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("deep", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection imported out of the cyclic GC's way.

    The libraries the tests import (botocore, moto, pyspark, xarray, ...) leave ~1M
    long-lived objects; every full collection walked them all (62 collections, 27 s of
    an 11-minute run, measured). Frozen, they are never scanned; nothing they hold is
    garbage the tests make.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def private_catalog(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every test (and every subprocess it starts) uses a private SQLite catalog.

    Without this, runs under test would land in the user's own catalog under
    ~/.local/share/continuum. Tests that need their own catalog pass --catalog. Their
    control sockets (continuum.control) go to a private ``$XDG_RUNTIME_DIR`` too.
    """
    home = tmp_path_factory.mktemp("xdg")
    url = f"sqlite:///{home / 'catalog.db'}"
    os.environ["XDG_DATA_HOME"] = str(home)
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("rt"))
    os.environ["CONTINUUM_CATALOG"] = url
    return url


@pytest.fixture
def terra_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the bundled terra world."""
    target = tmp_path / "terra"
    shutil.copytree(TERRA, target)
    return target


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


PG_URL = os.environ.get(
    "CONTINUUM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DIALECTS = ["sqlite", "postgresql"]


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


# --- object storage: a real S3 server on 127.0.0.1 ------------------------------------------

S3_URL = os.environ.get("CONTINUUM_TEST_S3_URL")
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # never the developer's own ~/.aws files, nor the EC2 metadata service, under moto
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The S3 endpoint URL every s3:// test talks to (``AWS_ENDPOINT_URL`` is set to it)."""
    if S3_URL:
        os.environ["AWS_ENDPOINT_URL"] = S3_URL
        yield S3_URL
        return
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in [*AWS_TEST_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS_TEST_ENV, AWS_ENDPOINT_URL=url)
    try:
        yield url
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def s3_denying_endpoint(s3_endpoint: str) -> Iterator[str]:
    """An S3 endpoint that checks signatures, so made-up credentials are refused.

    The shared moto server accepts any key (as moto does by default); this one is a moto
    server in a subprocess with ``INITIAL_NO_AUTH_ACTION_COUNT=0`` (authentication from
    the first request). With ``CONTINUUM_TEST_S3_URL``, that server itself.
    """
    if S3_URL:
        yield S3_URL
        return
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_client():
    """A boto3 client for test set-up and inspection (the code under test uses s3fs)."""
    import boto3

    return boto3.client("s3")


def s3_keys(bucket: str, prefix: str = "") -> list[str]:
    """Every key in ``bucket`` under ``prefix``, straight from the server."""
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[str]:
    """A fresh, empty bucket, emptied and removed afterwards."""
    client = s3_client()
    bucket = f"ct-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield bucket
    finally:
        for key in s3_keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        for up in uploads:
            client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_root(s3_bucket: str) -> str:
    """``s3://{bucket}/{fresh prefix}``: a blob root on object storage for one test."""
    return f"s3://{s3_bucket}/t-{uuid.uuid4().hex[:8]}"


# --- blob rows and files, for catalog and maintenance tests ----------------------------------

SIZE = 1024


def name(tick: int) -> str:
    return f"checkpoint_{tick:010d}.ckpt"


def make_run(cat: Catalog, root: Path, ticks, **kw):
    """A finished run with a 1 KB file and a committed row per tick (rows bulk-inserted)."""
    run = cat.runs.register(world=kw.pop("world", "terra"), ir_hash="ab", seed=1, **kw)
    d = root / run.run_id
    d.mkdir(parents=True)
    cat.db.write(lambda c: c.execute(runs_update(run.run_id, str(d))))
    now = utcnow()
    rows = []
    for t in ticks:
        (d / name(t)).write_bytes(b"x" * SIZE)
        rows.append(dict(id=new_id(), run_id=run.run_id, tick=t, sim_time=0.0, path=name(t)))
        rows[-1].update(bytes_on_disk=SIZE, created_at=now, state="committed", pinned=False)
    if rows:
        cat.db.write(lambda c: c.execute(checkpoints.insert(), rows))
        (d / "latest").symlink_to(name(max(ticks)))
    cat.runs.finish(run.run_id, status="completed", last_tick=max(ticks, default=0))
    return run, d


def runs_update(run_id: str, directory: str):
    return update(runs).where(runs.c.run_id == run_id).values(checkpoint_dir=directory)


def states(cat: Catalog, run_id: str) -> dict[int, str]:
    return {c.tick: c.state for c in cat.checkpoints.list(run_id)}


def files(d: Path) -> set[int]:
    return {int(p.name[11:21]) for p in d.glob("checkpoint_*.ckpt")}


def audited(cat: Catalog, run_id: str, action: str) -> list[int]:
    """Ticks the audit log says were ``action``-ed (entries name them: ``ticks 0-80/10,95``)."""
    entries = [a for a in cat.audit.list(run_id, limit=100_000) if a.action == action]
    return sorted(t for a in entries for t in expand_ticks(a.detail[6:].split(" ")[0]))


def assert_agree(cat: Catalog, run_id: str, d: Path, *, settled: bool = True) -> None:
    """Catalog and disk agree: committed rows have files, pruned rows do not."""
    on_disk = files(d)
    for tick, state in states(cat, run_id).items():
        if state == "committed":
            assert tick in on_disk, (tick, state)
        elif state == "pruned":
            assert tick not in on_disk, (tick, state)
        else:
            assert state == "pending" or (state == "deleting" and not settled), (tick, state)


# --- lens runs recorded in a catalog, for maintenance and CLI tests -------------------------


def lens_run(url: str, root: Path, steps: int, *extra: str) -> tuple[str, Path]:
    args = ["run", "terra", "--scenario", "tiny", "--steps", str(steps), "--lens-dir", str(root)]
    args += ["--lens-chunk-size", "100", "--catalog", url, "--json", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    return out["run_id"], Path(out["lens_dir"]).resolve()


def chunks(url: str, run_id: str) -> list[LensChunkRecord]:
    with Catalog(url) as cat:
        return cat.lens_chunks.list(run_id)


def file_of(lens_dir: Path, c: LensChunkRecord) -> Path:
    return lens_dir / c.path


@pytest.fixture(scope="session")
def gappy_lens_run(tmp_path_factory) -> Path:
    """A real terra run with a lens gap and a vector field: 25 ticks captured every tick
    in chunks of 10, the chunk [20, 30) lost, then resumed for 15 more (ticks 20..24 are
    the gap ``lost``; ``plates.velocity`` is a vec3 field at moving points)."""
    from tests.lens.helpers import run, run_dir

    root = tmp_path_factory.mktemp("gappy")
    lens = {"lens_dir": root / "lens", "lens_stride": 1, "lens_chunk_size": 10}
    first = run(steps=25, checkpoint_dir=root / "ckpt", **lens)
    (run_dir(first) / "lens_snapshot_0000000020-0000000030.lens").unlink()  # as if lost
    second = run(steps=15, checkpoint_dir=root / "ckpt", resume=True, **lens)
    return run_dir(second)
