"""One coach, one message: the arbiter that picks the single message shown and spoken at a time, and the gate
that holds counting back until the person is in position and a spoken 3-2-1 has finished.

Both are small state machines over what the analysis already produces per frame (LiveFeedback) plus the
safety state the server knows (the person said it hurts). They are pure: time comes in as the frame's t_s, so
a replay gives the same messages as the live camera.

Priority (issue 11 item 3): safety/pain > cannot see you / placement > the fault of the rep just finished >
a fault seen during the rep > encouragement. Encouragement is never given with nobody in view, nor while a
rejected rep's reason is still the newest news.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence

from formcheck.core import feedback as fb
from formcheck.core.feedback import POSITIONING_TEXT, encouragement

__all__ = ["POSITIONING_TEXT", "Coach", "CoachInput", "CoachMessage", "SetGate", "encouragement", "in_start_position"]

# How long a message stays at least, unless something more important arrives (judgement call: long enough to
# read 6-8 words; docs/clinical.md §0.1 "one cue at a time with a cooldown").
MIN_SHOW_S = 1.5
# A rep's verdict stays the message this long after the rep (judgement call: the flash of the old page was
# 1.8 s and people asked what it said; 2.5 s reads a short reason twice).
REP_MESSAGE_S = 2.5
# The same words are not spoken again within this many seconds (same as feedback.CUE_COOLDOWN_S).
SPEAK_COOLDOWN_S = 6.0
# The person must hold the start position this long before the countdown begins (judgement call: filters a
# person walking through the start range on the way into place).
READY_HOLD_S = 1.0
# The spoken countdown: "3", "2", "1", then feedback.GO_TEXT (issue 11 item 2).
COUNTDOWN_S = 3

# Phases in which a rep exercise is "in the start position" (reps.Phase values).
START_PHASES = frozenset({"start"})


class Kind(enum.StrEnum):
    """What a message is about, highest priority first (the order is the priority)."""

    SAFETY = "safety"
    PLACEMENT = "placement"
    COUNTDOWN = "countdown"
    REP_FAULT = "rep_fault"
    LIVE_FAULT = "live_fault"
    REP_GOOD = "rep_good"
    ENCOURAGE = "encourage"


PRIORITY = {k: i for i, k in enumerate(Kind)}


@dataclasses.dataclass(frozen=True)
class CoachMessage:
    """The one message of a frame: kind, the words to show, and the words to say now (None: stay quiet)."""

    kind: Kind
    text: str
    speak: str | None = None
    key: str = ""  # stable id (placement code, rule id, rep index) so clients can style without parsing text

    def to_json(self) -> dict[str, object]:
        return {"kind": str(self.kind), "text": self.text, "speak": self.speak, "key": self.key}


@dataclasses.dataclass(frozen=True)
class RepNews:
    """The rep just counted, as the coach needs it."""

    index: int
    valid: bool | None  # None: could not be judged
    reason: str  # the first fault's cue, or why it was not judged; "" for a good rep
    borderline: str = ""  # a good rep's cue for a value within the measure's noise of its limit


@dataclasses.dataclass(frozen=True)
class CoachInput:
    """Everything the coach looks at for one frame."""

    t_s: float
    pose: bool
    placement: Sequence[tuple[str, str]] = ()  # (code, words) that persisted, most important first
    live_cues: Sequence[str] = ()  # rule cues failing during the current rep
    new_rep: RepNews | None = None
    valid_reps: int = 0
    target_reps: int | None = None
    safety: str | None = None  # e.g. the person pressed "My knee hurts"
    countdown: str | None = None  # "3", "2", "1", "Go" while the gate counts down
    positioning: str | None = None  # "get into your start position" while the gate waits
    counting: bool = True  # False for a preview (nothing counted): no rep talk
    hold: bool = False  # a timed hold: encouragement speaks of holding, not of reps
    mid_rep: bool = False  # a rep is under way: only "cannot see you" interrupts it, never other placement


class Coach:
    """Decides the one message per frame; remembers what it showed and said so it neither flickers nor nags."""

    def __init__(self) -> None:
        self.current: CoachMessage | None = None
        self.since_s = -math.inf
        self._spoken: dict[str, float] = {}
        self._rep_msg: tuple[CoachMessage, float] | None = None

    def _candidates(self, x: CoachInput) -> list[CoachMessage]:
        out: list[CoachMessage] = []
        if x.safety:
            out.append(CoachMessage(Kind.SAFETY, x.safety, key="safety"))
        dark = any(code == "too_dark" for code, _ in x.placement)
        if not x.pose and not dark:  # in the dark "step into view" is the wrong advice: the light comes first
            out.append(CoachMessage(Kind.PLACEMENT, fb.GUIDANCE_TEXT["no_person"], key="no_person"))
        for code, words in x.placement:
            if x.mid_rep and code != "no_person":
                continue  # framing is said between reps: mid-rep words would interrupt the movement
            out.append(CoachMessage(Kind.PLACEMENT, words, key=code))
        if x.positioning and x.pose:
            out.append(CoachMessage(Kind.PLACEMENT, x.positioning, key="positioning"))
        if x.countdown:
            out.append(CoachMessage(Kind.COUNTDOWN, x.countdown, key=f"countdown_{x.countdown}"))
        if x.new_rep is not None and x.counting:
            r = x.new_rep
            if r.valid is True:
                target = x.target_reps or 0
                left = fb.to_go_text(target - x.valid_reps) if x.valid_reps < target else ""
                good = fb.BORDERLINE_TEXT.format(cue=r.borderline) if r.borderline else fb.GOOD_REP_TEXT
                msg = CoachMessage(Kind.REP_GOOD, good + left, key=f"rep_{r.index}")
            elif r.valid is False:
                text = fb.NOT_COUNTED_PREFIX + (r.reason or fb.NOT_COUNTED_DEFAULT)
                msg = CoachMessage(Kind.REP_FAULT, text, key=f"rep_{r.index}")
            else:
                text = fb.NOT_JUDGED_PREFIX + (r.reason or fb.NOT_JUDGED_DEFAULT)
                msg = CoachMessage(Kind.REP_FAULT, text, key=f"rep_{r.index}")
            self._rep_msg = (msg, x.t_s)
        if self._rep_msg is not None:
            msg, t0 = self._rep_msg
            if x.t_s - t0 <= REP_MESSAGE_S:
                out.append(msg)
            else:
                self._rep_msg = None
        if x.counting:
            out.extend(CoachMessage(Kind.LIVE_FAULT, c, key="cue") for c in x.live_cues[:1])
            if x.pose and not x.placement and not x.countdown and not x.positioning:
                out.append(
                    CoachMessage(Kind.ENCOURAGE, encouragement(x.valid_reps, x.target_reps, x.hold), key="encourage")
                )
        return out

    def update(self, x: CoachInput) -> CoachMessage | None:
        """The message for this frame (None when there is nothing to say, e.g. a preview with a person in view)."""
        cands = self._candidates(x)
        best = min(cands, key=lambda m: PRIORITY[m.kind]) if cands else None
        cur = self.current
        if cur is not None and best is not None and best.text != cur.text:
            held = x.t_s - self.since_s < MIN_SHOW_S
            # a shown message is read to the end unless something more important (or the countdown) arrives
            # state-bound messages (placement) go when their state goes; anything else is read to the end
            still_valid = any(c.text == cur.text for c in cands) or cur.kind is not Kind.PLACEMENT
            if held and still_valid and PRIORITY[best.kind] >= PRIORITY[cur.kind] and best.kind is not Kind.COUNTDOWN:
                best = cur
        if best is None:
            self.current = None
            return None
        if cur is None or best.text != cur.text:
            self.current, self.since_s = best, x.t_s
            return dataclasses.replace(best, speak=self._speak(best, x.t_s))
        return dataclasses.replace(cur, speak=None)

    def _speak(self, msg: CoachMessage, t_s: float) -> str | None:
        words = msg.text
        if msg.kind is Kind.ENCOURAGE:
            return None  # shown, not spoken: a voice saying "keep going" every rep nags
        if msg.kind is Kind.REP_GOOD:
            words = fb.GOOD_REP_SPOKEN
        last = self._spoken.get(words)
        if msg.kind is not Kind.COUNTDOWN and last is not None and t_s - last < SPEAK_COOLDOWN_S:
            return None
        self._spoken[words] = t_s
        return words


# ---------------------------------------------------------------------------------------------- set gate


class GateState(enum.StrEnum):
    POSITIONING = "positioning"  # waiting for the person to be in view and in the start position
    COUNTDOWN = "countdown"  # 3-2-1 running; leaving the position sends it back to POSITIONING
    COUNTING = "counting"  # frames go to the rep counter


@dataclasses.dataclass(frozen=True)
class GateStatus:
    state: GateState
    seconds_left: int | None  # 3, 2, 1 during the countdown
    went: bool  # this frame ended the countdown (the next frame is the first one counted)

    def word(self) -> str | None:
        if self.went:
            return fb.GO_TEXT
        return str(self.seconds_left) if self.state is GateState.COUNTDOWN and self.seconds_left else None

    def to_json(self) -> dict[str, object]:
        return {"state": str(self.state), "seconds_left": self.seconds_left}


class SetGate:
    """Counting starts only after the person held the start position READY_HOLD_S and then COUNTDOWN_S more.

    Time is the frames' own t_s; `update(t_s, ready)` once per frame. Once counting, it stays counting: walking
    out of view mid-set is a placement problem, not a new countdown.
    """

    def __init__(self, countdown_s: int = COUNTDOWN_S, ready_hold_s: float = READY_HOLD_S) -> None:
        self.countdown_s, self.ready_hold_s = countdown_s, ready_hold_s
        self.state = GateState.POSITIONING
        self._ready_since: float | None = None
        self._go_at: float | None = None

    def update(self, t_s: float, ready: bool) -> GateStatus:
        if self.state is GateState.COUNTING:
            return GateStatus(GateState.COUNTING, None, False)
        if not ready:
            self.state, self._ready_since, self._go_at = GateState.POSITIONING, None, None
            return GateStatus(self.state, None, False)
        if self._ready_since is None:
            self._ready_since = t_s
        if self.state is GateState.POSITIONING and t_s - self._ready_since >= self.ready_hold_s:
            self.state, self._go_at = GateState.COUNTDOWN, t_s + self.countdown_s
        if self.state is GateState.COUNTDOWN:
            assert self._go_at is not None
            left = self._go_at - t_s
            if left <= 0:
                self.state = GateState.COUNTING
                return GateStatus(GateState.COUNTING, None, True)
            return GateStatus(self.state, int(math.ceil(left - 1e-9)), False)
        return GateStatus(self.state, None, False)


def in_start_position(pose: bool, placement_codes: Sequence[str], phase: str | None, is_hold: bool) -> bool:
    """Ready to count: in view, no placement problem and (reps) in the start position. The camera view is not
    asked for: a view that cannot judge some rules makes them "unknown" (issue 16: counting never waits for a view).
    """
    if not pose or placement_codes:
        return False
    return True if is_hold else (phase in START_PHASES)
