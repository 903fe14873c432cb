"""Named, vectorised measures over pose arrays: what exercise files and rules refer to by name.

Each measure maps (T, 33, ...) landmark arrays to a (T,) float64 series (NaN where its landmarks are unseen)
and declares its unit, the landmarks it needs and the camera views in which it means what it says. 2D
measures come from formcheck.core.geometry; the few "_3d_" measures use MediaPipe's world landmarks (view-
independent angles; lengths are never taken from world metres, docs/clinical.md §4.1) and fall back to the 2D
angle where a frame has no world landmarks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from formcheck.core import geometry as geo
from formcheck.core.geometry import View
from formcheck.core.landmarks import Lm, Side
from formcheck.core.types import FloatArray, PoseFrame, PoseSeq, as_float

ALL_VIEWS = frozenset(View)
FRONTAL = frozenset({View.FRONT, View.BACK})
SAGITTAL = frozenset({View.SIDE})

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


MeasureFn = Callable[[PoseArrays, Side | None], FloatArray]


@dataclasses.dataclass(frozen=True)
class Measure:
    """One named measure: `fn(arrays, side)` -> (T,) in `unit`; `sided` measures need a body side."""

    name: str
    unit: str
    sided: bool
    views: frozenset[View]
    fn: MeasureFn
    landmark_names: tuple[str, ...]  # "KNEE" (sided) or "LEFT_HIP"/"NOSE" (fixed)
    doc: str

    def landmarks(self, side: Side | None) -> tuple[Lm, ...]:
        """The landmarks this measure reads for `side` (both sides for a sided measure without a side)."""
        out: list[Lm] = []
        for n in self.landmark_names:
            if n in Lm.__members__:
                out.append(Lm[n])
            elif side is None:
                out.extend(_sided(s, n) for s in Side)
            else:
                out.append(_sided(side, n))
        return tuple(dict.fromkeys(out))

    def __call__(self, arrays: PoseArrays, side: Side | None = None) -> FloatArray:
        if self.sided and side is None:
            raise ValueError(f"measure {self.name} needs a side")
        return np.asarray(self.fn(arrays, side), dtype=np.float64)


# ---------------------------------------------------------------------------------------------- helpers


def _p(a: FloatArray, lm: Lm) -> FloatArray:
    return a[..., int(lm), :]


# (side, name) -> Lm, built once: `sided` parses an enum name per call, and live frames call it thousands of times.
_SIDED: Mapping[tuple[Side, str], Lm] = MappingProxyType(
    {(s, m.name.split("_", 1)[1]): m for s in Side for m in Lm if m.name.startswith(s.name + "_")}
)


def _sided(side: Side | str | None, name: str) -> Lm:
    """formcheck.core.landmarks.sided from a lookup table (Side is a StrEnum, so "left" and Side.LEFT hash alike).
    A sided measure is only ever called with a side (Measure.__call__ checks), hence the error for None."""
    if side is None:
        raise ValueError(f"{name}: a side is needed")
    return _SIDED[(Side(side), name)]


def _need(side: Side | None) -> Side:
    """The side of a sided measure (see _sided for None)."""
    if side is None:
        raise ValueError("a side is needed")
    return side


def _other(side: Side | None) -> Side:
    """The other side of a sided measure's side."""
    return _need(side).other


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


def _div(a: FloatArray, b: FloatArray) -> FloatArray:
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


def _knee_flexion_3d(a: PoseArrays, side: Side | None) -> FloatArray:
    w = a.world
    three = 180.0 - _angle3_deg(_p(w, _sided(side, "HIP")), _p(w, _sided(side, "KNEE")), _p(w, _sided(side, "ANKLE")))
    gaps = np.isnan(three)
    if not gaps.any():
        return three
    return np.where(gaps, geo.knee_flexion_deg(a.xy, _need(side)), three)


def _hip_flexion_3d(a: PoseArrays, side: Side | None) -> FloatArray:
    """Thigh angle forward of the trunk line in the body's sagittal plane (0 = in line, + = flexed)."""
    lat, up, fwd = _body_axes(a.world)
    thigh = _p(a.world, _sided(side, "KNEE")) - _p(a.world, _sided(side, "HIP"))
    return as_float(np.degrees(np.arctan2(np.sum(thigh * fwd, axis=-1), -np.sum(thigh * up, axis=-1))))


