"""Body posture per frame (upright or lying), so an exercise counts only in the posture it is done in.

A person standing and squatting during a straight-leg-raise set, or lying down during a squat set, must count
nothing (issue: "frames in another posture count nothing"). One camera cannot always tell supine from
side-lying from prone, but it can tell a body whose shoulders are well above its ankles from one stretched out
along the floor, and that is the distinction the gate needs: every exercise's posture maps to one of the two.
Pure numpy over (..., 33, 2) image landmarks, NaN where a landmark was not seen.
"""

from __future__ import annotations

import enum
import math

import numpy as np
from numpy.typing import NDArray

from formcheck.core.landmarks import Lm
from formcheck.core.types import BoolArray, FloatArray

# The mid-shoulder -> ankle line of the steeper leg (the stance leg) at least this far above the image
# horizontal: upright (standing, squatting, sitting against a wall). Measured on the 40 labelled clips
# (../shared/videos, MediaPipe full): the 1st percentile of upright exercises is 50-89 deg, even at the bottom of
# a hip-hinged squat with the torso near horizontal (the ankles stay far below the shoulders). Judgement call
# between that and the lying figure below.
UPRIGHT_MIN_INCLINE_DEG = 45.0
# ... and the flatter leg's line at most this: lying (supine, side-lying, prone or plank). Lying clips' 99th
# percentile is 2-21 deg (a single-leg bridge's raised leg the highest); a straight-leg raise to ~60 deg of hip
# flexion keeps the other leg flat. Between the two: undecided (getting up or down), which never blocks anything.
LYING_MAX_INCLINE_DEG = 30.0
# Without the ankles, the trunk alone (mid-hip -> mid-shoulder vs the image vertical) within this of vertical
# reads upright and beyond 90 minus it reads lying (a hinge at the hips cannot be told apart; judgement call).
TRUNK_ONLY_UPRIGHT_MAX_DEG = 30.0


class Posture(enum.StrEnum):
    """Coarse body posture from one camera."""

    UPRIGHT = "upright"
    LYING = "lying"
    UNKNOWN = "unknown"


# The posture an exercise file names -> the coarse posture a camera can check.
EXERCISE_POSTURES: dict[str, Posture] = {
    "standing": Posture.UPRIGHT,
    "sitting": Posture.UPRIGHT,
    "side_lying": Posture.LYING,
    "supine": Posture.LYING,
    "prone": Posture.LYING,
}

_CODES = np.array([Posture.UPRIGHT, Posture.LYING, Posture.UNKNOWN], dtype=object)


def _mid(xy: FloatArray, a: Lm, b: Lm) -> FloatArray:
    """Midpoint of two landmarks; the one that is seen where the other is not."""
    pa, pb = xy[..., int(a), :], xy[..., int(b), :]
    return np.where(np.isnan(pa), pb, np.where(np.isnan(pb), pa, (pa + pb) / 2.0))


def posture_codes(xy: FloatArray) -> NDArray[np.int8]:
    """Per frame 0 = upright, 1 = lying, 2 = unknown (indices into the Posture order above)."""
    xy = np.asarray(xy, dtype=np.float64)
    sh = _mid(xy, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER)
    hip = _mid(xy, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    trunk = sh - hip

    def incline(ankle: Lm) -> FloatArray:
        body = xy[..., int(ankle), :] - sh
        return np.degrees(np.arctan2(np.abs(body[..., 1]), np.abs(body[..., 0])))

    with np.errstate(invalid="ignore"):
        left, right = incline(Lm.LEFT_ANKLE), incline(Lm.RIGHT_ANKLE)
        steep, flat = np.fmax(left, right), np.fmin(left, right)
        trunk_deg = np.degrees(np.arctan2(np.abs(trunk[..., 0]), np.abs(trunk[..., 1])))
        has_body = np.isfinite(steep)
        upright = np.where(has_body, steep >= UPRIGHT_MIN_INCLINE_DEG, trunk_deg <= TRUNK_ONLY_UPRIGHT_MAX_DEG)
        lying = np.where(has_body, flat <= LYING_MAX_INCLINE_DEG, trunk_deg >= 90.0 - TRUNK_ONLY_UPRIGHT_MAX_DEG)
    code = np.full(steep.shape, 2, dtype=np.int8)
    code[upright] = 0
    code[lying & ~upright] = 1
    return code


_L_SH, _R_SH, _L_HIP, _R_HIP, _L_ANK, _R_ANK = (
    int(m) for m in (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER, Lm.LEFT_HIP, Lm.RIGHT_HIP, Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE)
)


def _mid1(xy: FloatArray, a: int, b: int) -> tuple[float, float] | None:
    pa, pb = xy[a], xy[b]
    ok_a, ok_b = pa[0] == pa[0] and pa[1] == pa[1], pb[0] == pb[0] and pb[1] == pb[1]
    if ok_a and ok_b:
        return (float(pa[0]) + float(pb[0])) / 2.0, (float(pa[1]) + float(pb[1])) / 2.0
    if ok_a or ok_b:
        p = pa if ok_a else pb
        return float(p[0]), float(p[1])
    return None


def posture_code_one(xy: FloatArray) -> int:
    """posture_codes for one (33, 2) frame in plain floats: the live path calls it every frame, where numpy's
    per-call overhead on a handful of points costs ~0.2 ms."""
    sh, hip = _mid1(xy, _L_SH, _R_SH), _mid1(xy, _L_HIP, _R_HIP)
    if sh is None:
        return 2
    inclines = []
    for a in (_L_ANK, _R_ANK):
        x, y = float(xy[a][0]), float(xy[a][1])
        if x == x and y == y:
            inclines.append(math.degrees(math.atan2(abs(y - sh[1]), abs(x - sh[0]))))
    if inclines:
        if max(inclines) >= UPRIGHT_MIN_INCLINE_DEG:
            return 0
        return 1 if min(inclines) <= LYING_MAX_INCLINE_DEG else 2
    if hip is None:
        return 2
    trunk_deg = math.degrees(math.atan2(abs(sh[0] - hip[0]), abs(sh[1] - hip[1])))
    if trunk_deg <= TRUNK_ONLY_UPRIGHT_MAX_DEG:
        return 0
    return 1 if trunk_deg >= 90.0 - TRUNK_ONLY_UPRIGHT_MAX_DEG else 2


def wrong_posture_one(xy: FloatArray, exercise_posture: str) -> bool:
    """wrong_posture for one (33, 2) frame."""
    want = EXERCISE_POSTURES[exercise_posture]
    return posture_code_one(xy) == (1 if want is Posture.UPRIGHT else 0)


def classify_posture(xy: FloatArray) -> NDArray[np.object_]:
    """Posture per frame as an object array of Posture (leading shape of `xy`)."""
    out: NDArray[np.object_] = _CODES[posture_codes(xy)]
    return out


def wrong_posture(xy: FloatArray, exercise_posture: str) -> BoolArray:
    """(...,) bool: the frame is positively in another posture than the exercise's (unknown never is)."""
    want = EXERCISE_POSTURES[exercise_posture]
    code = posture_codes(xy)
    other = 1 if want is Posture.UPRIGHT else 0
    wrong: BoolArray = code == other
    return wrong
