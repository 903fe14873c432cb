"""Live coaching: the /live page and its WebSocket (pose + analysis per connection, the latest frame wins).

Wire protocol (ws://HOST/ws/live), version 1:

client → server
  * binary: one camera frame, either a bare JPEG, or FRAME_HEADER (b"FCF1", uint32 seq, float64 capture time in
    ms, little-endian) followed by the JPEG. The client sends the next frame only when the reply to the previous
    one arrives; the server also keeps only the newest unprocessed frame, so nothing stale is ever queued.
  * text JSON: {"type": "start_set", "exercise": "squat", "side": "auto", "target_reps": 10, "session_id": 3,
    "set_no": 1, "hold_s": null, "preview": false}; {"type": "end_set"}; {"type": "ping"};
    {"type": "pain"} (the person pressed "My knee hurts": nothing more is counted in this set, answered by
    {"type": "safety", "message"}, and every later frame's coach message is the safety one);
    {"type": "reload_settings"} (after the person switched clips of flagged reps on or off).
    The query string may carry the same fields as start_set (exercise, side, target_reps, session_id, ...),
    which starts a set at connect time; `pose=browser` says the page runs pose itself (no server model is
    loaded until a JPEG arrives).
  * text JSON {"type": "landmarks", ...}: one frame's pose computed in the browser (see landmark_msgs.py);
    latest wins like JPEG frames, answered with the same "frame" reply (pose_source "browser").

server → client (text JSON, one object per message, "type" first)
  * hello: protocol, limits, the person's clip setting.
  * frame: the reply to one frame: seq, t_s, wh, pose, landmarks (33 × [x, y, visibility], x/y normalised to
    0..1, null where unknown), angles (2D knee/hip flexion at visible joints), phase, view, rep_count,
    valid_rep_count, target_reps, cue (the one to show), cues (all active, debounced), speak (newly announced),
    overlay (fault_landmarks, fault_segments, lines in frame px, angles), placement ([{code, message}] that
    persisted), new_reps (counted on this frame: index, valid, verdict, why, side, times, faults, stored,
    rep_id), hold_good_s / hold_target_s for holds, set_done, timing_ms (decode, pose, analysis, server);
    coach: the ONE message to show and speak (kind safety|placement|countdown|rep_fault|live_fault|rep_good|
    encourage, text, speak = words to say now or null, key), chosen on the server by formcheck.core.coach; gate:
    {state: positioning|countdown|counting, seconds_left} for a counted set (null for a preview); counting: true
    once the 3-2-1 has ended. Before that no frame reaches the rep counter and rep_count stays 0.
    "speak" carries the coach's words only (the analysis' raw cues stay in "cue"/"cues" as data).
  * set_started / set_ended / pong / settings.
  * error: code (bad_frame, too_large, bad_message, bad_landmarks, flood, not_signed_in, busy, bad_exercise,
    store_failed, model_unavailable, internal) + a one-line message; seq when it answers a frame. The socket stays usable
    after bad_frame / bad_message (up to MAX_CONSECUTIVE_ERRORS in a row); too_large, flood and not_signed_in
    are followed by a close (1009 / 1008 / 1008); busy (too many live sessions, per person or in all) by 1013.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import struct
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect, WebSocketState

from formcheck.core.landmarks import Lm, Side
from formcheck.core.types import PoseFrame
from formcheck.errors import FormcheckError, InputError
from formcheck.webapp import landmark_msgs as lmsg
from formcheck.webapp.deps import CurrentUser, OwnSession, StoreDep, websocket_user
from formcheck.webapp.limits import TokenBucket

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])


def _include_coaching_routes() -> None:
    from formcheck.webapp.exercise_demo import router as demo_router

    router.include_router(demo_router)


_include_coaching_routes()

PROTOCOL_VERSION = 1
FRAME_MAGIC = b"FCF1"
FRAME_HEADER = struct.Struct("<4sId")  # magic, seq (uint32), client capture time (ms, float64)
JPEG_SOI = b"\xff\xd8"

# Limits (judgement calls, sized for a webcam client; all bound memory and CPU per connection):
MAX_FRAME_BYTES = 1_500_000  # a 640x480 q80 JPEG is ~20-60 kB; a 1080p q95 frame ~0.6 MB: 2.5x headroom
MAX_TEXT_BYTES = 8_192  # control messages are < 300 B
MAX_FRAME_SIDE_PX = 1920  # larger images cost CPU and buy nothing: the model resizes to 256 px
# Token bucket over frames sent while another was still waiting (dropped unprocessed) and control messages;
# a client that keeps one frame in flight never spends a token on frames.
FLOOD_RATE_PER_S = 60.0
FLOOD_BURST = 120
MAX_PENDING_EVENTS = 16  # control messages / errors waiting for the processor
MAX_CONSECUTIVE_ERRORS = 10  # bad frames or messages in a row before the socket is closed (1003)
MAX_CLIENT_TIME_JUMP_S = 60.0  # a client clock that jumps further than this is replaced by the server clock
CLIP_BUFFER_S = 15.0  # JPEG ring buffer for flagged-rep clips: longer than any single rep (reps.py max)
CLIP_BUFFER_MAX_FRAMES = 450  # 15 s at 30 fps; bounds memory at ~450 x 40 kB = 18 MB worst case
CLIP_PAD_S = 0.5  # clip context before the rep starts and after it ends
MAX_PENDING_CLIPS = 2  # clip encodes in flight per connection; more flagged reps than that wait their turn
LANDMARK_DECIMALS = 4  # 1e-4 of a 640 px frame = 0.06 px: plenty for drawing, keeps replies ~2 kB
POSE_SERVER, POSE_BROWSER = "server", "browser"  # where a frame's pose ran (reply field pose_source)
POSE_SOURCE_METRIC = "pose_source"
LANDMARKS_ON_LOOP = True  # see LiveConnection.handle_landmarks  # stored in the rep's metrics, so the clinician sees it
WS_CLOSE_UNSUPPORTED = 1003
WS_CLOSE_POLICY = 1008
WS_CLOSE_TOO_BIG = 1009
WS_CLOSE_INTERNAL = 1011
WS_CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the live coach is at its connection cap

# Key angles shown on the overlay: (label, landmark the label sits at).
ANGLE_LABELS: tuple[tuple[str, Lm, Lm, Lm], ...] = (
    ("knee", Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE),
    ("knee", Lm.RIGHT_HIP, Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE),
    ("hip", Lm.LEFT_SHOULDER, Lm.LEFT_HIP, Lm.LEFT_KNEE),
    ("hip", Lm.RIGHT_SHOULDER, Lm.RIGHT_HIP, Lm.RIGHT_KNEE),
)


# ------------------------------------------------------------------------------------------------ page route


@router.get("/live", response_class=FileResponse, tags=["pages"])
def live_page(request: Request, user: CurrentUser) -> FileResponse:
    """The live coaching page (static HTML; everything else comes over the API and the WebSocket).

    Anonymous browsers get the app's 401 page, which forwards to sign-in and back here.
    """
    page = request.app.state.settings.resolved_web_dir / "live.html"
    if not page.is_file():
        raise HTTPException(500, "web/live.html is missing from this installation")
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------------------------------- day-flow JSON API

SKB_TEST_REPS = 5  # the Small Knee Bend Test is five shallow bends (programme readiness step text)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadinessIn(_Body):
    massage_done: bool
    vmo_done: bool
    skbt_verdict: str | None = Field(None, pattern="^(valid|invalid|unknown)$")
    skbt_pain: int = Field(ge=0, le=10)


class PainIn(_Body):
    pain_during: int = Field(ge=0, le=10)
    pain_after: int = Field(ge=0, le=10)


class LiveSettingsIn(_Body):
    store_flagged_clips: bool


def _exercise_info(exercise_id: str) -> dict[str, Any]:
    from formcheck.core.spec import load_exercise

    spec = load_exercise(exercise_id)
    return {
        "id": spec.id,
        "name": spec.name,
        "instructions": spec.instructions,
        "views": [str(v) for v in spec.views],
        "sided": str(spec.side_mode) != "bilateral",
        "is_hold": spec.is_hold,
        "hold_s": spec.hold.target_s if spec.hold is not None else None,
    }


@router.get("/api/live/today")
def live_today(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Today's flow for the live page: readiness steps, then the level's exercises in order (or a rest day)."""
    svc = programme_service(request.app)
    person = svc.store.get_person_by_id(user.id)
    plan = svc.plan(person)
    open_session = next(
        (s.id for s in svc.store.list_sessions(user.id) if s.status.value == "in_progress" and s.day == plan.day), None
    )
    exercises = []
    for ex in plan.exercises:
        info = _exercise_info(ex.exercise_id)
        exercises.append(
            {
                **info,
                "sets": ex.sets,
                "reps": ex.reps,
                "hold_s": ex.hold_s,
                "sides": ex.sides,
                "rest_s": ex.rest_s,
                "note": ex.note,
            }
        )
    return {
        "day": plan.day.isoformat(),
        "level": plan.level,
        "level_name": plan.level_name,
        "focus": plan.focus,
        "rest_day": plan.kind != "exercise",
        "title": "Rest day" if plan.kind != "exercise" else plan.level_name,
        "message": " ".join([plan.reason, *plan.messages]).strip(),
        "readiness_status": to_jsonable(plan.readiness),
        "readiness": [
            {"id": r.id, "title": r.title, "instructions": r.instructions, "minutes": r.minutes}
            for r in plan.readiness_steps
        ],
        "skb_reps": SKB_TEST_REPS,
        "exercises": exercises,
        "session_id": open_session,
        "remaining_s": round(plan.remaining_s),
        "estimated_min": round(plan.estimated_min, 1),
    }


