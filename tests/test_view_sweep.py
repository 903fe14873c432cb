"""The view sweep. Default tier: its truth and error machinery on exact landmarks (no MediaPipe). Video tier:
`formcheck sweep --quick` renders mannequin clips at yaw 0 and 90 through MediaPipe (fresh cache, ~1-2 min):
the viewpoint estimator must find the camera, and the committed benchmarks/view_sweep.json must be what the
command produces (same format; the same cells' numbers within tolerances, since MediaPipe's floats differ
slightly between CPUs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.synth import sweep

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "benchmarks" / "view_sweep.json"
# Estimator yaw tolerance on the mannequin (median |error| per clip). Measured 2026-12-01: 2-5 deg facing,
# 1-4 deg side-on (benchmarks/view_sweep.md); the bound allows another CPU's MediaPipe and leaves the
# front/side decision (45 deg apart) unmistakable.
YAW_TOL_DEG = 10.0
# Same cell, this machine's committed run vs a fresh run: |a - b| <= ABS + REL * max(|a|, |b|).
ABS_TOL = {"deg": 3.0, "ratio": 0.04}
REL_TOL = 0.3


def _exact_cells(exercise: str, yaw_deg: float) -> tuple[dict, dict]:
    spec = sweep.clip_specs([exercise], [sweep.CameraSpec(yaw_deg, sweep.NORMAL_HEIGHT_M, sweep.NEAR_M)])[0]
    motion = sweep.build_motion(exercise, spec.side, spec.faults)
    cells, est = sweep.clip_cells(spec, motion, sweep.exact_seq(motion, sweep.sweep_camera(exercise, spec.camera)))
    return {(c["measure"], c["side"]): c for c in cells}, est


def test_exact_landmarks_have_no_3d_error_and_little_frontal_error_square_on():
    """A perfect pose model: 3D measures match the truth whatever the camera (only smoothing remains); 2D
    frontal measures square-on differ only by perspective (~1.5 deg FPPA at 2.7 m); side-on they are lost."""
    front, est0 = _exact_cells("small_knee_bend", 0.0)
    side, est90 = _exact_cells("small_knee_bend", 90.0)
    assert front[("knee_flexion_3d_deg", "max")]["rep"]["p90_abs_err"] < 0.5
    assert side[("knee_flexion_3d_deg", "max")]["rep"]["p90_abs_err"] < 0.5
    assert front[("fppa_deg", "left")]["bottom"]["p90_abs_err"] < 3.0
    assert front[("trunk_lateral_lean_deg", "none")]["rep"]["p90_abs_err"] < 1.0
    assert side[("fppa_deg", "left")]["bottom"]["p90_abs_err"] > 20.0  # why frontal rules need a window
    assert side[("trunk_lateral_lean_deg", "none")]["rep"]["p90_abs_err"] > 20.0
    # the truth does not depend on the camera; the injected faults separate clean from faulty reps
    for key in front:
        assert front[key]["true_clean_bottom"] == side[key]["true_clean_bottom"]
    assert front[("fppa_deg", "left")]["faults"]["knee_valgus"]["true_sep"] > 12.0
    assert est0["yaw"]["p90_abs_err"] < 2.0 and est90["yaw"]["p90_abs_err"] < 3.0


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("sweep")
    out = tmp / "quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "formcheck", "sweep", "--quick", "--out", str(out), "--cache-dir", str(tmp / "cache")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.with_suffix(".md").read_text().startswith("# View sweep")
    return json.loads(out.read_text())


@pytest.mark.video
def test_estimator_finds_the_camera_facing_and_side_on(quick):
    est = {(e["exercise"], e["yaw_deg"]): e for e in quick["estimator"]}
    assert set(est) == {(ex, y) for ex in sweep.QUICK_EXERCISES for y in (0.0, 90.0)}
    for (ex, yaw), e in est.items():
        assert e["detected_share"] > 0.95, (ex, yaw)
        assert e["yaw"]["p50_abs_err"] < YAW_TOL_DEG, (ex, yaw, e)
        assert abs(e["est_yaw_p50_deg"] - yaw) < YAW_TOL_DEG, (ex, yaw, e)
        assert e["confidence_p50"] > 0.5, (ex, yaw, e)


@pytest.mark.video
def test_quick_table_has_the_committed_format_and_numbers(quick):
    committed = json.loads(COMMITTED.read_text())
    assert committed["format"] == quick["format"] == sweep.SWEEP_FORMAT
    assert set(committed) == set(quick)
    assert committed["fps"] == quick["fps"]
    full = {
        (c["exercise"], c["measure"], c["side"], c["yaw_deg"], c["height_m"], c["distance_m"]): c
        for c in committed["cells"]
    }
    assert quick["cells"], "no cells"
    compared = 0
    for c in quick["cells"]:
        key = (c["exercise"], c["measure"], c["side"], c["yaw_deg"], c["height_m"], c["distance_m"])
        assert key in full, f"{key} missing from the committed table: re-run `formcheck sweep`"
        ref = full[key]
        assert set(ref) == set(c) and ref["units"] == c["units"] and ref["truth"] == c["truth"]
        # the geometry-only errors do not involve MediaPipe: equal to rounding
        for part in ("bottom", "rep"):
            for stat, v in c["geometry_only"][part].items():
                w = ref["geometry_only"][part][stat]
                assert (v is None and w is None) or abs(v - w) < 1e-3, (key, part, stat, v, w)
        for part in ("bottom", "rep", "clean_rep", "bottom_clean"):
            assert set(ref[part]) == set(c[part])
            assert abs(ref[part]["n"] - c[part]["n"]) <= max(2, 0.05 * ref[part]["n"]), (key, part)
            for stat in ("p50_abs_err", "p90_abs_err"):
                a, b = ref[part][stat], c[part][stat]
                assert (a is None) == (b is None), (key, part, stat, a, b)
                if a is not None:
                    tol = ABS_TOL[c["units"]] + REL_TOL * max(abs(a), abs(b))
                    assert abs(a - b) <= tol, (key, part, stat, a, b)
                    compared += 1
        # the truth does not depend on MediaPipe: equal to rounding
        for f, sep in c["faults"].items():
            assert abs(ref["faults"][f]["true_sep"] - sep["true_sep"]) < 1e-6, (key, f)
    assert compared >= 20
    est = {(e["exercise"], e["yaw_deg"], e["height_m"], e["distance_m"]): e for e in committed["estimator"]}
    for e in quick["estimator"]:
        ref = est[(e["exercise"], e["yaw_deg"], e["height_m"], e["distance_m"])]
        assert abs(ref["true_yaw_deg"] - e["true_yaw_deg"]) < 0.05
        assert abs(ref["yaw"]["p50_abs_err"] - e["yaw"]["p50_abs_err"]) <= ABS_TOL["deg"] + REL_TOL * max(
            ref["yaw"]["p50_abs_err"], e["yaw"]["p50_abs_err"]
        )
