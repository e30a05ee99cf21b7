"""Two real terra runs (seeds 1 and 2) with lens chunks exported live and as a cell copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from continuum import layout
from continuum.catalog import Catalog
from continuum.lens import LensStore
from continuum.lens.reconstruct import FieldConfig
from continuum.runner import RunRequest, execute
from continuum.sql import Session, connect, export_run

STEPS, CHUNK = 20, 10


@dataclass(frozen=True)
class Runs:
    base: Path
    url: str
    ids: dict[int, str]  # seed -> run_id

    @property
    def exports(self) -> Path:
        return self.base / "exp"

    def session(self, **kwargs: object) -> Session:
        """``continuum.sql.connect`` over this catalog with the exports dir as a root."""
        return connect(self.url, roots=[self.exports], **kwargs)  # type: ignore[arg-type]

    def lens(self, seed: int) -> Path:
        return self.base / "lens" / self.ids[seed]

    def part(self, seed: int, field: str) -> Path:
        """One time-major Parquet part of a field of run ``seed``."""
        return next(layout.field_partition(self.exports, self.ids[seed], field).glob("*.parquet"))

    def frames(self, seed: int, field: str) -> tuple[np.ndarray, np.ndarray, FieldConfig]:
        """(ticks, values, config) of one field of run ``seed``, read back from the lens."""
        with LensStore(self.lens(seed)) as store:
            data = store.load([field]).to_chunk()
        series = data.fields[field]
        return data.ticks[series.rows], np.asarray(series.values), series.config


@pytest.fixture(scope="session", name="runs")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("sql_runs")
    url = f"sqlite:///{base / 'catalog.db'}"
    ids = {}
    for seed in (1, 2):
        request = RunRequest(
            "terra",
            steps=STEPS,
            seed=seed,
            lens_dir=base / "lens",
            lens_chunk_size=CHUNK,
            lens_export_dir=base / "exp",  # the live exporter writes the time-major files
            catalog=url,
        )
        ids[seed] = execute(request)["run_id"]
    with Catalog(url) as cat:
        for run_id in ids.values():
            export_run(
                base / "lens" / run_id, base / "exp", catalog=cat, layouts=("time", "sample")
            )
    return Runs(base, url, ids)
