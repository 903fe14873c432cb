"""Every rule's camera-yaw window in the exercise files is the one the committed mannequin sweep gives
(benchmarks/view_windows.py over benchmarks/view_sweep.json), so no window is typed in by hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from formcheck.core.spec import load_all

REPO = Path(__file__).resolve().parents[1]


def _derived() -> dict:
    spec = importlib.util.spec_from_file_location("view_windows", REPO / "benchmarks" / "view_windows.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.windows(json.loads((REPO / "benchmarks" / "view_sweep.json").read_text()))["measures"]


def test_exercise_windows_match_the_sweep() -> None:
    derived = _derived()
    seen = 0
    for ex in load_all().values():
        for r in ex.rules:
            if r.yaw_window_deg is None:
                continue
            seen += 1
            want = derived[r.measure]["window_est_deg"]
            assert want is not None, (ex.id, r.id, "the sweep gives this measure no window")
            assert r.yaw_window_deg == pytest.approx(tuple(want), abs=0.05), (ex.id, r.id)
    assert seen >= 20


def test_frontal_windows_are_narrow_and_sagittal_ones_wide() -> None:
    """The physics the sweep must show: 2D frontal-plane angles are trusted only near square-on, forward lean only
    from well off the front."""
    d = _derived()
    assert d["fppa_deg"]["window_est_deg"][1] <= 15.0
    assert d["trunk_lateral_lean_deg"]["window_est_deg"][1] <= 15.0
    assert d["trunk_forward_lean_deg"]["window_est_deg"][0] >= 15.0


def test_committed_noise_table_is_what_the_sweep_gives() -> None:
    spec = importlib.util.spec_from_file_location("view_windows", REPO / "benchmarks" / "view_windows.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    want = mod.noise_table(json.loads((REPO / "benchmarks" / "view_sweep.json").read_text()))
    got = json.loads((REPO / "formcheck" / "core" / "exercises" / "measure_noise.json").read_text())
    assert set(got["measures"]) == set(want["measures"])
    for m, d in want["measures"].items():
        assert got["measures"][m]["yaw_deg"] == pytest.approx(d["yaw_deg"], abs=0.05)
        assert got["measures"][m]["p50_abs_err"] == pytest.approx(d["p50_abs_err"], abs=1e-3)


def test_sweep_noise_grows_off_axis_for_a_frontal_measure() -> None:
    from formcheck.core.rules import sweep_noise

    assert sweep_noise("fppa_deg", 3.0) < sweep_noise("fppa_deg", 40.0)
    assert sweep_noise("stance_width_ratio", 3.0) != sweep_noise("stance_width_ratio", 3.0)  # NaN: no window
