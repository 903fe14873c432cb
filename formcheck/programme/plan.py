"""Today's plan: the replayed state of a person's programme turned into readiness steps, exercises or a rest day."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from formcheck.programme.engine import BASELINE_OVERRIDE_KEY, Replay, State
from formcheck.programme.facts import DayPlan, History, PlannedExercise, Readiness
from formcheck.programme.model import Programme


def _planned(programme: Programme, level: int) -> tuple[PlannedExercise, ...]:
    """The level's exercises with their dosing and time estimates."""
    return tuple(
        PlannedExercise(
            exercise_id=ex.id,
            sets=ex.sets,
            reps=ex.reps,
            hold_s=ex.hold_s,
            sides=ex.sides,
            rest_s=ex.rest_s,
            set_s=ex.set_s(programme.default_rep_s),
            estimated_s=programme.exercise_s(ex),
            note=ex.note,
        )
        for ex in programme.level(level).exercises
    )


def _messages(st: State) -> tuple[str, ...]:
    """What the person is told beside today's plan: the professional flag, a step back, a clinician's hold."""
    messages: list[str] = []
    if st.flagged_since is not None:
        messages.append(
            "Your knee pain has not settled with the programme: please see a physiotherapist or doctor."
            " Your clinician has been told."
        )
    if st.step_back_return is not None:
        messages.append(f"You stepped back a level; you return to level {st.step_back_return} once it is pain-free.")
    if st.held_by is not None:
        messages.append(f"Your clinician {st.held_by} is holding your level for now.")
    return tuple(messages)


def plan_today(programme: Programme, history: History, today: date) -> DayPlan:
    """Today's plan: readiness steps first, then the level's exercises, or a rest day; with the reason in words."""
    rp = Replay(programme, history)
    st, outcomes = rp.replay(today - timedelta(days=1))
    st = rp.apply_actions(st, today)
    rv = rp.rules(st)
    lv = programme.level(st.level)
    used_s = sum(s.exercise_s for s in history.sessions if s.day == today)
    exercises = _planned(programme, st.level)
    ready = rp.readiness_today(today, rv)
    kind, reason = "exercise", outcomes[-1].reason if outcomes else "first day of the programme"
    pmax = rp.day_max(today)
    if st.rest_day == today:
        kind, reason = "rest", outcomes[-1].reason if outcomes else "rest day"
    elif rp.is_red(pmax, rv, rp.baseline(st, rv)):
        kind, reason = "rest", f"knee pain {pmax}/10 today: no exercises today; rest and check in tomorrow"
    elif ready is not None and ready[0] == Readiness.NOT_READY:
        kind, reason = "rest", ready[1]
    elif programme.day_budget_s - used_s < min((ex.set_s for ex in exercises), default=0.0):
        kind, reason = "rest", f"today's {programme.day_budget_min:g} minutes are done"  # not even one set fits
    return DayPlan(
        day=today,
        level=lv.number,
        level_name=lv.name,
        focus=lv.focus,
        kind=kind,
        readiness_steps=programme.readiness,
        readiness=ready[0] if ready else None,
        exercises=exercises if kind == "exercise" else (),
        estimated_min=programme.day_minutes(lv.number),
        budget_s=programme.day_budget_s,
        used_s=used_s,
        reason=reason,
        messages=_messages(st),
        rule_overrides=tuple((k, v) for k, v in st.overrides if k not in _programme_keys(programme)),
        flag_clinician=st.flagged_since is not None,
    )


def _programme_keys(programme: Programme) -> Mapping[str, object]:
    return dict.fromkeys(type(programme.rules).model_fields) | {BASELINE_OVERRIDE_KEY: None}
