"""The yaw windows at work on the mannequin (issue 9: "a view-sweep test on the mannequins that asserts rules
are unknown outside their window and right inside it"): the same mini squats with injected knee valgus, filmed
square-on and from 45 deg, through MediaPipe and the whole analysis."""

from __future__ import annotations

import pytest

from formcheck.core.offline import analyze_seq
from formcheck.core.rules import Status
from tools.synth import sweep

pytestmark = pytest.mark.video

EXERCISE = "small_knee_bend"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    cams = [
        sweep.CameraSpec(0.0, sweep.NORMAL_HEIGHT_M, sweep.NEAR_M),
        sweep.CameraSpec(45.0, sweep.NORMAL_HEIGHT_M, sweep.NEAR_M),
    ]
    specs = sweep.clip_specs([EXERCISE], cams)
    seqs = sweep.run_clips(specs, tmp_path_factory.mktemp("sweep-cache"))
    return {s.camera.yaw_deg: (s, seqs[s.name]) for s in specs}


def _checks(result, rule: str) -> list:
    return [next(c for c in r.checks if c.rule == rule) for r in result.reps]


def test_inside_its_window_valgus_is_found_on_the_valgus_rep_only(clips) -> None:
    spec, seq = clips[0.0]
    faults = [f for f, _ in spec.faults]
    res = analyze_seq(seq, EXERCISE)
    assert res.rep_count == 1 + len(faults)
    valgus = _checks(res, "knee_valgus")
    assert valgus[0].status is Status.OK  # the clean rep
    assert valgus[1 + faults.index("knee_valgus")].status is Status.FAULT
    assert not any(f.severity == "fault" for f in res.reps[0].faults)


def test_outside_its_window_every_frontal_rule_is_unknown_with_a_turn(clips) -> None:
    _, seq = clips[45.0]
    res = analyze_seq(seq, EXERCISE)
    assert res.rep_count >= 2
    for rule in ("knee_valgus", "trunk_lateral_lean"):
        for c in _checks(res, rule):
            assert c.status is Status.UNKNOWN, (rule, c)
            assert c.reason.startswith("unknown — face the camera") or "turn" in c.reason, c.reason
    # never a fault presented as a verdict from a camera that cannot see it
    assert all(f.severity != "fault" or f.rule == "too_fast" for r in res.reps for f in r.faults)
    assert all(r.verdict != "invalid" or any(f.rule == "too_fast" for f in r.faults) for r in res.reps)
