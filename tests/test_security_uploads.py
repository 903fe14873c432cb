"""Issue 17, uploads and jobs: H1 (probe bomb, quota race), M4 (unbounded jobs), L1 (many-scan JPEGs), L4 (the
Celery worker), L7 (one-line errors). Real files made here with PyAV; HTTP cases against a real `formcheck serve`.

Every test here failed on main 5c85085 (see each docstring for how).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from serverproc import Client, Server, free_port, seed

from formcheck.media.frame_limits import MAX_FRAME_SIDE_PX, MIN_FRAME_SIDE_PX

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
EXERCISE = "small_knee_bend"
QUOTA = 3
FRAME_CAP = 60
BOMB_SIDE_PX = 16000
PEOPLE = ("alex", "kim", "sam", "pat", "lou")


# ------------------------------------------------------------------------------------------------ files
def png_bytes(w: int, h: int) -> bytes:
    """One valid PNG of a flat w x h picture, compressed row by row (16000 x 16000 is ~0.7 MB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * w)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_mov(path: Path, w: int, h: int, n_frames: int = 2) -> Path:
    """A MOV whose frames are PNG pictures of w x h px, muxed without encoding (cheap at any declared size)."""
    data = png_bytes(w, h)
    with av.open(str(path), "w") as c:
        s = c.add_stream("png", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "rgb24"
        s.time_base = Fraction(1, 30)
        for i in range(n_frames):
            p = av.Packet(data)
            p.pts = p.dts = i
            p.duration = 1
            p.time_base = Fraction(1, 30)
            p.stream = s
            c.mux(p)
    return path


def h264(path: Path, n_frames: int, side: int = 64, *, container: str | None = None, live: bool = False) -> Path:
    """A real H.264 video; `live` Matroska is written with no duration (and no frame count) in its header."""
    options = {"live": "1"} if live else {}
    with av.open(str(path), "w", format=container, options=options) as c:
        s = c.add_stream("libx264", rate=30)
        s.width = s.height = side
        s.pix_fmt = "yuv420p"
        for i in range(n_frames):
            img = np.full((side, side, 3), (i * 7) % 255, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "bomb": png_mov(d / "bomb.mov", BOMB_SIDE_PX, BOMB_SIDE_PX),
        "tiny": png_mov(d / "tiny.mov", 1, 1, n_frames=3),
        "ok": h264(d / "ok.mp4", 10),
        "endless": h264(d / "endless.mkv", FRAME_CAP * 5, side=32, container="matroska", live=True),
    }


# ------------------------------------------------------------------------------------------------ server
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("srv") / "data"
    ids = seed(data, PEOPLE)
    srv = Server(
        data,
        env={
            "FORMCHECK_MAX_PENDING_JOBS": str(QUOTA),
            "FORMCHECK_MAX_VIDEO_FRAMES": str(FRAME_CAP),
            "FORMCHECK_ANALYZER": "hardening_analyzer:forever_analyse",  # accepted jobs stay pending
        },
    )
    srv.ids = ids  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()


def upload(client: Client, path: Path, name: str | None = None) -> tuple[int, str]:
    status, _, body = client.call(
        "POST",
        f"/api/uploads?exercise={EXERCISE}&filename={name or path.name}",
        body=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
        timeout_s=120,
    )
    try:
        detail = json.loads(body).get("detail", "")
    except ValueError:
        detail = body.decode(errors="replace")
    return status, str(detail)


def signed_in(server: Server, name: str) -> Client:
    c = Client(server)
    assert c.sign_in(name) == 200
    return c


def stored(server: Server, name: str) -> list[Path]:
    folder = server.data_dir / "uploads" / str(server.ids[name])  # type: ignore[attr-defined]
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def one_line(detail: str) -> None:
    assert detail and "\n" not in detail and "Traceback" not in detail, detail


# ------------------------------------------------------------------------------------------------ H1
def test_h1_a_picture_bomb_is_refused_from_its_declared_size(server: Server, files: dict[str, Path]) -> None:
    """Main: 201 (the web process decoded a 16000x16000 frame first: +700 MB, 7.5 s)."""
    c = signed_in(server, "kim")
    rss0 = server.rss_mb()
    t0 = time.monotonic()
    status, detail = upload(c, files["bomb"])
    assert status == 422, (status, detail)
    one_line(detail)
    assert f"{BOMB_SIDE_PX}x{BOMB_SIDE_PX}" in detail and f"{MAX_FRAME_SIDE_PX} px" in detail, detail
    assert time.monotonic() - t0 < 10
    assert server.rss_mb() - rss0 < 150  # the picture was never decoded in the server
    assert stored(server, "kim") == []


def test_h1_concurrent_uploads_cannot_pass_the_quota(server: Server, files: dict[str, Path]) -> None:
    """Main: 11 of 12 accepted against a quota of 3 (counted before any job row existed)."""
    c = signed_in(server, "alex")
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda i: upload(c, files["ok"], f"set{i}.mp4"), range(12)))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == QUOTA, results
    assert statuses.count(429) == 12 - QUOTA, results
    assert all(f"already have {QUOTA} videos waiting" in d for s, d in results if s == 429), results
    assert len([p for p in stored(server, "alex") if p.suffix == ".mp4"]) == QUOTA  # refused ones left nothing


