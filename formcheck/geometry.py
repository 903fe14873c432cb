"""Joint angles and camera-view detection from 2D landmarks: pure numpy, vectorised, NaN in -> NaN out.

Every measure takes ``xy`` of shape (..., 33, 2) in px (image y grows downward, NaN where a landmark was not
seen) and returns a float64 array of shape (...). Left/right are the person's own sides; "medial" for a side
means towards the other hip, so frontal measures read the same in a front and a back view.
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from formcheck.landmarks import Lm, Side, sided

# A heel->toe segment whose horizontal extent is below this fraction of its length points mostly towards or
# away from the camera, so "ahead of the toes" has no horizontal direction (judgement call).
FOOT_DIRECTION_MIN_RATIO = 0.5

# ---- camera view thresholds. Cues from clinical.md §4.4 (shoulder-width / torso-height ratio, PoseFlow's
# left/right visibility asymmetry and depth sign); numbers tuned on the 28 labelled clips of
# ../shared/videos/manifest.json through MediaPipe pose_full (per-clip medians quoted below); judgement calls.
# Frontal (front/back) needs the shoulder width / torso length (mid-shoulder to mid-hip) at or above this:
# front clips' medians are 0.63-0.86, side clips' 0.03-0.30, obliques 0.45-0.63.
FRONTAL_MIN_SHOULDER_RATIO = 0.55
# ... and the hip width / torso length at or above this: front clips' 10th percentiles 0.36-0.41 (dipping to
# 0.30 while a leg swings out in the back-view leg-raise clip), side medians 0.05-0.20.
FRONTAL_MIN_HIP_RATIO = 0.30
# ... and, where z is given, the shoulder line's yaw from MediaPipe's relative depth (atan |dz| / |dxy|) at or
# below this: front clips' medians 4-15 deg (90th percentile <= 43 deg while lunging), a 30 deg oblique
# squat 56 deg, the other obliques 73-76 deg. MediaPipe's z exaggerates the turn, so it cannot alone
# separate oblique from side, but it does separate front from oblique where the widths cannot.
FRONTAL_MAX_DEPTH_YAW_DEG = 45.0
# Side needs the shoulder width / torso length at or below this (side medians <= 0.30, lying bridges up to
# 0.36 at the 90th percentile; obliques >= 0.45) ...
SIDE_MAX_SHOULDER_RATIO = 0.4
# ... and the hip width / torso length at or below this (side 90th percentiles <= 0.24; obliques 0.24-0.40) ...
SIDE_MAX_HIP_RATIO = 0.25
# ... and the shoulder line turned at least this far by depth (side clips' 10th percentiles 72-86 deg) ...
SIDE_MIN_DEPTH_YAW_DEG = 65.0
# ... or, without z, one side's visibility this much above the other's (mean over shoulder, hip, knee,
# ankle). On real clips this cue is weak (side-view medians 0.02-0.30), so it only stands in for z ...
SIDE_MIN_VISIBILITY_ASYMMETRY = 0.3
# ... or, without z, shoulders this narrow on their own (standing side clips' medians 0.03-0.17).
SIDE_MAX_SHOULDER_RATIO_NO_DEPTH = 0.2
# Front vs back: the person's left shoulder is on the image right in a front view, on the image left in a back
# view (MediaPipe got this right throughout the back/front/back leg-raise clip). Where z is given, the nose must
# also be in front of (front view) or behind (back view) the shoulders' midpoint by at least this many torso
# lengths: front clips' 90th percentiles <= -0.84, back view +1.5 (median), side views -0.2 to +0.1.
NOSE_DEPTH_MIN_RATIO = 0.3
# Mean visibility of nose and eyes below this means the face is turned away, which rules out a front view.
# MediaPipe reports ~1.0 for the face even from behind in every labelled clip, so this rarely decides.
FACE_HIDDEN_MAX = 0.4
# dominant_view: the winning view must cover at least this share of the frames with a decided view ...
DOMINANT_MIN_SHARE = 0.6
# ... and at least this share of all frames must have a decided view (judgement call).
DOMINANT_MIN_DECIDED = 0.25


class View(enum.StrEnum):
    """Where the camera sees the person from; UNKNOWN = oblique or undecidable (rules then say "unknown")."""

    FRONT = "front"
    BACK = "back"
    SIDE = "side"
    UNKNOWN = "unknown"


# ---------------------------------------------------------------------------------------------- primitives


def _pt(xy: NDArray, lm: Lm) -> NDArray:
    """One landmark's (..., 2) points, as float64."""
    return np.asarray(xy[..., int(lm), :2], dtype=np.float64)


