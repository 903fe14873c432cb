"""The live socket's wire protocol: every client ↔ server message as one pydantic model, with the limits.

Wire protocol (ws://HOST/ws/live), version 1:

client → server
  * binary: one camera frame, either a bare JPEG, or FRAME_HEADER (b"FCF1", uint32 seq, float64 capture time in
    ms, little-endian) followed by the JPEG. The client sends the next frame only when the reply to the previous
    one arrives; the server also keeps only the newest unprocessed frame, so nothing stale is ever queued.
  * text JSON: StartSet, EndSet, Ping, Pain ("My knee hurts": nothing more is counted in this set, answered by
    Safety, and every later frame's coach message is the safety one), ReloadSettings (after the person switched
    clips of flagged reps on or off). The query string may carry the same fields as start_set, which starts a
    set at connect time; `pose=browser` says the page runs pose itself (no server model is loaded until a JPEG
    arrives).
  * text JSON {"type": "landmarks", ...}: one frame's pose computed in the browser (landmark_msgs.LandmarkMsg);
    latest wins like JPEG frames, answered with the same FrameReply (pose_source "browser").

server → client (text JSON, one object per message, "type" first): Hello, FrameReply, SetStarted, SetEnded
(with the Small Knee Bend Test's verdict, decided here), Pong, SettingsMsg, Safety, ErrorMsg. error codes:
bad_frame, too_large, bad_message, bad_landmarks, flood, not_signed_in, busy, bad_exercise, store_failed,
model_unavailable, internal; the socket stays usable after bad_frame / bad_message (up to MAX_CONSECUTIVE_ERRORS
in a row); too_large, flood and not_signed_in are followed by a close (1009 / 1008 / 1008); busy by 1013.

Outgoing models: a field with a default is on the wire only when it was given (dumped with exclude_unset), so the
few fields that exist only sometimes (an error's seq, a hold's seconds) keep their old presence rules.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from formcheck.core.landmarks import Side
from formcheck.media.frame_limits import MAX_FRAME_SIDE_PX

PROTOCOL_VERSION = 1
FRAME_MAGIC = b"FCF1"
FRAME_HEADER = struct.Struct("<4sId")  # magic, seq (uint32), client capture time (ms, float64)
JPEG_SOI = b"\xff\xd8"

# Limits (judgement calls, sized for a webcam client; all bound memory and CPU per connection):
MAX_FRAME_BYTES = 1_500_000  # a 640x480 q80 JPEG is ~20-60 kB; a 1080p q95 frame ~0.6 MB: 2.5x headroom
MAX_TEXT_BYTES = 8_192  # control messages are < 300 B
# Token bucket over frames sent while another was still waiting (dropped unprocessed) and control messages;
# a client that keeps one frame in flight never spends a token on frames.
FLOOD_RATE_PER_S = 60.0
FLOOD_BURST = 120
MAX_PENDING_EVENTS = 16  # control messages / errors waiting for the processor
MAX_CONSECUTIVE_ERRORS = 10  # bad frames or messages in a row before the socket is closed (1003)
MAX_EXERCISE_ID_CHARS = 64
WS_CLOSE_UNSUPPORTED = 1003
WS_CLOSE_POLICY = 1008
WS_CLOSE_TOO_BIG = 1009
WS_CLOSE_INTERNAL = 1011
WS_CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the live coach is at its connection cap
POSE_SERVER, POSE_BROWSER = "server", "browser"  # where a frame's pose ran (reply field pose_source)

PoseSource = Literal["server", "browser"]


class ProtocolError(Exception):
    """A message the client should not have sent: answered with an error reply, not a crash."""

    def __init__(self, code: str, message: str, *, close: int | None = None, seq: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.close, self.seq = code, message, close, seq


# ------------------------------------------------------------------------------------------- client → server


def _bounded(kind: type[int] | type[float], lo: float, hi: float) -> BeforeValidator:
    """Lax numbers as the page and query strings send them ("10", 10.0), within lo..hi; "" and None mean not
    given. Whole numbers are truncated like int() (the wire has always accepted 10.0 for 10)."""
    what = "a whole number" if kind is int else "a number"

    def check(v: Any) -> float | None:
        if v is None or v == "":
            return None
        try:
            x = kind(v)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e309), i.e. int(inf)
            raise ValueError(f"{v!r} is not {what}") from None
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(f"{x if kind is int else repr(v)} is outside {lo}..{hi}")
        return x

    return BeforeValidator(check)


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() in ("1", "true", "yes")) or v == 1


def _exercise_id(v: Any) -> str:
    if not isinstance(v, str) or not v or len(v) > MAX_EXERCISE_ID_CHARS:
        raise ValueError("start_set needs an exercise id")
    return v


def _side(v: Any) -> str:
    side = str(v or "auto")
    if side not in ("auto", Side.LEFT.value, Side.RIGHT.value):
        raise ValueError("side must be auto, left or right")
    return side


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StartSet(_In):
    """Judge one set of one exercise (or only preview it while getting ready); `exercise_id` is an old alias."""

    type: Literal["start_set"] = "start_set"
    exercise: Annotated[str, BeforeValidator(_exercise_id)]
    side: Annotated[str, BeforeValidator(_side)] = "auto"
    target_reps: Annotated[int | None, _bounded(int, 1, 500)] = None
    session_id: Annotated[int | None, _bounded(int, 1, 2**62)] = None
    set_no: Annotated[int | None, _bounded(int, 1, 100)] = None
    preview: Annotated[bool, BeforeValidator(_truthy)] = False
    # holds: seconds per hold; the set is done after target_reps x hold_s in good form
    hold_s: Annotated[float | None, _bounded(float, 0.5, 600.0)] = None

    @classmethod
    def from_mapping(cls, m: dict[str, Any]) -> StartSet:
        """A start_set from a message or the socket's query string; ValueError with a one-line reason."""
        fields = {k: v for k, v in m.items() if k in cls.model_fields and k != "type"}
        fields["exercise"] = m.get("exercise") or m.get("exercise_id")
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ValueError(first_error(exc)) from None


