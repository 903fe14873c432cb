"""Store: typed API on SQLite and PostgreSQL, migrations, and one-line errors with nothing written."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from formcheck.errors import InputError, StoreError
from formcheck.store import (
    SCHEMA_VERSION,
    DayStatus,
    Fault,
    JobStatus,
    RepIn,
    Role,
    Store,
    data_dir,
    migrate,
    resolve_url,
)
from formcheck.store import schema as t

DAY = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


# ------------------------------------------------------------------------------------------------ locations
def test_data_dir_and_url_resolution(tmp_path: Path) -> None:
    assert data_dir({"FORMCHECK_DATA_DIR": str(tmp_path)}) == tmp_path
    assert data_dir({"XDG_DATA_HOME": "/x/y"}) == Path("/x/y/formcheck")
    assert data_dir({}) == Path.home() / ".local" / "share" / "formcheck"
    assert resolve_url(None, {"FORMCHECK_DATA_DIR": str(tmp_path)}) == f"sqlite:///{tmp_path}/formcheck.db"
    env = {"FORMCHECK_DATA_DIR": str(tmp_path), "FORMCHECK_DATABASE_URL": "postgresql+psycopg://u@h/db"}
    assert resolve_url(None, env) == "postgresql+psycopg://u@h/db"
    assert resolve_url(str(tmp_path / "a.db"), env) == f"sqlite:///{tmp_path / 'a.db'}"


def test_default_store_created_on_first_use_with_wal_and_pragmas(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "new" / "dir"
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(target))
    monkeypatch.delenv("FORMCHECK_DATABASE_URL", raising=False)
    with Store.open() as store:
        assert (target / "formcheck.db").is_file()
        assert store.schema_version() == SCHEMA_VERSION
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


# ------------------------------------------------------------------------------------------------ API, both backends
def test_people_sessions_reps_round_trip(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        doc = store.add_person("dr_a", role=Role.CLINICIAN, display_name="Dr A", at=AT)
        ann = store.add_person("ann", clinician_id=doc.id, at=AT)
        assert ann.settings == {"store_flagged_clips": False}
        assert ann.clinician_id == doc.id and ann.display_name == "ann" and ann.created_at == AT
        with pytest.raises(InputError, match="already exists"):
            store.add_person("ann")
        with pytest.raises(InputError, match="is not a clinician"):
            store.add_person("bob", clinician_id=ann.id)
        with pytest.raises(InputError, match="unknown person 'zed' \\(known: ann, dr_a\\)"):
            store.get_person("zed")
        assert [p.name for p in store.list_people(role="person")] == ["ann"]
        assert [p.name for p in store.list_people(clinician_id=doc.id)] == ["ann"]
        assert store.update_settings(ann.id, {"store_flagged_clips": True}).settings["store_flagged_clips"] is True

        sess = store.start_session(ann.id, DAY, 2, at=AT)
        st = store.start_set(sess.id, "squat", side=None, set_index=1, target_reps=10, at=AT)
        fault = Fault("knee_valgus", 16.5, 12.0, "deg")
        store.add_rep(st.id, RepIn(1, 0.0, 2.5, True, "valid", metrics={"knee_flexion_peak_deg": 41.0}), at=AT)
        bad = store.add_rep(st.id, RepIn(2, 2.5, 5.0, False, "invalid", "knee caved in", faults=(fault,)), at=AT)
        assert bad.faults == (fault,) and bad.reason == "knee caved in"
        assert store.list_reps(session_id=sess.id)[0].metrics == {"knee_flexion_peak_deg": 41.0}
        assert store.set_progress(st.id, now=AT.replace(minute=1))[:2] == (1, 10)
        end = datetime(2026, 3, 2, 9, 1, 30, tzinfo=UTC)
        store.finish_session_with_pain(sess.id, pain_during=2, pain_after=1, day=DAY, at=end)
        (summary,) = store.session_summaries(ann.id)
        assert (summary.valid_reps, summary.total_reps, summary.target_reps) == (1, 2, 10)
        assert (summary.pain_during, summary.pain_after, summary.exercise_s) == (2, 1, 90.0)
        assert summary.session.status == DayStatus.FINISHED
        with pytest.raises(InputError, match="has ended"):
            store.add_rep(st.id, RepIn(3, 5.0, 7.0, True, "valid"))
        with pytest.raises(InputError, match="must carry its reason"):
            store.add_rep(st.id, RepIn(3, 5.0, 7.0, False, "invalid"))

        flagged = store.flagged_reps(clinician_id=doc.id)
        assert [(p.name, r.idx) for p, r in flagged] == [("ann", 2)]
        review = store.add_rep_review(bad.id, doc.id, agree=False, note="looks fine to me", at=AT)
        assert review.agree is False and store.list_rep_reviews(bad.id)[0].note == "looks fine to me"
        assert store.flagged_reps(clinician_id=doc.id) == []
        clip = store.add_rep_clip(bad.id, "clips/rep2.mp4", at=AT)
        assert store.list_rep_clips(bad.id) == [clip]


def test_uploads_jobs_actions_alerts(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        doc = store.add_person("doc", role="clinician")
        ann = store.add_person("ann", clinician_id=doc.id)
        up = store.add_upload(
            ann.id,
            original_filename="squat.mp4",
            stored_path="uploads/1.mp4",
            sha256="ab" * 32,
            size_bytes=1234,
            exercise_id="squat",
            side="left",
            at=AT,
        )
        assert store.get_upload(up.id) == up and store.list_uploads(ann.id) == [up]
        job = store.create_job(up.id, at=AT)
        assert job.status == JobStatus.QUEUED and job.progress == 0.0
        claimed = store.claim_next_job()
        assert claimed is not None and claimed.id == job.id and claimed.status == JobStatus.RUNNING
        assert store.claim_next_job() is None
        store.update_job(job.id, progress=0.5)
        with pytest.raises(InputError, match="within 0..1"):
            store.update_job(job.id, progress=1.5)
        assert store.fail_interrupted_jobs() == 1
        failed = store.get_job(job.id)
        assert failed.status == JobStatus.FAILED and failed.error == "interrupted by a server restart"
        done = store.update_job(store.create_job(up.id).id, status="done", progress=1.0, result={"reps": 5})
        assert done.result == {"reps": 5}

        act = store.add_clinician_action(
            ann.id, doc.id, "thresholds", {"thresholds": {"knee_valgus": 15.0}}, day=DAY, at=AT
        )
        assert (act.actor_name, act.kind, act.payload, act.created_at) == (
            "doc",
            "thresholds",
            {"thresholds": {"knee_valgus": 15.0}},
            AT,
        )
        with pytest.raises(InputError, match="is not a clinician"):
            store.add_clinician_action(ann.id, ann.id, "note", {"note": "x"}, day=DAY)
        a1 = store.add_alert(ann.id, DAY, "see_professional", "pain not settling")
        assert store.add_alert(ann.id, DAY, "see_professional", "again").id == a1.id  # one per day and kind
        assert [a.clinician_id for a in store.list_alerts(clinician_id=doc.id)] == [doc.id]
        store.resolve_alert(a1.id, doc.id)
        assert store.list_alerts(clinician_id=doc.id) == []


def test_bad_values_write_nothing(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        ann = store.add_person("ann")
        for bad in (-1, 11, "3", 2.5, True):
            with pytest.raises(InputError, match="pain must be a whole number from 0 to 10"):
                store.add_pain(ann.id, DAY, "next_day", bad)
        with pytest.raises(InputError, match="kind must be one of"):
            store.add_pain(ann.id, DAY, "yesterday", 3)
        with pytest.raises(InputError, match="no person with id 999"):
            store.add_pain(999, DAY, "next_day", 3)
        sess = store.start_session(ann.id, DAY, 1)
        with pytest.raises(InputError):
            store.finish_session_with_pain(sess.id, pain_during=2, pain_after=12, day=DAY)
        assert store.count_rows("pain_checkins") == 0
        assert store.get_session(sess.id).status == DayStatus.IN_PROGRESS


# ------------------------------------------------------------------------------------------------ migrations
def _columns(url: str) -> dict[str, set[str]]:
    """Columns of formcheck's tables (Alembic's own `alembic_version` bookkeeping table aside)."""
    eng = create_engine(url)
    try:
        insp = inspect(eng)
        names = [n for n in insp.get_table_names() if n != migrate.ALEMBIC_TABLE]
        return {name: {c["name"] for c in insp.get_columns(name)} for name in names}
    finally:
        eng.dispose()


def test_fresh_schema_matches_latest_metadata(store_url: str) -> None:  # noqa: F811
    Store.open(store_url).close()
    expected = {name: {c.name for c in table.columns} for name, table in t.metadata.tables.items()}
    assert _columns(store_url) == expected
    eng = create_engine(store_url)
    with eng.connect() as conn:  # Alembic knows the database is at the head revision
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrate.revision_id(3)
    eng.dispose()


def test_upgrade_v1_database_with_data(store_url: str) -> None:  # noqa: F811
    store = Store.open(store_url, migrate=False)
    with store._tx(write=True) as conn:
        migrate.upgrade(conn, target=1)
        pid = conn.execute(
            text("INSERT INTO people (name, role, created_at) VALUES ('old', 'person', :at) RETURNING id"),
            {"at": AT},
        ).scalar_one()
        sid = conn.execute(
            text(
                "INSERT INTO sessions (person_id, day, level, status, started_at, finished_at)"
                " VALUES (:p, :day, 2, 'finished', :at, :at) RETURNING id"
            ),
            {"p": pid, "day": DAY, "at": AT},
        ).scalar_one()
        set_id = conn.execute(
            text(
                "INSERT INTO sets (session_id, exercise_id, side, set_index, target_reps, started_at, ended_at)"
                " VALUES (:s, 'squat', NULL, 1, 10, :at, :at) RETURNING id"
            ),
            {"s": sid, "at": AT},
        ).scalar_one()
        for i, valid in ((1, True), (2, False)):
            conn.execute(
                text(
                    "INSERT INTO reps (set_id, idx, side, start_s, end_s, valid, verdict, reason, created_at)"
                    " VALUES (:set, :i, NULL, 0, 1, :v, :verdict, :reason, :at)"
                ),
                {
                    "set": set_id,
                    "i": i,
                    "v": valid,
                    "verdict": "valid" if valid else "invalid",
                    "reason": "" if valid else "shallow",
                    "at": AT,
                },
            )
        conn.execute(
            text(
                "INSERT INTO pain_checkins (person_id, session_id, day, kind, pain, created_at)"
                " VALUES (:p, :s, :day, 'after', 3, :at)"
            ),
            {"p": pid, "s": sid, "day": DAY, "at": AT},
        )
    assert store.schema_version() == 1
    store.close()
    assert "settings" not in _columns(store_url)["people"]

    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        old = store.get_person("old")
        assert old.settings == {"store_flagged_clips": False} and old.clinician_id is None
        (summary,) = store.session_summaries(old.id)
        assert (summary.valid_reps, summary.total_reps, summary.pain_after, summary.session.level) == (
            1,
            2,
            3,
            2,
        )
        reps = store.list_reps(session_id=summary.session.id)
        assert [(r.idx, r.valid, r.reason, r.faults, r.metrics) for r in reps] == [
            (1, True, "", (), {}),
            (2, False, "shallow", (), {}),
        ]
        doc = store.add_person("doc", role="clinician")
        assert store.assign_clinician(old.id, doc.id).clinician_id == doc.id
        assert (
            store.add_upload(
                old.id,
                original_filename="a.mp4",
                stored_path="u/a.mp4",
                sha256="0" * 64,
                size_bytes=1,
                exercise_id="squat",
            ).owner_id
            == old.id
        )
    expected = {name: {c.name for c in table.columns} for name, table in t.metadata.tables.items()}
    assert _columns(store_url) == expected


def test_failed_migration_step_rolls_back_completely(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    store = Store.open(store_url, migrate=False)
    with store._tx(write=True) as conn:
        migrate.upgrade(conn, target=1)
    store.close()
    record_version = migrate.record_version

    def crash_at_v2(conn, version: int) -> None:
        if version == 2:  # all of revision 2's DDL and updates ran ...
            raise RuntimeError("disk full")  # ... then a crash before the version row is written
        record_version(conn, version)

    monkeypatch.setattr(migrate, "record_version", crash_at_v2)
    with pytest.raises(RuntimeError, match="disk full"):
        Store.open(store_url)
    cols = _columns(store_url)
    assert "settings" not in cols["people"] and "jobs" not in cols  # DDL rolled back too (SQLite and PostgreSQL)
    monkeypatch.undo()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_newer_schema_refused_and_untouched(store_url: str) -> None:  # noqa: F811
    Store.open(store_url).close()
    eng = create_engine(store_url)
    with eng.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    eng.dispose()
    with pytest.raises(
        StoreError, match=rf"schema version 99 is newer than this formcheck understands \({SCHEMA_VERSION}\)"
    ) as ei:
        Store.open(store_url)
    assert "\n" not in str(ei.value)
    eng = create_engine(store_url)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == 99
        assert conn.execute(text("SELECT count(*) FROM people")).scalar() == 0
    eng.dispose()


# ------------------------------------------------------------------------------------------------ SQLite failures
def test_read_only_database_file(tmp_path: Path) -> None:
    db = tmp_path / "formcheck.db"
    with Store.open(str(db)) as store:
        store.add_person("ann")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    db.chmod(0o444)
    try:
        with pytest.raises(StoreError, match=f"database {db} is read-only") as ei:
            Store.open(str(db))
        assert "\n" not in str(ei.value)
    finally:
        db.chmod(0o644)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_locked_database_one_line_error_nothing_written(tmp_path: Path) -> None:
    db = tmp_path / "formcheck.db"
    with Store.open(str(db)) as store:
        ann = store.add_person("ann")
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with Store.open(str(db), busy_timeout_ms=100) as store:
            with pytest.raises(StoreError, match="is locked by another program") as ei:
                store.add_pain(ann.id, DAY, "next_day", 3)
            assert "\n" not in str(ei.value)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with Store.open(str(db)) as store:
        assert store.count_rows("pain_checkins") == 0


def test_not_a_database_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a formcheck database") as ei:
        Store.open(str(junk))
    assert "\n" not in str(ei.value)


def test_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot connect to database") as ei:
        Store.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(ei.value) and "\n" not in str(ei.value)


# ------------------------------------------------------------------------------------------------ kill -9
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import date
    from formcheck.store import RepIn, Store
    store = Store.open(sys.argv[1])
    person = store.add_person("runner")
    session = store.start_session(person.id, date(2026, 3, 2), 1)
    the_set = store.start_set(session.id, "squat", side=None, set_index=1, target_reps=10000)
    print("set", the_set.id, flush=True)
    i = 0
    while True:
        i += 1
        store.add_rep(the_set.id, RepIn(i, i * 2.0, i * 2.0 + 2.0, i % 3 != 0, "valid" if i % 3 else "invalid",
                                        "" if i % 3 else "too shallow"))
        print("committed", i, flush=True)
    """
)


