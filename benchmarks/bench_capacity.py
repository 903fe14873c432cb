"""Live-coach capacity of one real `formcheck serve`: browser-pose (landmark) clients vs server-pose (JPEG) clients.

Simulated live clients each stream a real clip at 15 fps to /ws/live, paced by the clock (not waiting for
replies), the way a page sends one message per camera frame:
  * landmark clients send the clip's own MediaPipe landmarks (`formcheck pose` / the landmark cache) as the
    browser-pose page does (`landmark_msgs`), so the server only validates and judges;
  * JPEG clients send the same clip's frames as 640x480 q80 JPEGs, so the server runs MediaPipe per frame.
For N = 1, 2, ... clients of each kind (stepped up alternately in the same run, the VM's speed drift hits both
alike) it measures the server's own per-message time (arrival -> reply ready for landmarks, frame processing for
JPEGs; the `timing_ms.server` field), the clients' round trip, the share of messages answered, and the server
process's CPU. A step passes when the server's p95 <= 50 ms and there is no growing queue: >= 98% of messages
answered (the server keeps only the newest message per socket, so a backlog shows as dropped messages) and the
round trip's median does not grow from the first to the second half of the step. Capacity per core = the
largest passing N / server CPU cores used at that N. Goal (issue 12): >= 50 landmark clients per core.

    .venv/bin/python benchmarks/bench_capacity.py [--clips N] [--step-s 8] [--max-landmark 400] [--max-jpeg 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ws import FRAME_HEADER, free_port, load_frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "videos"
FIXTURES = REPO / "fixtures" / "videos"
FPS = 15.0  # the live rate per client
P95_LIMIT_MS = 50.0  # the processing bound
MIN_ANSWERED = 0.98  # below this, the server is dropping (latest wins): a queue it cannot drain
RTT_GROWTH_MS = 25.0  # second-half median RTT over first-half median: more than this is a growing queue
WARMUP_S = 2.0  # per step, excluded from the figures (connections settle, LiveSessions warm up)
LANDMARK_STEPS = (10, 20, 30, 40, 50, 60, 70, 80, 100, 120, 150, 200, 300)
JPEG_STEPS = (1, 2, 3, 4, 5, 6, 8)
EXERCISE = "squat"
JPEG_FRAMES = 150  # per clip: enough to loop without the client noticing
# Each client first holds the clip's first (standing) frame this long, as a person waits for the coach's
# countdown (formcheck.core.coach: READY_HOLD_S + COUNTDOWN_S = 4 s) before the first rep; then the clip loops.
LEAD_IN_S = 5.0


@dataclass
class Step:
    kind: str
    n: int
    sent: int = 0
    answered: int = 0
    errors: int = 0
    server_ms: list[float] = field(default_factory=list)
    rtt_first: list[float] = field(default_factory=list)
    rtt_second: list[float] = field(default_factory=list)
    server_cpu_cores: float = 0.0
    client_cpu_cores: float = 0.0
    wall_s: float = 0.0
    reps: int = 0

    @property
    def rtt(self) -> list[float]:
        return self.rtt_first + self.rtt_second

    def p(self, xs: list[float], q: float) -> float:
        return float(np.percentile(xs, q)) if xs else float("nan")

    @property
    def answered_ratio(self) -> float:
        return self.answered / self.sent if self.sent else 0.0

    @property
    def growth_ms(self) -> float:
        if not self.rtt_first or not self.rtt_second:
            return float("nan")
        return statistics.median(self.rtt_second) - statistics.median(self.rtt_first)

    @property
    def cpu_ms_per_msg(self) -> float:
        """Server CPU per answered message: what one client at FPS costs, whatever else the VM runs."""
        return 1000.0 * self.server_cpu_cores * self.wall_s / self.answered if self.answered else float("nan")

    @property
    def passed(self) -> bool:
        return (
            self.p(self.server_ms, 95) <= P95_LIMIT_MS
            and self.answered_ratio >= MIN_ANSWERED
            and self.growth_ms <= RTT_GROWTH_MS
            and self.errors == 0
        )

    def line(self) -> str:
        return (
            f"{self.kind:8s} N={self.n:4d}  server p50 {self.p(self.server_ms, 50):6.2f} p95 "
            f"{self.p(self.server_ms, 95):6.2f} ms | RTT p50 {self.p(self.rtt, 50):6.1f} p95 "
            f"{self.p(self.rtt, 95):6.1f} ms, growth {self.growth_ms:+6.1f} ms | answered "
            f"{self.answered}/{self.sent} ({100 * self.answered_ratio:5.1f}%) | errors {self.errors} | "
            f"server CPU {self.server_cpu_cores:4.2f} cores ({self.cpu_ms_per_msg:5.2f} ms/msg), clients "
            f"{self.client_cpu_cores:4.2f} | reps {self.reps}"
            f"  -> {'pass' if self.passed else 'FAIL'}"
        )


def start_server(data_dir: Path, n_people: int) -> tuple[subprocess.Popen, str, list[str]]:
    """`formcheck serve` with `n_people` people, each with a signed session cookie (one person per simulated
    client, as in a clinic: live-session caps are per person). Connection caps are raised so the benchmark
    measures where latency breaks, not where a cap refuses (the caps protect a real server)."""
    from starlette.responses import Response

    from formcheck.store import Store
    from formcheck.store.paths import DB_FILENAME
    from formcheck.webapp.auth import SESSION_COOKIE, SessionCodec, new_session
    from formcheck.webapp.repo import session_binding

    secret = secrets.token_urlsafe(48)
    codec = SessionCodec(secret, max_age_s=24 * 3600, secure=False)
    cookies = []
    with Store.open(f"sqlite:///{data_dir / DB_FILENAME}") as store:
        for i in range(n_people):
            person = store.add_person(f"bench{i}", role="person")
            resp = Response()
            codec.write(resp, new_session(person.id, session_binding(person)))
            raw = next(v for k, v in resp.raw_headers if k == b"set-cookie" and v.startswith(SESSION_COOKIE.encode()))
            cookies.append(raw.decode().split(";", 1)[0])
    port = free_port()
    env = dict(
        os.environ,
        FORMCHECK_DATA_DIR=str(data_dir),
        FORMCHECK_SECRET_KEY=secret,
        PYTHONUNBUFFERED="1",
        FORMCHECK_MAX_LIVE_CONNECTIONS="256",
        FORMCHECK_MAX_BROWSER_POSE_CONNECTIONS="2000",
    )
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "formcheck", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{(data_dir / 'server.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            return proc, url, cookies
        except urllib.error.HTTPError:
            return proc, url, cookies
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def clip_paths(n: int) -> list[Path]:
    """Real squat clips from ../shared/videos (else the fixture videos): their landmarks drive the clients."""
    if (SHARED / "manifest.json").is_file():
        doc = json.loads((SHARED / "manifest.json").read_text())
        vids = [
            SHARED / v["file"] for v in doc["videos"] if v.get("exercise") == EXERCISE and v.get("person_visible", True)
        ]
    else:
        vids = sorted(FIXTURES.glob("squat*.mp4"))
    vids = [v for v in vids if v.is_file()]
    if not vids:
        raise SystemExit("no clips found in ../shared/videos or fixtures/videos")
    return vids[:n]


def landmark_bodies(paths: list[Path]) -> list[list[str]]:
    """Per clip, each frame's landmark message without seq/t_ms (added per send): pre-serialised once."""
    from formcheck.pipeline import landmarks_for
    from formcheck.webapp.live.landmark_msgs import pose_frame_message

    out = []
    for p in paths:
        seq, _ = landmarks_for(p)
        bodies = []
        for pf in seq.frames():
            m = pose_frame_message(pf, 0, 0.0, decimals=4, pose_ms=30.0)
            del m["type"], m["seq"], m["t_ms"]
            bodies.append(json.dumps(m, separators=(",", ":"))[1:])
        out.append([bodies[0]] * round(LEAD_IN_S * FPS) + bodies)
        print(f"  {p.name}: {len(bodies)} frames of landmarks, message ~{len(bodies[0]) / 1024:.1f} kB")
    return out


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_step(
    ws_url: str, server_pid: int, kind: str, n: int, clips: list[list], step_s: float, cookies: list[str]
) -> Step:
    step = Step(kind, n)
    ready = asyncio.Barrier(n + 1)
    box: dict = {"go": asyncio.Event()}  # the measurement window, set once every client is connected
    tasks = [
        asyncio.create_task(_client_with_window(ws_url, kind, clips[k % len(clips)], step, box, ready, cookies[k]))
        for k in range(n)
    ]
    try:
        await ready.wait()  # every client connected and its set started
    except asyncio.BrokenBarrierError:
        failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
        raise SystemExit(f"{kind} clients could not start: {failed[:1]!r}") from None
    now = time.perf_counter()
    box["t_start"], box["t_end"] = now + WARMUP_S, now + WARMUP_S + step_s
    box["go"].set()
    await asyncio.sleep(WARMUP_S)
    cpu0, own0, w0 = proc_cpu_s(server_pid), own_cpu_s(), time.perf_counter()
    await asyncio.sleep(step_s)
    cpu1, own1, w1 = proc_cpu_s(server_pid), own_cpu_s(), time.perf_counter()
    await asyncio.gather(*tasks, return_exceptions=True)
    for t in tasks:
        if t.exception() is not None:
            print(f"    client failed: {t.exception()!r}", file=sys.stderr)
            step.errors += 1
    step.wall_s = w1 - w0
    step.server_cpu_cores = (cpu1 - cpu0) / step.wall_s
    step.client_cpu_cores = (own1 - own0) / step.wall_s
    return step


