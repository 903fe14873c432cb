"""The flagged-rep review queue: invalid reps from live sets and uploads, as one list of wire items."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import HTTPException, status
from pydantic import BaseModel

from formcheck.store import Person, RepRow, Store
from formcheck.webapp import repo, thresholds
from formcheck.webapp.schemas import ReviewPublic

CLIP_MARGIN_S = 0.5  # show a little before and after the rep in the looping clip


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


def held(store: Store, person_id: int) -> bool:
    """Whether progression is held: the last hold/release action wins."""
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
        person_name=repo.shown_name(person),
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
                    person_name=repo.shown_name(person),
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


def latest_reviews(store: Store, person_id: int) -> dict[str, ReviewPublic]:
    latest: dict[str, ReviewPublic] = {}
    for r in sorted(
        repo.person_reviews(store, person_id), key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC)
    ):
        latest[r.rep_key] = r
    return latest


def queue_items(store: Store, people: list[Person], *, open_only: bool) -> list[QueueItem]:
    items: list[QueueItem] = []
    for p in people:
        reviews = latest_reviews(store, p.id)
        for session in store.list_sessions(p.id):
            for rep in store.list_reps(session_id=session.id):
                if not rep.valid:
                    items.append(_live_item(store, p, rep, reviews.get(repo.live_rep_key(rep.id))))
        items.extend(_upload_items(store, p, reviews))
    if open_only:
        items = [i for i in items if i.review is None]
    items.sort(key=lambda i: i.at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return items


def rep_item(store: Store, owner_id: int, key: str) -> QueueItem:
    for item in queue_items(store, [store.get_person_by_id(owner_id)], open_only=False):
        if item.key == key:
            return item
    raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")


def action_summary(kind: str, payload: dict[str, Any]) -> str:
    """One line for a clinician action (level, thresholds, rep review) and its note."""
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
