"""The Store: one small typed repository API over SQLAlchemy Core; every call is one transaction.

SQLite (default, WAL) or PostgreSQL by URL. Rows go out as frozen dataclasses (records.py). Database failures
become one-line StoreErrors; bad values from a person become InputErrors, raised before anything is written.
"""

from __future__ import annotations

import logging
import stat
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Integer, Table, cast, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from formcheck.errors import InputError, StoreError
from formcheck.store import migrations
from formcheck.store import schema as t
from formcheck.store.paths import resolve_url
from formcheck.store.records import (
    AlertRow,
    ClinicianActionRow,
    Fault,
    JobRow,
    JobStatus,
    LevelEventRow,
    PainRow,
    Person,
    ReadinessRow,
    RepClipRow,
    RepIn,
    RepReviewRow,
    RepRow,
    Role,
    SessionRow,
    SessionStatus,
    SessionSummary,
    SetRow,
    UploadRow,
)

log = logging.getLogger(__name__)
R = TypeVar("R")

DEFAULT_BUSY_TIMEOUT_MS = 5000  # wait this long for another writer before reporting "locked"; judgement call
PAIN_KINDS = frozenset({"readiness", "during", "after", "next_day"})
VERDICTS = frozenset({"valid", "invalid", "unknown"})
CLINICIAN_KINDS = frozenset({"set_level", "hold", "release", "thresholds", "note"})
NAME_MAX_LEN = 80


def _now() -> datetime:
    return datetime.now(UTC)


