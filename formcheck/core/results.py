"""The results of the analysis core: a judged rep, a timed hold, a set, and one live frame's feedback.

Frozen data that the drivers (core.offline, core.live) produce and that reports (core.report), the review video
(media.render), the store and the web read; nothing here computes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from formcheck.core.feedback import OverlaySpec
from formcheck.core.rules import Check, Status

ALGO_VERSION = "formcheck.analysis/1"


@dataclasses.dataclass(frozen=True)
class Fault:
    """A rule that fired on a rep: the worst sustained value against its limit.

    The one definition of a fault; `severity` and `cue` default for records that keep only the numbers."""

    rule: str
    value: float
    threshold: float
    unit: str
    severity: str = "fault"
    cue: str = ""


@dataclasses.dataclass(frozen=True)
class Rep:
    """One counted rep, judged: timing, side, peak measures, worst value per rule, faults and verdict."""

    index: int
    side: str | None
    start_s: float
    bottom_s: float
    end_s: float
    view: str
    peak: Mapping[str, float]
    worst: Mapping[str, float]
    faults: tuple[Fault, ...]
    checks: tuple[Check, ...]
    verdict: Verdict
    why: str

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def borderline(self) -> tuple[Check, ...]:
        """Form checks past their limit by no more than the measure's noise: not faults (the rep counts) but
        near the line, where another frame rate or pass may read either side. The coach says so as a cue."""
        return tuple(c for c in self.checks if c.status is Status.OK and c.noise == c.noise and c.severity == "fault")


@dataclasses.dataclass(frozen=True)
class HoldResult:
    """A timed hold: time in position, time in good form (what counts), the longest good stretch."""

    in_position_s: float
    good_form_s: float
    longest_good_s: float
    target_s: float
    min_s: float
    checks: tuple[Check, ...]

    @property
    def met(self) -> bool:
        return self.good_form_s >= self.min_s


@dataclasses.dataclass(frozen=True)
class Message:
    """A set-level problem with the input, in words a person can act on (texts: core.feedback)."""

    # no_person | wrong_posture | half_out_of_frame | wrong_view | two_people | too_dark | no_reps | wrong_exercise
    code: str
    text: str


@dataclasses.dataclass(frozen=True)
class SetResult:
    exercise_id: str
    exercise_name: str
    side: str | None
    view: str
    reps: tuple[Rep, ...]
    hold: HoldResult | None
    messages: tuple[Message, ...]
    spec_sha256: str
    algo_version: str
    n_frames: int
    duration_s: float
    detected_ratio: float
    # reps of the movement that clearly looked like another exercise (core.wrong_exercise): not counted, each
    # with verdict invalid and the reason in `why`
    not_counted: tuple[Rep, ...] = ()

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    @property
    def valid_rep_count(self) -> int:
        return sum(r.valid for r in self.reps)


@dataclasses.dataclass(frozen=True)
class LiveFeedback:
    """What the live page shows after one frame (all data; the browser draws)."""

    t_s: float
    phase: str
    rep_count: int
    valid_rep_count: int
    cues: tuple[str, ...]  # active, debounced
    new_cues: tuple[str, ...]  # announced at this frame (speak these)
    guidance: tuple[str, ...]  # placement messages that have persisted
    new_rep: Rep | None
    overlay: OverlaySpec
    view: str
    hold_good_s: float | None = None
    hold_in_position_s: float | None = None
    guidance_keys: tuple[str, ...] = ()  # the same as `guidance`, as stable codes (feedback.GUIDANCE_TEXT keys)
    # a rep just completed that looked like another exercise: not counted (not in rep_count, not new_rep), its
    # reason in `why`, for the coach to say
    not_counted: Rep | None = None


class Verdict(enum.StrEnum):
    """A rep's verdict: counted as good form, at fault, or not judgeable from what the camera saw."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"