async def _client_with_window(ws_url, kind, frames, step, box, ready, cookie: str) -> None:
    """run_client, reading the measurement window from `box` once every client is connected."""
    from websockets.asyncio.client import connect

    query = f"?exercise={EXERCISE}" + ("&pose=browser" if kind == "landmark" else "")
    async with connect(
        ws_url + query, max_size=2**22, open_timeout=120, ping_interval=None, additional_headers={"Cookie": cookie}
    ) as ws:
        try:
            while (first := json.loads(await ws.recv()))["type"] != "set_started":
                if first["type"] == "error":
                    raise RuntimeError(f"server refused the client: {first}")
        except Exception:
            await ready.abort()  # the step cannot run: fail it instead of waiting forever
            raise
        await ready.wait()
        await box["go"].wait()
        t_start, t_end = box["t_start"], box["t_end"]
        t_mid = t_start + (t_end - t_start) / 2
        sent_at: dict[int, float] = {}

        async def reader() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                now = time.perf_counter()
                if msg["type"] == "error":
                    if now >= t_start:
                        step.errors += 1
                        print(f"    error: {str(msg)[:200]}", file=sys.stderr)
                    continue
                if msg["type"] != "frame":
                    continue
                step.reps += len(msg.get("new_reps") or [])
                t_sent = sent_at.pop(msg.get("seq"), None)
                if t_sent is None or t_sent < t_start or t_sent > t_end:
                    continue
                step.answered += 1
                step.server_ms.append(float(msg["timing_ms"]["server"]))
                (step.rtt_first if t_sent < t_mid else step.rtt_second).append((now - t_sent) * 1000.0)

        rtask = asyncio.create_task(reader())
        i = 0  # the lead-in first, as a person at the start of a set
        seq = 0
        t_next = time.perf_counter() + random.random() / FPS  # spread the clients over one frame interval
        while t_next < t_end:
            await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
            now = time.perf_counter()
            seq += 1
            if kind == "landmark":
                await ws.send(f'{{"type":"landmarks","seq":{seq},"t_ms":{now * 1000.0:.3f},' + frames[i % len(frames)])
            else:
                await ws.send(FRAME_HEADER.pack(b"FCF1", seq, now * 1000.0) + frames[i % len(frames)])
            sent_at[seq] = now
            if len(sent_at) > 64:
                sent_at.pop(next(iter(sent_at)))
            if t_start <= now <= t_end:
                step.sent += 1
            i += 1
            t_next = max(t_next + 1.0 / FPS, time.perf_counter() - 1.0 / FPS)  # a late client does not burst
        await asyncio.sleep(1.0)  # the last replies
        rtask.cancel()
        await asyncio.gather(rtask, return_exceptions=True)


