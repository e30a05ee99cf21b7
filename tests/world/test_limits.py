"""Hostile world TOML: every limit is one WorldError line naming the file and the key.

Issue 12, class 7 (world part): a 400-digit integer, 10,000 unary minus signs, deep
``+``/``**``/``if`` chains, a section that is not a table, an unhashable stratum, wrong
types, a resolution or entity count that cannot fit in memory, files that never end.
"""

from __future__ import annotations

import os
import time
import tomllib
from pathlib import Path

import pytest

from continuum.errors import WorldError
from continuum.world import load_scenario, load_world
from continuum.world.limits import (
    MAX_EXPR_CHARS,
    MAX_EXPR_DEPTH,
    MAX_TOML_FILE_BYTES,
    MAX_TOML_LINE_CHARS,
    MEMORY_LIMIT_ENV,
)
from tests.conftest import TERRA

from .test_loader import CORE_RESOLVE, edit
from .toml_writer import dumps

BIG = "1" + "0" * 399  # a 400-digit integer


def refused(world: Path, *fragments: str) -> str:
    """Load ``world``: it must fail with one line holding every fragment, quickly."""
    started = time.monotonic()
    with pytest.raises(WorldError) as info:
        load_world(world)
    assert time.monotonic() - started < 5, "a hostile world must be refused quickly"
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def resolve_is(expr: str) -> tuple[str, str]:
    return CORE_RESOLVE, f'resolve = "{expr}"'


LOAD_CASES = {
    # 400-digit integers, wherever an integer may stand
    "huge resolution": (
        "resolution = 32",
        f"resolution = {BIG}",
        ["world.toml", "topology.resolution", "integer too large"],
    ),
    "huge count": ("count = 12", f"count = {BIG}", ["entities.plate.count", "integer too large"]),
    "huge stride": ("stride = 10", f"stride = {BIG}", ["strata.tectonics.stride", "too large"]),
    "huge config": (
        '"impacts.rate" = 0.5',
        f'"impacts.rate" = {BIG}',
        ["config.impacts.rate", "integer too large"],
    ),
    "huge literal": (
        *resolve_is(BIG),
        ['[signals."core.temp"] resolve', "number literal of 400 digits is out of range"],
    ),
    "huge float literal": (
        *resolve_is("prev * 1e999"),
        ['[signals."core.temp"] resolve', "out of range"],
    ),
    "infinite config": ('"impacts.rate" = 0.5', '"impacts.rate" = inf', ["finite number"]),
    "nan dt": ("dt = 1.0e6", "dt = nan", ["[eras.formation] dt", "finite number"]),
    # nesting: every chain stays below the parser's and the compiler's recursion
    "1000 unary minus": (
        *resolve_is("-" * 1000 + "prev"),
        ['[signals."core.temp"] resolve', f"deeper than {MAX_EXPR_DEPTH} levels"],
    ),
    "deep + chain": (*resolve_is("prev" + " + 1" * 400), ["resolve", "deeper than"]),
    "deep ** chain": (*resolve_is("2" + "**2" * 500), ["resolve", "deeper than"]),
    "deep if chain": (*resolve_is("1 if prev else " * 110 + "prev"), ["deeper than"]),
    "deep calls": (
        *resolve_is("maths.abs(" * 150 + "prev" + ")" * 150),
        ["resolve", "deeper than"],
    ),
    "deep parentheses": (*resolve_is("(" * 500 + "prev" + ")" * 500), ["resolve"]),
    "10,000 unary minus on one line": (
        *resolve_is("-" * 10_000 + "prev"),
        ["world.toml", "line", f"longer than {MAX_TOML_LINE_CHARS} characters"],
    ),
    "deep arrays": (
        '"impacts.rate" = 0.5',
        '"impacts.rate" = ' + "[" * 900 + "]" * 900,
        ["world.toml", "nested deeper than"],
    ),
    "deep inline tables": (
        '"impacts.rate" = 0.5',
        '"impacts.rate" = ' + "{a = " * 300 + "1" + "}" * 300,
        ["world.toml", "nested deeper than"],
    ),
    "deep dotted key": (
        '"impacts.rate" = 0.5',
        ".".join(["a"] * 900) + " = 1",
        ["world.toml", "config.a.a.a", "nested deeper than"],
    ),
    # a section that is not a table: see test_a_section_that_is_not_a_table_is_named
    "initial is a table": ('initial = "5500.0"', "initial = { x = 1 }", ["initial", "expected"]),
    # an unhashable stratum, and other non-names where a name belongs
    "stratum is an array": (
        'stratum = "thermal"\ninitial = "5500.0"',
        'stratum = ["thermal"]\ninitial = "5500.0"',
        ['[signals."core.temp"] stratum', "expected the name of a stratum (a string)"],
    ),
    "stratum is a table": (
        'stratum = "thermal"\ninitial = "5500.0"',
        'stratum = { a = 1 }\ninitial = "5500.0"',
        ["stratum", "got a table"],
    ),
    "era lane is an array": (
        'strata = { thermal = "active", climate = "active", impacts = "gated"',
        'strata = { thermal = ["active"], climate = "active", impacts = "gated"',
        ["[eras.stable] strata.thermal", "expected 'active' or 'gated'"],
    ),
    "transition target is an array": (
        'transition = { to = "stable"',
        'transition = { to = ["stable"]',
        ["[eras.formation] transition.to", "expected a string"],
    ),
    "type is an array": ('type = "vec3"', 'type = ["vec3"]', ["type", "expected one of"]),
    "positions is an array": (
        'positions = "plate.position"',
        'positions = ["plate.position"]',
        ['[fields."plates.velocity"] positions', "expected a string"],
    ),
    # wrong types anywhere
    "initial era is a string": (
        "initial = true",
        'initial = "yes"',
        ["[eras.formation] initial", "expected true or false"],
    ),
    "world name is a number": ('name = "terra"', "name = 5", ["[world] name", "expected a string"]),
    "world name is not a name": (
        'name = "terra"',
        'name = "../terra"',
        ["[world] name", "not a valid world name"],
    ),
    "resolution is a boolean": ("resolution = 32", "resolution = true", ["positive integer"]),
    "count is a float": ("count = 12", "count = 12.5", ["[entities.plate] count"]),
    "dt is a string": ("dt = 1.0e6", 'dt = "1.0e6"', ["[eras.formation] dt", "expected a number"]),
    "opt-out is a string": (
        'stratum = "thermal"\ninitial = "5500.0"',
        'stratum = "thermal"\nallow_nonfinite = "yes"\ninitial = "5500.0"',
        ['[signals."core.temp"] allow_nonfinite', "expected true or false"],
    ),
    "a name that is not a name": (
        '[signals."impacts.flux"]',
        '[signals."impacts flux\\u001b[31m"]',
        ["is not a valid signal name", "\\x1b"],
    ),
    # memory that cannot be allocated: refused before anything is
    "resolution too large for memory": (
        "resolution = 32",
        "resolution = 1000000",
        ["[topology] resolution", "6,000,000,000,000 cells", "needs about", MEMORY_LIMIT_ENV],
    ),
    "count too large for memory": (
        "count = 12",
        "count = 100000000000000",
        ["[entities.plate] count", "100,000,000,000,000", "needs about", MEMORY_LIMIT_ENV],
    ),
}


