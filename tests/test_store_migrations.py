"""Alembic upgrades of databases made by older formcheck versions: the schema becomes current, the data stays.

The v1 schema below is frozen here exactly as the hand-rolled migrations of the first release created it (the
code that made it is gone from the package), so this test builds the same database a v1 install has on disk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pg_fixture import pg_server, pg_url, store_url  # noqa: F401
from sqlalchemy import (
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
    create_engine,
    inspect,
    text,
)

from formcheck.store import SCHEMA_VERSION, DayStatus, JobStatus, RepIn, Role, Store, migrate
from formcheck.store import schema as t

DAY = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _v1_metadata() -> MetaData:
    """The first released schema: people, sessions, sets, reps (no metrics/faults), pain check-ins."""
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


def _schema(url: str) -> tuple[dict[str, set[str]], dict[str, set[str]], str | None]:
    """(columns per table, index names per table, Alembic revision) of a database on disk."""
    eng = create_engine(url)
    try:
        insp = inspect(eng)
        names = [n for n in insp.get_table_names() if n != migrate.ALEMBIC_TABLE]
        columns = {n: {c["name"] for c in insp.get_columns(n)} for n in names}
        indexes = {n: {i["name"] for i in insp.get_indexes(n)} for n in names}
        revision = None
        if migrate.ALEMBIC_TABLE in insp.get_table_names():
            with eng.connect() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return columns, indexes, revision
    finally:
        eng.dispose()


def _current(url: str) -> None:
    """The schema on disk is the current one: same tables, columns and indexes as a fresh database, at head."""
    columns, indexes, revision = _schema(url)
    assert columns == {name: {c.name for c in tb.columns} for name, tb in t.metadata.tables.items()}
    assert indexes["sessions"] == {"ix_sessions_person_day"} and indexes["pain_checkins"] == {"ix_pain_person_day"}
    assert revision == migrate.revision_id(SCHEMA_VERSION)


def _fill_v1(url: str) -> None:
    """A v1 install with a person, a finished day of one set with two reps, and a pain answer."""
    eng = create_engine(url)
    with eng.begin() as conn:
        _v1_metadata().create_all(conn)
        conn.execute(text("INSERT INTO schema_version (version) VALUES (1)"))
        ids = {"at": AT, "end": AT.replace(minute=5), "day": DAY}
        ids["p"] = conn.execute(
            text("INSERT INTO people (name, role, created_at) VALUES ('old', 'person', :at) RETURNING id"), ids
        ).scalar_one()
        ids["d"] = conn.execute(
            text(
                "INSERT INTO sessions (person_id, day, level, status, started_at, finished_at)"
                " VALUES (:p, :day, 2, 'finished', :at, :end) RETURNING id"
            ),
            ids,
        ).scalar_one()
        ids["s"] = conn.execute(
            text(
                "INSERT INTO sets (session_id, exercise_id, side, set_index, target_reps, started_at, ended_at)"
                " VALUES (:d, 'squat', 'left', 1, 10, :at, :set_end) RETURNING id"
            ),
            {**ids, "set_end": AT.replace(minute=2)},
        ).scalar_one()
        for i, valid in ((1, True), (2, False)):
            conn.execute(
                text(
                    "INSERT INTO reps (set_id, idx, side, start_s, end_s, valid, verdict, reason, created_at)"
                    " VALUES (:set, :i, 'left', :s, :e, :v, :verdict, :reason, :at)"
                ),
                {
                    "set": ids["s"],
                    "i": i,
                    "s": 2.0 * i,
                    "e": 2.0 * i + 1.5,
                    "v": valid,
                    "verdict": "valid" if valid else "invalid",
                    "reason": "" if valid else "too shallow",
                    "at": AT,
                },
            )
        conn.execute(
            text(
                "INSERT INTO pain_checkins (person_id, session_id, day, kind, pain, created_at)"
                " VALUES (:p, :d, :day, 'after', 3, :at), (:p, NULL, :day, 'next_day', 1, :at)"
            ),
            ids,
        )
    eng.dispose()


def test_v1_database_made_by_the_first_release_upgrades_with_its_data(store_url: str) -> None:  # noqa: F811
    _fill_v1(store_url)
    columns, _, revision = _schema(store_url)
    assert revision is None and "settings" not in columns["people"] and "jobs" not in columns
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        old = store.get_person("old")
        assert (old.role, old.display_name, old.settings, old.created_at) == (
            Role.PERSON,
            "old",
            {"store_flagged_clips": False},
            AT,
        )
        (day,) = store.list_sessions(old.id)
        assert (day.day, day.level, day.status, day.finished_at) == (
            DAY,
            2,
            DayStatus.FINISHED,
            AT.replace(minute=5),
        )
        (summary,) = store.session_summaries(old.id)
        assert (summary.valid_reps, summary.total_reps, summary.target_reps) == (1, 2, 10)
        assert summary.pain_after == 3 and summary.exercise_s == pytest.approx(120.0)
        reps = store.list_reps(session_id=day.id)
        assert [(r.idx, r.side, r.start_s, r.valid, r.reason, r.faults, r.metrics) for r in reps] == [
            (1, "left", 2.0, True, "", (), {}),
            (2, "left", 4.0, False, "too shallow", (), {}),
        ]
        assert sorted((p.kind, p.pain) for p in store.list_pain(old.id)) == [("after", 3), ("next_day", 1)]
        # and the v2/v3 parts work on it: a clinician, an upload, a leased job, a new rep with faults
        doc = store.add_person("doc", role="clinician")
        assert store.assign_clinician(old.id, doc.id).clinician_id == doc.id
        up = store.add_upload(
            old.id, original_filename="a.mp4", stored_path="u/a.mp4", sha256="0" * 64, size_bytes=1, exercise_id="squat"
        )
        job = store.create_job(up.id)
        claimed = store.claim_job(job.id, "worker-1", 30.0)
        assert claimed is not None and claimed.status == JobStatus.RUNNING and claimed.lease_owner == "worker-1"
        new_day = store.start_session(old.id, DAY.replace(day=3), 2)
        st = store.start_set(new_day.id, "squat", side=None, set_index=1, target_reps=5)
        assert store.add_rep(st.id, RepIn(1, 0.0, 2.0, True, "valid", metrics={"depth_deg": 80.0})).metrics == {
            "depth_deg": 80.0
        }
    _current(store_url)


def test_database_at_v3_from_before_alembic_is_stamped_and_keeps_its_data(store_url: str) -> None:  # noqa: F811
    """The hand-rolled migrations' latest schema (v3, no alembic_version) is adopted without being rebuilt."""
    eng = create_engine(store_url)
    with eng.begin() as conn:
        t.metadata.create_all(conn)
        conn.execute(t.schema_version.insert().values(version=3))
        pid = conn.execute(
            t.people.insert().values(name="ann", role="person", created_at=AT, settings={"x": 1})
        ).inserted_primary_key[0]
        upload_id = conn.execute(
            t.uploads.insert().values(
                owner_id=pid,
                original_filename="a.mp4",
                stored_path="u/a.mp4",
                sha256="0" * 64,
                size_bytes=1,
                exercise_id="squat",
                created_at=AT,
            )
        ).inserted_primary_key[0]
        conn.execute(
            t.jobs.insert().values(
                upload_id=upload_id,
                status="running",
                progress=0.5,
                created_at=AT,
                updated_at=AT,
                lease_owner="w",
                lease_until=AT,
            )
        )
    eng.dispose()
    with Store.open(store_url) as store:
        assert store.get_person("ann").settings == {"store_flagged_clips": False, "x": 1}
        (job,) = store.stale_running_jobs(at=AT.replace(minute=1))  # the lease expired: retakeable
        assert (job.progress, job.lease_owner, job.lease_until) == (0.5, "w", AT)
    _current(store_url)


