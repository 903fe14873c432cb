"""The Alembic environment (env.py) and revisions (versions/), shipped with the package; run by store.migrate.

To change the schema: add the new tables or columns to schema.py under `since(N, ...)` with N = the new
SCHEMA_VERSION, and a revision versions/vN_<what>.py like v3_job_leases.py (revision = revision_id(N),
down_revision = revision_id(N - 1)) whose upgrade() calls `migrate.add_schema_of(conn, N)`, moves any data, and
ends with `migrate.record_version(conn, N)`. A database from any older version then upgrades when it is opened.
"""
