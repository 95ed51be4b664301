"""The seams: what the services need from a model, a SQL store and a vector index.

The services speak only `embedsvc.types` and these Protocols. A new vector backend is a class
that satisfies `VectorIndex` (one module, one line in `storage.backends`); a new encoder runtime
is a class that satisfies `Encoder`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from embedsvc.types import (
    CollectionInfo,
    Condition,
    DeleteResult,
    DocumentInput,
    DocumentSummary,
    EncoderProfile,
    Hit,
    IndexChanges,
    Level,
    ModelEntry,
    ModelInfo,
    PreparedDocument,
    StoredChunk,
    StoredDocument,
    UpsertResult,
)


class Encoder(Protocol):
    """Texts in, float32 vectors out, under an encoder profile. Loads lazily."""

    name: str

    @property
    def fingerprint(self) -> str: ...
    @property
    def loaded(self) -> bool: ...
    @property
    def info(self) -> ModelInfo: ...
    @property
    def tokenizer(self) -> Any: ...
    def profile(self, base: EncoderProfile | None = None, **overrides: Any) -> EncoderProfile: ...
    def token_counts(self, texts: Sequence[str]) -> list[int]: ...
    def check_overflow(self, counts: Sequence[int], allow_truncation: bool) -> list[bool]: ...
    def encode(
        self, texts: Sequence[str], profile: EncoderProfile | None = None, normalize: bool = True,
        dimensions: int | None = None, token_counts: Sequence[int] | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
        prompt: str = "", interactive: bool = False,
    ) -> np.ndarray: ...
    def close(self) -> None: ...


class Models(Protocol):
    """The models a server serves, by name; each loads on first use."""

    @property
    def default_name(self) -> str: ...
    def get(self, name: str = "") -> Encoder: ...
    def entries(self) -> list[ModelEntry]: ...
    def close(self) -> None: ...


class Repository(Protocol):
    """All SQL: collections, documents, chunks (with their vectors), metadata, generations.

    A write method is one transaction that also bumps the collection's generation, and returns
    the `IndexChanges` the vector index must then apply.
    """

    # collections
    def create_collection(self, info: CollectionInfo) -> CollectionInfo: ...
    def get_collection(self, name: str, with_counts: bool = False) -> CollectionInfo: ...
    def list_collections(
        self, after_id: int = 0, limit: int | None = None, with_counts: bool = False
    ) -> list[CollectionInfo]: ...
    def delete_collection(self, info: CollectionInfo) -> None: ...
    def generation(self, collection_id: int) -> int | None: ...

    # documents
    def stored_vectors(
        self, info: CollectionInfo, document_ids: Sequence[str]
    ) -> dict[str, np.ndarray]: ...
    def write_documents(
        self, info: CollectionInfo, documents: Sequence[PreparedDocument]
    ) -> tuple[list[UpsertResult], IndexChanges]: ...
    def delete_documents(
        self, info: CollectionInfo, ids: Sequence[str]
    ) -> tuple[DeleteResult, IndexChanges]: ...
    def get_document(self, info: CollectionInfo, document_id: str) -> StoredDocument: ...
    def list_documents(
        self, info: CollectionInfo, after_id: int, limit: int, id_prefix: str = ""
    ) -> list[tuple[int, DocumentSummary]]: ...

    # search
    def matching_ids(
        self, info: CollectionInfo, conditions: Sequence[Condition], level: Level
    ) -> np.ndarray: ...
    def chunk_hits(self, ranked: Sequence[tuple[int, float]]) -> list[Hit]: ...
    def documents_of_chunks(self, chunk_ids: Sequence[int]) -> set[int]: ...
    def document_chunks(
        self, document_ids: Sequence[int], dimensions: int
    ) -> list[tuple[str, dict[str, Any], list[StoredChunk], np.ndarray]]: ...

    # what a vector index is repaired from
    def ids(self, info: CollectionInfo, level: Level) -> np.ndarray: ...
    def vectors(
        self, info: CollectionInfo, level: Level, ids: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def close(self) -> None: ...


class VectorIndex(Protocol):
    """Every collection's chunk and document vectors, mirroring the repository.

    SQL is the source of truth: `sync` makes a collection's vectors equal what the repository
    holds (after a crash, or for a collection another process wrote), `apply` mirrors one
    committed write. Filters arrive as conditions; the adapter decides how to apply them, and a
    filtered search still returns k hits whenever k matching vectors exist.
    """

    def sync(self, info: CollectionInfo) -> None: ...
    def apply(self, info: CollectionInfo, changes: IndexChanges) -> None: ...
    def search(
        self, info: CollectionInfo, query: np.ndarray, k: int, level: Level = "chunk",
        conditions: Sequence[Condition] = (),
    ) -> list[tuple[int, float]]: ...
    def ids(self, info: CollectionInfo, level: Level = "chunk") -> np.ndarray: ...
    def drop(self, info: CollectionInfo) -> None: ...
    def rebuild(self, info: CollectionInfo) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class EmbedsvcApi(Protocol):
    """What the in-process `Core` and the gRPC `Client` both offer, with the same types, so the
    indexer and other callers run embedded or remote with the same code."""

    def get_collection(self, name: str) -> CollectionInfo: ...
    def create_collection(self, name: str, **options: Any) -> CollectionInfo: ...
    def all_collections(self) -> list[CollectionInfo]: ...
    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[UpsertResult]: ...
    def delete_documents(self, collection: str, ids: Sequence[str]) -> DeleteResult: ...
    def document_summaries(
        self, collection: str, id_prefix: str = "", page_size: int = 0
    ) -> list[DocumentSummary]: ...
    def search(
        self, collection: str, query: str, k: int = 10, where: Any = None, level: Level = "chunk",
    ) -> list[Hit]: ...
    def close(self) -> None: ...
