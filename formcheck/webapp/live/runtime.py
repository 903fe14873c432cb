"""The live connection's building blocks: the pose estimator it needs and its thread's priority, the frame
clock, the flood guard and the set being coached."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from formcheck.core.live import LiveSession
from formcheck.core.types import PoseFrame
from formcheck.webapp.limits import TokenBucket
from formcheck.webapp.live import protocol as p
from formcheck.webapp.live.coach import CoachedSet, new_coached_set
from formcheck.webapp.live.recorder import SetRecorder

MAX_CLIENT_TIME_JUMP_S = 60.0  # a client clock that jumps further than this is replaced by the server clock
# The client's capture clock may run ahead of the server's (since the first frame) by at most this: network
# jitter and a burst of queued frames, never a rep counted in less time than it took (issue 17 L5: 60 s jumps
# stored 6 "valid" reps in 8 s of wall time; judgement call).
CLIENT_CLOCK_LEAD_S = 0.5
MIN_FRAME_STEP_S = 1e-3  # frame times strictly increase, by at least this
# The Small Knee Bend Test's verdict is the server's, from the set it judged on this person's live socket; the
# readiness route takes it from the store, never from the page (issue 17 L5). It counts for this long.
SKBT_SETTING = "skbt_seen"
SKBT_VERDICT_MAX_AGE_S = 30 * 60.0


class FrameEstimator(Protocol):
    """What the live socket needs of a pose estimator (formcheck.media.pose.PoseEstimator, or a test's)."""

    def process(self, bgr: np.ndarray, t_s: float) -> PoseFrame: ...

    def close(self) -> None: ...


def lower_thread_priority() -> None:
    """Pose work yields the CPU to request handling (Linux per-thread nice, as video.py's decoder): a saturated
    server still answers other people's pages and API calls promptly. MediaPipe's own threads inherit it."""
    from formcheck.webapp.limits import LIVE_POSE_NICE

    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LIVE_POSE_NICE)


def default_estimator_factory() -> FrameEstimator:
    from formcheck.media.pose import open_estimator

    return open_estimator()


class FloodGuard(TokenBucket):
    """Token bucket over incoming messages: True while the client stays within rate and burst."""

    def __init__(
        self,
        rate_per_s: float = p.FLOOD_RATE_PER_S,
        burst: float = p.FLOOD_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate_per_s, burst, clock)


class FrameClock:
    """Seconds since the first frame: the client's capture clock when sane (never more than CLIENT_CLOCK_LEAD_S
    ahead of the server's), else the server's; increasing."""

    def __init__(self, lead_s: float = CLIENT_CLOCK_LEAD_S) -> None:
        self.lead_s = lead_s
        self.t0_client_ms: float | None = None
        self.t0_server = time.monotonic()
        self.last_t_s = -math.inf

    def __call__(self, client_ms: float | None) -> float:
        server_s = time.monotonic() - self.t0_server
        t = server_s
        if client_ms is not None:
            if self.t0_client_ms is None:
                self.t0_client_ms = client_ms
                self.t0_server = time.monotonic()
            t = (client_ms - self.t0_client_ms) / 1000.0
            server_s = time.monotonic() - self.t0_server
            if not (self.last_t_s - 1e-9 <= t <= max(self.last_t_s, 0.0) + MAX_CLIENT_TIME_JUMP_S):
                t = server_s
            t = min(t, server_s + self.lead_s)  # never ahead of the wall clock by more than the lead
        t = max(t, self.last_t_s + MIN_FRAME_STEP_S) if math.isfinite(self.last_t_s) else max(t, 0.0)
        self.last_t_s = t
        return t


def record_skbt_verdict(store: Any, person_id: int, verdict: str) -> None:
    """Keep the verdict of a Small Knee Bend Test this server judged (person settings: shared by app processes)."""
    store.update_settings(person_id, {SKBT_SETTING: {"verdict": verdict, "at": time.time()}})


def take_skbt_verdict(store: Any, person_id: int) -> str | None:
    """The server's latest Small Knee Bend Test verdict for this person if recent, used up (None: no test seen)."""
    seen = (store.get_person_by_id(person_id).settings or {}).get(SKBT_SETTING)
    if not isinstance(seen, dict):
        return None
    store.update_settings(person_id, {SKBT_SETTING: None})
    at, verdict = seen.get("at"), seen.get("verdict")
    if not isinstance(at, int | float) or not 0 <= time.time() - at <= SKBT_VERDICT_MAX_AGE_S:
        return None
    return verdict if verdict in ("valid", "invalid", "unknown") else None


@dataclasses.dataclass
class ActiveSet:
    """The set being coached: what was asked, its analysis, and (for a stored set) its recorder."""

    req: p.StartSet
    analysis: CoachedSet
    recorder: SetRecorder | None
    holds_stored: int = 0  # holds already stored as "reps" (one per hold_s in good form)


def new_set(req: p.StartSet, overrides: dict[str, float]) -> CoachedSet:
    """The set as coached: a watch session for placement, a 3-2-1 gate, then the counting session."""

    def make_session() -> LiveSession:
        return LiveSession(req.exercise, side=req.side, overrides=overrides or None)

    return new_coached_set(make_session, preview=req.preview, target_reps=req.target_reps)
