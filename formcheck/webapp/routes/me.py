"""The person's own views: settings remembered per person, the Today card, the end-of-day summary, progress.

All read the same store the programme writes; nothing here decides anything (the programme engine does), it
only puts the decisions into plain words. Words never praise exercising through pain (issue 11 item 4).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from formcheck.store.accounts import PRONOUNS, has_name, shown_name
from formcheck.store.people import NAME_MAX_LEN
from formcheck.webapp.deps import CurrentUser, OwnSession, PathId, PersonUser, StoreDep

router = APIRouter(tags=["me"])

# Speech rate limits of the Web Speech API that still sound like speech (judgement call: the API allows
# 0.1-10; below 0.6 or above 1.6 is hard to follow from 2-3 m).
SPEECH_RATE_MIN, SPEECH_RATE_MAX = 0.6, 1.6
SETTING_DEFAULTS: dict[str, Any] = {"voice_on": True, "speech_rate": 1.0, "store_flagged_clips": False}

# What a level is, in one sentence the person can read on the Today card (the programme's own "focus" follows).
LEVEL_MEANING = (
    "Your level is the step of the programme you are on: 1 is the easiest (lying down, no load "
    "on the knee), higher levels add standing and one-leg work. You move up after pain-free days "
    "and step back a level when it hurts."
)
METHOD = [
    (
        "Readiness first",
        "Every day starts with a short massage of the tight muscles, waking up the inner thigh "
        "muscle (VMO), and the Small Knee Bend Test: five shallow knee bends, judged by the "
        "camera, and a pain question. If the test hurts, today is a rest day.",
    ),
    (
        "Easy before hard",
        "Easy, isolated moves (lying leg raises) come before harder standing and one-leg "
        "exercises. Only reps with good form count.",
    ),
    (
        "At most 15 minutes a day",
        "Short and every day beats long and rarely. The coach stops the day at 15 minutes of exercise.",
    ),
    (
        "Pain steers the programme",
        "Some discomfort up to 2 out of 10 is fine. When it hurts more (4 or more "
        "out of 10), the programme steps back a level for a day or two.",
    ),
    (
        "Setbacks are expected",
        "A step back is part of the plan, not a failure: knees recover in waves. Your "
        "clinician sees your pain reports and flagged reps.",
    ),
]


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    voice_on: bool | None = None
    speech_rate: float | None = Field(None, ge=SPEECH_RATE_MIN, le=SPEECH_RATE_MAX)
    store_flagged_clips: bool | None = None
    onboarded: bool | None = None


class NameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=NAME_MAX_LEN)


NOT_A_NAME = "That is not a name: write the name your clinician knows you by"


@router.put("/api/me/name")
def put_name(body: NameIn, user: PersonUser, store: StoreDep) -> dict[str, Any]:
    """The person's own name, shown to them and on their clinician's pages (stored as text, shown inert)."""
    if body.name.strip().casefold() in PRONOUNS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, NOT_A_NAME)
    p = store.set_display_name(user.id, body.name)
    return {"name": shown_name(p), "named": has_name(p)}


class CheckinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pain: int = Field(ge=0, le=10)


def person_settings(store: Any, person_id: int) -> dict[str, Any]:
    raw = store.get_person_by_id(person_id).settings or {}
    out = {k: raw.get(k, v) for k, v in SETTING_DEFAULTS.items()}
    out["onboarded"] = bool(raw.get("onboarded", False))
    return out


@router.get("/api/me/settings")
def get_settings(user: CurrentUser, store: StoreDep) -> dict[str, Any]:
    """Voice on/off, speech rate, clip saving, whether the method was explained: remembered per person."""
    return person_settings(store, user.id)


@router.put("/api/me/settings")
def put_settings(body: SettingsIn, user: CurrentUser, store: StoreDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    if changes:
        store.update_settings(user.id, changes)
    return person_settings(store, user.id)


def _svc(request: Request) -> Any:
    from formcheck.webapp.live import programme_service

    return programme_service(request.app)


def _level_info(programme: Any, number: int) -> dict[str, Any]:
    lv = next((lv for lv in programme.levels if lv.number == number), None)
    return {"number": number, "name": lv.name if lv else "", "focus": lv.focus if lv else "", "of": programme.max_level}


def _last_step_back(store: Any, person_id: int) -> dict[str, Any] | None:
    events = store.list_level_events(person_id)
    prev_level = None
    last = None
    for ev in events:
        if ev.action == "step_back" and prev_level is not None and ev.level < prev_level:
            last = {"day": ev.day.isoformat(), "from_level": prev_level, "to_level": ev.level, "reason": ev.reason}
        elif ev.action == "step_back" and prev_level is None:
            last = {"day": ev.day.isoformat(), "from_level": None, "to_level": ev.level, "reason": ev.reason}
        prev_level = ev.level
    return last


def _day_target(programme: Any, level: int | None, plan: Any) -> int:
    """The whole day's target reps (every set of every exercise of the day's level, each side), not only those of
    the sets started: "0 of 10 good reps" on a day of 120 read as nearly done (issue 19)."""
    if level is None:
        return sum(e.sets * e.reps * e.sides for e in plan.exercises) if plan.kind == "exercise" else 0
    return sum(ex.sets * ex.reps * ex.sides for ex in programme.level(level).exercises)


def exercised(s: Any) -> bool:
    """A programme day counts as done only when at least one rep was tried: a day whose exercises were all skipped
    (or stopped before the first rep) is not "1 day done, 1 in a row" (issue 19)."""
    return bool(s.total_reps > 0)


@router.get("/api/today")
def today(request: Request, user: PersonUser) -> dict[str, Any]:
    """The Today card: level and what it means, estimated minutes, what is done today, what a step back changed,
    and the method in plain words (shown the first time, one tap away after)."""
    svc = _svc(request)
    store = svc.store
    person = store.get_person_by_id(user.id)
    plan = svc.plan(person)
    programme = request.app.state.programme
    summaries = [s for s in store.session_summaries(user.id) if s.session.day == plan.day]
    done = [
        {
            "session_id": s.session.id,
            "status": str(s.session.status),
            "valid_reps": s.valid_reps,
            "total_reps": s.total_reps,
            "target_reps": s.target_reps,
            "minutes": round(s.exercise_s / 60.0, 1),
            "exercised": exercised(s),
        }
        for s in summaries
    ]
    finished = any(d["status"] == "finished" for d in done)
    step_back = _last_step_back(store, user.id)
    budget_min = float(programme.day_budget_min)
    return {
        "day": plan.day.isoformat(),
        "level": _level_info(programme, plan.level),
        "level_meaning": LEVEL_MEANING,
        "rest_day": plan.kind != "exercise",
        "message": " ".join([plan.reason, *plan.messages]).strip(),
        "estimated_min": round(plan.estimated_min, 1),
        "budget_min": budget_min,
        "used_min": round(plan.used_s / 60.0, 1),
        "remaining_min": round(plan.remaining_s / 60.0, 1),
        "exercises": [
            {"id": e.exercise_id, "sets": e.sets, "reps": e.reps, "hold_s": e.hold_s, "sides": e.sides}
            for e in plan.exercises
        ],
        "readiness": [{"id": r.id, "title": r.title, "minutes": r.minutes} for r in plan.readiness_steps],
        "done_today": done,
        "day_target_reps": _day_target(programme, summaries[-1].session.level if summaries else None, plan),
        "finished_today": finished,
        "step_back": step_back,
        "method": [{"title": t, "text": x} for t, x in METHOD],
        "onboarded": person_settings(store, user.id)["onboarded"],
    }


def _decision_words(action: str, level: int, reason: str, pain_max: int | None, green_max: float) -> str:
    """The headline of the day: never praise exercising through pain; a step back is part of the plan."""
    if action == "see_professional":
        return "Please see a professional about your knee"
    if action == "step_back":
        return f"Stepping back to level {level} for now — that is part of the plan"
    if action == "rest":
        return "Rest your knee today"
    if pain_max is not None and pain_max > green_max:
        return "Session saved — take it easy, it hurt more than it should"
    if action == "advance":
        return f"Pain-free and steady: moving up to level {level}"
    return "Session saved"


def _exercise_totals(store: Any, session_id: int) -> list[dict[str, Any]]:
    """Per exercise of one session: valid, total and target reps and the number of sets."""
    from formcheck.core.spec import load_exercise

    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"valid": 0, "total": 0, "target": 0, "sets": 0})
    for st in store.list_sets(session_id):
        agg = per[st.exercise_id]
        reps = store.list_reps(set_id=st.id)
        agg["valid"] += sum(r.valid for r in reps)
        agg["total"] += len(reps)
        agg["target"] += st.target_reps
        agg["sets"] += 1
    exercises = []
    for ex_id, agg in per.items():
        try:
            name = load_exercise(ex_id).name
        except Exception:  # noqa: BLE001 - an exercise removed since: show its id
            name = ex_id
        exercises.append(
            {
                "id": ex_id,
                "name": name,
                "valid_reps": agg["valid"],
                "total_reps": agg["total"],
                "target_reps": agg["target"],
                "sets": agg["sets"],
            }
        )
    return exercises


@router.get("/api/me/sessions/{session_id}/summary")
def session_summary(session_id: PathId, session: OwnSession, request: Request) -> dict[str, Any]:
    """End of day: reps valid/target per exercise, minutes used of the daily budget, pain before/after, what the
    programme decided and why. `complete` is false until both pain answers are in (the session is not done)."""
    store = request.app.state.store
    programme = request.app.state.programme
    row = store.get_session(session_id)
    exercises = _exercise_totals(store, session_id)
    summ = next((s for s in store.session_summaries(row.person_id) if s.session.id == session_id), None)
    readiness = [r for r in store.list_readiness(row.person_id) if r.session_id == session_id]
    pain_before = readiness[-1].skbt_pain if readiness else None
    events = [e for e in store.list_level_events(row.person_id) if e.session_id == session_id]
    decision = None
    pain_during = summ.pain_during if summ else None
    pain_after = summ.pain_after if summ else None
    complete = pain_during is not None and pain_after is not None and str(row.status) == "finished"
    if events:
        ev = events[-1]
        pain_max = max(p for p in (pain_during, pain_after) if p is not None) if complete else None
        decision = {
            "action": ev.action,
            "level": ev.level,
            "reason": ev.reason[:1].upper() + ev.reason[1:],
            "headline": _decision_words(
                ev.action, ev.level, ev.reason, pain_max, float(programme.rules.green_pain_max.value)
            ),
        }
    used_s = summ.exercise_s if summ else 0.0
    return {
        "session_id": session_id,
        "day": row.day.isoformat(),
        "level": row.level,
        "complete": complete,
        "exercises": exercises,
        "minutes_used": round(used_s / 60.0, 1),
        "budget_min": float(programme.day_budget_min),
        "pain_before": pain_before,
        "pain_during": pain_during,
        "pain_after": pain_after,
        "decision": decision,
    }


@router.post("/api/me/checkin")
def checkin(body: CheckinIn, request: Request, user: PersonUser) -> dict[str, Any]:
    """Next-morning pain (the last 24 hours): part of the programme's pain rules and the progress page."""
    svc = _svc(request)
    res = svc.checkin(svc.store.get_person_by_id(user.id), body.pain, "next_day")
    reason = str(res.outcome_reason)
    return {
        "pain": res.pain,
        "action": str(res.outcome_action),
        "message": reason[:1].upper() + reason[1:],
        "level": res.next_level,
    }


