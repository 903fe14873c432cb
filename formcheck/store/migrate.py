"""Schema upgrades by Alembic, run programmatically inside the caller's transaction (no alembic.ini at run time).

The revisions live in migrations/versions/ as package data. A `schema_version` row is kept beside Alembic's own
`alembic_version` (each revision writes its number), so an older formcheck still recognises a newer database and
refuses it, and a database from before Alembic (hand-rolled v1..v3) is stamped at the revision matching its
`schema_version` and upgraded from there with its data.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Connection, MetaData, inspect, select, text

from formcheck.errors import StoreError
from formcheck.store import schema

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

ALEMBIC_TABLE = "alembic_version"


def revision_id(version: int) -> str:
    """The Alembic revision that brings a database to schema `version` ("0001" for v1)."""
    return f"{version:04d}"


def current_version(conn: Connection, names: set[str] | None = None) -> int:
    """0 for an empty database; raises StoreError for a database that is not formcheck's."""
    names = set(inspect(conn).get_table_names()) if names is None else names
    if "schema_version" not in names:
        if names & {"people", "sessions", "reps"}:
            raise StoreError("database has formcheck-like tables but no schema_version: not a formcheck database")
        return 0
    row = conn.execute(select(schema.schema_version.c.version)).first()
    return int(row[0]) if row else 0


def refuse_newer(found: int) -> None:
    if found > schema.SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {found} is newer than this formcheck understands"
            f" ({schema.SCHEMA_VERSION}): upgrade formcheck"
        )


def _alembic_revision(conn: Connection, names: set[str] | None = None) -> str | None:
    names = set(inspect(conn).get_table_names()) if names is None else names
    if ALEMBIC_TABLE not in names:
        return None
    row = conn.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}")).first()
    return str(row[0]) if row else None


def is_current(conn: Connection) -> bool:
    """True when nothing is to do (read-only: opening an up-to-date database takes no write lock)."""
    names = set(inspect(conn).get_table_names())
    found = current_version(conn, names)
    refuse_newer(found)
    return found == schema.SCHEMA_VERSION and _alembic_revision(conn, names) == revision_id(found)


def _config(conn: Connection) -> Config:
    from alembic.config import Config  # imported when a database needs upgrading, not on every start

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("formcheck.store") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(conn: Connection, target: int = schema.SCHEMA_VERSION) -> int:
    """Bring the database to schema `target` inside the caller's transaction; returns the version found before."""
    from alembic import command

    found = current_version(conn)
    refuse_newer(found)
    cfg = _config(conn)
    if found and _alembic_revision(conn) is None:
        log.info("database from before Alembic at schema %d: stamping revision %s", found, revision_id(found))
        command.stamp(cfg, revision_id(found))
    if target > found:
        command.upgrade(cfg, revision_id(target))
    return found


# ------------------------------------------------------------------------------------------------ for revisions
def _add_column(conn: Connection, table: str, column: Column[Any]) -> None:
    """ALTER TABLE ... ADD COLUMN, portable to SQLite and PostgreSQL (SQLite accepts REFERENCES on a NULL column)."""
    prep = conn.dialect.identifier_preparer
    ddl = f"ALTER TABLE {prep.quote(table)} ADD COLUMN {prep.quote(column.name)} {column.type.compile(conn.dialect)}"
    for fk in column.foreign_keys:
        ddl += f" REFERENCES {prep.quote(fk.column.table.name)}({prep.quote(fk.column.name)})"
    conn.execute(text(ddl))


def add_schema_of(conn: Connection, version: int) -> None:
    """Create what schema `version` added to `version - 1`: its new tables, then its new columns on older ones."""
    before = schema.metadata_at(version - 1) if version > 1 else MetaData()
    after = schema.metadata_at(version)
    new_tables = [tb for name, tb in after.tables.items() if name not in before.tables]
    after.create_all(conn, tables=new_tables)
    for name, old in before.tables.items():
        for column in after.tables[name].columns:
            if column.name not in old.columns:
                _add_column(conn, name, column)


def record_version(conn: Connection, version: int) -> None:
    """The `schema_version` row, the last write of each revision."""
    conn.execute(schema.schema_version.delete())
    conn.execute(schema.schema_version.insert().values(version=version))
