"""Background analysis jobs: a job is its id plus stored inputs; `run_job` reads them and stores the result.

`run_job(job_id, settings_json)` is a plain top-level function with picklable arguments, so the same call is
made by a ProcessPoolExecutor worker (the default here), or by a Celery task (celery_app.py, FORMCHECK_BROKER_URL):
nothing is passed in memory except the id. Progress and the outcome live in the jobs table, so a page can poll
it from any server process, and a restart finds every unfinished job there (`JobRunner.recover`).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from formcheck.errors import FormcheckError
from formcheck.webapp import repo
from formcheck.webapp.schemas import JobStatus
from formcheck.webapp.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # judgement call: one retry after a crash/restart, then fail with the reason
PROGRESS_MIN_INTERVAL_S = 0.5  # don't write progress to the database more often than this
PROGRESS_MIN_STEP_RATIO = 0.02
RESTART_REASON = "The server stopped while this video was being analysed"
MAX_CHART_POINTS = 600  # enough for a smooth line on any screen; keeps the stored result small
LANDMARK_PROGRESS_RATIO = 0.75  # share of the progress bar for pose estimation (the slow part)


def load_analyzer(dotted: str) -> Callable[..., Any]:
    """'package.module:function' -> the function (the analyzer is configurable so tests can use a fake)."""
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)



def angle_chart(seq: Any, exercise_id: str, side: str) -> dict[str, Any] | None:
    """The exercise's main signal over time (the measure that drives rep counting or the hold) and its lines."""
    import numpy as np

    from formcheck.measures import PoseArrays
    from formcheck.rules import MeasureTable
    from formcheck.smoothing import smooth_seq
    from formcheck.spec import load_exercise

    spec = load_exercise(exercise_id)
    main = spec.rep or spec.hold
    if main is None or len(seq) == 0:
        return None
    smoothed = smooth_seq(seq)
    table = MeasureTable(PoseArrays.from_seq(smoothed), smoothed.t_s)
    values = table.get(main.measure, side if side in ("left", "right") else main.combine)
    t_s = np.asarray(smoothed.t_s, dtype=float)
    step = max(1, int(np.ceil(len(t_s) / MAX_CHART_POINTS)))
    label = main.measure.removesuffix(f"_{main.unit}").replace("_3d", " (3D)").replace("_", " ")
    # exercises whose rep thresholds adapt to the person's own range (enter/exit None) draw no fixed lines
    lines = [{"value": float(v), "label": label, "kind": "rep"}
             for v, label in ((main.enter, "rep starts"), (main.exit, "rep ends")) if v is not None]
    for rule in spec.rules:
        if rule.measure == main.measure:
            lines.append({"value": float(rule.limit), "label": rule.name, "kind": "rule"})
    return {
        "label": label[:1].upper() + label[1:],
        "unit": main.unit,
        "t_s": [round(float(x), 3) for x in t_s[::step]],
        "values": [None if not np.isfinite(v) else round(float(v), 2) for v in values[::step]],
        "lines": lines,
    }


