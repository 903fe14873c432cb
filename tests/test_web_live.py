"""The live coach's WebSocket protocol and day-flow API (TestClient; the pose model is replaced where noted)."""

from __future__ import annotations

import functools
import json
import math
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from formcheck.core.types import PoseFrame
from formcheck.webapp.auth import hash_password
from formcheck.webapp.live import clips, connection, protocol, recorder

REPO = Path(__file__).resolve().parents[1]
FIXTURE_VIDEOS = REPO / "fixtures" / "videos"
PASSWORD = "correct horse battery"


# ------------------------------------------------------------------------------------------------ helpers


def jpeg(w: int = 64, h: int = 48, value: int = 120) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.full((h, w, 3), value, np.uint8))
    assert ok
    return buf.tobytes()


def framed(seq: int, t_ms: float, payload: bytes) -> bytes:
    return protocol.FRAME_HEADER.pack(protocol.FRAME_MAGIC, seq, t_ms) + payload


class EmptyEstimator:
    """Stands in for PoseEstimator: no person in any frame (protocol tests need no model)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.t_seen: list[float] = []
        self.closed = False

    def process(self, bgr: np.ndarray, t_s: float) -> PoseFrame:
        if self.t_seen:
            assert t_s > self.t_seen[-1], "timestamps must strictly increase per estimator"
        self.t_seen.append(t_s)
        if self.delay_s:
            time.sleep(self.delay_s)
        return PoseFrame.empty(t_s, (bgr.shape[1], bgr.shape[0]))

    def close(self) -> None:
        self.closed = True


class ReplayEstimator:
    """Replays a mannequin fixture's ground-truth landmarks, one frame per call, whatever the image."""

    def __init__(self, frames: list[PoseFrame]) -> None:
        self.frames = frames
        self.i = 0

    def process(self, bgr: np.ndarray, t_s: float) -> PoseFrame:
        pf = self.frames[min(self.i, len(self.frames) - 1)]
        self.i += 1
        return pf.replace(t_s=t_s)

    def close(self) -> None:
        pass


def mediapipe_world(synth_m: np.ndarray) -> np.ndarray:
    """The mannequin's world points (y up, +z towards the camera, metres) in MediaPipe's world-landmark convention
    (origin between the hips, y down, z smaller towards the camera), as the analysis' viewpoint estimate expects."""
    hip = synth_m[[23, 24]].mean(axis=0)
    d = synth_m - hip
    return np.stack([d[:, 0], -d[:, 1], -d[:, 2]], axis=1)


def sidecar_frames(name: str) -> tuple[list[PoseFrame], dict]:
    from tools.synth.fixtures import load_sidecar

    path = FIXTURE_VIDEOS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"mannequin fixture {path} not generated yet (python -m tools.synth)")
    doc = load_sidecar(path)
    wh = tuple(doc["frame_wh"])
    frames = []
    for f in doc["frames"]:
        xyz = np.concatenate([np.array(f["landmarks_px"]), np.full((33, 1), np.nan)], axis=1)  # no depth known
        frames.append(
            PoseFrame(
                t_s=f["t_s"],
                frame_wh=wh,
                xyz_px=xyz,
                visibility=np.ones(33),
                presence=np.ones(33),
                world_m=mediapipe_world(np.array(f["landmarks_m"])),
            )
        )
    return frames, doc


LEAD_IN_S = 5.0  # standing still before the movement: 1 s in the start position + the 3-2-1 countdown + margin
FIXTURE_FPS = 30


def with_lead_in(frames: list[PoseFrame], lead_s: float = LEAD_IN_S) -> list[PoseFrame]:
    """The fixture's first (start-position) frame held for lead_s, then the fixture shifted by lead_s: what a
    person does who waits for the countdown before the first rep."""
    n = int(round(lead_s * FIXTURE_FPS))
    lead = [frames[0].replace(t_s=i / FIXTURE_FPS) for i in range(n)]
    return lead + [pf.replace(t_s=pf.t_s + lead_s) for pf in frames]


def server_saw_skbt(client, verdict: str = "valid", name: str = "ana") -> None:
    """What a Small Knee Bend Test judged on the person's live socket leaves behind: readiness uses only it."""
    from formcheck.webapp.live.runtime import record_skbt_verdict

    store = client.app.state.store
    record_skbt_verdict(store, store.get_person(name).id, verdict)


def make_app(tmp_path: Path, estimator_factory=EmptyEstimator):
    from formcheck.webapp.app import create_app
    from formcheck.webapp.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data", job_mode="thread", allowed_hosts=("testserver",)))
    app.state.pose_estimator_factory = estimator_factory
    app.state.client_clock_lead_s = math.inf  # these tests replay recorded clips faster than real time
    return app


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run


