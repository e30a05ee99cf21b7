"""Checkpoints on object storage, in process: a real S3 server (moto on 127.0.0.1).

A run writes its checkpoints under ``s3://bucket/prefix/{run_id}/``, resumes from them
bitwise, and every defect of an object is caught on load as it is for a file.
"""

from __future__ import annotations

import pytest

from continuum.checkpoint import RemoteRun
from continuum.errors import CheckpointCorruptError, CheckpointError, CheckpointNotFoundError
from continuum.runner import RunRequest, execute
from tests.conftest import s3_client, s3_keys

from .conftest import run


def test_run_and_resume_on_s3_bitwise(s3_root: str, s3_bucket: str, sqlite_url: str) -> None:
    straight = run(steps=50)["state_hash"]
    first = run(s3_root, steps=30, checkpoint_stride=10, catalog=sqlite_url)
    run_url = first["checkpoint_dir"]
    assert run_url == f"{s3_root}/{first['run_id']}"
    prefix = run_url.split("/", 3)[3]
    names = [k.rsplit("/", 1)[1] for k in s3_keys(s3_bucket, prefix + "/")]
    assert names == [
        "checkpoint_0000000010.ckpt",
        "checkpoint_0000000020.ckpt",
        "checkpoint_0000000030.ckpt",
        "manifest.json",
    ]  # no `latest`: the catalog's newest committed row is latest
    again = execute(
        RunRequest(world="terra", steps=20, resume_run=first["run_id"], catalog=sqlite_url)
    )
    assert again["run_id"] == first["run_id"] and again["parent_run"] is None
    assert again["resumed_from"] == f"{run_url}/checkpoint_0000000030.ckpt"
    assert again["state_hash"] == straight


