"""Feedback as data: every text a person reads or hears (placement guidance, set messages, the coach's words),
debounced cues, placement guidance that must persist, and the overlay spec.

The only home of these texts in Python: the drivers, the coach and the web take them from here. Rule cues live
with their rules in the exercise TOMLs. Nothing here draws; media.render (video) and the browser (live canvas)
draw from OverlaySpec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from formcheck.core.geometry import View
from formcheck.core.landmarks import CONNECTIONS, Lm, Side, sided
from formcheck.core.posture import wrong_posture_one
from formcheck.core.spec import ExerciseSpec, RuleSpec
from formcheck.core.types import FloatArray

# A cue stays on screen at least this long after its rule last failed, so it does not flicker (judgement call).
CUE_HOLD_S = 2.0
# The same cue is not announced again (new_cues, e.g. spoken) within this many seconds (judgement call;
# docs/clinical.md §0.1: one cue at a time with a cooldown).
CUE_COOLDOWN_S = 6.0
# A placement problem must persist this long before it is shown (docs/clinical.md §6 item 4: "only after the
# condition persists"; the brief asks for ~1-2 s).
GUIDANCE_PERSIST_S = 1.5
# Mean frame brightness (0-255) below this reads as too dark (judgement call; docs/clinical.md §4.4: no documented
# MediaPipe lighting limit, so measure luminance and warn).
TOO_DARK_LUMA = 40.0

GUIDANCE_TEXT = {
    "no_person": "Step into view of the camera",
    "step_back": "Step back: your whole body must be in view",
    "turn_side": "Turn side-on to the camera",
    "face_camera": "Face the camera",
    "too_dark": "Too dark: turn on a light or face a window",
    "one_person": "Only one person in view, please",
    # The posture gate (formcheck/posture.py): the exercise's posture, as an instruction.
    "posture_standing": "Stand up for this one",
    "posture_sitting": "Sit back against the wall for this one",
    "posture_side_lying": "Lie on your side for this one",
    "posture_supine": "Lie on your back for this one",
    "posture_prone": "Get down on the floor, face down, for this one",
}


# ---- set-level messages (SetResult.messages), the same words for a recorded video and a live set
SET_TEXT = {
    "no_person": "No person found in the video: make sure you are in view of the camera",
    "two_people": "More than one person in view: only one person should be in frame",
    "too_dark": "The video is too dark: add light or face a window",
    "no_reps": "No complete repetition found (a rep counts when you return to the start)",
}
# How an exercise's posture reads in a sentence ("... is done lying on your back"), and the posture a person
# in the wrong one is mostly in.
POSTURE_WORDS = {
    "standing": "standing",
    "sitting": "sitting against a wall",
    "side_lying": "lying on your side",
    "supine": "lying on your back",
    "prone": "face down on the floor",
}
OTHER_POSTURE_WORDS = {
    "standing": "lying down",
    "sitting": "lying down",
    "side_lying": "upright",
    "supine": "upright",
    "prone": "upright",
}
OUT_OF_FRAME_PREFIX = "Body partly out of frame — "
# What a rep of another exercise looks like (core.wrong_exercise.Look values), and an exercise's set in words.
LOOKALIKE_WORDS = {
    "squat": "a squat",
    "lunge": "a lunge",
    "one_leg": "a single-leg squat or step",
    "knee_bend": "a knee bend",
}
SET_OF = {
    "squat": "squats",
    "small_knee_bend": "small knee bends",
    "lunge": "lunges",
    "single_leg_squat": "single-leg squats",
    "step_down": "step-downs",
    "step_up": "step-ups",
    "standing_side_leg_raise": "standing side leg raises",
}


def wrong_posture_text(exercise_name: str, posture: str) -> str:
    """The set message for a set done mostly in another posture than the exercise's."""
    return (
        f"{exercise_name} is done {POSTURE_WORDS[posture]}, but the person is mostly {OTHER_POSTURE_WORDS[posture]}: "
        f"nothing there counts. {GUIDANCE_TEXT[posture_key(posture)]}."
    )


def wrong_exercise_text(exercise_id: str, exercise_name: str, look: str) -> str:
    """The set message (and a rep's reason, live) for movement that clearly looks like another exercise."""
    return f"This looks like {LOOKALIKE_WORDS[look]}: today's set is {SET_OF.get(exercise_id, exercise_name)}"


def out_of_frame_text(reason: str) -> str:
    """The set message for landmarks the exercise needs that were mostly unseen; `reason` names the part."""
    return OUT_OF_FRAME_PREFIX + reason


def wrong_view_text(exercise_name: str, views: Sequence[View], seen: View) -> str:
    """The set message for a camera angle the exercise is not judged from."""
    want = " or ".join(str(v) for v in views)
    looks = "oblique or unclear" if seen is View.UNKNOWN else str(seen)
    return (
        f"{exercise_name} is judged from a {want} view but the video looks {looks}: "
        f"{GUIDANCE_TEXT[wrong_view_key(views)].lower()}"
    )


