"""WebSocket latency of the live coach against a real `formcheck serve`, beside bare MediaPipe inference.

Streams a real video's frames through /ws/live the way the browser does (640×480 JPEG q80, one frame in flight:
the next frame goes when the reply to the previous one arrives) and reports median / p95 round-trip latency and
frames/s. In the same run it times bare `detect_for_video` on the same decoded frames. The two are measured in
alternating blocks so the VM's speed drift (docs/platform.md §7) hits both alike. Goal (issue 5): p95 RTT <= bare
inference + 25 ms.

    .venv/bin/python benchmarks/bench_ws.py [--video PATH] [--frames 300] [--exercise squat] [--url http://...]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = REPO.parent / "shared" / "videos" / "squat_side_white_wahoo.mp4"
FRAME_WH = (640, 480)
JPEG_QUALITY = 80
WARMUP_FRAMES = 10
BLOCK = 30  # frames per alternating block
GOAL_MARGIN_MS = 25.0
FRAME_HEADER = struct.Struct("<4sId")


def letterbox(bgr: np.ndarray) -> np.ndarray:
    import cv2

    w, h = FRAME_WH
    sh, sw = bgr.shape[:2]
    s = min(w / sw, h / sh)
    nw, nh = round(sw * s), round(sh * s)
    out = np.full((h, w, 3), 128, np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def load_frames(path: Path, n: int) -> tuple[list[bytes], list[np.ndarray], list[float]]:
    """JPEGs as the browser would send them, the same frames decoded back (RGB) and their times."""
    import av
    import cv2

    jpegs, rgbs, times = [], [], []
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            ok, jpg = cv2.imencode(
                ".jpg", letterbox(frame.to_ndarray(format="bgr24")), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            assert ok
            jpegs.append(jpg.tobytes())
            rgbs.append(cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
            times.append(float(frame.time or 0.0))
            if len(jpegs) >= n:
                break
    return jpegs, rgbs, times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str, Path]:
    """`formcheck serve` in single-user mode with one person, so the socket needs no sign-in."""
    from formcheck.store import Store
    from formcheck.store.paths import DB_FILENAME

    with Store.open(f"sqlite:///{data_dir / DB_FILENAME}") as store:
        store.add_person("bench", role="person")
    port = free_port()
    env = dict(os.environ, FORMCHECK_DATA_DIR=str(data_dir), FORMCHECK_SINGLE_USER="1", PYTHONUNBUFFERED="1")
    log_path = data_dir / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "formcheck", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            return proc, url, log_path
        except urllib.error.HTTPError:
            return proc, url, log_path
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--exercise", default="squat")
    ap.add_argument("--url", help="an already running server (single-user mode); default: start one")
    args = ap.parse_args()
    if not args.video.exists():
        print(f"video not found: {args.video}", file=sys.stderr)
        return 2

    from websockets.sync.client import connect

    from formcheck.media.pose import bare_inference_ms

    jpegs, rgbs, times_s = load_frames(args.video, args.frames)
    print(
        f"video: {args.video.name}, {len(jpegs)} frames at {FRAME_WH[0]}x{FRAME_WH[1]}, JPEG q{JPEG_QUALITY}: "
        f"median {statistics.median(len(j) for j in jpegs) / 1024:.1f} kB"
    )

    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="bench_ws_")
    if args.url:
        url = args.url.rstrip("/")
    else:
        proc, url, _ = start_server(Path(tmp.name))
    ws_url = url.replace("http", "ws", 1) + f"/ws/live?exercise={args.exercise}"
    rtts: list[float] = []
    server_pose: list[float] = []
    server_total: list[float] = []
    bare: list[float] = []
    reps = 0
    ws_wall = 0.0
    ws_frames = 0
    try:
        with connect(ws_url, max_size=2**22, open_timeout=30) as ws:
            started = False
            while not started:
                msg = json.loads(ws.recv(timeout=30))
                if msg["type"] == "error":
                    raise SystemExit(f"server refused: {msg}")
                started = msg["type"] == "set_started"
            for b0 in range(0, len(jpegs), BLOCK):
                block = range(b0, min(b0 + BLOCK, len(jpegs)))
                tb = time.perf_counter()
                for i in block:
                    t = time.perf_counter()
                    # the capture time is the video's own: the analysis sees the real movement speed even
                    # though the bare-inference blocks pause the stream now and then
                    ws.send(FRAME_HEADER.pack(b"FCF1", i, times_s[i] * 1000.0) + jpegs[i])
                    while True:
                        msg = json.loads(ws.recv(timeout=30))
                        if msg["type"] in ("frame", "error"):
                            break
                    dt = (time.perf_counter() - t) * 1000.0
                    if msg["type"] == "error":
                        raise SystemExit(f"frame {i}: {msg}")
                    if i >= WARMUP_FRAMES:
                        rtts.append(dt)
                        server_pose.append(msg["timing_ms"]["pose"])
                        server_total.append(msg["timing_ms"]["server"])
                    reps = msg["rep_count"]
                ws_wall += time.perf_counter() - tb
                ws_frames += len(block)
                # the same block through bare MediaPipe (fresh landmarker per block, as the server has one per
                # connection; its creation is excluded from the per-frame times)
                times = bare_inference_ms(rgbs[b0 : b0 + BLOCK])
                bare.extend(times[2:] if b0 == 0 else times[1:])
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        tmp.cleanup()

    fps = ws_frames / ws_wall
    print(
        f"WebSocket round trip ({len(rtts)} frames, one in flight): median {pct(rtts, 50):.1f} ms, "
        f"p95 {pct(rtts, 95):.1f} ms, {fps:.1f} frames/s"
    )
    print(
        f"  server side: pose median {pct(server_pose, 50):.1f} ms, whole frame median {pct(server_total, 50):.1f} ms"
        f" / p95 {pct(server_total, 95):.1f} ms"
    )
    print(
        f"bare MediaPipe detect_for_video ({len(bare)} frames): median {pct(bare, 50):.1f} ms, p95 {pct(bare, 95):.1f} ms"
    )
    over_med = pct(rtts, 95) - pct(bare, 50)
    over_p95 = pct(rtts, 95) - pct(bare, 95)
    print(
        f"p95 RTT - bare median = {over_med:+.1f} ms; p95 RTT - bare p95 = {over_p95:+.1f} ms "
        f"(goal: <= +{GOAL_MARGIN_MS:.0f} ms) -> {'MET' if over_p95 <= GOAL_MARGIN_MS else 'NOT MET'}"
    )
    print(f"reps counted by the server over {ws_frames} frames: {reps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
