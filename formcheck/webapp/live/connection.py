"""One live WebSocket: its pose estimator, coached set, frame slot, clip buffer and counters.

A reader task drains the socket continuously and keeps only the newest frame (JPEG or landmarks); the processor
(`run`) handles control messages in order, then the newest frame, one at a time. Pose and analysis of JPEG
frames run on the connection's own worker thread, so the event loop never waits on the model.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from formcheck.core.feedback import SAFETY_TEXT
from formcheck.core.results import LiveFeedback
from formcheck.core.types import PoseFrame
from formcheck.errors import FormcheckError
from formcheck.webapp.live import landmark_msgs as lmsg
from formcheck.webapp.live import protocol as p
from formcheck.webapp.live.clips import CLIP_PAD_S, ClipBuffer, ClipJobs, clip_path
from formcheck.webapp.live.coach import Frame
from formcheck.webapp.live.recorder import (
    SetRecorder,
    hold_json,
    hold_rep_in,
    holds_due,
    new_reps_of,
    person_rule_overrides,
    person_stores_clips,
    programme_service,
    readiness_verdict,
)
from formcheck.webapp.live.replies import coached_json, decode_jpeg, frame_fields, landmarks_json, rep_json, to_jsonable
from formcheck.webapp.live.runtime import (
    CLIENT_CLOCK_LEAD_S,
    ActiveSet,
    FloodGuard,
    FrameClock,
    FrameEstimator,
    default_estimator_factory,
    lower_thread_priority,
    new_set,
    record_skbt_verdict,
)
from formcheck.webapp.schemas import User

log = logging.getLogger(__name__)

LANDMARKS_ON_LOOP = True  # see LiveConnection.handle_landmarks

T = TypeVar("T")
EventKind = Literal["text", "fatal"]


class LiveConnection:
    """One WebSocket: its own pose estimator, coached set, frame slot, clip buffer and counters."""

    def __init__(self, ws: WebSocket, user: User) -> None:
        self.ws, self.user = ws, user
        app = ws.app
        self.settings = app.state.settings
        self.store = app.state.store
        # Tests and benchmarks may inject another estimator (same interface) through app.state.
        self.estimator_factory: Callable[[], FrameEstimator] = (
            getattr(app.state, "pose_estimator_factory", None) or default_estimator_factory
        )
        self.estimator: FrameEstimator | None = None
        # One worker thread per connection runs the estimator and the analysis, in order: creation, every frame
        # and the final close are serial, so the native landmarker is never closed under a running frame.
        self.pose_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="live-pose", initializer=lower_thread_priority
        )
        self.active: ActiveSet | None = None
        self.store_clips = False
        self.clips: ClipBuffer | None = None
        self.clip_jobs = ClipJobs()
        self.latest: bytes | None = None
        # browser pose: the newest landmark message and when it arrived; its own rate limit
        self.latest_lm: tuple[str, float] | None = None
        self.lm_intake = lmsg.LandmarkIntake()
        self.lm_rate = lmsg.RateGuard()
        self.holds_live_slot = False  # a browser-pose socket that switched to JPEGs took a server-pose slot
        self.events: collections.deque[tuple[EventKind, Any]] = collections.deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.flood = FloodGuard()
        # app.state.client_clock_lead_s: tests that replay recorded clips faster than real time raise it
        self.clock = FrameClock(getattr(app.state, "client_clock_lead_s", CLIENT_CLOCK_LEAD_S))
        self.server_seq = 0
        self.errors_in_row = 0
        self.frames_in = 0
        self.frames_done = 0

    async def in_pose_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pose_thread, functools.partial(fn, *args))

    def shutdown(self) -> None:
        """Close the estimator after any frame still running, without waiting (safe from a cancelled task)."""
        if self.estimator is not None:
            self.pose_thread.submit(self.estimator.close)
        self.pose_thread.shutdown(wait=False)

    def set_clip_setting(self, on: bool) -> None:
        """Clips of flagged reps on (a fresh buffer unless one runs) or off (the buffer dropped)."""
        self.store_clips = on
        if on and self.clips is None:
            self.clips = ClipBuffer()
        elif not on:
            self.clips = None

    # ---- reader: drains the socket continuously; keeps only the newest frame
    async def reader(self) -> None:
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect" or not self._take(msg.get("bytes"), msg.get("text")):
                    break
        except WebSocketDisconnect:
            pass
        except RuntimeError as exc:  # receive after a close: nothing more to read
            log.debug("live reader stopped: %s", exc)
        finally:
            self.closed = True
            self.wake.set()

    def _take(self, data: bytes | None, text: str | None) -> bool:
        """File one incoming message; False after a fatal error (the reader stops)."""
        if text is not None and lmsg.looks_like_landmarks(text):
            return self._take_landmarks(text)
        # Only what breaks "one frame in flight" is charged: a frame that overwrites one still waiting, and
        # every control message. A ping-pong client never drops a frame, however fast it is.
        charged = text is not None or self.latest is not None
        if charged and not self.flood.allow():
            return self._fatal("flood", "too many messages: send one frame, then wait for its reply", p.WS_CLOSE_POLICY)
        if data is not None:
            if len(data) > p.MAX_FRAME_BYTES:
                return self._fatal(
                    "too_large",
                    f"frame of {len(data)} bytes is over the {p.MAX_FRAME_BYTES}-byte limit",
                    p.WS_CLOSE_TOO_BIG,
                )
            self.frames_in += 1
            self.latest = data  # latest frame wins: an unprocessed older one is dropped here
            self.wake.set()
        elif text is not None:
            self._event("text", text)
        return True

    def _take_landmarks(self, text: str) -> bool:
        """Keep the newest landmark message (latest wins); False after a fatal flood / size error."""
        if not self.lm_rate.allow():
            return self._fatal(
                "flood", f"too many landmark messages: at most {lmsg.LANDMARK_RATE_PER_S:g} a second", p.WS_CLOSE_POLICY
            )
        if len(text) > lmsg.MAX_LANDMARK_MSG_BYTES:
            return self._fatal(
                "too_large", f"landmark message over {lmsg.MAX_LANDMARK_MSG_BYTES} bytes", p.WS_CLOSE_TOO_BIG
            )
        self.frames_in += 1
        self.latest_lm = (text, time.perf_counter())
        self.wake.set()
        return True

    def _fatal(self, code: str, message: str, close: int) -> bool:
        self._event("fatal", p.ProtocolError(code, message, close=close))
        return False

    def _event(self, kind: EventKind, payload: Any) -> None:
        if kind != "fatal" and len(self.events) >= p.MAX_PENDING_EVENTS:
            kind, payload = "fatal", p.ProtocolError("flood", "too many control messages", close=p.WS_CLOSE_POLICY)
        self.events.append((kind, payload))
        self.wake.set()

    # ---- processor: one frame at a time, off the event loop
    async def run(self) -> None:
        reader = asyncio.create_task(self.reader())
        try:
            while await self._step():
                pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await self.clip_jobs.drain()

    async def _step(self) -> bool:
        """Wait for work; handle pending control messages, then the newest frame. False when done."""
        await self.wake.wait()
        self.wake.clear()
        while self.events:
            kind, payload = self.events.popleft()
            if kind == "fatal":
                await self.fail(payload)
                return False
            await self.handle_text(payload)
            if self.ws.client_state is not WebSocketState.CONNECTED:
                return False
        frame, self.latest = self.latest, None
        if frame is not None:
            await self.handle_frame(frame)
        lm, self.latest_lm = self.latest_lm, None
        if lm is not None:
            await self.handle_landmarks(*lm)
        return not (self.closed and self.latest is None and self.latest_lm is None and not self.events)

    async def send(self, msg: p.ServerMessage) -> None:
        if self.ws.client_state is WebSocketState.CONNECTED and self.ws.application_state is WebSocketState.CONNECTED:
            try:
                await self.ws.send_text(msg.wire())
            except (WebSocketDisconnect, RuntimeError) as exc:
                log.debug("live send failed: %s", exc)
                self.closed = True

    async def fail(self, err: p.ProtocolError) -> None:
        """Answer with an error, and close the socket when the error says so (only this socket)."""
        await self.send(p.ErrorMsg.of(err))
        if err.close is not None:
            await self.close(err.close, err.message)
            return
        self.errors_in_row += 1
        if self.errors_in_row >= p.MAX_CONSECUTIVE_ERRORS:
            await self.close(p.WS_CLOSE_UNSUPPORTED, "too many bad messages in a row")

    async def close(self, code: int, reason: str) -> None:
        self.closed = True
        if self.ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await self.ws.close(code=code, reason=reason[:120])

    # ---- control messages
    async def handle_text(self, text: str) -> None:
        try:
            msg = p.parse_control(text)
        except p.ProtocolError as err:
            await self.fail(err)
            return
        if isinstance(msg, p.Landmarks):  # not routed by the reader (unusual spacing): same handling, in order
            await self.handle_landmarks(text, time.perf_counter())
            return
        if isinstance(msg, p.Ping):
            await self.send(p.Pong(frames_in=self.frames_in, frames_done=self.frames_done))
        elif isinstance(msg, p.StartSet):
            await self.start_set(msg)
        elif isinstance(msg, p.EndSet):
            await self.end_set()
        elif isinstance(msg, p.Pain):
            # "My knee hurts": the coach says stop, and nothing more is counted in this set (issue 11 item 3)
            if self.active is not None:
                self.active.analysis.stop_for_pain()
            await self.send(p.Safety(message=SAFETY_TEXT))
        elif isinstance(msg, p.ReloadSettings):
            self.set_clip_setting(await asyncio.to_thread(person_stores_clips, self.store, self.user))
            await self.send(p.SettingsMsg(store_flagged_clips=self.store_clips))
        self.errors_in_row = 0

    async def _open_recorder(self, req: p.StartSet) -> tuple[SetRecorder | None, dict[str, float]] | None:
        """A stored set's recorder and the person's rule limits (none for a preview or practice); None after a
        store failure (already answered)."""
        if req.session_id is None or req.preview:
            return None, {}
        svc = programme_service(self.ws.app)
        try:
            recorder = await asyncio.to_thread(SetRecorder.open, svc, self.user, req)
            overrides = await asyncio.to_thread(person_rule_overrides, svc, self.user, req.exercise)
        except FormcheckError as exc:
            await self.fail(p.ProtocolError("store_failed", str(exc)))
            return None
        return recorder, overrides

    async def start_set(self, req: p.StartSet) -> bool:
        """A new set (or preview): a fresh analysis session; with a session id, a stored set and recorder."""
        await self.clip_jobs.drain()
        await self.close_recorder()
        opened = await self._open_recorder(req)
        if opened is None:
            return False
        recorder, overrides = opened
        try:
            analysis = await asyncio.to_thread(new_set, req, overrides)
        except FormcheckError as exc:
            if recorder is not None:
                await asyncio.to_thread(recorder.close)
            await self.fail(p.ProtocolError("bad_exercise", str(exc)))
            return False
        if recorder is not None:  # the programme's dose where the page did not give one
            req = req.model_copy(
                update={
                    "target_reps": req.target_reps or recorder.target_reps,
                    "hold_s": req.hold_s or recorder.target_hold_s,
                }
            )
        analysis.target_reps = req.target_reps
        self.active = ActiveSet(req, analysis, recorder)
        await self.send(
            p.SetStarted(
                exercise=req.exercise,
                side=req.side,
                target_reps=req.target_reps,
                hold_s=req.hold_s,
                preview=req.preview,
                session_id=req.session_id,
                set_no=req.set_no,
                recording=recorder is not None,
                set_id=recorder.set_id if recorder else None,
            )
        )
        return True

    async def end_set(self) -> None:
        """The set's summary (and, for the Small Knee Bend Test, the server's verdict), after its clips."""
        active = self.active
        ended = p.SetEnded(exercise=None, summary=None)
        if active is not None:
            result = await self.in_pose_thread(active.analysis.result)
            verdict = readiness_verdict(active.req.exercise, result)
            ended = p.SetEnded(exercise=active.req.exercise, summary=await self.in_pose_thread(to_jsonable, result))
            if verdict is not None:
                ended.skbt_verdict = verdict
                await asyncio.to_thread(record_skbt_verdict, self.store, self.user.id, verdict)
        await self.clip_jobs.drain()  # the set's clips are stored before "set_ended" goes out
        await self.close_recorder()
        self.active = None
        await self.send(ended)

    async def finish(self) -> None:
        await self.clip_jobs.drain()
        await self.close_recorder()

    async def close_recorder(self) -> None:
        """End the stored set (its reps are already committed one by one)."""
        rec = self.active.recorder if self.active is not None else None
        if self.active is not None:
            self.active.recorder = None
        if rec is not None:
            try:
                await asyncio.to_thread(rec.close)
            except FormcheckError as exc:
                log.warning("could not end set %s: %s", rec.set_id, exc)

    # ---- frames
    async def handle_frame(self, data: bytes) -> None:
        self.server_seq += 1
        try:
            seq, client_ms, jpeg = p.split_frame(data, self.server_seq)
        except p.ProtocolError as err:
            await self.fail(err)
            return
        t_s = self.clock(client_ms)
        t_recv = time.perf_counter()
        if self.estimator is None and not await self.ensure_estimator():
            return
        try:
            reply, fb = await self.in_pose_thread(self._process, jpeg, t_s, seq)
        except p.ProtocolError as err:
            err.seq = seq
            await self.fail(err)
            return
        except FormcheckError as exc:
            await self.fail(p.ProtocolError("bad_frame", str(exc), seq=seq))
            return
        if self.clips is not None:
            self.clips.add(t_s, jpeg)
        await self._answer(reply, fb, p.POSE_SERVER, t_recv)

    async def _answer(self, reply: dict[str, Any], fb: LiveFeedback | None, source: str, t_recv: float) -> None:
        """Store the frame's new reps and holds, then send its reply."""
        self.errors_in_row = 0
        self.frames_done += 1
        reply["new_reps"] = await self._record_new_reps(fb, source) + await self._record_completed_holds(fb)
        reply["timing_ms"]["server"] = round((time.perf_counter() - t_recv) * 1000.0, 1)
        await self.send(p.FrameReply.model_validate(reply))

    async def ensure_estimator(self) -> bool:
        """The server's pose model, loaded on the first JPEG of a page that started in browser-pose mode (which
        then also takes a server-pose live slot, released when the socket ends)."""
        if not self.holds_live_slot:
            refusal = self.ws.app.state.live_slots.acquire(self.user.id)
            if refusal is not None:
                await self.fail(p.ProtocolError(refusal.code, refusal.message, close=p.WS_CLOSE_TRY_AGAIN))
                return False
            self.holds_live_slot = True
        try:
            self.estimator = await self.in_pose_thread(self.estimator_factory)
            return True
        except FormcheckError as exc:
            await self.fail(p.ProtocolError("model_unavailable", str(exc), close=p.WS_CLOSE_INTERNAL))
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
            close = p.WS_CLOSE_TOO_BIG if err.code == "too_large" else p.WS_CLOSE_POLICY
            await self.fail(p.ProtocolError(err.code, err.message, seq=err.seq, close=close if err.close else None))
            return
        except FormcheckError as exc:
            await self.fail(p.ProtocolError("bad_landmarks", str(exc)))
            return
        await self._answer(reply, fb, p.POSE_BROWSER, t_arrived)

    def _coach(self, pf: PoseFrame) -> tuple[dict[str, Any], LiveFeedback | None]:
        """The coached set's reply part for one frame, and the feedback that counted (None before "Go")."""
        active = self.active
        cf: Frame | None = active.analysis.update(pf) if active is not None else None
        return coached_json(cf, active.req if active else None), (cf.counted if cf is not None else None)

    def _process_landmarks(self, text: str) -> tuple[dict[str, Any], LiveFeedback | None]:
        """Parse → PoseFrame → analysis → reply fields (event loop, or the pose thread; see handle_landmarks)."""
        t0 = time.perf_counter()
        msg = self.lm_intake.accept(text)
        pf = lmsg.to_pose_frame(msg, self.clock(msg.t_ms))
        t1 = time.perf_counter()
        coached, counted = self._coach(pf)  # the same coached set as JPEGs
        t2 = time.perf_counter()
        timing = {"parse": round((t1 - t0) * 1000, 2), "pose": None, "client_pose": msg.pose_ms}
        timing["analysis"] = round((t2 - t1) * 1000, 2)
        return frame_fields(msg.seq, p.POSE_BROWSER, pf, None, coached, timing), counted

    def _process(self, jpeg: bytes, t_s: float, seq: int) -> tuple[dict[str, Any], LiveFeedback | None]:
        """Decode → pose → analysis → reply fields (all in a worker thread: nothing here touches the loop)."""
        assert self.estimator is not None
        t0 = time.perf_counter()
        bgr = decode_jpeg(jpeg)
        t1 = time.perf_counter()
        pf = self.estimator.process(bgr, t_s)
        t2 = time.perf_counter()
        coached, counted = self._coach(pf)
        t3 = time.perf_counter()
        timing: dict[str, float | None] = {
            "decode": round((t1 - t0) * 1000, 1),
            "pose": round((t2 - t1) * 1000, 1),
            "analysis": round((t3 - t2) * 1000, 1),
        }
        return frame_fields(seq, p.POSE_SERVER, pf, landmarks_json(pf), coached, timing), counted

    async def _record_new_reps(self, fb: LiveFeedback | None, pose_source: str) -> list[dict[str, Any]]:
        out = []
        recorder = self.active.recorder if self.active is not None else None
        for rep in new_reps_of(fb):
            item = rep_json(rep)
            item["stored"] = False
            item["pose_source"] = pose_source
            if recorder is not None:
                try:
                    rep_id = await asyncio.to_thread(recorder.record, rep, pose_source)
                    item["stored"] = True
                    item["rep_id"] = rep_id
                    if self.store_clips and not item.get("valid", True):
                        self._schedule_clip(rep.start_s, rep.end_s, rep_id)
                except FormcheckError as exc:
                    log.error("could not store rep %s: %s", item.get("index"), exc)
                    await self._store_failed(f"rep {item.get('index')} could not be saved: {exc}")
            out.append(item)
        return out

    async def _store_failed(self, message: str) -> None:
        await self.send(p.ErrorMsg(code="store_failed", message=message))

    async def _record_completed_holds(self, fb: LiveFeedback | None) -> list[dict[str, Any]]:
        """Holds (wall sit, plank): each `hold_s` held in good form is stored as one valid rep the moment it
        completes, so the programme counts held sets toward the day's target like counted reps."""
        active = self.active
        if fb is None or active is None or active.recorder is None or fb.hold_good_s is None:
            return []
        req = active.req
        if not req.hold_s:
            return []
        out = []
        while active.holds_stored < holds_due(fb.hold_good_s, req.hold_s, req.target_reps):
            active.holds_stored += 1
            rep = hold_rep_in(active.holds_stored, fb.t_s, req.hold_s, req.side)
            item = hold_json(rep)
            try:
                item["rep_id"] = await asyncio.to_thread(active.recorder.record_in, rep)
                item["stored"] = True
            except FormcheckError as exc:
                log.error("could not store hold %s: %s", rep.idx, exc)
                await self._store_failed(f"hold {rep.idx} could not be saved: {exc}")
            out.append(item)
        return out

    def _schedule_clip(self, start_s: float, end_s: float, rep_id: int) -> None:
        if self.clips is None or self.active is None:
            return
        frames = self.clips.window(start_s - CLIP_PAD_S, end_s + CLIP_PAD_S)
        if not frames:
            return
        out = clip_path(self.settings.data_dir, self.user.id, self.active.req.session_id, rep_id)
        recorder = self.active.recorder
        attach = functools.partial(recorder.attach_clip, rep_id) if recorder is not None else None
        self.clip_jobs.schedule(frames, out, attach)
