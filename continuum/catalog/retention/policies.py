"""Retention policies: stored per run, per world or globally; the most specific wins.

A policy is a whole: a run's own policy replaces its world's, which replaces
the global one (no field-by-field merging, so ``policy show`` is what
applies). :meth:`Policies.set` replaces a scope's rules unless ``merge=True``
(``continuum run --keep-checkpoints`` merges keep-last into the run's policy).
Durations are parsed here at the boundary (``90m``, ``36h``, ``7d``, ``2w``),
sizes too (``500M``, ``10G``, powers of 1024), and stored as seconds and bytes.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from continuum.catalog.db import Database, new_id, require_run, utcnow
from continuum.catalog.db.models import retention_policies
from continuum.catalog.records import _jsonable, _Record
from continuum.catalog.retention.rules import (
    KeepBuckets,
    KeepEveryTicks,
    KeepLast,
    KeepWithin,
    MaxBytes,
    Rule,
)
from continuum.errors import InvalidFilterError

SCOPES = ("run", "world", "global")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNITS_B = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(text: str) -> int:
    """``90m``/``36h``/``7d``/``2w`` -> seconds; anything else is a one-line error."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if not m or int(m[1]) <= 0:
        raise InvalidFilterError(f"duration {text!r}: expected a number and s/m/h/d/w, e.g. 7d")
    return int(m[1]) * _UNITS_S[m[2]]


def parse_size(text: str) -> int:
    """``500M``/``10G``/``2T`` (powers of 1024) or plain bytes -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not m or float(m[1]) <= 0:
        raise InvalidFilterError(f"size {text!r}: expected a number and K/M/G/T, e.g. 10G")
    return int(float(m[1]) * _UNITS_B[m[2]])


@dataclass(frozen=True, slots=True)
class RetentionRules(_Record):
    """A policy's rule parameters; ``None`` turns a rule off."""

    keep_last: int | None = None
    keep_every_ticks: int | None = None
    keep_within_s: int | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    max_bytes: int | None = None
    lens_keep_last: int | None = None
    lens_keep_within_s: int | None = None
    lens_max_bytes: int | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and value <= 0:
                raise InvalidFilterError(f"{name.replace('_', '-')} must be positive, got {value}")

    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())

    def merged(self, other: RetentionRules) -> RetentionRules:
        """These rules with every rule ``other`` sets taken from ``other``."""
        return replace(self, **{k: v for k, v in asdict(other).items() if v is not None})

    def checkpoint_rules(self, now: datetime) -> list[Rule]:
        """The checkpoint rule objects this policy turns on."""
        out: list[Rule] = []
        if self.keep_last:
            out.append(KeepLast(self.keep_last))
        if self.keep_every_ticks:
            out.append(KeepEveryTicks(self.keep_every_ticks))
        if self.keep_within_s:
            out.append(KeepWithin(timedelta(seconds=self.keep_within_s), now))
        for period in ("hourly", "daily", "weekly"):
            if n := getattr(self, f"keep_{period}"):
                out.append(KeepBuckets(period, n))
        if self.max_bytes:
            out.append(MaxBytes(self.max_bytes))
        return out

    def lens_rules(self, now: datetime) -> list[Rule]:
        """The lens chunk rule objects this policy turns on."""
        out: list[Rule] = []
        if self.lens_keep_last:
            out.append(KeepLast(self.lens_keep_last))
        if self.lens_keep_within_s:
            out.append(KeepWithin(timedelta(seconds=self.lens_keep_within_s), now))
        if self.lens_max_bytes:
            out.append(MaxBytes(self.lens_max_bytes))
        return out


RULE_COLUMNS = tuple(f.name for f in fields(RetentionRules))


@dataclass(frozen=True, slots=True)
class RetentionPolicy(_Record):
    """A stored policy: where it attaches and its rules."""

    scope: str
    scope_key: str
    rules: RetentionRules
    created_at: datetime
    updated_at: datetime

    @property
    def label(self) -> str:
        """``run ID``, ``world NAME`` or ``global``."""
        return self.scope if self.scope == "global" else f"{self.scope} {self.scope_key}"

    def to_dict(self) -> dict[str, Any]:
        out = {"scope": self.scope, "scope_key": self.scope_key, **asdict(self.rules)}
        return _jsonable({**out, "created_at": self.created_at, "updated_at": self.updated_at})


