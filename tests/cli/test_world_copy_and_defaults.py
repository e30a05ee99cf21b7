"""``continuum world copy|list``, the ``./checkpoints`` / ``./lens`` defaults, and ``--resume``
found through the catalog (issue 14): what the persistence document's commands need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from continuum import layout
from tests.cli.conftest import assert_one_line_error, catalog_url, invoke, ok, ok_json

TINY = ("--scenario", "tiny")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with a catalog of its own ($CONTINUUM_CATALOG)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CONTINUUM_CATALOG", catalog_url(tmp_path))
    return work


def runs_under(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


# --- world copy / list -----------------------------------------------------------------------


def test_world_copy_makes_a_world_directory_that_runs(here):
    text = ok("world", "copy", "terra", "./terra")
    assert "continuum run ./terra" in text
    assert (here / "terra" / "world.toml").is_file()
    assert (here / "terra" / "scenarios" / "tiny.toml").is_file()
    assert not list((here / "terra").rglob("*.py")) and not list(
        (here / "terra").rglob("__pycache__")
    )
    summary = ok_json("run", "./terra", *TINY, "--steps", 3, "--json", "--no-catalog")
    assert summary["world"] == "terra" and summary["tick"] == 3


def test_world_copy_into_an_empty_directory(here):
    (here / "empty").mkdir()
    ok("world", "copy", "terra", "empty")
    assert (here / "empty" / "world.toml").is_file()


def test_world_copy_refuses_what_it_would_overwrite(here):
    ok("world", "copy", "terra", "mine")
    edited = here / "mine" / "world.toml"
    edited.write_text("# edited\n")
    assert_one_line_error(invoke("world", "copy", "terra", "mine"), "mine exists and is not empty")
    assert edited.read_text() == "# edited\n"
    (here / "file").write_text("x")
    assert_one_line_error(invoke("world", "copy", "terra", "file"), "is not a directory")
    assert_one_line_error(invoke("world", "copy", "mars", "m"), "no bundled world 'mars'", "terra")
    assert not (here / "m").exists()
    assert sorted(p.name for p in here.iterdir()) == ["file", "mine"]  # no scratch left


def test_world_list(here):
    assert "terra" in ok("world", "list")
    assert {"name": "terra", "version": "0.1.0"}.items() <= ok_json("world", "list", "--json")[
        0
    ].items()


def test_run_of_a_missing_world_directory_names_the_copy_command(here):
    got = invoke("run", "./terra", "--steps", 1, "--no-catalog")
    assert_one_line_error(got, "continuum world copy terra ./terra", "continuum run terra")
    got = invoke("run", "worlds/terra", "--steps", 1, "--no-catalog")
    assert_one_line_error(got, "continuum world copy terra worlds/terra")
    # not a bundled world's name: the loader's own message, no hint
    assert_one_line_error(invoke("run", "./mars", "--steps", 1, "--no-catalog"), "no world at")
    assert ok_json("run", "terra", *TINY, "--steps", 1, "--json", "--no-catalog")["tick"] == 1


def test_readme_shows_the_copy_one_liner():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "continuum world copy terra ./terra" in readme


# --- ./checkpoints and ./lens when an option names no directory --------------------------------


def test_checkpoint_options_without_a_dir_write_under_checkpoints(here):
    for option in (("--checkpoint-stride", 5), ("--keep-checkpoints", 2)):
        summary = ok_json("run", "terra", *TINY, "--steps", 10, "--json", *option)
        run_dir = here / "checkpoints" / summary["run_id"]
        assert (run_dir / layout.LATEST).is_symlink() and layout.manifest_path(run_dir).is_file()
    assert len(runs_under(here / "checkpoints")) == 2
    assert not (here / "lens").exists()


def test_lens_options_without_a_dir_capture_under_lens(here):
    for option in (("--lens-stride", 5), ("--lens-full",), ("--lens-fields", "surface.elevation")):
        summary = ok_json("run", "terra", *TINY, "--steps", 10, "--json", *option)
        assert (here / "lens" / summary["run_id"] / "manifest.json").is_file()
    assert (here / "lens" / summary["run_id"]).is_dir()
    assert not (here / "checkpoints").exists()


def test_no_option_no_directory(here):
    ok_json("run", "terra", *TINY, "--steps", 5, "--json")
    assert list(here.iterdir()) == []


def test_help_says_where_the_defaults_go():
    text = ok("run", "--help")
    assert "./checkpoints" in text and "./lens" in text


# --- --resume without --checkpoint-dir ---------------------------------------------------------


def test_resume_finds_the_run_where_the_catalog_recorded_it(here, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    first = ok_json(
        *("run", "terra", *TINY, "--steps", 10, "--json"),
        *("--checkpoint-dir", elsewhere, "--checkpoint-stride", 5),
    )
    resumed = ok_json("run", "terra", "--resume", "--steps", 4, "--json")
    assert resumed["run_id"] == first["run_id"] and resumed["tick"] == 14
    assert (elsewhere / first["run_id"] / layout.checkpoint_name(14)).is_file()
    forced = ok_json("run", "terra", "--resume", "--force-resume", "--steps", 1, "--json")
    assert forced["run_id"] == first["run_id"] and forced["tick"] == 15
    assert not (here / "checkpoints").exists()


def test_resume_falls_back_to_checkpoints_here(here):
    made = ok_json(
        "run", "terra", *TINY, "--steps", 10, "--json", "--checkpoint-stride", 5, "--no-catalog"
    )
    resumed = ok_json("run", "terra", "--resume", "--steps", 2, "--json")  # catalog: no such run
    assert resumed["run_id"] == made["run_id"] and resumed["tick"] == 12
    again = ok_json("run", "terra", "--resume", "--steps", 2, "--json", "--no-catalog")
    assert again["tick"] == 14


def test_resume_with_nothing_to_resume_says_where_it_looked(here, tmp_path):
    got = invoke("run", "terra", "--resume", "--steps", 1)
    assert_one_line_error(got, "no checkpoints of world 'terra'", "./checkpoints")
    lens_only = ok_json("run", "terra", *TINY, "--steps", 2, "--json", "--lens-dir", tmp_path / "l")
    assert lens_only["tick"] == 2
    elsewhere = tmp_path / "gone"
    ok_json("run", "terra", *TINY, "--steps", 2, "--json", "--checkpoint-dir", elsewhere)
    for run_dir in elsewhere.iterdir():
        for f in run_dir.glob("checkpoint_*"):
            f.unlink()
    got = invoke("run", "terra", "--resume", "--steps", 1)
    assert_one_line_error(got, "the catalog recorded for its runs", str(elsewhere), "./checkpoints")
    got = invoke("run", "terra", "--resume", "--steps", 1, "--no-catalog")
    assert_one_line_error(got, "./checkpoints", "--no-catalog")


def test_resume_in_the_catalog_ignores_other_worlds_roots(here, tmp_path):
    """Only the world's runs give directories: a run of another world is no candidate."""
    other = tmp_path / "other-world"
    (other / "world").mkdir(parents=True)
    world = (Path(__file__).resolve().parents[2] / "continuum/worlds/terra/world.toml").read_text()
    (other / "world" / "world.toml").write_text(world.replace('name = "terra"', 'name = "mars"'))
    ok_json(
        *("run", other / "world", "--steps", 2, "--json"),
        *("--checkpoint-dir", other / "ck", "--checkpoint-stride", 1),
    )
    got = invoke("run", "terra", "--resume", "--steps", 1)
    assert_one_line_error(got, "no checkpoints of world 'terra'")
    assert (
        json.loads(ok("run", str(other / "world"), "--resume", "--steps", 1, "--json"))["tick"] == 3
    )


