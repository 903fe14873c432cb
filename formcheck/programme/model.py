"""The programme as validated data: levels, dosing, time estimates and the named progression parameters."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from formcheck.core.spec import exercise_ids
from formcheck.errors import SpecError

log = logging.getLogger(__name__)

DEFAULT_PROGRAMME_FILE = "runners_knee_v1.toml"
SECONDS_PER_MINUTE = 60.0


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(_Frozen):
    """A named rule number with its source, so every threshold can be traced (docs/clinical.md or judgement call)."""

    value: float
    source: str = Field(min_length=3)


# Allowed ranges for each rule parameter: a programme file or a clinician override outside them is rejected.
PARAM_RANGES: Mapping[str, tuple[float, float]] = {
    "green_pain_max": (0, 4),
    "step_back_pain": (2, 8),
    "baseline_rise_pain": (1, 5),
    "ready_pain_max": (0, 4),
    "advance_after_sessions": (1, 14),
    "min_valid_rep_ratio": (0.0, 1.0),
    "min_target_completion_ratio": (0.0, 1.0),
    "next_day_pain_max": (0, 4),
    "step_back_days": (1, 7),
    "no_advance_window_days": (2, 7),
    "see_professional_after_regressions": (2, 10),
    "regression_window_days": (7, 90),
    "unsettled_pain_days": (2, 14),
    "baseline_days": (1, 7),
}


class Rules(_Frozen):
    """Progression and regression parameters; each carries its value and its source."""

    green_pain_max: Param
    step_back_pain: Param
    baseline_rise_pain: Param
    ready_pain_max: Param
    advance_after_sessions: Param
    min_valid_rep_ratio: Param
    min_target_completion_ratio: Param
    next_day_pain_max: Param
    step_back_days: Param
    no_advance_window_days: Param
    see_professional_after_regressions: Param
    regression_window_days: Param
    unsettled_pain_days: Param
    baseline_days: Param

    @model_validator(mode="after")
    def _in_range(self) -> Rules:
        for name, (lo, hi) in PARAM_RANGES.items():
            value = getattr(self, name).value
            if not lo <= value <= hi:
                raise ValueError(f"rules.{name} = {value} is outside {lo}..{hi}")
        if self.green_pain_max.value >= self.step_back_pain.value:
            raise ValueError("rules.green_pain_max must be below rules.step_back_pain")
        return self


class RuleValues(_Frozen):
    """Plain numbers of `Rules` after a person's overrides are applied (what the engine reads)."""

    green_pain_max: float
    step_back_pain: float
    baseline_rise_pain: float
    ready_pain_max: float
    advance_after_sessions: int
    min_valid_rep_ratio: float
    min_target_completion_ratio: float
    next_day_pain_max: float
    step_back_days: int
    no_advance_window_days: int
    see_professional_after_regressions: int
    regression_window_days: int
    unsettled_pain_days: int
    baseline_days: int


class ReadinessStep(_Frozen):
    id: Literal["massage", "vmo", "small_knee_bend"]
    title: str
    instructions: str
    minutes: float = Field(ge=0, le=10)
    counts_as_exercise: bool  # whether it is inside the day's exercise-time budget


class Exercise(_Frozen):
    """One exercise of a level: sets x reps (or x holds of hold_s seconds), per side when sides = 2."""

    id: str
    sets: int = Field(ge=1, le=6)
    reps: int = Field(ge=1, le=40)  # repetitions per set; for holds, the number of holds per set
    hold_s: float | None = Field(default=None, gt=0, le=180)
    sides: Literal[1, 2] = 1
    rest_s: float = Field(ge=0, le=180)  # rest between consecutive sets (and between sides)
    rep_s: float | None = Field(default=None, gt=0, le=20)  # overrides the programme's seconds per rep
    note: str = ""

    def work_s(self, default_rep_s: float) -> float:
        """Time under exercise: each rep takes rep_s, or hold_s plus a short reset for holds."""
        per_rep_s = self.hold_s if self.hold_s is not None else (self.rep_s or default_rep_s)
        return float(self.sets * self.sides * self.reps * per_rep_s)

    def rest_total_s(self) -> float:
        return float((self.sets * self.sides - 1) * self.rest_s)

    def set_s(self, default_rep_s: float) -> float:
        """Estimated duration of one set on one side (used by the session's time budget)."""
        per_rep_s = self.hold_s if self.hold_s is not None else (self.rep_s or default_rep_s)
        return float(self.reps * per_rep_s)


class Level(_Frozen):
    number: int = Field(ge=1)
    name: str
    focus: str
    exercises: tuple[Exercise, ...] = Field(min_length=1, max_length=6)


