"""Canonical bytes and 32-byte digests of IR objects (the IR and scenario hashes).

Canonical form: dataclasses become JSON objects of their compared fields,
expressions contribute only their parsed tree (so whitespace, comments and
quoting in the TOML do not matter), floats are written by exact ``repr`` and
tagged apart from ints and strings, keys are sorted. A field marked
``HASHED_IF_SET`` (added after the first version, e.g. ``allow_nonfinite``) is left
out while it holds its default, so adding it changed no existing world's hash; one marked
``NOT_HASHED`` (``units``, ``time_units``: labels that change no value) is always left out,
so declaring or correcting a unit keeps the hash and a run's checkpoints resumable. The digest is
blake2b-256, shown as 64 hex characters everywhere a user sees it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from continuum.world.expr import Expr
from continuum.world.ir import HASHED_IF_SET, NOT_HASHED

_DOMAIN = b"continuum-ir-v1\n"


def canonical(value: Any) -> Any:
    """A JSON-able structure that is equal for equal IR, whatever the source text."""
    if isinstance(value, Expr):
        return ["expr", canonical(value.tree)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare and not _unset(f, getattr(value, f.name))
        }
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, (tuple, list)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _unset(f: dataclasses.Field, value: Any) -> bool:
    """Whether field ``f`` holding ``value`` is left out of the canonical form."""
    rule = f.metadata.get("hash")
    if rule == NOT_HASHED["hash"]:
        return True
    return rule == HASHED_IF_SET["hash"] and value == f.default


def canonical_bytes(value: Any) -> bytes:
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _DOMAIN + text.encode("ascii")


def digest(value: Any) -> str:
    """Hex blake2b-256 of the canonical bytes of ``value``."""
    return hashlib.blake2b(canonical_bytes(value), digest_size=32).hexdigest()
