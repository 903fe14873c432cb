"""Runner's-knee programme (value types in formcheck.programme.facts): the programme data file and the pure decision core (no store: it sits below it).

programme = load_programme()                                  # data/runners_knee_v1.toml, validated
plan = plan_today(programme, history, today)                  # readiness first, level, exercises, or rest
decision = decide_after_day(programme, history)               # hold | advance | step_back | see_professional | rest
svc = ProgrammeService(store, programme)                      # the day's flow: formcheck.store.programme_service
"""

from formcheck.programme.engine import decide_after_day, judge_readiness, replay
from formcheck.programme.model import Programme, library_exercise_ids, load_programme, parse_programme
from formcheck.programme.plan import plan_today

__all__ = [
    "Programme",
    "decide_after_day",
    "judge_readiness",
    "library_exercise_ids",
    "load_programme",
    "parse_programme",
    "plan_today",
    "replay",
]
