"""Passwords (argon2), signed session cookies (itsdangerous) and the CSRF token bound to each session.

The session cookie is HttpOnly and signed; it carries the user id and a random CSRF token. Pages get the token
from /api/auth/csrf or /api/auth/me (same-origin JSON) and echo it in the `X-CSRF-Token` header. A state-changing
request is accepted only when the echoed token equals the one inside the signed session: another site (or another
port of the same host, which shares the cookies) can make the browser send the cookie, but cannot read the token.
`fc_csrf` carries the same token for tools, HttpOnly since issue 17 M1 (a page on another port could read it).
`fc_seen` (signed, HttpOnly) remembers a name that signed in here: that person's next sign-in is not held back by
the global sign-in bucket a flood empties (issue 17 M3).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

log = logging.getLogger(__name__)

SESSION_COOKIE = "fc_session"
CSRF_COOKIE = "fc_csrf"
SEEN_COOKIE = "fc_seen"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SALT = "formcheck.session.v1"
_SEEN_SALT = "formcheck.seen.v1"

_hasher = PasswordHasher()  # stateless; argon2id with the library's RFC 9106 defaults


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a wrong password or an account without one."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def load_or_create_secret(data_dir: Path) -> str:
    """The signing key, kept in the data dir (0600) so sessions survive a restart."""
    path = data_dir / "web_secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


LAUNCH_TOKEN_FILE = "single_user.token"


def load_or_create_launch_token(data_dir: Path, *, rotate: bool = False) -> str:
    """Single-user mode's secret (`/?token=...`), kept in the data dir (0600) and reused by every launch, so the
    browser that opened it yesterday is still let in today (issue 19); `rotate` makes a new one (`--new-token`)."""
    path = data_dir / LAUNCH_TOKEN_FILE
    if path.exists() and not rotate:
        token = path.read_text().strip()
        if token:
            return token
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(token)
    return token


@dataclass(frozen=True)
class SessionData:
    """What the signed cookie holds: who (None before sign-in) and the CSRF token bound to this session."""

    user_id: int | None
    csrf: str
    password_tag: str = ""  # of the password hash at sign-in: a password change signs out every session


class SessionCodec:
    """Signs and reads session cookies; one per app (the key comes from the app's settings)."""

    def __init__(self, secret_key: str, *, max_age_s: int, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._seen = URLSafeTimedSerializer(secret_key, salt=_SEEN_SALT)
        self.max_age_s = max_age_s
        self.secure = secure

    def read(self, conn: HTTPConnection) -> SessionData | None:
        raw = conn.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        uid = data.get("uid")
        tag = data.get("pw")
        return SessionData(
            user_id=uid if isinstance(uid, int) else None,
            csrf=data["csrf"],
            password_tag=tag if isinstance(tag, str) else "",
        )

    def write(self, response: Response, session: SessionData) -> None:
        token = self._serializer.dumps({"uid": session.user_id, "csrf": session.csrf, "pw": session.password_tag})
        response.set_cookie(
            SESSION_COOKIE, token, max_age=self.max_age_s, httponly=True, secure=self.secure, samesite="lax", path="/"
        )
        response.set_cookie(
            CSRF_COOKIE,
            session.csrf,
            max_age=self.max_age_s,
            httponly=True,
            secure=self.secure,
            samesite="strict",
            path="/",
        )

    def write_seen(self, response: Response, name: str) -> None:
        """Remember that `name` signed in from this browser (kept across sign-out, for the session's lifetime)."""
        response.set_cookie(
            SEEN_COOKIE,
            self._seen.dumps(name.strip().casefold()),
            max_age=self.max_age_s,
            httponly=True,
            secure=self.secure,
            samesite="strict",
            path="/api/auth/",
        )

    def seen_name(self, conn: HTTPConnection) -> str | None:
        """The name this browser last signed in with (signed, at most max_age old), or None."""
        raw = conn.cookies.get(SEEN_COOKIE)
        if not raw:
            return None
        try:
            name = self._seen.loads(raw, max_age=self.max_age_s)
        except BadSignature:
            return None
        return name if isinstance(name, str) else None

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")


def password_tag(password_hash: str | None) -> str:
    """A short fingerprint of the stored hash (not of the password) to bind sessions to the current password."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def new_session(user_id: int | None, password_hash: str | None = None) -> SessionData:
    """A fresh session; a new CSRF token on every sign-in/out so a token seen before sign-in is useless after."""
    return SessionData(
        user_id=user_id,
        csrf=secrets.token_urlsafe(32),
        password_tag=password_tag(password_hash) if user_id is not None else "",
    )


MAX_FAILED_SIGNINS = 5  # judgement call (OWASP: slow down after a handful of failures, for a while)
SIGNIN_LOCKOUT_S = 15 * 60  # failures older than this are forgotten
# After MAX_FAILED_SIGNINS failures each further attempt waits FAILURE_DELAY_S * 2^(extra failures), at most
# MAX_FAILURE_DELAY_S, after the last failure: guessing stays slow, and the right password gets in after a
# short wait instead of a 15-minute refusal (issue 17 M3; judgement call).
FAILURE_DELAY_S = 2.0
MAX_FAILURE_DELAY_S = 60.0
MAX_TRACKED_NAMES = 10_000
# The sign-in flood (issue 8 finding 5): argon2id verifies with 64 MiB each, so at most this many run at once
# (2 cores here: one per core) and the rest are answered 429 at once instead of queueing on the thread pool.
MAX_CONCURRENT_VERIFICATIONS = 2
SIGNIN_GLOBAL_RATE_PER_S = 2.0  # judgement call: a clinic's morning sign-ins are a few a minute
SIGNIN_GLOBAL_BURST = 10
ARGON2_NICE = 10  # verifications run in low-priority threads (argon2's own threads inherit it)
SIGNIN_CLIENT_RATE_PER_S = 1 / 3  # per client address: one attempt every 3 s on average...
SIGNIN_CLIENT_BURST = 10  # ...after a burst of 10 (typos, a shared family laptop)
SIGNIN_BUSY = "Sign-in is busy: try again in a few seconds"
SIGNIN_TOO_FAST = "Too many sign-in attempts from this address: wait {s} s and try again"


class SignInThrottle:
    """Failed sign-ins per key (one per app, in memory): after MAX_FAILED_SIGNINS within SIGNIN_LOCKOUT_S, each
    attempt must wait a delay that doubles with every further failure (`wait_s`), so passwords cannot be guessed
    at speed. The sign-in route keys it by (client address, name), so someone else failing on your name never
    slows you down (the address is the peer's, or a trusted proxy's X-Forwarded-For: FORMCHECK_TRUSTED_PROXIES)."""

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILED_SIGNINS,
        window_s: float = SIGNIN_LOCKOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures: dict[str, list[float]] = {}
        self._max, self._window_s, self._clock = max_failures, window_s, clock
        self._lock = threading.Lock()

    def _recent(self, name: str) -> list[float]:
        now = self._clock()
        recent = [t for t in self._failures.get(name.casefold(), []) if now - t < self._window_s]
        self._failures[name.casefold()] = recent
        return recent

    def wait_s(self, name: str) -> float:
        """Seconds before `name` may try again (0: now)."""
        with self._lock:
            recent = self._recent(name)
            if len(recent) < self._max:
                return 0.0
            delay = min(MAX_FAILURE_DELAY_S, FAILURE_DELAY_S * 2.0 ** (len(recent) - self._max))
            return max(0.0, recent[-1] + delay - self._clock())

    def locked(self, name: str) -> bool:
        return self.wait_s(name) > 0

    def failed(self, name: str) -> None:
        with self._lock:
            self._recent(name).append(self._clock())
            if len(self._failures) > MAX_TRACKED_NAMES:  # bounded memory under a flood of made-up names
                for key in list(self._failures):
                    if not self._recent(key):
                        del self._failures[key]
                while len(self._failures) > MAX_TRACKED_NAMES:
                    del self._failures[next(iter(self._failures))]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.casefold(), None)


def _low_priority() -> None:
    with suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ARGON2_NICE)


class SignInRefusedError(Exception):
    """429: why, and after how many seconds to retry."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.message, self.retry_after_s = message, retry_after_s


class SignInGate:
    """Everything a sign-in must pass before argon2 runs: per-client and global rate limits, the per-(client,
    name) failure lockout and a bound on concurrent verifications. One per app."""

    def __init__(
        self,
        *,
        concurrent: int = MAX_CONCURRENT_VERIFICATIONS,
        global_rate_per_s: float = SIGNIN_GLOBAL_RATE_PER_S,
        global_burst: float = SIGNIN_GLOBAL_BURST,
        client_rate_per_s: float = SIGNIN_CLIENT_RATE_PER_S,
        client_burst: float = SIGNIN_CLIENT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from formcheck.webapp.limits import KeyedBuckets, TokenBucket

        self._slots = threading.BoundedSemaphore(concurrent)
        # Verifications run here, not on the shared thread pool, at low CPU priority: under a flood the pages and
        # API calls of everyone else still get the cores first.
        self.executor = ThreadPoolExecutor(
            max_workers=concurrent, thread_name_prefix="argon2", initializer=_low_priority
        )
        self._global = TokenBucket(global_rate_per_s, global_burst, clock)
        self._global_lock = threading.Lock()
        self._clients = KeyedBuckets(client_rate_per_s, client_burst, clock=clock)
        self.failures = SignInThrottle(clock=clock)

    @staticmethod
    def _key(client: str, name: str) -> str:
        return f"{client}\x00{name.strip()}"

    def admit(self, client: str, name: str, *, known: bool = False) -> None:
        """Raise SignInRefusedError unless this attempt may go on to a password check. `known`: this browser holds
        a recent signed proof that `name` signed in here: it is not held back by the global bucket."""
        wait_s = self.failures.wait_s(self._key(client, name))
        if wait_s > 0:
            raise SignInRefusedError(TOO_MANY_FAILURES.format(s=max(1, math.ceil(wait_s))), wait_s)
        ok, wait_s = self._clients.take(client)
        if not ok:
            raise SignInRefusedError(SIGNIN_TOO_FAST.format(s=max(1, math.ceil(wait_s))), wait_s)
        if known:
            return
        with self._global_lock:
            ok = self._global.take()
            wait_s = self._global.wait_s()
        if not ok:
            raise SignInRefusedError(SIGNIN_BUSY, max(1.0, wait_s))

    @contextmanager
    def verifying(self) -> Iterator[None]:
        """Hold one of the few verification slots, or refuse at once (never queue behind a flood)."""
        if not self._slots.acquire(blocking=False):
            raise SignInRefusedError(SIGNIN_BUSY, 1.0)
        try:
            yield
        finally:
            self._slots.release()

    def failed(self, client: str, name: str) -> None:
        self.failures.failed(self._key(client, name))

    def succeeded(self, client: str, name: str) -> None:
        self.failures.succeeded(self._key(client, name))


TOO_MANY_FAILURES = "Too many wrong passwords for this name: wait {s} s and try again"


def csrf_matches(session: SessionData | None, supplied: str | None) -> bool:
    if session is None or not supplied:
        return False
    return hmac.compare_digest(session.csrf.encode(), supplied.encode())
