"""Scenarios: named overrides of a world's config, initial values and resolution.

A scenario is ``scenarios/NAME.toml`` inside the world directory, or any TOML
file given by path::

    [scenario]
    name = "tiny"
    [config]
    "thermal.k" = 2.0e-3
    [topology]
    resolution = 8
    [initial]
    "core.temp" = "6000.0"

The IR hash covers the world only; a scenario has its own hash, so resuming a
checkpoint under another scenario is a recognisable branch, not a different world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from continuum import layout
from continuum.errors import LayoutError, WorldNotFoundError
from continuum.world.expr import Expr
from continuum.world.hashing import digest
from continuum.world.ir import WorldIR
from continuum.world.limits import load_toml, printable
from continuum.world.parse import (
    Where,
    check_keys,
    expr_at,
    number,
    positive_int,
    quoted,
    ref,
    string,
    table,
)

_TABLES = {"scenario", "config", "topology", "initial"}


@dataclass(frozen=True)
class Scenario:
    name: str
    config: tuple[tuple[str, float], ...] = ()
    initial: tuple[tuple[str, Expr], ...] = ()
    resolution: int | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def hash(self) -> str:
        return digest(self)


DEFAULT_SCENARIO = Scenario("default")


def available_scenarios(world: WorldIR) -> list[str]:
    folder = layout.scenarios_dir(world.root or Path("."))
    return sorted(p.stem for p in folder.glob(f"*{layout.TOML_SUFFIX}")) if folder.is_dir() else []


def resolve_scenario_path(world: WorldIR, spec: str) -> Path:
    """A scenario given as a file path, or a name under the world's scenarios/."""
    as_path = Path(spec)
    if as_path.suffix == layout.TOML_SUFFIX or as_path.is_file():
        if not as_path.exists():
            raise WorldNotFoundError(printable(f"scenario file {spec} does not exist"))
        return as_path  # load_toml refuses what is not a regular file
    try:
        candidate: Path | None = layout.scenario_path(world.root or Path("."), spec)
    except LayoutError:  # a separator or '..' in a name: no file under scenarios/ has it
        candidate = None
    if candidate is None or not candidate.is_file():
        known = ", ".join(available_scenarios(world)) or "none"
        raise WorldNotFoundError(
            f"world {world.name!r} has no scenario {spec!r} (available: {known}); "
            "give a name from that list or a path to a .toml file"
        )
    return candidate


def load_named_scenario(world: WorldIR, name: str) -> Scenario:
    """The scenario called ``name`` under the world's scenarios/ — a name, never a path.

    For names read from a file (a checkpoint's header): only what the user types on the
    command line may be a path, so a crafted header cannot make Continuum open a file
    of its choosing (``../x.toml``, ``/etc/passwd``, ``x.toml`` in the current directory).
    """
    try:
        path = layout.scenario_path(world.root or Path("."), name)
    except LayoutError:
        path = None
    if path is None or not path.is_file():
        known = ", ".join(available_scenarios(world)) or "none"
        raise WorldNotFoundError(
            f"world {world.name!r} has no scenario named {printable(name)[:80]!r} "
            f"(available: {known})"
        )
    doc, _ = load_toml(path)
    return _parse(doc, path, world)


def load_scenario(world: WorldIR, spec: str | Path | None) -> Scenario:
    """Load and validate a scenario against ``world``; ``None`` is the default scenario."""
    if spec is None:
        return DEFAULT_SCENARIO
    path = resolve_scenario_path(world, str(spec))
    doc, _ = load_toml(path)
    return _parse(doc, path, world)


def _parse(doc: dict, path: Path, world: WorldIR) -> Scenario:
    w = Where(str(path), "[scenario]")
    check_keys(w, doc, _TABLES)
    meta = doc.get("scenario", {})
    check_keys(w, meta, {"name", "description"})
    name = string(w, "name", meta.get("name", path.stem))
    try:
        layout.check_name(name, "scenario name")
    except LayoutError as exc:
        raise w.error("name", str(exc)) from None
    string(w, "description", meta.get("description", ""))
    cw = Where(str(path), "[config]")
    overrides = table(cw, doc.get("config", {}))
    check_keys(cw, overrides, set(world.config_dict))
    config = tuple(sorted((k, number(cw, quoted(k), v)) for k, v in overrides.items()))
    iw = Where(str(path), "[initial]")
    declared = {s.name for s in (*world.signals, *world.members)}
    initial = []
    for key, value in sorted(table(iw, doc.get("initial", {})).items()):
        ref(iw, quoted(key), key, declared, "signal")
        initial.append((key, expr_at(iw, quoted(key), value)))
    tw = Where(str(path), "[topology]")
    topo = doc.get("topology", {})
    check_keys(tw, topo, {"resolution"})
    resolution = positive_int(tw, "resolution", topo["resolution"]) if topo else None
    return Scenario(name, config, tuple(initial), resolution, path)
