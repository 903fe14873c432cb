"""The app factory: settings in, a wired FastAPI app out (store, job runner, routers, one error handler)."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from formcheck.errors import (
    FormcheckError,
    InputError,
    PoseModelError,
    SpecError,
    StoreError,
    VideoError,
)
from formcheck.programme.model import load_programme
from formcheck.webapp import repo
from formcheck.webapp.auth import SessionCodec, SignInGate, load_or_create_launch_token, load_or_create_secret
from formcheck.webapp.guards import BodyTimeout, HostOriginGuard, IdBounds, ResponseHeaders, TokenExchange
from formcheck.webapp.limits import LiveSlots
from formcheck.webapp.privacy import private_dir
from formcheck.webapp.routes import include_all
from formcheck.webapp.settings import BROWSER_POSE_PER_PERSON, Settings
from formcheck.webapp.supervisor import JobRunner

log = logging.getLogger(__name__)

# One place that decides how a domain error looks over HTTP.
ERROR_STATUS: tuple[tuple[type[FormcheckError], int, str], ...] = (
    (InputError, 400, "input"),
    (VideoError, 422, "video"),
    (SpecError, 500, "spec"),
    (StoreError, 503, "store"),
    (PoseModelError, 503, "model"),
    (FormcheckError, 400, "error"),
)
# What a client is told for a 5xx: the details (a database URL, a path) go to the log only (issue 17 L2).
PUBLIC_5XX = {
    "store": "The database is not answering: try again in a minute",
    "model": "The pose model is not available on this server",
    "spec": "Internal error in the exercise library: the server log has the details",
}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _html_error(request: Request, status: int, detail: str) -> HTMLResponse:
    """Browsers get a small page (and a sign-in link on 401) instead of raw JSON; the status stays the same."""
    signin = "/clinician/signin" if "/clinician" in request.url.path else "/signin"
    settings = request.app.state.settings
    label = "Sign in"
    if status == 401 and settings.single_user_active and "/clinician" not in request.url.path:
        # the local person has no password: never a sign-in form, only how to get back in (issue 19)
        detail = (
            "This browser is not let in yet: open the address formcheck printed when it started "
            f"(http://{settings.host}:{settings.port}/?token=…); it stays the same from one launch to the next"
        )
        label = "How to get back in"
    target = f"{signin}?next={html.escape(request.url.path)}"
    link = (
        f'<p><a class="button" href="{target}">{label}</a></p>'
        if status == 401
        else '<p><a href="/">Back to the start page</a></p>'
    )
    forward = f'<meta http-equiv="refresh" content="0;url={target}">' if status == 401 else ""
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>formcheck</title>{forward}'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<link rel="stylesheet" href="/static/app.css"></head><body class="error-page"><main class="card narrow">'
        f"<h1>{status}</h1><p>{html.escape(detail)}</p>{link}</main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def formcheck_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormcheckError)
        status, kind = 400, "error"
        for cls, code, name in ERROR_STATUS:
            if isinstance(exc, cls):
                status, kind = code, name
                break
        detail = str(exc)
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            detail = exc.public or PUBLIC_5XX.get(kind, "Internal error: the server log has the details")
        if _wants_html(request):
            return _html_error(request, status, detail)
        return JSONResponse({"detail": detail, "kind": kind}, status_code=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if _wants_html(request):
            return _html_error(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
            # an id out of range (or not a number) names nothing that exists, like any unknown id
            return JSONResponse({"detail": "Not found"}, status_code=404)
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    app.add_exception_handler(FormcheckError, formcheck_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app. Nothing is opened until here: tests pass `Settings(data_dir=tmp_path)`."""
    settings = settings or Settings.from_env()
    private_dir(settings.data_dir)
    private_dir(settings.uploads_dir)
    if settings.single_user_active and not settings.token:
        settings = settings.model_copy(update={"token": load_or_create_launch_token(settings.data_dir)})
    store = repo.open_store(settings)
    runner = JobRunner(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner.start(store)
        runner.recover(store)
        try:
            yield
        finally:
            runner.shutdown()
            store.close()

    app = FastAPI(
        title="formcheck",
        version="0.1.0",
        description="Camera-guided knee rehab: live coaching, upload-for-review and clinician review.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load from a CDN: only with FORMCHECK_DOCS=1 (development); /openapi.json stays.
        docs_url="/docs" if settings.docs else None,
        redoc_url="/redoc" if settings.docs else None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.jobs = runner
    app.state.programme = load_programme()
    secret = settings.secret_key or load_or_create_secret(settings.data_dir)
    app.state.session_codec = SessionCodec(secret, max_age_s=settings.session_max_age_s, secure=settings.secure_cookies)
    app.state.signin_gate = SignInGate()
    app.state.live_slots = LiveSlots(settings.max_live_connections, settings.max_live_per_person)
    # browser-pose sockets (no server model) have their own, larger cap; a JPEG on one takes a live slot then
    app.state.browser_pose_slots = LiveSlots(
        settings.max_browser_pose_connections, max(settings.max_live_per_person, BROWSER_POSE_PER_PERSON)
    )
    _install_error_handlers(app)
    # Outermost last: the Host/Origin check runs first, then the token exchange, headers and the body timeout.
    app.add_middleware(BodyTimeout, timeout_s=settings.body_timeout_s)
    app.add_middleware(IdBounds)
    app.add_middleware(ResponseHeaders, secure_cookies=settings.secure_cookies)
    app.add_middleware(
        TokenExchange, token=settings.token if settings.single_user_active else None, secure=settings.secure_cookies
    )
    app.add_middleware(HostOriginGuard, names=settings.allowed_host_names, https_ok=settings.secure_cookies)

    include_all(app)
    app.mount("/static", StaticFiles(directory=settings.resolved_web_dir), name="static")
    return app
