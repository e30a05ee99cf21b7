"""Merged world TOML (a dict) -> WorldIR, checking shapes and references.

Every check raises ``WorldError`` through :class:`Where`, which prefixes the
file and the declaration, so a user reads e.g.
``terra/world.toml: [signals."core.temp"] stratum: unknown stratum 'thermo'``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from continuum import layout
from continuum.errors import ExpressionError, LayoutError, WorldError
from continuum.world.expr import Expr, parse_expr
from continuum.world.ir import (
    ACTIVE,
    ALLOW_NONFINITE,
    CELLS,
    GATED,
    Entity,
    Era,
    Field,
    Signal,
    Stratum,
    Topology,
    Transition,
    WorldIR,
)
from continuum.world.kinds import VALUE_TYPES
from continuum.world.limits import MAX_INTEGER, printable, shown
from continuum.world.units import TIME_UNITS, UNITS, units_problem

TOP_LEVEL = {"world", "config", "topology", "strata", "eras", "signals", "entities", "fields"}
TOPOLOGY_KINDS = ("cubed_sphere",)


@dataclass(frozen=True)
class Where:
    """A declaration's location, used to build every error message."""

    file: str
    label: str

    def message(self, key: str | None, text: str) -> str:
        """``FILE: LABEL KEY: TEXT``, one printable line."""
        at = f"{self.label} {key}" if key else self.label
        return printable(f"{self.file}: {at}: {text}")

    def error(self, key: str | None, text: str) -> WorldError:
        return WorldError(self.message(key, text))


Sources = Mapping[tuple[str, ...], str]  # table path -> file that declared it


def where(sources: Sources, path: tuple[str, ...], label: str) -> Where:
    """Find the file that declared ``path`` (or its nearest declared ancestor)."""
    for depth in range(len(path), 0, -1):
        if path[:depth] in sources:
            return Where(sources[path[:depth]], label)
    return Where(sources.get((), layout.WORLD_FILE), label)


def quoted(name: str) -> str:
    """A TOML key as a label shows it: plain if it is a dotted name, else its repr."""
    return name if layout.DOTTED_NAME_RE.match(name) and len(name) <= 200 else shown(name)