def _to_db(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _from_db(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _check_pain(pain: object) -> int:
    if isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10:
        raise InputError(f"pain must be a whole number from 0 to 10, got {pain!r}")
    return pain


def _insert_row(conn: Connection, table: Table, to_record: Callable[[Any], R], /, **values: Any) -> R:
    """Insert one row and return it as a record, read back inside the same transaction."""
    row_id = conn.execute(table.insert().values(**values)).inserted_primary_key[0]
    return to_record(conn.execute(select(table).where(table.c.id == row_id)).one())


MAX_ROW_ID = 2**63 - 1  # SQL BIGINT: a larger id cannot exist (and would overflow the driver's binding)


def _check_id(row_id: Any, what: str) -> None:
    if isinstance(row_id, bool) or not isinstance(row_id, int) or not 0 <= row_id <= MAX_ROW_ID:
        raise InputError(f"no {what} with id {row_id}")


class LeaseLostError(StoreError):
    """A worker wrote to a job whose lease another worker has taken over (the old run must stop)."""


def _get_row(conn: Connection, table: Table, row_id: int, what: str, to_record: Callable[[Any], R]) -> R:
    """The row with this id as a record; InputError "no WHAT with id N" when there is none."""
    _check_id(row_id, what)
    row = conn.execute(select(table).where(table.c.id == row_id)).first()
    if row is None:
        raise InputError(f"no {what} with id {row_id}")
    return to_record(row)


def _require_id(conn: Connection, table: Table, row_id: int, what: str) -> None:
    """InputError "no WHAT with id N" unless the row exists (reads the id column only)."""
    _check_id(row_id, what)
    if conn.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise InputError(f"no {what} with id {row_id}")


class Store:
    """Open with `Store.open(url_or_none)`; use as a context manager or call close()."""

    def __init__(self, engine: Engine, where: str) -> None:
        self._engine = engine
        self.where = where

    # ------------------------------------------------------------------------------------------ open / close
    @classmethod
    def open(
        cls, url: str | None = None, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, migrate: bool = True
    ) -> Store:
        """Open (and create/upgrade) the database. Errors: StoreError with one line."""
        resolved = resolve_url(url)
        try:
            parsed = make_url(resolved)
        except ArgumentError:
            raise StoreError(f"not a database URL: {resolved}") from None
        where = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite":
            engine = cls._sqlite_engine(parsed.database or "", busy_timeout_ms)
            where = parsed.database or ":memory:"
        else:
            try:
                engine = create_engine(parsed, pool_pre_ping=True)
            except (NoSuchModuleError, ImportError) as e:
                raise StoreError(f"cannot use database {where}: {e}") from None
        store = cls(engine, where)
        try:
            if migrate:
                store._migrate()
            else:
                with store._tx(write=False) as conn:
                    version = migrations.current_version(conn)
                if version > t.SCHEMA_VERSION:
                    raise StoreError(
                        f"database schema version {version} is newer than this formcheck understands"
                        f" ({t.SCHEMA_VERSION}): upgrade formcheck"
                    )
        except BaseException:
            engine.dispose()
            raise
        return store

    @staticmethod
    def _sqlite_engine(path: str, busy_timeout_ms: int) -> Engine:
        if path and path != ":memory:":
            db = Path(path)
            try:
                if not db.parent.exists():
                    db.parent.mkdir(mode=0o700, parents=True)  # health data: private to this account
            except OSError as e:
                raise StoreError(f"cannot create data directory {db.parent}: {e.strerror or e}") from None
            # Checked on the mode bits, not os.access: root can write a 0444 file, and we must not.
            if db.exists() and not db.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
                raise StoreError(f"database {db} is read-only: make it writable or choose another data directory")
            if db.exists() and not db.is_file():
                raise StoreError(f"database path {db} is not a file")
            try:
                db.touch(mode=0o600, exist_ok=True)
                for part in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                    if part.exists():
                        part.chmod(0o600)
            except OSError as e:
                raise StoreError(f"cannot create database {db}: {e.strerror or e}") from None
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves so DDL is transactional too
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front, so a writer never dies half-way on a busy upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("fc_write") else "BEGIN")

        return engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def _migrate(self) -> None:
        # Read first: an up-to-date database needs no write lock just to be opened.
        with self._tx(write=False) as conn:
            found = migrations.current_version(conn)
        if found == t.SCHEMA_VERSION:
            return
        with self._tx(write=True) as conn:
            before = migrations.migrate(conn)
        if before != t.SCHEMA_VERSION:
            log.info("database %s upgraded from schema %d to %d", self.where, before, t.SCHEMA_VERSION)

    def schema_version(self) -> int:
        with self._tx(write=False) as conn:
            return migrations.current_version(conn)

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Connection]:
        """One transaction; database failures become a one-line StoreError (the transaction is rolled back)."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(fc_write=True)
                with conn.begin():
                    yield conn
        except IntegrityError as e:
            raise StoreError(f"database {self.where}: refused a write that breaks a rule: {_first_line(e)}") from None
        except DBAPIError as e:
            raise self._error(e) from None

    def _error(self, e: DBAPIError) -> StoreError:
        line = _first_line(e)
        low = line.lower()
        if "locked" in low or "busy" in low:
            return StoreError(f"database {self.where} is locked by another program: close it or try again")
        if "readonly" in low or "read-only" in low:
            return StoreError(f"database {self.where} is read-only: make it writable or choose another data directory")
        if "not a database" in low or "malformed" in low:
            return StoreError(f"{self.where} is not a formcheck database (or it is damaged): {line}")
        if "unable to open" in low:
            return StoreError(f"cannot open database {self.where}: {line}")
        if "connect" in low or "connection" in low:
            return StoreError(f"cannot connect to database {self.where}: {line}")
        return StoreError(f"database {self.where}: {line}")

    # ------------------------------------------------------------------------------------------ people
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
        name = name.strip()
        if not name or len(name) > NAME_MAX_LEN or any(c.isspace() and c != " " for c in name):
            raise InputError(f"a person's name must be 1-{NAME_MAX_LEN} characters on one line, got {name!r}")
        try:
            role = Role(role)
        except ValueError:
            raise InputError(f"unknown role '{role}' (choose from {', '.join(r.value for r in Role)})") from None
        merged = dict(migrations.DEFAULT_PERSON_SETTINGS)
        merged.update(settings or {})
        with self._tx(write=True) as conn:
            if conn.execute(select(t.people.c.id).where(t.people.c.name == name)).first():
                raise InputError(f"a person named '{name}' already exists")
            if clinician_id is not None:
                self._require_clinician(conn, clinician_id)
            return _insert_row(
                conn,
                t.people,
                _person_row,
                name=name,
                role=role.value,
                display_name=display_name or name,
                clinician_id=clinician_id,
                password_hash=password_hash,
                settings=merged,
                created_at=_to_db(at or _now()),
            )

    def _require_clinician(self, conn: Connection, clinician_id: int) -> None:
        row = conn.execute(select(t.people.c.role, t.people.c.name).where(t.people.c.id == clinician_id)).first()
        if row is None:
            raise InputError(f"no clinician with id {clinician_id}")
        if row.role not in (Role.CLINICIAN, Role.ADMIN):
            raise InputError(f"'{row.name}' is not a clinician")

    def _person(self, conn: Connection, person_id: int) -> Person:
        return _get_row(conn, t.people, person_id, "person", _person_row)

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
            return _person_row(row)

    def get_person_by_id(self, person_id: int) -> Person:
        with self._tx(write=False) as conn:
            return self._person(conn, person_id)

    def list_people(self, *, role: Role | str | None = None, clinician_id: int | None = None) -> list[Person]:
        q = select(t.people).order_by(t.people.c.name)
        if role is not None:
            q = q.where(t.people.c.role == Role(role).value)
        if clinician_id is not None:
            q = q.where(t.people.c.clinician_id == clinician_id)
        with self._tx(write=False) as conn:
            return [_person_row(r) for r in conn.execute(q)]

    def set_password_hash(self, person_id: int, password_hash: str | None) -> Person:
        with self._tx(write=True) as conn:
            self._person(conn, person_id)
            conn.execute(t.people.update().where(t.people.c.id == person_id).values(password_hash=password_hash))
            return self._person(conn, person_id)

    def assign_clinician(self, person_id: int, clinician_id: int | None) -> Person:
        with self._tx(write=True) as conn:
            self._person(conn, person_id)
            if clinician_id is not None:
                self._require_clinician(conn, clinician_id)
            conn.execute(t.people.update().where(t.people.c.id == person_id).values(clinician_id=clinician_id))
            return self._person(conn, person_id)

    def update_settings(self, person_id: int, changes: Mapping[str, Any]) -> Person:
        with self._tx(write=True) as conn:
            person = self._person(conn, person_id)
            merged = dict(person.settings)
            merged.update(changes)
            conn.execute(t.people.update().where(t.people.c.id == person_id).values(settings=merged))
            return self._person(conn, person_id)

    # ------------------------------------------------------------------------------------------ sessions
    def start_session(self, person_id: int, day: date, level: int, *, at: datetime | None = None) -> SessionRow:
        with self._tx(write=True) as conn:
            self._person(conn, person_id)
            return _insert_row(
                conn,
                t.sessions,
                _session_row,
                person_id=person_id,
                day=day,
                level=level,
                status=SessionStatus.IN_PROGRESS.value,
                started_at=_to_db(at or _now()),
            )

    def finish_session(
        self,
        session_id: int,
        status: SessionStatus | str = SessionStatus.FINISHED,
        *,
        at: datetime | None = None,
    ) -> SessionRow:
        status = SessionStatus(status)
        with self._tx(write=True) as conn:
            self._session(conn, session_id)
            conn.execute(
                t.sessions.update()
                .where(t.sessions.c.id == session_id)
                .values(status=status.value, finished_at=_to_db(at or _now()))
            )
            conn.execute(
                t.sets.update()
                .where(t.sets.c.session_id == session_id, t.sets.c.ended_at.is_(None))
                .values(ended_at=_to_db(at or _now()))
            )
            return self._session(conn, session_id)

    def finish_session_with_pain(
        self, session_id: int, *, pain_during: int, pain_after: int, day: date, at: datetime | None = None
    ) -> SessionRow:
        """Close a session and store its two pain answers in ONE transaction (all or nothing)."""
        _check_pain(pain_during)
        _check_pain(pain_after)
        when = _to_db(at or _now())
        with self._tx(write=True) as conn:
            s = self._session(conn, session_id)
            if s.status != SessionStatus.IN_PROGRESS:
                raise InputError(f"session {session_id} is already {s.status.value}")
            for kind, pain in (("during", pain_during), ("after", pain_after)):
                conn.execute(
                    t.pain_checkins.insert().values(
                        person_id=s.person_id,
                        session_id=session_id,
                        day=day,
                        kind=kind,
                        pain=pain,
                        created_at=when,
                    )
                )
            conn.execute(
                t.sets.update()
                .where(t.sets.c.session_id == session_id, t.sets.c.ended_at.is_(None))
                .values(ended_at=when)
            )
            conn.execute(
                t.sessions.update()
                .where(t.sessions.c.id == session_id)
                .values(status=SessionStatus.FINISHED.value, finished_at=when)
            )
            return self._session(conn, session_id)

    def _session(self, conn: Connection, session_id: int) -> SessionRow:
        return _get_row(conn, t.sessions, session_id, "session", _session_row)

    def get_session(self, session_id: int) -> SessionRow:
        with self._tx(write=False) as conn:
            return self._session(conn, session_id)

    def list_sessions(self, person_id: int) -> list[SessionRow]:
        with self._tx(write=False) as conn:
            q = select(t.sessions).where(t.sessions.c.person_id == person_id).order_by(t.sessions.c.started_at)
            return [_session_row(r) for r in conn.execute(q)]

    def session_summaries(self, person_id: int) -> list[SessionSummary]:
        """Every session of a person with valid/total/target reps, exercise seconds and pain answers."""
        with self._tx(write=False) as conn:
            srows = [
                _session_row(r)
                for r in conn.execute(
                    select(t.sessions).where(t.sessions.c.person_id == person_id).order_by(t.sessions.c.started_at)
                )
            ]
            ids = [s.id for s in srows]
            if not ids:
                return []
            set_rows = list(conn.execute(select(t.sets).where(t.sets.c.session_id.in_(ids))))
            rep_counts = {
                r.set_id: (int(r.valid or 0), int(r.total))
                for r in conn.execute(
                    select(
                        t.reps.c.set_id,
                        func.sum(cast(t.reps.c.valid, Integer)).label("valid"),
                        func.count().label("total"),
                    )
                    .join(t.sets, t.sets.c.id == t.reps.c.set_id)
                    .where(t.sets.c.session_id.in_(ids))
                    .group_by(t.reps.c.set_id)
                )
            }
            pains = list(
                conn.execute(
                    select(t.pain_checkins.c.session_id, t.pain_checkins.c.kind, t.pain_checkins.c.pain)
                    .where(t.pain_checkins.c.session_id.in_(ids))
                    .order_by(t.pain_checkins.c.created_at)
                )
            )
        per: dict[int, dict[str, float]] = defaultdict(lambda: {"valid": 0, "total": 0, "target": 0, "secs": 0.0})
        for s in set_rows:
            agg = per[s.session_id]
            valid, total = rep_counts.get(s.id, (0, 0))
            agg["valid"] += valid
            agg["total"] += total
            agg["target"] += s.target_reps
            if s.ended_at is not None:
                agg["secs"] += (_from_db(s.ended_at) - _from_db(s.started_at)).total_seconds()
        pain_of: dict[tuple[int, str], int] = {}
        for p in pains:
            key = (p.session_id, p.kind)
            pain_of[key] = max(pain_of.get(key, 0), p.pain)
        out = []
        for s in srows:
            agg = per[s.id]
            out.append(
                SessionSummary(
                    session=s,
                    valid_reps=int(agg["valid"]),
                    total_reps=int(agg["total"]),
                    target_reps=int(agg["target"]),
                    exercise_s=float(agg["secs"]),
                    pain_during=pain_of.get((s.id, "during")),
                    pain_after=pain_of.get((s.id, "after")),
                )
            )
        return out

    def day_exercise_s(self, person_id: int, day: date, *, now: datetime | None = None) -> float:
        """Seconds of sets done on a day (an unfinished set counts up to `now`): the 15-minute budget's clock."""
        with self._tx(write=False) as conn:
            return self._day_exercise_s(conn, person_id, day, now or _now())

    def _day_exercise_s(self, conn: Connection, person_id: int, day: date, now: datetime) -> float:
        rows = conn.execute(
            select(t.sets.c.started_at, t.sets.c.ended_at)
            .join(t.sessions, t.sessions.c.id == t.sets.c.session_id)
            .where(t.sessions.c.person_id == person_id, t.sessions.c.day == day)
        )
        total = 0.0
        for r in rows:
            end = _from_db(r.ended_at) or now
            total += max(0.0, (end - _from_db(r.started_at)).total_seconds())
        return total

    # ------------------------------------------------------------------------------------------ sets & reps
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
        with self._tx(write=True) as conn:
            s = self._session(conn, session_id)
            if s.status != SessionStatus.IN_PROGRESS:
                raise InputError(f"session {session_id} is {s.status.value}: start a new session")
            return _insert_row(
                conn,
                t.sets,
                _set_row,
                session_id=session_id,
                exercise_id=exercise_id,
                side=side,
                set_index=set_index,
                target_reps=target_reps,
                target_hold_s=target_hold_s,
                started_at=_to_db(at or _now()),
            )

    def end_set(self, set_id: int, *, at: datetime | None = None) -> SetRow:
        with self._tx(write=True) as conn:
            self._set(conn, set_id)
            conn.execute(
                t.sets.update()
                .where(t.sets.c.id == set_id, t.sets.c.ended_at.is_(None))
                .values(ended_at=_to_db(at or _now()))
            )
            return self._set(conn, set_id)

    def _set(self, conn: Connection, set_id: int) -> SetRow:
        return _get_row(conn, t.sets, set_id, "set", _set_row)

    def get_set(self, set_id: int) -> SetRow:
        with self._tx(write=False) as conn:
            return self._set(conn, set_id)

    def list_sets(self, session_id: int) -> list[SetRow]:
        with self._tx(write=False) as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(t.sets.c.id).where(t.sets.c.session_id == session_id).order_by(t.sets.c.id)
                )
            ]
            return [self._set(conn, i) for i in ids]

    def add_rep(self, set_id: int, rep: RepIn, *, at: datetime | None = None) -> RepRow:
        """Store one judged rep in its own committed transaction, the moment it is counted."""
        if rep.verdict not in VERDICTS:
            raise InputError(f"rep verdict must be one of {sorted(VERDICTS)}, got {rep.verdict!r}")
        if rep.valid != (rep.verdict == "valid"):
            raise InputError("a rep is valid exactly when its verdict is 'valid'")
        if not rep.valid and not rep.reason:
            raise InputError("an invalid or unknown rep must carry its reason")
        faults = [
            {"rule": f.rule, "value": float(f.value), "threshold": float(f.threshold), "unit": f.unit}
            for f in rep.faults
        ]
        with self._tx(write=True) as conn:
            s = self._set(conn, set_id)
            if s.ended_at is not None:
                raise InputError(f"set {set_id} has ended: start a new set")
            when = _to_db(at or _now())
            rid = conn.execute(
                t.reps.insert().values(
                    set_id=set_id,
                    idx=rep.idx,
                    side=rep.side,
                    start_s=float(rep.start_s),
                    end_s=float(rep.end_s),
                    valid=rep.valid,
                    verdict=rep.verdict,
                    reason=rep.reason,
                    metrics=dict(rep.metrics),
                    faults=faults,
                    created_at=when,
                )
            ).inserted_primary_key[0]
        return RepRow(
            id=rid,
            set_id=set_id,
            idx=rep.idx,
            side=rep.side,
            start_s=float(rep.start_s),
            end_s=float(rep.end_s),
            valid=rep.valid,
            verdict=rep.verdict,
            reason=rep.reason,
            metrics=dict(rep.metrics),
            faults=tuple(rep.faults),
            created_at=when,
        )

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
            used = self._day_exercise_s(conn, row.person_id, row.day, now or _now())
            return int(row.valid), int(row.target_reps), used

    def list_reps(self, *, set_id: int | None = None, session_id: int | None = None) -> list[RepRow]:
        q = select(t.reps).order_by(t.reps.c.id)
        if set_id is not None:
            q = q.where(t.reps.c.set_id == set_id)
        if session_id is not None:
            q = q.join(t.sets, t.sets.c.id == t.reps.c.set_id).where(t.sets.c.session_id == session_id)
        with self._tx(write=False) as conn:
            return [_rep_row(r) for r in conn.execute(q)]

    def get_rep(self, rep_id: int) -> RepRow:
        with self._tx(write=False) as conn:
            return _get_row(conn, t.reps, rep_id, "rep", _rep_row)

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
            people = {pid: self._person(conn, pid) for pid in {r.pid for r in rows}}
            return [(people[r.pid], _rep_row(r)) for r in rows]

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
        _check_pain(pain)
        if kind not in PAIN_KINDS:
            raise InputError(f"pain check-in kind must be one of {sorted(PAIN_KINDS)}, got {kind!r}")
        with self._tx(write=True) as conn:
            self._person(conn, person_id)
            if session_id is not None:
                self._session(conn, session_id)
            return _insert_row(
                conn,
                t.pain_checkins,
                _pain_row,
                person_id=person_id,
                session_id=session_id,
                day=day,
                kind=kind,
                pain=pain,
                created_at=_to_db(at or _now()),
            )

    def list_pain(self, person_id: int) -> list[PainRow]:
        with self._tx(write=False) as conn:
            q = select(t.pain_checkins).where(t.pain_checkins.c.person_id == person_id)
            return [_pain_row(r) for r in conn.execute(q.order_by(t.pain_checkins.c.created_at))]

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
            _check_pain(skbt_pain)
        if skbt_verdict not in (None, "valid", "invalid", "unknown", "self"):
            raise InputError(f"Small Knee Bend Test verdict must be valid/invalid/unknown/self, got {skbt_verdict!r}")
        with self._tx(write=True) as conn:
            self._person(conn, person_id)
            return _insert_row(
                conn,
                t.readiness_checks,
                _readiness_row,
                person_id=person_id,
                session_id=session_id,
                day=day,
                massage_done=massage_done,
                vmo_done=vmo_done,
                skbt_verdict=skbt_verdict,
                skbt_pain=skbt_pain,
                created_at=_to_db(at or _now()),
            )

    def list_readiness(self, person_id: int) -> list[ReadinessRow]:
        with self._tx(write=False) as conn:
            q = select(t.readiness_checks).where(t.readiness_checks.c.person_id == person_id)
            return [_readiness_row(r) for r in conn.execute(q.order_by(t.readiness_checks.c.created_at))]

    # ------------------------------------------------------------------------------------------ clinician
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
            self._person(conn, person_id)
            self._require_clinician(conn, actor_id)
            aid = conn.execute(
                t.clinician_actions.insert().values(
                    person_id=person_id,
                    actor_id=actor_id,
                    kind=kind,
                    day=day,
                    payload=dict(payload),
                    created_at=_to_db(at or _now()),
                )
            ).inserted_primary_key[0]
            return self._actions(conn, t.clinician_actions.c.id == aid)[0]

    def list_clinician_actions(self, person_id: int) -> list[ClinicianActionRow]:
        with self._tx(write=False) as conn:
            return self._actions(conn, t.clinician_actions.c.person_id == person_id)

    def _actions(self, conn: Connection, where: Any) -> list[ClinicianActionRow]:
        actor = t.people.alias("actor")
        q = (
            select(t.clinician_actions, actor.c.name.label("actor_name"))
            .join(actor, actor.c.id == t.clinician_actions.c.actor_id)
            .where(where)
            .order_by(t.clinician_actions.c.created_at, t.clinician_actions.c.id)
        )
        return [
            ClinicianActionRow(
                id=r.id,
                person_id=r.person_id,
                actor_id=r.actor_id,
                actor_name=r.actor_name,
                kind=r.kind,
                day=r.day,
                payload=dict(r.payload or {}),
                created_at=_from_db(r.created_at),
            )
            for r in conn.execute(q)
        ]

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
            return _insert_row(
                conn,
                t.level_events,
                _level_row,
                person_id=person_id,
                day=day,
                level=level,
                action=action,
                reason=reason,
                session_id=session_id,
                actor_id=actor_id,
                created_at=_to_db(at or _now()),
            )

    def list_level_events(self, person_id: int) -> list[LevelEventRow]:
        with self._tx(write=False) as conn:
            q = select(t.level_events).where(t.level_events.c.person_id == person_id)
            return [_level_row(r) for r in conn.execute(q.order_by(t.level_events.c.created_at, t.level_events.c.id))]

    def add_alert(self, person_id: int, day: date, kind: str, message: str, *, at: datetime | None = None) -> AlertRow:
        """Flag a person for their clinician; one alert per person, day and kind (repeats are ignored)."""
        with self._tx(write=True) as conn:
            person = self._person(conn, person_id)
            existing = conn.execute(
                select(t.alerts).where(
                    t.alerts.c.person_id == person_id, t.alerts.c.day == day, t.alerts.c.kind == kind
                )
            ).first()
            if existing is not None:
                return _alert_row(existing)
            return _insert_row(
                conn,
                t.alerts,
                _alert_row,
                person_id=person_id,
                clinician_id=person.clinician_id,
                day=day,
                kind=kind,
                message=message,
                created_at=_to_db(at or _now()),
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
        with self._tx(write=False) as conn:
            return [_alert_row(r) for r in conn.execute(q)]

    def resolve_alert(self, alert_id: int, clinician_id: int, *, at: datetime | None = None) -> AlertRow:
        with self._tx(write=True) as conn:
            self._require_clinician(conn, clinician_id)
            conn.execute(
                t.alerts.update()
                .where(t.alerts.c.id == alert_id)
                .values(resolved_at=_to_db(at or _now()), resolved_by=clinician_id)
            )
            return _get_row(conn, t.alerts, alert_id, "alert", _alert_row)

    def add_rep_review(
        self, rep_id: int, clinician_id: int, *, agree: bool, note: str = "", at: datetime | None = None
    ) -> RepReviewRow:
        with self._tx(write=True) as conn:
            self._require_clinician(conn, clinician_id)
            _require_id(conn, t.reps, rep_id, "rep")
            return _insert_row(
                conn,
                t.rep_reviews,
                _review_row,
                rep_id=rep_id,
                clinician_id=clinician_id,
                agree=agree,
                note=note,
                at=_to_db(at or _now()),
            )

    def list_rep_reviews(self, rep_id: int) -> list[RepReviewRow]:
        with self._tx(write=False) as conn:
            q = select(t.rep_reviews).where(t.rep_reviews.c.rep_id == rep_id).order_by(t.rep_reviews.c.at)
            return [_review_row(r) for r in conn.execute(q)]

    # ------------------------------------------------------------------------------------------ uploads & jobs
    def add_upload(
        self,
        owner_id: int,
        *,
        original_filename: str,
        stored_path: str,
        sha256: str,
        size_bytes: int,
        exercise_id: str,
        side: str | None = None,
        at: datetime | None = None,
    ) -> UploadRow:
        with self._tx(write=True) as conn:
            self._person(conn, owner_id)
            return _insert_row(
                conn,
                t.uploads,
                _upload_row,
                owner_id=owner_id,
                original_filename=original_filename,
                stored_path=stored_path,
                sha256=sha256,
                size_bytes=size_bytes,
                exercise_id=exercise_id,
                side=side,
                created_at=_to_db(at or _now()),
            )

    def get_upload(self, upload_id: int) -> UploadRow:
        with self._tx(write=False) as conn:
            return _get_row(conn, t.uploads, upload_id, "upload", _upload_row)

    def list_uploads(self, owner_id: int | None = None) -> list[UploadRow]:
        q = select(t.uploads).order_by(t.uploads.c.created_at.desc(), t.uploads.c.id.desc())
        if owner_id is not None:
            q = q.where(t.uploads.c.owner_id == owner_id)
        with self._tx(write=False) as conn:
            return [_upload_row(r) for r in conn.execute(q)]

    def create_job(self, upload_id: int, *, at: datetime | None = None) -> JobRow:
        now = _to_db(at or _now())
        with self._tx(write=True) as conn:
            _require_id(conn, t.uploads, upload_id, "upload")
            return _insert_row(
                conn,
                t.jobs,
                _job_row,
                upload_id=upload_id,
                status=JobStatus.QUEUED.value,
                progress=0.0,
                created_at=now,
                updated_at=now,
            )

    def _job(self, conn: Connection, job_id: int) -> JobRow:
        return _get_row(conn, t.jobs, job_id, "job", _job_row)

    def get_job(self, job_id: int) -> JobRow:
        with self._tx(write=False) as conn:
            return self._job(conn, job_id)

    def list_jobs(self, *, status: JobStatus | str | None = None, upload_id: int | None = None) -> list[JobRow]:
        q = select(t.jobs.c.id).order_by(t.jobs.c.id)
        if status is not None:
            q = q.where(t.jobs.c.status == JobStatus(status).value)
        if upload_id is not None:
            q = q.where(t.jobs.c.upload_id == upload_id)
        with self._tx(write=False) as conn:
            return [self._job(conn, r[0]) for r in conn.execute(q)]

    def update_job(
        self,
        job_id: int,
        *,
        status: JobStatus | str | None = None,
        progress: float | None = None,
        error: str | None = None,
        result: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        lease_owner: str | None = None,
        release: bool = False,
    ) -> JobRow:
        """Change a job. With `lease_owner`, only while that worker still holds the job's lease (else LeaseLostError,
        so a worker whose job was taken over after a crash can never overwrite the new run); `release` drops it."""
        values: dict[str, Any] = {"updated_at": _to_db(at or _now())}
        if release:
            values["lease_owner"], values["lease_until"] = None, None
        if status is not None:
            values["status"] = JobStatus(status).value
        if progress is not None:
            if not 0.0 <= progress <= 1.0:
                raise InputError(f"job progress must be within 0..1, got {progress}")
            values["progress"] = float(progress)
        if error is not None:
            values["error"] = error
        if result is not None:
            values["result"] = dict(result)
        with self._tx(write=True) as conn:
            self._job(conn, job_id)
            q = t.jobs.update().where(t.jobs.c.id == job_id)
            if lease_owner is not None:
                q = q.where(t.jobs.c.lease_owner == lease_owner)
            if conn.execute(q.values(**values)).rowcount != 1:
                raise LeaseLostError(f"job {job_id} is no longer held by {lease_owner}")
            return self._job(conn, job_id)

    def claim_job(self, job_id: int, owner: str, lease_s: float, *, at: datetime | None = None) -> JobRow | None:
        """Atomically take a queued job (or a running one whose lease has expired) for `owner` until now +
        lease_s and mark it running; None when someone else holds it or it is finished."""
        now = at or _now()
        with self._tx(write=True) as conn:
            self._job(conn, job_id)
            free = (t.jobs.c.status == JobStatus.QUEUED.value) | (
                (t.jobs.c.status == JobStatus.RUNNING.value)
                & (t.jobs.c.lease_until.is_(None) | (t.jobs.c.lease_until < _to_db(now)))
            )
            res = conn.execute(
                t.jobs.update()
                .where(t.jobs.c.id == job_id, free)
                .values(
                    status=JobStatus.RUNNING.value,
                    lease_owner=owner,
                    lease_until=_to_db(now + timedelta(seconds=lease_s)),
                    updated_at=_to_db(now),
                )
            )
            return self._job(conn, job_id) if res.rowcount == 1 else None

    def renew_lease(self, job_id: int, owner: str, lease_s: float, *, at: datetime | None = None) -> bool:
        """Extend `owner`'s lease on a running job; False when it no longer holds it."""
        now = at or _now()
        with self._tx(write=True) as conn:
            res = conn.execute(
                t.jobs.update()
                .where(t.jobs.c.id == job_id, t.jobs.c.lease_owner == owner, t.jobs.c.status == JobStatus.RUNNING.value)
                .values(lease_until=_to_db(now + timedelta(seconds=lease_s)))
            )
            return res.rowcount == 1

    def stale_running_jobs(self, *, at: datetime | None = None) -> list[JobRow]:
        """Running jobs nobody holds any more: lease expired (its worker died with its server) or never leased."""
        now = _to_db(at or _now())
        q = (
            select(t.jobs.c.id)
            .where(
                t.jobs.c.status == JobStatus.RUNNING.value,
                t.jobs.c.lease_until.is_(None) | (t.jobs.c.lease_until < now),
            )
            .order_by(t.jobs.c.id)
        )
        with self._tx(write=False) as conn:
            return [self._job(conn, r[0]) for r in conn.execute(q)]

    def claim_next_job(self, *, at: datetime | None = None) -> JobRow | None:
        """Atomically move the oldest queued job to running and return it (None when the queue is empty)."""
        with self._tx(write=True) as conn:
            row = conn.execute(
                select(t.jobs.c.id).where(t.jobs.c.status == JobStatus.QUEUED.value).order_by(t.jobs.c.id).limit(1)
            ).first()
            if row is None:
                return None
            res = conn.execute(
                t.jobs.update()
                .where(t.jobs.c.id == row.id, t.jobs.c.status == JobStatus.QUEUED.value)
                .values(status=JobStatus.RUNNING.value, updated_at=_to_db(at or _now()))
            )
            return self._job(conn, row.id) if res.rowcount == 1 else None

    def fail_interrupted_jobs(self, reason: str = "interrupted by a server restart") -> int:
        """At start-up: jobs left 'running' by a dead process become failed with a reason (never lost silently)."""
        with self._tx(write=True) as conn:
            res = conn.execute(
                t.jobs.update()
                .where(t.jobs.c.status == JobStatus.RUNNING.value)
                .values(status=JobStatus.FAILED.value, error=reason, updated_at=_to_db(_now()))
            )
            return int(res.rowcount or 0)

    def add_rep_clip(self, rep_id: int, path: str, *, at: datetime | None = None) -> RepClipRow:
        with self._tx(write=True) as conn:
            _require_id(conn, t.reps, rep_id, "rep")
            return _insert_row(conn, t.rep_clips, _clip_row, rep_id=rep_id, path=path, created_at=_to_db(at or _now()))

    def list_rep_clips(self, rep_id: int) -> list[RepClipRow]:
        with self._tx(write=False) as conn:
            q = select(t.rep_clips).where(t.rep_clips.c.rep_id == rep_id).order_by(t.rep_clips.c.id)
            return [_clip_row(r) for r in conn.execute(q)]

    def count_rows(self, table: str) -> int:
        """Row count of one table (tests and diagnostics)."""
        with self._tx(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table])).scalar_one())


