"""Wire models of the JSON API (separate from the store's tables, so internal fields never leak)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from formcheck.store.records import JobStatus, Role, User  # noqa: F401  (re-exported: defined once, in the store)
from formcheck.store.rep_keys import ReviewEntry as ReviewPublic  # one definition: the store's


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignIn(_Wire):
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=500)


class UserPublic(_Wire):
    id: int
    name: str
    role: Role
    csrf_token: str | None = None
    named: bool = True  # False: the person has not given a name yet (`name` is a placeholder); pages ask for it


class JobPublic(_Wire):
    id: int
    upload_id: int
    status: JobStatus
    progress_ratio: float
    frames_done: int | None = None  # pose progress: frames posed of frames_total (None before pose starts)
    frames_total: int | None = None
    message: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None


class UploadPublic(_Wire):
    id: int
    person_id: int
    filename: str
    exercise_id: str
    side: str
    size_bytes: int
    created_at: datetime | None = None
    job: JobPublic | None = None
    annotated_url: str | None = None
    video_url: str
    result_url: str | None = None


class ChartLine(_Wire):
    value: float
    label: str
    kind: Literal["rep", "rule"]


class AngleChart(_Wire):
    """The main angle of the exercise over time, with the rep thresholds and the rule limits on it."""

    label: str
    unit: str
    t_s: list[float]
    values: list[float | None]
    lines: list[ChartLine]


class UploadResult(_Wire):
    upload: UploadPublic
    report: dict[str, Any]  # schema formcheck.report/1, as produced by formcheck.core.report
    chart: AngleChart | None = None
    reviews: list[ReviewPublic] = []


class ExercisePublic(_Wire):
    id: str
    name: str
    sided: bool = False


class VerdictIn(_Wire):
    agree: bool
    note: str = Field("", max_length=2000)


class PersonPublic(_Wire):
    id: int
    name: str
    level: int | None = None
    held: bool = False
    last_session_at: datetime | None = None
    flagged_open: int = 0


class LevelIn(_Wire):
    level: int = Field(ge=1, le=20)
    note: str = Field("", max_length=2000)


class HoldIn(_Wire):
    hold: bool
    note: str = Field("", max_length=2000)


class ThresholdIn(_Wire):
    exercise_id: str = Field(min_length=1, max_length=100)
    rule_id: str = Field(min_length=1, max_length=100)
    threshold: float | None  # None removes the override
    unit: str | None = Field(None, max_length=16)  # when given, must be the rule's unit (else 422 with the range)
    note: str = Field("", max_length=2000)


class NoteIn(_Wire):
    note: str = Field(min_length=1, max_length=2000)


class ErrorOut(_Wire):
    detail: str
    kind: Literal["input", "video", "store", "spec", "model", "error"] = "error"


UploadResult.model_rebuild()
