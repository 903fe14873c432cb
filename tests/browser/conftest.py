"""Browser-test fixtures: a real `formcheck serve` in a subprocess, Debian's Chromium via Playwright, fake cameras.

Shared by the live-page tests and the app-shell tests. Every test in tests/browser/ is marked `browser`.
Chromium or Playwright missing → skip with the reason, except in CI (`CI` or `FORMCHECK_REQUIRE_BROWSER`
set), where a missing browser is a failure: the README's test command installs both.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_VIDEOS = REPO_ROOT.parent / "shared" / "videos"
MANNEQUIN_VIDEOS = REPO_ROOT / "fixtures" / "videos"
ARTIFACTS_DIR = Path(os.environ.get("FORMCHECK_ARTIFACTS_DIR", REPO_ROOT / "tests" / "artifacts"))

CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
FAKE_CAMERA_ARGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")

SERVER_START_TIMEOUT_S = 60.0  # judgement call: cold import of mediapipe + migrations on a busy 2-core VM
SERVER_STOP_TIMEOUT_S = 10.0
FAKE_CAMERA_WH = (640, 480)  # what Chromium's fake device and the live page expect (docs/platform.md §3)
FAKE_CAMERA_FPS = 30  # Chromium plays MJPEG files at 30 fps; y4m carries it in its header
FAKE_CAMERA_JPEG_QUALITY = 85
FAKE_CAMERA_PAD_GREY = 128  # letterbox colour: mid grey, so bars never read as "too dark"


def _require_browser_or_fail() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("FORMCHECK_REQUIRE_BROWSER"))


def _skip_or_fail(reason: str) -> None:
    if _require_browser_or_fail():
        pytest.fail(f"{reason} (browser tests must run in CI: `make test` installs chromium and playwright)")
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser/ as `browser`, so `-m "not browser"` deselects them all."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


# --------------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_command(port: int, single_user: bool = False) -> list[str]:
    """`python -m formcheck serve` (what `make run` starts)."""
    return [
        sys.executable,
        "-m",
        "formcheck",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *(["--single-user"] if single_user else []),
    ]


def _wait_http(url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2.0):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer (401, 404, ...) means it is serving
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {timeout_s:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, n_chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n_chars:]
    except OSError:
        return "(no log)"


class LiveServer:
    """A `formcheck serve` subprocess on a free port with its own FORMCHECK_DATA_DIR."""

    def __init__(
        self, data_dir: Path, log_path: Path, env_extra: dict[str, str] | None = None, single_user: bool = False
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = log_path
        # The single-user launch token (what `make run` prints as /?token=...), fixed so tests can open it.
        self.token = secrets.token_urlsafe(24)
        self.single_user = single_user
        env = dict(os.environ)
        env["FORMCHECK_DATA_DIR"] = str(data_dir)
        env["FORMCHECK_TOKEN"] = self.token
        env["PYTHONUNBUFFERED"] = "1"
        env.update(env_extra or {})
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            _server_command(self.port, single_user), cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            _wait_http(self.base_url + "/", self.proc, log_path, SERVER_START_TIMEOUT_S)
        except Exception:
            self.stop()
            raise

    def log(self) -> str:
        return _tail(self.log_path, 20000)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
        self._log.close()


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    """Factory: `start_server(env_extra={...})` → a fresh LiveServer (own data dir); all stopped at the end."""
    servers: list[LiveServer] = []

    def start(env_extra: dict[str, str] | None = None, single_user: bool = False) -> LiveServer:
        root = tmp_path_factory.mktemp("server")
        srv = LiveServer(root / "data", root / "server.log", env_extra, single_user)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="session")
def live_server_instance(start_server: Callable[..., LiveServer]) -> LiveServer:
    """The session's shared server (use `start_server` for one with its own database)."""
    return start_server()


