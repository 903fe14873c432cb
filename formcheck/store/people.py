"""People and accounts: persons, clinicians and admins, their passwords and settings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from formcheck.errors import InputError
from formcheck.store import schema as t
from formcheck.store.database import Database
from formcheck.store.records import Person, Role
from formcheck.store.rows import get_row, insert_row, record, to_db, utc_now

NAME_MAX_LEN = 80


def person(conn: Connection, person_id: int) -> Person:
    return get_row(conn, t.people, person_id, "person", Person)


def require_clinician(conn: Connection, clinician_id: int) -> None:
    row = conn.execute(select(t.people.c.role, t.people.c.name).where(t.people.c.id == clinician_id)).first()
    if row is None:
        raise InputError(f"no clinician with id {clinician_id}")
    if row.role not in (Role.CLINICIAN, Role.ADMIN):
        raise InputError(f"'{row.name}' is not a clinician")


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX_LEN or not name.isprintable():
        raise InputError(f"a person's name must be 1-{NAME_MAX_LEN} characters on one line, got {name!r}")
    return name


def _check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(f"unknown role '{role}' (choose from {', '.join(r.value for r in Role)})") from None


class PeopleRepo(Database):
    def add_person(
        self,
        name: str,
        *,
        role: Role | str = Role.PERSON,
        display_name: str | None = None,
        clinician_id: int | None = None,
        password_hash: str | None = None,
        settings: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Person:
        name = _check_name(name)
        role = _check_role(role)
        merged = {**t.DEFAULT_PERSON_SETTINGS, **(settings or {})}
        with self._tx(write=True) as conn:
            if conn.execute(select(t.people.c.id).where(t.people.c.name == name)).first():
                raise InputError(f"a person named '{name}' already exists")
            if clinician_id is not None:
                require_clinician(conn, clinician_id)
            return insert_row(
                conn,
                t.people,
                Person,
                name=name,
                role=role.value,
                display_name=display_name or name,
                clinician_id=clinician_id,
                password_hash=password_hash,
                settings=merged,
                created_at=to_db(at or utc_now()),
            )

    def get_person(self, name: str) -> Person:
        """By unique name; InputError naming the known people when there is no such person."""
        with self._tx(write=False) as conn:
            row = conn.execute(select(t.people).where(t.people.c.name == name.strip())).first()
            if row is None:
                known = [r[0] for r in conn.execute(select(t.people.c.name).order_by(t.people.c.name))]
                hint = (
                    f" (known: {', '.join(known)})"
                    if known
                    else " (no people yet: add one with `formcheck people add NAME`)"
                )
                raise InputError(f"unknown person '{name}'{hint}")
            return record(Person, row)

    def get_person_by_id(self, person_id: int) -> Person:
        with self._tx(write=False) as conn:
            return person(conn, person_id)

    def list_people(self, *, role: Role | str | None = None, clinician_id: int | None = None) -> list[Person]:
        q = select(t.people).order_by(t.people.c.name)
        if role is not None:
            q = q.where(t.people.c.role == Role(role).value)
        if clinician_id is not None:
            q = q.where(t.people.c.clinician_id == clinician_id)
        return self._records(Person, q)

    def _update_person(self, person_id: int, **values: Any) -> Person:
        """Change columns of one person (checking the clinician named, if any) and return the new row."""
        with self._tx(write=True) as conn:
            person(conn, person_id)
            if values.get("clinician_id") is not None:
                require_clinician(conn, values["clinician_id"])
            conn.execute(t.people.update().where(t.people.c.id == person_id).values(**values))
            return person(conn, person_id)

    def set_password_hash(self, person_id: int, password_hash: str | None) -> Person:
        return self._update_person(person_id, password_hash=password_hash)

    def set_display_name(self, person_id: int, display_name: str) -> Person:
        """The name pages show (one line, at most NAME_MAX_LEN characters); the sign-in name stays."""
        return self._update_person(person_id, display_name=_check_name(display_name))

    def assign_clinician(self, person_id: int, clinician_id: int | None) -> Person:
        return self._update_person(person_id, clinician_id=clinician_id)

    def update_settings(self, person_id: int, changes: Mapping[str, Any]) -> Person:
        with self._tx(write=True) as conn:
            merged = {**person(conn, person_id).settings, **changes}
            conn.execute(t.people.update().where(t.people.c.id == person_id).values(settings=merged))
            return person(conn, person_id)
