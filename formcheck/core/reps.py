"""Rep counting and hold timing: one RepSpec drives the streaming RepCounter and the offline segment_reps.

The counter is a two-threshold hysteresis machine (docs/clinical.md §3.10) on a signal oriented so that it rises
into the rep. A rep starts from the start position (at or below `exit`, then the lowest value since) once the
signal passes both `enter` and the start value + `min_range`; it is counted on the return to the start
position (back below `exit`, or within `return_fraction` of the rep's range from its start, so people who do
not fully straighten between reps still count), never on reaching the bottom; and only if it lasted between
`min_rep_s` and `max_rep_s`. A frame
without the signal (NaN) is skipped; a gap longer than `max_gap_s` abandons the rep in progress, and the
counter waits for the start position again, so a person leaving the frame never makes a ghost rep.
segment_reps feeds the same machine the whole array, so live and offline counts agree by construction.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import math

import numpy as np

from formcheck.core.spec import HoldSpec, RepSpec
from formcheck.core.types import BoolArray, FloatArray

# In a rep, the phase reads "up" once the signal has come back this share of the hysteresis gap from its peak.
UP_PHASE_FRACTION = 0.5
# A frame within this share of min_range of the lowest value since the last rep is still "at the start":
# the rep's start time is the last such frame (judgement call).
REST_TOLERANCE_FRACTION = 0.25
# A frame-to-frame step longer than this is not counted as hold time (a gap without a person).
HOLD_MAX_STEP_S = 0.5
# The counter reads the median of the signal over the last this-many seconds: MediaPipe swaps or jerks a leg for
# one to three frames when the legs cross (seen in the oblique labelled lunges, ../shared/videos), and a spike
# must not start or end a rep. 0.15 s is 4-5 frames at 30 fps, 1-2 at 10 fps; a rehab rep lasts >= ~1 s, so the
# ~0.07 s lag is harmless (judgement call). Live and offline share it, so they still agree.
SPIKE_MEDIAN_S = 0.15


class Phase(enum.StrEnum):
    """Where the person is in the movement, for live feedback."""

    SETUP = "setup"  # no signal yet (or since a gap or a cut)
    START = "start"  # in the start position
    DOWN = "down"  # moving into the rep (or at its bottom)
    UP = "up"  # returning to the start
    HOLD = "hold"  # in a timed hold position
    OUT = "out"  # out of the hold position


@dataclasses.dataclass(frozen=True)
class RepEvent:
    """One counted rep's frame indices and times; values are in the measure's own orientation."""

    start_i: int
    peak_i: int
    end_i: int
    start_s: float
    peak_s: float
    end_s: float
    start_value: float
    peak_value: float
    tempo_s: float = float("nan")  # twice the time spent beyond half the rep's range (see tempo_s_of)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def tempo_s_of(trace: list[tuple[float, float]], start_v: float, peak_v: float) -> float:
    """A rep's duration for tempo rules: twice the time the (oriented) signal spends past half its range.

    Where a person starts and stops moving is blurred by jitter at rest, so the counter's start/end times
    wander by a few tenths of a second between identical reps (seen on the mannequin fixtures); the two
    half-range crossings sit on the steep part of the movement and do not. For a smooth down-up rep the result
    equals its full duration; a pause at the bottom counts twice (never "too fast")."""
    level = start_v + 0.5 * (peak_v - start_v)
    above = [k for k, (_, v) in enumerate(trace) if v >= level]
    if not above:
        return float("nan")
    a, b = above[0], above[-1]

    def cross(k0: int, k1: int) -> float:
        (t0, v0), (t1, v1) = trace[k0], trace[k1]
        return t1 if v1 == v0 else t0 + (level - v0) / (v1 - v0) * (t1 - t0)

    t_in = trace[a][0] if a == 0 else cross(a - 1, a)
    t_out = trace[b][0] if b == len(trace) - 1 else cross(b, b + 1)
    return 2.0 * (t_out - t_in)


class RepCounter:
    """Streaming hysteresis counter: call update(i, t_s, value) per frame; returns the RepEvent it completes."""

    def __init__(self, spec: RepSpec) -> None:
        self.spec = spec
        self._sign = spec.sign()
        self._enter = -math.inf if spec.enter is None else spec.enter * self._sign
        self._exit = -math.inf if spec.exit is None else spec.exit * self._sign
        self.phase = Phase.SETUP
        self.count = 0
        self._rest: tuple[int, float, float] | None = None  # last frame at the start position
        self._start: tuple[int, float, float] | None = None
        self._peak: tuple[int, float, float] | None = None
        self._floor = math.inf  # lowest value since the last rep ended (the start position)
        self._rest_tol = REST_TOLERANCE_FRACTION * spec.min_range
        self._last_t = -math.inf  # last frame with a value
        self.rejected = 0  # reps that crossed `enter` but failed duration/range checks
        self._recent: collections.deque[tuple[float, float]] = collections.deque()  # (t_s, value) for the median
        self._trace: list[tuple[float, float]] = []  # (t_s, oriented value) of the rep in progress, for tempo_s

    def reset(self) -> None:
        self.__init__(self.spec)  # type: ignore[misc]

    def cut(self) -> None:
        """A camera cut (or the person jumping between frames): abandon any rep in progress and wait for the
        start position again, so a cut mid-stretch is never read as a rep."""
        self._recent.clear()
        if self.phase in (Phase.DOWN, Phase.UP):
            self.phase, self._start, self._peak = Phase.SETUP, None, None
        elif self.phase is Phase.START:
            self.phase, self._rest = Phase.SETUP, None

    def update(self, i: int, t_s: float, value: float) -> RepEvent | None:
        if value != value:  # NaN: no signal in this frame
            if self.phase in (Phase.DOWN, Phase.UP) and t_s - self._last_t > self.spec.max_gap_s:
                self.phase = Phase.SETUP
                self._start = self._peak = None
            return None
        v = self._despiked(t_s, value) * self._sign
        gap = t_s - self._last_t
        self._last_t = t_s
        if self.phase in (Phase.DOWN, Phase.UP) and gap > self.spec.max_gap_s:
            self.phase, self._start, self._peak = Phase.SETUP, None, None
        if self.phase is Phase.START and gap > self.spec.max_gap_s:
            self.phase = Phase.SETUP  # the start position must be seen again after a gap
        if self.phase is Phase.SETUP:
            # The first value after a start, gap or cut is taken as the start position: a clip that opens at
            # the bottom can then never count its first half rep (it must rise min_range above it first), while
            # one that opens partway down still counts the rep it is in.
            self.phase, self._rest, self._floor = Phase.START, (i, t_s, v), v
            return None
        if self.phase is Phase.START:
            assert self._rest is not None
            if v < self._floor:
                self._floor = v
            if v <= self._floor + self._rest_tol:
                self._rest = (i, t_s, v)
            elif v >= max(self._enter, self._floor + self.spec.min_range):
                self._start, self._peak = self._rest, (i, t_s, v)
                self.phase = Phase.DOWN
                self._trace = [(self._rest[1], self._rest[2]), (t_s, v)]
            return None
        # DOWN / UP: inside a rep
        assert self._peak is not None and self._start is not None
        self._trace.append((t_s, v))
        if v > self._peak[2]:
            self._peak = (i, t_s, v)
            self.phase = Phase.DOWN
        start_v, peak_v = self._start[2], self._peak[2]
        back_at = max(self._exit, start_v + self.spec.return_fraction * (peak_v - start_v))
        if v > back_at:
            if peak_v - v >= UP_PHASE_FRACTION * (peak_v - back_at):
                self.phase = Phase.UP
            return None
        start, peak = self._start, self._peak
        self.phase, self._rest, self._floor, self._start, self._peak = Phase.START, (i, t_s, v), v, None, None
        duration_s = t_s - start[1]
        if not (self.spec.min_rep_s <= duration_s <= self.spec.max_rep_s) or peak[2] - start[2] < self.spec.min_range:
            self.rejected += 1
            return None
        self.count += 1
        return RepEvent(
            start_i=start[0],
            peak_i=peak[0],
            end_i=i,
            start_s=start[1],
            peak_s=peak[1],
            end_s=t_s,
            start_value=start[2] * self._sign,
            peak_value=peak[2] * self._sign,
            tempo_s=tempo_s_of(self._trace, start[2], peak[2]),
        )

    def _despiked(self, t_s: float, value: float) -> float:
        """Median of the values within SPIKE_MEDIAN_S before t_s (the window restarts after a gap)."""
        if self._recent and t_s - self._recent[-1][0] > self.spec.max_gap_s:
            self._recent.clear()
        self._recent.append((t_s, value))
        while t_s - self._recent[0][0] > SPIKE_MEDIAN_S:
            self._recent.popleft()
        n = len(self._recent)
        if n <= 2:
            return value
        vals = sorted([v for _, v in self._recent])
        return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])

    @property
    def in_rep_since(self) -> int | None:
        """Frame index where the rep in progress started (None outside a rep)."""
        return self._start[0] if self._start is not None and self.phase in (Phase.DOWN, Phase.UP) else None


def segment_reps(values: FloatArray, t_s: FloatArray, spec: RepSpec, cuts: BoolArray | None = None) -> list[RepEvent]:
    """Offline segmentation of a whole (T,) signal with the same machine as the live counter.

    `cuts` (T,) bool marks frames where the video cut to another shot (RepCounter.cut is called first).
    """
    counter = RepCounter(spec)
    out = []
    cut_list = np.zeros(len(values), bool).tolist() if cuts is None else np.asarray(cuts, bool).tolist()
    for i, (t, v, c) in enumerate(
        zip(np.asarray(t_s, dtype=float).tolist(), np.asarray(values, dtype=float).tolist(), cut_list, strict=True)
    ):
        if c:
            counter.cut()
        ev = counter.update(i, t, v)
        if ev is not None:
            out.append(ev)
    return out


@dataclasses.dataclass(frozen=True)
class HoldTotals:
    in_position_s: float
    good_form_s: float
    longest_good_s: float
    first_in_s: float | None


class HoldTimer:
    """Times a hold: in position with hysteresis on the hold signal; good-form time only while `good` is True."""

    def __init__(self, spec: HoldSpec) -> None:
        self.spec = spec
        self._sign = spec.sign()
        self._enter, self._exit = spec.enter * self._sign, spec.exit * self._sign
        self.in_position = False
        self.in_position_s = 0.0
        self.good_form_s = 0.0
        self.longest_good_s = 0.0
        self._run_s = 0.0
        self.first_in_s: float | None = None
        self._last_t: float | None = None

    @property
    def phase(self) -> Phase:
        return Phase.HOLD if self.in_position else Phase.OUT

    def update(self, t_s: float, value: float, good: bool) -> None:
        dt = 0.0 if self._last_t is None else t_s - self._last_t
        self._last_t = t_s
        if value != value:
            self._run_s = 0.0
            return
        v = value * self._sign
        was = self.in_position
        if not was and v >= self._enter:
            self.in_position = True
            if self.first_in_s is None:
                self.first_in_s = t_s
        elif was and v <= self._exit:
            self.in_position = False
        if was and self.in_position and 0 < dt <= HOLD_MAX_STEP_S:
            self.in_position_s += dt
            if good:
                self.good_form_s += dt
                self._run_s += dt
                self.longest_good_s = max(self.longest_good_s, self._run_s)
            else:
                self._run_s = 0.0
        elif not self.in_position:
            self._run_s = 0.0

    def totals(self) -> HoldTotals:
        return HoldTotals(self.in_position_s, self.good_form_s, self.longest_good_s, self.first_in_s)


def time_hold(values: FloatArray, t_s: FloatArray, good: FloatArray, spec: HoldSpec) -> HoldTotals:
    """Offline hold timing with the same machine as the live timer."""
    timer = HoldTimer(spec)
    for t, v, g in zip(
        np.asarray(t_s, float).tolist(),
        np.asarray(values, float).tolist(),
        np.asarray(good, bool).tolist(),
        strict=True,
    ):
        timer.update(t, v, g)
    return timer.totals()
