"""Pose estimation: the only module that imports the mediapipe runtime. Frames in, PoseFrame (px, metres) out.

`PoseEstimator` is what the analysis, the pipeline and the live server need from an estimator (a Protocol, so a
test or another model can stand in); `MediaPipePoseEstimator` is the one the project ships.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from formcheck.config import load_config, user_cache_dir
from formcheck.core.landmarks import N_LANDMARKS
from formcheck.core.types import PoseFrame, PoseSeq
from formcheck.errors import PoseModelError, VideoError
from formcheck.media.models import ModelInfo, check_bundle_file, ensure_model, sha256_file
from formcheck.media.video import Frame, frames_from, probe, read_video

log = logging.getLogger(__name__)

ENV_NATIVE_LOG = "FORMCHECK_NATIVE_LOG"  # "1": keep MediaPipe's C++ logging on stderr; a path: write it there
ENV_CACHE_DIR = "FORMCHECK_CACHE_DIR"
# Detection/tracking confidences: MediaPipe's defaults (0.5); speed does not depend on them (docs/platform.md §7).
MIN_DETECTION_CONFIDENCE = 0.5
MIN_PRESENCE_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5
# num_poses=1 keeps VIDEO-mode tracking (2x faster than 2 poses, docs/platform.md §7), so a second landmarker
# looks for a second person only this often (IMAGE mode, 2 poses), on its own thread so that it overlaps the
# main inference instead of adding to it (measured inline: 4-8% of the throughput).
PEOPLE_CHECK_INTERVAL_S = 5.0
LUMA_STRIDE_PX = 16  # brightness is the mean of every 16th pixel: plenty for "too dark", near free
# Landmark caches are keyed by the video bytes, the model and this version of the frame path.
PIPELINE_VERSION = "2"  # 2: frames scaled to <= 960 px before inference


# MediaPipe/LiteRT/TFLite native log lines (C++ writes them straight to file descriptor 2).
NATIVE_LOG_LINE = re.compile(
    rb"^(?:(?:INFO|WARNING|ERROR|VERBOSE): \[[\w.]+:\d+\] "  # LiteRT: "INFO: [environment.cc:36] ..."
    rb"|INFO: (?:Created|Initialized) TensorFlow Lite"  # TFLite delegate banner
    rb"|WARNING: (?:Logging before InitGoogle|All log messages before absl::InitializeLog)"
    rb"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+:\d+\] )"  # glog/absl: "W0000 00:00:..."
)
NATIVE_FILTER_CHUNK_BYTES = 65536
NATIVE_FILTER_DRAIN_S = 1.0  # at exit: how long the filter may take to pass on what is still in the pipe


def _forward_non_native(read_fd: int, real_fd: int, sink_fd: int | None) -> None:
    """Pass every line of fd 2 on to the real stderr except MediaPipe's native log (dropped, or to `sink_fd`)."""
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, NATIVE_FILTER_CHUNK_BYTES)
        except OSError:
            chunk = b""
        if not chunk:
            if pending:
                os.write(real_fd, pending)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if NATIVE_LOG_LINE.match(line):
                if sink_fd is not None:
                    os.write(sink_fd, line + b"\n")
            else:
                os.write(real_fd, line + b"\n")


def _silence_native_stderr() -> None:
    """Filter MediaPipe's native (C++) log out of stderr; keep everything else, the server's tracebacks included.

    MediaPipe's GLOG/TF/ABSL environment variables have no effect (docs/platform.md §7) and its C++ code writes to
    file descriptor 2 directly, so fd 2 becomes a pipe read by a filter thread: native log lines are dropped (or
    written to FORMCHECK_NATIVE_LOG=path), every other line goes on to the real stderr. Python's own `sys.stderr`
    writes straight to the real stderr. Done once, only when mediapipe is first imported.
    """
    target = load_config().native_log
    if target == "1":
        return
    sys.stderr.flush()
    real_fd = os.dup(2)
    sink_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if target else None
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stderr = os.fdopen(os.dup(real_fd), "w", buffering=1)
    thread = threading.Thread(
        target=_forward_non_native, args=(read_fd, real_fd, sink_fd), name="native-log-filter", daemon=True
    )
    thread.start()

    def drain() -> None:  # at exit: end the pipe so the filter passes on its last lines, then stop
        try:
            sys.stderr.flush()
            os.dup2(real_fd, 2)
        except OSError:
            return
        thread.join(NATIVE_FILTER_DRAIN_S)

    atexit.register(drain)


