"""The fixture set: which exercise, view, side, reps and injected faults each video has, and the writer that
renders one fixture to an H.264 .mp4 plus its JSON ground-truth sidecar (format in tools/synth/__init__.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from formcheck.core import geometry as geo
from formcheck.core.landmarks import N_LANDMARKS, Lm, Side
from formcheck.mannequin.body import Body, PlantedLeg, Pose, frontal_fppa_deg, landmarks33, pose_skeleton
from formcheck.mannequin.exercises import EXERCISES, FAULTS, Rep, schedule
from formcheck.mannequin.render import Renderer
from formcheck.media.video import H264Writer
from tools.synth.figure import figure_primitives

log = logging.getLogger(__name__)

FORMAT = "formcheck.mannequin/1"
GENERATOR_VERSION = 1
FPS = 30
CRF = 23  # x264 quality; flat-shaded frames stay far below the 2 MB budget at this setting
MAX_FILE_BYTES = 2_000_000

# Fault sizes, chosen clearly above the docs/clinical.md thresholds so a "faulty" rep is unambiguous:
VALGUS_BILATERAL_DEG = 18.0  # FPPA; §3.2 flags ~12-15° (and KASR < 0.7, which 18° per knee gives)
VALGUS_SINGLE_DEG = 20.0  # FPPA; §3.2 single-leg PFP means 15-17°, threshold ~12-15°
PELVIC_DROP_DEG = 20.0  # §3.3 PFP mean 10.3°, threshold ~8-10°; MediaPipe reads ~55% of it (see exercises.py)
TRUNK_LATERAL_DEG = 16.0  # §3.4 PFP ipsilateral lean 9.3°
TRUNK_FORWARD_EXTRA_DEG = 40.0  # §3.4: clean lunge ~7°, this makes ~47° at the bottom
HIP_HIKING_DEG = 15.0  # §3.6: no published number; judgement call, well above noise
HIP_FLEXION_DRIFT_DEG = 30.0  # §3.6: judgement call
PELVIC_ROLLBACK_DEG = 25.0  # §3.6: judgement call


@dataclasses.dataclass(frozen=True)
class Fixture:
    exercise: str
    view: str
    variant: str
    side: Side  # working side: stance leg, front leg (lunge) or top leg (side-lying)
    n_reps: int
    faults: Mapping[int, Mapping[str, float]]  # 1-based rep index -> {fault id: size in degrees}
    description: str

    @property
    def name(self) -> str:
        return f"{self.exercise}_{self.view}_{self.variant}"


def _on(reps: tuple[int, ...], **faults: float) -> dict[int, dict[str, float]]:
    return {r: dict(faults) for r in reps}


FIXTURES: tuple[Fixture, ...] = (
    Fixture("small_knee_bend", "front", "clean", Side.LEFT, 3, {}, "mini squat, knees over the feet"),
    Fixture(
        "small_knee_bend",
        "front",
        "valgus",
        Side.LEFT,
        4,
        _on((2, 4), knee_valgus=VALGUS_BILATERAL_DEG),
        "mini squat, both knees caving in on reps 2 and 4",
    ),
    Fixture(
        "small_knee_bend",
        "front",
        "trunk_lean",
        Side.LEFT,
        4,
        _on((2, 4), trunk_lateral_lean=TRUNK_LATERAL_DEG),
        "mini squat, trunk leaning to the left on reps 2 and 4",
    ),
    Fixture("lunge", "front", "clean", Side.LEFT, 3, {}, "stationary lunge, left leg forward"),
    Fixture(
        "lunge",
        "front",
        "valgus",
        Side.LEFT,
        4,
        _on((2, 4), knee_valgus=VALGUS_SINGLE_DEG),
        "stationary lunge, front knee caving in on reps 2 and 4",
    ),
    Fixture(
        "lunge",
        "front",
        "pelvic_drop",
        Side.LEFT,
        4,
        _on((2, 4), pelvic_drop=PELVIC_DROP_DEG),
        "stationary lunge, rear-side pelvis dropping on reps 2 and 4",
    ),
    Fixture("lunge", "side", "clean", Side.LEFT, 3, {}, "stationary lunge seen from the left, left leg forward"),
    Fixture(
        "lunge",
        "side",
        "trunk_lean",
        Side.LEFT,
        4,
        _on((2, 4), trunk_forward_lean=TRUNK_FORWARD_EXTRA_DEG),
        "stationary lunge seen from the left, excessive forward trunk lean on reps 2 and 4",
    ),
    Fixture("single_leg_squat", "front", "clean", Side.LEFT, 3, {}, "single-leg squat on the left leg"),
    Fixture(
        "single_leg_squat",
        "front",
        "valgus",
        Side.LEFT,
        4,
        _on((2, 4), knee_valgus=VALGUS_SINGLE_DEG),
        "single-leg squat on the left leg, knee caving in on reps 2 and 4",
    ),
    Fixture(
        "single_leg_squat",
        "front",
        "pelvic_drop",
        Side.RIGHT,
        4,
        _on((2, 4), pelvic_drop=PELVIC_DROP_DEG),
        "single-leg squat on the right leg, left pelvis dropping on reps 2 and 4",
    ),
    Fixture("step_down", "front", "clean", Side.RIGHT, 3, {}, "forward step-down, right leg on a 15 cm step"),
    Fixture(
        "step_down",
        "front",
        "valgus_drop",
        Side.RIGHT,
        4,
        {
            2: {"knee_valgus": VALGUS_SINGLE_DEG},
            3: {"pelvic_drop": PELVIC_DROP_DEG},
            4: {"knee_valgus": VALGUS_SINGLE_DEG, "pelvic_drop": PELVIC_DROP_DEG},
        },
        "forward step-down, right stance leg: valgus on rep 2, pelvic drop on rep 3, both on rep 4",
    ),
    Fixture(
        "side_lying_leg_raise",
        "front",
        "clean",
        Side.RIGHT,
        3,
        {},
        "lying on the left side facing the camera, right leg raised to ~40°",
    ),
    Fixture(
        "side_lying_leg_raise",
        "front",
        "hip_hiking",
        Side.RIGHT,
        4,
        _on((2, 4), hip_hiking=HIP_HIKING_DEG),
        "side-lying leg raise, hip hiked towards the ribs on reps 2 and 4",
    ),
    Fixture(
        "side_lying_leg_raise",
        "front",
        "hip_flexion_drift",
        Side.RIGHT,
        4,
        _on((2, 4), hip_flexion_drift=HIP_FLEXION_DRIFT_DEG),
        "side-lying leg raise, the leg drifting forward (hip flexion) on reps 2 and 4",
    ),
    Fixture(
        "side_lying_leg_raise",
        "front",
        "pelvic_rollback",
        Side.RIGHT,
        4,
        _on((2, 4), pelvic_rollback=PELVIC_ROLLBACK_DEG),
        "side-lying leg raise, pelvis rolling backwards on reps 2 and 4",
    ),
)

FIXTURES_BY_NAME: dict[str, Fixture] = {f.name: f for f in FIXTURES}

# The 2D measure (formcheck.core.geometry on the projected ground truth) that shows each fault.
FAULT_MEASURE: dict[str, str] = {
    "knee_valgus": "fppa_deg",
    "pelvic_drop": "pelvic_drop_deg",
    "trunk_lateral_lean": "trunk_lateral_lean_deg",
    "trunk_forward_lean": "trunk_forward_lean_deg",
    "hip_hiking": "pelvis_obliquity_3d_deg",
    "hip_flexion_drift": "hip_flexion_3d_deg",
    "pelvic_rollback": "pelvis_rotation_3d_deg",
}


def stance_side(fx: Fixture) -> Side | None:
    """The side whose hip is the pivot for pelvic drop; None for bilateral or lying exercises."""
    return fx.side if EXERCISES[fx.exercise].stance_side == "working" else None


def _r(x: float, nd: int) -> float | None:
    x = float(x)
    # "+ 0.0" turns -0.0 into 0.0: which of the two a rounding gives differs between CPUs.
    return None if not math.isfinite(x) else round(x, nd) + 0.0


def frame_measures(xy: NDArray, stance: Side | None, pelvic_side: Side) -> dict:
    """Ground-truth 2D measures of one frame, from the projected landmarks through formcheck.core.geometry."""
    both = {}
    for name, fn in (
        ("knee_flexion_deg", geo.knee_flexion_deg),
        ("hip_flexion_deg", geo.hip_flexion_deg),
        ("hip_abduction_deg", geo.hip_abduction_deg),
        ("fppa_deg", geo.fppa_deg),
        ("knee_medial_offset_ratio", geo.knee_medial_offset_ratio),
        ("knee_past_toe_ratio", geo.knee_past_toe_ratio),
    ):
        both[name] = {str(s): _r(fn(xy, s), 3) for s in (Side.LEFT, Side.RIGHT)}
    return {
        **both,
        "pelvic_drop_deg": _r(geo.pelvic_drop_deg(xy, stance or pelvic_side), 3),
        "trunk_lateral_lean_deg": _r(geo.trunk_lateral_lean_deg(xy), 3),
        "trunk_forward_lean_deg": _r(geo.trunk_forward_lean_deg(xy), 3),
        "knee_ankle_width_ratio": _r(geo.knee_ankle_width_ratio(xy), 4),
    }


def pose_truth(pose: Pose, sk_joints: dict, side: Side) -> dict:
    """The generator's own 3D parameters for a frame (what was injected, before any projection)."""
    rb = pose.body_frame()
    fp = {}
    for s in (Side.LEFT, Side.RIGHT):
        fp[str(s)] = _r(
            frontal_fppa_deg(sk_joints[f"hip_{s}"], sk_joints[f"knee_{s}"], sk_joints[f"ankle_{s}"], rb, s), 3
        )
    work_leg = getattr(pose, f"{side}_leg")
    return {
        "frontal_fppa_3d_deg": fp,
        "pelvis_obliquity_3d_deg": _r(pose.pelvis_obliquity_deg, 3),
        "pelvis_rotation_3d_deg": _r(pose.pelvis_rotation_deg, 3),
        "trunk_forward_3d_deg": _r(pose.trunk_forward_deg, 3),
        "trunk_lateral_3d_deg": _r(pose.trunk_lateral_deg, 3),
        "hip_flexion_3d_deg": None if isinstance(work_leg, PlantedLeg) else _r(work_leg.hip_flexion_deg, 3),
        "hip_abduction_3d_deg": None if isinstance(work_leg, PlantedLeg) else _r(work_leg.hip_abduction_deg, 3),
    }


