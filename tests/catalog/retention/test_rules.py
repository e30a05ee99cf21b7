"""Each retention rule alone and combined: exact kept sets, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from continuum.catalog import RetentionRules, parse_duration, parse_size
from continuum.catalog.retention.rules import (
    Item,
    KeepBuckets,
    KeepEveryTicks,
    KeepLast,
    KeepTicks,
    KeepWithin,
    MaxBytes,
    Newest,
    Pinned,
    plan_items,
)
from continuum.errors import InvalidFilterError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def items(ticks, *, hours_apart: float = 1.0, size: int = 10, pinned=()) -> list[Item]:
    """Items at ``ticks``; the highest tick is the newest, ``hours_apart`` between them."""
    top = max(ticks)
    return [
        Item(t, t, NOW - timedelta(hours=hours_apart * (top - t) / 100), size, t in pinned)
        for t in ticks
    ]


TICKS = list(range(0, 1000, 100))  # 0, 100, ... 900; created one hour apart, 900 = now


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (KeepLast(3), {700, 800, 900}),
        (KeepLast(20), set(TICKS)),
        (KeepEveryTicks(300), {0, 300, 600, 900}),
        (KeepEveryTicks(250), {0, 500}),
        (KeepWithin(timedelta(hours=2), NOW), {700, 800, 900}),
        (KeepWithin(timedelta(minutes=30), NOW), {900}),
        (MaxBytes(35), {700, 800, 900}),
        (MaxBytes(9), set()),
        (Pinned(), {200}),
        (KeepTicks(frozenset({100, 555})), {100}),
        (Newest(), {900}),
    ],
)
def test_each_rule_alone(rule, kept):
    assert rule.keeps(items(TICKS, pinned={200})) == kept


def test_hourly_daily_weekly_keep_the_newest_per_bucket():
    # ticks 0..4700, one every 6 hours; 4700 is Tue 2026-03-10 12:00, 0 is Thu 02-26 18:00
    its = items(list(range(0, 4800, 100)), hours_apart=6)
    # days: 03-10 holds 4500 (00:00) .. 4700 (12:00); 03-09 ends with 4400 (18:00)...
    assert KeepBuckets("daily", 3).keeps(its) == {4700, 4400, 4000}
    assert KeepBuckets("hourly", 2).keeps(its) == {4700, 4600}
    # ISO weeks: 03-09.., 03-02..03-08 (ends 4000), 02-23..03-01 (ends 1200); only 3 exist
    assert KeepBuckets("weekly", 5).keeps(its) == {4700, 4000, 1200}
    assert KeepBuckets("weekly", 1).keeps(its) == {4700}


def test_union_of_rules_with_protections_and_reasons():
    its = items(TICKS, pinned={100})
    rules = [KeepLast(2), KeepEveryTicks(400), Pinned(), KeepTicks(frozenset({300})), Newest()]
    plan = plan_items("r", its, rules, "run r")
    kept = {i.tick: reasons for i, reasons in plan.kept}
    assert kept == {
        0: ("keep-every-ticks",),
        100: ("pinned",),
        300: ("lineage",),
        400: ("keep-every-ticks",),
        800: ("keep-last", "keep-every-ticks"),
        900: ("keep-last", "newest"),
    }
    assert [i.tick for i in plan.delete] == [200, 500, 600, 700]
    assert plan.bytes_freed == 40


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        (RetentionRules(keep_last=1), {900}),
        (RetentionRules(keep_last=2, keep_every_ticks=500), {0, 500, 800, 900}),
        (RetentionRules(keep_within_s=3 * 3600, max_bytes=20), {600, 700, 800, 900}),
        (RetentionRules(keep_hourly=2, keep_every_ticks=1000), {0, 800, 900}),
    ],
)
def test_stored_rules_build_the_rules_they_name(rules, kept):
    plan = plan_items("r", items(TICKS), rules.checkpoint_rules(NOW))
    assert {i.tick for i, _ in plan.kept} == kept
    assert {i.tick for i in plan.delete} == set(TICKS) - kept


def test_no_policy_keeps_everything_even_with_protections():
    plan = plan_items("r", items(TICKS), [Pinned(), Newest()])
    assert plan.delete == () and {r for _, r in plan.kept} == {("no-policy",)}


def test_lens_rules():
    rules = RetentionRules(lens_keep_last=2, lens_max_bytes=10).lens_rules(NOW)
    plan = plan_items("r", items(TICKS), rules)
    assert {i.tick for i, _ in plan.kept} == {800, 900}


@pytest.mark.parametrize(
    ("text", "seconds"), [("90m", 5400), ("36h", 129600), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [("500M", 500 << 20), ("10G", 10 << 30), ("1024", 1024)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["7", "d", "-1d", "0h", "1.5d", "7 days"])
def test_bad_durations_are_one_line(bad):
    with pytest.raises(InvalidFilterError, match="expected a number") as info:
        parse_duration(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", ["10X", "G", "-5M", "0"])
def test_bad_sizes_are_one_line(bad):
    with pytest.raises(InvalidFilterError, match="expected a number"):
        parse_size(bad)


def test_rules_must_be_positive():
    with pytest.raises(InvalidFilterError, match="keep-last must be positive"):
        RetentionRules(keep_last=0)