def add_person(app, name: str = "ana", **settings) -> int:
    store = app.state.store
    return store.add_person(name, role="person", password_hash=password_hash(), settings=settings).id


def sign_in(client: TestClient, name: str = "ana") -> str:
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    r = client.post("/api/auth/signin", json={"name": name, "password": PASSWORD}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def recv(ws) -> dict:
    return json.loads(ws.receive_text())


def recv_until(ws, kind: str, limit: int = 50) -> dict:
    for _ in range(limit):
        msg = recv(ws)
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} message in {limit} messages")


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture()
def client(app):
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        yield c


# ------------------------------------------------------------------------------------------------ pure parts


def test_split_frame_reads_header_and_bare_jpeg():
    j = jpeg()
    assert protocol.split_frame(framed(7, 1234.5, j), 99) == (7, 1234.5, j)
    assert protocol.split_frame(j, 99) == (99, None, j)
    with pytest.raises(protocol.ProtocolError) as e:
        protocol.split_frame(b"GIF89a....", 1)
    assert e.value.code == "bad_frame"
    with pytest.raises(protocol.ProtocolError):
        protocol.split_frame(framed(1, 0.0, b"not a jpeg"), 1)


def test_flood_guard_allows_burst_then_rate():
    now = [0.0]
    g = connection.FloodGuard(rate_per_s=10.0, burst=5, clock=lambda: now[0])
    assert [g.allow() for _ in range(6)] == [True] * 5 + [False]
    now[0] += 0.5  # refills 5 tokens
    assert sum(g.allow() for _ in range(10)) == 5


def test_clip_buffer_is_bounded_by_time_and_count():
    buf = clips.ClipBuffer(max_s=2.0, max_frames=30)
    for i in range(100):
        buf.add(i * 0.1, b"x")
    assert len(buf) == 21  # 2.0 s at 10 frames/s, inclusive
    assert [t for t, _ in buf.window(9.0, 9.25)] == pytest.approx([9.0, 9.1, 9.2])
    small = clips.ClipBuffer(max_s=100.0, max_frames=30)
    for i in range(100):
        small.add(i * 0.1, b"x")
    assert len(small) == 30


def test_write_clip_makes_h264_mp4(tmp_path):
    import av

    frames = [(i / 15, jpeg(641, 481, value=10 * i)) for i in range(15)]  # odd size: must be evened
    out = clips.write_clip(frames, tmp_path / "c" / "rep.mp4")
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert (s.width, s.height) == (640, 480)
        assert sum(1 for _ in c.decode(s)) == 15


# ------------------------------------------------------------------------------------------------ page + auth


def test_live_page_needs_sign_in_then_serves_html(app):
    add_person(app)
    with TestClient(app) as c:
        r = c.get("/live", follow_redirects=False, headers={"Accept": "text/html"})
        assert r.status_code == 401  # the app's 401 page for browsers forwards to sign-in
        assert "/signin" in r.text
        sign_in(c)
        r = c.get("/live")
        assert r.status_code == 200
        assert 'id="rep-count"' in r.text and "/static/live.js" in r.text


def test_anonymous_socket_gets_error_then_policy_close(app):
    with TestClient(app) as c, c.websocket_connect("/ws/live") as ws:
        msg = recv(ws)
        assert msg == {"type": "error", "code": "not_signed_in", "message": "Sign in first, then reload this page"}
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert e.value.code == protocol.WS_CLOSE_POLICY


def test_cross_origin_socket_is_refused(client):
    # refused at the handshake, before any route runs
    with (
        pytest.raises(WebSocketDisconnect) as e,
        client.websocket_connect("/ws/live", headers={"origin": "http://evil.example"}),
    ):
        pass
    assert e.value.code == protocol.WS_CLOSE_POLICY


# ------------------------------------------------------------------------------------------------ protocol


def test_hello_then_frame_reply_shape(client):
    with client.websocket_connect("/ws/live") as ws:
        hello = recv(ws)
        assert hello["type"] == "hello" and hello["protocol"] == 1
        assert hello["store_flagged_clips"] is False
        ws.send_bytes(framed(5, 1000.0, jpeg()))
        msg = recv(ws)
        assert msg["type"] == "frame" and msg["seq"] == 5
        assert msg["pose"] is False and msg["landmarks"] is None and msg["wh"] == [64, 48]
        assert msg["rep_count"] == 0 and msg["new_reps"] == []
        assert set(msg["timing_ms"]) == {"decode", "pose", "analysis", "server"}