def _active_rep(reps: list[Rep], t_s: float) -> tuple[Rep | None, float]:
    for rep in reps:
        if rep.start_s < t_s < rep.end_s:
            return rep, rep.phase(t_s)
    return None, 0.0


def build(fx: Fixture, body: Body | None = None) -> dict:
    """Everything about a fixture except its pixels: reps, camera, per-frame poses and ground truth.

    Returns a dict with "sidecar" (the JSON document) and "poses" (per-frame Pose) for the renderer."""
    body = body or Body()
    model = EXERCISES[fx.exercise]
    cam = model.cameras[fx.view]
    reps, duration_s = schedule(fx.n_reps, fx.faults, model.tempo)
    n = int(round(duration_s * FPS))
    stance = stance_side(fx)
    frames, poses = [], []
    lm2d_all = np.zeros((n, N_LANDMARKS, 2))
    for i in range(n):
        t = i / FPS
        rep, s = _active_rep(reps, t)
        now = {k: v * s for k, v in (rep.faults.items() if rep else ())}
        pose = model.pose(body, s, now, fx.side, cam if fx.view == "front" else None)
        sk = pose_skeleton(body, pose)
        lm3 = landmarks33(sk, body)
        uv, _ = cam.project(lm3)
        lm2d_all[i] = uv
        poses.append(pose)
        frames.append(
            {
                "i": i,
                "t_s": round(t, 6),
                "rep": rep.index if rep else None,
                "phase": round(s, 4),
                "faults_now": {k: round(v, 3) for k, v in now.items()},
                "landmarks_px": (np.round(uv, 2) + 0.0).tolist(),
                "landmarks_m": (np.round(lm3, 3) + 0.0).tolist(),
                "measures": frame_measures(uv, stance, fx.side),
                "truth_3d": pose_truth(pose, sk.joints, fx.side),
            }
        )
    rep_docs = []
    for rep in reps:
        ib = int(round(rep.bottom_s * FPS))
        fl = []
        for fault, size in rep.faults.items():
            fl.append({"fault": fault, "size_deg": float(size), "measure": FAULT_MEASURE[fault]})
        rep_docs.append(
            {
                "index": rep.index,
                "start_s": round(rep.start_s, 4),
                "bottom_s": round(rep.bottom_s, 4),
                "end_s": round(rep.end_s, 4),
                "side": str(fx.side),
                "faults": fl,
                "at_bottom": {"i": ib, "measures": frames[ib]["measures"], "truth_3d": frames[ib]["truth_3d"]},
            }
        )
    sidecar = {
        "format": FORMAT,
        "generator_version": GENERATOR_VERSION,
        "name": fx.name,
        "video": f"{fx.name}.mp4",
        "description": fx.description,
        "exercise": fx.exercise,
        "view": fx.view,
        "working_side": str(fx.side),
        "stance_side": None if stance is None else str(stance),
        "fps": FPS,
        "frame_count": n,
        "duration_s": round(n / FPS, 4),
        "frame_wh": [cam.width_px, cam.height_px],
        "camera": cam.as_dict(),
        "body": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(body).items()},
        "fault_meanings": {k: FAULTS[k] for k in sorted({f for r in reps for f in r.faults})},
        "landmark_names": [lm.name for lm in Lm],
        "reps": rep_docs,
        "frames": frames,
    }
    return {"sidecar": sidecar, "poses": poses, "lm2d": lm2d_all}


