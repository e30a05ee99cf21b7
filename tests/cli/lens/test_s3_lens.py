"""Lens chunks and Parquet exports on a real S3 server (moto on 127.0.0.1), end to end.

A ``continuum run terra --scenario tiny --lens-dir s3://... --lens-export-dir s3://...``
subprocess, then the lens commands, :class:`LensStore` and ``lens sql`` reading what it
wrote, each compared with the same run captured into local directories.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from continuum.catalog import Catalog
from continuum.lens import LensStore
from continuum.lens.remote import remote_view
from tests.cli.conftest import assert_one_line_error, invoke
from tests.conftest import s3_keys

STEPS = "250"
CHUNK = "100"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny"]
    argv += ["--steps", STEPS, "--lens-chunk-size", CHUNK, "--json", "--quiet", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


@pytest.fixture
def pair(s3_root: str, tmp_path: Path) -> dict[str, Any]:
    """The same run (seed 3) captured and exported to S3 and to local directories."""
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    remote = summary(
        run("--seed", "3", "--lens-dir", f"{s3_root}/lens", "--lens-export-dir",
            f"{s3_root}/exp", "--catalog", url)
    )  # fmt: skip
    local = summary(
        run("--seed", "3", "--lens-dir", str(tmp_path / "lens"), "--lens-export-dir",
            str(tmp_path / "exp"), "--catalog", url)
    )  # fmt: skip
    return {"remote": remote, "local": local, "url": url, "root": s3_root, "tmp": tmp_path}


def chunk_arrays(store: LensStore) -> dict[str, np.ndarray]:
    data = store.load().to_chunk()
    out = {"ticks": data.ticks, "sim_times": data.sim_times}
    for name, series in data.fields.items():
        out[f"{name}/values"] = np.asarray(series.values)
        out[f"{name}/rows"] = np.asarray(series.rows)
    return out


@pytest.mark.slow
def test_run_to_s3_reads_back_bitwise_equal_to_a_local_run(pair: dict[str, Any]):
    remote, local, root = pair["remote"], pair["local"], pair["root"]
    run_id = remote["run_id"]
    assert remote["lens_dir"] == f"{root}/lens/{run_id}"
    assert remote["state_hash"] == local["state_hash"]
    assert not remote.get("failures")
    bucket, prefix = root[len("s3://") :].split("/", 1)
    keys = s3_keys(bucket, f"{prefix}/lens/{run_id}/")
    names = sorted(k.rsplit("/", 1)[1] for k in keys)
    assert names == sorted(p.name for p in (pair["tmp"] / "lens" / local["run_id"]).iterdir())
    assert not [p for p in Path("/tmp").glob("continuum-lens-*") if run_id in os.listdir(p)]

    # the catalog row is the commit point: every chunk committed, named by its URL
    with Catalog(pair["url"]) as cat:
        assert cat.runs.get(run_id).lens_dir == f"{root}/lens/{run_id}"
        chunks = cat.lens_chunks.list(run_id)
        copies = cat.lens_copies.list(run_id)
    assert [c.state for c in chunks] == ["committed"] * 3
    assert all(c.path.startswith("lens_snapshot_") or c.path.startswith(root) for c in chunks)
    assert copies and all(c.path.startswith(f"{root}/lens/{run_id}/") for c in copies)

    with (
        LensStore(remote_view(f"{root}/lens/{run_id}")) as there,
        LensStore(pair["tmp"] / "lens" / local["run_id"]) as here,
    ):
        a, b = chunk_arrays(there), chunk_arrays(here)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].tobytes() == b[key].tobytes(), key
        position = np.array([0.3, -0.2, 0.9])
        h1 = there.history("atmosphere.temperature", position)
        h2 = here.history("atmosphere.temperature", position)
        assert h1.values.tobytes() == h2.values.tobytes()


@pytest.mark.slow
def test_lens_commands_read_s3_as_they_read_a_directory(
    pair: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    remote, local, root = pair["remote"], pair["local"], pair["root"]
    lens_remote, lens_local = f"{root}/lens", str(pair["tmp"] / "lens")
    for args in (
        ["query", "atmosphere.temperature", "--tick", "120", "--position", "0,0,1"],
        ["history", "surface.elevation", "--position", "1,0.2,0"],
    ):
        there = invoke(
            "lens", *args, "--lens-dir", lens_remote, "--run", remote["run_id"], "--json"
        )
        here = invoke("lens", *args, "--lens-dir", lens_local, "--run", local["run_id"], "--json")
        assert there.exit_code == 0, there.output
        assert json.loads(there.stdout) == json.loads(here.stdout)
    loaded = invoke("lens", "load", f"{lens_remote}/{remote['run_id']}", "--verify", "--json")
    assert loaded.exit_code == 0, loaded.output
    doc = json.loads(loaded.stdout)
    assert doc["path"] == f"{lens_remote}/{remote['run_id']}" and doc["frames"] == 251
    one = f"{lens_remote}/{remote['run_id']}/lens_snapshot_0000000100-0000000200.lens"
    assert json.loads(invoke("lens", "load", one, "--json").stdout)["frames"] == 100
    # a run the catalog records on s3:// is found there from its id alone
    monkeypatch.setenv("CONTINUUM_CATALOG", pair["url"])
    by_id = invoke("lens", "load", remote["run_id"], "--json")
    assert by_id.exit_code == 0 and json.loads(by_id.stdout)["frames"] == 251
    refused = invoke("lens", "compact", "--lens-dir", f"{lens_remote}/{remote['run_id']}")
    assert_one_line_error(refused, "object storage")


def sql_rows(url: str, root: str, query: str) -> list[Any]:
    got = invoke("lens", "sql", query, "--catalog", url, "--export-dir", root, "--format", "json")
    assert got.exit_code == 0, got.output
    rows: list[Any] = json.loads(got.stdout)
    return rows


@pytest.mark.slow
def test_lens_sql_over_s3_exports_answers_as_over_local_ones(pair: dict[str, Any]):
    remote, local = pair["remote"], pair["local"]
    query = (
        "SELECT field, tick, sample, value, vx, sim_time FROM fields WHERE run_id = '{}' "
        "ORDER BY field, tick, sample"
    )
    there = sql_rows(pair["url"], f"{pair['root']}/exp", query.format(remote["run_id"]))
    here = sql_rows(pair["url"], str(pair["tmp"] / "exp"), query.format(local["run_id"]))
    assert len(there) == len(here) > 0 and there == here
    with Catalog(pair["url"]) as cat:
        rows = cat.exports.list(remote["run_id"])
    assert {r.path for r in rows} == {f"{pair['root']}/exp"} and len(rows) == 3

    # lens export --output s3://: the same parts, recorded under the s3 root
    again = f"{pair['root']}/again"
    done = invoke(
        "lens", "export", str(pair["tmp"] / "lens" / local["run_id"]), "--output", again,
        "--catalog", pair["url"], "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert sql_rows(pair["url"], again, query.format(local["run_id"])) == here


def test_outside_prefixes_buckets_and_files_are_refused(s3_root: str, tmp_path: Path):
    from continuum.errors import QueryError
    from continuum.sql import connect
    from tests.conftest import s3_client

    bucket, prefix = s3_root[len("s3://") :].split("/", 1)
    client = s3_client()
    for key in (f"{prefix}/exp/x.csv", f"{prefix}/exp2/x.csv"):
        client.put_object(Bucket=bucket, Key=key, Body=b"a\n1\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with connect(url, roots=[f"{s3_root}/exp"]) as session:
        assert session.query(f"SELECT a FROM read_csv('{s3_root}/exp/x.csv')").rows == [(1,)]
        sideways = (f"{s3_root}/exp2/x.csv", f"{s3_root}/exp/../exp2/x.csv")
        s3a = f"s3a://{bucket}/{prefix}/exp2/x.csv"
        for outside in (*sideways, s3a, str(secret)):
            with pytest.raises(QueryError, match="Permission"):
                session.query(f"SELECT * FROM read_csv('{outside}')")
        with pytest.raises(QueryError):
            session.query(f"SELECT * FROM glob('s3://{bucket}/*')")


def test_bad_endpoint_or_missing_bucket_is_one_line_and_writes_nothing(
    s3_endpoint: str, s3_root: str, tmp_path: Path
):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    missing = run("--lens-dir", "s3://no-such-bucket-here/lens", "--catalog", url)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "no-such-bucket-here" in missing.stderr
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens there
    down = run("--lens-dir", f"{s3_root}/lens", "--catalog", url, env=env)
    assert down.returncode == 1 and down.stderr.count("\n") == 1, down.stderr
    assert "http://127.0.0.1:9" in down.stderr and "Traceback" not in down.stderr
    bucket, prefix = s3_root[len("s3://") :].split("/", 1)
    assert s3_keys(bucket, prefix) == []
    with Catalog(url) as cat:
        assert not cat.search.list(limit=10).runs


@pytest.mark.slow
def test_verify_finds_a_damaged_s3_chunk_and_rm_deletes_the_run_objects(
    s3_root: str, tmp_path: Path
):
    from tests.conftest import s3_client

    url = f"sqlite:///{tmp_path / 'cat.db'}"
    done = summary(
        run("--lens-dir", f"{s3_root}/lens", "--lens-export-dir", f"{s3_root}/exp",
            "--catalog", url)
    )  # fmt: skip
    run_id = done["run_id"]
    clean = invoke("catalog", "verify", "--catalog", url, "--json")
    assert clean.exit_code == 0 and json.loads(clean.stdout)["lens_chunks"] == 3
    bucket, prefix = s3_root[len("s3://") :].split("/", 1)
    key = f"{prefix}/lens/{run_id}/lens_snapshot_0000000100-0000000200.lens"
    client = s3_client()
    blob = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    blob[-300] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(blob))
    found = json.loads(invoke("catalog", "verify", "--catalog", url, "--json").stdout)
    assert [(p["kind"], p["path"]) for p in found["problems"]] == [
        ("corrupt", f"s3://{bucket}/{key}")
    ]
    client.put_object(Bucket=bucket, Key=f"{prefix}/exp/run_id={run_id}/notes.txt", Body=b"x")
    removed = invoke("catalog", "rm", run_id, "--yes", "--json", "--catalog", url)
    assert removed.exit_code == 0, removed.output
    assert s3_keys(bucket, prefix) == [f"{prefix}/exp/run_id={run_id}/notes.txt"]


@pytest.mark.slow
def test_a_run_resumed_in_place_continues_its_s3_lens_dir(s3_root: str, tmp_path: Path):
    """Stop at tick 150 (inside the window [100, 200)), resume to 250: the same frames as
    one straight local run, the window rewritten whole, no gap."""
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    lens = f"{s3_root}/lens"
    first = summary(
        run("--steps", "150", "--checkpoint-dir", str(tmp_path / "ck"),
            "--checkpoint-stride", "50", "--lens-dir", lens, "--catalog", url)
    )  # fmt: skip
    again = summary(
        run("--resume-run", first["run_id"], "--steps", "100", "--lens-dir", lens,
            "--catalog", url)
    )  # fmt: skip
    assert again["run_id"] == first["run_id"] and again["tick"] == 250
    straight = summary(run("--lens-dir", str(tmp_path / "lens"), "--catalog", url))
    with (
        LensStore(remote_view(f"{lens}/{first['run_id']}")) as there,
        LensStore(tmp_path / "lens" / straight["run_id"]) as here,
    ):
        assert [c.name for c in there.chunks] == [c.name for c in here.chunks]
        assert not there.gaps
        a, b = chunk_arrays(there), chunk_arrays(here)
        for key in b:
            assert a[key].tobytes() == b[key].tobytes(), key


@pytest.mark.slow
def test_lens_retention_on_s3_prunes_chunks_and_their_exports(s3_root: str, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    done = summary(
        run("--lens-dir", f"{s3_root}/lens", "--lens-export-dir", f"{s3_root}/exp",
            "--catalog", url)
    )  # fmt: skip
    run_id = done["run_id"]
    policy = invoke("catalog", "policy", "set", "--run", run_id, "--lens-keep-last", "1",
                    "--catalog", url)  # fmt: skip
    assert policy.exit_code == 0, policy.output
    report = invoke("catalog", "prune", "--run", run_id, "--json", "--catalog", url)
    assert report.exit_code == 0, report.output
    doc = json.loads(report.stdout)
    assert doc["errors"] == [] and doc["deleted"] == 2 and doc["export_files_removed"] > 0
    bucket, prefix = s3_root[len("s3://") :].split("/", 1)
    names = [k.rsplit("/", 1)[1] for k in s3_keys(bucket, f"{prefix}/lens/{run_id}/")]
    assert [n for n in names if n.startswith("lens_snapshot_")] == [
        "lens_snapshot_0000000200-0000000300.lens"
    ]
    parts = {k.rsplit("/", 1)[1] for k in s3_keys(bucket, f"{prefix}/exp/")}
    assert parts == {"part-0000000200-0000000251.parquet"}
    loaded = json.loads(invoke("lens", "load", f"{s3_root}/lens/{run_id}", "--json").stdout)
    assert loaded["missing_chunks"] == [] and len(loaded["pruned_chunks"]) == 2
    rows = sql_rows(url, f"{s3_root}/exp", "SELECT min(tick) AS t FROM fields")
    assert rows == [{"t": 200}]
