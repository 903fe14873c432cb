"""Issue 19 item 9, the small safety gaps: a dark camera is told "too dark", not "step into view"."""

from __future__ import annotations

import numpy as np

from formcheck.core import feedback as fb
from formcheck.core.landmarks import N_LANDMARKS
from formcheck.core.spec import load_exercise
from formcheck.core.types import PoseFrame

DARK_LUMA = fb.TOO_DARK_LUMA / 4


def test_too_dark_wins_over_no_person_in_the_placement_conditions() -> None:
    spec = load_exercise("squat")
    nan = np.full((N_LANDMARKS, 2), np.nan)
    assert fb.placement_conditions(spec, nan, False, None, DARK_LUMA, ()) == ["too_dark"]
    assert fb.placement_conditions(spec, nan, False, None, 120.0, ()) == ["no_person"]  # lit and empty


def test_the_live_coach_says_too_dark_to_a_dark_empty_camera() -> None:
    from formcheck.core.live import LiveSession
    from formcheck.webapp.live.coach import CoachedSet

    spec = load_exercise("squat")
    views = tuple(str(v) for v in spec.views)
    coached = CoachedSet(lambda: LiveSession("squat"), preview=False, target_reps=10, is_hold=False, views=views)
    said = [coached.update(PoseFrame.empty(i / 15, (640, 480), luma=DARK_LUMA)).message for i in range(60)]
    assert said[-1] is not None and said[-1].text == fb.GUIDANCE_TEXT["too_dark"]


def test_an_upload_too_dark_to_see_anyone_says_too_dark() -> None:
    """The upload's set message follows the live coach: in the dark, the light first, not "no person"."""
    from formcheck.core.offline import analyze_seq
    from formcheck.core.types import PoseSeq

    dark = PoseSeq.from_frames([PoseFrame.empty(i / 15, (640, 480), luma=DARK_LUMA) for i in range(30)])
    assert [m.code for m in analyze_seq(dark, "squat").messages] == ["too_dark"]
