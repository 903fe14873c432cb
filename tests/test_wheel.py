"""The wheel is the product (issue 20): `pip wheel .` vendors the browser-pose runtime from npm (setup.py), and a
fresh venv with only that wheel serves /live with pose in the browser: /api/live/pose-config says browser: true
and the WASM is served. The venv reuses the checkout venv's dependencies as tests/test_installed.py does."""

from __future__ import annotations

import ast
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from formcheck.webapp.live.browser_pose import TASKS_VISION_FILES
from tests.serverproc import free_port
from tests.test_installed import _env, _run

REPO = Path(__file__).resolve().parents[1]
SOURCE_FILES = ("pyproject.toml", "README.md", "setup.py", "package.json")
VENDORED = "formcheck/vendor_npm/@mediapipe/tasks-vision/"
BUILD_TIMEOUT_S = 600.0
START_TIMEOUT_S = 60.0
TOKEN = "wheel-test-token"
WASM = "wasm/vision_wasm_module_internal.wasm"


def test_setup_vendors_the_files_the_app_serves() -> None:
    tree = ast.parse((REPO / "setup.py").read_text())
    files = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FILES"
    )
    assert tuple(files) == TASKS_VISION_FILES


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None:
        pytest.skip("building the wheel needs npm")
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO / "formcheck", src / "formcheck", ignore=shutil.ignore_patterns("__pycache__"))
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, src / name)
    dist = root / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)]
    _run(cmd, cwd=root, env=_env(root), timeout_s=BUILD_TIMEOUT_S)
    (whl,) = dist.glob("formcheck-*.whl")
    return whl


@pytest.mark.video  # a pip build with npm and a server: the slower tier
def test_the_wheel_carries_only_the_runtime(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    vendored = sorted(n.removeprefix(VENDORED) for n in names if n.startswith(VENDORED))
    assert vendored == sorted(TASKS_VISION_FILES), vendored  # no README, sources, .d.ts or source maps


@pytest.mark.video
def test_a_venv_with_the_wheel_runs_pose_in_the_browser(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python, env = venv / "bin" / "python", _env(tmp_path)
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path, env=env, timeout_s=30).strip())  # fmt: skip
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_checkout_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    (tmp_path / "cwd").mkdir()
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=tmp_path, env=env, timeout_s=300)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "formcheck"), "serve", "--host", "127.0.0.1", "--port", str(port), "--single-user"],
        cwd=tmp_path / "cwd", env={**env, "FORMCHECK_TOKEN": TOKEN}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{base}/signin", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server from the wheel did not answer in time"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30.0, follow_redirects=True) as client:
            assert client.get(f"/?token={TOKEN}").status_code == 200
            config = client.get("/api/live/pose-config").json()
            assert config["browser"] is True, config
            wasm = client.get(f"{config['wasm_url']}/{WASM.removeprefix('wasm/')}")
            assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
            assert len(wasm.content) > 1_000_000
            assert client.get(config["bundle_url"]).status_code == 200
            assert client.get("/live").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()
