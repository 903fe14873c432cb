"""Landmark messages on the live WebSocket: pose computed in the browser, validated here as untrusted input.

A page that runs MediaPipe itself (formcheck/static/pose-worker.js) sends, per camera frame, one text message

    {"type": "landmarks", "seq": 12, "t_ms": 1234.5, "wh": [640, 480], "pose": true,
     "image": 33 x [x, y, z, visibility, presence],   # x, y, z normalised like MediaPipe's output (z on x's scale)
     "world": 33 x [x, y, z] | null,                   # metres, hip-centred
     "pose_ms": 31.2, "luma": 118.0}                   # the page's own pose time; mean brightness (optional)

`image`/`world` are null when no person was found (`pose: false`). The server turns it into the same PoseFrame
the server-side estimator builds (formcheck.media.pose: x * w, y * h, z * w) and runs the same LiveSession on it.
Nothing in a message is trusted: wrong shapes, NaN/inf, coordinates no camera produces, timestamps that go
backwards and floods are refused for that socket only (LandmarkError -> an error reply, or a close).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from formcheck.core.landmarks import N_LANDMARKS
from formcheck.core.types import PoseFrame
from formcheck.media.frame_limits import MAX_FRAME_SIDE_PX, MIN_FRAME_SIDE_PX
from formcheck.webapp.limits import TokenBucket

# MediaPipe normalises image x, y to the frame; landmarks outside the frame (a foot cut off) are extrapolated
# beyond 0..1: in a chest-up close-up the ankles come out ~1.2 frame heights below the image (y up to 2.18 on
# the labelled clips of ../shared/videos, measured 2026-12-08; a page sending that was refused at 2.0). A point
# more than two frames away is no camera's output: refused.
IMAGE_XY_MIN, IMAGE_XY_MAX = -2.0, 3.0
# Normalised z is depth on x's scale, about -1..1 for a whole body in view; 10 is far beyond any real value.
IMAGE_Z_ABS_MAX = 10.0
# World landmarks are hip-centred metres: a standing adult's hands overhead are ~1.3 m from the hips, so 3 m is
# more than double any body's reach.
WORLD_ABS_MAX_M = 3.0
MAX_POSE_MS = 60_000.0  # the page's own pose time; above a minute it is not a per-frame figure
MAX_T_MS = 1e12  # ~31 years of performance.now(): larger is not a clock
# A landmark message is ~2.5 kB at 4-5 decimals; 24 kB leaves room for full float precision, not for abuse.
MAX_LANDMARK_MSG_BYTES = 24_576
# Landmark messages per second and burst: cameras deliver at most 60 fps; twice that leaves room for a page
# catching up after a stall (judgement call), anything above is a flood.
LANDMARK_RATE_PER_S = 120.0
LANDMARK_BURST = 120
LANDMARK_TYPE_PREFIXES = ('{"type":"landmarks"', '{"type": "landmarks"')

Point5 = tuple[float, float, float, float, float]
Point3 = tuple[float, float, float]


class LandmarkMsg(BaseModel):
    """One frame's pose from the browser; shapes and types checked by pydantic, values by `check_values`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["landmarks"]
    seq: int = Field(ge=0, le=2**32 - 1)
    t_ms: float = Field(ge=0.0, le=MAX_T_MS)
    wh: tuple[
        Annotated[int, Field(ge=MIN_FRAME_SIDE_PX, le=MAX_FRAME_SIDE_PX)],
        Annotated[int, Field(ge=MIN_FRAME_SIDE_PX, le=MAX_FRAME_SIDE_PX)],
    ]
    pose: bool
    image: Annotated[list[Point5], Field(min_length=N_LANDMARKS, max_length=N_LANDMARKS)] | None = None
    world: Annotated[list[Point3], Field(min_length=N_LANDMARKS, max_length=N_LANDMARKS)] | None = None
    pose_ms: float | None = Field(None, ge=0.0, le=MAX_POSE_MS)
    luma: float | None = Field(None, ge=0.0, le=255.0)
    # the arrays `check_values` built, reused by `to_pose_frame` (one list -> array conversion per message)
    _img: np.ndarray | None = PrivateAttr(None)
    _world: np.ndarray | None = PrivateAttr(None)

    def arrays(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(image (33, 5), world (33, 3) or None) as float64 arrays."""
        if self._img is None and self.image is not None:
            self._img = np.asarray(self.image, dtype=np.float64)
            self._world = np.asarray(self.world, dtype=np.float64) if self.world is not None else None
        return self._img, self._world


class LandmarkError(ValueError):
    """A landmark message that is refused; `close` is set when the socket must be closed (flood, too large)."""

    def __init__(self, code: str, message: str, *, close: bool = False, seq: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.close, self.seq = code, message, close, seq


def looks_like_landmarks(text: str) -> bool:
    """Cheap routing hint for the socket reader (the full check is `parse_landmarks`)."""
    return text.startswith(LANDMARK_TYPE_PREFIXES)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "message"
    return f"{where}: {err.get('msg', 'invalid')}"[:160]


def parse_landmarks(text: str) -> LandmarkMsg:
    """Validate one landmark message (shape, types, ranges); LandmarkError with a one-line reason."""
    if len(text) > MAX_LANDMARK_MSG_BYTES:
        raise LandmarkError("too_large", f"landmark message over {MAX_LANDMARK_MSG_BYTES} bytes", close=True)
    try:
        msg = LandmarkMsg.model_validate_json(text)
    except ValidationError as exc:
        raise LandmarkError("bad_landmarks", f"bad landmark message: {_first_error(exc)}") from None
    check_values(msg)
    return msg


def check_values(msg: LandmarkMsg) -> None:
    """Pose flag agrees with the arrays, and every value is in a range a camera and MediaPipe can produce."""
    if msg.pose != (msg.image is not None):
        raise LandmarkError("bad_landmarks", "pose=true needs 33 image landmarks, pose=false none", seq=msg.seq)
    if msg.image is None:
        if msg.world is not None:
            raise LandmarkError("bad_landmarks", "world landmarks without image landmarks", seq=msg.seq)
        return
    img, world = msg.arrays()
    assert img is not None  # msg.image is not None
    if not np.isfinite(img).all():  # pydantic already refuses NaN/inf; this guards the arithmetic below
        raise LandmarkError("bad_landmarks", "landmarks must be finite numbers", seq=msg.seq)
    xy, z, scores = img[:, :2], img[:, 2], img[:, 3:]
    if xy.min() < IMAGE_XY_MIN or xy.max() > IMAGE_XY_MAX:
        raise LandmarkError(
            "bad_landmarks",
            f"image x, y must be within {IMAGE_XY_MIN}..{IMAGE_XY_MAX} (normalised to the frame)",
            seq=msg.seq,
        )
    if np.abs(z).max() > IMAGE_Z_ABS_MAX:
        raise LandmarkError("bad_landmarks", f"image z must be within ±{IMAGE_Z_ABS_MAX}", seq=msg.seq)
    if scores.min() < 0.0 or scores.max() > 1.0:
        raise LandmarkError("bad_landmarks", "visibility and presence must be within 0..1", seq=msg.seq)
    if world is not None and (not np.isfinite(world).all() or np.abs(world).max() > WORLD_ABS_MAX_M):
        raise LandmarkError(
            "bad_landmarks", f"world landmarks must be within ±{WORLD_ABS_MAX_M} m of the hips", seq=msg.seq
        )


def to_pose_frame(msg: LandmarkMsg, t_s: float) -> PoseFrame:
    """The PoseFrame the server's own estimator would have built from the same MediaPipe output."""
    w, h = msg.wh
    if msg.image is None:
        return PoseFrame.empty(t_s, (w, h), luma=msg.luma)
    img, world = msg.arrays()
    assert img is not None
    xyz = img[:, :3] * np.array([w, h, w], dtype=np.float64)  # normalised -> px (z on the x scale), as pose.py
    return PoseFrame(
        t_s=t_s, frame_wh=(w, h), xyz_px=xyz, visibility=img[:, 3], presence=img[:, 4], world_m=world, luma=msg.luma
    )


class RateGuard(TokenBucket):
    """Token bucket for landmark messages (a page sends one per camera frame, <= 60/s)."""

    def __init__(
        self,
        rate_per_s: float = LANDMARK_RATE_PER_S,
        burst: float = LANDMARK_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate_per_s, burst, clock)


class LandmarkIntake:
    """Per-socket state for landmark messages: strictly increasing frame timestamps."""

    def __init__(self) -> None:
        self.last_t_ms = -math.inf

    def accept(self, text: str) -> LandmarkMsg:
        """Parse and check one message; the timestamp must move forward (a replayed or reordered frame is
        refused, never analysed twice)."""
        msg = parse_landmarks(text)
        if not msg.t_ms > self.last_t_ms:
            raise LandmarkError(
                "bad_landmarks",
                f"t_ms {msg.t_ms:g} is not after the previous frame's {self.last_t_ms:g}: timestamps must increase",
                seq=msg.seq,
            )
        self.last_t_ms = msg.t_ms
        return msg


def pose_frame_message(
    frame: PoseFrame, seq: int, t_ms: float, *, decimals: int = 5, pose_ms: float | None = None
) -> dict[str, Any]:
    """The landmark message a page would send for `frame` (used by benchmarks and tests to replay real clips)."""
    w, h = frame.frame_wh
    out: dict[str, Any] = {
        "type": "landmarks",
        "seq": int(seq),
        "t_ms": round(float(t_ms), 3),
        "wh": [int(w), int(h)],
        "pose": bool(frame.detected),
    }
    if frame.detected:
        norm = frame.xyz_px / np.array([w, h, w], dtype=np.float64)
        img = np.concatenate([norm, frame.visibility[:, None], frame.presence[:, None]], axis=1)
        img = np.nan_to_num(img, nan=0.0)
        out["image"] = np.round(img, decimals).tolist()
        if frame.world_m is not None and np.isfinite(frame.world_m).all():
            out["world"] = np.round(frame.world_m, decimals).tolist()
    if pose_ms is not None:
        out["pose_ms"] = pose_ms
    if frame.luma is not None:
        out["luma"] = round(float(frame.luma), 1)
    return out