def _mid(xy: NDArray, a: Lm, b: Lm) -> NDArray:
    """Midpoint of two landmarks (NaN if either is unseen)."""
    return (_pt(xy, a) + _pt(xy, b)) / 2.0


def _cross(u: NDArray, v: NDArray) -> NDArray:
    """z of the 2D cross product; its sign says which side of u the vector v lies on."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _norm(u: NDArray) -> NDArray:
    """Euclidean length over the last axis."""
    return np.hypot(u[..., 0], u[..., 1])


def angle_between_deg(u: ArrayLike, v: ArrayLike) -> NDArray:
    """Unsigned angle between (..., 2) vectors in [0, 180]; atan2 keeps it accurate near 0 and 180."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return np.degrees(np.arctan2(np.abs(_cross(u, v)), np.sum(u * v, axis=-1)))


_angle_between_deg = angle_between_deg  # old private name, still used by measures.py


def _sign_towards(line: NDArray, offset: NDArray, reference: NDArray) -> NDArray:
    """+1 when `offset` lies on the same side of `line` as `reference`, -1 opposite, 0 on it; NaN propagates."""
    return np.sign(_cross(line, offset)) * np.sign(_cross(line, reference))


def angle_at_deg(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> NDArray:
    """Angle ABC in [0, 180] degrees for (..., 2) points: the building block of every joint angle."""
    a, b, c = (np.asarray(p, dtype=np.float64) for p in (a, b, c))
    return angle_between_deg(a - b, c - b)


# ---------------------------------------------------------------------------------------------- joint angles


def knee_flexion_deg(xy: NDArray, side: Side | str) -> NDArray:
    """180 - angle(hip, knee, ankle): 0 = straight leg; squat depth is dosed by this (clinical.md §3.5)."""
    return 180.0 - angle_at_deg(_pt(xy, sided(side, "HIP")), _pt(xy, sided(side, "KNEE")),
                                _pt(xy, sided(side, "ANKLE")))


def hip_flexion_deg(xy: NDArray, side: Side | str) -> NDArray:
    """180 - angle(shoulder, hip, knee): 0 = thigh in line with the trunk (bridges, leg raises, squat depth)."""
    return 180.0 - angle_at_deg(_pt(xy, sided(side, "SHOULDER")), _pt(xy, sided(side, "HIP")),
                                _pt(xy, sided(side, "KNEE")))


def hip_abduction_deg(xy: NDArray, side: Side | str) -> NDArray:
    """Thigh vs trunk axis, + when the knee is lateral (away from the other hip): side leg raises, frontal view."""
    side = Side(side)
    hip, knee = _pt(xy, sided(side, "HIP")), _pt(xy, sided(side, "KNEE"))
    other_hip = _pt(xy, sided(side.other, "HIP"))
    axis = _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP) - _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER)
    thigh = knee - hip
    lateral = -_sign_towards(axis, thigh, other_hip - hip)
    return lateral * angle_between_deg(axis, thigh)


