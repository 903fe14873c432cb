"""The camera sweep's clips: the camera grid, each exercise's motion as the fixtures pose it, the in-memory
render, and the ground truth each measure is scored against (tools/synth/sweep.py's docstring defines them)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from formcheck.core.landmarks import N_LANDMARKS, Side
from formcheck.mannequin.body import Body, landmarks33, pose_skeleton
from formcheck.mannequin.exercises import EXERCISES, Rep, schedule
from formcheck.mannequin.render import Camera, Renderer
from tools.synth.figure import figure_primitives
from tools.synth.fixtures import FIXTURES, _active_rep

SWEEP_FORMAT = "formcheck.view_sweep/1"
# Bump when the clips' pixels change (grid geometry, timeline, renderer use): invalidates the landmark cache.
SWEEP_VERSION = 1
FPS = 15  # half the fixtures' 30 fps: halves the CPU time; smoothing and rep timing work at 15 fps
YAWS_DEG: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0)
BACK_YAW_DEG = 180.0
# The far camera at these yaws only: distance changes the pixel scale, not the geometry, and the sweep must stay
# <= 25 min on 2 shared cores (measured 45-70 s per camera for the 5 exercises, so 19 cameras).
FAR_YAWS_DEG: tuple[float, ...] = (0.0, 30.0, 60.0, 90.0)
LOW_HEIGHT_M = 0.3  # a laptop on the floor
NORMAL_HEIGHT_M = 1.0  # a laptop on a table / a phone on a chair
NEAR_M = 2.7  # the fixtures' camera distance: a full body fills a 640 px portrait frame at 700 px focal
FAR_M = 4.0  # across a living room
# A rep is sampled "at the bottom" over the frames within this of its bottom_s (the fixtures hold 0.2 s there).
BOTTOM_HALF_WINDOW_S = 0.1
# The standing baseline for `rel` errors: frames before the first rep, skipping this much at the start so the
# smoother's edge and MediaPipe's first detections settle (the lead-in is 0.5 s).
BASELINE_SKIP_S = 0.1
# Rules are judged only where a measure's p90 error at the bottom stays under this share of the clean-vs-faulty
# separation (issue 9 item 1: "the 90th-percentile error under half the distance between clean and faulty").
TRUSTED_ERROR_SHARE = 0.5
# Rules with no injected fault (depth, range) separate a full rep from a shallow one: the "faulty" comparator
# is a rep this share as deep (the quarter-depth squats of issue 9 are the canonical miss), so the
# separation is this share of the clean rep's true range (judgement call).
NO_FAULT_RANGE_SHARE = 0.5


@dataclasses.dataclass(frozen=True)
class CameraSpec:
    """Where the sweep camera sits relative to the person: yaw (+ towards the person's left), height, range."""

    yaw_deg: float
    height_m: float
    distance_m: float

    @property
    def key(self) -> str:
        return f"yaw{self.yaw_deg:g}_h{self.height_m:g}_d{self.distance_m:g}"


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    exercise: str
    side: Side  # working side (stance / front / top leg)
    faults: tuple[tuple[str, float], ...]  # rep 1 clean, then rep k+1 has faults[k] (fault id, size in deg)
    camera: CameraSpec

    @property
    def name(self) -> str:
        return f"{self.exercise}_{self.camera.key}"


def full_grid() -> tuple[CameraSpec, ...]:
    """The committed table's cameras: 7 yaws x 2 heights at 2.7 m, FAR_YAWS_DEG at 4 m (1 m high), one back view
    (19 cameras x 5 exercises)."""
    cams = [CameraSpec(y, h, NEAR_M) for h in (NORMAL_HEIGHT_M, LOW_HEIGHT_M) for y in YAWS_DEG]
    cams += [CameraSpec(y, NORMAL_HEIGHT_M, FAR_M) for y in FAR_YAWS_DEG]
    cams.append(CameraSpec(BACK_YAW_DEG, NORMAL_HEIGHT_M, NEAR_M))
    return tuple(cams)


QUICK_EXERCISES = ("small_knee_bend", "lunge")


def quick_grid() -> tuple[CameraSpec, ...]:
    """A subset of the full grid for `--quick` and the video test: facing and side-on, normal height."""
    return (CameraSpec(0.0, NORMAL_HEIGHT_M, NEAR_M), CameraSpec(90.0, NORMAL_HEIGHT_M, NEAR_M))


def exercise_faults(exercise: str) -> tuple[tuple[str, float], ...]:
    """Each fault the fixtures inject into `exercise`, with its size, in first-seen order."""
    out: dict[str, float] = {}
    for fx in FIXTURES:
        if fx.exercise == exercise:
            for faults in fx.faults.values():
                for k, v in faults.items():
                    out.setdefault(k, float(v))
    return tuple(out.items())


def working_side(exercise: str) -> Side:
    """The side of the exercise's clean fixture (side-lying is modelled with the right leg on top only)."""
    for fx in FIXTURES:
        if fx.exercise == exercise and fx.variant == "clean":
            return fx.side
    raise KeyError(exercise)


def clip_specs(exercises: Iterable[str], cameras: Iterable[CameraSpec]) -> list[ClipSpec]:
    cams = tuple(cameras)
    return [ClipSpec(ex, working_side(ex), exercise_faults(ex), c) for ex in exercises for c in cams]


# Lying exercises: the body's left/right point up/down, out of reach of a camera orbiting the vertical axis,
# so their sweep camera orbits towards the head (+x) instead of towards the working side.
LYING_EXERCISES = frozenset({"side_lying_leg_raise"})


def orbit_sign(exercise: str) -> float:
    """+1: the sweep camera orbits towards world +x (the person's left, or the head of the lying figure);
    -1: towards -x. Standing exercises orbit towards the working side, so that side-on the working leg is the
    near one, as the exercise instructions ask."""
    if exercise in LYING_EXERCISES:
        return 1.0
    return 1.0 if working_side(exercise) is Side.LEFT else -1.0


def sweep_camera(exercise: str, cs: CameraSpec) -> Camera:
    """The exercise's front camera moved onto the sweep circle: same target, focal and frame size; the camera
    orbits the target's vertical axis by cs.yaw_deg towards the working side (orbit_sign) at cs.height_m."""
    front = EXERCISES[exercise].cameras["front"]
    tx, ty, tz = front.target_m
    yaw = math.radians(cs.yaw_deg) * orbit_sign(exercise)
    pos = (tx + cs.distance_m * math.sin(yaw), cs.height_m, tz + cs.distance_m * math.cos(yaw))
    return Camera(tuple(round(v, 9) for v in pos), front.target_m, front.focal_px, front.width_px, front.height_px)


@dataclasses.dataclass(frozen=True, eq=False)
class Motion:
    """The camera-independent part of a clip: timeline, poses and ground truth (world, +y up)."""

    t_s: NDArray  # (T,)
    reps: tuple[Rep, ...]
    rep_of_frame: NDArray  # (T,) int, 0 between reps, else the 1-based rep index
    landmarks_m: NDArray  # (T, 33, 3) world metres, +y up
    body_frames: NDArray  # (T, 3, 3) columns: the person's left, up, forward (world)
    pelvis_m: NDArray  # (T, 3)
    primitives: tuple  # per frame: the figure's primitives


def build_motion(exercise: str, side: Side, faults: tuple[tuple[str, float], ...], body: Body | None = None) -> Motion:
    body = body or Body()
    model = EXERCISES[exercise]
    pose_cam = model.cameras["front"]  # the faults are solved as the exercise's own front camera sees them
    reps, duration_s = schedule(1 + len(faults), {i + 2: {f: s} for i, (f, s) in enumerate(faults)}, model.tempo)
    n = int(round(duration_s * FPS))
    t = np.arange(n) / FPS
    lms = np.zeros((n, N_LANDMARKS, 3))
    frames = np.zeros((n, 3, 3))
    pelvis = np.zeros((n, 3))
    rep_of = np.zeros(n, dtype=int)
    prims = []
    for i in range(n):
        rep, s = _active_rep(reps, float(t[i]))
        now = {k: v * s for k, v in (rep.faults.items() if rep else ())}
        pose = model.pose(body, s, now, side, pose_cam)
        sk = pose_skeleton(body, pose)
        lms[i] = landmarks33(sk, body)
        frames[i] = pose.body_frame()
        pelvis[i] = sk.joints["pelvis"]
        rep_of[i] = rep.index if rep else 0
        prims.append(figure_primitives(sk, body))
    return Motion(
        t_s=t,
        reps=tuple(reps),
        rep_of_frame=rep_of,
        landmarks_m=lms,
        body_frames=frames,
        pelvis_m=pelvis,
        primitives=tuple(prims),
    )


def render_frames(exercise: str, side: Side, motion: Motion, cam: Camera) -> Iterator[tuple[float, NDArray]]:
    """(t_s, RGB) frames of the motion seen by `cam`, rendered lazily (nothing is encoded)."""
    renderer = Renderer(cam, props=EXERCISES[exercise].props(side))
    for t, prims in zip(motion.t_s, motion.primitives, strict=True):
        yield float(t), renderer.render(list(prims))


def camera_world_truth(motion: Motion, cam: Camera) -> NDArray:
    """(T, 33, 3) ground-truth landmarks in MediaPipe's world axes for `cam`: metres from the mid-hip,
    x = image right, y = image down, z = away from the camera (what the pose model's world output means)."""
    right, up, fwd = cam.basis
    mid_hip = (motion.landmarks_m[:, 23] + motion.landmarks_m[:, 24]) / 2.0
    rel = motion.landmarks_m - mid_hip[:, None, :]
    return np.stack([rel @ right, -(rel @ up), rel @ fwd], axis=-1)


def exact_seq(motion: Motion, cam: Camera):
    """A PoseSeq of the ground truth as a perfect pose model would report it for `cam`: image px from the
    pinhole projection (z = depth from the mid-hip on the x scale), world landmarks in the camera's axes,
    everything visible. Its errors are the camera geometry's share of the sweep's errors (perspective and
    projection), with MediaPipe's share removed."""
    from formcheck.core.types import PoseSeq

    uv, depth = cam.project(motion.landmarks_m)
    hip = (depth[:, 23:24] + depth[:, 24:25]) / 2.0
    xyz = np.concatenate([uv, ((depth - hip) * cam.focal_px / hip)[..., None]], axis=-1)
    one = np.ones(xyz.shape[:2])
    return PoseSeq(
        t_s=motion.t_s,
        frame_wh=(cam.width_px, cam.height_px),
        xyz_px=xyz,
        visibility=one,
        presence=one,
        world_m=camera_world_truth(motion, cam),
    )


# ------------------------------------------------------------------------------------------ ground truth

TRUTH_PX_PER_M = 1000.0  # scale of the orthographic truth "images" (measures are angles and ratios)


def body_coords(motion: Motion) -> NDArray:
    """(T, 33, 3) landmarks relative to the pelvis in the body frame: (left, up, forward) metres."""
    rel = motion.landmarks_m - motion.pelvis_m[:, None, :]
    return np.einsum("tji,tkj->tki", motion.body_frames, rel)


def truth_arrays(motion: Motion, kind: str):
    """PoseArrays of the ground truth as the measure kind assumes it (module docstring): "frontal",
    "sagittal" (seen from the person's left) or "world"; every landmark visible."""
    from formcheck.core.measures import PoseArrays

    q = body_coords(motion)
    lt, up, fw = q[..., 0], q[..., 1], q[..., 2]
    world = np.stack([lt, -up, -fw], axis=-1)  # MediaPipe's axes for a camera facing the person
    if kind == "sagittal":
        xyz = np.stack([-fw, -up, -lt], axis=-1) * TRUTH_PX_PER_M
    elif kind in ("frontal", "world"):
        xyz = world * TRUTH_PX_PER_M
    else:
        raise ValueError(kind)
    ones = np.ones(q.shape[:2])
    return PoseArrays(xy=xyz[..., :2].copy(), xyz=xyz, world=world, visibility=ones, presence=ones)


def truth_kind(measure_name: str) -> str:
    """Which truth projection a measure is judged against (module docstring)."""
    from formcheck.core.measures import MEASURES, SAGITTAL

    if "_3d_" in measure_name:
        return "world"
    if MEASURES[measure_name].views <= SAGITTAL:
        return "sagittal"
    return "frontal"  # FRONTAL measures, and the 2D ones valid in every view (ratios, leg elevation)


def true_viewpoint(motion: Motion, cam: Camera) -> tuple[NDArray, NDArray]:
    """(yaw_signed_deg, elevation_deg) per frame of the camera in the body frame, formcheck.core.viewpoint's
    conventions: yaw + = the person's left towards the camera; elevation + = towards the head."""
    c = np.asarray(cam.position_m, float)[None, :] - motion.pelvis_m
    cb = np.einsum("tji,tj->ti", motion.body_frames, c)
    yaw = np.degrees(np.arctan2(cb[:, 0], cb[:, 2]))
    elev = np.degrees(np.arctan2(cb[:, 1], np.hypot(cb[:, 0], cb[:, 2])))
    return yaw, elev
