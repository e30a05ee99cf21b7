"""Checkpoints re-encoded with valid checksums: refused in one line, nothing written.

Issue 12, classes 3 (identifiers decoded from headers), 5 (headers believed), 7 (JSON
headers with wrong types, NaN, deep nesting) and 8 (foreign bytes echoed). Every crafted
file below passes every checksum (the header is rewritten and its checksum recomputed,
as an attacker with the format's documentation would), so only the reader's typed
decoding and its checks against the schema and the world stand in the way.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from continuum.checkpoint import inspect_checkpoint, read_checkpoint
from continuum.errors import CheckpointCorruptError, ContinuumError
from continuum.layout import checkpoint_name
from tests.blobs.craft import join, rewrite, split
from tests.blobs.test_hostile import JSON_VALUES, _join_raw, _leaves, _set
from tests.cli.conftest import assert_one_line_error, catalog_url, invoke, ok_json

TICK = 30


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, str]:
    """A run of tiny terra with a checkpoint at tick 30, recorded in its own catalog."""
    root = tmp_path_factory.mktemp("hostile")
    url = catalog_url(root)
    summary = ok_json(
        "run", "terra", "--scenario", "tiny", "--seed", "11", "--steps", TICK,
        "--checkpoint-stride", TICK, "--checkpoint-dir", root / "ckpt", "--catalog", url,
        "--json",
    )  # fmt: skip
    return Path(summary["checkpoint_dir"]), url


@pytest.fixture
def run_dir(pristine, tmp_path) -> Path:
    """A private copy of the run directory, under ``tmp_path/ckpt``."""
    return Path(shutil.copytree(pristine[0], tmp_path / "ckpt" / pristine[0].name, symlinks=True))


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its bytes (links by their target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "-> " + str(path.readlink())
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(path)] = "dir"
    return out


def entry(header: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in header["layout"] if e["name"] == name)


def swap_names(header: dict[str, Any]) -> None:
    a, b = entry(header, "cur/cell.elevation"), entry(header, "cur/cell.temperature")
    a["name"], b["name"] = b["name"], a["name"]


def unknown_era_declared(header: dict[str, Any]) -> None:
    """The era is in the header's own eras too: only the world can refuse it."""
    meta = header["meta"]
    meta["eras"]["ice"] = meta["eras"]["formation"]
    meta["state"]["era"] = "ice"


def fewer_strata(header: dict[str, Any]) -> None:
    meta = header["meta"]
    del meta["strata"]["climate"], meta["state"]["counters"]["climate"]


CRAFTED: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "dtype <f8 -> <i8": (
        lambda h: entry(h, "cur/core.temp").update(dtype="<i8"),
        "stored as <i8",
    ),
    "transposed shape": (
        lambda h: entry(h, "cur/plate.position").update(shape=[12, 3]),
        "shape (12, 3), the schema implies (3, 12)",
    ),
    "shuffle flag flipped": (
        lambda h: entry(h, "cur/cell.elevation").update(shuffle=False),
        "shuffle=False",
    ),
    "swapped array names": (swap_names, "not in name order"),
    "tick = -5": (lambda h: h["meta"]["state"].update(tick=-5), "$.state.tick"),
    "unknown era": (lambda h: h["meta"]["state"].update(era="ice"), "$.state.era"),
    "counter beyond its stride": (
        lambda h: h["meta"]["state"]["counters"].update(impacts=7),
        "$.state.counters",
    ),
    "run id that is a path": (lambda h: h["meta"].update(run_id="../../victim"), "$.run_id"),
    "scenario that is a path": (lambda h: h["meta"].update(scenario="../x.toml"), "$.scenario"),
    "a count of the wrong type": (
        lambda h: h["meta"]["state"]["counts"].update(cell="384"),
        "$.state.counts",
    ),
    "an array the schema lacks": (
        lambda h: entry(h, "prev/core.temp").update(name="prev/core.tempx"),
        "not the arrays of the header's schema",
    ),
}

#: refused only against the world the checkpoint is resumed under (the file is
#: consistent in itself, so ``checkpoint inspect`` shows it)
AGAINST_THE_WORLD: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "unknown era declared in the header": (unknown_era_declared, "era 'ice'"),
    "strata the world does not have": (fewer_strata, "counts strata"),
}


def craft(run_dir: Path, mutate: Callable[[dict[str, Any]], object]) -> Path:
    path = run_dir / checkpoint_name(TICK)
    path.write_bytes(rewrite(path.read_bytes(), mutate))
    return path


