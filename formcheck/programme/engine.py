"""Pure decision core: a person's stored history + the programme -> today's plan and the decision after a session.

Nothing here reads a clock, a file or a database: the level a person is at is re-derived every time by replaying
their history day by day, so the same history always gives the same answer and there is no hidden state.
Pain always wins over rep counts: pain rules are checked before any progression rule, and a final gate refuses any
advance while pain >= the step-back threshold was reported in the last `no_advance_window_days` days.
"""

from __future__ import annotations

import enum
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from formcheck.errors import InputError
from formcheck.programme.model import Programme, ReadinessStep, RuleValues

PAIN_MIN = 0
PAIN_MAX = 10
BASELINE_OVERRIDE_KEY = "baseline_pain"  # clinician may set a person's usual pain level directly
# Hard safety floor (issue 4): never advance anyone who reported pain >= 4/10 in the last 2 days. Not a programme
# parameter, so neither a programme file nor a clinician threshold override can loosen it.
NEVER_ADVANCE_PAIN = 4
NEVER_ADVANCE_WINDOW_DAYS = 2


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
class SessionFact:
    """One exercise session as stored: the level it was done at, rep counts and its pain answers."""

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
    sessions: tuple[SessionFact, ...] = ()
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
    sessions: int


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


# --------------------------------------------------------------------------------------------- readiness
def judge_readiness(rules: RuleValues, fact: ReadinessFact) -> tuple[Readiness, str]:
    """Readiness from the three steps: both preparation steps confirmed, test seen by the camera, pain low."""
    if not (fact.massage_done and fact.vmo_done):
        return Readiness.INCOMPLETE, "confirm the massage and the VMO wake-up steps first"
    if fact.skbt_pain is None:
        return Readiness.INCOMPLETE, "rate your knee pain (0-10) during the Small Knee Bend Test"
    if fact.skbt_pain > rules.green_pain_max or fact.skbt_pain > rules.ready_pain_max:
        return (
            Readiness.NOT_READY,
            f"the Small Knee Bend Test hurt ({fact.skbt_pain}/10, ready means at most {rules.ready_pain_max:g}/10):"
            " no exercises today - more tissue work or rest, and try again tomorrow",
        )
    if fact.skbt_verdict in ("valid", "self"):
        return Readiness.READY, f"Small Knee Bend Test passed (pain {fact.skbt_pain}/10)"
    if fact.skbt_verdict == "invalid":
        return Readiness.RETRY, "the camera did not see a clean small knee bend: redo the test slowly"
    return (
        Readiness.RETRY,
        "the camera could not judge the test: face it with your whole body in view and redo it",
    )


# --------------------------------------------------------------------------------------------- replay
@dataclass(frozen=True)
class _State:
    level: int
    level_since: date
    step_back_return: int | None = None
    step_back_since: date | None = None
    regressions: tuple[date, ...] = ()
    held_by: str | None = None
    flagged_since: date | None = None
    overrides: tuple[tuple[str, float], ...] = ()
    rest_day: date | None = None


