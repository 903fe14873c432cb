"""Upload review, end to end through a real `formcheck serve`: each stage's time (probe, decode, pose, analysis,
render, store), the whole review against real time, and the ratio to bare MediaPipe inference over the same
frames in the same run (issue 20).

Two servers, interleaved clip by clip: `after` runs the product's pipeline (formcheck.webapp.jobs.analyse_upload's
stages: segmented pose on FORMCHECK_POSE_WORKERS threads, <= 30 poses a second, the review video on the posed
frames); `before` poses every frame on one landmarker (formcheck.media.pose.estimate_video) as the pipeline did
before issue 20. Both servers run this module's `timed_analyse` as their FORMCHECK_ANALYZER: the same stages
with a stopwatch, written beside the upload. "probe" is the upload request (the server's isolated probe runs in
it); "store" is from the analyzer's return to the job row saying done; "e2e" is upload to the annotated video
fetched. Decode and pose are summed over the segment threads (CPU seconds of each), pose wall is their wall time.

    python benchmarks/bench_upload.py [clip.mp4 ...]   (default: the 1080p side squat and a 60 fps clip)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
SHARED = REPO.parent / "shared" / "videos"
DEFAULT_CLIPS = (SHARED / "squat_side_white_wahoo.mp4", SHARED / "glute_bridge_side_gym_aminran.mp4")
MODE_VAR = "BENCH_UPLOAD_MODE"  # read by timed_analyse in the server's job process
JOB_TIMEOUT_S = 1800.0


def _stopwatch() -> tuple[dict[str, float], Any]:
    times: dict[str, float] = {}

    class Lap:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            self.t0 = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            times[self.name] = times.get(self.name, 0.0) + time.perf_counter() - self.t0

    return times, Lap


def timed_analyse(video: Path, exercise_id: str, side: str, *, overrides, annotate_path, landmarks_path, progress,
                  max_frames=None, max_s=None):  # fmt: skip
    """analyse_upload's stages with a stopwatch (in the server's job process); timings land beside the upload."""
    from formcheck.core.report import report_to_json
    from formcheck.media import pose, segments
    from formcheck.pipeline import analyse_landmarks
    from formcheck.webapp.jobs import angle_chart

    times, lap = _stopwatch()
    t_start = time.time()
    stats: dict[str, float] = {}
    model = pose.resolve_model()
    with lap("pose_wall"):
        if os.environ.get(MODE_VAR) == "before":
            seq = pose.estimate_video(video, model=model, max_frames=max_frames, max_s=max_s)
        else:
            frames = lambda n, total: progress(0.75 * n / max(total, 1), frames=(n, total))  # noqa: E731
            seq = segments.pose_video(video, model, progress=frames, stats=stats, max_frames=max_frames, max_s=max_s)
    with lap("save_landmarks"):
        seq.save_npz(landmarks_path, model_sha256=model.sha256)
    with lap("analysis"):
        done = analyse_landmarks(seq, exercise_id, side, overrides=overrides, video=video, model_sha256=model.sha256)
        chart = angle_chart(done.prepared.table, exercise_id, side)
    with lap("render"):
        from formcheck.media import render

        prep = done.prepared
        render.annotate_video(video, prep.smoothed, done.report.result, annotate_path, table=prep.table)
    out = {**times, **stats, "frames": len(seq), "job_start": t_start, "analyzer_end": time.time()}
    Path(str(landmarks_path) + ".timings.json").write_text(json.dumps(out))
    return report_to_json(done.report), chart


def review(server: Any, client: Any, clip: Path) -> dict[str, float]:
    """Upload `clip`, wait for its job, fetch the annotated video: the figures of one review."""
    body = clip.read_bytes()
    t0 = time.time()
    status, _, data = client.call(
        "POST", f"/api/uploads?exercise={exercise_of(clip)}&filename={clip.name}", body=body,
        headers={"Content-Type": "video/mp4"}, timeout_s=300,
    )  # fmt: skip
    assert status in (200, 201, 202), (status, data[:300])
    t_uploaded = time.time()
    up = json.loads(data)
    uid = up["id"]
    while True:
        _, _, d = client.call("GET", f"/api/uploads/{uid}")
        job = json.loads(d)["job"]
        if job["status"] in ("done", "failed"):
            break
        if time.time() - t0 > JOB_TIMEOUT_S:
            raise RuntimeError(f"{clip.name}: the review did not finish")
        time.sleep(0.1)
    t_done = time.time()
    assert job["status"] == "done", job
    status, _, video = client.call("GET", f"/api/uploads/{uid}/annotated", timeout_s=120)
    assert status == 200 and len(video) > 1000, status
    t_end = time.time()
    timings = json.loads(next(server.data_dir.rglob("*.landmarks.npz.timings.json")).read_text())
    for p in server.data_dir.rglob("*.timings.json"):
        p.unlink()
    return {**timings, "probe": t_uploaded - t0, "queue": timings["job_start"] - t_uploaded,
            "store": t_done - timings["analyzer_end"], "e2e": t_end - t0}  # fmt: skip


def exercise_of(clip: Path) -> str:
    manifest = clip.parent / "manifest.json"
    if manifest.is_file():
        for v in json.loads(manifest.read_text())["videos"]:
            if v["file"] == clip.name:
                return str(v["exercise"])
    return "squat"


def bare_seconds(clip: Path) -> tuple[float, int]:
    """Bare MediaPipe (one landmarker, frames already in memory) over the frames the pipeline poses."""
    import math
    import threading

    from formcheck.media import pose, segments

    stop = threading.Event()
    frames = [
        f.rgb for owned, f in segments.posed_frames(clip, (-math.inf, -math.inf, math.inf), segments.MAX_POSE_HZ, stop)
    ]
    ms = pose.bare_inference_ms(frames)
    return sum(ms) / 1000.0, len(frames)


def main(argv: list[str]) -> int:
    from serverproc import Client, Server, seed

    from formcheck.media.video import probe

    clips = [Path(a) for a in argv] or list(DEFAULT_CLIPS)
    tmp = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    servers = {}
    pythonpath = os.pathsep.join([str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", str(REPO))])
    for mode in ("before", "after"):
        data = tmp / mode / "data"
        seed(data, ("alex",))
        env = {"FORMCHECK_ANALYZER": "bench_upload:timed_analyse", MODE_VAR: mode, "PYTHONPATH": pythonpath}
        servers[mode] = Server(data, env=env)
    try:
        for clip in clips:
            info = probe(clip)
            dur = info.duration_s or 0.0
            bare_s, n_bare = bare_seconds(clip)
            print(f"\n{clip.name}: {dur:.1f} s at {info.fps:.2f} fps; bare MediaPipe over its {n_bare} posed frames "
                  f"(one landmarker): {bare_s:.1f} s")  # fmt: skip
            for mode, server in servers.items():
                client = Client(server)
                client.sign_in("alex")
                r = review(server, client, clip)
                stages = " ".join(f"{k} {r.get(k, 0.0):.2f}" for k in
                                  ("probe", "queue", "plan_s", "decode_s", "pose_s", "pose_wall", "analysis",
                                   "render", "save_landmarks", "store"))  # fmt: skip
                print(f"  {mode:6} e2e {r['e2e']:.1f} s = {dur / r['e2e']:.2f}x real time; {int(r['frames'])} poses; "
                      f"e2e / bare {r['e2e'] / bare_s:.2f}; stages (s): {stages}", flush=True)  # fmt: skip
    finally:
        for s in servers.values():
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
