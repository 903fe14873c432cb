"""The recorded-video pipeline: video -> pose (media.pose) -> analysis (core.offline) -> report, + the review video.

Smoothing and the measures are computed once (core.offline.prepare) and the same series go to the analysis, the
annotated video (media.render) and the angle chart (the web's job), so an upload does not recompute them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from formcheck.core.judging import parse_side
from formcheck.core.offline import Prepared, analyze_prepared, prepare
from formcheck.core.report import Report
from formcheck.core.spec import load_exercise
from formcheck.core.types import PoseSeq


@dataclasses.dataclass(frozen=True, eq=False)
class Analysis:
    """A judged clip and the series it was judged on (for a chart or the review video)."""

    report: Report
    prepared: Prepared


def landmarks_for(
    path: str | Path,
    *,
    progress: Callable[[float], None] | None = None,
    cache: str | Path | None = None,
    max_frames: int | None = None,
    max_s: float | None = None,
    frames: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> tuple[PoseSeq, str | None]:
    """Raw landmarks of a video (and the pose model's sha256): from a landmark .npz if given, else MediaPipe in
    parallel segments (formcheck.media.segments: FORMCHECK_POSE_WORKERS threads, default the cores this process
    has; at most 30 poses a second), stopped past `max_frames` frames or `max_s`. `frames(done, total)` reports
    the frames posed; `progress` the same as a ratio."""
    if cache is not None and Path(cache).is_file():
        seq = PoseSeq.load_npz(cache)
        with np.load(cache, allow_pickle=False) as z:
            sha = str(z["model_sha256"]) if "model_sha256" in z else None
        return seq, sha
    from formcheck.config import load_config
    from formcheck.media import pose, segments

    def prog(n: int, total: int) -> None:
        if frames is not None:
            frames(n, total)
        if progress is not None and total:
            progress(min(1.0, n / total))

    model = pose.resolve_model()
    n = workers or load_config().pose_workers or segments.default_workers()
    seq = segments.pose_video(path, model, workers=n, progress=prog, max_frames=max_frames, max_s=max_s)
    return seq, model.sha256


def analyse_landmarks(
    seq: PoseSeq,
    exercise_id: str,
    side: str = "auto",
    *,
    overrides: Mapping[str, float] | None = None,
    video: str | Path | None = None,
    model_sha256: str | None = None,
    annotate_path: str | Path | None = None,
) -> Analysis:
    """Judge a clip's raw landmarks; with `annotate_path` (and the `video` they came from) also write the
    annotated H.264 MP4 from the same smoothed series."""
    spec = load_exercise(exercise_id)
    parse_side(side)
    prep = prepare(seq)
    result = analyze_prepared(prep, spec, side, overrides)
    report = Report(
        result=result, video=None if video is None else str(video), model_sha256=model_sha256, frame_wh=seq.frame_wh
    )
    if annotate_path is not None:
        if video is None:
            raise ValueError("annotate_path needs the video the landmarks came from")
        from formcheck.media import render

        render.annotate_video(video, prep.smoothed, result, annotate_path, table=prep.table)
    return Analysis(report, prep)


def analyze_video(
    path: str | Path,
    exercise_id: str,
    side: str = "auto",
    *,
    overrides: Mapping[str, float] | None = None,
    annotate_path: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
    landmarks_cache: str | Path | None = None,
) -> Report:
    """Pose (formcheck.media.pose) -> analysis -> Report; optionally an annotated H.264 MP4 (media.render)."""
    load_exercise(exercise_id)  # an unknown id or side fails before the slow part
    parse_side(side)
    seq, model_sha = landmarks_for(path, progress=progress, cache=landmarks_cache)
    return analyse_landmarks(
        seq,
        exercise_id,
        side,
        overrides=overrides,
        video=path,
        model_sha256=model_sha,
        annotate_path=annotate_path,
    ).report
