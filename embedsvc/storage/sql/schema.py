"""SQL tables: the source of truth for collections, documents, chunks and their vectors.

Chunk ids are AUTOINCREMENT (SQLite) / identity (PostgreSQL) and so never reused: a stale
vector-index entry can never point at a different chunk. A chunk row's vector never changes.
Deletes cascade in the database (declared ON DELETE CASCADE; SQLite runs with foreign keys on).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
RowId = BigInteger().with_variant(Integer(), "sqlite")
# String metadata compares in code-point order on both databases (SQLite's BINARY does that).
FilterText = String(1024).with_variant(String(1024, collation="C"), "postgresql")
# The lexical index over chunk text is not a model: SQLite's FTS5 table `chunks_fts` (kept by
# triggers) and PostgreSQL's generated `chunks.lexical` tsvector (GIN-indexed) are created by
# migration 0005 and queried by storage/sql/lexical.py.
LEXICAL_OBJECTS = frozenset({"chunks_fts", "lexical", "ix_chunks_lexical"})


def is_model_object(_object, name, type_, _reflected, _compare_to) -> bool:
    """Alembic's include_object: the lexical index's own objects are left to its migration."""
    return not (name in LEXICAL_OBJECTS or (type_ == "table" and name.startswith("chunks_fts")))


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class CollectionRow(Base):
    __tablename__ = "collections"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    model: Mapped[str] = mapped_column(String(512))
    model_fingerprint: Mapped[str] = mapped_column(String(64))
    dimensions: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    max_chunk_tokens: Mapped[int] = mapped_column(Integer)
    # The encoder profile the chunks are embedded with (None: collections from before profiles,
    # embedded with the full model in fp32).
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # auto | text | code | none: how documents become chunks.
    chunking: Mapped[str] = mapped_column(String(16), default="auto", server_default="auto")
    # Prefixes the model expects before queries and before documents (e5/bge-style models).
    query_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    document_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    # flat | hnsw | ivf and its parameters (types.INDEX_PARAMS), fixed at creation.
    index_type: Mapped[str] = mapped_column(String(16), default="flat", server_default="flat")
    index_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Bumped by every committed write; the saved FAISS index records the one it reflects.
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection_id", "external_id", name="uq_documents_collection_external"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(1024))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(64), default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The aggregated chunk vector (float32 bytes) that finds the document at document level.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class ChunkRow(Base):
    __tablename__ = "chunks"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    start_line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(Text, default="")
    symbol: Mapped[str] = mapped_column(String(1024), default="")
    kind: Mapped[str] = mapped_column(String(64), default="")
    # float32 little-endian bytes at the collection's dimensions.
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # Extra words for the lexical index: the camelCase parts of identifiers (embedsvc.lexical).
    terms: Mapped[str] = mapped_column(Text, default="", server_default="")


class MetadataEntry(Base):
    """One top-level scalar metadata value of a document, for filtering: canonical JSON for
    equality, and the number or string itself for ranges and prefixes."""

    __tablename__ = "metadata_entries"
    __table_args__ = (
        Index("ix_metadata_entries_key_value", "key", "value_json"),
        Index("ix_metadata_entries_key_number", "key", "value_number"),
        Index("ix_metadata_entries_key_text", "key", "value_text"),
    )

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value_json: Mapped[str] = mapped_column(String(1024))
    value_number: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_text: Mapped[str | None] = mapped_column(FilterText, nullable=True)


# Tables of the domain endpoints live in modules of their own, on this same metadata.
from embedsvc.storage.sql import titles_schema  # noqa: E402, F401
