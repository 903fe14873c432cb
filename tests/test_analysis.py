"""Analysis core end to end on synthetic landmark sequences: verdicts, sides, holds, bad input, live == offline."""

from __future__ import annotations

import numpy as np
import pytest
from synthpose import Pose, rep_profile, to_seq

from formcheck.core.landmarks import Lm
from formcheck.core.live import LiveSession
from formcheck.core.offline import analyze_seq
from formcheck.core.results import Verdict
from formcheck.core.types import PoseSeq
from formcheck.errors import InputError, SpecError


def squats(
    n: int = 3,
    *,
    depth: float = 95.0,
    valgus_on: tuple[int, ...] = (),
    valgus: float = 20.0,
    lean_on: tuple[int, ...] = (),
    lean: float = 65.0,
    rep_s: float = 2.0,
) -> list[Pose]:
    ph, spans = rep_profile(n, rep_s=rep_s)
    t = np.arange(len(ph)) / 30.0
    out = []
    for ti, p in zip(t, ph, strict=True):
        k = next((i for i, (a, b) in enumerate(spans) if a <= ti < b), -1)
        v = valgus * p if k in valgus_on else 0.0
        out.append(
            Pose(knee_flex=(depth * p, depth * p), valgus=(v, v), trunk_forward=(lean if k in lean_on else 20.0) * p)
        )
    return out


def lunges(n: int = 4) -> list[Pose]:
    ph, spans = rep_profile(n)
    t = np.arange(len(ph)) / 30.0
    out = []
    for ti, p in zip(t, ph, strict=True):
        k = max(0, next((i for i, (a, b) in enumerate(spans) if a <= ti < b + 1.0), 0))
        front = k % 2  # left leg first
        step = [0.0, 0.0]
        step[front] = 0.55 * p
        step[1 - front] = -0.35 * p
        out.append(Pose(step_m=(step[0], step[1]), hip_drop_m=0.35 * p))
    return out


def live(seq: PoseSeq, exercise: str, **kw):
    s = LiveSession(exercise, **kw)
    feedback = [s.update(f) for f in seq.frames()]
    return s.result(), feedback


def test_clean_front_squats_are_valid_and_live_agrees() -> None:
    seq = to_seq(squats(3), "front", noise_px=1.0)
    res = analyze_seq(seq, "squat")
    assert res.view == "front" and res.rep_count == 3 and res.valid_rep_count == 3
    assert all(not r.faults for r in res.reps) and res.messages == ()
    assert [r.index for r in res.reps] == [1, 2, 3]
    assert res.reps[0].peak["knee_flexion_3d_deg"] == pytest.approx(95.0, abs=3.0)
    lres, fb = live(seq, "squat")
    assert lres.rep_count == 3 and lres.valid_rep_count == 3
    assert [round(r.start_s, 1) for r in lres.reps] == pytest.approx([round(r.start_s, 1) for r in res.reps], abs=0.15)
    # the rep is reported once, on the frame its count went up
    new = [f for f in fb if f.new_rep is not None]
    assert [f.rep_count for f in new] == [1, 2, 3]
    assert all(f.t_s >= f.new_rep.end_s for f in new)


def test_injected_valgus_flagged_on_exactly_that_rep_with_cue_and_overlay() -> None:
    seq = to_seq(squats(3, valgus_on=(1,)), "front")
    res = analyze_seq(seq, "squat")
    assert [r.verdict for r in res.reps] == [Verdict.VALID, Verdict.INVALID, Verdict.VALID]
    (f,) = [f for f in res.reps[1].faults if f.rule == "knee_valgus"]
    assert f.value > f.threshold == 0.10 and f.unit == "ratio"
    assert res.reps[1].why.startswith("Keep your knee over your second toe")
    lres, fb = live(seq, "squat")
    assert [r.verdict for r in lres.reps] == [Verdict.VALID, Verdict.INVALID, Verdict.VALID]
    cue = "Keep your knee over your second toe"
    announced = [f.t_s for f in fb if cue in f.new_cues]
    assert len(announced) == 1  # spoken once, not every frame
    active = [f for f in fb if cue in f.cues]
    assert active[-1].t_s - active[0].t_s >= 1.5  # stays up: no flicker
    flagged = [f for f in fb if cue in f.cues][0]
    assert Lm.LEFT_KNEE in flagged.overlay.fault_landmarks or Lm.RIGHT_KNEE in flagged.overlay.fault_landmarks