def resume(path: Path, *more: object):
    return invoke("run", "terra", "--checkpoint-path", path, "--steps", 1, *more)


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_header_is_one_line_on_resume_and_inspect(case, run_dir, tmp_path):
    mutate, fragment = CRAFTED[case]
    path = craft(run_dir, mutate)
    before = tree(tmp_path)
    assert_one_line_error(resume(path), str(path), fragment)
    assert_one_line_error(invoke("checkpoint", "inspect", path), str(path), fragment)
    assert tree(tmp_path) == before  # nothing written: no run directory, no manifest change


@pytest.mark.parametrize("case", sorted(AGAINST_THE_WORLD))
def test_header_that_does_not_fit_the_world_is_refused_even_when_forced(case, run_dir, tmp_path):
    mutate, fragment = AGAINST_THE_WORLD[case]
    path = craft(run_dir, mutate)
    assert inspect_checkpoint(path).tick == TICK  # a consistent file in itself
    before = tree(tmp_path)
    assert_one_line_error(resume(path, "--force-resume"), str(path), fragment)
    assert tree(tmp_path) == before


def test_nan_and_deep_nesting_in_a_header_are_one_line(run_dir):
    path = run_dir / checkpoint_name(TICK)
    magic, header, rest = split(path.read_bytes())
    text = json.dumps(header, sort_keys=True, separators=(",", ":"))
    nan = text.replace('"sim_time":30000000.0', '"sim_time":NaN')
    deep = text.replace('"aliases":{}', '"aliases":' + "[" * 100_000 + "]" * 100_000)
    for crafted, fragment in ((nan, "JSON is malformed"), (deep, "nested too deeply")):
        assert crafted != text
        path.write_bytes(_join_raw(magic, crafted.encode(), rest))
        assert_one_line_error(invoke("checkpoint", "inspect", path), str(path), fragment)


def test_resume_run_and_catalog_verify_refuse_a_crafted_checkpoint(pristine, tmp_path):
    run_dir, url = pristine
    path = run_dir / checkpoint_name(TICK)
    original = path.read_bytes()
    run_id = run_dir.name
    try:
        path.write_bytes(rewrite(original, CRAFTED["dtype <f8 -> <i8"][0]))
        before = tree(run_dir.parent)
        result = invoke("run", "terra", "--resume-run", run_id, "--steps", 1, "--catalog", url)
        assert_one_line_error(result, str(path), "stored as <i8")
        assert tree(run_dir.parent) == before
        verify = invoke("catalog", "verify", "--catalog", url, "--json")
        assert verify.exit_code == 1
        problems = json.loads(verify.stdout)["problems"]
        assert any("stored as <i8" in p["detail"] for p in problems), problems
    finally:
        path.write_bytes(original)


def test_a_foreign_file_behind_a_checkpoint_name_is_not_echoed(run_dir, tmp_path):
    secret = tmp_path / "shadow"
    secret.write_bytes(b"s3cr3t:*:20000:0:99999:7:::\n")
    path = run_dir / checkpoint_name(TICK)
    path.unlink()
    path.symlink_to(secret)
    for result in (invoke("checkpoint", "inspect", path), resume(path)):
        assert_one_line_error(result, "not a Continuum CKPT file (bad magic)")
        assert "s3cr3t" not in result.stderr


# -- properties: whatever the header says, a CheckpointCorruptError or the same arrays -----


def _arrays(state) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    return {
        f"{buffer}/{name}": (array.dtype.str, array.shape, np.ascontiguousarray(array).tobytes())
        for buffer, arrays in (("cur", state.current), ("prev", state.previous))
        for name, array in arrays.items()
    }


@pytest.fixture(scope="module")
def reference(pristine) -> tuple[bytes, dict[str, Any], list[tuple]]:
    data = (pristine[0] / checkpoint_name(TICK)).read_bytes()
    _, state = read_checkpoint(pristine[0] / checkpoint_name(TICK))
    paths = [p for p in _leaves(split(data)[1]) if p]
    return data, _arrays(state), paths


def _check(data: bytes, expected: dict[str, Any], tmp: Path) -> None:
    path = tmp / checkpoint_name(TICK)
    path.write_bytes(data)
    try:
        _, state = read_checkpoint(path)
    except CheckpointCorruptError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    except ContinuumError as exc:  # e.g. a newer format version: also one line
        assert "\n" not in str(exc)
        return
    # header scalars (tick, seed, hashes...) may differ: resume checks them against the
    # world and the catalog; the arrays must be exactly the ones written
    assert _arrays(state) == expected


@given(data=st.data())
def test_any_header_field_rewritten_with_a_valid_checksum(reference, tmp_path_factory, data):
    blob, expected, paths = reference
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    crafted = rewrite(blob, lambda header: _set(header, path, value))
    _check(crafted, expected, tmp_path_factory.mktemp("prop"))


