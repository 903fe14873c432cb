"""Uploads and their analysis jobs as the web layer and the workers use them (over the Store's jobs repository).

Job bookkeeping that the jobs table has no column for (the attempt count, when the run started) lives in the
job's `result` JSON next to the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from formcheck.errors import InputError
from formcheck.store.records import JobRow, JobStatus, UploadRow
from formcheck.store.store import Store

UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


def create_upload(
    store: Store,
    *,
    owner_id: int,
    filename: str,
    stored_relpath: str,
    sha256: str,
    size_bytes: int,
    exercise_id: str,
    side: str,
    max_pending: int | None = None,
) -> tuple[int, int]:
    """Store an uploaded video and queue its analysis job: (upload id, job id). With `max_pending`, refused
    (store.PendingQuotaError, nothing written) when the owner already has that many unfinished jobs."""
    if max_pending is not None:
        up, job = store.add_upload_with_job(
            owner_id,
            max_pending=max_pending,
            original_filename=filename,
            stored_path=stored_relpath,
            sha256=sha256,
            size_bytes=size_bytes,
            exercise_id=exercise_id,
            side=side,
        )
        return up.id, job.id
    up = store.add_upload(
        owner_id,
        original_filename=filename,
        stored_path=stored_relpath,
        sha256=sha256,
        size_bytes=size_bytes,
        exercise_id=exercise_id,
        side=side,
    )
    return up.id, store.create_job(up.id).id


def get_upload(store: Store, upload_id: int) -> UploadRow | None:
    try:
        return store.get_upload(upload_id)
    except InputError:
        return None


def list_uploads(store: Store, owner_ids: set[int]) -> list[UploadRow]:
    return [u for u in store.list_uploads() if u.owner_id in owner_ids]


def latest_job(store: Store, upload_id: int) -> JobRow | None:
    jobs = store.list_jobs(upload_id=upload_id)
    return jobs[-1] if jobs else None


def get_job(store: Store, job_id: int) -> JobRow | None:
    try:
        return store.get_job(job_id)
    except InputError:
        return None


def job_owner(store: Store, job_id: int) -> int:
    return store.get_upload(store.get_job(job_id).upload_id).owner_id


def pending_jobs_of(store: Store, person_id: int) -> int:
    """Queued or running analysis jobs of this person's uploads (the per-person quota counts these)."""
    mine = {u.id for u in store.list_uploads(person_id)}
    return sum(1 for status in UNFINISHED for j in store.list_jobs(status=status) if j.upload_id in mine)


def queued_jobs_with_owner(store: Store) -> list[tuple[int, int]]:
    """(job id, owner id) of every queued job, oldest first (what the fair scheduler chooses from)."""
    owners: dict[int, int] = {}
    out = []
    for job in store.list_jobs(status=JobStatus.QUEUED):
        if job.upload_id not in owners:
            owners[job.upload_id] = store.get_upload(job.upload_id).owner_id
        out.append((job.id, owners[job.upload_id]))
    return out


@dataclass(frozen=True)
class JobInputs:
    """Everything a job needs, read from the store by id (so any worker, on any machine, can run it)."""

    job_id: int
    upload_id: int
    video_relpath: str
    annotated_relpath: str
    landmarks_relpath: str
    display_name: str
    exercise_id: str
    side: str
    overrides: dict[str, float]


Overrides = Callable[[Store, int, str], dict[str, float]]  # (store, person id, exercise id) -> {rule_id: limit}


def job_inputs(store: Store, job_id: int, overrides: Overrides) -> JobInputs | None:
    """The job's inputs; `overrides` gives the owner's per-person rule limits for the exercise."""
    job = get_job(store, job_id)
    if job is None:
        return None
    up = store.get_upload(job.upload_id)
    video = Path(up.stored_path)
    return JobInputs(
        job_id=job_id,
        upload_id=up.id,
        video_relpath=up.stored_path,
        annotated_relpath=(video.parent / f"{video.stem}.annotated.mp4").as_posix(),
        landmarks_relpath=(video.parent / f"{video.stem}.landmarks.npz").as_posix(),
        display_name=up.original_filename,
        exercise_id=up.exercise_id,
        side=up.side or "auto",
        overrides=overrides(store, up.owner_id, up.exercise_id),
    )


def _bookkeeping(job: JobRow) -> dict[str, Any]:
    return dict(job.result or {})


def job_attempts(store: Store, job_id: int) -> int:
    job = get_job(store, job_id)
    return int(_bookkeeping(job).get("attempts", 0)) if job else 0


def update_job(
    store: Store,
    job_id: int,
    *,
    status: str | None = None,
    progress_ratio: float | None = None,
    message: str | None = None,
    started: bool = False,
    lease_owner: str | None = None,
    release: bool = False,
    frames: tuple[int, int] | None = None,
) -> None:
    """Change a job; with `lease_owner` only while that worker holds it (store.LeaseLostError otherwise).
    `frames`: (posed, to pose), kept in the job row's result as frames_done / frames_total for the page."""
    result = None
    if frames is not None:
        result = _bookkeeping(store.get_job(job_id))
        result["frames_done"], result["frames_total"] = int(frames[0]), int(frames[1])
    if started:
        result = result or _bookkeeping(store.get_job(job_id))
        for key in ("frames_done", "frames_total"):  # a new run counts its frames again
            result.pop(key, None)
        result["attempts"] = int(result.get("attempts", 0)) + 1
        result["started_at"] = datetime.now(UTC).isoformat()
        message = message if message is not None else ""
    store.update_job(
        job_id,
        status=status,
        progress=progress_ratio,
        error=message,
        result=result,
        lease_owner=lease_owner,
        release=release,
    )


def store_job_result(
    store: Store, job_id: int, result: dict[str, Any], *, annotated_relpath: str | None, lease_owner: str | None = None
) -> None:
    merged = _bookkeeping(store.get_job(job_id))
    merged.update(result)
    merged["annotated"] = annotated_relpath
    store.update_job(
        job_id, status=JobStatus.DONE, progress=1.0, error="", result=merged, lease_owner=lease_owner, release=True
    )


def unfinished_jobs(store: Store) -> list[tuple[int, str, int]]:
    """(job id, status, attempts) of every queued or running job."""
    return sorted(
        (job.id, status.value, int(_bookkeeping(job).get("attempts", 0)))
        for status in UNFINISHED
        for job in store.list_jobs(status=status)
    )
