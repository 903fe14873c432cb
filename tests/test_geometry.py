"""Geometry against hand-computed cases, invariants (translation, scale, mirroring), NaN and shapes, views."""

from __future__ import annotations

import math

import numpy as np
import pytest

from formcheck.core import geometry as g
from formcheck.core.geometry import View
from formcheck.core.landmarks import MIRROR_INDEX, N_LANDMARKS, Lm, Side

VALGUS_DEG = 2 * math.degrees(math.atan(20 / 100))  # knee 20 px off a 200 px straight hip-ankle line = 22.62


def _xy(points: dict[Lm, tuple[float, float]]) -> np.ndarray:
    xy = np.full((N_LANDMARKS, 2), np.nan)
    for lm, p in points.items():
        xy[lm] = p
    return xy


def _mirror_x(xy: np.ndarray, width_px: float = 1000.0) -> np.ndarray:
    """The same labelled pose seen from the other side of the frontal plane (front <-> back)."""
    out = xy.copy()
    out[..., 0] = width_px - out[..., 0]
    return out


def _mirror_person(xy: np.ndarray) -> np.ndarray:
    """The mirror-image person: image x flipped and left/right labels swapped."""
    return _mirror_x(xy)[..., MIRROR_INDEX, :]


def _legs_front(right_knee_dx: float = 0.0, left_knee_dx: float = 0.0) -> np.ndarray:
    """Front view (person's left on the image right): hips at x 200 (right) / 300 (left), y 400; ankles below.

    knee_dx > 0 moves the knee towards the other hip (medial) by that many px at y 500.
    """
    return _xy(
        {
            Lm.RIGHT_SHOULDER: (200, 200),
            Lm.LEFT_SHOULDER: (300, 200),
            Lm.RIGHT_HIP: (200, 400),
            Lm.LEFT_HIP: (300, 400),
            Lm.RIGHT_KNEE: (200 + right_knee_dx, 500),
            Lm.LEFT_KNEE: (300 - left_knee_dx, 500),
            Lm.RIGHT_ANKLE: (200, 600),
            Lm.LEFT_ANKLE: (300, 600),
        }
    )


# ---------------------------------------------------------------------------------------------- hand-computed


@pytest.mark.parametrize(
    ("a", "c", "expected"),
    [
        ((1, 0), (0, 1), 90.0),  # right angle
        ((1, 0), (-2, 0), 180.0),  # collinear, straight
        ((1, 0), (3, 0), 0.0),  # folded back
        ((1, 0), (1, 1), 45.0),
    ],
)
def test_angle_at_deg(a, c, expected) -> None:
    assert g.angle_at_deg(a, (0, 0), c) == pytest.approx(expected, abs=1e-9)


def test_straight_leg_is_zero_everything() -> None:
    xy = _legs_front()
    for side in Side:
        assert g.knee_flexion_deg(xy, side) == pytest.approx(0.0, abs=1e-9)
        assert g.fppa_deg(xy, side) == pytest.approx(0.0, abs=1e-9)
        assert g.knee_medial_offset_ratio(xy, side) == pytest.approx(0.0, abs=1e-9)
        assert g.hip_flexion_deg(xy, side) == pytest.approx(0.0, abs=1e-9)
        assert g.hip_abduction_deg(xy, side) == pytest.approx(0.0, abs=1e-9)


def test_knee_and_hip_flexion_right_angles() -> None:
    xy = _xy({Lm.LEFT_SHOULDER: (0, 0), Lm.LEFT_HIP: (0, 100), Lm.LEFT_KNEE: (100, 100), Lm.LEFT_ANKLE: (100, 200)})
    assert g.hip_flexion_deg(xy, Side.LEFT) == pytest.approx(90.0)
    assert g.knee_flexion_deg(xy, Side.LEFT) == pytest.approx(90.0)
    assert np.isnan(g.knee_flexion_deg(xy, Side.RIGHT))