def test_garbage_gets_error_and_socket_stays_usable(client):
    with client.websocket_connect("/ws/live") as ws:
        recv(ws)
        ws.send_bytes(b"\x00\x01garbage")
        err = recv(ws)
        assert err["type"] == "error" and err["code"] == "bad_frame" and err["message"] == "not a JPEG image"
        ws.send_bytes(framed(2, 10.0, b"\xff\xd8 corrupt jpeg body"))
        err = recv(ws)
        assert (err["code"], err["seq"]) == ("bad_frame", 2)
        ws.send_text("{not json")
        assert recv(ws)["code"] == "bad_message"
        ws.send_text(json.dumps({"type": "launch_rockets"}))
        assert recv(ws)["code"] == "bad_message"
        ws.send_text(json.dumps({"type": "start_set", "exercise": "no_such_exercise"}))
        assert recv(ws)["code"] == "bad_exercise"
        ws.send_text(json.dumps({"type": "ping"}))
        assert recv(ws)["type"] == "pong"
        ws.send_bytes(framed(3, 20.0, jpeg()))
        ok = recv(ws)
        assert (ok["type"], ok["seq"]) == ("frame", 3)


def test_too_many_bad_messages_in_a_row_close_the_socket(client):
    with client.websocket_connect("/ws/live") as ws:
        recv(ws)
        for _ in range(protocol.MAX_CONSECUTIVE_ERRORS):
            ws.send_text("garbage")
        codes = [recv(ws)["code"] for _ in range(protocol.MAX_CONSECUTIVE_ERRORS)]
        assert codes == ["bad_message"] * protocol.MAX_CONSECUTIVE_ERRORS
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert e.value.code == protocol.WS_CLOSE_UNSUPPORTED


def test_oversize_frame_is_rejected_and_closed_others_keep_working(client):
    with client.websocket_connect("/ws/live") as ws:
        recv(ws)
        ws.send_bytes(b"\xff\xd8" + b"\0" * protocol.MAX_FRAME_BYTES)
        err = recv(ws)
        assert err["code"] == "too_large" and str(protocol.MAX_FRAME_BYTES) in err["message"]
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert e.value.code == protocol.WS_CLOSE_TOO_BIG
    with client.websocket_connect("/ws/live") as ws2:  # the server keeps serving
        recv(ws2)
        ws2.send_bytes(jpeg())
        assert recv(ws2)["type"] == "frame"


def test_flood_gets_error_and_close(tmp_path):
    app = make_app(tmp_path, estimator_factory=lambda: EmptyEstimator(delay_s=0.05))
    add_person(app)
    frame = framed(1, 0.0, jpeg())
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            recv(ws)
            for _ in range(protocol.FLOOD_BURST * 3):  # no waiting for replies: most frames are dropped unprocessed
                ws.send_bytes(frame)
            kinds = []
            with pytest.raises(WebSocketDisconnect) as e:
                while True:
                    kinds.append(recv(ws))
            assert e.value.code == protocol.WS_CLOSE_POLICY
            assert kinds[-1]["type"] == "error" and kinds[-1]["code"] == "flood"
            assert sum(k["type"] == "frame" for k in kinds) < protocol.FLOOD_BURST / 4  # latest frame wins
        with c.websocket_connect("/ws/live") as ws2:  # the server keeps serving others
            recv(ws2)
            ws2.send_bytes(jpeg())
            assert recv(ws2)["type"] == "frame"


def test_stale_frames_are_dropped_not_queued(tmp_path):
    app = make_app(tmp_path, estimator_factory=lambda: EmptyEstimator(delay_s=0.05))
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            recv(ws)
            for i in range(1, 21):  # 20 frames at once, each takes 50 ms to process
                ws.send_bytes(framed(i, i * 10.0, jpeg()))
            seqs = []
            while not seqs or seqs[-1] != 20:
                msg = recv(ws)
                assert msg["type"] == "frame"
                seqs.append(msg["seq"])
            assert seqs == sorted(seqs)
            assert len(seqs) < 10, f"processed {len(seqs)} of 20 frames: stale frames were queued"


def test_pose_work_never_blocks_the_event_loop(tmp_path):
    app = make_app(tmp_path, estimator_factory=lambda: EmptyEstimator(delay_s=1.0))
    add_person(app)
    with TestClient(app) as c:  # one portal: HTTP and the socket share the server's event loop
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            recv(ws)
            ws.send_bytes(framed(1, 0.0, jpeg()))
            time.sleep(0.1)  # the frame is now inside the 1-s pose call
            t0 = time.perf_counter()
            assert c.get("/api/live/settings").status_code == 200
            http_s = time.perf_counter() - t0
            assert recv(ws)["seq"] == 1
    assert http_s < 0.5, f"an HTTP request waited {http_s:.2f} s behind a pose call"