# ---- the live coach's words (core.coach picks one message at a time; the web shows and speaks it)
SET_COMPLETE_TEXT = "Set complete"
KEEP_GOING_TEXT = "Keep going"
HOLD_ENCOURAGE_TEXT = "Hold it — steady breathing"
GOOD_REP_TEXT = "Good rep"
# A good rep with a form value within the measure's noise of its limit (Rep.borderline): counted, with the cue.
BORDERLINE_TEXT = "Good rep, but close: {cue}"
GOOD_REP_SPOKEN = "Good"
NOT_COUNTED_PREFIX = "Not counted: "
NOT_COUNTED_DEFAULT = "form fault"
NOT_JUDGED_PREFIX = "Not judged: "
NOT_JUDGED_DEFAULT = "the camera must see you fully"
POSITIONING_TEXT = "Stand still in your start position"
GET_INTO_START_TEXT = "Get into your start position"
GET_INTO_POSITION_TEXT = "Get into position"  # a preview: nothing is counted, so no "start" position
GO_TEXT = "Go"

SAFETY_TEXT = "Stop — rest your knee. Pain ends today's exercises; answer the pain questions next."
PREVIEW_OK_TEXT = "Good position — start the set when you are ready"
# The live page's own fixed lines (outside the coach's per-frame message), sent in /api/live/page-config so the
# browser holds no copy: keys are what static/live/*.js asks for.
PAGE_TEXTS: dict[str, str] = {
    "safety": SAFETY_TEXT,
    "pain_stop_spoken": "Stop. Rest your knee.",
    "set_complete": SET_COMPLETE_TEXT,
    "time_up": "Time is up",
    "get_into_position": GET_INTO_POSITION_TEXT,
    "get_into_start_position": GET_INTO_START_TEXT,
    "rest": "Rest",
    "rest_day": "Rest day — no exercise today",
    "session_complete": "Session complete — camera off",
    "camera_needed": "Camera needed",
    # the Small Knee Bend Test's verdict (decided on the server, formcheck.programme.readiness), as shown
    "skbt_valid": "The camera saw clean small knee bends.",
    "skbt_invalid": "The camera saw a knee bend that was not clean.",
    "skbt_unknown": "The camera could not judge the knee bends.",
}


def to_go_text(left: int) -> str:
    """The suffix saying how many good reps a set still needs (" — 3 to go")."""
    return f" — {left} to go"


def encouragement(valid: int, target: int | None, hold: bool) -> str:
    """The encouragement shown (not spoken) while all is well."""
    if hold:
        return HOLD_ENCOURAGE_TEXT
    if target:
        left = max(0, target - valid)
        return SET_COMPLETE_TEXT if left == 0 else KEEP_GOING_TEXT + to_go_text(left)
    return KEEP_GOING_TEXT


def posture_key(posture: str) -> str:
    """The GUIDANCE_TEXT key that asks for an exercise's posture."""
    return f"posture_{posture}"


