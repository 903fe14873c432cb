"""Clinician pages' JSON API: people, timelines, the flagged-rep queue, verdicts, programme controls, exports."""

from __future__ import annotations

import csv
import html
import io
import logging
import math
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from formcheck.errors import FormcheckError
from formcheck.store import Person, RepRow, Store
from formcheck.webapp import repo, thresholds, triage
from formcheck.webapp.deps import (
    ClinicianPerson,
    ClinicianRepOwner,
    ClinicianUser,
    ServiceDep,
    SettingsDep,
    StoreDep,
    require_person_visible,
)
from formcheck.webapp.guards import CSP
from formcheck.webapp.media import placeholder_svg, rep_strip_jpeg
from formcheck.webapp.schemas import (
    HoldIn,
    LevelIn,
    NoteIn,
    PersonPublic,
    ReviewPublic,
    ThresholdIn,
    VerdictIn,
)
from formcheck.webapp.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["clinician"])
router.include_router(triage.router)

CLIP_MARGIN_S = 0.5  # show a little before and after the rep in the looping clip


# ------------------------------------------------------------------------------------------------ wire models
class FaultOut(BaseModel):
    rule: str
    value: float | None
    threshold: float | None
    unit: str


class CheckOut(BaseModel):
    rule: str
    status: str  # ok | fault | advisory | unknown
    value: float | None
    threshold: float | None
    unit: str
    reason: str = ""


class QueueItem(BaseModel):
    key: str
    source: Literal["live", "upload"]
    person_id: int
    person_name: str
    exercise_id: str
    side: str | None
    index: int
    start_s: float
    end_s: float
    verdict: str
    reason: str
    faults: list[FaultOut]
    checks: list[CheckOut] = []
    metrics: dict[str, Any]
    at: datetime | None
    strip_url: str
    clip_url: str | None = None
    clip_start_s: float = 0.0
    clip_end_s: float = 0.0
    review: ReviewPublic | None = None


class SessionPoint(BaseModel):
    session_id: int
    day: date
    level: int
    status: str
    valid_reps: int
    total_reps: int
    pain_during: int | None
    pain_after: int | None
    exercise_s: float


class PainPoint(BaseModel):
    day: date
    kind: str
    pain: int


class ActionOut(BaseModel):
    kind: str
    day: date
    actor_name: str
    summary: str


class RuleOut(BaseModel):
    exercise_id: str
    exercise_name: str
    rule_id: str
    rule_name: str
    unit: str
    limit: float
    override: float | None
    min: float | None = None  # the valid range of a per-person limit, in `unit` (triage.threshold_range)
    max: float | None = None
    step: float | None = None


class PersonDetail(BaseModel):
    person: PersonPublic
    level: int | None
    max_level: int
    held: bool
    flagged_open: int
    sessions: list[SessionPoint]
    pain: list[PainPoint]
    actions: list[ActionOut]
    rules: list[RuleOut]


# ------------------------------------------------------------------------------------------------ helpers
def _held(store: Store, person_id: int) -> bool:
    held = False
    for a in store.list_clinician_actions(person_id):
        if a.kind == "hold":
            held = True
        elif a.kind == "release":
            held = False
    return held


def _faults(raw: Any) -> list[FaultOut]:
    out = []
    for f in raw or ():
        get = f.get if isinstance(f, dict) else lambda k, f=f: getattr(f, k, None)
        out.append(
            FaultOut(
                rule=str(get("rule")),
                value=_num(get("value")),
                threshold=_num(get("threshold")),
                unit=str(get("unit") or ""),
            )
        )
    return out


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _live_item(store: Store, person: Person, rep: RepRow, review: ReviewPublic | None) -> QueueItem:
    key = repo.live_rep_key(rep.id)
    clips = store.list_rep_clips(rep.id)
    return QueueItem(
        key=key,
        source="live",
        person_id=person.id,
        person_name=person.display_name or person.name,
        exercise_id=store.get_set(rep.set_id).exercise_id,
        side=rep.side,
        index=rep.idx,
        start_s=rep.start_s,
        end_s=rep.end_s,
        verdict=rep.verdict,
        reason=rep.reason,
        faults=_faults(rep.faults),
        metrics=dict(rep.metrics or {}),
        at=rep.created_at,
        strip_url=f"/api/clinician/reps/{key}/strip",
        clip_url=f"/api/clinician/reps/{key}/clip" if clips else None,
        clip_start_s=0.0,
        clip_end_s=max(0.0, rep.end_s - rep.start_s) + 2 * CLIP_MARGIN_S,
        review=review,
    )


