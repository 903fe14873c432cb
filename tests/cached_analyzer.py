"""An upload job body for browser tests (FORMCHECK_ANALYZER=cached_analyzer:analyse): the real analysis of the
real clip, from the landmark cache `formcheck eval` fills (~/.cache/formcheck/landmarks), without the annotated
video. Pose runs only on a cache miss, so a result page test takes seconds instead of minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def analyse(
    video: Path,
    exercise_id: str,
    side: str,
    *,
    overrides: Any,
    annotate_path: Path,
    landmarks_path: Path,
    progress: Any,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from formcheck.core.report import report_to_json
    from formcheck.media.pose import estimate_video
    from formcheck.pipeline import analyse_landmarks
    from formcheck.webapp.jobs import angle_chart

    seq = estimate_video(video, use_cache=True)
    progress(0.9)
    done = analyse_landmarks(seq, exercise_id, side, overrides=overrides, video=video)
    return report_to_json(done.report), angle_chart(done.prepared.table, exercise_id, side)
