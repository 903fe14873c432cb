"""Clinician triage: queue filters, next/previous rep, the pain alerts at the top of the clinician home, and the
valid range of each per-person threshold (in the rule's own unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from formcheck.errors import InputError
from formcheck.store import Store
from formcheck.store.accounts import shown_name
from formcheck.webapp.deps import ClinicianRepOwner, ClinicianUser, StoreDep, require_person_visible
from formcheck.webapp.review_queue import QueueItem, queue_items
from formcheck.webapp.schemas import User

router = APIRouter(tags=["clinician"])

# A per-person limit may go from half to double the library's limit (judgement call: wide enough for "allow
# more knee valgus early on" or a prescribed depth, narrow enough that a typo like -5 or 750 is refused),
# clipped to what the unit can mean.
RANGE_FACTOR = 2.0
UNIT_BOUNDS: dict[str, tuple[float, float]] = {"deg": (-180.0, 180.0), "ratio": (0.0, 5.0), "s": (0.0, 600.0)}
UNIT_STEP: dict[str, float] = {"deg": 1.0, "ratio": 0.01, "s": 0.1}  # the input's arrow-key step only
UNIT_WORDS = {"deg": "degrees", "ratio": "ratio", "s": "seconds"}
# Pain reports this recent show as alerts on the clinician home until the clinician acts on that person.
ALERT_WINDOW_DAYS = 14


def threshold_range(unit: str, limit: float) -> tuple[float, float]:
    """(lo, hi) a clinician may set for a rule whose library limit is `limit` (in `unit`)."""
    lo_u, hi_u = UNIT_BOUNDS.get(unit, (-math.inf, math.inf))
    a, b = sorted((limit / RANGE_FACTOR, limit * RANGE_FACTOR))
    if limit == 0:
        a, b = lo_u, hi_u
    return _nice(max(lo_u, a), unit), _nice(min(hi_u, b), unit)


def _nice(v: float, unit: str) -> float:
    step = UNIT_STEP.get(unit, 0.01)
    digits = max(0, -int(math.floor(math.log10(step))))
    return round(v, digits)


def range_text(rule_id: str, unit: str, limit: float) -> str:
    lo, hi = threshold_range(unit, limit)
    return f"give a limit from {lo:g} to {hi:g} {UNIT_WORDS.get(unit, unit)} for {rule_id} (library limit {limit:g})"


def check_threshold(rule_id: str, rule_unit: str, limit: float, value: float | None, unit: str | None) -> None:
    """InputError (400 on the wire) for a threshold in the wrong unit or outside its range, with the range."""
    if unit is not None and unit != rule_unit:
        raise InputError(
            f"{rule_id} is measured in {UNIT_WORDS.get(rule_unit, rule_unit)}, not "
            f"{UNIT_WORDS.get(unit, unit)}: {range_text(rule_id, rule_unit, limit)}"
        )
    if value is None:
        return
    lo, hi = threshold_range(rule_unit, limit)
    if not (math.isfinite(value) and lo - 1e-9 <= value <= hi + 1e-9):
        raise InputError(f"{value:g} is out of range: {range_text(rule_id, rule_unit, limit)}")


# ------------------------------------------------------------------------------------------------ queue filters


def filter_items(
    items: list[Any],
    *,
    exercise: str | None = None,
    rule: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[Any]:
    """Queue items of one exercise / with one rule at fault / in a date range (inclusive days)."""
    out = []
    for it in items:
        if exercise and it.exercise_id != exercise:
            continue
        if rule and rule not in {f.rule for f in it.faults}:
            continue
        day = it.at.date() if isinstance(it.at, datetime) else None
        if date_from and (day is None or day < date_from):
            continue
        if date_to and (day is None or day > date_to):
            continue
        out.append(it)
    return out


@dataclass(frozen=True)
class QueueFilter:
    """The queue page's filters, read from the same query parameters by the queue and its next/previous."""

    open_only: bool
    person: int | None
    exercise: str | None
    rule: str | None
    date_from: date | None
    date_to: date | None


