"""Query parameters parsed at the boundary: typed values or a 400 naming the parameter.

Every handler reads its parameters through these, so a bad value is refused before
anything is opened, with one line saying what was expected (``width must be an integer
in [2, 2048], got 'x'``). Text is bounded and must be printable (no NUL, no control
characters): a value goes on to a database or a message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from continuum.serve.errors import ApiError

MAX_TEXT = 1000
MAX_INT = 2**63 - 1


def _shown(value: str) -> str:
    return repr(value[:60] + ("..." if len(value) > 60 else ""))


def bad(name: str, expected: str, value: str) -> ApiError:
    return ApiError(400, f"{name} must be {expected}, got {_shown(value)}")


def text(params: QueryParams, name: str, default: str | None = None) -> str | None:
    """A printable string of at most :data:`MAX_TEXT` characters, or ``default``."""
    value = params.get(name)
    if value is None:
        return default
    return check_text(name, value)


def check_text(name: str, value: str) -> str:
    if len(value) > MAX_TEXT or not value.isprintable():
        raise bad(name, f"printable text of at most {MAX_TEXT} characters", value)
    return value


def texts(params: QueryParams, name: str) -> list[str]:
    """Every value of a repeatable parameter, each checked as :func:`text`."""
    return [check_text(name, v) for v in params.getlist(name)]


def integer(
    params: QueryParams,
    name: str,
    default: int | None = None,
    *,
    lo: int = 0,
    hi: int = MAX_INT,
    required: bool = False,
) -> int | None:
    """An integer in ``[lo, hi]``, or ``default`` when absent (400 if ``required``)."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"missing parameter {name} (an integer in [{lo}, {hi}])")
        return default
    try:
        number = int(value, 10)
    except ValueError:
        raise bad(name, f"an integer in [{lo}, {hi}]", value) from None
    if not lo <= number <= hi:
        raise bad(name, f"an integer in [{lo}, {hi}]", value)
    return number


def need_integer(params: QueryParams, name: str, *, lo: int = 0, hi: int = MAX_INT) -> int:
    got = integer(params, name, lo=lo, hi=hi, required=True)
    assert got is not None
    return got


def number(
    params: QueryParams, name: str, *, lo: float, hi: float, required: bool = False
) -> float | None:
    """A finite float in ``[lo, hi]``, or None when absent (400 if ``required``)."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"missing parameter {name} (a number in [{lo:g}, {hi:g}])")
        return None
    try:
        got = float(value)
    except ValueError:
        raise bad(name, f"a number in [{lo:g}, {hi:g}]", value) from None
    if not math.isfinite(got) or not lo <= got <= hi:
        raise bad(name, f"a number in [{lo:g}, {hi:g}]", value)
    return got


def choice(params: QueryParams, name: str, options: Sequence[str], default: str) -> str:
    value = params.get(name, default)
    if value not in options:
        raise bad(name, f"one of {', '.join(options)}", value)
    return value


def flag(params: QueryParams, name: str) -> bool:
    value = params.get(name, "0").lower()
    if value not in ("0", "1", "true", "false", ""):
        raise bad(name, "1 or 0", value)
    return value in ("1", "true")


def when(params: QueryParams, name: str) -> datetime | None:
    """An ISO 8601 time (UTC when no zone is given)."""
    value = text(params, name)
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise bad(name, "an ISO 8601 time, e.g. 2026-01-16T09:54:30Z", value) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def run_ids(params: QueryParams, name: str, *, limit: int) -> list[str]:
    """A comma-separated list of run ids (repeats dropped, order kept), at most ``limit``."""
    parts = [p.strip() for value in params.getlist(name) for p in value.split(",")]
    ids = list(dict.fromkeys(check_text(name, p) for p in parts if p))
    if len(ids) > limit:
        raise ApiError(400, f"{name}: at most {limit} runs, got {len(ids)}")
    return ids
