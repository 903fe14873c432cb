"""formcheck.core.viewpoint: yaw/elevation/confidence on exact mannequin landmarks (default tier) and on the
labelled real clips (video tier, MediaPipe landmarks from the per-video cache)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from formcheck.core import viewpoint as vp
from tests.conftest import SHARED_VIDEOS, shared_manifest
from tools.synth import sweep as sw


@functools.cache
def _motion(exercise: str) -> sw.Motion:
    return sw.build_motion(exercise, sw.working_side(exercise), sw.exercise_faults(exercise))


def _exact_inputs(exercise: str, cs: sw.CameraSpec):
    """Ground-truth landmarks as the pose model would report them for this camera: world axes aligned with
    the camera, image px with z = depth relative to the mid-hip on the x scale; everything visible."""
    m = _motion(exercise)
    cam = sw.sweep_camera(exercise, cs)
    world = sw.camera_world_truth(m, cam)
    uv, depth = cam.project(m.landmarks_m)
    hip = (depth[:, 23:24] + depth[:, 24:25]) / 2.0
    xyz = np.concatenate([uv, ((depth - hip) * cam.focal_px / hip)[..., None]], axis=-1)
    truth_yaw, truth_elev = sw.true_viewpoint(m, cam)
    return world, xyz, np.ones(world.shape[:2]), truth_yaw, truth_elev


def _wrap(a):
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize("yaw_deg", [-60.0, 0.0, 30.0, 60.0, 90.0, 180.0])
@pytest.mark.parametrize("height_m", [0.3, 1.0, 1.8])
def test_exact_landmarks_give_the_camera_yaw_and_elevation(yaw_deg, height_m):
    world, xyz, vis, ty, te = _exact_inputs("small_knee_bend", sw.CameraSpec(yaw_deg, height_m, 2.7))
    v = vp.estimate_viewpoint(world, xyz, vis)
    err = np.abs(_wrap(v.yaw_signed_deg - ty))
    assert np.median(err) < 2.0 and err.max() < 6.0, (np.median(err), err.max())
    assert np.allclose(v.yaw_deg, np.abs(v.yaw_signed_deg))
    # elevation is measured against the ankle->shoulder line, which tilts a few degrees in a squat
    eerr = np.abs(v.elevation_deg - te)
    assert np.median(eerr) < 5.0 and eerr.max() < 12.0, (np.median(eerr), eerr.max())
    assert np.median(v.confidence) > 0.8


def test_elevation_sign_follows_camera_height():
    low = vp.estimate_viewpoint(*_exact_inputs("small_knee_bend", sw.CameraSpec(30.0, 0.3, 2.7))[:3])
    high = vp.estimate_viewpoint(*_exact_inputs("small_knee_bend", sw.CameraSpec(30.0, 1.8, 2.7))[:3])
    assert np.median(low.elevation_deg) < -6.0 < 6.0 < np.median(high.elevation_deg)


def test_side_towards_camera_follows_the_yaw_sign():
    left = vp.estimate_viewpoint(*_exact_inputs("small_knee_bend", sw.CameraSpec(80.0, 1.0, 2.7))[:3])
    right = vp.estimate_viewpoint(*_exact_inputs("small_knee_bend", sw.CameraSpec(-80.0, 1.0, 2.7))[:3])
    front = vp.estimate_viewpoint(*_exact_inputs("small_knee_bend", sw.CameraSpec(0.0, 1.0, 2.7))[:3])
    assert (left.side_towards_camera == "left").all()
    assert (right.side_towards_camera == "right").all()
    assert (front.side_towards_camera == "").all()


@pytest.mark.parametrize("yaw_deg", [0.0, 180.0])
def test_lying_body_yaw_is_about_its_long_axis(yaw_deg):
    """Side-lying, facing a camera 1 m up: the camera looks down on the top (right) side, i.e. the true yaw
    about the long axis is ~-17 deg (front) or ~-163 deg (behind), not the sweep's yaw around the vertical."""
    world, xyz, vis, ty, te = _exact_inputs("side_lying_leg_raise", sw.CameraSpec(yaw_deg, 1.0, 2.7))
    v = vp.estimate_viewpoint(world, xyz, vis)
    err = np.abs(_wrap(v.yaw_signed_deg - ty))
    assert abs(np.median(ty) - (-17.0 if yaw_deg == 0 else -163.0)) < 2.0
    # clean frames: the injected pelvic roll-back turns the hips (and 70% of it the shoulders) by up to 25 deg
    clean = _motion("side_lying_leg_raise").rep_of_frame <= 1
    assert np.median(err[clean]) < 4.0 and err[clean].max() < 8.0
    assert abs(np.median(v.elevation_deg - te)) < 6.0


def test_camera_along_the_body_gives_no_confidence():
    """From the head end at floor level the long axis points at the camera: yaw about it is undefined."""
    v = vp.estimate_viewpoint(*_exact_inputs("side_lying_leg_raise", sw.CameraSpec(90.0, 0.3, 2.7))[:3])
    assert np.median(np.abs(v.elevation_deg)) > 80.0
    assert np.median(v.confidence) < 0.35


