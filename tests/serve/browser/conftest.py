"""The page under test: a real ``continuum serve`` over real runs, driven in Debian's Chromium.

``site`` (module scope) makes real terra runs with lens capture into a private SQLite
catalog with ``continuum run`` (a parent, a branch of it, and a third run with other
params), starts ``continuum serve --port 0 --json`` as a subprocess and yields its URL;
``page`` is a fresh Chromium page logged in through ``/?token=...`` (the cookie the page's
POSTs ride on). Playwright drives the system ``/usr/bin/chromium`` (never a downloaded
browser); without a Chromium binary the browser tests are skipped with that reason.
Screenshots go to ``test-artifacts/`` (gitignored; CI keeps them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import ok_json

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
FIELD = "atmosphere.temperature"


def chromium_binary() -> str | None:
    """The system Chromium (CONTINUUM_TEST_CHROMIUM overrides), or None."""
    for candidate in (os.environ.get("CONTINUUM_TEST_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


CHROMIUM = chromium_binary()
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install chromium; .ci/run does)"
)


@dataclass
class Site:
    url: str  # http://127.0.0.1:PORT
    token: str
    catalog: str
    parent: str
    branch: str
    other: str
    root: Path


class Server:
    """``continuum serve`` in a subprocess; its one JSON line says where it listens."""

    def __init__(self, catalog: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "continuum", "serve", "--catalog", catalog]
        argv += ["--port", "0", "--json"]
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"continuum serve exited {self.proc.returncode} before listening")
        info = json.loads(line)
        self.token: str = info["token"]
        self.base = f"http://{info['host']}:{info['port']}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_runs(catalog: str, root: Path) -> tuple[str, str, str]:
    """A parent (120 ticks, lens every 2 ticks), a branch of it at 60, a run with seed 7."""
    lens, ck = root / "lens", root / "ck"
    common: tuple[object, ...] = (
        "--lens-dir",
        lens,
        "--lens-stride",
        "2",
        "--lens-chunk-size",
        "40",
    )
    common += ("--checkpoint-dir", ck, "--checkpoint-stride", "30", "--catalog", catalog, "--json")
    parent = ok_json(
        "run",
        "terra",
        "--scenario",
        "tiny",
        "--steps",
        "120",
        "--param",
        "k=4",
        "--tag",
        "team=a",
        *common,
    )
    start = ck / parent["run_id"] / "checkpoint_0000000060.ckpt"
    branch = ok_json("run", "terra", "--checkpoint-path", start, "--steps", "20", *common)
    other = ok_json(
        "run",
        "terra",
        "--scenario",
        "tiny",
        "--steps",
        "60",
        "--seed",
        "7",
        "--param",
        "k=9",
        *common,
    )
    return parent["run_id"], branch["run_id"], other["run_id"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if CHROMIUM is None:
        pytest.skip("no Chromium binary (apt-get install chromium; .ci/run does)")
    root = tmp_path_factory.mktemp("page")
    catalog = f"sqlite:///{root / 'catalog.db'}"
    parent, branch, other = make_runs(catalog, root)
    server = Server(catalog, root)
    try:
        yield Site(server.base, server.token, catalog, parent, branch, other, root)
    finally:
        server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium binary (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def refused(text: str) -> bool:
    """A console line saying the content security policy refused something."""
    return "Content Security Policy" in text or text.startswith("Refused to")


def open_page(browser: Any, base: str, token: str) -> Any:
    """A new page logged in: /?token=T sets the HttpOnly cookie and redirects to /."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: refused(msg.text) and errors.append(msg.text))
    page.js_errors = errors
    page.goto(f"{base}/?token={token}")
    page.wait_for_selector("#runs-table tbody tr[data-run-id]")
    return page


@pytest.fixture
def page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    pg = open_page(browser, site.url, site.token)
    try:
        yield pg
        assert pg.js_errors == [], pg.js_errors  # no script error, nothing the CSP refused
    finally:
        shot(pg, request.node.name)
        pg.context.close()


def shot(page: Any, name: str) -> None:
    """A full-page screenshot kept as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.suppress(Exception):  # a closed page must not hide the test's own failure
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
