"""The inspector's fences: the Host check, the token, the cross-site check, strict headers.

One pure ASGI middleware (:class:`Security`), outermost, so nothing answers before it:

- **Host** (DNS rebinding): a request whose ``Host`` names anything but an IP literal,
  ``localhost``, the bound host or this machine's names is answered 421. A rebinding
  attack needs a name it controls to resolve to us; it cannot make the browser send
  ours.
- **Token**: made at start (``secrets.token_urlsafe(32)``) and printed in the URL.
  ``GET /?token=T`` sets an ``HttpOnly; SameSite=Strict`` cookie and redirects to ``/``
  (the token leaves the address bar and the history). A request carries the token in
  the ``X-Continuum-Token`` header or that cookie. Every POST needs it, loopback
  included (401 without, 403 if wrong); on a non-loopback bind every request does,
  the page and its files included.
- **Cross-site**: a POST authenticated by the cookie alone must also come from the page:
  an ``Origin`` equal to the request's own origin, or, without ``Origin``, the header
  ``X-Continuum-Requested-With`` (a custom header no cross-site form can send). A header
  token needs neither: no browser attaches it on its own.
- **Headers**: every response carries the content security policy (no inline script or
  style, nothing from elsewhere, no framing), ``nosniff``, ``no-referrer`` and
  ``X-Frame-Options: DENY``; those the app answers also ``Server-Timing: app;dur=MS``
  (the time until the response started: what ``scripts/bench_serve.py`` reports).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_HEADER = "x-continuum-token"
REQUESTED_WITH = "x-continuum-requested-with"
COOKIE = "continuum_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def allowed_names(host: str) -> frozenset[str]:
    """The host names a request may use: localhost, the bound name, and on a wildcard
    bind this machine's own names (IP literals are always allowed)."""
    names = {"localhost", host.lower()}
    if host in ("0.0.0.0", "::", ""):
        for name in (socket.gethostname(), socket.getfqdn()):
            names.add(name.lower())
    return frozenset(names)


def _host_name(value: str) -> str:
    """``example:8765`` -> ``example``; ``[::1]:8765`` -> ``[::1]``."""
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(headers: dict[str, str]) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header: no token in it
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _matches(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


async def _json(send: Send, status: int, message: str, extra: Iterable[tuple[bytes, bytes]] = ()):
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *HEADERS,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Security:
    """The middleware of the module docstring around ``app``."""

    def __init__(self, app: ASGIApp, *, token: str, host: str) -> None:
        self.app = app
        self.token = token
        self.names = allowed_names(host)
        self.everything_needs_token = not is_loopback(host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = headers.get("host", "")
        name = _host_name(host).lower()
        if not (_is_ip(name) or name in self.names):
            await _json(send, 421, f"unknown host {host[:100]!r}: open the URL the server printed")
            return
        method = scope["method"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if method == "GET" and scope["path"] == "/" and "token" in query:
            await self._login(scope, send, query)
            return
        header_token = headers.get(TOKEN_HEADER)
        cookie_token = _cookie(headers)
        # a header token, when given, decides alone (a wrong one is not saved by the cookie)
        by_header = header_token is not None
        authed = _matches(header_token if by_header else cookie_token, self.token)
        needs = method not in SAFE_METHODS or self.everything_needs_token
        if needs and not authed:
            if header_token is None and cookie_token is None:
                await _json(send, 401, "this needs the token: open the URL the server printed")
            else:
                await _json(send, 403, "wrong token: open the URL the server printed")
            return
        cookie_only = method not in SAFE_METHODS and not by_header
        if cookie_only and not self._same_origin(headers, scope):
            await _json(
                send,
                403,
                "cross-site request refused: send X-Continuum-Token, or POST from the page",
            )
            return

        start = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = f"app;dur={(time.perf_counter() - start) * 1000:.3f}".encode()
                extra = [*HEADERS, (b"server-timing", spent)]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _same_origin(self, headers: dict[str, str], scope: Scope) -> bool:
        origin = headers.get("origin")
        if origin is None or origin == "null":
            return origin is None and REQUESTED_WITH in headers
        scheme = scope.get("scheme", "http")
        return origin == f"{scheme}://{headers.get('host', '')}"

    async def _login(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        """``/?token=T``: the cookie, then ``/`` (with any other parameters kept)."""
        if not _matches(query.get("token"), self.token):
            await _json(send, 403, "wrong token: open the URL the server printed")
            return
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        headers = [
            (b"location", ("/" + (f"?{rest}" if rest else "")).encode()),
            (b"set-cookie", cookie.encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
            *HEADERS,
        ]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