def test_h1_the_probe_process_is_memory_limited(files: dict[str, Path]) -> None:
    """Even past the size check (a limit of 100000 px), the child runs out of its own memory, not the server's."""
    from formcheck.errors import VideoError
    from formcheck.media.video import probe_isolated

    with pytest.raises(VideoError):
        probe_isolated(files["bomb"], max_side_px=100_000, stop_after_packets=10)
    info = probe_isolated(files["ok"], stop_after_packets=100)
    assert (info.width, info.height, info.packets) == (64, 64, 10)


# ------------------------------------------------------------------------------------------------ M4
def test_m4_a_video_without_a_duration_is_counted_at_upload(server: Server, files: dict[str, Path]) -> None:
    """Main: 201 for a Matroska file with no duration in its header (the same frames with one got 422)."""
    c = signed_in(server, "sam")
    status, detail = upload(c, files["endless"])
    assert status == 422, (status, detail)
    one_line(detail)
    assert f"more than {FRAME_CAP} frames; the limit is {FRAME_CAP}" in detail, detail
    assert stored(server, "sam") == []


def decoding_analyse(
    video, exercise_id, side, *, overrides, annotate_path, landmarks_path, progress, max_frames=None, max_s=None
):
    """A job body that decodes like the real one (media.video.read_video, with the caps run_job gives it)."""
    from formcheck.media.video import read_video

    n = sum(1 for _ in read_video(video, max_frames=max_frames, max_s=max_s))
    report = {"schema": "formcheck.report/1", "exercise": exercise_id, "reps": [], "summary": {"frames": n}}
    return report, None


def _job_for(tmp_path: Path, video: Path, **settings_kw):
    from formcheck.webapp import repo
    from formcheck.webapp.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", secret_key="s" * 48, **settings_kw)
    ids = seed(settings.data_dir, ("alex",), clinician=None)
    rel = Path("uploads") / str(ids["alex"]) / video.name
    (settings.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, settings.data_dir / rel)
    store = repo.open_store(settings)
    try:
        up = store.add_upload(
            ids["alex"],
            original_filename=video.name,
            stored_path=rel.as_posix(),
            sha256="0" * 64,
            size_bytes=video.stat().st_size,
            exercise_id=EXERCISE,
            side="auto",
        )
        job_id = store.create_job(up.id).id
    finally:
        store.close()
    return settings, job_id


def _job_row(settings, job_id: int):
    from formcheck.webapp import repo

    store = repo.open_store(settings)
    try:
        return repo.get_job(store, job_id)
    finally:
        store.close()


