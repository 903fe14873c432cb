"""Review jobs on Celery + Redis, behind the same `run_job(job_id, settings_json)` boundary as the process pool.

Set FORMCHECK_BROKER_URL (e.g. redis://127.0.0.1:6379/0) on the web app and on every `formcheck worker`: the app
then sends only the job id; a worker (any machine with the same FORMCHECK_DATABASE_URL and FORMCHECK_DATA_DIR)
claims the job in the database (job_lease), runs `run_job`, and acknowledges the message only afterwards
(`acks_late`), so a worker killed mid-job leaves its message to be redelivered, and the claim makes sure a
redelivered job is never run twice. No result backend: the outcome lives in the jobs table, as for the pool.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

from formcheck.config import MIN_BROKER_RESEND_S, load_config
from formcheck.errors import FormcheckError, StoreError

log = logging.getLogger(__name__)

TASK_NAME = "formcheck.run_job"
QUEUE = "formcheck"
# Redis redelivers an unacknowledged message after FORMCHECK_BROKER_VISIBILITY_S (config: why 5 min).
# How often a worker looks for messages past their visibility timeout (kombu: every 10 s x 10 calls = ~100 s).
RESTORE_INTERVAL_S = 5
BUSY_RETRY_S = 30.0  # a delivery of a job another live worker holds: look again this much later
SEND_TIMEOUT_S = 5.0  # how long an upload waits for an unreachable broker before saying so
SEND_RETRIES = 1
# FORMCHECK_JOB_TIMEOUT_S holds for Celery jobs too: the task stops itself at the limit (an alarm in the task's
# thread, for every pool), and Celery's own soft / hard limits (prefork pool only) back it up this much later.
SOFT_LIMIT_GRACE_S = 10.0
HARD_LIMIT_GRACE_S = 30.0
SAFE_REDIS_TRANSPORT = "formcheck.webapp.broker_transport:SafeRedisTransport"


class JobTimeLimitError(BaseException):
    """Raised in the task's thread at FORMCHECK_JOB_TIMEOUT_S (a BaseException so run_job's own handlers, which
    turn errors into a failed job, let it through to the task, which fails the job with the time limit)."""


def _job_timeout_s() -> float:
    return float(load_config().job_timeout_s)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise JobTimeLimitError in this thread after `seconds` (SIGALRM: only in the main thread, where both the
    solo pool and prefork's children run a task; elsewhere Celery's own limits are the only ones)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum: int, frame: Any) -> None:
        raise JobTimeLimitError(seconds)

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _resend_interval_s() -> float:
    """FORMCHECK_BROKER_RESEND_S (jobs the broker refused are sent again this often), never below the floor."""
    return max(MIN_BROKER_RESEND_S, load_config().broker_resend_s)


class BrokerUnavailableError(StoreError):
    """The job queue (broker) cannot be reached (HTTP 503); the job stays queued in the database, sent later."""


def _visibility_s() -> float:
    return load_config().broker_visibility_s


@cache
def celery_app(broker_url: str) -> Any:
    """The Celery app for one broker (made once per process; the task is registered on it)."""
    from celery import Celery

    app = Celery("formcheck", broker=broker_url, set_as_current=False)
    timeout_s = _job_timeout_s()
    if broker_url.startswith("redis://"):  # a bad message on the list is dropped, not fatal to the worker
        app.conf.broker_transport = SAFE_REDIS_TRANSPORT
    app.conf.update(
        task_soft_time_limit=timeout_s + SOFT_LIMIT_GRACE_S,
        task_time_limit=timeout_s + HARD_LIMIT_GRACE_S,
        task_acks_late=True,  # ack after the job: a killed worker's job is redelivered, not lost
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # one job reserved per worker process: others stay for idle workers
        task_default_queue=QUEUE,
        task_ignore_result=True,  # the outcome is in the jobs table
        broker_transport_options={
            "visibility_timeout": _visibility_s(),
            "unacked_restore_interval": RESTORE_INTERVAL_S,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=SEND_TIMEOUT_S,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_serializer="json",
        accept_content=["json"],
    )
    app.task(name=TASK_NAME, bind=True, max_retries=None)(_run_job_task)
    return app


def _run_job_task(task: Any, job_id: int) -> str:
    """Worker side: claim the job, run it with a heartbeat, or leave it to its live holder (retry later)."""
    from celery.exceptions import SoftTimeLimitExceeded

    from formcheck.webapp import repo
    from formcheck.webapp.job_lease import MAX_ATTEMPTS, Heartbeat, claim_job, holder_id
    from formcheck.webapp.jobs import fail_timed_out, run_job
    from formcheck.webapp.schemas import JobStatus
    from formcheck.webapp.settings import Settings

    settings = Settings.from_env()
    store = repo.open_store(settings)
    try:
        holder = holder_id()
        lease = settings.job_lease_s
        claim = claim_job(store, int(job_id), holder, lease=lease)
        if not claim.won:
            if claim.status == JobStatus.RUNNING:  # a live worker holds it: check again later, never drop it
                log.info("job %s is running on %s; looking again in %gs", job_id, claim.held_by, BUSY_RETRY_S)
                raise task.retry(countdown=BUSY_RETRY_S)
            log.info("job %s is %s: nothing to do", job_id, claim.status)
            return str(claim.status)
        if claim.takeover and repo.job_attempts(store, job_id) >= MAX_ATTEMPTS:
            repo.update_job(
                store,
                job_id,
                status=JobStatus.FAILED,
                message="The analysis worker stopped twice on this video; please upload it again",
            )
            return JobStatus.FAILED
        if claim.takeover:
            log.warning("job %s: its worker stopped mid-job; running it again", job_id)
        try:
            with Heartbeat(store, int(job_id), holder, lease=lease), time_limit(settings.job_timeout_s):
                return run_job(int(job_id), settings.model_dump_json(), lease_owner=holder)  # writes fenced by holder
        except (JobTimeLimitError, SoftTimeLimitExceeded):
            log.warning("job %s stopped at the %g s time limit", job_id, settings.job_timeout_s)
            return fail_timed_out(store, int(job_id), settings.job_timeout_s, holder)
    finally:
        repo.close_store(store)


def send_job(broker_url: str, job_id: int) -> None:
    """App side: put one job id on the queue; BrokerUnavailableError (one line) when the broker is down."""
    from kombu.exceptions import OperationalError

    app = celery_app(broker_url)
    try:
        app.send_task(
            TASK_NAME,
            args=[int(job_id)],
            queue=QUEUE,
            retry=True,
            retry_policy={
                "max_retries": SEND_RETRIES,
                "interval_start": 0.5,
                "interval_step": 0.5,
                "interval_max": 1.0,
            },
        )
    except (OperationalError, OSError, ConnectionError) as exc:
        raise BrokerUnavailableError(f"the analysis queue at {_safe_url(broker_url)} is unreachable ({exc})") from None


def _safe_url(url: str) -> str:
    """The broker URL without a password (it goes into messages and logs)."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


