"""CLI: `formcheck pose` (landmarks of a video or camera) and `formcheck models` (build/verify/show the model)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from formcheck.config import load_config
from formcheck.core.landmarks import Lm
from formcheck.core.types import PoseSeq
from formcheck.errors import InputError, PoseModelError

PROGRESS_EVERY_S = 0.2


class Progress:
    """A one-line progress bar on a terminal; silent when stderr is not a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {done}/{total} frames")
        else:
            self.stream.write(f"\r{self.label} {done} frames")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


def _write_jsonl(seq: PoseSeq, out: Path, model_sha256: str) -> None:
    with open(out, "w") as f:
        f.write(
            json.dumps(
                {
                    "format": "formcheck.core.landmarks.jsonl/1",
                    "frame_wh": list(seq.frame_wh),
                    "model_sha256": model_sha256,
                    "landmarks": [lm.name.lower() for lm in Lm],
                    "fields": ["x_px", "y_px", "z_px", "visibility", "presence"],
                }
            )
            + "\n"
        )
        for i in range(len(seq)):
            detected = bool(seq.detected[i])
            row = {"t_s": round(float(seq.t_s[i]), 6), "pose": detected}
            if detected:
                img = np.column_stack([seq.xyz_px[i], seq.visibility[i], seq.presence[i]])
                row["image"] = np.round(img, 3).tolist()
                if np.isfinite(seq.world_m[i]).all():
                    row["world_m"] = np.round(seq.world_m[i], 4).tolist()
            f.write(json.dumps(row) + "\n")


def cmd_pose(args: argparse.Namespace) -> int:
    from formcheck.core.types import PoseSeq
    from formcheck.media.models import ensure_model
    from formcheck.media.pose import MediaPipePoseEstimator, estimate_video

    out = Path(args.out)
    if out.suffix not in (".jsonl", ".npz"):
        raise InputError(f"--out must end in .jsonl or .npz, got {out.name}")
    model = ensure_model(args.model)
    source = args.video
    bar = Progress(f"pose {Path(source).name}")
    try:
        if source.isdigit():  # a camera index
            frames = []
            with MediaPipePoseEstimator(model) as est:
                from formcheck.media.video import read_camera

                for pf in est.frames(read_camera(int(source), max_frames=args.max_frames)):
                    frames.append(pf)
                    bar(len(frames), args.max_frames)
            seq = PoseSeq.from_frames(frames)
        else:
            seq = estimate_video(source, model=model, progress=bar)
    finally:
        bar.close()
    if out.suffix == ".npz":
        seq.save_npz(out, model_sha256=model.sha256, video=str(source))
    else:
        _write_jsonl(seq, out, model.sha256)
    n = len(seq)
    found = int(seq.detected.sum())
    print(
        f"{n} frames, pose found in {found} ({100.0 * found / max(n, 1):.1f}%), "
        f"{seq.duration_s:.2f} s, model {model.variant} {model.sha256[:12]}; wrote {out}"
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from formcheck.media import models

    variants = models.VARIANTS if args.all else (args.model,)
    rc = 0
    for variant in variants:
        if args.build:
            path = models.build_bundle(variant)
            print(f"built   {variant:<5} {models.sha256_file(path)}  {path}")
        try:
            info = models.ensure_model(variant)
        except PoseModelError as exc:
            print(f"missing {variant:<5} {exc}")
            rc = 1
            continue
        expected = models.expected_bundle_sha256(variant) if info.variant != "custom" else ""
        state = "ok" if not expected or expected == info.sha256 else "MISMATCH"
        size_mb = info.path.stat().st_size / 1e6
        print(f"{info.variant:<6} sha256 {info.sha256}  {size_mb:.1f} MB  {info.path}  [{state}]")
    if not args.all:
        print(f"in use: {'$' + models.ENV_MODEL if load_config().pose_model is not None else args.model}")
    return rc


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pose",
        help="write per-frame landmarks of a video (or camera index) to .jsonl or .npz",
        description="Run the pose model over every frame. Output: .jsonl (a header line, then one "
        "line per frame: t_s, pose, image = 33 x [x_px, y_px, z_px, visibility, "
        "presence], world_m = 33 x [x, y, z]) or .npz (formcheck.landmarks/1 arrays).",
    )
    p.add_argument("video", help="video file, or a camera index such as 0")
    p.add_argument("--out", required=True, help="output file (.jsonl or .npz)")
    p.add_argument("--model", choices=("lite", "full", "heavy"), default="full", help="model variant (default full)")
    p.add_argument("--max-frames", type=int, default=300, help="frames to read from a camera (default 300)")
    p.set_defaults(func=cmd_pose)

    m = sub.add_parser("models", help="build, verify and show the pose model bundles")
    m.add_argument("--model", choices=("lite", "full", "heavy"), default="full", help="variant (default full)")
    m.add_argument("--all", action="store_true", help="all variants (lite and heavy need npm)")
    m.add_argument("--build", action="store_true", help="rebuild from the registry files even if cached")
    m.set_defaults(func=cmd_models)
