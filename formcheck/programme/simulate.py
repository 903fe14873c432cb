"""Simulated people: day scripts run through the pure engine (scenario tests) or the real service (demo seed)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from formcheck.programme.facts import DayFact, DayPlan, History, PainKind, PainReport, ReadinessFact
from formcheck.programme.model import Programme
from formcheck.programme.plan import plan_today


@dataclass(frozen=True)
class DayScript:
    """What a simulated person does and reports on one day."""

    skip: bool = False
    morning_pain: int | None = 0  # pain over the last 24 h, checked in at 08:00 (None = no check-in)
    skbt_pain: int = 0
    pain_during: int = 0
    pain_after: int = 0
    valid_ratio: float = 1.0


def at_hour(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def simulate(programme: Programme, start: date, days: Sequence[DayScript]) -> tuple[History, list[DayPlan]]:
    """Closed loop over the pure engine: each day asks plan_today, then 'does' the plan as scripted."""
    history = History()
    plans: list[DayPlan] = []
    for i, script in enumerate(days):
        d = start + timedelta(days=i)
        if script.morning_pain is not None:
            report = PainReport(at=at_hour(d, 8), day=d, pain=script.morning_pain, kind=PainKind.NEXT_DAY)
            history = replace(history, pains=history.pains + (report,))
        plan = plan_today(programme, history, d)
        plans.append(plan)
        if script.skip or plan.kind != "exercise":
            continue
        fact = ReadinessFact(
            day=d,
            at=at_hour(d, 9),
            massage_done=True,
            vmo_done=True,
            skbt_verdict="valid",
            skbt_pain=script.skbt_pain,
        )
        history = replace(history, readiness=history.readiness + (fact,))
        if plan_today(programme, history, d).kind != "exercise":
            continue
        # Only valid reps count, so the person keeps going until the target is met: total = target / ratio.
        target = sum(ex.sets * ex.reps * ex.sides for ex in plan.exercises)
        valid = target if script.valid_ratio > 0 else 0
        total = round(target / script.valid_ratio) if script.valid_ratio > 0 else target
        ended = at_hour(d, 9, 5) + timedelta(seconds=plan.estimated_min * 60)
        session = DayFact(
            id=len(history.sessions) + 1,
            day=d,
            started_at=at_hour(d, 9, 5),
            ended_at=ended,
            level=plan.level,
            valid_reps=valid,
            total_reps=total,
            target_reps=target,
            pain_during=script.pain_during,
            pain_after=script.pain_after,
            exercise_s=plan.estimated_min * 60,
        )
        pains = (
            PainReport(ended, d, script.pain_during, PainKind.DURING, session.id),
            PainReport(ended, d, script.pain_after, PainKind.AFTER, session.id),
        )
        history = replace(history, sessions=history.sessions + (session,), pains=history.pains + pains)
    return history, plans


def demo_script(weeks: int = 4, seed: int = 7) -> list[DayScript]:
    """A plausible recovering runner: early gains, a 2-day setback in week 3, a skipped day now and then."""
    rng = random.Random(seed)
    days: list[DayScript] = []
    for i in range(weeks * 7):
        if i in (5, 19):
            days.append(DayScript(skip=True, morning_pain=None))
        elif i == 15:
            days.append(DayScript(pain_during=5, pain_after=4, valid_ratio=0.7))
        elif i == 16:
            days.append(DayScript(morning_pain=2, skbt_pain=1, pain_during=2, pain_after=1, valid_ratio=0.85))
        else:
            days.append(
                DayScript(
                    morning_pain=rng.choice((0, 0, 1, 1, 2)),
                    skbt_pain=rng.choice((0, 1)),
                    pain_during=rng.choice((0, 1, 1, 2)),
                    pain_after=rng.choice((0, 1)),
                    valid_ratio=rng.choice((0.85, 0.9, 0.95, 1.0)),
                )
            )
    return days
