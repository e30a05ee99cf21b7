"""The fences: the token on every POST (loopback too), the cookie login, the cross-site
check, the Host check, strict headers on every response, and a non-loopback bind."""

from __future__ import annotations

import re

import pytest

from continuum.serve.security import CSP
from tests.serve.conftest import AUTH, BASE, TOKEN, Served, client_for
from tests.serve.test_runs import one_line_error

POSTS = [
    "/api/sql",
    "/api/runs/{run}/pin?tick=50",
    "/api/runs/{run}/unpin?tick=50",
    "/api/runs/{run}/prune",
    "/api/runs/{run}/ctl/status",
    "/api/runs/{run}/ctl/stop",
]


@pytest.mark.parametrize("path", POSTS)
def test_every_post_needs_the_token_even_on_loopback(served: Served, path):
    url = path.replace("{run}", served.parent)
    one_line_error(served.client.post(url, json={"sql": "SELECT 1"}), 401, "token")
    wrong = {"X-Continuum-Token": "wrong"}
    one_line_error(served.client.post(url, json={"sql": "SELECT 1"}, headers=wrong), 403, "token")


def test_a_wrong_header_is_not_saved_by_a_good_cookie(served: Served):
    cookies = {"continuum_token": TOKEN}
    headers = {"X-Continuum-Token": "wrong", "Origin": BASE}
    with client_for(served.url) as c:
        c.cookies.update(cookies)
        one_line_error(c.post("/api/sql", json={"sql": "SELECT 1"}, headers=headers), 403, "token")


def test_login_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_url(served: Served):
    with client_for(served.url) as c:
        response = c.get(f"/?token={TOKEN}", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert f"continuum_token={TOKEN}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # the cookie and the page's own Origin: a POST passes
        ok = c.post("/api/sql", json={"sql": "SELECT 1 AS one"}, headers={"Origin": BASE})
        assert ok.status_code == 200, ok.text
        assert ok.json()["rows"] == [[1]]
        # the cookie from another origin, or with no origin and no page header: refused
        evil = c.post("/api/sql", json={"sql": "SELECT 1"}, headers={"Origin": "http://evil.test"})
        one_line_error(evil, 403, "cross-site")
        one_line_error(c.post("/api/sql", json={"sql": "SELECT 1"}), 403, "cross-site")
        page = c.post(
            "/api/sql", json={"sql": "SELECT 1"}, headers={"X-Continuum-Requested-With": "page"}
        )
        assert page.status_code == 200


def test_a_wrong_login_token_is_refused(served: Served):
    with client_for(served.url) as c:
        one_line_error(c.get("/?token=nope", follow_redirects=False), 403, "wrong token")
        assert "set-cookie" not in c.get("/?token=nope", follow_redirects=False).headers


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example"])
def test_a_foreign_host_header_is_421(served: Served, host):
    response = served.client.get("/api/health", headers={"Host": host})
    one_line_error(response, 421, "unknown host")
    assert response.headers["content-security-policy"] == CSP


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1", "[::1]:8765", "10.1.2.3"])
def test_local_names_and_ip_literals_pass(served: Served, host):
    assert served.client.get("/api/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/", "/api/health", "/api/runs", "/api/nothing", "/?token=nope", "/static/none.js"]
)
def test_every_response_carries_the_strict_headers(served: Served, path):
    response = served.client.get(path, follow_redirects=False)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_the_page_is_served_and_names_its_script(served: Served):
    response = served.client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert re.search(r'<script (type="module" )?src="/static/app\.js"', response.text)
    assert "<script>" not in response.text and "style=" not in response.text  # CSP: none inline


def test_a_non_loopback_bind_needs_the_token_for_everything(served: Served):
    with client_for(served.url, host="0.0.0.0") as c:
        one_line_error(c.get("/api/health"), 401, "token")
        one_line_error(c.get("/"), 401, "token")
        assert c.get("/api/health", headers=AUTH).status_code == 200
        login = c.get(f"/?token={TOKEN}", follow_redirects=False)
        assert login.status_code == 303
        assert c.get("/api/runs").status_code == 200  # the cookie now
