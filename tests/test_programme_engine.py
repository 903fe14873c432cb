"""Pure decision core: simulated weeks with exact level paths and reasons, decision tables, and a safety property."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from formcheck.errors import InputError
from formcheck.programme import decide_after_day, load_programme, plan_today, replay
from formcheck.programme.engine import NEVER_ADVANCE_PAIN
from formcheck.programme.facts import (
    Action,
    ClinicianFact,
    ClinicianKind,
    DayFact,
    History,
    PainKind,
    PainReport,
    Readiness,
    ReadinessFact,
    parse_pain,
)
from formcheck.programme.simulate import DayScript, simulate

PROG = load_programme()
START = date(2026, 1, 5)  # a Monday
GREEN = DayScript(morning_pain=0, skbt_pain=0, pain_during=1, pain_after=0, valid_ratio=0.9)
SKIP = DayScript(skip=True, morning_pain=None)


def _path(days: list[DayScript]) -> tuple[list[str], History]:
    """Level per day as planned ('R3' = rest day at level 3), and the resulting history."""
    history, plans = simulate(PROG, START, days)
    for plan in plans:  # no day's plan may exceed the 15-minute budget
        assert plan.estimated_min <= 15.0
        assert sum(ex.estimated_s for ex in plan.exercises) + 30.0 <= 15 * 60
    return [str(p.level) if p.kind == "exercise" else f"R{p.level}" for p in plans], history


def _events(history: History, days: int) -> list[tuple[int, Action, int]]:
    until = START + timedelta(days=days - 1)
    return [
        ((o.day - START).days, o.action, o.next_level) for o in replay(PROG, history, until) if o.action != Action.HOLD
    ]


def _levels(*runs: tuple[int, int]) -> list[str]:
    return [str(level) for level, n in runs for _ in range(n)]


# ------------------------------------------------------------------------------------------------ scenarios
def test_steady_improver_moves_up_every_five_green_sessions() -> None:
    path, history = _path([GREEN] * 42)
    assert path == _levels((1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (6, 17))
    assert _events(history, 42) == [
        (4, Action.ADVANCE, 2),
        (9, Action.ADVANCE, 3),
        (14, Action.ADVANCE, 4),
        (19, Action.ADVANCE, 5),
        (24, Action.ADVANCE, 6),
    ]
    last = replay(PROG, history, START + timedelta(days=4))[-1]
    assert last.reason == (
        "5 sessions on separate days at level 1 with at least 80% valid reps, pain at most 2/10 and not worse"
        " the next day: moving up to level 2"
    )
    top = replay(PROG, history, START + timedelta(days=41))[-1]
    assert (top.action, top.reason) == (Action.HOLD, "top level 6: keep going, every day, within 15 minutes")


def test_two_day_setback_in_week_three_steps_back_then_returns() -> None:
    days = [GREEN] * 42
    days[15] = DayScript(morning_pain=0, pain_during=5, pain_after=4, valid_ratio=0.9)  # hurts at level 4
    days[16] = DayScript(morning_pain=4, pain_during=1, pain_after=0)  # still sore next morning: rest day
    days[17] = DayScript(morning_pain=1, pain_during=1, pain_after=0)
    path, history = _path(days)
    assert path == _levels((1, 5), (2, 5), (3, 5), (4, 1)) + ["R3"] + _levels((2, 2), (3, 5), (4, 5), (5, 5), (6, 8))
    assert _events(history, 42) == [
        (4, Action.ADVANCE, 2),
        (9, Action.ADVANCE, 3),
        (14, Action.ADVANCE, 4),
        (15, Action.STEP_BACK, 3),
        (16, Action.STEP_BACK, 2),
        (18, Action.ADVANCE, 3),
        (23, Action.ADVANCE, 4),
        (28, Action.ADVANCE, 5),
        (33, Action.ADVANCE, 6),
    ]
    outcomes = {(o.day - START).days: o for o in replay(PROG, history, START + timedelta(days=20))}
    assert outcomes[15].reason == (
        "knee pain 5/10 today (step back at 4/10 or 2 above your usual 0/10): back to level 3 for 2 days,"
        " then return when pain-free. If it is still 4/10 or more after 3 days, see a physiotherapist or doctor"
    )  # when to seek help, from the unsettled-pain rule (issue 19)
    assert outcomes[17].reason.startswith("stepped back on 2026-01-21: staying at level 2 before returning to level 3")
    assert outcomes[18].reason == "2 days at the easier level and no pain above 2/10: back to level 3"
    assert not any(o.flag_clinician for o in outcomes.values())


def test_a_day_at_7_of_10_says_when_to_seek_help() -> None:
    """Issue 19: a day pain of 7/10 at level 1 rests with a line on when to see a professional (the rule that would
    flag it: still at step-back pain after `unsettled_pain_days` days), not only "rest tomorrow"."""
    painful = replace(GREEN, pain_during=7, pain_after=7)
    _, history = _path([painful])
    out = replay(PROG, history, START)[-1]
    assert out.action == Action.REST
    assert out.reason.endswith("If it is still 4/10 or more after 3 days, see a physiotherapist or doctor"), out.reason


def test_pain_that_never_settles_recommends_a_professional_once() -> None:
    sore = DayScript(morning_pain=5, skbt_pain=2, pain_during=6, pain_after=5)
    path, history = _path([GREEN] * 10 + [sore] * 8)
    assert path == _levels((1, 5), (2, 5)) + ["R3", "R2"] + ["R1"] * 6
    events = _events(history, 18)
    assert events == [
        (4, Action.ADVANCE, 2),
        (9, Action.ADVANCE, 3),
        (10, Action.STEP_BACK, 2),
        (11, Action.STEP_BACK, 1),
    ] + [(d, Action.SEE_PROFESSIONAL, 1) for d in range(12, 18)]
    outcomes = replay(PROG, history, START + timedelta(days=17))
    flagged = [(o.day - START).days for o in outcomes if o.flag_clinician]
    assert flagged == [12]  # the clinician is told once
    assert "pain has not settled: at step-back level on each of the last 3 days" in outcomes[12].reason
    plan = plan_today(PROG, history, START + timedelta(days=18))
    assert plan.flag_clinician and plan.messages[0].startswith("Your knee pain has not settled")


def test_person_who_skips_days_still_progresses_on_pain_free_sessions() -> None:
    path, history = _path([GREEN if i % 2 == 0 else SKIP for i in range(42)])
    assert path == _levels((1, 9), (2, 10), (3, 10), (4, 10), (5, 3))
    assert _events(history, 42) == [
        (8, Action.ADVANCE, 2),
        (18, Action.ADVANCE, 3),
        (28, Action.ADVANCE, 4),
        (38, Action.ADVANCE, 5),
    ]


def test_repeated_regressions_within_three_weeks_flag_a_professional() -> None:
    hurt = DayScript(morning_pain=0, pain_during=4, pain_after=2)
    days = [GREEN] * 30
    for d in (12, 17, 22):  # three separate setbacks inside 21 days, each settling in between
        days[d] = hurt
    path, history = _path(days)
    events = _events(history, 30)
    kinds = [(d, a) for d, a, _ in events if a != Action.ADVANCE]
    assert kinds == [(12, Action.STEP_BACK), (17, Action.STEP_BACK), (22, Action.SEE_PROFESSIONAL)]
    see = replay(PROG, history, START + timedelta(days=22))[-1]
    assert see.flag_clinician and "3 step-backs in 21 days" in see.reason
    assert all(a != Action.ADVANCE for d, a, _ in events if d > 22)  # paused until a clinician reviews it


# ------------------------------------------------------------------------------------------------ decision tables
def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _session(i: int, day: date, level: int, during: int, after: int, valid: int = 0, total: int = 0) -> DayFact:
    """A session at `level`; by default exactly the programme's day target of valid reps, none invalid."""
    target = PROG.target_reps(level)
    return DayFact(
        i,
        day,
        _at(day),
        _at(day, 10),
        level,
        valid or target,
        total or valid or target,
        target,
        during,
        after,
        600.0,
    )