# ---------------------------------------------------------------------------------------------- row mapping
def _first_line(e: Exception) -> str:
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _person_row(r: Any) -> Person:
    settings = dict(migrations.DEFAULT_PERSON_SETTINGS)
    settings.update(r.settings or {})
    return Person(
        id=r.id,
        name=r.name,
        role=Role(r.role),
        display_name=r.display_name or r.name,
        clinician_id=r.clinician_id,
        password_hash=r.password_hash,
        settings=settings,
        created_at=_from_db(r.created_at),
    )


def _session_row(r: Any) -> SessionRow:
    return SessionRow(
        id=r.id,
        person_id=r.person_id,
        day=r.day,
        level=r.level,
        status=SessionStatus(r.status),
        started_at=_from_db(r.started_at),
        finished_at=_from_db(r.finished_at),
    )


def _set_row(r: Any) -> SetRow:
    return SetRow(
        id=r.id,
        session_id=r.session_id,
        exercise_id=r.exercise_id,
        side=r.side,
        set_index=r.set_index,
        target_reps=r.target_reps,
        target_hold_s=r.target_hold_s,
        started_at=_from_db(r.started_at),
        ended_at=_from_db(r.ended_at),
    )


def _rep_row(r: Any) -> RepRow:
    faults: Sequence[Mapping[str, Any]] = r.faults or []
    return RepRow(
        id=r.id,
        set_id=r.set_id,
        idx=r.idx,
        side=r.side,
        start_s=r.start_s,
        end_s=r.end_s,
        valid=bool(r.valid),
        verdict=r.verdict,
        reason=r.reason,
        metrics=dict(r.metrics or {}),
        faults=tuple(Fault(f["rule"], float(f["value"]), float(f["threshold"]), f["unit"]) for f in faults),
        created_at=_from_db(r.created_at),
    )


