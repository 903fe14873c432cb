"""A claim on a job in the database, so a job that a broker delivers twice is still run once.

Celery with `acks_late` redelivers a message whose worker died mid-job (the point: nothing is lost), and Redis
also redelivers a message that stays unacknowledged past its visibility timeout while the job is still running.
Before running, a worker claims the job with one conditional UPDATE (compare-and-set, atomic on SQLite and
PostgreSQL): a queued job is claimed; a running job only when its heartbeat (`jobs.updated_at`, touched every
a few times per lease by the holder) is older than the lease, i.e. its worker is gone. Everything else is not claimed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from formcheck.errors import FormcheckError
from formcheck.store import schema as t
from formcheck.webapp.schemas import JobStatus

log = logging.getLogger(__name__)

# A running job whose heartbeat is older than this has lost its worker (judgement call: 6 missed heartbeats;
# long enough for a stalled NFS write or a busy database, short next to a clip's analysis of minutes).
LEASE_S = 60.0
HEARTBEATS_PER_LEASE = 6
ENV_LEASE_S = "FORMCHECK_JOB_LEASE_S"  # tests shorten the lease to see a takeover in seconds


def lease_s() -> float:
    """The lease in seconds: FORMCHECK_JOB_LEASE_S, else LEASE_S."""
    raw = os.environ.get(ENV_LEASE_S)
    try:
        value = float(raw) if raw else LEASE_S
    except ValueError:
        value = LEASE_S
    return value if value > 0 else LEASE_S


@dataclass(frozen=True)
class Claim:
    """The outcome of one claim attempt: `won`, or why not (`status` of the job, `held_by` another worker)."""

    won: bool
    status: str | None
    held_by: str | None = None
    takeover: bool = False


def holder_id() -> str:
    """Who holds a claim: host, pid and a random part (a pid can be reused after a crash)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _naive_utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def store_has_leases(store: Any) -> bool:
    """True when the store keeps job leases itself (Store.claim_job / renew_lease, lease_owner-fenced writes):
    then those are used, so the web app's supervisor and Celery workers share one lease."""
    return callable(getattr(store, "claim_job", None)) and callable(getattr(store, "renew_lease", None))


def _claim_with_store_lease(store: Any, job_id: int, holder: str, lease: float, now: datetime) -> Claim:
    try:
        before = store.get_job(job_id)
    except FormcheckError:
        return Claim(False, None)
    row = store.claim_job(job_id, holder, lease, at=now)
    if row is None:
        return Claim(False, str(before.status), held_by=getattr(before, "lease_owner", None))
    takeover = before.status == JobStatus.RUNNING
    result = dict(row.result or {})
    result["lease"] = {"holder": holder, "claimed_at": now.isoformat(), "takeover": takeover}
    store.update_job(job_id, result=result, lease_owner=holder)
    return Claim(True, JobStatus.RUNNING, holder, takeover)


def renew(store: Any, job_id: int, holder: str, *, lease: float | None = None, now: datetime | None = None) -> bool:
    """One heartbeat: extend `holder`'s lease; False when the job is no longer running under it."""
    lease = lease_s() if lease is None else lease
    if store_has_leases(store):
        return bool(store.renew_lease(job_id, holder, lease, at=now))
    job = store.get_job(job_id)
    if job.status != JobStatus.RUNNING or ((job.result or {}).get("lease") or {}).get("holder") != holder:
        return False
    store.update_job(job_id, at=now)  # only updated_at: the heartbeat
    return True


def claim_job(store: Any, job_id: int, holder: str, *, lease: float | None = None,
              now: datetime | None = None) -> Claim:
    """Claim job `job_id` for `holder` (see the module docstring); one transaction, never blocks a winner."""
    now = now or datetime.now(UTC)
    lease = lease_s() if lease is None else lease
    if store_has_leases(store):
        return _claim_with_store_lease(store, job_id, holder, lease, now)
    with store._tx(write=True) as conn:  # the store's own transaction (BEGIN IMMEDIATE on SQLite)
        row = conn.execute(select(t.jobs.c.status, t.jobs.c.updated_at, t.jobs.c.result)
                           .where(t.jobs.c.id == job_id)).first()
        if row is None:
            return Claim(False, None)
        status, seen, result = row.status, row.updated_at, dict(row.result or {})
        current = result.get("lease") or {}
        if status == JobStatus.QUEUED:
            cond = t.jobs.c.status == JobStatus.QUEUED.value
            takeover = False
        elif status == JobStatus.RUNNING:
            fresh = _naive_utc(seen) > _naive_utc(now) - timedelta(seconds=lease)
            if fresh:
                return Claim(False, status, held_by=current.get("holder"))
            cond = (t.jobs.c.status == JobStatus.RUNNING.value) & (t.jobs.c.updated_at == seen)
            takeover = True
        else:
            return Claim(False, status)
        result["lease"] = {"holder": holder, "claimed_at": now.isoformat(), "takeover": takeover}
        res = conn.execute(t.jobs.update().where((t.jobs.c.id == job_id) & cond)
                           .values(status=JobStatus.RUNNING.value, updated_at=now, result=result))
        if res.rowcount != 1:
            return Claim(False, status, held_by=current.get("holder"))
        return Claim(True, JobStatus.RUNNING, holder, takeover)


class Heartbeat:
    """Renews the holder's lease several times per lease while the job runs, so it is never taken over."""

    def __init__(self, store: Any, job_id: int, holder: str, *, lease: float | None = None) -> None:
        self._store, self._job_id, self._holder = store, job_id, holder
        self._lease = lease_s() if lease is None else lease
        self._interval_s = self._lease / HEARTBEATS_PER_LEASE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job{job_id}-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                if not renew(self._store, self._job_id, self._holder, lease=self._lease):
                    return
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the job itself goes on
                log.warning("job %s heartbeat failed: %s", self._job_id, exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval_s + 5)
