"""Search: encode the query like the collection's chunks, search FAISS, hydrate rows from SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import defer

from embedsvc.chunking.types import Chunk
from embedsvc.encoding.encoder import Encoder
from embedsvc.errors import InvalidArgument
from embedsvc.metadata import canonical_json, is_scalar
from embedsvc.storage.schema import ChunkRow, DocumentRow, MetadataEntry
from embedsvc.storage.store import CollectionInfo, Store


@dataclass(frozen=True)
class Condition:
    """Equality on a top-level metadata key (the filter grows: in, range, prefix)."""

    key: str
    equals: Any


@dataclass(frozen=True)
class Hit:
    document_id: str
    score: float
    chunk_id: int
    chunk: Chunk
    content_hash: str
    metadata: dict[str, Any]


def search(
    store: Store, encoder: Encoder, info: CollectionInfo, query: str, k: int, max_k: int,
    conditions: list[Condition] | None = None,
) -> list[Hit]:
    if not query.strip():
        raise InvalidArgument("query is empty")
    if not 1 <= k <= max_k:
        raise InvalidArgument(f"k must be between 1 and {max_k}, got {k}")
    for condition in conditions or []:
        if not condition.key:
            raise InvalidArgument("filter condition has an empty key")
        if not is_scalar(condition.equals):
            raise InvalidArgument(
                f"filter on {condition.key!r}: only string, number, bool or null values compare"
            )
    vector = encoder.encode([query], normalize=info.metric == "cosine", dimensions=info.dimensions)
    allowed = _matching_chunk_ids(store, info, conditions) if conditions else None
    ranked = store.index(info).search(vector[0], k, allowed)
    return _hydrate(store, ranked)


def _matching_chunk_ids(
    store: Store, info: CollectionInfo, conditions: list[Condition]
) -> np.ndarray:
    """Every chunk id of the documents that satisfy all conditions (evaluated in SQL)."""
    query = select(ChunkRow.id).join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
    query = query.where(DocumentRow.collection_id == info.id)
    for condition in conditions:
        matching = select(MetadataEntry.document_id).where(
            MetadataEntry.key == condition.key,
            MetadataEntry.value_json == canonical_json(condition.equals),
        )
        query = query.where(DocumentRow.id.in_(matching))
    with store.sessions() as session:
        return np.fromiter(session.scalars(query), dtype=np.int64)


def _hydrate(store: Store, ranked: list[tuple[int, float]]) -> list[Hit]:
    """Rows for the ranked ids, in rank order; ids deleted meanwhile are skipped."""
    if not ranked:
        return []
    with store.sessions() as session:
        rows = session.execute(
            select(ChunkRow, DocumentRow.external_id, DocumentRow.metadata_)
            .options(defer(ChunkRow.vector))
            .join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
            .where(ChunkRow.id.in_([chunk_id for chunk_id, _ in ranked]))
        ).all()
    by_id = {row[0].id: row for row in rows}
    hits = []
    for chunk_id, score in ranked:
        if chunk_id in by_id:
            chunk_row, external_id, metadata = by_id[chunk_id]
            hits.append(
                Hit(external_id, score, chunk_id, chunk_of(chunk_row), chunk_row.content_hash,
                    metadata or {})
            )
    return hits


def chunk_of(row: ChunkRow) -> Chunk:
    return Chunk(
        ordinal=row.ordinal, text=row.text, start_char=row.start_char, end_char=row.end_char,
        start_line=row.start_line, end_line=row.end_line, token_count=row.token_count,
        context=row.context, symbol=row.symbol, kind=row.kind,
    )