def test_missing_pose_model_is_a_clear_error_not_a_crash(tmp_path):
    from formcheck.errors import PoseModelError

    def broken():
        raise PoseModelError("pose model models/pose_full.task could not be loaded (test)")

    app = make_app(tmp_path, estimator_factory=broken)
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            assert recv(ws)["type"] == "hello"
            err = recv(ws)
            assert err["code"] == "model_unavailable" and "could not be loaded" in err["message"]
            with pytest.raises(WebSocketDisconnect) as e:
                ws.receive_text()
            assert e.value.code == protocol.WS_CLOSE_INTERNAL


def test_client_timestamps_become_strictly_increasing_seconds(tmp_path):
    est = EmptyEstimator()
    app = make_app(tmp_path, estimator_factory=lambda: est)
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            recv(ws)
            for seq, t_ms in ((1, 5000.0), (2, 5033.0), (3, 5033.0), (4, 4000.0), (5, 5100.0)):
                ws.send_bytes(framed(seq, t_ms, jpeg()))
                recv(ws)
    assert est.t_seen[:2] == pytest.approx([0.0, 0.033])
    assert all(b > a for a, b in zip(est.t_seen, est.t_seen[1:], strict=False))
    deadline = time.monotonic() + 5.0
    while not est.closed and time.monotonic() < deadline:  # closed on the connection's worker thread
        time.sleep(0.01)
    assert est.closed  # the connection's estimator is closed when the socket ends


# ------------------------------------------------------------------------------------------------ reps + storage


def _run_fixture(ws, frames: list[PoseFrame]) -> list[dict]:
    replies = []
    for i, pf in enumerate(frames):
        ws.send_bytes(framed(i, pf.t_s * 1000.0, jpeg()))
        msg = recv_until(ws, "frame")
        replies.append(msg)
    return replies


def test_replayed_mannequin_counts_reps_over_the_socket(tmp_path):
    name = "small_knee_bend_front_valgus"
    if not (FIXTURE_VIDEOS / f"{name}.json").exists():
        name = "small_knee_bend_front_clean"
    frames, doc = sidecar_frames(name)
    frames = with_lead_in(frames)
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=small_knee_bend&target_reps=2") as ws:
            recv_until(ws, "set_started")
            replies = _run_fixture(ws, frames)
    counts = [m["rep_count"] for m in replies]
    assert counts == sorted(counts)
    n_reps = len(doc["reps"])
    assert counts[-1] == n_reps
    events = [r for m in replies for r in m["new_reps"]]
    assert [r["index"] for r in events] == list(range(1, n_reps + 1))
    faulty = {r["index"] for r in doc["reps"] if r["faults"]}
    assert [not r["valid"] for r in events] == [r["index"] in faulty for r in events]
    assert replies[-1]["valid_rep_count"] == n_reps - len(faulty)
    assert all(r["stored"] is False for r in events)  # a practice set (no session) is not stored
    assert replies[-1]["set_done"] is True  # target 2 valid reps reached
    if faulty:
        assert any(m["cue"] for m in replies)
        bad = [m for m in replies if m["overlay"] and m["overlay"]["fault_landmarks"]]
        assert bad, "the overlay never highlighted a joint at fault"
    lm = replies[-1]["landmarks"]
    assert len(lm) == 33 and all(0.0 <= p[0] <= 1.0 and 0.0 <= p[1] <= 1.0 for p in lm)


def _ready_session(app, person_id: int, exercise: str = "small_knee_bend") -> int:
    """A session with readiness passed, whose plan contains `exercise` (level 2 has small_knee_bend)."""
    from formcheck.store.programme_service import ProgrammeService

    store = app.state.store
    svc = ProgrammeService(store)
    person = store.get_person_by_id(person_id)
    clinician = store.add_person("dr_lee", role="clinician")
    store.assign_clinician(person_id, clinician.id)
    person = store.get_person_by_id(person_id)
    svc.set_level(person, clinician, 2)
    session = svc.start_session(person)
    status, _ = svc.record_readiness(session.id, massage_done=True, vmo_done=True, skbt_verdict="valid", skbt_pain=0)
    assert str(status) == "ready"
    assert exercise in [e.exercise_id for e in svc.plan(person).exercises]
    return session.id


