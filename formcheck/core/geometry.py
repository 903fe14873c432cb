"""Joint angles and camera-view detection from 2D landmarks: pure numpy, vectorised, NaN in -> NaN out.

Every measure takes ``xy`` of shape (..., 33, 2) in px (image y grows downward, NaN where a landmark was not
seen) and returns a float64 array of shape (...). Left/right are the person's own sides; "medial" for a side
means towards the other hip, so frontal measures read the same in a front and a back view.
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import ArrayLike

from formcheck.core.landmarks import Lm, Side, sided
from formcheck.core.types import FloatArray, as_float

# A heel->toe segment whose horizontal extent is below this fraction of its length points mostly towards or
# away from the camera, so "ahead of the toes" has no horizontal direction (judgement call).
FOOT_DIRECTION_MIN_RATIO = 0.5

# ---- camera view, from the continuous viewpoint (formcheck.core.viewpoint: camera yaw around the person, folded so
# that 0 = square to the front or the back and 90 = side-on). A view is only a coarse name for guidance
# ("face the camera", "turn side-on"); each rule is judged on its own measured yaw window (RuleSpec.yaw_window_deg).
# Front/back: folded yaw at most this. Through MediaPipe a true 15 deg camera reads 2-10 deg and a true 30 deg
# one 18-29 deg (mannequin sweep, benchmarks/view_sweep.md), and the labelled front clips of ../shared/videos
# read at most 12 deg at their 90th percentile, so 15 keeps "front" to cameras within ~20-25 deg of square.
FRONTAL_MAX_YAW_DEG = 15.0
# ... for a person lying down, at most this: the yaw about a lying body's long axis is what the estimator reads,
# and the mannequin sweep's side-lying clips, filmed by the fixture's own square-on camera, read 17-28 deg (the
# lying figure's trunk is rolled; MediaPipe's world landmarks of lying bodies are the least reliable,
# docs/clinical.md §4.1), while the real lying clips filmed side-on read 75-93 deg.
FRONTAL_MAX_YAW_LYING_DEG = 30.0
# Side: folded yaw at least this (the sweep's estimator error is a few degrees from 45 deg to side-on; the
# labelled side clips' medians read 75-90 deg). Between the two: oblique, View.UNKNOWN.
SIDE_MIN_YAW_DEG = 60.0
# A frame whose viewpoint confidence is below this has no view (the estimator's checks disagree).
VIEW_MIN_CONFIDENCE = 0.3
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


def _pt(xy: FloatArray, lm: Lm) -> FloatArray:
    """One landmark's (..., 2) points, as float64."""
    return np.asarray(xy[..., int(lm), :2], dtype=np.float64)


def _mid(xy: FloatArray, a: Lm, b: Lm) -> FloatArray:
    """Midpoint of two landmarks (NaN if either is unseen)."""
    return (_pt(xy, a) + _pt(xy, b)) / 2.0


def _cross(u: FloatArray, v: FloatArray) -> FloatArray:
    """z of the 2D cross product; its sign says which side of u the vector v lies on."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _norm(u: FloatArray) -> FloatArray:
    """Euclidean length over the last axis."""
    return np.hypot(u[..., 0], u[..., 1])


def angle_between_deg(u: ArrayLike, v: ArrayLike) -> FloatArray:
    """Unsigned angle between (..., 2) vectors in [0, 180]; atan2 keeps it accurate near 0 and 180."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return as_float(np.degrees(np.arctan2(np.abs(_cross(u, v)), np.sum(u * v, axis=-1))))


_angle_between_deg = angle_between_deg  # old private name, still used by measures.py


def _sign_towards(line: FloatArray, offset: FloatArray, reference: FloatArray) -> FloatArray:
    """+1 when `offset` lies on the same side of `line` as `reference`, -1 opposite, 0 on it; NaN propagates."""
    return np.sign(_cross(line, offset)) * np.sign(_cross(line, reference))