@pytest.mark.parametrize("view", ["front", "back"])
@pytest.mark.parametrize("side", list(Side))
def test_fppa_valgus_positive_varus_negative_both_legs_both_views(view: str, side: Side) -> None:
    dx = {"right_knee_dx": 20.0} if side is Side.RIGHT else {"left_knee_dx": 20.0}
    valgus = _legs_front(**dx)
    varus = _legs_front(**{k: -v for k, v in dx.items()})
    if view == "back":
        valgus, varus = _mirror_x(valgus), _mirror_x(varus)
    assert g.fppa_deg(valgus, side) == pytest.approx(VALGUS_DEG)
    assert g.fppa_deg(varus, side) == pytest.approx(-VALGUS_DEG)
    assert g.knee_medial_offset_ratio(valgus, side) == pytest.approx(20 / math.hypot(20, 100))
    assert g.knee_medial_offset_ratio(varus, side) == pytest.approx(-20 / math.hypot(20, 100))
    assert g.fppa_deg(valgus, side.other) == pytest.approx(0.0, abs=1e-9)


def test_knee_ankle_width_ratio() -> None:
    xy = _legs_front(right_knee_dx=20, left_knee_dx=20)  # knees 60 px apart, ankles 100 px
    assert g.knee_ankle_width_ratio(xy) == pytest.approx(0.6)


@pytest.mark.parametrize("view", ["front", "back"])
def test_hip_abduction_sign(view: str) -> None:
    xy = _legs_front()
    # right knee swung 30 deg out (away from the left hip at image right), left knee 10 deg in (towards right hip)
    xy[Lm.RIGHT_KNEE] = (200 - 100 * math.sin(math.radians(30)), 400 + 100 * math.cos(math.radians(30)))
    xy[Lm.LEFT_KNEE] = (300 - 100 * math.sin(math.radians(10)), 400 + 100 * math.cos(math.radians(10)))
    if view == "back":
        xy = _mirror_x(xy)
    assert g.hip_abduction_deg(xy, Side.RIGHT) == pytest.approx(30.0)
    assert g.hip_abduction_deg(xy, Side.LEFT) == pytest.approx(-10.0)


@pytest.mark.parametrize("view", ["front", "back"])
def test_pelvic_drop_sign(view: str) -> None:
    xy = _legs_front()
    xy[Lm.RIGHT_HIP] = (200, 410)  # right hip 10 px lower over 100 px of hip width
    if view == "back":
        xy = _mirror_x(xy)
    drop = math.degrees(math.atan(10 / 100))
    assert g.pelvic_drop_deg(xy, Side.LEFT) == pytest.approx(drop)  # standing on the left, right side drops
    assert g.pelvic_drop_deg(xy, Side.RIGHT) == pytest.approx(-drop)  # standing on the right, the free side is up


@pytest.mark.parametrize("view", ["front", "back"])
def test_trunk_lateral_lean_sign(view: str) -> None:
    xy = _legs_front()
    shift = 200 * math.tan(math.radians(10))
    xy[Lm.RIGHT_SHOULDER] = (200 + shift, 200)  # shoulders moved towards the left hip's side of the image
    xy[Lm.LEFT_SHOULDER] = (300 + shift, 200)
    if view == "back":
        xy = _mirror_x(xy)
    assert g.trunk_lateral_lean_deg(xy) == pytest.approx(10.0)
    assert g.trunk_lateral_lean_deg(_mirror_person(xy)) == pytest.approx(-10.0)


def test_trunk_forward_lean_both_sides_or_one() -> None:
    xy = _xy(
        {Lm.LEFT_SHOULDER: (600, 200), Lm.RIGHT_SHOULDER: (604, 200), Lm.LEFT_HIP: (500, 400), Lm.RIGHT_HIP: (504, 400)}
    )
    lean = math.degrees(math.atan(100 / 200))
    assert g.trunk_forward_lean_deg(xy) == pytest.approx(lean)
    far_hidden = xy.copy()
    far_hidden[[Lm.RIGHT_SHOULDER, Lm.LEFT_HIP]] = np.nan  # no full side: must not mix sides
    assert np.isnan(g.trunk_forward_lean_deg(far_hidden))
    far_hidden[Lm.LEFT_HIP] = (500, 400)
    assert g.trunk_forward_lean_deg(far_hidden) == pytest.approx(lean)
    assert g.trunk_forward_lean_deg(_mirror_x(xy)) == pytest.approx(lean)


