"""Pose on all cores: a video split at keyframes into one segment per worker, each decoded and posed by its own
thread with its own landmarker, stitched back by timestamp (issue 20).

- **Plan** (`plan_video`): the container's packets are read without decoding: every frame's timestamp and which
  are keyframes. That gives the frames that will be posed (at most `max_pose_hz` a second: the first frame of
  each 1/max_pose_hz-second slot of presentation time, so the choice does not depend on where a segment starts)
  and the split points: the keyframes nearest equal shares of the clip. A clip with keyframes too sparse to give
  segments of at least MIN_SEGMENT_S is posed in fewer segments (one at worst), never refused.
- **Segments** (`pose_segment`): each starts decoding at its keyframe (a seek that decodes nothing twice) and
  poses from there, but owns its frames only from SETTLE_S later: that first second lets the tracker settle (VIDEO
  mode tracks the pose from frame to frame; a cold start runs the detector) and is owned by the segment before,
  which poses on through it. So segment i owns [split i + SETTLE_S, split i+1 + SETTLE_S). Frames it does not
  pose are decoded but never converted (the RGB conversion and scaling cost more than decoding).
- MediaPipe's C++ call and PyAV's decoding release the GIL, so threads scale with cores (measured: 2 threads,
  2.1x the frames a second of one) without a process per segment; the job already runs in its own process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar, cast

import numpy as np

from formcheck.core.types import PoseFrame, PoseSeq
from formcheck.errors import VideoError
from formcheck.media.models import ModelInfo
from formcheck.media.pose import MediaPipePoseEstimator, PeopleCounter
from formcheck.media.video import (
    MAX_SIDE_PX,
    READ_AHEAD_FRAMES,
    Frame,
    VideoRefusedError,
    _check_caps,
    _lower_thread_priority,
    _open,
    _scaled_size,
    _short,
    _upright,
)

T = TypeVar("T")
# A rehab rep lasts >= 1 s: 30 poses a second sample it finely (and a 60 fps clip costs half as much to pose).
MAX_POSE_HZ = 30.0
SETTLE_S = 1.0  # a segment's first second, posed twice (dropped by it, owned by the one before): the tracker settles
DECODER_THREADS = 2  # per segment: the segments already fill the cores, and each decoder thread holds frames
MIN_SEGMENT_S = 3.0  # shorter segments are not worth a landmarker (0.1-0.3 s to create, docs/platform.md §7)
PROGRESS_POLL_S = 0.25
SLOT_EPS = 1e-6  # a frame stamped exactly on a slot boundary (k / 30 s) belongs to slot k despite rounding


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity), else os.cpu_count()."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def slot_of(t_s: float, max_pose_hz: float | None) -> float:
    """The pose slot a frame falls in: a frame is posed when its slot differs from the previous frame's."""
    return math.floor(t_s * max_pose_hz + SLOT_EPS) if max_pose_hz else t_s


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a segmented run will do: the split points (seconds; segment i owns [starts[i], starts[i+1])) and
    how many frames it will pose in all."""

    starts: tuple[float, ...]
    total: int
    frames: int  # frames in the file


def _packet_times(path: Path, max_frames: int | None, max_s: float | None) -> tuple[list[float], list[float]]:
    """(every frame's presentation time, the keyframes' times), sorted, from the packets alone (no decoding).
    The caps are checked on what the file holds, and a file shorter than its index says is refused."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        tb = stream.time_base
        times: list[float] = []
        keys: list[float] = []
        try:
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                if packet.pts is None or tb is None:
                    times.append(float("nan"))
                    continue
                t = float(packet.pts * tb)
                times.append(t)
                if packet.is_keyframe:
                    keys.append(t)
                if max_frames is not None and len(times) > max_frames:
                    _check_caps(len(times), 0.0, max_frames, None)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(
                f"{path}: video is truncated or corrupt after {len(times)} frames ({_short(exc)})"
            ) from exc
        expected = stream.frames or 0
        if expected and len(times) < expected:
            raise VideoError(f"{path}: video is truncated: {len(times)} of {expected} frames are in the file")
    finally:
        container.close()
    times.sort()
    if times and np.isfinite(times).all():
        _check_caps(len(times), times[-1] - times[0], max_frames, max_s)
    return times, sorted(keys)


