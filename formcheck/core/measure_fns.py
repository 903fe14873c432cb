"""The measure functions behind core.measures' registry, and the arrays they read (PoseArrays).

Each function maps (T, 33, ...) landmark arrays to a (T,) float64 series, NaN where its landmarks are unseen;
core.measures names them, with their units, landmarks and views.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from formcheck.core import geometry as geo
from formcheck.core.landmarks import Lm, Side
from formcheck.core.types import FloatArray, PoseFrame, PoseSeq, as_float

# A landmark the model places inside the frame with at least this presence is used by the few measures that
# need occluded feet (a rear foot hidden right behind the front one is the "tightrope" lunge itself).
PRESENCE_MIN = 0.5
# Side-raise hip hiking is read only while the leg is abducted at most this much: the quadratus lumborum
# substitutes early, below ~20 deg (docs/clinical.md §3.6), while big kicks tilt the pelvis by necessity.
HIKE_MAX_ABDUCTION_DEG = 30.0

# The face counts as towards the camera (a front view of a lying person) at this mean nose/eye visibility
# (same cut as geometry.FACE_VISIBLE_MIN would be too strict for lying people; judgement call).
FACE_TOWARDS_CAMERA_MIN = 0.5


@dataclasses.dataclass(frozen=True)
class PoseArrays:
    """The columns measures read: xy (T,33,2) px masked by visibility, xyz (T,33,3) px, world (T,33,3) m.

    World landmarks are masked by presence (the landmark is in the frame), not visibility: they come from the
    model's 3D body fit, so a joint hidden behind the other leg (the back leg of a lunge seen from the front)
    still has a consistent 3D angle, whereas its 2D image position is not trusted (xy is NaN there).
    """

    xy: FloatArray
    xyz: FloatArray
    world: FloatArray
    visibility: FloatArray
    presence: FloatArray

    @classmethod
    def from_seq(cls, seq: PoseSeq) -> PoseArrays:
        mask = (seq.presence < PRESENCE_MIN)[..., None]
        world = np.where(mask, np.nan, seq.world_m)
        return cls(xy=seq.xy_px, xyz=seq.xyz_px, world=world, visibility=seq.visibility, presence=seq.presence)

    @classmethod
    def from_frame(cls, frame: PoseFrame) -> PoseArrays:
        xy = frame.xy_px[None]
        world = frame.world_m[None] if frame.world_m is not None else np.full((1, 33, 3), np.nan)
        world = np.where((frame.presence < PRESENCE_MIN)[None, :, None], np.nan, world)
        return cls(
            xy=xy, xyz=frame.xyz_px[None], world=world, visibility=frame.visibility[None], presence=frame.presence[None]
        )

    @classmethod
    def stack(cls, parts: list[PoseArrays]) -> PoseArrays:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)))

    def __len__(self) -> int:
        return len(self.xy)

    def slice(self, i0: int, i1: int) -> PoseArrays:
        return PoseArrays(*(getattr(self, f.name)[i0:i1] for f in dataclasses.fields(self)))


# ---------------------------------------------------------------------------------------------- helpers


def _p(a: FloatArray, lm: Lm) -> FloatArray:
    return a[..., int(lm), :]


# (side, name) -> Lm, built once: `sided` parses an enum name per call, and live frames call it thousands of times.
_SIDED: Mapping[tuple[str, str], Lm] = MappingProxyType(  # Side is a StrEnum: str keys
    {(s, m.name.split("_", 1)[1]): m for s in Side for m in Lm if m.name.startswith(s.name + "_")}
)


def sided_lm(side: Side | str | None, name: str) -> Lm:
    """formcheck.core.landmarks.sided from a lookup table (Side is a StrEnum, so "left" and Side.LEFT hash alike).
    A sided measure is only ever called with a side (Measure.__call__ checks), hence the error for None."""
    if side is None:
        raise ValueError(f"{name}: a side is needed")
    return _SIDED[(side, name)]


def need_side(side: Side | None) -> Side:
    """The side of a sided measure (see sided for None)."""
    if side is None:
        raise ValueError("a side is needed")
    return side


def other_side(side: Side | None) -> Side:
    """The other side of a sided measure's side."""
    return need_side(side).other