def _leg_elevation(a: PoseArrays, side: Side | None) -> FloatArray:
    """Hip->ankle of `side` vs the body line (mid-shoulder->mid-hip, extended): 0 = leg in line with the body."""
    xy = a.xy
    body = _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP) - _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER)
    leg = _p(xy, _sided(side, "ANKLE")) - _p(xy, _sided(side, "HIP"))
    return geo._angle_between_deg(body, leg)


def _trunk_side_length(a: PoseArrays, side: Side | None) -> FloatArray:
    """Shoulder-hip length on `side` / on the other side: drops when that side's pelvis hikes to the ribs."""
    xy = a.xy
    this = _norm(_p(xy, _sided(side, "SHOULDER")) - _p(xy, _sided(side, "HIP")))
    other = _norm(_p(xy, _sided(_other(side), "SHOULDER")) - _p(xy, _sided(_other(side), "HIP")))
    return _div(this, other)


def _pelvis_trunk_hike(a: PoseArrays, side: Side | None) -> FloatArray:
    """Hip line vs shoulder line in the image, + when the `side` hip is drawn towards the head (hip hiking with
    the camera facing the person's front or back; works lying or standing)."""
    xy = a.xy
    u = _p(xy, _sided(side, "SHOULDER")) - _p(xy, _sided(_other(side), "SHOULDER"))
    v = _p(xy, _sided(side, "HIP")) - _p(xy, _sided(_other(side), "HIP"))
    c = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    ang = np.degrees(np.arctan2(geo._cross(u, v), np.sum(u * v, axis=-1)))
    return as_float(np.sign(geo._cross(u, c)) * ang)


def _face_sign(a: PoseArrays) -> FloatArray:
    face = a.visibility[..., [int(Lm.NOSE), int(Lm.LEFT_EYE), int(Lm.RIGHT_EYE)]].mean(axis=-1)
    return np.where(face >= FACE_TOWARDS_CAMERA_MIN, 1.0, -1.0)


def _pelvis_roll_back(a: PoseArrays, side: Side | None) -> FloatArray:
    """Tilt of the hip line out of the image plane, + when the `side` (top) hip is further from a camera the
    person faces (pelvis rolled back); from world landmarks, else MediaPipe's relative image depth."""

    def roll(p: FloatArray) -> FloatArray:
        d = _p(p, _sided(side, "HIP")) - _p(p, _sided(_other(side), "HIP"))
        return np.degrees(np.arctan2(d[..., 2], np.hypot(d[..., 0], d[..., 1])))

    w = roll(a.world)
    xyz = np.where(np.isnan(a.xy[..., :1]), np.nan, a.xyz)
    return _face_sign(a) * np.where(np.isnan(w), roll(xyz), w)


def _plank_hip(a: PoseArrays, side: Side | None) -> FloatArray:
    """Hip off the shoulder-ankle line, degrees at the hip, + = sagging towards the floor, - = piked."""

    def one(s: Side) -> FloatArray:
        sh, hip, ank = (_p(a.xy, _sided(s, n)) for n in ("SHOULDER", "HIP", "ANKLE"))
        bend = 180.0 - geo.angle_at_deg(sh, hip, ank)
        line = ank - sh
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.sum((hip - sh) * line, axis=-1) / np.sum(line * line, axis=-1)
        on_line_y = sh[..., 1] + t * line[..., 1]
        return as_float(np.sign(hip[..., 1] - on_line_y) * bend)

    return _nanmean2(one(Side.LEFT), one(Side.RIGHT))


def _body_incline(a: PoseArrays, side: Side | None) -> FloatArray:
    """Shoulder->ankle line vs the image horizontal (0 = lying level, 90 = standing), near side first."""

    def one(s: Side) -> FloatArray:
        d = _p(a.xy, _sided(s, "ANKLE")) - _p(a.xy, _sided(s, "SHOULDER"))
        return np.degrees(np.arctan2(np.abs(d[..., 1]), np.abs(d[..., 0])))

    return _nanmean2(one(Side.LEFT), one(Side.RIGHT))


def _bridge_hip_angle(a: PoseArrays, side: Side | None) -> FloatArray:
    """Shoulder-hip-knee angle: ~135 lying with knees bent, ~180 at full bridge extension (side view)."""
    if side is not None:
        return 180.0 - geo.hip_flexion_deg(a.xy, side)
    return 180.0 - _nanmean2(geo.hip_flexion_deg(a.xy, Side.LEFT), geo.hip_flexion_deg(a.xy, Side.RIGHT))


