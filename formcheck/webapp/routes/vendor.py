"""Front-end packages from npm (package.json, installed by `make setup`), served by the app itself: no CDN.

Only the files listed here are served, so node_modules is never browsable: of @mediapipe/tasks-vision only the
runtime the pose worker loads (no README, sources, type declarations or source maps, issue 17 L6). Each file has
an ETag and long caching (the versions are pinned), so the ~22 MB of WASM is downloaded once, not per visit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from formcheck.webapp.assets import vendor_path

router = APIRouter(tags=["pages"])

TASKS_VISION = "@mediapipe/tasks-vision"
# URL under /vendor/ → (the file inside node_modules/, its media type). package.json pins the versions.
VENDOR_FILES: dict[str, tuple[str, str]] = {
    "uplot/uPlot.iife.min.js": ("uplot/dist/uPlot.iife.min.js", "text/javascript"),
    "uplot/uPlot.min.css": ("uplot/dist/uPlot.min.css", "text/css"),
    "axe-core/axe.min.js": ("axe-core/axe.min.js", "text/javascript"),
    # what FilesetResolver.forVisionTasks(url, true) loads in the pose worker (static/pose-worker.js)
    "tasks-vision/vision_bundle.mjs": (f"{TASKS_VISION}/vision_bundle.mjs", "text/javascript"),
    "tasks-vision/wasm/vision_wasm_module_internal.js": (
        f"{TASKS_VISION}/wasm/vision_wasm_module_internal.js",
        "text/javascript",
    ),
    "tasks-vision/wasm/vision_wasm_module_internal.wasm": (
        f"{TASKS_VISION}/wasm/vision_wasm_module_internal.wasm",
        "application/wasm",
    ),
}
CACHE_CONTROL = "public, max-age=31536000, immutable"  # pinned versions (guards.ResponseHeaders says the same)


def file_etag(path: Path) -> str:
    """A strong validator from the file's size, mtime and inode (cheap: no hashing of 20 MB per request)."""
    st = os.stat(path)
    return '"' + hashlib.sha256(f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}".encode()).hexdigest()[:32] + '"'


def etag_matches(request: Request, etag: str) -> bool:
    supplied = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in supplied.split(",") if tag.strip())


def cached_file(request: Request, path: Path, media_type: str, cache_control: str, etag: str | None = None) -> Response:
    """The file with its ETag, or 304 when the browser's copy is current."""
    etag = etag or file_etag(path)
    headers = {"Cache-Control": cache_control, "ETag": etag}
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


def _serve(request: Request, rel: str, media_type: str) -> Response:
    path = vendor_path(rel)
    if not path.is_file():
        raise HTTPException(404, f"{rel} is not installed: run `make setup` (needs npm)")
    return cached_file(request, path, media_type, CACHE_CONTROL)


def _endpoint(rel: str, media_type: str) -> Callable[[Request], Response]:
    """The endpoint of one vendored file: a closure whose only parameter is the request, so no query string can
    name another file (default arguments would be query parameters: `?rel=../../etc/passwd`)."""

    def serve(request: Request) -> Response:
        return _serve(request, rel, media_type)

    serve.__doc__ = f"{rel} from npm (package.json), served locally."
    return serve


def _add_routes() -> None:
    """One GET route per vendored file (public, like /static): nothing else under node_modules is reachable."""
    for url, (rel, media_type) in VENDOR_FILES.items():
        router.add_api_route(
            f"/vendor/{url}",
            _endpoint(rel, media_type),
            methods=["GET"],
            response_class=FileResponse,
            name="vendor_" + url.replace("/", "_"),
        )


_add_routes()
PUBLIC_ROUTES = frozenset(("GET", f"/vendor/{url}") for url in VENDOR_FILES)
