"""Programme-day service: the day's flow over the Store (used by the CLI and the web app).

It sits in the store layer because it joins the two below the web: the pure engine (formcheck.programme) and
the Store; the engine's facts are built here from the store's records, one function per fact.

Readiness -> sets -> reps (each stored the moment it is counted, in its own transaction) -> pain after ->
decision. The clock is injected so tests and the demo seeder can replay days; decisions come from the pure engine.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from formcheck.errors import InputError
from formcheck.programme.engine import decide_after_day, judge_readiness, replay
from formcheck.programme.facts import (
    Action,
    ClinicianFact,
    ClinicianKind,
    DayFact,
    DayOutcome,
    DayPlan,
    Decision,
    History,
    PainKind,
    PainReport,
    PlannedExercise,
    Readiness,
    ReadinessFact,
    parse_pain,
)
from formcheck.programme.model import Programme, check_override, load_programme
from formcheck.programme.plan import plan_today
from formcheck.store.records import (
    ClinicianActionRow,
    DayStatus,
    DaySummary,
    PainRow,
    Person,
    ProgrammeDay,
    ReadinessRow,
    RepIn,
    RepRow,
    Role,
    SetRow,
)
from formcheck.store.rows import from_mapping
from formcheck.store.store import Store

log = logging.getLogger(__name__)

SIDES = ("left", "right")
ALERT_SEE_PROFESSIONAL = "see_professional"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def day_fact(s: DaySummary) -> DayFact:
    """A stored programme day as the engine sees it (only a finished day has an end)."""
    ended_at = s.session.finished_at if s.session.status == DayStatus.FINISHED else None
    return from_mapping(DayFact, {**vars(s), **vars(s.session), "ended_at": ended_at})


def pain_report(p: PainRow) -> PainReport:
    return from_mapping(PainReport, {**vars(p), "at": p.created_at})


def readiness_fact(r: ReadinessRow) -> ReadinessFact:
    return from_mapping(ReadinessFact, {**vars(r), "at": r.created_at})


def clinician_fact(a: ClinicianActionRow) -> ClinicianFact:
    return ClinicianFact(
        day=a.day,
        at=a.created_at,
        kind=ClinicianKind(a.kind),
        actor=a.actor_name,
        level=a.payload.get("level"),
        thresholds=tuple(sorted((k, float(v)) for k, v in a.payload.get("thresholds", {}).items())),
        note=a.payload.get("note", ""),
    )


def build_history(store: Store, person: Person) -> History:
    """The engine's immutable view of one person, built from stored rows only (one function per fact)."""
    return History(
        sessions=tuple(day_fact(s) for s in store.session_summaries(person.id)),
        pains=tuple(pain_report(p) for p in store.list_pain(person.id)),
        readiness=tuple(readiness_fact(r) for r in store.list_readiness(person.id)),
        actions=tuple(clinician_fact(a) for a in store.list_clinician_actions(person.id)),
    )


@dataclass(frozen=True)
class RepProgress:
    """What the live page shows after each counted rep."""

    rep: RepRow
    valid_count: int
    target: int
    remaining_s: float

    @property
    def set_done(self) -> bool:
        return self.valid_count >= self.target


@dataclass(frozen=True)
class CheckinResult:
    pain: int
    kind: PainKind
    outcome_action: Action
    outcome_reason: str
    next_level: int


