"""The analysis-job supervisor: fair, bounded, crash-safe (issue 8 findings 6 and 7).

* One process per job (spawned from this long-lived thread), `job_workers` at a time. A worker dies with the
  server: PR_SET_PDEATHSIG on Linux plus a parent watchdog thread everywhere, so no orphan keeps writing or idles.
* A job is claimed with a lease (jobs.lease_owner / lease_until), renewed while its worker lives. Every write of a
  worker names its lease, so after a crash, a taken-over or timed-out run can never write into the new run.
  Jobs whose lease expired (their server was killed) are queued again, or failed after MAX_ATTEMPTS starts.
* Fair: the next job is the oldest of the person with the fewest running jobs, then least recently served.
* Bounded: a job running longer than `job_timeout_s` is stopped and failed with the reason.
* Leftovers of a crash (`*.part` uploads and clips) are removed when the server starts.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from formcheck.store import LeaseLostError
from formcheck.webapp import repo
from formcheck.webapp.job_lease import MAX_ATTEMPTS, RESTART_REASON
from formcheck.webapp.jobs import timeout_reason
from formcheck.webapp.limits import JOB_NICE
from formcheck.webapp.schemas import JobStatus
from formcheck.webapp.settings import Settings

log = logging.getLogger(__name__)

RENEW_FRACTION = 1 / 3  # a lease (Settings.job_lease_s) is renewed after a third of it has passed
TICK_S = 0.5  # how often the supervisor looks at its workers when nothing wakes it
STALE_SCAN_EVERY_S = 5.0
PARENT_POLL_S = 1.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
SIGKILL = 9
CRASH_REASON = "The analysis worker stopped unexpectedly"
LEFTOVER_SUFFIXES = (".part", ".part.mp4", ".part.npz")  # .part.npz: landmarks being saved


# ------------------------------------------------------------------------------------------------ worker side
def die_with_parent(parent_pid: int) -> None:
    """Make this process exit when `parent_pid` goes away, however it dies (kill -9 included)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog below still ends us within PARENT_POLL_S
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watchdog() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def worker_main(job_id: int, settings_json: str, lease_owner: str, parent_pid: int) -> None:
    """Entry point of a job process (spawned): tie our life to the server's, then run the job under our lease."""
    die_with_parent(parent_pid)
    with contextlib.suppress(OSError):
        os.nice(JOB_NICE)  # background work: live sets and page requests come first
    from formcheck.webapp.jobs import run_job

    run_job(job_id, settings_json, lease_owner=lease_owner)


# ------------------------------------------------------------------------------------------------ scheduling
def pick_fair(
    queued: Iterable[tuple[int, int]], running_by_owner: Counter[int], last_started_s: dict[int, float]
) -> int | None:
    """The next job id from (job id, owner id) pairs: the owner with the fewest running jobs, then the one served
    least recently, then the oldest job. One person's forty uploads cannot keep another's first one waiting."""
    oldest: dict[int, int] = {}
    for job_id, owner in queued:
        if owner not in oldest or job_id < oldest[owner]:
            oldest[owner] = job_id
    if not oldest:
        return None
    owner = min(oldest, key=lambda o: (running_by_owner[o], last_started_s.get(o, float("-inf")), oldest[o]))
    return oldest[owner]


def remove_leftovers(data_dir: Path) -> int:
    """Delete partial files a killed server left behind (uploads being received, clips being encoded)."""
    removed = 0
    for sub in ("uploads", "clips"):
        root = data_dir / sub
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.is_file() and path.name.endswith(LEFTOVER_SUFFIXES):
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("removed %d partial file(s) left by an earlier run", removed)
    return removed


@dataclass
class _Running:
    job_id: int
    owner_id: int
    lease_owner: str
    started_s: float
    renewed_s: float
    handle: Any  # multiprocessing.Process or Future


