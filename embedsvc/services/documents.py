"""Documents: upsert as `prepare` (chunk, hash, embed; no lock, no writes) + `commit` (the only
writer: one SQL transaction, then the vector index), deletes, reads.

`prepare` needs only a collection's settings and an encoder, so a worker elsewhere can run it
and send the result to `UpsertDocuments` as precomputed chunks with vectors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set

import numpy as np

from embedsvc import metrics, tracing
from embedsvc.aggregation import mean_vector
from embedsvc.chunking.policy import chunk_by_policy
from embedsvc.config import Settings
from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.faults import fault_point
from embedsvc.metadata import validate_metadata
from embedsvc.paging import after_id, page_of, page_size
from embedsvc.ports import Encoder
from embedsvc.services.collections import CollectionLocks, Collections, prompt_tokens
from embedsvc.storage import Storage
from embedsvc.types import (
    CollectionInfo,
    DeleteResult,
    DocumentInput,
    DocumentSummary,
    Page,
    PreparedChunk,
    PreparedDocument,
    StoredDocument,
    UpsertResult,
)

MAX_DOCUMENT_ID_CHARS = 1024
MAX_LANGUAGE_CHARS = 64
# Bound parameters per statement stay well under SQLite's and PostgreSQL's caps.
MAX_DELETE_IDS = 10_000
NO_VECTOR = np.zeros(0, dtype=np.float32)  # on the wire: "the stored vector of this chunk"


def validate_documents(
    documents: Sequence[DocumentInput], max_documents: int, max_chars: int
) -> None:
    if not documents:
        raise InvalidArgument("documents is empty; send at least one document", "documents")
    if len(documents) > max_documents:
        raise InvalidArgument(
            f"{len(documents)} documents in one request, more than {max_documents}; "
            "split it into smaller requests", "documents",
        )
    seen: set[str] = set()
    for position, document in enumerate(documents):
        where = f"documents[{position}]"
        if not document.id or len(document.id) > MAX_DOCUMENT_ID_CHARS:
            raise InvalidArgument(
                f"{where}: id must be 1-{MAX_DOCUMENT_ID_CHARS} characters", f"{where}.id"
            )
        if "\x00" in document.id:
            raise InvalidArgument(
                f"{where}: id {document.id!r} contains a NUL character", f"{where}.id"
            )
        if document.id in seen:
            raise InvalidArgument(
                f"{where}: id {document.id!r} appears twice in the request", f"{where}.id"
            )
        seen.add(document.id)
        if len(document.language) > MAX_LANGUAGE_CHARS or "\x00" in document.language:
            raise InvalidArgument(
                f"{where} ({document.id!r}): language must be at most {MAX_LANGUAGE_CHARS} "
                "characters without NUL, e.g. 'python'", f"{where}.language",
            )
        if not document.text.strip():
            raise InvalidArgument(f"{where} ({document.id!r}): text is empty", f"{where}.text")
        if len(document.text) > max_chars:
            raise InvalidArgument(
                f"{where} ({document.id!r}): text has {len(document.text)} characters, more than "
                f"{max_chars}; split the document", f"{where}.text",
            )
        if "\x00" in document.text:
            raise InvalidArgument(
                f"{where} ({document.id!r}): text contains NUL characters", f"{where}.text"
            )
        validate_metadata(document.metadata, where)


def prepare(
    info: CollectionInfo, encoder: Encoder, documents: Sequence[DocumentInput],
    known: Mapping[str, np.ndarray] | None = None,
) -> list[PreparedDocument]:
    """Chunk each document by the collection's policy and embed the chunks whose content hash
    is not in ``known`` (hash -> stored vector); the others reuse the known vector."""
    known = known or {}
    items = _chunk_and_embed(info, encoder, documents, [known] * len(documents))
    return [
        PreparedDocument(document, chunks, _document_vector(chunks, info))
        for document, chunks in zip(documents, items, strict=True)
    ]


def prepare_for_commit(
    info: CollectionInfo, encoder: Encoder, documents: Sequence[DocumentInput],
    stored: Sequence[Set[str]],
) -> list[PreparedDocument]:
    """`prepare` on a worker that has no store: a chunk whose content hash its own document
    already stores (``stored[i]``, from `get_document`) is not embedded and carries an empty
    vector, which `upsert_prepared` fills in with the stored one. The document vector is left
    empty too: the commit computes it from the chunk vectors."""
    reuse = [dict.fromkeys(hashes, NO_VECTOR) for hashes in stored]
    items = _chunk_and_embed(info, encoder, documents, reuse)
    return [
        PreparedDocument(document, chunks, NO_VECTOR)
        for document, chunks in zip(documents, items, strict=True)
    ]


def _chunk_and_embed(
    info: CollectionInfo, encoder: Encoder, documents: Sequence[DocumentInput],
    known: Sequence[Mapping[str, np.ndarray]],
) -> list[list[PreparedChunk]]:
    """Each document's chunks with vectors: ``known[i]`` for document i's known hashes, the
    others embedded in one call (a hash shared by several chunks is embedded once)."""
    budget = info.max_chunk_tokens - prompt_tokens(encoder, info.document_prompt)
    with tracing.span("upsert.chunk", documents=len(documents)):
        chunked = [
            chunk_by_policy(doc, info.chunking, encoder.tokenizer, budget) for doc in documents
        ]
    to_embed: dict[str, str] = {}
    for chunks, reusable in zip(chunked, known, strict=True):
        for chunk in chunks:
            if chunk.content_hash not in reusable:
                to_embed.setdefault(chunk.content_hash, chunk.embed_input)
    with tracing.span("upsert.encode", texts=len(to_embed)):
        vectors = encoder.encode(
            list(to_embed.values()), info.profile, normalize=info.metric == "cosine",
            prompt=info.document_prompt,
        )
    fresh = dict(zip(to_embed, vectors, strict=True))
    return [
        [
            PreparedChunk(chunk, reusable[chunk.content_hash], False)
            if chunk.content_hash in reusable else PreparedChunk(chunk, fresh[chunk.content_hash])
            for chunk in chunks
        ]
        for chunks, reusable in zip(chunked, known, strict=True)
    ]


def precomputed(
    info: CollectionInfo, documents: Sequence[PreparedDocument],
    stored: Mapping[str, np.ndarray] | None = None,
) -> list[PreparedDocument]:
    """Chunks with vectors computed elsewhere, checked against the collection: spans that are
    the document's text, the collection's width, finite values; unit length for cosine. An
    empty vector takes the stored one of that content hash (``stored``: hash -> vector)."""
    stored = stored or {}
    checked = []
    for position, prepared in enumerate(documents):
        where = f"prepared[{position}] ({prepared.document.id!r})"
        if not prepared.chunks:
            raise InvalidArgument(f"{where}: no chunks; send at least one",
                                  f"prepared[{position}].chunks")
        text = prepared.document.text
        items = []
        for number, item in enumerate(prepared.chunks):
            chunk, at = item.chunk, f"{where}.chunks[{number}]"
            field = f"prepared[{position}].chunks[{number}]"
            if chunk.ordinal != number:
                raise InvalidArgument(f"{at}: ordinal is {chunk.ordinal}, expected {number}",
                                      f"{field}.chunk.ordinal")
            if not 0 <= chunk.start_char <= chunk.end_char <= len(text) or (
                text[chunk.start_char:chunk.end_char] != chunk.text
            ):
                raise InvalidArgument(
                    f"{at}: text is not the document's text[start_char:end_char]",
                    f"{field}.chunk.text",
                )
            vector = np.asarray(item.vector, dtype=np.float32)
            if vector.size == 0:
                if chunk.content_hash not in stored:
                    raise InvalidArgument(
                        f"{at}: no vector, and the document stores no chunk with this "
                        "content; send its vector (an empty one reuses a stored chunk's)",
                        f"{field}.vector",
                    )
                items.append(PreparedChunk(chunk, stored[chunk.content_hash], False))
                continue
            if vector.shape != (info.dimensions,):
                raise InvalidArgument(
                    f"{at}: vector has {vector.size} values, but collection {info.name!r} "
                    f"stores {info.dimensions} dimensions", f"{field}.vector",
                )
            norm = float(np.linalg.norm(vector))
            if not np.isfinite(vector).all() or not math.isfinite(norm) or norm == 0:
                raise InvalidArgument(f"{at}: vector must be finite and not all zeros",
                                      f"{field}.vector")
            if info.metric == "cosine":
                vector = vector / norm
            items.append(PreparedChunk(chunk, vector, True))
        checked.append(PreparedDocument(prepared.document, items, _document_vector(items, info)))
    return checked


def _document_vector(items: Sequence[PreparedChunk], info: CollectionInfo) -> np.ndarray:
    if not items:
        return np.zeros(info.dimensions, dtype=np.float32)
    return mean_vector(np.stack([item.vector for item in items]))


class Documents:
    def __init__(
        self, settings: Settings, collections: Collections, storage: Storage,
        locks: CollectionLocks,
    ) -> None:
        self.settings = settings
        self.collections = collections
        self.storage = storage
        self.locks = locks

    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[UpsertResult]:
        """Replace or create each document; chunks whose content is unchanged keep their vectors.

        The whole request is one SQL transaction: after a crash either all of it is stored or
        none. Inference runs before, under no lock.
        """
        self._validate(documents)
        info, encoder = self.collections.open(collection)
        known = self.storage.repository.stored_vectors(info, [doc.id for doc in documents])
        prepared = prepare(info, encoder, documents, known)
        fault_point("upsert.prepared")
        return self.commit(info, prepared)

    def upsert_prepared(
        self, collection: str, documents: Sequence[PreparedDocument], model_fingerprint: str
    ) -> list[UpsertResult]:
        """Commit chunks whose vectors were computed elsewhere by the collection's model."""
        self._validate([prepared.document for prepared in documents])
        info = self.storage.repository.get_collection(collection)
        if not model_fingerprint:
            raise InvalidArgument(
                "model_fingerprint is required with precomputed vectors: the fingerprint of "
                "the model that computed them (GetCollection gives the collection's)",
                "model_fingerprint",
            )
        if model_fingerprint != info.model_fingerprint:
            raise FailedPrecondition(
                f"the vectors were computed by model fingerprint {model_fingerprint}, but "
                f"collection {collection!r} is built with {info.model} (fingerprint "
                f"{info.model_fingerprint}); compute them with that model"
            )
        reusing = [prepared.document.id for prepared in documents
                   if any(item.vector.size == 0 for item in prepared.chunks)]
        stored = self.storage.repository.stored_vectors(info, reusing)
        return self.commit(info, precomputed(info, documents, stored))

    def commit(
        self, info: CollectionInfo, prepared: Sequence[PreparedDocument]
    ) -> list[UpsertResult]:
        """The one writer: SQL in one transaction (which re-checks the collection), then the
        vector index, both under the collection's lock so they stay in the same order."""
        with self.locks(info), tracing.span("upsert.commit", documents=len(prepared)):
            results, changes = self.storage.repository.write_documents(info, prepared)
            fault_point("upsert.committed")
            with tracing.span("index.apply"):
                self.storage.vectors.apply(info, changes)
        metrics.CHUNKS.labels("embedded").inc(sum(r.embedded for r in results))
        metrics.CHUNKS.labels("reused").inc(sum(r.reused for r in results))
        return results

    def delete(self, collection: str, ids: Sequence[str]) -> DeleteResult:
        """Delete the documents that exist; the others are reported as not found."""
        if not ids:
            raise InvalidArgument("ids is empty; name at least one document to delete", "ids")
        if len(ids) > MAX_DELETE_IDS:
            raise InvalidArgument(
                f"{len(ids)} ids in one request, more than {MAX_DELETE_IDS}; split the request",
                "ids",
            )
        info, _ = self.collections.open(collection)
        with self.locks(info):
            result, changes = self.storage.repository.delete_documents(info, ids)
            fault_point("delete.committed")
            self.storage.vectors.apply(info, changes)
        return result

    def get(self, collection: str, document_id: str) -> StoredDocument:
        info = self.storage.repository.get_collection(collection)
        return self.storage.repository.get_document(info, document_id)

    def list(
        self, collection: str, size: int = 0, page_token: str = "", id_prefix: str = ""
    ) -> Page[DocumentSummary]:
        """One page of (id, content hash, chunk count), optionally under an id prefix."""
        info = self.storage.repository.get_collection(collection)
        size = page_size(size)
        rows = self.storage.repository.list_documents(
            info, after_id(page_token), size + 1, id_prefix
        )
        return page_of(rows, size)

    def _validate(self, documents: Sequence[DocumentInput]) -> None:
        validate_documents(
            documents, self.settings.max_documents_per_upsert, self.settings.max_text_chars
        )
