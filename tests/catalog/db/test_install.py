"""A regular (non-editable) install carries the migrations and can create a catalog.

The repository is copied (as a checkout would be, symlinks kept), built and
installed with pip into a fresh virtualenv, without dependencies: that venv
sees this environment's packages (sqlalchemy, alembic, click...) through a
``.pth`` file, so nothing else is downloaded. Only the build backend may come
from the package index, when this environment cannot build wheels itself.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from continuum.catalog.db import schema

REPO = Path(__file__).resolve().parents[3]
SKIP = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests")


def can_build_offline() -> bool:
    """setuptools with a built-in bdist_wheel (>= 70.1), or the ``wheel`` package."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from setuptools import __version__ as version

    modern = tuple(int(p) for p in version.split(".")[:2]) >= (70, 1)
    return modern or importlib.util.find_spec("wheel") is not None


def make_venv(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # dependencies from this environment; its .pth files (an editable continuum) stay inert
    Path(site, "_deps_from_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.slow
def test_non_editable_install_migrates_and_lists(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
    python = make_venv(tmp_path / "venv")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    if can_build_offline():
        pip.append("--no-build-isolation")
    subprocess.run([*pip, str(src)], check=True, cwd=tmp_path, timeout=300)
    shutil.rmtree(src)  # nothing may come from the source tree any more

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CONTINUUM_CATALOG")}
    probe = (
        "import continuum.catalog.db.schema as s; d = s.migrations_dir(); print(d, d.is_symlink())"
    )
    where = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert where[0].startswith(str(tmp_path / "venv")) and where[1] == "False"
    assert (Path(where[0]) / "versions" / "0001_initial.py").is_file()
    assert (Path(where[0]) / "versions" / "0002_retention.py").is_file()

    continuum = str(tmp_path / "venv" / "bin" / "continuum")
    url = f"sqlite:///{tmp_path / 'installed.db'}"

    def run(*args: str) -> str:
        done = subprocess.run(
            [continuum, "catalog", *args, "--catalog", url],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"upgraded from empty to {schema.HEAD}" in run("migrate")
    assert run("list") == "no runs\n"