class Programme(_Frozen):
    id: str
    name: str
    version: int = Field(ge=1)
    source: str
    day_budget_min: float = Field(gt=0, le=15)  # product brief: never more than 15 minutes of exercise a day
    default_rep_s: float = Field(gt=0, le=20)
    setup_s_per_exercise: float = Field(ge=0, le=120)
    readiness: tuple[ReadinessStep, ...] = Field(min_length=3, max_length=3)
    rules: Rules
    levels: tuple[Level, ...] = Field(min_length=5, max_length=8)

    @model_validator(mode="after")
    def _levels_in_order(self) -> Programme:
        numbers = [lv.number for lv in self.levels]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"levels must be numbered 1..{len(numbers)} in order, got {numbers}")
        if [s.id for s in self.readiness] != ["massage", "vmo", "small_knee_bend"]:
            raise ValueError("readiness steps must be massage, vmo, small_knee_bend in that order")
        return self

    @property
    def max_level(self) -> int:
        return len(self.levels)

    def level(self, number: int) -> Level:
        return self.levels[min(max(number, 1), self.max_level) - 1]

    @property
    def day_budget_s(self) -> float:
        return self.day_budget_min * SECONDS_PER_MINUTE

    def target_reps(self, number: int) -> int:
        """Valid reps (or holds) the whole day asks for at this level: sets x sides x reps summed."""
        return sum(ex.sets * ex.sides * ex.reps for ex in self.level(number).exercises)

    def readiness_exercise_s(self) -> float:
        return sum(s.minutes for s in self.readiness if s.counts_as_exercise) * SECONDS_PER_MINUTE

    def exercise_s(self, ex: Exercise) -> float:
        return ex.work_s(self.default_rep_s) + ex.rest_total_s() + self.setup_s_per_exercise

    def day_s(self, number: int) -> float:
        """Estimated exercise seconds of a day at this level, readiness test included."""
        return self.readiness_exercise_s() + sum(self.exercise_s(ex) for ex in self.level(number).exercises)

    def day_minutes(self, number: int) -> float:
        return self.day_s(number) / SECONDS_PER_MINUTE

    def rule_values(self, overrides: Mapping[str, float] | None = None) -> RuleValues:
        """The rule numbers for one person: programme defaults, then that person's clinician overrides."""
        values = {name: getattr(self.rules, name).value for name in PARAM_RANGES}
        for name, value in (overrides or {}).items():
            if name in values:
                values[name] = float(value)
        return RuleValues(**{k: (int(v) if k in _INT_PARAMS else v) for k, v in values.items()})


_INT_PARAMS = frozenset(
    {
        "advance_after_sessions",
        "step_back_days",
        "no_advance_window_days",
        "see_professional_after_regressions",
        "regression_window_days",
        "unsettled_pain_days",
        "baseline_days",
    }
)


def check_override(name: str, value: float) -> None:
    """Reject a per-person programme-rule override outside its allowed range (other names are analysis rules)."""
    if name in PARAM_RANGES:
        lo, hi = PARAM_RANGES[name]
        if not lo <= value <= hi:
            raise SpecError(f"override {name} = {value} is outside the allowed range {lo}..{hi}")


def library_exercise_ids() -> frozenset[str]:
    """The ids of the exercise library (formcheck.core.spec): the only list of exercises a programme may use."""
    return frozenset(exercise_ids())


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


def parse_programme(text: str, *, origin: str = "<programme>", exercise_ids: frozenset[str] | None = None) -> Programme:
    """Parse and validate programme TOML; any problem is one SpecError line naming the file and the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"programme {origin}: not valid TOML: {e}") from None
    try:
        prog = Programme.model_validate(raw)
    except ValidationError as e:
        raise SpecError(f"programme {origin}: {_one_line(e)}") from None
    known = exercise_ids if exercise_ids is not None else library_exercise_ids()
    for lv in prog.levels:
        for ex in lv.exercises:
            if ex.id not in known:
                raise SpecError(
                    f"programme {origin}: level {lv.number} uses unknown exercise '{ex.id}'"
                    f" (known: {', '.join(sorted(known))})"
                )
        minutes = prog.day_minutes(lv.number)
        if minutes > prog.day_budget_min + 1e-9:
            raise SpecError(
                f"programme {origin}: level {lv.number} day takes {minutes:.1f} min,"
                f" over the {prog.day_budget_min:g}-minute daily limit"
            )
    return prog


def load_programme(path: Path | str | None = None, *, exercise_ids: frozenset[str] | None = None) -> Programme:
    """Load a programme file (default: the packaged runner's-knee programme)."""
    if path is None:
        ref = resources.files("formcheck.programme").joinpath("data", DEFAULT_PROGRAMME_FILE)
        return parse_programme(
            ref.read_text(encoding="utf-8"), origin=DEFAULT_PROGRAMME_FILE, exercise_ids=exercise_ids
        )
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"programme {p}: cannot read: {e.strerror or e}") from None
    return parse_programme(text, origin=str(p), exercise_ids=exercise_ids)
