"""A recorded clip's landmarks replayed through the live coach exactly as a browser-pose page sends them.

`formcheck eval --live` measures the live coach with this: every frame becomes the landmark message the page's
Web Worker sends (`landmark_msgs.pose_frame_message`), is parsed and checked by the same intake as the socket
(`LandmarkIntake`), turned into the same PoseFrame (`to_pose_frame`) and fed to the same coached set
(`runtime.new_set`: placement, start-position gate, 3-2-1, then the counting LiveSession). Only the transport
and the clock are left out: the socket's `FrameClock` would fall back to the server's clock when a replay runs
faster than real time, so the replay uses the message's own capture time, as a real-time page does.
`tests/test_live_replay.py` drives a clip through a real server's `/ws/live` and checks both give the same reps.

The page is modelled the way a person starts a set: the camera sees them standing still in the start position
for `lead_in_s` (the frame where the first labelled rep begins, held), then the whole clip plays.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from formcheck.core.results import Rep, SetResult
from formcheck.core.types import FloatArray, PoseFrame, PoseSeq
from formcheck.evaluate import Analyser, Json
from formcheck.webapp.live import landmark_msgs as lmsg
from formcheck.webapp.live import protocol as p
from formcheck.webapp.live.coach import CoachedSet
from formcheck.webapp.live.runtime import new_set

# What the browser-pose page sends by default (static/live/pose-loop: one landmark message per processed frame).
DEFAULT_REPLAY_FPS = 15.0
# The frame rates a page may deliver (a busy laptop to a fast one); `formcheck eval --fps` accepts these.
REPLAY_FPS_CHOICES = (10.0, 12.0, 15.0, 20.0, 30.0)
# Seconds the person stands still in the start position before the clip: enough for the gate's hold (1 s) and the
# spoken 3-2-1 (3 s) with a second to spare, as a person waits for "Go".
LEAD_IN_S = 5.0


@dataclasses.dataclass(frozen=True)
class Replay:
    """One replay: the set's result with rep times on the clip's clock, and when counting began (clip s)."""

    result: SetResult
    counting_from_s: float | None
    frames_sent: int


def frame_times(t_s: FloatArray, fps: float) -> list[int]:
    """Indices of the frames a page running at `fps` would have processed: the first frame at or after each
    1/fps tick (all frames of a clip filmed slower than `fps`)."""
    out: list[int] = []
    next_t = -np.inf
    for i, t in enumerate(t_s):
        if t >= next_t - 1e-6:
            out.append(i)
            next_t = max(next_t + 1.0 / fps, t + 0.5 / fps) if np.isfinite(next_t) else t + 1.0 / fps
    return out


def start_frame(seq: PoseSeq, first_rep_start_s: float | None) -> int:
    """The frame shown during the lead-in: where the first labelled rep starts (else the first with a person)."""
    if first_rep_start_s is not None:
        return int(np.clip(np.searchsorted(seq.t_s, first_rep_start_s), 0, len(seq) - 1))
    detected = np.flatnonzero(seq.detected)
    return int(detected[0]) if len(detected) else 0


def replay_live(
    seq: PoseSeq,
    exercise: str,
    side: str = "auto",
    *,
    fps: float = DEFAULT_REPLAY_FPS,
    first_rep_start_s: float | None = None,
    lead_in_s: float = LEAD_IN_S,
) -> Replay:
    """Replay `seq` through the live coach as a browser-pose page at `fps`; rep times on the clip's clock."""
    coached = new_set(p.StartSet(exercise=exercise, side=side), {})
    intake = lmsg.LandmarkIntake()
    plan = schedule(seq, fps, first_rep_start_s, lead_in_s)
    counting_from: float | None = None
    for n, (i, t) in enumerate(plan):
        pf = _through_the_wire(intake, page_message(seq, i, n, t))
        fr = coached.update(pf)
        if fr.counting and counting_from is None:
            counting_from = t - lead_in_s
    return Replay(_on_clip_clock(coached, lead_in_s - float(seq.t_s[0])), counting_from, len(plan))


def schedule(
    seq: PoseSeq, fps: float, first_rep_start_s: float | None = None, lead_in_s: float = LEAD_IN_S
) -> list[tuple[int, float]]:
    """(clip frame, send time s) of every message the page sends: the start frame held still, then the clip."""
    hold = start_frame(seq, first_rep_start_s)
    plan = [(hold, k / fps) for k in range(int(round(lead_in_s * fps)))]
    plan += [(i, lead_in_s + float(seq.t_s[i] - seq.t_s[0])) for i in frame_times(seq.t_s, fps)]
    return plan


def page_message(seq: PoseSeq, i: int, n: int, t_s: float) -> str:
    """The landmark message (JSON text) the page sends as its `n`-th, for clip frame `i` captured at `t_s`."""
    return json.dumps(lmsg.pose_frame_message(seq.frame(i), seq=n, t_ms=t_s * 1000.0), separators=(",", ":"))


def _through_the_wire(intake: lmsg.LandmarkIntake, text: str) -> PoseFrame:
    """The PoseFrame the socket builds from the page's message."""
    parsed = intake.accept(text)
    return lmsg.to_pose_frame(parsed, parsed.t_ms / 1000.0)


def _on_clip_clock(coached: CoachedSet, shift_s: float) -> SetResult:
    """The set's result with rep times moved from the replay's clock back onto the clip's."""
    res = coached.result()
    reps = tuple(_shift(r, shift_s) for r in res.reps)
    return dataclasses.replace(res, reps=reps)


def _shift(rep: Rep, shift_s: float) -> Rep:
    return dataclasses.replace(
        rep, start_s=rep.start_s - shift_s, bottom_s=rep.bottom_s - shift_s, end_s=rep.end_s - shift_s
    )


def live_analyser(fps: float = DEFAULT_REPLAY_FPS) -> Analyser:
    """`formcheck eval`'s live path: each labelled clip replayed through the coach at `fps`, the lead-in held
    at the frame where its first labelled rep starts."""

    def analyse(seq: PoseSeq, entry: Json, side: str) -> SetResult:
        times = entry.get("rep_times") or []
        first = float(times[0][0]) if times else None
        return replay_live(seq, entry["exercise"], side, fps=fps, first_rep_start_s=first).result

    return analyse
