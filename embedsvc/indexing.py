"""Upsert and delete documents: chunk, embed only what is new, write SQL and FAISS atomically."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from embedsvc.aggregation import mean_vector
from embedsvc.chunking.types import Chunk
from embedsvc.encoding.encoder import Encoder
from embedsvc.errors import InvalidArgument
from embedsvc.metadata import canonical, filterable_entries, validate_metadata
from embedsvc.storage.schema import ChunkRow, DocumentRow, MetadataEntry
from embedsvc.storage.store import CollectionInfo, Store, vector_bytes, vectors_of

MAX_DOCUMENT_ID_CHARS = 1024
# Bound parameters per statement stay well under SQLite's and PostgreSQL's caps.
MAX_DELETE_IDS = 10_000
Chunker = Callable[["DocumentInput", int], list[Chunk]]


@dataclass(frozen=True)
class DocumentInput:
    id: str
    text: str
    language: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Covers everything that shapes the stored document, so equal hashes mean no-op.

        Metadata is canonicalized first: over gRPC every number arrives as a double.
        """
        payload = json.dumps([self.text, self.language, canonical(self.metadata)], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class UpsertResult:
    id: str
    created: bool
    chunks: int
    embedded: int
    reused: int
    deleted: int
    tokens_embedded: int


def validate_documents(
    documents: Sequence[DocumentInput], max_documents: int, max_chars: int
) -> None:
    if not documents:
        raise InvalidArgument("documents is empty; send at least one document")
    if len(documents) > max_documents:
        raise InvalidArgument(
            f"{len(documents)} documents in one request, more than {max_documents}; "
            "split it into smaller requests"
        )
    seen: set[str] = set()
    for position, document in enumerate(documents):
        where = f"documents[{position}]"
        if not document.id or len(document.id) > MAX_DOCUMENT_ID_CHARS:
            raise InvalidArgument(f"{where}: id must be 1-{MAX_DOCUMENT_ID_CHARS} characters")
        if document.id in seen:
            raise InvalidArgument(f"{where}: id {document.id!r} appears twice in the request")
        seen.add(document.id)
        if not document.text.strip():
            raise InvalidArgument(f"{where} ({document.id!r}): text is empty")
        if len(document.text) > max_chars:
            raise InvalidArgument(
                f"{where} ({document.id!r}): text has {len(document.text)} characters, more than "
                f"{max_chars}; split the document"
            )
        if "\x00" in document.text:
            raise InvalidArgument(f"{where} ({document.id!r}): text contains NUL characters")
        validate_metadata(document.metadata, where)


def upsert_documents(
    store: Store, encoder: Encoder, chunker: Chunker, info: CollectionInfo,
    documents: Sequence[DocumentInput],
) -> list[UpsertResult]:
    """Replace or create each document; chunks whose content is unchanged keep their vectors.

    The whole request is one SQL transaction: after a crash either all of it is stored or none.
    """
    chunked = {doc.id: chunker(doc, info.max_chunk_tokens) for doc in documents}
    with store.collection_lock(info):
        existing = _existing_chunks(store, info, [doc.id for doc in documents])
        to_embed: dict[str, str] = {}
        for doc in documents:
            known = existing.get(doc.id, {})
            for chunk in chunked[doc.id]:
                if chunk.content_hash not in known:
                    to_embed.setdefault(chunk.content_hash, chunk.embed_input)
        vectors = encoder.encode(
            list(to_embed.values()), info.profile, normalize=info.metric == "cosine"
        )
        fresh = dict(zip(to_embed, vectors, strict=True))
        with store.transaction(info) as batch:
            return [_write_document(batch, info, doc, chunked[doc.id], fresh) for doc in documents]


def delete_documents(
    store: Store, info: CollectionInfo, ids: Sequence[str]
) -> tuple[list[str], int]:
    """Delete the documents that exist; returns their ids and how many chunks went with them."""
    if not ids:
        raise InvalidArgument("ids is empty; name at least one document to delete")
    if len(ids) > MAX_DELETE_IDS:
        raise InvalidArgument(
            f"{len(ids)} ids in one request, more than {MAX_DELETE_IDS}; split the request"
        )
    with store.collection_lock(info), store.transaction(info) as batch:
        rows = batch.session.execute(
            select(DocumentRow.id, DocumentRow.external_id).where(
                DocumentRow.collection_id == info.id, DocumentRow.external_id.in_(list(ids))
            )
        ).all()
        row_ids = [row.id for row in rows]
        if row_ids:
            batch.removed_ids.extend(
                batch.session.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(row_ids)))
            )
            batch.session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(row_ids)))
            batch.session.execute(
                delete(MetadataEntry).where(MetadataEntry.document_id.in_(row_ids))
            )
            batch.session.execute(delete(DocumentRow).where(DocumentRow.id.in_(row_ids)))
            batch.documents_removed.extend(row_ids)
        return [row.external_id for row in rows], len(batch.removed_ids)


