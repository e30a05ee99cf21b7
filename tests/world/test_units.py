"""Units in world TOML: accepted, refused in one line, inherited by fields, never hashed."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.errors import WorldError
from continuum.world import ir_hash, load_world
from continuum.world.units import MAX_UNITS_CHARS, check_units, units_problem

CORE = 'initial = "5500.0"\n'
CORE_UNITS = '1.0e-6"\nunits = "K"\n'  # the end of core.temp's table


def edit(world: Path, old: str, new: str) -> None:
    path = world / "world.toml"
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def strip_units(world: Path) -> None:
    """The world as it was before it declared units."""
    path = world / "world.toml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith(("units =", "time_units ="))))


def test_terra_declares_units_for_every_field_signal_and_member_and_its_time():
    ir = load_world("terra")
    declared = [*ir.fields, *ir.signals, *ir.members]
    assert declared and all(d.units for d in declared), [d.name for d in declared if not d.units]
    assert ir.units_of("atmosphere.temperature") == "K"
    assert ir.units_of("surface.elevation") == "m"
    assert ir.units_of("core.temp") == "K"
    assert ir.units_of("cell.elevation") == "m"
    assert ir.time_units == "yr"


def test_units_are_not_in_the_ir_hash(terra_dir):
    with_units = load_world(terra_dir)
    strip_units(terra_dir)
    without = load_world(terra_dir)
    assert without.units_of("core.temp") is None and without.time_units is None
    assert with_units != without  # different to read...
    assert ir_hash(with_units) == ir_hash(without)  # ...the same world to run and resume
    edit(terra_dir, CORE, f'{CORE}units = "degC"\n')
    assert ir_hash(load_world(terra_dir)) == ir_hash(without)


def test_a_field_takes_its_bare_source_units_unless_it_declares_its_own(terra_dir):
    edit(terra_dir, 'source = "cell.temperature"\nunits = "K"', 'source = "cell.temperature"')
    assert load_world(terra_dir).units_of("atmosphere.temperature") == "K"  # from the member
    edit(terra_dir, 'source = "cell.temperature"', 'source = "cell.temperature"\nunits = "°C"')
    assert load_world(terra_dir).units_of("atmosphere.temperature") == "°C"
    edit(terra_dir, 'source = "cell.temperature"\n', 'source = "cell.temperature * 2.0"\n')
    edit(terra_dir, 'units = "°C"\n', "")
    assert load_world(terra_dir).units_of("atmosphere.temperature") is None  # an expression


@pytest.mark.parametrize(
    "units", ["K", "m/s", "W m-2", "°C", "µm", "m s⁻¹", "1", "kg m-2 s-1", "x" * MAX_UNITS_CHARS]
)
def test_accepted_units(terra_dir, units):
    edit(terra_dir, CORE_UNITS, f'1.0e-6"\nunits = "{units}"\n')
    assert load_world(terra_dir).units_of("core.temp") == units


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('""', "empty string"),
        ('"' + "x" * (MAX_UNITS_CHARS + 1) + '"', f"at most {MAX_UNITS_CHARS} characters"),
        ('"K\\u001b[31m"', "printable"),
        ('"m\\ns"', "printable"),
        ('"K\\u2028"', "printable"),
        ('" K"', "leading or trailing space"),
        ("3", "expected a string"),
        ("true", "expected a string"),
    ],
)
def test_refused_units_are_one_line_naming_the_declaration(terra_dir, value, fragment):
    edit(terra_dir, CORE_UNITS, f'1.0e-6"\nunits = {value}\n')
    with pytest.raises(WorldError) as info:
        load_world(terra_dir)
    message = str(info.value)
    assert '[signals."core.temp"] units' in message and fragment in message
    assert "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("old", "new", "label"),
    [
        (
            'positions = "plate.position"\nunits = "1"',
            'positions = "plate.position"\nunits = "\\u0007"',
            '[fields."plates.velocity"] units: expected printable',
        ),
        ('units = "m"', 'units = "m "', "[entities.cell.members.elevation] units: expected no"),
        ('time_units = "yr"', 'time_units = ""', "[world] time_units: expected a unit"),
        ('units = "K"', 'unit = "K"', "unknown key 'unit' (did you mean 'units'?)"),
    ],
)
def test_refused_units_on_fields_members_and_time(terra_dir, old, new, label):
    edit(terra_dir, old, new)
    with pytest.raises(WorldError) as info:
        load_world(terra_dir)
    assert label in str(info.value)


def test_check_units_is_the_rule_lens_headers_use():
    assert check_units("K") == "K"
    assert units_problem("m/s") is None
    with pytest.raises(ValueError, match="printable"):
        check_units("K\x00")