@router.get("/api/me/progress")
def progress(request: Request, user: PersonUser) -> dict[str, Any]:
    """Per day: pain (during, after, next morning), level, valid-rep share, done or not; step-backs marked."""
    store = request.app.state.store
    days: dict[date, dict[str, Any]] = {}

    def day_of(d: date) -> dict[str, Any]:
        return days.setdefault(
            d,
            {
                "day": d.isoformat(),
                "level": None,
                "pain_during": None,
                "pain_after": None,
                "pain_next_day": None,
                "valid_reps": 0,
                "total_reps": 0,
                "target_reps": 0,
                "done": False,
                "step_back": False,
                "minutes": 0.0,
            },
        )

    for s in store.session_summaries(user.id):
        d = day_of(s.session.day)
        d["level"] = s.session.level
        d["valid_reps"] += s.valid_reps
        d["total_reps"] += s.total_reps
        d["target_reps"] += s.target_reps
        d["minutes"] = round(d["minutes"] + s.exercise_s / 60.0, 1)
        d["done"] = d["done"] or (str(s.session.status) == "finished" and exercised(s))
    for p in store.list_pain(user.id):
        key = {"during": "pain_during", "after": "pain_after", "next_day": "pain_next_day"}.get(p.kind)
        if key:
            d = day_of(p.day)
            d[key] = p.pain if d[key] is None else max(d[key], p.pain)
    events = store.list_level_events(user.id)
    for ev in events:
        if ev.action == "step_back":
            day_of(ev.day)["step_back"] = True
    rows = [days[k] for k in sorted(days)]
    for r in rows:
        r["valid_share"] = round(r["valid_reps"] / r["total_reps"], 3) if r["total_reps"] else None
    total = sum(r["total_reps"] for r in rows)
    valid = sum(r["valid_reps"] for r in rows)
    return {
        "days": rows,
        "days_done": sum(r["done"] for r in rows),
        "valid_reps": valid,
        "total_reps": total,
        "valid_share": round(valid / total, 3) if total else None,
        "level_events": [
            {"day": e.day.isoformat(), "level": e.level, "action": e.action, "reason": e.reason} for e in events
        ],
        "streak_days": _streak(rows),
    }


def _streak(rows: list[dict[str, Any]]) -> int:
    """Days done in a row, ending with the latest day that has a session."""
    done = [date.fromisoformat(r["day"]) for r in rows if r["done"]]
    if not done:
        return 0
    n, prev = 1, done[-1]
    for d in reversed(done[:-1]):
        if (prev - d).days != 1:
            break
        n, prev = n + 1, d
    return n