@router.get("/api/live/exercises")
def live_exercises(user: CurrentUser) -> list[dict[str, Any]]:
    """Every exercise the live coach can judge (for practice sets outside the programme)."""
    from formcheck.core.spec import exercise_ids

    return [_exercise_info(i) for i in exercise_ids()]


@router.post("/api/live/sessions")
def live_start_session(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Start (or resume) today's session; refused on a rest day with the reason."""
    svc = programme_service(request.app)
    row = svc.start_session(svc.store.get_person_by_id(user.id))
    return {"session_id": row.id, "level": row.level, "day": row.day.isoformat()}


@router.post("/api/live/sessions/{session_id}/readiness")
def live_readiness(session_id: int, session: OwnSession, body: ReadinessIn, request: Request) -> dict[str, Any]:
    """The three readiness steps + the Small Knee Bend Test's camera verdict and pain: ready or not today."""
    svc = programme_service(request.app)
    status, reason = svc.record_readiness(
        session_id,
        massage_done=body.massage_done,
        vmo_done=body.vmo_done,
        skbt_verdict=body.skbt_verdict,
        skbt_pain=body.skbt_pain,
    )
    titles = {
        "ready": "Ready — let's go",
        "not_ready": "Not today: your knee needs rest",
        "retry": "Let's redo the test",
        "incomplete": "One step is missing",
    }
    return {
        "ready": str(status) == "ready",
        "status": str(status),
        "title": titles.get(str(status), str(status)),
        "message": reason[:1].upper() + reason[1:],
    }


@router.post("/api/live/sessions/{session_id}/pain")
def live_finish(session_id: int, session: OwnSession, body: PainIn, request: Request) -> dict[str, Any]:
    """Pain during and after: closes the session and returns the programme's decision in words."""
    svc = programme_service(request.app)
    d = svc.finish_session(session_id, pain_during=body.pain_during, pain_after=body.pain_after)
    return {
        "action": str(d.action),
        "level": d.level,
        "message": d.reason[:1].upper() + d.reason[1:],
        "flag_clinician": d.flag_clinician,
    }


@router.get("/api/live/settings")
def live_settings(user: CurrentUser, store: StoreDep) -> dict[str, bool]:
    return {CLIP_SETTING: person_stores_clips(store, user)}


@router.put("/api/live/settings")
def live_settings_put(body: LiveSettingsIn, user: CurrentUser, store: StoreDep) -> dict[str, bool]:
    """Switch short clips of flagged reps on or off for this person (kept locally, shown to their clinician)."""
    store.update_settings(user.id, {CLIP_SETTING: body.store_flagged_clips})
    return {CLIP_SETTING: person_stores_clips(store, user)}


# ------------------------------------------------------------------------------------------------ wire types


@dataclasses.dataclass(frozen=True)
class SetRequest:
    """What the client asked to do: judge one set of one exercise (or only preview it while getting ready)."""

    exercise_id: str
    side: str = "auto"
    target_reps: int | None = None
    session_id: int | None = None
    set_no: int | None = None
    preview: bool = False
    hold_s: float | None = None  # holds: seconds per hold; the set is done after target_reps x hold_s in good form

    @classmethod
    def from_mapping(cls, m: dict[str, Any]) -> SetRequest:
        ex = m.get("exercise") or m.get("exercise_id")
        if not isinstance(ex, str) or not ex or len(ex) > 64:
            raise ValueError("start_set needs an exercise id")
        side = str(m.get("side") or "auto")
        if side not in ("auto", Side.LEFT.value, Side.RIGHT.value):
            raise ValueError("side must be auto, left or right")
        return cls(
            exercise_id=ex,
            side=side,
            target_reps=_opt_int(m.get("target_reps"), 1, 500),
            session_id=_opt_int(m.get("session_id"), 1, 2**62),
            set_no=_opt_int(m.get("set_no"), 1, 100),
            preview=_truthy(m.get("preview")),
            hold_s=_opt_float(m.get("hold_s"), 0.5, 600.0),
        )


def _opt_int(v: Any, lo: int, hi: int) -> int | None:
    if v is None or v == "":
        return None
    try:
        i = int(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e309), i.e. int(inf)
        raise ValueError(f"{v!r} is not a whole number") from None
    if not lo <= i <= hi:
        raise ValueError(f"{i} is outside {lo}..{hi}")
    return i


def _opt_float(v: Any, lo: float, hi: float) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{v!r} is not a number") from None
    if not (math.isfinite(f) and lo <= f <= hi):
        raise ValueError(f"{v!r} is outside {lo}..{hi}")
    return f


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() in ("1", "true", "yes")) or v == 1


