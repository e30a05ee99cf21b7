"""``continuum run --param KEY=VALUE`` and ``--tag KEY=VALUE``: parsed before anything runs.

A parameter's value is typed by its text (``continuum.catalog.records.parse_value``:
int, float, true/false, else a string), so ``catalog search --param 'k>3'`` compares
numbers; a tag's value stays text. A key given twice is refused rather than the last
one silently winning. Both only label the run in the catalog: they change nothing in
the simulation (world constants are set by scenarios).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from continuum.errors import InvalidFilterError


def _pairs(option: str, texts: Sequence[str]) -> dict[str, str]:
    from continuum.catalog.records import parse_label  # the catalog only when asked

    found: dict[str, str] = {}
    for text in texts:
        try:
            key, value = parse_label(text, option)
        except InvalidFilterError as exc:
            raise click.UsageError(str(exc)) from None
        if key in found and found[key] != value:
            raise click.UsageError(f"{option} {key} given twice ({found[key]!r}, {value!r})")
        found[key] = value
    return found


def params_option(ctx: click.Context, param: click.Parameter, texts: Sequence[str]) -> dict:
    """``--param`` values as a typed dict (click callback)."""
    if not texts:
        return {}
    from continuum.catalog.records import parse_value

    return {key: parse_value(value) for key, value in _pairs("--param", texts).items()}


def tags_option(ctx: click.Context, param: click.Parameter, texts: Sequence[str]) -> dict:
    """``--tag`` values as a dict of text (click callback)."""
    return _pairs("--tag", texts) if texts else {}
