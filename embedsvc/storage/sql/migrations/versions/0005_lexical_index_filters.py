"""Lexical index over chunk text (FTS5 / tsvector) and typed metadata values for filters.

Existing chunks get their `terms` (camelCase parts) and are indexed; existing metadata entries
get their number or string for range and prefix filters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import json

import sqlalchemy as sa
from alembic import op

from embedsvc.lexical import chunk_terms
from embedsvc.metadata import filter_value
from embedsvc.storage.sql import lexical

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 2000
FilterText = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("metadata_entries") as batch:
        batch.add_column(sa.Column("value_number", sa.Float, nullable=True))
        batch.add_column(sa.Column("value_text", FilterText, nullable=True))
    op.create_index("ix_metadata_entries_key_number", "metadata_entries", ["key", "value_number"])
    op.create_index("ix_metadata_entries_key_text", "metadata_entries", ["key", "value_text"])
    _backfill_metadata(bind)
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("terms", sa.Text, nullable=False, server_default=""))
    _backfill_terms(bind)
    lexical.create(bind)


def downgrade() -> None:
    lexical.drop(op.get_bind())
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("terms")
    op.drop_index("ix_metadata_entries_key_text", "metadata_entries")
    op.drop_index("ix_metadata_entries_key_number", "metadata_entries")
    with op.batch_alter_table("metadata_entries") as batch:
        batch.drop_column("value_text")
        batch.drop_column("value_number")


def _backfill_metadata(bind) -> None:
    entries = sa.table("metadata_entries", sa.column("document_id"), sa.column("key"),
                       sa.column("value_json"), sa.column("value_number"),
                       sa.column("value_text"))
    rows = bind.execute(sa.select(entries.c.document_id, entries.c.key, entries.c.value_json))
    updates = []
    for document_id, key, value_json in rows.all():
        if value_json.startswith("#"):  # a digest: a string too long to compare
            continue
        typed = filter_value(json.loads(value_json))
        if typed.number is not None or typed.text is not None:
            updates.append({"d": document_id, "k": key, "n": typed.number, "t": typed.text})
    if updates:
        bind.execute(
            entries.update()
            .where(entries.c.document_id == sa.bindparam("d"), entries.c.key == sa.bindparam("k"))
            .values(value_number=sa.bindparam("n"), value_text=sa.bindparam("t")),
            updates,
        )


def _backfill_terms(bind) -> None:
    chunks = sa.table("chunks", sa.column("id"), sa.column("symbol"), sa.column("context"),
                      sa.column("text"), sa.column("terms"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(chunks.c.id, chunks.c.symbol, chunks.c.context, chunks.c.text)
            .where(chunks.c.id > last).order_by(chunks.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            chunks.update().where(chunks.c.id == sa.bindparam("i"))
            .values(terms=sa.bindparam("t")),
            [{"i": row.id, "t": chunk_terms(row.symbol, row.context, row.text)} for row in rows],
        )
        last = rows[-1].id
