"""Merged world TOML (a dict) -> WorldIR, checking shapes and references.

Every check raises ``WorldError`` through :class:`Where`, which prefixes the
file and the declaration, so a user reads e.g.
``terra/world.toml: [signals."core.temp"] stratum: unknown stratum 'thermo'``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from continuum import layout
from continuum.errors import ExpressionError, WorldError
from continuum.world.expr import Expr, parse_expr
from continuum.world.ir import (
    ACTIVE,
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

TOP_LEVEL = {"world", "config", "topology", "strata", "eras", "signals", "entities", "fields"}
TOPOLOGY_KINDS = ("cubed_sphere",)


@dataclass(frozen=True)
class Where:
    """A declaration's location, used to build every error message."""

    file: str
    label: str

    def error(self, key: str | None, message: str) -> WorldError:
        at = f"{self.label} {key}" if key else self.label
        return WorldError(f"{self.file}: {at}: {message}")


Sources = Mapping[tuple[str, ...], str]  # table path -> file that declared it


def where(sources: Sources, path: tuple[str, ...], label: str) -> Where:
    """Find the file that declared ``path`` (or its nearest declared ancestor)."""
    for depth in range(len(path), 0, -1):
        if path[:depth] in sources:
            return Where(sources[path[:depth]], label)
    return Where(sources.get((), layout.WORLD_FILE), label)


