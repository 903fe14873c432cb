"""Clinician API: the flagged-rep queue, one rep (its frame strip and clip) and the clinician's verdict on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response

from formcheck.errors import FormcheckError
from formcheck.media.strips import placeholder_svg, rep_strip_jpeg
from formcheck.store import Store
from formcheck.webapp import repo
from formcheck.webapp.deps import (
    ClinicianRepOwner,
    ClinicianUser,
    ServiceDep,
    SettingsDep,
    StoreDep,
)
from formcheck.webapp.review_queue import CLIP_MARGIN_S, QueueItem, latest_reviews, rep_item
from formcheck.webapp.routes import triage
from formcheck.webapp.schemas import ReviewPublic, VerdictIn
from formcheck.webapp.settings import Settings

router = APIRouter(tags=["clinician"])


# ------------------------------------------------------------------------------------------------ queue & reps
@router.get("/api/clinician/queue", response_model=list[QueueItem])
def queue(
    user: ClinicianUser,
    store: StoreDep,
    filters: triage.QueueFilterDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> list[QueueItem]:
    """Flagged (invalid) reps across this clinician's people, from live sessions and uploads, newest first;
    filtered by person, exercise, rule at fault and day range (inclusive)."""
    items = triage.filtered_queue(store, user, filters)
    return items[:limit] if limit else items


@router.get("/api/clinician/reps/{rep_key}", response_model=QueueItem)
def rep_detail(rep_key: str, owner: ClinicianRepOwner, store: StoreDep) -> QueueItem:
    return rep_item(store, owner, rep_key)


@router.get(
    "/api/clinician/reps/{rep_key}/strip",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/svg+xml": {}}}},
)
def rep_strip(rep_key: str, owner: ClinicianRepOwner, store: StoreDep, settings: SettingsDep) -> Response:
    """Frames from the rep's start to its end (from the uploaded video or the stored clip), as one JPEG."""
    item = rep_item(store, owner, rep_key)
    cache = settings.data_dir / "cache" / "strips" / f"{rep_key}.jpg"
    if cache.exists():
        return Response(cache.read_bytes(), media_type="image/jpeg")
    source, start_s, end_s = _rep_video(store, settings, item)
    if source is None:
        return Response(
            placeholder_svg("No clip kept for this rep (clips are off for this person)"), media_type="image/svg+xml"
        )
    try:
        jpeg = rep_strip_jpeg(source, start_s, end_s)
    except FormcheckError as exc:
        return Response(placeholder_svg(str(exc)), media_type="image/svg+xml")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(jpeg)
    return Response(jpeg, media_type="image/jpeg")


def _rep_video(store: Store, settings: Settings, item: QueueItem) -> tuple[Path | None, float, float]:
    source, ident, _ = repo.parse_rep_key(item.key)
    if source == "upload":
        up = store.get_upload(ident)
        return _inside(settings, up.stored_path), item.start_s, item.end_s
    clips = store.list_rep_clips(ident)
    if not clips:
        return None, 0.0, 0.0
    clip = _inside(settings, clips[-1].path)
    return clip, 0.0, max(0.1, item.end_s - item.start_s) + 2 * CLIP_MARGIN_S


def _inside(settings: Settings, rel: str) -> Path | None:
    path = (settings.data_dir / rel).resolve()
    if settings.data_dir.resolve() not in path.parents or not path.is_file():
        return None
    return path


@router.get("/api/clinician/reps/{rep_key}/clip", response_class=FileResponse)
def rep_clip(rep_key: str, owner: ClinicianRepOwner, store: StoreDep, settings: SettingsDep) -> FileResponse:
    """The short clip stored for a live-session rep (only where the person switched clips on)."""
    item = rep_item(store, owner, rep_key)
    source, ident, _ = repo.parse_rep_key(item.key)
    clips = store.list_rep_clips(ident) if source == "live" else []
    path = _inside(settings, clips[-1].path) if clips else None
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No clip stored for this rep")
    return FileResponse(path)


@router.post("/api/clinician/reps/{rep_key}/review", response_model=ReviewPublic)
def review_rep(
    rep_key: str, owner: ClinicianRepOwner, body: VerdictIn, user: ClinicianUser, store: StoreDep, service: ServiceDep
) -> ReviewPublic:
    """Agree or disagree with a flag, with a note the person sees on their pages."""
    item = rep_item(store, owner, rep_key)
    source, ident, index = repo.parse_rep_key(rep_key)
    note = body.note.strip()
    if source == "live":
        store.add_rep_review(ident, user.id, agree=body.agree, note=note)
    else:
        up = store.get_upload(ident)
        payload = {
            "note": note,
            repo.REP_REVIEW: {
                "upload_id": ident,
                "rep_index": index,
                "agree": body.agree,
                "filename": up.original_filename,
            },
        }
        store.add_clinician_action(item.person_id, user.id, "note", payload, day=service.today())
    return latest_reviews(store, item.person_id)[rep_key]