@pytest.mark.parametrize("facing", [1, -1])
def test_knee_past_toe_ratio(facing: int) -> None:
    xy = _xy(
        {
            Lm.LEFT_HEEL: (100, 600),
            Lm.LEFT_FOOT_INDEX: (150, 600),
            Lm.LEFT_ANKLE: (100, 580),
            Lm.LEFT_KNEE: (170, 480),
            Lm.NOSE: (200, 100),
            Lm.LEFT_EAR: (180, 100),
        }
    )
    if facing < 0:
        xy = _mirror_x(xy)
    assert g.knee_past_toe_ratio(xy, Side.LEFT) == pytest.approx(20 / math.hypot(70, 100))
    assert g.facing_sign(xy) == facing
    behind = xy.copy()
    behind[Lm.LEFT_KNEE, 0] = xy[Lm.LEFT_FOOT_INDEX, 0] - facing * 40  # knee 40 px behind the toes
    assert g.knee_past_toe_ratio(behind, Side.LEFT) == pytest.approx(-40 / np.linalg.norm(behind[25] - behind[27]))


def test_knee_past_toe_undefined_when_foot_points_at_camera() -> None:
    xy = _xy(
        {Lm.LEFT_HEEL: (100, 600), Lm.LEFT_FOOT_INDEX: (103, 620), Lm.LEFT_ANKLE: (100, 580), Lm.LEFT_KNEE: (110, 480)}
    )
    assert np.isnan(g.knee_past_toe_ratio(xy, Side.LEFT))


# ---------------------------------------------------------------------------------------------- invariants


