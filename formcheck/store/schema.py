"""The database schema as SQLAlchemy Core tables: the only place table and column names are spelled.

Every table and column carries the schema version that introduced it (`since(n, ...)`), so `metadata_at(n)` is the
schema exactly as version n had it. The Alembic revisions in migrations/versions/ create what each version added by
diffing `metadata_at(n - 1)` against `metadata_at(n)`, so the schema is written once, here, and an old database
upgrades to exactly what a fresh one gets. Columns are only ever added: a change of type or a removal needs a
revision with its own explicit operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

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

# What v2 gave every existing person, and every new person starts with (read-only: copy before changing).
DEFAULT_PERSON_SETTINGS: Mapping[str, Any] = MappingProxyType({"store_flagged_clips": False})


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _ref(name: str, table: str, *, required: bool = False) -> Column[int]:
    """A reference to another table's id."""
    return Column(name, Integer, ForeignKey(f"{table}.id"), nullable=not required)


def _at(name: str, *, required: bool = False) -> Column[datetime]:
    """A point in time, stored with its zone (UTC)."""
    return Column(name, DateTime(timezone=True), nullable=not required)


def _since(version: int, first: int, *items: SchemaItem) -> tuple[SchemaItem, ...]:
    """The items when `version` already had them (they were introduced at `first`), else nothing."""
    return items if version >= first else ()


def metadata_at(version: int) -> MetaData:
    """The schema as it was at `version` (1..SCHEMA_VERSION): only the tables and columns it had.

    Long because it is declarative: one Table statement per v1 table, nothing to split out.
    """

    def since(first: int, *items: SchemaItem) -> tuple[SchemaItem, ...]:
        return _since(version, first, *items)

    md = MetaData()
    Table("schema_version", md, Column("version", Integer, nullable=False))
    Table(
        "people",
        md,
        _id(),
        Column("name", String(80), nullable=False, unique=True),
        Column("role", String(16), nullable=False),
        _at("created_at", required=True),
        *since(
            2,
            Column("display_name", String(120)),
            Column("password_hash", String(255)),
            _ref("clinician_id", "people"),
            Column("settings", JSON),
        ),
    )
    Table(  # a programme day (the name `sessions` predates the live sets; kept so old databases upgrade in place)
        "sessions",
        md,
        _id(),
        _ref("person_id", "people", required=True),
        Column("day", Date, nullable=False),
        Column("level", Integer, nullable=False),
        Column("status", String(16), nullable=False),  # in_progress | finished | not_ready | abandoned
        _at("started_at", required=True),
        _at("finished_at"),
        Index("ix_sessions_person_day", "person_id", "day"),
    )
    Table(
        "sets",
        md,
        _id(),
        _ref("session_id", "sessions", required=True),
        Column("exercise_id", String(64), nullable=False),
        Column("side", String(8)),
        Column("set_index", Integer, nullable=False),
        Column("target_reps", Integer, nullable=False),
        Column("target_hold_s", Float),
        _at("started_at", required=True),
        _at("ended_at"),
    )
    Table(
        "reps",
        md,
        _id(),
        _ref("set_id", "sets", required=True),
        Column("idx", Integer, nullable=False),
        Column("side", String(8)),
        Column("start_s", Float, nullable=False),
        Column("end_s", Float, nullable=False),
        Column("valid", Boolean, nullable=False),
        Column("verdict", String(16), nullable=False),
        Column("reason", Text, nullable=False),
        _at("created_at", required=True),
        *since(2, Column("metrics", JSON), Column("faults", JSON)),
        UniqueConstraint("set_id", "idx", name="uq_reps_set_idx"),
    )
    Table(
        "pain_checkins",
        md,
        _id(),
        _ref("person_id", "people", required=True),
        _ref("session_id", "sessions"),
        Column("day", Date, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("pain", Integer, nullable=False),
        _at("created_at", required=True),
        CheckConstraint("pain >= 0 AND pain <= 10", name="ck_pain_range"),
        Index("ix_pain_person_day", "person_id", "day"),
    )
    if version >= 2:
        _v2_tables(md, version)
    return md


def _v2_tables(md: MetaData, version: int) -> None:
    """The programme audit, clinician review and upload tables, new in v2 (`jobs` gained its lease in v3).

    Long because it is declarative: one Table statement per table.
    """
    Table(
        "level_events",
        md,
        _id(),
        _ref("person_id", "people", required=True),
        Column("day", Date, nullable=False),
        Column("level", Integer, nullable=False),  # level for the next day
        Column("action", String(24), nullable=False),
        Column("reason", Text, nullable=False),
        _ref("session_id", "sessions"),
        _ref("actor_id", "people"),
        _at("created_at", required=True),
    )
    Table(
        "readiness_checks",
        md,
        _id(),
        _ref("person_id", "people", required=True),
        _ref("session_id", "sessions"),
        Column("day", Date, nullable=False),
        Column("massage_done", Boolean, nullable=False),
        Column("vmo_done", Boolean, nullable=False),
        Column("skbt_verdict", String(16)),
        Column("skbt_pain", Integer),
        _at("created_at", required=True),
    )
    Table(
        "clinician_actions",
        md,
        _id(),
        _ref("person_id", "people", required=True),
        _ref("actor_id", "people", required=True),
        Column("kind", String(16), nullable=False),  # set_level | hold | release | thresholds | note
        Column("day", Date, nullable=False),
        Column("payload", JSON, nullable=False),
        _at("created_at", required=True),
    )
    Table(
        "alerts",
        md,
        _id(),
        _ref("person_id", "people", required=True),
        _ref("clinician_id", "people"),
        Column("day", Date, nullable=False),
        Column("kind", String(24), nullable=False),
        Column("message", Text, nullable=False),
        _at("created_at", required=True),
        _at("resolved_at"),
        _ref("resolved_by", "people"),
        UniqueConstraint("person_id", "day", "kind", name="uq_alerts_person_day_kind"),
    )
    Table(
        "rep_reviews",
        md,
        _id(),
        _ref("rep_id", "reps", required=True),
        _ref("clinician_id", "people", required=True),
        Column("agree", Boolean, nullable=False),
        Column("note", Text, nullable=False),
        _at("at", required=True),
    )
    Table(
        "uploads",
        md,
        _id(),
        _ref("owner_id", "people", required=True),
        Column("original_filename", String(255), nullable=False),
        Column("stored_path", Text, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("size_bytes", Integer, nullable=False),
        Column("exercise_id", String(64), nullable=False),
        Column("side", String(8)),
        _at("created_at", required=True),
    )
    Table(
        "jobs",
        md,
        _id(),
        _ref("upload_id", "uploads", required=True),
        Column("status", String(16), nullable=False),  # queued | running | done | failed
        Column("progress", Float, nullable=False),
        Column("error", Text),
        Column("result", JSON),
        _at("created_at", required=True),
        _at("updated_at", required=True),
        # v3: the worker holding the job and until when (renewed while it runs; an expired lease can be retaken)
        *_since(version, 3, Column("lease_owner", String(64)), _at("lease_until")),
        CheckConstraint("progress >= 0 AND progress <= 1", name="ck_jobs_progress"),
    )
    Table(
        "rep_clips",
        md,
        _id(),
        _ref("rep_id", "reps", required=True),
        Column("path", Text, nullable=False),
        _at("created_at", required=True),
    )


metadata = metadata_at(SCHEMA_VERSION)

schema_version = metadata.tables["schema_version"]
people = metadata.tables["people"]
sessions = metadata.tables["sessions"]  # programme days
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
