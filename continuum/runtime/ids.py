"""Run ids: ``YYYYMMDD_HHMMSS_xxxxxxxx`` (UTC start time + 32 random bits).

The time prefix keeps ids readable and sortable by start; the random suffix
keeps two runs started in the same second (on one host or many sharing a
catalog) apart without any coordination.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d_%H%M%S")
    return f"{stamp}_{secrets.token_hex(4)}"
