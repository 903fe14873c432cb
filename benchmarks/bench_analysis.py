"""Benchmark of the analysis stage alone: landmarks in, judged reps out (no MediaPipe).

Builds a long synthetic squat session (tests/synthpose.py stick figure, front view, 2 px landmark noise) and
times, in one run:
  offline  analyze_seq on already-smoothed landmarks (measures, segment_reps, rules per rep)
  offline+smoothing  analyze_seq including the zero-phase Butterworth of formcheck.core.smoothing
  streaming  LiveSession.update per frame on already-smoothed frames
  streaming+smoothing  LiveSession.update with its One Euro filter
Usage: python benchmarks/bench_analysis.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synthpose import Pose, rep_profile, to_seq  # noqa: E402

from formcheck.core.live import LiveSession
from formcheck.core.offline import analyze_seq  # noqa: E402
from formcheck.core.smoothing import smooth_seq  # noqa: E402


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


if __name__ == "__main__":
    main()
