"""Decisions the live page used to make itself, now made on the server (issue 10): the Small Knee Bend Test's
verdict, the camera view, the pain zones and the landmark table. Unit tests, then through HTTP and the WebSocket."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from formcheck.core.feedback import PAGE_TEXTS, SAFETY_TEXT
from formcheck.core.landmarks import CONNECTIONS, LR_PAIRS, N_LANDMARKS, Lm
from formcheck.core.live import LiveSession
from formcheck.core.pain import PAIN_MAX, PAIN_MIN, PAIN_ZONES, PainZone, pain_zone
from formcheck.core.types import VISIBILITY_MIN
from formcheck.programme.readiness import small_knee_bend_verdict
from tests.test_web_live import (
    ReplayEstimator,
    add_person,
    framed,
    jpeg,
    make_app,
    recv,
    recv_until,
    sidecar_frames,
    sign_in,
    with_lead_in,
)

# ------------------------------------------------------------------------------------------------ unit


@pytest.mark.parametrize(
    ("score", "zone"),
    [(0, "green"), (2, "green"), (3, "amber"), (4, "amber"), (5, "red"), (10, "red")],
)
def test_pain_zones_are_the_live_pages_traffic_light(score, zone):
    assert pain_zone(score) is PainZone(zone)


def test_pain_zones_cover_the_scale_once():
    covered = [s for band in PAIN_ZONES for s in range(band.min, band.max + 1)]
    assert covered == list(range(PAIN_MIN, PAIN_MAX + 1))
    for bad in (-1, 11):
        with pytest.raises(ValueError):
            pain_zone(bad)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([], "unknown"),
        (["unknown", "unknown"], "unknown"),
        (["valid"] * 5, "valid"),
        (["valid", "invalid", "valid"], "invalid"),
        (["valid", "unknown", "valid"], "invalid"),  # an unjudged bend among judged ones never passes
    ],
)
def test_small_knee_bend_verdict(verdicts, expected):
    assert small_knee_bend_verdict(verdicts) == expected


# ------------------------------------------------------------------------------------------------ over HTTP


def test_page_config_sends_the_servers_landmark_table_pain_zones_and_texts(tmp_path):
    app = make_app(tmp_path)
    add_person(app)
    with TestClient(app) as c:
        assert c.get("/api/live/page-config").status_code == 401
        sign_in(c)
        cfg = c.get("/api/live/page-config").json()
    table = cfg["landmarks"]
    assert table["names"] == [lm.name for lm in Lm] and len(table["names"]) == N_LANDMARKS
    assert table["edges"] == [[int(a), int(b)] for a, b in CONNECTIONS]
    assert [table["sides"][int(a)] for a, _ in LR_PAIRS] == ["left"] * len(LR_PAIRS)
    assert [table["sides"][int(b)] for _, b in LR_PAIRS] == ["right"] * len(LR_PAIRS)
    assert table["sides"][Lm.NOSE] is None
    assert set(table["joints"]) <= {i for e in table["edges"] for i in e} and Lm.LEFT_KNEE in table["joints"]
    assert table["visibility_min"] == pytest.approx(VISIBILITY_MIN)
    assert cfg["pain_zones"] == [{"zone": str(b.zone), "min": b.min, "max": b.max} for b in PAIN_ZONES]
    assert cfg["texts"] == PAGE_TEXTS and cfg["texts"]["safety"] == SAFETY_TEXT
    assert {f"skbt_{v}" for v in ("valid", "invalid", "unknown")} <= set(cfg["texts"])


# ------------------------------------------------------------------------------------------------ WebSocket


def _run_set(app, frames, exercise: str, **start) -> tuple[list[dict], dict]:
    """Every frame of one set through /ws/live (JPEG path, replayed landmarks); (frame replies, set_ended)."""
    replies = []
    with TestClient(app) as c:
        sign_in(c)
        with c.websocket_connect("/ws/live") as ws:
            recv(ws)
            ws.send_text(json.dumps({"type": "start_set", "exercise": exercise, **start}))
            recv_until(ws, "set_started")
            for i, pf in enumerate(frames):
                ws.send_bytes(framed(i, pf.t_s * 1000.0, jpeg(320, 240)))
                replies.append(recv_until(ws, "frame"))
            ws.send_text(json.dumps({"type": "end_set"}))
            return replies, recv_until(ws, "set_ended")


@pytest.mark.parametrize(("fixture", "verdict"), [("clean", "valid"), ("valgus", "invalid")])
def test_the_knee_bend_test_verdict_comes_from_the_server(tmp_path, fixture, verdict):
    frames, doc = sidecar_frames(f"small_knee_bend_front_{fixture}")
    frames = with_lead_in(frames)
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    add_person(app)
    replies, ended = _run_set(app, frames, "small_knee_bend", target_reps=len(doc["reps"]) + 1)
    reps = [r for m in replies for r in m["new_reps"]]
    assert len(reps) == len(doc["reps"]) and ended["summary"]["reps"]
    assert ended["skbt_verdict"] == verdict
    assert verdict == "valid" or any(not r["valid"] for r in reps)


def test_a_knee_bend_test_without_a_bend_is_unknown_and_other_sets_carry_no_verdict(tmp_path):
    frames, _ = sidecar_frames("small_knee_bend_front_clean")
    still = [frames[0].replace(t_s=i / 30) for i in range(30)]  # standing still: no bend counted
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(still))
    add_person(app)
    _, ended = _run_set(app, still, "small_knee_bend")
    assert ended["skbt_verdict"] == "unknown"
    app2 = make_app(tmp_path / "b", estimator_factory=lambda: ReplayEstimator(still))
    add_person(app2)
    _, ended = _run_set(app2, still, "squat")
    assert "skbt_verdict" not in ended and ended["exercise"] == "squat"


@pytest.mark.parametrize(
    ("fixture", "exercise", "view"),
    [
        ("lunge_front_clean", "lunge", "front"),
        ("side_lying_leg_raise_front_clean", "side_lying_leg_raise", "front"),
        ("lunge_side_clean", "lunge", None),
    ],  # replayed without visibility cues the analysis cannot tell a side view
)
def test_the_view_the_page_draws_by_is_the_analysis_view(tmp_path, fixture, exercise, view):
    frames, _ = sidecar_frames(fixture)
    app = make_app(tmp_path, estimator_factory=lambda: ReplayEstimator(frames))
    add_person(app)
    replies, _ = _run_set(app, frames, exercise, preview=True)
    local = LiveSession(exercise)  # a preview shows the watch session: the same analysis, fed the same frames
    expected = [local.update(pf.replace(t_s=m["t_s"])).view for pf, m in zip(frames, replies, strict=True)]
    assert [m["view"] for m in replies] == expected
    if view is not None:
        assert sum(v == view for v in expected) > 0.8 * len(expected)
    else:
        assert "front" not in expected  # what the analysis says, not a guess from 2D shoulder width
