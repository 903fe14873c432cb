"""Clips of flagged reps: the last seconds of camera JPEGs per connection, encoded by media.video.H264Writer.

Only with the person's consent (their `store_flagged_clips` setting); a clip is a few seconds around one rep.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from formcheck.media.video import H264Writer

log = logging.getLogger(__name__)

CLIP_BUFFER_S = 15.0  # JPEG ring buffer for flagged-rep clips: longer than any single rep (reps.py max)
CLIP_BUFFER_MAX_FRAMES = 450  # 15 s at 30 fps; bounds memory at ~450 x 40 kB = 18 MB worst case
CLIP_PAD_S = 0.5  # clip context before the rep starts and after it ends
MAX_PENDING_CLIPS = 2  # clip encodes in flight per connection; more flagged reps than that wait their turn
CLIP_CRF = 26  # a review clip needs less quality than the annotated upload (crf 23): about 30 % smaller

TimedJpeg = tuple[float, bytes]


class ClipBuffer:
    """The last CLIP_BUFFER_S seconds of JPEG frames (bounded by count too), for clips of flagged reps."""

    def __init__(self, max_s: float = CLIP_BUFFER_S, max_frames: int = CLIP_BUFFER_MAX_FRAMES) -> None:
        self.max_s = max_s
        self._frames: collections.deque[TimedJpeg] = collections.deque(maxlen=max_frames)

    def add(self, t_s: float, jpeg: bytes) -> None:
        self._frames.append((t_s, jpeg))
        while self._frames and t_s - self._frames[0][0] > self.max_s:
            self._frames.popleft()

    def window(self, t0_s: float, t1_s: float) -> list[TimedJpeg]:
        return [(t, j) for t, j in self._frames if t0_s <= t <= t1_s]

    def __len__(self) -> int:
        return len(self._frames)


def write_clip(frames: list[TimedJpeg], out: Path) -> Path:
    """Encode (t_s, JPEG) frames to a browser-playable H.264 MP4 (docs/platform.md §1), atomically."""
    import cv2

    if not frames:
        raise ValueError("no frames for the clip")
    with H264Writer(out, crf=CLIP_CRF) as writer:
        for t_s, jpeg in frames:
            bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if bgr is not None:
                writer.write(bgr, fmt="bgr24", t_s=t_s)
    return out


def clip_path(data_dir: Path, person_id: int, session_id: int | None, rep_id: int) -> Path:
    session = session_id if session_id is not None else 0
    return Path(data_dir) / "clips" / f"person{int(person_id)}" / f"session{int(session)}_rep{rep_id}.mp4"


class ClipJobs:
    """The clip encodes of one connection (at most MAX_PENDING_CLIPS at a time), awaited before a set ends."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def schedule(self, frames: list[TimedJpeg], out: Path, attach: Callable[[Path], None] | None) -> None:
        """Encode `frames` to `out` off the event loop, then `attach(path)` (the store's rep clip row)."""
        if len(self.tasks) >= MAX_PENDING_CLIPS:
            log.warning("clip %s skipped: %d clips still encoding", out.name, len(self.tasks))
            return

        async def job() -> None:
            try:
                path = await asyncio.to_thread(write_clip, frames, out)
                if attach is not None:
                    await asyncio.to_thread(attach, path)
            except Exception:  # noqa: BLE001 - a failed clip must never end the live session
                log.exception("clip %s failed", out.name)

        task = asyncio.create_task(job())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