def _knee_height(a: PoseArrays, side: Side | None) -> FloatArray:
    """Knee height above the lower ankle per torso length: the front (working) knee of a lunge is the higher."""
    low = np.fmax(_p(a.xy, Lm.LEFT_ANKLE)[..., 1], _p(a.xy, Lm.RIGHT_ANKLE)[..., 1])
    return _div(low - _p(a.xy, _sided(side, "KNEE"))[..., 1], _torso_px(a.xy))


def _ankle_height(a: PoseArrays, side: Side | None) -> FloatArray:
    """Ankle height above the other ankle per torso length: + = this foot is higher (off the floor / on a step)."""
    return _div(
        _p(a.xy, _sided(_other(side), "ANKLE"))[..., 1] - _p(a.xy, _sided(side, "ANKLE"))[..., 1], _torso_px(a.xy)
    )


def _stance_width(a: PoseArrays, side: Side | None) -> FloatArray:
    """Horizontal heel separation / hip width: ~1 hip-width stance, << 1 "tightrope" lunge (front view).

    Heels are taken where the model places them in the frame (presence), even when occluded: a rear heel
    hidden behind the front foot is the narrow stance this measures.
    """
    placed = np.where((a.presence >= PRESENCE_MIN)[..., None], a.xyz[..., :2], np.nan)
    heels = np.abs(_p(placed, Lm.LEFT_HEEL)[..., 0] - _p(placed, Lm.RIGHT_HEEL)[..., 0])
    hips = np.abs(_p(a.xy, Lm.LEFT_HIP)[..., 0] - _p(a.xy, Lm.RIGHT_HIP)[..., 0])
    return _div(heels, hips)


def _knee_medial_of_foot(a: PoseArrays, side: Side | None) -> FloatArray:
    """Knee's horizontal offset from the centre of its foot (ankle-toe midpoint), + medial, per shank length:
    the clinical "knee over the second toe" check (docs/clinical.md §3.2), valid at any squat depth, front view."""
    knee, ankle, toe = (_p(a.xy, _sided(side, n)) for n in ("KNEE", "ANKLE", "FOOT_INDEX"))
    medial = np.sign(_p(a.xy, _sided(_other(side), "HIP"))[..., 0] - _p(a.xy, _sided(side, "HIP"))[..., 0])
    foot_x = (ankle[..., 0] + toe[..., 0]) / 2.0
    return _div((knee[..., 0] - foot_x) * medial, _norm(knee - ankle))


def _pelvic_hike_low(a: PoseArrays, side: Side | None) -> FloatArray:
    """Pelvic hike on the moving side while that leg is abducted <= HIKE_MAX_ABDUCTION_DEG (else NaN)."""
    hike = -geo.pelvic_drop_deg(a.xy, _other(side))
    abd = geo.hip_abduction_deg(a.xy, _need(side))
    with np.errstate(invalid="ignore"):
        return np.where(abd <= HIKE_MAX_ABDUCTION_DEG, hike, np.nan)


def _hip_height(a: PoseArrays, side: Side | None) -> FloatArray:
    """Mid-hip height above the lower ankle per torso length: falls as the body lowers, in any view."""
    low = np.fmax(_p(a.xy, Lm.LEFT_ANKLE)[..., 1], _p(a.xy, Lm.RIGHT_ANKLE)[..., 1])
    hip = _nanmean2(_p(a.xy, Lm.LEFT_HIP)[..., 1], _p(a.xy, Lm.RIGHT_HIP)[..., 1])
    return _div(low - hip, _torso_px(a.xy))


def _hip_above_ankle(a: PoseArrays, side: Side | None) -> FloatArray:
    """Mid-hip height above this side's ankle per torso length: falls as the stance leg bends, in any view
    (2D, so it still reads depth from the front, where MediaPipe's knee angles are least reliable, §4.1)."""
    hip = _nanmean2(_p(a.xy, Lm.LEFT_HIP)[..., 1], _p(a.xy, Lm.RIGHT_HIP)[..., 1])
    return _div(_p(a.xy, _sided(side, "ANKLE"))[..., 1] - hip, _torso_px(a.xy))


def _geo_sided(f: Callable[[FloatArray, Side], FloatArray]) -> MeasureFn:
    return lambda a, side: f(a.xy, _need(side))


def _geo_plain(f: Callable[[FloatArray], FloatArray]) -> MeasureFn:
    return lambda a, side: f(a.xy)