def _random_pose(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """Random, roughly human front-view poses (n, 33, 2) around the _legs_front layout."""
    base = _legs_front()
    rest = np.isnan(base[:, 0])
    base[rest] = (250, 300)
    return base + rng.normal(0, 25, (n, N_LANDMARKS, 2))


MEASURES = {
    "knee_flexion_L": lambda xy: g.knee_flexion_deg(xy, Side.LEFT),
    "knee_flexion_R": lambda xy: g.knee_flexion_deg(xy, Side.RIGHT),
    "hip_flexion_L": lambda xy: g.hip_flexion_deg(xy, Side.LEFT),
    "hip_abduction_R": lambda xy: g.hip_abduction_deg(xy, Side.RIGHT),
    "fppa_L": lambda xy: g.fppa_deg(xy, Side.LEFT),
    "fppa_R": lambda xy: g.fppa_deg(xy, Side.RIGHT),
    "offset_L": lambda xy: g.knee_medial_offset_ratio(xy, Side.LEFT),
    "kasr": g.knee_ankle_width_ratio,
    "pelvic_drop_L": lambda xy: g.pelvic_drop_deg(xy, Side.LEFT),
    "lateral_lean": g.trunk_lateral_lean_deg,
    "forward_lean": g.trunk_forward_lean_deg,
    "knee_past_toe_R": lambda xy: g.knee_past_toe_ratio(xy, Side.RIGHT),
}


@pytest.mark.parametrize("name", list(MEASURES))
def test_translation_and_uniform_scale_leave_measures_unchanged(name: str) -> None:
    rng = np.random.default_rng(0)
    xy = _random_pose(rng, 50)
    xy[:, Lm.RIGHT_FOOT_INDEX] = xy[:, Lm.RIGHT_HEEL] + (60, 5)  # a side-pointing foot for knee_past_toe
    f = MEASURES[name]
    before = f(xy)
    assert np.isfinite(before).all()
    moved = xy * 2.5 + np.array([123.0, -45.0])
    np.testing.assert_allclose(f(moved), before, rtol=1e-9, atol=1e-9)


def test_mirroring_swaps_left_and_right() -> None:
    xy = _random_pose(np.random.default_rng(1), 50)
    m = _mirror_person(xy)
    for left, right in [
        (g.fppa_deg, g.fppa_deg),
        (g.knee_flexion_deg, g.knee_flexion_deg),
        (g.hip_abduction_deg, g.hip_abduction_deg),
        (g.pelvic_drop_deg, g.pelvic_drop_deg),
        (g.knee_medial_offset_ratio, g.knee_medial_offset_ratio),
    ]:
        np.testing.assert_allclose(left(m, Side.LEFT), right(xy, Side.RIGHT), atol=1e-9)
        np.testing.assert_allclose(left(m, Side.RIGHT), right(xy, Side.LEFT), atol=1e-9)
    np.testing.assert_allclose(g.trunk_lateral_lean_deg(m), -g.trunk_lateral_lean_deg(xy), atol=1e-9)
    np.testing.assert_allclose(g.trunk_forward_lean_deg(m), g.trunk_forward_lean_deg(xy), atol=1e-9)
    np.testing.assert_allclose(g.knee_ankle_width_ratio(m), g.knee_ankle_width_ratio(xy), atol=1e-12)


def test_front_and_back_view_of_the_same_pose_agree() -> None:
    xy = _random_pose(np.random.default_rng(2), 50)
    back = _mirror_x(xy)
    for name, f in MEASURES.items():
        if name == "knee_past_toe_R":
            continue
        np.testing.assert_allclose(f(back), f(xy), atol=1e-9, err_msg=name)


# ---------------------------------------------------------------------------------------------- NaN and shapes


@pytest.mark.parametrize("name", list(MEASURES))
def test_nan_in_nan_out(name: str) -> None:
    xy = _random_pose(np.random.default_rng(3), 1)[0]
    xy[[Lm.LEFT_KNEE, Lm.RIGHT_KNEE, Lm.LEFT_HIP, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER, Lm.RIGHT_FOOT_INDEX]] = np.nan
    out = MEASURES[name](xy)
    assert out.shape == () and np.isnan(out)


def test_fppa_needs_the_other_hip_for_its_sign() -> None:
    xy = _legs_front(right_knee_dx=20)
    xy[Lm.LEFT_HIP] = np.nan
    assert np.isnan(g.fppa_deg(xy, Side.RIGHT))
    assert g.knee_flexion_deg(xy, Side.RIGHT) == pytest.approx(VALGUS_DEG)


@pytest.mark.parametrize("lead", [(7,), (4, 2)])
def test_vectorised_over_leading_axes(lead: tuple[int, ...]) -> None:
    rng = np.random.default_rng(4)
    xy = _random_pose(rng, math.prod(lead)).reshape(*lead, N_LANDMARKS, 2)
    xy[(0,) * len(lead) + (Lm.LEFT_KNEE,)] = np.nan
    flat = xy.reshape(-1, N_LANDMARKS, 2)
    for name, f in MEASURES.items():
        out = f(xy)
        assert out.shape == lead and out.dtype == np.float64, name
        one_by_one = np.array([f(p) for p in flat]).reshape(lead)
        np.testing.assert_allclose(out, one_by_one, equal_nan=True, err_msg=name)
    assert np.isnan(g.fppa_deg(xy, Side.LEFT)[(0,) * len(lead)])


# ---------------------------------------------------------------------------------------------- camera view


@pytest.mark.parametrize(
    ("yaw_deg", "confidence", "expected"),
    [
        (0.0, 1.0, View.FRONT),
        (12.0, 0.9, View.FRONT),
        (180.0, 1.0, View.BACK),
        (170.0, 1.0, View.BACK),
        (90.0, 1.0, View.SIDE),
        (65.0, 1.0, View.SIDE),
        (115.0, 1.0, View.SIDE),
        (30.0, 1.0, View.UNKNOWN),
        (45.0, 1.0, View.UNKNOWN),
        (140.0, 1.0, View.UNKNOWN),  # obliques
        (0.0, 0.1, View.UNKNOWN),
        (float("nan"), 0.0, View.UNKNOWN),  # not confident / no person
    ],
)
def test_views_from_yaw(yaw_deg: float, confidence: float, expected: View) -> None:
    assert g.views_from_yaw(np.array([yaw_deg]), np.array([confidence]))[0] is expected


def test_views_from_yaw_are_vectorised_and_fold_is_symmetric() -> None:
    views = g.views_from_yaw(np.array([[0.0, 90.0], [180.0, 45.0]]), np.ones((2, 2)))
    assert views.shape == (2, 2) and views[1, 0] is View.BACK
    np.testing.assert_allclose(g.fold_yaw_deg([0.0, 30.0, 90.0, 150.0, 180.0]), [0.0, 30.0, 90.0, 30.0, 0.0])


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        ([View.SIDE] * 7 + [View.UNKNOWN] * 3, View.SIDE),
        ([View.FRONT] * 6 + [View.BACK] * 4, View.FRONT),
        ([View.FRONT] * 5 + [View.BACK] * 5, View.UNKNOWN),  # no clear majority
        ([View.FRONT] * 2 + [View.UNKNOWN] * 8, View.UNKNOWN),  # only 20% of the frames decided
        ([View.FRONT] * 3 + [View.UNKNOWN] * 7, View.FRONT),
        ([], View.UNKNOWN),
        (["side", "side", "front"], View.SIDE),
    ],
)
def test_dominant_view(views: list, expected: View) -> None:
    assert g.dominant_view(views) is expected
