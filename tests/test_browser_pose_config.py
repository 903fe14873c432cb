"""Which pose path the live page is told to use, and the files browser pose needs, served by the app itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from formcheck.webapp.app import create_app
from formcheck.webapp.live import browser_pose
from formcheck.webapp.settings import Settings
from tests.test_web_live import add_person, sign_in

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "node_modules" / browser_pose.TASKS_VISION_PACKAGE


def _client(tmp_path: Path, **kw) -> TestClient:
    if "allowed_hosts" in Settings.model_fields:  # the Host guard: TestClient's host name
        kw.setdefault("allowed_hosts", ("testserver",))
    app = create_app(Settings(data_dir=tmp_path / "data", job_mode="thread", **kw))
    add_person(app)
    return TestClient(app)


def test_config_needs_sign_in(tmp_path):
    with _client(tmp_path) as c:
        assert c.get("/api/live/pose-config").status_code == 401
        assert c.get(browser_pose.MODEL_URL).status_code == 401


def test_without_the_npm_package_the_page_is_told_server_pose_and_why(tmp_path, monkeypatch):
    (tmp_path / "no_npm").mkdir()  # an installation without node_modules/
    monkeypatch.setenv("FORMCHECK_NODE_MODULES", str(tmp_path / "no_npm"))
    with _client(tmp_path) as c:
        sign_in(c)
        cfg = c.get("/api/live/pose-config").json()
        assert cfg["browser"] is False and "npm" in cfg["reason"]
        assert c.get("/vendor/tasks-vision/vision_bundle.mjs").status_code == 404


def test_the_server_setting_turns_browser_pose_off(tmp_path):
    with _client(tmp_path, live_pose="server") as c:
        sign_in(c)
        cfg = c.get("/api/live/pose-config").json()
        assert cfg["browser"] is False and "FORMCHECK_LIVE_POSE=server" in cfg["reason"]


def test_vendor_files_and_the_servers_own_model_are_served_locally(tmp_path):
    if not (VENDOR / "vision_bundle.mjs").is_file():
        pytest.skip("@mediapipe/tasks-vision not installed (make setup runs npm install where npm exists)")
    from formcheck.media.models import ensure_model

    try:
        model = ensure_model(build=False)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"pose model not built: {exc}")
    with _client(tmp_path) as c:
        sign_in(c)
        cfg = c.get("/api/live/pose-config").json()
        assert cfg["browser"] is True and cfg["reason"] is None and cfg["model_sha256"] == model.sha256
        js = c.get(cfg["bundle_url"])
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        wasm = c.get(cfg["wasm_url"] + "/vision_wasm_module_internal.wasm")
        assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
        assert wasm.content[:4] == b"\0asm"
        task = c.get(cfg["model_url"])
        assert task.status_code == 200 and hashlib.sha256(task.content).hexdigest() == model.sha256
        for path in ("/static/pose-worker.js", "/static/browser-pose.js"):
            assert c.get(path).status_code == 200