class ProtocolError(Exception):
    """A message the client should not have sent: answered with an error reply, not a crash."""

    def __init__(self, code: str, message: str, *, close: int | None = None, seq: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.close, self.seq = code, message, close, seq


def split_frame(data: bytes, server_seq: int) -> tuple[int, float | None, bytes]:
    """(seq, client time in ms or None, JPEG bytes) of a binary frame message; ProtocolError when it is not one."""
    if data[:4] == FRAME_MAGIC:
        if len(data) < FRAME_HEADER.size + 2:
            raise ProtocolError("bad_frame", "frame header without an image")
        _, seq, t_ms = FRAME_HEADER.unpack_from(data)
        jpeg = data[FRAME_HEADER.size :]
        t = float(t_ms) if math.isfinite(t_ms) else None
    else:
        seq, t, jpeg = server_seq, None, data
    if jpeg[:2] != JPEG_SOI:
        raise ProtocolError("bad_frame", "not a JPEG image", seq=seq)
    return int(seq), t, jpeg


def decode_jpeg(jpeg: bytes) -> np.ndarray:
    """BGR image of a JPEG; ProtocolError for a corrupt or oversized image (runs in a worker thread)."""
    import cv2

    from formcheck.webapp.jpeg_header import jpeg_size_px

    size = jpeg_size_px(jpeg)  # from the header, before decoding: a tiny file can declare a huge picture
    if size is None:
        raise ProtocolError("bad_frame", "not a JPEG image (no frame header)")
    if max(size) > MAX_FRAME_SIDE_PX:
        raise ProtocolError(
            "bad_frame", f"image of {size[0]}x{size[1]} px is larger than {MAX_FRAME_SIDE_PX} px: send 640x480"
        )
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.shape[0] < 16 or bgr.shape[1] < 16:
        raise ProtocolError("bad_frame", "the image could not be decoded")
    if max(bgr.shape[:2]) > MAX_FRAME_SIDE_PX:
        raise ProtocolError("bad_frame", f"image larger than {MAX_FRAME_SIDE_PX} px: send 640x480")
    return bgr


def _r(v: float, nd: int = 1) -> float | None:
    return round(float(v), nd) if v is not None and math.isfinite(float(v)) else None


def landmarks_json(pf: PoseFrame) -> list[list[float | None]] | None:
    """33 x [x, y, visibility] with x, y normalised to the frame (null where unknown); None without a person."""
    if not pf.detected:
        return None
    w, h = pf.frame_wh
    xy = pf.xyz_px[:, :2] / np.array([w, h], dtype=np.float64)
    out: list[list[float | None]] = []
    for (x, y), vis in zip(xy, pf.visibility, strict=True):
        ok = math.isfinite(x) and math.isfinite(y)
        out.append(
            [
                round(float(x), LANDMARK_DECIMALS) if ok else None,
                round(float(y), LANDMARK_DECIMALS) if ok else None,
                round(float(vis), 2),
            ]
        )
    return out


def key_angles(pf: PoseFrame) -> list[dict[str, Any]]:
    """Knee and hip flexion (0 = straight) at visible joints, for the overlay's labels."""
    from formcheck.core.geometry import angle_at_deg

    if not pf.detected:
        return []
    xy = pf.xy_px
    out = []
    for label, a, b, c in ANGLE_LABELS:
        deg = 180.0 - float(angle_at_deg(xy[a], xy[b], xy[c]))
        if math.isfinite(deg):
            out.append({"label": label, "at": int(b), "flexion_deg": round(deg)})
    return out


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, numpy values and tuples → plain JSON values (NaN → null)."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _r(obj, 3)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "value"):  # enums
        return to_jsonable(obj.value)
    return str(obj)


# -------------------------------------------------------------------------------------------------- limiter


class FloodGuard(TokenBucket):
    """Token bucket over incoming messages: True while the client stays within rate and burst."""

    def __init__(
        self,
        rate_per_s: float = FLOOD_RATE_PER_S,
        burst: float = FLOOD_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate_per_s, burst, clock)


class ClipBuffer:
    """The last CLIP_BUFFER_S seconds of JPEG frames (bounded by count too), for clips of flagged reps."""

    def __init__(self, max_s: float = CLIP_BUFFER_S, max_frames: int = CLIP_BUFFER_MAX_FRAMES) -> None:
        self.max_s = max_s
        self._frames: collections.deque[tuple[float, bytes]] = collections.deque(maxlen=max_frames)

    def add(self, t_s: float, jpeg: bytes) -> None:
        self._frames.append((t_s, jpeg))
        while self._frames and t_s - self._frames[0][0] > self.max_s:
            self._frames.popleft()

    def window(self, t0_s: float, t1_s: float) -> list[tuple[float, bytes]]:
        return [(t, j) for t, j in self._frames if t0_s <= t <= t1_s]

    def __len__(self) -> int:
        return len(self._frames)


def write_clip(frames: list[tuple[float, bytes]], out: Path) -> Path:
    """Encode (t_s, JPEG) frames to a browser-playable H.264 MP4 (docs/platform.md §1), atomically."""
    from fractions import Fraction

    import av
    import cv2

    if not frames:
        raise ValueError("no frames for the clip")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".part.mp4")
    first = cv2.imdecode(np.frombuffer(frames[0][1], np.uint8), cv2.IMREAD_COLOR)
    h, w = (first.shape[0] // 2) * 2, (first.shape[1] // 2) * 2  # libx264 + yuv420p need even sizes
    t0 = frames[0][0]
    with av.open(str(tmp), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.options = {"preset": "veryfast", "crf": "26"}
        last_pts = -1
        for t, jpeg in frames:
            bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            if bgr.shape[:2] != (h, w):
                bgr = cv2.resize(bgr, (w, h))
            vf = av.VideoFrame.from_ndarray(bgr, format="bgr24")
            pts = max(last_pts + 1, int(round((t - t0) * 1000)))
            vf.pts, vf.time_base, last_pts = pts, Fraction(1, 1000), pts
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    tmp.replace(out)
    return out


# ------------------------------------------------------------------------------------------------ connection


def lower_thread_priority() -> None:
    """Pose work yields the CPU to request handling (Linux per-thread nice, as video.py's decoder): a saturated
    server still answers other people's pages and API calls promptly. MediaPipe's own threads inherit it."""
    from formcheck.webapp.limits import LIVE_POSE_NICE

    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LIVE_POSE_NICE)


def _default_estimator_factory():
    from formcheck.media.pose import PoseEstimator

    return PoseEstimator()


class LiveConnection:
    """One WebSocket: its own pose estimator, analysis session, frame slot, clip buffer and counters."""

    def __init__(self, ws: WebSocket, user: Any) -> None:
        self.ws = ws
        self.user = user
        app = ws.app
        self.settings = app.state.settings
        self.store = app.state.store
        # Tests and benchmarks may inject another estimator (same interface) through app.state.
        self.estimator_factory = getattr(app.state, "pose_estimator_factory", None) or _default_estimator_factory
        self.estimator: Any = None
        # One worker thread per connection runs the estimator and the analysis, in order: creation, every frame
        # and the final close are serial, so the native landmarker is never closed under a running frame.
        self.pose_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="live-pose", initializer=lower_thread_priority
        )
        self.analysis: Any = None
        self.set_req: SetRequest | None = None
        self.recorder: Any = None
        self.holds_stored = 0  # holds of the current set already stored as "reps" (one per hold_s in good form)
        self.store_clips = False
        self.clips: ClipBuffer | None = None
        self.clip_tasks: set[asyncio.Task] = set()
        self.latest: bytes | None = None
        # browser pose (issue 12): the newest landmark message and when it arrived; its own rate limit
        self.latest_lm: tuple[str, float] | None = None
        self.lm_intake = lmsg.LandmarkIntake()
        self.lm_rate = lmsg.RateGuard()
        self.holds_live_slot = False  # a browser-pose socket that switched to JPEGs took a server-pose slot
        self.events: collections.deque[tuple[str, Any]] = collections.deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.flood = FloodGuard()
        self.server_seq = 0
        self.errors_in_row = 0
        self.t0_client_ms: float | None = None
        self.t0_server = time.monotonic()
        self.last_t_s = -math.inf
        self.frames_in = 0
        self.frames_done = 0

    async def in_pose_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pose_thread, functools.partial(fn, *args))

    def shutdown(self) -> None:
        """Close the estimator after any frame still running, without waiting (safe from a cancelled task)."""
        if self.estimator is not None:
            self.pose_thread.submit(self.estimator.close)
        self.pose_thread.shutdown(wait=False)

    # ---- reader: drains the socket continuously; keeps only the newest frame
    async def reader(self) -> None:
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                data, text = msg.get("bytes"), msg.get("text")
                if text is not None and lmsg.looks_like_landmarks(text):
                    if not self._take_landmarks(text):
                        return
                    continue
                # Only what breaks "one frame in flight" is charged: a frame that overwrites one still waiting,
                # and every control message. A ping-pong client never drops a frame, however fast it is.
                charged = text is not None or self.latest is not None
                if charged and not self.flood.allow():
                    self._event(
                        "fatal",
                        ProtocolError(
                            "flood", "too many messages: send one frame, then wait for its reply", close=WS_CLOSE_POLICY
                        ),
                    )
                    return
                if data is not None:
                    if len(data) > MAX_FRAME_BYTES:
                        self._event(
                            "fatal",
                            ProtocolError(
                                "too_large",
                                f"frame of {len(data)} bytes is over the {MAX_FRAME_BYTES}-byte limit",
                                close=WS_CLOSE_TOO_BIG,
                            ),
                        )
                        return
                    self.frames_in += 1
                    self.latest = data  # latest frame wins: an unprocessed older one is dropped here
                    self.wake.set()
                elif text is not None:
                    self._event("text", text)
        except WebSocketDisconnect:
            pass
        except RuntimeError as exc:  # receive after a close: nothing more to read
            log.debug("live reader stopped: %s", exc)
        finally:
            self.closed = True
            self.wake.set()

    def _take_landmarks(self, text: str) -> bool:
        """Keep the newest landmark message (latest wins); False after a fatal flood / size error."""
        if not self.lm_rate.allow():
            self._event(
                "fatal",
                ProtocolError(
                    "flood",
                    f"too many landmark messages: at most {lmsg.LANDMARK_RATE_PER_S:g} a second",
                    close=WS_CLOSE_POLICY,
                ),
            )
            return False
        if len(text) > lmsg.MAX_LANDMARK_MSG_BYTES:
            self._event(
                "fatal",
                ProtocolError(
                    "too_large", f"landmark message over {lmsg.MAX_LANDMARK_MSG_BYTES} bytes", close=WS_CLOSE_TOO_BIG
                ),
            )
            return False
        self.frames_in += 1
        self.latest_lm = (text, time.perf_counter())
        self.wake.set()
        return True

    def _event(self, kind: str, payload: Any) -> None:
        if kind != "fatal" and len(self.events) >= MAX_PENDING_EVENTS:
            kind, payload = "fatal", ProtocolError("flood", "too many control messages", close=WS_CLOSE_POLICY)
        self.events.append((kind, payload))
        self.wake.set()

    # ---- processor: one frame at a time, off the event loop
    async def run(self) -> None:
        reader = asyncio.create_task(self.reader())
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.events:
                    kind, payload = self.events.popleft()
                    if kind == "fatal":
                        await self.fail(payload)
                        return
                    await self.handle_text(payload)
                    if self.ws.client_state is not WebSocketState.CONNECTED:
                        return
                frame, self.latest = self.latest, None
                if frame is not None:
                    await self.handle_frame(frame)
                lm, self.latest_lm = self.latest_lm, None
                if lm is not None:
                    await self.handle_landmarks(*lm)
                if self.closed and self.latest is None and self.latest_lm is None and not self.events:
                    return
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await self.drain_clips()

    async def send(self, obj: dict[str, Any]) -> None:
        if self.ws.client_state is WebSocketState.CONNECTED and self.ws.application_state is WebSocketState.CONNECTED:
            try:
                await self.ws.send_text(json.dumps(obj, separators=(",", ":"), allow_nan=False))
            except (WebSocketDisconnect, RuntimeError) as exc:
                log.debug("live send failed: %s", exc)
                self.closed = True

    async def fail(self, err: ProtocolError) -> None:
        """Answer with an error, and close the socket when the error says so (only this socket)."""
        msg: dict[str, Any] = {"type": "error", "code": err.code, "message": err.message}
        if err.seq is not None:
            msg["seq"] = err.seq
        await self.send(msg)
        if err.close is not None:
            await self.close(err.close, err.message)
            return
        self.errors_in_row += 1
        if self.errors_in_row >= MAX_CONSECUTIVE_ERRORS:
            await self.close(WS_CLOSE_UNSUPPORTED, "too many bad messages in a row")

    async def close(self, code: int, reason: str) -> None:
        self.closed = True
        if self.ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await self.ws.close(code=code, reason=reason[:120])

    # ---- control messages
    async def handle_text(self, text: str) -> None:
        if len(text) > MAX_TEXT_BYTES:
            await self.fail(ProtocolError("bad_message", f"text message over {MAX_TEXT_BYTES} bytes"))
            return
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                raise ValueError('a JSON object with a "type" is expected')
        except ValueError as exc:
            await self.fail(ProtocolError("bad_message", f"not a control message: {str(exc)[:100]}"))
            return
        kind = msg["type"]
        if kind == "ping":
            await self.send({"type": "pong", "frames_in": self.frames_in, "frames_done": self.frames_done})
        elif kind == "start_set":
            try:
                req = SetRequest.from_mapping(msg)
            except ValueError as exc:
                await self.fail(ProtocolError("bad_message", str(exc)))
                return
            await self.start_set(req)
        elif kind == "end_set":
            await self.end_set()
        elif kind == "landmarks":  # not routed by the reader (unusual spacing): same handling, in order
            await self.handle_landmarks(text, time.perf_counter())
            return
        elif kind == "pain":
            # "My knee hurts": the coach says stop, and nothing more is counted in this set (issue 11 item 3)
            if self.analysis is not None:
                self.analysis.stop_for_pain()
            from formcheck.webapp.live_coach import SAFETY_TEXT

            await self.send({"type": "safety", "message": SAFETY_TEXT})
        elif kind == "reload_settings":
            self.store_clips = await asyncio.to_thread(person_stores_clips, self.store, self.user)
            if self.store_clips and self.clips is None:
                self.clips = ClipBuffer()
            elif not self.store_clips:
                self.clips = None
            await self.send({"type": "settings", "store_flagged_clips": self.store_clips})
        else:
            await self.fail(ProtocolError("bad_message", f"unknown message type {kind[:40]!r}"))
            return
        self.errors_in_row = 0

    async def start_set(self, req: SetRequest) -> bool:
        """A new set (or preview): a fresh analysis session; with a session id, a stored set and recorder."""
        await self.drain_clips()
        await self.close_recorder()
        svc = programme_service(self.ws.app)
        recorder = None
        overrides: dict[str, float] = {}
        if req.session_id is not None and not req.preview:
            try:
                recorder = await asyncio.to_thread(SetRecorder.open, svc, self.user, req)
                overrides = await asyncio.to_thread(person_rule_overrides, svc, self.user, req.exercise_id)
            except FormcheckError as exc:
                await self.fail(ProtocolError("store_failed", str(exc)))
                return False
        try:
            analysis = await asyncio.to_thread(_new_coached_set, req, overrides)
        except FormcheckError as exc:
            if recorder is not None:
                await asyncio.to_thread(recorder.close)
            await self.fail(ProtocolError("bad_exercise", str(exc)))
            return False
        target = req.target_reps or (recorder.target_reps if recorder else None)
        hold_s = req.hold_s or (recorder.target_hold_s if recorder else None)
        if (target, hold_s) != (req.target_reps, req.hold_s):
            req = dataclasses.replace(req, target_reps=target, hold_s=hold_s)
        analysis.target_reps = req.target_reps
        self.analysis, self.set_req, self.recorder = analysis, req, recorder
        self.holds_stored = 0
        await self.send(
            {
                "type": "set_started",
                "exercise": req.exercise_id,
                "side": req.side,
                "target_reps": req.target_reps,
                "hold_s": req.hold_s,
                "preview": req.preview,
                "session_id": req.session_id,
                "set_no": req.set_no,
                "recording": recorder is not None,
                "set_id": recorder.set_id if recorder else None,
            }
        )
        return True

    async def end_set(self) -> None:
        summary = None
        if self.analysis is not None:
            summary = await self.in_pose_thread(_result_summary, self.analysis)
        req = self.set_req
        await self.drain_clips()  # the set's clips are stored before "set_ended" goes out
        await self.close_recorder()
        self.analysis, self.set_req = None, None
        await self.send({"type": "set_ended", "exercise": req.exercise_id if req else None, "summary": summary})

    async def finish(self) -> None:
        await self.drain_clips()
        await self.close_recorder()

    async def drain_clips(self) -> None:
        if self.clip_tasks:
            await asyncio.gather(*list(self.clip_tasks), return_exceptions=True)

    async def close_recorder(self) -> None:
        """End the stored set (its reps are already committed one by one)."""
        rec, self.recorder = self.recorder, None
        if rec is not None:
            try:
                await asyncio.to_thread(rec.close)
            except FormcheckError as exc:
                log.warning("could not end set %s: %s", rec.set_id, exc)

    # ---- frames
    def _frame_time_s(self, client_ms: float | None) -> float:
        """Seconds since the first frame: the client's capture clock when sane, else the server's; increasing."""
        server_s = time.monotonic() - self.t0_server
        t = server_s
        if client_ms is not None:
            if self.t0_client_ms is None:
                self.t0_client_ms = client_ms
                self.t0_server = time.monotonic()
            t = (client_ms - self.t0_client_ms) / 1000.0
            if not (self.last_t_s - 1e-9 <= t <= max(self.last_t_s, 0.0) + MAX_CLIENT_TIME_JUMP_S):
                t = server_s
        t = max(t, self.last_t_s + 1e-3) if math.isfinite(self.last_t_s) else max(t, 0.0)
        self.last_t_s = t
        return t

    async def handle_frame(self, data: bytes) -> None:
        self.server_seq += 1
        try:
            seq, client_ms, jpeg = split_frame(data, self.server_seq)
        except ProtocolError as err:
            await self.fail(err)
            return
        t_s = self._frame_time_s(client_ms)
        t_recv = time.perf_counter()
        if self.estimator is None and not await self._ensure_estimator():
            return
        try:
            reply, fb = await self.in_pose_thread(self._process, jpeg, t_s)
        except ProtocolError as err:
            err.seq = seq
            await self.fail(err)
            return
        except FormcheckError as exc:
            await self.fail(ProtocolError("bad_frame", str(exc), seq=seq))
            return
        self.errors_in_row = 0
        self.frames_done += 1
        if self.clips is not None:
            self.clips.add(t_s, jpeg)
        reply["seq"] = seq
        reply["pose_source"] = POSE_SERVER
        reply["new_reps"] = await self._record_new_reps(fb, POSE_SERVER) + await self._record_completed_holds(fb)
        reply["timing_ms"]["server"] = round((time.perf_counter() - t_recv) * 1000.0, 1)
        await self.send(reply)

    async def _ensure_estimator(self) -> bool:
        """The server's pose model, loaded on the first JPEG of a page that started in browser-pose mode (which
        then also takes a server-pose live slot, released when the socket ends)."""
        if not self.holds_live_slot:
            refusal = self.ws.app.state.live_slots.acquire(self.user.id)
            if refusal is not None:
                await self.fail(ProtocolError(refusal.code, refusal.message, close=WS_CLOSE_TRY_AGAIN))
                return False
            self.holds_live_slot = True
        try:
            self.estimator = await self.in_pose_thread(self.estimator_factory)
            return True
        except FormcheckError as exc:
            await self.fail(ProtocolError("model_unavailable", str(exc), close=WS_CLOSE_INTERNAL))
            return False

    async def handle_landmarks(self, text: str, t_arrived: float) -> None:
        """Pose from the browser: validate, build a PoseFrame, run the same LiveSession; errors stay on this
        socket (bad_landmarks keeps it open, up to MAX_CONSECUTIVE_ERRORS in a row).

        Runs on the event loop, not the per-socket thread: it is ~0.5-1 ms of pure Python (no native call that
        releases the GIL), and a thread hop per message with one thread per socket made p95 worse under load
        (GIL hand-offs; benchmarks/bench_capacity.py)."""
        try:
            if LANDMARKS_ON_LOOP:
                reply, fb = self._process_landmarks(text)
            else:
                reply, fb = await self.in_pose_thread(self._process_landmarks, text)
        except lmsg.LandmarkError as err:
            close = WS_CLOSE_TOO_BIG if err.code == "too_large" else WS_CLOSE_POLICY
            await self.fail(ProtocolError(err.code, err.message, seq=err.seq, close=close if err.close else None))
            return
        except FormcheckError as exc:
            await self.fail(ProtocolError("bad_landmarks", str(exc)))
            return
        self.errors_in_row = 0
        self.frames_done += 1
        reply["new_reps"] = await self._record_new_reps(fb, POSE_BROWSER) + await self._record_completed_holds(fb)
        reply["timing_ms"]["server"] = round((time.perf_counter() - t_arrived) * 1000.0, 1)
        await self.send(reply)

    def _process_landmarks(self, text: str) -> tuple[dict[str, Any], Any]:
        """Parse → PoseFrame → analysis → reply dict (worker thread, like `_process`)."""
        t0 = time.perf_counter()
        msg = self.lm_intake.accept(text)
        pf = lmsg.to_pose_frame(msg, self._frame_time_s(msg.t_ms))
        t1 = time.perf_counter()
        cf = self.analysis.update(pf) if self.analysis is not None else None  # the same coached set as JPEGs
        t2 = time.perf_counter()
        reply = {
            "type": "frame",
            "seq": msg.seq,
            "pose_source": POSE_BROWSER,
            "t_s": round(pf.t_s, 3),
            "wh": list(pf.frame_wh),
            "pose": pf.detected,
            "landmarks": None,  # the page has its own
            "angles": key_angles(pf),
            **coached_json(cf, self.set_req),
            "timing_ms": {
                "parse": round((t1 - t0) * 1000, 2),
                "pose": None,
                "client_pose": msg.pose_ms,
                "analysis": round((t2 - t1) * 1000, 2),
            },
        }
        return reply, (cf.counted if cf is not None else None)

    def _process(self, jpeg: bytes, t_s: float) -> tuple[dict[str, Any], Any]:
        """Decode → pose → analysis → reply dict (all in a worker thread: nothing here touches the loop)."""
        t0 = time.perf_counter()
        bgr = decode_jpeg(jpeg)
        t1 = time.perf_counter()
        pf = self.estimator.process(bgr, t_s)
        t2 = time.perf_counter()
        cf = self.analysis.update(pf) if self.analysis is not None else None
        t3 = time.perf_counter()
        reply = {
            "type": "frame",
            "t_s": round(t_s, 3),
            "wh": list(pf.frame_wh),
            "pose": pf.detected,
            "landmarks": landmarks_json(pf),
            "angles": key_angles(pf),
            **coached_json(cf, self.set_req),
            "timing_ms": {
                "decode": round((t1 - t0) * 1000, 1),
                "pose": round((t2 - t1) * 1000, 1),
                "analysis": round((t3 - t2) * 1000, 1),
            },
        }
        return reply, (cf.counted if cf is not None else None)

    async def _record_new_reps(self, fb: Any, pose_source: str = "server") -> list[dict[str, Any]]:
        reps = new_reps_of(fb)
        out = []
        for rep in reps:
            item = rep_json(rep)
            item["stored"] = False
            item["pose_source"] = pose_source
            if self.recorder is not None:
                try:
                    rep_id = await asyncio.to_thread(self.recorder.record, rep, pose_source)
                    item["stored"] = True
                    item["rep_id"] = rep_id
                    if self.store_clips and not item.get("valid", True):
                        self._schedule_clip(rep, rep_id)
                except FormcheckError as exc:
                    log.error("could not store rep %s: %s", item.get("index"), exc)
                    await self.send(
                        {
                            "type": "error",
                            "code": "store_failed",
                            "message": f"rep {item.get('index')} could not be saved: {exc}",
                        }
                    )
            out.append(item)
        return out

    async def _record_completed_holds(self, fb: Any) -> list[dict[str, Any]]:
        """Holds (wall sit, plank): each `hold_s` held in good form is stored as one valid rep the moment it
        completes, so the programme counts held sets toward the day's target like counted reps."""
        req = self.set_req
        if fb is None or req is None or not req.hold_s or fb.hold_good_s is None or self.recorder is None:
            return []
        due = holds_due(fb.hold_good_s, req.hold_s, req.target_reps)
        out = []
        while self.holds_stored < due:
            self.holds_stored += 1
            rep = hold_rep_in(self.holds_stored, fb.t_s, req.hold_s, req.side)
            item = {
                "index": rep.idx,
                "valid": True,
                "verdict": rep.verdict,
                "why": rep.reason,
                "side": rep.side,
                "start_s": rep.start_s,
                "end_s": rep.end_s,
                "faults": [],
                "stored": False,
                "hold": True,
            }
            try:
                item["rep_id"] = await asyncio.to_thread(self.recorder.record_in, rep)
                item["stored"] = True
            except FormcheckError as exc:
                log.error("could not store hold %s: %s", rep.idx, exc)
                await self.send(
                    {"type": "error", "code": "store_failed", "message": f"hold {rep.idx} could not be saved: {exc}"}
                )
            out.append(item)
        return out

    def _schedule_clip(self, rep: Any, rep_id: Any) -> None:
        if self.clips is None:
            return
        if len(self.clip_tasks) >= MAX_PENDING_CLIPS:
            log.warning("clip of rep %s skipped: %d clips still encoding", rep_id, len(self.clip_tasks))
            return
        t0, t1 = rep_times(rep)
        frames = self.clips.window(t0 - CLIP_PAD_S, t1 + CLIP_PAD_S)
        if not frames:
            return
        out = clip_path(self.settings.data_dir, self.user.id, self.set_req, rep_id)
        recorder = self.recorder

        async def job() -> None:
            try:
                path = await asyncio.to_thread(write_clip, frames, out)
                if recorder is not None:
                    await asyncio.to_thread(recorder.attach_clip, rep_id, path)
            except Exception:  # noqa: BLE001 - a failed clip must never end the live session
                log.exception("clip for rep %s failed", rep_id)

        task = asyncio.create_task(job())
        self.clip_tasks.add(task)
        task.add_done_callback(self.clip_tasks.discard)


