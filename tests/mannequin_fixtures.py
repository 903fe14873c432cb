"""Read the mannequin fixtures' JSON sidecars (tools.synth format "formcheck.mannequin/1") for analysis tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from formcheck.core.spec import load_exercise
from formcheck.core.types import PoseSeq

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "videos"
# Fault ids of the generator -> the rule that must flag them.
FAULT_RULE = {
    "knee_valgus": "knee_valgus",
    "pelvic_drop": "pelvic_drop",
    "trunk_lateral_lean": "trunk_lateral_lean",
    "trunk_forward_lean": "trunk_forward_lean",
    "hip_hiking": "hip_hiking",
    "hip_flexion_drift": "hip_flexion_drift",
    "pelvic_rollback": "pelvic_roll_back",
}
# Ratio rules are checked against a degree-sized injection: a knee moved medially by an FPPA of >= this many
# degrees sits >= 0.10 shank lengths medial of the foot (sin 6 deg ~= 0.10; knee_medial_of_foot_ratio).
RATIO_RULE_MIN_DEG = 10.0


def sidecars() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.json") if p.with_suffix(".mp4").exists())


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def _camera_rotation(cam: dict) -> np.ndarray:
    """Rows: camera x (right), y (down), z (forward) in the scene frame (+y up)."""
    pos, target = np.array(cam["position_m"], float), np.array(cam["target_m"], float)
    z = target - pos
    z /= np.linalg.norm(z)
    up = np.array([0.0, 1.0, 0.0])
    y = -(up - up.dot(z) * z)
    y /= np.linalg.norm(y)
    return np.stack([np.cross(y, z), y, z])


def ground_truth_seq(side: dict) -> PoseSeq:
    """The sidecar's ground-truth landmarks as a PoseSeq (every landmark visible), world in MediaPipe axes."""
    frames = side["frames"]
    px = np.array([f["landmarks_px"] for f in frames], float)
    m = np.array([f["landmarks_m"] for f in frames], float)
    cam = side["camera"]
    r = _camera_rotation(cam)
    pc = (m - np.array(cam["position_m"], float)) @ r.T
    hip_c = (pc[:, 23] + pc[:, 24]) / 2
    # MediaPipe's image z is a learned, exaggerated relative depth that the ground truth cannot reproduce: leave it
    # undefined (NaN), so view classification uses the 2D cues and 3D angles use the world landmarks.
    z_px = np.full(px.shape[:2], np.nan)
    world = pc - hip_c[:, None, :]
    n = len(frames)
    return PoseSeq(
        t_s=np.array([f["t_s"] for f in frames], float),
        frame_wh=tuple(side["frame_wh"]),
        xyz_px=np.concatenate([px, z_px[..., None]], axis=-1),
        visibility=np.ones((n, 33)),
        presence=np.ones((n, 33)),
        world_m=world,
    )


def expected_faults(side: dict) -> list[set[str]]:
    """Per labelled rep, the rules that must fire (injected size at or above the rule's limit)."""
    spec = load_exercise(side["exercise"])
    out = []
    for rep in side["reps"]:
        want = set()
        for f in rep["faults"]:
            rid = FAULT_RULE.get(f["fault"])
            if rid is None or rid not in {r.id for r in spec.rules}:
                continue
            r = spec.rule(rid)
            limit = r.limit if r.unit == "deg" else RATIO_RULE_MIN_DEG
            if abs(f["size_deg"]) >= abs(limit):
                want.add(rid)
        out.append(want)
    return out