def _upload_items(store: Store, person: Person, reviews: dict[str, ReviewPublic]) -> list[QueueItem]:
    items = []
    for up in store.list_uploads(person.id):
        job = repo.latest_job(store, up.id)
        if job is None or job.status != "done" or not job.result:
            continue
        for r in job.result.get("report", {}).get("reps", []):
            if r.get("valid", True):
                continue
            key = repo.upload_rep_key(up.id, int(r["index"]))
            metrics = {k: v for k, v in (r.get("peak") or {}).items() if isinstance(v, int | float)}
            checks = [
                CheckOut(
                    rule=str(c.get("rule")),
                    status=str(c.get("status")),
                    value=_num(c.get("value")),
                    threshold=_num(c.get("threshold")),
                    unit=str(c.get("unit") or ""),
                    reason=str(c.get("reason") or ""),
                )
                for c in r.get("checks") or ()
            ]
            items.append(
                QueueItem(
                    key=key,
                    source="upload",
                    person_id=person.id,
                    person_name=person.display_name or person.name,
                    exercise_id=up.exercise_id,
                    side=r.get("side"),
                    index=int(r["index"]),
                    start_s=float(r["start_s"]),
                    end_s=float(r["end_s"]),
                    verdict=str(r.get("verdict") or "invalid"),
                    reason=str(r.get("why") or ""),
                    faults=_faults(r.get("faults")),
                    checks=checks,
                    metrics=metrics,
                    at=up.created_at,
                    strip_url=f"/api/clinician/reps/{key}/strip",
                    clip_url=f"/api/uploads/{up.id}/video",
                    clip_start_s=max(0.0, float(r["start_s"]) - CLIP_MARGIN_S),
                    clip_end_s=float(r["end_s"]) + CLIP_MARGIN_S,
                    review=reviews.get(key),
                )
            )
    return items


def _latest_reviews(store: Store, person_id: int) -> dict[str, ReviewPublic]:
    latest: dict[str, ReviewPublic] = {}
    for r in sorted(
        repo.person_reviews(store, person_id), key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC)
    ):
        latest[r.rep_key] = r
    return latest