def largest_pass(steps: list[Step]) -> Step | None:
    ok = [s for s in steps if s.passed]
    return max(ok, key=lambda s: s.n) if ok else None


async def sweep(
    ws_url: str,
    pid: int,
    lm_clips: list[list],
    jpeg_clips: list[list],
    step_s: float,
    max_lm: int,
    max_jpeg: int,
    cookies: list[str],
) -> tuple[list[Step], list[Step]]:
    lm_steps = [n for n in LANDMARK_STEPS if n <= max_lm]
    jp_steps = [n for n in JPEG_STEPS if n <= max_jpeg]
    lm_out: list[Step] = []
    jp_out: list[Step] = []
    lm_failed = jp_failed = 0
    while (lm_steps and lm_failed < 2) or (jp_steps and jp_failed < 2):
        # alternate: one landmark step, one JPEG step (same run, same drift)
        if lm_steps and lm_failed < 2:
            s = await run_step(ws_url, pid, "landmark", lm_steps.pop(0), lm_clips, step_s, cookies)
            print(s.line(), flush=True)
            lm_out.append(s)
            lm_failed += not s.passed
            await asyncio.sleep(1.0)
        if jp_steps and jp_failed < 2:
            s = await run_step(ws_url, pid, "jpeg", jp_steps.pop(0), jpeg_clips, step_s, cookies)
            print(s.line(), flush=True)
            jp_out.append(s)
            jp_failed += not s.passed
            await asyncio.sleep(1.0)
    return lm_out, jp_out