class JobRunner:
    """Runs queued jobs from the store under leases; `submit` only wakes it (the store is the queue)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._settings_json = settings.model_dump_json()
        self._store: Any = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._running: dict[int, _Running] = {}
        self._last_started_s: dict[int, float] = {}
        self._last_stale_scan_s = 0.0
        self._server_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        # broker mode (FORMCHECK_BROKER_URL): jobs go to `formcheck worker` processes (celery_app.py), which
        # claim them under the same store leases; this process then only sends job ids
        self._remote: Any = None

    # ---- lifecycle
    def start(self, store: Any = None) -> None:
        self._store = store
        if self._settings.broker_url:  # workers elsewhere may be writing partial files: no leftover sweep
            from formcheck.webapp.celery_app import CeleryDispatcher

            self._remote = CeleryDispatcher(self._settings.broker_url)
            self._remote.start(store)
            return
        remove_leftovers(self._settings.data_dir)
        if self._settings.job_mode == "thread":
            self._threads = ThreadPoolExecutor(
                max_workers=self._settings.job_workers, thread_name_prefix="formcheck-job"
            )
        self._thread = threading.Thread(target=self._loop, name="formcheck-jobs", daemon=True)
        self._thread.start()

    def recover(self, store: Any) -> list[int]:
        """Put jobs whose server died back in line (or fail them after MAX_ATTEMPTS); returns the queued ids."""
        self._store = store
        if self._remote is not None:  # running jobs belong to workers; a dead worker's job returns via the broker
            return self._remote.recover(store)
        self._requeue_stale()
        self._wake.set()
        return [j.id for j in store.list_jobs(status=JobStatus.QUEUED)]

    def submit(self, job_id: int) -> None:
        """Wake the supervisor, or send the job to the broker (BrokerUnavailableError, a 503, when it is down)."""
        if self._remote is not None:
            self._remote.submit(job_id)
            return
        self._wake.set()

    def shutdown(self) -> None:
        """Stop now: running workers are stopped and their jobs put back in line for the next start."""
        remote, self._remote = self._remote, None
        if remote is not None:
            remote.shutdown()
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for run in list(self._running.values()):
            self._stop_worker(run)
            self._finish(run, JobStatus.QUEUED, f"{RESTART_REASON}; it will be resumed")
        self._running.clear()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    # ---- the loop (one thread: every worker process is spawned from here, which PDEATHSIG needs)
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the supervisor must outlive a database hiccup
                log.exception("job supervisor tick failed")
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _tick(self) -> None:
        now_s = time.monotonic()
        for run in list(self._running.values()):
            if not self._alive(run):
                self._reap(run)
            elif now_s - run.started_s > self._settings.job_timeout_s:
                self._stop_worker(run)
                self._finish(run, JobStatus.FAILED, timeout_reason(self._settings.job_timeout_s))
                log.warning("job %s stopped after %.0f s", run.job_id, now_s - run.started_s)
            elif now_s - run.renewed_s > self._settings.job_lease_s * RENEW_FRACTION:
                if self._store.renew_lease(run.job_id, run.lease_owner, self._settings.job_lease_s):
                    run.renewed_s = now_s
                else:  # taken over (or finished) elsewhere: this run must not go on
                    self._stop_worker(run)
                    self._running.pop(run.job_id, None)
        if now_s - self._last_stale_scan_s > STALE_SCAN_EVERY_S:
            self._last_stale_scan_s = now_s
            self._requeue_stale()
        self._fill()

    def _fill(self) -> None:
        while len(self._running) < self._settings.job_workers and not self._stop.is_set():
            running = Counter(r.owner_id for r in self._running.values())
            job_id = pick_fair(repo.queued_jobs_with_owner(self._store), running, self._last_started_s)
            if job_id is None:
                return
            lease_owner = f"{self._server_id}-{job_id}-{secrets.token_hex(4)}"
            if self._store.claim_job(job_id, lease_owner, self._settings.job_lease_s) is None:
                continue  # another server took it
            owner = repo.job_owner(self._store, job_id)
            now_s = time.monotonic()
            run = _Running(job_id, owner, lease_owner, now_s, now_s, None)
            run.handle = self._spawn(job_id, lease_owner)
            self._running[job_id] = run
            self._last_started_s[owner] = now_s

    def _spawn(self, job_id: int, lease_owner: str) -> Any:
        if self._threads is not None:
            from formcheck.webapp.jobs import run_job

            return self._threads.submit(run_job, job_id, self._settings_json, lease_owner=lease_owner)
        ctx = multiprocessing.get_context("spawn")  # not fork: the server has threads mid-state
        proc = ctx.Process(
            target=worker_main,
            args=(job_id, self._settings_json, lease_owner, os.getpid()),
            name=f"formcheck-job-{job_id}",
            daemon=True,
        )
        proc.start()
        return proc

    @staticmethod
    def _alive(run: _Running) -> bool:
        h = run.handle
        return not h.done() if isinstance(h, Future) else h.is_alive()

    def _stop_worker(self, run: _Running) -> None:
        h = run.handle
        if isinstance(h, Future):
            h.cancel()  # a running thread cannot be killed: its next write fails on the released lease
            return
        if h.is_alive():
            h.kill()
        h.join(timeout=5)

    def _reap(self, run: _Running) -> None:
        """A worker ended: fine if it stored an outcome, else it crashed (retry once, then fail)."""
        self._running.pop(run.job_id, None)
        if isinstance(run.handle, multiprocessing.process.BaseProcess):
            run.handle.join(timeout=1)
        job = repo.get_job(self._store, run.job_id)
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED) or job.lease_owner != run.lease_owner:
            return
        code = getattr(run.handle, "exitcode", None)
        log.error("job %s: worker ended without an outcome (exit code %s)", run.job_id, code)
        if repo.job_attempts(self._store, run.job_id) < MAX_ATTEMPTS:
            self._finish(run, JobStatus.QUEUED, "Retrying after a worker crash")
        else:
            self._finish(run, JobStatus.FAILED, f"{CRASH_REASON}; please upload it again")

    def _finish(self, run: _Running, status: str, message: str) -> None:
        self._running.pop(run.job_id, None)
        # LeaseLostError: the worker stored its outcome (or another server took the job) in the meantime
        with contextlib.suppress(LeaseLostError):
            repo.update_job(
                self._store, run.job_id, status=status, message=message, lease_owner=run.lease_owner, release=True
            )
        self._wake.set()

    def _requeue_stale(self) -> None:
        for job in self._store.stale_running_jobs():
            if job.id in self._running:
                continue
            attempts = repo.job_attempts(self._store, job.id)
            if attempts >= MAX_ATTEMPTS:
                status, message = JobStatus.FAILED, f"{RESTART_REASON}, twice; please upload it again"
            else:
                status, message = JobStatus.QUEUED, f"{RESTART_REASON}; restarted"
            owner = job.lease_owner
            try:
                if owner is None:
                    repo.update_job(self._store, job.id, status=status, message=message)
                else:
                    repo.update_job(
                        self._store, job.id, status=status, message=message, lease_owner=owner, release=True
                    )
                log.info("job %s: %s", job.id, message)
            except LeaseLostError:
                pass