def clip_path(data_dir: Path, person_id: int, req: SetRequest | None, rep_id: Any) -> Path:
    session = req.session_id if req and req.session_id is not None else 0
    return Path(data_dir) / "clips" / f"person{int(person_id)}" / f"session{int(session)}_rep{rep_id}.mp4"


# ------------------------------------------------------------------------------- analysis / store adapters


def _new_live_session(req: SetRequest, overrides: dict[str, float] | None = None) -> Any:
    from formcheck.core.analysis import LiveSession

    return LiveSession(req.exercise_id, side=req.side, overrides=overrides or None)


def _new_coached_set(req: SetRequest, overrides: dict[str, float] | None = None) -> Any:
    """The set as coached: a watch session for placement, a 3-2-1 gate, then the counting session."""
    from formcheck.webapp.live_coach import new_coached_set

    return new_coached_set(
        functools.partial(_new_live_session, req, overrides), preview=req.preview, target_reps=req.target_reps
    )


def person_rule_overrides(svc: Any, user: Any, exercise_id: str) -> dict[str, float]:
    """The clinician's per-person limits for this exercise's rules ({rule id: limit}; keyed by exercise)."""
    from formcheck.webapp.thresholds import rule_overrides

    return rule_overrides(svc.store, user.id, exercise_id)


