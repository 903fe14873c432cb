"""Opening the database: SQLite (private file, WAL, IMMEDIATE writers) or PostgreSQL; one transaction per call.

Database failures become one-line StoreErrors (the transaction rolled back); the schema is brought up to date by
the Alembic revisions in migrations/ the first time a database is opened by a newer formcheck.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, Select, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from formcheck.errors import StoreError
from formcheck.store import migrate as migrations
from formcheck.store import schema as t
from formcheck.store.paths import resolve_url
from formcheck.store.rows import R, record

log = logging.getLogger(__name__)

# PostgreSQL advisory lock held while a database is upgraded, so two servers starting at once upgrade it once.
MIGRATION_LOCK_KEY = 0x666F726D63686B  # "formchk"; any constant other programs on the database do not use
DEFAULT_BUSY_TIMEOUT_MS = 5000  # wait this long for another writer before reporting "locked"; judgement call


def _first_line(e: Exception) -> str:
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _private_sqlite_file(db: Path) -> None:
    """Create the file (and its directory) private to this account; refuse a read-only file or a directory."""
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


def sqlite_engine(path: str, busy_timeout_ms: int) -> Engine:
    if path and path != ":memory:":
        _private_sqlite_file(Path(path))
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


class Database:
    """The engine, its transactions and its one-line errors; the per-domain repositories build on it."""

    def __init__(self, engine: Engine, where: str) -> None:
        self._engine = engine
        self.where = where

    @classmethod
    def open(
        cls, url: str | None = None, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, migrate: bool = True
    ) -> Self:
        """Open (and create/upgrade) the database. Errors: StoreError with one line."""
        resolved = resolve_url(url)
        try:
            parsed = make_url(resolved)
        except ArgumentError:
            raise StoreError(f"not a database URL: {resolved}") from None
        where = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite":
            engine = sqlite_engine(parsed.database or "", busy_timeout_ms)
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
                    migrations.refuse_newer(migrations.current_version(conn))
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def _migrate(self) -> None:
        # Read first: an up-to-date database needs no write lock just to be opened.
        with self._tx(write=False) as conn:
            up_to_date = migrations.is_current(conn)
        if up_to_date:
            return
        with self._tx(write=True) as conn:
            if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises upgrades
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            before = migrations.upgrade(conn)
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

    def _records(self, cls: type[R], query: Select[Any]) -> list[R]:
        """Every row a query selects, as records, in one read transaction."""
        with self._tx(write=False) as conn:
            return [record(cls, r) for r in conn.execute(query)]

    def count_rows(self, table: str) -> int:
        """Row count of one table (tests and diagnostics)."""
        with self._tx(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table])).scalar_one())