def test_revisions_rebuild_each_version_exactly(tmp_path) -> None:
    """metadata_at(1) is the frozen v1 schema; each revision step lands on metadata_at(n)."""
    frozen = _v1_metadata()
    v1 = t.metadata_at(1)
    assert {n: [c.name for c in tb.columns] for n, tb in v1.tables.items()} == {
        n: [c.name for c in tb.columns] for n, tb in frozen.tables.items()
    }
    url = f"sqlite:///{tmp_path / 'steps.db'}"
    store = Store.open(url, migrate=False)
    for version in range(1, SCHEMA_VERSION + 1):
        with store._tx(write=True) as conn:
            assert migrate.upgrade(conn, target=version) == version - 1
        columns, _, revision = _schema(url)
        expected = t.metadata_at(version).tables
        assert columns == {n: {c.name for c in tb.columns} for n, tb in expected.items()}
        assert revision == migrate.revision_id(version) and store.schema_version() == version
    store.close()


@pytest.mark.postgres
def test_servers_starting_at_once_upgrade_a_fresh_database_once(pg_url: str) -> None:  # noqa: F811
    """Four servers opening one empty PostgreSQL database at the same moment: all open, the schema is made once
    (the upgrade runs under an advisory lock). SQLite is not tested here: a brand-new file switching to WAL can
    answer "locked" to a simultaneous opener, as before this change (a one-line StoreError, nothing written)."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        try:
            barrier.wait(timeout=30)
            Store.open(pg_url, busy_timeout_ms=30_000).close()
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=open_one, daemon=True) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "an upgrade is stuck behind another one (no lock?)"
    assert errors == []
    _current(pg_url)
    eng = create_engine(pg_url)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM schema_version")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    eng.dispose()
