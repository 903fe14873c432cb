"""CLI commands of the programme: today, checkin, history, people (add / list / seed-demo)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from formcheck.errors import InputError
from formcheck.programme.facts import PAIN_MAX, DayOutcome, DayPlan, PainKind, Readiness, parse_pain
from formcheck.programme.model import load_programme
from formcheck.store import DaySummary, Person, Role, Store
from formcheck.store.programme_service import ProgrammeService

SPARK_CHARS = "▁▂▃▄▅▆▇█"
HISTORY_DAYS_DEFAULT = 42
DEMO_PERSON = "demo"
DEMO_CLINICIAN = "demo-clinician"
READINESS_WORDS = {
    None: "not done yet today",
    Readiness.READY: "passed - go ahead",
    Readiness.NOT_READY: "not ready - rest or tissue work today",
    Readiness.RETRY: "the camera could not judge the test - redo it",
    Readiness.INCOMPLETE: "started, not finished",
}
WHEN_CHOICES = tuple(k.value for k in (PainKind.DURING, PainKind.AFTER, PainKind.NEXT_DAY))


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `today`, `checkin`, `history` and `people` to formcheck's argparse subcommands."""
    p = subparsers.add_parser("today", help="today's exercise plan, readiness steps first")
    p.add_argument("--person", help="whose plan (default: the only person)")
    p.set_defaults(func=cmd_today)

    p = subparsers.add_parser("checkin", help="report knee pain 0-10 (default: pain over the last 24 hours)")
    p.add_argument("--pain", required=True, help="knee pain from 0 (none) to 10 (worst)")
    p.add_argument("--person", help="who is checking in (default: the only person)")
    p.add_argument(
        "--when", default=PainKind.NEXT_DAY.value, help=f"one of {', '.join(WHEN_CHOICES)} (default next_day)"
    )
    p.set_defaults(func=cmd_checkin)

    p = subparsers.add_parser("history", help="levels, sessions, pain and valid-rep ratio over time")
    p.add_argument("--person", help="whose history (default: the only person)")
    p.add_argument("--days", default=str(HISTORY_DAYS_DEFAULT), help="how many days back (default %(default)s)")
    p.set_defaults(func=cmd_history)

    people = subparsers.add_parser("people", help="add or list people and clinicians")
    sub = people.add_subparsers(dest="people_cmd", required=True)
    p = sub.add_parser("add", help="add a person or clinician")
    p.add_argument("name")
    p.add_argument("--role", default=Role.PERSON.value, help="person | clinician | admin (default person)")
    p.add_argument("--clinician", help="name of the clinician caring for this person")
    p.add_argument("--display-name", help="name shown on pages (default: NAME)")
    p.set_defaults(func=cmd_people_add)
    p = sub.add_parser("link", help="link a person (default: the local person) to their clinician")
    p.add_argument("name", nargs="?", help="the person (default: this machine's local person)")
    p.add_argument("--clinician", required=True, help="name of the clinician")
    p.set_defaults(func=cmd_people_link)
    p = sub.add_parser("list", help="list people with role, clinician and current level")
    p.set_defaults(func=cmd_people_list)
    p = sub.add_parser("seed-demo", help="add a demo person with a few weeks of simulated history")
    p.add_argument("--name", default=DEMO_PERSON)
    p.add_argument("--weeks", default="4", help="weeks of simulated history, 1-12 (default %(default)s)")
    p.set_defaults(func=cmd_people_seed_demo)


# ---------------------------------------------------------------------------------------------- helpers
def _int_in(raw: str, option: str, lo: int, hi: int) -> int:
    """Whole-number options parsed here, so a bad value is one line (argparse would print usage too)."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InputError(f"{option} must be a whole number from {lo} to {hi}, got '{raw}'") from None
    if not lo <= value <= hi:
        raise InputError(f"{option} must be from {lo} to {hi}, got {value}")
    return value


def _with_service(args: argparse.Namespace, body: Callable[[ProgrammeService], int]) -> int:
    with Store.open(getattr(args, "db", None)) as store:
        return body(ProgrammeService(store, load_programme()))


def resolve_person(store: Store, name: str | None) -> Person:
    """The named person; else this machine's local person (the one `make run` uses, created on a fresh install)."""
    from formcheck.store.local_person import ensure_local_person

    if name:
        return store.get_person(name)
    person, _ = ensure_local_person(store)
    if person is not None:
        return person
    people = store.list_people(role=Role.PERSON)
    raise InputError(f"several people: choose one with --person ({', '.join(p.name for p in people)})")


