"""Who added a saved connection, so that in a team deployment only they remove it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("created_by", sa.String(100)))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("created_by")
