"""Browser-pose landmark messages: validation as untrusted input, and the same LiveSession over the socket."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from formcheck.core.types import PoseFrame
from formcheck.webapp.live import landmark_msgs as lm
from formcheck.webapp.live import protocol
from tests.test_web_live import (
    FIXTURE_VIDEOS,
    ReplayEstimator,
    _ready_session,
    add_person,
    framed,
    jpeg,
    make_app,
    password_hash,
    recv,
    recv_until,
    sidecar_frames,
    sign_in,
    with_lead_in,
)


def good_msg(seq: int = 1, t_ms: float = 1000.0, **changes) -> dict:
    rng = np.random.default_rng(seq)
    img = np.concatenate(
        [rng.uniform(0.2, 0.8, (33, 2)), rng.uniform(-0.3, 0.3, (33, 1)), rng.uniform(0.6, 1.0, (33, 2))], axis=1
    )
    msg = {
        "type": "landmarks",
        "seq": seq,
        "t_ms": t_ms,
        "wh": [640, 480],
        "pose": True,
        "image": img.round(5).tolist(),
        "world": rng.uniform(-0.8, 0.8, (33, 3)).round(5).tolist(),
        "pose_ms": 31.5,
    }
    msg.update(changes)
    return msg


def with_depth(frames: list[PoseFrame]) -> list[PoseFrame]:
    """Mannequin sidecars have no depth (z NaN); MediaPipe always gives one: use 0 so both paths see the same."""
    out = []
    for pf in frames:
        xyz = np.array(pf.xyz_px)
        xyz[:, 2] = 0.0
        out.append(pf.replace(xyz_px=xyz))
    return out


class NoModel:
    """Fails the test if the server tries to load its pose model for a browser-pose socket."""

    def __init__(self) -> None:
        raise AssertionError("the server loaded a pose model for a browser-pose client")


# ------------------------------------------------------------------------------------------------ pure parts


def test_good_message_becomes_the_servers_pose_frame():
    m = good_msg()
    msg = lm.parse_landmarks(json.dumps(m))
    pf = lm.to_pose_frame(msg, 2.5)
    img = np.array(m["image"])
    assert pf.t_s == 2.5 and pf.frame_wh == (640, 480) and pf.detected
    np.testing.assert_allclose(pf.xyz_px[:, 0], img[:, 0] * 640)
    np.testing.assert_allclose(pf.xyz_px[:, 1], img[:, 1] * 480)
    np.testing.assert_allclose(pf.xyz_px[:, 2], img[:, 2] * 640)  # z on the x scale, as formcheck.media.pose
    np.testing.assert_allclose(pf.visibility, img[:, 3])
    np.testing.assert_allclose(pf.presence, img[:, 4])
    np.testing.assert_allclose(pf.world_m, np.array(m["world"]))


def test_round_trip_of_a_pose_frame_through_a_message():
    rng = np.random.default_rng(3)
    pf = PoseFrame(
        t_s=1.0,
        frame_wh=(640, 480),
        xyz_px=rng.uniform(50, 400, (33, 3)),
        visibility=rng.uniform(0, 1, 33),
        presence=rng.uniform(0, 1, 33),
        world_m=rng.uniform(-1, 1, (33, 3)),
        luma=117.3,
    )
    msg = lm.parse_landmarks(json.dumps(lm.pose_frame_message(pf, 4, 1000.0)))
    back = lm.to_pose_frame(msg, 1.0)
    np.testing.assert_allclose(back.xyz_px, pf.xyz_px, atol=640 * 1e-5)
    np.testing.assert_allclose(back.visibility, pf.visibility, atol=1e-5)
    assert back.luma == pytest.approx(117.3)


def test_no_person_is_an_empty_frame():
    msg = lm.parse_landmarks(json.dumps({"type": "landmarks", "seq": 1, "t_ms": 5.0, "wh": [640, 480], "pose": False}))
    assert not lm.to_pose_frame(msg, 0.0).detected


def _bad_cases() -> dict[str, str]:
    g = good_msg()
    short = dict(g, image=g["image"][:32])
    four = dict(g, image=[p[:4] for p in g["image"]])
    text = json.dumps(g)
    nan = text.replace(str(g["image"][5][0]), "NaN", 1)
    inf = text.replace(str(g["image"][5][0]), "Infinity", 1)
    huge = text.replace(str(g["image"][5][0]), "1e400", 1)
    far = json.loads(text)
    far["image"][0][0] = 50.0
    deep = json.loads(text)
    deep["image"][0][2] = -99.0
    vis = json.loads(text)
    vis["image"][3][3] = 1.5
    world = json.loads(text)
    world["world"][2][1] = 12.0
    return {
        "short": json.dumps(short),
        "four_values": json.dumps(four),
        "nan": nan,
        "inf": inf,
        "overflow": huge,
        "far_outside_frame": json.dumps(far),
        "absurd_depth": json.dumps(deep),
        "visibility": json.dumps(vis),
        "world_far": json.dumps(world),
        "pose_without_image": json.dumps(dict(g, image=None, world=None)),
        "image_without_pose": json.dumps(dict(g, pose=False)),
        "extra_field": json.dumps(dict(g, cmd="rm")),
        "string_coords": json.dumps(dict(g, image=[["a"] * 5] * 33)),
        "negative_t": json.dumps(dict(g, t_ms=-1)),
        "zero_width": json.dumps(dict(g, wh=[0, 480])),
        "huge_frame": json.dumps(dict(g, wh=[100000, 480])),
        "not_json": '{"type":"landmarks", nope',
        "wrong_type": json.dumps(dict(g, type="landmark")),
    }


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_bad_messages_are_refused_with_a_reason(case):
    with pytest.raises(lm.LandmarkError) as e:
        lm.parse_landmarks(_bad_cases()[case])
    assert e.value.code == "bad_landmarks" and not e.value.close
    assert 0 < len(e.value.message) <= 200 and "\n" not in e.value.message


def test_an_oversized_message_closes():
    with pytest.raises(lm.LandmarkError) as e:
        lm.parse_landmarks('{"type":"landmarks","pad":"' + "x" * lm.MAX_LANDMARK_MSG_BYTES + '"}')
    assert e.value.code == "too_large" and e.value.close


def test_timestamps_must_increase():
    intake = lm.LandmarkIntake()
    intake.accept(json.dumps(good_msg(1, 100.0)))
    for t in (100.0, 99.0):
        with pytest.raises(lm.LandmarkError) as e:
            intake.accept(json.dumps(good_msg(2, t)))
        assert "increase" in e.value.message
    assert intake.accept(json.dumps(good_msg(3, 100.5))).seq == 3


def test_rate_guard_allows_a_camera_not_a_flood():
    now = [0.0]
    g = lm.RateGuard(rate_per_s=60.0, burst=60, clock=lambda: now[0])  # explicit figures for the test
    sent = 0
    for _ in range(300):  # 10 s at 30 fps: always allowed
        now[0] += 1 / 30
        sent += g.allow()
    assert sent == 300
    assert 59 <= sum(g.allow() for _ in range(200)) <= 60  # no time passing: only the bucket (float refill)


# ------------------------------------------------------------------------------------------------ over the socket

REPLAY_RATE_PER_S = 100.0  # under the landmark rate limit (a real page sends <= 60/s)


def _replay_landmarks(ws, frames: list[PoseFrame]) -> list[dict]:
    replies = []
    t0 = time.monotonic()
    for i, pf in enumerate(frames):
        time.sleep(max(0.0, t0 + i / REPLAY_RATE_PER_S - time.monotonic()))
        ws.send_text(json.dumps(lm.pose_frame_message(pf, i, 1000.0 + pf.t_s * 1000.0, pose_ms=12.0)))
        replies.append(recv_until(ws, "frame"))
    return replies


def test_browser_landmarks_count_the_same_reps_as_server_pose(tmp_path):
    name = "small_knee_bend_front_valgus"
    if not (FIXTURE_VIDEOS / f"{name}.json").exists():
        pytest.skip("mannequin fixture missing")
    frames, doc = sidecar_frames(name)
    frames = with_depth(with_lead_in(frames))  # the person waits for the coach's countdown first
    # server pose (JPEG + replayed landmarks in the estimator) ...
    app = make_app(tmp_path / "a", estimator_factory=lambda: ReplayEstimator(frames))
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=small_knee_bend&target_reps=2") as ws:
            recv_until(ws, "set_started")
            server = []
            for i, pf in enumerate(frames):
                ws.send_bytes(framed(i, 1000.0 + pf.t_s * 1000.0, jpeg(64, 48)))
                server.append(recv_until(ws, "frame"))
    # ... and browser pose (the same landmarks as messages; the server never loads a model)
    app = make_app(tmp_path / "b", estimator_factory=NoModel)
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=small_knee_bend&target_reps=2&pose=browser") as ws:
            recv_until(ws, "set_started")
            browser = _replay_landmarks(ws, frames)
    assert all(m["pose_source"] == "browser" for m in browser) and all(m["pose_source"] == "server" for m in server)
    assert browser[-1]["rep_count"] == server[-1]["rep_count"] == len(doc["reps"])
    assert browser[-1]["valid_rep_count"] == server[-1]["valid_rep_count"]
    b_reps = [r for m in browser for r in m["new_reps"]]
    s_reps = [r for m in server for r in m["new_reps"]]
    assert [(r["index"], r["valid"], sorted(f["rule"] for f in r["faults"])) for r in b_reps] == [
        (r["index"], r["valid"], sorted(f["rule"] for f in r["faults"])) for r in s_reps
    ]
    assert all(r["pose_source"] == "browser" for r in b_reps)
    assert browser[-1]["timing_ms"]["client_pose"] == 12.0 and browser[-1]["timing_ms"]["pose"] is None


def test_stored_reps_record_the_pose_path_for_the_clinician(tmp_path):
    frames, doc = sidecar_frames("small_knee_bend_front_valgus")
    frames = with_lead_in(frames)
    app = make_app(tmp_path, estimator_factory=NoModel)
    pid = add_person(app)
    sid = _ready_session(app, pid)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?pose=browser") as ws:
            recv(ws)
            ws.send_text(
                json.dumps({"type": "start_set", "exercise": "small_knee_bend", "session_id": sid, "set_no": 1})
            )
            recv_until(ws, "set_started")
            replies = _replay_landmarks(ws, frames)
            assert all(r["stored"] for m in replies for r in m["new_reps"])
    rows = app.state.store.list_reps(session_id=sid)
    assert len(rows) == len(doc["reps"])
    assert {r.metrics.get("pose_source") for r in rows} == {"browser"}
    # ... and the clinician's view of the rep shows it
    from formcheck.webapp import repo

    store = app.state.store
    dr = store.get_person("dr_lee")
    store.set_password_hash(dr.id, password_hash())
    flagged = [r for r in rows if not r.valid]
    assert flagged, "the valgus fixture has flagged reps"
    with TestClient(app) as c:
        sign_in(c, "dr_lee")
        item = c.get(f"/api/clinician/reps/{repo.live_rep_key(flagged[0].id)}")  # the clinician sees flagged reps
        assert item.status_code == 200, item.text
        assert item.json()["metrics"]["pose_source"] == "browser"


def test_each_bad_landmark_message_gets_an_error_and_no_made_up_rep(tmp_path):
    app = make_app(tmp_path, estimator_factory=NoModel)
    add_person(app)
    cases = _bad_cases()
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?exercise=squat&pose=browser") as ws:
            recv_until(ws, "set_started")
            good = recv_after(ws, json.dumps(good_msg(1, 1000.0)))
            assert good["type"] == "frame" and good["rep_count"] == 0
            for i, (name, text) in enumerate(sorted(cases.items())):
                if i % 5 == 4:  # stay under MAX_CONSECUTIVE_ERRORS: a good frame in between resets it
                    assert recv_after(ws, json.dumps(good_msg(100 + i, 2000.0 + i)))["type"] == "frame"
                err = recv_after(ws, text)
                assert err["type"] == "error", name
                assert err["code"] in ("bad_landmarks", "bad_message"), (name, err)
            backwards = recv_after(ws, json.dumps(good_msg(7, 10.0)))
            assert backwards["code"] == "bad_landmarks" and "increase" in backwards["message"]
            last = recv_after(ws, json.dumps(good_msg(8, 9000.0)))
            assert last["type"] == "frame" and last["rep_count"] == 0 and last["new_reps"] == []


def recv_after(ws, text: str) -> dict:
    ws.send_text(text)
    while True:
        msg = recv(ws)
        if msg["type"] in ("frame", "error"):
            return msg


def test_a_landmark_flood_closes_only_that_socket(tmp_path):
    app = make_app(tmp_path, estimator_factory=NoModel)
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?pose=browser") as other:
            recv(other)
            with c.websocket_connect("/ws/live?pose=browser") as ws:
                recv(ws)
                text = json.dumps(good_msg(1, 1.0))
                codes = []
                with pytest.raises(WebSocketDisconnect) as closed:
                    for i in range(600):
                        ws.send_text(text.replace('"t_ms": 1.0', f'"t_ms": {1.0 + i}'))
                    for _ in range(500):
                        m = recv(ws)
                        if m["type"] == "error":
                            codes.append(m["code"])
                assert closed.value.code == protocol.WS_CLOSE_POLICY
                assert "flood" in codes
            assert recv_after(other, json.dumps(good_msg(2, 50.0)))["type"] == "frame"