def _knee_offset_px(xy: NDArray, side: Side) -> tuple[NDArray, NDArray]:
    """Signed distance of the knee from the hip-ankle line (+ medial) and the shank length, both in px."""
    hip, knee, ankle = (_pt(xy, sided(side, n)) for n in ("HIP", "KNEE", "ANKLE"))
    other_hip = _pt(xy, sided(side.other, "HIP"))
    line = ankle - hip
    medial = _sign_towards(line, knee - hip, other_hip - hip)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist_px = np.abs(_cross(line, knee - hip)) / _norm(line)
    return medial * dist_px, _norm(ankle - knee)


def fppa_deg(xy: NDArray, side: Side | str) -> NDArray:
    """Frontal plane projection angle, + = valgus (knee medial of hip-ankle line), - = varus (clinical.md §3.2)."""
    side = Side(side)
    offset_px, _ = _knee_offset_px(xy, side)
    return np.sign(offset_px) * knee_flexion_deg(xy, side)


def knee_medial_offset_ratio(xy: NDArray, side: Side | str) -> NDArray:
    """Knee's distance from the hip-ankle line, + medial, per shank length: valgus shift without an angle."""
    offset_px, shank_px = _knee_offset_px(xy, Side(side))
    with np.errstate(invalid="ignore", divide="ignore"):
        return offset_px / shank_px


def knee_ankle_width_ratio(xy: NDArray) -> NDArray:
    """Knee separation / ankle separation (KASR; < ~0.7 = knees caving in a bilateral squat, clinical.md §3.2)."""
    knees = _norm(_pt(xy, Lm.LEFT_KNEE) - _pt(xy, Lm.RIGHT_KNEE))
    ankles = _norm(_pt(xy, Lm.LEFT_ANKLE) - _pt(xy, Lm.RIGHT_ANKLE))
    with np.errstate(invalid="ignore", divide="ignore"):
        return knees / ankles


def pelvic_drop_deg(xy: NDArray, stance_side: Side | str) -> NDArray:
    """Hip line vs image horizontal, + when the non-stance hip is lower (contralateral drop, clinical.md §3.3)."""
    stance_side = Side(stance_side)
    d = _pt(xy, sided(stance_side.other, "HIP")) - _pt(xy, sided(stance_side, "HIP"))
    return np.degrees(np.arctan2(d[..., 1], np.abs(d[..., 0])))


def trunk_lateral_lean_deg(xy: NDArray) -> NDArray:
    """Mid-hip->mid-shoulder vs vertical, + towards the person's left (front and back agree; clinical.md §3.4)."""
    trunk = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    left_x = np.sign(_pt(xy, Lm.LEFT_HIP)[..., 0] - _pt(xy, Lm.RIGHT_HIP)[..., 0])
    left_x = np.where(left_x == 0, np.nan, left_x)  # hips stacked (side view): no left direction
    return np.degrees(np.arctan2(trunk[..., 0] * left_x, -trunk[..., 1]))


def _trunk_vector(xy: NDArray) -> NDArray:
    """Hip->shoulder vector: both sides' midpoints when all four are seen, else the one side that is."""
    both = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    left = _pt(xy, Lm.LEFT_SHOULDER) - _pt(xy, Lm.LEFT_HIP)
    right = _pt(xy, Lm.RIGHT_SHOULDER) - _pt(xy, Lm.RIGHT_HIP)
    ok = np.isfinite(both).all(axis=-1, keepdims=True)
    left_ok = np.isfinite(left).all(axis=-1, keepdims=True)
    return np.where(ok, both, np.where(left_ok, left, right))


def trunk_forward_lean_deg(xy: NDArray) -> NDArray:
    """Unsigned trunk angle to the image vertical; in a side view that is forward lean (clinical.md §3.4)."""
    trunk = _trunk_vector(xy)
    return np.degrees(np.arctan2(np.abs(trunk[..., 0]), -trunk[..., 1]))


