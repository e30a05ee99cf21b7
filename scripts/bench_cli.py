"""Benchmark how fast the command line answers, as whole processes; prints one JSON document.

Times (median of ``--repeat``, the commands interleaved round by round so a change in
machine load hits all alike): ``continuum --help`` (``help_s``, target 0.15 s),
``continuum catalog list --limit 50`` on a 100,000-run SQLite catalog (``catalog_list_s``,
target 0.30 s), and beside them the floors a Python CLI stands on, measured in the same
rounds: ``python -c pass`` (``python_s``) and ``python -c "import sqlalchemy"``
(``import_sqlalchemy_s``).

The catalog is built once by bulk Core inserts (``bench_catalog.seed``: ten checkpoints,
a tag and two params per run) and cached under ``--dir``, so later runs only time.

    python scripts/bench_cli.py                      # cache in ~/.cache/continuum/bench_cli
    python scripts/bench_cli.py --dir /tmp/bench --runs 20000 --repeat 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS_S = {"help_s": 0.15, "catalog_list_s": 0.30}


def default_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "continuum" / "bench_cli"


def catalog_db(directory: Path, n_runs: int) -> tuple[Path, float]:
    """The cached ``n_runs``-run catalog under ``directory`` (built when missing: written
    under a temporary name and renamed, so an interrupted build is never reused), and the
    seconds spent building it (0 when cached)."""
    db = directory / f"catalog_{n_runs}_runs.db"
    if db.is_file():
        return db, 0.0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_catalog import seed  # the catalog benchmark's bulk insert, not a copy of it

    from continuum.catalog import Catalog

    directory.mkdir(parents=True, exist_ok=True)
    partial = db.with_name(db.name + ".building")
    partial.unlink(missing_ok=True)
    start = time.perf_counter()
    with Catalog(f"sqlite:///{partial}") as cat:
        seed(cat, 0, n_runs)
    partial.rename(db)
    return db, time.perf_counter() - start


def commands(db: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each timed key: its command line and environment."""
    exe = str(Path(sys.executable).with_name("continuum"))
    env = {**os.environ, "CONTINUUM_CATALOG": f"sqlite:///{db}"}
    return {
        "help_s": ([exe, "--help"], env),
        "catalog_list_s": ([exe, "catalog", "list", "--limit", "50"], env),
        "python_s": ([sys.executable, "-c", "pass"], env),
        "import_sqlalchemy_s": ([sys.executable, "-c", "import sqlalchemy"], env),
    }


def interleaved(cmds: dict[str, tuple[list[str], dict[str, str]]], repeat: int) -> dict:
    """Median wall seconds per key; one warm-up round (page cache, .pyc files) first."""
    samples: dict[str, list[float]] = {key: [] for key in cmds}
    for round_ in range(repeat + 1):
        for key, (argv, env) in cmds.items():
            start = time.perf_counter()
            subprocess.run(
                argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if round_:
                samples[key].append(time.perf_counter() - start)
    return {key: statistics.median(times) for key, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=default_dir(), help="catalog cache dir")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the catalog")
    parser.add_argument("--repeat", type=int, default=5, help="rounds timed (median)")
    args = parser.parse_args()
    db, built_s = catalog_db(args.dir, args.runs)
    report: dict = {"runs": args.runs, "catalog": str(db), "catalog_build_s": round(built_s, 2)}
    timed = interleaved(commands(db), args.repeat)
    report.update({key: round(value, 4) for key, value in timed.items()})
    report["targets_s"] = TARGETS_S
    report["targets_met"] = {key: timed[key] <= TARGETS_S[key] for key in TARGETS_S}
    report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
