"""Upload-for-review: stream a video to disk under a size limit, queue its analysis job, serve the result."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import shutil
import unicodedata
import uuid
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse

from formcheck.errors import InputError, VideoError
from formcheck.media.frame_limits import MAX_FRAME_SIDE_PX
from formcheck.media.video import frame_cap_message
from formcheck.store import PendingQuotaError
from formcheck.webapp import repo
from formcheck.webapp.deps import (
    CurrentUser,
    SettingsDep,
    StoreDep,
    VisibleUpload,
    require_person_visible,
    visible_person_ids,
)
from formcheck.webapp.schemas import (
    ExercisePublic,
    JobPublic,
    ReviewPublic,
    UploadPublic,
    UploadResult,
    User,
)
from formcheck.webapp.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["uploads"])

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp")
MAX_FILENAME_CHARS = 120
DISK_RESERVE_BYTES = 512 * 1024 * 1024  # judgement call: refuse uploads that would leave less than this free
MAGIC_BYTES_NEEDED = 12
NOT_A_VIDEO = "This file is not a video (expected MP4, MOV, WebM, MKV or AVI)"
NOT_A_FORM = "Send the video file itself as the request body (not a form)"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
TOO_MANY_PENDING = "You already have {n} videos waiting for analysis: upload more once one is done"
EMPTY_FILE = "The file is empty"
# Probes running at once: each is a process of up to video.PROBE_MEM_LIMIT_BYTES; uploads past this wait their
# turn (on a 2-core server two probes already fill the CPU the live coach needs).
MAX_CONCURRENT_PROBES = 2


def too_large_message(settings: Settings) -> str:
    return f"The video is larger than the {settings.max_upload_mb:g} MB limit"


def safe_filename(raw: str) -> str:
    """The name to show, never used as a path: last path component (either slash style), no control chars."""
    name = PureWindowsPath(PurePosixPath(raw).name).name  # strips "../", "C:\\", "/etc/" ...
    name = unicodedata.normalize("NFKC", name)
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*\\/')
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME_CHARS - len(ext) - 1] + dot + ext) if dot else name[:MAX_FILENAME_CHARS]
    return name


def looks_like_video(head: bytes) -> bool:
    """Container signatures: ISO-BMFF (MP4/MOV/3GP), Matroska/WebM, AVI."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return True
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


# ------------------------------------------------------------------------------------------------ exercises
@router.get("/api/exercises", response_model=list[ExercisePublic])
def list_exercises(user: CurrentUser) -> list[ExercisePublic]:
    """The exercise library (what an upload can be judged as)."""
    return repo.exercises()


@router.get("/api/uploads/limits")
def upload_limits(user: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    return {
        "max_upload_mb": settings.max_upload_mb,
        "max_upload_bytes": settings.max_upload_bytes,
        "extensions": list(VIDEO_EXTENSIONS),
    }


# ------------------------------------------------------------------------------------------------ upload
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The raw video file as the request body (not multipart), streamed to disk.",
        "content": {
            "video/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/api/uploads",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
    responses={
        400: {"description": "empty file or bad parameters"},
        413: {"description": "over the size limit"},
        415: {"description": "not a video"},
        422: {"description": "a video that cannot be decoded"},
        507: {"description": "not enough disk space"},
    },
)
async def create_upload(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
    exercise: Annotated[str, Query(min_length=1, max_length=64)],
    filename: Annotated[str, Query(min_length=1, max_length=1000)],
    side: Literal["auto", "left", "right"] = "auto",
) -> UploadPublic:
    """Store one video (size limit enforced while reading) and queue its analysis."""
    display, ext = _admit_upload(request, user, settings, store, exercise, filename)
    # Server-chosen names only: the client's filename never touches the filesystem.
    rel = Path("uploads") / str(user.id) / f"{uuid.uuid4().hex}{ext}"
    final = settings.data_dir / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_suffix(final.suffix + ".part")
    try:
        size, sha256 = await _receive_video(request, part, settings)
        part.rename(final)
        info = await _check_decodable(request, final, display, settings)
        check_video_caps(info, settings)
    except BaseException:
        part.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        raise
    try:  # the quota again, counted and inserted in one transaction: concurrent uploads all passed the first look
        upload_id, job_id = repo.create_upload(
            store,
            owner_id=user.id,
            filename=display,
            stored_relpath=rel.as_posix(),
            sha256=sha256,
            size_bytes=size,
            exercise_id=exercise,
            side=side,
            max_pending=settings.max_pending_jobs_per_person,
        )
    except BaseException as exc:
        final.unlink(missing_ok=True)
        if isinstance(exc, PendingQuotaError):
            raise _too_many_pending(exc.pending) from None
        raise
    request.app.state.jobs.submit(job_id)
    log.info("upload %s (%d bytes, %s) queued as job %s", upload_id, size, exercise, job_id)
    return _upload_public(store, repo.get_upload(store, upload_id))


def _too_many_pending(pending: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, TOO_MANY_PENDING.format(n=pending), headers={"Retry-After": "60"}
    )


def _admit_upload(
    request: Request, user: User, settings: Settings, store: Any, exercise: str, filename: str
) -> tuple[str, str]:
    """Every check that needs no body: role, form posts, the waiting-video quota, the exercise, the file type,
    the declared size and the free disk. Returns the display name and the extension."""
    if user.role != "person":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only a person can upload their own video")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, NOT_A_FORM)
    pending = repo.pending_jobs_of(store, user.id)  # a first look, before the body is read (checked again at insert)
    if pending >= settings.max_pending_jobs_per_person:
        raise _too_many_pending(pending)
    known = repo.exercise_ids()
    if exercise not in known:
        raise InputError(f"Unknown exercise {exercise!r}; choose one of: {', '.join(known)}")
    display = safe_filename(filename)
    ext = Path(display).suffix.lower()
    if not display or ext not in VIDEO_EXTENSIONS:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, NOT_A_VIDEO)
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_bytes = int(declared)
        except ValueError:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Bad Content-Length header") from None
        if declared_bytes > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large_message(settings))
        if declared_bytes == 0:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, EMPTY_FILE)
    free = shutil.disk_usage(settings.uploads_dir).free
    if free - min(limit, int(declared or limit)) < DISK_RESERVE_BYTES:
        raise HTTPException(507, "The server is low on disk space; try again later")
    return display, ext


