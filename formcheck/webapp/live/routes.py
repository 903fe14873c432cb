"""The live coach's routes: the /live page, what the page is told (landmark table, pain zones, texts), the
day-flow REST API (today's plan, session, readiness, pain, clip setting) and the /ws/live WebSocket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from formcheck.core.feedback import PAGE_TEXTS
from formcheck.core.landmarks import CONNECTIONS, LR_PAIRS, N_LANDMARKS, Lm
from formcheck.core.pain import PAIN_ZONES
from formcheck.core.spec import exercise_ids, load_exercise
from formcheck.core.types import VISIBILITY_MIN
from formcheck.errors import FormcheckError
from formcheck.webapp.deps import CurrentUser, OwnSession, PathId, PersonUser, StoreDep, websocket_user
from formcheck.webapp.live import protocol as p
from formcheck.webapp.live.connection import LiveConnection
from formcheck.webapp.live.exercise_demo import router as demo_router
from formcheck.webapp.live.recorder import CLIP_SETTING, person_stores_clips, programme_service
from formcheck.webapp.live.replies import to_jsonable
from formcheck.webapp.live.runtime import take_skbt_verdict
from formcheck.webapp.schemas import User

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])
router.include_router(demo_router)

SKB_TEST_REPS = 5  # the Small Knee Bend Test is five shallow bends (programme readiness step text)
FACE_LANDMARKS = frozenset(lm for lm in Lm if lm < Lm.LEFT_SHOULDER and lm is not Lm.NOSE)  # drawn as bones only
READINESS_TITLES = {
    "ready": "Ready — let's go",
    "not_ready": "Not today: your knee needs rest",
    "retry": "Let's redo the test",
    "incomplete": "One step is missing",
}


# ------------------------------------------------------------------------------------------------ page route


@router.get("/live", response_class=FileResponse, tags=["pages"])
def live_page(request: Request, user: CurrentUser) -> FileResponse:
    """The live coaching page (static HTML; everything else comes over the API and the WebSocket).

    Anonymous browsers get the app's 401 page, which forwards to sign-in and back here.
    """
    page = request.app.state.settings.resolved_web_dir / "live.html"
    if not page.is_file():
        raise HTTPException(500, "web/live.html is missing from this installation")
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-store"})


def landmark_table() -> dict[str, Any]:
    """The BlazePose table the page draws by (formcheck.core.landmarks): names by index, sides, bones, joints."""
    side = dict.fromkeys(range(N_LANDMARKS), None) | {int(a): "left" for a, _ in LR_PAIRS}
    side |= {int(b): "right" for _, b in LR_PAIRS}
    edges = [[int(a), int(b)] for a, b in CONNECTIONS]
    return {
        "names": [lm.name for lm in Lm],
        "sides": [side[i] for i in range(N_LANDMARKS)],
        "edges": edges,
        "joints": sorted({i for e in edges for i in e} - {int(f) for f in FACE_LANDMARKS}),
        "visibility_min": VISIBILITY_MIN,
    }


@router.get("/api/live/page-config")
def live_page_config(user: CurrentUser) -> dict[str, Any]:
    """What the page needs to draw and word things the server's way: the landmark table, the pain scale's
    zones, the coach's fixed texts and the protocol version (the page decides none of these itself)."""
    return {
        "protocol": p.PROTOCOL_VERSION,
        "landmarks": landmark_table(),
        "pain_zones": [{"zone": str(b.zone), "min": b.min, "max": b.max} for b in PAIN_ZONES],
        "texts": dict(PAGE_TEXTS),
        "skb_reps": SKB_TEST_REPS,
    }


# ------------------------------------------------------------------------------------------- day-flow JSON API


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadinessIn(_Body):
    massage_done: bool
    vmo_done: bool
    skbt_verdict: str | None = Field(None, pattern="^(valid|invalid|unknown)$")  # ignored: the server's counts
    skbt_pain: int = Field(ge=0, le=10)


