"""The runner side of the control channel, in process: what a run does with its socket."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from continuum.catalog import Catalog
from continuum.control import private_dir, request
from continuum.runner.stop import TICK_SLEEP_ENV

from .conftest import run


def in_thread(**kw: Any) -> tuple[threading.Thread, dict[str, Any], Path]:
    """``execute`` on a thread (no signal handlers there), and its control socket."""
    before = set(private_dir().glob("*.sock"))
    done: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: done.update(run(**kw)), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = set(private_dir().glob("*.sock")) - before
        if new:
            return worker, done, new.pop()
        time.sleep(0.01)
    raise AssertionError("the run never opened its control socket")


def test_a_run_answers_on_its_socket_and_stops_when_asked(tmp_path, monkeypatch, catalog_url):
    monkeypatch.setenv(TICK_SLEEP_ENV, "0.005")
    worker, done, path = in_thread(steps=5000, checkpoint_dir=tmp_path / "ck", catalog=catalog_url)
    run_id = path.name.removesuffix(".sock")
    try:
        with Catalog(catalog_url) as cat:
            assert cat.runs.get(run_id).control_path == str(path)
        status = request(path, "status")
        assert status["run_id"] == run_id and status["status"] == "running"
        assert status["queues"] == {"checkpoint": 0, "lens": 0} and status["lens_gaps"] == 0
        assert request(path, "stop")["stopping"] is True
    finally:
        worker.join(60)
    assert done["status"] == "stopped" and done["stopped"]["reason"] == "ctl"
    assert done["stopped"]["signal"] is None and done["stopped"]["exit_code"] == 143
    assert done["tick"] < 5000 and not path.exists()
    with Catalog(catalog_url) as cat:
        assert cat.runs.get(run_id).control_path is None


@pytest.mark.parametrize(
    ("command", "needs"), [("checkpoint", "--checkpoint-dir"), ("flush", "--lens-dir")]
)
def test_commands_a_run_cannot_do_are_refused_saying_why(monkeypatch, command, needs):
    monkeypatch.setenv(TICK_SLEEP_ENV, "0.005")
    worker, done, path = in_thread(steps=5000, no_catalog=True)
    try:
        refused = request(path, command)
        assert refused["ok"] is False and needs in refused["error"]
        assert request(path, "stop")["ok"]
    finally:
        worker.join(60)
    assert done["status"] == "stopped"


def test_a_run_whose_private_dir_is_not_private_runs_without_a_channel(
    monkeypatch, caplog, catalog_url
):
    runtime = Path(os.environ["XDG_RUNTIME_DIR"]) / "open"
    (runtime / "continuum").mkdir(parents=True)
    os.chmod(runtime, 0o700)
    os.chmod(runtime / "continuum", 0o755)  # group and others may enter: refused
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with caplog.at_level(logging.WARNING, logger="continuum.control"):
        summary = run(steps=20, catalog=catalog_url)
    assert summary["status"] == "completed" and summary["failures"] == {}
    assert "has no control channel" in caplog.text and "chmod 700" in caplog.text
    assert list((runtime / "continuum").iterdir()) == []
    with Catalog(catalog_url) as cat:
        assert cat.runs.get(summary["run_id"]).control_path is None
