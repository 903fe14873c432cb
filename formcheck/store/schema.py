"""The database schema as SQLAlchemy Core tables: the only place table and column names are spelled.

Every table and column carries the schema version that introduced it (`since(n, ...)`), so `metadata_at(n)` is the
schema exactly as version n had it. The Alembic revisions in migrations/versions/ create what each version added by
diffing `metadata_at(n - 1)` against `metadata_at(n)`, so the schema is written once, here, and an old database
upgrades to exactly what a fresh one gets. Columns are only ever added: a change of type or a removal needs a
revision with its own explicit operations.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
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
)
from sqlalchemy.schema import SchemaItem

SCHEMA_VERSION = 3  # bump with a new revision in migrations/versions/ (and `since(SCHEMA_VERSION, ...)` items)

DEFAULT_PERSON_SETTINGS = {"store_flagged_clips": False}  # what v2 gave every existing person; new people too


def _when() -> DateTime:
    return DateTime(timezone=True)


def _since(version: int, first: int, *items: SchemaItem) -> tuple[SchemaItem, ...]:
    """The items when `version` already had them (they were introduced at `first`), else nothing."""
    return items if version >= first else ()


def metadata_at(version: int) -> MetaData:
    """The schema as it was at `version` (1..SCHEMA_VERSION): only the tables and columns it had."""

    def since(first: int, *items: SchemaItem) -> tuple[SchemaItem, ...]:
        return _since(version, first, *items)

    md = MetaData()
    Table("schema_version", md, Column("version", Integer, nullable=False))
    Table(
        "people",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String(80), nullable=False, unique=True),
        Column("role", String(16), nullable=False),
        Column("created_at", _when(), nullable=False),
        *since(
            2,
            Column("display_name", String(120)),
            Column("password_hash", String(255)),
            Column("clinician_id", Integer, ForeignKey("people.id")),
            Column("settings", JSON),
        ),
    )
    Table(  # a programme day (the name `sessions` predates the live sets; kept so old databases upgrade in place)
        "sessions",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("day", Date, nullable=False),
        Column("level", Integer, nullable=False),
        Column("status", String(16), nullable=False),  # in_progress | finished | not_ready | abandoned
        Column("started_at", _when(), nullable=False),
        Column("finished_at", _when()),
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
        Column("started_at", _when(), nullable=False),
        Column("ended_at", _when()),
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
        Column("created_at", _when(), nullable=False),
        *since(2, Column("metrics", JSON), Column("faults", JSON)),
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
        Column("created_at", _when(), nullable=False),
        CheckConstraint("pain >= 0 AND pain <= 10", name="ck_pain_range"),
        Index("ix_pain_person_day", "person_id", "day"),
    )
    if version >= 2:
        _v2_tables(md, version)
    return md


def _v2_tables(md: MetaData, version: int) -> None:
    """The programme audit, clinician review and upload tables, new in v2 (`jobs` gained its lease in v3)."""
    Table(
        "level_events",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("day", Date, nullable=False),
        Column("level", Integer, nullable=False),  # level for the next day
        Column("action", String(24), nullable=False),
        Column("reason", Text, nullable=False),
        Column("session_id", Integer, ForeignKey("sessions.id")),
        Column("actor_id", Integer, ForeignKey("people.id")),
        Column("created_at", _when(), nullable=False),
    )
    Table(
        "readiness_checks",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("session_id", Integer, ForeignKey("sessions.id")),
        Column("day", Date, nullable=False),
        Column("massage_done", Boolean, nullable=False),
        Column("vmo_done", Boolean, nullable=False),
        Column("skbt_verdict", String(16)),
        Column("skbt_pain", Integer),
        Column("created_at", _when(), nullable=False),
    )
    Table(
        "clinician_actions",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("actor_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("kind", String(16), nullable=False),  # set_level | hold | release | thresholds | note
        Column("day", Date, nullable=False),
        Column("payload", JSON, nullable=False),
        Column("created_at", _when(), nullable=False),
    )
    Table(
        "alerts",
        md,
        Column("id", Integer, primary_key=True),
        Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("clinician_id", Integer, ForeignKey("people.id")),
        Column("day", Date, nullable=False),
        Column("kind", String(24), nullable=False),
        Column("message", Text, nullable=False),
        Column("created_at", _when(), nullable=False),
        Column("resolved_at", _when()),
        Column("resolved_by", Integer, ForeignKey("people.id")),
        UniqueConstraint("person_id", "day", "kind", name="uq_alerts_person_day_kind"),
    )
    Table(
        "rep_reviews",
        md,
        Column("id", Integer, primary_key=True),
        Column("rep_id", Integer, ForeignKey("reps.id"), nullable=False),
        Column("clinician_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("agree", Boolean, nullable=False),
        Column("note", Text, nullable=False),
        Column("at", _when(), nullable=False),
    )
    Table(
        "uploads",
        md,
        Column("id", Integer, primary_key=True),
        Column("owner_id", Integer, ForeignKey("people.id"), nullable=False),
        Column("original_filename", String(255), nullable=False),
        Column("stored_path", Text, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("size_bytes", Integer, nullable=False),
        Column("exercise_id", String(64), nullable=False),
        Column("side", String(8)),
        Column("created_at", _when(), nullable=False),
    )
    Table(
        "jobs",
        md,
        Column("id", Integer, primary_key=True),
        Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False),
        Column("status", String(16), nullable=False),  # queued | running | done | failed
        Column("progress", Float, nullable=False),
        Column("error", Text),
        Column("result", JSON),
        Column("created_at", _when(), nullable=False),
        Column("updated_at", _when(), nullable=False),
        # v3: the worker holding the job and until when (renewed while it runs; an expired lease can be retaken)
        *_since(version, 3, Column("lease_owner", String(64)), Column("lease_until", _when())),
        CheckConstraint("progress >= 0 AND progress <= 1", name="ck_jobs_progress"),
    )
    Table(
        "rep_clips",
        md,
        Column("id", Integer, primary_key=True),
        Column("rep_id", Integer, ForeignKey("reps.id"), nullable=False),
        Column("path", Text, nullable=False),
        Column("created_at", _when(), nullable=False),
    )


metadata = metadata_at(SCHEMA_VERSION)

schema_version = metadata.tables["schema_version"]
people = metadata.tables["people"]
sessions = metadata.tables["sessions"]  # programme days
days = sessions
sets = metadata.tables["sets"]
reps = metadata.tables["reps"]
pain_checkins = metadata.tables["pain_checkins"]
level_events = metadata.tables["level_events"]
readiness_checks = metadata.tables["readiness_checks"]
clinician_actions = metadata.tables["clinician_actions"]
alerts = metadata.tables["alerts"]
rep_reviews = metadata.tables["rep_reviews"]
uploads = metadata.tables["uploads"]
jobs = metadata.tables["jobs"]
rep_clips = metadata.tables["rep_clips"]
