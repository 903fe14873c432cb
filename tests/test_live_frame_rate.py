"""Live counting does not depend on the frame rate: browsers deliver 6-15 uneven frames a second, not 30."""

from __future__ import annotations

import pytest

from formcheck.analysis import LiveSession
from formcheck.pose import estimate_video
from tests.conftest import SHARED_VIDEOS, shared_manifest

pytestmark = pytest.mark.video

CLIPS = ["squat_side_white_wahoo.mp4", "squat_front_home_kratika.mp4", "squat_front_valgus_vs_good_ranfit.mp4",
         "lunge_side_white_wahoo.mp4"]


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