def who(person: Person) -> str:
    """The person's name; "You" (a form of address, never stored) for a person who has not given one."""
    from formcheck.store.accounts import has_name

    return person.display_name if has_name(person) else "You"


def format_plan(plan: DayPlan, person: Person) -> list[str]:
    lines = [
        f'{who(person)} - {plan.day.isoformat()}: level {plan.level} "{plan.level_name}"',
        f"  {plan.focus}",
    ]
    lines += [f"  ! {m}" for m in plan.messages]
    if plan.kind == "rest":
        lines += ["", f"Rest day: {plan.reason}"]
        return lines
    lines += ["", "Before you start (readiness):"]
    for i, step in enumerate(plan.readiness_steps, 1):
        lines.append(f"  {i}. {step.title} (~{step.minutes:g} min): {step.instructions}")
    status = READINESS_WORDS[plan.readiness]
    lines.append(f"  Readiness today: {status}")
    lines += [
        "",
        f"Exercises (about {plan.estimated_min:.1f} min; at most {plan.budget_s / 60:g} min a day,"
        f" {plan.remaining_s / 60:.1f} min left today):",
    ]
    for i, ex in enumerate(plan.exercises, 1):
        dose = f"{ex.sets} x {ex.reps}" + (f" holds of {ex.hold_s:g} s" if ex.hold_s else " reps")
        side = " each side" if ex.sides == 2 else ""
        lines.append(f"  {i}. {ex.exercise_id.replace('_', ' ')}: {dose}{side}, rest {ex.rest_s:g} s between sets")
    lines += [
        "",
        "Only reps the camera judges valid count towards the target.",
        "Stop and check in (`formcheck checkin --pain N --when during`) if your knee hurts.",
        f"Why this level: {plan.reason}",
    ]
    return lines


def sparkline(values: Sequence[float | None], lo: float, hi: float) -> str:
    """One character per value scaled lo..hi; a space where there is no value."""
    out = []
    span = (hi - lo) or 1.0
    for v in values:
        if v is None:
            out.append(" ")
        else:
            idx = round((min(max(v, lo), hi) - lo) / span * (len(SPARK_CHARS) - 1))
            out.append(SPARK_CHARS[idx])
    return "".join(out)


def format_history(svc: ProgrammeService, person: Person, days: int) -> list[str]:
    today = svc.today()
    outcomes: tuple[DayOutcome, ...] = svc.outcomes(person, today)
    first = today - timedelta(days=max(days, 1) - 1)
    shown = [o for o in outcomes if o.day >= first]
    if not shown:
        return [f"{who(person)}: no history yet (try `formcheck today`)"]
    summaries: dict[date, list[DaySummary]] = {}
    for s in svc.store.session_summaries(person.id):
        summaries.setdefault(s.session.day, []).append(s)
    lines = [
        f"{who(person)}: level {shown[-1].next_level} of {svc.programme.max_level}"
        f" ({svc.programme.level(shown[-1].next_level).name})",
        "",
        f"{'date':<10}  {'level':>5}  {'min':>5}  {'pain':>4}  {'valid reps':>14}  decision",
    ]
    for o in shown:
        day_sessions = summaries.get(o.day, [])
        if not day_sessions and o.pain_max is None and o.action.value == "hold":
            continue
        minutes = sum(s.exercise_s for s in day_sessions) / 60
        valid = sum(s.valid_reps for s in day_sessions)
        total = sum(s.total_reps for s in day_sessions)
        ratio = f"{valid}/{total} {valid / total:4.0%}" if total else "-"
        pain = "-" if o.pain_max is None else str(o.pain_max)
        mins = f"{minutes:5.1f}" if day_sessions else "    -"
        lines.append(
            f"{o.day.isoformat():<10}  {o.level:>5}  {mins}  {pain:>4}  {ratio:>14}  {o.action.value}: {o.reason}"
        )
    pains = [None if o.pain_max is None else float(o.pain_max) for o in shown]
    levels = [float(o.level) for o in shown]
    lines += [
        "",
        f"pain  0-{PAIN_MAX:<3} |{sparkline(pains, 0, PAIN_MAX)}|",
        f"level 1-{svc.programme.max_level:<3} |{sparkline(levels, 1, svc.programme.max_level)}|",
        f"           {shown[0].day.isoformat()}{' ' * max(1, len(shown) - 20)}{shown[-1].day.isoformat()}",
    ]
    return lines