def angle_at_deg(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> FloatArray:
    """Angle ABC in [0, 180] degrees for (..., 2) points: the building block of every joint angle."""
    a, b, c = (np.asarray(p, dtype=np.float64) for p in (a, b, c))
    return angle_between_deg(a - b, c - b)


# ---------------------------------------------------------------------------------------------- joint angles


def knee_flexion_deg(xy: FloatArray, side: Side | str) -> FloatArray:
    """180 - angle(hip, knee, ankle): 0 = straight leg; squat depth is dosed by this (docs/clinical.md §3.5)."""
    return 180.0 - angle_at_deg(
        _pt(xy, sided(side, "HIP")), _pt(xy, sided(side, "KNEE")), _pt(xy, sided(side, "ANKLE"))
    )


def hip_flexion_deg(xy: FloatArray, side: Side | str) -> FloatArray:
    """180 - angle(shoulder, hip, knee): 0 = thigh in line with the trunk (bridges, leg raises, squat depth)."""
    return 180.0 - angle_at_deg(
        _pt(xy, sided(side, "SHOULDER")), _pt(xy, sided(side, "HIP")), _pt(xy, sided(side, "KNEE"))
    )


def hip_abduction_deg(xy: FloatArray, side: Side | str) -> FloatArray:
    """Thigh vs trunk axis, + when the knee is lateral (away from the other hip): side leg raises, frontal view."""
    side = Side(side)
    hip, knee = _pt(xy, sided(side, "HIP")), _pt(xy, sided(side, "KNEE"))
    other_hip = _pt(xy, sided(side.other, "HIP"))
    axis = _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP) - _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER)
    thigh = knee - hip
    lateral = -_sign_towards(axis, thigh, other_hip - hip)
    return lateral * angle_between_deg(axis, thigh)


def _knee_offset_px(xy: FloatArray, side: Side) -> tuple[FloatArray, FloatArray]:
    """Signed distance of the knee from the hip-ankle line (+ medial) and the shank length, both in px."""
    hip, knee, ankle = (_pt(xy, sided(side, n)) for n in ("HIP", "KNEE", "ANKLE"))
    other_hip = _pt(xy, sided(side.other, "HIP"))
    line = ankle - hip
    medial = _sign_towards(line, knee - hip, other_hip - hip)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist_px = np.abs(_cross(line, knee - hip)) / _norm(line)
    return medial * dist_px, _norm(ankle - knee)


def fppa_deg(xy: FloatArray, side: Side | str) -> FloatArray:
    """Frontal plane projection angle, + = valgus (knee medial of hip-ankle line), - = varus (docs/clinical.md §3.2)."""
    side = Side(side)
    offset_px, _ = _knee_offset_px(xy, side)
    return np.sign(offset_px) * knee_flexion_deg(xy, side)


def knee_medial_offset_ratio(xy: FloatArray, side: Side | str) -> FloatArray:
    """Knee's distance from the hip-ankle line, + medial, per shank length: valgus shift without an angle."""
    offset_px, shank_px = _knee_offset_px(xy, Side(side))
    with np.errstate(invalid="ignore", divide="ignore"):
        return offset_px / shank_px


def knee_ankle_width_ratio(xy: FloatArray) -> FloatArray:
    """Knee separation / ankle separation (KASR; < ~0.7 = knees caving in a bilateral squat, docs/clinical.md §3.2)."""
    knees = _norm(_pt(xy, Lm.LEFT_KNEE) - _pt(xy, Lm.RIGHT_KNEE))
    ankles = _norm(_pt(xy, Lm.LEFT_ANKLE) - _pt(xy, Lm.RIGHT_ANKLE))
    with np.errstate(invalid="ignore", divide="ignore"):
        return knees / ankles


def pelvic_drop_deg(xy: FloatArray, stance_side: Side | str) -> FloatArray:
    """Hip line vs image horizontal, + when the non-stance hip is lower (contralateral drop, docs/clinical.md §3.3)."""
    stance_side = Side(stance_side)
    d = _pt(xy, sided(stance_side.other, "HIP")) - _pt(xy, sided(stance_side, "HIP"))
    return np.degrees(np.arctan2(d[..., 1], np.abs(d[..., 0])))


def trunk_lateral_lean_deg(xy: FloatArray) -> FloatArray:
    """Mid-hip->mid-shoulder vs vertical, + towards the person's left (front and back agree; docs/clinical.md §3.4)."""
    trunk = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    left_x = np.sign(_pt(xy, Lm.LEFT_HIP)[..., 0] - _pt(xy, Lm.RIGHT_HIP)[..., 0])
    left_x = np.where(left_x == 0, np.nan, left_x)  # hips stacked (side view): no left direction
    return np.degrees(np.arctan2(trunk[..., 0] * left_x, -trunk[..., 1]))


def _trunk_vector(xy: FloatArray) -> FloatArray:
    """Hip->shoulder vector: both sides' midpoints when all four are seen, else the one side that is."""
    both = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    left = _pt(xy, Lm.LEFT_SHOULDER) - _pt(xy, Lm.LEFT_HIP)
    right = _pt(xy, Lm.RIGHT_SHOULDER) - _pt(xy, Lm.RIGHT_HIP)
    ok = np.isfinite(both).all(axis=-1, keepdims=True)
    left_ok = np.isfinite(left).all(axis=-1, keepdims=True)
    return np.where(ok, both, np.where(left_ok, left, right))


