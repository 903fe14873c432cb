"""The web layer's reads and writes, all through the programme helper's `Store` (no SQL here).

Reps have two homes: live-session reps are rows of the `reps` table (key "r<rep id>"); reps of an uploaded video
live in its job's stored report (key "u<upload id>-<rep index>"). Reviews of live reps go to `rep_reviews`;
reviews of upload reps are clinician actions of kind "note" whose payload names the rep (`rep_review`), because
`rep_reviews.rep_id` must reference a `reps` row. Job bookkeeping that the jobs table has no column for (the
attempt count) lives in the job's `result` JSON next to the report.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from formcheck.errors import InputError
from formcheck.store import JobRow, Store, UploadRow
from formcheck.store import Role as StoreRole
from formcheck.webapp.schemas import ExercisePublic, ReviewPublic, Role, User
from formcheck.webapp.settings import Settings

log = logging.getLogger(__name__)

DB_FILENAME = "formcheck.db"
REP_REVIEW = "rep_review"  # payload marker of an upload-rep review stored as a clinician note
_LIVE_KEY = re.compile(r"^r(\d+)$")
_UPLOAD_KEY = re.compile(r"^u(\d+)-(\d+)$")


# ------------------------------------------------------------------------------------------------ store
def open_store(settings: Settings) -> Store:
    url = settings.database_url or f"sqlite:///{settings.data_dir / DB_FILENAME}"
    return Store.open(url)


def close_store(store: Store) -> None:
    store.close()


# ------------------------------------------------------------------------------------------------ people
def _user(p: Any) -> User | None:
    if p.role == StoreRole.CLINICIAN:
        role = Role.CLINICIAN
    elif p.role == StoreRole.PERSON:
        role = Role.PERSON
    else:
        return None  # admins manage accounts from the CLI; they have no web pages
    return User(id=p.id, name=p.display_name or p.name, role=role, clinician_id=p.clinician_id)


def get_user(store: Store, user_id: int) -> User | None:
    found = get_user_and_hash(store, user_id)
    return found[0] if found else None


SESSION_GENERATION = "session_generation"  # people.settings key: bumped by sign-out, so old cookies stop working


def session_binding(p: Any) -> str:
    """What a session cookie is bound to: the password hash and the sign-out generation (a change of either
    ends every earlier session of this account)."""
    return f"{p.password_hash or ''}#{int((p.settings or {}).get(SESSION_GENERATION, 0))}"


def get_user_and_hash(store: Store, user_id: int) -> tuple[User, str | None] | None:
    """The account and its session binding (see `session_binding`), or None."""
    try:
        p = store.get_person_by_id(user_id)
    except InputError:
        return None
    user = _user(p)
    return (user, session_binding(p)) if user else None


def revoke_sessions(store: Store, user_id: int) -> None:
    """Sign-out: every cookie issued to this account so far stops working (server-side session generation)."""
    p = store.get_person_by_id(user_id)
    store.update_settings(user_id, {SESSION_GENERATION: int((p.settings or {}).get(SESSION_GENERATION, 0)) + 1})


def find_login(store: Store, name: str) -> tuple[User, str, str] | None:
    """The account, its password hash and its session binding for a sign-in name, or None."""
    try:
        p = store.get_person(name)
    except InputError:
        return None
    user = _user(p)
    if user is None or not p.password_hash:
        return None
    return user, p.password_hash, session_binding(p)


def single_user_person(store: Store) -> User | None:
    """Single-user mode: the local person of this machine (formcheck.store.local_person), even when others exist."""
    from formcheck.store.local_person import find_local_person

    person = find_local_person(store)
    return _user(person) if person is not None else None


def people_of_clinician(store: Store, clinician_id: int) -> list[int]:
    return [p.id for p in store.list_people(role=StoreRole.PERSON, clinician_id=clinician_id)]


# ------------------------------------------------------------------------------------------------ exercises
def exercise_ids() -> tuple[str, ...]:
    from formcheck.core.spec import exercise_ids as ids

    return ids()


def exercises() -> list[ExercisePublic]:
    from formcheck.core.spec import load_all

    return [
        ExercisePublic(id=s.id, name=s.name, sided=s.side_mode != "bilateral")
        for s in sorted(load_all().values(), key=lambda s: s.name)
    ]


# ------------------------------------------------------------------------------------------------ uploads
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
) -> tuple[int, int]:
    up = store.add_upload(
        owner_id,
        original_filename=filename,
        stored_path=stored_relpath,
        sha256=sha256,
        size_bytes=size_bytes,
        exercise_id=exercise_id,
        side=side,
    )
    job = store.create_job(up.id)
    return up.id, job.id


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


def pending_jobs_of(store: Store, person_id: int) -> int:
    """Queued or running analysis jobs of this person's uploads (the per-person quota counts these)."""
    mine = {u.id for u in store.list_uploads(person_id)}
    return sum(1 for status in ("queued", "running") for j in store.list_jobs(status=status) if j.upload_id in mine)


def queued_jobs_with_owner(store: Store) -> list[tuple[int, int]]:
    """(job id, owner id) of every queued job, oldest first (what the fair scheduler chooses from)."""
    owners: dict[int, int] = {}
    out = []
    for job in store.list_jobs(status="queued"):
        if job.upload_id not in owners:
            owners[job.upload_id] = store.get_upload(job.upload_id).owner_id
        out.append((job.id, owners[job.upload_id]))
    return out


