"""Retention rules and the planner: which blobs of a run to keep, and why.

Each rule is a small class with ``keeps(items) -> set`` of item keys (after
Orbax's ``LatestN``/``EveryNSteps``); a plan keeps the *union* of what its
rules keep, so adding a rule can only keep more. Protections are rules too
(``pinned``, ``lineage``, ``latest``, ``newest``), always added by the planner whatever the
policy says, so the dry run can name the reason each item is kept.

Everything here is pure: items in, plan out; no database, no files. Decisions:

- Order is by tick (the simulation's clock), not by creation time: a resumed
  run rewrites nothing, and "newest" means the furthest state.
- Buckets (hourly/daily/weekly) are by ``created_at`` in UTC; the newest item
  of each bucket is kept, for the N most recent buckets that hold an item
  (restic's ``--keep-daily``). Weeks are ISO weeks.
- The byte budget keeps the newest items while their running total fits, and
  stops at the first that does not (no gaps: an old item never displaces a
  newer one). Items kept for other reasons are not charged to the budget.
- No policy means keep everything: prune never deletes without being told to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol


class Item(NamedTuple):
    """What a rule sees of one blob: its key, position, age, size and pin."""

    key: Any  # the checkpoint's tick, or the lens chunk's id
    tick: int
    created_at: datetime | None  # None when no rule of the policy reads it
    size: int
    pinned: bool = False
    path: str = ""  # as stored in the row; what the executor unlinks


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def keeps(self, items: Sequence[Item]) -> set[Any]: ...


def _by_tick(items: Sequence[Item]) -> list[Item]:
    return sorted(items, key=lambda i: i.tick, reverse=True)


@dataclass(frozen=True)
class KeepLast:
    """The ``n`` items with the highest ticks."""

    n: int
    name: str = "keep-last"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        return {i.key for i in _by_tick(items)[: self.n]}


@dataclass(frozen=True)
class KeepEveryTicks:
    """Items whose tick is a multiple of ``n`` (e.g. every 100,000th tick, forever)."""

    n: int
    name: str = "keep-every-ticks"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        return {i.key for i in items if i.tick % self.n == 0}


@dataclass(frozen=True)
class KeepWithin:
    """Items created within ``within`` of ``now`` (wall clock)."""

    within: timedelta
    now: datetime
    name: str = "keep-within"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        since = self.now - self.within
        return {i.key for i in items if i.created_at is not None and i.created_at >= since}


_BUCKETS = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar())[:2],
}


@dataclass(frozen=True)
class KeepBuckets:
    """The newest item of each of the ``n`` most recent hour/day/week buckets."""

    period: str  # hourly | daily | weekly
    n: int

    @property
    def name(self) -> str:
        return f"keep-{self.period}"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        bucket_of = _BUCKETS[self.period]
        newest: dict[tuple[int, ...], Item] = {}
        for item in items:
            b = bucket_of(item.created_at)
            if b not in newest or item.tick > newest[b].tick:
                newest[b] = item
        return {newest[b].key for b in sorted(newest, reverse=True)[: self.n]}


@dataclass(frozen=True)
class MaxBytes:
    """The newest items whose sizes add up to at most ``budget`` bytes."""

    budget: int
    name: str = "max-bytes"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        kept, total = set(), 0
        for item in _by_tick(items):
            total += item.size
            if total > self.budget:
                break
            kept.add(item.key)
        return kept


@dataclass(frozen=True)
class Pinned:
    """Protection: pinned items."""

    name: str = "pinned"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        return {i.key for i in items if i.pinned}


@dataclass(frozen=True)
class KeepTicks:
    """Protection: items at given ticks, e.g. ``lineage`` (another run branched from it,
    a segment resumed from it) or ``latest`` (where the run's ``latest`` link points)."""

    ticks: frozenset[int]
    name: str = "lineage"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        return {i.key for i in items if i.tick in self.ticks}


@dataclass(frozen=True)
class Newest:
    """Protection: the newest committed item, what a resume would start from."""

    name: str = "newest"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        return KeepLast(1).keeps(items)


@dataclass(frozen=True)
class Plan:
    """One run's plan: kept items with the rules that keep them, and what goes."""

    run_id: str
    kept: tuple[tuple[Item, tuple[str, ...]], ...]
    delete: tuple[Item, ...]
    policy: str | None = None  # where the policy came from, e.g. "run", "world terra"
    run_dir: str | None = None  # the directory the items' paths are relative to

    @property
    def bytes_freed(self) -> int:
        return sum(i.size for i in self.delete)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "policy": self.policy,
            "kept": [{"tick": i.tick, "rules": list(r)} for i, r in self.kept],
            "delete": [{"tick": i.tick, "bytes": i.size} for i in self.delete],
            "bytes_freed": self.bytes_freed,
        }


def plan_items(
    run_id: str,
    items: Sequence[Item],
    rules: Iterable[Rule],
    policy: str | None = None,
    run_dir: str | None = None,
) -> Plan:
    """Keep the union of what ``rules`` keep; delete the rest. No policy rule: keep all."""
    rules = list(rules)
    ordered = sorted(items, key=lambda i: i.tick)
    if all(r.name in PROTECTIONS for r in rules):
        return Plan(run_id, tuple((i, ("no-policy",)) for i in ordered), (), policy, run_dir)
    reasons: dict[Any, list[str]] = {}
    for rule in rules:
        for key in rule.keeps(items):
            reasons.setdefault(key, []).append(rule.name)
    kept = tuple((i, tuple(reasons[i.key])) for i in ordered if i.key in reasons)
    delete = tuple(i for i in ordered if i.key not in reasons)
    return Plan(run_id, kept, delete, policy, run_dir)


PROTECTIONS = frozenset({"pinned", "lineage", "latest", "newest"})