def trunk_forward_lean_deg(xy: FloatArray) -> FloatArray:
    """Unsigned trunk angle to the image vertical; in a side view that is forward lean (docs/clinical.md §3.4)."""
    trunk = _trunk_vector(xy)
    return np.degrees(np.arctan2(np.abs(trunk[..., 0]), -trunk[..., 1]))


def knee_past_toe_ratio(xy: FloatArray, side: Side | str) -> FloatArray:
    """How far the knee is ahead of the toe tip along the foot's direction, per shank length (side view, §3.5)."""
    knee, ankle = _pt(xy, sided(side, "KNEE")), _pt(xy, sided(side, "ANKLE"))
    heel, toe = _pt(xy, sided(side, "HEEL")), _pt(xy, sided(side, "FOOT_INDEX"))
    foot = toe - heel
    with np.errstate(invalid="ignore", divide="ignore"):
        horizontal = np.abs(foot[..., 0]) / _norm(foot) >= FOOT_DIRECTION_MIN_RATIO
        forward = np.where(horizontal, np.sign(foot[..., 0]), np.nan)
        return (knee[..., 0] - toe[..., 0]) * forward / _norm(knee - ankle)


def facing_sign(xy: FloatArray) -> FloatArray:
    """+1 if the person faces image +x, -1 if -x, NaN if unknown: orients side-view measures.

    Votes: each foot's heel->toe x direction and the nose relative to the ears' midpoint (or the one seen ear).
    """
    votes = [np.sign(_pt(xy, sided(s, "FOOT_INDEX"))[..., 0] - _pt(xy, sided(s, "HEEL"))[..., 0]) for s in Side]
    left_ear, right_ear = _pt(xy, Lm.LEFT_EAR)[..., 0], _pt(xy, Lm.RIGHT_EAR)[..., 0]
    ear_x = np.where(np.isnan(left_ear), right_ear, np.where(np.isnan(right_ear), left_ear, (left_ear + right_ear) / 2))
    votes.append(np.sign(_pt(xy, Lm.NOSE)[..., 0] - ear_x))
    total = np.nansum(np.stack(votes, axis=-1), axis=-1)
    return np.where(total == 0, np.nan, np.sign(total))


# ---------------------------------------------------------------------------------------------- camera view

_VIEW_CODES = np.array([View.FRONT, View.BACK, View.SIDE, View.UNKNOWN], dtype=object)


def fold_yaw_deg(yaw_deg: ArrayLike) -> FloatArray:
    """Camera yaw in [0, 180] (0 = front, 180 = behind) folded to [0, 90]: 0 = square to the front or back."""
    y = np.abs(np.asarray(yaw_deg, dtype=np.float64))
    return np.minimum(y, 180.0 - y)


def views_from_yaw(yaw_deg: ArrayLike, confidence: ArrayLike, *, lying: bool = False) -> FloatArray:
    """FRONT / BACK / SIDE / UNKNOWN per frame from the camera yaw in [0, 180] and its confidence (NaN or
    low confidence -> UNKNOWN; obliques between FRONTAL_MAX_YAW_DEG and SIDE_MIN_YAW_DEG -> UNKNOWN).
    `lying`: the exercise is done lying down (FRONTAL_MAX_YAW_LYING_DEG)."""
    y = np.abs(np.asarray(yaw_deg, dtype=np.float64))
    ok = np.asarray(confidence, dtype=np.float64) >= VIEW_MIN_CONFIDENCE
    f = fold_yaw_deg(y)
    frontal_max = FRONTAL_MAX_YAW_LYING_DEG if lying else FRONTAL_MAX_YAW_DEG
    code = np.full(y.shape, 3, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        code[ok & (f <= frontal_max) & (y < 90.0)] = 0
        code[ok & (f <= frontal_max) & (y > 90.0)] = 1
        code[ok & (f >= SIDE_MIN_YAW_DEG)] = 2
    return _VIEW_CODES[code]


def dominant_view(views: ArrayLike) -> View:
    """The view a window was filmed from: the clear majority of its decided frames, else UNKNOWN."""
    labels = np.asarray(views, dtype=object).ravel().astype(str)
    decided = labels[labels != View.UNKNOWN.value]
    if decided.size == 0 or decided.size < DOMINANT_MIN_DECIDED * labels.size:
        return View.UNKNOWN
    values, counts = np.unique(decided, return_counts=True)
    best = int(np.argmax(counts))
    return View(str(values[best])) if counts[best] >= DOMINANT_MIN_SHARE * decided.size else View.UNKNOWN
