"""Collections, documents, chunks (with vectors) and metadata entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("model_fingerprint", sa.String(64), nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("max_chunk_tokens", sa.Integer, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "documents",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column(
            "collection_id", RowId,
            sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("external_id", sa.String(1024), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(64), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "collection_id", "external_id", name="uq_documents_collection_external"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_documents_collection_id", "documents", ["collection_id"])
    op.create_table(
        "chunks",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column(
            "collection_id", RowId,
            sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "document_id", RowId,
            sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("start_char", sa.Integer, nullable=False),
        sa.Column("end_char", sa.Integer, nullable=False),
        sa.Column("start_line", sa.Integer, nullable=False),
        sa.Column("end_line", sa.Integer, nullable=False),
        sa.Column("token_count", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("symbol", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_chunks_collection_id", "chunks", ["collection_id"])
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_table(
        "metadata_entries",
        sa.Column(
            "document_id", RowId,
            sa.ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True,
        ),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value_json", sa.String(1024), nullable=False),
    )
    op.create_index("ix_metadata_entries_key_value", "metadata_entries", ["key", "value_json"])


def downgrade() -> None:
    op.drop_table("metadata_entries")
    op.drop_table("chunks")
    op.drop_table("documents")
    op.drop_table("collections")