def plan_video(
    path: str | Path,
    workers: int,
    *,
    max_pose_hz: float | None = MAX_POSE_HZ,
    max_frames: int | None = None,
    max_s: float | None = None,
) -> Plan:
    """Split points at keyframes (one segment per worker at most) and the number of frames to pose."""
    times, keys = _packet_times(Path(path), max_frames, max_s)
    if not times:
        raise VideoError(f"{path}: no frames could be decoded (truncated or not a video)")
    if not np.isfinite(times).all():  # no timestamps to plan on: one segment, every frame
        return Plan(starts=(-math.inf,), total=len(times), frames=len(times))
    total, last = 0, None
    for t in times:
        s = slot_of(t, max_pose_hz)
        total += s != last
        last = s
    first, end = times[0], times[-1]
    starts: list[float] = [-math.inf]
    n = max(1, min(workers, int((end - first) // MIN_SEGMENT_S)))
    for i in range(1, n):
        target = first + (end - first) * i / n
        best = min(keys, key=lambda k: abs(k - target), default=None)
        prev = first if len(starts) == 1 else starts[-1]
        if best is not None and best - prev >= MIN_SEGMENT_S and end - best >= MIN_SEGMENT_S:
            starts.append(best)
    return Plan(starts=tuple(starts), total=total, frames=len(times))


def _decoded(path: Path, seek_s: float, stop: threading.Event) -> Iterator[tuple[float, object]]:
    """(time, av.VideoFrame) from the keyframe at or before `seek_s` on, decoded with the decoder's threads."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = DECODER_THREADS
        tb = stream.time_base
        rate = float(stream.average_rate) if stream.average_rate else None
        if math.isfinite(seek_s) and tb is not None:
            container.seek(max(0, round(seek_s / tb)), stream=stream, backward=True)
        last_t, n = -math.inf, 0
        try:
            for vf in container.decode(stream):
                if stop.is_set():
                    return
                if vf.pts is not None and tb is not None:
                    t = float(vf.pts * tb)
                elif rate:
                    t = n / rate
                else:
                    raise VideoError(f"{path}: frames carry no timestamps and the stream has no frame rate")
                t = t if t > last_t else last_t + 1e-3  # duplicate or reordered pts: keep time increasing
                last_t, n = t, n + 1
                yield t, vf
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{path}: video is truncated or corrupt after {n} frames ({_short(exc)})") from exc
    finally:
        container.close()


def to_frame(t_s: float, vf: object, max_side_px: int | None = MAX_SIDE_PX) -> Frame:
    """An upright RGB Frame from a decoded av.VideoFrame, scaled (by the decoder's scaler) to `max_side_px`."""
    w0, h0 = vf.width, vf.height  # type: ignore[attr-defined]
    w, h = _scaled_size(w0, h0, max_side_px)
    rgb = vf.to_ndarray(format="rgb24", width=w, height=h)  # type: ignore[attr-defined]
    rot = int(getattr(vf, "rotation", 0) or 0) % 360
    return Frame(t_s=t_s, rgb=np.ascontiguousarray(_upright(rgb, rot)))


def posed_frames(
    path: Path, bounds: tuple[float, float, float], max_pose_hz: float | None, stop: threading.Event
) -> Iterator[tuple[bool, Frame]]:
    """(owned, Frame) for every frame to pose from the keyframe `bounds[0]` to `bounds[2]`, owned from `bounds[1]`."""
    seek_s, own_s, end_s = bounds
    last_slot: float | None = None
    for t, vf in _decoded(path, seek_s, stop):
        if t >= end_s:
            return
        slot = slot_of(t, max_pose_hz)
        if slot == last_slot:
            continue
        last_slot = slot
        yield t >= own_s, to_frame(t, vf)


def frames_at(
    path: str | Path, t_s: np.ndarray, tol_s: float = 2e-3, stop: threading.Event | None = None
) -> Iterator[Frame]:
    """The decoded frames whose time is one of `t_s` (the posed ones; every frame when `t_s` is empty), only
    those converted to RGB: the review video is drawn on the frames that have landmarks."""
    times = np.asarray(t_s, dtype=float)
    for t, vf in _decoded(Path(path), -math.inf, stop or threading.Event()):  # closing it closes the file
        if len(times):
            i = int(np.clip(np.searchsorted(times, t), 1, len(times) - 1)) if len(times) > 1 else 0
            near = min(abs(times[i] - t), abs(times[max(i - 1, 0)] - t))
            if near > tol_s:
                continue
        yield to_frame(t, vf)


@dataclasses.dataclass
class _Counter:
    """Frames posed so far, and the seconds the segment threads spent decoding and posing (summed over them)."""

    done: int = 0
    decode_s: float = 0.0
    pose_s: float = 0.0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def add(self, owned: bool, decode_s: float, pose_s: float) -> None:
        with self.lock:
            self.done += owned
            self.decode_s += decode_s
            self.pose_s += pose_s


def pose_segment(
    path: Path,
    bounds: tuple[float, float, float],
    model: ModelInfo,
    *,
    max_pose_hz: float | None,
    counter: _Counter,
    stop: threading.Event,
    people: PeopleCounter | None = None,
) -> list[PoseFrame]:
    """One segment's landmarks (the frames it owns), with its own landmarker (and the video's people counter)."""
    out: list[PoseFrame] = []
    with MediaPipePoseEstimator(model, people=people) as est:
        for owned, frame in read_ahead(lambda halt: posed_frames(path, bounds, max_pose_hz, halt), counter):
            if stop.is_set():
                break
            t0 = time.perf_counter()
            pf = est._detect(frame)
            if owned:
                out.append(pf)
            counter.add(owned, 0.0, time.perf_counter() - t0)
    return out


def read_ahead(make: Callable[[threading.Event], Iterator[T]], counter: _Counter | None = None) -> Iterator[T]:
    """What `make(halt)` yields (frames), decoded READ_AHEAD_FRAMES ahead on a niced thread (as video.read_video
    does) so decoding overlaps inference; its errors are raised here; leaving the loop halts it."""
    q: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD_FRAMES)
    halt, done = threading.Event(), object()

    def put(item: object) -> None:
        while not halt.is_set():
            with contextlib.suppress(queue.Full):
                q.put(item, timeout=0.1)
                return

    def work() -> None:
        _lower_thread_priority()
        try:
            t0 = time.perf_counter()
            for item in make(halt):
                if counter is not None:
                    counter.add(False, time.perf_counter() - t0, 0.0)
                put(item)
                t0 = time.perf_counter()
            put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    thread = threading.Thread(target=work, name="pose-segment-decode", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        halt.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get_nowait()
            thread.join(timeout=0.05)


def _segment_error(i: int, n: int, bounds: tuple[float, float, float], exc: BaseException) -> BaseException:
    if n == 1 or isinstance(exc, VideoRefusedError):
        return exc
    lo, hi = max(bounds[1], 0.0), bounds[2]
    where = f"{lo:.1f} s to the end" if not math.isfinite(hi) else f"{lo:.1f}-{hi:.1f} s"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return VideoError(f"segment {i + 1} of {n} ({where}) failed: {text}")


def pose_video(
    path: str | Path,
    model: ModelInfo,
    *,
    workers: int | None = None,
    max_pose_hz: float | None = MAX_POSE_HZ,
    progress: Callable[[int, int], None] | None = None,
    max_frames: int | None = None,
    max_s: float | None = None,
    stats: dict[str, float] | None = None,
) -> PoseSeq:
    """Raw landmarks of a video posed in parallel segments (see the module docstring); progress(done, total) is
    called from this thread. A failing segment stops the others and raises its one-line reason. `stats` gets
    the plan's seconds, the decode and pose seconds summed over the segment threads, and the segment count."""
    path = Path(path)
    t0 = time.perf_counter()
    plan = plan_video(path, workers or default_workers(), max_pose_hz=max_pose_hz, max_frames=max_frames, max_s=max_s)
    owns = [-math.inf, *(s + SETTLE_S for s in plan.starts[1:]), math.inf]
    bounds = [(start, owns[i], owns[i + 1]) for i, start in enumerate(plan.starts)]
    counter, stop = _Counter(), threading.Event()
    n = len(bounds)
    plan_s = time.perf_counter() - t0
    people = PeopleCounter(model)
    with contextlib.closing(people), ThreadPoolExecutor(max_workers=n, thread_name_prefix="pose-segment") as pool:
        futures: list[Future[list[PoseFrame]]] = [
            pool.submit(
                pose_segment, path, b, model, max_pose_hz=max_pose_hz, counter=counter, stop=stop, people=people
            )
            for b in bounds
        ]
        try:
            while True:
                finished, pending = wait(futures, timeout=PROGRESS_POLL_S, return_when=FIRST_EXCEPTION)
                if progress is not None:
                    progress(min(counter.done, plan.total), plan.total)
                if not pending or any(f.exception() is not None for f in finished):
                    break
        except BaseException:  # the progress callback's lease was lost, or an interrupt: stop every segment
            stop.set()
            raise
        for i, f in enumerate(futures):
            exc = f.exception() if f.done() else None
            if exc is not None:
                stop.set()
                raise _segment_error(i, n, bounds[i], exc) from exc
    frames = [pf for f in futures for pf in f.result()]
    if not frames:
        raise VideoError(f"{path}: no frames could be decoded (truncated or not a video)")
    if progress is not None:
        progress(len(frames), max(plan.total, len(frames)))
    if stats is not None:
        stats.update(plan_s=plan_s, decode_s=counter.decode_s, pose_s=counter.pose_s, segments=n, posed=len(frames))
    return PoseSeq.from_frames(frames, frame_wh=frames[0].frame_wh)