def terra_doc() -> dict:
    return tomllib.loads((TERRA / "world.toml").read_text())


def write_doc(world: Path, doc: dict) -> None:
    (world / "world.toml").write_text(dumps(doc))


@pytest.mark.parametrize("value", [5, "x", [1, 2], True, 1.5])
@pytest.mark.parametrize(
    ("path", "label"),
    [
        (("strata",), "[strata]"),
        (("signals",), "[signals]"),
        (("entities",), "[entities]"),
        (("fields",), "[fields]"),
        (("eras",), "[eras]"),
        (("config",), "[config]"),
        (("world",), "[world]"),
        (("topology",), "[topology]"),
        (("strata", "thermal"), "[strata.thermal]"),
        (("eras", "stable"), "[eras.stable]"),
        (("signals", "core.temp"), '[signals."core.temp"]'),
        (("entities", "plate"), "[entities.plate]"),
        (("entities", "plate", "members"), "[entities.plate] members"),
        (("entities", "cell", "members", "temperature"), "[entities.cell.members.temperature]"),
        (("fields", "surface.elevation"), '[fields."surface.elevation"]'),
        (("eras", "formation", "transition"), "[eras.formation] transition"),
        (("eras", "formation", "strata"), "[eras.formation] strata"),
    ],
)
def test_a_section_that_is_not_a_table_is_named(terra_dir, path, label, value):
    doc = terra_doc()
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    write_doc(terra_dir, doc)
    refused(terra_dir, "world.toml", label, "expected a table")


@pytest.mark.parametrize("case", sorted(LOAD_CASES))
def test_hostile_world_is_one_line_naming_file_and_key(terra_dir, case):
    old, new, fragments = LOAD_CASES[case]
    edit(terra_dir, old, new)
    refused(terra_dir, *fragments)


