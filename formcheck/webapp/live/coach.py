"""The live socket's coaching layer: the countdown gate in front of the rep counter, and the one coach message.

Kept apart from the connection (transport) so the wire protocol and the coaching rules change independently. Runs in
the connection's pose thread, like the analysis it wraps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from formcheck.core.coach import (
    START_PHASES,
    Coach,
    CoachInput,
    CoachMessage,
    GateState,
    GateStatus,
    Kind,
    RepNews,
    SetGate,
    in_start_position,
)
from formcheck.core.feedback import GUIDANCE_TEXT, POSITIONING_TEXT, PREVIEW_OK_TEXT, SAFETY_TEXT, view_hint_key
from formcheck.core.geometry import View
from formcheck.core.live import LiveSession
from formcheck.core.results import LiveFeedback, Rep, SetResult
from formcheck.core.types import PoseFrame

SessionFactory = Callable[[], LiveSession]

# The turn suggestion for a view the exercise's form rules cannot be judged from is shown this long, once a set
# (judgement call: long enough to read five words; it never holds the set, issue 16).
VIEW_HINT_S = 3.0


def rep_news(rep: Rep) -> RepNews:
    verdict = str(rep.verdict)
    valid = True if verdict == "valid" else False if verdict == "invalid" else None
    reason = next((f.cue for f in rep.faults if f.cue), "") or str(rep.why or "")
    if reason.lower().startswith("unknown"):
        reason = reason.split("—", 1)[-1].split("-", 1)[-1].strip() if ("—" in reason or "-" in reason) else reason
    borderline = next((c.cue for c in rep.borderline), "") if valid else ""
    return RepNews(index=int(rep.index), valid=valid, reason=reason, borderline=borderline)


@dataclasses.dataclass
class Frame:
    """One frame's coaching outcome: the feedback to show, the feedback that counted (None before Go)."""

    shown: LiveFeedback
    counted: LiveFeedback | None
    counting: bool
    gate: GateStatus | None
    message: CoachMessage | None
    last_counted: LiveFeedback | None = None


class CoachedSet:
    """One set (or preview) as the person experiences it: positioning → 3-2-1 → counting, one message a frame.

    `make_session()` builds a fresh LiveSession; the counting one is fed only from the frame after "Go", so
    nothing the person did while walking into place is ever a rep.
    """

    def __init__(
        self,
        make_session: SessionFactory,
        *,
        preview: bool,
        target_reps: int | None,
        is_hold: bool,
        views: tuple[str, ...],
    ) -> None:
        self.preview, self.target_reps, self.is_hold, self.views = preview, target_reps, is_hold, views
        self.coach = Coach()
        self.counting_session: LiveSession | None = None if preview else make_session()
        self.gate: SetGate | None = None if preview else SetGate()
        self.watch_session: LiveSession = make_session()  # placement + start position while not counting
        self.safety: str | None = None
        self.last_counted: LiveFeedback | None = (
            None  # the newest feedback of the counting session (its counts stay shown)
        )
        self._hint: tuple[str, float] | None = None  # (turn suggestion key, when it was first shown)

    def result(self) -> SetResult:
        return self.analysis.result()

    @property
    def analysis(self) -> LiveSession:
        """The session whose result() is the set's result (the counting one once it exists)."""
        return self.counting_session if self.counting_session is not None else self.watch_session

    @property
    def counting(self) -> bool:
        return self.gate is not None and self.gate.state is GateState.COUNTING and self.safety is None

    def stop_for_pain(self, text: str = SAFETY_TEXT) -> None:
        """The person said it hurts: nothing more is counted in this set, and the coach says stop."""
        self.safety = text

    def update(self, pf: PoseFrame) -> Frame:
        status: GateStatus | None = None
        counted: LiveFeedback | None = None
        if self.safety is not None:
            shown = self.watch_session.update(pf)  # the counting session is not fed after a pain report
        elif self.gate is not None and self.counting_session is not None and self.gate.state is GateState.COUNTING:
            shown = counted = self.last_counted = self.counting_session.update(pf)
            status = GateStatus(GateState.COUNTING, None, False)
        else:
            shown = self.watch_session.update(pf)
            if self.gate is not None:
                ready = in_start_position(pf.detected, shown.guidance_keys, shown.phase, self.is_hold)
                status = self.gate.update(pf.t_s, ready)
        msg = self.coach.update(self._coach_input(pf, shown, counted, status))
        if msg is None and self.preview and pf.detected:
            msg = CoachMessage(Kind.ENCOURAGE, PREVIEW_OK_TEXT, key="preview_ok")
        return Frame(
            shown=shown,
            counted=counted,
            counting=counted is not None,
            gate=status,
            message=msg,
            last_counted=self.last_counted,
        )

    def _coach_input(
        self, pf: PoseFrame, shown: LiveFeedback, counted: LiveFeedback | None, status: GateStatus | None
    ) -> CoachInput:
        placement = tuple(zip(shown.guidance_keys, shown.guidance, strict=False)) if shown is not None else ()
        hint = self._view_hint(pf.t_s, shown)
        if hint is not None:
            placement = (*placement, (hint, GUIDANCE_TEXT[hint]))
        positioning = countdown = None
        if status is not None and status.state is GateState.POSITIONING:
            positioning = POSITIONING_TEXT
        if status is not None:
            countdown = status.word()
        # a rep that looked like another exercise is news too: "Not counted: This looks like a lunge: ..."
        done = None if counted is None else (counted.new_rep or counted.not_counted)
        new_rep = rep_news(done) if done is not None else None
        return CoachInput(
            t_s=pf.t_s,
            pose=pf.detected,
            placement=placement,
            live_cues=tuple(shown.cues) if counted is not None else (),
            new_rep=new_rep,
            valid_reps=int(counted.valid_rep_count) if counted is not None else 0,
            target_reps=self.target_reps,
            safety=self.safety,
            countdown=countdown,
            positioning=positioning,
            counting=counted is not None or (status is not None and status.went),
            hold=self.is_hold,
            mid_rep=counted is not None and counted.phase not in START_PHASES and not self.is_hold,
        )

    def _view_hint(self, t_s: float, shown: LiveFeedback) -> str | None:
        """The turn suggestion, shown once a set for VIEW_HINT_S when the view cannot judge the form rules."""
        if self._hint is None:
            key = view_hint_key(tuple(View(v) for v in self.views), View(shown.view)) if shown.view else None
            if key is None:
                return None
            self._hint = (key, t_s)
        key, t0 = self._hint
        return key if t_s - t0 <= VIEW_HINT_S else None


def new_coached_set(make_session: SessionFactory, *, preview: bool, target_reps: int | None) -> CoachedSet:
    """A CoachedSet for `make_session`'s exercise (raises what make_session raises for an unknown one)."""
    probe = make_session()
    spec = probe.spec
    cs = CoachedSet(
        make_session,
        preview=preview,
        target_reps=target_reps,
        is_hold=bool(spec.is_hold),
        views=tuple(str(v) for v in spec.views),
    )
    return cs
