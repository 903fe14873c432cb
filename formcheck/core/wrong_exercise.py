"""Wrong exercise (issue 16 item 5): does a rep look like the exercise asked for, or clearly like another one?

Three plain geometric facts of the rep's bottom, no classifier fitted to clips:
- **which knees bend, and how evenly** (MediaPipe world-landmark knee flexion, each knee's rise over the rep):
  both about equally in a squat or a lunge, one in a single-leg squat, step-down or step-up, neither in a standing
  side leg raise;
- **the stance**: the angle between the two legs (hip -> ankle, world landmarks) seen along the hips' axis, i.e. in
  the body's own sagittal plane, so it reads the same from any camera yaw and ignores trunk lean: feet side by side
  (a squat) keep the legs parallel, feet split front and back (a lunge) open them wide;
- both are read over the **bottom of the rep** (the frames where the knees are within BOTTOM_SHARE of their
  deepest), so one swapped or misplaced frame cannot decide.

A rep "looks like" another exercise only when these say so clearly; anything in between is unknown and counts as
today. A set looks like another exercise when at least SET_MIN_REPS of its reps, and at least SET_SHARE of them, do;
then every rep that does not positively look like the asked exercise is left uncounted too. Both drivers (core.offline
and core.live) call `decisions` on the same shapes in rep order, so an upload and a live set agree.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from collections.abc import Sequence

import numpy as np

from formcheck.core import feedback as fb
from formcheck.core.landmarks import Lm, Side
from formcheck.core.results import Rep, Verdict
from formcheck.core.rules import MeasureTable

# A rep's bottom: frames where the more bent knee has risen at least this share of its largest rise in the rep
# (judgement call: wide enough that a single misplaced frame cannot decide, narrow enough to stay at the bottom).
BOTTOM_SHARE = 0.7
# A knee "clearly bends" when it rises at least this much over the rep (deg, MediaPipe world knee flexion). Early
# rehab squats and lunges go to 40-45 deg of true flexion (docs/clinical.md §3.10), and MediaPipe reads knee angles
# low, worst from the front (§4.1: bias -13.9 +- 15.1 deg), so 25 deg is met by a real one. Measured on the labelled
# set as a whole (../shared/videos, 60 clips): the less bent knee of squat reps rises 26-105 deg (5th-95th
# percentile), while the knees of standing side leg raises rise at most 21-23 deg.
KNEE_BENDS_DEG = 25.0
# Both knees bend about equally when the less bent one rises at least this share of the more bent one's rise.
# Labelled set as a whole: squat reps 0.6-1.0 (5th-95th percentile), lunges 0.4-1.0, single-leg work 0.0-0.9.
EVEN_BEND_SHARE = 0.6
# One knee bends alone when the other rises at most this share of it. Labelled set as a whole: step-down and
# step-up reps 0.0-0.2; squat reps never below 0.5, lunge reps 0.4 at the 5th percentile.
ONE_KNEE_SHARE = 0.25
# Feet side by side: the legs' sagittal angle at the bottom at most this (deg). Labelled set as a whole: squat reps
# read 0-13 deg from the front and side, up to 36 deg in the oblique goblet squats (MediaPipe's depth is weakest
# there), which this leaves unknown rather than risk calling a lunge a squat.
SIDE_BY_SIDE_MAX_DEG = 25.0
# ... stricter when a single-leg exercise is asked for: a shrimp squat's free knee bends behind the stance leg and
# reads 18 deg at its bottom (labelled set), so only a clearly parallel stance says "two feet down".
SIDE_BY_SIDE_STRICT_DEG = 12.0
# Feet split front and back: the legs' sagittal angle at least this (deg). Labelled set as a whole: lunge reps read
# 42-100 deg (the back view lowest), squat reps never above 36 deg.
SPLIT_MIN_DEG = 45.0
# A set looks like another exercise when at least this many of its reps, and this share of them, clearly do
# (judgement call: one odd rep, a stumble or a set-up step, never decides for the set).
SET_MIN_REPS = 2
SET_SHARE = 0.5
# Looks that a rep alone never decides, only the set: one knee bending alone also happens in a set-up step, a
# stumble or a phantom rep of the counter (on the labelled set, a 0.5 s oblique squat "rep" with one knee rising 28
# deg), whereas a split or a side-by-side stance with both knees bent is the exercise itself.
SET_DECIDES = frozenset({"one_leg"})


class Look(enum.StrEnum):
    """What a rep's movement looks like (the words are feedback.LOOKALIKE_WORDS)."""

    SQUAT = "squat"  # both knees bend about equally, feet side by side
    LUNGE = "lunge"  # both knees bend, feet split front and back
    ONE_LEG = "one_leg"  # one knee bends, the other leg does not (single-leg squat, step-down, step-up)
    KNEE_BEND = "knee_bend"  # knees bend where the asked exercise keeps them straight (the pattern is unclear)


