"""The product's core in one object: encoder + chunker + store + limits, free of any transport.

The gRPC servicers and the embedded CLIs both call this, so they validate and behave alike.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from embedsvc.chunking import chunk_document
from embedsvc.chunking.types import Chunk
from embedsvc.config import Settings
from embedsvc.encoding.encoder import Encoder
from embedsvc.errors import FailedPrecondition, InvalidArgument, NotFound
from embedsvc.indexing import (
    DocumentInput,
    UpsertResult,
    delete_documents,
    upsert_documents,
    validate_documents,
)
from embedsvc.retrieval import Condition, Hit, chunk_of, search
from embedsvc.storage.schema import ChunkRow, DocumentRow
from embedsvc.storage.store import CollectionInfo, Store

log = logging.getLogger(__name__)
ProfileOverrides = dict[str, Any]
DEFAULT_PAGE_SIZE = 100
# Below this a chunk cannot hold special tokens, a context line and some text.
MIN_CHUNK_TOKENS = 16
MAX_OVERLAP_SENTENCES = 8
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray
    token_counts: list[int]
    truncated: list[bool]


@dataclass(frozen=True)
class DocumentSummary:
    id: str
    content_hash: str
    chunk_count: int


@dataclass(frozen=True)
class StoredDocument:
    document: DocumentInput
    content_hash: str
    chunks: list[tuple[int, str, Chunk]]  # (chunk id, content hash, chunk)


class Core:
    """Everything a request can do, for one data dir and one model."""

    def __init__(self, settings: Settings, encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.encoder = encoder or Encoder(
            settings.model, settings.max_batch_tokens, settings.max_queue_texts,
            settings.max_pass_texts,
        )
        self._owns_encoder = encoder is None
        self.store = Store(settings.data_dir, settings.resolved_database_url())

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            if self._owns_encoder:
                self.encoder.close()

    # -- embedding ---------------------------------------------------------------------

    def embed(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        allow_truncation: bool = True, profile: ProfileOverrides | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
    ) -> Embedded:
        """Vectors under the server's default profile with ``profile`` overrides applied."""
        limit = self.settings.max_batch_texts
        if not texts:
            raise InvalidArgument("texts is empty; send at least one text")
        if len(texts) > limit:
            raise InvalidArgument(
                f"{len(texts)} texts in one request, more than {limit}; split the batch"
            )
        for position, text in enumerate(texts):
            if not text.strip():
                raise InvalidArgument(f"texts[{position}] is empty")
            if len(text) > self.settings.max_text_chars:
                raise InvalidArgument(
                    f"texts[{position}] has {len(text)} characters, more than "
                    f"{self.settings.max_text_chars}"
                )
        chosen = self.encoder.profile(**(profile or {}))
        counts = self.encoder.token_counts(texts)
        truncated = self.encoder.check_overflow(counts, allow_truncation)
        vectors = self.encoder.encode(
            texts, chosen, normalize, dimensions, counts, is_active, deadline
        )
        return Embedded(vectors, counts, truncated)

    def chunk(
        self, text: str, language: str = "", path: str = "", max_tokens: int = 0,
        overlap_sentences: int = 0,
    ) -> list[Chunk]:
        return checked_chunks(
            self.encoder, self.settings.max_text_chars, text, language, path, max_tokens,
            overlap_sentences,
        )

    def _chunk_document(self, document: DocumentInput, max_tokens: int) -> list[Chunk]:
        """How a stored document is chunked: its language, else its id's extension."""
        return chunk_document(
            document.text, self.encoder.tokenizer, max_tokens,
            language=document.language or None, path=document.id,
        )

    # -- collections -------------------------------------------------------------------

    def create_collection(
        self, name: str, model: str = "", dimensions: int = 0, metric: str = "cosine",
        max_chunk_tokens: int = 0, profile: ProfileOverrides | None = None,
    ) -> CollectionInfo:
        """A collection whose chunks are embedded with the default profile plus ``profile``
        overrides (layers, tempscale, precision; ``dimensions`` sets the width)."""
        info = self.encoder.info
        if model and model != info.name:
            raise InvalidArgument(
                f"model {model!r} is not served here; this server runs {info.name!r} "
                "(leave model empty to use it)"
            )
        if not 0 <= dimensions <= info.dimensions:
            raise InvalidArgument(
                f"dimensions must be between 1 and {info.dimensions} (0 = all), got {dimensions}"
            )
        if not 0 <= max_chunk_tokens <= info.max_tokens or 0 < max_chunk_tokens < MIN_CHUNK_TOKENS:
            raise InvalidArgument(
                f"max_chunk_tokens must be between {MIN_CHUNK_TOKENS} and the model's "
                f"{info.max_tokens} "
                f"(0 = {info.max_tokens}), got {max_chunk_tokens}"
            )
        overrides = dict(profile or {})
        if dimensions:
            overrides["dimensions"] = dimensions
        chosen = self.encoder.profile(**overrides)
        return self.store.create_collection(
            name, info.name, info.fingerprint, chosen, metric, max_chunk_tokens or info.max_tokens,
        )

    def get_collection(self, name: str) -> CollectionInfo:
        return self.store.get_collection(name, with_counts=True)

    def list_collections(
        self, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[CollectionInfo], str]:
        size = _page_size(page_size)
        rows = self.store.list_collections(_after_id(page_token), size + 1)
        page = [self.store.get_collection(row.name, with_counts=True) for row in rows[:size]]
        return page, str(rows[size - 1].id) if len(rows) > size else ""

    def delete_collection(self, name: str) -> None:
        self.store.delete_collection(name)

    def reindex(self, name: str) -> int:
        return self.store.reindex(name)

    # -- documents ---------------------------------------------------------------------

    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[UpsertResult]:
        validate_documents(
            documents, self.settings.max_documents_per_upsert, self.settings.max_text_chars
        )
        info = self._writable(collection)
        return upsert_documents(self.store, self.encoder, self._chunk_document, info, documents)

    def delete_documents(self, collection: str, ids: Sequence[str]) -> tuple[list[str], int]:
        return delete_documents(self.store, self._writable(collection), ids)

    def get_document(self, collection: str, document_id: str) -> StoredDocument:
        info = self.store.get_collection(collection)
        with self.store.sessions() as session:
            row = session.scalar(
                select(DocumentRow).where(
                    DocumentRow.collection_id == info.id, DocumentRow.external_id == document_id
                )
            )
            if row is None:
                raise NotFound(f"document {document_id!r} is not in collection {collection!r}")
            chunks = session.scalars(
                select(ChunkRow).options(defer(ChunkRow.vector))
                .where(ChunkRow.document_id == row.id).order_by(ChunkRow.ordinal)
            ).all()
            document = DocumentInput(row.external_id, row.text, row.language, row.metadata_ or {})
            return StoredDocument(
                document, row.content_hash, [(c.id, c.content_hash, chunk_of(c)) for c in chunks]
            )

    def list_documents(
        self, collection: str, page_size: int = 0, page_token: str = "", id_prefix: str = ""
    ) -> tuple[list[DocumentSummary], str]:
        """One page of (id, content hash, chunk count), optionally under an id prefix."""
        info = self.store.get_collection(collection)
        size = _page_size(page_size)
        chunk_counts = (
            select(func.count()).select_from(ChunkRow)
            .where(ChunkRow.document_id == DocumentRow.id).scalar_subquery()
        )
        query = (
            select(DocumentRow.id, DocumentRow.external_id, DocumentRow.content_hash, chunk_counts)
            .where(DocumentRow.collection_id == info.id, DocumentRow.id > _after_id(page_token))
            .order_by(DocumentRow.id).limit(size + 1)
        )
        if id_prefix:
            query = query.where(DocumentRow.external_id.startswith(id_prefix, autoescape=True))
        with self.store.sessions() as session:
            rows = session.execute(query).all()
        next_token = str(rows[size - 1].id) if len(rows) > size else ""
        return [DocumentSummary(r[1], r[2], r[3]) for r in rows[:size]], next_token

    # -- search ------------------------------------------------------------------------

    def search(
        self, collection: str, query: str, k: int = 10, conditions: list[Condition] | None = None,
        level: str = "chunk", query_profile: ProfileOverrides | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
    ) -> list[Hit]:
        """Search with the collection's profile, or a cheaper query profile of the same width
        (fewer layers, another tempscale or precision)."""
        info = self.store.collection_for_model(collection, self.encoder.fingerprint)
        profile = self.encoder.profile(info.profile, **(query_profile or {}))
        if profile.dimensions != info.dimensions:
            raise FailedPrecondition(
                f"query profile has {profile.dimensions} dimensions but collection {collection!r} "
                f"stores {info.dimensions}; a query may change layers, tempscale and precision, "
                "not the width"
            )
        encode = functools.partial(
            self.encoder.encode, profile=profile, is_active=is_active, deadline=deadline
        )
        return search(
            self.store, encode, info, query, k, self.settings.max_k, conditions, level
        )

    def _writable(self, collection: str) -> CollectionInfo:
        return self.store.collection_for_model(collection, self.encoder.fingerprint)


