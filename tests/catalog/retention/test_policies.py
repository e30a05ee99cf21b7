"""Stored retention policies on both dialects: set, merge, clear, most specific wins."""

from __future__ import annotations

import pytest

from continuum.catalog import RetentionRules
from continuum.errors import InvalidFilterError, RunNotFoundError


@pytest.fixture
def run(catalog):
    return catalog.runs.register(world="terra", ir_hash="ab", seed=1)


def test_most_specific_policy_wins(catalog, run):
    assert catalog.policies.effective(run.run_id) is None
    catalog.policies.set("global", None, RetentionRules(keep_last=10))
    assert catalog.policies.effective(run.run_id).label == "global"
    catalog.policies.set("world", "terra", RetentionRules(keep_daily=7))
    catalog.policies.set("world", "other", RetentionRules(keep_last=1))
    found = catalog.policies.effective(run.run_id)
    assert (found.label, found.rules) == ("world terra", RetentionRules(keep_daily=7))
    catalog.policies.set("run", run.run_id, RetentionRules(keep_last=3))
    assert catalog.policies.effective(run.run_id).rules == RetentionRules(keep_last=3)
    assert catalog.policies.clear("run", run.run_id) is True
    assert catalog.policies.clear("run", run.run_id) is False
    assert catalog.policies.effective(run.run_id).label == "world terra"
    labels = [p.label for p in catalog.policies.list()]
    assert labels == ["global", "world other", "world terra"]


def test_set_replaces_and_merge_merges(catalog, run):
    first = catalog.policies.set("run", run.run_id, RetentionRules(keep_last=3, max_bytes=1 << 30))
    again = catalog.policies.set("run", run.run_id, RetentionRules(keep_within_s=3600))
    assert again.rules == RetentionRules(keep_within_s=3600)
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    merged = catalog.policies.set("run", run.run_id, RetentionRules(keep_last=5), merge=True)
    assert merged.rules == RetentionRules(keep_last=5, keep_within_s=3600)
    assert merged.to_dict()["keep_last"] == 5 and merged.to_dict()["scope"] == "run"


def test_bad_policies_are_refused(catalog, run):
    with pytest.raises(RunNotFoundError):
        catalog.policies.set("run", "nope", RetentionRules(keep_last=1))
    with pytest.raises(InvalidFilterError, match="at least one rule"):
        catalog.policies.set("global", None, RetentionRules())
    with pytest.raises(InvalidFilterError, match="needs a world"):
        catalog.policies.set("world", None, RetentionRules(keep_last=1))
    with pytest.raises(InvalidFilterError, match="expected one of"):
        catalog.policies.get("galaxy", "x")
