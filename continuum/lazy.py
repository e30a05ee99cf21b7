"""Packages whose public names load on first use (PEP 562).

A package ``__init__`` that imports every submodule makes each command pay for all of
them: ``continuum lens sql`` would load the lens capture, writer and formats to run
``SELECT 1``. With :func:`exports`, the package maps each public name to the module that
defines it, and the module is imported when the name is first looked up (then kept in the
package's namespace). Type checkers read the real imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(
    package: str, where: Mapping[str, str], names: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``where`` maps each name to its module."""
    space = importlib.import_module(package).__dict__

    def getattr_(name: str) -> Any:
        try:
            module = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        space[name] = value  # looked up once
        return value

    def dir_() -> list[str]:
        return sorted(names)

    return getattr_, dir_
