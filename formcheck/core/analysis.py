"""The analysis core, one shape for two drivers: LiveSession (frame by frame) and analyze_seq (whole clip).

Both read the same ExerciseSpec, compute the same pointwise measures, count with the same RepCounter and
judge each completed rep window with the same rules.judge, so a live session and an upload agree (apart from
the smoother: One Euro live, zero-phase offline).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from formcheck.core import feedback as fb
from formcheck.core.geometry import VIEW_MIN_CONFIDENCE, View, fold_yaw_deg, views_from_yaw
from formcheck.core.landmarks import MIRROR_INDEX, Lm, Side, sided
from formcheck.core.measures import MEASURES, PoseArrays, jump_ratio
from formcheck.core.posture import EXERCISE_POSTURES, Posture, wrong_posture, wrong_posture_one
from formcheck.core.reps import REST_TOLERANCE_FRACTION, HoldTimer, Phase, RepCounter, RepEvent, segment_reps
from formcheck.core.rules import (
    Check,
    MeasureTable,
    Status,
    Window,
    judge,
    judge_all,
    missing_reason,
    view_check,
    view_reason,
    view_turn_size_deg,
)
from formcheck.core.smoothing import OneEuroSmoother, smooth_seq
from formcheck.core.spec import REP_DURATION, ExerciseSpec, RuleSpec, load_exercise
from formcheck.core.types import PoseFrame, PoseSeq
from formcheck.core.viewpoint import Viewpoint, estimate_viewpoint
from formcheck.errors import InputError

if TYPE_CHECKING:
    from formcheck.core.report import Report

log = logging.getLogger(__name__)

ALGO_VERSION = "formcheck.core.analysis/1"

# ---- set-level input checks (each a judgement call)
# Below this share of frames with a person, the clip "has no person in it".
MIN_DETECTED_RATIO = 0.2
# More than this share of checked frames with > 1 person -> "two people in frame".
MAX_MULTI_PERSON_RATIO = 0.2
# A landmark the exercise needs that is unseen in more than this share of frames with a person -> out of frame.
MAX_MISSING_RATIO = 0.5
# Live: rules over the rep so far are re-judged this often, to drive cues (cheaper than every frame).
CUE_EVAL_INTERVAL_S = 0.25
# Live: the camera view (formcheck.core.viewpoint, ~3 ms a call) is re-estimated this often; it changes slowly, and
# each rep's own yaw is estimated again over all its frames when it is judged.
VIEW_EVERY_S = 0.5
# Live: frames kept beyond the longest possible rep (baseline + peak window margins).
BUFFER_MARGIN_S = 3.0
# Body landmarks moving faster than this (torso lengths per second, median over shoulders, hips, knees,
# between consecutive raw frames) mean a camera cut: a rep in progress is abandoned (edited tutorials).
# A cut moves the body ~0.35 torso lengths in one 30 fps frame (~10/s); rehab movement stays below ~2/s.
# A speed, not a per-frame distance, so live frames arriving at 6-15 fps are judged like 30 fps video.
# Judgement call.
CUT_SPEED_TORSO_PER_S = 10.0
# A trunk more than this far from the image vertical is a lying body: turned upright before classifying the view.
LYING_TRUNK_MIN_DEG = 45.0
# More than this share of the frames with a person in another posture than the exercise's -> say so (the gate
# itself acts frame by frame; judgement call).
MAX_WRONG_POSTURE_RATIO = 0.5


class Verdict(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Fault:
    """A rule that fired on a rep: the worst sustained value against its limit."""

    rule: str
    value: float
    threshold: float
    unit: str
    severity: str
    cue: str


@dataclasses.dataclass(frozen=True)
class Rep:
    """One counted rep, judged: timing, side, peak measures, worst value per rule, faults and verdict."""

    index: int
    side: str | None
    start_s: float
    bottom_s: float
    end_s: float
    view: str
    peak: Mapping[str, float]
    worst: Mapping[str, float]
    faults: tuple[Fault, ...]
    checks: tuple[Check, ...]
    verdict: Verdict
    why: str

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclasses.dataclass(frozen=True)
class HoldResult:
    """A timed hold: time in position, time in good form (what counts), the longest good stretch."""

    in_position_s: float
    good_form_s: float
    longest_good_s: float
    target_s: float
    min_s: float
    checks: tuple[Check, ...]

    @property
    def met(self) -> bool:
        return self.good_form_s >= self.min_s


@dataclasses.dataclass(frozen=True)
class Message:
    """A set-level problem with the input, in words a person can act on."""

    code: str  # no_person | wrong_posture | half_out_of_frame | wrong_view | two_people | too_dark | no_reps
    text: str


@dataclasses.dataclass(frozen=True)
class SetResult:
    exercise_id: str
    exercise_name: str
    side: str | None
    view: str
    reps: tuple[Rep, ...]
    hold: HoldResult | None
    messages: tuple[Message, ...]
    spec_sha256: str
    algo_version: str
    n_frames: int
    duration_s: float
    detected_ratio: float

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    @property
    def valid_rep_count(self) -> int:
        return sum(r.valid for r in self.reps)


@dataclasses.dataclass(frozen=True)
class LiveFeedback:
    """What the live page shows after one frame (all data; the browser draws)."""

    t_s: float
    phase: str
    rep_count: int
    valid_rep_count: int
    cues: tuple[str, ...]  # active, debounced
    new_cues: tuple[str, ...]  # announced at this frame (speak these)
    guidance: tuple[str, ...]  # placement messages that have persisted
    new_rep: Rep | None
    overlay: fb.OverlaySpec
    view: str
    hold_good_s: float | None = None
    hold_in_position_s: float | None = None
    guidance_keys: tuple[str, ...] = ()  # the same as `guidance`, as stable codes (feedback.GUIDANCE_TEXT keys)


# ------------------------------------------------------------------------------------------- shared pieces


def _parse_side(side: str | Side | None) -> Side | None:
    if side is None or side == "auto":
        return None
    try:
        return Side(side)
    except ValueError:
        raise InputError(f"side must be left, right or auto, not {side!r}") from None


def _signal_side(spec: ExerciseSpec, fixed: Side | None) -> Side | str | None:
    s = spec.rep or spec.hold
    assert s is not None
    if not MEASURES[s.measure].sided:
        return None
    if fixed is not None:
        return fixed
    return spec.rep.combine_key() if spec.rep is not None else s.combine


def _needed_landmarks(spec: ExerciseSpec) -> tuple[Lm, ...]:
    s = spec.rep or spec.hold
    assert s is not None
    return MEASURES[s.measure].landmarks(None)


def _baseline_idx(signal: NDArray, t_s: NDArray, spec: ExerciseSpec, start_i: int) -> NDArray:
    """Frames of the standing start read as the person's baseline: at the start position, the last
    baseline_s before the first rep began (docs/clinical.md §3.2/§3.3: relative to the person's own baseline)."""
    rep = spec.rep
    if rep is None or start_i <= 0:
        return np.zeros(0, dtype=int)
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
    return i[at_rest & recent]


def _baselines(spec: ExerciseSpec, table: MeasureTable, idx: NDArray) -> dict[tuple[str, str | None], float]:
    out: dict[tuple[str, str | None], float] = {}
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


def _rep_side(spec: ExerciseSpec, table: MeasureTable, ev: RepEvent, fixed: Side | None) -> Side | None:
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


def _verdict(spec: ExerciseSpec, checks: tuple[Check, ...], win: Window) -> tuple[Verdict, str]:
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
    judged = [
        c
        for c in checks
        if c.status is not Status.UNKNOWN and c.severity == "fault" and rules[c.rule].measure != REP_DURATION
    ]
    if not judged:
        # name the nearest camera angle at which some form rule could be judged
        form = [
            c for c in checks if blocked[c.rule] and c.severity == "fault" and rules[c.rule].measure != REP_DURATION
        ]
        form.sort(key=lambda c: view_turn_size_deg(rules[c.rule], win))
        why = str(blocked[form[0].rule]) if form else view_reason(spec.views)
        return Verdict.UNKNOWN, why + " (form can't be judged from this camera angle)"
    advisory = [c.cue for c in checks if c.status is Status.FAULT]
    return Verdict.VALID, ("advice: " + "; ".join(advisory)) if advisory else ""


def view_of_yaw(yaw: tuple[float, float], lying: bool = False) -> View:
    """The coarse view of a (folded, signed) yaw pair from rep_yaw; UNKNOWN where it is NaN."""
    folded, signed = yaw
    if not (np.isfinite(folded) and np.isfinite(signed)):
        return View.UNKNOWN
    y = folded if abs(signed) <= 90.0 else 180.0 - folded
    return View(views_from_yaw(np.array([y]), np.array([1.0]), lying=lying)[0])


def _lying(spec: ExerciseSpec) -> bool:
    return EXERCISE_POSTURES[spec.posture] is Posture.LYING


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
            return float("nan"), float("nan")
        mean_signed = float(np.degrees(np.arctan2(self._sin, self._cos)))
        return float(fold_yaw_deg(mean_signed)), mean_signed


def _side_of_sums(spec: ExerciseSpec, sum_left: float, sum_right: float, n: int) -> Side | None:
    """The working side of a one-sided set from its side_by sums so far (None: not one-sided or no data)."""
    rep = spec.rep
    if spec.side_mode != "one_sided" or rep is None or rep.side_by is None or n == 0 or sum_left == sum_right:
        return None
    left_wins = sum_left > sum_right if rep.side_pick == "max" else sum_left < sum_right
    return Side.LEFT if left_wins else Side.RIGHT


def _side_by_pair(spec: ExerciseSpec, table: MeasureTable) -> tuple[NDArray, NDArray, NDArray] | None:
    """(left, right, both-finite mask) of the side_by measure, for one-sided sets."""
    rep = spec.rep
    if spec.side_mode != "one_sided" or rep is None or rep.side_by is None:
        return None
    left, right = table.get(rep.side_by, Side.LEFT), table.get(rep.side_by, Side.RIGHT)
    ok = np.isfinite(left) & np.isfinite(right)
    return np.where(ok, left, 0.0), np.where(ok, right, 0.0), ok


def _build_rep(
    spec: ExerciseSpec,
    table: MeasureTable,
    views: NDArray,
    ev: RepEvent,
    index: int,
    fixed: Side | None,
    baselines: Mapping[tuple[str, str | None], float],
    overrides: Mapping[str, float] | None,
    fallback_yaw: Callable[[], tuple[float, float]] | None = None,
    set_side: Side | None = None,
    yaw: tuple[float, float] = (float("nan"), float("nan")),
) -> Rep:
    """Judge one completed rep window (indices into `table`). A rep whose own frames leave the view undecided
    takes `fallback_yaw()`, the camera yaw of the set so far (the camera rarely moves between reps). One-sided
    exercises take `set_side`, the working side read over the whole set so far, when given."""
    side = fixed or set_side or _rep_side(spec, table, ev, fixed)
    if not np.isfinite(yaw[0]) and fallback_yaw is not None:
        yaw = fallback_yaw()
    view = view_of_yaw(yaw, _lying(spec))
    tempo_s = ev.tempo_s if np.isfinite(ev.tempo_s) else ev.duration_s
    win = Window(ev.start_i, ev.end_i, ev.peak_i, side, view, tempo_s, yaw[0], yaw[1])
    checks = judge_all(spec, table, win, baselines=baselines, overrides=overrides)
    faults = tuple(
        Fault(c.rule, c.value, c.threshold, c.unit, c.severity, c.cue) for c in checks if c.status is Status.FAULT
    )
    verdict, why = _verdict(spec, checks, win)
    rep = spec.rep
    assert rep is not None
    peak = {rep.measure: float(ev.peak_value), "duration_s": ev.duration_s}
    return Rep(
        index=index,
        side=None if side is None else str(side),
        start_s=ev.start_s,
        bottom_s=ev.peak_s,
        end_s=ev.end_s,
        view=str(view),
        peak=peak,
        worst={c.rule: c.value for c in checks},
        faults=faults,
        checks=checks,
        verdict=verdict,
        why=why,
    )


class _HoldJudge:
    """Per-frame good-form test for holds, with a causal debounce (a fault counts once it has lasted
    min_duration_s), shared by the live and offline drivers so both time the same hold."""

    def __init__(self, spec: ExerciseSpec, overrides: Mapping[str, float] | None) -> None:
        self.rules = [r for r in spec.rules if r.at == "hold"]
        self.spec, self.overrides = spec, overrides
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
            lim = r.limit_for(dict(self.overrides) if self.overrides else None)
            bad = (
                v > lim
                if r.op == "above"
                else v < lim
                if r.op == "below"
                else abs(v) > lim
                if r.op == "abs_above"
                else (v < lim or v > (r.limit_hi or lim))
            )
            if not bad:
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


def _hold_rule_values(spec: ExerciseSpec, table: MeasureTable) -> dict[str, NDArray]:
    combine = spec.hold.combine if spec.hold else "mean"
    out = {}
    for r in spec.rules:
        if r.at != "hold":
            continue
        s: str | None = combine if MEASURES[r.measure].sided else None
        out[r.id] = table.get(r.measure, s)
    return out


def viewpoint_of(arrays: PoseArrays) -> Viewpoint:
    """The camera's yaw around the person per frame (formcheck.core.viewpoint), from the arrays the measures read."""
    return estimate_viewpoint(arrays.world, arrays.xyz, arrays.visibility)


def views_of(vp: Viewpoint, lying: bool = False) -> NDArray:
    """The coarse view (front / back / side / unknown = oblique) of each frame; `lying` for lying exercises."""
    return views_from_yaw(vp.yaw_deg, vp.confidence, lying=lying)


def rep_yaw(vp: Viewpoint, i0: int = 0, i1: int | None = None) -> tuple[float, float]:
    """(folded yaw in [0, 90], signed yaw in (-180, 180]) of frames i0..i1: the circular mean of the confident
    frames' signed yaw (back views straddle +-180), and that mean folded. NaN where no frame is confident."""
    sl = slice(i0, None if i1 is None else i1 + 1)
    ok = vp.confidence[sl] >= VIEW_MIN_CONFIDENCE
    if not ok.any():
        return float("nan"), float("nan")
    signed = np.radians(vp.yaw_signed_deg[sl][ok])
    mean_signed = float(np.degrees(np.arctan2(np.sin(signed).mean(), np.cos(signed).mean())))
    return float(fold_yaw_deg(mean_signed)), mean_signed


_POSTURE_WORDS = {
    "standing": "standing",
    "sitting": "sitting against a wall",
    "side_lying": "lying on your side",
    "supine": "lying on your back",
    "prone": "face down on the floor",
}
_OTHER_POSTURE_WORDS = {
    "standing": "lying down",
    "sitting": "lying down",
    "side_lying": "upright",
    "supine": "upright",
    "prone": "upright",
}


def _posture_gated(spec: ExerciseSpec, signal: NDArray, xy: NDArray) -> NDArray:
    """The rep or hold signal with frames in another posture blanked (NaN): they count nothing."""
    wrong = wrong_posture(xy, spec.posture)
    return np.where(wrong, np.nan, signal) if wrong.any() else signal


def _pair_seen(seen: NDArray) -> NDArray:
    """Per landmark, the better-seen of it and its mirror: in a side view the far leg is hidden, and the
    near one is enough for the measures (they combine or pick the seen side)."""
    return np.maximum(seen, seen[..., MIRROR_INDEX])


def _set_messages(
    spec: ExerciseSpec, seq: PoseSeq, vp: Viewpoint, n_reps: int, judged_reps: int = 0
) -> tuple[list[Message], View]:
    """`judged_reps`: reps that got a verdict (an oblique camera that still lets some form rules be judged is
    not called the wrong view)."""
    """Set-level input problems: no person, out of frame, wrong view, two people, too dark, no reps."""
    msgs: list[Message] = []
    det = seq.detected
    n = len(seq)
    det_ratio = float(det.mean()) if n else 0.0
    if n == 0 or det_ratio < MIN_DETECTED_RATIO:
        msgs.append(Message("no_person", "No person found in the video: make sure you are in view of the camera"))
        return msgs, View.UNKNOWN
    people = seq.n_people[np.isfinite(seq.n_people)]
    if len(people) and float((people > 1).mean()) > MAX_MULTI_PERSON_RATIO:
        msgs.append(Message("two_people", "More than one person in view: only one person should be in frame"))
    luma = seq.luma[np.isfinite(seq.luma)]
    if len(luma) and float(np.median(luma)) < fb.TOO_DARK_LUMA:
        msgs.append(Message("too_dark", "The video is too dark: add light or face a window"))
    if float(wrong_posture(seq.xy_px[det], spec.posture).mean()) > MAX_WRONG_POSTURE_RATIO:
        msgs.append(
            Message(
                "wrong_posture",
                f"{spec.name} is done {_POSTURE_WORDS[spec.posture]}, but the person "
                f"is mostly {_OTHER_POSTURE_WORDS[spec.posture]}: nothing there counts. "
                f"{fb.GUIDANCE_TEXT[fb.posture_key(spec.posture)]}.",
            )
        )
    needed = _needed_landmarks(spec)
    xy = seq.xy_px[det]
    seen = _pair_seen(np.isfinite(xy[..., 0]).mean(axis=0))[[int(m) for m in needed]]
    if (seen < 1 - MAX_MISSING_RATIO).any():
        missing = tuple(m for m, s in zip(needed, seen, strict=True) if s < 1 - MAX_MISSING_RATIO)
        msgs.append(Message("half_out_of_frame", "Body partly out of frame — " + missing_reason(xy, missing)))
    view = view_of_yaw(rep_yaw(vp), _lying(spec))
    if view not in spec.views and not judged_reps:
        want = " or ".join(str(v) for v in spec.views)
        msgs.append(
            Message(
                "wrong_view",
                f"{spec.name} is judged from a {want} view but the video looks "
                f"{'oblique or unclear' if view is View.UNKNOWN else str(view)}: "
                f"{fb.GUIDANCE_TEXT[fb.wrong_view_key(spec.views)].lower()}",
            )
        )
    if spec.rep is not None and n_reps == 0:
        msgs.append(Message("no_reps", "No complete repetition found (a rep counts when you return to the start)"))
    return msgs, view


def _set_side(spec: ExerciseSpec, reps: tuple[Rep, ...], fixed: Side | None) -> str | None:
    if fixed is not None:
        return str(fixed)
    sides = [r.side for r in reps if r.side]
    if spec.side_mode == "bilateral" or not sides:
        return None
    if len(set(sides)) > 1:
        return "alternating" if spec.side_mode == "alternating" else max(set(sides), key=sides.count)
    return sides[0]


# ------------------------------------------------------------------------------------------------ offline


def analyze_seq(
    seq: PoseSeq,
    exercise_id: str,
    side: str = "auto",
    overrides: Mapping[str, float] | None = None,
    *,
    smoothed: bool = False,
) -> SetResult:
    """Judge a whole clip's landmarks: zero-phase smoothing, vectorised measures, segment_reps, rules per rep."""
    spec = load_exercise(exercise_id)
    fixed = _parse_side(side)
    cuts = np.zeros(len(seq), bool)
    if len(seq) > 1:
        with np.errstate(invalid="ignore"):
            speed = jump_ratio(seq.xy_px[:-1], seq.xy_px[1:]) / np.diff(seq.t_s)
            cuts[1:] = speed > CUT_SPEED_TORSO_PER_S
    raw = None if smoothed else PoseArrays.from_seq(seq)
    if not smoothed:
        seq = smooth_seq(seq)
    t = seq.t_s
    table = MeasureTable(PoseArrays.from_seq(seq), t, raw)
    vp = viewpoint_of(table.arrays)
    views = views_of(vp, _lying(spec))
    reps: tuple[Rep, ...] = ()
    hold = None
    if spec.rep is not None:
        signal = _posture_gated(spec, table.get(spec.rep.measure, _signal_side(spec, fixed)), seq.xy_px)
        events = segment_reps(signal, t, spec.rep, cuts)
        baselines = _baselines(spec, table, _baseline_idx(signal, t, spec, events[0].start_i)) if events else {}
        pair = _side_by_pair(spec, table)
        sums = None if pair is None else (np.cumsum(pair[0]), np.cumsum(pair[1]), np.cumsum(pair[2]))
        reps = tuple(
            _build_rep(
                spec,
                table,
                views,
                ev,
                k + 1,
                fixed,
                baselines,
                overrides,
                lambda ev=ev: rep_yaw(vp, 0, ev.end_i),
                None
                if sums is None
                else _side_of_sums(spec, float(sums[0][ev.end_i]), float(sums[1][ev.end_i]), int(sums[2][ev.end_i])),
                rep_yaw(vp, ev.start_i, ev.end_i),
            )
            for k, ev in enumerate(events)
        )
    else:
        hold = _offline_hold(spec, table, views, fixed, overrides, vp)
    msgs, view = _set_messages(spec, seq, vp, len(reps), sum(r.verdict is not Verdict.UNKNOWN for r in reps))
    return SetResult(
        exercise_id=spec.id,
        exercise_name=spec.name,
        side=_set_side(spec, reps, fixed),
        view=str(view),
        reps=reps,
        hold=hold,
        messages=tuple(msgs),
        spec_sha256=spec.sha256,
        algo_version=ALGO_VERSION,
        n_frames=len(seq),
        duration_s=seq.duration_s,
        detected_ratio=float(seq.detected.mean()) if len(seq) else 0.0,
    )


def _offline_hold(
    spec: ExerciseSpec,
    table: MeasureTable,
    views: NDArray,
    fixed: Side | None,
    overrides: Mapping[str, float] | None,
    vp: Viewpoint,
) -> HoldResult:
    hs = spec.hold
    assert hs is not None
    signal = _posture_gated(spec, table.get(hs.measure, _signal_side(spec, fixed)), table.arrays.xy)
    values = _hold_rule_values(spec, table)
    judge_ = _HoldJudge(spec, overrides)
    timer = HoldTimer(hs)
    cols = {k: v.tolist() for k, v in values.items()}
    in_idx = []
    for i, (ti, v) in enumerate(zip(table.t_s.tolist(), signal.tolist(), strict=True)):
        good, _ = judge_.update(ti, {k: c[i] for k, c in cols.items()}, View(views[i]))
        timer.update(ti, v, good)
        if timer.in_position:
            in_idx.append(i)
    return _hold_result(spec, table, views, in_idx, timer, fixed, overrides, vp)


def _hold_result(
    spec: ExerciseSpec,
    table: MeasureTable,
    views: NDArray,
    in_idx: list[int],
    timer: HoldTimer,
    fixed: Side | None,
    overrides: Mapping[str, float] | None,
    vp: Viewpoint,
) -> HoldResult:
    hs = spec.hold
    assert hs is not None
    checks: tuple[Check, ...] = ()
    if in_idx:
        i0, i1 = in_idx[0], in_idx[-1]
        yaw = rep_yaw(vp, i0, i1)
        win = Window(i0, i1, i0, fixed, view_of_yaw(yaw, _lying(spec)), float(table.t_s[i1] - table.t_s[i0]), *yaw)
        checks = tuple(
            judge(r, table, win, baselines={}, combine=hs.combine, overrides=overrides)
            for r in spec.rules
            if r.at == "hold"
        )
    tot = timer.totals()
    return HoldResult(
        in_position_s=tot.in_position_s,
        good_form_s=tot.good_form_s,
        longest_good_s=tot.longest_good_s,
        target_s=hs.target_s,
        min_s=hs.min_s,
        checks=checks,
    )


def analyze_video(
    path: str | Path,
    exercise_id: str,
    side: str = "auto",
    *,
    overrides: Mapping[str, float] | None = None,
    annotate_path: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
    landmarks_cache: str | Path | None = None,
) -> Report:
    """Pose (formcheck.media.pose) -> analyze_seq -> Report; optionally an annotated H.264 MP4 (render.py)."""
    from formcheck.core import report as report_mod

    load_exercise(exercise_id)  # unknown id fails before the slow part
    _parse_side(side)
    seq, model_sha = report_mod.landmarks_for(path, progress=progress, cache=landmarks_cache)
    result = analyze_seq(seq, exercise_id, side, overrides)
    rep = report_mod.Report(result=result, video=str(path), model_sha256=model_sha, frame_wh=seq.frame_wh)
    if annotate_path is not None:
        from formcheck.media import render

        render.annotate_video(path, smooth_seq(seq), result, annotate_path)
    return rep


# ------------------------------------------------------------------------------------------------ live


class LiveSession:
    """Frame-by-frame analysis for the live page: update(frame) -> LiveFeedback; result() -> SetResult.

    Smooths with a One Euro filter unless `smoothed=True` says the frames already are. Keeps only a bounded
    buffer (the longest possible rep plus margins), so a long session uses constant memory.
    """

    def __init__(
        self,
        exercise_id: str,
        side: str = "auto",
        overrides: Mapping[str, float] | None = None,
        *,
        smoothed: bool = False,
    ) -> None:
        self.spec = load_exercise(exercise_id)
        self._fixed = _parse_side(side)
        self.overrides = dict(overrides) if overrides else None
        self._smoother = None if smoothed else OneEuroSmoother()
        self._sig_side = _signal_side(self.spec, self._fixed)
        s = self.spec.rep or self.spec.hold
        assert s is not None
        self._sig_measure = MEASURES[s.measure]
        self._counter = RepCounter(self.spec.rep) if self.spec.rep else None
        self._timer = HoldTimer(self.spec.hold) if self.spec.hold else None
        self._hold_judge = _HoldJudge(self.spec, self.overrides) if self.spec.hold else None
        self._hold_measures = [(r.id, MEASURES[r.measure], r.measure) for r in self.spec.rules if r.at == "hold"]
        self._needed = _needed_landmarks(self.spec)
        max_rep_s = self.spec.rep.max_rep_s if self.spec.rep else 0.0
        self._keep_s = max_rep_s + self.spec.baseline_s + BUFFER_MARGIN_S
        self._frames: list[PoseArrays] = []
        self._raw_frames: list[PoseArrays] = []  # the same frames before smoothing (empty when given smoothed)
        self._t: list[float] = []
        self._sig: list[float] = []
        self._views: list[View] = []
        self._i0 = 0  # global index of self._frames[0]
        self._n = 0
        self._baselines: dict[tuple[str, str | None], float] | None = None
        self._reps: list[Rep] = []
        self._cues = fb.CueTracker()
        self._guide = fb.GuidanceTracker()
        self._last_eval_t = -np.inf
        self._failing: list[RuleSpec] = []
        self._rep_cues: tuple[str, ...] = ()
        self._hold_in: list[int] = []
        self._yaw_tally = YawTally()  # bounded: the set's camera yaw so far
        self._detected = 0
        self._seen = np.zeros(33)
        self._people: list[int] = []
        self._luma: list[float] = []
        self._first_t: float | None = None
        self._last_t = 0.0
        self._wh = (0, 0)
        self._prev_raw: NDArray | None = None
        self._prev_raw_t = -np.inf
        self._last_view: View | None = None
        self._last_view_t = -np.inf
        self._recent_yaw: tuple[float, float] = (float("nan"), float("nan"))  # for cues while a rep is under way
        self._side_sums: tuple[float, float, int] = (0.0, 0.0, 0)  # one-sided sets: side_by sums so far
        self._wrong_posture = 0  # frames with a person in another posture than the exercise's

    # -- helpers
    def _table(self, g0: int, g1: int) -> MeasureTable:
        """A measure table over global frames g0..g1 (inclusive) of the buffer."""
        a, b = g0 - self._i0, g1 - self._i0 + 1
        raw = PoseArrays.stack(self._raw_frames[a:b]) if self._raw_frames else None
        return MeasureTable(PoseArrays.stack(self._frames[a:b]), np.array(self._t[a:b]), raw)

    def _trim(self) -> None:
        if not self._t or self._t[-1] - self._t[0] <= 2 * self._keep_s:
            return
        keep_from_t = self._t[-1] - self._keep_s
        cut = int(np.searchsorted(np.array(self._t), keep_from_t))
        if self._counter is not None and self._counter.in_rep_since is not None:
            cut = min(cut, self._counter.in_rep_since - self._i0)
        if self._hold_in:
            cut = min(cut, self._hold_in[0] - self._i0)
        if cut > 0:
            del self._frames[:cut], self._t[:cut], self._sig[:cut], self._views[:cut]
            if self._raw_frames:
                del self._raw_frames[:cut]
            self._i0 += cut

    def update(self, frame: PoseFrame) -> LiveFeedback:
        raw_xy = frame.xy_px
        cut = False
        if self._prev_raw is not None and frame.t_s > self._prev_raw_t:
            with np.errstate(invalid="ignore"):
                speed = jump_ratio(self._prev_raw, raw_xy) / (frame.t_s - self._prev_raw_t)
                cut = bool(speed > CUT_SPEED_TORSO_PER_S)
        self._prev_raw, self._prev_raw_t = raw_xy, frame.t_s
        if self._smoother is not None:
            self._raw_frames.append(PoseArrays.from_frame(frame))
            frame = self._smoother(frame)
        i = self._n
        self._n += 1
        t = frame.t_s
        self._first_t = t if self._first_t is None else self._first_t
        self._last_t, self._wh = t, frame.frame_wh
        arr = PoseArrays.from_frame(frame)
        detected = frame.detected
        if not detected:
            view = View.UNKNOWN
        elif self._last_view is None or t - self._last_view_t >= VIEW_EVERY_S:
            vp = viewpoint_of(arr)
            view = self._last_view = View(views_of(vp, _lying(self.spec))[0])
            self._last_view_t = t
            if vp.confidence[0] >= VIEW_MIN_CONFIDENCE:
                self._recent_yaw = (float(fold_yaw_deg(vp.yaw_deg[0])), float(vp.yaw_signed_deg[0]))
                self._yaw_tally.add(*self._recent_yaw)
        else:
            view = self._last_view
        one = MeasureTable(arr, np.array([t]))
        sig = float(one.get(self._sig_measure.name, self._sig_side)[0])
        posture_wrong = detected and wrong_posture_one(frame.xy_px, self.spec.posture)
        if posture_wrong:
            self._wrong_posture += 1
            sig = float("nan")  # the posture gate: this frame counts nothing
        pair = _side_by_pair(self.spec, one)
        if pair is not None and pair[2][0]:
            sl, sr, n = self._side_sums
            self._side_sums = (sl + float(pair[0][0]), sr + float(pair[1][0]), n + 1)
        self._frames.append(arr)
        self._t.append(t)
        self._sig.append(sig)
        self._views.append(view)
        if detected:
            self._detected += 1
            self._seen += np.isfinite(frame.xy_px[:, 0])
        if frame.n_people is not None:
            self._people.append(frame.n_people)
        if frame.luma is not None:
            self._luma.append(frame.luma)

        new_rep: Rep | None = None
        failing_now: list[str] = []
        phase: Phase
        if self._counter is not None:
            was_in = self._counter.in_rep_since
            if cut:
                self._counter.cut()
            ev = self._counter.update(i, t, sig)
            phase = self._counter.phase
            if self._baselines is None and was_in is None and self._counter.in_rep_since is not None:
                self._baselines = self._make_baselines(self._counter.in_rep_since)
            if ev is not None:
                new_rep = self._judge_event(ev)
                self._reps.append(new_rep)
                self._rep_cues = tuple(f.cue for f in new_rep.faults)
                failing_now.extend(self._rep_cues)
                self._failing = [self.spec.rule(f.rule) for f in new_rep.faults]
            elif self._counter.in_rep_since is not None and t - self._last_eval_t >= CUE_EVAL_INTERVAL_S:
                self._last_eval_t = t
                self._failing = self._live_rule_failures(self._counter.in_rep_since, i)
                failing_now.extend(r.cue for r in self._failing)
        else:
            assert self._timer is not None and self._hold_judge is not None
            combine = self.spec.hold.combine  # type: ignore[union-attr]
            vals = {rid: float(one.get(name, combine if m.sided else None)[0]) for rid, m, name in self._hold_measures}
            good, failing = self._hold_judge.update(t, vals, view)
            self._timer.update(t, sig, good)
            if self._timer.in_position:
                self._hold_in.append(i)
                self._failing = failing
                failing_now.extend(r.cue for r in failing)
            phase = self._timer.phase
        cues, new_cues = self._cues.update(t, failing_now)
        conds = fb.placement_conditions(
            self.spec, frame.xy_px, detected, view, frame.n_people, frame.luma, self._needed, posture_wrong
        )
        guidance_keys = self._guide.update(t, conds)
        guidance = tuple(fb.GUIDANCE_TEXT[k] for k in guidance_keys)
        overlay = self._overlay(frame, sig, cues)
        self._trim()
        return LiveFeedback(
            t_s=t,
            phase=str(phase),
            rep_count=len(self._reps),
            valid_rep_count=sum(r.valid for r in self._reps),
            cues=cues,
            new_cues=new_cues,
            guidance=guidance,
            new_rep=new_rep,
            overlay=overlay,
            view=str(view),
            hold_good_s=self._timer.good_form_s if self._timer else None,
            hold_in_position_s=self._timer.in_position_s if self._timer else None,
            guidance_keys=guidance_keys,
        )

    def _make_baselines(self, start_g: int) -> dict[tuple[str, str | None], float]:
        g0 = self._i0
        table = self._table(g0, start_g)
        idx = _baseline_idx(np.array(self._sig[: start_g - g0 + 1]), table.t_s, self.spec, start_g - g0)
        return _baselines(self.spec, table, idx)

    def _judge_event(self, ev: RepEvent) -> Rep:
        g0 = ev.start_i
        table = self._table(g0, ev.end_i)
        local = dataclasses.replace(ev, start_i=0, peak_i=ev.peak_i - g0, end_i=ev.end_i - g0)
        vp = viewpoint_of(table.arrays)
        views = views_of(vp, _lying(self.spec))
        return _build_rep(
            self.spec,
            table,
            views,
            local,
            len(self._reps) + 1,
            self._fixed,
            self._baselines or {},
            self.overrides,
            self._yaw_tally.yaw,
            _side_of_sums(self.spec, *self._side_sums),
            rep_yaw(vp),
        )

    def _live_rule_failures(self, start_g: int, now_g: int) -> list[RuleSpec]:
        """Rules over the rep so far (at = rep), for cues while the person is still moving."""
        table = self._table(start_g, now_g)
        n = now_g - start_g
        sig = np.array(self._sig[start_g - self._i0 : now_g - self._i0 + 1])
        peak = (
            int(np.nanargmax(sig * (self.spec.rep.sign() if self.spec.rep else 1.0))) if np.isfinite(sig).any() else n
        )
        ev = RepEvent(0, peak, n, table.t_s[0], table.t_s[peak], table.t_s[n], float("nan"), float("nan"))
        side = _rep_side(self.spec, table, ev, self._fixed)
        win = Window(
            0,
            n,
            peak,
            side,
            view_of_yaw(self._recent_yaw, _lying(self.spec)),
            float(table.t_s[n] - table.t_s[0]),
            *self._recent_yaw,
        )
        combine = self.spec.rep.combine_key() if self.spec.rep else "mean"
        out = []
        for r in self.spec.rules:
            if r.at != "rep" or r.measure == REP_DURATION:
                continue
            c = judge(r, table, win, baselines=self._baselines or {}, combine=combine, overrides=self.overrides)
            if c.status is Status.FAULT:
                out.append(r)
        return out

    def _overlay(self, frame: PoseFrame, sig: float, cues: tuple[str, ...]) -> fb.OverlaySpec:
        s = self.spec.rep or self.spec.hold
        assert s is not None
        angles: list[fb.AngleLabel] = []
        if np.isfinite(sig):
            joint = _signal_joint(s.measure, self._fixed)
            if joint is not None:
                angles.append(
                    fb.AngleLabel(
                        joint,
                        s.measure.removesuffix("_deg").replace("_3d", "").replace("_", " "),
                        sig,
                        self._sig_measure.unit,
                    )
                )
        failing = [r for r in self._failing if r.cue in cues]
        side = self._fixed
        if side is None and self._reps and self._reps[-1].side:
            side = Side(self._reps[-1].side)
        return fb.build_overlay(self.spec, frame.xy_px, failing, side, angles)

    def result(self) -> SetResult:
        """The set so far, in the same shape as analyze_seq's."""
        reps = tuple(self._reps)
        hold = None
        if self._timer is not None:
            checks: tuple[Check, ...] = ()
            if self._hold_in and self._hold_in[0] >= self._i0:
                table = self._table(self._hold_in[0], self._hold_in[-1])
                n = len(table) - 1
                yaw = rep_yaw(viewpoint_of(table.arrays))
                win = Window(
                    0, n, 0, self._fixed, view_of_yaw(yaw, _lying(self.spec)), float(table.t_s[n] - table.t_s[0]), *yaw
                )
                checks = tuple(
                    judge(
                        r,
                        table,
                        win,
                        baselines={},
                        combine=self.spec.hold.combine,  # type: ignore[union-attr]
                        overrides=self.overrides,
                    )
                    for r in self.spec.rules
                    if r.at == "hold"
                )
            tot = self._timer.totals()
            hs = self.spec.hold
            assert hs is not None
            hold = HoldResult(tot.in_position_s, tot.good_form_s, tot.longest_good_s, hs.target_s, hs.min_s, checks)
        msgs = self._live_messages(len(reps))
        view = self._dominant_view()
        return SetResult(
            exercise_id=self.spec.id,
            exercise_name=self.spec.name,
            side=_set_side(self.spec, reps, self._fixed),
            view=str(view),
            reps=reps,
            hold=hold,
            messages=tuple(msgs),
            spec_sha256=self.spec.sha256,
            algo_version=ALGO_VERSION,
            n_frames=self._n,
            duration_s=(self._last_t - self._first_t) if self._first_t is not None else 0.0,
            detected_ratio=self._detected / self._n if self._n else 0.0,
        )

    def _dominant_view(self) -> View:
        return view_of_yaw(self._yaw_tally.yaw(), _lying(self.spec))

    def _live_messages(self, n_reps: int) -> list[Message]:
        msgs: list[Message] = []
        if self._n == 0 or self._detected / self._n < MIN_DETECTED_RATIO:
            return [Message("no_person", "No person found: make sure you are in view of the camera")]
        if self._people and np.mean(np.array(self._people) > 1) > MAX_MULTI_PERSON_RATIO:
            msgs.append(Message("two_people", "More than one person in view: only one person should be in frame"))
        if self._luma and float(np.median(self._luma)) < fb.TOO_DARK_LUMA:
            msgs.append(Message("too_dark", "Too dark: add light or face a window"))
        if self._wrong_posture / self._detected > MAX_WRONG_POSTURE_RATIO:
            msgs.append(
                Message(
                    "wrong_posture",
                    f"{self.spec.name} is done {_POSTURE_WORDS[self.spec.posture]}: "
                    f"{fb.GUIDANCE_TEXT[fb.posture_key(self.spec.posture)].lower()}",
                )
            )
        seen = _pair_seen(self._seen / self._detected)[[int(m) for m in self._needed]]
        if (seen < 1 - MAX_MISSING_RATIO).any():
            msgs.append(Message("half_out_of_frame", "Body partly out of frame: step back"))
        view = self._dominant_view()
        if view not in self.spec.views and not any(r.verdict is not Verdict.UNKNOWN for r in self._reps):
            msgs.append(Message("wrong_view", fb.GUIDANCE_TEXT[fb.wrong_view_key(self.spec.views)]))
        if self.spec.rep is not None and n_reps == 0:
            msgs.append(Message("no_reps", "No complete repetition found (a rep counts when you return to the start)"))
        return msgs


def _signal_joint(measure: str, side: Side | None) -> Lm | None:
    """Where to print the rep signal's angle."""
    s = side or Side.LEFT
    if measure.startswith("knee"):
        return sided(s, "KNEE")
    if measure.startswith(("hip", "bridge", "leg")):
        return sided(s, "HIP")
    if measure.startswith(("body", "plank")):
        return sided(s, "HIP")
    return None