@pytest.mark.parametrize("clips_on", [False, True])
def test_reps_are_stored_as_counted_and_clips_only_when_switched_on(tmp_path, clips_on):
    frames, doc = sidecar_frames("small_knee_bend_front_valgus")
    frames = with_lead_in(frames)
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    pid = add_person(app, store_flagged_clips=clips_on)
    sid = _ready_session(app, pid)
    store = app.state.store
    stored_after_event = []
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            assert recv(ws)["store_flagged_clips"] is clips_on
            ws.send_text(
                json.dumps({"type": "start_set", "exercise": "small_knee_bend", "session_id": sid, "set_no": 1})
            )
            started = recv_until(ws, "set_started")
            assert started["recording"] is True and started["target_reps"] == 10
            for i, pf in enumerate(frames):
                ws.send_bytes(framed(i, pf.t_s * 1000.0, jpeg(320, 240, value=i % 250)))
                msg = recv_until(ws, "frame")
                for rep in msg["new_reps"]:
                    assert rep["stored"] is True
                    # committed before the reply went out: a closed tab loses nothing already counted
                    stored_after_event.append(len(store.list_reps(session_id=sid)))
            ws.send_text(json.dumps({"type": "end_set"}))
            ended = recv_until(ws, "set_ended")
            assert len(ended["summary"]["reps"]) == len(doc["reps"])
    assert stored_after_event == list(range(1, len(doc["reps"]) + 1))
    rows = store.list_reps(session_id=sid)
    faulty = [r["index"] for r in doc["reps"] if r["faults"]]
    assert [r.idx for r in rows if not r.valid] == faulty
    assert all(r.reason and r.faults for r in rows if not r.valid)
    assert store.list_sets(sid)[0].ended_at is not None
    clip_rows = [c for r in rows for c in store.list_rep_clips(r.id)]
    clip_files = sorted((tmp_path / "data" / "clips").rglob("*.mp4")) if (tmp_path / "data" / "clips").exists() else []
    if clips_on:
        assert len(clip_rows) == len(faulty) and len(clip_files) == len(faulty)
        assert all(Path(c.path).stat().st_size > 1000 for c in clip_rows)
    else:
        assert clip_rows == [] and clip_files == []


def test_someone_elses_session_cannot_be_recorded_into(tmp_path):
    frames, _ = sidecar_frames("small_knee_bend_front_clean")
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    owner = add_person(app, "ana")
    sid = _ready_session(app, owner)
    add_person(app, "bob")
    with TestClient(app) as c:
        sign_in(c, "bob")
        with c.websocket_connect("/ws/live") as ws:
            recv(ws)
            ws.send_text(json.dumps({"type": "start_set", "exercise": "small_knee_bend", "session_id": sid}))
            err = recv(ws)
            assert err["code"] == "store_failed"
        assert (
            c.post(
                f"/api/live/sessions/{sid}/pain",
                json={"pain_during": 0, "pain_after": 0},
                headers={"X-CSRF-Token": c.cookies.get("fc_csrf")},
            ).status_code
            == 404
        )
    assert app.state.store.list_sets(sid) == []


# ------------------------------------------------------------------------------------------------ day-flow API


def test_day_flow_api_today_session_readiness_pain(client, app):
    today = client.get("/api/live/today").json()
    assert today["rest_day"] is False and today["level"] == 1
    assert [r["id"] for r in today["readiness"]] == ["massage", "vmo", "small_knee_bend"]
    assert today["exercises"] and all(e["name"] and e["instructions"] and e["sets"] >= 1 for e in today["exercises"])
    csrf = {"X-CSRF-Token": client.cookies.get("fc_csrf")}
    assert client.post("/api/live/sessions", json={}).status_code == 403  # CSRF-checked
    sid = client.post("/api/live/sessions", json={}, headers=csrf).json()["session_id"]
    r = client.post(
        f"/api/live/sessions/{sid}/readiness",
        headers=csrf,
        json={"massage_done": True, "vmo_done": True, "skbt_verdict": "valid", "skbt_pain": 11},
    )
    assert r.status_code == 422
    server_saw_skbt(client)
    r = client.post(
        f"/api/live/sessions/{sid}/readiness",
        headers=csrf,
        json={"massage_done": True, "vmo_done": True, "skbt_verdict": "valid", "skbt_pain": 1},
    )
    assert r.json()["ready"] is True
    r = client.post(f"/api/live/sessions/{sid}/pain", headers=csrf, json={"pain_during": 1, "pain_after": 0})
    assert r.status_code == 200 and r.json()["action"] in ("hold", "advance")
    pains = {p.kind: p.pain for p in app.state.store.list_pain(app.state.store.get_person("ana").id)}
    assert pains == {"during": 1, "after": 0}


def test_painful_knee_bend_test_means_not_today(client):
    csrf = {"X-CSRF-Token": client.cookies.get("fc_csrf")}
    sid = client.post("/api/live/sessions", json={}, headers=csrf).json()["session_id"]
    server_saw_skbt(client)
    r = client.post(
        f"/api/live/sessions/{sid}/readiness",
        headers=csrf,
        json={"massage_done": True, "vmo_done": True, "skbt_verdict": "valid", "skbt_pain": 6},
    ).json()
    assert r["ready"] is False and r["status"] == "not_ready" and "6/10" in r["message"]
    assert client.get("/api/live/today").json()["rest_day"] is True


