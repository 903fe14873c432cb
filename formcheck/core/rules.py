"""Rule evaluation: a closed set of operators over named measures in a rep (or hold) window -> a Check.

A rule that cannot be judged says why ("unknown — turn side-on to the camera", "feet not visible: step
back"), never a silent pass: wrong camera view (dominant view of the window), or too few frames in which
its landmarks were seen.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
from collections.abc import Collection, Mapping
from importlib import resources

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from formcheck.core import measures, ops
from formcheck.core.geometry import View
from formcheck.core.landmarks import Lm, Side
from formcheck.core.measures import PoseArrays
from formcheck.core.spec import REP_DURATION, ExerciseSpec, RuleSpec
from formcheck.core.types import FloatArray
from formcheck.core.viewpoint import turn_to_window_deg

# missing_reason names a landmark as unseen when it is missing in more than this share of the window (the
# per-rule share of frames that must have a value is RuleSpec.min_coverage; judgement call).
MIN_COVERAGE = 0.5
# "at = peak" rules read the median of their measure within this many seconds either side of the rep's
# deepest point (docs/clinical.md §3.2: FPPA is taken at peak knee flexion; the median resists single-frame noise).
PEAK_HALF_WINDOW_S = 0.1
# A value past its limit is a fault only when it is past by more than this many times the measure's noise in
# the window: the larger of its own jitter there (the robust spread, 1.4826 x median absolute deviation, of the
# raw per-frame measure around the smoothed one) and, for rules on the absolute value (baseline = false), its
# typical error at the camera's yaw on the mannequin sweep (sweep_noise; absolute error includes the measure's
# bias, which a baseline-relative rule subtracts). docs/clinical.md §0.4: a valgus flag must be coarse and persistent, and the smallest detectable
# difference of even a hand-digitised FPPA is 7.5-8.9 deg; a value within one noise spread of the limit cannot
# be told apart from it, so it is not called a fault (judgement call: one spread, the least that "more than the
# noise" can mean).
NOISE_MARGIN_SPREADS = 1.0
# Median absolute deviation -> standard deviation of a normal distribution.
MAD_TO_SD = 1.4826
# The measures' typical error by camera yaw on the mannequin sweep (written by benchmarks/view_windows.py):
# the noise floor of a rule at the camera's yaw, beside the clip's own jitter.
NOISE_FILE = "measure_noise.json"


@functools.lru_cache(maxsize=1)
def _noise_table() -> dict[str, tuple[FloatArray, FloatArray]]:
    data = json.loads((resources.files("formcheck.core") / "exercises" / NOISE_FILE).read_text(encoding="utf-8"))
    return {
        m: (np.asarray(d["yaw_deg"], float), np.asarray(d["p50_abs_err"], float)) for m, d in data["measures"].items()
    }


def sweep_noise(measure: str, yaw_deg: float) -> float:
    """Typical |error| of `measure` at a folded camera yaw (0 = front/back, 90 = side), from the sweep; NaN where
    the sweep has no figure or the yaw is unknown."""
    table = _noise_table().get(measure)
    if table is None or not np.isfinite(yaw_deg):
        return float("nan")
    return float(np.interp(yaw_deg, table[0], table[1]))


class Status(enum.StrEnum):
    OK = "ok"
    FAULT = "fault"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Check:
    """The outcome of one rule on one rep or hold: status, the worst sustained value and the limit it met."""

    rule: str
    status: Status
    value: float  # NaN when unknown
    threshold: float
    unit: str
    severity: str
    cue: str
    reason: str = ""  # for unknown: what the person can do about it (for ok: why a value past the limit is not a fault)
    side: str | None = None
    noise: float = float("nan")  # the measure's noise spread in this window (same unit), where it was needed


# Landmark groups, checked in this order, and what to tell the person when one is missing.
_MISSING_REASONS: tuple[tuple[frozenset[Lm], str], ...] = (
    (
        frozenset(
            {Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE, Lm.LEFT_HEEL, Lm.RIGHT_HEEL, Lm.LEFT_FOOT_INDEX, Lm.RIGHT_FOOT_INDEX}
        ),
        "feet not visible: step back",
    ),
    (frozenset({Lm.LEFT_KNEE, Lm.RIGHT_KNEE}), "knees not visible: step back"),
    (frozenset({Lm.LEFT_HIP, Lm.RIGHT_HIP}), "hips not visible: step back"),
    (frozenset({Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER}), "shoulders not visible: step back"),
    (frozenset({Lm.NOSE}), "face not visible"),
)


def view_reason(views: tuple[View, ...] | frozenset[View]) -> str:
    """What to say when a rule needs another camera view."""
    vs = set(views)
    if vs and vs <= {View.SIDE}:
        return "unknown — turn side-on to the camera"
    if vs and vs <= {View.FRONT, View.BACK}:
        return "unknown — face the camera"
    if View.SIDE in vs and vs & {View.FRONT, View.BACK}:
        return "unknown — face the camera or turn side-on"
    return "unknown — camera view not suitable"


# A turn smaller than this is "a little" (judgement call: about the width of a foot's angle).
SMALL_TURN_DEG = 25.0


def turn_deg(yaw_signed_deg: float, lo_deg: float, hi_deg: float) -> float:
    """The smallest turn (+ = to the person's left) that brings the camera into a folded yaw window [lo, hi]
    (0 = front or back, 90 = side-on): the window's front half or its back half, whichever is nearer."""
    turns = [
        float(turn_to_window_deg(yaw_signed_deg, a, b)) for a, b in ((lo_deg, hi_deg), (180.0 - hi_deg, 180.0 - lo_deg))
    ]
    return min(turns, key=abs)


def turn_reason(yaw_signed_deg: float, lo_deg: float, hi_deg: float) -> str:
    """What to say when the camera is outside a rule's yaw window [lo, hi] (folded: 0 = front or back,
    90 = side-on): the smallest turn that brings it in, in the person's own left/right."""
    d = turn_deg(yaw_signed_deg, lo_deg, hi_deg)
    if not np.isfinite(d) or d == 0:
        return "unknown — camera angle unclear"
    way = "left" if d > 0 else "right"
    if abs(d) < SMALL_TURN_DEG:
        return f"unknown — turn a little to your {way}"
    turn = f"turn about {int(round(abs(d) / 5.0) * 5)}° to your {way}"
    if lo_deg == 0.0:
        return f"unknown — face the camera: {turn}"
    if hi_deg == 90.0:
        return f"unknown — turn side-on to the camera: {turn}"
    return f"unknown — {turn}"


def view_check(rule: RuleSpec, win: Window) -> str | None:
    """None when the camera lets this rule be judged in this window, else what to tell the person.

    A rule with a measured yaw window (benchmarks/view_sweep.md) is judged only inside it; without one, or
    where the window's yaw is unknown, the coarse view must be one of the rule's views."""
    if rule.measure == REP_DURATION:
        return None
    if rule.yaw_window_deg is not None and np.isfinite(win.yaw_deg):
        lo, hi = rule.yaw_window_deg
        return None if lo <= win.yaw_deg <= hi else turn_reason(win.yaw_signed_deg, lo, hi)
    return None if win.view in rule.views else view_reason(rule.views)


def view_turn_size_deg(rule: RuleSpec, win: Window) -> float:
    """How far the person must turn for this rule to be judged (inf: no measured window, or yaw unknown), so the
    nearest of several blocked rules can be named."""
    if rule.yaw_window_deg is None or not np.isfinite(win.yaw_signed_deg):
        return float("inf")
    return abs(turn_deg(win.yaw_signed_deg, *rule.yaw_window_deg))


def missing_text(missing: Collection[Lm], lms: Collection[Lm], any_seen: bool) -> str:
    """Name the body part of the `missing` landmarks (of the `lms` asked about) as an instruction; `any_seen`:
    some landmark at all was seen."""
    if len(missing) == len(lms) and not any_seen:
        return "no person in view"
    for group, text in _MISSING_REASONS:
        if group.intersection(missing):
            return text
    return "body not fully visible: step back"


def missing_reason(xy: FloatArray, lms: tuple[Lm, ...]) -> str:
    """Name the body part whose landmarks were unseen most of the window, as an instruction."""
    if len(xy) == 0:
        return "not visible: step into view"
    seen = np.isfinite(xy[:, [int(m) for m in lms], 0]).mean(axis=0)
    missing = {m for m, s in zip(lms, seen, strict=True) if s < MIN_COVERAGE}
    return missing_text(missing, lms, bool(np.isfinite(xy[..., 0]).any()))


class MeasureTable:
    """Lazily computed measure series over one PoseArrays (a clip, or a live buffer), cached per (name, side)."""

    def __init__(self, arrays: PoseArrays, t_s: FloatArray, raw: PoseArrays | None = None) -> None:
        """`raw`: the same frames before smoothing, so rules can measure each series' own noise."""
        self.arrays, self.t_s = arrays, np.asarray(t_s, dtype=float)
        self._cache: dict[tuple[str, str | None], FloatArray] = {}
        self._raw = None if raw is None else MeasureTable(raw, t_s)

    def noise(self, name: str, side: Side | str | None, i0: int, i1: int) -> float:
        """Robust spread of the raw measure around the smoothed one over frames i0..i1 (NaN without raw frames)."""
        if self._raw is None:
            return float("nan")
        d = self._raw.get(name, side)[i0 : i1 + 1] - self.get(name, side)[i0 : i1 + 1]
        d = d[np.isfinite(d)]
        return MAD_TO_SD * float(np.median(np.abs(d - np.median(d)))) if len(d) >= 3 else float("nan")

    def __len__(self) -> int:
        return len(self.t_s)

    def get(self, name: str, side: Side | str | None) -> FloatArray:
        """(T,) series of measure `name`. For a sided measure, side None / "mean" / "max" / "min" combines both
        sides, and "side_by:<measure>:<max|min>" takes, frame by frame, the side that measure picks (e.g. the
        stance leg = the lower ankle)."""
        key = (name, None if side is None else str(side))
        out = self._cache.get(key)
        if out is None:
            m = measures.get(name)
            if not m.sided:
                out = m(self.arrays)
            elif side in ("left", "right"):
                out = m(self.arrays, Side(side))
            elif isinstance(side, str) and side.startswith("side_by:"):
                _, by, pick = side.split(":")
                left, right = self.get(name, Side.LEFT), self.get(name, Side.RIGHT)
                bl, br = self.get(by, Side.LEFT), self.get(by, Side.RIGHT)
                with np.errstate(invalid="ignore"):
                    use_left = (bl >= br) if pick == "max" else (bl <= br)
                use_left = np.where(np.isnan(br), True, np.where(np.isnan(bl), False, use_left))
                out = np.where(use_left, left, right)
            else:
                left, right = self.get(name, Side.LEFT), self.get(name, Side.RIGHT)
                out = _combine(left, right, "mean" if side is None else str(side))
            self._cache[key] = out
        return out


def _combine(a: FloatArray, b: FloatArray, how: str) -> FloatArray:
    with np.errstate(invalid="ignore"):
        if how == "max":
            return np.fmax(a, b)
        if how == "min":
            return np.fmin(a, b)
        return np.where(np.isnan(a), b, np.where(np.isnan(b), a, (a + b) / 2.0))


@dataclasses.dataclass(frozen=True)
class Window:
    """Frames i0 <= i <= i1 of a rep (or hold), its deepest frame, side and camera view."""

    i0: int
    i1: int
    peak_i: int
    side: Side | None  # working side; None = bilateral
    view: View
    duration_s: float  # for tempo rules: reps.RepEvent.tempo_s (twice the time past half the rep's range)
    yaw_deg: float = float("nan")  # camera yaw folded to [0, 90] (0 = square to the front or back, 90 = side-on)
    yaw_signed_deg: float = float("nan")  # (-180, 180], + = the person's left side towards the camera


def _sustained(x: FloatArray, k: int, worst: str) -> float:
    """Worst value held for k consecutive frames: max of rolling min ("max") or min of rolling max ("min")."""
    k = max(1, min(k, len(x)))
    if worst == "max":
        w = sliding_window_view(np.where(np.isnan(x), -np.inf, x), k)
        v = float(np.max(np.min(w, axis=1)))
    else:
        w = sliding_window_view(np.where(np.isnan(x), np.inf, x), k)
        v = float(np.min(np.max(w, axis=1)))
    return v if np.isfinite(v) else float("nan")


def rule_limits(rule: RuleSpec, overrides: Mapping[str, float] | None) -> tuple[float, float | None]:
    """(limit, upper limit) of a rule for this person: a clinician's override ("<rule>", "<rule>.hi") wins."""
    limit = rule.limit_for(dict(overrides) if overrides else None)
    hi = rule.limit_hi
    if rule.op == "outside" and overrides and f"{rule.id}.hi" in overrides:
        hi = float(overrides[f"{rule.id}.hi"])
    return limit, hi


def _worst_sustained(op: str, x: FloatArray, k: int, limit: float, hi: float | None) -> float:
    """The worst value of x held for k frames, in the direction the operator looks."""
    if op == "above":
        return _sustained(x, k, "max")
    if op == "below":
        return _sustained(x, k, "min")
    if op == "abs_above":
        return _sustained(np.abs(x), k, "max")
    assert hi is not None
    v_hi, v_lo = _sustained(x, k, "max"), _sustained(x, k, "min")
    return v_hi if (v_hi - hi) >= (limit - v_lo) else v_lo


def rule_sides(rule: RuleSpec, side: Side | None, combine: str) -> list[Side | str | None]:
    """Which series a rule reads: one side, both sides (worst wins), or the bilateral combination."""
    if rule.measure == REP_DURATION or not measures.MEASURES[rule.measure].sided:
        return [None]
    if rule.side == "both":
        return [Side.LEFT, Side.RIGHT]
    if rule.side == "signal":  # the series that counted the rep (e.g. the more bent knee of a lunge)
        return [combine]
    if side is None:  # bilateral exercise: "working" = both legs together
        return [combine] if rule.side == "working" else [Side.LEFT, Side.RIGHT]
    return [side if rule.side == "working" else side.other]


def _rule_frames(rule: RuleSpec, table: MeasureTable, win: Window) -> tuple[int, int]:
    """The frames a rule reads: the whole window, or (at = peak) those near the rep's deepest point."""
    if rule.at != "peak":
        return win.i0, win.i1
    t = table.t_s
    half = max(PEAK_HALF_WINDOW_S, rule.min_duration_s / 2)
    lo_i = int(np.searchsorted(t, t[win.peak_i] - half, side="left"))
    hi_i = int(np.searchsorted(t, t[win.peak_i] + half, side="right")) - 1
    return max(win.i0, lo_i), min(win.i1, hi_i)


def _worst_side(
    rule: RuleSpec,
    table: MeasureTable,
    win: Window,
    i0: int,
    i1: int,
    baselines: Mapping[tuple[str, str | None], float],
    combine: str,
    lims: tuple[float, float | None],
) -> tuple[tuple[float, float, Side | str | None] | None, str]:
    """((how far past the limit, value, side) of the worst series the rule reads, or None; why a series
    could not be read)."""
    limit, hi = lims
    m = measures.MEASURES[rule.measure]
    fps = (i1 - i0) / max(table.t_s[i1] - table.t_s[i0], 1e-9) if i1 > i0 else 30.0
    k = max(1, int(round(rule.min_duration_s * fps)))
    best: tuple[float, float, Side | str | None] | None = None
    reason = ""
    for s in rule_sides(rule, win.side, combine):
        x = table.get(rule.measure, s)[i0 : i1 + 1]
        if rule.baseline:
            b = baselines.get((rule.measure, None if s is None else str(s)), float("nan"))
            if np.isfinite(b):
                x = x - b
        if np.isfinite(x).mean() < rule.min_coverage if len(x) else True:
            side_for_lm = s if isinstance(s, Side) else None
            reason = missing_reason(table.arrays.xy[i0 : i1 + 1], m.landmarks(side_for_lm))
            continue
        value = float(np.nanmedian(x)) if rule.at == "peak" else _worst_sustained(rule.op, x, k, limit, hi)
        if not np.isfinite(value):
            reason = reason or missing_reason(table.arrays.xy[i0 : i1 + 1], m.landmarks(None))
            continue
        badness = ops.excess(rule.op, value, limit, hi)
        if best is None or badness > best[0]:
            best = (badness, value, s)
    return best, reason


def judge(
    rule: RuleSpec,
    table: MeasureTable,
    win: Window,
    *,
    baselines: Mapping[tuple[str, str | None], float],
    combine: str = "mean",
    overrides: Mapping[str, float] | None = None,
) -> Check:
    """Judge one rule on one window of `table` (see module docstring for "unknown")."""
    limit, hi = rule_limits(rule, overrides)

    def make(
        status: Status, value: float, reason: str = "", side: Side | str | None = None, noise: float = float("nan")
    ) -> Check:
        return Check(
            rule.id,
            status,
            value,
            limit,
            rule.unit,
            rule.severity,
            rule.cue,
            reason,
            None if side is None or side in ("mean", "max", "min") else str(side),
            noise,
        )

    if rule.measure == REP_DURATION:
        d = win.duration_s
        return make(Status.FAULT if ops.compare(rule.op, d, limit, hi) else Status.OK, d)
    blocked = view_check(rule, win)
    if blocked is not None:
        return make(Status.UNKNOWN, float("nan"), blocked)
    i0, i1 = _rule_frames(rule, table, win)
    best, reason = _worst_side(rule, table, win, i0, i1, baselines, combine, (limit, hi))
    if best is None:
        return make(Status.UNKNOWN, float("nan"), reason or "body not fully visible: step back")
    badness, value, s = best
    if not ops.compare(rule.op, value, limit, hi):
        return make(Status.OK, value, side=s)
    noise = table.noise(rule.measure, s, i0, i1)
    if not rule.baseline:  # the sweep's error is absolute: its bias is what a baseline-relative rule removes
        noise = float(np.fmax(noise, sweep_noise(rule.measure, win.yaw_deg)))
    if np.isfinite(noise) and badness <= NOISE_MARGIN_SPREADS * noise:
        return make(
            Status.OK,
            value,
            f"within the measurement noise (±{noise:.2g} {rule.unit}) of the limit",
            side=s,
            noise=noise,
        )
    return make(Status.FAULT, value, side=s, noise=noise)


def judge_all(
    spec: ExerciseSpec,
    table: MeasureTable,
    win: Window,
    *,
    baselines: Mapping[tuple[str, str | None], float],
    overrides: Mapping[str, float] | None = None,
    at: tuple[str, ...] = ("peak", "rep"),
) -> tuple[Check, ...]:
    """Every rule of `spec` whose `at` is in `at`, judged on one window."""
    combine = spec.rep.combine_key() if spec.rep else spec.hold.combine  # type: ignore[union-attr]
    return tuple(
        judge(r, table, win, baselines=baselines, combine=combine, overrides=overrides)
        for r in spec.rules
        if r.at in at
    )
