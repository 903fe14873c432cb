"""The mannequin's body: adult proportions, a small kinematic model (FK for free limbs, two-link IK for planted
feet) and the mapping of its joints to BlazePose's 33 landmarks.

World frame: metres, +y up, the floor is y = 0. A person standing with ``facing_deg = 0`` looks along +z, so
their own LEFT is +x (a camera on +z sees their left on the image right, as in a real front view).
Every angle is in degrees and signed as its field's comment says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from formcheck.core.landmarks import N_LANDMARKS, Lm, Side

Vec = NDArray[np.float64]

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
_Z = np.array([0.0, 0.0, 1.0])


def rot(axis: Vec | tuple[float, float, float], angle_deg: float) -> NDArray[np.float64]:
    """3×3 rotation by `angle_deg` about `axis` (right-hand rule, Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    th = np.radians(angle_deg)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    r: NDArray[np.float64] = np.eye(3) + np.sin(th) * k + (1.0 - np.cos(th)) * (k @ k)
    return r


def unit(v: Vec) -> Vec:
    return v / np.linalg.norm(v)


# The body frame of a person lying on their LEFT side with the head towards +x, facing +z (a camera on +z
# sees their front): their up (cranial) axis is world +x, their left is world −y (the floor), forward is +z.
LYING_ON_LEFT_HEAD_PLUS_X: NDArray[np.float64] = np.column_stack([-_Y, _X, _Z])


@dataclasses.dataclass(frozen=True)
class Body:
    """Segment lengths of a ~1.75 m adult (Winter's anthropometric fractions of height, rounded)."""

    thigh_m: float = 0.42
    shank_m: float = 0.42
    ankle_height_m: float = 0.08
    hip_half_width_m: float = 0.095
    spine_m: float = 0.56  # hip-joint centre line to the base of the neck
    shoulder_drop_m: float = 0.045  # shoulder joint centres sit below the neck base
    shoulder_half_width_m: float = 0.18
    upper_arm_m: float = 0.30
    forearm_m: float = 0.26
    head_centre_above_neck_m: float = 0.17
    head_radii_m: tuple[float, float, float] = (0.078, 0.112, 0.098)  # half-width, half-height, half-depth
    heel_back_m: float = 0.06
    toe_forward_m: float = 0.175
    foot_drop_m: float = 0.05  # from the ankle centre down to the sole line's capsule axis

    @property
    def leg_m(self) -> float:
        return self.thigh_m + self.shank_m

    @property
    def standing_hip_height_m(self) -> float:
        return self.ankle_height_m + self.leg_m


@dataclasses.dataclass(frozen=True)
class PlantedLeg:
    """A foot fixed on a surface; the knee is found by two-link IK from the hip and ankle."""

    ankle_m: tuple[float, float, float]
    toe_out_deg: float = 8.0  # foot turned outwards from the body's forward axis
    heel_lift_deg: float = 0.0  # + heel up (on the ball of the foot)
    knee_medial_deg: float = 0.0  # swivel of the knee about the hip–ankle axis, + medial (valgus)


@dataclasses.dataclass(frozen=True)
class FreeLeg:
    """A leg posed by joint angles from the hip (forward kinematics) in the body frame."""

    hip_flexion_deg: float = 0.0  # + thigh forward
    hip_abduction_deg: float = 0.0  # + thigh away from the midline
    knee_flexion_deg: float = 0.0  # + heel towards the buttock
    ankle_dorsiflexion_deg: float = 0.0  # + toes up


@dataclasses.dataclass(frozen=True)
class ArmPose:
    flexion_deg: float = 8.0  # + arm forward
    abduction_deg: float = 14.0  # + arm away from the body
    elbow_flexion_deg: float = 12.0


Leg = PlantedLeg | FreeLeg


@dataclasses.dataclass(frozen=True, eq=False)
class Pose:
    """Everything that fixes the mannequin's posture in one frame."""

    pelvis_m: tuple[float, float, float]  # midpoint of the two hip-joint centres
    left_leg: Leg
    right_leg: Leg
    facing_deg: float = 0.0  # body turned about world up; 0 = facing +z, 90 = facing +x
    base: NDArray[np.float64] | None = None  # body frame override (e.g. LYING_ON_LEFT_HEAD_PLUS_X); columns left/up/fwd
    pelvis_obliquity_deg: float = 0.0  # + left hip higher (about the forward axis)
    pelvis_rotation_deg: float = 0.0  # + pelvis turned towards the person's left (left hip goes back)
    trunk_forward_deg: float = 0.0  # + trunk leans forward
    trunk_lateral_deg: float = 0.0  # + trunk leans towards the person's left
    trunk_rotation_deg: float = 0.0  # + shoulders turned towards the person's left
    head_pitch_deg: float = 0.0  # + chin up (relative to the trunk)
    head_lateral_deg: float = 0.0  # + head tilted towards the left ear
    left_arm: ArmPose = ArmPose()
    right_arm: ArmPose = ArmPose()

    def body_frame(self) -> NDArray[np.float64]:
        b = np.eye(3) if self.base is None else np.asarray(self.base, dtype=np.float64)
        return b @ rot(_Y, self.facing_deg)


@dataclasses.dataclass(frozen=True, eq=False)
class Skeleton:
    """Joint centres (world m) and segment frames of one posed mannequin."""

    joints: dict[str, Vec]
    pelvis_frame: NDArray[np.float64]  # columns: person's left, up, forward
    trunk_frame: NDArray[np.float64]
    head_frame: NDArray[np.float64]
    foot_frames: dict[Side, NDArray[np.float64]]
    hand_frames: dict[Side, NDArray[np.float64]]

    def landmarks_m(self, body: Body) -> NDArray[np.float64]:
        """(33, 3) world positions of the BlazePose landmarks."""
        return landmarks33(self, body)


def _sgn(side: Side) -> float:
    return 1.0 if side is Side.LEFT else -1.0


def _knee_ik(hip: Vec, ankle: Vec, thigh_m: float, shank_m: float, pole: Vec, medial: Vec, swivel_deg: float) -> Vec:
    """Knee centre for a hip and ankle: in the plane of hip, ankle and `pole`, swivelled medially."""
    d_vec = ankle - hip
    d = float(np.linalg.norm(d_vec))
    u = d_vec / d
    d = min(d, (thigh_m + shank_m) * 0.9995)
    a = (thigh_m**2 - shank_m**2 + d**2) / (2.0 * d)
    r = float(np.sqrt(max(thigh_m**2 - a**2, 0.0)))
    p = unit(pole - np.dot(pole, u) * u)
    q = np.cross(u, p)
    if np.dot(q, medial) < 0:
        q = -q
    phi = np.radians(swivel_deg)
    knee: Vec = hip + a * u + r * (np.cos(phi) * p + np.sin(phi) * q)
    return knee


def _leg_frame(pose: Pose) -> NDArray[np.float64]:
    """Frame the legs are posed in: the body frame turned with the pelvis, but not tilted with it."""
    return pose.body_frame() @ rot(_Y, pose.pelvis_rotation_deg)


def _planted_foot_frame(rleg: NDArray[np.float64], side: Side, leg: PlantedLeg) -> NDArray[np.float64]:
    return rleg @ rot(_Y, _sgn(side) * leg.toe_out_deg) @ rot(_X, leg.heel_lift_deg)


def _planted_pole_medial(pose: Pose, side: Side, leg: PlantedLeg) -> tuple[Vec, Vec]:
    """The knee points where the foot points (pole); medial is towards the body's midline."""
    rleg = _leg_frame(pose)
    return _planted_foot_frame(rleg, side, leg) @ _Z, rleg @ (-_sgn(side) * _X)


def pose_skeleton(body: Body, pose: Pose) -> Skeleton:
    """Forward/inverse kinematics: the joint centres for `pose`."""
    rb = pose.body_frame()
    rp = rb @ rot(_Y, pose.pelvis_rotation_deg) @ rot(_Z, pose.pelvis_obliquity_deg)
    rleg = _leg_frame(pose)  # legs follow the pelvis turn, not its obliquity
    rt = rb @ rot(_Y, pose.trunk_rotation_deg) @ rot(_Z, -pose.trunk_lateral_deg) @ rot(_X, pose.trunk_forward_deg)
    pelvis = np.asarray(pose.pelvis_m, dtype=np.float64)
    j: dict[str, Vec] = {"pelvis": pelvis}
    foot_frames: dict[Side, NDArray[np.float64]] = {}
    for side, leg in ((Side.LEFT, pose.left_leg), (Side.RIGHT, pose.right_leg)):
        s = _sgn(side)
        hip = pelvis + rp @ (s * body.hip_half_width_m * _X)
        if isinstance(leg, PlantedLeg):
            rf = _planted_foot_frame(rleg, side, leg)
            ankle = np.asarray(leg.ankle_m, dtype=np.float64)
            pole, medial = _planted_pole_medial(pose, side, leg)
            knee = _knee_ik(hip, ankle, body.thigh_m, body.shank_m, pole, medial, leg.knee_medial_deg)
        else:
            rh = rleg @ rot(_X, -leg.hip_flexion_deg) @ rot(_Z, s * leg.hip_abduction_deg)
            knee = hip + body.thigh_m * (rh @ -_Y)
            axis = rh @ _X
            rk = rot(axis, leg.knee_flexion_deg) @ rh
            ankle = knee + body.shank_m * (rk @ -_Y)
            rf = rot(axis, -leg.ankle_dorsiflexion_deg) @ rk
        fwd, up = rf @ _Z, rf @ _Y
        j[f"hip_{side}"] = hip
        j[f"knee_{side}"] = knee
        j[f"ankle_{side}"] = ankle
        j[f"heel_{side}"] = ankle - body.heel_back_m * fwd - body.foot_drop_m * up
        j[f"toe_{side}"] = ankle + body.toe_forward_m * fwd - body.foot_drop_m * up
        foot_frames[side] = rf

    neck = pelvis + rt @ (body.spine_m * _Y)
    j["neck"] = neck
    rh_ = rt @ rot(_X, -pose.head_pitch_deg) @ rot(_Z, -pose.head_lateral_deg)
    j["head"] = neck + rh_ @ np.array([0.0, body.head_centre_above_neck_m, 0.012])
    hand_frames: dict[Side, NDArray[np.float64]] = {}
    for side, arm in ((Side.LEFT, pose.left_arm), (Side.RIGHT, pose.right_arm)):
        s = _sgn(side)
        sh = neck + rt @ np.array([s * body.shoulder_half_width_m, -body.shoulder_drop_m, -0.01])
        ra = rt @ rot(_X, -arm.flexion_deg) @ rot(_Z, s * arm.abduction_deg)
        elbow = sh + body.upper_arm_m * (ra @ -_Y)
        re = rot(ra @ _X, -arm.elbow_flexion_deg) @ ra
        wrist = elbow + body.forearm_m * (re @ -_Y)
        j[f"shoulder_{side}"], j[f"elbow_{side}"], j[f"wrist_{side}"] = sh, elbow, wrist
        hand_frames[side] = re
    return Skeleton(
        joints=j, pelvis_frame=rp, trunk_frame=rt, head_frame=rh_, foot_frames=foot_frames, hand_frames=hand_frames
    )


# Face points in the head frame (x = person's left, y = up, z = forward), metres from the head centre.
_FACE_M: dict[Lm, tuple[float, float, float]] = {
    Lm.NOSE: (0.0, -0.012, 0.114),
    Lm.LEFT_EYE_INNER: (0.017, 0.024, 0.090),
    Lm.LEFT_EYE: (0.032, 0.024, 0.086),
    Lm.LEFT_EYE_OUTER: (0.047, 0.024, 0.077),
    Lm.LEFT_EAR: (0.078, 0.008, -0.004),
    Lm.MOUTH_LEFT: (0.023, -0.052, 0.086),
}


def face_points_m(side_sign: float) -> dict[Lm, NDArray[np.float64]]:
    """Face landmark offsets in the head frame; side_sign +1 gives the left-side ones (and the nose)."""
    out: dict[Lm, NDArray[np.float64]] = {}
    for lm, (x, y, z) in _FACE_M.items():
        if lm is Lm.NOSE:
            out[lm] = np.array([x, y, z])
            continue
        name = lm.name.replace("LEFT", "LEFT" if side_sign > 0 else "RIGHT")
        out[Lm[name]] = np.array([side_sign * x, y, z])
    return out


def landmarks33(sk: Skeleton, body: Body) -> NDArray[np.float64]:
    """(33, 3) world positions of the BlazePose landmarks for a posed skeleton."""
    out = np.full((N_LANDMARKS, 3), np.nan)
    j = sk.joints
    for s in (1.0, -1.0):
        for lm, off in face_points_m(s).items():
            out[lm] = j["head"] + sk.head_frame @ off
    for side in (Side.LEFT, Side.RIGHT):
        u = side.name
        out[Lm[f"{u}_SHOULDER"]] = j[f"shoulder_{side}"]
        out[Lm[f"{u}_ELBOW"]] = j[f"elbow_{side}"]
        out[Lm[f"{u}_WRIST"]] = j[f"wrist_{side}"]
        rh = sk.hand_frames[side]
        along, front = rh @ -_Y, rh @ _Z
        out[Lm[f"{u}_INDEX"]] = j[f"wrist_{side}"] + 0.15 * along + 0.02 * front
        out[Lm[f"{u}_PINKY"]] = j[f"wrist_{side}"] + 0.13 * along - 0.025 * front
        out[Lm[f"{u}_THUMB"]] = j[f"wrist_{side}"] + 0.07 * along + 0.045 * front
        out[Lm[f"{u}_HIP"]] = j[f"hip_{side}"]
        out[Lm[f"{u}_KNEE"]] = j[f"knee_{side}"]
        out[Lm[f"{u}_ANKLE"]] = j[f"ankle_{side}"]
        out[Lm[f"{u}_HEEL"]] = j[f"heel_{side}"]
        rf = sk.foot_frames[side]
        out[Lm[f"{u}_FOOT_INDEX"]] = j[f"toe_{side}"] + 0.03 * (rf @ _Z) - 0.01 * (rf @ _Y)
    return out


def frontal_fppa_deg(hip: Vec, knee: Vec, ankle: Vec, body_frame: NDArray[np.float64], side: Side) -> float:
    """FPPA of a 3D leg seen orthographically along the body's forward axis: + valgus (knee medial)."""
    lat, up = body_frame[:, 0], body_frame[:, 1]
    h, k, a = (np.array([np.dot(p, lat), np.dot(p, up)]) for p in (hip, knee, ankle))
    v1, v2 = k - h, a - k
    ang = np.degrees(np.arctan2(v1[0] * v2[1] - v1[1] * v2[0], np.dot(v1, v2)))
    # For the left leg (+x lateral) a knee medial of the hip–ankle line turns the chain counter-clockwise in (lat, up).
    return float(ang if side is Side.LEFT else -ang)


def image_fppa_deg(hip: Vec, knee: Vec, ankle: Vec, other_hip: Vec) -> float:
    """FPPA of 2D points (any orientation): 180° − angle(hip, knee, ankle), + when the knee lies on the
    other hip's side of the hip–ankle line (medial: valgus). Same definition as formcheck.core.geometry.fppa_deg."""
    v1, v2 = knee - hip, ankle - knee
    cos = np.dot(-v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2))
    mag = 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    line = ankle - hip
    cross_k = line[0] * (knee - hip)[1] - line[1] * (knee - hip)[0]
    cross_o = line[0] * (other_hip - hip)[1] - line[1] * (other_hip - hip)[0]
    return float(mag if cross_k * cross_o > 0 else -mag)


