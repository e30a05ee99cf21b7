"""The public surface of continuum.lens, and what importing it costs."""

from __future__ import annotations

import json
import subprocess
import sys

import continuum.lens as lens


def test_all_is_sorted_and_complete():
    exported = list(lens.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    assert len(exported) == len(set(exported))
    public = {
        n
        for n, v in vars(lens).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith("continuum.lens")
    }
    assert public <= set(exported), public - set(exported)
    assert all(hasattr(lens, n) for n in exported)


def test_importing_the_lens_stays_light():
    code = "import sys, json, continuum.lens; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & {"sqlalchemy", "duckdb", "click", "alembic", "scipy", "matplotlib"}
