"""Front-end packages from npm (package.json, installed by `make setup`), served by the app itself: no CDN.

Only the files listed here are served, so node_modules is never browsable.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from formcheck.webapp.assets import node_modules_dir

router = APIRouter(tags=["pages"])

# /vendor/<package>/<file> → the file inside node_modules/<package>/ (package.json pins the versions).
VENDOR_FILES: dict[tuple[str, str], tuple[str, str]] = {
    ("uplot", "uPlot.iife.min.js"): ("dist/uPlot.iife.min.js", "text/javascript"),
    ("uplot", "uPlot.min.css"): ("dist/uPlot.min.css", "text/css"),
    ("axe-core", "axe.min.js"): ("axe.min.js", "text/javascript"),
}
CACHE_MAX_AGE_S = 86_400  # versions are pinned: a day of browser caching is safe


def _serve(package: str, rel: str, media_type: str) -> FileResponse:
    path = node_modules_dir() / package / rel
    if not path.is_file():
        raise HTTPException(404, f"{package} is not installed: run `make setup` (needs npm)")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": f"public, max-age={CACHE_MAX_AGE_S}"})


def _endpoint(package: str, rel: str, media_type: str) -> Callable[[], FileResponse]:
    """The endpoint of one vendored file: a closure without parameters, so no query string can name another file
    (default arguments would be query parameters: `?rel=../../etc/passwd`)."""

    def serve() -> FileResponse:
        return _serve(package, rel, media_type)

    serve.__doc__ = f"{package}/{rel} from npm (package.json), served locally."
    return serve


def _add_routes() -> None:
    """One GET route per vendored file (public, like /static): nothing else under node_modules is reachable."""
    for (package, name), (rel, media_type) in VENDOR_FILES.items():
        router.add_api_route(
            f"/vendor/{package}/{name}",
            _endpoint(package, rel, media_type),
            methods=["GET"],
            response_class=FileResponse,
            name=f"vendor_{package}_{name}",
        )


_add_routes()
PUBLIC_ROUTES = frozenset(("GET", f"/vendor/{package}/{name}") for package, name in VENDOR_FILES)
