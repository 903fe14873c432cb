"""Clinician review: audited clinician actions, alerts for a clinician, and verdicts on live reps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from formcheck.errors import InputError
from formcheck.store import schema as t
from formcheck.store.database import Database
from formcheck.store.people import person, require_clinician
from formcheck.store.records import AlertRow, ClinicianActionRow, RepReviewRow
from formcheck.store.rows import get_row, insert_row, record, require_id, to_db, utc_now

CLINICIAN_KINDS = frozenset({"set_level", "hold", "release", "thresholds", "note"})


def _actions(conn: Connection, where: ColumnElement[bool]) -> list[ClinicianActionRow]:
    """Clinician actions with the acting clinician's name, in the order they were taken."""
    actor = t.people.alias("actor")
    q = (
        select(t.clinician_actions, actor.c.name.label("actor_name"))
        .join(actor, actor.c.id == t.clinician_actions.c.actor_id)
        .where(where)
        .order_by(t.clinician_actions.c.created_at, t.clinician_actions.c.id)
    )
    return [record(ClinicianActionRow, r) for r in conn.execute(q)]


class ReviewRepo(Database):
    def add_clinician_action(
        self,
        person_id: int,
        actor_id: int,
        kind: str,
        payload: Mapping[str, Any],
        *,
        day: date,
        at: datetime | None = None,
    ) -> ClinicianActionRow:
        """An audited clinician control (set_level, hold, release, thresholds, note): who, when, what."""
        if kind not in CLINICIAN_KINDS:
            raise InputError(f"clinician action must be one of {sorted(CLINICIAN_KINDS)}, got {kind!r}")
        with self._tx(write=True) as conn:
            person(conn, person_id)
            require_clinician(conn, actor_id)
            values = {"person_id": person_id, "actor_id": actor_id, "kind": kind, "day": day, "payload": dict(payload)}
            pk = conn.execute(
                t.clinician_actions.insert().values(**values, created_at=to_db(at or utc_now()))
            ).inserted_primary_key
            assert pk is not None
            return _actions(conn, t.clinician_actions.c.id == pk[0])[0]

    def list_clinician_actions(self, person_id: int) -> list[ClinicianActionRow]:
        with self._tx(write=False) as conn:
            return _actions(conn, t.clinician_actions.c.person_id == person_id)

    def add_alert(self, person_id: int, day: date, kind: str, message: str, *, at: datetime | None = None) -> AlertRow:
        """Flag a person for their clinician; one alert per person, day and kind (repeats are ignored)."""
        a = t.alerts.c
        with self._tx(write=True) as conn:
            who = person(conn, person_id)
            existing = conn.execute(
                select(t.alerts).where(a.person_id == person_id, a.day == day, a.kind == kind)
            ).first()
            if existing is not None:
                return record(AlertRow, existing)
            return insert_row(
                conn,
                t.alerts,
                AlertRow,
                person_id=person_id,
                clinician_id=who.clinician_id,
                day=day,
                kind=kind,
                message=message,
                created_at=to_db(at or utc_now()),
            )

    def list_alerts(
        self, *, clinician_id: int | None = None, person_id: int | None = None, open_only: bool = True
    ) -> list[AlertRow]:
        q = select(t.alerts).order_by(t.alerts.c.created_at)
        if clinician_id is not None:
            q = q.where(t.alerts.c.clinician_id == clinician_id)
        if person_id is not None:
            q = q.where(t.alerts.c.person_id == person_id)
        if open_only:
            q = q.where(t.alerts.c.resolved_at.is_(None))
        return self._records(AlertRow, q)

    def resolve_alert(self, alert_id: int, clinician_id: int, *, at: datetime | None = None) -> AlertRow:
        with self._tx(write=True) as conn:
            require_clinician(conn, clinician_id)
            conn.execute(
                t.alerts.update()
                .where(t.alerts.c.id == alert_id)
                .values(resolved_at=to_db(at or utc_now()), resolved_by=clinician_id)
            )
            return get_row(conn, t.alerts, alert_id, "alert", AlertRow)

    def add_rep_review(
        self, rep_id: int, clinician_id: int, *, agree: bool, note: str = "", at: datetime | None = None
    ) -> RepReviewRow:
        with self._tx(write=True) as conn:
            require_clinician(conn, clinician_id)
            require_id(conn, t.reps, rep_id, "rep")
            return insert_row(
                conn,
                t.rep_reviews,
                RepReviewRow,
                rep_id=rep_id,
                clinician_id=clinician_id,
                agree=agree,
                note=note,
                at=to_db(at or utc_now()),
            )

    def list_rep_reviews(self, rep_id: int) -> list[RepReviewRow]:
        q = select(t.rep_reviews).where(t.rep_reviews.c.rep_id == rep_id).order_by(t.rep_reviews.c.at)
        return self._records(RepReviewRow, q)
