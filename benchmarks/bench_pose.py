"""Benchmark: bare MediaPipe inference on pre-decoded frames vs the whole formcheck pose pipeline, one run.

The pipeline is what `formcheck pose`/`analyze` run per frame: decode (PyAV, reader thread) + inference
(+ the periodic two-person check and brightness) + One Euro smoothing + geometry. Both are measured on the
same video in interleaved rounds (this VM's speed drifts by up to 50% within minutes), and the ratio of the
medians is printed; the target is pipeline/bare >= 0.9.

    .venv/bin/python benchmarks/bench_pose.py [VIDEO] [--rounds 2] [--model full]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from formcheck.core import geometry
from formcheck.core.landmarks import Side
from formcheck.core.smoothing import OneEuroSmoother
from formcheck.core.viewpoint import estimate_viewpoint
from formcheck.media.models import ensure_model
from formcheck.media.pose import MediaPipePoseEstimator, bare_inference_ms
from formcheck.media.video import read_video

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "videos" / "squat_front_valgus_vs_good_ranfit.mp4"
FALLBACK_VIDEO = Path(__file__).resolve().parents[1] / "fixtures" / "videos"


def pipeline_fps(video: Path, model) -> tuple[float, int]:
    smoother = OneEuroSmoother()
    n = 0
    t0 = time.perf_counter()
    with MediaPipePoseEstimator(model) as est:
        for pf in est.frames(video):
            pf = smoother(pf)
            xy = pf.xy_px
            geometry.knee_flexion_deg(xy, Side.LEFT)
            geometry.fppa_deg(xy, Side.LEFT)
            geometry.fppa_deg(xy, Side.RIGHT)
            geometry.pelvic_drop_deg(xy, Side.LEFT)
            if n % 15 == 0:  # the live session re-estimates the camera yaw every 0.5 s
                estimate_viewpoint(
                    pf.world_m[None] if pf.world_m is not None else None, pf.xyz_px[None], pf.visibility[None]
                )
            n += 1
    return n / (time.perf_counter() - t0), n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="full", choices=("lite", "full", "heavy"))
    args = ap.parse_args()
    video = args.video or (DEFAULT_VIDEO if DEFAULT_VIDEO.exists() else sorted(FALLBACK_VIDEO.glob("*.mp4"))[0])
    model = ensure_model(args.model)
    frames = [f.rgb for f in read_video(video)]
    h, w = frames[0].shape[:2]
    print(f"video {video.name}: {len(frames)} frames {w}x{h}, model {model.variant} {model.sha256[:12]}")
    bare, pipe = [], []
    for r in range(args.rounds):
        for which in ("bare", "pipe") if r % 2 == 0 else ("pipe", "bare"):  # alternate the order: drift cancels
            if which == "bare":
                ms = bare_inference_ms(frames, model)
                bare.append(1000.0 * len(ms) / sum(ms))
            else:
                fps, n = pipeline_fps(video, model)
                pipe.append(fps)
        print(
            f"round {r + 1}: bare inference {bare[-1]:.1f} frames/s "
            f"(median {np.median(ms):.1f} ms/frame), pipeline {pipe[-1]:.1f} frames/s"
        )
    b, p = statistics.median(bare), statistics.median(pipe)
    print(f"bare MediaPipe inference: {b:.1f} frames/s")
    print(f"formcheck pose pipeline:  {p:.1f} frames/s (decode + inference + smoothing + geometry)")
    print(f"ratio pipeline/bare: {p / b:.3f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