def _green_history(n: int, level: int = 1) -> History:
    return History(sessions=tuple(_session(i, START + timedelta(days=i), level, 1, 0) for i in range(n)))


def test_pain_report_wins_over_a_perfect_rep_count() -> None:
    hist = replace(
        _green_history(4), sessions=_green_history(4).sessions + (_session(9, START + timedelta(4), 1, 4, 2),)
    )
    decision = decide_after_day(PROG, hist)
    assert decision.action == Action.REST and decision.level == 1  # already at level 1: rest tomorrow
    hist2 = History(
        sessions=tuple(_session(i, START + timedelta(days=i), 3, 1, 0) for i in range(4))
        + (_session(9, START + timedelta(4), 3, 1, 4),),
        actions=(ClinicianFact(START, _at(START, 7), ClinicianKind.SET_LEVEL, "doc", level=3),),
    )
    decision = decide_after_day(PROG, hist2)
    assert (decision.action, decision.level) == (Action.STEP_BACK, 2)


def test_amber_pain_holds_and_low_valid_ratio_does_not_qualify() -> None:
    base = _green_history(4)
    amber = replace(
        base,
        sessions=base.sessions + (_session(9, START + timedelta(4), 1, 3, 1),),
        readiness=(ReadinessFact(START, _at(START, 8), True, True, "valid", 2),),
    )  # usual pain 2/10
    decision = decide_after_day(PROG, amber)
    assert decision.action == Action.HOLD
    assert decision.reason == "knee pain 3/10 is above the comfortable 2/10: stay at level 1 and re-test tomorrow"
    sloppy = replace(base, sessions=base.sessions + (_session(9, START + timedelta(4), 1, 1, 0, valid=120, total=180),))
    decision = decide_after_day(PROG, sloppy)
    assert (decision.action, decision.reason) == (
        Action.HOLD,
        "4 of 5 qualifying sessions at level 1: keep going",
    )
    assert decide_after_day(PROG, _green_history(5)).action == Action.ADVANCE


