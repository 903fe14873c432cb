"""The latest database schema as SQLAlchemy Core tables (the only place table and column names are spelled)."""

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

SCHEMA_VERSION = 3  # bump with a new step in migrations.py

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # v2
    Column("display_name", String(120)),
    Column("password_hash", String(255)),
    Column("clinician_id", Integer, ForeignKey("people.id")),
    Column("settings", JSON),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("level", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # in_progress | finished | not_ready | abandoned
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_sessions_person_day", "person_id", "day"),
)

sets = Table(
    "sets",
    metadata,
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

reps = Table(
    "reps",
    metadata,
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
    # v2
    Column("metrics", JSON),
    Column("faults", JSON),
    UniqueConstraint("set_id", "idx", name="uq_reps_set_idx"),
)

pain_checkins = Table(
    "pain_checkins",
    metadata,
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

# ------------------------------------------------------------------------------------------------ v2 tables
level_events = Table(
    "level_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("level", Integer, nullable=False),  # level for the next day
    Column("action", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("session_id", Integer, ForeignKey("sessions.id")),
    Column("actor_id", Integer, ForeignKey("people.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

readiness_checks = Table(
    "readiness_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("session_id", Integer, ForeignKey("sessions.id")),
    Column("day", Date, nullable=False),
    Column("massage_done", Boolean, nullable=False),
    Column("vmo_done", Boolean, nullable=False),
    Column("skbt_verdict", String(16)),
    Column("skbt_pain", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

clinician_actions = Table(
    "clinician_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("actor_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # set_level | hold | release | thresholds | note
    Column("day", Date, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("clinician_id", Integer, ForeignKey("people.id")),
    Column("day", Date, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", Integer, ForeignKey("people.id")),
    UniqueConstraint("person_id", "day", "kind", name="uq_alerts_person_day_kind"),
)

rep_reviews = Table(
    "rep_reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rep_id", Integer, ForeignKey("reps.id"), nullable=False),
    Column("clinician_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("agree", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("original_filename", String(255), nullable=False),
    Column("stored_path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("exercise_id", String(64), nullable=False),
    Column("side", String(8)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("progress", Float, nullable=False),
    Column("error", Text),
    Column("result", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # v3: the worker holding the job and until when (renewed while it runs; an expired lease can be retaken)
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    CheckConstraint("progress >= 0 AND progress <= 1", name="ck_jobs_progress"),
)

rep_clips = Table(
    "rep_clips",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rep_id", Integer, ForeignKey("reps.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

V2_NEW_TABLES = (
    level_events,
    readiness_checks,
    clinician_actions,
    alerts,
    rep_reviews,
    uploads,
    jobs,
    rep_clips,
)