# What each standing rep exercise looks like; exercises not listed are never called the wrong exercise.
EXERCISE_LOOK: dict[str, Look | None] = {
    "squat": Look.SQUAT,
    "small_knee_bend": Look.SQUAT,
    "lunge": Look.LUNGE,
    "single_leg_squat": Look.ONE_LEG,
    "step_down": Look.ONE_LEG,
    "step_up": Look.ONE_LEG,
    "standing_side_leg_raise": None,  # knees straight: any clear knee bend is another exercise
}
# Single-leg exercises whose free leg may bend as much as the stance leg (a shrimp squat holds the free foot behind
# with the knee bent: on the labelled set its reps read like a lunge's, legs 89-95 deg apart, both knees bent). In a
# step-down or step-up the free leg hangs or steps nearly straight (docs/clinical.md §3.10), so two evenly bent knees
# there are another exercise [inference].
FREE_KNEE_MAY_BEND = frozenset({"single_leg_squat"})


@dataclasses.dataclass(frozen=True)
class RepShape:
    """A rep's movement at its bottom: each knee's rise over the rep (deg) and the legs' sagittal angle (deg).
    NaN where the camera did not give the world landmarks it needs."""

    bend_left_deg: float
    bend_right_deg: float
    split_deg: float

    @property
    def bends(self) -> tuple[float, float]:
        """(less bent knee's rise, more bent knee's rise)."""
        a, b = sorted((self.bend_left_deg, self.bend_right_deg))
        return a, b


UNKNOWN_SHAPE = RepShape(float("nan"), float("nan"), float("nan"))


def rep_shape(table: MeasureTable, i0: int, i1: int) -> RepShape:
    """The shape of the rep over frames i0..i1 of `table`."""
    kl = table.get("knee_flexion_3d_deg", Side.LEFT)[i0 : i1 + 1]
    kr = table.get("knee_flexion_3d_deg", Side.RIGHT)[i0 : i1 + 1]
    if not (np.isfinite(kl).any() and np.isfinite(kr).any()):
        return UNKNOWN_SHAPE
    rise_l, rise_r = kl - np.nanmin(kl), kr - np.nanmin(kr)
    deepest = np.fmax(rise_l, rise_r)
    bottom = np.flatnonzero(deepest >= BOTTOM_SHARE * np.nanmax(deepest))
    with np.errstate(invalid="ignore"):
        return RepShape(
            float(np.nanmedian(rise_l[bottom])) if np.isfinite(rise_l[bottom]).any() else float("nan"),
            float(np.nanmedian(rise_r[bottom])) if np.isfinite(rise_r[bottom]).any() else float("nan"),
            _split_deg(table.arrays.world[i0 : i1 + 1][bottom]),
        )


def _split_deg(world: np.ndarray) -> float:
    """Median angle between the two legs (hip -> ankle) with their component along the hips' axis removed."""
    hip_l, hip_r = world[:, Lm.LEFT_HIP], world[:, Lm.RIGHT_HIP]
    lat = hip_l - hip_r
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = lat / np.linalg.norm(lat, axis=-1, keepdims=True)
        legs = [world[:, Lm.LEFT_ANKLE] - hip_l, world[:, Lm.RIGHT_ANKLE] - hip_r]
        a, b = (v - lat * np.sum(v * lat, axis=-1, keepdims=True) for v in legs)
        cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        deg = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    deg = deg[np.isfinite(deg)]
    return float(np.median(deg)) if len(deg) else float("nan")


def looks_like(shape: RepShape) -> Look | None:
    """What the rep clearly looks like (None: unclear, or no clear knee bend)."""
    low, high = shape.bends
    if not (np.isfinite(low) and np.isfinite(high)) or high < KNEE_BENDS_DEG:
        return None
    if low <= ONE_KNEE_SHARE * high:
        return Look.ONE_LEG
    if low < KNEE_BENDS_DEG or low < EVEN_BEND_SHARE * high or not np.isfinite(shape.split_deg):
        return None
    if shape.split_deg <= SIDE_BY_SIDE_MAX_DEG:
        return Look.SQUAT
    return Look.LUNGE if shape.split_deg >= SPLIT_MIN_DEG else None