def test_resume_chooses_among_the_catalogs_directories_by_the_choice_rule(here, tmp_path):
    """Runs in two recorded roots are candidates together: the most recently advanced wins."""
    every = ("run", "terra", *TINY, "--json", "--checkpoint-stride", 5)
    a = ok_json(*every, "--steps", 10, "--checkpoint-dir", tmp_path / "one")["run_id"]
    b = ok_json(*every, "--steps", 10, "--checkpoint-dir", tmp_path / "two")["run_id"]
    assert ok_json("run", "terra", "--resume", "--steps", 1, "--json")["run_id"] == b
    assert ok_json("run", "terra", "--resume-run", a, "--steps", 1, "--json")["run_id"] == a
    resumed = ok_json("run", "terra", "--resume", "--steps", 1, "--json")
    assert resumed["run_id"] == a and resumed["tick"] == 12


def test_lens_export_dir_with_a_lens_option_defaults_the_lens_dir(here):
    summary = ok_json(
        *("run", "terra", *TINY, "--steps", 10, "--json", "--lens-stride", 5),
        *("--lens-export-dir", "exports"),
    )
    assert (here / "lens" / summary["run_id"]).is_dir()
    assert list((here / "exports").rglob("part-*.parquet"))
    got = invoke("run", "terra", *TINY, "--steps", 1, "--lens-export-dir", "exports")
    assert got.exit_code == 2 and "--lens-dir" in got.stderr