def knee_past_toe_ratio(xy: NDArray, side: Side | str) -> NDArray:
    """How far the knee is ahead of the toe tip along the foot's direction, per shank length (side view, §3.5)."""
    knee, ankle = _pt(xy, sided(side, "KNEE")), _pt(xy, sided(side, "ANKLE"))
    heel, toe = _pt(xy, sided(side, "HEEL")), _pt(xy, sided(side, "FOOT_INDEX"))
    foot = toe - heel
    with np.errstate(invalid="ignore", divide="ignore"):
        horizontal = np.abs(foot[..., 0]) / _norm(foot) >= FOOT_DIRECTION_MIN_RATIO
        forward = np.where(horizontal, np.sign(foot[..., 0]), np.nan)
        return (knee[..., 0] - toe[..., 0]) * forward / _norm(knee - ankle)


def facing_sign(xy: NDArray) -> NDArray:
    """+1 if the person faces image +x, -1 if -x, NaN if unknown: orients side-view measures.

    Votes: each foot's heel->toe x direction and the nose relative to the ears' midpoint (or the one seen ear).
    """
    votes = [np.sign(_pt(xy, sided(s, "FOOT_INDEX"))[..., 0] - _pt(xy, sided(s, "HEEL"))[..., 0]) for s in Side]
    left_ear, right_ear = _pt(xy, Lm.LEFT_EAR)[..., 0], _pt(xy, Lm.RIGHT_EAR)[..., 0]
    ear_x = np.where(np.isnan(left_ear), right_ear,
                     np.where(np.isnan(right_ear), left_ear, (left_ear + right_ear) / 2))
    votes.append(np.sign(_pt(xy, Lm.NOSE)[..., 0] - ear_x))
    total = np.nansum(np.stack(votes, axis=-1), axis=-1)
    return np.where(total == 0, np.nan, np.sign(total))


# ---------------------------------------------------------------------------------------------- camera view

_LEFT_BODY = np.array([Lm.LEFT_SHOULDER, Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE])
_RIGHT_BODY = np.array([Lm.RIGHT_SHOULDER, Lm.RIGHT_HIP, Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE])
_FACE = np.array([Lm.NOSE, Lm.LEFT_EYE, Lm.RIGHT_EYE])
_VIEW_CODES = np.array([View.FRONT, View.BACK, View.SIDE, View.UNKNOWN], dtype=object)