def test_clip_setting_defaults_off_and_can_be_switched(client):
    assert client.get("/api/live/settings").json() == {"store_flagged_clips": False}
    csrf = {"X-CSRF-Token": client.cookies.get("fc_csrf")}
    assert client.put("/api/live/settings", json={"store_flagged_clips": True}, headers=csrf).json() == {
        "store_flagged_clips": True
    }
    with client.websocket_connect("/ws/live") as ws:
        assert recv(ws)["store_flagged_clips"] is True


def test_clip_setting_change_reaches_an_open_socket(client):
    with client.websocket_connect("/ws/live") as ws:
        assert recv(ws)["store_flagged_clips"] is False
        csrf = {"X-CSRF-Token": client.cookies.get("fc_csrf")}
        client.put("/api/live/settings", json={"store_flagged_clips": True}, headers=csrf)
        ws.send_text(json.dumps({"type": "reload_settings"}))
        assert recv(ws) == {"type": "settings", "store_flagged_clips": True}


def test_hold_exercise_reports_seconds_in_good_form(client):
    with client.websocket_connect("/ws/live?exercise=plank&target_reps=2&hold_s=20") as ws:
        recv_until(ws, "set_started")
        for i in range(5):
            ws.send_bytes(framed(i, i * 100.0, jpeg()))
            msg = recv_until(ws, "frame")
        assert msg["hold_good_s"] == 0.0 and msg["hold_target_s"] == 40.0 and msg["set_done"] is False
        assert msg["placement"] == [] or all(p["code"] for p in msg["placement"])


def test_day_flow_api_needs_sign_in(app):
    with TestClient(app) as c:
        assert c.get("/api/live/today").status_code == 401
        assert c.post("/api/live/sessions", json={}).status_code == 401
        assert c.get("/api/live/settings").status_code == 401


# ------------------------------------------------------------------------------------------------ real model


@pytest.mark.video
def test_mannequin_video_through_real_pose_model_counts_reps(tmp_path):
    """Encoded fixture frames → real MediaPipe per connection → the fixture's rep count."""
    import av
    import cv2

    name = "small_knee_bend_front_valgus"
    if not (FIXTURE_VIDEOS / f"{name}.mp4").exists():
        name = "small_knee_bend_front_clean"
    video = FIXTURE_VIDEOS / f"{name}.mp4"
    if not video.exists():
        pytest.skip(f"{video} not generated yet (python -m tools.synth)")
    doc = json.loads((FIXTURE_VIDEOS / f"{name}.json").read_text())
    app = make_app(tmp_path, estimator_factory=None)
    add_person(app)
    with TestClient(app) as c, av.open(str(video)) as container:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=small_knee_bend") as ws:
            recv_until(ws, "set_started")
            last = None
            for i, frame in enumerate(container.decode(container.streams.video[0])):
                ok, buf = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, 80])
                if i == 0:  # stand still in the start position through the countdown first
                    for k in range(int(LEAD_IN_S * FIXTURE_FPS)):
                        ws.send_bytes(framed(100000 + k, k * 1000.0 / FIXTURE_FPS, buf.tobytes()))
                        assert recv_until(ws, "frame")["rep_count"] == 0
                ws.send_bytes(framed(i, (LEAD_IN_S + float(frame.time)) * 1000.0, buf.tobytes()))
                last = recv_until(ws, "frame")
    assert last["pose"] is True
    assert last["rep_count"] == len(doc["reps"])
    assert last["valid_rep_count"] == sum(1 for r in doc["reps"] if not r["faults"])


def test_frame_header_is_16_bytes_little_endian():
    assert protocol.FRAME_HEADER.size == 16
    assert struct.unpack("<4sId", framed(1, 2.0, b""))[0] == b"FCF1"


@pytest.mark.parametrize(
    "held_s, hold_s, target, due",
    [
        (0.0, 10.0, 4, 0),
        (9.99, 10.0, 4, 0),
        (10.0, 10.0, 4, 1),
        (35.0, 10.0, 4, 3),
        (95.0, 10.0, 4, 4),
        (95.0, 10.0, None, 9),
    ],
)
def test_holds_due_counts_whole_holds_up_to_the_target(held_s, hold_s, target, due):
    assert recorder.holds_due(held_s, hold_s, target) == due


def test_a_completed_hold_is_stored_as_one_valid_rep():
    rep = recorder.hold_rep_in(2, 31.5, 10.0, "auto")
    assert (rep.idx, rep.start_s, rep.end_s, rep.valid, rep.verdict) == (2, 21.5, 31.5, True, "valid")
    assert rep.side is None and rep.metrics == {"hold_s": 10.0} and "10 s in good form" in rep.reason


# ------------------------------------------------------------------------------------------------ coach + countdown


