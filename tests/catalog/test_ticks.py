"""Tick ranges and typed params through the catalog API (issue 13), on SQLite and PostgreSQL.

The rules (``continuum.catalog.ticks``): a committed checkpoint advances the run and its
running segment; a crashed run ends where its committed checkpoints got it, per segment,
whatever its last heartbeat said; a run without checkpoints keeps its last heartbeat.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from continuum.catalog import Catalog, RunRecord, SearchQuery, parse_param_filter
from continuum.catalog.records import parse_label, parse_value
from continuum.errors import CatalogConflictError, InvalidFilterError


def start(cat: Catalog, ckpt: Path | None, **kw) -> RunRecord:
    """A run of another host (judged by its heartbeat, so a test can make it stale)."""
    return cat.runs.register(
        world="terra", ir_hash="ab" * 32, seed=1, checkpoint_dir=ckpt, host="elsewhere", pid=7, **kw
    )


def commit(cat: Catalog, run_id: str, *ticks: int, state: str = "committed") -> None:
    """What the recorder does per checkpoint: the row, then the range advances."""
    for t in ticks:
        cat.checkpoints.record(
            run_id, tick=t, sim_time=float(t), path=f"/x/checkpoint_{t:010d}.ckpt",
            bytes_on_disk=1, state=state,
        )  # fmt: skip
        if state == "committed":
            cat.runs.advance(run_id, t)


def crash(cat: Catalog, run_id: str) -> None:
    assert cat.liveness.mark_stale_crashed(older_than=timedelta(0)) == [run_id]


def shape(cat: Catalog, run_id: str) -> tuple[tuple[int, int], list[tuple[str, int, int | None]]]:
    d = cat.search.show(run_id)
    segs = [(s.status, s.start_tick, s.end_tick) for s in d.segments]
    return (d.run.first_tick, d.run.last_tick), segs


def test_commits_advance_a_running_run_and_its_segment(catalog, tmp_path):
    run = start(catalog, tmp_path)
    commit(catalog, run.run_id, 10, 20)
    commit(catalog, run.run_id, 30, state="pending")  # not yet on disk: no advance
    assert shape(catalog, run.run_id) == ((0, 20), [("running", 0, 20)])


def test_a_crashed_run_ends_at_its_newest_committed_checkpoint_not_its_heartbeat(catalog, tmp_path):
    run = start(catalog, tmp_path)
    commit(catalog, run.run_id, 10, 20)
    commit(catalog, run.run_id, 30, state="pending")
    catalog.runs.heartbeat(run.run_id, last_tick=37)  # reached, but nothing of it survives
    assert catalog.runs.get(run.run_id).last_tick == 37
    crash(catalog, run.run_id)
    assert shape(catalog, run.run_id) == ((0, 20), [("crashed", 0, 20)])


def test_each_segment_has_its_own_range_and_the_run_covers_them(catalog, tmp_path):
    rid = start(catalog, tmp_path).run_id
    commit(catalog, rid, 10, 20)
    crash(catalog, rid)
    catalog.runs.start_segment(rid, start_tick=20, resumed_from_tick=20, host="elsewhere", pid=8)
    commit(catalog, rid, 30, 40)
    catalog.runs.heartbeat(rid, last_tick=44)
    crash(catalog, rid)  # the second process dies too, after 40
    assert shape(catalog, rid) == ((0, 40), [("crashed", 0, 20), ("crashed", 20, 40)])
    catalog.runs.start_segment(rid, start_tick=40, resumed_from_tick=40, host="elsewhere", pid=9)
    catalog.runs.finish(rid, status="completed", last_tick=55)
    assert shape(catalog, rid) == (
        (0, 55),
        [("crashed", 0, 20), ("crashed", 20, 40), ("completed", 40, 55)],
    )


def test_a_segment_that_committed_nothing_ends_where_it_started(catalog, tmp_path):
    rid = start(catalog, tmp_path).run_id
    commit(catalog, rid, 10)
    crash(catalog, rid)
    catalog.runs.start_segment(rid, start_tick=10, resumed_from_tick=10, host="elsewhere", pid=8)
    catalog.runs.heartbeat(rid, last_tick=18)
    crash(catalog, rid)
    assert shape(catalog, rid) == ((0, 10), [("crashed", 0, 10), ("crashed", 10, 10)])


def test_pruned_checkpoints_still_count_missing_ones_do_not(catalog, tmp_path):
    rid = start(catalog, tmp_path).run_id
    commit(catalog, rid, 10, 20, 30)
    for t in (10, 20):  # retention took them; they were committed
        catalog.checkpoints.mark(rid, t, "deleting")
        catalog.checkpoints.mark(rid, t, "pruned")
    catalog.checkpoints.mark(rid, 30, "missing")  # proves nothing about tick 30
    crash(catalog, rid)
    # the segment reached 30 while running (committed then); the settle keeps that
    assert shape(catalog, rid) == ((0, 30), [("crashed", 0, 30)])
    # a later resume from 20 bounds the first segment at the checkpoint it resumed from
    catalog.runs.start_segment(rid, start_tick=20, resumed_from_tick=20, host="elsewhere", pid=8)
    crash(catalog, rid)
    assert shape(catalog, rid) == ((0, 30), [("crashed", 0, 30), ("crashed", 20, 20)])


def test_a_run_without_checkpoints_keeps_its_last_heartbeat(catalog):
    rid = start(catalog, None).run_id
    catalog.runs.heartbeat(rid, last_tick=37)
    crash(catalog, rid)
    assert shape(catalog, rid) == ((0, 37), [("crashed", 0, 37)])


def test_settle_ticks_leaves_running_and_finished_runs_alone(catalog, tmp_path):
    rid = start(catalog, tmp_path).run_id
    catalog.runs.heartbeat(rid, last_tick=37)
    assert catalog.runs.settle_ticks(rid).last_tick == 37  # running: its heartbeat stands
    catalog.runs.finish(rid, status="completed", last_tick=40)
    assert catalog.runs.settle_ticks(rid).last_tick == 40


TYPED = {"i": 4, "f": 2.5, "b": True, "no": False, "s": "fast", "z": "007", "big": -(2**62)}


def test_params_come_back_as_their_types_and_search_as_numbers(catalog):
    rid = start(catalog, None, params=TYPED).run_id
    got = catalog.runs.get(rid).params
    assert got == TYPED
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in TYPED.items()}

    def found(*filters: str) -> list[str]:
        q = SearchQuery(params=tuple(parse_param_filter(f) for f in filters))
        return [r.run_id for r in catalog.search.find(q).runs]

    assert found("i>3") == [rid] and found("i>4") == []
    assert found("f>=2.5", "f<3") == [rid] and found("f<2.5") == []
    assert found("b=true", "no=false") == [rid] and found("b=false") == []
    assert found("s=fast") == [rid] and found("s!=fast") == []


def test_a_resume_refuses_params_it_was_not_started_with(catalog, tmp_path):
    rid = start(catalog, tmp_path, params={"k": 4, "flag": True}).run_id
    crash(catalog, rid)
    for given, said in (
        ({"k": 5}, "started with k=4, not k=5"),
        ({"k": "4"}, "started with k=4, not k='4'"),  # the text "4" is not the number 4
        ({"flag": 1}, "started with flag=true, not flag=1"),
        ({"j": 1}, "started without parameter 'j'"),
    ):
        with pytest.raises(CatalogConflictError, match=said):
            catalog.runs.start_segment(rid, start_tick=0, params=given)
        with pytest.raises(CatalogConflictError, match=said):
            catalog.runs.check_params(rid, given)
    assert [s.status for s in catalog.search.show(rid).segments] == ["crashed"]  # none opened
    seg = catalog.runs.start_segment(rid, start_tick=0, params={"k": 4.0}, tags={"t": "x"})
    assert seg.ordinal == 2  # the same number is the same parameter
    run = catalog.runs.get(rid)
    assert run.params == {"k": 4, "flag": True} and run.tags == {"t": "x"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4", 4),
        ("-12", -12),
        ("2.5", 2.5),
        ("1e-3", 1e-3),
        (".5", 0.5),
        ("true", True),
        ("FALSE", False),
        ("fast", "fast"),
        ("nan", "nan"),  # not a finite number: text
        ("inf", "inf"),
        ("0x10", "0x10"),
        ("1_000", "1_000"),
        ("9" * 30, "9" * 30),  # past 64 bits: text
        ("1e999", "1e999"),
    ],
)
def test_parse_value_types_by_text(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("k", "expected KEY=VALUE"),
        ("=4", "the key must start with a letter"),
        ("a b=1", "the key must start with a letter"),
        ("k>3=1", "the key must start with a letter"),
        ("k=", "give a value after '='"),
        ("k=a\x1bb", "printable text"),
        ("k=" + "x" * 1001, "at most 1000"),
    ],
)
def test_parse_label_refuses_in_one_line(text, said):
    with pytest.raises(InvalidFilterError, match=said) as exc:
        parse_label(text, "--param")
    assert "\n" not in str(exc.value)