class EndSet(_In):
    type: Literal["end_set"]


class Ping(_In):
    type: Literal["ping"]


class Pain(_In):
    type: Literal["pain"]


class ReloadSettings(_In):
    type: Literal["reload_settings"]


class Landmarks(_In):
    """A landmark message that reached the control path (unusual spacing): validated by landmark_msgs."""

    type: Literal["landmarks"]


ControlMessage = Annotated[StartSet | EndSet | Ping | Pain | ReloadSettings | Landmarks, Field(discriminator="type")]
_CONTROL = TypeAdapter(ControlMessage)


def first_error(exc: ValidationError) -> str:
    """The first validation error as one line (a ValueError's own words without pydantic's prefix)."""
    err = exc.errors(include_url=False)[0]
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")[:160]


def parse_control(text: str) -> StartSet | EndSet | Ping | Pain | ReloadSettings | Landmarks:
    """One text control message; ProtocolError(bad_message) with the reason otherwise."""
    if len(text) > MAX_TEXT_BYTES:
        raise ProtocolError("bad_message", f"text message over {MAX_TEXT_BYTES} bytes")
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise ValueError('a JSON object with a "type" is expected')
    except ValueError as exc:
        raise ProtocolError("bad_message", f"not a control message: {str(exc)[:100]}") from None
    if raw["type"] == "start_set":
        try:
            return StartSet.from_mapping(raw)
        except ValueError as exc:
            raise ProtocolError("bad_message", str(exc)) from None
    try:
        return _CONTROL.validate_python(raw)
    except ValidationError:
        raise ProtocolError("bad_message", f"unknown message type {raw['type'][:40]!r}") from None


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


# ------------------------------------------------------------------------------------------- server → client


class _Out(BaseModel):
    """A server message: `type` always on the wire, other defaulted fields only when given."""

    model_config = ConfigDict(extra="forbid")

    def model_post_init(self, context: Any, /) -> None:
        self.model_fields_set.add("type")

    def wire(self) -> str:
        """The message as sent: compact UTF-8 JSON (pydantic's serializer, ~2x faster than json.dumps here)."""
        return self.model_dump_json(exclude_unset=True)


class UserInfo(BaseModel):
    id: int
    name: str


class Hello(_Out):
    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_frame_side_px: int = MAX_FRAME_SIDE_PX
    store_flagged_clips: bool
    user: UserInfo

    def model_post_init(self, context: Any, /) -> None:
        self.model_fields_set.update(("type", "protocol", "max_frame_bytes", "max_frame_side_px"))


class KeyAngle(BaseModel):
    label: str
    at: int
    flexion_deg: int


class FrameReply(_Out):
    """The reply to one frame (JPEG or landmarks): pose, analysis, coach message, gate, new reps, timing."""

    type: Literal["frame"] = "frame"
    seq: int
    pose_source: PoseSource
    t_s: float
    wh: list[int]
    pose: bool
    landmarks: list[list[float | None]] | None  # 33 x [x, y, visibility] normalised; None for browser pose
    angles: list[KeyAngle]
    phase: str | None
    rep_count: int
    valid_rep_count: int
    target_reps: int | None
    cue: str | None
    cues: list[str]
    speak: list[str]
    overlay: dict[str, Any] | None
    placement: list[dict[str, str]]
    view: str | None  # the analysis' view of the camera (front / side / back / unknown): the page draws by it
    set_done: bool
    hold_good_s: float | None = None  # holds only
    hold_in_position_s: float | None = None
    hold_target_s: float | None = None
    coach: dict[str, Any] | None
    gate: dict[str, Any] | None
    counting: bool
    new_reps: list[dict[str, Any]]
    timing_ms: dict[str, float | None]


class SetStarted(_Out):
    type: Literal["set_started"] = "set_started"
    exercise: str
    side: str
    target_reps: int | None
    hold_s: float | None
    preview: bool
    session_id: int | None
    set_no: int | None
    recording: bool
    set_id: int | None


Verdict = Literal["valid", "invalid", "unknown"]


class SetEnded(_Out):
    type: Literal["set_ended"] = "set_ended"
    exercise: str | None
    summary: Any
    # the Small Knee Bend Test only: the server's verdict of its reps (formcheck.programme.readiness)
    skbt_verdict: Verdict | None = None


class Pong(_Out):
    type: Literal["pong"] = "pong"
    frames_in: int
    frames_done: int


class SettingsMsg(_Out):
    type: Literal["settings"] = "settings"
    store_flagged_clips: bool


class Safety(_Out):
    type: Literal["safety"] = "safety"
    message: str


class ErrorMsg(_Out):
    type: Literal["error"] = "error"
    code: str
    message: str
    seq: int | None = None

    @classmethod
    def of(cls, err: ProtocolError) -> ErrorMsg:
        return (
            cls(code=err.code, message=err.message, seq=err.seq)
            if err.seq is not None
            else cls(code=err.code, message=err.message)
        )


ServerMessage = Hello | FrameReply | SetStarted | SetEnded | Pong | SettingsMsg | Safety | ErrorMsg
