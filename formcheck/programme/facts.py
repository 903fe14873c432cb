"""The programme engine's values: what it decides from (a person's history as facts) and what it answers.

All frozen: the service builds them from stored rows (one function per fact, in service.py), the engine reads them.
A `DayFact` is one programme day as stored (a row of the store's `sessions` table with its counts and pain).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from formcheck.errors import InputError
from formcheck.programme.model import ReadinessStep

PAIN_MIN = 0
PAIN_MAX = 10


class Action(enum.StrEnum):
    HOLD = "hold"
    ADVANCE = "advance"
    STEP_BACK = "step_back"
    SEE_PROFESSIONAL = "see_professional"
    REST = "rest"


class PainKind(enum.StrEnum):
    READINESS = "readiness"  # the Small Knee Bend Test's pain question
    DURING = "during"
    AFTER = "after"
    NEXT_DAY = "next_day"  # pain in the last 24 hours, asked the day after


class ClinicianKind(enum.StrEnum):
    SET_LEVEL = "set_level"
    HOLD = "hold"
    RELEASE = "release"
    THRESHOLDS = "thresholds"
    NOTE = "note"


class Readiness(enum.StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"  # the test hurt: tissue work or a rest day, re-test tomorrow
    RETRY = "retry"  # the camera could not judge the test: redo it
    INCOMPLETE = "incomplete"  # a preparation step or the pain answer is missing


def parse_pain(raw: object) -> int:
    """A pain score as typed by a person: a whole number 0..10, else InputError."""
    if isinstance(raw, bool):
        raise InputError(f"pain must be a whole number from 0 to 10, got {raw!r}")
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        try:
            value = int(text)
        except ValueError:
            raise InputError(f"pain must be a whole number from 0 to 10, got '{text}'") from None
    if not PAIN_MIN <= value <= PAIN_MAX:
        raise InputError(f"pain must be from 0 to 10, got {value}")
    return value


# --------------------------------------------------------------------------------------------- history values
@dataclass(frozen=True)
class PainReport:
    at: datetime
    day: date
    pain: int
    kind: PainKind
    session_id: int | None = None


@dataclass(frozen=True)
class DayFact:
    """One programme day as stored: the level it was done at, rep counts and its pain answers."""

    id: int
    day: date
    started_at: datetime
    ended_at: datetime | None
    level: int
    valid_reps: int
    total_reps: int
    target_reps: int
    pain_during: int | None
    pain_after: int | None
    exercise_s: float = 0.0

    @property
    def finished(self) -> bool:
        return self.ended_at is not None and self.pain_after is not None

    @property
    def valid_rep_ratio(self) -> float:
        return self.valid_reps / self.total_reps if self.total_reps else float("nan")


@dataclass(frozen=True)
class ReadinessFact:
    day: date
    at: datetime
    massage_done: bool
    vmo_done: bool
    skbt_verdict: str | None  # analysis verdict "valid" | "invalid" | "unknown", or "self" when judged without camera
    skbt_pain: int | None


@dataclass(frozen=True)
class ClinicianFact:
    day: date
    at: datetime
    kind: ClinicianKind
    actor: str
    level: int | None = None
    thresholds: tuple[tuple[str, float], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class History:
    """Everything the engine may decide from, as immutable values built from stored rows."""

    start_day: date | None = None
    sessions: tuple[DayFact, ...] = ()  # programme days (field name kept for callers)
    pains: tuple[PainReport, ...] = ()
    readiness: tuple[ReadinessFact, ...] = ()
    actions: tuple[ClinicianFact, ...] = ()

    def first_day(self) -> date | None:
        days = [s.day for s in self.sessions] + [p.day for p in self.pains]
        days += [r.day for r in self.readiness] + [a.day for a in self.actions]
        if self.start_day is not None:
            days.append(self.start_day)
        return min(days) if days else None


# --------------------------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Decision:
    day: date
    action: Action
    level: int  # the level for the next day
    reason: str
    flag_clinician: bool = False


@dataclass(frozen=True)
class DayOutcome:
    """One replayed day: the level it was planned at and the end-of-day decision."""

    day: date
    level: int
    action: Action
    next_level: int
    reason: str
    flag_clinician: bool
    pain_max: int | None
    sessions: int  # finished programme days on that date


@dataclass(frozen=True)
class PlannedExercise:
    exercise_id: str
    sets: int
    reps: int
    hold_s: float | None
    sides: int
    rest_s: float
    set_s: float  # estimated seconds of one set on one side
    estimated_s: float  # whole exercise incl. rests and setup
    note: str


@dataclass(frozen=True)
class DayPlan:
    day: date
    level: int
    level_name: str
    focus: str
    kind: str  # "exercise" | "rest"
    readiness_steps: tuple[ReadinessStep, ...]
    readiness: Readiness | None  # today's readiness result so far (None = not done yet)
    exercises: tuple[PlannedExercise, ...]
    estimated_min: float
    budget_s: float
    used_s: float
    reason: str
    messages: tuple[str, ...] = ()
    rule_overrides: tuple[tuple[str, float], ...] = ()  # per-person thresholds for the analysis rules
    flag_clinician: bool = False

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.budget_s - self.used_s)