def run_worker(broker_url: str, *, concurrency: int = 1, loglevel: str = "INFO", hostname: str | None = None) -> None:
    """`formcheck worker`: one Celery worker consuming formcheck jobs (solo pool for one job at a time). A job
    poses on FORMCHECK_POSE_WORKERS threads (default: every core the worker may use), as in the embedded pool:
    one worker per machine uses the whole machine; run more workers for more machines."""
    app = celery_app(broker_url)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        "-Q",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if concurrency <= 1:
        argv += ["--pool=solo"]
    else:
        argv += ["--pool=prefork", f"--concurrency={concurrency}"]
    if hostname:
        argv += [f"--hostname={hostname}"]
    app.worker_main(argv)


class CeleryDispatcher:
    """App side of JobRunner in broker mode: sends job ids; jobs the broker refused are re-sent every
    FORMCHECK_BROKER_RESEND_S until it is back (the job row stays `queued` meanwhile, so nothing is lost)."""

    def __init__(self, broker_url: str) -> None:
        self._url = broker_url
        self._store: Any = None
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval_s = _resend_interval_s()

    def start(self, store: Any) -> None:
        self._store = store
        self._thread = threading.Thread(target=self._resend_loop, name="formcheck-job-resend", daemon=True)
        self._thread.start()

    def submit(self, job_id: int) -> None:
        try:
            send_job(self._url, job_id)
        except BrokerUnavailableError as exc:
            with self._lock:
                self._pending.add(int(job_id))
            log.error("job %s not sent: %s", job_id, exc)
            retry = (
                f"it is tried again every {self._interval_s:g} s and analysed when the queue is back "
                "(no need to upload again)"
            )
            message = f"Your video is saved, but {exc}; {retry}"
            self._note(job_id, message)
            public = f"Your video is saved, but the analysis queue is unreachable; {retry}"
            raise BrokerUnavailableError(message, public=public) from None

    def pending(self) -> set[int]:
        with self._lock:
            return set(self._pending)

    def _note(self, job_id: int, message: str) -> None:
        if self._store is None:
            return
        from formcheck.webapp import repo

        try:
            repo.update_job(self._store, job_id, message=message)
        except FormcheckError as exc:
            log.warning("job %s: could not note the broker state: %s", job_id, exc)

    def resend_pending(self) -> int:
        """Try every job the broker refused once more; returns how many were sent."""
        sent = 0
        for job_id in sorted(self.pending()):
            try:
                send_job(self._url, job_id)
            except BrokerUnavailableError:
                return sent  # still down: the rest waits for the next round
            with self._lock:
                self._pending.discard(job_id)
            self._note(job_id, "Queued for analysis")
            sent += 1
        return sent

    def _resend_loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            if self.pending():
                n = self.resend_pending()
                if n:
                    log.info("sent %d job(s) after the broker came back", n)

    def recover(self, store: Any) -> list[int]:
        """On app start: send every queued job again (a copy still in the broker is harmless: the claim runs a
        job once). Running jobs belong to workers; a dead worker's job comes back through the broker."""
        from formcheck.webapp import repo

        self._store = store
        queued = [job_id for job_id, status, _ in repo.unfinished_jobs(store) if status == "queued"]
        for job_id in queued:
            with contextlib.suppress(BrokerUnavailableError):  # noted on the job and retried by the resend loop
                self.submit(job_id)
        return queued

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval_s + 1)
