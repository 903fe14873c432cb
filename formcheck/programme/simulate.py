"""Simulated people: day scripts run through the pure engine (scenario tests) or the real service (demo seed)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from formcheck.programme.facts import DayFact, DayPlan, History, PainKind, PainReport, ReadinessFact
from formcheck.programme.model import Programme
from formcheck.programme.plan import plan_today
from formcheck.programme.service import ProgrammeService
from formcheck.store import Fault, Person, RepIn, Store


@dataclass(frozen=True)
class DayScript:
    """What a simulated person does and reports on one day."""

    skip: bool = False
    morning_pain: int | None = 0  # pain over the last 24 h, checked in at 08:00 (None = no check-in)
    skbt_pain: int = 0
    pain_during: int = 0
    pain_after: int = 0
    valid_ratio: float = 1.0


def _at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def simulate(programme: Programme, start: date, days: Sequence[DayScript]) -> tuple[History, list[DayPlan]]:
    """Closed loop over the pure engine: each day asks plan_today, then 'does' the plan as scripted."""
    history = History()
    plans: list[DayPlan] = []
    for i, script in enumerate(days):
        d = start + timedelta(days=i)
        if script.morning_pain is not None:
            report = PainReport(at=_at(d, 8), day=d, pain=script.morning_pain, kind=PainKind.NEXT_DAY)
            history = replace(history, pains=history.pains + (report,))
        plan = plan_today(programme, history, d)
        plans.append(plan)
        if script.skip or plan.kind != "exercise":
            continue
        fact = ReadinessFact(
            day=d,
            at=_at(d, 9),
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
        ended = _at(d, 9, 5) + timedelta(seconds=plan.estimated_min * 60)
        session = DayFact(
            id=len(history.sessions) + 1,
            day=d,
            started_at=_at(d, 9, 5),
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


class _ManualClock:
    """A clock the seeder moves by hand, so seeded rows carry realistic past timestamps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def seed_demo(
    store: Store, programme: Programme, person: Person, *, end_day: date, weeks: int = 4, seed: int = 7
) -> int:
    """Replay `demo_script` through the real session service (every rep stored one by one); returns days seeded."""
    script = demo_script(weeks, seed)
    start = end_day - timedelta(days=len(script) - 1)
    clock = _ManualClock(_at(start, 8))
    svc = ProgrammeService(store, programme, clock=clock, tz=UTC)
    rng = random.Random(seed)
    for i, day in enumerate(script):
        d = start + timedelta(days=i)
        clock.now = _at(d, 8)
        if day.morning_pain is not None:
            svc.checkin(person, day.morning_pain, PainKind.NEXT_DAY)
        if day.skip:
            continue
        clock.now = _at(d, 9)
        if svc.plan(person, d).kind != "exercise":
            continue
        session = svc.start_session(person)
        ready, _ = svc.record_readiness(
            session.id, massage_done=True, vmo_done=True, skbt_verdict="valid", skbt_pain=day.skbt_pain
        )
        if ready.value != "ready":
            continue
        plan = svc.plan(person, d)
        for ex in plan.exercises:
            for side in ("left", "right") if ex.sides == 2 else (None,):
                for _ in range(ex.sets):
                    the_set = svc.start_set(session.id, ex.exercise_id, side)
                    rep_s, k, valid_count = ex.set_s / ex.reps, 0, 0
                    while valid_count < ex.reps and k < 3 * ex.reps:  # invalid reps don't count: do more
                        clock.advance(rep_s)
                        valid = rng.random() < day.valid_ratio
                        valid_count += valid
                        faults = () if valid else (Fault("knee_valgus", 14.0 + rng.random() * 4, 12.0, "deg"),)
                        store.add_rep(
                            the_set.id,
                            RepIn(
                                idx=k + 1,
                                start_s=k * rep_s,
                                end_s=(k + 1) * rep_s,
                                valid=valid,
                                verdict="valid" if valid else "invalid",
                                reason="" if valid else "knee moved inwards (keep it over your second toe)",
                                side=side,
                                metrics={"knee_flexion_peak_deg": 40.0 + rng.random() * 10},
                                faults=faults,
                            ),
                            at=clock.now,
                        )
                        k += 1
                    svc.end_set(the_set.id)
                    clock.advance(ex.rest_s)
        svc.finish_session(session.id, pain_during=day.pain_during, pain_after=day.pain_after)
    return len(script)