def queue_items(store: Store, people: list[Person], *, open_only: bool) -> list[QueueItem]:
    items: list[QueueItem] = []
    for p in people:
        reviews = _latest_reviews(store, p.id)
        for session in store.list_sessions(p.id):
            for rep in store.list_reps(session_id=session.id):
                if not rep.valid:
                    items.append(_live_item(store, p, rep, reviews.get(repo.live_rep_key(rep.id))))
        items.extend(_upload_items(store, p, reviews))
    if open_only:
        items = [i for i in items if i.review is None]
    items.sort(key=lambda i: i.at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return items


def _rep_item(store: Store, owner_id: int, key: str) -> QueueItem:
    for item in queue_items(store, [store.get_person_by_id(owner_id)], open_only=False):
        if item.key == key:
            return item
    raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")


# ------------------------------------------------------------------------------------------------ people
@router.get("/api/clinician/people", response_model=list[PersonPublic])
def list_people(user: ClinicianUser, store: StoreDep, service: ServiceDep) -> list[PersonPublic]:
    """The people under this clinician's care."""
    people = store.list_people(role="person", clinician_id=user.id)
    open_counts: dict[int, int] = {}
    for item in queue_items(store, people, open_only=True):
        open_counts[item.person_id] = open_counts.get(item.person_id, 0) + 1
    out = []
    for p in people:
        sessions = store.list_sessions(p.id)
        out.append(
            PersonPublic(
                id=p.id,
                name=p.display_name or p.name,
                level=service.plan(p).level,
                held=_held(store, p.id),
                last_session_at=max((s.started_at for s in sessions), default=None),
                flagged_open=open_counts.get(p.id, 0),
            )
        )
    return out


@router.get("/api/clinician/people/{person_id}", response_model=PersonDetail)
def person_detail(p: ClinicianPerson, store: StoreDep, service: ServiceDep) -> PersonDetail:
    """One person's timeline (sessions, level, pain, valid-rep ratio), controls state and recent changes."""
    summaries = store.session_summaries(p.id)
    level = service.plan(p).level
    flagged_open = len(queue_items(store, [p], open_only=True))
    overrides = thresholds.all_overrides(store, p.id)
    from formcheck.core.spec import load_all

    rules = [
        RuleOut(
            exercise_id=s.id,
            exercise_name=s.name,
            rule_id=r.id,
            rule_name=r.name,
            unit=r.unit,
            limit=r.limit,
            override=overrides.get((s.id, r.id)),
            min=triage.threshold_range(r.unit, r.limit)[0],
            max=triage.threshold_range(r.unit, r.limit)[1],
            step=triage.UNIT_STEP.get(r.unit),
        )
        for s in sorted(load_all().values(), key=lambda s: s.name)
        for r in s.rules
    ]
    return PersonDetail(
        person=PersonPublic(
            id=p.id,
            name=p.display_name or p.name,
            level=level,
            held=_held(store, p.id),
            flagged_open=flagged_open,
            last_session_at=max((s.session.started_at for s in summaries), default=None),
        ),
        level=level,
        max_level=service.programme.max_level,
        held=_held(store, p.id),
        flagged_open=flagged_open,
        sessions=[
            SessionPoint(
                session_id=s.session.id,
                day=s.session.day,
                level=s.session.level,
                status=str(s.session.status),
                valid_reps=s.valid_reps,
                total_reps=s.total_reps,
                pain_during=s.pain_during,
                pain_after=s.pain_after,
                exercise_s=s.exercise_s,
            )
            for s in sorted(summaries, key=lambda s: s.session.started_at)
        ],
        pain=[PainPoint(day=x.day, kind=x.kind, pain=x.pain) for x in store.list_pain(p.id)],
        actions=[
            ActionOut(
                kind="rep_review" if repo.REP_REVIEW in a.payload else a.kind,
                day=a.day,
                actor_name=repo.display_name(store, a.actor_id),
                summary=_summary(a.kind, a.payload),
            )
            for a in reversed(store.list_clinician_actions(p.id))
        ],
        rules=rules,
    )


def _summary(kind: str, payload: dict[str, Any]) -> str:
    note = str(payload.get("note") or "")
    if kind == "set_level":
        text = f"to level {payload.get('level')}"
    elif kind == "thresholds":
        text = thresholds.summary(payload)
    elif isinstance(payload.get(repo.REP_REVIEW), dict):
        rv = payload[repo.REP_REVIEW]
        text = f"{'agreed' if rv.get('agree') else 'disagreed'} on rep {rv.get('rep_index')} of an upload"
    else:
        text = ""
    return " — ".join(x for x in (text, note) if x)


# ------------------------------------------------------------------------------------------------ controls
@router.post("/api/clinician/people/{person_id}/level")
def set_level(
    p: ClinicianPerson, body: LevelIn, user: ClinicianUser, store: StoreDep, service: ServiceDep
) -> dict[str, Any]:
    """Set the person's programme level (recorded with who and when; the engine plans from it)."""
    service.set_level(p, store.get_person_by_id(user.id), body.level, body.note)
    return {"level": service.plan(p).level}


@router.post("/api/clinician/people/{person_id}/hold")
def set_hold(
    p: ClinicianPerson, body: HoldIn, user: ClinicianUser, store: StoreDep, service: ServiceDep
) -> dict[str, Any]:
    """Hold progression at the current level, or release the hold."""
    me = store.get_person_by_id(user.id)
    if body.hold:
        service.hold(p, me, body.note)
    else:
        service.release(p, me, body.note)
    return {"held": _held(store, p.id)}


@router.post("/api/clinician/people/{person_id}/thresholds")
def set_threshold(
    p: ClinicianPerson, body: ThresholdIn, user: ClinicianUser, store: StoreDep, service: ServiceDep
) -> dict[str, Any]:
    """A per-person limit for one rule of one exercise (e.g. allow more knee valgus in squats early on);
    `threshold: null` removes it. In the rule's unit and within its range (triage.threshold_range: half to
    double the library limit), refused with that range otherwise."""
    rule = thresholds.rule_of(body.exercise_id, body.rule_id)
    triage.check_threshold(rule.id, rule.unit, float(rule.limit), body.threshold, body.unit)
    limit = thresholds.record(
        store, p.id, user.id, body.exercise_id, body.rule_id, body.threshold, body.note, service.today()
    )
    return {"exercise_id": body.exercise_id, "rule_id": body.rule_id, "threshold": limit}


@router.post("/api/clinician/people/{person_id}/notes")
def add_note(
    p: ClinicianPerson, body: NoteIn, user: ClinicianUser, store: StoreDep, service: ServiceDep
) -> dict[str, Any]:
    service.add_note(p, store.get_person_by_id(user.id), body.note)
    return {"ok": True}


# ------------------------------------------------------------------------------------------------ queue & reps
@router.get("/api/clinician/queue", response_model=list[QueueItem])
def queue(
    user: ClinicianUser,
    store: StoreDep,
    status_: Annotated[Literal["open", "all"], Query(alias="status")] = "open",
    person: int | None = None,
    exercise: Annotated[str | None, Query(max_length=64)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> list[QueueItem]:
    """Flagged (invalid) reps across this clinician's people, from live sessions and uploads, newest first;
    filtered by person, exercise, rule at fault and day range (inclusive)."""
    people = store.list_people(role="person", clinician_id=user.id)
    if person is not None:
        require_person_visible(store, user, person)
        people = [p for p in people if p.id == person]
    items = triage.filter_items(
        queue_items(store, people, open_only=status_ == "open"),
        exercise=exercise,
        rule=rule,
        date_from=date_from,
        date_to=date_to,
    )
    return items[:limit] if limit else items


@router.get("/api/clinician/reps/{rep_key}", response_model=QueueItem)
def rep_detail(rep_key: str, owner: ClinicianRepOwner, store: StoreDep) -> QueueItem:
    return _rep_item(store, owner, rep_key)


@router.get(
    "/api/clinician/reps/{rep_key}/strip",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/svg+xml": {}}}},
)
def rep_strip(rep_key: str, owner: ClinicianRepOwner, store: StoreDep, settings: SettingsDep) -> Response:
    """Frames from the rep's start to its end (from the uploaded video or the stored clip), as one JPEG."""
    item = _rep_item(store, owner, rep_key)
    cache = settings.data_dir / "cache" / "strips" / f"{rep_key}.jpg"
    if cache.exists():
        return Response(cache.read_bytes(), media_type="image/jpeg")
    source, start_s, end_s = _rep_video(store, settings, item)
    if source is None:
        return Response(
            placeholder_svg("No clip kept for this rep (clips are off for this person)"), media_type="image/svg+xml"
        )
    try:
        jpeg = rep_strip_jpeg(source, start_s, end_s)
    except FormcheckError as exc:
        return Response(placeholder_svg(str(exc)), media_type="image/svg+xml")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(jpeg)
    return Response(jpeg, media_type="image/jpeg")


def _rep_video(store: Store, settings: Settings, item: QueueItem) -> tuple[Path | None, float, float]:
    source, ident, _ = repo.parse_rep_key(item.key)
    if source == "upload":
        up = store.get_upload(ident)
        return _inside(settings, up.stored_path), item.start_s, item.end_s
    clips = store.list_rep_clips(ident)
    if not clips:
        return None, 0.0, 0.0
    clip = _inside(settings, clips[-1].path)
    return clip, 0.0, max(0.1, item.end_s - item.start_s) + 2 * CLIP_MARGIN_S


def _inside(settings: Settings, rel: str) -> Path | None:
    path = (settings.data_dir / rel).resolve()
    if settings.data_dir.resolve() not in path.parents or not path.is_file():
        return None
    return path


@router.get("/api/clinician/reps/{rep_key}/clip", response_class=FileResponse)
def rep_clip(rep_key: str, owner: ClinicianRepOwner, store: StoreDep, settings: SettingsDep) -> FileResponse:
    """The short clip stored for a live-session rep (only where the person switched clips on)."""
    item = _rep_item(store, owner, rep_key)
    source, ident, _ = repo.parse_rep_key(item.key)
    clips = store.list_rep_clips(ident) if source == "live" else []
    path = _inside(settings, clips[-1].path) if clips else None
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No clip stored for this rep")
    return FileResponse(path)


@router.post("/api/clinician/reps/{rep_key}/review", response_model=ReviewPublic)
def review_rep(
    rep_key: str, owner: ClinicianRepOwner, body: VerdictIn, user: ClinicianUser, store: StoreDep, service: ServiceDep
) -> ReviewPublic:
    """Agree or disagree with a flag, with a note the person sees on their pages."""
    item = _rep_item(store, owner, rep_key)
    source, ident, index = repo.parse_rep_key(rep_key)
    note = body.note.strip()
    if source == "live":
        store.add_rep_review(ident, user.id, agree=body.agree, note=note)
    else:
        up = store.get_upload(ident)
        payload = {
            "note": note,
            repo.REP_REVIEW: {
                "upload_id": ident,
                "rep_index": index,
                "agree": body.agree,
                "filename": up.original_filename,
            },
        }
        store.add_clinician_action(item.person_id, user.id, "note", payload, day=service.today())
    return _latest_reviews(store, item.person_id)[rep_key]


# ------------------------------------------------------------------------------------------------ exports
CSV_COLUMNS = (
    "date",
    "source",
    "level",
    "exercises",
    "status",
    "valid_reps",
    "total_reps",
    "valid_rep_ratio",
    "pain_during",
    "pain_after",
    "minutes",
)


def report_rows(store: Store, p: Person) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in sorted(store.session_summaries(p.id), key=lambda s: s.session.started_at):
        exercises = sorted({x.exercise_id for x in store.list_sets(s.session.id)})
        rows.append(
            {
                "date": s.session.day.isoformat(),
                "source": "live session",
                "level": s.session.level,
                "exercises": " ".join(exercises),
                "status": str(s.session.status),
                "valid_reps": s.valid_reps,
                "total_reps": s.total_reps,
                "valid_rep_ratio": f"{s.valid_reps / s.total_reps:.2f}" if s.total_reps else "",
                "pain_during": "" if s.pain_during is None else s.pain_during,
                "pain_after": "" if s.pain_after is None else s.pain_after,
                "minutes": f"{s.exercise_s / 60:.1f}",
            }
        )
    for up in sorted(store.list_uploads(p.id), key=lambda u: u.created_at):
        job = repo.latest_job(store, up.id)
        summary = ((job.result or {}).get("report") or {}).get("summary") or {} if job else {}
        reps, valid = summary.get("reps"), summary.get("valid_reps")
        rows.append(
            {
                "date": up.created_at.date().isoformat(),
                "source": "uploaded video",
                "level": "",
                "exercises": up.exercise_id,
                "status": job.status if job else "queued",
                "valid_reps": "" if valid is None else valid,
                "total_reps": "" if reps is None else reps,
                "valid_rep_ratio": f"{valid / reps:.2f}" if reps else "",
                "pain_during": "",
                "pain_after": "",
                "minutes": "",
            }
        )
    rows.sort(key=lambda r: r["date"])
    return rows


@router.get(
    "/api/clinician/people/{person_id}/report.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def report_csv(p: ClinicianPerson, store: StoreDep) -> Response:
    """One row per live session and per uploaded video: level, reps, valid-rep ratio, pain."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report_rows(store, p))
    safe = "".join(ch if ch.isalnum() else "_" for ch in p.name)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="formcheck_{safe}.csv"'},
    )


@router.get("/clinician/people/{person_id}/report", response_class=HTMLResponse)
def report_html(p: ClinicianPerson, user: ClinicianUser, store: StoreDep, service: ServiceDep) -> HTMLResponse:
    """The same report as a printable page (print to PDF from the browser)."""
    rows = report_rows(store, p)
    esc = html.escape
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in CSV_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(r[c]))}</td>" for c in CSV_COLUMNS) + "</tr>" for r in rows)
    actions = (
        "".join(
            f"<li><strong>{esc(('rep review' if repo.REP_REVIEW in a.payload else a.kind).replace('_', ' '))}</strong>"
            f" {esc(_summary(a.kind, a.payload))}"
            f" <span class='muted'>({esc(repo.display_name(store, a.actor_id))}, {a.day.isoformat()})</span></li>"
            for a in store.list_clinician_actions(p.id)
        )
        or "<li class='muted'>None</li>"
    )
    chart = _ratio_svg(rows)
    nonce = secrets.token_urlsafe(16)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Report: {esc(p.display_name)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="stylesheet" href="/static/app.css"></head>
<body><main class="page"><div class="page-head"><div><h1>Progress report: {esc(p.display_name)}</h1>
<p class="muted">Level {service.plan(p).level} · {"progression held" if _held(store, p.id) else "progressing"} ·
prepared {datetime.now(UTC).date().isoformat()} by {esc(user.name)}</p></div>
<div class="actions noprint"><button id="print">Print / save as PDF</button></div></div>
<section class="card"><h2>Valid-rep ratio</h2>{chart}</section>
<section class="card"><h2>Sessions and uploads</h2><table class="report"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>
<section class="card"><h2>Clinician changes and notes</h2><ul>{actions}</ul></section></main>
<script nonce="{nonce}">document.getElementById("print").addEventListener("click", () => window.print());</script>
</body></html>"""
    # The one inline script of the app runs under a per-response nonce; everything else stays 'self' only.
    csp = CSP.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'")
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})


def _ratio_svg(rows: list[dict[str, Any]]) -> str:
    pts = [(i, float(r["valid_rep_ratio"])) for i, r in enumerate(rows) if r["valid_rep_ratio"] != ""]
    if not pts:
        return "<p class='muted'>No reps yet.</p>"
    w, h, pad = 720, 160, 24
    n = max(1, len(rows) - 1)
    xy = [(pad + (w - 2 * pad) * i / n, h - pad - (h - 2 * pad) * v) for i, v in pts]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#15803d"/>' for x, y in xy)
    return (
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="valid-rep ratio over time">'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#dde3e9"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{w - pad}" y2="{pad}" stroke="#dde3e9" stroke-dasharray="4 4"/>'
        f'<text x="2" y="{pad + 4}" font-size="11" fill="#5d6b78">1.0</text>'
        f'<text x="2" y="{h - pad + 4}" font-size="11" fill="#5d6b78">0</text>'
        f'<polyline points="{line}" fill="none" stroke="#15803d" stroke-width="2"/>{dots}</svg>'
    )