def per_core(s: Step | None) -> str:
    if s is None:
        return "no step passed"
    return (
        f"largest passing N = {s.n} (server CPU {s.server_cpu_cores:.2f} cores) -> "
        f"{s.n / max(s.server_cpu_cores, 1e-6):.1f} clients per core"
    )


def cost_per_core(steps: list[Step]) -> float:
    """Clients per core from the CPU cost per message (median over the steps that answered >= MIN_ANSWERED)."""
    costs = [s.cpu_ms_per_msg for s in steps if s.answered_ratio >= MIN_ANSWERED and s.answered]
    if not costs:  # nothing kept up (a very busy VM): the cost of what was answered is still a cost
        costs = [s.cpu_ms_per_msg for s in steps if s.answered]
    return 1000.0 / (statistics.median(costs) * FPS) if costs else float("nan")


def analysis_ms_per_frame(bodies: list[str]) -> float:
    """The same landmarks through LiveSession in this process, no socket: the floor of a landmark message."""
    from formcheck.core.live import LiveSession
    from formcheck.webapp.live.landmark_msgs import parse_landmarks, to_pose_frame

    frames = [
        to_pose_frame(parse_landmarks('{"type":"landmarks","seq":0,"t_ms":0,' + b), i / 30)
        for i, b in enumerate(bodies)
    ]
    sess = LiveSession(EXERCISE)
    t0 = time.process_time()  # CPU time, like the server's figure: time spent waiting for a busy VM's CPU is out
    for pf in frames:
        sess.update(pf)
    return (time.process_time() - t0) * 1000.0 / len(frames)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=3, help="how many real clips drive the clients")
    ap.add_argument("--step-s", type=float, default=8.0, help="measured seconds per step (after warm-up)")
    ap.add_argument("--max-landmark", type=int, default=max(LANDMARK_STEPS))
    ap.add_argument("--max-jpeg", type=int, default=max(JPEG_STEPS))
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    paths = clip_paths(args.clips)
    print(
        f"machine: {os.cpu_count()} cores; {FPS:g} fps per client; step {args.step_s:g} s after {WARMUP_S:g} s warm-up"
    )
    print("clips (landmarks from `formcheck pose` / the landmark cache):")
    lm_clips = landmark_bodies(paths)
    jpeg_clips = []
    for p in paths:
        jpegs = load_frames(p, JPEG_FRAMES)[0]
        jpeg_clips.append([jpegs[0]] * round(LEAD_IN_S * FPS) + jpegs)
    with tempfile.TemporaryDirectory(prefix="bench_capacity_") as tmp:
        n_people = max([n for n in LANDMARK_STEPS if n <= args.max_landmark] + [args.max_jpeg, 1])
        proc, url, cookies = start_server(Path(tmp), n_people)
        try:
            ws_url = url.replace("http", "ws", 1) + "/ws/live"
            lm, jp = asyncio.run(
                sweep(ws_url, proc.pid, lm_clips, jpeg_clips, args.step_s, args.max_landmark, args.max_jpeg, cookies)
            )
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    best_lm, best_jp = largest_pass(lm), largest_pass(jp)
    a_ms = analysis_ms_per_frame(lm_clips[0])
    print()
    print(
        f"LiveSession.update alone, in process, right after: {a_ms:.2f} ms CPU/frame "
        f"(ceiling {1000 / (a_ms * FPS):.0f} clients per core at {FPS:g} fps)"
    )
    lm_cost, jp_cost = cost_per_core(lm), cost_per_core(jp)
    print(
        f"from the server's CPU cost per answered message: landmark {lm_cost:.1f}, JPEG {jp_cost:.1f} clients per "
        f"core ({lm_cost / jp_cost:.0f}x)"
        if jp_cost == jp_cost
        else f"from the server's CPU cost per answered message: landmark {lm_cost:.1f} clients per core"
    )
    print(f"landmark clients (browser pose): {per_core(best_lm)}")
    print(f"JPEG clients (server pose):      {per_core(best_jp)}")
    if best_lm is not None:
        goal = best_lm.n / max(best_lm.server_cpu_cores, 1e-6)
        print(f"goal >= 50 landmark clients per core: {'MET' if goal >= 50 else 'NOT MET'} ({goal:.0f})")
    if best_lm is not None and best_jp is not None:
        ratio = (best_lm.n / max(best_lm.server_cpu_cores, 1e-6)) / (best_jp.n / max(best_jp.server_cpu_cores, 1e-6))
        print(f"landmark / JPEG clients per core: {ratio:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