class ProgrammeService:
    """One person-day flow at a time; stateless apart from the Store (safe to share in a web app)."""

    def __init__(
        self,
        store: Store,
        programme: Programme | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        tz: tzinfo | None = None,
    ) -> None:
        self.store = store
        self.programme = programme or load_programme()
        self.clock = clock
        self.tz = tz  # None = the machine's local time zone for "today"

    # ------------------------------------------------------------------------------------------ reading
    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def history(self, person: Person) -> History:
        return build_history(self.store, person)

    def plan(self, person: Person, day: date | None = None) -> DayPlan:
        return plan_today(self.programme, self.history(person), day or self.today())

    def outcomes(self, person: Person, until: date | None = None) -> tuple[DayOutcome, ...]:
        return replay(self.programme, self.history(person), until or self.today())

    def remaining_s(self, person: Person) -> float:
        used = self.store.day_exercise_s(person.id, self.today(), now=self.now())
        return max(0.0, self.programme.day_budget_s - used)

    # ------------------------------------------------------------------------------------------ the day's flow
    def start_session(self, person: Person) -> ProgrammeDay:
        """Resume today's open session or start one at today's level (refused on a rest day)."""
        today = self.today()
        for s in self.store.list_sessions(person.id):
            if s.status == DayStatus.IN_PROGRESS:
                if s.day == today:
                    return s
                self.store.finish_session(s.id, DayStatus.ABANDONED, at=self.now())
        plan = self.plan(person, today)
        if plan.kind != "exercise":
            raise InputError(f"no exercises today: {plan.reason}")
        if plan.remaining_s <= 0:
            raise InputError(f"today's {self.programme.day_budget_min:g} minutes of exercise are done")
        return self.store.start_session(person.id, today, plan.level, at=self.now())

    def record_readiness(
        self,
        session_id: int,
        *,
        massage_done: bool,
        vmo_done: bool,
        skbt_verdict: str | None,
        skbt_pain: object,
    ) -> tuple[Readiness, str]:
        """Store the three readiness steps; a painful Small Knee Bend Test closes the session as 'not ready'."""
        pain = None if skbt_pain is None else parse_pain(skbt_pain)
        pday = self._open_day(session_id)
        fact = ReadinessFact(
            day=pday.day,
            at=self.now(),
            massage_done=massage_done,
            vmo_done=vmo_done,
            skbt_verdict=skbt_verdict,
            skbt_pain=pain,
        )
        person = self.store.get_person_by_id(pday.person_id)
        rules = self.programme.rule_values(self._overrides(person))
        result = judge_readiness(rules, fact)
        self.store.add_readiness(
            pday.person_id,
            pday.day,
            massage_done=massage_done,
            vmo_done=vmo_done,
            skbt_verdict=skbt_verdict,
            skbt_pain=pain,
            session_id=pday.id,
            at=fact.at,
        )
        if result[0] == Readiness.NOT_READY:
            self.store.finish_session(pday.id, DayStatus.NOT_READY, at=self.now())
        return result

    def start_set(self, session_id: int, exercise_id: str, side: str | None = None) -> SetRow:
        """Start the next set of a planned exercise; refused before readiness or past the day's time budget."""
        pday = self._open_day(session_id)
        person = self.store.get_person_by_id(pday.person_id)
        plan = self.plan(person, pday.day)
        if plan.kind != "exercise":
            raise InputError(f"no more exercise today: {plan.reason}")
        if plan.readiness != Readiness.READY:
            raise InputError("do the readiness steps and a pain-free Small Knee Bend Test first")
        planned = self._planned(plan, exercise_id)
        if planned.sides == 2 and side not in SIDES:
            raise InputError(f"{exercise_id} is done per side: choose left or right")
        if planned.sides == 1:
            side = None
        existing = [s for s in self.store.list_sets(pday.id) if s.exercise_id == exercise_id and s.side == side]
        if any(s.ended_at is None for s in self.store.list_sets(pday.id)):
            raise InputError("finish the current set first")
        if len(existing) >= planned.sets:
            raise InputError(f"all {planned.sets} sets of {exercise_id}{' ' + side if side else ''} are done")
        remaining = self.remaining_s(person)
        if remaining < planned.set_s:
            raise InputError(
                f"today's {self.programme.day_budget_min:g}-minute budget is nearly used: {remaining:.0f} s left,"
                f" this set needs about {planned.set_s:.0f} s - stop here for today"
            )
        return self.store.start_set(
            pday.id,
            exercise_id,
            side=side,
            set_index=len(existing) + 1,
            target_reps=planned.reps,
            target_hold_s=planned.hold_s,
            at=self.now(),
        )

    def record_rep(self, set_id: int, rep: RepIn) -> RepProgress:
        """Store one judged rep now (committed before returning); invalid reps keep their reason, not the count."""
        row = self.store.add_rep(set_id, rep, at=self.now())
        valid, target, used = self.store.set_progress(set_id, now=self.now())
        return RepProgress(
            rep=row,
            valid_count=valid,
            target=target,
            remaining_s=max(0.0, self.programme.day_budget_s - used),
        )

    def end_set(self, set_id: int) -> SetRow:
        return self.store.end_set(set_id, at=self.now())

    def finish_session(self, session_id: int, *, pain_during: object, pain_after: object) -> Decision:
        """Store the pain answers and close the session atomically, then record and return the decision."""
        during, after = parse_pain(pain_during), parse_pain(pain_after)
        pday = self._open_day(session_id)
        self.store.finish_session_with_pain(pday.id, pain_during=during, pain_after=after, day=pday.day, at=self.now())
        person = self.store.get_person_by_id(pday.person_id)
        decision = decide_after_day(self.programme, self.history(person))
        self._record_decision(person, decision, session_id=pday.id)
        return decision

    def checkin(self, person: Person, pain: object, kind: PainKind | str = PainKind.NEXT_DAY) -> CheckinResult:
        """A pain report outside the session flow (next-day by default); returns the day's decision so far."""
        value = parse_pain(pain)
        try:
            kind = PainKind(kind)
        except ValueError:
            raise InputError(f"--when must be one of during, after, next_day; got '{kind}'") from None
        today = self.today()
        session_id = None
        if kind in (PainKind.DURING, PainKind.AFTER):
            todays = [s for s in self.store.list_sessions(person.id) if s.day == today]
            session_id = todays[-1].id if todays else None
        self.store.add_pain(person.id, today, kind.value, value, session_id=session_id, at=self.now())
        outcome = replay(self.programme, self.history(person), today)[-1]
        decision = Decision(outcome.day, outcome.action, outcome.next_level, outcome.reason, outcome.flag_clinician)
        if decision.action != Action.HOLD:
            self._record_decision(person, decision, session_id=None)
        return CheckinResult(value, kind, outcome.action, outcome.reason, outcome.next_level)

    # ------------------------------------------------------------------------------------------ clinician controls
    def set_level(self, person: Person, clinician: Person, level: int, note: str = "") -> None:
        if not 1 <= level <= self.programme.max_level:
            raise InputError(f"level must be 1..{self.programme.max_level}, got {level}")
        self._clinician_action(person, clinician, ClinicianKind.SET_LEVEL, {"level": level, "note": note})
        self._resolve_alerts(person, clinician)  # a level set by the clinician answers any open flag

    def hold(self, person: Person, clinician: Person, note: str = "") -> None:
        self._clinician_action(person, clinician, ClinicianKind.HOLD, {"note": note})

    def release(self, person: Person, clinician: Person, note: str = "") -> None:
        self._clinician_action(person, clinician, ClinicianKind.RELEASE, {"note": note})
        self._resolve_alerts(person, clinician)

    def _resolve_alerts(self, person: Person, clinician: Person) -> None:
        for alert in self.store.list_alerts(person_id=person.id):
            self.store.resolve_alert(alert.id, clinician.id, at=self.now())

    def set_thresholds(self, person: Person, clinician: Person, limits: Mapping[str, float], note: str = "") -> None:
        """Per-person {rule_id: limit}: programme rule names change the engine, others go to the analysis rules."""
        clean: dict[str, float] = {}
        for name, value in limits.items():
            if not isinstance(name, str) or not name.replace("_", "").isalnum():
                raise InputError(f"threshold name must be a rule id like 'knee_valgus', got {name!r}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"threshold {name} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise InputError(f"threshold {name} must be a finite number, got {value!r}")
            check_override(name, number)
            clean[name] = number
        if not clean:
            raise InputError("give at least one threshold to change")
        self._clinician_action(person, clinician, ClinicianKind.THRESHOLDS, {"thresholds": clean, "note": note})

    def add_note(self, person: Person, clinician: Person, note: str) -> None:
        if not note.strip():
            raise InputError("a note cannot be empty")
        self._clinician_action(person, clinician, ClinicianKind.NOTE, {"note": note.strip()})

    # ------------------------------------------------------------------------------------------ internals
    def _clinician_action(
        self, person: Person, clinician: Person, kind: ClinicianKind, payload: dict[str, Any]
    ) -> None:
        if clinician.role not in (Role.CLINICIAN, Role.ADMIN):
            raise InputError(f"'{clinician.name}' is not a clinician")
        if clinician.role != Role.ADMIN and person.clinician_id not in (None, clinician.id):
            raise InputError(f"'{person.name}' is not under the care of '{clinician.name}'")
        self.store.add_clinician_action(person.id, clinician.id, kind.value, payload, day=self.today(), at=self.now())

    def _record_decision(self, person: Person, decision: Decision, *, session_id: int | None) -> None:
        self.store.add_level_event(
            person.id,
            decision.day,
            decision.level,
            decision.action.value,
            decision.reason,
            session_id=session_id,
            at=self.now(),
        )
        if decision.flag_clinician:
            self.store.add_alert(person.id, decision.day, ALERT_SEE_PROFESSIONAL, decision.reason, at=self.now())

    def _open_day(self, session_id: int) -> ProgrammeDay:
        pday = self.store.get_session(session_id)
        if pday.status != DayStatus.IN_PROGRESS:
            raise InputError(f"session {session_id} is {pday.status.value}: start a new session")
        return pday

    def _planned(self, plan: DayPlan, exercise_id: str) -> PlannedExercise:
        for ex in plan.exercises:
            if ex.exercise_id == exercise_id:
                return ex
        ids = ", ".join(ex.exercise_id for ex in plan.exercises) or "none: rest day"
        raise InputError(f"'{exercise_id}' is not in today's plan (today: {ids})")

    def _overrides(self, person: Person) -> dict[str, float]:
        merged: dict[str, float] = {}
        for a in self.store.list_clinician_actions(person.id):
            if a.kind == ClinicianKind.THRESHOLDS:
                merged.update({k: float(v) for k, v in a.payload.get("thresholds", {}).items()})
        return merged
