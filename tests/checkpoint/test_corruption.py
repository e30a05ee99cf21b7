"""Truncated or bit-flipped checkpoints are clean CheckpointErrors, never wrong states."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.checkpoint import inspect_checkpoint, read_checkpoint
from continuum.cli import cli
from continuum.errors import CheckpointCorruptError, CheckpointError
from continuum.layout import checkpoint_name

from .conftest import run


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("good")
    first = run(tmp, steps=30, checkpoint_stride=30)
    return Path(first["checkpoint_dir"]) / checkpoint_name(30)


def offsets(size: int, count: int = 120) -> list[int]:
    step = max(1, size // count)
    return sorted({*range(0, min(size, 96)), *range(0, size, step), size - 1})


def test_every_truncation_is_a_clean_error(good_checkpoint, tmp_path):
    data = good_checkpoint.read_bytes()
    target = tmp_path / checkpoint_name(30)
    for cut in offsets(len(data)):
        target.write_bytes(data[:cut])
        with pytest.raises(CheckpointCorruptError) as info:
            read_checkpoint(target)
        assert str(target) in str(info.value)


def test_every_single_byte_flip_is_a_clean_error(good_checkpoint, tmp_path):
    data = good_checkpoint.read_bytes()
    _, reference = read_checkpoint(good_checkpoint)
    target = tmp_path / checkpoint_name(30)
    for offset in offsets(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0x5A
        target.write_bytes(bytes(flipped))
        try:
            _, state = read_checkpoint(target)
        except CheckpointCorruptError:
            continue
        # a flip the format tolerates must not change the state (e.g. JSON whitespace)
        assert state.state_hash() == reference.state_hash(), f"silent change at {offset}"


def test_header_damage_is_caught_by_inspect(good_checkpoint, tmp_path):
    data = bytearray(good_checkpoint.read_bytes())
    data[40] ^= 0x01
    target = tmp_path / "x.ckpt"
    target.write_bytes(bytes(data))
    with pytest.raises(CheckpointCorruptError):
        inspect_checkpoint(target)


def test_a_foreign_file_is_not_a_checkpoint(tmp_path):
    target = tmp_path / checkpoint_name(1)
    target.write_bytes(b"PK\x03\x04 definitely a zip file" * 10)
    with pytest.raises(CheckpointCorruptError):
        read_checkpoint(target)


def test_cli_resume_from_a_corrupt_file_is_one_line(good_checkpoint, tmp_path, runner):
    target = tmp_path / checkpoint_name(30)
    target.write_bytes(good_checkpoint.read_bytes()[:-10])
    result = runner.invoke(cli, ["run", "terra", "--checkpoint-path", str(target), "--steps", "1"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert str(target) in result.output
    missing = runner.invoke(cli, ["run", "terra", "--checkpoint-path", str(tmp_path / "no.ckpt")])
    assert missing.exit_code == 1 and "no such checkpoint file" in missing.output
    assert isinstance(missing.exception, SystemExit)
    assert issubclass(CheckpointCorruptError, CheckpointError)
