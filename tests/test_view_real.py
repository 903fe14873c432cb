"""The camera view from the continuous viewpoint (formcheck.core.viewpoint) against the labelled real clips
(MediaPipe landmarks, cached per video+model): a set's view is the view of its median camera yaw."""

from __future__ import annotations

import pytest

from formcheck.core.geometry import View
from formcheck.core.judging import rep_yaw, view_of_yaw, viewpoint_of
from formcheck.core.measures import PoseArrays
from formcheck.core.smoothing import smooth_seq
from formcheck.media.pose import estimate_video
from tests.conftest import SHARED_VIDEOS, shared_manifest

pytestmark = pytest.mark.video

# Measured on 2026-12-01 with pose_full over the 40 clips: 37 named right (an oblique label is right as
# "unknown"), none given a wrong view; the 3 misses say "unknown" on clips filmed off-axis (a "front" clip
# ~55 deg off-axis, a "side" one ~40 deg, a "back" one ~30 deg). Re-measured 2026-12-08 over the 55 clips with a
# single labelled view (20 added): 50 right; of the 5 misses 4 say "unknown" and one oblique clip whose legs are
# cut off by the frame reads "side" (its torso alone, ~85 deg). An oblique view lies between front and side, so
# reading it as its nearer neighbour is a miss, not a contradiction; front, side and back never swap. A change
# that does worse fails here.
MIN_CORRECT = 50
LABEL_TO_VIEW = {"front": View.FRONT, "back": View.BACK, "side": View.SIDE, "oblique": View.UNKNOWN}
# The views an oblique camera may be read as without contradicting its label (it is between them).
OBLIQUE_NEIGHBOURS = {View.FRONT, View.SIDE, View.BACK}


def test_set_view_matches_labels_and_never_contradicts_them():
    right, wrong, rows = 0, [], []
    for v in shared_manifest():
        label = v["camera_view"]
        if label not in LABEL_TO_VIEW:
            continue  # "mixed"/changing views are judged per rep, not per clip
        seq = smooth_seq(estimate_video(SHARED_VIDEOS / v["file"], use_cache=True))
        vp = viewpoint_of(PoseArrays.from_seq(seq))
        if v["file"].startswith("standing_hip_abduction_back"):
            got = view_of_yaw(rep_yaw(vp, 0, int((seq.t_s < 2.0).sum())))  # back view 0-2.25 s per the notes
        else:
            got = view_of_yaw(rep_yaw(vp))
        rows.append((v["file"], label, str(got)))
        if got == LABEL_TO_VIEW[label]:
            right += 1
        elif got != View.UNKNOWN and not (label == "oblique" and got in OBLIQUE_NEIGHBOURS):
            wrong.append((v["file"], label, str(got)))
    assert not wrong, f"views contradicting the labels: {wrong}"
    assert right >= MIN_CORRECT, rows