def test_no_person_frames_are_nan_with_zero_confidence():
    world, xyz, vis, *_ = _exact_inputs("small_knee_bend", sw.CameraSpec(30.0, 1.0, 2.7))
    world, xyz, vis = world.copy(), xyz.copy(), vis.copy()
    world[5:9], xyz[5:9], vis[5:9] = np.nan, np.nan, 0.0
    v = vp.estimate_viewpoint(world, xyz, vis)
    assert len(v) == len(xyz)
    assert np.isnan(v.yaw_deg[5:9]).all() and np.isnan(v.elevation_deg[5:9]).all()
    assert (v.confidence[5:9] == 0).all()
    assert np.isfinite(v.yaw_deg[:5]).all() and np.isfinite(v.yaw_deg[9:]).all()
    empty = vp.estimate_viewpoint(np.zeros((0, 33, 3)), np.zeros((0, 33, 3)), np.zeros((0, 33)))
    assert len(empty) == 0


def test_without_world_landmarks_the_image_depth_stands_in_at_low_confidence():
    world, xyz, vis, ty, _ = _exact_inputs("small_knee_bend", sw.CameraSpec(60.0, 1.0, 2.7))
    v = vp.estimate_viewpoint(None, xyz, vis)
    assert np.isnan(v.elevation_deg).all()
    assert (v.confidence <= vp.NO_WORLD_CONFIDENCE + 1e-9).all() and np.median(v.confidence) > 0.2
    assert np.median(np.abs(_wrap(v.yaw_signed_deg - ty))) < 10.0


def test_world_yaw_contradicting_the_2d_widths_lowers_confidence():
    """World landmarks turned 70 deg while the image still shows a square-on torso: not to be trusted."""
    world, xyz, vis, *_ = _exact_inputs("small_knee_bend", sw.CameraSpec(0.0, 1.0, 2.7))
    a = np.radians(70.0)
    rot_y = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    v_ok = vp.estimate_viewpoint(world, xyz, vis)
    v_bad = vp.estimate_viewpoint(world @ rot_y.T, xyz, vis)
    assert np.median(v_bad.yaw_deg) > 60.0
    assert np.median(v_bad.confidence) < 0.2 < 0.8 < np.median(v_ok.confidence)


# ---------------------------------------------------------------------------------------------- real clips

# Measured on 2026-12-01 (pose_full, clip medians of the frames with a person): front clips 3-6 deg except
# squat_front_studio_hcipro (56 deg: it is filmed from about 55 deg, see its first frame; "near-front" in the
# manifest), side 75-96 deg except the "slightly oblique" wall squat (39), oblique 21-56, back 150 and 172.
# The bounds below leave room for one more miss per view, never for a front/back or front/side confusion.


@pytest.mark.video
def test_real_clips_yaw_by_labelled_view():
    from formcheck.media.pose import estimate_video

    if not SHARED_VIDEOS.is_dir():
        pytest.skip(f"{SHARED_VIDEOS} not present")
    by_view: dict[str, list[float]] = {}
    for v in shared_manifest():
        seq = estimate_video(SHARED_VIDEOS / v["file"], use_cache=True)
        est = vp.estimate_seq(seq)
        keep = est.confidence > 0
        if v["file"].startswith("standing_hip_abduction_back"):
            keep &= seq.t_s < 2.0  # back view 0-2.25 s per the manifest notes (then a front view)
        by_view.setdefault(v["camera_view"], []).append(float(np.median(est.yaw_deg[keep])))
    front, side = np.array(by_view["front"]), np.array(by_view["side"])
    oblique, back = np.array(by_view["oblique"]), np.array(by_view["back"])
    assert (front <= 15).sum() >= len(front) - 2 and (front < 70).all(), front
    assert ((side >= 60) & (side <= 120)).sum() >= len(side) - 2 and (side > 25).all(), side
    # one oblique clip with the legs cut off by the frame reads ~85 deg from its torso alone (measured 2026-12-08)
    assert ((oblique >= 15) & (oblique <= 75)).sum() >= len(oblique) - 1 and (oblique < 90).all(), oblique
    assert (back >= 120).all(), back


def test_turn_to_window_is_the_smallest_turn_with_its_direction():
    # camera on the person's left at 30 deg: a frontal window [0, 10] needs a 20 deg turn to the left
    assert vp.turn_to_window_deg(30.0, 0.0, 10.0) == pytest.approx(20.0)
    assert vp.turn_to_window_deg(-30.0, 0.0, 10.0) == pytest.approx(-20.0)
    # side-on window [70, 110] from facing (yaw 5, camera slightly left): turn right by 65 -> yaw 70
    assert vp.turn_to_window_deg(5.0, 70.0, 110.0) == pytest.approx(-65.0)
    assert vp.turn_to_window_deg(80.0, 70.0, 110.0) == 0.0
    # behind (170): a frontal window is 160 away either way round the nearer side
    assert abs(vp.turn_to_window_deg(170.0, 0.0, 10.0)) == pytest.approx(160.0)
    got = vp.turn_to_window_deg(np.array([np.nan, -100.0]), 0.0, 45.0)
    assert np.isnan(got[0]) and got[1] == pytest.approx(-55.0)
    with pytest.raises(ValueError):
        vp.turn_to_window_deg(0.0, 50.0, 10.0)
