"""Alembic revisions, one per schema version; each ends by writing its `schema_version` row."""