def check_keys(
    w: Where, table: Mapping, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> None:
    if not isinstance(table, Mapping):
        raise w.error(None, f"expected a table, got {_type(table)}")
    for key in table:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise w.error(None, f"unknown key {shown(key)}{suffix}; allowed: {sorted(allowed)}")
    for key in required:
        if key not in table:
            raise w.error(None, f"missing required key {key!r}")


def table(w: Where, value: Any, key: str | None = None) -> Mapping[str, Any]:
    """``value`` if it is a TOML table, else an error naming the key."""
    if not isinstance(value, Mapping):
        raise w.error(key, f"expected a table, got {_type(value)}")
    return value


def _type(value: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    return f"{names.get(type(value), type(value).__name__)} {shown(value)}"


def _some(names: Mapping | AbstractSet, most: int = 20) -> str:
    """The sorted names, cut after ``most`` so that a message stays one readable line."""
    listed = sorted(names)
    return str(listed) if len(listed) <= most else f"{listed[:most]} and {len(listed) - most} more"


def expr_at(w: Where, key: str, value: Any) -> Expr:
    try:
        return parse_expr(value)
    except ExpressionError as exc:
        raise w.error(key, str(exc)) from None


def positive_int(w: Where, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INTEGER:
        raise w.error(key, f"expected a positive integer up to {MAX_INTEGER}, got {shown(value)}")
    return value


def number(w: Where, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise w.error(key, f"expected a number, got {_type(value)}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise w.error(key, f"expected a finite number, got {shown(value)}")
    return result


def string(w: Where, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise w.error(key, f"expected a string, got {_type(value)}")
    return value


def flag(w: Where, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise w.error(key, f"expected true or false, got {_type(value)}")
    return value


def units_at(w: Where, key: str, value: Any) -> str | None:
    """An optional unit text (``units = "K"``): None if absent, else checked
    (:func:`continuum.world.units.units_problem` says what is accepted)."""
    if value is None:
        return None
    problem = units_problem(value)
    if problem is not None:
        raise w.error(key, problem)
    return value


def name_of(w: Where, what: str, name: str) -> str:
    """``name`` if it is a dotted name (``core.temp``), which expressions can read."""
    try:
        return layout.check_field_name(name)
    except LayoutError:
        raise w.error(
            None,
            f"{shown(name)} is not a valid {what} name: expected dotted identifiers like "
            "core.temp, at most 200 characters",
        ) from None


def ref(w: Where, key: str, name: Any, known: Mapping | AbstractSet, what: str) -> str:
    if not isinstance(name, str):
        raise w.error(key, f"expected the name of a {what} (a string), got {_type(name)}")
    if name not in known:
        hint = difflib.get_close_matches(name, list(known), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise w.error(key, f"unknown {what} {shown(name)}{suffix}; known: {_some(known)}")
    return name


def parse_world(doc: Mapping[str, Any], sources: Sources) -> WorldIR:
    """Build the IR from the merged TOML document."""
    root = where(sources, (), "[world]")
    for key in doc:
        if key not in TOP_LEVEL:
            raise root.error(None, f"unknown table [{shown(key)}]; allowed: {sorted(TOP_LEVEL)}")
    meta_w = where(sources, ("world",), "[world]")
    meta = doc.get("world", {})
    check_keys(meta_w, meta, {"name", "title", "version", TIME_UNITS}, {"name"})
    name = string(meta_w, "name", meta["name"])
    try:
        layout.check_name(name, "world name")  # it names the world in catalogs and manifests
    except LayoutError as exc:
        raise meta_w.error("name", str(exc)) from None
    strata = _strata(_section(doc, "strata", sources), sources)
    names = {s.name for s in strata}
    signals = _signals(_section(doc, "signals", sources), sources, names)
    config = _config(_section(doc, "config", sources), sources)
    topology = _topology(doc.get("topology"), sources)
    eras = _eras(_section(doc, "eras", sources), sources, names)
    entities = _entities(_section(doc, "entities", sources), sources, names)
    declared = {s.name: s.units for s in (*signals, *(m for e in entities for m in e.members))}
    return WorldIR(
        name=name,
        title=string(meta_w, "title", meta.get("title", name)),
        version=string(meta_w, "version", meta.get("version", "0")),
        config=config,
        topology=topology,
        strata=strata,
        eras=eras,
        signals=signals,
        entities=entities,
        fields=_fields(_section(doc, "fields", sources), sources, declared),
        time_units=units_at(meta_w, TIME_UNITS, meta.get(TIME_UNITS)),
    )


def _section(doc: Mapping[str, Any], key: str, sources: Sources) -> Mapping[str, Any]:
    """A top-level table (``[strata]``...), empty if absent, an error if not a table."""
    return table(where(sources, (key,), f"[{key}]"), doc.get(key, {}))


def _config(section: Mapping, sources: Sources) -> tuple[tuple[str, float], ...]:
    w = where(sources, ("config",), "[config]")
    out = []
    for name, value in sorted(section.items()):
        name_of(w, "config constant", name)
        out.append((name, number(w, quoted(name), value)))
    return tuple(out)


def _topology(section: Mapping | None, sources: Sources) -> Topology:
    w = where(sources, ("topology",), "[topology]")
    if section is None:
        raise w.error(None, 'missing [topology] table (e.g. kind = "cubed_sphere")')
    check_keys(w, section, {"kind", "resolution"}, {"kind", "resolution"})
    kind = ref(w, "kind", section["kind"], set(TOPOLOGY_KINDS), "topology kind")
    return Topology(kind, positive_int(w, "resolution", section["resolution"]))


def _strata(section: Mapping, sources: Sources) -> tuple[Stratum, ...]:
    out = []
    for name, body in sorted(section.items()):
        w = where(sources, ("strata", name), f"[strata.{quoted(name)}]")
        name_of(w, "stratum", name)
        check_keys(w, body, {"stride"}, {"stride"})
        out.append(Stratum(name, positive_int(w, "stride", body["stride"])))
    return tuple(out)


def _eras(section: Mapping, sources: Sources, strata: set[str]) -> tuple[Era, ...]:
    eras = []
    for name, body in sorted(section.items()):
        w = where(sources, ("eras", name), f"[eras.{quoted(name)}]")
        name_of(w, "era", name)
        check_keys(w, body, {"dt", "initial", "terminal", "strata", "transition"}, {"dt"})
        dt = number(w, "dt", body["dt"])
        if not dt > 0:
            raise w.error("dt", f"must be positive, got {dt!r}")
        lanes = body.get("strata", {})
        if not isinstance(lanes, Mapping):
            raise w.error("strata", 'expected a table like { thermal = "active" }')
        for lane, mode in lanes.items():
            ref(w, "strata", lane, strata, "stratum")
            if not isinstance(mode, str) or mode not in (ACTIVE, GATED):
                raise w.error(
                    f"strata.{quoted(lane)}", f"expected 'active' or 'gated', got {shown(mode)}"
                )
        eras.append(
            Era(
                name=name,
                dt=dt,
                initial=flag(w, "initial", body.get("initial", False)),
                terminal=flag(w, "terminal", body.get("terminal", False)),
                strata=tuple(sorted(lanes.items())),
                transition=_transition(w, body.get("transition")),
            )
        )
    _check_era_graph(eras, sources)
    return tuple(eras)


def _transition(w: Where, body: Any) -> Transition | None:
    if body is None:
        return None
    check_keys(w, table(w, body, "transition"), {"to", "when"}, {"to", "when"})
    to = string(w, "transition.to", body["to"])
    return Transition(to=to, when=expr_at(w, "transition.when", body["when"]))


def _check_era_graph(eras: list[Era], sources: Sources) -> None:
    w = where(sources, ("eras",), "[eras]")
    names = {e.name for e in eras}
    initial = [e.name for e in eras if e.initial]
    if len(initial) != 1:
        raise w.error(None, f"exactly one era must be initial = true, found {initial or 'none'}")
    for era in eras:
        ew = where(sources, ("eras", era.name), f"[eras.{era.name}]")
        if era.transition is not None:
            if era.terminal:
                raise ew.error("transition", "a terminal era cannot have a transition")
            ref(ew, "transition.to", era.transition.to, names, "era")


SIGNAL_KEYS = {"type", "stratum", "initial", "resolve", ALLOW_NONFINITE, UNITS}


def _signal(w: Where, name: str, body: Mapping, strata: set[str], entity: str | None) -> Signal:
    check_keys(w, body, SIGNAL_KEYS, {"type", "stratum", "initial"})
    kind = body["type"]
    if not isinstance(kind, str) or kind not in VALUE_TYPES:
        raise w.error("type", f"expected one of {list(VALUE_TYPES)}, got {shown(kind)}")
    return Signal(
        name=name,
        type=kind,
        stratum=ref(w, "stratum", body["stratum"], strata, "stratum"),
        initial=expr_at(w, "initial", body["initial"]),
        resolve=expr_at(w, "resolve", body.get("resolve", "prev")),
        entity=entity,
        allow_nonfinite=flag(w, ALLOW_NONFINITE, body.get(ALLOW_NONFINITE, False)),
        units=units_at(w, UNITS, body.get(UNITS)),
    )


def _signals(section: Mapping, sources: Sources, strata: set[str]) -> tuple[Signal, ...]:
    out = []
    for name, body in sorted(section.items()):
        w = where(sources, ("signals", name), f'[signals."{quoted(name)}"]')
        name_of(w, "signal", name)
        out.append(_signal(w, name, body, strata, None))
    return tuple(out)


def _entities(section: Mapping, sources: Sources, strata: set[str]) -> tuple[Entity, ...]:
    out = []
    for name, body in sorted(section.items()):
        w = where(sources, ("entities", name), f"[entities.{quoted(name)}]")
        name_of(w, "entity", name)
        check_keys(w, body, {"count", "members"}, {"count", "members"})
        count = body["count"]
        if count != CELLS:
            count = positive_int(w, "count", count)
        members = []
        for member, mbody in sorted(table(w, body["members"], "members").items()):
            mw = where(
                sources,
                ("entities", name, "members", member),
                f"[entities.{name}.members.{quoted(member)}]",
            )
            full = name_of(mw, "member", f"{name}.{member}")
            members.append(_signal(mw, full, mbody, strata, name))
        out.append(Entity(name, count, tuple(members)))
    return tuple(out)


def _fields(
    section: Mapping, sources: Sources, declared: Mapping[str, str | None]
) -> tuple[Field, ...]:
    """Fields; one without ``units`` whose source is the bare name of a signal or member
    takes that declaration's units (what it measures is that quantity)."""
    out = []
    for name, body in sorted(section.items()):
        w = where(sources, ("fields", name), f'[fields."{quoted(name)}"]')
        name_of(w, "field", name)
        check_keys(w, body, {"source", "positions", ALLOW_NONFINITE, UNITS}, {"source"})
        positions = body.get("positions")
        if positions is not None:
            string(w, "positions", positions)
        allow = flag(w, ALLOW_NONFINITE, body.get(ALLOW_NONFINITE, False))
        source = expr_at(w, "source", body["source"])
        units = units_at(w, UNITS, body.get(UNITS))
        if units is None and source.tree[0] == "name":
            units = declared.get(source.tree[1])
        out.append(Field(name, source, positions, allow, units))
    return tuple(out)