# ---------------------------------------------------------------------------------------------- handlers
def cmd_today(args: argparse.Namespace) -> int:
    def body(svc: ProgrammeService) -> int:
        person = resolve_person(svc.store, args.person)
        for line in format_plan(svc.plan(person), person):
            _say(line)
        return 0

    return _with_service(args, body)


def cmd_checkin(args: argparse.Namespace) -> int:
    pain = parse_pain(args.pain)  # validated before the database is touched
    if args.when not in WHEN_CHOICES:
        raise InputError(f"--when must be one of {', '.join(WHEN_CHOICES)}, got '{args.when}'")

    def body(svc: ProgrammeService) -> int:
        person = resolve_person(svc.store, args.person)
        result = svc.checkin(person, pain, args.when)
        _say(f"Recorded knee pain {result.pain}/10 ({result.kind.value}) for {who(person)}.")
        _say(f"{result.outcome_action.value}: {result.outcome_reason}")
        return 0

    return _with_service(args, body)


def cmd_history(args: argparse.Namespace) -> int:
    days = _int_in(args.days, "--days", 1, 3660)

    def body(svc: ProgrammeService) -> int:
        person = resolve_person(svc.store, args.person)
        for line in format_history(svc, person, days):
            _say(line)
        return 0

    return _with_service(args, body)


def cmd_people_add(args: argparse.Namespace) -> int:
    with Store.open(getattr(args, "db", None)) as store:
        clinician_id = None
        if args.clinician:
            clinician = store.get_person(args.clinician)
            if clinician.role not in (Role.CLINICIAN, Role.ADMIN):
                raise InputError(f"'{clinician.name}' is not a clinician")
            clinician_id = clinician.id
        if args.clinician and args.role != Role.PERSON.value:
            raise InputError("--clinician is only for people with role person")
        person = store.add_person(args.name, role=args.role, display_name=args.display_name, clinician_id=clinician_id)
        _say(f"Added {person.role.value} '{person.name}' (id {person.id}).")
    return 0


def cmd_people_link(args: argparse.Namespace) -> int:
    with Store.open(getattr(args, "db", None)) as store:
        person = resolve_person(store, args.name)
        clinician = store.get_person(args.clinician)
        if clinician.role not in (Role.CLINICIAN, Role.ADMIN):
            raise InputError(f"'{clinician.name}' is not a clinician")
        store.assign_clinician(person.id, clinician.id)
        _say(f"'{person.name}' is now cared for by '{clinician.name}'.")
    return 0


def cmd_people_list(args: argparse.Namespace) -> int:
    def body(svc: ProgrammeService) -> int:
        people = svc.store.list_people()
        if not people:
            _say("No people yet: add one with `formcheck people add NAME`.")
            return 0
        names = {p.id: p.name for p in people}
        _say(f"{'name':<20} {'role':<10} {'clinician':<20} level")
        for p in people:
            level = str(svc.plan(p).level) if p.role == Role.PERSON else "-"
            _say(
                f"{p.name:<20} {p.role.value:<10} {names.get(p.clinician_id, '-') if p.clinician_id else '-':<20} {level}"
            )
        return 0

    return _with_service(args, body)


def cmd_people_seed_demo(args: argparse.Namespace) -> int:
    from formcheck.store.demo_seed import seed_demo

    weeks = _int_in(args.weeks, "--weeks", 1, 12)

    def body(svc: ProgrammeService) -> int:
        existing = {p.name for p in svc.store.list_people()}
        if args.name in existing:
            raise InputError(f"a person named '{args.name}' already exists")
        if DEMO_CLINICIAN in existing:
            clinician = svc.store.get_person(DEMO_CLINICIAN)
        else:
            clinician = svc.store.add_person(DEMO_CLINICIAN, role=Role.CLINICIAN, display_name="Demo Clinician")
        person = svc.store.add_person(args.name, display_name="Demo Runner", clinician_id=clinician.id)
        days = seed_demo(svc.store, svc.programme, person, end_day=svc.today() - timedelta(days=1), weeks=weeks)
        _say(f"Seeded '{person.name}' (clinician '{clinician.name}') with {days} days of history.")
        _say(f"Show it with: formcheck history --person {person.name}")
        return 0

    return _with_service(args, body)
