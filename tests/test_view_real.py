"""The camera-view classifier against the labelled real clips (MediaPipe landmarks, cached per video+model)."""

from __future__ import annotations

import numpy as np
import pytest

from formcheck.geometry import View, classify_view, dominant_view
from formcheck.pose import estimate_video
from tests.conftest import SHARED_VIDEOS, shared_manifest

pytestmark = pytest.mark.video

# Measured on 2026-11-25 with pose_full: 26/28 right, no clip given a wrong view (the two misses say
# "unknown" on clips that look oblique on inspection). A change that does worse fails here.
MIN_CORRECT = 26
LABEL_TO_VIEW = {"front": View.FRONT, "back": View.BACK, "side": View.SIDE, "oblique": View.UNKNOWN}


def test_dominant_view_matches_labels_and_never_contradicts_them():
    right, wrong, rows = 0, [], []
    for v in shared_manifest():
        label = v["camera_view"]
        if label not in LABEL_TO_VIEW:
            continue  # "mixed"/changing views are judged per window, not per clip
        seq = estimate_video(SHARED_VIDEOS / v["file"], use_cache=True)
        det = seq.detected
        views = classify_view(seq.xyz_px[det], seq.visibility[det])
        if v["file"].startswith("standing_hip_abduction_back"):
            first_s = seq.t_s[det] < 2.0  # back view 0-2.25 s per the manifest notes
            got = dominant_view(np.asarray(views)[first_s])
        else:
            got = dominant_view(views)
        rows.append((v["file"], label, str(got)))
        if got == LABEL_TO_VIEW[label]:
            right += 1
        elif got != View.UNKNOWN:
            wrong.append((v["file"], label, str(got)))
    assert not wrong, f"views contradicting the labels: {wrong}"
    assert right >= MIN_CORRECT, rows