async def _receive_video(request: Request, part: Path, settings: Settings) -> tuple[int, str]:
    """Stream the body to `part`: the size limit is enforced while reading and the first bytes must look like a
    video. Returns the size and the sha256."""
    limit = settings.max_upload_bytes
    digest = hashlib.sha256()
    size = 0
    head = b""
    with part.open("wb") as out:
        async for chunk in request.stream():
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large_message(settings))
            if len(head) < MAGIC_BYTES_NEEDED:
                head += chunk[: MAGIC_BYTES_NEEDED - len(head)]
                if len(head) >= MAGIC_BYTES_NEEDED and not looks_like_video(head):
                    raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, NOT_A_VIDEO)
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, EMPTY_FILE)
    if not looks_like_video(head):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, NOT_A_VIDEO)
    return size, digest.hexdigest()


def check_video_caps(info: Any, settings: Settings) -> None:
    """422 for a video that would hold the shared worker too long: over the duration or frame-count cap. The
    header's figures and what the file holds (its packets, counted without decoding) both count: a Matroska file
    can leave its duration out and carry an hour of frames."""
    packets = getattr(info, "packets", None)
    if packets is not None and packets > settings.max_video_frames:  # counting stopped here: "more than"
        raise VideoError(frame_cap_message(settings.max_video_frames))
    duration_s = _larger(info.duration_s, getattr(info, "packet_span_s", None))
    frames = _larger(info.frame_count, packets)
    if frames is None and duration_s is not None and info.fps > 0:
        frames = int(math.ceil(duration_s * info.fps))
    if frames is None and duration_s is None:
        raise VideoError("The video's length cannot be read (no duration, no frame count): record it again")
    if duration_s is not None and duration_s > settings.max_video_s:
        raise VideoError(
            f"The video is {duration_s / 60:.1f} min long; the limit is {settings.max_video_s / 60:g} min:"
            " trim it to the sets you want reviewed"
        )
    if frames is not None and frames > settings.max_video_frames:
        raise VideoError(
            f"The video has {frames} frames; the limit is {settings.max_video_frames}: trim it or record at 30 fps"
        )


def _larger(a: float | None, b: float | None) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _probe_slots(request: Request) -> asyncio.Semaphore:
    """At most MAX_CONCURRENT_PROBES probe processes at once per app (each may use PROBE_MEM_LIMIT_BYTES)."""
    slots = getattr(request.app.state, "probe_slots", None)
    if slots is None:
        slots = request.app.state.probe_slots = asyncio.Semaphore(MAX_CONCURRENT_PROBES)
    return slots


async def _check_decodable(request: Request, path: Path, display: str, settings: Settings) -> Any:
    """Probe the file in a memory-limited child process (picture size from the stream's parameters before any
    decoding, one frame decoded, packets counted): a file with a video signature but no decodable stream, a
    picture over MAX_FRAME_SIDE_PX or under MIN_FRAME_SIDE_PX, is a one-line 422."""
    from formcheck.media.video import VideoRefusedError, probe_isolated

    try:
        async with _probe_slots(request):
            info = await asyncio.to_thread(
                probe_isolated, path, max_side_px=MAX_FRAME_SIDE_PX, stop_after_packets=settings.max_video_frames
            )
    except VideoRefusedError as exc:
        log.info("upload %r refused: %s", display, exc)
        raise VideoError(str(exc)) from None
    except VideoError as exc:
        log.info("upload %r rejected: %s", display, exc)  # the decoder's words name server paths: log only
        raise VideoError("This file is not a playable video: its picture could not be decoded") from None
    if info.width <= 0 or info.height <= 0:
        raise VideoError("This file is not a playable video: no picture size")
    return info