def other_look(exercise_id: str, shape: RepShape) -> Look | None:
    """The other exercise this rep clearly looks like, given the one asked for (None: it may be the asked one)."""
    if exercise_id not in EXERCISE_LOOK:
        return None
    want = EXERCISE_LOOK[exercise_id]
    seen = looks_like(shape)
    if want is None:  # knees straight: a clear bend of either knee is something else
        return seen or (Look.KNEE_BEND if shape.bends[1] >= KNEE_BENDS_DEG else None)
    if seen is None or seen is want:
        return None
    if want is Look.ONE_LEG and exercise_id in FREE_KNEE_MAY_BEND:
        # the free leg may bend or swing out (shrimp, pistol): only a clearly parallel stance with both knees bent
        # says two feet were down; a split stance is never called a lunge here
        return seen if seen is Look.SQUAT and shape.split_deg <= SIDE_BY_SIDE_STRICT_DEG else None
    if want is Look.LUNGE and seen is Look.ONE_LEG:
        return None  # a lunge's rear knee is the one MediaPipe misplaces most (docs/clinical.md §4.1, #3496)
    return seen


def set_look(exercise_id: str, shapes: Sequence[RepShape]) -> Look | None:
    """The other exercise the set so far looks like: the commonest one of its reps, once at least SET_MIN_REPS and
    SET_SHARE of them clearly look like another exercise (None: it does not)."""
    others = [o for o in (other_look(exercise_id, s) for s in shapes) if o is not None]
    if len(others) < SET_MIN_REPS or len(others) < SET_SHARE * len(shapes):
        return None
    return collections.Counter(others).most_common(1)[0][0]


def _is_asked(exercise_id: str, shape: RepShape) -> bool:
    """The rep positively looks like the asked exercise."""
    want = EXERCISE_LOOK.get(exercise_id)
    return want is not None and looks_like(shape) is want


def rep_decision(exercise_id: str, shapes: Sequence[RepShape]) -> Look | None:
    """For the newest of `shapes` (all the set's reps so far, in order): the other exercise it looks like, so it is
    not counted (None: count it). It is not counted when it clearly looks like another exercise itself (a look in
    SET_DECIDES only through the set), or when the set so far does and the rep does not positively look like the
    asked exercise."""
    last = shapes[-1]
    own = other_look(exercise_id, last)
    if own is not None and own not in SET_DECIDES:
        return own
    whole = set_look(exercise_id, shapes)
    return whole if whole is not None and not _is_asked(exercise_id, last) else None


def decisions(exercise_id: str, shapes: Sequence[RepShape]) -> tuple[list[Look | None], Look | None]:
    """The whole set: each rep's decision (as rep_decision made it when the rep ended, then, if the whole set looks
    like another exercise, also every rep that does not positively look like the asked one), and the set's look."""
    per_rep = [rep_decision(exercise_id, shapes[: k + 1]) for k in range(len(shapes))]
    whole = set_look(exercise_id, shapes)
    if whole is not None:
        per_rep = [d or (None if _is_asked(exercise_id, s) else whole) for d, s in zip(per_rep, shapes, strict=True)]
    return per_rep, whole


def not_counted_rep(exercise_id: str, exercise_name: str, rep: Rep, look: Look) -> Rep:
    """The rep as not counted: verdict invalid, the reason the wrong-exercise words, no form faults (a form
    verdict on another exercise's movement means nothing)."""
    why = fb.wrong_exercise_text(exercise_id, exercise_name, str(look))
    return dataclasses.replace(rep, verdict=Verdict.INVALID, why=why, faults=())


@dataclasses.dataclass(frozen=True)
class SetSplit:
    """A set's reps split by `decisions`: the counted ones (numbered 1..n), the others, and the set's look."""

    counted: tuple[Rep, ...]
    not_counted: tuple[Rep, ...]
    look: Look | None


def split_set(exercise_id: str, exercise_name: str, reps: Sequence[Rep], shapes: Sequence[RepShape]) -> SetSplit:
    """Both drivers' end of set: every rep judged with `decisions` over the shapes of all of them, in order."""
    per_rep, whole = decisions(exercise_id, shapes)
    counted: list[Rep] = []
    others: list[Rep] = []
    for rep, d in zip(reps, per_rep, strict=True):
        if d is None:
            counted.append(dataclasses.replace(rep, index=len(counted) + 1))
        else:
            others.append(not_counted_rep(exercise_id, exercise_name, rep, d))
    return SetSplit(tuple(counted), tuple(others), whole)
