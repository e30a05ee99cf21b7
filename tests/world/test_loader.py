"""Loading worlds, and every kind of bad input failing with file + declaration named."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.cli import cli
from continuum.errors import WorldError, WorldNotFoundError
from continuum.world import load_world


def edit(world: Path, old: str, new: str, file: str = "world.toml") -> None:
    path = world / file
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def test_bundled_world_loads_by_name_and_by_path(terra_dir):
    by_name = load_world("terra")
    by_path = load_world(terra_dir)
    assert by_name == by_path
    assert by_name.name == "terra"
    assert {e.name for e in by_name.eras} == {"formation", "stable"}
    assert any(s.stride == 10 for s in by_name.strata)


CORE_RESOLVE = 'resolve = "prev - thermal.core_cooling * (prev - thermal.space) * dt * 1.0e-6"'

BAD_EDITS = [
    # (old, new, fragments the one-line message must contain)
    ('name = "terra"', 'name = "terra', ["world.toml", "not valid TOML"]),
    (
        CORE_RESOLVE,
        'resolve = "prev - core.tmp"',
        ['[signals."core.temp"] resolve', "unknown name 'core.tmp'", "did you mean 'core.temp'"],
    ),
    (
        CORE_RESOLVE,
        "resolve = \"__import__('os').system('id')\"",
        ['[signals."core.temp"] resolve', "forbidden"],
    ),
    (CORE_RESOLVE, 'resolve = "(lambda: 1)()"', ['[signals."core.temp"]', "lambda"]),
    (CORE_RESOLVE, 'resolve = "[x for x in prev]"', ['[signals."core.temp"]', "comprehension"]),
    (CORE_RESOLVE, 'resolve = "prev.__class__"', ['[signals."core.temp"]', "'_'"]),
    (
        'stratum = "thermal"\ninitial = "5500.0"',
        'stratum = "thermo"\ninitial = "5500.0"',
        ['[signals."core.temp"] stratum', "unknown stratum 'thermo'", "did you mean 'thermal'"],
    ),
    (
        'transition = { to = "stable"',
        'transition = { to = "stabel"',
        ["[eras.formation] transition.to", "unknown era 'stabel'"],
    ),
    (
        'strata = { thermal = "active", climate = "active", impacts = "gated"',
        'strata = { thermal = "active", climate = "active", impact = "gated"',
        ["[eras.stable] strata", "unknown stratum 'impact'"],
    ),
    (
        CORE_RESOLVE,
        'resolve = "cell.temperature"',
        ['[signals."core.temp"] resolve', "type mismatch", "mean(...)"],
    ),
    (
        CORE_RESOLVE,
        'resolve = "core.dipole"',
        ['[signals."core.temp"] resolve', "type mismatch", "global vec3"],
    ),
    (
        CORE_RESOLVE,
        'resolve = "prev + core.dipole"',
        ["type mismatch", "global scalar + global vec3"],
    ),
    (
        'type = "scalar"\nstratum = "thermal"\ninitial = "5500.0"',
        'type = "scalr"\nstratum = "thermal"\ninitial = "5500.0"',
        ['[signals."core.temp"] type', "expected one of"],
    ),
    (
        'initial = "5500.0"',
        'initial = "mantle.temp"',
        ['[signals."core.temp"] initial', "config constants and builtins only"],
    ),
    (CORE_RESOLVE, 'resolv = "prev"', ['[signals."core.temp"]', "unknown key 'resolv'"]),
    (
        "[strata.tectonics]\nstride = 10",
        "[strata.tectonics]\nstride = 0",
        ["[strata.tectonics] stride", "positive integer"],
    ),
    ("dt = 1.0e6", "dt = -1.0", ["[eras.formation] dt", "must be positive"]),
    (CORE_RESOLVE, 'resolve = "maths.sinn(prev)"', ["unknown function maths.sinn()"]),
    (CORE_RESOLVE, 'resolve = "lap(prev)"', ["lap() needs a per-cell value"]),
]


@pytest.mark.parametrize(("old", "new", "fragments"), BAD_EDITS)
def test_bad_world_is_one_clear_line_through_the_cli(terra_dir, runner, old, new, fragments):
    edit(terra_dir, old, new)
    with pytest.raises(WorldError) as info:
        load_world(terra_dir)
    for fragment in fragments:
        assert fragment in str(info.value)
    result = runner.invoke(cli, ["run", str(terra_dir), "--steps", "1", "--json"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "world.toml" in lines[0]
    assert "Traceback" not in result.output


def test_missing_world_toml(tmp_path, runner):
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorldNotFoundError, match="has no world.toml"):
        load_world(tmp_path / "empty")
    result = runner.invoke(cli, ["run", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "has no world.toml" in result.output


def test_world_path_that_is_a_file(terra_dir):
    with pytest.raises(WorldNotFoundError, match="is a file"):
        load_world(terra_dir / "world.toml")


def test_extra_toml_files_merge_and_conflicts_name_both_files(terra_dir):
    (terra_dir / "extra").mkdir()
    (terra_dir / "extra" / "ocean.toml").write_text(
        '[signals."ocean.heat"]\ntype = "scalar"\nstratum = "climate"\ninitial = "1.0"\n'
        'resolve = "prev * 0.5 + mean(cell.temperature) * 1.0e-3"\n'
    )
    assert any(s.name == "ocean.heat" for s in load_world(terra_dir).signals)
    (terra_dir / "extra" / "dupe.toml").write_text('[config]\n"climate.base" = 1.0\n')
    with pytest.raises(WorldError, match=r"dupe\.toml: config\.climate\.base is already declared"):
        load_world(terra_dir)


def test_error_in_extra_file_names_that_file(terra_dir):
    (terra_dir / "more.toml").write_text(
        '[signals."x.y"]\ntype = "scalar"\nstratum = "thermal"\ninitial = "0.0"\nresolve = "nope"\n'
    )
    with pytest.raises(WorldError, match=r"more\.toml: \[signals\.\"x\.y\"\] resolve"):
        load_world(terra_dir)


def test_nothing_is_executed_by_a_malicious_world(terra_dir, tmp_path):
    marker = tmp_path / "pwned"
    edit(terra_dir, CORE_RESOLVE, f"resolve = \"__import__('os').system('touch {marker}')\"")
    with pytest.raises(WorldError):
        load_world(terra_dir)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../terra", "scenarios/tiny", "nope"])
def test_unknown_scenario_names_are_refused_with_the_known_ones(name):
    from continuum.world import load_scenario

    with pytest.raises(WorldNotFoundError, match=r"has no scenario .*available: .*tiny"):
        load_scenario(load_world("terra"), name)


@pytest.mark.parametrize("name", ["../worlds/terra", "terra/", "nope"])
def test_only_plain_names_find_bundled_worlds(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorldNotFoundError, match="not a bundled world"):
        load_world(name)