# ------------------------------------------------------------------------------------------------ reading
def _job_public(job: Any) -> JobPublic:
    message = job.error or None
    if message is None and job.status == "queued":
        message = "Waiting for a free worker"
    elif message is None and job.status == "running":
        message = "Finding you in each frame and judging every rep"
    return JobPublic(
        id=job.id,
        upload_id=job.upload_id,
        status=job.status,
        progress_ratio=float(job.progress),
        frames_done=(job.result or {}).get("frames_done"),
        frames_total=(job.result or {}).get("frames_total"),
        message=message,
        created_at=job.created_at,
        finished_at=job.updated_at if job.status in ("done", "failed") else None,
    )


def _upload_public(store: Any, up: Any) -> UploadPublic:
    job = repo.latest_job(store, up.id)
    annotated = job is not None and job.status == "done" and bool((job.result or {}).get("annotated"))
    return UploadPublic(
        id=up.id,
        person_id=up.owner_id,
        filename=up.original_filename,
        exercise_id=up.exercise_id,
        side=up.side or "auto",
        size_bytes=up.size_bytes,
        created_at=up.created_at,
        job=_job_public(job) if job else None,
        annotated_url=f"/api/uploads/{up.id}/annotated" if annotated else None,
        video_url=f"/api/uploads/{up.id}/video",
        result_url=f"/uploads/{up.id}",
    )


@router.get("/api/uploads", response_model=list[UploadPublic])
def list_uploads(user: CurrentUser, store: StoreDep, person_id: int | None = None) -> list[UploadPublic]:
    """A person's own uploads; a clinician's people's uploads (optionally one person's)."""
    ids = visible_person_ids(store, user)
    if person_id is not None:
        require_person_visible(store, user, person_id)
        ids = {person_id}
    return [_upload_public(store, up) for up in repo.list_uploads(store, ids)]


@router.get("/api/uploads/{upload_id}", response_model=UploadPublic)
def get_upload(up: VisibleUpload, store: StoreDep) -> UploadPublic:
    return _upload_public(store, up)


@router.get("/api/uploads/{upload_id}/result", response_model=UploadResult)
def get_upload_result(up: VisibleUpload, store: StoreDep) -> UploadResult:
    """The stored report (formcheck.report/1), the angle chart data and the clinician's notes on its reps."""
    job = repo.latest_job(store, up.id)
    if job is None or job.status != "done" or not job.result:
        state = job.status if job else "queued"
        raise HTTPException(status.HTTP_409_CONFLICT, f"The analysis is not finished (status: {state})")
    return UploadResult(
        upload=_upload_public(store, up),
        report=job.result.get("report", {}),
        chart=job.result.get("chart"),
        reviews=repo.upload_reviews(store, up.id),
    )


def _file(settings: Settings, rel: str) -> FileResponse:
    path = (settings.data_dir / rel).resolve()
    if settings.data_dir.resolve() not in path.parents or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The video file is missing")
    media = "video/mp4" if path.suffix in (".mp4", ".m4v", ".mov") else None
    return FileResponse(path, media_type=media)  # Starlette answers Range requests, so the player can seek


@router.get("/api/uploads/{upload_id}/video", response_class=FileResponse)
def get_upload_video(up: VisibleUpload, settings: SettingsDep) -> FileResponse:
    """The original video as uploaded."""
    return _file(settings, up.stored_path)


@router.get("/api/uploads/{upload_id}/annotated", response_class=FileResponse)
def get_upload_annotated(up: VisibleUpload, store: StoreDep, settings: SettingsDep) -> FileResponse:
    """The annotated H.264 MP4 (skeleton, angles, rep counter, faults) rendered by the analysis job."""
    job = repo.latest_job(store, up.id)
    annotated = (job.result or {}).get("annotated") if job is not None and job.status == "done" else None
    if not annotated:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No annotated video for this upload")
    return _file(settings, annotated)


@router.get("/api/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: int, user: CurrentUser, store: StoreDep) -> JobPublic:
    """Status and progress of one analysis job."""
    job = repo.get_job(store, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    up = repo.get_upload(store, job.upload_id)
    if up is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    require_person_visible(store, user, up.owner_id)
    return _job_public(job)


@router.get("/api/me/reviews", response_model=list[ReviewPublic])
def my_reviews(user: CurrentUser, store: StoreDep) -> list[ReviewPublic]:
    """Clinicians' verdicts and notes on this person's reps (live sessions and uploads), newest first."""
    return repo.person_reviews(store, user.id)
