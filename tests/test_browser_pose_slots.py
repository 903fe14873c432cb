"""Live caps with browser pose: a browser-pose socket holds no pose model, so it has its own larger cap; when it
switches to JPEGs (server pose) it must win a server-pose slot like any other socket."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from formcheck.webapp.app import create_app
from formcheck.webapp.live import protocol
from formcheck.webapp.settings import Settings
from tests.test_landmark_msgs import good_msg, recv_after
from tests.test_web_live import EmptyEstimator, add_person, framed, jpeg, recv, sign_in


def _app(tmp_path, **kw):
    app = create_app(Settings(data_dir=tmp_path / "data", job_mode="thread", allowed_hosts=("testserver",), **kw))
    app.state.pose_estimator_factory = EmptyEstimator
    return app


def test_browser_pose_sockets_are_not_held_to_the_server_pose_cap(tmp_path):
    app = _app(tmp_path, max_live_connections=1, max_live_per_person=1, max_browser_pose_connections=4)
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as server_ws:  # the one server-pose slot
            assert recv(server_ws)["type"] == "hello"
            with c.websocket_connect("/ws/live?pose=browser") as a, c.websocket_connect("/ws/live?pose=browser") as b:
                for i, ws in enumerate((a, b)):
                    assert recv(ws)["type"] == "hello"
                    assert recv_after(ws, json.dumps(good_msg(1, 100.0 + i)))["type"] == "frame"
                # a browser-pose page that falls back to JPEGs needs a server-pose slot: none is free
                a.send_bytes(framed(2, 200.0, jpeg()))
                while True:
                    m = recv(a)
                    if m["type"] == "error":
                        break
                assert m["code"] == "busy"
    assert app.state.live_slots.in_use() == 0 and app.state.browser_pose_slots.in_use() == 0


def test_a_browser_pose_socket_switching_to_jpegs_takes_and_releases_a_server_slot(tmp_path):
    app = _app(tmp_path, max_live_connections=1, max_live_per_person=1)
    add_person(app)
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live?pose=browser") as ws:
            assert recv(ws)["type"] == "hello"
            assert app.state.live_slots.in_use() == 0
            ws.send_bytes(framed(1, 100.0, jpeg()))
            while (m := recv(ws))["type"] != "frame":
                pass
            assert m["pose_source"] == "server" and app.state.live_slots.in_use() == 1
    assert app.state.live_slots.in_use() == 0
    assert protocol.WS_CLOSE_TRY_AGAIN == 1013