def test_worse_next_morning_disqualifies_the_previous_session() -> None:
    usual = tuple(
        ReadinessFact(START + timedelta(d), _at(START + timedelta(d), 8), True, True, "valid", 2) for d in range(3)
    )  # usual pain 2/10, so a 3 the next morning is amber, not a step back
    hist = replace(_green_history(5), readiness=usual)
    assert decide_after_day(PROG, hist).action == Action.ADVANCE
    morning = PainReport(_at(START + timedelta(days=2), 7), START + timedelta(days=2), 3, PainKind.NEXT_DAY)
    decision = decide_after_day(PROG, replace(hist, pains=(morning,)))
    assert (decision.action, decision.reason) == (
        Action.HOLD,
        "4 of 5 qualifying sessions at level 1: keep going",
    )


def test_readiness_gate() -> None:
    rules = PROG.rule_values()
    day = START
    from formcheck.programme import judge_readiness

    cases = [
        (ReadinessFact(day, _at(day), True, True, "valid", 1), Readiness.READY),
        (ReadinessFact(day, _at(day), True, True, "self", 0), Readiness.READY),
        (ReadinessFact(day, _at(day), True, True, "valid", 3), Readiness.NOT_READY),
        (ReadinessFact(day, _at(day), True, True, "unknown", 0), Readiness.RETRY),
        (ReadinessFact(day, _at(day), True, True, "invalid", 0), Readiness.RETRY),
        (ReadinessFact(day, _at(day), False, True, "valid", 0), Readiness.INCOMPLETE),
        (ReadinessFact(day, _at(day), True, True, "valid", None), Readiness.INCOMPLETE),
    ]
    assert [judge_readiness(rules, f)[0] for f, _ in cases] == [want for _, want in cases]
    painful = History(readiness=(cases[2][0],))
    plan = plan_today(PROG, painful, day)
    assert plan.kind == "rest" and plan.exercises == ()
    assert plan.reason.startswith("the Small Knee Bend Test hurt (3/10, ready means at most 2/10)")
    assert replay(PROG, painful, day)[-1].action == Action.REST
    retry = plan_today(PROG, History(readiness=(cases[3][0],)), day)
    assert retry.kind == "exercise" and retry.readiness == Readiness.RETRY