def _pain_row(r: Any) -> PainRow:
    return PainRow(r.id, r.person_id, r.session_id, r.day, r.kind, r.pain, _from_db(r.created_at))


def _readiness_row(r: Any) -> ReadinessRow:
    return ReadinessRow(
        r.id,
        r.person_id,
        r.session_id,
        r.day,
        bool(r.massage_done),
        bool(r.vmo_done),
        r.skbt_verdict,
        r.skbt_pain,
        _from_db(r.created_at),
    )


def _level_row(r: Any) -> LevelEventRow:
    return LevelEventRow(
        r.id,
        r.person_id,
        r.day,
        r.level,
        r.action,
        r.reason,
        r.session_id,
        r.actor_id,
        _from_db(r.created_at),
    )


def _alert_row(r: Any) -> AlertRow:
    return AlertRow(
        r.id,
        r.person_id,
        r.clinician_id,
        r.day,
        r.kind,
        r.message,
        _from_db(r.created_at),
        _from_db(r.resolved_at),
        r.resolved_by,
    )


def _upload_row(r: Any) -> UploadRow:
    return UploadRow(
        r.id,
        r.owner_id,
        r.original_filename,
        r.stored_path,
        r.sha256,
        r.size_bytes,
        r.exercise_id,
        r.side,
        _from_db(r.created_at),
    )


def _review_row(r: Any) -> RepReviewRow:
    return RepReviewRow(r.id, r.rep_id, r.clinician_id, bool(r.agree), r.note, _from_db(r.at))


def _clip_row(r: Any) -> RepClipRow:
    return RepClipRow(r.id, r.rep_id, r.path, _from_db(r.created_at))


def _job_row(r: Any) -> JobRow:
    lease_until = getattr(r, "lease_until", None)
    return JobRow(
        lease_owner=getattr(r, "lease_owner", None),
        lease_until=_from_db(lease_until) if lease_until is not None else None,
        id=r.id,
        upload_id=r.upload_id,
        status=JobStatus(r.status),
        progress=float(r.progress),
        error=r.error,
        result=r.result,
        created_at=_from_db(r.created_at),
        updated_at=_from_db(r.updated_at),
    )
