"""Search and listing contract: every filter, combined, numeric params, keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from continuum.catalog import SearchQuery, parse_param_filter
from continuum.errors import InvalidFilterError

T0 = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
IR_A, IR_B = "aa11" + "0" * 60, "bb22" + "0" * 60


def q(**kw):
    kw["params"] = tuple(parse_param_filter(p) for p in kw.get("params", ()))
    kw["tags"] = tuple(kw.get("tags", ()))
    return SearchQuery(**kw)


def ids(page):
    return [r.run_id for r in page.runs]


@pytest.fixture(scope="module")
def runs(shared_catalog):
    """Six runs with known attributes; r5 is the newest. Tests using it only read."""
    catalog = shared_catalog
    spec = [
        ("r0", "terra", IR_A, 1, "tiny", {"k": 9, "mode": "fast"}, {"owner": "ana"}, (0, 1000)),
        ("r1", "terra", IR_A, 2, "tiny", {"k": 10, "mode": "slow"}, {"owner": "bo"}, (0, 2000)),
        ("r2", "terra", IR_B, 1, "large", {"k": 100}, {"owner": "ana"}, (1000, 3000)),
        ("r3", "mars", IR_B, 3, None, {"k": "10.0", "dt": 1e-3}, {}, (0, 500)),
        ("r4", "terra", IR_A, 1, "tiny", {"dt": 0.5}, {"owner": "ana"}, (0, 5000)),
        ("r5", "terra", IR_A, 1, "tiny", {"k": "abc"}, {"owner": "ana"}, (2000, 2500)),
    ]
    for i, (rid, world, ir, seed, scenario, params, tags, (first, last)) in enumerate(spec):
        catalog.runs.register(
            run_id=rid,
            world=world,
            ir_hash=ir,
            seed=seed,
            scenario=scenario,
            params=params,
            tags=tags,
            first_tick=first,
            started_at=T0 + timedelta(minutes=i),
        )
        catalog.runs.heartbeat(rid, last_tick=last)
    for rid, tick, state in [
        ("r0", 1000, "committed"),
        ("r2", 3000, "pending"),
        ("r4", 4000, "committed"),
    ]:
        catalog.checkpoints.record(rid, tick=tick, sim_time=0.0, path="c", bytes_on_disk=1)
        if state == "committed":
            catalog.checkpoints.mark(rid, tick, state)
    catalog.runs.finish("r1", status="failed", last_tick=2000)
    return catalog


def test_list_is_newest_first(runs):
    assert ids(runs.search.list()) == ["r5", "r4", "r3", "r2", "r1", "r0"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"world": "mars"}, ["r3"]),
        ({"ir_hash": "bb2"}, ["r3", "r2"]),
        ({"ir_hash": "AA11"}, ["r5", "r4", "r1", "r0"]),
        ({"seed": 1}, ["r5", "r4", "r2", "r0"]),
        ({"scenario": "large"}, ["r2"]),
        ({"status": "failed"}, ["r1"]),
        ({"tags": [("owner", "bo")]}, ["r1"]),
        ({"params": ["k>9.5"]}, ["r3", "r2", "r1"]),
        ({"params": ["k=10"]}, ["r3", "r1"]),
        ({"params": ["k!=10"]}, ["r2", "r0"]),
        ({"params": ["mode=fast"]}, ["r0"]),
        ({"params": ["k=abc"]}, ["r5"]),
        ({"params": ["dt<=1e-3"]}, ["r3"]),
        ({"tick_covers": 2500}, ["r5", "r4", "r2"]),
        ({"has_checkpoint_after": 1000}, ["r4", "r0"]),
        ({"has_checkpoint_after": 3000}, ["r4"]),
        ({"started_after": T0 + timedelta(minutes=4)}, ["r5", "r4"]),
        ({"started_before": T0 + timedelta(minutes=1)}, ["r0"]),
    ],
)
def test_each_filter(runs, filters, expected):
    assert ids(runs.search.find(q(**filters))) == expected


def test_filters_combine(runs):
    query = q(
        world="terra",
        ir_hash="aa",
        seed=1,
        tags=[("owner", "ana")],
        tick_covers=800,
        has_checkpoint_after=900,
        started_after=T0,
        params=["k>=9", "mode=fast"],
    )
    assert ids(runs.search.find(query)) == ["r0"]
    assert ids(runs.search.find(q(world="terra", status="running", params=["dt>0.1"]))) == ["r4"]


def test_pages_return_every_run_exactly_once(catalog):
    expected = []
    for i in range(23):  # groups of three share a start time: run_id breaks the tie
        at = T0 + timedelta(seconds=i // 3)
        rid = f"p{i:02d}"
        catalog.runs.register(run_id=rid, world="w", ir_hash="ab", seed=i, started_at=at)
        expected.append((at, rid))
    expected = [rid for _, rid in sorted(expected, reverse=True)]
    seen, after, pages = [], None, 0
    while True:
        page = catalog.search.list(limit=5, after=after)
        seen += ids(page)
        pages += 1
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == expected and pages == 5
    odd = catalog.search.find(q(seed=7), limit=1)
    assert ids(odd) == ["p07"] and odd.next_cursor is None


def test_search_pages_too(runs):
    first = runs.search.find(q(world="terra"), limit=2)
    second = runs.search.find(q(world="terra"), limit=2, after=first.next_cursor)
    third = runs.search.find(q(world="terra"), limit=2, after=second.next_cursor)
    assert ids(first) + ids(second) + ids(third) == ["r5", "r4", "r2", "r1", "r0"]
    assert third.next_cursor is None


@pytest.mark.parametrize("text", ["k", "k>", ">3", "k>>3", "k>abc", "k<=fast", "=", ""])
def test_malformed_param_filters(text):
    with pytest.raises(InvalidFilterError):
        parse_param_filter(text)


def test_param_filter_parsing():
    assert parse_param_filter("thermal.k <= 1e-3") == parse_param_filter("thermal.k<=0.001")
    assert parse_param_filter("k==3").op == "="
    assert parse_param_filter("name=a b").value == "a b"


def test_bad_cursor_limit_and_status_are_refused(catalog):
    with pytest.raises(InvalidFilterError, match="cursor"):
        catalog.search.list(after="not-a-cursor")
    with pytest.raises(InvalidFilterError, match="limit"):
        catalog.search.list(limit=0)
    with pytest.raises(InvalidFilterError, match="unknown status"):
        catalog.search.find(SearchQuery(status="done"))


def _all_pages(catalog, sort, limit=2, query=None):
    seen, after = [], None
    while True:
        page = catalog.search.find(query or SearchQuery(), limit=limit, after=after, sort=sort)
        seen += page.runs
        if page.next_cursor is None:
            return seen
        after = page.next_cursor


@pytest.mark.parametrize(
    "sort", ["-started_at", "started_at", "-last_tick", "last_tick", "run_id", "-run_id"]
)
def test_every_sort_pages_through_every_run_once_in_order(runs, sort):
    got = _all_pages(runs, sort)
    key = sort.lstrip("-")
    expected = sorted(got, key=lambda r: (getattr(r, key), r.run_id), reverse=sort[0] == "-")
    assert [r.run_id for r in got] == [r.run_id for r in expected]
    assert sorted(r.run_id for r in got) == [f"r{i}" for i in range(6)]


def test_sort_ties_break_on_run_id(catalog):
    for rid in ("t1", "t2", "t3"):
        catalog.runs.register(run_id=rid, world="terra", ir_hash="ab", seed=1, started_at=T0)
        catalog.runs.finish(rid, status="completed", last_tick=7)
    for sort, order in (("last_tick", ["t1", "t2", "t3"]), ("-last_tick", ["t3", "t2", "t1"])):
        assert [r.run_id for r in _all_pages(catalog, sort, limit=1)] == order


def test_a_cursor_of_another_order_or_an_unknown_sort_is_refused(runs):
    cursor = runs.search.find(SearchQuery(), limit=1, sort="last_tick").next_cursor
    with pytest.raises(InvalidFilterError, match="start again"):
        runs.search.find(SearchQuery(), limit=1, after=cursor, sort="-last_tick")
    with pytest.raises(InvalidFilterError, match="cursor"):
        runs.search.find(SearchQuery(), limit=1, after=cursor)  # the default order
    with pytest.raises(InvalidFilterError, match="unknown sort"):
        runs.search.find(SearchQuery(), sort="seed")


def test_count_matches_the_filters(runs):
    assert runs.search.count(SearchQuery()) == 6
    assert runs.search.count(q(world="terra", tags=[("owner", "ana")])) == 4


def test_revision_0010_adds_and_removes_the_last_tick_index(catalog_url):
    from sqlalchemy import inspect

    from continuum.catalog import Catalog
    from continuum.catalog.db import create_catalog_engine, schema

    def indexes(engine) -> set[str]:
        with engine.connect() as conn:
            return {i["name"] for i in inspect(conn).get_indexes("runs")}

    with Catalog(catalog_url):
        pass
    engine = create_catalog_engine(catalog_url)
    try:
        assert "ix_runs_last_tick_run_id" in indexes(engine)
        assert schema.downgrade(engine, "test", "0009") == (schema.HEAD, "0009")
        assert "ix_runs_last_tick_run_id" not in indexes(engine)
        assert schema.upgrade(engine, "test") == ("0009", "0010")
        assert "ix_runs_last_tick_run_id" in indexes(engine)
    finally:
        engine.dispose()
