"""Programme days (table `sessions`), their pain answers, readiness checks and the level decisions shown.

A "day" here is one programme day of a person; the live sets and reps done within it are in sets.py. The
`session_id` names of columns and arguments are kept: they are the database's and the callers' words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Integer, Select, cast, func, select

from formcheck.errors import InputError
from formcheck.store import schema as t
from formcheck.store.database import Database
from formcheck.store.people import person
from formcheck.store.records import DayStatus, DaySummary, LevelEventRow, PainRow, ProgrammeDay, ReadinessRow
from formcheck.store.rows import get_row, insert_row, record, to_db, utc_now

PAIN_KINDS = frozenset({"readiness", "during", "after", "next_day"})
SKBT_VERDICTS = (None, "valid", "invalid", "unknown", "self")  # "self": judged by the person, without the camera


def check_pain(pain: object) -> int:
    if isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10:
        raise InputError(f"pain must be a whole number from 0 to 10, got {pain!r}")
    return pain


def programme_day(conn: Connection, day_id: int) -> ProgrammeDay:
    return get_row(conn, t.sessions, day_id, "session", ProgrammeDay)


def _days_of(person_id: int) -> Select[Any]:
    return select(t.sessions).where(t.sessions.c.person_id == person_id).order_by(t.sessions.c.started_at)


def _close_sets(conn: Connection, day_id: int, when: datetime) -> None:
    conn.execute(
        t.sets.update().where(t.sets.c.session_id == day_id, t.sets.c.ended_at.is_(None)).values(ended_at=when)
    )


def exercise_s(conn: Connection, person_id: int, day: date, until: datetime) -> float:
    """Seconds of sets done by a person on a day; a set still open counts up to `until`."""
    rows = conn.execute(
        select(t.sets.c.started_at, t.sets.c.ended_at)
        .join(t.sessions, t.sessions.c.id == t.sets.c.session_id)
        .where(t.sessions.c.person_id == person_id, t.sessions.c.day == day)
    )
    return sum(max(0.0, (to_db(r.ended_at or until) - to_db(r.started_at)).total_seconds()) for r in rows)


def _summaries(
    days: list[ProgrammeDay], sets: Iterable[Any], reps: dict[int, tuple[int, int]], pains: Iterable[Any]
) -> list[DaySummary]:
    """Fold the sets, per-set rep counts and pain answers of some programme days into one summary each."""
    per: dict[int, dict[str, float]] = defaultdict(lambda: {"valid": 0, "total": 0, "target": 0, "secs": 0.0})
    for s in sets:
        agg = per[s.session_id]
        valid, total = reps.get(s.id, (0, 0))
        agg["valid"] += valid
        agg["total"] += total
        agg["target"] += s.target_reps
        if s.ended_at is not None:
            agg["secs"] += (to_db(s.ended_at) - to_db(s.started_at)).total_seconds()
    pain_of: dict[tuple[int, str], int] = {}
    for p in pains:
        key = (p.session_id, p.kind)
        pain_of[key] = max(pain_of.get(key, 0), p.pain)
    return [
        DaySummary(
            session=d,
            valid_reps=int(per[d.id]["valid"]),
            total_reps=int(per[d.id]["total"]),
            target_reps=int(per[d.id]["target"]),
            exercise_s=float(per[d.id]["secs"]),
            pain_during=pain_of.get((d.id, "during")),
            pain_after=pain_of.get((d.id, "after")),
        )
        for d in days
    ]


class DaysRepo(Database):
    def start_session(self, person_id: int, day: date, level: int, *, at: datetime | None = None) -> ProgrammeDay:
        """Start a programme day at a level."""
        with self._tx(write=True) as conn:
            person(conn, person_id)
            return insert_row(
                conn,
                t.sessions,
                ProgrammeDay,
                person_id=person_id,
                day=day,
                level=level,
                status=DayStatus.IN_PROGRESS.value,
                started_at=to_db(at or utc_now()),
            )

    def finish_session(
        self, session_id: int, status: DayStatus | str = DayStatus.FINISHED, *, at: datetime | None = None
    ) -> ProgrammeDay:
        """End a programme day with a status (its open sets end too)."""
        status = DayStatus(status)
        when = to_db(at or utc_now())
        with self._tx(write=True) as conn:
            programme_day(conn, session_id)
            conn.execute(
                t.sessions.update().where(t.sessions.c.id == session_id).values(status=status.value, finished_at=when)
            )
            _close_sets(conn, session_id, when)
            return programme_day(conn, session_id)

    def finish_session_with_pain(
        self, session_id: int, *, pain_during: int, pain_after: int, day: date, at: datetime | None = None
    ) -> ProgrammeDay:
        """Close a programme day and store its two pain answers in ONE transaction (all or nothing)."""
        check_pain(pain_during)
        check_pain(pain_after)
        when = to_db(at or utc_now())
        with self._tx(write=True) as conn:
            d = programme_day(conn, session_id)
            if d.status != DayStatus.IN_PROGRESS:
                raise InputError(f"session {session_id} is already {d.status.value}")
            for kind, pain in (("during", pain_during), ("after", pain_after)):
                conn.execute(
                    t.pain_checkins.insert().values(
                        person_id=d.person_id, session_id=session_id, day=day, kind=kind, pain=pain, created_at=when
                    )
                )
            _close_sets(conn, session_id, when)
            conn.execute(
                t.sessions.update()
                .where(t.sessions.c.id == session_id)
                .values(status=DayStatus.FINISHED.value, finished_at=when)
            )
            return programme_day(conn, session_id)

    def get_session(self, session_id: int) -> ProgrammeDay:
        with self._tx(write=False) as conn:
            return programme_day(conn, session_id)

    def list_sessions(self, person_id: int) -> list[ProgrammeDay]:
        return self._records(ProgrammeDay, _days_of(person_id))

    def session_summaries(self, person_id: int) -> list[DaySummary]:
        """Every programme day of a person with valid/total/target reps, exercise seconds and pain answers."""
        with self._tx(write=False) as conn:
            days = [record(ProgrammeDay, r) for r in conn.execute(_days_of(person_id))]
            ids = [d.id for d in days]
            if not ids:
                return []
            sets = list(conn.execute(select(t.sets).where(t.sets.c.session_id.in_(ids))))
            valid = func.sum(cast(t.reps.c.valid, Integer)).label("valid")
            counts = conn.execute(
                select(t.reps.c.set_id, valid, func.count().label("total"))
                .join(t.sets, t.sets.c.id == t.reps.c.set_id)
                .where(t.sets.c.session_id.in_(ids))
                .group_by(t.reps.c.set_id)
            )
            reps = {r.set_id: (int(r.valid or 0), int(r.total)) for r in counts}
            pains = list(
                conn.execute(
                    select(t.pain_checkins.c.session_id, t.pain_checkins.c.kind, t.pain_checkins.c.pain)
                    .where(t.pain_checkins.c.session_id.in_(ids))
                    .order_by(t.pain_checkins.c.created_at)
                )
            )
        return _summaries(days, sets, reps, pains)

    def day_exercise_s(self, person_id: int, day: date, *, now: datetime | None = None) -> float:
        """Seconds of sets done on a day (an unfinished set counts up to `now`): the 15-minute budget's clock."""
        until = now or utc_now()
        with self._tx(write=False) as conn:
            return exercise_s(conn, person_id, day, until)

    # ------------------------------------------------------------------------------------------ pain & readiness
    def add_pain(
        self,
        person_id: int,
        day: date,
        kind: str,
        pain: int,
        *,
        session_id: int | None = None,
        at: datetime | None = None,
    ) -> PainRow:
        check_pain(pain)
        if kind not in PAIN_KINDS:
            raise InputError(f"pain check-in kind must be one of {sorted(PAIN_KINDS)}, got {kind!r}")
        with self._tx(write=True) as conn:
            person(conn, person_id)
            if session_id is not None:
                programme_day(conn, session_id)
            return insert_row(
                conn,
                t.pain_checkins,
                PainRow,
                person_id=person_id,
                session_id=session_id,
                day=day,
                kind=kind,
                pain=pain,
                created_at=to_db(at or utc_now()),
            )

    def list_pain(self, person_id: int) -> list[PainRow]:
        q = select(t.pain_checkins).where(t.pain_checkins.c.person_id == person_id)
        return self._records(PainRow, q.order_by(t.pain_checkins.c.created_at))

    def add_readiness(
        self,
        person_id: int,
        day: date,
        *,
        massage_done: bool,
        vmo_done: bool,
        skbt_verdict: str | None,
        skbt_pain: int | None,
        session_id: int | None = None,
        at: datetime | None = None,
    ) -> ReadinessRow:
        if skbt_pain is not None:
            check_pain(skbt_pain)
        if skbt_verdict not in SKBT_VERDICTS:
            raise InputError(f"Small Knee Bend Test verdict must be valid/invalid/unknown/self, got {skbt_verdict!r}")
        with self._tx(write=True) as conn:
            person(conn, person_id)
            return insert_row(
                conn,
                t.readiness_checks,
                ReadinessRow,
                person_id=person_id,
                session_id=session_id,
                day=day,
                massage_done=massage_done,
                vmo_done=vmo_done,
                skbt_verdict=skbt_verdict,
                skbt_pain=skbt_pain,
                created_at=to_db(at or utc_now()),
            )

    def list_readiness(self, person_id: int) -> list[ReadinessRow]:
        q = select(t.readiness_checks).where(t.readiness_checks.c.person_id == person_id)
        return self._records(ReadinessRow, q.order_by(t.readiness_checks.c.created_at))

    def add_level_event(
        self,
        person_id: int,
        day: date,
        level: int,
        action: str,
        reason: str,
        *,
        session_id: int | None = None,
        actor_id: int | None = None,
        at: datetime | None = None,
    ) -> LevelEventRow:
        """Audit of a decision shown to the person; the engine re-derives levels and never reads these."""
        with self._tx(write=True) as conn:
            return insert_row(
                conn,
                t.level_events,
                LevelEventRow,
                person_id=person_id,
                day=day,
                level=level,
                action=action,
                reason=reason,
                session_id=session_id,
                actor_id=actor_id,
                created_at=to_db(at or utc_now()),
            )

    def list_level_events(self, person_id: int) -> list[LevelEventRow]:
        q = select(t.level_events).where(t.level_events.c.person_id == person_id)
        return self._records(LevelEventRow, q.order_by(t.level_events.c.created_at, t.level_events.c.id))
