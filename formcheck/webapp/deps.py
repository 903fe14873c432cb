"""FastAPI dependencies as `Annotated` aliases: route code asks for what it needs by type.

    @router.get("/api/uploads/{upload_id}")
    def get_upload(upload_id: int, user: CurrentUser, store: StoreDep) -> UploadPublic: ...

`CurrentUser` answers 401 for an anonymous request and, for a state-changing method (POST/PUT/PATCH/DELETE),
403 unless the request echoes the session's CSRF token in the `X-CSRF-Token` header (only a script of this
origin can set it; a form field could be posted by any page, issue 17 M1). So every authenticated route is
CSRF-checked without having to remember it.
`ClinicianUser` additionally answers 403 unless the user is a clinician (single-user mode never applies);
`PersonUser` answers 403 unless the user is a person (a programme day, readiness, pain: issue 17 L8).

Pages: use `CurrentUser` too (not a redirect): an anonymous request gets 401 from every route (tests/test_web_access.py
checks each route in app.routes), and the app's error handler turns a 401 for a browser (Accept: text/html,
not /api/) into a small page that forwards to /signin?next=<path> (/clinician/signin under /clinician). Keep every
route in the OpenAPI schema (no include_in_schema=False): the same test compares the schema with app.routes.

WebSocket: the same aliases work in a WebSocket route because the dependencies take an `HTTPConnection`:

    @router.websocket("/ws/live")
    async def live(ws: WebSocket, user: CurrentUser, store: StoreDep): ...

The browser sends the session cookie with the WebSocket handshake (same origin), so no token is needed in the
URL. For a WebSocket, an anonymous handshake is refused with close code 1008 (policy violation) and a
handshake whose Origin is another site is refused the same way (cross-site WebSocket hijacking); no CSRF token
is involved. Call `websocket_user(ws)` directly if you prefer to accept first and then send an error message.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, WebSocketException, status
from starlette.requests import HTTPConnection, Request

from formcheck.errors import InputError
from formcheck.store.programme_service import ProgrammeService
from formcheck.webapp import repo
from formcheck.webapp.auth import (
    CSRF_HEADER,
    SAFE_METHODS,
    SessionCodec,
    SessionData,
    csrf_matches,
    password_tag,
)
from formcheck.webapp.guards import MAX_DB_ID, TOKEN_COOKIE, foreign_request, token_matches
from formcheck.webapp.schemas import Role, User
from formcheck.webapp.settings import Settings, is_loopback

NOT_SIGNED_IN = "Sign in first"
CSRF_FAILED = "CSRF token missing or wrong: reload the page and try again"
CLINICIANS_ONLY = "This page is for clinicians"
PEOPLE_ONLY = "This is for the person doing the exercises: clinicians have their own pages"


# The getters are async so FastAPI resolves them on the event loop: a flood of cheap requests must not queue
# other people's requests behind it on the thread pool (issue 8 finding 5).
async def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


async def get_store(conn: HTTPConnection) -> Any:
    return conn.app.state.store


async def get_codec(conn: HTTPConnection) -> SessionCodec:
    return conn.app.state.session_codec


async def get_session(conn: HTTPConnection) -> SessionData | None:
    return conn.app.state.session_codec.read(conn)


async def get_service(conn: HTTPConnection) -> ProgrammeService:
    """The programme's session service over this app's store (the programme file is loaded once per app)."""
    return ProgrammeService(conn.app.state.store, conn.app.state.programme)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[ProgrammeService, Depends(get_service)]
StoreDep = Annotated[Any, Depends(get_store)]
CodecDep = Annotated[SessionCodec, Depends(get_codec)]
SessionDep = Annotated[SessionData | None, Depends(get_session)]


def _same_origin(conn: HTTPConnection) -> bool:
    """No Origin (a non-browser client), or this server's own origin: scheme, host and port (guards.same_origin;
    the Host header's name was checked against the served names before any route runs)."""
    return not foreign_request(conn.scope, https_ok=conn.app.state.settings.secure_cookies)


def _has_launch_token(conn: HTTPConnection, settings: Settings) -> bool:
    """Single-user mode: the per-launch secret, from its HttpOnly cookie or an `Authorization: token X` header.
    The cookie is sent to every port of 127.0.0.1, so it counts only on a request of this origin (issue 17 M1)."""
    supplied = conn.cookies.get(TOKEN_COOKIE) if _same_origin(conn) else None
    auth = conn.headers.get("authorization", "")
    if not supplied and auth.lower().startswith("token "):
        supplied = auth[6:].strip()
    return token_matches(settings.token, supplied)


