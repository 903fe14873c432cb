"""Claiming a job for a Celery worker, so a job that a broker delivers twice is still run once.

Celery with `acks_late` redelivers a message whose worker died mid-job (the point: nothing is lost), and Redis
also redelivers a message that stays unacknowledged past its visibility timeout while the job is still running.
Before running, a worker takes the job's lease in the database (Store.claim_job: one conditional UPDATE, atomic
on SQLite and PostgreSQL): a queued job is claimed, a running job only once its holder stopped renewing the lease
(its worker is gone). The holder renews the lease a few times per lease while it runs, and `run_job` fences every
write by the holder, so a run that was taken over can never overwrite the new one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from formcheck.config import load_config
from formcheck.errors import FormcheckError
from formcheck.webapp.schemas import JobStatus

log = logging.getLogger(__name__)

# A running job whose lease was not renewed for this long has lost its worker: FORMCHECK_JOB_LEASE_S
# (config.Config.job_lease_s, one definition). Renewed six times per lease: long enough for a stalled
# shared-storage write, short next to a clip's analysis of minutes (judgement call).
RENEWALS_PER_LEASE = 6
MAX_ATTEMPTS = 2  # judgement call: one retry after a crash/restart, then fail with the reason
RESTART_REASON = "The server stopped while this video was being analysed"


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


def claim_job(
    store: Any, job_id: int, holder: str, *, lease: float | None = None, now: datetime | None = None
) -> Claim:
    """Take job `job_id`'s lease for `holder` (see the module docstring); the claim is noted in the job's
    bookkeeping (holder, time, whether it took over a dead worker's run)."""
    now = now or datetime.now(UTC)
    lease = load_config().job_lease_s if lease is None else lease
    try:
        before = store.get_job(job_id)
    except FormcheckError:
        return Claim(False, None)
    row = store.claim_job(job_id, holder, lease, at=now)
    if row is None:
        return Claim(False, str(before.status), held_by=before.lease_owner)
    takeover = before.status == JobStatus.RUNNING
    result = dict(row.result or {})
    result["lease"] = {"holder": holder, "claimed_at": now.isoformat(), "takeover": takeover}
    store.update_job(job_id, result=result, lease_owner=holder)
    return Claim(True, JobStatus.RUNNING, holder, takeover)


def renew(store: Any, job_id: int, holder: str, *, lease: float | None = None, now: datetime | None = None) -> bool:
    """One heartbeat: extend `holder`'s lease; False when the job is no longer running under it."""
    return bool(store.renew_lease(job_id, holder, load_config().job_lease_s if lease is None else lease, at=now))


class Heartbeat:
    """Renews the holder's lease several times per lease while the job runs, so it is never taken over."""

    def __init__(self, store: Any, job_id: int, holder: str, *, lease: float | None = None) -> None:
        self._store, self._job_id, self._holder = store, job_id, holder
        self._lease = load_config().job_lease_s if lease is None else lease
        self._interval_s = self._lease / RENEWALS_PER_LEASE
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