# mediapipe ships no type hints: its landmarkers and images are `Any` to mypy whatever we write, so they are
# named by these aliases rather than pretended to be typed.
Landmarker = Any
MpImage = Any


def _mediapipe() -> tuple[ModuleType, ModuleType, ModuleType]:
    """mediapipe, its vision tasks and base options (imported on first use, with the native log filtered)."""
    if "mediapipe" not in sys.modules:
        _silence_native_stderr()
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core import base_options

    return mp, vision, base_options


def resolve_model(model: ModelInfo | str | Path | None = None, variant: str | None = None) -> ModelInfo:
    """A ModelInfo for an explicit bundle path, or the configured/cached bundle (built on first use)."""
    if isinstance(model, ModelInfo):
        return model
    if model is not None:
        path = Path(model)
        check_bundle_file(path)
        return ModelInfo(path=path, sha256=sha256_file(path), variant="custom")
    return ensure_model(variant)


def _create_landmarker(model: ModelInfo, mode_name: str, num_poses: int) -> Landmarker:
    """A PoseLandmarker for `model` in RunningMode `mode_name` ("VIDEO" or "IMAGE"); PoseModelError if it fails."""
    _mp, vision, base_options = _mediapipe()
    opts = vision.PoseLandmarkerOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(model.path)),
        running_mode=getattr(vision.RunningMode, mode_name),
        num_poses=num_poses,
        min_pose_detection_confidence=MIN_DETECTION_CONFIDENCE,
        min_pose_presence_confidence=MIN_PRESENCE_CONFIDENCE,
        min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
    )
    try:
        return vision.PoseLandmarker.create_from_options(opts)
    except (RuntimeError, ValueError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise PoseModelError(f"pose model {model.path} could not be loaded ({msg})") from exc


_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()  # estimators and counters not closed yet


@atexit.register
def _close_left_open() -> None:
    """At exit, close what was left open while mediapipe can still close it (in __del__, during interpreter
    teardown, its dispatcher may be gone: `Exception ignored in: PoseLandmarker.__del__`)."""
    for obj in list(_OPEN):
        with contextlib.suppress(Exception):
            obj.close()


class PeopleCounter:
    """How many people are in an image (IMAGE mode, 2 poses), counted on its own thread. One counter may serve
    several estimators (the segments of one video): IMAGE mode keeps no state between images, and one landmarker
    instead of one per segment saves ~100 MB each."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        self._modules = _mediapipe()  # held, like the estimator's, for a clean exit when left open
        self._landmarker: Landmarker | None = None  # created on first use, in the worker thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose-people")
        _OPEN.add(self)

    def submit(self, mp_image: MpImage) -> Future[int]:
        return self._pool.submit(self._count, mp_image)

    def _count(self, mp_image: MpImage) -> int:
        if self._landmarker is None:
            self._landmarker = _create_landmarker(self.model, "IMAGE", num_poses=2)
        return len(self._landmarker.detect(mp_image).pose_landmarks or [])

    def close(self) -> None:
        """Let a check in flight finish, then close the landmarker (idempotent)."""
        self._pool.shutdown(wait=True)
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __del__(self) -> None:  # last resort (an estimator left open at exit); close() is the supported way
        with contextlib.suppress(Exception):
            self.close()


@runtime_checkable
class PoseEstimator(Protocol):
    """One stream's pose estimator: images or a whole source in, PoseFrames out; closed when done."""

    def process(self, image: NDArray[np.uint8], t_s: float, *, rgb: bool = False) -> PoseFrame:
        """The pose in one image (BGR unless rgb=True) taken at t_s seconds (t_s increasing per estimator)."""
        ...

    def frames(
        self, source: str | Path | int | Iterable[tuple[float, NDArray[np.uint8]]] | Iterable[Frame]
    ) -> Iterator[PoseFrame]:
        """PoseFrames for a video path, a camera index, Frames or an iterable of (t_s, BGR image)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> PoseEstimator: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class MediaPipePoseEstimator:
    """MediaPipe PoseLandmarker in VIDEO mode, one per stream (timestamps must increase per instance).

    Use as a context manager so the native landmarker closes before interpreter exit::

        with MediaPipePoseEstimator() as est:
            for pf in est.frames("squat.mp4"):
                ...
    """

    def __init__(
        self,
        model: ModelInfo | str | Path | None = None,
        *,
        variant: str | None = None,
        people_check_interval_s: float | None = PEOPLE_CHECK_INTERVAL_S,
        people: PeopleCounter | None = None,
    ) -> None:
        self.model = resolve_model(model, variant)
        self._people_interval_s = people_check_interval_s
        # the modules are held so that at interpreter exit they outlive an estimator left open (its __del__)
        self._mp, self._vision, self._base_options = _mediapipe()
        self._landmarker = _create_landmarker(self.model, "VIDEO", num_poses=1)
        self._people = people  # shared (closed by its owner) or made on first use (closed here)
        self._owns_people = people is None
        self._people_pending: Future[int] | None = None
        _OPEN.add(self)
        self._last_ts_ms = -1
        self._last_people_t_s: float | None = None
        self._last_n_people: int | None = None

    def __enter__(self) -> MediaPipePoseEstimator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the native landmarkers (idempotent); avoids MediaPipe's __del__ traceback at exit."""
        people = getattr(self, "_people", None)
        if people is not None and getattr(self, "_owns_people", False):
            people.close()  # lets a check in flight finish before its landmarker closes
            self._people = None
        lm = getattr(self, "_landmarker", None)
        if lm is not None:
            lm.close()
            self._landmarker = None

    def __del__(self) -> None:  # last resort; `with` or close() is the supported way
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing useful to report
            self.close()

    def process(self, image: NDArray[np.uint8], t_s: float, *, rgb: bool = False) -> PoseFrame:
        """Estimate the pose in one image (BGR unless rgb=True) taken at t_s seconds."""
        if self._landmarker is None:
            raise RuntimeError("the pose estimator is closed")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise VideoError(f"expected an HxWx3 uint8 image, got {image.shape} {image.dtype}")
        rgb_img = np.ascontiguousarray(image if rgb else image[..., ::-1])
        return self._detect(Frame(t_s=float(t_s), rgb=rgb_img))

    def _detect(self, frame: Frame) -> PoseFrame:
        ts_ms = max(self._last_ts_ms + 1, int(round(frame.t_s * 1000.0)))  # strictly increasing per landmarker
        self._last_ts_ms = ts_ms
        # mp.Image reads the buffer as packed rows: a strided view would be read as garbage.
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame.rgb))
        result = self._landmarker.detect_for_video(mp_image, ts_ms)
        w, h = frame.wh
        luma = float(frame.rgb[::LUMA_STRIDE_PX, ::LUMA_STRIDE_PX].mean())
        n_people = self._count_people(mp_image, frame.t_s)
        if not result.pose_landmarks:
            return PoseFrame.empty(frame.t_s, (w, h), n_people=n_people, luma=luma)
        lms = result.pose_landmarks[0]
        arr = np.array([[p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0] for p in lms], dtype=np.float64)
        if arr.shape[0] != N_LANDMARKS:
            raise PoseModelError(f"pose model returned {arr.shape[0]} landmarks, expected {N_LANDMARKS}")
        xyz = arr[:, :3] * np.array([w, h, w], dtype=np.float64)  # normalised -> px (z on the x scale)
        world = None
        if result.pose_world_landmarks:
            world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks[0]], dtype=np.float64)
        return PoseFrame(
            t_s=frame.t_s,
            frame_wh=(w, h),
            xyz_px=xyz,
            visibility=arr[:, 3],
            presence=arr[:, 4],
            world_m=world,
            n_people=n_people,
            luma=luma,
        )

    def _count_people(self, mp_image: MpImage, t_s: float) -> int | None:
        """The latest multi-person count; a new check starts every PEOPLE_CHECK_INTERVAL_S on a worker thread."""
        if not self._people_interval_s:
            return None
        pending = self._people_pending
        if pending is not None and pending.done():
            self._people_pending = None
            try:
                self._last_n_people = pending.result()
            except (RuntimeError, ValueError) as exc:  # a failed check is "not known", never a crash
                log.warning("two-person check failed: %s", exc)
                self._last_n_people = None
        due = (
            self._last_people_t_s is None
            or t_s - self._last_people_t_s >= self._people_interval_s
            or t_s < self._last_people_t_s
        )
        if due and self._people_pending is None:
            if self._people is None:
                self._people = PeopleCounter(self.model)
            self._people_pending = self._people.submit(mp_image)
            self._last_people_t_s = t_s
        return self._last_n_people

    def frames(
        self, source: str | Path | int | Iterable[tuple[float, NDArray[np.uint8]]] | Iterable[Frame]
    ) -> Iterator[PoseFrame]:
        """PoseFrames for a video path, a camera index or an iterable of (t_s, BGR image); one per input frame."""
        for frame in frames_from(source):
            yield self._detect(frame)