def _policy(row: Any) -> RetentionPolicy:
    m = row._mapping
    rules = RetentionRules(**{k: m[k] for k in RULE_COLUMNS})
    return RetentionPolicy(m["scope"], m["scope_key"], rules, m["created_at"], m["updated_at"])


def check_scope(scope: str, key: str | None) -> str:
    """The stored key of a scope ("" for global); refuses unknown scopes and missing keys."""
    if scope not in SCOPES:
        raise InvalidFilterError(f"scope {scope!r}: expected one of {', '.join(SCOPES)}")
    if scope == "global":
        return ""
    if not key:
        raise InvalidFilterError(f"a {scope} policy needs a {scope} to attach to")
    return key


def load_policies(conn: Connection) -> dict[tuple[str, str], RetentionPolicy]:
    """Every stored policy by (scope, key): few rows, read once per prune."""
    return {
        (p.scope, p.scope_key): p for p in map(_policy, conn.execute(select(retention_policies)))
    }


def resolve(
    policies: dict[tuple[str, str], RetentionPolicy], run_id: str, world: str
) -> RetentionPolicy | None:
    """The policy that applies to a run: its own, else its world's, else the global one."""
    for key in (("run", run_id), ("world", world), ("global", "")):
        if key in policies:
            return policies[key]
    return None


class Policies:
    """Setting, showing and clearing retention policies."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(
        self, scope: str, key: str | None, rules: RetentionRules, *, merge: bool = False
    ) -> RetentionPolicy:
        """Attach ``rules`` to a run, a world or globally (replacing, or merging into, any)."""
        skey = check_scope(scope, key)
        if rules.is_empty():
            raise InvalidFilterError("a policy needs at least one rule, e.g. --keep-last 10")

        def op(conn: Connection) -> RetentionPolicy:
            if scope == "run":
                require_run(conn, skey)
            old = _get(conn, scope, skey)
            new = old.rules.merged(rules) if merge and old else rules
            now = utcnow()
            values = {**asdict(new), "updated_at": now}
            stmt = self._db.insert(retention_policies).values(
                id=new_id(), scope=scope, scope_key=skey, created_at=now, **values
            )
            stmt = stmt.on_conflict_do_update(index_elements=["scope", "scope_key"], set_=values)
            conn.execute(stmt)
            return _get(conn, scope, skey)  # type: ignore[return-value]

        return self._db.write(op)

    def get(self, scope: str, key: str | None = None) -> RetentionPolicy | None:
        """The policy stored at exactly this scope, or None."""
        skey = check_scope(scope, key)
        return self._db.read(lambda conn: _get(conn, scope, skey))

    def clear(self, scope: str, key: str | None = None) -> bool:
        """Remove the policy at this scope; False if there was none."""
        skey = check_scope(scope, key)
        mine = (retention_policies.c.scope == scope, retention_policies.c.scope_key == skey)
        return self._db.write(
            lambda conn: conn.execute(delete(retention_policies).where(*mine)).rowcount > 0
        )

    def list(self) -> builtins.list[RetentionPolicy]:
        """Every stored policy: global, then worlds, then runs."""
        order = {s: i for i, s in enumerate(reversed(SCOPES))}
        found = self._db.read(lambda conn: list(load_policies(conn).values()))
        return sorted(found, key=lambda p: (order[p.scope], p.scope_key))

    def effective(self, run_id: str) -> RetentionPolicy | None:
        """The policy that applies to ``run_id`` (most specific wins), or None."""

        def op(conn: Connection) -> RetentionPolicy | None:
            run = require_run(conn, run_id)
            return resolve(load_policies(conn), run_id, run.world)

        return self._db.read(op)


def _get(conn: Connection, scope: str, key: str) -> RetentionPolicy | None:
    row = conn.execute(
        select(retention_policies).where(
            retention_policies.c.scope == scope, retention_policies.c.scope_key == key
        )
    ).first()
    return None if row is None else _policy(row)
