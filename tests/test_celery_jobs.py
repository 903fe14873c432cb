"""Review jobs on Celery + Redis: a real redis-server, real `formcheck worker` processes, one killed mid-job.

Every job must complete exactly once with the report the embedded process pool gives; a broker that is down
fails the upload with a clear 503 and the job is sent when the broker is back.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from formcheck.webapp import repo
from formcheck.webapp.app import create_app
from formcheck.webapp.job_lease import claim_job, renew
from formcheck.webapp.settings import Settings
from tests.test_web_upload import post_video, seeded, sign_in, wait_job

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "fixtures" / "videos" / "small_knee_bend_front_clean.mp4"
EXERCISE = "small_knee_bend"
N_UPLOADS = 10
VISIBILITY_S = 8.0  # Redis redelivers an unacked message after this (default 1 h; short so the test is quick)
LEASE_S = 6.0  # a running job without a heartbeat for this long has lost its worker
ALL_DONE_TIMEOUT_S = 420.0  # 10 MediaPipe jobs + a redelivery on a busy 2-core VM
WORKER_START_TIMEOUT_S = 60.0

pytestmark = pytest.mark.video  # real MediaPipe over videos, in separate worker processes


def settings_for(data_dir: Path, **kw) -> Settings:
    """Test settings (TestClient's host name allowed where the app checks Host headers)."""
    if "allowed_hosts" in Settings.model_fields:
        kw.setdefault("allowed_hosts", ("testserver",))
    if "max_pending_jobs_per_person" in Settings.model_fields:  # one person uploads all N_UPLOADS here
        kw.setdefault("max_pending_jobs_per_person", N_UPLOADS)
    return Settings(data_dir=data_dir, secret_key="s" * 48, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, workdir: Path) -> subprocess.Popen:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh installs it from Debian)")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping():
                return proc
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("redis-server did not start")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def start_worker(broker: str, data_dir: Path, name: str, log_dir: Path, cache_dir: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        FORMCHECK_BROKER_VISIBILITY_S=str(VISIBILITY_S),
        FORMCHECK_JOB_LEASE_S=str(LEASE_S),
        FORMCHECK_CACHE_DIR=str(cache_dir),
        PYTHONUNBUFFERED="1",
    )
    env.pop("FORMCHECK_DATABASE_URL", None)
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "formcheck",
            "worker",
            "--broker",
            broker,
            "--data-dir",
            str(data_dir),
            "--hostname",
            f"{name}@test",
            "--loglevel",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(workers: list[subprocess.Popen], log_dir: Path, names: list[str]) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        for w, n in zip(workers, names, strict=True):
            if w.poll() is not None:
                raise AssertionError(f"worker {n} exited: {(log_dir / f'{n}.log').read_text()[-2000:]}")
        if all("ready" in (log_dir / f"{n}.log").read_text() for n in names):
            return
        time.sleep(0.2)
    raise AssertionError("workers did not become ready")


def distinct_copies(src: Path, n: int) -> list[bytes]:
    """n byte-different copies of one clip with the same frames (an MP4 `free` box appended, which every
    reader skips), so no landmark cache turns a job into a no-op."""
    body = src.read_bytes()
    out = []
    for i in range(n):
        pad = f"formcheck test copy {i}".encode()
        out.append(body + struct.pack(">I4s", 8 + len(pad), b"free") + pad)
    assert len(set(out)) == n
    return out


