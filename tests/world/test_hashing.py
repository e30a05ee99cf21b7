"""The IR hash ignores formatting and changes with any semantic edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.world import ir_hash, load_scenario, load_world

from .test_loader import CORE_RESOLVE, edit


def hash_of(world: Path) -> str:
    return ir_hash(load_world(world))


def test_hash_is_64_hex_and_stable(terra_dir):
    value = hash_of(terra_dir)
    assert len(value) == 64 and int(value, 16) >= 0
    assert value == hash_of(terra_dir)


def test_whitespace_comments_and_key_order_do_not_change_the_hash(terra_dir):
    before = hash_of(terra_dir)
    path = terra_dir / "world.toml"
    text = path.read_text()
    text = text.replace(CORE_RESOLVE, CORE_RESOLVE.replace(" - ", "  -  ") + "  # cooling")
    text = "# a new comment\n\n" + text
    # key order: swap stride tables and reorder keys inside a signal
    text = text.replace(
        '[signals."core.temp"]\ntype = "scalar"\nstratum = "thermal"\n',
        '[signals."core.temp"]\nstratum = "thermal"\ntype = "scalar"\n',
    )
    path.write_text(text)
    assert hash_of(terra_dir) == before


def test_moving_a_declaration_to_another_file_keeps_the_hash(terra_dir):
    before = hash_of(terra_dir)
    path = terra_dir / "world.toml"
    text = path.read_text()
    block = "[strata.tectonics]\nstride = 10\n"
    path.write_text(text.replace(block, ""))
    (terra_dir / "strata.toml").write_text(block)
    assert hash_of(terra_dir) == before


SEMANTIC_EDITS = {
    "operator": (CORE_RESOLVE, CORE_RESOLVE.replace("prev - thermal", "prev + thermal")),
    "constant": (CORE_RESOLVE, CORE_RESOLVE.replace("1.0e-6", "1.0e-7")),
    "signal": ('[signals."impacts.flux"]', '[signals."impacts.flux2"]'),
    "signal type": (
        'type = "scalar"\nstratum = "impacts"',
        'type = "scalar"\nstratum = "thermal"',
    ),
    "member": ("[entities.cell.members.elevation]", "[entities.cell.members.height]"),
    "entity count": ("count = 12", "count = 13"),
    "era dt": ("dt = 1.0e5", "dt = 2.0e5"),
    "era transition": ("core.temp < 4000.0", "core.temp < 3900.0"),
    "era strata": ('impacts = "gated", tectonics', 'impacts = "active", tectonics'),
    "stratum stride": ("[strata.tectonics]\nstride = 10", "[strata.tectonics]\nstride = 11"),
    "topology": ("resolution = 32", "resolution = 16"),
    "config": ('"climate.relax" = 0.05', '"climate.relax" = 0.06'),
    "field": ('source = "cell.elevation"', 'source = "cell.elevation * 2.0"'),
}


@pytest.mark.parametrize("kind", sorted(SEMANTIC_EDITS))
def test_semantic_edit_changes_the_hash(terra_dir, kind):
    before = hash_of(terra_dir)
    old, new = SEMANTIC_EDITS[kind]
    if kind == "member":
        # renaming a member needs its readers renamed too
        text = (terra_dir / "world.toml").read_text().replace("cell.elevation", "cell.height")
        (terra_dir / "world.toml").write_text(text)
    if kind == "signal":
        text = (terra_dir / "world.toml").read_text().replace("impacts.flux", "impacts.flux2")
        (terra_dir / "world.toml").write_text(text)
    else:
        edit(terra_dir, old, new)
    assert hash_of(terra_dir) != before


def test_scenario_has_its_own_hash_and_leaves_the_ir_hash_alone():
    ir = load_world("terra")
    tiny, hot = load_scenario(ir, "tiny"), load_scenario(ir, "hot-core")
    default = load_scenario(ir, None)
    assert len({tiny.hash, hot.hash, default.hash}) == 3
    assert tiny.resolution == 8
    assert dict(hot.config)["thermal.core_cooling"] == 5.0e-4
