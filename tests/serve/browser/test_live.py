"""A live ``continuum run`` seen and steered from the page (issue 16, live runs).

A real terra run paced by ``CONTINUUM_TEST_TICK_SLEEP`` so it is still running while the
page watches it: its tick advances in the runs table (server-sent events), the run view's
Checkpoint button makes a new committed checkpoint row appear, Flush seals a lens window
(it appears on the timeline, and its fields with it), and Stop ends the run
``stopped`` (exit 143) with a final checkpoint that ``--resume-run`` continues from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from continuum.catalog import Catalog
from continuum.runner.stop import TICK_SLEEP_ENV
from tests.cli.conftest import ok_json
from tests.serve.browser.conftest import Server, open_page, requires_chromium, shot

pytestmark = [requires_chromium, pytest.mark.slow]


def start_run(catalog: str, root: Path) -> subprocess.Popen[str]:
    """terra at ~50 ticks/s for long enough; checkpoints only when asked (and at the end)."""
    argv = [sys.executable, "-m", "continuum", "run", "terra", "--scenario", "tiny"]
    argv += ["--steps", "100000", "--checkpoint-dir", str(root / "ck")]
    argv += ["--checkpoint-stride", "100000", "--lens-dir", str(root / "lens")]
    argv += ["--lens-stride", "5", "--catalog", catalog, "--quiet"]
    env = {**os.environ, TICK_SLEEP_ENV: "0.02"}
    return subprocess.Popen(argv, cwd=root, env=env, text=True, stderr=subprocess.PIPE)


def live_run_id(catalog: str, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with Catalog(catalog) as cat:
            runs = [r for r in cat.search.list(limit=5).runs if r.control_path is not None]
        if runs:
            return runs[0].run_id
        time.sleep(0.1)
    raise AssertionError("the run never opened its control channel")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, str, Server, subprocess.Popen[str]]]:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    server = Server(catalog, tmp_path)
    proc = start_run(catalog, tmp_path)
    try:
        yield catalog, live_run_id(catalog, proc), server, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.close()


def tick_of(page: Any, selector: str) -> int:
    text = page.text_content(selector) or ""
    return int(text.replace("\u2009", "").strip() or -1)


def test_watch_checkpoint_and_stop_a_live_run(browser: Any, live: Any) -> None:
    catalog, run_id, server, proc = live
    page = open_page(browser, server.base, server.token)
    try:
        cell = f"#runs-table tr[data-run-id='{run_id}'] .live-tick"
        page.wait_for_function(f"() => document.querySelector(\"{cell}\")?.textContent !== ''")
        first = tick_of(page, cell)
        page.wait_for_function(
            f"() => +document.querySelector(\"{cell}\").textContent.replace(/\\s/g, '') > {first}"
        )  # the tick advances on the page without a reload

        page.click(f"#runs-table a[href='#/runs/{run_id}']")
        page.wait_for_selector("#action-checkpoint:not([disabled])")
        seen = tick_of(page, "#live-tick")
        page.wait_for_function(f"() => +document.querySelector('#live-tick').dataset.tick > {seen}")

        page.click("#action-checkpoint")
        page.wait_for_selector("#action-result[data-command='checkpoint'][data-tick]")
        tick = page.get_attribute("#action-result", "data-tick")
        page.wait_for_selector(
            f"#checkpoints tr[data-tick='{tick}'][data-state='committed']", timeout=15000
        )
        shot(page, "live_run_checkpointed")

        assert page.locator("#timeline rect.win").count() == 0  # no lens window sealed yet
        page.click("#action-flush")  # seal the current lens window now
        page.wait_for_selector("#action-result[data-command='flush']")
        page.wait_for_selector("#timeline rect.win", timeout=15000)
        page.wait_for_selector("#fields a[data-field='atmosphere.temperature']")

        page.click("#action-stop")
        page.wait_for_selector("#run-view[data-status='stopped']", timeout=20000)
        assert proc.wait(timeout=30) == 143  # the graceful stop, as SIGTERM
        assert page.is_disabled("#action-checkpoint")
        shot(page, "live_run_stopped")
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()

    with Catalog(catalog) as cat:
        stopped = cat.runs.get(run_id)
    assert stopped.status == "stopped"
    resumed = ok_json(
        "run", "terra", "--resume-run", run_id, "--steps", "5", "--catalog", catalog, "--json"
    )
    assert resumed["run_id"] == run_id and resumed["tick"] == stopped.last_tick + 5