def _mid(a: FloatArray, x: Lm, y: Lm) -> FloatArray:
    return (_p(a, x) + _p(a, y)) / 2.0


def _norm(v: FloatArray) -> FloatArray:
    return as_float(np.sqrt(np.sum(v * v, axis=-1)))


def _angle3_deg(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Angle ABC in degrees for (..., 3) points."""
    u, v = a - b, c - b
    ux, uy, uz = u[..., 0], u[..., 1], u[..., 2]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    cross = np.sqrt((uy * vz - uz * vy) ** 2 + (uz * vx - ux * vz) ** 2 + (ux * vy - uy * vx) ** 2)
    return np.degrees(np.arctan2(cross, ux * vx + uy * vy + uz * vz))


def _torso_px(xy: FloatArray) -> FloatArray:
    """Mid-shoulder to mid-hip length in px, or one side's when the other is unseen: the body's scale."""
    both = _norm(_mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP))
    left = _norm(_p(xy, Lm.LEFT_SHOULDER) - _p(xy, Lm.LEFT_HIP))
    right = _norm(_p(xy, Lm.RIGHT_SHOULDER) - _p(xy, Lm.RIGHT_HIP))
    one = np.where(np.isnan(left), right, np.where(np.isnan(right), left, (left + right) / 2))
    return np.where(np.isnan(both), one, both)


def safe_div(a: FloatArray, b: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = a / b
    return np.where(np.isfinite(out), out, np.nan)


def _nanmean2(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.where(np.isnan(a), b, np.where(np.isnan(b), a, (a + b) / 2.0))


def _body_axes(w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit (left, up, forward) axes of the pelvis/trunk from world landmarks (right-handed frames)."""
    lat = _p(w, Lm.LEFT_HIP) - _p(w, Lm.RIGHT_HIP)
    lat = lat / _norm(lat)[..., None]
    up = _mid(w, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(w, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    up = up - np.sum(up * lat, axis=-1, keepdims=True) * lat
    up = up / _norm(up)[..., None]
    # Facing direction f with left = up x f in a right-handed frame, so f = left x up.
    fwd = np.cross(lat, up)
    return lat, up, fwd


# ---------------------------------------------------------------------------------------------- measures


def knee_flexion_3d(a: PoseArrays, side: Side | None) -> FloatArray:
    w = a.world
    three = 180.0 - _angle3_deg(
        _p(w, sided_lm(side, "HIP")), _p(w, sided_lm(side, "KNEE")), _p(w, sided_lm(side, "ANKLE"))
    )
    gaps = np.isnan(three)
    if not gaps.any():
        return three
    return np.where(gaps, geo.knee_flexion_deg(a.xy, need_side(side)), three)


def hip_flexion_3d(a: PoseArrays, side: Side | None) -> FloatArray:
    """Thigh angle forward of the trunk line in the body's sagittal plane (0 = in line, + = flexed)."""
    lat, up, fwd = _body_axes(a.world)
    thigh = _p(a.world, sided_lm(side, "KNEE")) - _p(a.world, sided_lm(side, "HIP"))
    return as_float(np.degrees(np.arctan2(np.sum(thigh * fwd, axis=-1), -np.sum(thigh * up, axis=-1))))


def leg_elevation(a: PoseArrays, side: Side | None) -> FloatArray:
    """Hip->ankle of `side` vs the body line (mid-shoulder->mid-hip, extended): 0 = leg in line with the body."""
    xy = a.xy
    body = _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP) - _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER)
    leg = _p(xy, sided_lm(side, "ANKLE")) - _p(xy, sided_lm(side, "HIP"))
    return geo._angle_between_deg(body, leg)


def trunk_side_length(a: PoseArrays, side: Side | None) -> FloatArray:
    """Shoulder-hip length on `side` / on the other side: drops when that side's pelvis hikes to the ribs."""
    xy = a.xy
    this = _norm(_p(xy, sided_lm(side, "SHOULDER")) - _p(xy, sided_lm(side, "HIP")))
    other = _norm(_p(xy, sided_lm(other_side(side), "SHOULDER")) - _p(xy, sided_lm(other_side(side), "HIP")))
    return safe_div(this, other)


def pelvis_trunk_hike(a: PoseArrays, side: Side | None) -> FloatArray:
    """Hip line vs shoulder line in the image, + when the `side` hip is drawn towards the head (hip hiking with
    the camera facing the person's front or back; works lying or standing)."""
    xy = a.xy
    u = _p(xy, sided_lm(side, "SHOULDER")) - _p(xy, sided_lm(other_side(side), "SHOULDER"))
    v = _p(xy, sided_lm(side, "HIP")) - _p(xy, sided_lm(other_side(side), "HIP"))
    c = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    ang = np.degrees(np.arctan2(geo._cross(u, v), np.sum(u * v, axis=-1)))
    return as_float(np.sign(geo._cross(u, c)) * ang)


def _face_sign(a: PoseArrays) -> FloatArray:
    face = a.visibility[..., [int(Lm.NOSE), int(Lm.LEFT_EYE), int(Lm.RIGHT_EYE)]].mean(axis=-1)
    return np.where(face >= FACE_TOWARDS_CAMERA_MIN, 1.0, -1.0)


def pelvis_roll_back(a: PoseArrays, side: Side | None) -> FloatArray:
    """Tilt of the hip line out of the image plane, + when the `side` (top) hip is further from a camera the
    person faces (pelvis rolled back); from world landmarks, else MediaPipe's relative image depth."""

    def roll(p: FloatArray) -> FloatArray:
        d = _p(p, sided_lm(side, "HIP")) - _p(p, sided_lm(other_side(side), "HIP"))
        return np.degrees(np.arctan2(d[..., 2], np.hypot(d[..., 0], d[..., 1])))

    w = roll(a.world)
    xyz = np.where(np.isnan(a.xy[..., :1]), np.nan, a.xyz)
    return _face_sign(a) * np.where(np.isnan(w), roll(xyz), w)


def plank_hip(a: PoseArrays, side: Side | None) -> FloatArray:
    """Hip off the shoulder-ankle line, degrees at the hip, + = sagging towards the floor, - = piked."""

    def one(s: Side) -> FloatArray:
        sh, hip, ank = (_p(a.xy, sided_lm(s, n)) for n in ("SHOULDER", "HIP", "ANKLE"))
        bend = 180.0 - geo.angle_at_deg(sh, hip, ank)
        line = ank - sh
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.sum((hip - sh) * line, axis=-1) / np.sum(line * line, axis=-1)
        on_line_y = sh[..., 1] + t * line[..., 1]
        return as_float(np.sign(hip[..., 1] - on_line_y) * bend)

    return _nanmean2(one(Side.LEFT), one(Side.RIGHT))


def body_incline(a: PoseArrays, side: Side | None) -> FloatArray:
    """Shoulder->ankle line vs the image horizontal (0 = lying level, 90 = standing), near side first."""

    def one(s: Side) -> FloatArray:
        d = _p(a.xy, sided_lm(s, "ANKLE")) - _p(a.xy, sided_lm(s, "SHOULDER"))
        return np.degrees(np.arctan2(np.abs(d[..., 1]), np.abs(d[..., 0])))

    return _nanmean2(one(Side.LEFT), one(Side.RIGHT))


def bridge_hip_angle(a: PoseArrays, side: Side | None) -> FloatArray:
    """Shoulder-hip-knee angle: ~135 lying with knees bent, ~180 at full bridge extension (side view)."""
    if side is not None:
        return 180.0 - geo.hip_flexion_deg(a.xy, side)
    return 180.0 - _nanmean2(geo.hip_flexion_deg(a.xy, Side.LEFT), geo.hip_flexion_deg(a.xy, Side.RIGHT))


def knee_height(a: PoseArrays, side: Side | None) -> FloatArray:
    """Knee height above the lower ankle per torso length: the front (working) knee of a lunge is the higher."""
    low = np.fmax(_p(a.xy, Lm.LEFT_ANKLE)[..., 1], _p(a.xy, Lm.RIGHT_ANKLE)[..., 1])
    return safe_div(low - _p(a.xy, sided_lm(side, "KNEE"))[..., 1], _torso_px(a.xy))


def ankle_height(a: PoseArrays, side: Side | None) -> FloatArray:
    """Ankle height above the other ankle per torso length: + = this foot is higher (off the floor / on a step)."""
    return safe_div(
        _p(a.xy, sided_lm(other_side(side), "ANKLE"))[..., 1] - _p(a.xy, sided_lm(side, "ANKLE"))[..., 1],
        _torso_px(a.xy),
    )


def stance_width(a: PoseArrays, side: Side | None) -> FloatArray:
    """Horizontal heel separation / hip width: ~1 hip-width stance, << 1 "tightrope" lunge (front view).

    Heels are taken where the model places them in the frame (presence), even when occluded: a rear heel
    hidden behind the front foot is the narrow stance this measures.
    """
    placed = np.where((a.presence >= PRESENCE_MIN)[..., None], a.xyz[..., :2], np.nan)
    heels = np.abs(_p(placed, Lm.LEFT_HEEL)[..., 0] - _p(placed, Lm.RIGHT_HEEL)[..., 0])
    hips = np.abs(_p(a.xy, Lm.LEFT_HIP)[..., 0] - _p(a.xy, Lm.RIGHT_HIP)[..., 0])
    return safe_div(heels, hips)


def knee_medial_of_foot(a: PoseArrays, side: Side | None) -> FloatArray:
    """Knee's horizontal offset from the centre of its foot (ankle-toe midpoint), + medial, per shank length:
    the clinical "knee over the second toe" check (docs/clinical.md §3.2), valid at any squat depth, front view."""
    knee, ankle, toe = (_p(a.xy, sided_lm(side, n)) for n in ("KNEE", "ANKLE", "FOOT_INDEX"))
    medial = np.sign(_p(a.xy, sided_lm(other_side(side), "HIP"))[..., 0] - _p(a.xy, sided_lm(side, "HIP"))[..., 0])
    foot_x = (ankle[..., 0] + toe[..., 0]) / 2.0
    return safe_div((knee[..., 0] - foot_x) * medial, _norm(knee - ankle))


def pelvic_hike_low(a: PoseArrays, side: Side | None) -> FloatArray:
    """Pelvic hike on the moving side while that leg is abducted <= HIKE_MAX_ABDUCTION_DEG (else NaN)."""
    hike = -geo.pelvic_drop_deg(a.xy, other_side(side))
    abd = geo.hip_abduction_deg(a.xy, need_side(side))
    with np.errstate(invalid="ignore"):
        return np.where(abd <= HIKE_MAX_ABDUCTION_DEG, hike, np.nan)


def hip_height(a: PoseArrays, side: Side | None) -> FloatArray:
    """Mid-hip height above the lower ankle per torso length: falls as the body lowers, in any view."""
    low = np.fmax(_p(a.xy, Lm.LEFT_ANKLE)[..., 1], _p(a.xy, Lm.RIGHT_ANKLE)[..., 1])
    hip = _nanmean2(_p(a.xy, Lm.LEFT_HIP)[..., 1], _p(a.xy, Lm.RIGHT_HIP)[..., 1])
    return safe_div(low - hip, _torso_px(a.xy))


def hip_above_ankle(a: PoseArrays, side: Side | None) -> FloatArray:
    """Mid-hip height above this side's ankle per torso length: falls as the stance leg bends, in any view
    (2D, so it still reads depth from the front, where MediaPipe's knee angles are least reliable, §4.1)."""
    hip = _nanmean2(_p(a.xy, Lm.LEFT_HIP)[..., 1], _p(a.xy, Lm.RIGHT_HIP)[..., 1])
    return safe_div(_p(a.xy, sided_lm(side, "ANKLE"))[..., 1] - hip, _torso_px(a.xy))
