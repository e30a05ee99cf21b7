"""One field-source interface: a FieldLens and a LensStore over the same frames answer alike.

Every question is asked of three sources holding the same frames: the frames observed
straight from the runtime (a FieldLens), the run's lens dir on disk (a LensStore) and
that dir loaded into memory (``LensStore.load``). Answers must be equal bit for bit and of
the same types, so code written against :class:`FieldSource` cannot tell them apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from continuum.errors import LensError
from continuum.lens import (
    FieldHistory,
    FieldLens,
    FieldSource,
    LensStore,
    PointValue,
    PointValues,
    Reconstruction,
)
from continuum.lens.source import span_meets, tick_mask

from .helpers import STEPS, STRIDE

FIELDS = ("atmosphere.temperature", "plates.velocity", "surface.elevation")
POSITION = [0.3, -0.2, 0.9]
#: Captured (9, 21), between frames in one chunk (4.5), across chunks (19, 29.25).
TICKS = (0, 4.5, 9, 19, 21, 29.25, 39)


@pytest.fixture(scope="module")
def store(lens_run):
    with LensStore(lens_run) as opened:
        yield opened


@pytest.fixture(scope="module")
def loaded(store) -> FieldLens:
    return store.load()


@pytest.fixture(params=["store", "loaded"])
def source(request, store, loaded) -> FieldSource:
    """Each source under test; ``expected`` (the runtime's frames) is the reference."""
    return {"store": store, "loaded": loaded}[request.param]


def same_point(got: PointValue, want: PointValue) -> None:
    assert type(got) is type(want) is PointValue
    assert type(got.value) is type(want.value)
    assert np.asarray(got.value).tobytes() == np.asarray(want.value).tobytes()
    assert (got.rule, got.ticks, got.weight) == (want.rule, want.ticks, want.weight)
    assert all(type(k) is int for k in got.ticks + want.ticks)
    assert type(got.weight) is type(want.weight) is float


def test_both_are_field_sources(source, expected):
    assert isinstance(source, FieldSource) and isinstance(expected, FieldSource)
    assert source.fields == expected.fields == list(FIELDS)
    assert source.topology.spec() == expected.topology.spec()
    for name in FIELDS:
        assert source.config(name) == expected.config(name)
        for column in ("field_ticks", "field_times"):
            got, want = getattr(source, column)(name), getattr(expected, column)(name)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (name, column)
    np.testing.assert_array_equal(expected.field_ticks(FIELDS[0]), np.arange(0, STEPS, STRIDE))


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("tick", TICKS)
def test_query_by_tick_is_the_same_answer(source, expected, name, tick):
    same_point(source.query(name, POSITION, tick=tick), expected.query(name, POSITION, tick=tick))


@pytest.mark.parametrize("name", FIELDS)
def test_query_by_time_and_rule_is_the_same_answer(source, expected, name):
    rule = None if name == "plates.velocity" else "nearest"
    for tick in TICKS:
        time = float(expected.at(name, 21).sim_time) * tick / 21
        got = source.query(name, [1, 0.2, -0.4], time, rule=rule)
        same_point(got, expected.query(name, [1, 0.2, -0.4], time, rule=rule))


@pytest.mark.parametrize("name", FIELDS)
def test_query_batch_is_the_same_answer(source, expected, name):
    points = np.random.default_rng(3).normal(size=(200, 3))
    for tick in (9, 19, 29.25):
        got = source.query_batch(name, points, tick=tick)
        want = expected.query_batch(name, points, tick=tick)
        assert type(got) is type(want) is PointValues
        assert got.values.dtype == want.values.dtype
        assert got.values.tobytes() == want.values.tobytes()
        assert (got.rule, got.ticks, got.weight) == (want.rule, want.ticks, want.weight)
        single = source.query(name, points[7], tick=tick).value
        assert np.asarray(single).tobytes() == got.values[7].tobytes()  # a batch of one


@pytest.mark.parametrize("name", FIELDS)
def test_history_is_the_same_answer(source, expected, name):
    for start, stop in ((None, None), (4, 33), (9, 9), (0, 2)):
        got = source.history(name, POSITION, start=start, stop=stop)
        want = expected.history(name, POSITION, start=start, stop=stop)
        assert type(got) is type(want) is FieldHistory
        assert (got.field, got.rule) == (want.field, want.rule)
        for column in ("ticks", "sim_times", "values"):
            a, b = getattr(got, column), getattr(want, column)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (name, start, column)


@pytest.mark.parametrize("name", FIELDS)
def test_at_is_the_same_frame(source, expected, name):
    got, want = source.at(name, 27), expected.at(name, 27)
    assert type(got) is type(want) is Reconstruction
    assert (got.tick, got.sim_time, got.config, got.rule) == (
        want.tick,
        want.sim_time,
        want.config,
        want.rule,
    )
    assert got.values.tobytes() == want.values.tobytes()
    assert got.positions.tobytes() == want.positions.tobytes()


def test_both_refuse_the_same_questions(source, expected):
    for ask in (
        lambda s: s.query("surface.elevation", POSITION, tick=STEPS + 1),
        lambda s: s.query("surface.elevation", POSITION, time=-1.0),
        lambda s: s.query("surface.elevation", POSITION),
        lambda s: s.query("surface.elevation", POSITION, 1.0, tick=1),
        lambda s: s.query_batch("nope", [POSITION], tick=3),
        lambda s: s.at("surface.elevation", 4),
        lambda s: s.history("surface.elevation", POSITION, start=40),
        lambda s: s.query("plates.velocity", POSITION, tick=3, rule="containing"),
    ):
        for s in (source, expected):
            with pytest.raises(LensError):
                ask(s)


def test_tick_windows_are_inclusive_and_open_ended():
    ticks = np.array([0, 3, 6, 9])
    assert tick_mask(ticks, None, None).tolist() == [True] * 4
    assert tick_mask(ticks, 3, 6).tolist() == [False, True, True, False]
    assert tick_mask(ticks, 0, 0).tolist() == [True, False, False, False]
    assert span_meets(10, 20, 19, None) and not span_meets(10, 20, 20, None)
    assert span_meets(10, 20, None, 10) and not span_meets(10, 20, None, 9)
