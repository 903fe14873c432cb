"""`formcheck serve` (the web app under uvicorn) and `formcheck set-password` (web sign-in for an account)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Callable
from typing import Any

from formcheck.errors import InputError
from formcheck.webapp.settings import DEFAULT_HOST, DEFAULT_PORT, Settings, is_loopback

log = logging.getLogger(__name__)

WS_SLACK_BYTES = 64 * 1024  # JSON control messages and the frame header on top of the largest JPEG
MIN_PASSWORD_CHARS = 8  # judgement call (NIST SP 800-63B minimum for user-chosen secrets)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help=f"run the web app (default http://{DEFAULT_HOST}:{DEFAULT_PORT})")
    p.add_argument("--host", default=None, help=f"address to listen on (default {DEFAULT_HOST}; FORMCHECK_HOST)")
    p.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT}; FORMCHECK_PORT)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="database, uploads and results (default FORMCHECK_DATA_DIR, else the per-user data dir)",
    )
    p.add_argument(
        "--single-user",
        action="store_true",
        default=None,
        help="on 127.0.0.1 only: the one person on this machine needs no sign-in (clinicians always do)",
    )
    p.add_argument(
        "--new-token",
        action="store_true",
        help="single-user mode: replace the kept sign-in address (/?token=...) by a new one; old browsers sign out",
    )
    p.set_defaults(func=_serve)

    p = subparsers.add_parser("set-password", help="set the web sign-in password of a person or clinician")
    p.add_argument("name", help="the account's name (see `formcheck people list`)")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input (for scripts)")
    p.add_argument("--data-dir", default=None, help="data directory (default FORMCHECK_DATA_DIR)")
    p.set_defaults(func=_set_password)


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides: dict[str, object] = dict(extra)
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    return Settings.from_env(**overrides)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from formcheck.webapp.app import create_app
    from formcheck.webapp.auth import load_or_create_launch_token
    from formcheck.webapp.privacy import private_tree, restrict_umask

    restrict_umask()  # database, uploads, clips: 0600 / 0700 for this process and its workers
    settings = _settings(args, host=args.host, port=args.port, single_user=args.single_user)
    if settings.data_dir.is_dir():
        private_tree(settings.data_dir)  # what an older version left 0755 / 0644
    if args.single_user and not is_loopback(settings.host):
        raise InputError("--single-user only works when serving on 127.0.0.1 (it would let anyone in)")
    if settings.single_user_active:
        # One secret per data dir, kept across launches so yesterday's browser is still in (issue 19);
        # FORMCHECK_TOKEN fixes one for scripts and tests, --new-token replaces the kept one.
        token = settings.token or load_or_create_launch_token(settings.data_dir, rotate=bool(args.new_token))
        settings = settings.model_copy(update={"token": token})
        _ensure_single_person(settings)
    app = create_app(settings)
    if settings.secure_cookies:
        log.warning("serving on %s: sign-in cookies are Secure, so put HTTPS (a reverse proxy) in front", settings.host)
    print(f"formcheck: serving on http://{settings.host}:{settings.port} (data in {settings.data_dir})", flush=True)
    if settings.single_user_active:
        print(f"formcheck: open http://{settings.host}:{settings.port}/?token={settings.token}", flush=True)
    from formcheck.webapp.live import MAX_FRAME_BYTES

    # uvicorn would accept 16 MB WebSocket messages before the live route's own size check runs. Proxy headers
    # (the client address sign-in throttling is keyed by, the scheme) only from FORMCHECK_TRUSTED_PROXIES: uvicorn's
    # default believes X-Forwarded-For from loopback, i.e. from anyone when the app runs behind a local proxy.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ws_max_size=MAX_FRAME_BYTES + WS_SLACK_BYTES,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or "",
        http=header_deadline_protocol(settings.header_timeout_s),
    )
    return 0


def header_deadline_protocol(timeout_s: float) -> type | str:
    """uvicorn's HTTP/1.1 protocol with a deadline on the request line and headers (issue 17 L3): a connection
    that has not finished them `timeout_s` after it opened (or after its previous response) is closed. uvicorn
    and h11 have none: 1,100 connections that never finish their headers used to hold every file descriptor."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # uvicorn without httptools (pip install uvicorn[standard] brings it): no header deadline
        log.warning("httptools is not installed: connections that never finish their headers are not timed out")
        return "auto"

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(timeout_s, self._header_timeout)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                log.info("closed a connection that did not finish its headers within %.0f s", timeout_s)
                self.transport.close()

        # A deadline from the connection's first byte (or its opening) to the end of the headers; an idle
        # keep-alive connection between requests is uvicorn's own (timeout_keep_alive).
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


SINGLE_USER_NAME = "me"  # the person created on first run in single-user mode (rename with `formcheck people`)


def _ensure_single_person(settings: Settings) -> None:
    """First run on a laptop: single-user mode serves the local person; create (or mark) them if needed."""
    from formcheck.store.local_person import ensure_local_person
    from formcheck.webapp import repo

    store = repo.open_store(settings)
    try:
        person, created = ensure_local_person(store)
        if created and person is not None:
            print(f"formcheck: created the person '{person.name}' for single-user mode", flush=True)
            if sys.stdin.isatty():
                ask_name(store, person.id, input)
    finally:
        store.close()


def ask_name(store: Any, person_id: int, read: Callable[[str], str]) -> str | None:
    """`make run`'s first run asks the person's name (the Today page asks too); a pronoun or nothing is not kept."""
    from formcheck.store.accounts import PRONOUNS

    try:
        name = read("formcheck: what is your name? (your clinician sees it; Enter to skip) ").strip()
    except EOFError:
        return None
    if not name or name.casefold() in PRONOUNS:
        return None
    try:
        return str(store.set_display_name(person_id, name).display_name)
    except InputError as exc:
        print(f"formcheck: {exc}: the Today page will ask again", flush=True)
        return None


def _set_password(args: argparse.Namespace) -> int:
    from formcheck.webapp import repo
    from formcheck.webapp.auth import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            raise InputError("no terminal to type the password on: pipe it in with --stdin")
        try:
            password = getpass.getpass("New password: ")
            if getpass.getpass("Again: ") != password:
                raise InputError("the two passwords differ")
        except EOFError:
            raise InputError("no password typed (end of input): try again, or pipe it in with --stdin") from None
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    store = repo.open_store(_settings(args))
    try:
        person = store.get_person(args.name)
        store.set_password_hash(person.id, hash_password(password))
    finally:
        store.close()
    print(f"password set for {person.name} ({person.role})")
    return 0