def test_m4_a_job_stops_at_the_frame_cap_on_decoded_frames(tmp_path: Path, files: dict[str, Path]) -> None:
    """Main: the job decoded all 300 frames of a file past the cap (the caps were only read from the header)."""
    from formcheck.webapp.jobs import run_job

    settings, job_id = _job_for(
        tmp_path, files["endless"], max_video_frames=FRAME_CAP, analyzer=f"{__name__}:decoding_analyse"
    )
    assert run_job(job_id, settings.model_dump_json()) == "failed"
    job = _job_row(settings, job_id)
    assert (
        job.error
        == f"The video has more than {FRAME_CAP} frames; the limit is {FRAME_CAP}: trim it or record at 30 fps"
    )


def test_m4_celery_time_limits_come_from_the_job_timeout(monkeypatch) -> None:
    """Main: no time limit on Celery jobs (a 60 s limit was still running at 229 s)."""
    from formcheck.webapp import celery_app as ca

    monkeypatch.setenv("FORMCHECK_JOB_TIMEOUT_S", "42")
    app = ca.celery_app(f"redis://127.0.0.1:{free_port()}/0")
    assert 42 < app.conf.task_soft_time_limit < app.conf.task_time_limit


# ------------------------------------------------------------------------------------------------ L4 + M4: a real worker
def write_then_hang(video, exercise_id, side, *, overrides, annotate_path, landmarks_path, progress):
    """A job body that writes a result file, then never ends."""
    Path(annotate_path).write_bytes(b"annotated")
    progress(0.1)
    time.sleep(3600)


