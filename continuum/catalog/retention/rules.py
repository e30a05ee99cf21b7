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
    start: int | None = None  # a lens chunk's first tick (``tick`` is its end)
    window: tuple[int, int] | None = None  # a lens chunk's window [kC, (k+1)C), once planned


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

    @property
    def by_window(self) -> bool:
        """A lens plan: its items were planned by chunk window (:func:`plan_windows`)."""
        return any(i.window is not None for i in self.delete) or any(
            i.window is not None for i, _ in self.kept
        )

    def kept_windows(self) -> list[tuple[tuple[int, int], list[Item], tuple[str, ...]]]:
        """A lens plan's kept windows: (window, its files, the rules keeping it), by tick."""
        return _windows((i, r) for i, r in self.kept)

    def deleted_windows(self) -> list[tuple[tuple[int, int], list[Item], tuple[str, ...]]]:
        """A lens plan's deleted windows: (window, its files, ()), by tick."""
        return _windows((i, ()) for i in self.delete)

    def to_dict(self) -> dict[str, Any]:
        if self.by_window:  # lens chunks: one entry per window, with its tick range
            kept = [
                {"ticks": list(w), "files": len(f), "rules": list(r)}
                for w, f, r in self.kept_windows()
            ]
            delete = [
                {"ticks": list(w), "files": len(f), "bytes": sum(i.size for i in f)}
                for w, f, _ in self.deleted_windows()
            ]
        else:
            kept = [{"tick": i.tick, "rules": list(r)} for i, r in self.kept]
            delete = [{"tick": i.tick, "bytes": i.size} for i in self.delete]
        return {
            "run_id": self.run_id,
            "policy": self.policy,
            "kept": kept,
            "delete": delete,
            "bytes_freed": self.bytes_freed,
        }


def _windows(
    pairs: Iterable[tuple[Item, tuple[str, ...]]],
) -> list[tuple[tuple[int, int], list[Item], tuple[str, ...]]]:
    out: dict[tuple[int, int], tuple[list[Item], tuple[str, ...]]] = {}
    for item, reasons in pairs:
        window = item.window or (item.start if item.start is not None else item.tick, item.tick)
        out.setdefault(window, ([], reasons))[0].append(item)
    return [(w, files, reasons) for w, (files, reasons) in sorted(out.items())]


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


def window_of(item: Item, chunk_size: int | None) -> tuple[int, int]:
    """The chunk window ``[kC, (k+1)C)`` holding a lens chunk file (its start tick's).

    Without a known chunk size (no readable lens manifest) each file is its own window.
    """
    start = item.start if item.start is not None else item.tick
    if chunk_size is None:
        return start, item.tick
    lo = start - start % chunk_size
    return lo, lo + chunk_size


@dataclass(frozen=True)
class KeepKeys:
    """Protection: items with given keys, e.g. ``exporting`` (lens chunk windows a live
    run's exporter has not exported yet)."""

    keys: frozenset[Any]
    name: str = "exporting"

    def keeps(self, items: Sequence[Item]) -> set[Any]:
        return {i.key for i in items if i.key in self.keys}


def plan_windows(
    run_id: str,
    items: Sequence[Item],
    rules: Iterable[Rule],
    chunk_size: int | None,
    policy: str | None = None,
    run_dir: str | None = None,
    exporting: frozenset[Any] = frozenset(),
) -> Plan:
    """Lens chunks planned by window: ``lens-keep-last 3`` keeps the newest three windows.

    Several files in one window (pieces: a segment ended inside it, or an older writer
    split it) are one window to the rules: its size is theirs summed, its age its newest
    file's, and it is kept or deleted whole. The plan lists the files, each with its window.
    A window holding a file whose key is in ``exporting`` is kept (``exporting``).
    """
    files: dict[tuple[int, int], list[Item]] = {}
    for item in items:
        files.setdefault(window_of(item, chunk_size), []).append(item)
    windows = []
    for (lo, hi), mine in files.items():
        created = max((i.created_at for i in mine if i.created_at is not None), default=None)
        windows.append(Item((lo, hi), hi, created, sum(i.size for i in mine), False, "", lo))
    busy = frozenset(w for w, mine in files.items() if any(i.key in exporting for i in mine))
    rules = [*rules, KeepKeys(busy)] if busy else list(rules)
    plan = plan_items(run_id, windows, rules, policy, run_dir)

    def pieces(w: Item) -> list[Item]:
        return [i._replace(window=w.key) for i in sorted(files[w.key], key=lambda i: i.tick)]

    kept = tuple((p, reasons) for w, reasons in plan.kept for p in pieces(w))
    delete = tuple(p for w in plan.delete for p in pieces(w))
    return Plan(run_id, kept, delete, policy, run_dir)


PROTECTIONS = frozenset({"pinned", "lineage", "latest", "newest", "exporting"})
