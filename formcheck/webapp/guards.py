"""Request guards that sit in front of every route (pure ASGI middleware, so streams and WebSockets pass through).

* `HostOriginGuard`: DNS rebinding. A page on `http://evil.example:8000` that resolves to 127.0.0.1 reaches this
  server with `Host: evil.example:8000`; only the configured host names are served. Browsers send `Origin` on
  WebSocket handshakes and on every state-changing request; it must name one of the same host names (a fixed
  list, never the request's own Host header, which the attacker controls).
* `ResponseHeaders`: a Content-Security-Policy, nosniff, no framing and a same-origin referrer on every response,
  and `Cache-Control: no-store` on everything but the static files (private JSON, videos, clips, CSV and reports
  must not sit in a shared or disk cache).
* `BodyTimeout`: a request body that stalls for longer than the timeout is answered 408 instead of being held.
* `single-user token`: `?token=...` on a page is exchanged for an HttpOnly cookie and removed from the address.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_COOKIE = "fc_token"
TOKEN_PARAM = "token"
HOST_REFUSED = "This server only answers to its own host names ({names}); set FORMCHECK_ALLOWED_HOSTS to add one"
ORIGIN_REFUSED = "Cross-origin request refused: open formcheck from its own address"
BODY_STALLED = "The request body stalled: send it without pauses"
# CSP: scripts, styles, media and sockets only from this origin. Inline style attributes are used by the pages;
# inline scripts are not (the printable report carries a per-response nonce). wasm for in-browser pose models.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# On every response besides the CSP (a route may set its own CSP, never these).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
STATIC_PREFIX = "/static/"
WS_CLOSE_POLICY = 1008


def host_name(value: str) -> str:
    """The host part of a Host header or an origin's netloc, lower-cased, port dropped ("[::1]" stays bracketed)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end > 0 else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_host_names(bind_host: str, extra: Iterable[str]) -> frozenset[str] | None:
    """The served host names: loopback names, the bind address, and the configured extras. None = any host
    (serving on all interfaces without a configured name: sign-in, not the Host header, protects that case)."""
    extra = [host_name(h) for h in extra if h.strip()]
    if "*" in extra or (bind_host in WILDCARD_BINDS and not extra):
        return None
    names = {*LOOPBACK_HOSTS, *extra}
    if bind_host not in WILDCARD_BINDS:
        names.add(host_name(f"[{bind_host}]" if ":" in bind_host else bind_host))
    return frozenset(names)


def origin_allowed(origin: str, names: frozenset[str] | None) -> bool:
    """True when an Origin header names an http(s) origin on one of the served host names."""
    if names is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and host_name(parts.netloc) in names


async def _refuse_http(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HostOriginGuard:
    """Refuse unknown Host headers (403) and foreign Origins on WebSockets and state-changing requests (403)."""

    def __init__(self, app: ASGIApp, names: frozenset[str] | None) -> None:
        self.app, self.names = app, names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.names is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = None
        if host_name(headers.get("host", "")) not in self.names:
            refusal = HOST_REFUSED.format(names=", ".join(sorted(self.names)))
        else:
            unsafe = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
            origin = headers.get("origin")
            if unsafe and origin is not None and not origin_allowed(origin, self.names):
                refusal = ORIGIN_REFUSED
        if refusal is None:
            await self.app(scope, receive, send)
            return
        log.info(
            "refused %s %s: host=%r origin=%r",
            scope["type"],
            scope.get("path"),
            headers.get("host"),
            headers.get("origin"),
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": WS_CLOSE_POLICY, "reason": refusal[:120]})
            return
        await _refuse_http(send, 403, refusal)


class ResponseHeaders:
    """The security headers and a CSP on every response (unless the route set its own CSP), no-store on
    everything outside /static/. The app's one header middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = not scope.get("path", "").startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers.extend(SECURITY_HEADERS)
                if private:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTimeout:
    """A request body chunk that does not arrive within `timeout_s` ends the request with 408."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()  # after the body: waiting for a disconnect is legitimate
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                raise HTTPException(408, BODY_STALLED) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)


def token_matches(expected: str | None, supplied: str | None) -> bool:
    return bool(expected) and bool(supplied) and hmac.compare_digest(str(expected).encode(), str(supplied).encode())


class TokenExchange:
    """Single-user mode: a page opened with the launch token (`/?token=...`) gets it as an HttpOnly cookie and is
    redirected to the same address without it, so the token leaves the address bar and the history."""

    def __init__(self, app: ASGIApp, token: str | None, *, secure: bool) -> None:
        self.app, self.token, self.secure = app, token, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        supplied = [v for k, v in query if k == TOKEN_PARAM]
        if not supplied:
            await self.app(scope, receive, send)
            return
        rest = urlencode([(k, v) for k, v in query if k != TOKEN_PARAM])
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        headers = [(b"location", location.encode()), (b"content-length", b"0"), (b"cache-control", b"no-store")]
        if token_matches(self.token, supplied[-1]):
            cookie = f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Lax; Path=/"
            headers.append((b"set-cookie", (cookie + ("; Secure" if self.secure else "")).encode()))
        else:
            log.info("a wrong single-user token was given on %s", scope.get("path"))
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
