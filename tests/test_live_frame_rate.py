"""Live counting does not depend on the frame rate: browsers deliver 6-15 uneven frames a second, not 30."""

from __future__ import annotations

import pytest

from formcheck.core.live import LiveSession
from formcheck.media.pose import estimate_video
from tests.conftest import SHARED_VIDEOS, shared_manifest

pytestmark = pytest.mark.video

# Clips where the streaming and offline counters may differ by one rep (measured; see the test).
MAX_DIFFERING = 2

CLIPS = [
    "squat_side_white_wahoo.mp4",
    "squat_front_home_kratika.mp4",
    "squat_front_valgus_vs_good_ranfit.mp4",
    "lunge_side_white_wahoo.mp4",
]


@pytest.mark.parametrize("every_kth", [1, 2, 3, 5])
def test_live_count_within_one_of_label_at_browser_frame_rates(every_kth):
    labels = {v["file"]: v for v in shared_manifest()}
    for name in CLIPS:
        v = labels[name]
        seq = estimate_video(SHARED_VIDEOS / name, use_cache=True)
        live = LiveSession(v["exercise"])
        fb = None
        for i in range(0, len(seq), every_kth):  # 30 fps / 5 = 6 fps, like a busy laptop
            fb = live.update(seq.frame(i))
        assert abs(fb.rep_count - v["reps"]) <= 1, (name, every_kth, fb.rep_count, v["reps"])


def test_live_and_offline_counts_agree_on_every_labelled_clip():
    """The streaming counter (One Euro smoothing, frame by frame) and the offline one (zero-phase smoothing,
    whole clip) count the same reps on all the labelled clips, and match the label where there is one."""
    from formcheck.core.offline import analyze_seq

    rows = []
    for v in shared_manifest():
        if v.get("person_visible") is False:
            continue
        seq = estimate_video(SHARED_VIDEOS / v["file"], use_cache=True)
        live = LiveSession(v["exercise"])
        for f in seq.frames():
            live.update(f)
        rows.append((v["file"], live.result().rep_count, analyze_seq(seq, v["exercise"]).rep_count))
    differ = [r for r in rows if r[1] != r[2]]
    # measured 2026-12-08 on the 60 clips (20 added): 2 differ by one rep (a quarter squat under a barbell plate,
    # an oblique squat with the legs cut off by the frame); more is worse
    assert len(differ) <= MAX_DIFFERING, differ
