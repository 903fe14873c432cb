"""Shared-capacity limits: live-coaching slots, token buckets and the sign-in gate's building blocks.

Everything here is per app instance (kept on app.state), never module-level, and bounded in memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

LIVE_BUSY = "The live coach is busy ({n} sessions are running on this computer): try again in a minute"
LIVE_PERSON_BUSY = "You already have {n} live sessions open: close the other tab or device, then reload"
LIVE_TOO_OFTEN = "Too many live connections in a short time: wait {s} s, then reload the page"
# Each new live socket loads a pose model (~150 MB, ~0.5 s of CPU): a person may open this many in a burst, then
# one every LIVE_CONNECT_EVERY_S (judgement call: reloads and a flaky network, not a reconnect loop).
LIVE_CONNECT_BURST = 10
LIVE_CONNECT_EVERY_S = 6.0
LIVE_POSE_NICE = 10  # niceness of live pose threads (video.py's decoder uses the same)
# Niceness of a review job's process: a video waits seconds more without harm, while a person mid-rep on the live
# coach and every page request wait on the same cores (issue 17: another person's p95 in the combined run).
JOB_NICE = 15
MAX_TRACKED_KEYS = 10_000  # per-client buckets kept; the least recently used are dropped beyond this


@dataclass(frozen=True)
class SlotRefusal:
    code: str  # "busy"
    message: str


class LiveSlots:
    """Live WebSocket slots: at most `total` at once and `per_person` per person (thread- and loop-safe)."""

    def __init__(self, total: int, per_person: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.per_person = total, per_person
        self._lock = threading.Lock()
        self._by_person: dict[int, int] = {}
        self._connects = KeyedBuckets(1.0 / LIVE_CONNECT_EVERY_S, LIVE_CONNECT_BURST, clock=clock)

    def acquire(self, person_id: int) -> SlotRefusal | None:
        """None when a slot was taken (release it later); otherwise why not."""
        with self._lock:
            if self._by_person.get(person_id, 0) >= self.per_person:
                return SlotRefusal("busy", LIVE_PERSON_BUSY.format(n=self.per_person))
            if sum(self._by_person.values()) >= self.total:
                return SlotRefusal("busy", LIVE_BUSY.format(n=self.total))
            ok, wait_s = self._connects.take(str(person_id))
            if not ok:
                return SlotRefusal("busy", LIVE_TOO_OFTEN.format(s=max(1, round(wait_s))))
            self._by_person[person_id] = self._by_person.get(person_id, 0) + 1
            return None

    def release(self, person_id: int) -> None:
        with self._lock:
            left = self._by_person.get(person_id, 0) - 1
            if left > 0:
                self._by_person[person_id] = left
            else:
                self._by_person.pop(person_id, None)

    def in_use(self) -> int:
        with self._lock:
            return sum(self._by_person.values())


class TokenBucket:
    """`rate_per_s` tokens a second up to `burst`; `take()` is True while a token is left."""

    def __init__(self, rate_per_s: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s, self.burst, self._clock = rate_per_s, burst, clock
        self._tokens, self._t = float(burst), clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate_per_s)
        self._t = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    allow = take  # the per-socket guards read better as "allow this message"

    def wait_s(self) -> float:
        """Seconds until the next token (for Retry-After)."""
        return max(0.0, (1.0 - self._tokens) / self.rate_per_s) if self.rate_per_s > 0 else 60.0


class KeyedBuckets:
    """One TokenBucket per key (client address, ...), least recently used dropped beyond `max_keys`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s, self.burst, self.max_keys, self._clock = rate_per_s, burst, max_keys, clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds to wait when not)."""
        with self._lock:
            bucket = self._buckets.pop(key, None) or TokenBucket(self.rate_per_s, self.burst, self._clock)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            ok = bucket.take()
            return ok, 0.0 if ok else bucket.wait_s()
