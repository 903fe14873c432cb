"""v3: job leases, which worker holds a running job and until when (exactly-once runs after a crash)."""

from __future__ import annotations

from alembic import op

from formcheck.store import migrate

revision = migrate.revision_id(3)
down_revision = migrate.revision_id(2)
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    migrate.add_schema_of(conn, 3)
    migrate.record_version(conn, 3)


def downgrade() -> None:
    raise NotImplementedError("formcheck databases are never downgraded: restore a backup instead")
