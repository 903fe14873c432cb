"""Exercise motions for the mannequin: a rep timeline (smooth down / hold / up, standing pauses) and, per
exercise, a pose as a function of the rep phase s in [0, 1] (0 = start position, 1 = bottom of the rep) and of
the faults active at that instant (each fault's size times s, so a fault peaks at the bottom of its rep)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np

from formcheck.core.landmarks import Side
from formcheck.mannequin.body import (
    LYING_ON_LEFT_HEAD_PLUS_X,
    ArmPose,
    Body,
    FreeLeg,
    PlantedLeg,
    Pose,
    knee_swivel_for_fppa,
    rot,
)
from formcheck.mannequin.render import Box, Camera, Primitive

# Fault ids, with what their size means (degrees, peak at the bottom of the rep).
FAULTS: dict[str, str] = {
    "knee_valgus": "frontal-plane projection angle (FPPA) of the working knee(s) as the front camera sees it, + valgus",
    "pelvic_drop": "pelvic obliquity, the non-stance (free / rear) side lower; the trunk tilts with it by 0.6 × "
    "the size towards that side, as in an uncompensated drop (see truth_3d.trunk_lateral_3d_deg)",
    "trunk_lateral_lean": "trunk leaning sideways towards the stance side (the person's left when bilateral)",
    "trunk_forward_lean": "extra forward trunk lean on top of the clean motion",
    "hip_hiking": "pelvic obliquity, the top (working) hip drawn towards the ribs",
    "hip_flexion_drift": "hip flexion of the raised (top) leg: the leg drifts forward",
    "pelvic_rollback": "pelvis and trunk rolled backwards about the body's long axis",
}

# The two legs of a pose, by side: planted on the floor or held free.
Legs = dict[Side, PlantedLeg | FreeLeg]


def ease(x: float) -> float:
    """Smooth 0→1 (cosine), flat at both ends like a controlled human movement."""
    x = min(max(x, 0.0), 1.0)
    return float(0.5 - 0.5 * np.cos(np.pi * x))


@dataclasses.dataclass(frozen=True)
class Rep:
    index: int  # 1-based
    start_s: float
    down_s: float
    hold_s: float
    up_s: float
    faults: Mapping[str, float]

    @property
    def bottom_s(self) -> float:
        return self.start_s + self.down_s + 0.5 * self.hold_s

    @property
    def end_s(self) -> float:
        return self.start_s + self.down_s + self.hold_s + self.up_s

    def phase(self, t_s: float) -> float:
        u = t_s - self.start_s
        if u <= 0 or t_s >= self.end_s:
            return 0.0
        if u < self.down_s:
            return ease(u / self.down_s)
        if u < self.down_s + self.hold_s:
            return 1.0
        return ease(1.0 - (u - self.down_s - self.hold_s) / self.up_s)


@dataclasses.dataclass(frozen=True)
class Tempo:
    lead_s: float = 0.5  # standing still before the first rep
    down_s: float = 0.9
    hold_s: float = 0.2
    up_s: float = 0.9
    rest_s: float = 0.4  # standing pause between reps
    tail_s: float = 0.4


def schedule(n_reps: int, faults: Mapping[int, Mapping[str, float]], tempo: Tempo) -> tuple[list[Rep], float]:
    """The reps and the total duration in seconds."""
    reps: list[Rep] = []
    t = tempo.lead_s
    for i in range(1, n_reps + 1):
        rep = Rep(i, t, tempo.down_s, tempo.hold_s, tempo.up_s, dict(faults.get(i, {})))
        reps.append(rep)
        t = rep.end_s + tempo.rest_s
    return reps, reps[-1].end_s + tempo.tail_s


def _sgn(side: Side) -> float:
    return 1.0 if side is Side.LEFT else -1.0


def _hip_over_ankle(
    body: Body, ankle: np.ndarray, knee_flexion_deg: float, shank_share: float, lateral_m: float
) -> np.ndarray:
    """Hip centre above a planted ankle for a knee flexion, with the shank taking `shank_share` of it as
    forward tilt and the hip `lateral_m` away (x) from the ankle."""
    th = np.radians(knee_flexion_deg)
    a = shank_share * th
    b = th - a
    dz = body.shank_m * np.sin(a) - body.thigh_m * np.sin(b)
    d2 = body.thigh_m**2 + body.shank_m**2 + 2 * body.thigh_m * body.shank_m * np.cos(th)
    dy = np.sqrt(max(d2 - dz**2 - lateral_m**2, 1e-6))
    hip: np.ndarray = ankle + np.array([lateral_m, dy, dz])
    return hip


def _pelvis_pivoting_on(body: Body, stance_hip: np.ndarray, stance: Side, obliquity_deg: float) -> np.ndarray:
    """Pelvis centre such that the stance hip stays put when the pelvis tilts by `obliquity_deg`."""
    off = rot((0.0, 0.0, 1.0), obliquity_deg) @ np.array([_sgn(stance) * body.hip_half_width_m, 0.0, 0.0])
    pelvis: np.ndarray = stance_hip - off
    return pelvis


def _drop_obliquity(stance: Side, drop_deg: float) -> float:
    """Obliquity (+ = left hip up) that drops the non-stance side by `drop_deg`."""
    return drop_deg if stance is Side.LEFT else -drop_deg


# In an uncompensated pelvic drop the trunk rides on the pelvis and tilts with it (the lumbar spine takes up
# the rest). MediaPipe's hip landmarks follow the trunk far more than the pelvis outline: on this figure a
# pure 14° drop under a level trunk reads ~3°, so the trunk follows this share of the drop (judgement call).
DROP_TRUNK_FOLLOW = 0.6


def _trunk_lateral(stance: Side, f: Mapping[str, float]) -> float:
    """Trunk lateral lean (+ left): an injected lean towards the stance side, minus the share of a pelvic drop
    the trunk follows (towards the free side)."""
    return _sgn(stance) * (f.get("trunk_lateral_lean", 0.0) - DROP_TRUNK_FOLLOW * f.get("pelvic_drop", 0.0))


def _with_valgus(body: Body, pose: Pose, sides: tuple[Side, ...], fppa_deg: float, cam: Camera | None) -> Pose:
    """Swivel the planted knee(s) so the FPPA the camera sees (orthographic front if no camera) is fppa_deg."""
    project = None if cam is None else (lambda pts: cam.project(pts)[0])
    for side in sides:
        sw = knee_swivel_for_fppa(body, pose, side, fppa_deg, project)
        leg = getattr(pose, f"{side}_leg")
        pose = dataclasses.replace(pose, **{f"{side}_leg": dataclasses.replace(leg, knee_medial_deg=sw)})
    return pose


# ---------------------------------------------------------------------------------------------------------
# Exercises. Each: (body, s, faults-now, working side) -> Pose.


def small_knee_bend(body: Body, s: float, f: Mapping[str, float], side: Side, cam: Camera | None = None) -> Pose:
    """Bilateral mini squat to ~45° knee flexion, feet hip-width, arms drifting forward for balance."""
    knee_deg = 4.0 + 41.0 * s
    legs = {}
    hips = []
    for sd in (Side.LEFT, Side.RIGHT):
        ankle = np.array([_sgn(sd) * 0.12, body.ankle_height_m, 0.0])
        hips.append(_hip_over_ankle(body, ankle, knee_deg, 0.45, -_sgn(sd) * 0.025))
        legs[sd] = PlantedLeg(tuple(ankle), toe_out_deg=8.0)
    pelvis = 0.5 * (hips[0] + hips[1])
    lean_lat = f.get("trunk_lateral_lean", 0.0)
    arm = ArmPose(flexion_deg=10.0 + 45.0 * s, abduction_deg=16.0, elbow_flexion_deg=15.0 + 20.0 * s)
    pose = Pose(
        pelvis_m=tuple(pelvis),
        left_leg=legs[Side.LEFT],
        right_leg=legs[Side.RIGHT],
        trunk_forward_deg=3.0 + 17.0 * s + f.get("trunk_forward_lean", 0.0),
        trunk_lateral_deg=lean_lat,
        head_lateral_deg=-0.6 * lean_lat,
        head_pitch_deg=0.5 * (17.0 * s),
        left_arm=arm,
        right_arm=arm,
    )
    return _with_valgus(body, pose, (Side.LEFT, Side.RIGHT), f.get("knee_valgus", 0.0), cam)


def _one_leg_pose(
    body: Body,
    f: Mapping[str, float],
    stance: Side,
    stance_hip: np.ndarray,
    legs: Legs,
    arm: ArmPose,
    trunk_forward_deg: float,
    head_pitch_deg: float,
    cam: Camera | None,
) -> Pose:
    """The pose of a move loaded on one leg (lunge front leg, single-leg squat, step-down): the pelvis pivots on the
    stance hip by the pelvic-drop fault, the trunk leans by its faults, and the stance knee caves in by the valgus."""
    obl = _drop_obliquity(stance, f.get("pelvic_drop", 0.0))
    pelvis = _pelvis_pivoting_on(body, stance_hip, stance, obl)
    pose = Pose(
        pelvis_m=tuple(pelvis),
        left_leg=legs[Side.LEFT],
        right_leg=legs[Side.RIGHT],
        pelvis_obliquity_deg=obl,
        trunk_forward_deg=trunk_forward_deg,
        head_pitch_deg=head_pitch_deg,
        trunk_lateral_deg=_trunk_lateral(stance, f),
        left_arm=arm,
        right_arm=arm,
    )
    return _with_valgus(body, pose, (stance,), f.get("knee_valgus", 0.0), cam)


def lunge(body: Body, s: float, f: Mapping[str, float], side: Side, cam: Camera | None = None) -> Pose:
    """Stationary (split-stance) forward lunge, `side` leg in front, rear heel up; front knee ~10° → ~90°."""
    front, rear = side, side.other
    fa = np.array([_sgn(front) * 0.11, body.ankle_height_m, 0.36])
    ra = np.array([_sgn(rear) * 0.11, 0.165, -0.40])
    pelvis = np.array([0.0, 0.83 - 0.27 * s, 0.0])
    stance_hip = pelvis + np.array([_sgn(front) * body.hip_half_width_m, 0.0, 0.0])
    legs: Legs = {
        front: PlantedLeg(tuple(fa), toe_out_deg=5.0),
        rear: PlantedLeg(tuple(ra), toe_out_deg=5.0, heel_lift_deg=40.0 + 10.0 * s),
    }
    arm = ArmPose(flexion_deg=5.0, abduction_deg=16.0, elbow_flexion_deg=12.0)
    fwd = 3.0 + 4.0 * s + f.get("trunk_forward_lean", 0.0)
    return _one_leg_pose(body, f, front, stance_hip, legs, arm, fwd, 0.6 * (fwd - 3.0), cam)


def single_leg_squat(body: Body, s: float, f: Mapping[str, float], side: Side, cam: Camera | None = None) -> Pose:
    """Single-leg squat on `side` to ~55° knee flexion, the other leg held forward off the floor."""
    stance, free = side, side.other
    ankle = np.array([_sgn(stance) * 0.06, body.ankle_height_m, 0.0])
    stance_hip = _hip_over_ankle(body, ankle, 4.0 + 51.0 * s, 0.42, _sgn(stance) * 0.035)
    legs: Legs = {
        stance: PlantedLeg(tuple(ankle), toe_out_deg=6.0),
        free: FreeLeg(
            hip_flexion_deg=32.0 + 12.0 * s,
            hip_abduction_deg=6.0,
            knee_flexion_deg=55.0 + 10.0 * s,
            ankle_dorsiflexion_deg=5.0,
        ),
    }
    arm = ArmPose(flexion_deg=15.0 + 35.0 * s, abduction_deg=24.0, elbow_flexion_deg=18.0)
    fwd = 4.0 + 18.0 * s + f.get("trunk_forward_lean", 0.0)
    return _one_leg_pose(body, f, stance, stance_hip, legs, arm, fwd, 0.5 * (fwd - 4.0), cam)


STEP_HEIGHT_M = 0.15


def _step_x(side: Side) -> float:
    return _sgn(side) * 0.07


def step_box(side: Side) -> Box:
    x = _step_x(side)
    return Box(
        lo=np.array([x - 0.24, 0.0, -0.32]), hi=np.array([x + 0.24, STEP_HEIGHT_M, 0.16]), rgb=(0.55, 0.40, 0.30)
    )


def step_down(body: Body, s: float, f: Mapping[str, float], side: Side, cam: Camera | None = None) -> Pose:
    """Forward step-down from a 15 cm step: stance `side` on the step, the other heel lowered in front of it."""
    stance, free = side, side.other
    ankle = np.array([_step_x(stance), STEP_HEIGHT_M + body.ankle_height_m, -0.03])
    stance_hip = _hip_over_ankle(body, ankle, 4.0 + 58.0 * s, 0.42, _sgn(stance) * 0.03)
    legs: Legs = {
        stance: PlantedLeg(tuple(ankle), toe_out_deg=6.0),
        free: FreeLeg(
            hip_flexion_deg=14.0 + 12.0 * s, hip_abduction_deg=2.0, knee_flexion_deg=6.0, ankle_dorsiflexion_deg=12.0
        ),
    }
    arm = ArmPose(flexion_deg=12.0 + 25.0 * s, abduction_deg=24.0, elbow_flexion_deg=18.0)
    fwd = 4.0 + 14.0 * s + f.get("trunk_forward_lean", 0.0)
    return _one_leg_pose(body, f, stance, stance_hip, legs, arm, fwd, 0.5 * (fwd - 4.0), cam)


def side_lying_leg_raise(body: Body, s: float, f: Mapping[str, float], side: Side, cam: Camera | None = None) -> Pose:
    """Lying on the left side (head towards +x, facing the camera on +z), raising the top (right) leg to ~40°
    of abduction. Only ``side = right`` (top leg) is modelled."""
    if side is not Side.RIGHT:
        raise ValueError("side_lying_leg_raise is modelled lying on the left side, top leg right")
    hike = f.get("hip_hiking", 0.0)
    roll = f.get("pelvic_rollback", 0.0)
    legs = {
        Side.LEFT: FreeLeg(hip_flexion_deg=4.0, knee_flexion_deg=6.0, ankle_dorsiflexion_deg=5.0),
        Side.RIGHT: FreeLeg(
            hip_flexion_deg=2.0 + f.get("hip_flexion_drift", 0.0),
            hip_abduction_deg=3.0 + 37.0 * s,
            knee_flexion_deg=2.0,
            ankle_dorsiflexion_deg=5.0,
        ),
    }
    return Pose(
        pelvis_m=(-0.15, 0.175, 0.0),
        left_leg=legs[Side.LEFT],
        right_leg=legs[Side.RIGHT],
        base=LYING_ON_LEFT_HEAD_PLUS_X,
        pelvis_obliquity_deg=-hike,
        pelvis_rotation_deg=-roll,
        trunk_rotation_deg=-0.7 * roll,
        head_lateral_deg=12.0,
        head_pitch_deg=0.0,
        left_arm=ArmPose(flexion_deg=170.0, abduction_deg=-8.0, elbow_flexion_deg=25.0),
        right_arm=ArmPose(flexion_deg=55.0, abduction_deg=-38.0, elbow_flexion_deg=5.0),
    )


@dataclasses.dataclass(frozen=True)
class ExerciseModel:
    pose: Callable[..., Pose]  # (body, s, faults now, side, camera) -> Pose
    cameras: Mapping[str, Camera]  # by view
    props: Callable[[Side], tuple[Primitive, ...]] = lambda side: ()
    tempo: Tempo = Tempo()
    stance_side: str = "working"  # which side is the stance side for pelvic drop: "working" or "none"


_FRONT = Camera((0.0, 1.0, 2.7), (0.0, 0.86, 0.0), 700.0, 480, 640)
_SIDE_LEFT = Camera((2.7, 0.95, -0.02), (0.0, 0.82, -0.02), 700.0, 480, 640)

EXERCISES: dict[str, ExerciseModel] = {
    "small_knee_bend": ExerciseModel(small_knee_bend, {"front": _FRONT}, stance_side="none"),
    "lunge": ExerciseModel(lunge, {"front": _FRONT, "side": _SIDE_LEFT}, tempo=Tempo(down_s=1.0, up_s=1.0)),
    "single_leg_squat": ExerciseModel(single_leg_squat, {"front": _FRONT}),
    "step_down": ExerciseModel(
        step_down,
        {"front": Camera((0.0, 1.1, 2.8), (0.0, 0.95, 0.0), 700.0, 480, 640)},
        props=lambda side: (step_box(side),),
    ),
    "side_lying_leg_raise": ExerciseModel(
        side_lying_leg_raise,
        {"front": Camera((0.05, 0.45, 2.7), (0.05, 0.28, 0.0), 620.0, 640, 480)},
        tempo=Tempo(down_s=0.95, hold_s=0.25, up_s=0.95),
    ),
}