def knee_swivel_for_fppa(
    body: Body,
    pose: Pose,
    side: Side,
    target_deg: float,
    project: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
) -> float:
    """Knee swivel (deg, + medial) of a planted leg giving a frontal FPPA of `target_deg` (bisection).

    With `project` (world (n, 3) -> image (n, 2) px) the FPPA is the one the camera sees; without it, the
    orthographic frontal one. Solved for clean reps too (target 0): with the foot turned out and perspective,
    a knee tracking over the toes would otherwise read a few degrees either way; clean fixtures read ~0."""
    rb = pose.body_frame()
    j0 = pose_skeleton(body, pose).joints
    hip, ankle, other_hip = j0[f"hip_{side}"], j0[f"ankle_{side}"], j0[f"hip_{side.other}"]
    leg = pose.left_leg if side is Side.LEFT else pose.right_leg
    if not isinstance(leg, PlantedLeg):
        raise ValueError(f"the {side} leg is not planted")
    pole, medial = _planted_pole_medial(pose, side, leg)
    fixed = None if project is None else project(np.stack([hip, ankle, other_hip]))

    def fppa(sw: float) -> float:
        knee = _knee_ik(hip, ankle, body.thigh_m, body.shank_m, pole, medial, sw)
        if fixed is not None and project is not None:  # both or neither: `fixed` is made by `project`
            k = project(knee[None])[0]
            return image_fppa_deg(fixed[0], k, fixed[1], fixed[2])
        return frontal_fppa_deg(hip, knee, ankle, rb, side)

    # FPPA grows monotonically with the medial swivel over this range
    lo, hi = -80.0, 80.0
    if fppa(hi) < target_deg:
        return hi
    if fppa(lo) > target_deg:
        return lo
    for _ in range(32):
        mid = 0.5 * (lo + hi)
        if fppa(mid) < target_deg:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