def test_no_rep_is_counted_before_the_countdown_ends(tmp_path):
    """The person bends through the whole fixture before standing still (the gate waits: no rep counts), then
    stands still through 3-2-1-Go (each word spoken once) and does the fixture again: only those reps count."""
    once, doc = sidecar_frames("small_knee_bend_front_clean")
    end_s = once[-1].t_s + 1 / FIXTURE_FPS
    frames = once + [pf.replace(t_s=pf.t_s + end_s) for pf in with_lead_in(once)]
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=small_knee_bend&target_reps=10") as ws:
            recv_until(ws, "set_started")
            replies = _run_fixture(ws, frames)
    states = [m["gate"]["state"] for m in replies]
    assert states[0] == "positioning" and "countdown" in states
    go_i = states.index("counting")
    cd_i = max(i for i in range(go_i) if states[i] == "positioning") + 1
    assert replies[go_i]["t_s"] - replies[cd_i]["t_s"] == pytest.approx(3.0, abs=0.1)  # 3-2-1 takes 3 s
    assert replies[go_i]["t_s"] > end_s  # not during the first pass: it never stood still long enough
    assert all(m["rep_count"] == 0 and not m["new_reps"] for m in replies[: go_i + 1])
    spoken = [s for m in replies for s in m["speak"]]
    assert [s for s in spoken if s in ("3", "2", "1", "Go")] == ["3", "2", "1", "Go"]
    assert replies[-1]["rep_count"] == len(doc["reps"])  # the second pass only
    assert all(m["coach"] is not None for m in replies)  # always exactly one message


def test_one_message_per_frame_and_no_good_without_a_person(client):
    with client.websocket_connect("/ws/live?exercise=squat&target_reps=5") as ws:
        recv_until(ws, "set_started")
        msgs = []
        for i in range(60):
            ws.send_bytes(framed(i, i * 33.0, jpeg()))
            msgs.append(recv_until(ws, "frame"))
    assert all(m["coach"]["kind"] == "placement" for m in msgs)
    assert all("good" not in m["coach"]["text"].lower() for m in msgs)
    assert sum(len(m["speak"]) for m in msgs) == 1  # "Step into view" once, not every frame
    assert all(m["gate"]["state"] == "positioning" for m in msgs)


def test_pain_report_stops_counting_and_the_coach_says_stop(tmp_path):
    frames, doc = sidecar_frames("small_knee_bend_front_clean")
    frames = with_lead_in(frames)
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    add_person(app)
    first_rep_end = doc["reps"][0]["end_s"] + LEAD_IN_S + 0.5
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=small_knee_bend&target_reps=10") as ws:
            recv_until(ws, "set_started")
            replies, after = [], []
            for i, pf in enumerate(frames):
                if pf.t_s >= first_rep_end and not after:
                    ws.send_text(json.dumps({"type": "pain"}))
                    assert recv_until(ws, "safety")["message"].startswith("Stop")
                ws.send_bytes(framed(i, pf.t_s * 1000.0, jpeg()))
                (after if pf.t_s >= first_rep_end else replies).append(recv_until(ws, "frame"))
    counted = replies[-1]["rep_count"]
    assert counted >= 1
    assert all(m["rep_count"] == counted and not m["new_reps"] for m in after)
    assert all(m["coach"]["kind"] == "safety" for m in after)
    assert len(doc["reps"]) > counted  # there were more reps it did not count


# ------------------------------------------------------------------------------------------------ the person's views


def test_settings_are_remembered_per_person_and_validated(client, app):
    csrf = client.cookies.get("fc_csrf")
    h = {"X-CSRF-Token": csrf}
    assert client.get("/api/me/settings").json() == {
        "voice_on": True,
        "speech_rate": 1.0,
        "store_flagged_clips": False,
        "onboarded": False,
    }
    r = client.put("/api/me/settings", json={"voice_on": False, "speech_rate": 1.2}, headers=h)
    assert r.json()["voice_on"] is False and r.json()["speech_rate"] == pytest.approx(1.2)
    bad = client.put("/api/me/settings", json={"speech_rate": 3}, headers=h)
    assert bad.status_code == 422 and "speech_rate" in bad.json()["detail"]
    assert client.put("/api/me/settings", json={"shout": True}, headers=h).status_code == 422
    bob = add_person(app, "bob")
    assert "voice_on" not in app.state.store.get_person_by_id(bob).settings  # ana's choice is ana's only
    again = client.get("/api/me/settings").json()
    assert again["voice_on"] is False and again["speech_rate"] == pytest.approx(1.2)


