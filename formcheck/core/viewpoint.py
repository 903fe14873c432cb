"""Where the camera is, seen from the person: a continuous yaw and elevation per frame, with a confidence.

Pure, vectorised numpy (no mediapipe import). Input: MediaPipe's world landmarks (metres, origin between the
hips, axes aligned with the camera: x right, y down, z away from the camera), the image landmarks (px, z on the
x scale) and their visibility.

Body frame, from the world landmarks:
- ``left``: the person's left, the mean of the unit hip line and the unit shoulder line (right -> left);
- ``up``: the body's long axis, from the mid-ankle (the base the body balances over; mid-hip where the ankles
  are unseen) to the mid-shoulder, made orthogonal to ``left``. Standing, this stays near vertical through a
  squat (the shoulders stay over the feet), where the trunk line alone would tilt with every forward lean;
  lying, it is the line from the feet to the head;
- ``forward`` = left x up (right-handed; for a person facing the camera it points at the camera).

The camera is in direction c = (0, 0, -1) from the person (MediaPipe's z grows away from the camera), so

- ``yaw_signed_deg`` = atan2(c . left, c . forward), in (-180, 180]: 0 = the camera faces the person's front,
  +90 = the person's LEFT side towards the camera, -90 = their right side, +-180 = the camera is behind them.
  For a lying body this is the rotation about the long axis (0 = facing the camera whether they lie on the
  left or the right side);
- ``yaw_deg`` = |yaw_signed_deg| in [0, 180] (0 front, 90 side-on, 180 back): what view validity needs;
- ``elevation_deg`` = asin(c . up): the camera's angle above the body's transverse plane towards the head
  (+ = a standing person seen from above, - = from a camera on the floor; lying: + = from beyond the head).

Confidence in [0, 1] is the product of independent checks (confidence_factors), each documented at its
constant: enough of the torso is seen, the hip and shoulder lines agree, the world yaw agrees with the 2D
shoulder/hip width across the torso axis per torso length (which gives |cos yaw| without any depth), the
camera does not look along the long axis, the nose's image depth agrees on front vs back, and the more visible
body side agrees on which side faces the camera. Frames without world landmarks fall back to the image
landmarks' own (x, z) (MediaPipe's relative depth, which exaggerates turns) at reduced confidence; frames
without a person give NaN angles and confidence 0.

Accuracy (MediaPipe pose_full; benchmarks/view_sweep.md has the full table, from `formcheck sweep`): on exact
landmarks the yaw is exact (tests/test_viewpoint.py). Through MediaPipe, the world landmarks shrink small
turns (a 15 deg camera reads 2-10 deg, 30 deg reads 18-29 deg) and read a square-on camera as -2 to -5 deg
(the labelled real front clips read -1 to -6 deg too); from 45 deg to side-on the error is a few degrees.
Elevation carries MediaPipe's depth bias: facing the camera, the shoulders sit too near it, reading
+10 to +20 deg too high; side-on the bias is small. Use elevation for "the camera is low / high", not for
degrees.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from formcheck.core.landmarks import Lm
from formcheck.core.types import FloatArray

if TYPE_CHECKING:
    from formcheck.core.types import PoseSeq

# Below this length (m) a world hip or shoulder line, or the long axis, has no usable direction (MediaPipe's
# adult hip joints sit ~0.2 m apart, shoulders ~0.3 m, the long axis ~0.5-1.4 m): treat the frame as unseen.
MIN_LINE_M = 0.02
# Torso landmarks (shoulders, hips) count as seen at this mean visibility. 0.5 is MediaPipe's own default
# cut-off for "visible" (formcheck.core.types.VISIBILITY_MIN uses the same); confidence ramps from 0 at
# TORSO_VIS_ZERO to 1 here. A side view keeps the near side near 1 and the far side ~0.5-0.9 on the mannequin,
# so the mean of the more visible side of each pair is used.
TORSO_VIS_FULL = 0.8
TORSO_VIS_ZERO = 0.3
# Shoulder width / torso length (mid-shoulder to mid-hip) of an adult seen square-on: 2 x 0.18 m shoulder
# half-width over ~0.52 m shoulder-to-hip-joint height (Winter's proportions, formcheck.mannequin.body) = 0.69;
# real front clips read 0.63-0.86 (per-clip medians on ../shared/videos, MediaPipe full). Hip width / torso: 2 x 0.095 / 0.52 = 0.37
# (real front clips' 10th percentiles 0.36-0.41). |cos yaw| is estimated as ratio / this, clipped to [0, 1].
SQUARE_SHOULDER_RATIO = 0.72
SQUARE_HIP_RATIO = 0.40
# |cos| of the world yaw and the 2D width estimate of |cos yaw| agree within ~this: a person's own shoulder
# ratio varies 0.63-0.86 around SQUARE_SHOULDER_RATIO (real front clips), i.e. +-0.15 in |cos|; compared in
# cosine space because acos is flat near 1 (a 0.95 ratio would read 18 deg). Confidence falls as
# exp(-(difference / this)^2): a 0.2 disagreement keeps e^-1 = 0.37 of it (judgement call).
WIDTH_COS_TOLERANCE = 0.2
# Yaw is rotation about the long axis, undefined when the camera looks along it (from the head or the feet of
# a lying person): confidence is full up to this |elevation| and falls linearly to 0 at 90 deg (judgement call).
FULL_CONFIDENCE_MAX_ELEVATION_DEG = 60.0
# Hip line vs shoulder line yaw (world): a real trunk twist in these exercises stays under ~20 deg; beyond
# this the landmarks are unreliable. Confidence falls as exp(-(twist / this)^2) (judgement call).
TWIST_TOLERANCE_DEG = 35.0
# Front vs back from the nose: in a front view the nose is nearer the camera than the mid-shoulder by
# ~0.84+ torso lengths of MediaPipe's image z (real front clips' 90th percentile <= -0.84), in a back view
# farther (+1.5 median on the labelled back-view clip). At least this much of it, against the world
# yaw's front/back, halves the confidence (FRONT_BACK_CONFLICT_FACTOR); checked only where |cos yaw| >= 0.5.
NOSE_DEPTH_DECISIVE_RATIO = 0.3
FRONT_BACK_CONFLICT_FACTOR = 0.5
# Side towards the camera from visibility: the near side's shoulder/hip/knee/ankle visibility is higher. An
# asymmetry of at least this (mean over the four) against the world yaw's sign, where |sin yaw| >= 0.7,
# halves the confidence (SIDE_CONFLICT_FACTOR). On real side clips the asymmetry is weak (0.02-0.30 medians,
# per-clip medians on ../shared/videos), so it can only veto, never decide.
SIDE_VISIBILITY_DECISIVE = 0.3
SIDE_CONFLICT_FACTOR = 0.5
# Without world landmarks the yaw comes from the image landmarks' (x, z), whose depth exaggerates the turn
# (real oblique clips read 56-76 deg by it): at most this confidence, and no elevation.
NO_WORLD_CONFIDENCE = 0.4
# The front/back and side checks apply only where the cue has leverage: |cos yaw| / |sin yaw| at least this.
FRONT_BACK_MIN_COS = 0.5
SIDE_MIN_SIN = 0.7

_L_SH, _R_SH, _L_HIP, _R_HIP = (int(m) for m in (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER, Lm.LEFT_HIP, Lm.RIGHT_HIP))
_L_ANK, _R_ANK, _NOSE = int(Lm.LEFT_ANKLE), int(Lm.RIGHT_ANKLE), int(Lm.NOSE)
_LEFT_SIDE = [int(m) for m in (Lm.LEFT_SHOULDER, Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE)]
_RIGHT_SIDE = [int(m) for m in (Lm.RIGHT_SHOULDER, Lm.RIGHT_HIP, Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE)]


@dataclasses.dataclass(frozen=True)
class Viewpoint:
    """Per-frame camera direction in the person's body frame; every field is a (T,) float64 array."""

    yaw_deg: FloatArray  # [0, 180]: 0 = camera faces the person's front, 90 = side-on, 180 = behind (NaN: unseen)
    yaw_signed_deg: FloatArray  # (-180, 180]: + = the person's left side towards the camera, - = their right
    elevation_deg: FloatArray  # + = camera above the transverse plane towards the head (looking down, standing)
    confidence: FloatArray  # [0, 1]; 0 where no person

    def __len__(self) -> int:
        return len(self.yaw_deg)

    @property
    def side_towards_camera(self) -> FloatArray:
        """(T,) "left", "right" or "" (facing or unseen: |sin yaw| < 0.5) - the body side nearer the camera."""
        s = np.sin(np.radians(self.yaw_signed_deg))
        with np.errstate(invalid="ignore"):
            return np.where(s >= 0.5, "left", np.where(s <= -0.5, "right", ""))


