"""Versioned schema: a schema_version row plus ordered steps, each run in the caller's transaction.

Hand-rolled rather than Alembic: two dialects, a handful of additive steps, and no alembic.ini to ship. Each step
freezes the table definitions it creates, so an old database upgrades to exactly what a fresh one gets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)

from formcheck.errors import StoreError
from formcheck.store import schema

log = logging.getLogger(__name__)

DEFAULT_PERSON_SETTINGS = {"store_flagged_clips": False}


def _v1_tables() -> MetaData:
    """The first released schema, frozen: people, sessions, sets, reps (no metrics/faults), pain check-ins."""
    md = MetaData()
    Table("schema_version", md, Column("version", Integer, nullable=False))
    Table(
        "people",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String(80), nullable=False, unique=True),
        Column("role", String(16), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "sessions",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("day", Date, nullable=False),
        Column("level", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True)),
        Index("ix_sessions_person_day", "person_id", "day"),
    )
    Table(
        "sets",
        md,
        Column("id", Integer, primary_key=True),
        Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
        Column("exercise_id", String(64), nullable=False),
        Column("side", String(8)),
        Column("set_index", Integer, nullable=False),
        Column("target_reps", Integer, nullable=False),
        Column("target_hold_s", Float),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("ended_at", DateTime(timezone=True)),
    )
    Table(
        "reps",
        md,
        Column("id", Integer, primary_key=True),
        Column("set_id", Integer, ForeignKey("sets.id"), nullable=False),
        Column("idx", Integer, nullable=False),
        Column("side", String(8)),
        Column("start_s", Float, nullable=False),
        Column("end_s", Float, nullable=False),
        Column("valid", Boolean, nullable=False),
        Column("verdict", String(16), nullable=False),
        Column("reason", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("set_id", "idx", name="uq_reps_set_idx"),
    )
    Table(
        "pain_checkins",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("session_id", Integer, ForeignKey("sessions.id")),
        Column("day", Date, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("pain", Integer, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        CheckConstraint("pain >= 0 AND pain <= 10", name="ck_pain_range"),
        Index("ix_pain_person_day", "person_id", "day"),
    )
    return md


def _v2_jobs() -> MetaData:
    """The jobs table as released in v2 (before leases), frozen."""
    md = MetaData()
    Table("uploads", md, Column("id", Integer, primary_key=True))  # the FK target only; not created here
    Table(
        "jobs",
        md,
        Column("id", Integer, primary_key=True),
        Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False),
        Column("status", String(16), nullable=False),
        Column("progress", Float, nullable=False),
        Column("error", Text),
        Column("result", schema.JSON),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        CheckConstraint("progress >= 0 AND progress <= 1", name="ck_jobs_progress"),
    )
    return md


def _step_1(conn: Connection) -> None:
    _v1_tables().create_all(conn)


def _add_column(conn: Connection, table: str, column: Column) -> None:
    """ALTER TABLE ... ADD COLUMN, portable to SQLite and PostgreSQL (SQLite accepts REFERENCES on a NULL column)."""
    prep = conn.dialect.identifier_preparer
    ddl = f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(column.name)} {column.type.compile(conn.dialect)}"
    for fk in column.foreign_keys:
        ddl += f" REFERENCES {prep.quote(fk.column.table.name)}({prep.quote(fk.column.name)})"
    conn.execute(text(ddl))


def _step_2(conn: Connection) -> None:
    """Accounts and clinicians on people, metrics/faults on reps, and the programme/review/upload tables."""
    for name in ("display_name", "password_hash", "clinician_id", "settings"):
        _add_column(conn, "people", schema.people.c[name])
    for name in ("metrics", "faults"):
        _add_column(conn, "reps", schema.reps.c[name])
    conn.execute(schema.people.update().values(settings=DEFAULT_PERSON_SETTINGS))
    conn.execute(schema.reps.update().values(metrics={}, faults=[]))
    # The v2 tables are created from their definitions at v2; `jobs` gained columns in v3, so it is created
    # without them here and _step_3 adds them (as for a database that was at v2).
    v2 = [tb for tb in schema.V2_NEW_TABLES if tb.name != "jobs"]
    schema.metadata.create_all(conn, tables=v2)
    _v2_jobs().create_all(conn)


def _step_3(conn: Connection) -> None:
    """Job leases: which worker holds a running job and until when (exactly-once runs after a crash)."""
    for name in ("lease_owner", "lease_until"):
        _add_column(conn, "jobs", schema.jobs.c[name])


STEPS: tuple[Callable[[Connection], None], ...] = (_step_1, _step_2, _step_3)
assert len(STEPS) == schema.SCHEMA_VERSION


def current_version(conn: Connection) -> int:
    """0 for an empty database; raises StoreError for a database that is not formcheck's."""
    names = set(inspect(conn).get_table_names())
    if "schema_version" not in names:
        if names & {"people", "sessions", "reps"}:
            raise StoreError("database has formcheck-like tables but no schema_version: not a formcheck database")
        return 0
    row = conn.execute(select(schema.schema_version.c.version)).first()
    return int(row[0]) if row else 0


def migrate(conn: Connection, target: int = schema.SCHEMA_VERSION) -> int:
    """Bring the database to `target` inside the caller's transaction; returns the version found before."""
    found = current_version(conn)
    if found > schema.SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {found} is newer than this formcheck understands"
            f" ({schema.SCHEMA_VERSION}): upgrade formcheck"
        )
    for version in range(found + 1, target + 1):
        log.info("migrating database schema to version %d", version)
        STEPS[version - 1](conn)
        conn.execute(schema.schema_version.delete())
        conn.execute(schema.schema_version.insert().values(version=version))
    return found
