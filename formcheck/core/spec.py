"""Exercise specifications: TOML package data validated at load (unknown measure/landmark/view/operator -> SpecError).

Defaults live only on these models. Every threshold is a field with the unit of the measure it compares,
stated again in the file (`unit = "deg"`) and checked against the measure registry, and a `source`.
"""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from formcheck.core import measures
from formcheck.core.geometry import View
from formcheck.core.landmarks import Lm
from formcheck.core.ops import RuleOp
from formcheck.errors import SpecError

# Pseudo-measure of a rule that judges the rep's duration (tempo) rather than a pose series.
REP_DURATION = "rep_duration_s"

SideMode = Literal["bilateral", "one_sided", "alternating"]
PostureName = Literal["standing", "sitting", "side_lying", "supine", "prone"]
Op = RuleOp  # the rule operators of core.ops (the one operator table)
RuleSide = Literal["working", "other", "both", "none", "signal"]  # "signal": the rep signal's own series
At = Literal["peak", "rep", "hold"]
Severity = Literal["fault", "advisory"]
Combine = Literal["mean", "max", "min", "side_by"]

_SIDED_LANDMARK_NAMES = {m.name.split("_", 1)[1] for m in Lm if m.name.startswith(("LEFT_", "RIGHT_"))}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_measure(name: str) -> str:
    if name != REP_DURATION and name not in measures.MEASURES:
        raise ValueError(f"unknown measure {name!r}; valid: {', '.join(sorted(measures.MEASURES))}")
    return name


def _unit_of(name: str) -> str:
    return "s" if name == REP_DURATION else measures.MEASURES[name].unit


class _Measured(_Model):
    """A model with a `measure` (checked against the registry) and its `unit` (stated again in the file, and
    checked to be the measure's own). The subclasses declare both fields, in their own field order."""

    if TYPE_CHECKING:
        measure: str
        unit: str

    @field_validator("measure", check_fields=False)
    @classmethod
    def _measure(cls, v: str) -> str:
        return _check_measure(v)

    @model_validator(mode="after")
    def _unit_matches(self) -> Self:
        if self.unit != _unit_of(self.measure):
            raise ValueError(f"unit {self.unit!r} does not match measure {self.measure} ({_unit_of(self.measure)})")
        return self


class RepSpec(_Measured):
    """Rep counting on one signal with hysteresis: a rep enters past `enter` and is counted on return past `exit`."""

    measure: str
    unit: str
    combine: Combine = "max"  # left/right combination when the working side is not fixed ("side_by": per frame,
    # the side that side_by/side_pick name, e.g. the stance leg)
    direction: Literal["increase", "decrease"] = "increase"  # does the signal rise into the rep?
    enter: float | None = None  # None: no absolute level, only min_range above the start (2D ratios differ per person)
    exit: float | None = None  # None: back at the start only by return_fraction
    min_range: float = 0.0  # the peak must exceed the rep's start value by this (same unit)
    return_fraction: float = 0.35  # back at the start within this share of the rep's range from its start
    min_rep_s: float = 0.4
    max_rep_s: float = 20.0
    max_gap_s: float = 1.0  # a gap without the signal longer than this abandons the rep in progress
    side_by: str | None = None  # measure whose max/min at the rep's peak names the working side
    side_pick: Literal["max", "min"] = "max"
    source: str = ""

    @field_validator("side_by")
    @classmethod
    def _side_by(cls, v: str | None) -> str | None:
        if v is not None:
            _check_measure(v)
            if not measures.MEASURES[v].sided:
                raise ValueError(f"side_by measure {v!r} is not sided")
        return v

    @model_validator(mode="after")
    def _check(self) -> RepSpec:
        inc = self.direction == "increase"
        if (
            self.enter is not None
            and self.exit is not None
            and ((self.enter <= self.exit) if inc else (self.enter >= self.exit))
        ):
            raise ValueError("enter must be past exit in the rep direction (hysteresis)")
        if self.enter is None and self.min_range <= 0:
            raise ValueError("without an enter level, min_range must be > 0")
        if not 0 < self.min_rep_s < self.max_rep_s:
            raise ValueError("need 0 < min_rep_s < max_rep_s")
        if self.combine == "side_by" and self.side_by is None:
            raise ValueError("combine = 'side_by' needs side_by")
        return self

    def sign(self) -> float:
        return 1.0 if self.direction == "increase" else -1.0

    def combine_key(self) -> str:
        """The MeasureTable side key of the rep signal when no side is fixed."""
        return f"side_by:{self.side_by}:{self.side_pick}" if self.combine == "side_by" else self.combine


class HoldSpec(_Measured):
    """A timed hold: in position while the signal is past `enter` (left again past `exit`); timed in good form."""

    measure: str
    unit: str
    combine: Combine = "mean"
    direction: Literal["increase", "decrease"] = "increase"
    enter: float
    exit: float
    target_s: float
    min_s: float
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> HoldSpec:
        inc = self.direction == "increase"
        if (self.enter <= self.exit) if inc else (self.enter >= self.exit):
            raise ValueError("enter must be past exit (hysteresis)")
        if not 0 < self.min_s <= self.target_s:
            raise ValueError("need 0 < min_s <= target_s")
        return self

    def sign(self) -> float:
        return 1.0 if self.direction == "increase" else -1.0