def test_plan_today_readiness_first_and_within_budget() -> None:
    plan = plan_today(PROG, History(), START)
    assert [s.id for s in plan.readiness_steps] == ["massage", "vmo", "small_knee_bend"]
    assert plan.readiness is None and plan.level == 1 and plan.kind == "exercise"
    assert [e.exercise_id for e in plan.exercises] == [
        "straight_leg_raise",
        "side_lying_leg_raise",
        "glute_bridge",
    ]
    assert plan.estimated_min == pytest.approx(640 / 60)
    assert plan.remaining_s == 900.0
    used = History(sessions=(replace(_session(1, START, 1, 0, 0), exercise_s=900.0),))
    assert plan_today(PROG, used, START).kind == "rest"


def test_clinician_controls_change_the_decision() -> None:
    hist = _green_history(5)
    hold = ClinicianFact(START, _at(START, 7), ClinicianKind.HOLD, "dr_who", note="wait for scan")
    held = decide_after_day(PROG, replace(hist, actions=(hold,)))
    assert (held.action, held.reason) == (Action.HOLD, "progression held by clinician dr_who")
    release = ClinicianFact(START + timedelta(4), _at(START + timedelta(4), 7), ClinicianKind.RELEASE, "dr_who")
    assert decide_after_day(PROG, replace(hist, actions=(hold, release))).action == Action.ADVANCE
    fewer = ClinicianFact(
        START,
        _at(START, 7),
        ClinicianKind.THRESHOLDS,
        "dr_who",
        thresholds=(("advance_after_sessions", 2.0), ("knee_valgus", 15.0)),
    )
    path = [o.action for o in replay(PROG, replace(_green_history(2), actions=(fewer,)), START + timedelta(1))]
    assert path == [Action.HOLD, Action.ADVANCE]
    plan = plan_today(PROG, History(actions=(fewer,)), START)
    assert plan.rule_overrides == (("knee_valgus", 15.0),)  # analysis thresholds travel with the plan
    set4 = ClinicianFact(START, _at(START, 7), ClinicianKind.SET_LEVEL, "dr_who", level=4)
    assert plan_today(PROG, History(actions=(set4,)), START + timedelta(3)).level == 4


def test_parse_pain_bad_inputs() -> None:
    assert [parse_pain(x) for x in ("0", " 7 ", 10, "10")] == [0, 7, 10, 10]
    for bad, msg in (
        ("-1", "from 0 to 10, got -1"),
        ("11", "from 0 to 10, got 11"),
        ("abc", "got 'abc'"),
        ("2.5", "got '2.5'"),
        ("", "got ''"),
        (True, "got True"),
    ):
        with pytest.raises(InputError, match=msg):
            parse_pain(bad)


