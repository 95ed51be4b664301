"""Per-collection chunking policy and query/document prompts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.add_column(
            sa.Column("chunking", sa.String(16), nullable=False, server_default="auto")
        )
        batch.add_column(sa.Column("query_prompt", sa.Text, nullable=False, server_default=""))
        batch.add_column(
            sa.Column("document_prompt", sa.Text, nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("document_prompt")
        batch.drop_column("query_prompt")
        batch.drop_column("chunking")