@pytest.fixture(scope="session")
def live_server(live_server_instance: LiveServer) -> str:
    """Base URL (http://127.0.0.1:PORT) of a running `formcheck serve` with a temporary data dir."""
    return live_server_instance.base_url


@pytest.fixture(scope="session")
def live_server_data_dir(live_server_instance: LiveServer) -> Path:
    return live_server_instance.data_dir


# -------------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[object]:
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright for Python is not installed (pip install playwright; never `playwright install`)")
    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def launch_chromium(playwright_instance) -> Iterator[Callable[..., object]]:
    """Factory: `launch_chromium(fake_camera=Path|None, extra_args=())` → a Playwright Browser.

    With `fake_camera` (an absolute .mjpeg or .y4m path) Chromium grants camera access without a prompt
    and plays that file, looped, as the webcam.
    """
    browsers: list[object] = []

    def launch(fake_camera: Path | None = None, extra_args: tuple[str, ...] = ()) -> object:
        args = list(CHROMIUM_ARGS) + list(extra_args)
        if fake_camera is not None:
            args += list(FAKE_CAMERA_ARGS) + [f"--use-file-for-fake-video-capture={Path(fake_camera).resolve()}"]
        b = playwright_instance.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        browsers.append(b)
        return TestBrowser(b)

    yield launch
    for b in browsers:
        with contextlib.suppress(Exception):
            b.close()


class TestBrowser:
    """A Playwright Browser whose contexts default to `bypass_csp=True`: `page.wait_for_function("...")` evaluates
    its predicate with eval, which the app's Content-Security-Policy forbids. test_single_user.py opens the pages
    with the real CSP (bypass_csp=False) and checks that nothing is blocked."""

    def __init__(self, browser: object) -> None:
        self._browser = browser

    def new_context(self, **kw: object) -> object:
        kw.setdefault("bypass_csp", True)
        return self._browser.new_context(**kw)

    def __getattr__(self, name: str) -> object:
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser(launch_chromium):
    """A plain Chromium (no camera flags), shared by the session."""
    return launch_chromium()


@pytest.fixture()
def page(browser):
    """A fresh browser context + page (own cookies), 1280×800."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """tests/artifacts/ (gitignored): screenshots kept after the run for people to look at."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


