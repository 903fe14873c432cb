"""v2: accounts and clinicians on people, metrics/faults on reps, and the programme, review and upload tables."""

from __future__ import annotations

from alembic import op

from formcheck.store import migrate, schema

revision = migrate.revision_id(2)
down_revision = migrate.revision_id(1)
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    migrate.add_schema_of(conn, 2)
    conn.execute(schema.people.update().values(settings=dict(schema.DEFAULT_PERSON_SETTINGS)))
    conn.execute(schema.reps.update().values(metrics={}, faults=[]))
    migrate.record_version(conn, 2)


def downgrade() -> None:
    raise NotImplementedError("formcheck databases are never downgraded: restore a backup instead")