def test_kill_9_mid_session_loses_at_most_the_rep_in_progress(store_url: str) -> None:  # noqa: F811
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    reported = 0
    set_id = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            word, value = line.split()
            if word == "set":
                set_id = int(value)
            else:
                reported = int(value)
            if reported >= 25:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    for line in proc.stdout:  # lines printed before the kill: every one of them was committed first
        reported = int(line.split()[1])
    assert reported >= 25
    with Store.open(store_url) as store:
        reps = store.list_reps(set_id=set_id)
    stored = [r.idx for r in reps]
    assert stored == list(range(1, len(stored) + 1))  # no holes, no partial rows
    # Every rep reported as committed is there; the only possible extra is the one committed but not yet reported.
    assert reported <= len(stored) <= reported + 1
    assert all(r.reason == "too shallow" for r in reps if not r.valid)


def test_role_job_status_and_user_are_defined_once_in_the_store_records() -> None:
    from formcheck.store import User
    from formcheck.webapp import schemas

    assert schemas.Role is Role and schemas.JobStatus is JobStatus and schemas.User is User
    assert schemas.UserPublic(id=1, name="ann", role="clinician").role is Role.CLINICIAN


def test_records_map_from_rows_generically(store_url: str) -> None:  # noqa: F811
    """One mapper for every record: zone-aware UTC times, enums, booleans, nested faults and JSON defaults."""
    with Store.open(store_url) as store:
        ann = store.add_person("ann", at=AT.replace(tzinfo=None))  # a naive time is taken as UTC
        assert ann.created_at == AT and ann.created_at.tzinfo is UTC and ann.role is Role.PERSON
        day = store.start_session(ann.id, DAY, 1, at=AT)
        st = store.start_set(day.id, "squat", side="left", set_index=1, target_reps=3, at=AT)
        fault = Fault("knee_valgus", 16.5, 12.0, "deg")
        written = store.add_rep(st.id, RepIn(1, 0.0, 2.0, False, "invalid", "caved", faults=(fault,)), at=AT)
        (read,) = store.list_reps(set_id=st.id)
        assert read == written and read.faults == (fault,) and read.valid is False and read.metrics == {}
        assert store.get_session(day.id).status is DayStatus.IN_PROGRESS
