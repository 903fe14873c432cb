"""Uploaded videos and their analysis jobs, with the v3 leases that give exactly-once runs after a crash."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from formcheck.errors import InputError, StoreError
from formcheck.store import schema as t
from formcheck.store.database import Database
from formcheck.store.people import person
from formcheck.store.records import JobRow, JobStatus, UploadRow
from formcheck.store.rows import get_row, insert_row, require_id, to_db, utc_now

J = t.jobs.c


class LeaseLostError(StoreError):
    """A worker wrote to a job whose lease another worker has taken over (the old run must stop)."""


class PendingQuotaError(InputError):
    """The person already has `pending` unfinished jobs, the most allowed (nothing was written)."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"{pending} videos are already waiting for analysis")
        self.pending = pending


def _lock_person(conn: Connection, owner_id: int) -> None:
    """Serialise writers per person for the rest of the transaction: on PostgreSQL a row lock on the person (the
    count-then-insert of two uploads at once cannot both see the old count); on SQLite the transaction is already
    BEGIN IMMEDIATE (one writer at a time for the whole database)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(t.people.c.id).where(t.people.c.id == owner_id).with_for_update())


def _pending_of(conn: Connection, owner_id: int) -> int:
    q = (
        select(func.count())
        .select_from(t.jobs.join(t.uploads, J.upload_id == t.uploads.c.id))
        .where(t.uploads.c.owner_id == owner_id, J.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)))
    )
    return int(conn.execute(q).scalar_one())


def job(conn: Connection, job_id: int) -> JobRow:
    return get_row(conn, t.jobs, job_id, "job", JobRow)


def _lease_free(now: datetime) -> ColumnElement[bool]:
    """A running job nobody holds any more: lease expired (its worker died with its server) or never leased."""
    return (J.status == JobStatus.RUNNING.value) & (J.lease_until.is_(None) | (J.lease_until < to_db(now)))


def _job_changes(
    at: datetime | None,
    *,
    status: JobStatus | str | None,
    progress: float | None,
    error: str | None,
    result: Mapping[str, Any] | None,
    release: bool,
) -> dict[str, Any]:
    """The column values of an update_job call (progress checked first: a bad one writes nothing)."""
    values: dict[str, Any] = {"updated_at": to_db(at or utc_now())}
    if release:
        values["lease_owner"], values["lease_until"] = None, None
    if status is not None:
        values["status"] = JobStatus(status).value
    if progress is not None:
        if not 0.0 <= progress <= 1.0:
            raise InputError(f"job progress must be within 0..1, got {progress}")
        values["progress"] = float(progress)
    if error is not None:
        values["error"] = error
    if result is not None:
        values["result"] = dict(result)
    return values


class JobsRepo(Database):
    def add_upload(
        self,
        owner_id: int,
        *,
        original_filename: str,
        stored_path: str,
        sha256: str,
        size_bytes: int,
        exercise_id: str,
        side: str | None = None,
        at: datetime | None = None,
    ) -> UploadRow:
        with self._tx(write=True) as conn:
            person(conn, owner_id)
            return _insert_upload(
                conn,
                owner_id,
                original_filename,
                stored_path,
                sha256,
                size_bytes,
                exercise_id,
                side,
                to_db(at or utc_now()),
            )

    def add_upload_with_job(
        self,
        owner_id: int,
        *,
        max_pending: int,
        original_filename: str,
        stored_path: str,
        sha256: str,
        size_bytes: int,
        exercise_id: str,
        side: str | None = None,
        at: datetime | None = None,
    ) -> tuple[UploadRow, JobRow]:
        """Store an upload and queue its job in one transaction, unless the person already has `max_pending`
        queued or running jobs (PendingQuotaError): counted and inserted under the person's lock, so uploads
        sent at once cannot all pass the count before any job row exists."""
        when = to_db(at or utc_now())
        with self._tx(write=True) as conn:
            person(conn, owner_id)
            _lock_person(conn, owner_id)
            pending = _pending_of(conn, owner_id)
            if pending >= max_pending:
                raise PendingQuotaError(pending)
            up = _insert_upload(
                conn, owner_id, original_filename, stored_path, sha256, size_bytes, exercise_id, side, when
            )
            new_job = insert_row(
                conn,
                t.jobs,
                JobRow,
                upload_id=up.id,
                status=JobStatus.QUEUED.value,
                progress=0.0,
                created_at=when,
                updated_at=when,
            )
            return up, new_job

    def get_upload(self, upload_id: int) -> UploadRow:
        with self._tx(write=False) as conn:
            return get_row(conn, t.uploads, upload_id, "upload", UploadRow)

    def list_uploads(self, owner_id: int | None = None) -> list[UploadRow]:
        q = select(t.uploads).order_by(t.uploads.c.created_at.desc(), t.uploads.c.id.desc())
        if owner_id is not None:
            q = q.where(t.uploads.c.owner_id == owner_id)
        return self._records(UploadRow, q)

    def create_job(self, upload_id: int, *, at: datetime | None = None) -> JobRow:
        when = to_db(at or utc_now())
        with self._tx(write=True) as conn:
            require_id(conn, t.uploads, upload_id, "upload")
            return insert_row(
                conn,
                t.jobs,
                JobRow,
                upload_id=upload_id,
                status=JobStatus.QUEUED.value,
                progress=0.0,
                created_at=when,
                updated_at=when,
            )

    def get_job(self, job_id: int) -> JobRow:
        with self._tx(write=False) as conn:
            return job(conn, job_id)

    def list_jobs(self, *, status: JobStatus | str | None = None, upload_id: int | None = None) -> list[JobRow]:
        q = select(t.jobs).order_by(J.id)
        if status is not None:
            q = q.where(J.status == JobStatus(status).value)
        if upload_id is not None:
            q = q.where(J.upload_id == upload_id)
        return self._records(JobRow, q)

    def update_job(
        self,
        job_id: int,
        *,
        status: JobStatus | str | None = None,
        progress: float | None = None,
        error: str | None = None,
        result: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        lease_owner: str | None = None,
        release: bool = False,
    ) -> JobRow:
        """Change a job. With `lease_owner`, only while that worker still holds the job's lease (else LeaseLostError,
        so a worker whose job was taken over after a crash can never overwrite the new run); `release` drops it."""
        values = _job_changes(at, status=status, progress=progress, error=error, result=result, release=release)
        with self._tx(write=True) as conn:
            job(conn, job_id)
            q = t.jobs.update().where(J.id == job_id)
            if lease_owner is not None:
                q = q.where(J.lease_owner == lease_owner)
            if conn.execute(q.values(**values)).rowcount != 1:
                raise LeaseLostError(f"job {job_id} is no longer held by {lease_owner}")
            return job(conn, job_id)

    def claim_job(self, job_id: int, owner: str, lease_s: float, *, at: datetime | None = None) -> JobRow | None:
        """Atomically take a queued job (or a running one whose lease has expired) for `owner` until now +
        lease_s and mark it running; None when someone else holds it or it is finished."""
        when = at or utc_now()
        with self._tx(write=True) as conn:
            job(conn, job_id)
            res = conn.execute(
                t.jobs.update()
                .where(J.id == job_id, (J.status == JobStatus.QUEUED.value) | _lease_free(when))
                .values(
                    status=JobStatus.RUNNING.value,
                    lease_owner=owner,
                    lease_until=to_db(when + timedelta(seconds=lease_s)),
                    updated_at=to_db(when),
                )
            )
            return job(conn, job_id) if res.rowcount == 1 else None

    def renew_lease(self, job_id: int, owner: str, lease_s: float, *, at: datetime | None = None) -> bool:
        """Extend `owner`'s lease on a running job; False when it no longer holds it."""
        when = at or utc_now()
        with self._tx(write=True) as conn:
            res = conn.execute(
                t.jobs.update()
                .where(J.id == job_id, J.lease_owner == owner, J.status == JobStatus.RUNNING.value)
                .values(lease_until=to_db(when + timedelta(seconds=lease_s)))
            )
            return res.rowcount == 1

    def stale_running_jobs(self, *, at: datetime | None = None) -> list[JobRow]:
        """Running jobs nobody holds any more: lease expired (its worker died with its server) or never leased."""
        return self._records(JobRow, select(t.jobs).where(_lease_free(at or utc_now())).order_by(J.id))

    def claim_next_job(self, *, at: datetime | None = None) -> JobRow | None:
        """Atomically move the oldest queued job to running and return it (None when the queue is empty)."""
        with self._tx(write=True) as conn:
            row = conn.execute(select(J.id).where(J.status == JobStatus.QUEUED.value).order_by(J.id).limit(1)).first()
            if row is None:
                return None
            res = conn.execute(
                t.jobs.update()
                .where(J.id == row.id, J.status == JobStatus.QUEUED.value)
                .values(status=JobStatus.RUNNING.value, updated_at=to_db(at or utc_now()))
            )
            return job(conn, row.id) if res.rowcount == 1 else None

    def fail_interrupted_jobs(self, reason: str = "interrupted by a server restart") -> int:
        """At start-up: jobs left 'running' by a dead process become failed with a reason (never lost silently)."""
        with self._tx(write=True) as conn:
            res = conn.execute(
                t.jobs.update()
                .where(J.status == JobStatus.RUNNING.value)
                .values(status=JobStatus.FAILED.value, error=reason, updated_at=to_db(utc_now()))
            )
            return int(res.rowcount or 0)


def _insert_upload(
    conn: Any,
    owner_id: int,
    original_filename: str,
    stored_path: str,
    sha256: str,
    size_bytes: int,
    exercise_id: str,
    side: str | None,
    created_at: Any,
) -> UploadRow:
    """One upload row (add_upload and add_upload_with_job share it)."""
    return insert_row(
        conn,
        t.uploads,
        UploadRow,
        owner_id=owner_id,
        original_filename=original_filename,
        stored_path=stored_path,
        sha256=sha256,
        size_bytes=size_bytes,
        exercise_id=exercise_id,
        side=side,
        created_at=created_at,
    )
