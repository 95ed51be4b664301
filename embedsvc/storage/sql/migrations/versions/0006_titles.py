"""Job-title catalogs: the live version of each catalog and its entries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "title_catalogs",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("collection", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("label_count", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "title_entries",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("catalog", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("entry_id", sa.String(1024), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_title_entries_catalog_version", "title_entries", ["catalog", "version"])


def downgrade() -> None:
    op.drop_index("ix_title_entries_catalog_version", "title_entries")
    op.drop_table("title_entries")
    op.drop_table("title_catalogs")
