"""Abuse figures of a real `formcheck serve` (issue 8): memory and another person's latency under attack.

Side by side in one run, against one server on 127.0.0.1 (then the upload cases of issue 17 on another):
  idle       the server after one live set (pose model loaded once), nobody else busy
  bombs      3 sockets sending 631-byte JPEGs that declare 16000 x 16000 px, continuously
  streaming  20 sockets of 20 people streaming 640x480 frames (one in flight each); past the cap they are refused
  flood      48 parallel anonymous sign-ins from 48 addresses with wrong passwords (argon2id, 64 MiB each)
For each: the server's peak RSS and the p50 / p95 latency of another signed-in person's GET /api/uploads,
with the ratio to idle (target: each within 2x). Prints the refusal the connection past the cap receives.

Upload cases: 6 uploads at once of a 1.5 MB MOV declaring 16000 x 16000 px (server peak RSS vs idle), 12
concurrent uploads of one person against a quota of 3 (how many accepted), a duration-less 60-minute Matroska file
(accepted? and run as a job: where decoding stops).

    .venv/bin/python benchmarks/bench_abuse.py [--seconds 12] [--uploads-only]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import struct
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from serverproc import Client, Server, seed  # noqa: E402

BOMB_SIDE_PX = 16000
N_BOMB_SOCKETS = 3
N_STREAM_SOCKETS = 20
N_FLOOD = 48
PROBE_EVERY_S = 0.05
TARGET_RATIO = 2.0
FRAME_HEADER = struct.Struct("<4sId")
FIXTURE = REPO / "fixtures" / "videos" / "small_knee_bend_front_clean.mp4"


def camera_frames(n: int = 60) -> list[bytes]:
    """640x480 q80 JPEGs of a person (the mannequin fixture), as the live page sends them."""
    import av
    import cv2

    out = []
    video = FIXTURE if FIXTURE.exists() else next((REPO / "fixtures" / "videos").glob("*.mp4"))
    with av.open(str(video)) as c:
        for frame in c.decode(c.streams.video[0]):
            bgr = cv2.resize(frame.to_ndarray(format="bgr24"), (640, 480))
            out.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
            if len(out) >= n:
                break
    return out


def bomb_jpeg() -> bytes:
    import cv2

    data = bytearray(cv2.imencode(".jpg", np.full((16, 16, 3), 120, np.uint8))[1].tobytes())
    i = 2
    while data[i + 1] not in (0xC0, 0xC2):
        i += 2 + struct.unpack_from(">H", data, i + 2)[0]
    struct.pack_into(">HH", data, i + 5, BOMB_SIDE_PX, BOMB_SIDE_PX)
    return bytes(data)


class Probe:
    """Another person's API calls and the server's RSS, sampled while a phase runs."""

    def __init__(self, server: Server, client: Client) -> None:
        self.server, self.client = server, client
        self.latencies_ms: list[float] = []
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.server.rss_mb())
            t0 = time.perf_counter()
            status = self.client.call("GET", "/api/uploads", timeout_s=60)[0]
            self.latencies_ms.append((time.perf_counter() - t0) * 1000 if status == 200 else float("inf"))
            self.peak_mb = max(self.peak_mb, self.server.rss_mb())
            time.sleep(PROBE_EVERY_S)

    def figures(self) -> tuple[float, float, float]:
        lat = sorted(self.latencies_ms)
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        return self.peak_mb, statistics.median(lat), p95


def phase(name: str, server: Server, probe_client: Client, seconds: float, attack: str, arg: dict) -> dict:
    """Run `attack` in its own process (the attackers must not share a GIL or a core budget with the probe more
    than an attacker on the same machine would), measure while it runs, collect what it counted."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=run_attack, args=(attack, server.port, arg, stop, results), daemon=True)
    proc.start()
    time.sleep(min(4.0, seconds / 3))  # let the attack ramp up before measuring
    probe = Probe(server, probe_client)
    probe.run(seconds)
    stop.set()
    info = results.get(timeout=120)
    proc.join(timeout=60)
    peak, p50, p95 = probe.figures()
    return {"phase": name, "rss_mb": peak, "p50_ms": p50, "p95_ms": p95, "n": len(probe.latencies_ms), **info}


