"""HTML pages: static files from web/, each behind the same access checks as the JSON API it calls."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from formcheck.webapp.deps import (
    ClinicianUser,
    CurrentUser,
    SettingsDep,
    StoreDep,
    require_person_visible,
)
from formcheck.webapp.schemas import Role
from formcheck.webapp.settings import Settings
from formcheck.webapp.uploads import visible_upload

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


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
def result_page(upload_id: int, user: CurrentUser, store: StoreDep, settings: SettingsDep) -> FileResponse:
    visible_upload(store, user, upload_id)
    return _page(settings, "result.html")


@router.get("/clinician", response_class=FileResponse)
def clinician_home_page(user: ClinicianUser, settings: SettingsDep) -> FileResponse:
    return _page(settings, "clinician.html")


@router.get("/clinician/queue", response_class=FileResponse)
def clinician_queue_page(user: ClinicianUser, settings: SettingsDep) -> FileResponse:
    return _page(settings, "clinician_queue.html")


@router.get("/clinician/people/{person_id}", response_class=FileResponse)
def clinician_person_page(person_id: int, user: ClinicianUser, store: StoreDep, settings: SettingsDep) -> FileResponse:
    require_person_visible(store, user, person_id)
    return _page(settings, "clinician_person.html")


@router.get("/clinician/reps/{rep_key}", response_class=FileResponse)
def clinician_rep_page(rep_key: str, user: ClinicianUser, store: StoreDep, settings: SettingsDep) -> FileResponse:
    from formcheck.webapp.clinician import rep_owner

    owner = rep_owner(store, rep_key)
    if owner is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    require_person_visible(store, user, owner)
    return _page(settings, "clinician_rep.html")



