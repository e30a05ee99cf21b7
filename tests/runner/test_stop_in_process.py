"""The stop in this process: what the resume line repeats of the catalog URL, and a
stop on a stride tick (a real SIGINT, sent by the run's own tick observer)."""

from __future__ import annotations

import os
import signal

import pytest

from continuum import layout
from continuum.runner import execute
from continuum.runner.stop import _catalog_shown

from .conftest import request, run


def test_a_catalog_password_is_never_printed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CONTINUUM_CATALOG", raising=False)
    url = "postgresql+psycopg://ana:s3cret@db-host:5432/continuum"
    shown = _catalog_shown(url)
    assert shown is not None and "s3cret" not in shown
    assert shown == "postgresql+psycopg://ana:***@db-host:5432/continuum"


def test_the_catalog_the_environment_names_is_not_repeated(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("CONTINUUM_CATALOG", url)
    assert _catalog_shown(url) is None
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert _catalog_shown(other) == other


def test_a_stop_on_a_stride_tick_writes_that_checkpoint_once(tmp_path):
    """SIGINT (to this very process) right after tick 100, whose stride checkpoint the
    trigger has just handed over: the stop writes no second one, and the summary says
    where the run stopped and how to resume it."""

    def at_100(state) -> None:
        if state.tick == 100:
            os.kill(os.getpid(), signal.SIGINT)

    ckpt = tmp_path / "ckpt"
    # as at a terminal, even when the tests run as a background job (SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        summary = execute(
            request(steps=300, checkpoint_dir=ckpt, checkpoint_stride=50, no_catalog=True),
            on_tick=at_100,
        )
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, previous)
    assert summary["status"] == "stopped" and summary["tick"] == 100
    assert summary["checkpoints_written"] == 2  # 50 and 100: not 100 twice
    stopped = summary["stopped"]
    path = ckpt / summary["run_id"] / layout.checkpoint_name(100)
    assert stopped["checkpoint"] == str(path) and stopped["exit_code"] == 130
    assert f"--checkpoint-path {path} --steps 200 " in stopped["resume"]
    assert run(steps=5, no_catalog=True)["status"] == "completed"
