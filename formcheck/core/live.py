"""The live driver: one session per set, fed frame by frame (update(frame) -> LiveFeedback; result() -> SetResult).

It reads the same ExerciseSpec, computes the same pointwise measures, counts with the same RepCounter and judges
each completed rep window with the same core.judging functions as the offline driver, so a live set and an
upload agree (apart from the smoother: One Euro here, zero-phase offline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from formcheck.core import feedback as fb
from formcheck.core import judging as jd
from formcheck.core import wrong_exercise as wx
from formcheck.core.geometry import VIEW_MIN_CONFIDENCE, View, fold_yaw_deg
from formcheck.core.landmarks import Lm, Side, sided
from formcheck.core.measures import MEASURES, PoseArrays, jump_ratio
from formcheck.core.posture import wrong_posture_one
from formcheck.core.reps import HoldTimer, Phase, RepCounter, RepEvent
from formcheck.core.results import HoldResult, LiveFeedback, Rep, SetResult, Verdict
from formcheck.core.rules import Check, MeasureTable, Status, Window, judge
from formcheck.core.smoothing import OneEuroSmoother
from formcheck.core.spec import REP_DURATION, RuleSpec, load_exercise
from formcheck.core.types import FloatArray, PoseFrame

# Rules over the rep so far are re-judged this often, to drive cues (cheaper than every frame).
CUE_EVAL_INTERVAL_S = 0.25
# The camera view (formcheck.core.viewpoint, ~3 ms a call) is re-estimated this often; it changes slowly, and
# each rep's own yaw is estimated again over all its frames when it is judged.
VIEW_EVERY_S = 0.5
# Frames kept beyond the longest possible rep (baseline + peak window margins).
BUFFER_MARGIN_S = 3.0


@dataclasses.dataclass
class _Counts:
    """Running set-level tallies (bounded: sums, not frames), for result()'s messages."""

    n: int = 0
    detected: int = 0
    wrong_posture: int = 0  # frames with a person in another posture than the exercise's
    seen: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(33))
    people: list[int] = dataclasses.field(default_factory=list)
    luma: list[float] = dataclasses.field(default_factory=list)
    first_t: float | None = None
    last_t: float = 0.0
    side_sums: tuple[float, float, int] = (0.0, 0.0, 0)  # one-sided sets: side_by sums so far


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
        self.spec = spec = load_exercise(exercise_id)
        self._fixed = jd.parse_side(side)
        self.overrides = dict(overrides) if overrides else None
        self._smoother = None if smoothed else OneEuroSmoother()
        self._sig_side = jd.signal_side(spec, self._fixed)
        s = spec.rep or spec.hold
        assert s is not None
        self._sig_measure = MEASURES[s.measure]
        self._counter = RepCounter(spec.rep) if spec.rep else None
        self._timer = HoldTimer(spec.hold) if spec.hold else None
        self._hold_judge = jd.HoldJudge(spec, self.overrides) if spec.hold else None
        self._hold_measures = [(r.id, MEASURES[r.measure], r.measure) for r in spec.rules if r.at == "hold"]
        self._needed = jd.needed_landmarks(spec)
        self._lying = jd.is_lying(spec)
        self._keep_s = (spec.rep.max_rep_s if spec.rep else 0.0) + spec.baseline_s + BUFFER_MARGIN_S
        self._frames: list[PoseArrays] = []
        self._raw_frames: list[PoseArrays] = []  # the same frames before smoothing (empty when given smoothed)
        self._t: list[float] = []
        self._sig: list[float] = []
        self._i0 = 0  # global index of self._frames[0]
        self._baselines: jd.Baselines | None = None
        self._reps: list[Rep] = []  # counted so far
        self._all_reps: list[Rep] = []  # every rep the counter found, with its shape (core.wrong_exercise)
        self._shapes: list[wx.RepShape] = []
        self._not_counted_now: Rep | None = None
        self._cues = fb.CueTracker()
        self._guide = fb.GuidanceTracker()
        self._last_eval_t = -np.inf
        self._failing: list[RuleSpec] = []
        self._hold_in: list[int] = []
        self._yaw_tally = jd.YawTally()  # bounded: the set's camera yaw so far
        self._counts = _Counts()
        self._prev_raw: FloatArray | None = None
        self._prev_raw_t = -np.inf
        self._last_view: View | None = None
        self._last_view_t = -np.inf
        self._recent_yaw = jd.NAN_YAW  # for cues while a rep is under way

    # -- the buffer
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
            del self._frames[:cut], self._t[:cut], self._sig[:cut]
            if self._raw_frames:
                del self._raw_frames[:cut]
            self._i0 += cut

    # -- one frame
    def update(self, frame: PoseFrame) -> LiveFeedback:
        """Take one frame (raw unless the session was made with smoothed=True) and say what to show."""
        cut = self._is_cut(frame)
        if self._smoother is not None:
            self._raw_frames.append(PoseArrays.from_frame(frame))
            frame = self._smoother(frame)
        c = self._counts
        i, t = c.n, frame.t_s
        c.n += 1
        self._not_counted_now = None
        c.first_t = t if c.first_t is None else c.first_t
        c.last_t = t
        arr = PoseArrays.from_frame(frame)
        detected = frame.detected
        view = self._view(arr, t, detected)
        one = MeasureTable(arr, np.array([t]))
        sig = float(one.get(self._sig_measure.name, self._sig_side)[0])
        posture_wrong = detected and wrong_posture_one(frame.xy_px, self.spec.posture)
        if posture_wrong:
            c.wrong_posture += 1
            sig = float("nan")  # the posture gate: this frame counts nothing
        self._tally(frame, one, detected)
        self._frames.append(arr)
        self._t.append(t)
        self._sig.append(sig)
        new_rep, failing_now, phase = self._count(i, t, sig, cut, one, view)
        cues, new_cues = self._cues.update(t, failing_now)
        conds = fb.placement_conditions(
            self.spec, frame.xy_px, detected, frame.n_people, frame.luma, self._needed, posture_wrong
        )
        guidance_keys = self._guide.update(t, conds)
        overlay = self._overlay(frame, sig, cues)
        self._trim()
        return LiveFeedback(
            t_s=t,
            phase=str(phase),
            rep_count=len(self._reps),
            valid_rep_count=sum(r.valid for r in self._reps),
            cues=cues,
            new_cues=new_cues,
            guidance=tuple(fb.GUIDANCE_TEXT[k] for k in guidance_keys),
            new_rep=new_rep,
            overlay=overlay,
            view=str(view),
            hold_good_s=self._timer.good_form_s if self._timer else None,
            hold_in_position_s=self._timer.in_position_s if self._timer else None,
            guidance_keys=guidance_keys,
            not_counted=self._not_counted_now,
        )

    def _is_cut(self, frame: PoseFrame) -> bool:
        """A camera cut since the last raw frame (the body moved faster than a person does)."""
        raw_xy = frame.xy_px
        cut = False
        if self._prev_raw is not None and frame.t_s > self._prev_raw_t:
            with np.errstate(invalid="ignore"):
                speed = jump_ratio(self._prev_raw, raw_xy) / (frame.t_s - self._prev_raw_t)
                cut = bool(speed > jd.CUT_SPEED_TORSO_PER_S)
        self._prev_raw, self._prev_raw_t = raw_xy, frame.t_s
        return cut

    def _view(self, arr: PoseArrays, t: float, detected: bool) -> View:
        """The camera view at this frame, re-estimated every VIEW_EVERY_S."""
        if not detected:
            return View.UNKNOWN
        if self._last_view is not None and t - self._last_view_t < VIEW_EVERY_S:
            return self._last_view
        vp = jd.viewpoint_of(arr)
        view = self._last_view = View(jd.views_of(vp, self._lying)[0])
        self._last_view_t = t
        if vp.confidence[0] >= VIEW_MIN_CONFIDENCE:
            self._recent_yaw = (float(fold_yaw_deg(vp.yaw_deg[0])), float(vp.yaw_signed_deg[0]))
            self._yaw_tally.add(*self._recent_yaw)
        return view

    def _tally(self, frame: PoseFrame, one: MeasureTable, detected: bool) -> None:
        c = self._counts
        pair = jd.side_by_pair(self.spec, one)
        if pair is not None and pair[2][0]:
            sl, sr, n = c.side_sums
            c.side_sums = (sl + float(pair[0][0]), sr + float(pair[1][0]), n + 1)
        if detected:
            c.detected += 1
            c.seen += np.isfinite(frame.xy_px[:, 0])
        if frame.n_people is not None:
            c.people.append(frame.n_people)
        if frame.luma is not None:
            c.luma.append(frame.luma)

    def _count(
        self, i: int, t: float, sig: float, cut: bool, one: MeasureTable, view: View
    ) -> tuple[Rep | None, list[str], Phase]:
        """Feed the rep counter (or the hold timer): (the rep just completed, cues failing now, phase)."""
        new_rep: Rep | None = None
        failing_now: list[str] = []
        if self._counter is None:
            return None, self._hold_step(i, t, sig, one, view), self._hold_phase()
        counter = self._counter
        was_in = counter.in_rep_since
        if cut:
            counter.cut()
        ev = counter.update(i, t, sig)
        if self._baselines is None and was_in is None and counter.in_rep_since is not None:
            self._baselines = self._make_baselines(counter.in_rep_since)
        if ev is not None:
            new_rep = self._judge_event(ev)
            if new_rep is not None:
                self._reps.append(new_rep)
                failing_now.extend(f.cue for f in new_rep.faults)
                self._failing = [self.spec.rule(f.rule) for f in new_rep.faults]
        elif counter.in_rep_since is not None and t - self._last_eval_t >= CUE_EVAL_INTERVAL_S:
            self._last_eval_t = t
            self._failing = self._live_rule_failures(counter.in_rep_since, i)
            failing_now.extend(r.cue for r in self._failing)
        return new_rep, failing_now, counter.phase

    def _hold_phase(self) -> Phase:
        assert self._timer is not None
        return self._timer.phase

    def _hold_step(self, i: int, t: float, sig: float, one: MeasureTable, view: View) -> list[str]:
        assert self._timer is not None and self._hold_judge is not None and self.spec.hold is not None
        combine = self.spec.hold.combine
        vals = {rid: float(one.get(name, combine if m.sided else None)[0]) for rid, m, name in self._hold_measures}
        good, failing = self._hold_judge.update(t, vals, view)
        self._timer.update(t, sig, good)
        if not self._timer.in_position:
            return []
        self._hold_in.append(i)
        self._failing = failing
        return [r.cue for r in failing]

    def _make_baselines(self, start_g: int) -> jd.Baselines:
        g0 = self._i0
        table = self._table(g0, start_g)
        idx = jd.baseline_idx(np.array(self._sig[: start_g - g0 + 1]), table.t_s, self.spec, start_g - g0)
        return jd.baselines(self.spec, table, idx)

    def _judge_event(self, ev: RepEvent) -> Rep | None:
        """The rep just completed, judged (None: it looks like another exercise and is not counted; it is in
        self._not_counted_now instead)."""
        g0 = ev.start_i
        table = self._table(g0, ev.end_i)
        local = dataclasses.replace(ev, start_i=0, peak_i=ev.peak_i - g0, end_i=ev.end_i - g0)
        ctx = jd.RepContext(
            fixed=self._fixed,
            baselines=self._baselines or {},
            overrides=self.overrides,
            yaw=jd.rep_yaw(jd.viewpoint_of(table.arrays)),
            fallback_yaw=self._yaw_tally.yaw,
            set_side=jd.side_of_sums(self.spec, *self._counts.side_sums),
        )
        rep = jd.build_rep(self.spec, table, local, len(self._reps) + 1, ctx)
        self._all_reps.append(rep)
        self._shapes.append(wx.rep_shape(table, 0, local.end_i))
        look = wx.rep_decision(self.spec.id, self._shapes)
        if look is None:
            return rep
        self._not_counted_now = wx.not_counted_rep(self.spec.id, self.spec.name, rep, look)
        return None

    def _live_rule_failures(self, start_g: int, now_g: int) -> list[RuleSpec]:
        """Rules over the rep so far (at = rep), for cues while the person is still moving."""
        table = self._table(start_g, now_g)
        n = now_g - start_g
        sig = np.array(self._sig[start_g - self._i0 : now_g - self._i0 + 1])
        sign = self.spec.rep.sign() if self.spec.rep else 1.0
        peak = int(np.nanargmax(sig * sign)) if np.isfinite(sig).any() else n
        ev = RepEvent(0, peak, n, table.t_s[0], table.t_s[peak], table.t_s[n], float("nan"), float("nan"))
        side = jd.rep_side(self.spec, table, ev, self._fixed)
        view = jd.view_of_yaw(self._recent_yaw, self._lying)
        win = Window(0, n, peak, side, view, float(table.t_s[n] - table.t_s[0]), *self._recent_yaw)
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
        joint = _signal_joint(s.measure, self._fixed)
        if np.isfinite(sig) and joint is not None:
            label = s.measure.removesuffix("_deg").replace("_3d", "").replace("_", " ")
            angles.append(fb.AngleLabel(joint, label, sig, self._sig_measure.unit))
        failing = [r for r in self._failing if r.cue in cues]
        side = self._fixed
        if side is None and self._reps and self._reps[-1].side:
            side = Side(self._reps[-1].side)
        return fb.build_overlay(self.spec, frame.xy_px, failing, side, angles)

    # -- the set
    def result(self) -> SetResult:
        """The set so far, in the same shape as analyze_seq's."""
        split = wx.split_set(self.spec.id, self.spec.name, self._all_reps, self._shapes)
        reps = split.counted
        c = self._counts
        view = jd.view_of_yaw(self._yaw_tally.yaw(), self._lying)
        stats = dataclasses.replace(
            self._stats(view, reps), wrong_exercise=None if split.look is None else str(split.look)
        )
        return jd.set_result(
            self.spec,
            reps=reps,
            hold=self._hold_result(),
            messages=jd.set_messages(self.spec, stats),
            view=view,
            fixed=self._fixed,
            n_frames=c.n,
            duration_s=(c.last_t - c.first_t) if c.first_t is not None else 0.0,
            detected_ratio=c.detected / c.n if c.n else 0.0,
            not_counted=split.not_counted,
        )

    def _hold_result(self) -> HoldResult | None:
        if self._timer is None:
            return None
        hs = self.spec.hold
        assert hs is not None
        checks: tuple[Check, ...] = ()
        if self._hold_in and self._hold_in[0] >= self._i0:
            table = self._table(self._hold_in[0], self._hold_in[-1])
            yaw = jd.rep_yaw(jd.viewpoint_of(table.arrays))
            checks = jd.hold_checks(self.spec, table, 0, len(table) - 1, self._fixed, yaw, self.overrides)
        tot = self._timer.totals()
        return HoldResult(tot.in_position_s, tot.good_form_s, tot.longest_good_s, hs.target_s, hs.min_s, checks)

    def _stats(self, view: View, reps: tuple[Rep, ...]) -> jd.SetStats:
        c = self._counts
        det = max(c.detected, 1)
        return jd.SetStats(
            n_frames=c.n,
            detected_ratio=c.detected / c.n if c.n else 0.0,
            multi_person_ratio=float(np.mean(np.array(c.people) > 1)) if c.people else float("nan"),
            median_luma=float(np.median(c.luma)) if c.luma else float("nan"),
            wrong_posture_ratio=c.wrong_posture / det,
            seen=c.seen / det,
            any_seen=bool(c.seen.any()),
            view=view,
            n_reps=len(reps),
            judged_reps=sum(r.verdict is not Verdict.UNKNOWN for r in reps),
        )


def _signal_joint(measure: str, side: Side | None) -> Lm | None:
    """Where to print the rep signal's angle."""
    s = side or Side.LEFT
    if measure.startswith("knee"):
        return sided(s, "KNEE")
    if measure.startswith(("hip", "bridge", "leg", "body", "plank")):
        return sided(s, "HIP")
    return None
