"""Exercise demonstrations for the live page: a looping skeleton drawn from the mannequin generator's own
motion model (tools.synth), with the key points taken from the exercise's rules (their cues).

The browser draws the keyframes on a canvas; nothing here is a video. Exercises the mannequin cannot do yet get
key points only (`frames` is empty) and the page says so.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from formcheck.errors import FormcheckError
from formcheck.webapp.deps import CurrentUser

router = APIRouter(tags=["live"])

DEMO_FPS = 15  # keyframes per second of the loop: smooth enough on a canvas, ~2 kB per frame of JSON
DEMO_DECIMALS = 3  # normalised 0..1 coordinates: 1e-3 of a 300 px canvas is 0.3 px
# One demo rep: stand (or lie) still, down, hold, up (s = the synth's rep phase: 0 start, 1 bottom).
DEMO_PHASES_S = ((0.6, "start"), (1.4, "down"), (0.4, "hold"), (1.4, "up"))

# Exercise id → (mannequin model, depth scale of its rep phase, view). The synth's small knee bend bends to
# ~45°; the squat reuses it deeper (judgement call: the same joint chain, more knee bend; the
# analysis itself never sees these frames). Models named "demo:*" are posed here from the synth's own body
# model (Pose, FreeLeg, PlantedLeg) for exercises its fixtures do not cover yet.
DEMO_MODELS: dict[str, tuple[str, float, str]] = {
    "small_knee_bend": ("small_knee_bend", 1.0, "three_quarter"),
    "squat": ("small_knee_bend", 1.8, "three_quarter"),
    "wall_sit": ("demo:wall_sit", 1.0, "side"),
    "plank": ("demo:plank", 1.0, "side"),
    "lunge": ("lunge", 1.0, "side"),
    "single_leg_squat": ("single_leg_squat", 1.0, "three_quarter"),
    "step_down": ("step_down", 1.0, "three_quarter"),
    "step_up": ("step_down", 1.0, "three_quarter"),
    "side_lying_leg_raise": ("side_lying_leg_raise", 1.0, "front"),
    "straight_leg_raise": ("demo:straight_leg_raise", 1.0, "side"),
    "glute_bridge": ("demo:glute_bridge", 1.0, "side"),
    "standing_side_leg_raise": ("demo:standing_side_leg_raise", 1.0, "front"),
}
LYING_PELVIS_M = (-0.15, 0.10, 0.0)  # hip-joint centre ~10 cm above the mat, as the synth's side-lying pose
SLR_LIFT_DEG = 45.0  # straight leg raised to about the height of the other, bent knee (docs/clinical.md §3.10)
BRIDGE_LIFT_M = 0.22  # hips lifted until shoulders, hips and knees line up
BRIDGE_FOOT_BACK_M = 0.42  # heels this far from the hips along the body, knees bent ~90°
SIDE_RAISE_DEG = 27.0  # standing hip abduction, about 30° (docs/clinical.md: side leg raise)
WALL_SIT_HIP_M = 0.52  # hip-joint height with the thighs about level (knees ~90°)
WALL_SIT_BACK_M = 0.25  # the hips slide this far back down the wall
PLANK_TILT_DEG = 12.0  # body line from the feet up to the shoulders on the forearms
PLANK_PELVIS_M = (-0.15, 0.33, 0.0)


def _demo_pose(model_id: str, body: Any, s: float) -> Any:
    """Poses for exercises the synth fixtures do not model, built from the synth's body model (one branch per
    demo exercise). Long because it is a table of poses, clearer kept together."""
    import numpy as np

    from formcheck.mannequin.body import ArmPose, FreeLeg, PlantedLeg, Pose

    x, y, z = np.eye(3)
    supine = np.column_stack([z, x, y])  # person's left / up (head) / forward (chest) in world axes
    arm = ArmPose(flexion_deg=10.0, abduction_deg=15.0)  # arms resting by the sides (frozen: shared)
    if model_id == "demo:straight_leg_raise":
        return Pose(
            pelvis_m=LYING_PELVIS_M,
            base=supine,
            left_leg=FreeLeg(
                hip_flexion_deg=2.0 + (SLR_LIFT_DEG - 2.0) * s, knee_flexion_deg=2.0, ankle_dorsiflexion_deg=10.0
            ),
            right_leg=FreeLeg(hip_flexion_deg=50.0, knee_flexion_deg=100.0, ankle_dorsiflexion_deg=10.0),
            left_arm=arm,
            right_arm=arm,
        )
    if model_id == "demo:glute_bridge":
        px, py, pz = LYING_PELVIS_M
        heel_x = px - BRIDGE_FOOT_BACK_M
        return Pose(
            pelvis_m=(px, py + BRIDGE_LIFT_M * s, pz),
            base=supine,
            trunk_forward_deg=-25.0 * s,
            left_leg=PlantedLeg((heel_x, body.ankle_height_m, 0.12)),
            right_leg=PlantedLeg((heel_x, body.ankle_height_m, -0.12)),
            left_arm=arm,
            right_arm=arm,
        )
    if model_id == "demo:standing_side_leg_raise":
        return Pose(
            pelvis_m=(0.0, body.standing_hip_height_m, 0.0),
            left_leg=PlantedLeg((0.1, body.ankle_height_m, 0.0)),
            right_leg=FreeLeg(hip_abduction_deg=3.0 + (SIDE_RAISE_DEG - 3.0) * s, knee_flexion_deg=2.0),
            trunk_lateral_deg=4.0 * s,
        )
    if model_id == "demo:wall_sit":
        h = body.standing_hip_height_m
        return Pose(
            pelvis_m=(0.0, h - (h - WALL_SIT_HIP_M) * s, -0.02 - WALL_SIT_BACK_M * s),
            left_leg=PlantedLeg((0.1, body.ankle_height_m, 0.15)),
            right_leg=PlantedLeg((-0.1, body.ankle_height_m, 0.15)),
            trunk_forward_deg=2.0,
            left_arm=ArmPose(flexion_deg=5.0, abduction_deg=10.0),
            right_arm=ArmPose(flexion_deg=5.0, abduction_deg=10.0),
        )
    if model_id == "demo:plank":
        from formcheck.mannequin.body import rot

        prone = np.column_stack([-z, x, -y])  # face down, head towards +x
        px, py, pz = PLANK_PELVIS_M
        leg = FreeLeg(ankle_dorsiflexion_deg=60.0)  # on the toes
        arm = ArmPose(flexion_deg=80.0, abduction_deg=10.0, elbow_flexion_deg=90.0)  # on the forearms
        return Pose(
            pelvis_m=(px, py + 0.02 * s, pz),
            base=rot(z, PLANK_TILT_DEG) @ prone,
            left_leg=leg,
            right_leg=leg,
            left_arm=arm,
            right_arm=arm,
        )
    raise ValueError(f"no demo pose {model_id}")


# Standing knee bends read best from 45° to the front-left: the bend (depth) and the knee over the toes at once.
THREE_QUARTER_CAMERA = ((1.9, 1.0, 1.9), (0.0, 0.8, 0.0), 700.0, 480, 640)


def _demo_camera(model_id: str, view: str) -> Any:
    from formcheck.mannequin.exercises import EXERCISES
    from formcheck.mannequin.render import Camera

    if view == "three_quarter":
        return Camera(*THREE_QUARTER_CAMERA)
    if model_id == "demo:wall_sit":
        return Camera((2.7, 0.95, -0.02), (0.0, 0.82, -0.02), 700.0, 480, 640)  # the synth's side camera
    if model_id in ("demo:straight_leg_raise", "demo:glute_bridge", "demo:plank"):
        return Camera((0.0, 0.5, 2.7), (0.0, 0.25, 0.0), 620.0, 640, 480)  # side-on to a person lying along x
    if model_id.startswith("demo:"):
        return Camera((0.0, 1.0, 2.7), (0.0, 0.86, 0.0), 700.0, 480, 640)  # the synth's front camera
    cams = EXERCISES[model_id].cameras
    return cams.get(view) or next(iter(cams.values()))


def _phase_s(t_s: float) -> float:
    """The rep phase s (0..1) at time t of one demo loop (smooth, like the mannequin's own reps)."""
    from formcheck.mannequin.exercises import ease

    for dur, kind in DEMO_PHASES_S:
        if t_s <= dur:
            x = t_s / dur
            return {"start": 0.0, "down": ease(x), "hold": 1.0, "up": 1.0 - ease(x)}[kind]
        t_s -= dur
    return 0.0


@functools.lru_cache(maxsize=16)
def demo_frames(exercise_id: str) -> tuple[tuple[tuple[float | None, float | None], ...], ...]:
    """Keyframes of one demo loop: per frame 33 × (x, y) normalised to the model camera (None if unknown)."""
    import numpy as np

    from formcheck.core.landmarks import Side
    from formcheck.mannequin.body import Body, landmarks33, pose_skeleton
    from formcheck.mannequin.exercises import EXERCISES

    if exercise_id not in DEMO_MODELS:
        return ()
    model_id, depth, view = DEMO_MODELS[exercise_id]
    cam = _demo_camera(model_id, view)
    body = Body()
    if model_id.startswith("demo:"):

        def pose_at(s: float) -> Any:
            return _demo_pose(model_id, body, s)
    else:
        model = EXERCISES[model_id]
        side = Side.RIGHT if model_id == "side_lying_leg_raise" else Side.LEFT  # modelled lying on the left side

        def pose_at(s: float) -> Any:
            return model.pose(body, s, {}, side, None)  # no faults: the camera only matters for valgus

    loop_s = sum(d for d, _ in DEMO_PHASES_S)
    n = int(round(loop_s * DEMO_FPS))
    out = []
    for i in range(n):
        uv, _ = cam.project(landmarks33(pose_skeleton(body, pose_at(_phase_s(i / DEMO_FPS) * depth)), body))
        xy = uv / np.array([cam.width_px, cam.height_px])
        out.append(
            tuple(
                (round(float(x), DEMO_DECIMALS), round(float(y), DEMO_DECIMALS))
                if math.isfinite(x) and math.isfinite(y)
                else (None, None)
                for x, y in xy
            )
        )
    return tuple(out)


def key_points(spec: Any) -> list[str]:
    """The exercise's key points in plain words: its rules' cues, most important (error) first, no repeats."""
    rules = sorted(spec.rules, key=lambda r: 0 if str(getattr(r, "severity", "error")) == "error" else 1)
    return list(dict.fromkeys(r.cue for r in rules if r.cue))[:4]


@router.get("/api/exercise-demo")
def exercise_demo(user: CurrentUser, exercise: str = Query(max_length=64)) -> dict[str, Any]:
    """A looping demonstration: keyframes (33 × [x, y] per frame, 0..1), fps, aspect ratio, key points."""
    from formcheck.core.spec import exercise_ids, load_exercise

    exercise_id = exercise
    if exercise_id not in exercise_ids():
        raise HTTPException(404, f"no exercise {exercise_id[:64]!r}")
    try:
        spec = load_exercise(exercise_id)
        frames = demo_frames(exercise_id)
    except (FormcheckError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None
    aspect = None
    if exercise_id in DEMO_MODELS:
        model_id, _, view = DEMO_MODELS[exercise_id]
        cam = _demo_camera(model_id, view)
        aspect = round(cam.width_px / cam.height_px, 4)
    return {
        "exercise": spec.id,
        "name": spec.name,
        "instructions": spec.instructions,
        "fps": DEMO_FPS,
        "aspect": aspect,
        "frames": [[list(p) for p in f] for f in frames],
        "key_points": key_points(spec),
        "source": "tools.synth mannequin" if frames else None,
    }
