"""HTML pages: static files from web/, each behind the same access checks as the JSON API it calls."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from formcheck.webapp.deps import (
    ClinicianPerson,
    ClinicianRepOwner,
    ClinicianUser,
    CurrentUser,
    SettingsDep,
    VisibleUpload,
)
from formcheck.webapp.schemas import Role
from formcheck.webapp.settings import Settings

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)

MAX_NEXT_CHARS = 2000


def _include_person_routes() -> None:
    """The person's own JSON views (settings, today, summary, progress) and the front-end packages."""
    from formcheck.webapp import me, vendor

    router.include_router(me.router, default_response_class=JSONResponse)
    router.include_router(vendor.router)


_include_person_routes()


def _page(settings: Settings, name: str) -> FileResponse:
    return FileResponse(settings.resolved_web_dir / name, media_type="text/html", headers={"Cache-Control": "no-store"})


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None. Browsers read "/\\evil.example" (and "//evil", "/\t/evil")
    as another host, so only a single leading slash followed by a non-slash, non-backslash is accepted."""
    if not target or not target.startswith("/") or len(target) > MAX_NEXT_CHARS:
        return None
    if any(ch in target for ch in "\\") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _signin(request: Request, settings: Settings) -> Response:
    """The sign-in page; an unsafe `next` (another site) is dropped by a redirect before the page's script
    ever reads it (open redirect, issue 8 finding 11)."""
    nxt = request.query_params.get("next")
    if nxt is not None and safe_next(nxt) is None:
        return RedirectResponse(request.url.path, status_code=status.HTTP_303_SEE_OTHER)
    return _page(settings, "signin.html")


@router.get("/signin", response_class=FileResponse, response_model=None)
def signin_page(request: Request, settings: SettingsDep) -> Response:
    return _signin(request, settings)


@router.get("/clinician/signin", response_class=FileResponse, response_model=None)
def clinician_signin_page(request: Request, settings: SettingsDep) -> Response:
    return _signin(request, settings)


@router.get("/", response_class=FileResponse, response_model=None)
def home_page(user: CurrentUser, settings: SettingsDep) -> Response:
    """A person's start page (their uploads and their clinician's notes); clinicians go to their own."""
    if user.role is Role.CLINICIAN:
        return RedirectResponse("/clinician", status_code=status.HTTP_303_SEE_OTHER)
    return _page(settings, "home.html")


@router.get("/upload", response_class=FileResponse)
def upload_page(user: CurrentUser, settings: SettingsDep) -> FileResponse:
    return _page(settings, "upload.html")


@router.get("/uploads/{upload_id}", response_class=FileResponse)
def result_page(upload: VisibleUpload, settings: SettingsDep) -> FileResponse:
    return _page(settings, "result.html")


@router.get("/clinician", response_class=FileResponse)
def clinician_home_page(user: ClinicianUser, settings: SettingsDep) -> FileResponse:
    return _page(settings, "clinician.html")


@router.get("/clinician/queue", response_class=FileResponse)
def clinician_queue_page(user: ClinicianUser, settings: SettingsDep) -> FileResponse:
    return _page(settings, "clinician_queue.html")


@router.get("/clinician/people/{person_id}", response_class=FileResponse)
def clinician_person_page(person: ClinicianPerson, settings: SettingsDep) -> FileResponse:
    return _page(settings, "clinician_person.html")


@router.get("/clinician/reps/{rep_key}", response_class=FileResponse)
def clinician_rep_page(owner: ClinicianRepOwner, settings: SettingsDep) -> FileResponse:
    return _page(settings, "clinician_rep.html")


@router.get("/progress", response_class=FileResponse)
def progress_page(user: CurrentUser, settings: SettingsDep) -> FileResponse:
    """The person's own progress: pain, level path, valid-rep share, days done."""
    return _page(settings, "progress.html")