@given(data=st.data())
def test_truncations_and_flips_of_a_checkpoint(reference, tmp_path_factory, data):
    blob, expected, _ = reference
    cut = data.draw(st.integers(0, len(blob)))
    offset = data.draw(st.integers(0, len(blob) - 1))
    flipped = bytearray(blob[:cut] if cut < len(blob) else blob)
    if cut == len(blob):
        flipped[offset] ^= data.draw(st.integers(1, 255))
    _check(bytes(flipped), expected, tmp_path_factory.mktemp("prop"))


def test_the_crafting_helper_reencodes_a_header_as_the_writer_does(reference):
    """Otherwise a crafted file could be refused for the helper's mistake, not the field's."""
    magic, header, rest = split(reference[0])
    assert join(magic, header, rest) == reference[0]


def test_verify_repair_of_a_symlink_to_a_secret_keeps_its_bytes_out_of_the_audit_log(
    tmp_path,
):
    url = catalog_url(tmp_path)
    summary = ok_json(
        "run", "terra", "--scenario", "tiny", "--steps", 3, "--checkpoint-stride", 3,
        "--checkpoint-dir", tmp_path / "ckpt", "--catalog", url, "--json",
    )  # fmt: skip
    path = Path(summary["checkpoint_dir"]) / checkpoint_name(3)
    secret = tmp_path / "shadow"
    secret.write_bytes(b"s3cr3t:*:20000:0:99999:7:::\n")
    path.unlink()
    path.symlink_to(secret)
    repair = invoke("catalog", "verify", "--repair", "--catalog", url)
    assert "s3cr3t" not in repair.output and "bad magic" in repair.output
    log = invoke("catalog", "log", "--catalog", url, "--json")
    assert log.exit_code == 0 and "bad magic" in log.stdout
    assert "s3cr3t" not in log.stdout


#: peak RSS (VmHWM: this exec image only) of one CLI command in a fresh interpreter
_CLI_RSS = """
import sys
from continuum.cli import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
    rc = 0
except SystemExit as exc:
    rc = exc.code
except Exception as exc:  # a ContinuumError: what the standalone CLI prints in one line
    print(f"error: {exc}", file=sys.stderr)
    rc = 1
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(rc, int(status.split()[0]) * 1024)
"""
#: the interpreter with numpy, zstandard, msgspec and the CLI loaded is ~100-150 MB;
#: decoding the bomb would be 3 GB
CLI_RSS_BOUND = 400 << 20


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_3_gb_zero_bomb_checkpoint_is_verified_and_refused_in_bounded_memory(reference, tmp_path):
    """Issue 12's "216 KB file of 3 GB of zeros": a valid file in itself (its cell count
    is 201M), so ``checkpoint verify`` passes — streamed, in bounded memory — and a
    resume refuses it against the world before its payload is allocated."""
    import os
    import subprocess
    import sys

    from continuum.blobs.limits import MAX_RAW_ENV
    from continuum.checkpoint.format import expected_arrays
    from tests.blobs.craft import zeros_container

    meta = split(reference[0])[1]["meta"]
    cells = (3 << 30) // 8 // 2  # two per-cell arrays of 1.5 GiB each
    meta["state"]["counts"]["cell"] = cells
    shapes = expected_arrays(meta["schema"], meta["state"]["counts"])
    current = {name: shape for name, shape in shapes.items() if name.startswith("cur/")}
    meta["aliases"] = {"prev/" + n[len("cur/") :]: n for n in current}
    path = tmp_path / "ckpt" / "bomb-run" / checkpoint_name(TICK)
    path.parent.mkdir(parents=True)
    path.write_bytes(zeros_container(b"CKPT", meta, current))
    assert path.stat().st_size < 400_000
    env = {**os.environ, MAX_RAW_ENV: str(4 << 30)}

    def cli(*args: object) -> tuple[int, int, str]:
        out = subprocess.run(
            [sys.executable, "-c", _CLI_RSS, *map(str, args)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        rc, peak = out.stdout.split()[-2:]
        return int(rc), int(peak), out.stderr

    rc, peak, _ = cli("checkpoint", "verify", path)
    assert rc == 0 and peak < CLI_RSS_BOUND, (rc, peak)
    before = tree(tmp_path)
    branches = tmp_path / "branches"  # a loose file: its branch needs a place of its own
    args = ("--scenario", "tiny", "--checkpoint-path", path, "--checkpoint-dir", branches)
    rc, peak, err = cli("run", "terra", *args)
    assert rc == 1 and peak < CLI_RSS_BOUND, (rc, peak, err)
    assert f"entity 'cell' has {cells} instances" in err and err.count("\n") == 1, err
    assert tree(tmp_path) == before
