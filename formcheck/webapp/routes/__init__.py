"""The web app's routes, one module per domain; `include_all` adds them to an app in the order they match."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse


def include_all(app: FastAPI) -> None:
    """Sign-in, uploads, the clinician's API (triage, people, reps, exports), the person's own JSON views, the npm
    files, the pages, then the live coach (its page, day flow and socket) and in-browser pose."""
    from formcheck.webapp.live import browser_pose
    from formcheck.webapp.live import router as live_router
    from formcheck.webapp.routes import auth, clinician, me, pages, reports, reps, triage, uploads, vendor

    for router in (auth.router, uploads.router, triage.router, clinician.router, reps.router, reports.router):
        app.include_router(router)
    app.include_router(me.router, default_response_class=JSONResponse)
    app.include_router(vendor.router)
    app.include_router(pages.router)
    app.include_router(live_router)
    browser_pose.install(app)  # /api/live/pose-config, /models/pose.task, /vendor/tasks-vision (issue 12)