def _resolve_user(conn: HTTPConnection, settings: Settings, store: Any, session: SessionData | None) -> User | None:
    if session is not None and session.user_id is not None:
        found = repo.get_user_and_hash(store, session.user_id)
        if found is not None and hmac.compare_digest(session.password_tag, password_tag(found[1])):
            return found[0]
    client_host = conn.client.host if conn.client else ""
    if settings.single_user_active and is_loopback(client_host) and _has_launch_token(conn, settings):
        return repo.single_user_person(store)
    return None


async def current_user(conn: HTTPConnection, settings: SettingsDep, store: StoreDep, session: SessionDep) -> User:
    """The signed-in user; 401 if none; CSRF-checked for state-changing HTTP methods."""
    is_ws = conn.scope["type"] == "websocket"
    if is_ws and not _same_origin(conn):
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="cross-origin WebSocket refused")
    user = _resolve_user(conn, settings, store, session)
    if user is None:
        if is_ws:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=NOT_SIGNED_IN)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, NOT_SIGNED_IN)
    if not is_ws and isinstance(conn, Request) and conn.method not in SAFE_METHODS:
        await require_csrf(conn, session)
    return user


async def require_csrf(request: Request, session: SessionData | None) -> None:
    """The session's token in the X-CSRF-Token header (a header only a script of this origin can add), from a
    request of this origin."""
    if not _same_origin(request) or not csrf_matches(session, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CSRF_FAILED)


CurrentUser = Annotated[User, Depends(current_user)]


async def clinician_user(conn: HTTPConnection, user: CurrentUser, session: SessionDep) -> User:
    """A signed-in clinician (never the single-user shortcut); 403 for a person."""
    if user.role is not Role.CLINICIAN or session is None or session.user_id != user.id:
        if conn.scope["type"] == "websocket":
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=CLINICIANS_ONLY)
        raise HTTPException(status.HTTP_403_FORBIDDEN, CLINICIANS_ONLY)
    return user


ClinicianUser = Annotated[User, Depends(clinician_user)]


async def person_user(conn: HTTPConnection, user: CurrentUser) -> User:
    """A person (signed in, or the single-user shortcut); 403 for a clinician's own account."""
    if user.role is not Role.PERSON:
        if conn.scope["type"] == "websocket":
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=PEOPLE_ONLY)
        raise HTTPException(status.HTTP_403_FORBIDDEN, PEOPLE_ONLY)
    return user


PersonUser = Annotated[User, Depends(person_user)]
# A database id in a path: 1 .. 2^31-1 (PostgreSQL INTEGER); anything else is 404 (app.py's validation handler).
PathId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


async def websocket_user(conn: HTTPConnection) -> User | None:
    """The user behind a WebSocket handshake, or None (for routes that accept first, then explain)."""
    if not _same_origin(conn):
        return None
    app = conn.app
    return _resolve_user(conn, app.state.settings, app.state.store, app.state.session_codec.read(conn))


def visible_person_ids(store: Any, user: User) -> set[int]:
    """Whose data this user may see: a person only themself; a clinician only the people under their care."""
    if user.role is Role.CLINICIAN:
        return set(repo.people_of_clinician(store, user.id))
    return {user.id}


def require_person_visible(store: Any, user: User, person_id: int) -> None:
    """404 (not 403, so ids of other people's data are not confirmed to exist) unless `user` may see the person."""
    if person_id not in visible_person_ids(store, user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")


# Access to a path's object as a dependency, so it is decided before the request body is even validated.
def _clinicians_person(person_id: PathId, user: ClinicianUser, store: StoreDep) -> Any:
    require_person_visible(store, user, person_id)
    return store.get_person_by_id(person_id)


def _visible_upload(upload_id: PathId, user: CurrentUser, store: StoreDep) -> Any:
    up = repo.get_upload(store, upload_id)
    if up is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    require_person_visible(store, user, up.owner_id)
    return up


def _clinicians_rep_owner(rep_key: str, user: ClinicianUser, store: StoreDep) -> int:
    owner = repo.rep_owner(store, rep_key)
    if owner is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    require_person_visible(store, user, owner)
    return owner


def _own_session(session_id: PathId, user: PersonUser, store: StoreDep) -> Any:
    try:
        row = store.get_session(session_id)
    except InputError:
        row = None
    if row is None or row.person_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    return row


ClinicianPerson = Annotated[Any, Depends(_clinicians_person)]  # a store Person under this clinician's care
VisibleUpload = Annotated[Any, Depends(_visible_upload)]  # an UploadRow this user may see
ClinicianRepOwner = Annotated[int, Depends(_clinicians_rep_owner)]  # person id owning a rep key of this clinician's
OwnSession = Annotated[Any, Depends(_own_session)]  # a programme session (SessionRow) of the signed-in person
