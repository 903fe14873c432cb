"""Request guards that sit in front of every route (pure ASGI middleware, so streams and WebSockets pass through).

* `HostOriginGuard`: DNS rebinding. A page on `http://evil.example:8000` that resolves to 127.0.0.1 reaches this
  server with `Host: evil.example:8000`; only the configured host names are served. Browsers send `Origin` on
  WebSocket handshakes and on every state-changing request; it must be this server's own origin: scheme, host
  and port (a page on another port of 127.0.0.1 is another origin, though cookies do not tell ports apart, issue
  17 M1). `Sec-Fetch-Site: same-site / cross-site` on such a request is refused too.
* `ResponseHeaders`: a Content-Security-Policy, nosniff, no framing and a same-origin referrer on every response;
  `Cache-Control: no-store` on pages and the API (private JSON, videos, clips, CSV and reports must not sit in a
  shared or disk cache), an ETag and long caching on the public assets (/static, /vendor, /models); Secure on
  every cookie of a request that came over HTTPS or through a proxy (issue 17 M5).
* `IdBounds`: a numeric path segment (or `*_id` query value) no database id can have is 404 before any route
  runs (PostgreSQL INTEGER ids end at 2^31-1; a larger one was a 503 carrying the database URL, issue 17 L2).
* `BodyTimeout`: a request body that stalls for longer than the timeout is answered 408 instead of being held.
* `single-user token`: `?token=...` on a page is exchanged for an HttpOnly cookie and removed from the address.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

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
# Public assets: revalidated with their ETag, cached for a long time (issue 17 L6: /live used to fetch ~22 MB of
# model and WASM on every visit). /models/pose.task sets its own (private) caching; nothing else is left cached.
PUBLIC_ASSET_PREFIXES = ("/static/", "/vendor/")
CACHED_ASSET_PREFIXES = (*PUBLIC_ASSET_PREFIXES, "/models/")
WS_CLOSE_POLICY = 1008
DEFAULT_PORTS = {"http": "80", "https": "443"}
FOREIGN_FETCH_SITES = frozenset({"same-site", "cross-site"})  # another port of this host is "same-site"
MAX_DB_ID = 2**31 - 1  # PostgreSQL INTEGER; SQLite ids of this app never get near it
NOT_FOUND = "Not found"
PROXY_HEADERS = (b"x-forwarded-for", b"x-forwarded-proto", b"forwarded")


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
    """True when an Origin header names an http(s) origin on one of the served host names (host only: use
    `same_origin` to decide whether a request may act, which compares the port too)."""
    if names is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and host_name(parts.netloc) in names


def _netloc(value: str, scheme: str) -> str:
    """A Host header or an origin's netloc, lower-cased, the scheme's default port dropped."""
    value = value.strip().lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and value.endswith(f":{default}") and not value.endswith("]"):
        value = value[: -len(default) - 1]
    return value


def same_origin(origin: str, scope: Scope, *, https_ok: bool) -> bool:
    """True when `origin` is this request's own origin: the same scheme (the request's, or https when this server
    is known to sit behind HTTPS) and the same host and port as the Host header. The Host header's name is
    checked against the served names separately (HostOriginGuard), so a rebinding page never matches."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return False
    request_scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    if parts.scheme != request_scheme and not (parts.scheme == "https" and https_ok):
        return False
    host = Headers(scope=scope).get("host", "")
    return bool(host) and _netloc(parts.netloc, parts.scheme) == _netloc(host, parts.scheme)


def foreign_request(scope: Scope, *, https_ok: bool) -> bool:
    """A browser request made by another origin (Origin not ours, or Sec-Fetch-Site same-site / cross-site)."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, scope, https_ok=https_ok):
        return True
    return headers.get("sec-fetch-site", "").strip().lower() in FOREIGN_FETCH_SITES


def via_https(scope: Scope) -> bool:
    """The request came over HTTPS, or through a reverse proxy (which the documented deployments put HTTPS in
    front of): its cookies are then Secure. A client adding a proxy header only makes its own cookies Secure."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    return any(name in PROXY_HEADERS for name, _ in scope.get("headers", ()))


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
    """Refuse unknown Host headers (403) and other origins on WebSockets and state-changing requests (403)."""

    def __init__(self, app: ASGIApp, names: frozenset[str] | None, *, https_ok: bool = False) -> None:
        self.app, self.names, self.https_ok = app, names, https_ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = None
        if self.names is not None and host_name(headers.get("host", "")) not in self.names:
            refusal = HOST_REFUSED.format(names=", ".join(sorted(self.names)))
        else:
            unsafe = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
            if unsafe and foreign_request(scope, https_ok=self.https_ok or via_https(scope)):
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


ASSET_CACHE_CONTROL = b"public, max-age=31536000, immutable"  # a year; `make setup` pins the npm versions
STATIC_CACHE_CONTROL = b"no-cache"  # the app's own JS/CSS change with each release: revalidate (ETag, 304)


def _cache_control(path: str, status: int) -> bytes | None:
    """None keeps the route's own Cache-Control (/models/pose.task: private, with the bundle's sha256 as ETag)."""
    if path.startswith("/vendor/") and status in (200, 304):
        return ASSET_CACHE_CONTROL
    if path.startswith("/static/") and status in (200, 304):
        return STATIC_CACHE_CONTROL
    if path.startswith("/models/") and status in (200, 304):
        return None
    return b"no-store"


class ResponseHeaders:
    """The security headers and a CSP on every response (unless the route set its own CSP); no-store on pages and
    the API, ETag-revalidated caching on public assets; Secure cookies on requests that came over HTTPS or a
    proxy. The app's one header middleware."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool = False) -> None:
        self.app, self.secure_cookies = app, secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        secure = self.secure_cookies or via_https(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers.extend(SECURITY_HEADERS)
                cache = _cache_control(path, int(message.get("status", 200)))
                if cache is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", cache))
                if secure:
                    headers = [
                        (k, v + b"; Secure") if k.lower() == b"set-cookie" and b"secure" not in v.lower() else (k, v)
                        for k, v in headers
                    ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_DIGITS = re.compile(r"\d+")


def _id_out_of_range(value: str) -> bool:
    return bool(_DIGITS.fullmatch(value)) and (len(value) > 12 or int(value) > MAX_DB_ID)


class IdBounds:
    """404 for a path segment or `*_id` query value that is a number no database id can be (> 2^31-1)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if any(_id_out_of_range(seg) for seg in scope.get("path", "").split("/")) or any(
                k.endswith("_id") and _id_out_of_range(v.strip()) for k, v in query
            ):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": WS_CLOSE_POLICY, "reason": NOT_FOUND})
                else:
                    await _refuse_http(send, 404, NOT_FOUND)
                return
        await self.app(scope, receive, send)


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


# Characters a path may keep as they are in a Location header; anything else (CR, LF, spaces, ...) is escaped.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def local_path(path: str) -> str:
    """`path` as a Location on this site: leading slashes and backslashes collapsed into one slash (browsers read
    `//evil.example/` and `/\\evil.example/` as another host, issue 17 M2), control characters escaped."""
    return "/" + quote(path.lstrip("/\\"), safe=_PATH_SAFE)


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
        location = local_path(scope.get("path", "/")) + (f"?{rest}" if rest else "")
        headers = [(b"location", location.encode()), (b"content-length", b"0"), (b"cache-control", b"no-store")]
        if token_matches(self.token, supplied[-1]):
            cookie = f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Lax; Path=/"
            headers.append((b"set-cookie", (cookie + ("; Secure" if self.secure else "")).encode()))
        else:
            log.info("a wrong single-user token was given on %s", scope.get("path"))
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
