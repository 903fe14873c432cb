"""The recorded-video driver: a whole clip's landmarks (arrays) -> a judged set.

`prepare` computes the series once (camera cuts, zero-phase smoothing, the lazily cached measure table);
`analyze_prepared` judges them, and the pipeline hands the same Prepared to the review video and the angle
chart so nothing is computed twice. `analyze_seq` does both in one call.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import numpy as np

from formcheck.core import judging as jd
from formcheck.core import wrong_exercise as wx
from formcheck.core.geometry import View
from formcheck.core.landmarks import Side
from formcheck.core.measures import PoseArrays, jump_ratio
from formcheck.core.posture import wrong_posture
from formcheck.core.reps import HoldTimer, segment_reps
from formcheck.core.results import HoldResult, Rep, SetResult, Verdict
from formcheck.core.rules import Check, MeasureTable
from formcheck.core.smoothing import smooth_seq
from formcheck.core.spec import ExerciseSpec, load_exercise
from formcheck.core.types import BoolArray, FloatArray, PoseSeq
from formcheck.core.viewpoint import Viewpoint


@dataclasses.dataclass(frozen=True, eq=False)
class Prepared:
    """A clip's series, computed once: the raw and the smoothed landmarks, the camera cuts between raw frames,
    and the measure table over the smoothed ones (with the raw ones for each measure's noise)."""

    raw: PoseSeq
    smoothed: PoseSeq
    cuts: BoolArray
    table: MeasureTable


def camera_cuts(seq: PoseSeq) -> BoolArray:
    """(T,) True where the body jumps faster than a person moves since the frame before: a cut in the video."""
    cuts = np.zeros(len(seq), bool)
    if len(seq) > 1:
        with np.errstate(invalid="ignore"):
            speed = jump_ratio(seq.xy_px[:-1], seq.xy_px[1:]) / np.diff(seq.t_s)
            cuts[1:] = speed > jd.CUT_SPEED_TORSO_PER_S
    return cuts


def prepare(seq: PoseSeq, *, smoothed: bool = False) -> Prepared:
    """The series of a clip; `smoothed`: the landmarks already are (no raw frames, so no per-clip noise)."""
    cuts = camera_cuts(seq)
    if smoothed:
        return Prepared(seq, seq, cuts, MeasureTable(PoseArrays.from_seq(seq), seq.t_s))
    smooth = smooth_seq(seq)
    table = MeasureTable(PoseArrays.from_seq(smooth), smooth.t_s, PoseArrays.from_seq(seq))
    return Prepared(seq, smooth, cuts, table)


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
    jd.parse_side(side)
    return analyze_prepared(prepare(seq, smoothed=smoothed), spec, side, overrides)


def analyze_prepared(
    prep: Prepared, spec: ExerciseSpec, side: str = "auto", overrides: Mapping[str, float] | None = None
) -> SetResult:
    """Judge a prepared clip (see `prepare`)."""
    fixed = jd.parse_side(side)
    seq, table = prep.smoothed, prep.table
    vp = jd.viewpoint_of(table.arrays)
    views = jd.views_of(vp, jd.is_lying(spec))
    split = wx.SetSplit((), (), None)
    hold = None
    if spec.rep is not None:
        split = wx.split_set(spec.id, spec.name, *_offline_reps(spec, prep, vp, fixed, overrides))
    else:
        hold = _offline_hold(spec, table, views, fixed, overrides, vp)
    reps = split.counted
    view = jd.view_of_yaw(jd.rep_yaw(vp), jd.is_lying(spec))
    stats = _set_stats(spec, seq, view, len(reps), sum(r.verdict is not Verdict.UNKNOWN for r in reps))
    stats = dataclasses.replace(stats, wrong_exercise=None if split.look is None else str(split.look))
    msgs = jd.set_messages(spec, stats)
    if msgs and msgs[0].code == "no_person":
        view = View.UNKNOWN
    return jd.set_result(
        spec,
        reps=reps,
        hold=hold,
        messages=msgs,
        view=view,
        fixed=fixed,
        n_frames=len(seq),
        duration_s=seq.duration_s,
        detected_ratio=stats.detected_ratio,
        not_counted=split.not_counted,
    )


def _offline_reps(
    spec: ExerciseSpec, prep: Prepared, vp: Viewpoint, fixed: Side | None, overrides: Mapping[str, float] | None
) -> tuple[list[Rep], list[wx.RepShape]]:
    """Every rep the counter found, judged, with its movement's shape (core.wrong_exercise)."""
    rep = spec.rep
    assert rep is not None
    table, t = prep.table, prep.table.t_s
    signal = jd.posture_gated(spec, table.get(rep.measure, jd.signal_side(spec, fixed)), prep.smoothed.xy_px)
    events = segment_reps(signal, t, rep, prep.cuts)
    base = jd.baselines(spec, table, jd.baseline_idx(signal, t, spec, events[0].start_i)) if events else {}
    pair = jd.side_by_pair(spec, table)
    sums = None if pair is None else (np.cumsum(pair[0]), np.cumsum(pair[1]), np.cumsum(pair[2]))
    out = []
    for k, ev in enumerate(events):
        e = ev.end_i
        set_side = (
            None if sums is None else jd.side_of_sums(spec, float(sums[0][e]), float(sums[1][e]), int(sums[2][e]))
        )
        ctx = jd.RepContext(
            fixed=fixed,
            baselines=base,
            overrides=overrides,
            yaw=jd.rep_yaw(vp, ev.start_i, e),
            fallback_yaw=functools.partial(jd.rep_yaw, vp, 0, e),
            set_side=set_side,
        )
        out.append(jd.build_rep(spec, table, ev, k + 1, ctx))
    return out, [wx.rep_shape(table, ev.start_i, ev.end_i) for ev in events]


def _offline_hold(
    spec: ExerciseSpec,
    table: MeasureTable,
    views: FloatArray,
    fixed: Side | None,
    overrides: Mapping[str, float] | None,
    vp: Viewpoint,
) -> HoldResult:
    hs = spec.hold
    assert hs is not None
    signal = jd.posture_gated(spec, table.get(hs.measure, jd.signal_side(spec, fixed)), table.arrays.xy)
    values = jd.hold_rule_values(spec, table)
    judge_ = jd.HoldJudge(spec, overrides)
    timer = HoldTimer(hs)
    cols = {k: v.tolist() for k, v in values.items()}
    in_idx = []
    for i, (ti, v) in enumerate(zip(table.t_s.tolist(), signal.tolist(), strict=True)):
        good, _ = judge_.update(ti, {k: c[i] for k, c in cols.items()}, View(views[i]))
        timer.update(ti, v, good)
        if timer.in_position:
            in_idx.append(i)
    checks: tuple[Check, ...] = ()
    if in_idx:
        i0, i1 = in_idx[0], in_idx[-1]
        checks = jd.hold_checks(spec, table, i0, i1, fixed, jd.rep_yaw(vp, i0, i1), overrides)
    tot = timer.totals()
    return HoldResult(tot.in_position_s, tot.good_form_s, tot.longest_good_s, hs.target_s, hs.min_s, checks)


def _set_stats(spec: ExerciseSpec, seq: PoseSeq, view: View, n_reps: int, judged_reps: int) -> jd.SetStats:
    det = seq.detected
    n = len(seq)
    people = seq.n_people[np.isfinite(seq.n_people)]
    luma = seq.luma[np.isfinite(seq.luma)]
    xy = seq.xy_px[det]
    any_det = bool(det.any())
    return jd.SetStats(
        n_frames=n,
        detected_ratio=float(det.mean()) if n else 0.0,
        multi_person_ratio=float((people > 1).mean()) if len(people) else float("nan"),
        median_luma=float(np.median(luma)) if len(luma) else float("nan"),
        wrong_posture_ratio=float(wrong_posture(xy, spec.posture).mean()) if any_det else 0.0,
        seen=np.isfinite(xy[..., 0]).mean(axis=0) if any_det else np.zeros(seq.xy_px.shape[1]),
        any_seen=bool(np.isfinite(xy[..., 0]).any()),
        view=view,
        n_reps=n_reps,
        judged_reps=judged_reps,
    )