class _Port:
    """Just enough of Server for Client (host, port, request) inside an attacker process."""

    def __init__(self, port: int) -> None:
        self.host, self.port, self.base = "127.0.0.1", port, f"http://127.0.0.1:{port}"

    request = Server.request


def sign_in_patiently(c: Client, name: str, timeout_s: float = 60.0) -> None:
    """Sign in, waiting out the sign-in rate limit (20 people sign in at once here)."""
    deadline = time.monotonic() + timeout_s
    while c.sign_in(name) != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} could not sign in")
        time.sleep(1.0)


def run_attack(kind: str, port: int, arg: dict, stop, results) -> None:
    """Attacker process: `kind` in idle | bombs | streaming | flood, until `stop` is set."""
    server = _Port(port)
    info: dict = {}
    if kind == "idle":
        stop.wait()
    elif kind in ("bombs", "streaming"):
        payloads = [bomb_jpeg()] if kind == "bombs" else camera_frames()
        counters: dict = {}
        threads = []
        for source, cookies in arg["sessions"]:
            c = Client(server, source=source)
            c.cookies = dict(cookies)
            threads.append(threading.Thread(target=ws_loop, args=(c, stop, payloads, counters, "replies")))
        for th in threads:
            th.start()
            time.sleep(0.05)
        stop.wait()
        for th in threads:
            th.join(60)
        refusals = counters.get("refusals", [])
        info = {
            "sockets": len(threads),
            "replies": counters.get("replies", 0),
            "refused_sockets": len(refusals),
            "refusal": refusals[-1] if refusals else None,
            "errors": sorted(counters.get("errors", ())),
        }
    elif kind == "flood":
        codes: dict[int, int] = {}
        lock = threading.Lock()

        def one(i: int) -> None:
            while not stop.is_set():
                c = Client(server, source=f"127.0.2.{i + 1}")  # 48 addresses: per-client limits alone
                try:  # would not stop them, the global limit and the verification bound must
                    c.start()
                    code = c.sign_in(arg["name"], f"wrong-{i}")
                except OSError:
                    code = -1
                with lock:
                    codes[code] = codes.get(code, 0) + 1

        with ThreadPoolExecutor(N_FLOOD) as pool:
            for i in range(N_FLOOD):
                pool.submit(one, i)
            stop.wait()
        info = {"signin_statuses": dict(sorted(codes.items()))}
    results.put(info)


def ws_loop(client: Client, stop: threading.Event, payloads: list[bytes], counters: dict, key: str) -> None:
    """One socket, one frame in flight; reconnects when the server closes it. Counts replies and refusals."""
    from websockets.exceptions import ConnectionClosed

    i = 0
    while not stop.is_set():
        try:
            with client.ws(timeout_s=30) as ws:
                first = json.loads(ws.recv(timeout=30))
                if first["type"] == "error":
                    counters.setdefault("refusals", []).append(first["message"])
                    return
                while not stop.is_set():
                    ws.send(FRAME_HEADER.pack(b"FCF1", i, i * 33.0) + payloads[i % len(payloads)])
                    i += 1
                    while True:
                        msg = json.loads(ws.recv(timeout=60))
                        if msg["type"] in ("frame", "error"):
                            break
                    counters[key] = counters.get(key, 0) + 1
        except (ConnectionClosed, TimeoutError, OSError) as exc:
            counters.setdefault("errors", set()).add(type(exc).__name__)
            time.sleep(0.2)


# ------------------------------------------------------------------------------------------------ uploads (issue 17)
N_UPLOAD_BOMBS = 6
N_QUOTA_UPLOADS = 12
UPLOAD_QUOTA = 3
ENDLESS_MIN = 60  # a duration-less Matroska file of this many minutes at 30 fps


def _upload(client: Client, body: bytes, name: str) -> tuple[int, str]:
    status, _, data = client.call(
        "POST",
        f"/api/uploads?exercise=small_knee_bend&filename={name}",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout_s=300,
    )
    try:
        return status, str(json.loads(data).get("detail", ""))
    except ValueError:
        return status, data.decode(errors="replace")[:120]