class PainIn(_Body):
    pain_during: int = Field(ge=0, le=10)
    pain_after: int = Field(ge=0, le=10)


class LiveSettingsIn(_Body):
    store_flagged_clips: bool


def _exercise_info(exercise_id: str) -> dict[str, Any]:
    spec = load_exercise(exercise_id)
    return {
        "id": spec.id,
        "name": spec.name,
        "instructions": spec.instructions,
        "views": [str(v) for v in spec.views],
        "sided": str(spec.side_mode) != "bilateral",
        "is_hold": spec.is_hold,
        "hold_s": spec.hold.target_s if spec.hold is not None else None,
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@router.get("/api/live/today")
def live_today(request: Request, user: PersonUser) -> dict[str, Any]:
    """Today's flow for the live page: readiness steps, then the level's exercises in order (or a rest day)."""
    svc = programme_service(request.app)
    plan = svc.plan(svc.store.get_person_by_id(user.id))
    open_session = next(
        (s.id for s in svc.store.list_sessions(user.id) if s.status.value == "in_progress" and s.day == plan.day), None
    )
    dose = ("sets", "reps", "hold_s", "sides", "rest_s", "note")
    exercises = [{**_exercise_info(ex.exercise_id), **{k: getattr(ex, k) for k in dose}} for ex in plan.exercises]
    rest_day = plan.kind != "exercise"
    return {
        "day": plan.day.isoformat(),
        "level": plan.level,
        "level_name": plan.level_name,
        "focus": plan.focus,
        "rest_day": rest_day,
        "title": "Rest day" if rest_day else plan.level_name,
        "message": " ".join([plan.reason, *plan.messages]).strip(),
        "readiness_status": to_jsonable(plan.readiness),
        "readiness": [
            {"id": r.id, "title": r.title, "instructions": r.instructions, "minutes": r.minutes}
            for r in plan.readiness_steps
        ],
        "skb_reps": SKB_TEST_REPS,
        "exercises": exercises,
        "session_id": open_session,
        "remaining_s": round(plan.remaining_s),
        "estimated_min": round(plan.estimated_min, 1),
    }


@router.get("/api/live/exercises")
def live_exercises(user: CurrentUser) -> list[dict[str, Any]]:
    """Every exercise the live coach can judge (for practice sets outside the programme)."""
    return [_exercise_info(i) for i in exercise_ids()]


@router.post("/api/live/sessions")
def live_start_session(request: Request, user: PersonUser) -> dict[str, Any]:
    """Start (or resume) today's session; refused on a rest day with the reason."""
    svc = programme_service(request.app)
    row = svc.start_session(svc.store.get_person_by_id(user.id))
    return {"session_id": row.id, "level": row.level, "day": row.day.isoformat()}


@router.post("/api/live/sessions/{session_id}/readiness")
def live_readiness(session_id: PathId, session: OwnSession, body: ReadinessIn, request: Request) -> dict[str, Any]:
    """The three readiness steps + the Small Knee Bend Test's camera verdict and pain: ready or not today.

    The verdict is the one this server judged on the person's live socket (runtime.take_skbt_verdict); the page's
    `skbt_verdict` is only an echo of it and is ignored, so a test never done or done badly cannot pass."""
    svc = programme_service(request.app)
    status, reason = svc.record_readiness(
        session_id,
        massage_done=body.massage_done,
        vmo_done=body.vmo_done,
        skbt_verdict=take_skbt_verdict(svc.store, session.person_id),
        skbt_pain=body.skbt_pain,
    )
    return {
        "ready": str(status) == "ready",
        "status": str(status),
        "title": READINESS_TITLES.get(str(status), str(status)),
        "message": _sentence(reason),
    }


@router.post("/api/live/sessions/{session_id}/pain")
def live_finish(session_id: PathId, session: OwnSession, body: PainIn, request: Request) -> dict[str, Any]:
    """Pain during and after: closes the session and returns the programme's decision in words."""
    svc = programme_service(request.app)
    d = svc.finish_session(session_id, pain_during=body.pain_during, pain_after=body.pain_after)
    return {
        "action": str(d.action),
        "level": d.level,
        "message": _sentence(d.reason),
        "flag_clinician": d.flag_clinician,
    }


@router.get("/api/live/settings")
def live_settings(user: CurrentUser, store: StoreDep) -> dict[str, bool]:
    return {CLIP_SETTING: person_stores_clips(store, user)}


@router.put("/api/live/settings")
def live_settings_put(body: LiveSettingsIn, user: CurrentUser, store: StoreDep) -> dict[str, bool]:
    """Switch short clips of flagged reps on or off for this person (kept locally, shown to their clinician)."""
    store.update_settings(user.id, {CLIP_SETTING: body.store_flagged_clips})
    return {CLIP_SETTING: person_stores_clips(store, user)}


# ------------------------------------------------------------------------------------------------ endpoint


@router.websocket("/ws/live")
async def live_socket(ws: WebSocket) -> None:
    """Frames in, feedback out; see formcheck.webapp.live.protocol for the messages."""
    await ws.accept()
    user = await websocket_user(ws)
    if user is None:
        await ws.send_text(p.ErrorMsg(code="not_signed_in", message="Sign in first, then reload this page").wire())
        await ws.close(code=p.WS_CLOSE_POLICY, reason="not signed in")
        return
    browser_pose = ws.query_params.get("pose") == p.POSE_BROWSER
    # each server-pose socket holds a pose model and a core: capped per person and in all; a browser-pose socket
    # only validates and judges landmarks, so it counts against its own, larger cap
    slots = ws.app.state.browser_pose_slots if browser_pose else ws.app.state.live_slots
    refusal = slots.acquire(user.id)
    if refusal is not None:
        await ws.send_text(p.ErrorMsg(code=refusal.code, message=refusal.message).wire())
        await ws.close(code=p.WS_CLOSE_TRY_AGAIN, reason=refusal.message[:120])
        return
    try:
        await _serve_live(ws, user, browser_pose)
    finally:
        slots.release(user.id)


async def _open(conn: LiveConnection, ws: WebSocket, user: User, browser_pose: bool) -> bool:
    """Hello, the server's pose model (not for browser pose: it loads on a first JPEG only) and a set the
    query string asks for; False when the socket was refused and closed."""
    conn.set_clip_setting(await asyncio.to_thread(person_stores_clips, conn.store, user))
    await conn.send(p.Hello(store_flagged_clips=conn.store_clips, user=p.UserInfo(id=user.id, name=user.name)))
    if not browser_pose:
        try:
            conn.estimator = await conn.in_pose_thread(conn.estimator_factory)
        except FormcheckError as exc:
            await conn.fail(p.ProtocolError("model_unavailable", str(exc), close=p.WS_CLOSE_INTERNAL))
            return False
    if "exercise" in ws.query_params:
        try:
            req = p.StartSet.from_mapping(dict(ws.query_params))
        except ValueError as exc:
            await conn.fail(p.ProtocolError("bad_message", str(exc), close=p.WS_CLOSE_POLICY))
            return False
        if not await conn.start_set(req):
            await conn.close(p.WS_CLOSE_POLICY, "cannot start that set")
            return False
    return True


async def _serve_live(ws: WebSocket, user: User, browser_pose: bool = False) -> None:
    conn = LiveConnection(ws, user)
    conn.holds_live_slot = not browser_pose
    try:
        if await _open(conn, ws, user, browser_pose):
            await conn.run()
    except Exception:
        log.exception("live socket failed")
        await conn.send(p.ErrorMsg(code="internal", message="server error: reload the page"))
        await conn.close(p.WS_CLOSE_INTERNAL, "server error")
    finally:
        conn.shutdown()
        if browser_pose and conn.holds_live_slot:  # taken when this browser-pose socket switched to JPEGs
            ws.app.state.live_slots.release(user.id)
        # shielded: even if the server cancels this handler, the open set is ended and pending clips are kept
        await asyncio.shield(conn.finish())
