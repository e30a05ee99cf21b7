"""``continuum serve`` as a real process: the printed URL answers over real HTTP; SIGINT ends it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.serve.test_runs import one_line_error  # noqa: F401  (the shared assertion)


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    argv = [sys.executable, "-m", "continuum.cli", "serve", "--port", "0", "--catalog", url, *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.slow
def test_serve_prints_its_url_answers_over_http_and_ends_on_sigint(tmp_path):
    proc = _start(tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("Continuum inspector: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        base, token = url.split("/?token=")
        assert int(base.rsplit(":", 1)[1]) > 0 and len(token) >= 40
        status, headers, body = _get(base + "/api/health")
        assert status == 200 and json.loads(body)["ok"] is True
        assert headers["content-security-policy"].startswith("default-src 'self'")
        status, _, _ = _get(base + "/api/health", {"Host": "evil.example:80"})
        assert status == 421
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), (proc.returncode, err)
    assert b"Traceback" not in err, err


@pytest.mark.slow
def test_serve_json_is_one_strict_line(tmp_path):
    proc = _start(tmp_path, "--json", "--quiet")
    try:
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.readline())
        assert set(doc) == {"url", "host", "port", "token"}
        assert doc["url"] == f"http://127.0.0.1:{doc['port']}/?token={doc['token']}"
        status, headers, _ = _get(doc["url"].split("?")[0] + "?token=" + doc["token"])
        assert status == 200  # urllib follows the login redirect to the page
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode in (0, 130)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_open_event_stream_does_not_hold_up_or_garble_the_shutdown(tmp_path, sig):
    """A page left open keeps its live stream: a signal still ends the server quickly,
    with nothing but its own lines on stderr (no cancelled task's traceback)."""
    proc = _start(tmp_path, "--json", "--quiet")
    try:
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.readline())
        base = doc["url"].split("/?")[0]
        request = urllib.request.Request(
            base + "/api/events", headers={"Authorization": f"Bearer {doc['token']}"}
        )
        stream = urllib.request.urlopen(request, timeout=10)
        assert stream.readline().startswith(b": continuum live events")
        started = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
        rest = stream.read()  # the stream ended cleanly: whole events, then EOF
        stream.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 130, 143), (proc.returncode, err)
    assert b"Traceback" not in err and b"graceful shutdown exceeded" not in err, err
    assert took < 2.5, took  # not the 3 s grace period
    assert not rest or rest.endswith(b"\n\n")
