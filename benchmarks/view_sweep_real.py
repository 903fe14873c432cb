"""The viewpoint estimator on the labelled real clips: estimated camera yaw per clip, grouped by the manifest's
`camera_view` (front / side / oblique / back). Prints figures; asserts nothing (tests/test_viewpoint.py holds
the bounds). Landmarks come from the pose cache (`formcheck eval` fills it), else MediaPipe runs.

    .venv/bin/python benchmarks/view_sweep_real.py [../shared/videos/manifest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from formcheck.core.viewpoint import estimate_seq
from formcheck.media.pose import estimate_video

DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "videos" / "manifest.json"


def main(argv: list[str]) -> int:
    manifest = Path(argv[0]) if argv else DEFAULT_MANIFEST
    if not manifest.is_file():
        print(f"no manifest at {manifest}", file=sys.stderr)
        return 2
    videos = json.loads(manifest.read_text())["videos"]
    by_view: dict[str, list[tuple[float, float, float, str]]] = {}
    print(f"{'view':8s} {'clip':50s} {'yaw p10':>7s} {'p50':>5s} {'p90':>5s} {'signed':>6s} {'elev':>5s} {'conf':>5s}")
    for v in videos:
        seq = estimate_video(manifest.parent / v["file"], use_cache=True)
        est = estimate_seq(seq)
        keep = est.confidence > 0
        if not keep.any():
            print(f"{v['camera_view']:8s} {v['file']:50s} no person")
            continue
        p10, p50, p90 = np.percentile(est.yaw_deg[keep], [10, 50, 90])
        signed = float(np.median(est.yaw_signed_deg[keep]))
        elev = float(np.nanmedian(est.elevation_deg[keep]))
        conf = float(np.median(est.confidence[keep]))
        by_view.setdefault(v["camera_view"], []).append((p50, conf, signed, v["file"]))
        print(
            f"{v['camera_view']:8s} {v['file']:50s} {p10:7.0f} {p50:5.0f} {p90:5.0f} {signed:6.0f} {elev:5.0f} {conf:5.2f}"
        )
    print("\nper labelled view: clip-median |yaw| (deg): min / median / max, and the median confidence")
    for view, rows in sorted(by_view.items()):
        y = np.array([r[0] for r in rows])
        c = np.array([r[1] for r in rows])
        print(
            f"{view:8s} n={len(rows):2d}  yaw {y.min():5.0f} / {np.median(y):5.0f} / {y.max():5.0f}   "
            f"confidence {np.median(c):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