def view_features(xy_or_xyz: NDArray, visibility: NDArray) -> dict[str, NDArray]:
    """The per-frame cues classify_view combines, exposed so they can be inspected and tuned on real clips.

    Positions are used as given (pass raw xyz_px so occluded landmarks still give a width); a landmark that
    is NaN is treated as unseen.
    """
    p = np.asarray(xy_or_xyz, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64)
    torso = _norm(_mid(p, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(p, Lm.LEFT_HIP, Lm.RIGHT_HIP))
    sh = _pt(p, Lm.LEFT_SHOULDER) - _pt(p, Lm.RIGHT_SHOULDER)
    hips = _pt(p, Lm.LEFT_HIP) - _pt(p, Lm.RIGHT_HIP)
    with np.errstate(invalid="ignore", divide="ignore"):
        shoulder_ratio = _norm(sh) / torso
        hip_ratio = _norm(hips) / torso
    if p.shape[-1] >= 3:
        z_l, z_r = p[..., int(Lm.LEFT_SHOULDER), 2], p[..., int(Lm.RIGHT_SHOULDER), 2]
        depth_yaw_deg = np.degrees(np.arctan2(np.abs(z_l - z_r), _norm(sh)))
        with np.errstate(invalid="ignore", divide="ignore"):
            nose_depth_ratio = (p[..., int(Lm.NOSE), 2] - (z_l + z_r) / 2) / torso
    else:
        depth_yaw_deg = nose_depth_ratio = np.full(shoulder_ratio.shape, np.nan)
    vis_lr = vis[..., _LEFT_BODY].mean(axis=-1) - vis[..., _RIGHT_BODY].mean(axis=-1)
    face_vis = vis[..., _FACE].mean(axis=-1)
    # In a front view the person's left shoulder is on the image right (+x); in a back view on the image left.
    left_on_image_right = np.sign(sh[..., 0])
    return {"shoulder_ratio": shoulder_ratio, "hip_ratio": hip_ratio, "depth_yaw_deg": depth_yaw_deg,
            "nose_depth_ratio": nose_depth_ratio, "visibility_asymmetry": np.abs(vis_lr),
            "face_visibility": face_vis, "left_on_image_right": left_on_image_right}


def _view_codes(f: dict[str, NDArray]) -> NDArray:
    """Integer view codes (indices into _VIEW_CODES) from the cues; anything undecided -> UNKNOWN."""
    yaw, asym = f["depth_yaw_deg"], f["visibility_asymmetry"]
    with np.errstate(invalid="ignore"):
        no_depth = np.isnan(yaw)
        frontal = ((f["shoulder_ratio"] >= FRONTAL_MIN_SHOULDER_RATIO) & (f["hip_ratio"] >= FRONTAL_MIN_HIP_RATIO)
                   & (no_depth | (yaw <= FRONTAL_MAX_DEPTH_YAW_DEG)))
        turned = np.where(no_depth, asym >= SIDE_MIN_VISIBILITY_ASYMMETRY, yaw >= SIDE_MIN_DEPTH_YAW_DEG)
        narrow = (f["shoulder_ratio"] <= SIDE_MAX_SHOULDER_RATIO) & (f["hip_ratio"] <= SIDE_MAX_HIP_RATIO)
        side = narrow & (turned | (no_depth & (f["shoulder_ratio"] <= SIDE_MAX_SHOULDER_RATIO_NO_DEPTH)))
        nose = f["nose_depth_ratio"]
        facing = ((f["left_on_image_right"] > 0) & (no_depth | (nose <= -NOSE_DEPTH_MIN_RATIO))
                  & ~(f["face_visibility"] < FACE_HIDDEN_MAX))
        away = (f["left_on_image_right"] < 0) & (no_depth | (nose >= NOSE_DEPTH_MIN_RATIO))
    code = np.full(f["shoulder_ratio"].shape, 3, dtype=np.int8)
    code[frontal & facing] = 0
    code[frontal & away] = 1
    code[side] = 2
    return code


def classify_view(xy_or_xyz: NDArray, visibility: NDArray) -> View | NDArray:
    """FRONT / BACK / SIDE / UNKNOWN per frame, so rules refuse a view they are not valid in (clinical.md §4.4).

    Takes (..., 33, 2|3) positions and (..., 33) visibility; one frame gives a View, more give an object
    array of View with the leading shape. Pass the raw xyz_px (with z): on the 28 labelled clips the
    dominant view matched the label 26/28 times (obliques -> UNKNOWN; the two misses, a "front" and a "side"
    clip filmed ~45-60 deg off-axis, came out UNKNOWN, never a wrong view); with x, y only, 22/28
    (30-45 deg obliques then read as FRONT).
    """
    codes = _view_codes(view_features(xy_or_xyz, visibility))
    if codes.ndim == 0:
        return _VIEW_CODES[int(codes)]
    return _VIEW_CODES[codes]


def dominant_view(views: ArrayLike) -> View:
    """The view a window was filmed from: the clear majority of its decided frames, else UNKNOWN."""
    labels = np.asarray(views, dtype=object).ravel().astype(str)
    decided = labels[labels != View.UNKNOWN.value]
    if decided.size == 0 or decided.size < DOMINANT_MIN_DECIDED * labels.size:
        return View.UNKNOWN
    values, counts = np.unique(decided, return_counts=True)
    best = int(np.argmax(counts))
    return View(str(values[best])) if counts[best] >= DOMINANT_MIN_SHARE * decided.size else View.UNKNOWN