def _existing_chunks(
    store: Store, info: CollectionInfo, ids: list[str]
) -> dict[str, dict[str, int]]:
    """For each stored document among ``ids``: content hash -> chunk id of its chunks."""
    with store.sessions() as session:
        rows = session.execute(
            select(DocumentRow.external_id, ChunkRow.content_hash, ChunkRow.id)
            .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
            .where(DocumentRow.collection_id == info.id, DocumentRow.external_id.in_(ids))
        ).all()
    existing: dict[str, dict[str, int]] = {}
    for external_id, content_hash, chunk_id in rows:
        existing.setdefault(external_id, {})[content_hash] = chunk_id
    return existing


def _write_document(batch, info, doc, chunks, fresh) -> UpsertResult:
    session = batch.session
    row = session.scalar(
        select(DocumentRow).where(
            DocumentRow.collection_id == info.id, DocumentRow.external_id == doc.id
        )
    )
    created = row is None
    if created:
        row = DocumentRow(collection_id=info.id, external_id=doc.id)
        session.add(row)
    row.text, row.language, row.metadata_ = doc.text, doc.language, doc.metadata
    row.content_hash = doc.content_hash
    session.flush()
    old: dict[str, list[ChunkRow]] = defaultdict(list)
    if not created:
        for old_row in session.scalars(select(ChunkRow).where(ChunkRow.document_id == row.id)):
            old[old_row.content_hash].append(old_row)
    embedded = reused = tokens = 0
    chunk_vectors: list[bytes] = []
    for chunk in chunks:
        if old[chunk.content_hash]:
            kept = old[chunk.content_hash].pop()
            _place(kept, chunk)
            chunk_vectors.append(kept.vector)
            reused += 1
            continue
        new_row = ChunkRow(
            collection_id=info.id, document_id=row.id,
            content_hash=chunk.content_hash, vector=vector_bytes(fresh[chunk.content_hash]),
        )
        _place(new_row, chunk)
        chunk_vectors.append(new_row.vector)
        session.add(new_row)
        batch.added.append(new_row)
        embedded += 1
        tokens += chunk.token_count
    row.vector = vector_bytes(mean_vector(vectors_of(chunk_vectors, info.dimensions)))
    batch.documents_added.append(row)
    stale_rows = [stale for rows in old.values() for stale in rows]
    for stale in stale_rows:
        batch.removed_ids.append(stale.id)
        session.delete(stale)
    session.execute(delete(MetadataEntry).where(MetadataEntry.document_id == row.id))
    session.add_all(
        MetadataEntry(document_id=row.id, key=key, value_json=value)
        for key, value in filterable_entries(doc.metadata).items()
    )
    return UpsertResult(doc.id, created, len(chunks), embedded, reused, len(stale_rows), tokens)


def _place(row: ChunkRow, chunk: Chunk) -> None:
    """Copy a chunk's position and content fields onto its row (the vector stays)."""
    row.ordinal, row.text = chunk.ordinal, chunk.text
    row.start_char, row.end_char = chunk.start_char, chunk.end_char
    row.start_line, row.end_line = chunk.start_line, chunk.end_line
    row.token_count, row.context = chunk.token_count, chunk.context
    row.symbol, row.kind = chunk.symbol, chunk.kind
