"""Same verdicts? Poses labelled clips both ways — every frame on one landmarker (the eval's landmark cache, made
the old way) and the segmented pipeline (formcheck.media.segments: all cores, <= 30 poses a second) — and
compares what the analysis makes of each: rep counts, verdicts, faults, and how far per-rep values moved.

    python benchmarks/compare_segmented.py ../shared/videos/manifest.json [clip.mp4 ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from formcheck.media import pose, segments
from formcheck.pipeline import analyse_landmarks

DEFAULT_CLIPS = (
    "squat_side_white_wahoo.mp4",
    "glute_bridge_side_gym_aminran.mp4",
    "wall_sit_mixed_studio_hpy2github.mp4",
    "lunge_front_far_aerolearn.mp4",
    "squat_front_studio_hcipro.mp4",
)


def summary(seq: pose.PoseSeq, exercise: str, side: str) -> dict:
    report = analyse_landmarks(seq, exercise, side).report
    res = report.result
    return {
        "reps": len(res.reps),
        "verdicts": [str(r.verdict) for r in res.reps],
        "faults": [sorted(f.rule for f in r.faults) for r in res.reps],
        "values": [[float(f.value) for f in r.faults] for r in res.reps],
        "times": [(round(r.start_s, 2), round(r.end_s, 2)) for r in res.reps],
    }


def main(argv: list[str]) -> int:
    manifest = Path(argv[0])
    videos = {v["file"]: v for v in json.loads(manifest.read_text())["videos"]}
    clips = argv[1:] or DEFAULT_CLIPS
    model = pose.resolve_model()
    same = 0
    for name in clips:
        v = videos[name]
        path = manifest.parent / name
        t0 = time.perf_counter()
        every = pose.estimate_video(path, model=model, use_cache=True)
        t1 = time.perf_counter()
        fast = segments.pose_video(path, model)
        t2 = time.perf_counter()
        side = v["side_working"] if v["side_working"] in ("left", "right") else "auto"
        a, b = summary(every, v["exercise"], side), summary(fast, v["exercise"], side)
        agree = a["reps"] == b["reps"] and a["verdicts"] == b["verdicts"] and a["faults"] == b["faults"]
        same += agree
        moved = [
            abs(x - y) for ra, rb in zip(a["values"], b["values"], strict=False) for x, y in zip(ra, rb, strict=False)
        ]
        print(
            f"{name}: labelled {v['reps']} reps; every frame {len(every)} poses ({t1 - t0:.1f} s, cached or not) -> "
            f"{a['reps']} {a['verdicts']} {a['faults']}; segmented {len(fast)} poses ({t2 - t1:.1f} s) -> "
            f"{b['reps']} {b['verdicts']} {b['faults']}; {'SAME' if agree else 'DIFFERENT'}"
            + (f"; fault values moved by at most {max(moved):.2f}" if moved else "")
            + f"; rep bounds {a['times']} vs {b['times']}",
            flush=True,
        )
    print(f"{same} of {len(clips)} clips give the same counts, verdicts and faults")
    return 0 if same == len(clips) else 1


if __name__ == "__main__":
    np.set_printoptions(precision=2)
    sys.exit(main(sys.argv[1:]))
