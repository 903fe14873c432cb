"""v1, the first release: people, programme days (`sessions`), sets, reps and pain check-ins."""

from __future__ import annotations

from alembic import op

from formcheck.store import migrate

revision = migrate.revision_id(1)
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    migrate.add_schema_of(conn, 1)
    migrate.record_version(conn, 1)


def downgrade() -> None:
    raise NotImplementedError("formcheck databases are never downgraded: restore a backup instead")