def analyse_upload(
    video: Path, exercise_id: str, side: str, *, overrides: dict[str, float] | None, annotate_path: Path,
    landmarks_path: Path, progress: Callable[[float], None],
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The default job body: pose once (landmarks kept beside the upload), judge, render, chart.

    Returns (report as formcheck.report/1 JSON, angle chart). Keeping the landmarks means rules can be re-run
    after a threshold change without MediaPipe.
    """
    from formcheck.analysis import analyze_video
    from formcheck.report import landmarks_for, report_to_json
    from formcheck.types import PoseSeq

    if landmarks_path.is_file():
        seq = PoseSeq.load_npz(landmarks_path)
    else:
        seq, model_sha = landmarks_for(video, progress=lambda r: progress(r * LANDMARK_PROGRESS_RATIO))
        seq.save_npz(landmarks_path, model_sha256=model_sha or "")
    progress(LANDMARK_PROGRESS_RATIO)
    report = analyze_video(video, exercise_id, side, overrides=overrides, annotate_path=annotate_path,
                           landmarks_cache=landmarks_path)
    return report_to_json(report), angle_chart(seq, exercise_id, side)


class _Progress:
    """Throttled progress writer (fraction 0..1)."""

    def __init__(self, store: Any, job_id: int) -> None:
        self._store, self._job_id = store, job_id
        self._last_t_s = 0.0
        self._last_ratio = 0.0

    def __call__(self, ratio: float) -> None:
        ratio = min(max(float(ratio), 0.0), 0.99)  # 1.0 only when the result is stored
        now_s = time.monotonic()
        if now_s - self._last_t_s < PROGRESS_MIN_INTERVAL_S and ratio - self._last_ratio < PROGRESS_MIN_STEP_RATIO:
            return
        self._last_t_s, self._last_ratio = now_s, ratio
        repo.update_job(self._store, self._job_id, progress_ratio=ratio)


def run_job(job_id: int, settings_json: str) -> str:
    """Analyse one stored upload; writes status, progress and the report to the store. Returns the final status.

    Domain errors (not a decodable video, unknown exercise, no person in view...) end the job as `failed` with
    the one-line message; anything unexpected is logged with its traceback and stored as a short reason.
    """
    settings = Settings.model_validate_json(settings_json)
    store = repo.open_store(settings)
    try:
        job = repo.job_inputs(store, job_id)
        if job is None:
            log.warning("job %s vanished before it ran", job_id)
            return JobStatus.FAILED
        repo.update_job(store, job_id, status=JobStatus.RUNNING, progress_ratio=0.0, started=True)
        annotate_path = settings.data_dir / job.annotated_relpath
        annotate_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            analyzer = load_analyzer(settings.analyzer)
            report, chart = analyzer(
                settings.data_dir / job.video_relpath,
                job.exercise_id,
                job.side,
                overrides=job.overrides or None,
                annotate_path=annotate_path,
                landmarks_path=settings.data_dir / job.landmarks_relpath,
                progress=_Progress(store, job_id),
            )
        except FormcheckError as exc:
            repo.update_job(store, job_id, status=JobStatus.FAILED, message=str(exc))
            return JobStatus.FAILED
        except Exception as exc:  # noqa: BLE001 - a job must end with a stored reason, never silently
            log.exception("job %s crashed", job_id)
            repo.update_job(store, job_id, status=JobStatus.FAILED, message=f"Analysis failed: {type(exc).__name__}: {exc}")
            return JobStatus.FAILED
        report = dict(report)
        report["video"] = job.display_name  # never the server's path
        annotated = job.annotated_relpath if annotate_path.is_file() and annotate_path.stat().st_size > 0 else None
        repo.store_job_result(store, job_id, {"report": report, "chart": chart}, annotated_relpath=annotated)
        return JobStatus.DONE
    finally:
        repo.close_store(store)


class JobRunner:
    """Submits job ids to worker processes and puts unfinished jobs back in line after a restart."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._settings_json = settings.model_dump_json()
        self._executor: Executor | None = None
        self._store: Any = None
        self._remote: Any = None  # broker mode (FORMCHECK_BROKER_URL): celery_app.CeleryDispatcher

    def start(self, store: Any = None) -> None:
        self._store = store
        if self._settings.broker_url:
            from formcheck.webapp.celery_app import CeleryDispatcher

            self._remote = CeleryDispatcher(self._settings.broker_url)
            self._remote.start(store)
            return
        self._executor = self._new_executor()

    def _new_executor(self) -> Executor:
        workers = self._settings.job_workers
        if self._settings.job_mode == "thread":
            return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="formcheck-job")
        # spawn, not fork: the server has threads (uvicorn, SQLAlchemy pool) that a fork would copy mid-state.
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, job_id: int) -> Future[str] | None:
        """Run the job in the pool (a Future), or send it to the broker (None; BrokerUnavailable when down)."""
        if self._remote is not None:
            return self._remote.submit(job_id)
        if self._executor is None:
            raise RuntimeError("JobRunner.start() was not called")
        try:
            future = self._executor.submit(run_job, job_id, self._settings_json)
        except (BrokenProcessPool, RuntimeError):
            self._executor = self._new_executor()
            future = self._executor.submit(run_job, job_id, self._settings_json)
        future.add_done_callback(lambda f, jid=job_id: self._finished(jid, f))
        return future

    def _finished(self, job_id: int, future: Future[str]) -> None:
        """A worker that died (killed, out of memory) leaves no stored outcome: record one, retry once."""
        if future.cancelled():
            return  # shutdown: the job stays queued/running in the store and is recovered on the next start
        exc = future.exception()
        if exc is None or self._store is None:
            return
        log.error("job %s: worker failed: %r", job_id, exc)
        attempts = repo.job_attempts(self._store, job_id)
        if attempts < MAX_ATTEMPTS and isinstance(exc, BrokenProcessPool):
            repo.update_job(self._store, job_id, status=JobStatus.QUEUED, message="Retrying after a worker crash")
            self.submit(job_id)
        else:
            repo.update_job(
                self._store, job_id, status=JobStatus.FAILED,
                message=f"The analysis worker stopped unexpectedly ({type(exc).__name__})",
            )

    def recover(self, store: Any) -> list[int]:
        """On startup: resume queued jobs; retry or fail jobs that were running when the server stopped."""
        self._store = store
        if self._remote is not None:  # workers are other processes: only queued jobs are sent again
            return self._remote.recover(store)
        resumed: list[int] = []
        for job_id, status, attempts in repo.unfinished_jobs(store):
            if status == JobStatus.RUNNING and attempts >= MAX_ATTEMPTS:
                repo.update_job(
                    store, job_id, status=JobStatus.FAILED,
                    message=f"{RESTART_REASON}, twice; please upload it again",
                )
                continue
            if status == JobStatus.RUNNING:
                repo.update_job(store, job_id, status=JobStatus.QUEUED, message=f"{RESTART_REASON}; restarted")
            resumed.append(job_id)
            self.submit(job_id)
        if resumed:
            log.info("resumed %d unfinished job(s): %s", len(resumed), resumed)
        return resumed

    def shutdown(self) -> None:
        """Stop now: queued futures are cancelled and busy workers terminated; their jobs stay queued/running
        in the store, and `recover` on the next start resumes them (or fails them with the reason)."""
        remote, self._remote = self._remote, None
        if remote is not None:
            remote.shutdown()
        executor, self._executor = self._executor, None
        if executor is None:
            return
        self._store = None  # so the done-callbacks of terminated workers record nothing
        workers = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
        for proc in workers:
            proc.join(timeout=5)