def test_side_view_squat_judges_lean_and_depth_and_says_unknown_for_valgus() -> None:
    seq = to_seq(squats(3, lean_on=(0,), depth=95.0), "side")
    res = analyze_seq(seq, "squat")
    assert res.view == "side" and res.rep_count == 3
    assert [sorted(f.rule for f in r.faults if f.severity == "fault") for r in res.reps] == [
        ["trunk_forward_lean"],
        [],
        [],
    ]
    valgus = [c for c in res.reps[2].checks if c.rule == "knee_valgus"][0]
    assert valgus.status == "unknown" and valgus.reason.startswith("unknown — face the camera: turn about")
    assert res.reps[2].verdict is Verdict.VALID


def test_shallow_reps_count_but_are_invalid_and_override_changes_it() -> None:
    seq = to_seq(squats(2, depth=65.0), "side")
    res = analyze_seq(seq, "squat")
    assert res.rep_count == 2 and res.valid_rep_count == 0
    assert all(r.faults[0].rule == "insufficient_depth" for r in res.reps)
    res2 = analyze_seq(seq, "squat", overrides={"insufficient_depth": 40.0})
    assert res2.valid_rep_count == 2


def test_too_fast_reps_are_invalid() -> None:
    res = analyze_seq(to_seq(squats(3, rep_s=0.7), "side"), "squat")
    assert res.rep_count == 3 and all("too_fast" in {f.rule for f in r.faults} for r in res.reps)


@pytest.mark.parametrize("view", ["front", "side"])
def test_alternating_lunges_count_each_leg_with_its_side(view: str) -> None:
    seq = to_seq(lunges(4), view)
    res = analyze_seq(seq, "lunge")
    assert [r.side for r in res.reps] == ["left", "right", "left", "right"]
    assert res.side == "alternating"
    lres, _ = live(seq, "lunge")
    assert [r.side for r in lres.reps] == ["left", "right", "left", "right"]
    forced = analyze_seq(seq, "lunge", side="right")
    assert forced.rep_count == 4 and {r.side for r in forced.reps} == {"right"}


def test_wrong_view_for_the_exercise_gives_unknown_reps_and_a_message() -> None:
    res = analyze_seq(to_seq(squats(2, depth=60.0), "side"), "small_knee_bend")
    assert res.rep_count == 2 and all(r.verdict is Verdict.UNKNOWN for r in res.reps)
    assert "face the camera" in res.reps[0].why
    assert [m.code for m in res.messages] == ["wrong_view"]


def test_plank_hold_timed_only_in_good_form() -> None:
    poses = [Pose()] * 30 + [Pose(pitch=80)] * 300 + [Pose(pitch=80, trunk_forward=-30)] * 150 + [Pose()] * 30
    seq = to_seq(poses, "side")
    res = analyze_seq(seq, "plank")
    h = res.hold
    assert h is not None and res.reps == ()
    assert h.in_position_s == pytest.approx(15.0, abs=0.5)
    assert h.good_form_s == pytest.approx(10.5, abs=0.5)  # the 5 s of sagging (after a 0.5 s debounce) don't count
    sag = [c for c in h.checks if c.rule == "plank_hip_sag"][0]
    assert sag.status == "fault" and sag.value == pytest.approx(30.0, abs=1.0)
    lres, fb = live(seq, "plank")
    assert lres.hold.good_form_s == pytest.approx(h.good_form_s, abs=0.3)
    assert fb[-1].hold_good_s == pytest.approx(lres.hold.good_form_s)


