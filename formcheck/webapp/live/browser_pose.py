"""Pose in the browser: serves MediaPipe's tasks-vision (npm, WASM) and the server's own .task bundle locally.

The live page asks GET /api/live/pose-config which path to use. Browser pose needs the npm package installed
by `make run` / `make test` (top-level package.json) and the setting FORMCHECK_LIVE_POSE=auto (the default);
otherwise, or when the browser cannot run it (no WebAssembly, worker failed, too slow), the page sends JPEGs
and the server runs pose. Nothing comes from a CDN: /vendor/tasks-vision/ is node_modules/@mediapipe/tasks-vision
and /models/pose.task is the bundle `formcheck models` built (same bytes as the server's, sha256 given).
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response

from formcheck.errors import FormcheckError
from formcheck.webapp.assets import node_modules_dir, vendor_path
from formcheck.webapp.deps import CurrentUser
from formcheck.webapp.routes.vendor import cached_file

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

TASKS_VISION_PACKAGE = Path("@mediapipe") / "tasks-vision"
TASKS_VISION_FILES = (
    "vision_bundle.mjs",
    "wasm/vision_wasm_module_internal.js",
    "wasm/vision_wasm_module_internal.wasm",
)
VENDOR_URL = "/vendor/tasks-vision"
MODEL_URL = "/models/pose.task"
MODEL_CACHE_S = 7 * 24 * 3600  # revalidated by its sha256 ETag after a week (a rebuilt bundle has a new hash)
# A page whose own pose takes longer than this per frame (median over SLOW_WINDOW frames) switches to server
# pose: below ~6 fps a rep's bottom is easily missed (judgement call; the CPU-only worst case measured in
# headless Chromium on 2 shared cores is ~90 ms, docs/platform.md §4).
SLOW_POSE_MS = 160.0
SLOW_WINDOW = 30


def tasks_vision_dir(settings: Any) -> Path:
    """@mediapipe/tasks-vision in the npm folder the app serves (vendor.node_modules_dir)."""
    return node_modules_dir() / TASKS_VISION_PACKAGE


def vendor_missing(settings: Any) -> str | None:
    """Why browser pose cannot be offered (None when the npm files are there)."""
    missing = [f for f in TASKS_VISION_FILES if not vendor_path(TASKS_VISION_PACKAGE / f).is_file()]
    if missing:
        return (
            "the @mediapipe/tasks-vision npm package is not installed (run `make run`, which uses npm, or install "
            "a wheel built with npm: it carries it); pose runs on the server"
        )
    return None


def install(app: FastAPI) -> None:
    """The config/model routes (the runtime files of tasks-vision are routes/vendor.py's VENDOR_FILES)."""
    settings = app.state.settings
    mimetypes.add_type("text/javascript", ".mjs")
    mimetypes.add_type("application/wasm", ".wasm")
    if vendor_missing(settings) is not None:
        log.warning("browser pose unavailable: %s", vendor_missing(settings))
    app.include_router(router)


def _model(request: Request) -> Any:
    """The server's pose bundle (ModelInfo), resolved once per app (hashing 9 MB per request would be waste)."""
    info = getattr(request.app.state, "browser_pose_model", None)
    if info is None:
        from formcheck.media.models import ensure_model

        info = ensure_model(build=False)
        request.app.state.browser_pose_model = info
    return info


@router.get("/api/live/pose-config")
def pose_config(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Which pose path the live page should use, and where its files are."""
    settings = request.app.state.settings
    reason = None
    if settings.live_pose == "server":
        reason = "this server is set to run pose itself (FORMCHECK_LIVE_POSE=server)"
    else:
        reason = vendor_missing(settings)
    model = None
    if reason is None:
        try:
            model = _model(request)
        except FormcheckError as exc:
            reason = f"the pose model is not available: {exc}"
    return {
        "browser": reason is None,
        "reason": reason,
        "vendor_url": VENDOR_URL,
        "bundle_url": f"{VENDOR_URL}/vision_bundle.mjs",
        "wasm_url": f"{VENDOR_URL}/wasm",
        "model_url": MODEL_URL,
        "model_sha256": model.sha256 if model else None,
        "slow_pose_ms": SLOW_POSE_MS,
        "slow_window": SLOW_WINDOW,
    }


@router.get(MODEL_URL, response_class=FileResponse)
def pose_model(request: Request, user: CurrentUser) -> Response:
    """The same .task bundle the server runs (so browser and server pose agree)."""
    try:
        info = _model(request)
    except FormcheckError as exc:
        raise HTTPException(503, f"the pose model is not available: {exc}") from None
    return cached_file(
        request, Path(info.path), "application/octet-stream", f"private, max-age={MODEL_CACHE_S}", f'"{info.sha256}"'
    )
