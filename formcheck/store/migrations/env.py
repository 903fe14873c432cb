"""Alembic environment: online only, on the connection formcheck opened (its transaction, its locks)."""

from __future__ import annotations

from alembic import context

from formcheck.store import schema

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("formcheck migrations run through formcheck.store.migrate.upgrade (Store.open), not the CLI")
context.configure(connection=connection, target_metadata=schema.metadata)
with context.begin_transaction():  # already inside the caller's transaction: this joins it
    context.run_migrations()
