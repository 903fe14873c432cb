"""Pure decision core: a person's stored history + the programme -> today's plan and the decision after a day.

Nothing here reads a clock, a file or a database: the level a person is at is re-derived every time by replaying
their history day by day, so the same history always gives the same answer and there is no hidden state.
Pain always wins over rep counts: pain rules are checked before any progression rule, and a final gate refuses any
advance while pain >= the step-back threshold was reported in the last `no_advance_window_days` days.
The values it reads and returns are in facts.py (re-exported here).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TypeAlias

from formcheck.errors import InputError
from formcheck.programme.facts import (
    Action,
    ClinicianFact,
    ClinicianKind,
    DayFact,
    DayOutcome,
    Decision,
    History,
    PainKind,
    Readiness,
    ReadinessFact,
)
from formcheck.programme.model import Programme, RuleValues

BASELINE_OVERRIDE_KEY = "baseline_pain"  # clinician may set a person's usual pain level directly
# Hard safety floor (issue 4): never advance anyone who reported pain >= 4/10 in the last 2 days. Not a programme
# parameter, so neither a programme file nor a clinician threshold override can loosen it.
NEVER_ADVANCE_PAIN = 4
NEVER_ADVANCE_WINDOW_DAYS = 2


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
class State:
    level: int
    level_since: date
    step_back_return: int | None = None
    step_back_since: date | None = None
    regressions: tuple[date, ...] = ()
    held_by: str | None = None
    flagged_since: date | None = None
    overrides: tuple[tuple[str, float], ...] = ()
    rest_day: date | None = None


@dataclass(frozen=True)
class _Day:
    """What one replayed day is judged on (computed once per day, before its steps)."""

    d: date
    level: int  # the level the day was planned at
    rv: RuleValues
    base: float  # the person's usual pain
    pmax: int | None  # worst pain reported that day
    finished: int  # finished programme days on that date
    ready: tuple[Readiness, str] | None
    gate: int | None  # the safety gate's blocking pain, or None

    @property
    def tomorrow(self) -> date:
        return self.d + timedelta(days=1)

    def out(self, action: Action, next_level: int, reason: str, *, flag: bool = False) -> DayOutcome:
        return DayOutcome(self.d, self.level, action, next_level, reason, flag, self.pmax, self.finished)


_Step: TypeAlias = tuple[State, DayOutcome] | None  # a step that does not decide the day returns None


class Replay:
    """Indexes a history by day and replays it; built per call, never cached between calls (plan.py uses it too)."""

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
        self.sessions_by_day: dict[date, list[DayFact]] = defaultdict(list)
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
    def rules(self, st: State) -> RuleValues:
        if st.overrides not in self._rules_cache:  # per-replay memo: overrides rarely change
            self._rules_cache[st.overrides] = self.p.rule_values(dict(st.overrides))
        return self._rules_cache[st.overrides]

    def baseline(self, st: State, rv: RuleValues) -> float:
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

    def next_report(self, s: DayFact, until: date) -> int | None:
        """The first pain report on a later day than the session (next morning, or the next readiness test)."""
        for d in self.pain_days:
            if s.day < d <= until:
                return self.pain_by_day[d][0][1]
        return None

    def qualifies(self, s: DayFact, rv: RuleValues, until: date) -> bool:
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
    def apply_actions(self, st: State, d: date) -> State:
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

    # -- one day, in named steps: the first step that decides the day ends it (pain first, progression last)
    def run_day(self, st: State, d: date) -> tuple[State, DayOutcome]:
        st = self.apply_actions(st, d)
        day = self.day_context(st, d)
        steps: tuple[Callable[[State, _Day], _Step], ...] = (
            self.red_pain,
            self.uncomfortable,
            self.paused,
            self.stepped_back,
        )
        for step in steps:
            decided = step(st, day)
            if decided is not None:
                return decided
        return self.progression(st, day)

    def day_context(self, st: State, d: date) -> _Day:
        rv = self.rules(st)
        base = self.baseline(st, rv)
        return _Day(
            d=d,
            level=st.level,
            rv=rv,
            base=base,
            pmax=self.day_max(d),
            finished=len([s for s in self.sessions_by_day.get(d, ()) if s.finished]),
            ready=self.readiness_today(d, rv),
            gate=self.gate_blocks(d, rv, base),
        )

    def red_pain(self, st: State, day: _Day) -> _Step:
        """Pain at step-back level: see a professional (not settling, or too many step-backs), rest at level 1,
        else one level back for a few days."""
        rv, d, level = day.rv, day.d, day.level
        if not self.is_red(day.pmax, rv, day.base):
            return None
        regressions = tuple(x for x in st.regressions if x >= d - timedelta(days=rv.regression_window_days - 1))
        regressions += (d,)
        unsettled = all(
            self.is_red(self.day_max(d - timedelta(days=k)), rv, day.base) for k in range(rv.unsettled_pain_days)
        )
        why_pain = (
            f"knee pain {day.pmax}/10 today (step back at {rv.step_back_pain:g}/10"
            f" or {rv.baseline_rise_pain:g} above your usual {day.base:g}/10)"
        )
        if unsettled or len(regressions) >= rv.see_professional_after_regressions:
            return self.see_professional(st, day, regressions, why_pain, unsettled)
        # when to seek help, from the rule that would flag it (issue 19): a step back alone said nothing about it
        seek_help = (
            f". If it is still {rv.step_back_pain:g}/10 or more after {rv.unsettled_pain_days:g} days,"
            " see a physiotherapist or doctor"
        )
        if level == 1:
            st = replace(
                st,
                regressions=regressions,
                rest_day=day.tomorrow,
                level_since=day.tomorrow,
                step_back_return=None,
                step_back_since=None,
            )
            return st, day.out(
                Action.REST, 1, f"{why_pain} at the easiest level: rest tomorrow, then re-test{seek_help}"
            )
        st = replace(
            st,
            level=level - 1,
            level_since=day.tomorrow,
            step_back_return=level,
            step_back_since=d,
            regressions=regressions,
        )
        return st, day.out(
            Action.STEP_BACK,
            level - 1,
            f"{why_pain}: back to level {level - 1} for {rv.step_back_days} days, then return when pain-free"
            f"{seek_help}",
        )

    def see_professional(
        self, st: State, day: _Day, regressions: tuple[date, ...], why_pain: str, unsettled: bool
    ) -> tuple[State, DayOutcome]:
        rv, level = day.rv, day.level
        flag = st.flagged_since is None  # tell the clinician once, not every painful day
        new_level = max(1, level - 1)
        if unsettled:
            why = f"pain has not settled: at step-back level on each of the last {rv.unsettled_pain_days} days"
        else:
            why = f"{len(regressions)} step-backs in {rv.regression_window_days} days"
        st = replace(
            st,
            level=new_level,
            level_since=day.tomorrow if new_level != level else st.level_since,
            step_back_return=None,
            step_back_since=None,
            regressions=regressions,
            flagged_since=st.flagged_since or day.d,
        )
        return st, day.out(
            Action.SEE_PROFESSIONAL,
            new_level,
            f"{why_pain}; {why}: please see a physiotherapist or doctor. Your clinician has been told; "
            f"progression is paused at level {new_level} until they review it",
            flag=flag,
        )

    def uncomfortable(self, st: State, day: _Day) -> _Step:
        """Pain above comfortable (but not step-back) holds the level; a failed readiness test with no session
        done rests the day."""
        rest_day = day.ready is not None and day.ready[0] == Readiness.NOT_READY and not day.finished
        if day.pmax is not None and day.pmax > day.rv.green_pain_max:
            if rest_day and day.ready is not None:
                return st, day.out(Action.REST, day.level, day.ready[1])
            return st, day.out(
                Action.HOLD,
                day.level,
                f"knee pain {day.pmax}/10 is above the comfortable {day.rv.green_pain_max:g}/10: stay at level"
                f" {day.level} and re-test tomorrow",
            )
        if rest_day and day.ready is not None:
            return st, day.out(Action.REST, day.level, day.ready[1])
        return None

    def paused(self, st: State, day: _Day) -> _Step:
        """Progression waits for the clinician after a see-a-professional flag, or while a clinician holds it."""
        if st.flagged_since is not None:
            return st, day.out(
                Action.HOLD,
                day.level,
                f"progression paused since {st.flagged_since.isoformat()} until your clinician reviews the"
                " recommendation to see a professional",
            )
        if st.held_by is not None:
            return st, day.out(Action.HOLD, day.level, f"progression held by clinician {st.held_by}")
        return None

    def stepped_back(self, st: State, day: _Day) -> _Step:
        """After a step back: return to the earlier level once its days are done and a day was pain-free."""
        if st.step_back_return is None or st.step_back_since is None:
            return None
        rv, since = day.rv, st.step_back_since
        elapsed = (day.d - since).days
        green = [s for s in self.sessions_in(since + timedelta(days=1), day.d) if self.is_green_session(s, rv)]
        if elapsed >= rv.step_back_days and green and day.gate is None:
            target = st.step_back_return
            st = replace(st, level=target, level_since=day.tomorrow, step_back_return=None, step_back_since=None)
            return st, day.out(
                Action.ADVANCE,
                target,
                f"{elapsed} days at the easier level and no pain above {rv.green_pain_max:g}/10: back to"
                f" level {target}",
            )
        if elapsed >= rv.step_back_days and not green:
            why = "one pain-free session at this level is needed first"
        else:
            why = f"{elapsed} of {rv.step_back_days} days done"
        return st, day.out(
            Action.HOLD,
            day.level,
            f"stepped back on {since.isoformat()}: staying at level {day.level} before returning to level"
            f" {st.step_back_return} ({why})",
        )

    def progression(self, st: State, day: _Day) -> tuple[State, DayOutcome]:
        """Move up after enough qualifying days at this level (unless the pain gate blocks it); else keep going."""
        rv, level = day.rv, day.level
        if level >= self.p.max_level:
            return st, day.out(Action.HOLD, level, f"top level {level}: keep going, every day, within 15 minutes")
        days = sorted(
            {
                s.day
                for s in self.sessions_in(st.level_since, day.d)
                if s.level == level and self.qualifies(s, rv, day.d)
            }
        )
        need = rv.advance_after_sessions
        if len(days) >= need and day.gate is None:
            st = replace(st, level=level + 1, level_since=day.tomorrow)
            return st, day.out(
                Action.ADVANCE,
                level + 1,
                f"{len(days)} sessions on separate days at level {level} with at least"
                f" {rv.min_valid_rep_ratio:.0%} valid reps, pain at most {rv.green_pain_max:g}/10 and not worse"
                f" the next day: moving up to level {level + 1}",
            )
        if not day.finished and day.pmax is None and day.ready is None:
            return st, day.out(
                Action.HOLD, level, f"no session today ({len(days)} of {need} qualifying at level {level})"
            )
        return st, day.out(
            Action.HOLD, level, f"{len(days)} of {need} qualifying sessions at level {level}: keep going"
        )

    def sessions_in(self, first: date, last: date) -> list[DayFact]:
        out: list[DayFact] = []
        d = first
        while d <= last:
            out.extend(s for s in self.sessions_by_day.get(d, ()) if s.finished)
            d += timedelta(days=1)
        return out

    def is_green_session(self, s: DayFact, rv: RuleValues) -> bool:
        return (
            s.finished
            and s.pain_during is not None
            and s.pain_after is not None
            and max(s.pain_during, s.pain_after) <= rv.green_pain_max
        )

    def replay(self, until: date) -> tuple[State, list[DayOutcome]]:
        first = self.h.first_day() or until
        st = State(level=1, level_since=first)
        outcomes: list[DayOutcome] = []
        d = first
        while d <= until:
            st, o = self.run_day(st, d)
            outcomes.append(o)
            d += timedelta(days=1)
        return st, outcomes


def replay(programme: Programme, history: History, until: date) -> tuple[DayOutcome, ...]:
    """Every day from the first stored fact to `until` with its level and end-of-day decision (for tests/charts)."""
    return tuple(Replay(programme, history).replay(until)[1])


def decide_after_day(programme: Programme, history: History) -> Decision:
    """The decision at the end of the latest programme day: hold, advance, step back, rest or see a professional."""
    if not history.sessions:
        first = history.first_day()
        if first is None:
            raise InputError("no sessions recorded yet")
        day = max(p.day for p in history.pains) if history.pains else first
    else:
        day = max(s.day for s in history.sessions)
    _, outcomes = Replay(programme, history).replay(day)
    o = outcomes[-1]
    return Decision(day=o.day, action=o.action, level=o.next_level, reason=o.reason, flag_clinician=o.flag_clinician)
