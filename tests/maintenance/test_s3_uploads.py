"""Multipart uploads a killed writer leaves on object storage, on a real S3 server.

A checkpoint of 100 MiB or more is put as a multipart upload; a writer killed between
``CreateMultipartUpload`` and ``Complete`` leaves the upload and its parts: no object
(resume never sees it), but billed bytes no listing shows. ``catalog verify`` reports
it, ``--repair`` aborts it, and ``catalog rm`` aborts the run's — each only a name our
writers put, directly under a run's own prefix: a sibling prefix's, a stranger's name
under the run's prefix and a key elsewhere in the bucket stay.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from continuum.cli import cli
from continuum.runner import RunRequest, execute
from tests.conftest import s3_client


def _left_upload(bucket: str, key: str) -> str:
    """What a writer killed mid-PUT leaves: an upload begun, one part sent, never completed."""
    client = s3_client()
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 1024)
    return upload


def _uploads(bucket: str) -> set[str]:
    return {u["Key"] for u in s3_client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])}


def test_verify_reports_repair_aborts_rm_aborts_only_the_runs_uploads(
    s3_root: str, s3_bucket: str, sqlite_url: str
) -> None:
    runs = [
        execute(
            RunRequest(
                world="terra",
                scenario="tiny",
                steps=20,
                checkpoint_stride=10,
                checkpoint_dir=s3_root,
                catalog=sqlite_url,
            )
        )  # fmt: skip
        for _ in range(2)
    ]
    prefix = s3_root.split("/", 3)[3]
    mine, other = (f"{prefix}/{r['run_id']}" for r in runs)
    left = f"{mine}/checkpoint_0000000030.ckpt"
    others = f"{other}/checkpoint_0000000040.ckpt"  # another run's: its own verify row
    strangers = {
        f"{mine}x/checkpoint_0000000030.ckpt",  # a sibling prefix, not the run's
        f"{mine}/notes.bin",  # under the run's prefix, but no name our writers put
        f"{mine}/sub/checkpoint_0000000030.ckpt",  # not directly under it
        "elsewhere/checkpoint_0000000030.ckpt",
    }
    for key in {left, others, *strangers}:
        _left_upload(s3_bucket, key)
    runner = CliRunner()

    found = runner.invoke(cli, ["catalog", "verify", "--catalog", sqlite_url, "--json"])
    problems = json.loads(found.stdout)["problems"]
    uploads = sorted(p["path"] for p in problems if p["kind"] == "upload")
    assert uploads == sorted(f"s3://{s3_bucket}/{k}" for k in (left, others))
    assert found.exit_code != 0 and _uploads(s3_bucket) == {left, others, *strangers}

    runner.invoke(cli, ["catalog", "verify", "--repair", "--catalog", sqlite_url])
    assert _uploads(s3_bucket) == strangers
    clean = runner.invoke(cli, ["catalog", "verify", "--catalog", sqlite_url])
    assert clean.exit_code == 0 and "0 problem(s)" in clean.stdout, clean.stdout

    _left_upload(s3_bucket, f"{mine}/lens_snapshot_0000000000-0000000010.lens")
    rm = ["catalog", "rm", runs[0]["run_id"], "--yes", "--catalog", sqlite_url]
    removed = runner.invoke(cli, rm)
    assert removed.exit_code == 0, removed.output
    assert _uploads(s3_bucket) == strangers
