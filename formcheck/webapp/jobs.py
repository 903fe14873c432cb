"""Background analysis jobs: a job is its id plus stored inputs; `run_job` reads them and stores the result.

`run_job(job_id, settings_json)` is a plain top-level function with picklable arguments, so the same call is
made by a ProcessPoolExecutor worker (the default here), or by a Celery task (celery_app.py, FORMCHECK_BROKER_URL):
nothing is passed in memory except the id. Progress and the outcome live in the jobs table, so a page can poll
it from any server process, and a restart finds every unfinished job there (`JobRunner.recover`).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formcheck.errors import FormcheckError, VideoError
from formcheck.store import LeaseLostError
from formcheck.webapp import repo
from formcheck.webapp.schemas import JobStatus
from formcheck.webapp.settings import Settings

if TYPE_CHECKING:
    from formcheck.core.rules import MeasureTable

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_S = 0.5  # don't write progress to the database more often than this
PROGRESS_MIN_STEP_RATIO = 0.02
UNEXPECTED_FAILURE = "The analysis failed because of an internal error (it was logged for the maintainers)"
MAX_CHART_POINTS = 600  # enough for a smooth line on any screen; keeps the stored result small
LANDMARK_PROGRESS_RATIO = 0.75  # share of the progress bar for pose estimation (the slow part)


def load_analyzer(dotted: str) -> Callable[..., Any]:
    """'package.module:function' -> the function (the analyzer is configurable so tests can use a fake)."""
    module_name, _, attr = dotted.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return fn


def angle_chart(table: MeasureTable, exercise_id: str, side: str) -> dict[str, Any] | None:
    """The exercise's main signal over time (the measure that drives rep counting or the hold) and its lines,
    read from the analysis' own measure table (smoothed series, computed once by formcheck.pipeline)."""
    import numpy as np

    from formcheck.core.spec import load_exercise

    spec = load_exercise(exercise_id)
    main = spec.rep or spec.hold
    if main is None or len(table) == 0:
        return None
    values = table.get(main.measure, side if side in ("left", "right") else main.combine)
    t_s = np.asarray(table.t_s, dtype=float)
    step = max(1, int(np.ceil(len(t_s) / MAX_CHART_POINTS)))
    label = main.measure.removesuffix(f"_{main.unit}").replace("_3d", " (3D)").replace("_", " ")
    # exercises whose rep thresholds adapt to the person's own range (enter/exit None) draw no fixed lines
    lines = [
        {"value": float(v), "label": label, "kind": "rep"}
        for v, label in ((main.enter, "rep starts"), (main.exit, "rep ends"))
        if v is not None
    ]
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
    video: Path,
    exercise_id: str,
    side: str,
    *,
    overrides: dict[str, float] | None,
    annotate_path: Path,
    landmarks_path: Path,
    progress: Callable[..., None],
    max_frames: int | None = None,
    max_s: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The default job body: pose once on all cores (landmarks kept beside the upload), judge, render, chart.
    Progress is the frames posed of the frames to pose (`progress(ratio, frames=(done, total))`).

    Returns (report as formcheck.report/1 JSON, angle chart). Keeping the landmarks means rules can be re-run
    after a threshold change without MediaPipe. Decoding stops, and the job fails with the limit, past
    `max_frames` frames or `max_s` seconds (whatever the file's header claimed at upload).
    """
    from formcheck.core.report import report_to_json
    from formcheck.pipeline import analyse_landmarks, landmarks_for

    if landmarks_path.is_file():
        seq, model_sha = landmarks_for(video, cache=landmarks_path)
    else:
        seq, model_sha = landmarks_for(
            video,
            frames=lambda n, total: progress(LANDMARK_PROGRESS_RATIO * n / max(total, 1), frames=(n, total)),
            max_frames=max_frames,
            max_s=max_s,
        )
        part = landmarks_path.with_name(f"{landmarks_path.stem}.part.npz")  # never a half-written landmark file
        seq.save_npz(part, model_sha256=model_sha or "")
        part.replace(landmarks_path)
    progress(LANDMARK_PROGRESS_RATIO)
    done = analyse_landmarks(
        seq,
        exercise_id,
        side,
        overrides=overrides,
        video=video,
        model_sha256=model_sha,
        annotate_path=annotate_path,
    )
    return report_to_json(done.report), angle_chart(done.prepared.table, exercise_id, side)


def _caps_for(analyzer: Callable[..., Any], settings: Settings) -> dict[str, Any]:
    """The frame and duration caps, for an analyzer that decodes and takes them (the default one does; test
    doubles that never decode need not)."""
    params = inspect.signature(analyzer).parameters
    caps = {"max_frames": settings.max_video_frames, "max_s": settings.max_video_s}
    return {k: v for k, v in caps.items() if k in params}


class _Progress:
    """Throttled progress writer (fraction 0..1, and the frames posed of the frames to pose when known)."""

    def __init__(self, store: Any, job_id: int, lease_owner: str | None = None) -> None:
        self._store, self._job_id, self._lease_owner = store, job_id, lease_owner
        self._last_t_s = 0.0
        self._last_ratio = 0.0

    def __call__(self, ratio: float, frames: tuple[int, int] | None = None) -> None:
        ratio = min(max(float(ratio), 0.0), 0.99)  # 1.0 only when the result is stored
        now_s = time.monotonic()
        if now_s - self._last_t_s < PROGRESS_MIN_INTERVAL_S and ratio - self._last_ratio < PROGRESS_MIN_STEP_RATIO:
            return
        self._last_t_s, self._last_ratio = now_s, ratio
        repo.update_job(self._store, self._job_id, progress_ratio=ratio, frames=frames, lease_owner=self._lease_owner)


def public_message(exc: Exception, job: Any, settings: Settings) -> str:
    """A failed job's reason as the person may see it: no server paths, no decoder internals."""
    text = str(exc)
    video = str(settings.data_dir / job.video_relpath)
    if isinstance(exc, VideoError):
        text = text.split(": ", 1)[1] if text.startswith((video, str(settings.data_dir), "/")) else text
        text = re.sub(r"\s*\([^)]*\)", "", text)  # "(Invalid data found when processing input: '/srv/...')"
    text = text.replace(video, job.display_name).replace(str(settings.data_dir), "the data folder")
    text = re.sub(r"(?<![\w.])/(?:[\w.\-]+/)+[\w.\-]*", "a server file", text)
    return text or "The analysis failed"


def _fail(store: Any, job_id: int, message: str, lease_owner: str | None) -> str:
    """End a job as failed with its one-line reason (and give up its lease)."""
    repo.update_job(store, job_id, status=JobStatus.FAILED, message=message, lease_owner=lease_owner, release=True)
    return JobStatus.FAILED


TIMEOUT_REASON = "The analysis took longer than {limit} and was stopped: upload a shorter video"


def timeout_reason(limit_s: float) -> str:
    """A job stopped at FORMCHECK_JOB_TIMEOUT_S, in one line with the limit (the process pool and Celery alike)."""
    return TIMEOUT_REASON.format(limit=f"{limit_s / 60:g} min" if limit_s >= 60 else f"{limit_s:g} s")


def fail_timed_out(store: Any, job_id: int, limit_s: float, lease_owner: str | None) -> str:
    """End a job stopped at FORMCHECK_JOB_TIMEOUT_S as failed, with the limit (a lease lost meanwhile: nothing)."""
    try:
        return _fail(store, job_id, timeout_reason(limit_s), lease_owner)
    except LeaseLostError:
        return JobStatus.FAILED


def _analyse(
    store: Any, job: Any, settings: Settings, annotate_path: Path, lease_owner: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Call the configured analyzer on a job's stored inputs."""
    analyzer = load_analyzer(settings.analyzer)
    result: tuple[dict[str, Any], dict[str, Any] | None] = analyzer(
        settings.data_dir / job.video_relpath,
        job.exercise_id,
        job.side,
        overrides=job.overrides or None,
        annotate_path=annotate_path,
        landmarks_path=settings.data_dir / job.landmarks_relpath,
        progress=_Progress(store, job.job_id, lease_owner),
        **_caps_for(analyzer, settings),
    )
    return result


def run_job(job_id: int, settings_json: str, lease_owner: str | None = None) -> str:
    """Analyse one stored upload; writes status, progress and the report to the store. Returns the final status.

    Domain errors (not a decodable video, unknown exercise, no person in view...) end the job as `failed` with
    the one-line message (without server paths); anything unexpected is logged with its traceback and stored as a
    generic reason. With `lease_owner` every write requires that lease: a run that was taken over stops.
    """
    settings = Settings.model_validate_json(settings_json)
    store = repo.open_store(settings)
    try:
        job = repo.job_inputs(store, job_id)
        if job is None:
            log.warning("job %s vanished before it ran", job_id)
            return JobStatus.FAILED
        try:
            repo.update_job(
                store, job_id, status=JobStatus.RUNNING, progress_ratio=0.0, started=True, lease_owner=lease_owner
            )
        except LeaseLostError:
            log.warning("job %s was taken over before it started", job_id)
            return JobStatus.FAILED
        annotate_path = settings.data_dir / job.annotated_relpath
        annotate_path.parent.mkdir(parents=True, exist_ok=True)
        outputs = [p for p in (annotate_path, settings.data_dir / job.landmarks_relpath) if not p.exists()]
        try:
            report, chart = _analyse(store, job, settings, annotate_path, lease_owner)
        except LeaseLostError:
            log.warning("job %s: lease lost (timed out or taken over); this run stops", job_id)
            return JobStatus.FAILED
        except Exception as exc:  # noqa: BLE001 - a job must end with a stored reason, never silently
            for path in outputs:  # what this run wrote: never left behind a job that is not done
                path.unlink(missing_ok=True)
            if not isinstance(exc, FormcheckError):
                log.exception("job %s crashed", job_id)
                return _fail(store, job_id, UNEXPECTED_FAILURE, lease_owner)
            log.info("job %s failed: %s", job_id, exc)
            return _fail(store, job_id, public_message(exc, job, settings), lease_owner)
        report = dict(report)
        report["video"] = job.display_name  # never the server's path
        annotated = job.annotated_relpath if annotate_path.is_file() and annotate_path.stat().st_size > 0 else None
        try:
            repo.store_job_result(
                store, job_id, {"report": report, "chart": chart}, annotated_relpath=annotated, lease_owner=lease_owner
            )
        except LeaseLostError:
            log.warning("job %s finished after its lease was lost; the result is dropped", job_id)
            return JobStatus.FAILED
        return JobStatus.DONE
    finally:
        repo.close_store(store)
