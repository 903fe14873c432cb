"""Live sets and their reps within a programme day; each rep is stored the moment it is counted. Rep clips too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from formcheck.errors import InputError
from formcheck.store import schema as t
from formcheck.store.database import Database
from formcheck.store.days import exercise_s, programme_day
from formcheck.store.people import person
from formcheck.store.records import DayStatus, Person, RepClipRow, RepIn, RepRow, SetRow
from formcheck.store.rows import from_mapping, get_row, insert_row, record, require_id, to_db, to_json, utc_now

VERDICTS = frozenset({"valid", "invalid", "unknown"})


def live_set(conn: Connection, set_id: int) -> SetRow:
    return get_row(conn, t.sets, set_id, "set", SetRow)


def _check_rep(rep: RepIn) -> None:
    if rep.verdict not in VERDICTS:
        raise InputError(f"rep verdict must be one of {sorted(VERDICTS)}, got {rep.verdict!r}")
    if rep.valid != (rep.verdict == "valid"):
        raise InputError("a rep is valid exactly when its verdict is 'valid'")
    if not rep.valid and not rep.reason:
        raise InputError("an invalid or unknown rep must carry its reason")


class SetsRepo(Database):
    def start_set(
        self,
        session_id: int,
        exercise_id: str,
        *,
        side: str | None,
        set_index: int,
        target_reps: int,
        target_hold_s: float | None = None,
        at: datetime | None = None,
    ) -> SetRow:
        """Start a set within the programme day `session_id` (which must still be in progress)."""
        with self._tx(write=True) as conn:
            day = programme_day(conn, session_id)
            if day.status != DayStatus.IN_PROGRESS:
                raise InputError(f"session {session_id} is {day.status.value}: start a new session")
            return insert_row(
                conn,
                t.sets,
                SetRow,
                session_id=session_id,
                exercise_id=exercise_id,
                side=side,
                set_index=set_index,
                target_reps=target_reps,
                target_hold_s=target_hold_s,
                started_at=to_db(at or utc_now()),
            )

    def end_set(self, set_id: int, *, at: datetime | None = None) -> SetRow:
        with self._tx(write=True) as conn:
            live_set(conn, set_id)
            conn.execute(
                t.sets.update()
                .where(t.sets.c.id == set_id, t.sets.c.ended_at.is_(None))
                .values(ended_at=to_db(at or utc_now()))
            )
            return live_set(conn, set_id)

    def get_set(self, set_id: int) -> SetRow:
        with self._tx(write=False) as conn:
            return live_set(conn, set_id)

    def list_sets(self, session_id: int) -> list[SetRow]:
        return self._records(SetRow, select(t.sets).where(t.sets.c.session_id == session_id).order_by(t.sets.c.id))

    def add_rep(self, set_id: int, rep: RepIn, *, at: datetime | None = None) -> RepRow:
        """Store one judged rep in its own committed transaction, the moment it is counted."""
        _check_rep(rep)
        with self._tx(write=True) as conn:
            if live_set(conn, set_id).ended_at is not None:
                raise InputError(f"set {set_id} has ended: start a new set")
            values = {
                "set_id": set_id,
                "idx": rep.idx,
                "side": rep.side,
                "start_s": float(rep.start_s),
                "end_s": float(rep.end_s),
                "valid": rep.valid,
                "verdict": rep.verdict,
                "reason": rep.reason,
                "metrics": dict(rep.metrics),
                "faults": [to_json(f) for f in rep.faults],
                "created_at": to_db(at or utc_now()),
            }
            pk = conn.execute(t.reps.insert().values(**values)).inserted_primary_key
        # Not read back: the live path stores a rep per counted rep, and the values written are the row.
        assert pk is not None
        return from_mapping(RepRow, {**values, "id": pk[0]})

    def set_progress(self, set_id: int, *, now: datetime | None = None) -> tuple[int, int, float]:
        """(valid reps so far, target reps, seconds of sets done that day by that person), in one read."""
        valid_q = (
            select(func.count())
            .select_from(t.reps)
            .where(t.reps.c.set_id == set_id, t.reps.c.valid.is_(True))
            .scalar_subquery()
        )
        with self._tx(write=False) as conn:
            row = conn.execute(
                select(t.sets.c.target_reps, t.sessions.c.person_id, t.sessions.c.day, valid_q.label("valid"))
                .join(t.sessions, t.sessions.c.id == t.sets.c.session_id)
                .where(t.sets.c.id == set_id)
            ).first()
            if row is None:
                raise InputError(f"no set with id {set_id}")
            used = exercise_s(conn, row.person_id, row.day, now or utc_now())
            return int(row.valid), int(row.target_reps), used

    def list_reps(self, *, set_id: int | None = None, session_id: int | None = None) -> list[RepRow]:
        q = select(t.reps).order_by(t.reps.c.id)
        if set_id is not None:
            q = q.where(t.reps.c.set_id == set_id)
        if session_id is not None:
            q = q.join(t.sets, t.sets.c.id == t.reps.c.set_id).where(t.sets.c.session_id == session_id)
        return self._records(RepRow, q)

    def get_rep(self, rep_id: int) -> RepRow:
        with self._tx(write=False) as conn:
            return get_row(conn, t.reps, rep_id, "rep", RepRow)

    def flagged_reps(
        self, *, clinician_id: int | None = None, unreviewed_only: bool = True
    ) -> list[tuple[Person, RepRow]]:
        """Reps with faults (or not valid), optionally only for one clinician's people and not yet reviewed."""
        q = (
            select(t.reps, t.people.c.id.label("pid"))
            .join(t.sets, t.sets.c.id == t.reps.c.set_id)
            .join(t.sessions, t.sessions.c.id == t.sets.c.session_id)
            .join(t.people, t.people.c.id == t.sessions.c.person_id)
            .where(t.reps.c.valid.is_(False))
            .order_by(t.reps.c.id)
        )
        if clinician_id is not None:
            q = q.where(t.people.c.clinician_id == clinician_id)
        if unreviewed_only:
            q = q.where(~select(t.rep_reviews.c.id).where(t.rep_reviews.c.rep_id == t.reps.c.id).exists())
        with self._tx(write=False) as conn:
            rows = list(conn.execute(q))
            people = {pid: person(conn, pid) for pid in {r.pid for r in rows}}
            return [(people[r.pid], record(RepRow, r)) for r in rows]

    def add_rep_clip(self, rep_id: int, path: str, *, at: datetime | None = None) -> RepClipRow:
        with self._tx(write=True) as conn:
            require_id(conn, t.reps, rep_id, "rep")
            return insert_row(
                conn, t.rep_clips, RepClipRow, rep_id=rep_id, path=path, created_at=to_db(at or utc_now())
            )

    def list_rep_clips(self, rep_id: int) -> list[RepClipRow]:
        q = select(t.rep_clips).where(t.rep_clips.c.rep_id == rep_id).order_by(t.rep_clips.c.id)
        return self._records(RepClipRow, q)
