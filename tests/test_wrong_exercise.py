"""Wrong exercise (issue 16 item 5): a set of another standing exercise counts nothing and says what it looks like,
on both drivers, while the asked exercise still counts. Mannequin figures (tests/synthpose.py) with known
movements; `test_cross_on_the_labelled_videos` checks the figures on the real clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthpose import Pose, rep_profile, to_seq

from formcheck.core import wrong_exercise as wx
from formcheck.core.coach import Coach, CoachInput, Kind
from formcheck.core.live import LiveSession
from formcheck.core.offline import analyze_seq
from formcheck.core.results import SetResult
from formcheck.core.types import PoseSeq
from formcheck.webapp.live.coach import rep_news

N_REPS = 4


def _squats(view: str = "front", depth: float = 90.0) -> PoseSeq:
    ph, _ = rep_profile(N_REPS, rep_s=2.5, rest_s=1.0)
    return to_seq([Pose(knee_flex=(depth * p, depth * p), trunk_forward=20.0 * p) for p in ph], view)


def _lunges(view: str = "front") -> PoseSeq:
    ph, _ = rep_profile(N_REPS, rep_s=2.5, rest_s=1.0)
    return to_seq([Pose(step_m=(0.55 * p, -0.35 * p), hip_drop_m=0.35 * p) for p in ph], view)


def _single_leg(view: str = "front") -> PoseSeq:
    ph, _ = rep_profile(N_REPS, rep_s=2.5, rest_s=1.0)
    return to_seq([Pose(knee_flex=(70.0 * p, 10.0), lift_m=(0.0, 0.15)) for p in ph], view)


def _live(seq: PoseSeq, exercise: str) -> tuple[SetResult, list[str]]:
    s = LiveSession(exercise)
    said = [fb.not_counted.why for fb in map(s.update, seq.frames()) if fb.not_counted is not None]
    return s.result(), said


def _codes(res: SetResult) -> list[str]:
    return [m.code for m in res.messages]


@pytest.mark.parametrize("view", ["front", "side"])
def test_the_asked_exercise_still_counts(view: str) -> None:
    for seq, ex in ((_squats(view), "squat"), (_lunges(view), "lunge")):
        up, (live, said) = analyze_seq(seq, ex), _live(seq, ex)
        assert up.rep_count == live.rep_count == N_REPS, (ex, view)
        assert not up.not_counted and not live.not_counted and not said
        assert "wrong_exercise" not in _codes(up) + _codes(live)


@pytest.mark.parametrize("view", ["front", "side"])
def test_lunges_in_a_squat_set_count_nothing_and_say_so(view: str) -> None:
    seq = _lunges(view)
    up, (live, said) = analyze_seq(seq, "squat"), _live(seq, "squat")
    text = "This looks like a lunge: today's set is squats"
    for res in (up, live):
        assert res.rep_count == 0
        assert len(res.not_counted) == N_REPS
        assert all(r.why == text and not r.valid for r in res.not_counted)
        assert [m.text for m in res.messages if m.code == "wrong_exercise"] == [text]
        assert "no_reps" not in _codes(res)
    assert said == [text] * N_REPS  # live: each rep's own verdict reason, as it ends


@pytest.mark.parametrize("view", ["front", "side"])
def test_squats_in_a_lunge_or_single_leg_set_count_nothing(view: str) -> None:
    seq = _squats(view)
    for ex, plural in (("lunge", "lunges"), ("step_down", "step-downs"), ("single_leg_squat", "single-leg squats")):
        for res in (analyze_seq(seq, ex), _live(seq, ex)[0]):
            assert res.rep_count == 0, ex
            words = [m.text for m in res.messages if m.code == "wrong_exercise"]
            assert len(words) == 1 and words[0].startswith("This looks like a squat: today's set is " + plural), ex


def test_a_single_leg_squat_in_a_squat_set_is_named() -> None:
    res = analyze_seq(_single_leg(), "squat")
    assert res.rep_count == 0
    assert [m.text for m in res.messages if m.code == "wrong_exercise"] == [
        "This looks like a single-leg squat or step: today's set is squats"
    ]


def test_the_coach_says_why_a_rep_was_not_counted() -> None:
    seq = _lunges()
    s = LiveSession("squat")
    news = next(rep_news(fb.not_counted) for fb in map(s.update, seq.frames()) if fb.not_counted is not None)
    msg = Coach().update(CoachInput(t_s=0.0, pose=True, new_rep=news))
    assert msg is not None and msg.kind is Kind.REP_FAULT
    assert msg.text == "Not counted: This looks like a lunge: today's set is squats"


def test_unclear_shapes_are_unknown() -> None:
    """Between the clear cases nothing is decided: the rep counts as it did before the check."""
    shape = wx.RepShape
    assert wx.looks_like(shape(80.0, 85.0, 3.0)) is wx.Look.SQUAT
    assert wx.looks_like(shape(60.0, 80.0, 75.0)) is wx.Look.LUNGE
    assert wx.looks_like(shape(5.0, 60.0, 10.0)) is wx.Look.ONE_LEG
    assert wx.looks_like(shape(70.0, 80.0, 35.0)) is None  # stance between side by side and split
    assert wx.looks_like(shape(30.0, 80.0, 5.0)) is None  # knees neither even nor one alone
    assert wx.looks_like(shape(10.0, 20.0, 5.0)) is None  # no clear knee bend
    assert wx.looks_like(wx.UNKNOWN_SHAPE) is None  # the camera gave no world landmarks
    # a shrimp squat's bent free knee reads like a lunge: never called one in a single-leg squat set
    assert wx.other_look("single_leg_squat", shape(50.0, 60.0, 90.0)) is None
    assert wx.other_look("step_down", shape(50.0, 60.0, 90.0)) is wx.Look.LUNGE
    # a lunge whose rear knee MediaPipe lost is not called a single-leg squat
    assert wx.other_look("lunge", shape(5.0, 70.0, 60.0)) is None
    assert wx.other_look("standing_side_leg_raise", shape(20.0, 40.0, np.nan)) is wx.Look.KNEE_BEND


def test_one_odd_rep_never_decides_for_the_set() -> None:
    good, odd = wx.RepShape(80.0, 85.0, 3.0), wx.RepShape(60.0, 80.0, 75.0)
    per_rep, whole = wx.decisions("squat", [good, odd, good, good])
    assert whole is None and per_rep == [None, wx.Look.LUNGE, None, None]
    unclear = wx.RepShape(70.0, 80.0, 35.0)
    per_rep, whole = wx.decisions("squat", [odd, unclear, odd, good])
    assert whole is wx.Look.LUNGE and per_rep == [wx.Look.LUNGE, wx.Look.LUNGE, wx.Look.LUNGE, None]


VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"


@pytest.mark.video
def test_cross_on_the_labelled_videos() -> None:
    """`formcheck eval --cross` on the 60 labelled clips: before the check a wrong exercise counted reps in 264 of
    282 runs; the diagonal (the asked exercise) keeps every rep it counted."""
    if not (VIDEOS / "manifest.json").is_file():
        pytest.skip(f"{VIDEOS} is absent (labelled clips live outside the repository)")
    from formcheck.evaluate_cross import run_cross

    cross = run_cross(VIDEOS / "manifest.json")
    cells = cross["cells"]
    assert cross["wrong_runs"] == 282
    assert cross["wrong_counted"] <= 90, json.dumps(cells)
    assert cells["lunge"]["squat"]["counted"] <= 2 and cells["squat"]["lunge"]["counted"] <= 2
    for r, row in cells.items():
        for ex in ("single_leg_squat", "step_down", "step_up", "standing_side_leg_raise", "squat", "lunge"):
            if ex != r and r in ("lunge", "squat") and ex not in ("single_leg_squat",):
                assert row[ex]["counted"] <= 4, (r, ex)
    assert cells["squat"]["squat"]["reps"] == 111 and cells["lunge"]["lunge"]["reps"] == 72