def screenshot(pg, name: str, full_page: bool = True) -> Path:
    """Save a PNG screenshot of `pg` as tests/artifacts/<name>.png and return its path."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    pg.screenshot(path=str(path), full_page=full_page)
    return path


# ---------------------------------------------------------------------------------------------- fake camera


def shared_video(name: str) -> Path:
    """A labelled clip from ../shared/videos; skips (with the reason) where that folder or file is absent."""
    path = SHARED_VIDEOS / name
    if not path.exists():
        pytest.skip(f"{path} not found: the labelled real videos live in ../shared/videos beside the repo")
    return path


def shared_manifest_entry(name: str) -> dict:
    import json

    manifest = SHARED_VIDEOS / "manifest.json"
    if not manifest.exists():
        pytest.skip(f"{manifest} not found")
    for entry in json.loads(manifest.read_text())["videos"]:
        if entry["file"] == name:
            return entry
    pytest.skip(f"{name} is not in {manifest}")
    raise AssertionError("unreachable")


def _fit_letterbox(bgr: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """Scale to fit inside wh keeping the aspect ratio and pad with grey: never cuts the body off."""
    import cv2

    w, h = wh
    sh, sw = bgr.shape[:2]
    scale = min(w / sw, h / sh)
    nw, nh = max(1, round(sw * scale)), max(1, round(sh * scale))
    small = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.full((h, w, 3), FAKE_CAMERA_PAD_GREY, np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    return out


def make_fake_camera(
    src: Path,
    out: Path,
    *,
    lead_s: float = 0.0,
    tail_s: float = 0.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    speed: float = 1.0,
    fmt: str = "mjpeg",
) -> Path:
    """Convert a video into a 640×480, 30 fps fake-camera file for Chromium (no ffmpeg needed).

    Frames are resampled by their decoder timestamps (each output tick shows the latest source frame);
    `lead_s` / `tail_s` hold the first / last frame still so a page has time to connect before the
    movement starts and a looping camera does not restart the clip before a test reads its result.
    `speed` < 1 plays the movement slower (0.5 = half speed), > 1 faster.
    `fmt` is "mjpeg" (concatenated JPEGs, small) or "y4m" (raw I420, large).
    """
    import av
    import cv2

    src_frames: list[tuple[float, np.ndarray]] = []
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            t = float(frame.time)
            if t < start_s:
                continue
            if end_s is not None and t > end_s:
                break
            src_frames.append((t - start_s, _fit_letterbox(frame.to_ndarray(format="bgr24"), FAKE_CAMERA_WH)))
    if not src_frames:
        raise ValueError(f"{src}: no frames decoded between {start_s} s and {end_s} s")
    if not speed > 0:
        raise ValueError(f"speed must be > 0, not {speed}")
    t0 = src_frames[0][0]
    times = np.array([(t - t0) / speed for t, _ in src_frames])
    duration_s = float(times[-1]) + 1.0 / FAKE_CAMERA_FPS
    n_lead = round(lead_s * FAKE_CAMERA_FPS)
    n_body = max(1, round(duration_s * FAKE_CAMERA_FPS))
    n_tail = round(tail_s * FAKE_CAMERA_FPS)
    out.parent.mkdir(parents=True, exist_ok=True)

    def ticks() -> Iterator[np.ndarray]:
        for _ in range(n_lead):
            yield src_frames[0][1]
        for k in range(n_body):
            i = int(np.searchsorted(times, k / FAKE_CAMERA_FPS, side="right")) - 1
            yield src_frames[max(i, 0)][1]
        for _ in range(n_tail):
            yield src_frames[-1][1]

    with open(out, "wb") as f:
        if fmt == "mjpeg":
            for bgr in ticks():
                ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, FAKE_CAMERA_JPEG_QUALITY])
                if not ok:
                    raise ValueError("JPEG encoding failed")
                f.write(jpg.tobytes())
        elif fmt == "y4m":
            w, h = FAKE_CAMERA_WH
            f.write(f"YUV4MPEG2 W{w} H{h} F{FAKE_CAMERA_FPS}:1 Ip A1:1 C420jpeg\n".encode())
            for bgr in ticks():
                f.write(b"FRAME\n")
                f.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
        else:
            raise ValueError(f"fmt must be 'mjpeg' or 'y4m', not {fmt!r}")
    return out


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: `fake_camera(video_path, lead_s=..., tail_s=..., fmt="mjpeg")` → cached fake-camera file."""
    cache_dir = tmp_path_factory.mktemp("fakecam")
    made: dict[tuple, Path] = {}

    def make(src: Path, **kw) -> Path:
        key = (str(src), tuple(sorted(kw.items())))
        if key not in made:
            suffix = ".y4m" if kw.get("fmt") == "y4m" else ".mjpeg"
            made[key] = make_fake_camera(Path(src), cache_dir / f"{Path(src).stem}_{len(made)}{suffix}", **kw)
        return made[key]

    return make


@pytest.fixture(scope="session")
def save_screenshot(artifacts_dir: Path) -> Callable[..., Path]:
    """`save_screenshot(page, "name")` → tests/artifacts/name.png."""
    return screenshot


@pytest.fixture(scope="session")
def shared_videos() -> Callable[[str], Path]:
    """`shared_videos("clip.mp4")` → path in ../shared/videos, skipping with the reason where absent."""
    return shared_video


@pytest.fixture(scope="session")
def shared_manifest() -> Callable[[str], dict]:
    """`shared_manifest("clip.mp4")` → that clip's manifest entry (labels), skipping where absent."""
    return shared_manifest_entry
