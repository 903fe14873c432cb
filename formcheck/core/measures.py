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
from formcheck.core import measure_fns as mf
from formcheck.core.geometry import View
from formcheck.core.landmarks import Lm, Side
from formcheck.core.measure_fns import PoseArrays as PoseArrays
from formcheck.core.types import FloatArray

ALL_VIEWS = frozenset(View)
FRONTAL = frozenset({View.FRONT, View.BACK})
SAGITTAL = frozenset({View.SIDE})

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
                out.extend(mf.sided_lm(s, n) for s in Side)
            else:
                out.append(mf.sided_lm(side, n))
        return tuple(dict.fromkeys(out))

    def __call__(self, arrays: PoseArrays, side: Side | None = None) -> FloatArray:
        if self.sided and side is None:
            raise ValueError(f"measure {self.name} needs a side")
        return np.asarray(self.fn(arrays, side), dtype=np.float64)


def _geo_sided(f: Callable[[FloatArray, Side], FloatArray]) -> MeasureFn:
    return lambda a, side: f(a.xy, mf.need_side(side))


def _geo_plain(f: Callable[[FloatArray], FloatArray]) -> MeasureFn:
    return lambda a, side: f(a.xy)


def _build() -> Mapping[str, Measure]:
    """The registry: one entry per measure (name, unit, sided, views, function, landmarks, meaning). Long because
    it is a table, not logic; split, the measures would no longer read as one list."""
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
            mf.knee_flexion_3d,
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
            mf.hip_flexion_3d,
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
            lambda a, side: -geo.pelvic_drop_deg(a.xy, mf.other_side(side)),
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
            mf.leg_elevation,
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP", "ANKLE"),
            "leg (hip->ankle) vs the body line: side-lying and straight leg raises",
        ),
        Measure(
            "trunk_side_length_ratio",
            "ratio",
            True,
            FRONTAL,
            mf.trunk_side_length,
            ("SHOULDER", "HIP"),
            "shoulder-hip length on this side / other side: hip hiking",
        ),
        Measure(
            "pelvis_trunk_hike_deg",
            "deg",
            True,
            FRONTAL,
            mf.pelvis_trunk_hike,
            ("SHOULDER", "HIP"),
            "hip line vs shoulder line, + when this side's hip is drawn to the head",
        ),
        Measure(
            "pelvis_roll_back_deg",
            "deg",
            True,
            FRONTAL,
            mf.pelvis_roll_back,
            ("LEFT_HIP", "RIGHT_HIP", "NOSE"),
            "top hip further back than the bottom hip (side-lying)",
        ),
        Measure(
            "plank_hip_deg",
            "deg",
            False,
            SAGITTAL,
            mf.plank_hip,
            ("SHOULDER", "HIP", "ANKLE"),
            "hip off the shoulder-ankle line, + sag, - pike",
        ),
        Measure(
            "body_incline_deg",
            "deg",
            False,
            ALL_VIEWS,
            mf.body_incline,
            ("SHOULDER", "ANKLE"),
            "shoulder-ankle line vs horizontal",
        ),
        Measure(
            "bridge_hip_angle_deg",
            "deg",
            False,
            SAGITTAL,
            mf.bridge_hip_angle,
            ("SHOULDER", "HIP", "KNEE"),
            "shoulder-hip-knee angle, 180 = full bridge",
        ),
        Measure(
            "knee_height_ratio",
            "ratio",
            True,
            ALL_VIEWS,
            mf.knee_height,
            ("KNEE", "ANKLE", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"),
            "knee above the lower ankle per torso length",
        ),
        Measure(
            "ankle_height_ratio",
            "ratio",
            True,
            ALL_VIEWS,
            mf.ankle_height,
            ("ANKLE", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"),
            "ankle above the other ankle per torso length",
        ),
        Measure(
            "stance_width_ratio",
            "ratio",
            False,
            FRONTAL,
            mf.stance_width,
            ("LEFT_HIP", "RIGHT_HIP"),
            "heel separation / hip width (heels may be occluded)",
        ),
        Measure(
            "knee_medial_of_foot_ratio",
            "ratio",
            True,
            FRONTAL,
            mf.knee_medial_of_foot,
            ("LEFT_HIP", "RIGHT_HIP", "KNEE", "ANKLE", "FOOT_INDEX"),
            "knee medial of the foot centre per shank length (+ = caving in)",
        ),
        Measure(
            "pelvic_hike_low_abduction_deg",
            "deg",
            True,
            FRONTAL,
            mf.pelvic_hike_low,
            ("LEFT_HIP", "RIGHT_HIP", "LEFT_SHOULDER", "RIGHT_SHOULDER", "KNEE"),
            "pelvic hike on the moving side while the leg is abducted <= 30 deg",
        ),
        Measure(
            "hip_above_ankle_ratio",
            "ratio",
            True,
            ALL_VIEWS,
            mf.hip_above_ankle,
            ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP", "ANKLE"),
            "mid-hip above this side's ankle per torso length",
        ),
        Measure(
            "hip_height_ratio",
            "ratio",
            False,
            ALL_VIEWS,
            mf.hip_height,
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
    return mf.safe_div(med, np.sqrt(t[..., 0] ** 2 + t[..., 1] ** 2))


def get(name: str) -> Measure:
    """The measure called `name` (KeyError lists the valid names)."""
    try:
        return MEASURES[name]
    except KeyError:
        raise KeyError(f"unknown measure {name!r}; valid: {', '.join(sorted(MEASURES))}") from None