def _wait(pred, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_l4_m4_worker_survives_a_bad_message_stops_a_long_job_and_writes_private_files(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """Main: the worker died on the non-JSON message; a job ran past FORMCHECK_JOB_TIMEOUT_S; its file was 0644."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh installs it from Debian)")
    port = free_port()
    redis = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    broker = f"redis://127.0.0.1:{port}/0"
    settings, job_id = _job_for(tmp_path, files["ok"], job_timeout_s=4.0)
    env = dict(
        os.environ,
        FORMCHECK_DATA_DIR=str(settings.data_dir),
        FORMCHECK_SECRET_KEY="s" * 48,
        FORMCHECK_JOB_TIMEOUT_S="4",
        FORMCHECK_ANALYZER=f"{__name__}:write_then_hang",
        PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "formcheck", "worker", "--broker", broker],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        import redis as redis_lib

        r = redis_lib.Redis(port=port)
        _wait(lambda: b"ready" in log_path.read_bytes(), 60, "the worker to start")
        r.lpush("formcheck", b"not json at all")
        time.sleep(2.0)
        assert worker.poll() is None, log_path.read_text()[-2000:]

        from formcheck.webapp.celery_app import send_job

        send_job(broker, job_id)
        job = _wait(lambda: (j := _job_row(settings, job_id)).status == "failed" and j, 60, "the job to be stopped")
        assert job.error == "The analysis took longer than 4 s and was stopped: upload a shorter video"
        assert worker.poll() is None, log_path.read_text()[-2000:]
        annotated = list(settings.data_dir.rglob("*.annotated.mp4"))
        assert annotated, "the job wrote no file"
        assert stat.S_IMODE(annotated[0].stat().st_mode) == 0o600
    finally:
        for proc in (worker, redis):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)


# ------------------------------------------------------------------------------------------------ L1
def many_scan_jpeg(extra_scans: int, w: int = 1920, h: int = 1080) -> bytes:
    """A progressive JPEG with `extra_scans` more copies of its smallest scan (libjpeg warns and decodes each)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.full((h, w, 3), 128, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    data = bytes(buf)
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]

    def end(i: int) -> int:
        j = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        while True:
            j = data.index(b"\xff", j)
            if data[j + 1] != 0x00 and not 0xD0 <= data[j + 1] <= 0xD7:
                return j
            j += 2

    scan = min((data[i : end(i)] for i in starts), key=len)
    eoi = data.rindex(b"\xff\xd9")
    return data[:eoi] + scan * extra_scans + data[eoi:]


def test_l1_a_jpeg_with_thousands_of_scans_is_refused_before_decoding() -> None:
    """Main: decoded (every scan is another pass over the picture: ~0.8 s here, 29 s for the issue's file)."""
    from formcheck.webapp.live.protocol import ProtocolError
    from formcheck.webapp.live.replies import decode_jpeg

    bomb = many_scan_jpeg(5000)
    t0 = time.process_time()
    with pytest.raises(ProtocolError) as err:
        decode_jpeg(bomb)
    assert time.process_time() - t0 < 0.2
    from formcheck.webapp.live.jpeg_header import MAX_JPEG_SCANS

    assert f"the limit is {MAX_JPEG_SCANS}" in str(err.value) and "scans" in str(err.value)
    ok = many_scan_jpeg(0, 640, 480)  # an ordinary progressive JPEG (10 scans) still decodes
    assert decode_jpeg(ok).shape == (480, 640, 3)


# ------------------------------------------------------------------------------------------------ L7
def test_l7_a_one_pixel_video_is_a_one_line_422(server: Server, files: dict[str, Path]) -> None:
    """Main: 201, then the job failed as "internal error"."""
    c = signed_in(server, "pat")
    status, detail = upload(c, files["tiny"])
    assert status == 422, (status, detail)
    one_line(detail)
    assert f"too small, at least {MIN_FRAME_SIDE_PX} px" in detail, detail
    assert stored(server, "pat") == []


def test_l7_annotate_to_a_non_video_name_fails_before_the_analysis(tmp_path: Path, files: dict[str, Path]) -> None:
    """Main: the whole analysis ran, then "internal error: ValueError: Could not determine output format"."""
    out = tmp_path / "out.txt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "formcheck",
            "analyze",
            str(files["ok"]),
            "--exercise",
            EXERCISE,
            "--annotate",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--annotate" in lines[0] and ".mp4" in lines[0], done.stderr
    assert "reps:" not in done.stdout and not out.exists()


# ------------------------------------------------------------------------------------------------ H1: the store
def test_h1_the_quota_is_counted_and_inserted_in_one_transaction(store_url: str) -> None:
    """SQLite (BEGIN IMMEDIATE) and PostgreSQL (a row lock on the person): 12 at once, exactly the quota pass."""
    from formcheck.store import PendingQuotaError, Store

    with Store.open(store_url, busy_timeout_ms=30_000) as store:
        person_id = store.add_person("alex", role="person").id

        def add(i: int) -> str:
            with Store.open(store_url, busy_timeout_ms=30_000) as s:
                try:
                    s.add_upload_with_job(
                        person_id,
                        max_pending=QUOTA,
                        original_filename=f"{i}.mp4",
                        stored_path=f"uploads/{i}.mp4",
                        sha256="0" * 64,
                        size_bytes=1,
                        exercise_id=EXERCISE,
                    )
                    return "ok"
                except PendingQuotaError as exc:
                    return f"refused {exc.pending}"

        with ThreadPoolExecutor(12) as pool:
            outcomes = list(pool.map(add, range(12)))
        assert outcomes.count("ok") == QUOTA, outcomes
        assert outcomes.count(f"refused {QUOTA}") == 12 - QUOTA, outcomes
        assert store.count_rows("uploads") == store.count_rows("jobs") == QUOTA


@pytest.mark.video
def test_m4_the_real_analysis_stops_at_the_frame_cap(tmp_path: Path, files: dict[str, Path]) -> None:
    """The default job body (pose through MediaPipe) is given the caps and stops at them (main: all 300 frames)."""
    from formcheck.webapp.jobs import run_job

    settings, job_id = _job_for(tmp_path, files["endless"], max_video_frames=20)
    assert run_job(job_id, settings.model_dump_json()) == "failed"
    assert _job_row(settings, job_id).error.startswith("The video has more than 20 frames; the limit is 20")