def test_today_summary_and_progress_after_a_painful_day(client):
    h = {"X-CSRF-Token": client.cookies.get("fc_csrf")}
    empty = client.get("/api/me/progress").json()
    assert empty == {
        "days": [],
        "days_done": 0,
        "valid_reps": 0,
        "total_reps": 0,
        "valid_share": None,
        "level_events": [],
        "streak_days": 0,
    }
    today = client.get("/api/today").json()
    assert today["level"]["number"] == 1 and today["level"]["name"] == "Wake up" and today["budget_min"] == 15.0
    assert 0 < today["estimated_min"] <= 15.0 and today["done_today"] == [] and not today["onboarded"]
    assert [m["title"] for m in today["method"]] == [
        "Readiness first",
        "Easy before hard",
        "At most 15 minutes a day",
        "Pain steers the programme",
        "Setbacks are expected",
    ]
    sid = client.post("/api/live/sessions", json={}, headers=h).json()["session_id"]
    before = client.get(f"/api/me/sessions/{sid}/summary").json()
    assert before["complete"] is False and before["decision"] is None  # not done until the pain answers are in
    server_saw_skbt(client)
    client.post(
        f"/api/live/sessions/{sid}/readiness",
        json={"massage_done": True, "vmo_done": True, "skbt_verdict": "valid", "skbt_pain": 1},
        headers=h,
    )
    client.post(f"/api/live/sessions/{sid}/pain", json={"pain_during": 5, "pain_after": 4}, headers=h)
    s = client.get(f"/api/me/sessions/{sid}/summary").json()
    assert s["complete"] is True and (s["pain_before"], s["pain_during"], s["pain_after"]) == (1, 5, 4)
    assert s["budget_min"] == 15.0 and s["minutes_used"] == 0.0
    assert s["decision"]["action"] == "rest" and s["decision"]["headline"] == "Rest your knee today"
    assert "well done" not in s["decision"]["headline"].lower()
    p = client.get("/api/me/progress").json()
    assert p["days_done"] == 0 and p["streak_days"] == 0  # no exercise done: not a day done (issue 19)
    assert p["days"][0]["done"] is False
    assert (p["days"][0]["pain_during"], p["days"][0]["pain_after"], p["days"][0]["level"]) == (5, 4, 1)
    assert client.post("/api/me/checkin", json={"pain": 11}, headers=h).status_code == 422
    assert client.post("/api/me/checkin", json={"pain": 3}, headers=h).json()["pain"] == 3
    assert client.get("/api/me/progress").json()["days"][0]["pain_next_day"] == 3
    today = client.get("/api/today").json()
    assert [(d["status"], d["valid_reps"], d["exercised"]) for d in today["done_today"]] == [("finished", 0, False)]


@pytest.mark.parametrize(
    "exercise",
    [
        "squat",
        "straight_leg_raise",
        "glute_bridge",
        "side_lying_leg_raise",
        "wall_sit",
        "standing_side_leg_raise",
        "lunge",
    ],
)
def test_exercise_demo_is_a_looping_skeleton_with_key_points(client, exercise):
    d = client.get(f"/api/exercise-demo?exercise={exercise}").json()
    assert d["fps"] == 15 and len(d["frames"]) == 57 and all(len(f) == 33 for f in d["frames"])

    def travel(i: int) -> float:
        xs, ys = [f[i][0] for f in d["frames"]], [f[i][1] for f in d["frames"]]
        return max(max(xs) - min(xs), max(ys) - min(ys))

    assert max(travel(i) for i in (23, 24, 25, 26, 27, 28)) > 0.03  # hips, knees or ankles really move
    first, last = d["frames"][0][27], d["frames"][-1][27]
    assert abs(first[0] - last[0]) < 0.02 and abs(first[1] - last[1]) < 0.02  # loops without a jump
    assert d["key_points"] and all(isinstance(k, str) and k for k in d["key_points"])
    assert client.get("/api/exercise-demo?exercise=moonwalk").status_code == 404


def test_every_exercise_has_a_demo(client):
    from formcheck.core.spec import exercise_ids

    for ex in exercise_ids():
        d = client.get(f"/api/exercise-demo?exercise={ex}").json()
        assert len(d["frames"]) == 57 and d["aspect"] in (0.75, 1.3333), ex


def test_today_shows_the_whole_days_target_not_the_sets_started(client, app):
    """Issue 19: one set of 10 started and the rest skipped said "0 of 10 good reps" on a day of many more."""
    h = {"X-CSRF-Token": client.cookies.get("fc_csrf")}
    plan = client.get("/api/live/today").json()
    whole = sum(e["sets"] * e["reps"] * (e.get("sides") or 1) for e in plan["exercises"])
    sid = client.post("/api/live/sessions", json={}, headers=h).json()["session_id"]
    first = plan["exercises"][0]
    app.state.store.start_set(sid, first["id"], side=None, set_index=1, target_reps=first["reps"])
    client.post(f"/api/live/sessions/{sid}/pain", json={"pain_during": 1, "pain_after": 1}, headers=h)
    today = client.get("/api/today").json()
    assert today["done_today"][0]["target_reps"] == first["reps"] < whole
    assert today["day_target_reps"] == whole
