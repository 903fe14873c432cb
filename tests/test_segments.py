"""The segmented pose pipeline (formcheck.media.segments, issue 20): the plan (frames to pose, split points at
keyframes) without MediaPipe, and, in the video tier, the same counts, verdicts and faults as posing every frame
of real labelled clips on one landmarker."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from formcheck.media import segments

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "videos"
SHARED = REPO.parent / "shared" / "videos"
# a 1080p 24 fps clip split at its keyframe at 8.6 s; a 59.94 fps clip split at 5.0 s and posed at 30 a second
REAL_CLIPS = ("squat_side_white_wahoo.mp4", "glute_bridge_side_gym_aminran.mp4")


def test_at_most_30_poses_a_second_whatever_the_frame_rate() -> None:
    def posed(fps: float, seconds: float = 4.0) -> int:
        slots = [segments.slot_of(i / fps, segments.MAX_POSE_HZ) for i in range(int(seconds * fps))]
        return sum(a != b for a, b in zip([None, *slots], slots, strict=False))

    assert posed(30.0) == 120 and posed(29.97) == 119 and posed(25.0) == 100
    assert posed(60.0) == 120 and posed(59.94) == 120 and posed(120.0) == 120
    assert segments.slot_of(1.25, None) == 1.25  # no cap: every frame is its own slot


def test_a_short_clip_is_one_segment_and_counts_its_frames() -> None:
    clip = FIXTURES / "lunge_side_clean.mp4"
    plan = segments.plan_video(clip, 8)
    assert plan.starts == (-math.inf,)  # shorter than two MIN_SEGMENT_S, or too few keyframes: never refused
    assert plan.total == plan.frames > 0


@pytest.mark.video
@pytest.mark.skipif(not SHARED.is_dir(), reason="the labelled clips are not here")
@pytest.mark.parametrize("name", REAL_CLIPS)
def test_segmented_pose_gives_the_same_verdicts_as_every_frame(name: str) -> None:
    from formcheck.media import pose
    from formcheck.pipeline import analyse_landmarks

    label = {v["file"]: v for v in json.loads((SHARED / "manifest.json").read_text())["videos"]}[name]
    clip = SHARED / name
    model = pose.resolve_model()
    plan = segments.plan_video(clip, 2)
    assert len(plan.starts) == 2, plan  # really split
    seen: list[tuple[int, int]] = []
    fast = segments.pose_video(clip, model, workers=2, progress=lambda n, total: seen.append((n, total)))
    every = pose.estimate_video(clip, model=model, use_cache=True)  # one landmarker, every frame (eval's cache)
    assert len(fast) == plan.total and seen[-1] == (plan.total, plan.total)
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:], strict=False))
    assert np.all(np.diff(fast.t_s) > 0) and set(np.round(fast.t_s, 3)) <= set(np.round(every.t_s, 3))
    a = analyse_landmarks(every, label["exercise"]).report.result
    b = analyse_landmarks(fast, label["exercise"]).report.result
    assert len(a.reps) == len(b.reps) == label["reps"]
    assert [r.verdict for r in a.reps] == [r.verdict for r in b.reps]
    assert [sorted(f.rule for f in r.faults) for r in a.reps] == [sorted(f.rule for f in r.faults) for r in b.reps]
    for ra, rb in zip(a.reps, b.reps, strict=True):
        assert abs(ra.start_s - rb.start_s) < 0.1 and abs(ra.end_s - rb.end_s) < 0.1