def _tree_rss_mb(pid: int) -> tuple[float, float]:
    """(RSS of `pid`, RSS of its whole process tree) in MB, from /proc."""

    def rss(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return 0.0

    def kids(p: int) -> list[int]:
        out = []  # children started by any of the process' threads (the probe is started from a worker thread)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return out

    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += rss(p)
        todo.extend(kids(p))
    return rss(pid), total


def upload_abuse(tmp: Path) -> None:
    """6 picture bombs at once, 12 concurrent uploads against a quota of 3, a duration-less 60-minute file."""
    from test_security_uploads import decoding_analyse, h264, png_mov

    from formcheck.webapp.jobs import run_job

    media = tmp / "media"
    media.mkdir()
    bomb = png_mov(media / "bomb.mov", BOMB_SIDE_PX, BOMB_SIDE_PX).read_bytes()
    small = h264(media / "small.mp4", 10).read_bytes()
    t0 = time.monotonic()
    endless_path = h264(media / "endless.mkv", ENDLESS_MIN * 60 * 30, side=32, container="matroska", live=True)
    made_s = time.monotonic() - t0
    endless = endless_path.read_bytes()
    data = tmp / "uploads-data"
    people = ("bomber", "hasty", "endless")
    seed(data, people)
    env = {
        "FORMCHECK_MAX_PENDING_JOBS": str(UPLOAD_QUOTA),
        "FORMCHECK_ANALYZER": "hardening_analyzer:forever_analyse",  # accepted jobs stay pending
    }
    server = Server(data, env=env)
    try:
        clients = {}
        for i, name in enumerate(people):
            clients[name] = Client(server, source=f"127.0.2.{i + 1}")
            sign_in_patiently(clients[name], name)
        time.sleep(1.0)
        idle_mb = server.rss_mb()
        peak = {"server": idle_mb, "tree": _tree_rss_mb(server.proc.pid)[1]}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                own, tree = _tree_rss_mb(server.proc.pid)
                peak["server"], peak["tree"] = max(peak["server"], own), max(peak["tree"], tree)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(N_UPLOAD_BOMBS) as pool:
            bombs = list(pool.map(lambda i: _upload(clients["bomber"], bomb, f"b{i}.mov"), range(N_UPLOAD_BOMBS)))
        bomb_s = time.monotonic() - t0
        stop.set()
        sampler.join()
        with ThreadPoolExecutor(N_QUOTA_UPLOADS) as pool:
            quota = list(pool.map(lambda i: _upload(clients["hasty"], small, f"s{i}.mp4"), range(N_QUOTA_UPLOADS)))
        t0 = time.monotonic()
        endless_result = _upload(clients["endless"], endless, "endless.mkv")
        endless_s = time.monotonic() - t0
    finally:
        server.stop()
    print(
        f"\nuploads (issue 17): {N_UPLOAD_BOMBS} bombs of {len(bomb) / 1e6:.1f} MB declaring {BOMB_SIDE_PX} px at once"
    )
    print(
        f"  server RSS idle {idle_mb:.0f} MB, peak {peak['server']:.0f} MB ({peak['server'] / idle_mb:.2f}x); "
        f"peak with probe children {peak['tree']:.0f} MB; {bomb_s:.1f} s for all"
    )
    print(f"  statuses {sorted(st for st, _ in bombs)}; reason: {bombs[0][1]!r}")
    accepted = sum(1 for st, _ in quota if st == 201)
    print(f"{N_QUOTA_UPLOADS} concurrent uploads against a quota of {UPLOAD_QUOTA}: {accepted} accepted")
    print(f"duration-less {ENDLESS_MIN}-min Matroska ({len(endless) / 1e6:.1f} MB, written in {made_s:.0f} s):")
    print(f"  upload: {endless_result[0]} in {endless_s:.1f} s: {endless_result[1]!r}")
    # The same file as a job (as if it had got past the upload): decoding stops at the caps.
    from formcheck.webapp import repo
    from formcheck.webapp.settings import Settings

    settings = Settings(
        data_dir=tmp / "job-data", secret_key="b" * 48, analyzer=f"{decoding_analyse.__module__}:decoding_analyse"
    )
    ids = seed(settings.data_dir, ("endless",), clinician=None)
    rel = Path("uploads") / str(ids["endless"]) / "endless.mkv"
    (settings.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / rel).write_bytes(endless)
    store = repo.open_store(settings)
    try:
        up = store.add_upload(
            ids["endless"],
            original_filename="endless.mkv",
            stored_path=rel.as_posix(),
            sha256="0" * 64,
            size_bytes=len(endless),
            exercise_id="small_knee_bend",
        )
        job_id = store.create_job(up.id).id
    finally:
        store.close()
    t0 = time.monotonic()
    status = run_job(job_id, settings.model_dump_json())
    store = repo.open_store(settings)
    try:
        job = repo.get_job(store, job_id)
    finally:
        store.close()
    print(f"  as a job (decoding analyzer): {status} after {time.monotonic() - t0:.1f} s: {job.error!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="measuring time per phase")
    ap.add_argument("--uploads-only", action="store_true", help="only the upload cases (issue 17)")
    ap.add_argument(
        "--combined-only", action="store_true", help="only the combined run: live sockets + sign-in flood + an upload"
    )
    args = ap.parse_args()
    if args.combined_only:
        combined_report(args.seconds)
        return 0
    if args.uploads_only:
        with tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp:
            upload_abuse(Path(tmp))
        return 0
    people = tuple(f"p{i:02d}" for i in range(N_STREAM_SOCKETS)) + ("other",)
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp:
        data = Path(tmp) / "data"
        seed(data, people)
        server = Server(data)
        try:
            other = Client(server, source="127.0.0.9")
            assert other.sign_in("other") == 200
            cold_mb = server.rss_mb()
            sessions = []  # everyone signs in first (the sign-in rate limit is not what is measured here)
            for i, name in enumerate(people[:-1]):
                c = Client(server, source=f"127.0.1.{i + 1}")
                sign_in_patiently(c, name)
                sessions.append((c.source, dict(c.cookies)))
            # one live set first, so the pose model has been loaded once (what "idle" means after first use)
            phase("warm-up", server, other, 4.0, "streaming", {"sessions": sessions[:1]})
            time.sleep(2)
            rows = [
                phase(n, server, other, args.seconds, kind, arg)
                for n, kind, arg in (
                    ("idle", "idle", {}),
                    ("bombs", "bombs", {"sessions": sessions[:N_BOMB_SOCKETS]}),
                    ("streaming", "streaming", {"sessions": sessions}),
                    ("flood", "flood", {"name": "p01"}),
                )
            ]
        finally:
            server.stop()
    base = rows[0]
    print(f"formcheck abuse figures ({args.seconds:g} s per phase; server RSS before any live set: {cold_mb:.0f} MB)")
    print(f"{'phase':<10} {'peak RSS MB':>11} {'x idle':>7} {'p50 ms':>7} {'p95 ms':>7} {'x idle':>7}  detail")
    ok = True
    for r in rows:
        rss_x, p95_x = r["rss_mb"] / base["rss_mb"], r["p95_ms"] / base["p95_ms"]
        ok &= rss_x <= TARGET_RATIO and p95_x <= TARGET_RATIO
        detail = {k: v for k, v in r.items() if k not in ("phase", "rss_mb", "p50_ms", "p95_ms", "refusal")}
        print(
            f"{r['phase']:<10} {r['rss_mb']:>11.0f} {rss_x:>7.2f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
            f"{p95_x:>7.2f}  {detail}"
        )
    refusal = rows[2].get("refusal")
    print(
        f"live cap: {rows[2]['sockets'] - rows[2]['refused_sockets']} of {rows[2]['sockets']} streaming sockets "
        "served, the rest refused"
    )
    print(f"refusal past the live cap: {refusal!r}")
    print(f"target: every phase within {TARGET_RATIO:g}x of idle in RSS and p95 -> {'met' if ok else 'NOT met'}")
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp:
        upload_abuse(Path(tmp))
    proxy_flood_report(args.seconds)  # issue 17 M3
    combined_report(args.seconds)  # issue 17: live sockets + sign-in flood + an upload at once
    return 0


# ------------------------------------------------------------------------------------- issue 17 (web side)
N_PROXY_FLOOD = 48
N_REAL_SIGNINS = 4
UPLOAD_FIXTURE = REPO / "fixtures" / "videos" / "squat_side_clean.mp4"
NGINX_CONF = """
daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log; {user}
events {{ worker_connections 1024; }}
http {{
  access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  client_max_body_size 300m;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


def start_nginx(upstream: int, tmp: Path):
    """nginx in front of the app as the README configures it, or None where nginx is not installed."""
    import os
    import shutil
    import subprocess

    from serverproc import free_port

    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        return None, None
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, upstream=upstream, user=user))
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None, None


def proxy_flood_report(seconds: float) -> None:
    """48 addresses send wrong passwords for one person's name through a local nginx (the README's config) to an
    app with FORMCHECK_TRUSTED_PROXIES=127.0.0.1; meanwhile that person signs in 4 times from her own address.
    Without nginx the flood sends X-Forwarded-For itself from the trusted address (the same keying)."""
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        data = Path(tmp) / "data"
        seed(data, ("alex", "other"))
        server = Server(data, env={"FORMCHECK_TRUSTED_PROXIES": "127.0.0.1"})
        nginx, nginx_port = start_nginx(server.port, Path(tmp))
        front = _Port(nginx_port) if nginx else _Port(server.port)
        via = f"nginx on :{nginx_port}" if nginx else "FORMCHECK_TRUSTED_PROXIES with X-Forwarded-For (no nginx)"
        stop = threading.Event()
        try:
            alex = Client(front, source=None if nginx else "127.0.0.1")
            alex_xff = {} if nginx else {"X-Forwarded-For": "198.51.100.7"}
            alex.start()
            first = alex.call("POST", "/api/auth/signin", {"name": "alex", "password": PASSWORD_OF_SEED}, alex_xff)[0]
            alex.call("POST", "/api/auth/signout", headers=alex_xff)
            codes: dict[int, int] = {}
            lock = threading.Lock()

            def flood(i: int) -> None:
                source = f"127.0.3.{i + 1}" if nginx else "127.0.0.1"
                xff = {} if nginx else {"X-Forwarded-For": f"203.0.113.{i + 1}"}
                while not stop.is_set():
                    c = Client(front, source=source)
                    try:
                        c.start()
                        code = c.call("POST", "/api/auth/signin", {"name": "alex", "password": f"w{i}"}, xff)[0]
                    except OSError:
                        code = -1
                    with lock:
                        codes[code] = codes.get(code, 0) + 1

            real = []
            with ThreadPoolExecutor(N_PROXY_FLOOD) as pool:
                for i in range(N_PROXY_FLOOD):
                    pool.submit(flood, i)
                time.sleep(min(4.0, seconds / 3))
                t_end = time.monotonic() + seconds
                for _ in range(N_REAL_SIGNINS):
                    alex.start()
                    t0 = time.perf_counter()
                    status = alex.call(
                        "POST", "/api/auth/signin", {"name": "alex", "password": PASSWORD_OF_SEED}, alex_xff
                    )[0]
                    real.append((status, (time.perf_counter() - t0) * 1000))
                    if status == 200:
                        alex.call("POST", "/api/auth/signout", headers=alex_xff)
                    time.sleep(max(0.0, (t_end - time.monotonic()) / N_REAL_SIGNINS))
                stop.set()
        finally:
            stop.set()
            if nginx:
                nginx.terminate()
                nginx.wait(10)
            server.stop()
    ok = sum(s == 200 for s, _ in real)
    print(f"\nsign-in flood through a trusted proxy ({via}): {N_PROXY_FLOOD} addresses, wrong passwords for 'alex'")
    print(f"  flood statuses: {dict(sorted(codes.items()))}; alex before the flood: {first}")
    print(f"  alex's own sign-ins during the flood: {ok} of {len(real)} ok ({[f'{s}:{ms:.0f}ms' for s, ms in real]})")


PASSWORD_OF_SEED = "correct horse battery"  # tests/serverproc.PASSWORD


def _upload_once(front, cookies: dict, csrf: str, video: bytes, out: dict) -> None:
    status, _, body = front.request(
        "POST",
        "/api/uploads?exercise=squat&side=auto&filename=set.mp4",
        body=video,
        headers={
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "X-CSRF-Token": csrf,
            "Content-Type": "video/mp4",
        },
        timeout_s=120,
    )
    out["upload"] = status
    out["upload_reply"] = body[:120].decode(errors="replace")


def run_combined(port: int, arg: dict, stop, results) -> None:
    """Attacker process of the combined run: the streaming sockets, the 48-address flood and one upload at once
    (the existing attackers, each in a thread of this process)."""
    import queue

    server = _Port(port)
    q: queue.Queue = queue.Queue()
    local_stop = threading.Event()
    parts = [
        threading.Thread(target=run_attack, args=("streaming", port, {"sessions": arg["sessions"]}, local_stop, q)),
        threading.Thread(target=run_attack, args=("flood", port, {"name": arg["flood_name"]}, local_stop, q)),
    ]
    up: dict = {}
    uploader = threading.Thread(
        target=_upload_once, args=(server, arg["uploader"][0], arg["uploader"][1], arg["video"], up)
    )
    for th in parts:
        th.start()
    time.sleep(1.0)
    uploader.start()
    stop.wait()
    local_stop.set()
    for th in [*parts, uploader]:
        th.join(120)
    info: dict = {}
    while not q.empty():
        info.update(q.get())
    info.update(up)
    results.put({k: v for k, v in info.items() if k in ("sockets", "refused_sockets", "signin_statuses", "upload")})


def combined_report(seconds: float) -> None:
    """One server: idle (after one live set), then 20 live sockets + a 48-address sign-in flood + an upload at
    once. Target (issue 17): peak RSS and another person's p95 within 2x of idle (was x6.9)."""
    people = tuple(f"p{i:02d}" for i in range(N_STREAM_SOCKETS)) + ("uploader", "other")
    video = (UPLOAD_FIXTURE if UPLOAD_FIXTURE.exists() else FIXTURE).read_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-combined-") as tmp:
        data = Path(tmp) / "data"
        seed(data, people)
        server = Server(data)
        try:
            other = Client(server, source="127.0.0.9")
            assert other.sign_in("other") == 200
            sessions = []
            for i, name in enumerate(people[:N_STREAM_SOCKETS]):
                c = Client(server, source=f"127.0.1.{i + 1}")
                sign_in_patiently(c, name)
                sessions.append((c.source, dict(c.cookies)))
            up = Client(server, source="127.0.0.8")
            sign_in_patiently(up, "uploader")
            _phase_of(run_attack, "warm-up", server, other, 4.0, ("streaming", {"sessions": sessions[:1]}))
            time.sleep(2)
            idle = _phase_of(run_attack, "idle", server, other, seconds, ("idle", {}))
            arg = {"sessions": sessions, "flood_name": "p01", "uploader": (dict(up.cookies), up.csrf), "video": video}
            combined = _phase_of(run_combined, "combined", server, other, seconds, (arg,))
        finally:
            server.stop()
    print(
        f"\ncombined run ({seconds:g} s): {N_STREAM_SOCKETS} live sockets + {N_FLOOD}-address sign-in flood + an upload"
    )
    print(f"{'phase':<10} {'peak RSS MB':>11} {'x idle':>7} {'p50 ms':>7} {'p95 ms':>7} {'x idle':>7}  detail")
    for r in (idle, combined):
        rss_x, p95_x = r["rss_mb"] / idle["rss_mb"], r["p95_ms"] / idle["p95_ms"]
        detail = {k: v for k, v in r.items() if k not in ("phase", "rss_mb", "p50_ms", "p95_ms")}
        print(
            f"{r['phase']:<10} {r['rss_mb']:>11.0f} {rss_x:>7.2f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
            f"{p95_x:>7.2f}  {detail}"
        )
    ok = combined["rss_mb"] <= TARGET_RATIO * idle["rss_mb"] and combined["p95_ms"] <= TARGET_RATIO * idle["p95_ms"]
    print(f"target: combined within {TARGET_RATIO:g}x of idle in RSS and p95 -> {'met' if ok else 'NOT met'}")


def _phase_of(target, name: str, server: Server, probe_client: Client, seconds: float, args: tuple) -> dict:
    """`phase` with another attacker function (run_attack(kind, port, arg, ...) or target(port, *args, ...)) in its
    own process, measured meanwhile."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    stop = ctx.Event()
    if target is run_attack:
        kind, arg = args
        proc_args: tuple = (kind, server.port, arg, stop, results)
    else:
        proc_args = (server.port, *args, stop, results)
    proc = ctx.Process(target=target, args=proc_args, daemon=True)
    proc.start()
    time.sleep(min(4.0, seconds / 3))
    probe = Probe(server, probe_client)
    probe.run(seconds)
    stop.set()
    info = results.get(timeout=180)
    proc.join(timeout=60)
    peak, p50, p95 = probe.figures()
    return {"phase": name, "rss_mb": peak, "p50_ms": p50, "p95_ms": p95, "n": len(probe.latencies_ms), **info}


if __name__ == "__main__":
    sys.exit(main())
