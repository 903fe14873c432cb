"""`formcheck eval --live` replays clips through the live coach; this drives the same clip through a real server's
/ws/live as a browser-pose page sends it, so the replay cannot drift from the socket."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from formcheck.core.landmarks import Lm
from formcheck.webapp.live.replay import page_message, replay_live, schedule
from tests.conftest import SHARED_VIDEOS, shared_manifest
from tests.serverproc import Client, Server, seed
from tests.synthpose import Pose, rep_profile, to_seq

# A side-on squat with the far leg hidden behind the body: the view the live gate once never let count.
CLIP = "squat_side_good_formguard.mp4"
FPS = 15.0
WAIT_S = 20.0


def _frames_until(ws, kind: str) -> dict:
    while True:
        msg = json.loads(ws.recv(timeout=WAIT_S))
        if msg.get("type") == kind:
            return msg
        assert msg.get("type") != "error", msg


@pytest.mark.video
def test_replay_counts_what_the_real_socket_counts(tmp_path: Path) -> None:
    from formcheck.media.pose import estimate_video

    label = {v["file"]: v for v in shared_manifest()}[CLIP]
    seq = estimate_video(SHARED_VIDEOS / CLIP, use_cache=True)
    first = float(label["rep_times"][0][0])
    replayed = replay_live(seq, "squat", fps=FPS, first_rep_start_s=first).result
    assert replayed.rep_count == label["reps"] == 2

    data = tmp_path / "data"
    seed(data, ("alex",))
    srv = Server(data)
    try:
        c = Client(srv)
        assert c.sign_in("alex") == 200
        with c.ws("/ws/live?exercise=squat&pose=browser") as ws:
            _frames_until(ws, "set_started")
            reps, last = [], None
            t0 = time.monotonic()
            for n, (i, t) in enumerate(schedule(seq, FPS, first)):
                time.sleep(max(0.0, t0 + t - time.monotonic()))  # a page sends in real time
                ws.send(page_message(seq, i, n, t))
                last = _frames_until(ws, "frame")
                reps += last["new_reps"]
    finally:
        srv.stop()
    assert last is not None and last["rep_count"] == replayed.rep_count
    assert [r["valid"] for r in reps] == [r.valid for r in replayed.reps]
    assert [sorted(f["rule"] for f in r["faults"]) for r in reps] == [
        sorted(f.rule for f in r.faults) for r in replayed.reps
    ]


FAR_LEG = (Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE, Lm.LEFT_HEEL, Lm.LEFT_FOOT_INDEX)


@pytest.mark.parametrize(("view", "hidden"), [("side", FAR_LEG), ("side", ()), ("front", ())])
@pytest.mark.parametrize("fps", [10.0, 15.0, 30.0])
def test_the_live_coach_counts_side_on_with_the_far_leg_hidden(view: str, hidden: tuple, fps: float) -> None:
    """Issue 16: side-on, the far leg behind the body is unseen (visibility below 0.5), and the gate once waited
    for it for ever (0 reps in 62 s). Counting starts after the 3-2-1 whatever the view, at any page frame rate."""
    ph, _ = rep_profile(5, rep_s=2.5, rest_s=1.0)
    seq = to_seq([Pose(knee_flex=(90 * p, 90 * p)) for p in ph], view, noise_px=1.0, hidden=hidden)
    replay = replay_live(seq, "squat", fps=fps, first_rep_start_s=0.0)
    assert replay.counting_from_s is not None and replay.counting_from_s < 0.0  # "Go" during the still lead-in
    assert replay.result.rep_count == 5