class _Replay:
    """Indexes a history by day and replays it; built per call, never cached between calls."""

    def __init__(self, programme: Programme, history: History) -> None:
        self.p = programme
        self.h = history
        self._rules_cache: dict[tuple[tuple[str, float], ...], RuleValues] = {}
        self.pain_by_day: dict[date, list[tuple[datetime, int]]] = defaultdict(list)
        for pr in history.pains:
            self.pain_by_day[pr.day].append((pr.at, pr.pain))
        for s in history.sessions:
            for value in (s.pain_during, s.pain_after):
                if value is not None:
                    self.pain_by_day[s.day].append((s.ended_at or s.started_at, value))
        self.readiness_by_day: dict[date, list[ReadinessFact]] = defaultdict(list)
        for r in sorted(history.readiness, key=lambda r: r.at):
            self.readiness_by_day[r.day].append(r)
            if r.skbt_pain is not None:
                self.pain_by_day[r.day].append((r.at, r.skbt_pain))
        for values in self.pain_by_day.values():
            values.sort()
        self.sessions_by_day: dict[date, list[SessionFact]] = defaultdict(list)
        for s in sorted(history.sessions, key=lambda s: s.started_at):
            self.sessions_by_day[s.day].append(s)
        self.actions_by_day: dict[date, list[ClinicianFact]] = defaultdict(list)
        for a in sorted(history.actions, key=lambda a: a.at):
            self.actions_by_day[a.day].append(a)
        readiness_pains = sorted(
            [(r.at, r.skbt_pain) for r in history.readiness if r.skbt_pain is not None]
            + [(pr.at, pr.pain) for pr in history.pains if pr.kind == PainKind.READINESS]
        )
        self.readiness_pains = [v for _, v in readiness_pains]
        self.pain_days = sorted(self.pain_by_day)

    # -- helpers
    def rules(self, st: _State) -> RuleValues:
        if st.overrides not in self._rules_cache:  # per-replay memo: overrides rarely change
            self._rules_cache[st.overrides] = self.p.rule_values(dict(st.overrides))
        return self._rules_cache[st.overrides]

    def baseline(self, st: _State, rv: RuleValues) -> float:
        over = dict(st.overrides)
        if BASELINE_OVERRIDE_KEY in over:
            return over[BASELINE_OVERRIDE_KEY]
        first = self.readiness_pains[: rv.baseline_days]
        return float(statistics.median(first)) if first else 0.0

    def day_max(self, d: date) -> int | None:
        values = self.pain_by_day.get(d)
        return max(v for _, v in values) if values else None

    def is_red(self, pain: int | None, rv: RuleValues, baseline: float) -> bool:
        if pain is None:
            return False
        over_baseline = pain >= baseline + rv.baseline_rise_pain and pain > rv.green_pain_max
        return pain >= rv.step_back_pain or over_baseline

    def gate_blocks(self, d: date, rv: RuleValues, baseline: float) -> int | None:
        """The safety gate: the worst red pain in the no-advance window ending on d, or None."""
        worst = None
        for k in range(max(rv.no_advance_window_days, NEVER_ADVANCE_WINDOW_DAYS)):
            p = self.day_max(d - timedelta(days=k))
            if p is not None and (p >= NEVER_ADVANCE_PAIN or self.is_red(p, rv, baseline)):
                worst = p if worst is None else max(worst, p)
        return worst

    def next_report(self, s: SessionFact, until: date) -> int | None:
        """The first pain report on a later day than the session (next morning, or the next readiness test)."""
        for d in self.pain_days:
            if s.day < d <= until:
                return self.pain_by_day[d][0][1]
        return None

    def qualifies(self, s: SessionFact, rv: RuleValues, until: date) -> bool:
        if not s.finished or s.pain_during is None or s.pain_after is None:
            return False
        if s.pain_during > rv.green_pain_max or s.pain_after > rv.green_pain_max:
            return False
        # The day's target comes from the programme, so doing only the first set cannot qualify.
        target = max(s.target_reps, self.p.target_reps(s.level))
        if s.total_reps <= 0 or target <= 0:
            return False
        if s.valid_reps / s.total_reps < rv.min_valid_rep_ratio:
            return False
        if s.valid_reps / target < rv.min_target_completion_ratio:
            return False
        nxt = self.next_report(s, until)
        if nxt is None:
            return s.day == until  # today's session: its next morning has not come yet
        return nxt <= rv.next_day_pain_max

    def readiness_today(self, d: date, rv: RuleValues) -> tuple[Readiness, str] | None:
        facts = self.readiness_by_day.get(d)
        return judge_readiness(rv, facts[-1]) if facts else None

    # -- state transitions
    def apply_actions(self, st: _State, d: date) -> _State:
        for a in self.actions_by_day.get(d, ()):
            if a.kind == ClinicianKind.SET_LEVEL and a.level is not None:
                lvl = min(max(a.level, 1), self.p.max_level)
                st = replace(
                    st,
                    level=lvl,
                    level_since=d,
                    step_back_return=None,
                    step_back_since=None,
                    flagged_since=None,
                    rest_day=None,
                )
            elif a.kind == ClinicianKind.HOLD:
                st = replace(st, held_by=a.actor)
            elif a.kind == ClinicianKind.RELEASE:
                st = replace(st, held_by=None, flagged_since=None)
            elif a.kind == ClinicianKind.THRESHOLDS:
                merged = dict(st.overrides)
                merged.update(a.thresholds)
                st = replace(st, overrides=tuple(sorted(merged.items())))
        return st

    def run_day(self, st: _State, d: date) -> tuple[_State, DayOutcome]:
        st = self.apply_actions(st, d)
        rv = self.rules(st)
        base = self.baseline(st, rv)
        level = st.level
        pmax = self.day_max(d)
        sessions = [s for s in self.sessions_by_day.get(d, ()) if s.finished]
        tomorrow = d + timedelta(days=1)
        flag = False

        def out(action: Action, next_level: int, reason: str) -> DayOutcome:
            return DayOutcome(d, level, action, next_level, reason, flag, pmax, len(sessions))

        if self.is_red(pmax, rv, base):
            window_start = d - timedelta(days=rv.regression_window_days - 1)
            regressions = tuple(x for x in st.regressions if x >= window_start) + (d,)
            unsettled = all(
                self.is_red(self.day_max(d - timedelta(days=k)), rv, base) for k in range(rv.unsettled_pain_days)
            )
            why_pain = (
                f"knee pain {pmax}/10 today (step back at {rv.step_back_pain:g}/10"
                f" or {rv.baseline_rise_pain:g} above your usual {base:g}/10)"
            )
            if unsettled or len(regressions) >= rv.see_professional_after_regressions:
                flag = st.flagged_since is None  # tell the clinician once, not every painful day
                new_level = max(1, level - 1)
                if unsettled:
                    why = f"pain has not settled: at step-back level on each of the last {rv.unsettled_pain_days} days"
                else:
                    why = f"{len(regressions)} step-backs in {rv.regression_window_days} days"
                st = replace(
                    st,
                    level=new_level,
                    level_since=tomorrow if new_level != level else st.level_since,
                    step_back_return=None,
                    step_back_since=None,
                    regressions=regressions,
                    flagged_since=st.flagged_since or d,
                )
                return st, out(
                    Action.SEE_PROFESSIONAL,
                    new_level,
                    f"{why_pain}; {why}: please see a physiotherapist or doctor. Your clinician has been told; "
                    f"progression is paused at level {new_level} until they review it",
                )
            if level == 1:
                st = replace(
                    st,
                    regressions=regressions,
                    rest_day=tomorrow,
                    level_since=tomorrow,
                    step_back_return=None,
                    step_back_since=None,
                )
                return st, out(Action.REST, 1, f"{why_pain} at the easiest level: rest tomorrow, then re-test")
            st = replace(
                st,
                level=level - 1,
                level_since=tomorrow,
                step_back_return=level,
                step_back_since=d,
                regressions=regressions,
            )
            return st, out(
                Action.STEP_BACK,
                level - 1,
                f"{why_pain}: back to level {level - 1} for {rv.step_back_days} days, then return when pain-free",
            )

        ready = self.readiness_today(d, rv)
        if pmax is not None and pmax > rv.green_pain_max:
            if ready is not None and ready[0] == Readiness.NOT_READY and not sessions:
                return st, out(Action.REST, level, ready[1])
            return st, out(
                Action.HOLD,
                level,
                f"knee pain {pmax}/10 is above the comfortable {rv.green_pain_max:g}/10: stay at level {level}"
                " and re-test tomorrow",
            )
        if ready is not None and ready[0] == Readiness.NOT_READY and not sessions:
            return st, out(Action.REST, level, ready[1])
        if st.flagged_since is not None:
            return st, out(
                Action.HOLD,
                level,
                f"progression paused since {st.flagged_since.isoformat()} until your clinician reviews the"
                " recommendation to see a professional",
            )
        if st.held_by is not None:
            return st, out(Action.HOLD, level, f"progression held by clinician {st.held_by}")

        gate = self.gate_blocks(d, rv, base)
        if st.step_back_return is not None and st.step_back_since is not None:
            since = st.step_back_since
            elapsed = (d - since).days
            green = [s for s in self.sessions_in(since + timedelta(days=1), d) if self.is_green_session(s, rv)]
            if elapsed >= rv.step_back_days and green and gate is None:
                target = st.step_back_return
                st = replace(st, level=target, level_since=tomorrow, step_back_return=None, step_back_since=None)
                return st, out(
                    Action.ADVANCE,
                    target,
                    f"{elapsed} days at the easier level and no pain above {rv.green_pain_max:g}/10: back to"
                    f" level {target}",
                )
            if elapsed >= rv.step_back_days and not green:
                why = "one pain-free session at this level is needed first"
            else:
                why = f"{elapsed} of {rv.step_back_days} days done"
            return st, out(
                Action.HOLD,
                level,
                f"stepped back on {since.isoformat()}: staying at level {level} before returning to level"
                f" {st.step_back_return} ({why})",
            )

        if level >= self.p.max_level:
            return st, out(Action.HOLD, level, f"top level {level}: keep going, every day, within 15 minutes")
        days = sorted(
            {s.day for s in self.sessions_in(st.level_since, d) if s.level == level and self.qualifies(s, rv, d)}
        )
        need = rv.advance_after_sessions
        if len(days) >= need and gate is None:
            st = replace(st, level=level + 1, level_since=tomorrow)
            return st, out(
                Action.ADVANCE,
                level + 1,
                f"{len(days)} sessions on separate days at level {level} with at least"
                f" {rv.min_valid_rep_ratio:.0%} valid reps, pain at most {rv.green_pain_max:g}/10 and not worse"
                f" the next day: moving up to level {level + 1}",
            )
        if not sessions and pmax is None and ready is None:
            return st, out(Action.HOLD, level, f"no session today ({len(days)} of {need} qualifying at level {level})")
        return st, out(
            Action.HOLD,
            level,
            f"{len(days)} of {need} qualifying sessions at level {level}: keep going",
        )

    def sessions_in(self, first: date, last: date) -> list[SessionFact]:
        out: list[SessionFact] = []
        d = first
        while d <= last:
            out.extend(s for s in self.sessions_by_day.get(d, ()) if s.finished)
            d += timedelta(days=1)
        return out

    def is_green_session(self, s: SessionFact, rv: RuleValues) -> bool:
        return (
            s.finished
            and s.pain_during is not None
            and s.pain_after is not None
            and max(s.pain_during, s.pain_after) <= rv.green_pain_max
        )

    def replay(self, until: date) -> tuple[_State, list[DayOutcome]]:
        first = self.h.first_day() or until
        st = _State(level=1, level_since=first)
        outcomes: list[DayOutcome] = []
        d = first
        while d <= until:
            st, o = self.run_day(st, d)
            outcomes.append(o)
            d += timedelta(days=1)
        return st, outcomes