def dumps_sidecar(doc: dict) -> str:
    """JSON text: the header pretty-printed, one line per frame (diffable, still plain JSON)."""
    head = {k: v for k, v in doc.items() if k != "frames"}
    text = json.dumps(head, indent=1, sort_keys=False)
    lines = [json.dumps(f, separators=(",", ":"), allow_nan=False) for f in doc["frames"]]
    return text[:-2] + ',\n "frames": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def write_fixture(fx: Fixture, out_dir: Path, body: Body | None = None) -> tuple[Path, Path]:
    """Render `fx` to out_dir/<name>.mp4 and write out_dir/<name>.json. Deterministic."""
    body = body or Body()
    out_dir.mkdir(parents=True, exist_ok=True)
    built = build(fx, body)
    model = EXERCISES[fx.exercise]
    cam = model.cameras[fx.view]
    renderer = Renderer(cam, props=model.props(fx.side))
    mp4 = out_dir / f"{fx.name}.mp4"
    # threads=1 keeps the bitstream identical from machine to machine (x264 output depends on threads)
    with H264Writer(mp4, fps=FPS, crf=CRF, threads=1) as writer:
        for pose in built["poses"]:
            writer.write(renderer.render(figure_primitives(pose_skeleton(body, pose), body)))
    js = out_dir / f"{fx.name}.json"
    js.write_text(dumps_sidecar(built["sidecar"]))
    log.info("wrote %s (%d bytes) and %s", mp4, mp4.stat().st_size, js.name)
    return mp4, js


def load_sidecar(path: str | Path) -> dict:
    """Read and check a sidecar (format and shapes); raises ValueError when it is not one."""
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} sidecar")
    n = doc["frame_count"]
    if len(doc["frames"]) != n:
        raise ValueError(f"{path}: {len(doc['frames'])} frames, header says {n}")
    for f in doc["frames"]:
        if np.shape(f["landmarks_px"]) != (N_LANDMARKS, 2) or np.shape(f["landmarks_m"]) != (N_LANDMARKS, 3):
            raise ValueError(f"{path}: frame {f['i']} has landmark arrays of the wrong shape")
    return doc


def sidecar_arrays(doc: dict) -> dict[str, NDArray]:
    """Columnar views of a sidecar: t_s (T,), landmarks_px (T, 33, 2), landmarks_m (T, 33, 3)."""
    fr = doc["frames"]
    return {
        "t_s": np.array([f["t_s"] for f in fr]),
        "landmarks_px": np.array([f["landmarks_px"] for f in fr], dtype=np.float64),
        "landmarks_m": np.array([f["landmarks_m"] for f in fr], dtype=np.float64),
    }
