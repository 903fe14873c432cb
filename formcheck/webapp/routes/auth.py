"""Sign-in, sign-out and "who am I" (JSON; the sign-in pages post here from JS)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from formcheck.webapp import repo
from formcheck.webapp.auth import (
    CSRF_HEADER,
    TOO_MANY_FAILURES,
    SignInRefusedError,
    csrf_matches,
    hash_password,
    new_session,
    verify_password,
)
from formcheck.webapp.deps import CSRF_FAILED, CodecDep, CurrentUser, SessionDep, StoreDep
from formcheck.webapp.schemas import SignIn, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])

WRONG_CREDENTIALS = "Wrong name or password"
# A refused sign-in is answered after this pause: a flooding client's next attempt waits for it, so 48 parallel
# attackers make ~48 requests a second instead of hundreds (judgement call; a person retrying never notices).
SIGNIN_REFUSAL_DELAY_S = 1.0


@functools.cache
def _dummy_hash() -> str:
    """Verifying against a fixed hash when the name is unknown keeps sign-in time the same for both failures."""
    return hash_password("formcheck-no-such-user")


@router.get("/csrf")
async def csrf_token(response: Response, codec: CodecDep, session: SessionDep) -> dict[str, str]:
    """The CSRF token for this browser; starts an anonymous session if there is none (needed to sign in)."""
    if session is None:
        session = new_session(None)
        codec.write(response, session)
    return {"csrf_token": session.csrf}


def _check_password(store: Any, name: str, password: str) -> tuple[Any, bool]:
    found = repo.find_login(store, name)
    return found, verify_password(found[1] if found else _dummy_hash(), password)


KNOWN_SLOT_WAIT_S = 3.0  # a returning person waits this long for a verification slot before "busy"
SLOT_POLL_S = 0.05


async def _verify(gate: Any, store: Any, name: str, password: str, *, known: bool) -> tuple[Any, bool]:
    """The argon2 check in one of the gate's few slots; a returning person waits briefly for one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (KNOWN_SLOT_WAIT_S if known else 0.0)
    while True:
        try:
            with gate.verifying():
                return await loop.run_in_executor(gate.executor, _check_password, store, name, password)
        except SignInRefusedError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(SLOT_POLL_S)


@router.post(
    "/signin",
    responses={401: {"description": WRONG_CREDENTIALS}, 429: {"description": TOO_MANY_FAILURES.format(s="N")}},
)
async def sign_in(
    body: SignIn, request: Request, response: Response, store: StoreDep, codec: CodecDep, session: SessionDep
) -> UserPublic:
    """Check name + password; on success a new session (and a new CSRF token) replaces the anonymous one.

    Rate limits and the bound on concurrent argon2 verifications are decided here on the event loop, so a flood
    is answered 429 without ever occupying the shared thread pool; only admitted checks run in a worker thread."""
    if not csrf_matches(session, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CSRF_FAILED)
    name = body.name.strip()
    gate = request.app.state.signin_gate
    # the peer's address: uvicorn replaces it with X-Forwarded-For only for FORMCHECK_TRUSTED_PROXIES (cli/serve.py)
    client = request.client.host if request.client else ""
    known = codec.seen_name(request) == name.casefold()
    try:
        gate.admit(client, name, known=known)
        found, ok = await _verify(gate, store, name, body.password, known=known)
    except SignInRefusedError as refused:
        await asyncio.sleep(SIGNIN_REFUSAL_DELAY_S)  # tarpit: a flood waits here, costing the server nothing
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            refused.message,
            headers={"Retry-After": str(max(1, round(refused.retry_after_s)))},
        ) from None
    if not found or not ok:
        gate.failed(client, name)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG_CREDENTIALS)
    gate.succeeded(client, name)
    user, _, binding = found
    fresh = new_session(user.id, binding)
    codec.write(response, fresh)
    codec.write_seen(response, name)
    return UserPublic(id=user.id, name=user.name, role=user.role, csrf_token=fresh.csrf, named=user.named)


@router.post("/signout")
def sign_out(
    user: CurrentUser, response: Response, codec: CodecDep, store: StoreDep, session: SessionDep
) -> dict[str, bool]:
    """Sign out everywhere: the server-side session generation moves on, so a copied cookie is dead too."""
    if session is not None and session.user_id == user.id:
        repo.revoke_sessions(store, user.id)
    codec.clear(response)
    return {"signed_out": True}


@router.get("/me")
def me(user: CurrentUser, response: Response, codec: CodecDep, session: SessionDep) -> UserPublic:
    """The current user and the CSRF token the page must echo on state-changing requests."""
    if session is None:  # single-user mode without a cookie yet
        session = new_session(None)
        codec.write(response, session)
    return UserPublic(id=user.id, name=user.name, role=user.role, csrf_token=session.csrf, named=user.named)