def replay(programme: Programme, history: History, until: date) -> tuple[DayOutcome, ...]:
    """Every day from the first stored fact to `until` with its level and end-of-day decision (for tests/charts)."""
    return tuple(_Replay(programme, history).replay(until)[1])


def decide_after_session(programme: Programme, history: History) -> Decision:
    """The decision at the end of the day of the latest session: hold, advance, step back, rest or see a pro."""
    if not history.sessions:
        first = history.first_day()
        if first is None:
            raise InputError("no sessions recorded yet")
        day = max(p.day for p in history.pains) if history.pains else first
    else:
        day = max(s.day for s in history.sessions)
    _, outcomes = _Replay(programme, history).replay(day)
    o = outcomes[-1]
    return Decision(day=o.day, action=o.action, level=o.next_level, reason=o.reason, flag_clinician=o.flag_clinician)


def plan_today(programme: Programme, history: History, today: date) -> DayPlan:
    """Today's plan: readiness steps first, then the level's exercises, or a rest day; with the reason in words."""
    rp = _Replay(programme, history)
    st, outcomes = rp.replay(today - timedelta(days=1))
    st = rp.apply_actions(st, today)
    rv = rp.rules(st)
    base = rp.baseline(st, rv)
    lv = programme.level(st.level)
    used_s = sum(s.exercise_s for s in history.sessions if s.day == today)
    messages: list[str] = []
    flag = st.flagged_since is not None
    if flag:
        messages.append(
            "Your knee pain has not settled with the programme: please see a physiotherapist or doctor."
            " Your clinician has been told."
        )
    if st.step_back_return is not None:
        messages.append(f"You stepped back a level; you return to level {st.step_back_return} once it is pain-free.")
    if st.held_by is not None:
        messages.append(f"Your clinician {st.held_by} is holding your level for now.")
    last_reason = outcomes[-1].reason if outcomes else "first day of the programme"
    overrides = tuple((k, v) for k, v in st.overrides if k not in _programme_keys(programme))
    exercises = tuple(
        PlannedExercise(
            exercise_id=ex.id,
            sets=ex.sets,
            reps=ex.reps,
            hold_s=ex.hold_s,
            sides=ex.sides,
            rest_s=ex.rest_s,
            set_s=ex.set_s(programme.default_rep_s),
            estimated_s=programme.exercise_s(ex),
            note=ex.note,
        )
        for ex in lv.exercises
    )
    ready = rp.readiness_today(today, rv)
    kind, reason = "exercise", last_reason
    pmax = rp.day_max(today)
    if st.rest_day == today:
        kind, reason = "rest", outcomes[-1].reason if outcomes else "rest day"
    elif rp.is_red(pmax, rv, base):
        kind, reason = "rest", f"knee pain {pmax}/10 today: no exercises today; rest and check in tomorrow"
    elif ready is not None and ready[0] == Readiness.NOT_READY:
        kind, reason = "rest", ready[1]
    elif programme.day_budget_s - used_s < min((ex.set_s for ex in exercises), default=0.0):
        kind, reason = (
            "rest",
            f"today's {programme.day_budget_min:g} minutes are done",
        )  # not even one set fits
    return DayPlan(
        day=today,
        level=lv.number,
        level_name=lv.name,
        focus=lv.focus,
        kind=kind,
        readiness_steps=programme.readiness,
        readiness=ready[0] if ready else None,
        exercises=exercises if kind == "exercise" else (),
        estimated_min=programme.day_minutes(lv.number),
        budget_s=programme.day_budget_s,
        used_s=used_s,
        reason=reason,
        messages=tuple(messages),
        rule_overrides=overrides,
        flag_clinician=flag,
    )


def _programme_keys(programme: Programme) -> Mapping[str, object]:
    return dict.fromkeys(type(programme.rules).model_fields) | {BASELINE_OVERRIDE_KEY: None}
