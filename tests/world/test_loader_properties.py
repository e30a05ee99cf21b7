"""Property tests of the world loader: any TOML gives a world or a ContinuumError.

Issue 12 (tests, world loader): generated documents (the bundled terra world with values
replaced, keys dropped and added, serialised by a small TOML writer) and text mutations
of terra's world.toml either load or fail with a ``ContinuumError``, never with another
exception (RecursionError, MemoryError, OverflowError, TypeError...), and quickly. A world
that loads also runs a few ticks under a small memory ceiling with the same promise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from continuum.errors import ContinuumError
from continuum.runtime import Simulation
from continuum.world import Scenario, compile_world, load_world
from continuum.world.limits import MEMORY_LIMIT_ENV
from tests.conftest import TERRA

from .toml_writer import dumps

TERRA_TEXT = (TERRA / "world.toml").read_text()
TERRA_DOC = tomllib.loads(TERRA_TEXT)
SECONDS = 5.0  # per example: loading, and a few ticks when it loads

# --- values a hostile or careless author might write --------------------------------------

EXPRESSIONS = st.sampled_from(
    [
        "prev",
        "1/0",
        "0**-1",
        "(0-8)**0.5",
        "10**10**10",
        "-" * 1000 + "1",
        "1" + "+1" * 300,
        "2" + "**2" * 300,
        "1 if 1 else " * 120 + "1",
        "1" + "0" * 400,
        "1e999",
        "prev.__class__",
        "maths.log(0.0 - 1.0)",
        "rng.normal(0.0, 0.0 - 1.0)",
        "mean(cell.temperature) / 0.0",
        "vec.new(1/0, 0.0, 0.0)",
        "",
        "(",
        "\x00",
        "\x1b[31m",
    ]
)
SCALARS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=30),
    EXPRESSIONS,
)


def nested(depth: int) -> Any:
    """A value nested ``depth`` deep: arrays and tables around a scalar."""
    return st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=depth)


VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=10), SCALARS, max_size=4),
    nested(12),
    st.integers(min_value=1, max_value=40).map(lambda d: _deep_list(d)),
    st.integers(min_value=1, max_value=40).map(lambda d: _deep_table(d)),
)


def _deep_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _deep_table(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in ``doc`` (tables only), so a mutation can target any of them."""
    out = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.append((*prefix, key))
            out.extend(paths(value, (*prefix, key)))
    return out


TERRA_PATHS = paths(TERRA_DOC)


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """terra's document with a few values replaced, keys dropped or added."""
    doc = tomllib.loads(TERRA_TEXT)  # a fresh copy
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(TERRA_PATHS))
        parent = doc
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
            if not isinstance(parent, dict):
                break
        else:
            action = draw(st.sampled_from(["replace", "drop", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(VALUES)
            elif action == "drop":
                parent.pop(path[-1], None)
            else:
                parent[draw(st.text(max_size=12))] = draw(VALUES)
    return doc


SNIPPETS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "=",
        '"',
        "'''",
        "\n",
        ".",
        "-" * 300,
        "1" + "0" * 400,
        "[" * 600,
        "{a=" * 200,
        ".a" * 500,
        "**2" * 200,
        "\n[strata]\n",
        "\nstrata = 5\n",
        "\n[entities.plate.members]\n",
        "nan",
        "inf",
        "\x1b",
        "\x00",
        "é",
        "true",
        "[1, [2, [3]]]",
    ]
)


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """terra's world.toml with a few characters or snippets inserted, deleted or repeated."""
    text = TERRA_TEXT
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        end = min(len(text), at + draw(st.integers(min_value=0, max_value=80)))
        action = draw(st.sampled_from(["insert", "delete", "repeat", "replace"]))
        if action == "insert":
            text = text[:at] + draw(st.one_of(SNIPPETS, st.text(max_size=8))) + text[at:]
        elif action == "delete":
            text = text[:at] + text[end:]
        elif action == "repeat":
            text = text[:end] + text[at:end] * draw(st.integers(1, 30)) + text[end:]
        else:
            text = text[:at] + draw(st.text(min_size=1, max_size=3)) + text[end:]
    return text


# --- the property --------------------------------------------------------------------------


@contextmanager
def world_with(text: str) -> Iterator[Path]:
    """A world directory holding ``text`` as world.toml, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="world-prop-"))
    try:
        (root / "world.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def memory_ceiling(value: str) -> Iterator[None]:
    previous = os.environ.get(MEMORY_LIMIT_ENV)
    os.environ[MEMORY_LIMIT_ENV] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MEMORY_LIMIT_ENV, None)
        else:
            os.environ[MEMORY_LIMIT_ENV] = previous


def loads_or_refuses(text: str) -> None:
    """Loading ``text`` (and a few ticks if it loads) ends in a world or a ContinuumError."""
    started = time.monotonic()
    with world_with(text) as world, memory_ceiling("64M"):
        try:
            ir = load_world(world)
            sim = Simulation(compile_world(ir, Scenario("small", resolution=2)), 1)
            sim.run(sim.initial_state(), 3)
        except ContinuumError as exc:
            message = str(exc)
            assert message and "\n" not in message and "\x1b" not in message, message
    assert time.monotonic() - started < SECONDS


@given(mutated_documents())
def test_generated_documents_load_or_fail_with_a_continuum_error(doc):
    loads_or_refuses(dumps(doc))


@given(mutated_texts())
def test_mutated_terra_text_loads_or_fails_with_a_continuum_error(text):
    loads_or_refuses(text)


def test_the_unmutated_documents_load():
    # the generators start from a world that loads: a failure above is the mutation's
    loads_or_refuses(dumps(TERRA_DOC))
    load_world(TERRA)


# --- run-time arithmetic: random constant expressions never raise anything else -----------

LEAVES = st.sampled_from(["0", "1", "0.5", "-1", "8", "10", "1e308", "1e-308", "prev", "tick"])
UNARY = st.sampled_from(["-", "maths.log", "maths.sqrt", "maths.exp", "maths.tan", "maths.acos"])
BINARY = st.sampled_from(["+", "-", "*", "/", "**", "%"])


def expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, BINARY, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(UNARY, inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} > 0 else {t[2]})"),
        )

    return st.recursive(LEAVES, extend, max_leaves=12)


MINI = """\
[world]
name = "mini"
[topology]
kind = "cubed_sphere"
resolution = 1
[strata.fast]
stride = 1
[eras.only]
initial = true
terminal = true
dt = 1.0
strata = {{ fast = "active" }}
[signals."x.v"]
type = "scalar"
stratum = "fast"
initial = "1.0"
resolve = "{resolve}"
"""


@given(expressions())
def test_constant_arithmetic_gives_finite_values_or_one_resolve_error(expr):
    started = time.monotonic()
    with world_with(MINI.format(resolve=expr)) as world:
        try:
            sim = Simulation(compile_world(load_world(world)), 1)
            state = sim.run(sim.initial_state(), 3)
        except ContinuumError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(float(value) == float(value) for value in state.current.values())
            assert all(abs(float(value)) != float("inf") for value in state.current.values())
    assert time.monotonic() - started < SECONDS