def test_expression_longer_than_the_limit_is_refused_before_parsing(terra_dir):
    # 10,000 unary minus signs in a multi-line string: no line is long, the expression is
    lines = "\\\n".join("-" * 1000 for _ in range(10))
    edit(terra_dir, CORE_RESOLVE, f'resolve = """\\\n{lines}\\\nprev"""')
    refused(terra_dir, '[signals."core.temp"] resolve', f"at most {MAX_EXPR_CHARS}")


def test_a_chain_at_the_depth_limit_still_loads_and_runs(terra_dir):
    # 90 additions: deep, but inside MAX_EXPR_DEPTH; evaluation must not recurse too far
    edit(terra_dir, CORE_RESOLVE, 'resolve = "prev' + " + 0.0" * 90 + '"')
    from continuum.runtime import Simulation
    from continuum.world import compile_world

    ir = load_world(terra_dir)
    sim = Simulation(compile_world(ir, load_scenario(ir, "tiny")), 1)
    sim.run(sim.initial_state(), 2)


def test_memory_ceiling_is_overridable_by_environment(terra_dir, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1M")
    refused(terra_dir, "[topology] resolution", "32 (6,144 cells)", "more than the 1.0 MiB")
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1G")
    assert load_world(terra_dir).topology.resolution == 32


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1.5G", ""])
def test_a_bad_memory_ceiling_names_the_variable(terra_dir, monkeypatch, value):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, value)
    refused(terra_dir, MEMORY_LIMIT_ENV, "positive byte count")


def test_scenario_resolution_too_large_names_the_scenario_file(terra_dir):
    path = terra_dir / "scenarios" / "huge.toml"
    path.write_text("[topology]\nresolution = 2000000\n")
    ir = load_world(terra_dir)
    from continuum.world import compile_world

    with pytest.raises(WorldError) as info:
        compile_world(ir, load_scenario(ir, "huge"))
    assert "huge.toml: [topology] resolution: 2000000" in str(info.value)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("[topology]\nresolution = " + BIG, ["huge.toml", "topology.resolution", "too large"]),
        ("[config]\n\"impacts.rate\" = 'x'", ["[config] impacts.rate", "expected a number"]),
        ("config = 5", ["[config]", "expected a table"]),
        ("initial = [1]", ["[initial]", "expected a table"]),
        ('[initial]\n"core.temp" = "1/"', ["[initial] core.temp", "syntax error"]),
        ("[scenario]\nname = ['x']", ["[scenario] name", "expected a string"]),
        ('[scenario]\nname = "../x"', ["[scenario] name", "not a valid scenario name"]),
    ],
)
def test_hostile_scenario_is_one_line(terra_dir, body, fragments):
    (terra_dir / "scenarios" / "huge.toml").write_text(body + "\n")
    with pytest.raises(WorldError) as info:
        load_scenario(load_world(terra_dir), "huge")
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_world_file_that_never_ends_is_not_read(terra_dir):
    (terra_dir / "zero.toml").symlink_to("/dev/zero")
    refused(terra_dir, "zero.toml", "not a regular file")


def test_a_fifo_is_not_opened(terra_dir):
    os.mkfifo(terra_dir / "pipe.toml")
    refused(terra_dir, "pipe.toml", "not a regular file")


def test_an_oversized_file_is_refused_after_reading_at_most_the_limit(terra_dir):
    (terra_dir / "big.toml").write_text("# padding\n" * (MAX_TOML_FILE_BYTES // 10 + 1))
    refused(terra_dir, "big.toml", "too large", str(MAX_TOML_FILE_BYTES))


def test_a_world_too_large_in_total_is_refused(terra_dir):
    for index in range(5):
        (terra_dir / f"pad{index}.toml").write_text("# padding\n" * (MAX_TOML_FILE_BYTES // 11))
    refused(terra_dir, "the world is too large")


def test_a_world_file_that_is_not_utf8(terra_dir):
    (terra_dir / "latin.toml").write_bytes(b'[config]\n"x.y" = 1 # caf\xe9\n')
    refused(terra_dir, "latin.toml", "not UTF-8")


def test_a_default_world_loads_within_every_limit():
    ir = load_world("terra")
    assert ir.topology.resolution == 32 and not any(s.allow_nonfinite for s in ir.signals)


def test_a_scenario_path_that_never_ends_is_not_read(terra_dir, tmp_path):
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    with pytest.raises(WorldError, match="zero.toml: not a regular file"):
        load_scenario(load_world(terra_dir), str(tmp_path / "zero.toml"))


def test_a_directory_of_too_many_toml_files_is_refused(terra_dir):
    from continuum.world.limits import MAX_WORLD_FILES

    (terra_dir / "many").mkdir()
    for index in range(MAX_WORLD_FILES):
        (terra_dir / "many" / f"f{index:03}.toml").write_text("")
    refused(terra_dir, f"more than {MAX_WORLD_FILES} TOML files")