def open_estimator(
    model: ModelInfo | str | Path | None = None,
    *,
    variant: str | None = None,
    people_check_interval_s: float | None = PEOPLE_CHECK_INTERVAL_S,
) -> PoseEstimator:
    """The project's pose estimator (MediaPipe) for one stream."""
    return MediaPipePoseEstimator(model, variant=variant, people_check_interval_s=people_check_interval_s)


def _cache_dir() -> Path:
    configured = load_config().cache_dir
    return configured if configured is not None else user_cache_dir() / "landmarks"


def cache_key(video: Path, model: ModelInfo) -> str:
    h = hashlib.sha256()
    h.update(sha256_file(video).encode())
    h.update(model.sha256.encode())
    h.update(PIPELINE_VERSION.encode())
    return h.hexdigest()[:32]


def estimate_video(
    path: str | Path,
    *,
    model: ModelInfo | str | Path | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    use_cache: bool = False,
    cache_dir: Path | None = None,
    max_frames: int | None = None,
    max_s: float | None = None,
) -> PoseSeq:
    """Raw (unsmoothed) landmarks of every frame of a video; frames without a person are kept, empty.
    `max_frames` / `max_s` stop it (video.VideoRefusedError) on a video that decodes to more or lasts longer.

    With use_cache, the result is stored under $FORMCHECK_CACHE_DIR (default ~/.cache/formcheck/landmarks),
    keyed by the video's and the model's sha256, so evaluations re-run without MediaPipe.
    """
    path = Path(path)
    info = probe(path)
    minfo = resolve_model(model)
    cache_file = None
    if use_cache:
        cache_file = (cache_dir or _cache_dir()) / f"{cache_key(path, minfo)}.npz"
        if cache_file.is_file():
            try:
                return PoseSeq.load_npz(cache_file)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable landmark cache %s (%s)", cache_file, exc)
    frames: list[PoseFrame] = []
    total = info.frame_count
    with MediaPipePoseEstimator(minfo) as est:
        for pf in est.frames(read_video(path, max_frames=max_frames, max_s=max_s)):
            frames.append(pf)
            if progress is not None:
                progress(len(frames), total)
    seq = PoseSeq.from_frames(frames, frame_wh=(info.width, info.height))
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        seq.save_npz(tmp, video=str(path), model_sha256=minfo.sha256)
        tmp.replace(cache_file)
    return seq


def bare_inference_ms(frames: list[NDArray[np.uint8]], model: ModelInfo | str | Path | None = None) -> list[float]:
    """Per-frame time of MediaPipe alone on frames already decoded into memory (RGB): wrapping the array as an
    mp.Image (MediaPipe's own input conversion) plus detect_for_video. The benchmark's reference."""
    mp, vision, base_options = _mediapipe()
    minfo = resolve_model(model)
    opts = vision.PoseLandmarkerOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(minfo.path)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=1,
    )
    frames = [np.ascontiguousarray(f) for f in frames]
    out = []
    with vision.PoseLandmarker.create_from_options(opts) as lm:
        for i, rgb in enumerate(frames):
            t0 = time.perf_counter()
            lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i * 33)
            out.append((time.perf_counter() - t0) * 1000.0)
    return out