def test_a_read_object_is_verified_like_a_file(s3_root: str, s3_bucket: str) -> None:
    summary = run(s3_root, steps=10, checkpoint_stride=10, catalog=None)
    remote = RemoteRun(s3_root, summary["run_id"])
    name = "checkpoint_0000000010.ckpt"
    header, state = remote.read(name)
    assert header.tick == 10 and header.url == remote.location(name)
    assert state.state_hash() == summary["state_hash"]
    key = f"{s3_root.split('/', 3)[3]}/{summary['run_id']}/{name}"
    data = bytearray(s3_client().get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x40  # one flipped bit in the payload
    s3_client().put_object(Bucket=s3_bucket, Key=key, Body=bytes(data))
    with pytest.raises(CheckpointCorruptError, match=remote.location(name)):
        remote.read(name)
    s3_client().put_object(Bucket=s3_bucket, Key=key, Body=bytes(data[: len(data) // 3]))
    with pytest.raises(CheckpointCorruptError, match="cut short|truncated"):
        remote.read(name)
    with pytest.raises(CheckpointNotFoundError, match="no such checkpoint object"):
        remote.read("checkpoint_0000000020.ckpt")
    with pytest.raises(CheckpointError):
        remote.read("manifest.json")


def test_s3_checkpoints_need_the_catalog(s3_root: str) -> None:
    with pytest.raises(CheckpointError, match="drop --no-catalog"):
        run(s3_root, steps=10, no_catalog=True)


def test_checkpoint_inspect_and_verify_read_objects(
    s3_root: str, s3_bucket: str, runner, sqlite_url: str
) -> None:
    import json

    from continuum.cli import cli

    summary = run(s3_root, steps=20, checkpoint_stride=10, catalog=sqlite_url)
    url = f"{summary['checkpoint_dir']}/checkpoint_0000000020.ckpt"
    shown = runner.invoke(cli, ["checkpoint", "inspect", url, "--json"])
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert (record["tick"], record["path"], record["run_id"]) == (20, url, summary["run_id"])
    ok = runner.invoke(cli, ["checkpoint", "verify", s3_root])
    assert ok.exit_code == 0 and ok.stdout.count("ok s3://") == 2, ok.output
    key = url.split("/", 3)[3]
    s3_client().put_object(Bucket=s3_bucket, Key=key, Body=b"CNTMCKPT" + b"\0" * 100)
    bad = runner.invoke(cli, ["checkpoint", "verify", summary["checkpoint_dir"]])
    assert bad.exit_code == 1 and f"BAD {url}:" in bad.stdout, bad.output
    missing = runner.invoke(cli, ["checkpoint", "inspect", url[:-6] + "9.ckpt"])
    assert missing.exit_code != 0 and "no such checkpoint object" in missing.output


def test_checkpoint_list_reads_the_headers_of_objects(
    s3_root: str, s3_bucket: str, runner, sqlite_url: str
) -> None:
    import json

    from continuum.cli import cli

    summary = run(s3_root, steps=20, checkpoint_stride=10, catalog=sqlite_url)
    listed = runner.invoke(cli, ["checkpoint", "list", s3_root, "--json"])
    assert listed.exit_code == 0, listed.output
    doc = json.loads(listed.stdout)
    assert [(r["run_id"], r["tick"]) for r in doc["checkpoints"]] == [
        (summary["run_id"], 10),
        (summary["run_id"], 20),
    ]
    assert all(r["error"] is None and r["disk_bytes"] > 0 for r in doc["checkpoints"])
    key = f"{s3_root.split('/', 3)[3]}/stranger/checkpoint_0000000005.ckpt"
    s3_client().put_object(Bucket=s3_bucket, Key=key, Body=b"not a checkpoint")
    table = runner.invoke(cli, ["checkpoint", "list", s3_root])
    assert table.exit_code == 0 and "error: not a Continuum CKPT file" in table.stdout, table.output
    assert table.stdout.count(summary["run_id"]) == 2
    empty = runner.invoke(cli, ["checkpoint", "list", s3_root + "/none"])
    assert empty.exit_code == 0 and "no checkpoints under" in empty.output
    gone = runner.invoke(cli, ["checkpoint", "list", "s3://no-such-bucket-here/x"])
    assert gone.exit_code != 0 and "does not exist" in gone.output
    assert "Traceback" not in gone.output


def test_checkpoint_diff_compares_objects_and_files(
    s3_root: str, tmp_path, runner, sqlite_url: str
) -> None:
    """An object against the same run's file: identical; against a later tick: not."""
    import json

    from continuum.cli import cli

    remote = run(s3_root, steps=20, checkpoint_stride=10, catalog=sqlite_url)
    local = run(tmp_path / "ckpt", steps=20, checkpoint_stride=10, no_catalog=True)
    url = f"{remote['checkpoint_dir']}/checkpoint_0000000020.ckpt"
    file = f"{local['checkpoint_dir']}/checkpoint_0000000020.ckpt"
    same = runner.invoke(cli, ["checkpoint", "diff", url, file, "--json"])
    assert same.exit_code == 0, same.output
    report = json.loads(same.stdout)
    assert report["a"] == url and report["compared"] > 0
    # the headers differ (run ids), the state does not
    assert not report["arrays"], report
    earlier = runner.invoke(cli, ["checkpoint", "diff", url[:-7] + "10.ckpt", url, "--json"])
    assert earlier.exit_code == 0 and json.loads(earlier.stdout)["arrays"], earlier.output
    missing = runner.invoke(cli, ["checkpoint", "diff", url[:-7] + "90.ckpt", file])
    assert missing.exit_code != 0 and "no such checkpoint object" in missing.output
    assert "Traceback" not in missing.output
    bucket = runner.invoke(cli, ["checkpoint", "diff", s3_root.rsplit("/", 1)[0], file])
    assert bucket.exit_code != 0 and "Traceback" not in bucket.output
    # catalog scan indexes directories; on object storage the rows are the index
    scan = runner.invoke(cli, ["catalog", "scan", s3_root, "--catalog", sqlite_url])
    assert scan.exit_code != 0 and "catalog verify --repair" in scan.output, scan.output


def test_checkpoint_path_names_an_object(s3_root: str, tmp_path, sqlite_url: str) -> None:
    """--checkpoint-path s3://...: the newest continues the run in place, an older one
    branches (here to a local directory); both bitwise the straight run's."""
    straight = run(steps=40)["state_hash"]
    first = run(s3_root, steps=20, checkpoint_stride=10, catalog=sqlite_url)
    url = f"{first['checkpoint_dir']}/checkpoint_0000000020.ckpt"
    on = execute(RunRequest(world="terra", steps=20, checkpoint_path=url, catalog=sqlite_url))
    assert on["run_id"] == first["run_id"] and on["state_hash"] == straight
    older = url[:-7] + "10.ckpt"
    branch = execute(
        RunRequest(
            world="terra", steps=30, checkpoint_path=older, catalog=sqlite_url,
            checkpoint_dir=tmp_path / "here",
        )
    )  # fmt: skip
    assert branch["run_id"] != first["run_id"] and branch["state_hash"] == straight
    assert branch["parent_run"] == first["run_id"]
    with pytest.raises(CheckpointNotFoundError, match="no such checkpoint object"):
        run(checkpoint_path=url[:-7] + "90.ckpt", catalog=sqlite_url)
    with pytest.raises(CheckpointError, match="not a checkpoint of a run"):
        run(checkpoint_path=s3_root.split("/t-")[0] + "/x.ckpt", catalog=sqlite_url)


def test_resume_under_an_s3_root_chooses_from_the_catalog(s3_root: str, sqlite_url: str) -> None:
    older = run(s3_root, steps=10, checkpoint_stride=10, catalog=sqlite_url)
    newer = run(s3_root, steps=20, checkpoint_stride=10, catalog=sqlite_url, seed=5)
    went_on = run(steps=10, resume=True, checkpoint_dir=s3_root, catalog=sqlite_url, seed=None)
    assert went_on["run_id"] == newer["run_id"] != older["run_id"]  # the newest committed
    assert went_on["tick"] == 30 and went_on["parent_run"] is None
    assert went_on["state_hash"] == run(steps=30, seed=5)["state_hash"]
    with pytest.raises(CheckpointNotFoundError, match="no committed checkpoint of world"):
        run(steps=10, resume=True, checkpoint_dir=s3_root + "/elsewhere", catalog=sqlite_url)


def test_bare_resume_finds_a_run_on_object_storage(
    s3_root: str, sqlite_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--resume`` alone, with nothing of the world on this host's disks: the run the
    catalog has on object storage goes on (in place, bitwise)."""
    monkeypatch.chdir(tmp_path)  # no ./checkpoints here
    first = run(s3_root, steps=10, checkpoint_stride=10, catalog=sqlite_url)
    went_on = run(steps=10, resume=True, catalog=sqlite_url, seed=None)
    assert went_on["run_id"] == first["run_id"] and went_on["tick"] == 20
    assert went_on["state_hash"] == run(steps=20)["state_hash"]
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.db"]  # no local checkpoints
