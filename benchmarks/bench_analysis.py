"""Benchmark of the analysis stage alone: landmarks in, judged reps out (no MediaPipe).

Builds a long synthetic squat session (tests/synthpose.py stick figure, front view, 2 px landmark noise) and
times, in one run:
  offline  analyze_seq on already-smoothed landmarks (measures, segment_reps, rules per rep)
  offline+smoothing  analyze_seq including the zero-phase Butterworth of formcheck.core.smoothing
  streaming  LiveSession.update per frame on already-smoothed frames
  streaming+smoothing  LiveSession.update with its One Euro filter
  upload series  what an upload computes besides pose: before issue 10 smoothing and the measures three times
                 (analysis, review video, angle chart), now once (formcheck.core.offline.prepare), as a ratio
Usage: python benchmarks/bench_analysis.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synthpose import Pose, rep_profile, to_seq  # noqa: E402

from formcheck.core.live import LiveSession  # noqa: E402
from formcheck.core.measures import PoseArrays  # noqa: E402
from formcheck.core.offline import analyze_prepared, analyze_seq, prepare  # noqa: E402
from formcheck.core.rules import MeasureTable  # noqa: E402
from formcheck.core.smoothing import smooth_seq  # noqa: E402
from formcheck.core.spec import load_exercise  # noqa: E402


def build(minutes: float):
    n_reps = int(minutes * 60 / 3.0)
    ph, _ = rep_profile(n_reps, rep_s=2.0, rest_s=1.0)
    poses = [Pose(knee_flex=(95 * p, 95 * p), trunk_forward=20 * p, valgus=(8 * p, 8 * p)) for p in ph]
    return to_seq(poses, "front", noise_px=2.0), n_reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the synthetic session (30 fps)")
    ap.add_argument("--stream-minutes", type=float, default=1.0, help="length used for the streaming timings")
    args = ap.parse_args()
    seq, n_reps = build(args.minutes)
    n = len(seq)
    smoothed = smooth_seq(seq)

    t = time.perf_counter()
    res = analyze_seq(smoothed, "squat", smoothed=True)
    off_s = time.perf_counter() - t
    t = time.perf_counter()
    res2 = analyze_seq(seq, "squat")
    full_s = time.perf_counter() - t
    print(
        f"frames: {n} ({args.minutes:g} min at 30 fps), reps expected {n_reps}, found {res.rep_count} / {res2.rep_count}"
    )
    print(f"offline   analysis only        {n / off_s:>10,.0f} frames/s  ({off_s * 1e3:.0f} ms)")
    print(f"offline   incl. smoothing      {n / full_s:>10,.0f} frames/s  ({full_s * 1e3:.0f} ms)")

    upload_series(seq)

    m = min(n, int(args.stream_minutes * 60 * 30))
    frames_s = list(smoothed.index_window(0, m).frames())
    frames_r = list(seq.index_window(0, m).frames())
    for label, frames, smooth in (("analysis only", frames_s, True), ("incl. One Euro", frames_r, False)):
        s = LiveSession("squat", smoothed=smooth)
        t = time.perf_counter()
        for f in frames:
            s.update(f)
        dt = time.perf_counter() - t
        print(
            f"streaming {label:<20} {m / dt:>10,.0f} frames/s  ({dt / m * 1e6:.0f} us/frame, {s.result().rep_count} reps)"
        )


def upload_series(seq) -> None:
    """The series an upload needs (analysis, review video's angle read-out, angle chart): three times, as before
    formcheck.pipeline, and once, as now; the same numbers either way."""
    spec = load_exercise("squat")
    measure, combine = spec.rep.measure, spec.rep.combine

    def three_times() -> None:
        analyze_seq(seq, "squat")
        for _ in range(2):  # render, then the chart: each smoothed and measured again
            smoothed = smooth_seq(seq)
            MeasureTable(PoseArrays.from_seq(smoothed), smoothed.t_s).get(measure, combine)

    def once() -> None:
        prep = prepare(seq)
        analyze_prepared(prep, spec)
        prep.table.get(measure, combine)  # the render's and the chart's read-out: cached

    best = {}
    for label, fn in (("three times", three_times), ("once", once)):
        best[label] = min(_timed(fn) for _ in range(3))
    print(
        f"upload    series three times   {best['three times'] * 1e3:>10.0f} ms; once {best['once'] * 1e3:.0f} ms "
        f"(ratio {best['once'] / best['three times']:.2f})"
    )


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
