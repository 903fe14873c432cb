"""Mannequin fixtures: exact rep counts, injected faults flagged on exactly their reps, clean ones clean, and the
live session agreeing with the offline analysis — on ground-truth landmarks (fast) and through MediaPipe (video)."""

from __future__ import annotations

import numpy as np
import pytest
from mannequin_fixtures import expected_faults, ground_truth_seq, load, sidecars

from formcheck.core.live import LiveSession
from formcheck.core.offline import analyze_seq

CASES = sidecars()
pytestmark = pytest.mark.skipif(
    not CASES, reason="no mannequin fixtures in fixtures/videos (run python -m tools.synth)"
)


def _faults(result) -> list[set[str]]:
    return [{f.rule for f in r.faults if f.severity == "fault"} for r in result.reps]


def _check(side: dict, result) -> None:
    reps = side["reps"]
    assert result.rep_count == len(reps), side["name"]
    for want, got, truth, rep in zip(expected_faults(side), _faults(result), reps, result.reps, strict=True):
        assert want <= got, (side["name"], truth["index"], want, got)
        if not truth["faults"]:
            assert got == set(), (side["name"], truth["index"], got)
        assert abs(rep.bottom_s - truth["bottom_s"]) < 0.5  # bottoms are plateaus: the peak frame wanders
        if side.get("working_side") and side["exercise"] != "small_knee_bend":
            assert rep.side == truth["side"], (side["name"], truth["index"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture_ground_truth_offline_and_live(path) -> None:
    side = load(path)
    seq = ground_truth_seq(side)
    offline = analyze_seq(seq, side["exercise"])
    _check(side, offline)
    session = LiveSession(side["exercise"])
    for f in seq.frames():
        session.update(f)
    online = session.result()
    assert online.rep_count == offline.rep_count
    assert [r.side for r in online.reps] == [r.side for r in offline.reps]
    assert _faults(online) == _faults(offline)
    assert np.allclose([r.start_s for r in online.reps], [r.start_s for r in offline.reps], atol=0.25)
    assert np.allclose([r.end_s for r in online.reps], [r.end_s for r in offline.reps], atol=0.25)


# Injected faults that MediaPipe does not register on the mannequin, so no rule can see them through the model
# (the ground-truth test above shows the rule itself fires). strict: the day the model sees them, this fails.
MODEL_BLIND = {
    "side_lying_leg_raise_front_hip_flexion_drift": "MediaPipe's world landmarks do not move the leg forward for a 30 deg drift towards the camera "
    "(hip_flexion_3d_deg stays within 3 deg of the clean reps); 2D cues do not show it either",
}


@pytest.mark.video
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=MODEL_BLIND[p.stem]))
        if p.stem in MODEL_BLIND
        else p
        for p in CASES
    ],
    ids=[p.stem for p in CASES],
)
def test_fixture_video_through_mediapipe(path) -> None:
    from formcheck.pipeline import analyze_video

    side = load(path)
    report = analyze_video(path.with_suffix(".mp4"), side["exercise"])
    _check(side, report.result)
