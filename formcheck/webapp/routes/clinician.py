"""Clinician API: the people under their care, one person's timeline, and the programme controls."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from formcheck.webapp import repo, thresholds
from formcheck.webapp.deps import ClinicianPerson, ClinicianUser, ServiceDep, StoreDep
from formcheck.webapp.review_queue import action_summary, held, queue_items
from formcheck.webapp.routes import triage
from formcheck.webapp.schemas import HoldIn, LevelIn, NoteIn, PersonPublic, ThresholdIn

router = APIRouter(tags=["clinician"])


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
                name=repo.shown_name(p),
                level=service.plan(p).level,
                held=held(store, p.id),
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
    return PersonDetail(
        person=PersonPublic(
            id=p.id,
            name=repo.shown_name(p),
            level=level,
            held=held(store, p.id),
            flagged_open=flagged_open,
            last_session_at=max((s.session.started_at for s in summaries), default=None),
        ),
        level=level,
        max_level=service.programme.max_level,
        held=held(store, p.id),
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
                summary=action_summary(a.kind, a.payload),
            )
            for a in reversed(store.list_clinician_actions(p.id))
        ],
        rules=_rules(store, p.id),
    )


def _rules(store: Any, person_id: int) -> list[RuleOut]:
    """Every rule of every exercise with this person's own limit (if any) and the range a limit may take."""
    from formcheck.core.spec import load_all

    overrides = thresholds.all_overrides(store, person_id)
    return [
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
    return {"held": held(store, p.id)}


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
