"""Runner's-knee programme: the programme data file, the pure decision core and the session service.

programme = load_programme()                                  # data/runners_knee_v1.toml, validated
plan = plan_today(programme, history, today)                  # readiness first, level, exercises, or rest
decision = decide_after_session(programme, history)           # hold | advance | step_back | see_professional | rest
svc = ProgrammeService(store, programme)                      # the day's flow over formcheck.store.Store
"""

from formcheck.programme.engine import (
    Action,
    ClinicianFact,
    ClinicianKind,
    DayOutcome,
    DayPlan,
    Decision,
    History,
    PainKind,
    PainReport,
    PlannedExercise,
    Readiness,
    ReadinessFact,
    SessionFact,
    decide_after_session,
    judge_readiness,
    parse_pain,
    plan_today,
    replay,
)
from formcheck.programme.model import KNOWN_EXERCISE_IDS, Programme, load_programme, parse_programme

__all__ = [
    "KNOWN_EXERCISE_IDS",
    "Action",
    "ClinicianFact",
    "ClinicianKind",
    "DayOutcome",
    "DayPlan",
    "Decision",
    "History",
    "PainKind",
    "PainReport",
    "PlannedExercise",
    "Programme",
    "Readiness",
    "ReadinessFact",
    "SessionFact",
    "decide_after_session",
    "judge_readiness",
    "load_programme",
    "parse_pain",
    "parse_programme",
    "plan_today",
    "replay",
]