class CueTracker:
    """Turns per-evaluation rule failures into steady cues: on while failing (+ CUE_HOLD_S), announced once."""

    def __init__(self) -> None:
        self._last_fail: dict[str, float] = {}
        self._announced: dict[str, float] = {}

    def update(self, t_s: float, failing: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(active cues, cues newly announced at t_s)."""
        new = []
        for cue in failing:
            self._last_fail[cue] = t_s
            last = self._announced.get(cue)
            if last is None or t_s - last >= CUE_COOLDOWN_S:
                self._announced[cue] = t_s
                new.append(cue)
        active = tuple(c for c, t in self._last_fail.items() if t_s - t <= CUE_HOLD_S)
        return active, tuple(new)


class GuidanceTracker:
    """Placement guidance keys shown only once their condition has held for GUIDANCE_PERSIST_S."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def update(self, t_s: float, conditions: Iterable[str]) -> tuple[str, ...]:
        now = set(conditions)
        for k in list(self._since):
            if k not in now:
                del self._since[k]
        for k in now:
            self._since.setdefault(k, t_s)
        return tuple(sorted(k for k, t0 in self._since.items() if t_s - t0 >= GUIDANCE_PERSIST_S))


def placement_conditions(
    spec: ExerciseSpec,
    xy: FloatArray,
    detected: bool,
    n_people: int | None,
    luma: float | None,
    needed: Sequence[Lm],
    wrong_posture: bool | None = None,
) -> list[str]:
    """The placement problems visible in one frame (keys of GUIDANCE_TEXT); `wrong_posture` as already
    computed for this frame (None: computed here)."""
    out = []
    if luma is not None and luma < TOO_DARK_LUMA:
        out.append("too_dark")
    if n_people is not None and n_people > 1:
        out.append("one_person")
    if not detected:
        if "too_dark" not in out:  # in the dark nobody is found: "Too dark" says what to fix (issue 19)
            out.append("no_person")
        return out
    if wrong_posture_one(xy, spec.posture) if wrong_posture is None else wrong_posture:
        out.append(posture_key(spec.posture))
        return out  # the view and framing of the wrong posture are beside the point
    if needed and not counting_landmarks_seen(xy, needed):
        out.append("step_back")
    return out


def counting_landmarks_seen(xy: FloatArray, needed: Sequence[Lm]) -> bool:
    """The rep signal can be read in this frame: every unsided landmark it needs is seen, and all of one side's.

    One leg is enough: side-on, the far leg hidden behind the body is normal (its visibility stays below
    types.VISIBILITY_MIN), and the signal's mean over the sides reads the seen one; a person partly out of the
    frame loses both sides' lowest landmarks, and that is what "step back" is for."""
    seen = {m for m in needed if np.isfinite(xy[int(m)]).all()}
    left = [m for m in needed if m.name.startswith("LEFT_")]
    right = [m for m in needed if m.name.startswith("RIGHT_")]
    unsided = [m for m in needed if m not in left and m not in right]
    if not all(m in seen for m in unsided):
        return False
    if not left and not right:
        return True
    return any(side and all(m in seen for m in side) for side in (left, right))


def view_hint_key(views: Sequence[View], view: View) -> str | None:
    """The turn suggestion for a decided camera view the exercise's form rules are not judged from (None: the
    view is fine or undecided). A suggestion only: counting never waits for a view (rules it cannot judge are
    "unknown")."""
    if view is View.UNKNOWN or view in views:
        return None
    return wrong_view_key(views)


def wrong_view_key(views: Sequence[View]) -> str:
    return "turn_side" if View.SIDE in views and not ({View.FRONT, View.BACK} & set(views)) else "face_camera"


@dataclasses.dataclass(frozen=True)
class OverlayLine:
    """A reference line in image px: kind is "knee_over_toe" or "hip_level"."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclasses.dataclass(frozen=True)
class AngleLabel:
    """A key angle to print beside a joint."""

    landmark: Lm
    label: str
    value: float
    unit: str


@dataclasses.dataclass(frozen=True)
class OverlaySpec:
    """What to highlight on the person: landmarks and segments at fault, reference lines, angle read-outs."""

    fault_landmarks: tuple[Lm, ...] = ()
    fault_segments: tuple[tuple[Lm, Lm], ...] = ()
    lines: tuple[OverlayLine, ...] = ()
    angles: tuple[AngleLabel, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "fault_landmarks": [int(m) for m in self.fault_landmarks],
            "fault_segments": [[int(a), int(b)] for a, b in self.fault_segments],
            "lines": [dataclasses.asdict(ln) for ln in self.lines],
            "angles": [
                {"landmark": int(a.landmark), "label": a.label, "value": _r(a.value), "unit": a.unit}
                for a in self.angles
            ],
        }


def _r(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 1)


def rule_landmarks(rule: RuleSpec, side: Side | None) -> tuple[Lm, ...]:
    """The landmarks a rule highlights, resolved to a side (both sides for a bilateral rep)."""
    out: list[Lm] = []
    for n in rule.highlight:
        if n in Lm.__members__:
            out.append(Lm[n])
        elif side is None or rule.side == "both":
            out.extend(sided(s, n) for s in Side)
        else:
            out.append(sided(side if rule.side != "other" else side.other, n))
    return tuple(dict.fromkeys(out))


def build_overlay(
    spec: ExerciseSpec,
    xy: FloatArray,
    failing_rules: Sequence[RuleSpec],
    side: Side | None,
    angles: Sequence[AngleLabel],
) -> OverlaySpec:
    """Overlay for one frame: failing rules' landmarks/segments, the lines those rules refer to, key angles."""
    lms: list[Lm] = []
    for r in failing_rules:
        lms.extend(rule_landmarks(r, side))
    lms = list(dict.fromkeys(lms))
    lm_set = set(lms)
    segs = tuple((a, b) for a, b in CONNECTIONS if a in lm_set and b in lm_set)
    lines: list[OverlayLine] = []
    ids = {r.id for r in failing_rules}
    sides = [side] if side is not None else list(Side)
    if ids & {"knee_valgus", "knees_caving_width", "knee_past_toe"}:
        for s in sides:
            toe, knee = xy[sided(s, "FOOT_INDEX")], xy[sided(s, "KNEE")]
            if np.isfinite(toe).all() and np.isfinite(knee).all():
                lines.append(OverlayLine("knee_over_toe", float(toe[0]), float(toe[1]), float(toe[0]), float(knee[1])))
    if ids & {"pelvic_drop", "hip_hiking"}:
        lh, rh = xy[Lm.LEFT_HIP], xy[Lm.RIGHT_HIP]
        if np.isfinite(lh).all() and np.isfinite(rh).all():
            y = float((lh[1] + rh[1]) / 2)
            lines.append(OverlayLine("hip_level", float(lh[0]), y, float(rh[0]), y))
    return OverlaySpec(tuple(lms), segs, tuple(lines), tuple(angles))
