import re
from datetime import UTC, datetime

from continuum.runtime import new_run_id


def test_run_ids_have_the_timestamp_form_and_never_collide_within_a_second():
    now = datetime(2026, 1, 16, 9, 54, 30, tzinfo=UTC)
    ids = {new_run_id(now) for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"20260116_095430_[0-9a-f]{8}", i) for i in ids)