def job_owner(store: Store, job_id: int) -> int:
    return store.get_upload(store.get_job(job_id).upload_id).owner_id


def get_job(store: Store, job_id: int) -> JobRow | None:
    try:
        return store.get_job(job_id)
    except InputError:
        return None


# ------------------------------------------------------------------------------------------------ jobs
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


def job_inputs(store: Store, job_id: int) -> JobInputs | None:
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
        overrides=threshold_overrides(store, up.owner_id, up.exercise_id),
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
) -> None:
    """Change a job; with `lease_owner` only while that worker holds it (store.LeaseLostError otherwise)."""
    result = None
    if started:
        result = _bookkeeping(store.get_job(job_id))
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
        job_id, status="done", progress=1.0, error="", result=merged, lease_owner=lease_owner, release=True
    )


def unfinished_jobs(store: Store) -> list[tuple[int, str, int]]:
    out = []
    for status in ("queued", "running"):
        for job in store.list_jobs(status=status):
            out.append((job.id, status, int(_bookkeeping(job).get("attempts", 0))))
    return sorted(out)


# ------------------------------------------------------------------------------------------------ thresholds
def threshold_overrides(store: Store, person_id: int, exercise_id: str) -> dict[str, float]:
    """The per-person limits of this exercise's rules, {rule_id: limit} (what its analysis job is given)."""
    from formcheck.webapp.thresholds import rule_overrides

    return rule_overrides(store, person_id, exercise_id)


# ------------------------------------------------------------------------------------------------ reviews
def live_rep_key(rep_id: int) -> str:
    return f"r{rep_id}"


def upload_rep_key(upload_id: int, index: int) -> str:
    return f"u{upload_id}-{index}"


def parse_rep_key(key: str) -> tuple[str, int, int]:
    """("live", rep_id, 0) or ("upload", upload_id, rep_index); InputError for anything else."""
    if m := _LIVE_KEY.match(key):
        return "live", int(m.group(1)), 0
    if m := _UPLOAD_KEY.match(key):
        return "upload", int(m.group(1)), int(m.group(2))
    raise InputError(f"not a rep id: {key!r}")


def rep_owner(store: Store, key: str) -> int | None:
    """The person a rep key belongs to (None when it does not exist or is malformed)."""
    try:
        source, ident, _ = parse_rep_key(key)
        if source == "live":
            rep = store.get_rep(ident)
            return store.get_session(store.get_set(rep.set_id).session_id).person_id
        up = get_upload(store, ident)
        return up.owner_id if up else None
    except InputError:
        return None


def _review_public(
    *, rid: int, key: str, label: str, agree: bool, note: str, clinician: str, at: datetime | None
) -> ReviewPublic:
    return ReviewPublic(
        id=rid, rep_key=key, rep_label=label, agree=agree, note=note, clinician_name=clinician, created_at=at
    )


def display_name(store: Store, person_id: int) -> str:
    try:
        p = store.get_person_by_id(person_id)
    except InputError:
        return "clinician"
    return p.display_name or p.name


def _name(store: Store, person_id: int, cache: dict[int, str]) -> str:
    if person_id not in cache:
        cache[person_id] = display_name(store, person_id)
    return cache[person_id]


def upload_reviews(store: Store, upload_id: int) -> list[ReviewPublic]:
    up = get_upload(store, upload_id)
    if up is None:
        return []
    return [r for r in person_reviews(store, up.owner_id) if r.rep_key.startswith(f"u{upload_id}-")]


def person_reviews(store: Store, person_id: int) -> list[ReviewPublic]:
    """Every clinician verdict on this person's reps: live reps (rep_reviews) and upload reps (notes), newest first."""
    names: dict[int, str] = {}
    out: list[ReviewPublic] = []
    for a in store.list_clinician_actions(person_id):
        rv = a.payload.get(REP_REVIEW)
        if a.kind == "note" and isinstance(rv, dict):
            key = upload_rep_key(int(rv["upload_id"]), int(rv["rep_index"]))
            label = f"{rv.get('filename', 'uploaded video')}, rep {rv['rep_index']}"
            out.append(
                _review_public(
                    rid=a.id,
                    key=key,
                    label=label,
                    agree=bool(rv["agree"]),
                    note=str(a.payload.get("note", "")),
                    clinician=_name(store, a.actor_id, names),
                    at=a.created_at,
                )
            )
    for session in store.list_sessions(person_id):
        sets = {s.id: s for s in store.list_sets(session.id)}
        for rep in store.list_reps(session_id=session.id):
            for r in store.list_rep_reviews(rep.id):
                ex = sets[rep.set_id].exercise_id.replace("_", " ")
                label = f"{ex} on {session.day.isoformat()}, rep {rep.idx}"
                out.append(
                    _review_public(
                        rid=r.id,
                        key=live_rep_key(rep.id),
                        label=label,
                        agree=r.agree,
                        note=r.note,
                        clinician=_name(store, r.clinician_id, names),
                        at=r.at,
                    )
                )
    out.sort(key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out