def close(a, b, path: str = "") -> None:
    """Reports equal up to float tolerance (another process may round the last digit differently)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture
def clip_copies(tmp_path: Path) -> list[bytes]:
    if not CLIP.is_file():
        pytest.skip(f"fixture clip {CLIP} missing (make fixtures)")
    return distinct_copies(CLIP, N_UPLOADS)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = start_redis(port, tmp_path)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


def reference_report(tmp_path: Path, body: bytes) -> dict:
    """The same clip through the embedded process pool (the default of `make run`)."""
    settings = settings_for(tmp_path / "pool")
    seeded(settings)
    with TestClient(create_app(settings)) as client:
        token = sign_in(client, "alex")
        r = post_video(client, token, body, filename="set.mp4", exercise=EXERCISE)
        assert r.status_code == 201, r.text
        job = wait_job(client, r.json()["id"], timeout_s=180)
        assert job["status"] == "done", job
        return client.get(f"/api/uploads/{r.json()['id']}/result").json()["report"]


def test_two_workers_one_killed_mid_job_every_job_done_once(tmp_path: Path, redis_url: str, clip_copies):
    data_dir = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    settings = settings_for(data_dir, broker_url=redis_url)
    seeded(settings)
    names = ["w1", "w2"]
    workers = [start_worker(redis_url, data_dir, n, logs, tmp_path / f"cache_{n}") for n in names]
    killed_pid = None
    try:
        with TestClient(create_app(settings)) as client:
            wait_ready(workers, logs, names)
            token = sign_in(client, "alex")
            uploads = []
            for body in clip_copies:
                r = post_video(client, token, body, filename="set.mp4", exercise=EXERCISE)
                assert r.status_code == 201, r.text
                uploads.append(r.json()["id"])
            store = client.app.state.store
            # kill the worker holding a job that is well under way
            deadline = time.monotonic() + 180
            victim_job = None
            while victim_job is None and time.monotonic() < deadline:
                for job in store.list_jobs(status="running"):
                    holder = ((job.result or {}).get("lease") or {}).get("holder", "")
                    pid = int(holder.split(":")[1]) if holder.count(":") == 2 else None
                    if job.progress >= 0.1 and pid in {w.pid for w in workers}:
                        victim_job, killed_pid = job.id, pid
                        break
                time.sleep(0.05)
            assert victim_job is not None, "no job got under way"
            os.kill(killed_pid, signal.SIGKILL)
            t_kill = time.monotonic()
            jobs = [wait_job(client, u, timeout_s=ALL_DONE_TIMEOUT_S) for u in uploads]
            recovered_after_s = time.monotonic() - t_kill
            reports = [client.get(f"/api/uploads/{u}/result").json()["report"] for u in uploads]
            rows = {j.id: j for j in store.list_jobs()}
    finally:
        for w in workers:
            stop(w)
    assert [j["status"] for j in jobs] == ["done"] * N_UPLOADS, jobs
    # exactly once: each run of a job counts one attempt when it starts; a redelivered copy that found the job
    # held or done was refused by the claim and never started
    attempts = {jid: int((row.result or {}).get("attempts", 0)) for jid, row in rows.items()}
    assert attempts[victim_job] == 2, attempts  # the killed run + the one that completed
    assert all(a == 1 for jid, a in attempts.items() if jid != victim_job), attempts
    assert rows[victim_job].result["lease"]["takeover"] is True
    survivor = next(w.pid for w in workers if w.pid != killed_pid)
    assert rows[victim_job].result["lease"]["holder"].split(":")[1] == str(survivor)
    ref = reference_report(tmp_path, clip_copies[0])
    assert ref["summary"]["reps"] >= 1
    for rep in reports:
        close(ref, rep)
    print(
        f"killed worker pid {killed_pid} on job {victim_job}; all {N_UPLOADS} done {recovered_after_s:.1f} s "
        f"after the kill; attempts {attempts}"
    )


def test_broker_down_fails_the_upload_clearly_then_the_job_runs(tmp_path: Path, clip_copies, monkeypatch):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("FORMCHECK_BROKER_RESEND_S", "1")
    data_dir = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    settings = settings_for(data_dir, broker_url=url)
    seeded(settings)
    redis_proc = worker = None
    try:
        with TestClient(create_app(settings)) as client:
            token = sign_in(client, "alex")
            t0 = time.monotonic()
            r = post_video(client, token, clip_copies[0], filename="set.mp4", exercise=EXERCISE)
            assert time.monotonic() - t0 < 30
            assert r.status_code == 503, r.text
            detail = r.json()["detail"]
            assert "saved" in detail and "unreachable" in detail and "no need to upload again" in detail
            assert "\n" not in detail
            store = client.app.state.store
            (job,) = store.list_jobs()
            assert job.status == "queued" and "unreachable" in (job.error or "")
            (up,) = store.list_uploads()
            assert (data_dir / up.stored_path).is_file()  # the video is kept
            # the broker comes back, a worker starts: the app re-sends the job by itself
            redis_proc = start_redis(port, tmp_path)
            worker = start_worker(url, data_dir, "w1", logs, tmp_path / "cache")
            done = wait_job(client, up.id, timeout_s=240)
            assert done["status"] == "done", done
            assert client.get(f"/api/uploads/{up.id}/result").json()["report"]["summary"]["reps"] >= 1
    finally:
        if worker is not None:
            stop(worker)
        if redis_proc is not None:
            stop(redis_proc)


def test_claim_is_taken_once_and_a_stale_lease_is_taken_over(tmp_path: Path):
    from datetime import UTC, datetime, timedelta

    settings = settings_for(tmp_path / "data")
    clinic = seeded(settings)
    store = repo.open_store(settings)
    try:
        alex = store.get_person("alex")
        _, job_id = repo.create_upload(
            store,
            owner_id=alex.id,
            filename="a.mp4",
            stored_relpath="uploads/a.mp4",
            sha256="0" * 64,
            size_bytes=1,
            exercise_id=EXERCISE,
            side="auto",
        )
        now = datetime.now(UTC)
        first = claim_job(store, job_id, "h:1:a", lease=60, now=now)
        again = claim_job(store, job_id, "h:2:b", lease=60, now=now + timedelta(seconds=5))
        assert first.won and not first.takeover
        assert not again.won and again.status == "running" and again.held_by == "h:1:a"
        assert renew(store, job_id, "h:1:a", lease=60, now=now + timedelta(seconds=10))  # a heartbeat
        assert not renew(store, job_id, "h:2:b", lease=60, now=now + timedelta(seconds=11))  # not its holder
        assert not claim_job(store, job_id, "h:2:b", lease=60, now=now + timedelta(seconds=65)).won
        stale = claim_job(store, job_id, "h:2:b", lease=60, now=now + timedelta(seconds=71))
        assert stale.won and stale.takeover
        assert not claim_job(store, job_id, "h:3:c", lease=60, now=now + timedelta(seconds=72)).won
        store.update_job(job_id, status="done")
        late = claim_job(store, job_id, "h:4:d", lease=60, now=now + timedelta(days=1))
        assert not late.won and late.status == "done"
    finally:
        store.close()
    assert clinic is not None