# ------------------------------------------------------------------------------------------------ safety property
PAIN = st.integers(min_value=0, max_value=10)
MAYBE_PAIN = st.one_of(st.none(), PAIN)
KINDS = st.sampled_from(list(PainKind))
VERDICT = st.sampled_from(["valid", "unknown"])
LEVEL = st.integers(1, 6)
ACTION_KIND = st.sampled_from([ClinicianKind.HOLD, ClinicianKind.RELEASE, ClinicianKind.THRESHOLDS])


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Arbitrary (even inconsistent) histories of up to 3 weeks; clinicians may hold, release, tune thresholds."""
    n_days = draw(st.integers(min_value=1, max_value=21))
    sessions, pains, readiness, actions = [], [], [], []
    for i in range(n_days):
        day = START + timedelta(days=i)
        if draw(st.booleans()):
            pains.append(PainReport(_at(day, 7), day, draw(PAIN), draw(KINDS)))
        if draw(st.booleans()):
            readiness.append(ReadinessFact(day, _at(day, 8), True, True, draw(VERDICT), draw(MAYBE_PAIN)))
        if draw(st.integers(0, 3)) > 0:
            total = draw(st.integers(0, 60))
            sessions.append(
                DayFact(
                    i + 1,
                    day,
                    _at(day),
                    _at(day, 10),
                    draw(LEVEL),
                    draw(st.integers(0, total)),
                    total,
                    draw(st.integers(1, 60)),
                    draw(MAYBE_PAIN),
                    draw(MAYBE_PAIN),
                    600.0,
                )
            )
        if draw(st.integers(0, 9)) == 0:
            kind = draw(ACTION_KIND)
            limits = ()
            if kind == ClinicianKind.THRESHOLDS:
                limits = (
                    ("advance_after_sessions", float(draw(st.integers(1, 3)))),
                    ("step_back_pain", float(draw(st.integers(4, 8)))),
                    ("no_advance_window_days", 2.0),
                )
            actions.append(ClinicianFact(day, _at(day, 6), kind, "doc", thresholds=limits))
    return History(sessions=tuple(sessions), pains=tuple(pains), readiness=tuple(readiness), actions=tuple(actions))


def _day_pain(history: History, day: date) -> int:
    values = [p.pain for p in history.pains if p.day == day]
    values += [v for s in history.sessions if s.day == day for v in (s.pain_during, s.pain_after) if v is not None]
    values += [r.skbt_pain for r in history.readiness if r.day == day and r.skbt_pain is not None]
    return max(values, default=-1)


def _loosened_history() -> History:
    """A clinician made pain 5 'not a step back' and one session enough: only the safety gate stops advancing."""
    loose = ClinicianFact(
        START,
        _at(START, 6),
        ClinicianKind.THRESHOLDS,
        "doc",
        thresholds=(("advance_after_sessions", 1.0), ("step_back_pain", 8.0), ("baseline_pain", 5.0)),
    )
    day1 = START + timedelta(days=1)
    return History(
        sessions=(_session(1, day1, 1, 1, 0),),
        pains=(PainReport(_at(START, 20), START, 5, PainKind.AFTER),),
        actions=(loose,),
    )


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
@example(_loosened_history())
def test_never_advances_anyone_with_pain_4_or_more_in_the_last_two_days(history: History) -> None:
    last = max(s.day for s in history.sessions) if history.sessions else START
    for o in replay(PROG, history, last + timedelta(days=1)):
        recent = max(_day_pain(history, o.day), _day_pain(history, o.day - timedelta(days=1)))
        if recent >= NEVER_ADVANCE_PAIN:
            assert o.action != Action.ADVANCE, o
            assert o.next_level <= o.level, o
    if history.sessions:
        decision = decide_after_day(PROG, history)
        recent = max(_day_pain(history, decision.day), _day_pain(history, decision.day - timedelta(days=1)))
        if recent >= NEVER_ADVANCE_PAIN:
            assert decision.action != Action.ADVANCE


def test_safety_gate_holds_even_when_a_clinician_loosens_the_pain_rules() -> None:
    """Step-back pain raised to 8 and a usual pain of 5: pain 5 is no longer a step back, but still blocks advancing."""
    hist = _loosened_history()
    day1 = START + timedelta(days=1)
    outcomes = replay(PROG, hist, day1)
    assert [o.action for o in outcomes] == [Action.HOLD, Action.HOLD]
    assert outcomes[0].reason == "knee pain 5/10 is above the comfortable 2/10: stay at level 1 and re-test tomorrow"
    later = replace(hist, sessions=hist.sessions + (_session(2, START + timedelta(days=2), 1, 1, 0),))
    assert decide_after_day(PROG, later).action == Action.ADVANCE  # once the 2-day window has passed
