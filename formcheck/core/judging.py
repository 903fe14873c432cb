"""Judging, shared by both drivers (core.offline over a whole clip, core.live frame by frame): the person's
baseline, a rep's side, view and verdict, the hold's per-frame good-form test, and the set-level messages.

Both drivers call these same functions on the same MeasureTable shape, so a live set and an upload agree
(apart from the smoother: One Euro live, zero-phase offline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np

from formcheck.core import feedback as fb
from formcheck.core import ops
from formcheck.core.geometry import VIEW_MIN_CONFIDENCE, View, fold_yaw_deg, views_from_yaw
from formcheck.core.landmarks import MIRROR_INDEX, Lm, Side
from formcheck.core.measures import MEASURES, PoseArrays
from formcheck.core.posture import EXERCISE_POSTURES, Posture, wrong_posture
from formcheck.core.reps import REST_TOLERANCE_FRACTION, RepEvent
from formcheck.core.results import ALGO_VERSION, Fault, HoldResult, Message, Rep, SetResult, Verdict
from formcheck.core.rules import (
    MIN_COVERAGE,
    Check,
    MeasureTable,
    Status,
    Window,
    judge,
    judge_all,
    missing_text,
    rule_limits,
    view_check,
    view_reason,
    view_turn_size_deg,
)
from formcheck.core.spec import REP_DURATION, ExerciseSpec, RuleSpec
from formcheck.core.types import BoolArray, FloatArray, IntArray
from formcheck.core.viewpoint import Viewpoint, estimate_viewpoint
from formcheck.errors import InputError

# ---- set-level input checks (each a judgement call)
# Below this share of frames with a person, the clip "has no person in it".
MIN_DETECTED_RATIO = 0.2
# More than this share of checked frames with > 1 person -> "two people in frame".
MAX_MULTI_PERSON_RATIO = 0.2
# A landmark the exercise needs that is unseen in more than this share of frames with a person -> out of frame.
MAX_MISSING_RATIO = 0.5
# More than this share of the frames with a person in another posture than the exercise's -> say so (the gate
# itself acts frame by frame; judgement call).
MAX_WRONG_POSTURE_RATIO = 0.5
# Body landmarks moving faster than this (torso lengths per second, median over shoulders, hips, knees,
# between consecutive raw frames) mean a camera cut: a rep in progress is abandoned (edited tutorials).
# A cut moves the body ~0.35 torso lengths in one 30 fps frame (~10/s); rehab movement stays below ~2/s.
# A speed, not a per-frame distance, so live frames arriving at 6-15 fps are judged like 30 fps video.
# Judgement call.
CUT_SPEED_TORSO_PER_S = 10.0

NAN_YAW = (float("nan"), float("nan"))
Baselines = dict[tuple[str, str | None], float]


def parse_side(side: str | Side | None) -> Side | None:
    """The fixed working side the caller asked for (None: "auto", read from the movement)."""
    if side is None or side == "auto":
        return None
    try:
        return Side(side)
    except ValueError:
        raise InputError(f"side must be left, right or auto, not {side!r}") from None


def signal_side(spec: ExerciseSpec, fixed: Side | None) -> Side | str | None:
    """The MeasureTable side key of the rep (or hold) signal.

    A rep is counted on the exercise's own combination of the legs whatever working side was given: the
    combination is what tells a rep from a set-up step, an unracking or the other leg's step (a lunge counts on
    the less bent knee, a single-leg squat on the stance foot), and one leg alone cannot. The given side steers
    which leg the rules judge (`rep_side`), so it helps and never costs a rep (issue 16 item 4: with the labelled
    side, 4 of the 60 labelled clips counted worse when the count read that leg alone). A hold has no such
    combination to lose: it reads the given leg."""
    s = spec.rep or spec.hold
    assert s is not None
    if not MEASURES[s.measure].sided:
        return None
    if spec.rep is not None:
        return spec.rep.combine_key()
    return fixed if fixed is not None else s.combine


def needed_landmarks(spec: ExerciseSpec) -> tuple[Lm, ...]:
    s = spec.rep or spec.hold
    assert s is not None
    return MEASURES[s.measure].landmarks(None)


def is_lying(spec: ExerciseSpec) -> bool:
    return EXERCISE_POSTURES[spec.posture] is Posture.LYING


def baseline_idx(signal: FloatArray, t_s: FloatArray, spec: ExerciseSpec, start_i: int) -> IntArray:
    """Frames of the standing start read as the person's baseline: at the start position, the last
    baseline_s before the first rep began (docs/clinical.md §3.2/§3.3: relative to the person's own baseline)."""
    rep = spec.rep
    if rep is None or start_i <= 0:
        return np.zeros(0, dtype=np.intp)
    i = np.arange(start_i + 1)
    recent = t_s[: start_i + 1] >= t_s[start_i] - spec.baseline_s
    oriented = signal[: start_i + 1] * rep.sign()
    if rep.exit is not None:
        rest_level = rep.exit * rep.sign()
    else:  # no absolute level: near the lowest value before the rep (the start position)
        low = oriented[recent]
        rest_level = (np.nanmin(low) if np.isfinite(low).any() else np.inf) + REST_TOLERANCE_FRACTION * rep.min_range
    with np.errstate(invalid="ignore"):
        at_rest = oriented <= rest_level
    picked: IntArray = i[at_rest & recent]
    return picked


def baselines(spec: ExerciseSpec, table: MeasureTable, idx: IntArray) -> Baselines:
    """The median of each baseline rule's measure over the baseline frames, per side it may read."""
    out: Baselines = {}
    if len(idx) == 0:
        return out
    combine = spec.rep.combine_key() if spec.rep else "mean"
    for r in spec.rules:
        if not r.baseline or r.measure == REP_DURATION:
            continue
        sides: list[str | None] = ["left", "right", combine] if MEASURES[r.measure].sided else [None]
        for s in sides:
            x = table.get(r.measure, s)[idx]
            if np.isfinite(x).any():
                out[(r.measure, s)] = float(np.nanmedian(x))
    return out


def rep_side(spec: ExerciseSpec, table: MeasureTable, ev: RepEvent, fixed: Side | None) -> Side | None:
    """The working side of a rep: the override, else the side_by measure's pick over the rep (its median, so
    a moment where the feet or knees cross at the bottom does not flip it)."""
    if fixed is not None:
        return fixed
    rep = spec.rep
    assert rep is not None
    if spec.side_mode == "bilateral" or rep.side_by is None:
        return None
    vals = {}
    for s in Side:
        x = table.get(rep.side_by, s)[ev.start_i : ev.end_i + 1]
        vals[s] = float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")
    if not all(np.isfinite(v) for v in vals.values()):
        finite = [s for s, v in vals.items() if np.isfinite(v)]
        return finite[0] if finite else None
    pick = max if rep.side_pick == "max" else min
    return pick(Side, key=lambda s: vals[s])


def _is_form(rules: Mapping[str, RuleSpec], c: Check) -> bool:
    """A check on the form itself: a fault-severity rule that is not about tempo."""
    return c.severity == "fault" and rules[c.rule].measure != REP_DURATION


def verdict(spec: ExerciseSpec, checks: tuple[Check, ...], win: Window) -> tuple[Verdict, str]:
    """INVALID on a fault; UNKNOWN when a rule that the camera allows could not be judged (body out of view),
    or when no form rule at all could be judged from this camera angle (tempo alone is not a verdict on
    form); else VALID, with any advisory cues."""
    rules = {r.id: r for r in spec.rules}
    hard = [c for c in checks if c.status is Status.FAULT and c.severity == "fault"]
    if hard:
        return Verdict.INVALID, "; ".join(dict.fromkeys(c.cue for c in hard))
    blocked = {c.rule: view_check(rules[c.rule], win) for c in checks}
    blind = [c for c in checks if c.status is Status.UNKNOWN and blocked[c.rule] is None]
    if blind:
        return Verdict.UNKNOWN, "; ".join(dict.fromkeys(c.reason for c in blind))
    judged = [c for c in checks if c.status is not Status.UNKNOWN and _is_form(rules, c)]
    if not judged:
        # name the nearest camera angle at which some form rule could be judged
        form = [c for c in checks if blocked[c.rule] and _is_form(rules, c)]
        form.sort(key=lambda c: view_turn_size_deg(rules[c.rule], win))
        why = str(blocked[form[0].rule]) if form else view_reason(spec.views)
        return Verdict.UNKNOWN, why + " (form can't be judged from this camera angle)"
    advisory = [c.cue for c in checks if c.status is Status.FAULT]
    return Verdict.VALID, ("advice: " + "; ".join(advisory)) if advisory else ""


def viewpoint_of(arrays: PoseArrays) -> Viewpoint:
    """The camera's yaw around the person per frame (formcheck.core.viewpoint), from the arrays the measures read."""
    return estimate_viewpoint(arrays.world, arrays.xyz, arrays.visibility)


def views_of(vp: Viewpoint, lying: bool = False) -> FloatArray:
    """The coarse view (front / back / side / unknown = oblique) of each frame; `lying` for lying exercises."""
    return views_from_yaw(vp.yaw_deg, vp.confidence, lying=lying)


def rep_yaw(vp: Viewpoint, i0: int = 0, i1: int | None = None) -> tuple[float, float]:
    """(folded yaw in [0, 90], signed yaw in (-180, 180]) of frames i0..i1: the circular mean of the confident
    frames' signed yaw (back views straddle +-180), and that mean folded. NaN where no frame is confident."""
    sl = slice(i0, None if i1 is None else i1 + 1)
    ok = vp.confidence[sl] >= VIEW_MIN_CONFIDENCE
    if not ok.any():
        return NAN_YAW
    signed = np.radians(vp.yaw_signed_deg[sl][ok])
    mean_signed = float(np.degrees(np.arctan2(np.sin(signed).mean(), np.cos(signed).mean())))
    return float(fold_yaw_deg(mean_signed)), mean_signed


def view_of_yaw(yaw: tuple[float, float], lying: bool = False) -> View:
    """The coarse view of a (folded, signed) yaw pair from rep_yaw; UNKNOWN where it is NaN."""
    folded, signed = yaw
    if not (np.isfinite(folded) and np.isfinite(signed)):
        return View.UNKNOWN
    y = folded if abs(signed) <= 90.0 else 180.0 - folded
    return View(views_from_yaw(np.array([y]), np.array([1.0]), lying=lying)[0])


class YawTally:
    """A bounded running summary of a live set's camera yaw (the circular sums of the signed yaw), so the set's
    view is the view of its mean yaw, as offline (rep_yaw), in constant memory."""

    def __init__(self) -> None:
        self._sin = self._cos = 0.0
        self._n = 0

    def add(self, folded_deg: float, signed_deg: float) -> None:
        del folded_deg  # derived from the signed yaw, as in rep_yaw
        self._sin += float(np.sin(np.radians(signed_deg)))
        self._cos += float(np.cos(np.radians(signed_deg)))
        self._n += 1

    def yaw(self) -> tuple[float, float]:
        if self._n == 0:
            return NAN_YAW
        mean_signed = float(np.degrees(np.arctan2(self._sin, self._cos)))
        return float(fold_yaw_deg(mean_signed)), mean_signed


def side_of_sums(spec: ExerciseSpec, sum_left: float, sum_right: float, n: int) -> Side | None:
    """The working side of a one-sided set from its side_by sums so far (None: not one-sided or no data)."""
    rep = spec.rep
    if spec.side_mode != "one_sided" or rep is None or rep.side_by is None or n == 0 or sum_left == sum_right:
        return None
    left_wins = sum_left > sum_right if rep.side_pick == "max" else sum_left < sum_right
    return Side.LEFT if left_wins else Side.RIGHT


def side_by_pair(spec: ExerciseSpec, table: MeasureTable) -> tuple[FloatArray, FloatArray, BoolArray] | None:
    """(left, right, both-finite mask) of the side_by measure, for one-sided sets."""
    rep = spec.rep
    if spec.side_mode != "one_sided" or rep is None or rep.side_by is None:
        return None
    left, right = table.get(rep.side_by, Side.LEFT), table.get(rep.side_by, Side.RIGHT)
    ok = np.isfinite(left) & np.isfinite(right)
    return np.where(ok, left, 0.0), np.where(ok, right, 0.0), ok


@dataclasses.dataclass(frozen=True)
class RepContext:
    """What judging one rep needs beyond its window: the set's fixed side, baselines and overrides, the camera
    yaw of the rep's own frames, the set's yaw so far (for a rep whose frames leave it undecided) and, for
    one-sided exercises, the working side read over the set so far."""

    fixed: Side | None
    baselines: Mapping[tuple[str, str | None], float]
    overrides: Mapping[str, float] | None
    yaw: tuple[float, float] = NAN_YAW
    fallback_yaw: Callable[[], tuple[float, float]] | None = None
    set_side: Side | None = None


def build_rep(spec: ExerciseSpec, table: MeasureTable, ev: RepEvent, index: int, ctx: RepContext) -> Rep:
    """Judge one completed rep window (indices into `table`)."""
    side = ctx.fixed or ctx.set_side or rep_side(spec, table, ev, ctx.fixed)
    yaw = ctx.yaw
    if not np.isfinite(yaw[0]) and ctx.fallback_yaw is not None:
        yaw = ctx.fallback_yaw()
    view = view_of_yaw(yaw, is_lying(spec))
    tempo_s = ev.tempo_s if np.isfinite(ev.tempo_s) else ev.duration_s
    win = Window(ev.start_i, ev.end_i, ev.peak_i, side, view, tempo_s, yaw[0], yaw[1])
    checks = judge_all(spec, table, win, baselines=ctx.baselines, overrides=ctx.overrides)
    faults = tuple(
        Fault(c.rule, c.value, c.threshold, c.unit, c.severity, c.cue) for c in checks if c.status is Status.FAULT
    )
    v, why = verdict(spec, checks, win)
    rep = spec.rep
    assert rep is not None
    return Rep(
        index=index,
        side=None if side is None else str(side),
        start_s=ev.start_s,
        bottom_s=ev.peak_s,
        end_s=ev.end_s,
        view=str(view),
        peak={rep.measure: float(ev.peak_value), "duration_s": ev.duration_s},
        worst={c.rule: c.value for c in checks},
        faults=faults,
        checks=checks,
        verdict=v,
        why=why,
    )


class HoldJudge:
    """Per-frame good-form test for holds, with a causal debounce (a fault counts once it has lasted
    min_duration_s), shared by the live and offline drivers so both time the same hold."""

    def __init__(self, spec: ExerciseSpec, overrides: Mapping[str, float] | None) -> None:
        self.rules = [r for r in spec.rules if r.at == "hold"]
        self._limits = {r.id: rule_limits(r, overrides) for r in self.rules}
        self._since: dict[str, float | None] = {r.id: None for r in self.rules}

    def update(self, t_s: float, values: Mapping[str, float], view: View) -> tuple[bool, list[RuleSpec]]:
        """(good form at t_s, the rules failing for long enough)."""
        good, failing = True, []
        for r in self.rules:
            v = values[r.id]
            if view not in r.views or v != v:
                self._since[r.id] = None
                good = False
                continue
            if not ops.compare(r.op, v, *self._limits[r.id]):
                self._since[r.id] = None
                continue
            since = self._since[r.id]
            if since is None:
                self._since[r.id] = since = t_s
            if t_s - since >= r.min_duration_s:
                failing.append(r)
                if r.severity == "fault":
                    good = False
        return good, failing


def hold_rule_values(spec: ExerciseSpec, table: MeasureTable) -> dict[str, FloatArray]:
    """The series each hold rule reads, by rule id."""
    combine = spec.hold.combine if spec.hold else "mean"
    return {
        r.id: table.get(r.measure, combine if MEASURES[r.measure].sided else None) for r in spec.rules if r.at == "hold"
    }


def hold_checks(
    spec: ExerciseSpec,
    table: MeasureTable,
    i0: int,
    i1: int,
    fixed: Side | None,
    yaw: tuple[float, float],
    overrides: Mapping[str, float] | None,
) -> tuple[Check, ...]:
    """The hold rules judged over the frames i0..i1 in position."""
    hs = spec.hold
    assert hs is not None
    win = Window(i0, i1, i0, fixed, view_of_yaw(yaw, is_lying(spec)), float(table.t_s[i1] - table.t_s[i0]), *yaw)
    return tuple(
        judge(r, table, win, baselines={}, combine=hs.combine, overrides=overrides)
        for r in spec.rules
        if r.at == "hold"
    )


def posture_gated(spec: ExerciseSpec, signal: FloatArray, xy: FloatArray) -> FloatArray:
    """The rep or hold signal with frames in another posture blanked (NaN): they count nothing."""
    wrong = wrong_posture(xy, spec.posture)
    return np.where(wrong, np.nan, signal) if wrong.any() else signal


def pair_seen(seen: FloatArray) -> FloatArray:
    """Per landmark, the better-seen of it and its mirror: in a side view the far leg is hidden, and the
    near one is enough for the measures (they combine or pick the seen side)."""
    return np.maximum(seen, seen[..., MIRROR_INDEX])


def set_side(spec: ExerciseSpec, reps: tuple[Rep, ...], fixed: Side | None) -> str | None:
    """The set's working side: the override, else the reps' side (or "alternating")."""
    if fixed is not None:
        return str(fixed)
    sides = [r.side for r in reps if r.side]
    if spec.side_mode == "bilateral" or not sides:
        return None
    if len(set(sides)) > 1:
        return "alternating" if spec.side_mode == "alternating" else max(set(sides), key=sides.count)
    return sides[0]


@dataclasses.dataclass(frozen=True)
class SetStats:
    """What the set-level messages look at, as either driver summarises its frames.

    `seen`: per landmark, the share of frames with a person in which it was seen (before pairing mirrors);
    `any_seen`: some landmark was seen at all in those frames; `judged_reps`: reps that got a verdict (an
    oblique camera that still lets some form rules be judged is not called the wrong view)."""

    n_frames: int
    detected_ratio: float
    multi_person_ratio: float  # NaN: never checked
    median_luma: float  # NaN: never measured
    wrong_posture_ratio: float
    seen: FloatArray
    any_seen: bool
    view: View
    n_reps: int
    judged_reps: int
    wrong_exercise: str | None = None  # the other exercise the set looks like (core.wrong_exercise.Look)


def set_messages(spec: ExerciseSpec, st: SetStats) -> list[Message]:
    """Set-level input problems: no person, out of frame, wrong view, two people, too dark, no reps."""
    if st.n_frames == 0 or st.detected_ratio < MIN_DETECTED_RATIO:
        if st.median_luma < fb.TOO_DARK_LUMA:  # nobody seen in the dark: the light is what to fix first
            return [Message("too_dark", fb.SET_TEXT["too_dark"])]
        return [Message("no_person", fb.SET_TEXT["no_person"])]
    msgs: list[Message] = []
    if st.multi_person_ratio > MAX_MULTI_PERSON_RATIO:
        msgs.append(Message("two_people", fb.SET_TEXT["two_people"]))
    if st.median_luma < fb.TOO_DARK_LUMA:
        msgs.append(Message("too_dark", fb.SET_TEXT["too_dark"]))
    if st.wrong_posture_ratio > MAX_WRONG_POSTURE_RATIO:
        msgs.append(Message("wrong_posture", fb.wrong_posture_text(spec.name, spec.posture)))
    needed = needed_landmarks(spec)
    paired = pair_seen(st.seen)[[int(m) for m in needed]]
    missing = tuple(m for m, s in zip(needed, paired, strict=True) if s < 1 - MAX_MISSING_RATIO)
    if missing:
        own = {m for m in missing if st.seen[int(m)] < MIN_COVERAGE}
        msgs.append(Message("half_out_of_frame", fb.out_of_frame_text(missing_text(own, missing, st.any_seen))))
    if st.view not in spec.views and not st.judged_reps:
        msgs.append(Message("wrong_view", fb.wrong_view_text(spec.name, spec.views, st.view)))
    if st.wrong_exercise is not None:
        msgs.append(Message("wrong_exercise", fb.wrong_exercise_text(spec.id, spec.name, st.wrong_exercise)))
    elif spec.rep is not None and st.n_reps == 0:
        msgs.append(Message("no_reps", fb.SET_TEXT["no_reps"]))
    return msgs


def set_result(
    spec: ExerciseSpec,
    *,
    reps: tuple[Rep, ...],
    hold: HoldResult | None,
    messages: list[Message],
    view: View,
    fixed: Side | None,
    n_frames: int,
    duration_s: float,
    detected_ratio: float,
    not_counted: tuple[Rep, ...] = (),
) -> SetResult:
    """The SetResult of either driver."""
    return SetResult(
        exercise_id=spec.id,
        exercise_name=spec.name,
        side=set_side(spec, reps, fixed),
        view=str(view),
        reps=reps,
        hold=hold,
        messages=tuple(messages),
        spec_sha256=spec.sha256,
        algo_version=ALGO_VERSION,
        n_frames=n_frames,
        duration_s=duration_s,
        detected_ratio=detected_ratio,
        not_counted=not_counted,
    )