def _result_summary(analysis: Any) -> Any:
    return to_jsonable(analysis.result())


def new_reps_of(fb: Any) -> list[Any]:
    return [fb.new_rep] if fb is not None and fb.new_rep is not None else []


def rep_times(rep: Any) -> tuple[float, float]:
    return float(rep.start_s), float(rep.end_s)


def _finite_metrics(*maps: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in maps:
        for k, v in (m or {}).items():
            if v is not None and math.isfinite(float(v)):
                out[str(k)] = round(float(v), 3)
    return out


def rep_json(rep: Any) -> dict[str, Any]:
    """A counted rep for the page: index (1-based), verdict and why, side, times, faults with their cues."""
    return {
        "index": int(rep.index),
        "valid": bool(rep.valid),
        "verdict": str(rep.verdict),
        "why": rep.why,
        "side": rep.side,
        "start_s": _r(rep.start_s, 3),
        "bottom_s": _r(rep.bottom_s, 3),
        "end_s": _r(rep.end_s, 3),
        "view": str(rep.view),
        "faults": [
            {
                "rule": f.rule,
                "value": _r(f.value, 2),
                "threshold": _r(f.threshold, 2),
                "unit": f.unit,
                "severity": f.severity,
                "cue": f.cue,
            }
            for f in rep.faults
        ],
        "peak": _finite_metrics(rep.peak),
    }


def rep_in(rep: Any) -> Any:
    """The analysis Rep as the store's RepIn (what the session service records)."""
    from formcheck.store import Fault, RepIn

    verdict = str(rep.verdict)
    reason = rep.why or ("" if rep.valid else "not judged")
    faults = tuple(
        Fault(rule=f.rule, value=float(f.value), threshold=float(f.threshold), unit=f.unit)
        for f in rep.faults
        if math.isfinite(float(f.value)) and math.isfinite(float(f.threshold))
    )
    metrics = _finite_metrics(
        {f"peak_{k}": v for k, v in rep.peak.items()},
        {f"worst_{k}": v for k, v in rep.worst.items()},
        {"duration_s": rep.end_s - rep.start_s, "bottom_s": rep.bottom_s},
    )
    return RepIn(
        idx=int(rep.index),
        start_s=float(rep.start_s),
        end_s=float(rep.end_s),
        valid=bool(rep.valid),
        verdict=verdict,
        reason=reason,
        side=rep.side,
        metrics=metrics,
        faults=faults,
    )


def holds_due(hold_good_s: float, hold_s: float, target: int | None) -> int:
    """How many holds of `hold_s` seconds the time held in good form amounts to (at most the target)."""
    done = int(math.floor(max(0.0, hold_good_s) / hold_s + 1e-9))
    return min(done, target) if target else done


def hold_rep_in(index: int, t_s: float, hold_s: float, side: str | None) -> Any:
    """One completed hold as the store's RepIn: valid, since hold time only accrues while the form is good."""
    from formcheck.store import RepIn

    return RepIn(
        idx=index,
        start_s=max(0.0, t_s - hold_s),
        end_s=t_s,
        valid=True,
        verdict="valid",
        reason=f"held {hold_s:g} s in good form",
        side=side if side in ("left", "right") else None,
        metrics={"hold_s": float(hold_s)},
    )


def _guidance_key(text: str) -> str:
    from formcheck.core.feedback import GUIDANCE_TEXT

    for key, value in GUIDANCE_TEXT.items():
        if value == text:
            return key
    return "guidance"


def feedback_json(fb: Any, req: SetRequest | None) -> dict[str, Any]:
    """The analysis part of a frame reply: phase, counts, the one cue to show, overlay, placement, set_done."""
    target = req.target_reps if req else None
    if fb is None:
        return {
            "phase": None,
            "rep_count": 0,
            "valid_rep_count": 0,
            "target_reps": target,
            "cue": None,
            "cues": [],
            "speak": [],
            "overlay": None,
            "placement": [],
            "view": None,
            "set_done": False,
        }
    cues = [str(c) for c in fb.cues]
    out = {
        "phase": str(fb.phase),
        "rep_count": int(fb.rep_count),
        "valid_rep_count": int(fb.valid_rep_count),
        "target_reps": target,
        "cue": cues[0] if cues else None,
        "cues": cues,
        "speak": [str(c) for c in fb.new_cues][:1],
        "overlay": fb.overlay.to_json(),
        "placement": [{"code": _guidance_key(g), "message": g} for g in fb.guidance],
        "view": fb.view,
    }
    done = False
    if target is not None and req is not None and not req.preview:
        if fb.hold_good_s is not None:
            out["hold_good_s"] = _r(fb.hold_good_s, 1)
            out["hold_in_position_s"] = _r(fb.hold_in_position_s, 1)
            if req.hold_s:
                out["hold_target_s"] = round(req.hold_s * target, 1)
                done = fb.hold_good_s >= req.hold_s * target
        else:
            done = fb.valid_rep_count >= target
    out["set_done"] = done
    return out


def coached_json(cf: Any, req: SetRequest | None) -> dict[str, Any]:
    """feedback_json of what the person sees, with the counts of the counting session only (0 before "Go"),
    the one coach message ("coach": kind, text, speak, key) and the countdown gate ("gate": state, seconds_left)."""
    if cf is None:
        return {**feedback_json(None, req), "coach": None, "gate": None, "counting": False}
    out = feedback_json(cf.shown, req)
    if not cf.counting:
        last = getattr(cf, "last_counted", None)
        out["rep_count"] = int(last.rep_count) if last is not None else 0
        out["valid_rep_count"] = int(last.valid_rep_count) if last is not None else 0
        out["set_done"] = False
        if "hold_good_s" in out:
            out["hold_good_s"] = _r(last.hold_good_s, 1) if last is not None and last.hold_good_s is not None else 0.0
    msg = cf.message
    out["speak"] = [msg.speak] if msg is not None and msg.speak else []
    out["coach"] = msg.to_json() if msg is not None else None
    out["gate"] = cf.gate.to_json() if cf.gate is not None else None
    out["counting"] = bool(cf.counting)
    return out


CLIP_SETTING = "store_flagged_clips"  # people.settings key; default off (issue 5 item 5)


def person_stores_clips(store: Any, user: Any) -> bool:
    """The person's `store_flagged_clips` setting (default off: clips only with their consent)."""
    try:
        return bool(store.get_person_by_id(user.id).settings.get(CLIP_SETTING, False))
    except FormcheckError:
        return False


def programme_service(app: Any) -> Any:
    """The app's ProgrammeService (stateless over the store), made on first use and kept on app.state."""
    svc = getattr(app.state, "programme_service", None)
    if svc is None:
        from formcheck.store.programme_service import ProgrammeService

        svc = ProgrammeService(app.state.store)
        app.state.programme_service = svc
    return svc


class SetRecorder:
    """Stores each rep of one set the moment it is counted, through the programme's session service."""

    def __init__(self, svc: Any, set_id: int, target_reps: int, target_hold_s: float | None = None) -> None:
        self.svc, self.set_id, self.target_reps, self.target_hold_s = svc, set_id, target_reps, target_hold_s
        self.closed = False

    @classmethod
    def open(cls, svc: Any, user: Any, req: SetRequest) -> SetRecorder:
        session = svc.store.get_session(req.session_id)
        if session.person_id != user.id:
            raise InputError(f"no session with id {req.session_id}")
        side = req.side if req.side in (Side.LEFT.value, Side.RIGHT.value) else None
        for left_open in svc.store.list_sets(session.id):
            if left_open.ended_at is None:  # a tab closed mid-set (its reps are stored): that set is over
                svc.end_set(left_open.id)
        row = svc.start_set(req.session_id, req.exercise_id, side)
        return cls(svc, row.id, row.target_reps, row.target_hold_s)

    def record(self, rep: Any, pose_source: str | None = None) -> int:
        rin = rep_in(rep)
        if pose_source is not None:  # which path produced the landmarks: shown to the clinician with the rep
            rin = dataclasses.replace(rin, metrics={**rin.metrics, POSE_SOURCE_METRIC: pose_source})
        return self.record_in(rin)

    def record_in(self, rep: Any) -> int:
        return int(self.svc.record_rep(self.set_id, rep).rep.id)

    def attach_clip(self, rep_id: int, path: Path) -> None:
        self.svc.store.add_rep_clip(int(rep_id), str(path))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.svc.end_set(self.set_id)


# ------------------------------------------------------------------------------------------------ endpoint


@router.websocket("/ws/live")
async def live_socket(ws: WebSocket) -> None:
    """Frames in, feedback out; see the module docstring for the protocol."""
    await ws.accept()
    user = await websocket_user(ws)
    if user is None:
        await ws.send_text(
            json.dumps({"type": "error", "code": "not_signed_in", "message": "Sign in first, then reload this page"})
        )
        await ws.close(code=WS_CLOSE_POLICY, reason="not signed in")
        return
    browser_pose = ws.query_params.get("pose") == POSE_BROWSER
    # each server-pose socket holds a pose model and a core: capped per person and in all; a browser-pose socket
    # only validates and judges landmarks, so it counts against its own, larger cap
    slots = ws.app.state.browser_pose_slots if browser_pose else ws.app.state.live_slots
    refusal = slots.acquire(user.id)
    if refusal is not None:
        await ws.send_text(json.dumps({"type": "error", "code": refusal.code, "message": refusal.message}))
        await ws.close(code=WS_CLOSE_TRY_AGAIN, reason=refusal.message[:120])
        return
    try:
        await _serve_live(ws, user, browser_pose)
    finally:
        slots.release(user.id)


async def _serve_live(ws: WebSocket, user: Any, browser_pose: bool = False) -> None:
    conn = LiveConnection(ws, user)
    conn.holds_live_slot = not browser_pose
    try:
        conn.store_clips = await asyncio.to_thread(person_stores_clips, conn.store, user)
        conn.clips = ClipBuffer() if conn.store_clips else None
        await conn.send(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "max_frame_bytes": MAX_FRAME_BYTES,
                "max_frame_side_px": MAX_FRAME_SIDE_PX,
                "store_flagged_clips": conn.store_clips,
                "user": {"id": user.id, "name": user.name},
            }
        )
        if not browser_pose:  # browser pose: the model loads on a first JPEG only
            try:
                conn.estimator = await conn.in_pose_thread(conn.estimator_factory)
            except FormcheckError as exc:
                await conn.fail(ProtocolError("model_unavailable", str(exc), close=WS_CLOSE_INTERNAL))
                return
        if "exercise" in ws.query_params:
            try:
                req = SetRequest.from_mapping(dict(ws.query_params))
            except ValueError as exc:
                await conn.fail(ProtocolError("bad_message", str(exc), close=WS_CLOSE_POLICY))
                return
            if not await conn.start_set(req):
                await conn.close(WS_CLOSE_POLICY, "cannot start that set")
                return
        await conn.run()
    except Exception:
        log.exception("live socket failed")
        await conn.send({"type": "error", "code": "internal", "message": "server error: reload the page"})
        await conn.close(WS_CLOSE_INTERNAL, "server error")
    finally:
        conn.shutdown()
        if browser_pose and conn.holds_live_slot:  # taken when this browser-pose socket switched to JPEGs
            ws.app.state.live_slots.release(user.id)
        # shielded: even if the server cancels this handler, the open set is ended and pending clips are kept
        await asyncio.shield(conn.finish())
