"""Retention: which blobs of a run to keep, and deleting the rest crash-safely.

Owns: the rules (``rules``: pure, items in, plan out), stored policies per run, world
or globally (``policies``), building plans from the catalog (``planning``), and
executing them (``prune``: claim rows, unlink files — in a helper process for large
prunes, ``_unlinker`` — and settle rows).

Must not: read blob contents (files are only unlinked, at the paths their rows name),
import numpy, or run on the tick loop (the writer thread and the CLI call it).
"""

from continuum.catalog.retention.policies import (
    SCOPES,
    Policies,
    RetentionPolicy,
    RetentionRules,
    parse_duration,
    parse_size,
)
from continuum.catalog.retention.prune import (
    PruneReport,
    Retention,
)
from continuum.catalog.retention.rules import PROTECTIONS, Item, Plan

__all__ = [
    "PROTECTIONS",
    "SCOPES",
    "Item",
    "Plan",
    "Policies",
    "PruneReport",
    "Retention",
    "RetentionPolicy",
    "RetentionRules",
    "parse_duration",
    "parse_size",
]
