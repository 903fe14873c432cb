"""Clinicians' per-person analysis limits, keyed by (exercise, rule) (issue 8, finding 10).

Stored as clinician actions of kind "thresholds" with payload {"rule_limits": {"squat/knee_valgus": 0.15}}; a
later action wins and `null` removes an override. The analysis API stays a per-exercise {rule_id: limit} mapping:
`rule_overrides(store, person, exercise)` is what a job or a live set of that exercise is given. Older actions
keyed by rule id only (payload "thresholds") are not applied to analysis rules: which exercise they meant is
unknown, and applying them to every exercise with that rule id is the leak this module fixes.
"""

from __future__ import annotations

import math
from typing import Any

from formcheck.errors import InputError

RULE_LIMITS = "rule_limits"
THRESHOLDS_KIND = "thresholds"
# Sane limits per unit: a knee angle beyond 180 deg, a ratio beyond 5 body widths or a duration over 10 min is a
# typo, not a clinical choice (judgement calls; every rule default sits well inside). Angles may be negative
# (plank_pike is -20 deg), so an angle override must keep the sign of the rule's default.
UNIT_RANGES: dict[str, tuple[float, float]] = {"deg": (-180.0, 180.0), "ratio": (0.0, 5.0), "s": (0.0, 600.0)}
POSITIVE_UNITS = frozenset({"ratio", "s"})  # zero or below means "never a fault" / "always a fault"


def key(exercise_id: str, rule_id: str) -> str:
    return f"{exercise_id}/{rule_id}"


def rule_of(exercise_id: str, rule_id: str) -> Any:
    """The rule spec; InputError naming the exercise when it has no such rule."""
    from formcheck.core.spec import exercise_ids, load_exercise

    if exercise_id not in exercise_ids():
        raise InputError(f"unknown exercise {exercise_id!r}")
    for rule in load_exercise(exercise_id).rules:
        if rule.id == rule_id:
            return rule
    raise InputError(f"unknown rule {rule_id!r} for exercise {exercise_id!r}")


def validate(exercise_id: str, rule_id: str, value: float | None) -> float | None:
    """The limit to store (None removes the override); InputError outside the rule unit's sane range."""
    rule = rule_of(exercise_id, rule_id)
    if value is None:
        return None
    number = float(value)
    lo, hi = UNIT_RANGES.get(rule.unit, (-math.inf, math.inf))
    where = f"{rule_id} of {exercise_id} is in {rule.unit}"
    if not math.isfinite(number) or not lo <= number <= hi or (rule.unit in POSITIVE_UNITS and number <= 0):
        above = "above" if rule.unit in POSITIVE_UNITS else "from"
        raise InputError(f"{where}: give a limit {above} {lo:g} and at most {hi:g} (got {value!r})")
    if rule.limit and number and math.copysign(1.0, number) != math.copysign(1.0, rule.limit):
        raise InputError(f"{where}: its default is {rule.limit:g}, so the limit must keep that sign (got {value!r})")
    return number


def all_overrides(store: Any, person_id: int) -> dict[tuple[str, str], float]:
    """{(exercise, rule): limit} after replaying every thresholds action in order (null removes)."""
    merged: dict[tuple[str, str], float] = {}
    for action in store.list_clinician_actions(person_id):
        if action.kind != THRESHOLDS_KIND:
            continue
        for k, v in (action.payload.get(RULE_LIMITS) or {}).items():
            exercise_id, _, rule_id = str(k).partition("/")
            if v is None:
                merged.pop((exercise_id, rule_id), None)
            else:
                merged[(exercise_id, rule_id)] = float(v)
    return merged


def rule_overrides(store: Any, person_id: int, exercise_id: str) -> dict[str, float]:
    """The per-exercise {rule_id: limit} mapping the analysis API takes."""
    return {r: v for (ex, r), v in all_overrides(store, person_id).items() if ex == exercise_id}


def record(
    store: Any,
    person_id: int,
    clinician_id: int,
    exercise_id: str,
    rule_id: str,
    value: float | None,
    note: str,
    day: Any,
) -> float | None:
    """Validate and store one override (or its removal); returns what was stored."""
    limit = validate(exercise_id, rule_id, value)
    store.add_clinician_action(
        person_id,
        clinician_id,
        THRESHOLDS_KIND,
        {RULE_LIMITS: {key(exercise_id, rule_id): limit}, "note": note},
        day=day,
    )
    return limit


def summary(payload: dict[str, Any]) -> str:
    """ "squat knee_valgus = 0.15", "... removed" for the timeline (legacy rule-only entries as they were)."""
    parts = [
        f"{k.replace('/', ' ')} = {v:g}" if v is not None else f"{k.replace('/', ' ')} removed"
        for k, v in (payload.get(RULE_LIMITS) or {}).items()
    ]
    parts += [f"{k} = {float(v):g}" for k, v in (payload.get("thresholds") or {}).items()]
    return ", ".join(parts)