class RuleSpec(_Measured):
    """One check: `measure` `op` `limit` (+ `limit_hi` for outside), judged `at` the peak / over the rep / the hold."""

    id: str
    name: str
    measure: str
    unit: str
    op: Op
    limit: float
    limit_hi: float | None = None
    side: RuleSide = "none"
    at: At = "rep"
    baseline: bool = False  # compare with the person's own standing start (docs/clinical.md §3.2/§3.3)
    views: tuple[View, ...] = tuple(View)
    # Camera yaw (deg, folded: 0 = square to the front or back, 90 = side-on) in which the rule is judged,
    # measured on the mannequin sweep (benchmarks/view_sweep.md); outside it the rule is "unknown — turn ...".
    # None: judged in `views`.
    yaw_window_deg: tuple[float, float] | None = None
    min_duration_s: float = 0.1  # debounce: the value must persist this long
    min_coverage: float = 0.5  # share of the window's frames in which the measure must be defined
    severity: Severity = "fault"
    cue: str
    source: str
    judgement_call: bool = False
    highlight: tuple[str, ...] = ()  # landmark names ("KNEE" = the judged side's knee, or "LEFT_HIP")

    @field_validator("highlight")
    @classmethod
    def _landmarks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for n in v:
            if n not in Lm.__members__ and n not in _SIDED_LANDMARK_NAMES:
                raise ValueError(f"unknown landmark {n!r}")
        return v

    @model_validator(mode="after")
    def _check(self) -> RuleSpec:
        if (self.op == "outside") != (self.limit_hi is not None):
            raise ValueError("limit_hi is required for op 'outside' and only for it")
        if self.limit_hi is not None and self.limit_hi <= self.limit:
            raise ValueError("limit_hi must be above limit")
        if self.measure != REP_DURATION:
            sided = measures.MEASURES[self.measure].sided
            if sided and self.side == "none":
                raise ValueError(f"measure {self.measure} is sided: side must be working, other, both or signal")
            if not sided and self.side != "none":
                raise ValueError(f"measure {self.measure} is not sided: side must be none")
        if self.min_duration_s < 0:
            raise ValueError("min_duration_s must be >= 0")
        if self.yaw_window_deg is not None and not 0.0 <= self.yaw_window_deg[0] < self.yaw_window_deg[1] <= 90.0:
            raise ValueError("yaw_window_deg must be [lo, hi] with 0 <= lo < hi <= 90")
        if not self.source.strip():
            raise ValueError("every rule needs a source (docs/clinical.md section or 'judgement call')")
        return self

    def limit_for(self, overrides: dict[str, float] | None) -> float:
        """The limit for this person: a clinician's per-person override wins over the file."""
        if overrides and self.id in overrides:
            return float(overrides[self.id])
        return self.limit


class ExerciseSpec(_Model):
    id: str
    name: str
    instructions: str
    views: tuple[View, ...]
    side_mode: SideMode
    posture: PostureName  # frames in another posture count nothing and say so (formcheck/posture.py)
    baseline_s: float = 1.5  # the standing start read as the person's baseline
    rep: RepSpec | None = None
    hold: HoldSpec | None = None
    rules: tuple[RuleSpec, ...] = Field(default_factory=tuple)
    sha256: str = ""  # of the file it was loaded from, recorded with every result

    @model_validator(mode="after")
    def _check(self) -> ExerciseSpec:
        if (self.rep is None) == (self.hold is None):
            raise ValueError("an exercise has exactly one of [rep] or [hold]")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        for r in self.rules:
            if r.at == "hold" and self.hold is None:
                raise ValueError(f"rule {r.id}: at = 'hold' needs a [hold]")
            if r.at == "peak" and self.rep is None:
                raise ValueError(f"rule {r.id}: at = 'peak' needs a [rep]")
        return self

    @property
    def is_hold(self) -> bool:
        return self.hold is not None

    def rule(self, rule_id: str) -> RuleSpec:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _format_error(where: str, e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top)"
        parts.append(f"{key}: {err['msg']}")
    return f"{where}: " + "; ".join(parts)


def parse_exercise(text: str, where: str) -> ExerciseSpec:
    """Validate one exercise file's text; `where` names it in the error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{where}: not valid TOML: {e}") from None
    data["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    try:
        return ExerciseSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(_format_error(where, e)) from None


def _files() -> dict[str, tuple[str, str]]:
    folder = resources.files("formcheck.core") / "exercises"
    out = {}
    for f in folder.iterdir():
        if f.name.endswith(".toml"):
            out[f.name[:-5]] = (f.read_text(encoding="utf-8"), f"formcheck/core/exercises/{f.name}")
    return out


def exercise_ids() -> tuple[str, ...]:
    """Ids of the exercise files shipped with the package, in a stable order: the one list of exercise ids."""
    return tuple(sorted(_files()))


def load_exercise(exercise_id: str) -> ExerciseSpec:
    """The validated spec of `exercise_id`; an unknown id is an error listing the valid ones."""
    files = _files()
    if exercise_id not in files:
        raise SpecError(f"unknown exercise {exercise_id!r}; valid: {', '.join(sorted(files))}")
    text, where = files[exercise_id]
    spec = parse_exercise(text, where)
    if spec.id != exercise_id:
        raise SpecError(f"{where}: id {spec.id!r} does not match the file name")
    return spec


def load_path(path: str | Path) -> ExerciseSpec:
    """Validate an exercise file outside the package (a clinician's draft)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"{p}: cannot read: {e.strerror}") from None
    return parse_exercise(text, str(p))


def load_all() -> dict[str, ExerciseSpec]:
    return {i: load_exercise(i) for i in exercise_ids()}