def queue_filter(
    status_: Annotated[Literal["open", "all"], Query(alias="status")] = "open",
    person: int | None = None,
    exercise: Annotated[str | None, Query(max_length=64)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QueueFilter:
    return QueueFilter(status_ == "open", person, exercise, rule, date_from, date_to)


QueueFilterDep = Annotated[QueueFilter, Depends(queue_filter)]


def filtered_queue(store: Store, user: User, f: QueueFilter) -> list[QueueItem]:
    """The clinician's flagged reps (of one person, who must be theirs, when given), filtered as the queue page
    asks; the queue and its next/previous buttons both read this list."""
    people = store.list_people(role="person", clinician_id=user.id)
    if f.person is not None:
        require_person_visible(store, user, f.person)
        people = [p for p in people if p.id == f.person]
    items: list[QueueItem] = filter_items(
        queue_items(store, people, open_only=f.open_only),
        exercise=f.exercise,
        rule=f.rule,
        date_from=f.date_from,
        date_to=f.date_to,
    )
    return items


class Neighbours(BaseModel):
    key: str
    position: int  # 1-based place in the filtered queue (0: not in it)
    total: int
    prev_key: str | None
    next_key: str | None


def neighbours(items: list[Any], key: str) -> Neighbours:
    keys = [i.key for i in items]
    if key not in keys:
        return Neighbours(key=key, position=0, total=len(keys), prev_key=keys[0] if keys else None, next_key=None)
    i = keys.index(key)
    return Neighbours(
        key=key,
        position=i + 1,
        total=len(keys),
        prev_key=keys[i - 1] if i > 0 else None,
        next_key=keys[i + 1] if i + 1 < len(keys) else None,
    )


# ------------------------------------------------------------------------------------------------ pain alerts


class PainAlert(BaseModel):
    person_id: int
    person_name: str
    day: date
    kind: str  # "pain" (a pain report at or above the step-back pain) | "see_professional"
    pain: int | None
    message: str


def _alert(person_id: int, name: str, day: date, kind: str, pain: int | None, message: str) -> PainAlert:
    return PainAlert(person_id=person_id, person_name=name, day=day, kind=kind, pain=pain, message=message)


def pain_alerts(store: Any, people: list[Any], step_back_pain: float, today: date) -> list[PainAlert]:
    """Pain at or above the step-back threshold, and "see a professional" decisions, newer than the clinician's
    last action on that person (acting on the person answers the alert), newest first."""
    out: list[PainAlert] = []
    since = today - timedelta(days=ALERT_WINDOW_DAYS)
    for p in people:
        acted = [a.created_at for a in store.list_clinician_actions(p.id)]
        last_act = max(acted) if acted else None
        name = shown_name(p)
        for pr in store.list_pain(p.id):
            if pr.pain >= step_back_pain and pr.day >= since and (last_act is None or pr.created_at > last_act):
                words = {
                    "during": "during a session",
                    "after": "after a session",
                    "next_day": "the next morning",
                    "readiness": "at the Small Knee Bend Test",
                }.get(pr.kind, pr.kind)
                message = f"{name} reported knee pain {pr.pain}/10 {words}"
                out.append(_alert(p.id, name, pr.day, "pain", pr.pain, message))
        out.extend(
            _alert(p.id, name, al.day, "see_professional", None, f"{name}: {al.message}")
            for al in store.list_alerts(person_id=p.id)
        )
    out.sort(key=lambda a: (a.day, a.kind == "see_professional"), reverse=True)
    return out


@router.get("/api/clinician/alerts", response_model=list[PainAlert])
def clinician_alerts(request: Request, user: ClinicianUser, store: StoreDep) -> list[PainAlert]:
    """Pain alerts for the people under this clinician's care (top of the clinician home)."""
    from formcheck.webapp.live import programme_service

    svc = programme_service(request.app)
    people = store.list_people(role="person", clinician_id=user.id)
    step_back = float(request.app.state.programme.rules.step_back_pain.value)
    return pain_alerts(store, people, step_back, svc.today())


@router.get("/api/clinician/reps/{rep_key}/neighbours", response_model=Neighbours)
def rep_neighbours(
    rep_key: str,
    owner: ClinicianRepOwner,
    user: ClinicianUser,
    store: StoreDep,
    filters: QueueFilterDep,
) -> Neighbours:
    """Previous and next rep of the same filtered queue, for reviewing one rep after another."""
    items = filtered_queue(store, user, filters)
    return neighbours(items, rep_key)
