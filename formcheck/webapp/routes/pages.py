"""HTML pages: the one layout filled with each page's body (webapp/layout.py), each behind the same access checks
as the JSON API it calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from formcheck.webapp.deps import (
    ClinicianPerson,
    ClinicianRepOwner,
    ClinicianUser,
    CurrentUser,
    SettingsDep,
    VisibleUpload,
)
from formcheck.webapp.layout import render_page
from formcheck.webapp.schemas import Role
from formcheck.webapp.settings import Settings

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)

MAX_NEXT_CHARS = 2000


def _page(settings: Settings, name: str) -> HTMLResponse:
    return HTMLResponse(render_page(settings.resolved_web_dir, name), headers={"Cache-Control": "no-store"})


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
    ever reads it (open redirect, issue 8 finding 11). So is a repeated one: the page's script reads the first,
    a server check of the last would let `?next=/%5Cevil.example&next=/` through (issue 17 M2)."""
    values = request.query_params.getlist("next")
    if len(values) > 1 or (values and safe_next(values[0]) is None):
        return RedirectResponse(request.url.path, status_code=status.HTTP_303_SEE_OTHER)
    local = settings.single_user_active and not request.url.path.startswith("/clinician")
    if local and request.query_params.get("password") != "1":
        return _page(settings, "signed_out")  # the local person has no password: how to get back in (issue 19)
    return _page(settings, "signin")


@router.get("/signin", response_model=None)
def signin_page(request: Request, settings: SettingsDep) -> Response:
    return _signin(request, settings)


@router.get("/clinician/signin", response_model=None)
def clinician_signin_page(request: Request, settings: SettingsDep) -> Response:
    return _signin(request, settings)


@router.get("/", response_model=None)
def home_page(user: CurrentUser, settings: SettingsDep) -> Response:
    """A person's start page (their uploads and their clinician's notes); clinicians go to their own."""
    if user.role is Role.CLINICIAN:
        return RedirectResponse("/clinician", status_code=status.HTTP_303_SEE_OTHER)
    return _page(settings, "home")


# The pages that only need their guard to pass (the JSON API behind each page checks the same access).
GUARDED_PAGES: tuple[tuple[str, str, object, str], ...] = (
    ("/upload", "upload", CurrentUser, "Upload a video for a full review."),
    ("/uploads/{upload_id}", "result", VisibleUpload, "One upload's review (only its owner and their clinician)."),
    ("/clinician", "clinician", ClinicianUser, "The clinician's people."),
    ("/clinician/queue", "clinician_queue", ClinicianUser, "The flagged-rep queue."),
    ("/clinician/people/{person_id}", "clinician_person", ClinicianPerson, "One person under this clinician's care."),
    ("/clinician/reps/{rep_key}", "clinician_rep", ClinicianRepOwner, "One flagged rep of this clinician's people."),
    ("/progress", "progress", CurrentUser, "The person's own progress: pain, level path, valid-rep share, days done."),
)


def _page_route(name: str, doc: str) -> Callable[[Settings], HTMLResponse]:
    """The endpoint of one page: a closure, so the page name is never a request parameter."""

    def page(settings: SettingsDep) -> HTMLResponse:
        return _page(settings, name)

    page.__doc__ = doc
    return page


def _add_guarded_pages() -> None:
    """One GET route per page of GUARDED_PAGES, behind the dependency of its Annotated guard."""
    for path, name, guard, doc in GUARDED_PAGES:
        depends = get_args(guard)[1]
        router.add_api_route(
            path,
            _page_route(name, doc),
            methods=["GET"],
            response_class=HTMLResponse,
            dependencies=[depends],
            name=f"{name}_page",
        )


_add_guarded_pages()