def check_keys(
    w: Where, table: Mapping, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> None:
    if not isinstance(table, Mapping):
        raise w.error(None, f"expected a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise w.error(None, f"unknown key {key!r}{suffix}; allowed: {sorted(allowed)}")
    for key in required:
        if key not in table:
            raise w.error(None, f"missing required key {key!r}")


def expr_at(w: Where, key: str, value: Any) -> Expr:
    try:
        return parse_expr(value)
    except ExpressionError as exc:
        raise w.error(key, str(exc)) from None


def positive_int(w: Where, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise w.error(key, f"expected a positive integer, got {value!r}")
    return value


def number(w: Where, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise w.error(key, f"expected a number, got {value!r}")
    return float(value)


def ref(w: Where, key: str, name: Any, known: Mapping | set, what: str) -> str:
    if name not in known:
        hint = difflib.get_close_matches(str(name), list(known), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise w.error(key, f"unknown {what} {name!r}{suffix}; known: {sorted(known)}")
    return name


def parse_world(doc: Mapping[str, Any], sources: Sources) -> WorldIR:
    """Build the IR from the merged TOML document."""
    root = where(sources, (), "[world]")
    for key in doc:
        if key not in TOP_LEVEL:
            raise root.error(None, f"unknown table [{key}]; allowed: {sorted(TOP_LEVEL)}")
    meta_w = where(sources, ("world",), "[world]")
    meta = doc.get("world", {})
    check_keys(meta_w, meta, {"name", "title", "version"}, {"name"})
    strata = _strata(doc.get("strata", {}), sources)
    names = {s.name for s in strata}
    signals = _signals(doc.get("signals", {}), sources, names)
    return WorldIR(
        name=str(meta["name"]),
        title=str(meta.get("title", meta["name"])),
        version=str(meta.get("version", "0")),
        config=_config(doc.get("config", {}), sources),
        topology=_topology(doc.get("topology"), sources),
        strata=strata,
        eras=_eras(doc.get("eras", {}), sources, names),
        signals=signals,
        entities=_entities(doc.get("entities", {}), sources, names),
        fields=_fields(doc.get("fields", {}), sources),
    )


def _config(table: Mapping, sources: Sources) -> tuple[tuple[str, float], ...]:
    w = where(sources, ("config",), "[config]")
    return tuple(sorted((name, number(w, name, value)) for name, value in table.items()))


def _topology(table: Mapping | None, sources: Sources) -> Topology:
    w = where(sources, ("topology",), "[topology]")
    if table is None:
        raise w.error(None, 'missing [topology] table (e.g. kind = "cubed_sphere")')
    check_keys(w, table, {"kind", "resolution"}, {"kind", "resolution"})
    kind = ref(w, "kind", table["kind"], set(TOPOLOGY_KINDS), "topology kind")
    return Topology(kind, positive_int(w, "resolution", table["resolution"]))


def _strata(table: Mapping, sources: Sources) -> tuple[Stratum, ...]:
    out = []
    for name, body in sorted(table.items()):
        w = where(sources, ("strata", name), f"[strata.{name}]")
        check_keys(w, body, {"stride"}, {"stride"})
        out.append(Stratum(name, positive_int(w, "stride", body["stride"])))
    return tuple(out)


def _eras(table: Mapping, sources: Sources, strata: set[str]) -> tuple[Era, ...]:
    eras = []
    for name, body in sorted(table.items()):
        w = where(sources, ("eras", name), f"[eras.{name}]")
        check_keys(w, body, {"dt", "initial", "terminal", "strata", "transition"}, {"dt"})
        dt = number(w, "dt", body["dt"])
        if not dt > 0:
            raise w.error("dt", f"must be positive, got {dt!r}")
        lanes = body.get("strata", {})
        if not isinstance(lanes, Mapping):
            raise w.error("strata", 'expected a table like { thermal = "active" }')
        for lane, mode in lanes.items():
            ref(w, "strata", lane, strata, "stratum")
            if mode not in (ACTIVE, GATED):
                raise w.error(f"strata.{lane}", f"expected 'active' or 'gated', got {mode!r}")
        eras.append(
            Era(
                name=name,
                dt=dt,
                initial=bool(body.get("initial", False)),
                terminal=bool(body.get("terminal", False)),
                strata=tuple(sorted(lanes.items())),
                transition=_transition(w, body.get("transition")),
            )
        )
    _check_era_graph(eras, sources)
    return tuple(eras)


def _transition(w: Where, body: Any) -> Transition | None:
    if body is None:
        return None
    check_keys(w, body, {"to", "when"}, {"to", "when"})
    return Transition(to=str(body["to"]), when=expr_at(w, "transition.when", body["when"]))


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


def _signal(w: Where, name: str, body: Mapping, strata: set[str], entity: str | None) -> Signal:
    check_keys(w, body, {"type", "stratum", "initial", "resolve"}, {"type", "stratum", "initial"})
    if body["type"] not in VALUE_TYPES:
        raise w.error("type", f"expected one of {list(VALUE_TYPES)}, got {body['type']!r}")
    return Signal(
        name=name,
        type=body["type"],
        stratum=ref(w, "stratum", body["stratum"], strata, "stratum"),
        initial=expr_at(w, "initial", body["initial"]),
        resolve=expr_at(w, "resolve", body.get("resolve", "prev")),
        entity=entity,
    )


def _signals(table: Mapping, sources: Sources, strata: set[str]) -> tuple[Signal, ...]:
    out = []
    for name, body in sorted(table.items()):
        w = where(sources, ("signals", name), f'[signals."{name}"]')
        out.append(_signal(w, name, body, strata, None))
    return tuple(out)


def _entities(table: Mapping, sources: Sources, strata: set[str]) -> tuple[Entity, ...]:
    out = []
    for name, body in sorted(table.items()):
        w = where(sources, ("entities", name), f"[entities.{name}]")
        check_keys(w, body, {"count", "members"}, {"count", "members"})
        count = body["count"]
        if count != CELLS:
            count = positive_int(w, "count", count)
        members = []
        for member, mbody in sorted(body["members"].items()):
            mw = where(
                sources,
                ("entities", name, "members", member),
                f"[entities.{name}.members.{member}]",
            )
            members.append(_signal(mw, f"{name}.{member}", mbody, strata, name))
        out.append(Entity(name, count, tuple(members)))
    return tuple(out)


def _fields(table: Mapping, sources: Sources) -> tuple[Field, ...]:
    out = []
    for name, body in sorted(table.items()):
        w = where(sources, ("fields", name), f'[fields."{name}"]')
        check_keys(w, body, {"source", "positions"}, {"source"})
        positions = body.get("positions")
        out.append(Field(name, expr_at(w, "source", body["source"]), positions))
    return tuple(out)
