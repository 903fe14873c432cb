"""A parametric stick figure for tests: joint angles per frame -> 33 landmarks in px (front or side view).

World frame of the figure: metres, +y up, the person faces +z, their own left is +x, feet on y = 0. The
front camera looks at the person (image x = +x); the side camera sees the person's right side, facing image
+x. World landmarks follow MediaPipe's axes (x right, y down, z away from the camera, hip-centred).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from formcheck.core.landmarks import Lm, Side, sided
from formcheck.core.types import PoseSeq

THIGH_M, SHANK_M, TORSO_M = 0.45, 0.43, 0.50
HIP_HALF_M, SHOULDER_HALF_M = 0.10, 0.18
ANKLE_Y_M = 0.08
PX_PER_M = 400.0
FRAME_WH = (1280, 960)


@dataclasses.dataclass
class Pose:
    """Angles in degrees; `valgus` moves the knee medially (FPPA-like), `lift` raises a foot off the floor (m)."""

    knee_flex: tuple[float, float] = (0.0, 0.0)  # (left, right)
    abduction: tuple[float, float] = (0.0, 0.0)
    valgus: tuple[float, float] = (0.0, 0.0)
    lift_m: tuple[float, float] = (0.0, 0.0)
    trunk_forward: float = 0.0
    trunk_lateral: float = 0.0  # + towards the person's left
    pelvic_drop: float = 0.0  # + = right hip lower
    stance_width_m: float = 0.0  # extra half-width of the feet beyond the hips
    step_m: tuple[float, float] = (0.0, 0.0)  # foot forward (+z) of each leg
    hip_drop_m: float = 0.0  # lower the hips by this much (lunges: both legs bend by IK)
    pitch: float = 0.0  # tip the whole figure forward about the ankles (90 = lying face down)


def _leg(
    hip: np.ndarray,
    knee_flex: float,
    abduction: float,
    valgus: float,
    lift: float,
    side_sign: float,
    foot_x: float,
    foot_z: float,
) -> dict[str, np.ndarray]:
    """Planted (or lifted) leg with the ankle under the hip region, knee forward by IK, plus the foot."""
    k = math.radians(knee_flex)
    if abduction:
        a = math.radians(abduction)
        d = np.array([side_sign * math.sin(a), -math.cos(a), 0.0])
        knee = hip + THIGH_M * d
        ankle = knee + SHANK_M * d
    else:
        ankle = np.array([foot_x, ANKLE_Y_M + lift, foot_z])
        dist = float(np.linalg.norm(hip - ankle))
        dist = min(dist, THIGH_M + SHANK_M - 1e-6)
        # knee in the sagittal plane of hip->ankle, bent forward (+z)
        cos_a = (THIGH_M**2 + dist**2 - SHANK_M**2) / (2 * THIGH_M * dist)
        a = math.acos(max(-1.0, min(1.0, cos_a)))
        u = (ankle - hip) / dist
        fwd = np.array([0.0, 0.0, 1.0]) - u * u[2]
        fwd = fwd / (np.linalg.norm(fwd) or 1.0)
        knee = hip + THIGH_M * (math.cos(a) * u + math.sin(a) * fwd)
        del k
    if valgus:
        knee = knee + np.array([-side_sign * SHANK_M * math.sin(math.radians(valgus)), 0.0, 0.0])
    heel = ankle + np.array([0.0, -0.05, -0.05])
    toe = ankle + np.array([side_sign * 0.02, -0.07, 0.15])
    return {"HIP": hip, "KNEE": knee, "ANKLE": ankle, "HEEL": heel, "FOOT_INDEX": toe}


def _hip_height_for(knee_flex: float) -> float:
    """Hip height for a symmetric squat with both shanks and thighs leaning knee_flex/2 from vertical."""
    half = math.radians(knee_flex / 2)
    return ANKLE_Y_M + (SHANK_M + THIGH_M) * math.cos(half)


def pose_points(p: Pose) -> np.ndarray:
    """(33, 3) world points (figure frame) for one pose."""
    kf_stance = (
        min(v for v, lift, ab in zip(p.knee_flex, p.lift_m, p.abduction, strict=True) if lift == 0 and ab == 0)
        if any(lift == 0 and ab == 0 for lift, ab in zip(p.lift_m, p.abduction, strict=True))
        else 0.0
    )
    hip_y = _hip_height_for(kf_stance) - p.hip_drop_m
    mid_hip = np.array([0.0, hip_y, 0.0])
    drop = math.tan(math.radians(p.pelvic_drop)) * HIP_HALF_M
    hips = {
        Side.LEFT: mid_hip + np.array([HIP_HALF_M, drop, 0.0]),
        Side.RIGHT: mid_hip + np.array([-HIP_HALF_M, -drop, 0.0]),
    }
    pts = np.zeros((33, 3))
    for s, sign, i in ((Side.LEFT, 1.0, 0), (Side.RIGHT, -1.0, 1)):
        foot_x = sign * (HIP_HALF_M + p.stance_width_m)
        leg = _leg(hips[s], p.knee_flex[i], p.abduction[i], p.valgus[i], p.lift_m[i], sign, foot_x, p.step_m[i])
        # a lifted foot bends the knee: swing the shank back by the knee angle
        if p.lift_m[i] and not p.abduction[i]:
            hip = hips[s]
            knee = hip + np.array([0.0, -THIGH_M, 0.0])
            k = math.radians(p.knee_flex[i])
            ankle = knee + SHANK_M * np.array([0.0, -math.cos(k), -math.sin(k)])
            leg = {
                "HIP": hip,
                "KNEE": knee,
                "ANKLE": ankle,
                "HEEL": ankle + np.array([0, -0.05, -0.05]),
                "FOOT_INDEX": ankle + np.array([sign * 0.02, -0.07, 0.15]),
            }
        for name, v in leg.items():
            pts[sided(s, name)] = v
    f, lat = math.radians(p.trunk_forward), math.radians(p.trunk_lateral)
    up = np.array([math.sin(lat), math.cos(f) * math.cos(lat), math.sin(f) * math.cos(lat)])
    mid_sh = mid_hip + TORSO_M * up
    across = np.array([1.0, -math.sin(lat), 0.0])
    across /= np.linalg.norm(across)
    pts[Lm.LEFT_SHOULDER] = mid_sh + SHOULDER_HALF_M * across
    pts[Lm.RIGHT_SHOULDER] = mid_sh - SHOULDER_HALF_M * across
    for s, sign in ((Side.LEFT, 1.0), (Side.RIGHT, -1.0)):
        sh = pts[sided(s, "SHOULDER")]
        pts[sided(s, "ELBOW")] = sh + np.array([0.0, -0.28, 0.05])
        pts[sided(s, "WRIST")] = sh + np.array([0.0, -0.52, 0.1])
        for n in ("PINKY", "INDEX", "THUMB"):
            pts[sided(s, n)] = sh + np.array([sign * 0.01, -0.6, 0.1])
    head = mid_sh + 0.22 * up + np.array([0.0, 0.0, 0.2])  # MediaPipe puts the face well in front (z)
    pts[Lm.NOSE] = head
    for n, dx in (("EYE_INNER", 0.02), ("EYE", 0.035), ("EYE_OUTER", 0.05)):
        pts[sided(Side.LEFT, n)] = head + np.array([dx, 0.03, -0.01])
        pts[sided(Side.RIGHT, n)] = head + np.array([-dx, 0.03, -0.01])
    pts[Lm.LEFT_EAR] = head + np.array([0.08, 0.02, -0.2])
    pts[Lm.RIGHT_EAR] = head + np.array([-0.08, 0.02, -0.2])
    pts[Lm.MOUTH_LEFT] = head + np.array([0.02, -0.03, 0.0])
    pts[Lm.MOUTH_RIGHT] = head + np.array([-0.02, -0.03, 0.0])
    if p.pitch:
        a = math.radians(p.pitch)
        pivot = np.array([0.0, ANKLE_Y_M, 0.0])
        rel = pts - pivot
        y = rel[:, 1] * math.cos(a) - rel[:, 2] * math.sin(a)
        z = rel[:, 1] * math.sin(a) + rel[:, 2] * math.cos(a)
        pts = pivot + np.stack([rel[:, 0], y, z], axis=1)
    return pts


def to_seq(
    poses: list[Pose],
    view: str = "front",
    fps: float = 30.0,
    *,
    present: np.ndarray | None = None,
    noise_px: float = 0.0,
    seed: int = 0,
    hidden: tuple[Lm, ...] = (),
    n_people: int | None = None,
    luma: float | None = None,
) -> PoseSeq:
    """Project poses to a PoseSeq. `present[i] = False` makes frame i empty (no person)."""
    rng = np.random.default_rng(seed)
    n = len(poses)
    xyz = np.full((n, 33, 3), np.nan)
    world = np.full((n, 33, 3), np.nan)
    vis = np.zeros((n, 33))
    cx, cy = FRAME_WH[0] / 2, FRAME_WH[1] * 0.9
    for i, p in enumerate(poses):
        if present is not None and not present[i]:
            continue
        w = pose_points(p)
        if view == "front":
            img = np.stack([cx + w[:, 0] * PX_PER_M, cy - w[:, 1] * PX_PER_M, -w[:, 2] * PX_PER_M], axis=1)
            wm = np.stack([w[:, 0], -w[:, 1], -w[:, 2]], axis=1)
            v = np.ones(33)
        else:  # the person's right side towards the camera, facing image +x
            img = np.stack([cx + w[:, 2] * PX_PER_M, cy - w[:, 1] * PX_PER_M, w[:, 0] * PX_PER_M], axis=1)
            wm = np.stack([w[:, 2], -w[:, 1], w[:, 0]], axis=1)
            v = np.ones(33)
            v[[int(m) for m in Lm if m.name.startswith("LEFT_")]] = 0.7
        img[:, :2] += rng.normal(0.0, noise_px, (33, 2)) if noise_px else 0.0
        hip_mid = (wm[Lm.LEFT_HIP] + wm[Lm.RIGHT_HIP]) / 2
        xyz[i], world[i], vis[i] = img, wm - hip_mid, v
        vis[i, [int(m) for m in hidden]] = 0.1  # out of frame: low visibility and presence
    t = np.arange(n) / fps
    people = None if n_people is None else np.full(n, float(n_people))
    lum = None if luma is None else np.full(n, float(luma))
    presence = (vis > 0).astype(float)
    presence[:, [int(m) for m in hidden]] = 0.1
    return PoseSeq(
        t_s=t,
        frame_wh=FRAME_WH,
        xyz_px=xyz,
        visibility=vis,
        presence=presence,
        world_m=world,
        n_people=people,
        luma=lum,
    )


def rep_profile(
    n_reps: int, *, rep_s: float = 2.0, rest_s: float = 1.0, lead_s: float = 1.5, fps: float = 30.0, depth: float = 1.0
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Phase 0..1 per frame (0 = start position, 1 = bottom): a standing lead-in, then smooth reps with rests.

    Returns (phase (T,), [(start_s, end_s)] of each rep).
    """
    total_s = lead_s + n_reps * (rep_s + rest_s)
    t = np.arange(int(round(total_s * fps))) / fps
    phase = np.zeros_like(t)
    spans = []
    for k in range(n_reps):
        t0 = lead_s + k * (rep_s + rest_s)
        m = (t >= t0) & (t < t0 + rep_s)
        phase[m] = depth * 0.5 * (1 - np.cos(2 * np.pi * (t[m] - t0) / rep_s))
        spans.append((t0, t0 + rep_s))
    return phase, spans