def _build() -> Mapping[str, Measure]:
    m: list[Measure] = [
        Measure(
            "knee_flexion_deg",
            "deg",
            True,
            SAGITTAL,
            _geo_sided(geo.knee_flexion_deg),
            ("HIP", "KNEE", "ANKLE"),
            "2D knee flexion, 0 = straight (side view)",
        ),
        Measure(
            "knee_flexion_3d_deg",
            "deg",
            True,
            ALL_VIEWS,
            _knee_flexion_3d,
            ("HIP", "KNEE", "ANKLE"),
            "knee flexion from world landmarks: depth in any view",
        ),
        Measure(
            "hip_flexion_deg",
            "deg",
            True,
            SAGITTAL,
            _geo_sided(geo.hip_flexion_deg),
            ("SHOULDER", "HIP", "KNEE"),
            "2D hip flexion, 0 = thigh in line with trunk (side view)",
        ),
        Measure(
            "hip_flexion_3d_deg",
            "deg",
            True,
            ALL_VIEWS,
            _hip_flexion_3d,
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP", "KNEE"),
            "thigh forward of the trunk in the body's sagittal plane (world landmarks)",
        ),
        Measure(
            "hip_abduction_deg",
            "deg",
            True,
            FRONTAL,
            _geo_sided(geo.hip_abduction_deg),
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP", "KNEE"),
            "thigh vs trunk axis, + lateral (front/back view)",
        ),
        Measure(
            "fppa_deg",
            "deg",
            True,
            FRONTAL,
            _geo_sided(geo.fppa_deg),
            ("LEFT_HIP", "RIGHT_HIP", "KNEE", "ANKLE"),
            "frontal plane projection angle, + valgus",
        ),
        Measure(
            "knee_medial_offset_ratio",
            "ratio",
            True,
            FRONTAL,
            _geo_sided(geo.knee_medial_offset_ratio),
            ("LEFT_HIP", "RIGHT_HIP", "KNEE", "ANKLE"),
            "knee medial of hip-ankle line per shank length",
        ),
        Measure(
            "knee_ankle_width_ratio",
            "ratio",
            False,
            FRONTAL,
            _geo_plain(geo.knee_ankle_width_ratio),
            ("LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE"),
            "knee / ankle separation",
        ),
        Measure(
            "pelvic_drop_deg",
            "deg",
            True,
            FRONTAL,
            _geo_sided(geo.pelvic_drop_deg),
            ("LEFT_HIP", "RIGHT_HIP"),
            "hip line tilt, + when the hip opposite `side` (stance) is lower",
        ),
        Measure(
            "pelvic_hike_deg",
            "deg",
            True,
            FRONTAL,
            lambda a, side: -geo.pelvic_drop_deg(a.xy, _other(side)),
            ("LEFT_HIP", "RIGHT_HIP"),
            "hip line tilt, + when the hip of `side` (moving leg) is higher",
        ),
        Measure(
            "trunk_lateral_lean_deg",
            "deg",
            False,
            FRONTAL,
            _geo_plain(geo.trunk_lateral_lean_deg),
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"),
            "trunk vs vertical, + to the left",
        ),
        Measure(
            "trunk_forward_lean_deg",
            "deg",
            False,
            SAGITTAL,
            _geo_plain(geo.trunk_forward_lean_deg),
            ("SHOULDER", "HIP"),
            "trunk vs vertical (side view)",
        ),
        Measure(
            "knee_past_toe_ratio",
            "ratio",
            True,
            SAGITTAL,
            _geo_sided(geo.knee_past_toe_ratio),
            ("KNEE", "ANKLE", "HEEL", "FOOT_INDEX"),
            "knee ahead of the toe tip per shank length",
        ),
        Measure(
            "leg_elevation_deg",
            "deg",
            True,
            ALL_VIEWS,
            _leg_elevation,
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP", "ANKLE"),
            "leg (hip->ankle) vs the body line: side-lying and straight leg raises",
        ),
        Measure(
            "trunk_side_length_ratio",
            "ratio",
            True,
            FRONTAL,
            _trunk_side_length,
            ("SHOULDER", "HIP"),
            "shoulder-hip length on this side / other side: hip hiking",
        ),
        Measure(
            "pelvis_trunk_hike_deg",
            "deg",
            True,
            FRONTAL,
            _pelvis_trunk_hike,
            ("SHOULDER", "HIP"),
            "hip line vs shoulder line, + when this side's hip is drawn to the head",
        ),
        Measure(
            "pelvis_roll_back_deg",
            "deg",
            True,
            FRONTAL,
            _pelvis_roll_back,
            ("LEFT_HIP", "RIGHT_HIP", "NOSE"),
            "top hip further back than the bottom hip (side-lying)",
        ),
        Measure(
            "plank_hip_deg",
            "deg",
            False,
            SAGITTAL,
            _plank_hip,
            ("SHOULDER", "HIP", "ANKLE"),
            "hip off the shoulder-ankle line, + sag, - pike",
        ),
        Measure(
            "body_incline_deg",
            "deg",
            False,
            ALL_VIEWS,
            _body_incline,
            ("SHOULDER", "ANKLE"),
            "shoulder-ankle line vs horizontal",
        ),
        Measure(
            "bridge_hip_angle_deg",
            "deg",
            False,
            SAGITTAL,
            _bridge_hip_angle,
            ("SHOULDER", "HIP", "KNEE"),
            "shoulder-hip-knee angle, 180 = full bridge",
        ),
        Measure(
            "knee_height_ratio",
            "ratio",
            True,
            ALL_VIEWS,
            _knee_height,
            ("KNEE", "ANKLE", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"),
            "knee above the lower ankle per torso length",
        ),
        Measure(
            "ankle_height_ratio",
            "ratio",
            True,
            ALL_VIEWS,
            _ankle_height,
            ("ANKLE", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"),
            "ankle above the other ankle per torso length",
        ),
        Measure(
            "stance_width_ratio",
            "ratio",
            False,
            FRONTAL,
            _stance_width,
            ("LEFT_HIP", "RIGHT_HIP"),
            "heel separation / hip width (heels may be occluded)",
        ),
        Measure(
            "knee_medial_of_foot_ratio",
            "ratio",
            True,
            FRONTAL,
            _knee_medial_of_foot,
            ("LEFT_HIP", "RIGHT_HIP", "KNEE", "ANKLE", "FOOT_INDEX"),
            "knee medial of the foot centre per shank length (+ = caving in)",
        ),
        Measure(
            "pelvic_hike_low_abduction_deg",
            "deg",
            True,
            FRONTAL,
            _pelvic_hike_low,
            ("LEFT_HIP", "RIGHT_HIP", "LEFT_SHOULDER", "RIGHT_SHOULDER", "KNEE"),
            "pelvic hike on the moving side while the leg is abducted <= 30 deg",
        ),
        Measure(
            "hip_above_ankle_ratio",
            "ratio",
            True,
            ALL_VIEWS,
            _hip_above_ankle,
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP", "ANKLE"),
            "mid-hip above this side's ankle per torso length",
        ),
        Measure(
            "hip_height_ratio",
            "ratio",
            False,
            ALL_VIEWS,
            _hip_height,
            ("ANKLE", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"),
            "mid-hip above the lower ankle per torso length",
        ),
    ]
    return MappingProxyType({x.name: x for x in m})


MEASURES: Mapping[str, Measure] = _build()


# Landmarks that move with the whole body, used to spot camera cuts (no face, hands or feet).
_BODY_IDX = [
    int(m) for m in (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER, Lm.LEFT_HIP, Lm.RIGHT_HIP, Lm.LEFT_KNEE, Lm.RIGHT_KNEE)
]


_TORSO_IDX = [int(m) for m in (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER, Lm.LEFT_HIP, Lm.RIGHT_HIP)]


def jump_ratio(prev_xy: FloatArray, xy: FloatArray) -> FloatArray:
    """Median frame-to-frame displacement of the shoulders, hips and knees, per torso length: far above any
    body speed in these exercises when the video cuts to another shot (NaN if not computable)."""
    diff = xy[..., _BODY_IDX, :] - prev_xy[..., _BODY_IDX, :]
    d = np.sqrt(diff[..., 0] ** 2 + diff[..., 1] ** 2)
    finite = d == d
    n = finite.sum(axis=-1)
    srt = np.sort(np.where(finite, d, np.inf), axis=-1)  # NaN sorted last, as +inf
    mid = np.take_along_axis(srt, np.maximum(n - 1, 0)[..., None] // 2, axis=-1)[..., 0]
    med = np.where(n > 0, mid, np.nan)
    t = (
        xy[..., _TORSO_IDX[0], :] + xy[..., _TORSO_IDX[1], :] - xy[..., _TORSO_IDX[2], :] - xy[..., _TORSO_IDX[3], :]
    ) / 2
    return _div(med, np.sqrt(t[..., 0] ** 2 + t[..., 1] ** 2))


def get(name: str) -> Measure:
    """The measure called `name` (KeyError lists the valid names)."""
    try:
        return MEASURES[name]
    except KeyError:
        raise KeyError(f"unknown measure {name!r}; valid: {', '.join(sorted(MEASURES))}") from None
