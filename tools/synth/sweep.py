"""The camera sweep: how far each measure can be trusted as the camera moves around the person.

Every mannequin exercise of tools.synth is posed exactly as its fixtures are (body-frame motions and
faults solved against the exercise's own front camera, so a fault is the same body movement whatever camera
films it) and rendered in memory from cameras on a circle around the person: yaw 0 (facing the person's
front) to 90 deg (side-on, the camera on the working side: the person's left for the exercises worked on the
left leg, their right for the step-down; towards the head for the side-lying leg raise) in 15 deg steps, plus
180 deg (behind), at camera
heights 0.3 m (a laptop on the floor) and 1.0 m, and distances 2.7 m and 4.0 m (4.0 m at 1.0 m height only).
Each clip has one clean rep followed by one rep per injectable fault of that exercise (the fault sizes of
tools.synth.fixtures), 15 fps, 480x640 (the side-lying clip 640x480), run through MediaPipe (VIDEO mode,
the bundled full model) and smoothed as the offline analysis does (formcheck.core.smoothing.smooth_seq).

Ground truth of a measure is the same measure function (formcheck.core.measures.MEASURES) applied to the
generator's ground-truth landmarks, projected the way the measure assumes:

- FRONTAL measures (views front/back): orthographic projection onto the body's frontal plane (image x = the
  person's left, image y = down the body's long axis), i.e. a perfect front camera at infinity;
- SAGITTAL measures (side view): orthographic projection onto the sagittal plane, seen from the person's left;
- 3D measures (``_3d_`` in the name) and measures valid in every view: from the 3D ground-truth landmarks
  (rotated into MediaPipe's world axes for a camera facing the person: x = the person's left, y = down,
  z = away from the camera); the ALL_VIEWS 2D measures (ratios, leg elevation) use the frontal projection.

Every truth landmark is fully visible. The body frame is the generator's (formcheck.mannequin.body.Pose.body_frame):
upright for standing exercises, lying on the left side for the side-lying leg raise.

Errors are measured minus truth, per frame, in the measure's unit: "bottom" = the frames within 0.1 s of each
rep's bottom, "rep" = every frame inside a rep, "clean_rep" / "bottom_clean" = the same for the clean (first)
rep only (what a person doing it right meets; a fault rep's extreme posture can confuse the model). ``rel``
errors subtract each series' own standing baseline (median over the still lead-in before the first rep) from
both sides, as the rules with ``baseline = true`` do.
The viewpoint estimator (formcheck.core.viewpoint) is scored against the true camera direction in the body frame.

Stage 1 (render + MediaPipe, the slow part: ~5-6 s CPU per clip, ~9 min CPU for the 95 clips of the full
grid; measured 2026-12-01) caches each clip's raw landmarks under the cache directory keyed by everything that
changes the pixels, so stage 2 (measures, tables, ~15 s) re-runs without MediaPipe. Each cell also carries
``geometry_only``: the same errors on exact perspective landmarks (exact_seq), the camera geometry's share of
the error without MediaPipe's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from formcheck.mannequin.exercises import EXERCISES
from tools.synth.sweep_cells import RULE_FAULT, build_table, clip_cells, rule_windows, trusted_window
from tools.synth.sweep_grid import (
    BACK_YAW_DEG,
    FPS,
    LOW_HEIGHT_M,
    NEAR_M,
    NORMAL_HEIGHT_M,
    QUICK_EXERCISES,
    SWEEP_FORMAT,
    SWEEP_VERSION,
    YAWS_DEG,
    CameraSpec,
    ClipSpec,
    Motion,
    build_motion,
    camera_world_truth,
    clip_specs,
    exact_seq,
    exercise_faults,
    full_grid,
    orbit_sign,
    quick_grid,
    render_frames,
    sweep_camera,
    true_viewpoint,
    working_side,
)
from tools.synth.sweep_report import dumps_table, render_markdown

log = logging.getLogger(__name__)

# The sweep's public names, wherever they are defined (tests, benchmarks and `formcheck sweep` use this module).
__all__ = [
    "BACK_YAW_DEG",
    "FPS",
    "LOW_HEIGHT_M",
    "NEAR_M",
    "NORMAL_HEIGHT_M",
    "QUICK_EXERCISES",
    "RULE_FAULT",
    "SWEEP_FORMAT",
    "YAWS_DEG",
    "CameraSpec",
    "ClipSpec",
    "Motion",
    "build_motion",
    "build_table",
    "cache_key",
    "camera_world_truth",
    "clip_cells",
    "clip_specs",
    "default_cache_dir",
    "dumps_table",
    "exact_seq",
    "exercise_faults",
    "full_grid",
    "pose_clip",
    "quick_grid",
    "render_markdown",
    "rule_windows",
    "run_clips",
    "run_sweep",
    "sweep_camera",
    "true_viewpoint",
    "trusted_window",
    "working_side",
]


def cache_key(spec: ClipSpec, model_sha256: str) -> str:
    from formcheck.media.pose import PIPELINE_VERSION
    from tools.synth.fixtures import GENERATOR_VERSION

    doc = {
        "sweep": SWEEP_VERSION,
        "generator": GENERATOR_VERSION,
        "pipeline": PIPELINE_VERSION,
        "fps": FPS,
        "model": model_sha256,
        "exercise": spec.exercise,
        "side": str(spec.side),
        "faults": [list(f) for f in spec.faults],
        "camera": dataclasses.asdict(spec.camera),
        "orbit": orbit_sign(spec.exercise),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


def default_cache_dir() -> Path:
    from formcheck.config import load_config, user_cache_dir

    configured = load_config().sweep_cache_dir
    return configured if configured is not None else user_cache_dir() / "sweep"


def pose_clip(spec: ClipSpec, motion: Motion, model_info):
    """Render the clip in memory and run MediaPipe over it: the raw (unsmoothed) PoseSeq."""
    from formcheck.core.types import PoseSeq
    from formcheck.media.pose import MediaPipePoseEstimator

    cam = sweep_camera(spec.exercise, spec.camera)
    with MediaPipePoseEstimator(model_info, people_check_interval_s=None) as est:
        frames = [est.process(rgb, t, rgb=True) for t, rgb in render_frames(spec.exercise, spec.side, motion, cam)]
    return PoseSeq.from_frames(frames, frame_wh=(cam.width_px, cam.height_px))


def run_clips(
    specs: list[ClipSpec], cache_dir: Path, model_info=None, progress: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Raw PoseSeq per clip name, from the cache where present, else rendered and posed (then cached)."""
    from formcheck.core.types import PoseSeq
    from formcheck.media.pose import resolve_model

    minfo = resolve_model(model_info)
    cache_dir.mkdir(parents=True, exist_ok=True)
    motions: dict[str, Motion] = {}
    out: dict[str, object] = {}
    for spec in specs:
        path = cache_dir / f"{spec.name}_{cache_key(spec, minfo.sha256)}.npz"
        if path.is_file():
            try:
                out[spec.name] = PoseSeq.load_npz(path)
                continue
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable sweep cache %s (%s)", path, exc)
        t0 = time.perf_counter()
        if spec.exercise not in motions:
            motions[spec.exercise] = build_motion(spec.exercise, spec.side, spec.faults)
        seq = pose_clip(spec, motions[spec.exercise], minfo)
        tmp = path.with_suffix(".tmp.npz")
        seq.save_npz(tmp, clip=spec.name)
        tmp.replace(path)
        out[spec.name] = seq
        if progress is not None:
            progress(
                f"{spec.name}: {len(seq)} frames, {int(seq.detected.sum())} with a person, "
                f"{time.perf_counter() - t0:.1f} s"
            )
    return out


