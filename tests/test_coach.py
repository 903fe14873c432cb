"""The one-message coach and the countdown gate (pure state machines over frame times)."""

from __future__ import annotations

import pytest

from formcheck.core.coach import (
    COUNTDOWN_S,
    MIN_SHOW_S,
    READY_HOLD_S,
    REP_MESSAGE_S,
    Coach,
    CoachInput,
    GateState,
    Kind,
    RepNews,
    SetGate,
    in_start_position,
)

DT = 1 / 30


def run(coach: Coach, inputs: list[CoachInput]):
    return [coach.update(x) for x in inputs]


def test_nobody_in_view_is_never_good():
    coach = Coach()
    msgs = run(coach, [CoachInput(t_s=i * DT, pose=False, valid_reps=3, target_reps=10) for i in range(90)])
    assert {m.kind for m in msgs} == {Kind.PLACEMENT}
    assert all("good" not in m.text.lower() and "keep going" not in m.text.lower() for m in msgs)
    assert [m.speak for m in msgs if m.speak] == ["Step into view of the camera"]  # said once, not 30 times a second


def test_priority_safety_then_placement_then_rep_fault_then_encouragement():
    c = Coach()
    rep = RepNews(index=2, valid=False, reason="Keep your knee over your second toe")
    x = CoachInput(
        t_s=0.0,
        pose=True,
        placement=(("step_back", "Step back"),),
        live_cues=("Chest up",),
        new_rep=rep,
        safety="Stop — rest your knee",
        valid_reps=1,
        target_reps=10,
    )
    assert c.update(x).kind is Kind.SAFETY
    c = Coach()
    assert c.update(CoachInput(**{**x.__dict__, "safety": None})).kind is Kind.PLACEMENT
    c = Coach()
    m = c.update(CoachInput(**{**x.__dict__, "safety": None, "placement": ()}))
    assert m.kind is Kind.REP_FAULT and m.text == "Not counted: Keep your knee over your second toe"
    c = Coach()
    m = c.update(CoachInput(t_s=0.0, pose=True, valid_reps=4, target_reps=10))
    assert m.kind is Kind.ENCOURAGE and m.text == "Keep going — 6 to go" and m.speak is None


def test_a_rejected_rep_keeps_the_message_no_good_beside_it():
    c = Coach()
    rep = RepNews(index=1, valid=False, reason="Keep your hips level")
    msgs = [c.update(CoachInput(t_s=0.0, pose=True, new_rep=rep, target_reps=5))]
    t = DT
    while t < REP_MESSAGE_S + 1.0:
        msgs.append(c.update(CoachInput(t_s=t, pose=True, target_reps=5)))
        t += DT
    shown_fault = [m for m in msgs if m.kind is Kind.REP_FAULT]
    assert len(shown_fault) == pytest.approx(REP_MESSAGE_S / DT, abs=2)
    first_other = next(i for i, m in enumerate(msgs) if m.kind is not Kind.REP_FAULT)
    assert all(m.kind is Kind.REP_FAULT for m in msgs[:first_other])
    assert msgs[0].speak == "Not counted: Keep your hips level"


def test_a_shown_message_is_held_against_a_lower_priority_change():
    c = Coach()
    c.update(CoachInput(t_s=0.0, pose=True, live_cues=("Chest up",), target_reps=5))
    held = c.update(CoachInput(t_s=MIN_SHOW_S / 2, pose=True, live_cues=("Knees out",), target_reps=5))
    assert held.text == "Chest up"
    later = c.update(CoachInput(t_s=MIN_SHOW_S + 0.1, pose=True, live_cues=("Knees out",), target_reps=5))
    assert later.text == "Knees out"
    assert c.update(CoachInput(t_s=MIN_SHOW_S + 0.2, pose=False)).kind is Kind.PLACEMENT  # more important: at once


def test_gate_counts_down_only_after_the_start_position_is_held():
    g = SetGate()
    states, words = [], []
    t = 0.0
    for i in range(int(8 / DT)):
        ready = i * DT >= 1.0  # walking into place for 1 s
        st = g.update(t, ready)
        states.append(st.state)
        if st.word():
            words.append((round(t, 2), st.word()))
        t += DT
    first_count = states.index(GateState.COUNTING) * DT
    assert first_count == pytest.approx(1.0 + READY_HOLD_S + COUNTDOWN_S, abs=2 * DT)
    spoken = []
    for _, w in words:
        if not spoken or spoken[-1] != w:
            spoken.append(w)
    assert spoken == ["3", "2", "1", "Go"]


def test_gate_goes_back_to_positioning_when_the_person_leaves_during_the_countdown():
    g = SetGate()
    t = 0.0
    for _ in range(int((READY_HOLD_S + 1.5) / DT)):
        g.update(t, True)
        t += DT
    assert g.state is GateState.COUNTDOWN
    assert g.update(t, False).state is GateState.POSITIONING
    st = None
    for _ in range(int((READY_HOLD_S + COUNTDOWN_S - 0.2) / DT)):
        t += DT
        st = g.update(t, True)
    assert st.state is GateState.COUNTDOWN  # a full countdown again, not the rest of the old one


@pytest.mark.parametrize(
    ("pose", "codes", "phase", "hold", "ready"),
    [
        (True, (), "start", False, True),
        (True, (), "down", False, False),
        (True, ("step_back",), "start", False, False),
        (False, (), "start", False, False),
        (True, (), "out", True, True),
    ],
)
def test_in_start_position(pose, codes, phase, hold, ready):
    """The gate asks for the start position, never for a camera view (issue 16: a side or oblique view counts)."""
    assert in_start_position(pose, codes, phase, hold) is ready


def test_placement_is_not_spoken_mid_rep_unless_the_person_left():
    c = Coach()
    x = CoachInput(t_s=0.0, pose=True, placement=(("step_back", "Step back"),), mid_rep=True, counting=True)
    shown = c.update(x)
    assert shown is None or shown.key != "step_back"
    gone = CoachInput(t_s=0.1, pose=False, placement=(("no_person", "Step into view"),), mid_rep=True)
    assert c.update(gone).key == "no_person"


def test_a_borderline_rep_counts_and_says_the_cue():
    """Issue 16 item 3: a value within the measure's noise of its limit is a cue on a good rep, never "not counted"."""
    from formcheck.core.results import Rep, Verdict
    from formcheck.core.rules import Check, Status

    near = Check(
        "knee_valgus", Status.OK, 0.12, 0.10, "ratio", "fault", "Keep your knee over your second toe", noise=0.03
    )
    clear = Check("trunk_lateral_lean", Status.OK, 3.0, 10.0, "deg", "fault", "Stay upright")
    rep = Rep(1, None, 0.0, 1.0, 2.0, "front", {}, {}, (), (near, clear), Verdict.VALID, "")
    assert rep.valid and rep.borderline == (near,)
    c = Coach()
    news = RepNews(index=1, valid=True, reason="", borderline=near.cue)
    m = c.update(CoachInput(t_s=0.0, pose=True, new_rep=news, valid_reps=1, target_reps=5))
    assert m.kind == Kind.REP_GOOD and m.text.startswith("Good rep, but close: Keep your knee") and m.speak == "Good"
