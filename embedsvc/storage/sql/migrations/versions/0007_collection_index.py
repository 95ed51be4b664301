"""Per-collection vector index type (flat, hnsw, ivf) and its parameters.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.add_column(
            sa.Column("index_type", sa.String(16), nullable=False, server_default="flat")
        )
        batch.add_column(sa.Column("index_params", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("index_params")
        batch.drop_column("index_type")
