"""Demo data: `demo_script` replayed through the real programme-day service, every rep stored one by one."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from formcheck.programme.facts import PainKind, PlannedExercise
from formcheck.programme.model import Programme
from formcheck.programme.simulate import DayScript, at_hour, demo_script
from formcheck.store.programme_service import ProgrammeService
from formcheck.store.records import Fault, Person, RepIn
from formcheck.store.store import Store

DEMO_FAULT_REASON = "knee moved inwards (keep it over your second toe)"


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
    """Replay `demo_script` through the real programme-day service; returns the days seeded."""
    script = demo_script(weeks, seed)
    start = end_day - timedelta(days=len(script) - 1)
    clock = _ManualClock(at_hour(start, 8))
    svc = ProgrammeService(store, programme, clock=clock, tz=UTC)
    rng = random.Random(seed)
    for i, day in enumerate(script):
        d = start + timedelta(days=i)
        clock.now = at_hour(d, 8)
        if day.morning_pain is not None:
            svc.checkin(person, day.morning_pain, PainKind.NEXT_DAY)
        if day.skip:
            continue
        clock.now = at_hour(d, 9)
        if svc.plan(person, d).kind != "exercise":
            continue
        pday = svc.start_session(person)
        ready, _ = svc.record_readiness(
            pday.id, massage_done=True, vmo_done=True, skbt_verdict="valid", skbt_pain=day.skbt_pain
        )
        if ready.value != "ready":
            continue
        for ex in svc.plan(person, d).exercises:
            for side in ("left", "right") if ex.sides == 2 else (None,):
                for _ in range(ex.sets):
                    _do_set(svc, clock, rng, pday.id, day, ex, side)
        svc.finish_session(pday.id, pain_during=day.pain_during, pain_after=day.pain_after)
    return len(script)


def _do_set(
    svc: ProgrammeService,
    clock: _ManualClock,
    rng: random.Random,
    day_id: int,
    day: DayScript,
    ex: PlannedExercise,
    side: str | None,
) -> None:
    """One set as a person does it: reps until the target of valid ones (invalid reps carry a fault), then rest."""
    the_set = svc.start_set(day_id, ex.exercise_id, side)
    rep_s, k, valid_count = ex.set_s / ex.reps, 0, 0
    while valid_count < ex.reps and k < 3 * ex.reps:  # invalid reps don't count: do more
        clock.advance(rep_s)
        valid = rng.random() < day.valid_ratio
        valid_count += valid
        faults = () if valid else (Fault("knee_valgus", 14.0 + rng.random() * 4, 12.0, "deg"),)
        svc.store.add_rep(
            the_set.id,
            RepIn(
                idx=k + 1,
                start_s=k * rep_s,
                end_s=(k + 1) * rep_s,
                valid=valid,
                verdict="valid" if valid else "invalid",
                reason="" if valid else DEMO_FAULT_REASON,
                side=side,
                metrics={"knee_flexion_peak_deg": 40.0 + rng.random() * 10},
                faults=faults,
            ),
            at=clock.now,
        )
        k += 1
    svc.end_set(the_set.id)
    clock.advance(ex.rest_s)
