"""continuum.layout: the one run-id generator, checkpoint names and path confinement."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from continuum import layout
from continuum.errors import LayoutError
from continuum.layout import new_run_id


def test_run_ids_have_the_timestamp_form_and_never_collide_within_a_second():
    now = datetime(2026, 1, 16, 9, 54, 30, tzinfo=UTC)
    ids = {new_run_id(now) for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"20260116_095430_[0-9a-f]{8}", i) for i in ids)


def test_generated_run_ids_are_valid_run_ids():
    assert all(layout.is_run_id(new_run_id()) for _ in range(50))


@pytest.mark.parametrize("tick", [0, 1, 999, 1000, 123456789, 9_999_999_999, 10**12])
def test_checkpoint_name_and_tick_round_trip(tick):
    name = layout.checkpoint_name(tick)
    assert layout.checkpoint_tick(name) == tick
    assert layout.is_run_file_name(name)


def test_checkpoint_names_sort_chronologically():
    ticks = [0, 5, 40, 1000, 20000, 10**9]
    names = [layout.checkpoint_name(t) for t in ticks]
    assert sorted(names) == names
    assert layout.checkpoint_name(1000) == "checkpoint_0000001000.ckpt"


@pytest.mark.parametrize(
    "name",
    [
        "checkpoint_1000.ckpt",  # fewer than 10 digits
        "checkpoint_00000010x0.ckpt",
        "checkpoint_0000001000.ckpt.tmp",
        ".checkpoint_0000001000.ckpt.tmp-12-0123abcd",
        "latest",
        "manifest.json",
        "",
    ],
)
def test_checkpoint_tick_is_none_for_other_names(name):
    assert layout.checkpoint_tick(name) is None


def test_negative_ticks_have_no_checkpoint_name():
    with pytest.raises(LayoutError):
        layout.checkpoint_name(-1)


def test_checkpoint_path_and_latest_live_in_the_run_dir(tmp_path):
    run_dir = layout.run_dir(tmp_path, "20260116_095430_0123abcd")
    assert run_dir == tmp_path / "20260116_095430_0123abcd"
    assert layout.checkpoint_path(run_dir, 7) == run_dir / "checkpoint_0000000007.ckpt"
    assert layout.latest_path(run_dir) == run_dir / "latest"
    assert layout.manifest_path(run_dir) == run_dir / "manifest.json"


def test_latest_is_read_as_a_file_name(tmp_path):
    assert layout.read_latest(tmp_path) is None
    layout.latest_path(tmp_path).symlink_to(layout.checkpoint_name(30))
    assert layout.read_latest(tmp_path) == "checkpoint_0000000030.ckpt"
    assert layout.latest_tick(tmp_path) == 30


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/etc", "x\0y"])
def test_child_refuses_anything_but_one_plain_component(tmp_path, name):
    with pytest.raises(LayoutError):
        layout.child(tmp_path, name)


def test_child_joins_plain_names(tmp_path):
    assert layout.child(tmp_path, "a", "b.c") == Path(tmp_path) / "a" / "b.c"


@pytest.mark.parametrize("run_id", ["..", "../x", "a/b", "", ".hidden", "x" * 65, "a..b"])
def test_run_dir_refuses_ids_that_are_not_run_ids(tmp_path, run_id):
    with pytest.raises(LayoutError):
        layout.run_dir(tmp_path, run_id)


def test_temp_names_are_hidden_and_name_their_final_file():
    final = layout.checkpoint_name(10)
    temp = layout.temp_name(final)
    assert temp.startswith(".") and layout.is_temp_name(temp)
    assert layout.temp_final_name(temp) == final
    assert layout.checkpoint_tick(temp) is None  # resume can never pick a half-written file


def test_world_files_are_named_here(tmp_path):
    assert layout.world_file(tmp_path) == tmp_path / "world.toml"
    assert layout.scenario_path(tmp_path, "tiny") == tmp_path / "scenarios" / "tiny.toml"


@pytest.mark.parametrize("name", ["../tiny", "a/b", "/etc/passwd"])
def test_scenario_names_stay_under_scenarios(tmp_path, name):
    with pytest.raises(LayoutError):
        layout.scenario_path(tmp_path, name)


# --- every builder checks its identifiers -----------------------------------------------------

BAD_IDS = ["../../victim", "a/b", "/etc/passwd", "..", "", "x\0y", "a..b", ".hidden", "x" * 65]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_builders_refuse_bad_run_ids(tmp_path, bad):
    for build in (
        lambda: layout.run_dir(tmp_path, bad),
        lambda: layout.run_partition(tmp_path, bad),
        lambda: layout.field_partition(tmp_path, bad, "a.b"),
        lambda: layout.ticks_part_path(tmp_path, bad, 0, 10),
        lambda: layout.signals_part_path(tmp_path, bad, 0, 10),
        lambda: layout.split_run_dir(tmp_path / "x", bad),
    ):
        with pytest.raises(LayoutError):
            build()


@pytest.mark.parametrize("bad", ["a/b", "../x", "a.b/../../c", "/etc", "a..b", "1a", "", "a b"])
def test_field_partitions_refuse_bad_field_names(tmp_path, bad):
    with pytest.raises(LayoutError):
        layout.field_partition(tmp_path, "r1", bad)


@pytest.mark.parametrize("bad", ["../x.toml", "/etc/passwd", "../x", "a/b", "..", "", ".x"])
def test_scenario_path_takes_names_never_paths(tmp_path, bad):
    with pytest.raises(LayoutError, match="scenario name|plain file name"):
        layout.scenario_path(tmp_path, bad)


@pytest.mark.parametrize(
    ("start", "end"), [(-1, 5), (5, 5), (6, 5), ("0", 5), (0.0, 5), (True, 5), (None, 5)]
)
def test_span_builders_refuse_bad_ticks(start, end):
    for build in (layout.lens_chunk_name, layout.part_name):
        with pytest.raises(LayoutError):
            build(start, end)


def test_layout_and_temp_finals_are_checked(tmp_path):
    with pytest.raises(LayoutError):
        layout.run_partition(tmp_path, "r1", "../x")
    with pytest.raises(LayoutError):
        layout.temp_name("../x")
    with pytest.raises(LayoutError):
        layout.child(tmp_path, "x" * 256)  # longer than one component may be


def test_stored_paths_cannot_climb_out_of_their_directory(tmp_path):
    assert layout.resolve_under(str(tmp_path), "c.ckpt") == str(tmp_path / "c.ckpt")
    assert layout.resolve_under(str(tmp_path), "/abs/c.ckpt") == "/abs/c.ckpt"
    for bad in ("../c.ckpt", "a/../../c", "./c", "a//c", "c\0"):
        with pytest.raises(LayoutError):
            layout.resolve_under(str(tmp_path), bad)


def test_run_file_name_is_only_our_blob_names_directly_in_the_run_dir(tmp_path):
    d = tmp_path / "r1"
    assert layout.run_file_name(d, "checkpoint_0000000001.ckpt") == "checkpoint_0000000001.ckpt"
    assert layout.run_file_name(d, f"{d}/lens_snapshot_full.lens") == "lens_snapshot_full.lens"
    for bad in ("manifest.json", "latest", "../checkpoint_0000000001.ckpt", "/etc/passwd"):
        with pytest.raises(LayoutError):
            layout.run_file_name(d, bad)
    with pytest.raises(LayoutError):
        layout.run_file_name(d, f"{tmp_path}/other/checkpoint_0000000001.ckpt")


def test_split_run_dir_wants_an_absolute_dir_named_for_its_run(tmp_path):
    assert layout.split_run_dir(f"{tmp_path}/r1/", "r1") == (str(tmp_path), "r1")
    for bad in ("r1", f"{tmp_path}/r2", f"{tmp_path}/x/../r1"):
        with pytest.raises(LayoutError):
            layout.split_run_dir(bad, "r1")


# --- confinement on disk ----------------------------------------------------------------------


def test_confine_allows_a_linked_root_and_nothing_linked_below_it(tmp_path):
    real, outside = tmp_path / "real", tmp_path / "outside"
    (real / "r1").mkdir(parents=True)
    outside.mkdir()
    root = tmp_path / "home-link"
    root.symlink_to(real, target_is_directory=True)  # a data home that is itself a link
    assert layout.confine(root, "r1/new/file") == real / "r1" / "new" / "file"
    assert layout.confine(root, root / "r1") == real / "r1"
    (real / "r2").symlink_to(outside, target_is_directory=True)
    (real / "r1" / "f").symlink_to(outside / "x")
    for bad in ("r2", "r2/x", "r1/f", "../outside", "/etc/passwd", str(outside)):
        with pytest.raises(LayoutError):
            layout.confine(root, bad)
    with pytest.raises(LayoutError, match="symbolic link"):
        layout.confined_child(root, "r2", "checkpoint_0000000001.ckpt")


def test_confined_dir_never_opens_a_link_below_its_root(tmp_path):
    (tmp_path / "root" / "r1").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "checkpoint_0000000001.ckpt").write_bytes(b"keep")
    (tmp_path / "root" / "r2").symlink_to(victim, target_is_directory=True)
    with pytest.raises(LayoutError, match="symbolic link"):
        layout.ConfinedDir(tmp_path / "root", "r2")
    with pytest.raises(FileNotFoundError):
        layout.ConfinedDir(tmp_path / "root", "nope")
    with layout.ConfinedDir(tmp_path / "root", "r1") as d:
        (tmp_path / "root" / "r1" / "x").write_bytes(b"")
        assert [n for n, _ in d.entries()] == ["x"]
        d.unlink("x")
        with (
            pytest.raises(LayoutError, match="symbolic link"),
            layout.ConfinedDir(tmp_path, "root") as parent,
        ):
            parent.sub("r2")
    with layout.ConfinedDir(tmp_path, "root") as parent:
        parent.rmdir("r1")
        with pytest.raises(OSError):
            parent.rmdir("r2")  # a link of that name is not followed, nor removed as a dir
    assert (victim / "checkpoint_0000000001.ckpt").read_bytes() == b"keep"


def test_a_directory_swapped_for_a_link_after_opening_is_still_the_one_unlinked_in(tmp_path):
    run = tmp_path / "root" / "r1"
    run.mkdir(parents=True)
    (run / "checkpoint_0000000001.ckpt").write_bytes(b"ours")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "checkpoint_0000000001.ckpt").write_bytes(b"theirs")
    with layout.ConfinedDir(tmp_path / "root", "r1") as d:
        run.rename(tmp_path / "moved")
        run.symlink_to(victim, target_is_directory=True)  # the race: a swap after the check
        d.unlink("checkpoint_0000000001.ckpt")
    assert (victim / "checkpoint_0000000001.ckpt").read_bytes() == b"theirs"
    assert not (tmp_path / "moved" / "checkpoint_0000000001.ckpt").exists()


# --- property: any string is refused or stays inside the root -----------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = st.sampled_from([*"ab.-_/\\\0 é", "..", "/..", "../", "run_id=", "field="])
PATHY = st.lists(PIECES, max_size=12).map("".join)
ANY = st.one_of(PATHY, st.text(max_size=300))


def _inside(root: Path, path: Path) -> bool:
    return os.path.commonpath([str(root), os.path.normpath(str(path))]) == str(root)


@given(ANY)
def test_property_grammar_checks_accept_only_what_stays_one_component(text):
    for check in (layout.check_run_id, layout.check_field_name, layout.check_name):
        try:
            got = check(text)
        except LayoutError:
            continue
        assert got == text and "/" not in text and "\0" not in text and ".." not in text


@given(st.lists(ANY, min_size=1, max_size=4))
def test_property_child_raises_or_stays_inside_the_root(names):
    root = Path("/srv/continuum-root")
    try:
        path = layout.child(root, *names)
    except LayoutError:
        return
    assert _inside(root, path) and path != root
    assert len(path.parts) == len(root.parts) + len(names)


@given(ANY, ANY)
def test_property_builders_raise_or_stay_inside_the_root(run_id, field):
    root = Path("/srv/continuum-root")
    for build in (
        lambda: layout.run_dir(root, run_id),
        lambda: layout.field_partition(root, run_id, field, "sample"),
        lambda: layout.scenario_path(root, field),
        lambda: Path(layout.resolve_under(str(root), field)),
    ):
        try:
            path = build()
        except LayoutError:
            continue
        assert os.path.isabs(field) or _inside(root, path), path


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "link", "x/y", ""]), max_size=5))
def test_property_confine_raises_or_resolves_inside_the_root(tmp_path_factory, parts):
    base = tmp_path_factory.getbasetemp() / "confine-prop"
    root = base / "root"
    if not root.exists():
        (root / "a" / "b").mkdir(parents=True)
        (base / "outside").mkdir()
        (root / "a" / "link").symlink_to(base / "outside", target_is_directory=True)
    try:
        got = layout.confine(root, "/".join(parts))
    except LayoutError:
        return
    real = os.path.realpath(got)
    assert os.path.commonpath([os.path.realpath(root), real]) == os.path.realpath(root)


def test_partition_base_is_the_directory_above_a_part_s_run_partition(tmp_path):
    """The Hive base path a reader discovers ``run_id`` (and ``field``) below."""
    assert layout.partition_base(layout.ticks_part_path(tmp_path, "r1", 0, 10)) == tmp_path
    part = layout.field_partition(tmp_path, "r1", "a.b", "sample") / layout.part_name(0, 10)
    assert layout.partition_base(part) == layout.child(tmp_path, layout.BY_SAMPLE)
    for bad in (tmp_path / "part-0000000000-0000000010.parquet", tmp_path / "x" / "y" / "z"):
        with pytest.raises(LayoutError):
            layout.partition_base(bad)


# --- object storage locations ---------------------------------------------------------------


def test_object_urls_split_and_join() -> None:
    assert layout.is_object_url("s3://bucket/x") and layout.is_object_url("S3://bucket")
    assert not layout.is_object_url("/data/s3://x") and not layout.is_object_url(Path("s3:"))
    assert layout.split_object_url("s3://my.bucket-1/runs/a/") == ("s3", "my.bucket-1", "runs/a")
    assert layout.split_object_url("s3://bucket") == ("s3", "bucket", "")
    assert layout.object_child("s3://bucket/runs", "RUN", "x.ckpt") == "s3://bucket/runs/RUN/x.ckpt"
    assert layout.object_child("s3://bucket", "RUN") == "s3://bucket/RUN"
    assert layout.location_child("s3://bucket/p", "RUN") == "s3://bucket/p/RUN"
    assert layout.location_child("/data", "RUN") == "/data/RUN"
    assert layout.join_key("", "a", "b") == "a/b" and layout.join_key("p/q", "a") == "p/q/a"


@pytest.mark.parametrize(
    "url",
    [
        "gs://bucket/x",
        "s3://",
        "s3://UPPER/x",
        "s3://ab/x",
        "s3://a..b/x",
        "s3://b/../x",
        "s3://bucket/a//b",
        "s3://bucket/./x",
        "s3://bucket/a\0b",
    ],
)
def test_bad_object_urls_are_refused(url: str) -> None:
    with pytest.raises(LayoutError):
        layout.split_object_url(url)


def test_keys_are_confined_to_their_prefix() -> None:
    assert layout.check_key("runs/RUN/x", "runs/RUN") == "runs/RUN/x"
    assert layout.key_within("runs/RUN", "runs/RUN") and layout.key_within("", "any/key")
    assert not layout.key_within("runs/RUN", "runs/RUN2/x")
    for key in ["runs/RUN2/x", "runs/x", "other"]:
        with pytest.raises(LayoutError, match="outside prefix"):
            layout.check_key(key, "runs/RUN")
    for key in ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a/\0"]:
        with pytest.raises(LayoutError):
            layout.check_key(key)
    with pytest.raises(LayoutError):
        layout.join_key("p", "../x")
    with pytest.raises(LayoutError):
        layout.check_key("a/" * 600)
