"""Typed rows returned by the Store: frozen dataclasses, never ORM objects, so callers cannot write by accident.

One record per table; the field names are the column names, so rows map to records generically (rows.py). The
enums here (Role, DayStatus, JobStatus) are the only definitions of those words; the web layer imports them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from formcheck.store.schema import DEFAULT_PERSON_SETTINGS


class Role(enum.StrEnum):
    PERSON = "person"
    CLINICIAN = "clinician"
    ADMIN = "admin"


class DayStatus(enum.StrEnum):
    """Where a programme day stands (column `sessions.status`)."""

    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    NOT_READY = "not_ready"
    ABANDONED = "abandoned"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: Role
    display_name: str
    clinician_id: int | None
    password_hash: str | None
    settings: dict[str, Any]
    created_at: datetime

    def __post_init__(self) -> None:
        # People from a v1 database have no display name or settings: show the name, apply the defaults.
        object.__setattr__(self, "display_name", self.display_name or self.name)
        object.__setattr__(self, "settings", {**DEFAULT_PERSON_SETTINGS, **(self.settings or {})})


@dataclass(frozen=True)
class User:
    """A signed-in account as the web layer sees it (a person or a clinician; admins have no web pages)."""

    id: int
    name: str
    role: Role
    clinician_id: int | None = None
    named: bool = True  # False: no name given yet (`name` is then a placeholder), issue 19


@dataclass(frozen=True)
class ProgrammeDay:
    """One programme day of a person (table `sessions`): the level it was done at and how it ended."""

    id: int
    person_id: int
    day: date
    level: int
    status: DayStatus
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DaySummary:
    """A programme day with its rep counts, pain answers and exercise time, for history and the engine."""

    session: ProgrammeDay  # field name kept: callers read `summary.session`
    valid_reps: int
    total_reps: int
    target_reps: int
    exercise_s: float
    pain_during: int | None
    pain_after: int | None


@dataclass(frozen=True)
class SetRow:
    """One live set of an exercise within a programme day (`session_id` is the day's id)."""

    id: int
    session_id: int
    exercise_id: str
    side: str | None
    set_index: int
    target_reps: int
    target_hold_s: float | None
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Fault:
    rule: str
    value: float
    threshold: float
    unit: str


@dataclass(frozen=True)
class RepIn:
    """A judged rep as the analysis produces it, to be stored the moment it is counted."""

    idx: int
    start_s: float
    end_s: float
    valid: bool
    verdict: str  # "valid" | "invalid" | "unknown"
    reason: str = ""
    side: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()


@dataclass(frozen=True)
class RepRow:
    id: int
    set_id: int
    idx: int
    side: str | None
    start_s: float
    end_s: float
    valid: bool
    verdict: str
    reason: str
    metrics: dict[str, Any]
    faults: tuple[Fault, ...]
    created_at: datetime


@dataclass(frozen=True)
class PainRow:
    id: int
    person_id: int
    session_id: int | None
    day: date
    kind: str
    pain: int
    created_at: datetime


@dataclass(frozen=True)
class ReadinessRow:
    id: int
    person_id: int
    session_id: int | None
    day: date
    massage_done: bool
    vmo_done: bool
    skbt_verdict: str | None
    skbt_pain: int | None
    created_at: datetime


@dataclass(frozen=True)
class ClinicianActionRow:
    id: int
    person_id: int
    actor_id: int
    actor_name: str
    kind: str
    day: date
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class LevelEventRow:
    id: int
    person_id: int
    day: date
    level: int
    action: str
    reason: str
    session_id: int | None
    actor_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class AlertRow:
    id: int
    person_id: int
    clinician_id: int | None
    day: date
    kind: str
    message: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: int | None


@dataclass(frozen=True)
class RepReviewRow:
    id: int
    rep_id: int
    clinician_id: int
    agree: bool
    note: str
    at: datetime


@dataclass(frozen=True)
class UploadRow:
    id: int
    owner_id: int
    original_filename: str
    stored_path: str
    sha256: str
    size_bytes: int
    exercise_id: str
    side: str | None
    created_at: datetime


@dataclass(frozen=True)
class JobRow:
    id: int
    upload_id: int
    status: JobStatus
    progress: float
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class RepClipRow:
    id: int
    rep_id: int
    path: str
    created_at: datetime
