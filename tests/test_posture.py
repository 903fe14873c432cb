"""Posture per frame (formcheck/posture.py): upright vs lying from the shoulder->ankle incline, the fast one-frame
path agreeing with the vectorised one, unseen landmarks never blocking anything."""

from __future__ import annotations

import numpy as np
import pytest
from synthpose import Pose, to_seq

from formcheck.core.posture import Posture, classify_posture, posture_code_one, posture_codes, wrong_posture


@pytest.mark.parametrize(
    ("pose", "view", "expected"),
    [
        (Pose(), "front", Posture.UPRIGHT),
        (Pose(knee_flex=(100.0, 100.0), trunk_forward=60.0), "side", Posture.UPRIGHT),  # hinged deep squat
        (Pose(pitch=90.0), "side", Posture.LYING),  # face down along the floor
        (Pose(pitch=-90.0), "side", Posture.LYING),  # on the back
        (Pose(pitch=52.0), "side", Posture.UNKNOWN),  # getting up or down: never blocks
    ],
)
def test_posture_of_simple_bodies(pose: Pose, view: str, expected: Posture) -> None:
    xy = to_seq([pose], view).xy_px
    assert classify_posture(xy)[0] is expected
    assert posture_code_one(xy[0]) == int(posture_codes(xy)[0])


def test_one_frame_path_agrees_with_vectorised_on_noisy_frames() -> None:
    poses = [Pose(knee_flex=(k, k), pitch=p) for k in (0.0, 60.0, 110.0) for p in (0.0, 30.0, 50.0, 80.0, 95.0)]
    xy = to_seq(poses, "side", noise_px=3.0).xy_px.copy()
    xy[::4, 27] = np.nan  # a hidden left ankle now and then
    xy[::7, [27, 28]] = np.nan  # both ankles out of frame: the trunk decides
    codes = posture_codes(xy)
    assert [posture_code_one(f) for f in xy] == codes.tolist()
    assert set(codes.tolist()) == {0, 1, 2}


def test_no_person_or_no_shoulders_is_unknown_and_never_wrong() -> None:
    xy = np.full((2, 33, 2), np.nan)
    assert classify_posture(xy).tolist() == [Posture.UNKNOWN, Posture.UNKNOWN]
    assert not wrong_posture(xy, "standing").any() and not wrong_posture(xy, "supine").any()