def _unit(v: FloatArray, min_len: float) -> FloatArray:
    n = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= min_len, v / n, np.nan)


def _width_cos(xy: FloatArray) -> FloatArray:
    """|cos yaw| from the 2D shoulder and hip widths across the torso axis per torso length, clipped to [0, 1]
    (NaN where unseen). Only the width component perpendicular to the image torso axis counts, so a pelvic
    drop or a trunk lean (which tilt the lines within the frontal plane) does not read as a turn."""
    torso = (xy[:, _L_SH] + xy[:, _R_SH] - xy[:, _L_HIP] - xy[:, _R_HIP]) / 2.0
    t = np.hypot(torso[:, 0], torso[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = torso[:, 0] / t, torso[:, 1] / t
        sh = xy[:, _L_SH] - xy[:, _R_SH]
        hp = xy[:, _L_HIP] - xy[:, _R_HIP]
        c_sh = np.abs(sh[:, 0] * uy - sh[:, 1] * ux) / t / SQUARE_SHOULDER_RATIO
        c_hp = np.abs(hp[:, 0] * uy - hp[:, 1] * ux) / t / SQUARE_HIP_RATIO
    c = np.where(np.isnan(c_sh), c_hp, np.where(np.isnan(c_hp), c_sh, (c_sh + c_hp) / 2.0))
    return np.clip(np.where(np.isfinite(c), c, np.nan), 0.0, 1.0)


def _torso_seen(vis: FloatArray) -> FloatArray:
    """[0, 1]: the more visible of each shoulder/hip pair, averaged, ramped TORSO_VIS_ZERO -> TORSO_VIS_FULL."""
    v = (np.maximum(vis[:, _L_SH], vis[:, _R_SH]) + np.maximum(vis[:, _L_HIP], vis[:, _R_HIP])) / 2.0
    return np.clip((v - TORSO_VIS_ZERO) / (TORSO_VIS_FULL - TORSO_VIS_ZERO), 0.0, 1.0)


def _yaw_from_lines(lat: FloatArray) -> FloatArray:
    """Signed yaw (deg) of a left-pointing lateral direction (x right, z away): atan2(-z, x)."""
    return np.degrees(np.arctan2(-lat[..., 2], lat[..., 0]))


def _yaw_elevation(left: FloatArray, axis: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Camera yaw and elevation (deg) for a body whose left is `left` and long axis `axis` (unit, world axes).

    up = the axis made orthogonal to left; forward = left x up; the camera direction is c = (0, 0, -1)."""
    up = _unit(axis - np.sum(axis * left, axis=-1, keepdims=True) * left, 1e-6)
    fwd = np.cross(left, up)
    yaw = np.degrees(np.arctan2(-left[..., 2], -fwd[..., 2]))
    elev = np.degrees(np.arcsin(np.clip(-up[..., 2], -1.0, 1.0)))
    return yaw, elev


def _wrap_deg(a: FloatArray) -> FloatArray:
    return (a + 180.0) % 360.0 - 180.0


def _angles(world: FloatArray, xyz: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(yaw_signed_deg, elevation_deg, twist_deg, have_world) per frame; the image fallback where no world."""
    hip_l = _unit(world[:, _L_HIP] - world[:, _R_HIP], MIN_LINE_M)
    sh_l = _unit(world[:, _L_SH] - world[:, _R_SH], MIN_LINE_M)
    left = _unit(np.where(np.isnan(hip_l), sh_l, np.where(np.isnan(sh_l), hip_l, hip_l + sh_l)), 1e-6)
    mid_sh = (world[:, _L_SH] + world[:, _R_SH]) / 2.0
    base = (world[:, _L_ANK] + world[:, _R_ANK]) / 2.0
    base = np.where(np.isnan(base), (world[:, _L_HIP] + world[:, _R_HIP]) / 2.0, base)
    axis = _unit(mid_sh - base, MIN_LINE_M)
    yaw_w, elev_w = _yaw_elevation(left, axis)
    # twist: the hip line's and the shoulder line's own yaw about the same long axis
    twist = np.abs(_wrap_deg(_yaw_elevation(hip_l, axis)[0] - _yaw_elevation(sh_l, axis)[0]))
    twist = np.where(np.isnan(twist), 0.0, twist)
    have_world = np.isfinite(yaw_w)
    # image-landmark fallback: the lateral direction in (x, z) px
    lat_px = (xyz[:, _L_SH] - xyz[:, _R_SH]) + (xyz[:, _L_HIP] - xyz[:, _R_HIP])
    yaw = np.where(have_world, yaw_w, _yaw_from_lines(lat_px))
    elev = np.where(have_world, elev_w, np.nan)
    return yaw, elev, twist, have_world


def confidence_factors(world_m: FloatArray | None, xyz_px: FloatArray, visibility: FloatArray) -> dict[str, FloatArray]:
    """The independent checks behind Viewpoint.confidence, each (T,) in [0, 1] (their product is the
    confidence; exposed so that tests and the sweep can see which check fails where)."""
    xyz = np.asarray(xyz_px, dtype=np.float64)
    vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64), nan=0.0)
    n = xyz.shape[0]
    world = np.full((n, 33, 3), np.nan) if world_m is None else np.asarray(world_m, dtype=np.float64)
    xy = xyz[..., :2]
    yaw, elev, twist, have_world = _angles(world, xyz)
    f: dict[str, FloatArray] = {}
    f["torso_seen"] = _torso_seen(vis)
    f["world"] = np.where(have_world, 1.0, NO_WORLD_CONFIDENCE)
    f["twist"] = np.exp(-((twist / TWIST_TOLERANCE_DEG) ** 2))
    # the torso foreshortens by cos(elevation) when seen from above / along the body: undo that in the ratio
    fore = np.where(np.isnan(elev), 1.0, np.abs(np.cos(np.radians(elev))))
    diff = np.abs(np.abs(np.cos(np.radians(yaw))) - np.clip(_width_cos(xy) * fore, 0.0, 1.0))
    f["width"] = np.where(np.isnan(diff), 1.0, np.exp(-((diff / WIDTH_COS_TOLERANCE) ** 2)))
    # yaw about the long axis is undefined when the camera looks along it (from the head or the feet)
    tilt = np.where(np.isnan(elev), 0.0, np.abs(elev))
    f["along_axis"] = np.clip((90.0 - tilt) / (90.0 - FULL_CONFIDENCE_MAX_ELEVATION_DEG), 0.0, 1.0)
    cos_y, sin_y = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    torso_px = np.hypot(*((xy[:, _L_SH] + xy[:, _R_SH] - xy[:, _L_HIP] - xy[:, _R_HIP]) / 2.0).T)
    with np.errstate(invalid="ignore", divide="ignore"):
        nose_front = -(xyz[:, _NOSE, 2] - (xyz[:, _L_SH, 2] + xyz[:, _R_SH, 2]) / 2.0) / torso_px
        fb_conflict = (
            (np.abs(cos_y) >= FRONT_BACK_MIN_COS)
            & (np.abs(nose_front) >= NOSE_DEPTH_DECISIVE_RATIO)
            & (np.sign(nose_front) != np.sign(cos_y))
        )
        asym = vis[:, _LEFT_SIDE].mean(axis=1) - vis[:, _RIGHT_SIDE].mean(axis=1)
        side_conflict = (
            (np.abs(sin_y) >= SIDE_MIN_SIN)
            & (np.abs(asym) >= SIDE_VISIBILITY_DECISIVE)
            & (np.sign(asym) != np.sign(sin_y))
        )
    f["front_back"] = np.where(fb_conflict, FRONT_BACK_CONFLICT_FACTOR, 1.0)
    f["side"] = np.where(side_conflict, SIDE_CONFLICT_FACTOR, 1.0)
    return f


def estimate_viewpoint(world_m: FloatArray | None, xyz_px: FloatArray, visibility: FloatArray) -> Viewpoint:
    """The camera's yaw, elevation and a confidence per frame (see the module docstring for the conventions).

    world_m (T, 33, 3) metres or None; xyz_px (T, 33, 3) px (NaN where no person); visibility (T, 33).
    """
    xyz = np.asarray(xyz_px, dtype=np.float64)
    n = xyz.shape[0]
    world = np.full((n, 33, 3), np.nan) if world_m is None else np.asarray(world_m, dtype=np.float64)
    yaw, elev, _, _ = _angles(world, xyz)
    conf = np.ones(n)
    for v in confidence_factors(world, xyz, visibility).values():
        conf = conf * v
    conf = np.where(np.isnan(yaw), 0.0, np.clip(conf, 0.0, 1.0))
    return Viewpoint(yaw_deg=np.abs(yaw), yaw_signed_deg=yaw, elevation_deg=elev, confidence=conf)


def estimate_seq(seq: PoseSeq) -> Viewpoint:
    """estimate_viewpoint for a formcheck.core.types.PoseSeq."""
    return estimate_viewpoint(seq.world_m, seq.xyz_px, seq.visibility)


def turn_to_window_deg(yaw_signed_deg: FloatArray | float, lo_deg: float, hi_deg: float) -> FloatArray:
    """How far the person should turn (+ = to their left, - = to their right, 0 = already inside) so that the
    camera's |yaw| lands in [lo_deg, hi_deg], by the smallest turn.

    A person turning to their left by d moves the camera's signed yaw from y to y - d (the camera on their
    left, y = +30, is faced after a 30 deg turn to the left); the target is the nearest yaw of +-[lo, hi].
    """
    if not 0.0 <= lo_deg <= hi_deg <= 180.0:
        raise ValueError("need 0 <= lo_deg <= hi_deg <= 180")
    y = np.asarray(yaw_signed_deg, dtype=np.float64)
    cands = []
    for sign in (1.0, -1.0):
        t = np.clip(sign * y, lo_deg, hi_deg) * sign  # the nearest point of this half-window
        cands.append(_wrap_deg(y - t))
    a, b = cands
    return np.where(np.abs(a) <= np.abs(b), a, b) + 0.0