def checked_chunks(
    encoder: Encoder, max_text_chars: int, text: str, language: str = "", path: str = "",
    max_tokens: int = 0, overlap_sentences: int = 0,
) -> list[Chunk]:
    """Chunks of ``text``: code by AST when the language (or path extension) names one, prose
    by sentence blocks; ``max_tokens`` 0 = the model's window. Validates like every RPC."""
    window = encoder.info.max_tokens
    if not text.strip():
        raise InvalidArgument("text is empty")
    if len(text) > max_text_chars:
        raise InvalidArgument(f"text has {len(text)} characters, more than {max_text_chars}")
    if not 0 <= max_tokens <= window or 0 < max_tokens < MIN_CHUNK_TOKENS:
        raise InvalidArgument(
            f"max_tokens must be between {MIN_CHUNK_TOKENS} and the model's {window} "
            f"(0 = {window}), got {max_tokens}"
        )
    if not 0 <= overlap_sentences <= MAX_OVERLAP_SENTENCES:
        raise InvalidArgument(f"overlap_sentences must be between 0 and {MAX_OVERLAP_SENTENCES}")
    return chunk_document(
        text, encoder.tokenizer, max_tokens or window, language=language or None,
        path=path or None, overlap_sentences=overlap_sentences,
    )


def _page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {requested}")
    return requested or DEFAULT_PAGE_SIZE


def _after_id(page_token: str) -> int:
    if not page_token:
        return 0
    if not page_token.isdigit():
        raise InvalidArgument("page_token is not one this server issued; pass next_page_token")
    return int(page_token)
