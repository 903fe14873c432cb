"""HTML pages: static files from web/, each behind the same access checks as the JSON API it calls."""

from __future__ import annotations

from fastapi import APIRouter, status
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


def _include_person_routes() -> None:
    """The person's own JSON views (settings, today, summary, progress) and the front-end packages."""
    from formcheck.webapp import me, vendor

    router.include_router(me.router, default_response_class=JSONResponse)
    router.include_router(vendor.router)


_include_person_routes()


def _page(settings: Settings, name: str) -> FileResponse:
    return FileResponse(settings.resolved_web_dir / name, media_type="text/html", headers={"Cache-Control": "no-store"})


@router.get("/signin", response_class=FileResponse)
def signin_page(settings: SettingsDep) -> FileResponse:
    return _page(settings, "signin.html")


@router.get("/clinician/signin", response_class=FileResponse)
def clinician_signin_page(settings: SettingsDep) -> FileResponse:
    return _page(settings, "signin.html")


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