def run_sweep(
    out: Path, *, quick: bool = False, cache_dir: Path | None = None, progress: Callable[[str], None] | None = None
) -> dict:
    """Stage 1 + stage 2: write `out` (JSON) and `out` with suffix .md; returns the table."""
    exercises = QUICK_EXERCISES if quick else tuple(EXERCISES)
    cams = quick_grid() if quick else full_grid()
    specs = clip_specs(exercises, cams)
    specs.sort(key=lambda s: cams.index(s.camera))
    t0, c0 = time.perf_counter(), time.process_time()
    posed: list[str] = []

    def note_progress(msg: str) -> None:
        posed.append(msg)
        if progress is not None:
            progress(msg)

    seqs = run_clips(specs, cache_dir or default_cache_dir(), progress=note_progress)
    posed_s, posed_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    table = build_table(specs, seqs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps_table(table))
    n_frames = sum(len(s) for s in seqs.values())
    note = f"{len(specs)} clips, {n_frames} frames. "
    if posed:
        note += (
            f"This run rendered and posed {len(posed)} clips in {posed_s:.0f} s wall / {posed_cpu_s:.0f} s CPU "
            f"({len(specs) - len(posed)} from the landmark cache)."
        )
    else:
        note += (
            "All clips came from the landmark cache (a full run from scratch: ~5-6 s CPU per clip, "
            "~9 min CPU in all; 20-30 min wall on 2 cores shared with other work, 2026-12-01)."
        )
    out.with_suffix(".md").write_text(render_markdown(table, note))
    return table