def test_no_person_two_people_dark_and_half_out_of_frame() -> None:
    n = 150
    empty = to_seq([Pose()] * n, present=np.zeros(n, bool))
    res = analyze_seq(empty, "squat")
    assert res.rep_count == 0 and [m.code for m in res.messages] == ["no_person"]
    lres, fb = live(empty, "squat")
    assert lres.messages[0].code == "no_person"
    assert "Step into view of the camera" in fb[-1].guidance and "Step into view of the camera" not in fb[10].guidance
    assert fb[-1].guidance_keys == ("no_person",)
    two = analyze_seq(to_seq(squats(2), "front", n_people=2), "squat")
    assert "two_people" in [m.code for m in two.messages]
    dark = analyze_seq(to_seq(squats(2), "front", luma=12.0), "squat")
    assert "too_dark" in [m.code for m in dark.messages]
    feet = (Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE, Lm.LEFT_HEEL, Lm.RIGHT_HEEL, Lm.LEFT_FOOT_INDEX, Lm.RIGHT_FOOT_INDEX)
    cut = to_seq(squats(2), "front", hidden=feet)
    res = analyze_seq(cut, "squat")
    msg = [m for m in res.messages if m.code == "half_out_of_frame"][0]
    assert "feet not visible: step back" in msg.text and res.rep_count == 0
    _, fb = live(cut, "squat")
    assert "Step back: your whole body must be in view" in fb[-1].guidance


def test_gap_without_person_mid_set_does_not_make_ghost_reps() -> None:
    poses = squats(4)
    present = np.ones(len(poses), bool)
    present[150:240] = False  # 3 s out of frame, covering rep 3
    res = analyze_seq(to_seq(poses, "front", present=present), "squat")
    assert res.rep_count == 3


def test_bad_arguments() -> None:
    with pytest.raises(SpecError, match="unknown exercise 'squats'"):
        LiveSession("squats")
    with pytest.raises(InputError, match="side must be left, right or auto"):
        analyze_seq(to_seq([Pose()] * 5), "squat", side="middle")


def test_every_exercise_runs_on_any_input_without_crashing() -> None:
    from formcheck.core.spec import exercise_ids

    seq = to_seq(squats(1), "front", noise_px=2.0)
    for ex in exercise_ids():
        res = analyze_seq(seq, ex)
        assert res.exercise_id == ex
        s = LiveSession(ex)
        for f in seq.frames():
            s.update(f)
        assert s.result().rep_count == res.rep_count, ex


def test_set_messages_are_the_same_words_live_and_offline() -> None:
    """One definition of the set-level texts (core.feedback): both drivers say the same thing about the same input."""
    n = 150
    cases = [
        (to_seq([Pose()] * n, present=np.zeros(n, bool)), "squat"),
        (to_seq(squats(2), "front", n_people=2, luma=12.0), "squat"),
        (to_seq(squats(2), "front", hidden=(Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE, Lm.LEFT_HEEL, Lm.RIGHT_HEEL)), "squat"),
        (to_seq(squats(2, depth=60.0), "side"), "small_knee_bend"),
    ]
    for seq, exercise in cases:
        offline = [(m.code, m.text) for m in analyze_seq(seq, exercise).messages]
        lres, _ = live(seq, exercise)
        assert offline and [(m.code, m.text) for m in lres.messages] == offline


def test_pipeline_computes_the_series_once_and_shares_them() -> None:
    """formcheck.pipeline: the report equals analyze_seq's, and the angle chart reads the analysis' own table."""
    from formcheck.core.report import report_to_json
    from formcheck.core.smoothing import smooth_seq
    from formcheck.core.spec import load_exercise
    from formcheck.pipeline import analyse_landmarks
    from formcheck.webapp.jobs import angle_chart

    seq = to_seq(squats(3, valgus_on=(1,)), "front", noise_px=2.0)
    done = analyse_landmarks(seq, "squat")
    assert report_to_json(done.report.result) == report_to_json(analyze_seq(seq, "squat"))  # NaN-safe comparison
    rep = load_exercise("squat").rep
    assert rep is not None
    table = done.prepared.table
    signal = table.get(rep.measure, rep.combine)
    assert table.get(rep.measure, rep.combine) is signal  # cached: asked again, not computed again
    np.testing.assert_allclose(done.prepared.smoothed.xyz_px, smooth_seq(seq).xyz_px, rtol=0, atol=1e-9)
    chart = angle_chart(table, "squat", "auto")
    assert chart is not None and len(chart["values"]) == len(signal)
    assert chart["values"][45] == pytest.approx(round(float(signal[45]), 2))
