"""Search: encode the query like the collection's chunks, search FAISS, hydrate rows from SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import defer

from embedsvc.aggregation import DEFAULT_METHOD, document_scores
from embedsvc.chunking.types import Chunk
from embedsvc.errors import InvalidArgument
from embedsvc.metadata import canonical_json, is_scalar
from embedsvc.storage.schema import ChunkRow, DocumentRow, MetadataEntry
from embedsvc.storage.store import CollectionInfo, Store, vectors_of


@dataclass(frozen=True)
class Condition:
    """Equality on a top-level metadata key (the filter grows: in, range, prefix)."""

    key: str
    equals: Any


@dataclass(frozen=True)
class Hit:
    """A chunk hit; at document level, the document's best chunk and its top chunks as evidence."""

    document_id: str
    score: float
    chunk_id: int
    chunk: Chunk
    content_hash: str
    metadata: dict[str, Any]
    evidence: list[tuple[int, str, Chunk]] = field(default_factory=list)


LEVELS = ("chunk", "document")
EVIDENCE_CHUNKS = 3


def search(
    store: Store, encode: Callable[..., np.ndarray], info: CollectionInfo, query: str, k: int,
    max_k: int, conditions: list[Condition] | None = None, level: str = "chunk",
) -> list[Hit]:
    """Top-k chunks, or top-k documents (k counts documents) when ``level`` is "document".

    ``encode(texts, normalize=...)`` embeds the query the way the collection's chunks were.
    """
    if level not in LEVELS:
        raise InvalidArgument(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
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
    vector = encode([query], normalize=info.metric == "cosine")
    allowed = _matching(store, info, conditions) if conditions else (None, None)
    if level == "document":
        return _search_documents(store, info, vector[0], k, *allowed)
    return _hydrate(store, store.index(info).chunks.search(vector[0], k, allowed[1]))


def _matching(
    store: Store, info: CollectionInfo, conditions: list[Condition]
) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the documents that satisfy all conditions (evaluated in SQL), and of their chunks."""
    documents = select(DocumentRow.id).where(DocumentRow.collection_id == info.id)
    for condition in conditions:
        matching = select(MetadataEntry.document_id).where(
            MetadataEntry.key == condition.key,
            MetadataEntry.value_json == canonical_json(condition.equals),
        )
        documents = documents.where(DocumentRow.id.in_(matching))
    with store.sessions() as session:
        document_ids = np.fromiter(session.scalars(documents), dtype=np.int64)
        chunk_ids = np.fromiter(
            session.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(documents))),
            dtype=np.int64,
        )
    return document_ids, chunk_ids


def _search_documents(
    store: Store, info: CollectionInfo, query: np.ndarray, k: int,
    allowed_documents: np.ndarray | None, allowed_chunks: np.ndarray | None,
) -> list[Hit]:
    """Candidates from the document index and from the best chunks, ranked by DEFAULT_METHOD
    over all their chunks: a long document is found by its best passage and by its whole."""
    vectors = store.index(info)
    pool = max(4 * k, 50)
    by_document = vectors.documents.search(query, pool, allowed_documents)
    by_chunk = vectors.chunks.search(query, pool, allowed_chunks)
    with store.sessions() as session:
        candidates = {doc_id for doc_id, _ in by_document} | set(session.scalars(
            select(ChunkRow.document_id).where(ChunkRow.id.in_([i for i, _ in by_chunk]))
        ))
        rows = session.execute(
            select(ChunkRow, DocumentRow.external_id, DocumentRow.metadata_)
            .join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
            .where(ChunkRow.document_id.in_(candidates))
            .order_by(ChunkRow.document_id, ChunkRow.ordinal)
        ).all()
    grouped: dict[int, list] = {}
    for row in rows:
        grouped.setdefault(row[0].document_id, []).append(row)
    if not grouped:
        return []
    documents = list(grouped.values())
    unit_query = query / max(float(np.linalg.norm(query)), 1e-12)
    matrices = [_unit_rows(vectors_of([r[0].vector for r in doc], info.dimensions))
                for doc in documents]
    scores = document_scores(unit_query, matrices, DEFAULT_METHOD)
    hits = []
    for position in np.argsort(-scores)[:k]:
        doc, matrix = documents[position], matrices[position]
        best = np.argsort(-(matrix @ unit_query))[:EVIDENCE_CHUNKS]
        top = doc[best[0]][0]
        hits.append(Hit(
            doc[0][1], float(scores[position]), top.id, chunk_of(top), top.content_hash,
            doc[0][2] or {},
            [(doc[i][0].id, doc[i][0].content_hash, chunk_of(doc[i][0])) for i in best],
        ))
    return hits


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so L2 collections score documents by cosine too."""
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


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
