"""The product in one process: models + storage + the use cases, free of any transport.

`Core` offers the same methods with the same types as `embedsvc.client.Client`, so the indexer
(and anyone else) runs embedded or remote with the same code; the gRPC servicers call it too,
so every entry point validates alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedsvc.config import Settings
from embedsvc.encoding.registry import ModelRegistry
from embedsvc.errors import InvalidArgument
from embedsvc.linking.concepts import KnowledgeBaseInfo, Linked, Mention, mention_of
from embedsvc.linking.service import Linking
from embedsvc.paging import all_pages
from embedsvc.ports import Encoder, Models
from embedsvc.services.backup import take_backup
from embedsvc.services.collections import CollectionLocks, Collections, refuse_domain_name
from embedsvc.services.documents import Documents
from embedsvc.services.embedding import Embedding
from embedsvc.services.search import Searcher
from embedsvc.storage import open_storage
from embedsvc.titles.service import TitleNormalizer
from embedsvc.titles.types import CatalogEntry, CatalogInfo, CatalogLoad, Normalized, TitleQuery
from embedsvc.types import (
    Backup,
    ChunkResult,
    CollectionInfo,
    DeleteResult,
    DocumentInput,
    DocumentSummary,
    Embedded,
    Hit,
    Page,
    PreparedDocument,
    ProfileOverrides,
    ServerInfo,
    StoredDocument,
    Token,
    UpsertResult,
    Where,
)


class Core:
    """Everything a request can do, for one data dir. ``encoder`` replaces the default model
    (tests share one loaded model); ``models`` replaces the whole registry."""

    def __init__(
        self, settings: Settings, encoder: Encoder | None = None, models: Models | None = None
    ) -> None:
        self.settings = settings
        self.models = models or ModelRegistry.from_settings(settings, default=encoder)
        try:
            self.storage = open_storage(settings)
        except BaseException:
            self.models.close()
            raise
        self.locks = CollectionLocks(self.storage.collection_lock)
        self.collections = Collections(settings, self.models, self.storage, self.locks)
        self.documents = Documents(settings, self.collections, self.storage, self.locks)
        self.searcher = Searcher(settings, self.collections, self.storage)
        self.embedding = Embedding(settings, self.models)
        self.titles = TitleNormalizer(settings, self.storage, self.collections, self.documents)
        self.linking = Linking(settings, self.collections, self.documents, self.storage)

    def close(self) -> None:
        try:
            self.storage.close()
        finally:
            self.models.close()

    def flush(self) -> None:
        """Save the vector index changes made since the last save."""
        self.storage.vectors.flush()

    def backup(self, directory: Path) -> Backup:
        """A consistent snapshot of the store in ``directory`` (see services.backup)."""
        return take_backup(self.storage, self.locks, directory)

    # -- models ------------------------------------------------------------------------

    def info(self, model: str = "") -> ServerInfo:
        return self.embedding.info(model)

    def embed(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        allow_truncation: bool = True, profile: ProfileOverrides | None = None,
        model: str = "", prompt: str = "", is_active: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> Embedded:
        return self.embedding.embed(
            texts, normalize, dimensions, allow_truncation, profile, model, prompt, is_active,
            deadline,
        )

    def tokenize(
        self, texts: Sequence[str], model: str = "", collection: str = "",
        add_special_tokens: bool = True,
    ) -> tuple[list[list[Token]], str]:
        """Tokens of each text with ``model``'s tokenizer, or ``collection``'s model's; and the
        model's name."""
        if collection:
            own = self.collections.get(collection).model
            if model and model != own:
                raise InvalidArgument(
                    f"collection {collection!r} uses model {own!r}, not {model!r}; give one of "
                    "model or collection", "model",
                )
            model = own
        return self.embedding.tokenize(texts, model, add_special_tokens)

    def chunk(
        self, text: str, language: str = "", path: str = "", max_tokens: int = 0,
        overlap_sentences: int = 0, model: str = "",
    ) -> ChunkResult:
        return self.embedding.chunk(text, language, path, max_tokens, overlap_sentences, model)

    # -- collections -------------------------------------------------------------------

    def create_collection(self, name: str, **options: Any) -> CollectionInfo:
        refuse_domain_name(name)
        return self.collections.create(name, **options)

    def get_collection(self, name: str) -> CollectionInfo:
        return self.collections.get(name)

    def list_collections(self, page_size: int = 0, page_token: str = "") -> Page[CollectionInfo]:
        return self.collections.list(page_size, page_token)

    def all_collections(self) -> list[CollectionInfo]:
        return all_pages(lambda token: self.list_collections(0, token))

    def delete_collection(self, name: str) -> None:
        refuse_domain_name(name)
        self.collections.delete(name)

    def reindex(self, name: str) -> int:
        return self.collections.reindex(name)

    # -- documents ---------------------------------------------------------------------

    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[UpsertResult]:
        refuse_domain_name(collection)
        return self.documents.upsert(collection, documents)

    def upsert_prepared(
        self, collection: str, documents: Sequence[PreparedDocument], model_fingerprint: str
    ) -> list[UpsertResult]:
        refuse_domain_name(collection)
        return self.documents.upsert_prepared(collection, documents, model_fingerprint)

    def delete_documents(self, collection: str, ids: Sequence[str]) -> DeleteResult:
        refuse_domain_name(collection)
        return self.documents.delete(collection, ids)

    def get_document(self, collection: str, document_id: str) -> StoredDocument:
        return self.documents.get(collection, document_id)

    def list_documents(
        self, collection: str, page_size: int = 0, page_token: str = "", id_prefix: str = ""
    ) -> Page[DocumentSummary]:
        return self.documents.list(collection, page_size, page_token, id_prefix)

    def document_summaries(
        self, collection: str, id_prefix: str = "", page_size: int = 0
    ) -> list[DocumentSummary]:
        return all_pages(
            lambda token: self.list_documents(collection, page_size, token, id_prefix)
        )

    # -- search ------------------------------------------------------------------------

    def search(
        self, collection: str, query: str, k: int = 10, where: Where = None,
        level: str = "chunk", query_profile: ProfileOverrides | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
        mode: str = "", funnel_dims: int = 0, query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        return self.searcher.search(
            collection, query, k, where, level, query_profile, is_active, deadline, mode,
            funnel_dims, query_vector,
        )

    # -- job titles --------------------------------------------------------------------

    def load_catalog(
        self, catalog: str, entries: Sequence[CatalogEntry], model: str = ""
    ) -> CatalogLoad:
        return self.titles.load(catalog, entries, model)

    def catalogs(self) -> list[CatalogInfo]:
        return self.titles.catalogs()

    def normalize_titles(
        self, catalog: str, queries: Sequence[TitleQuery], k: int = 10, cleanup: bool = True,
        threshold: float | None = None,
    ) -> list[Normalized]:
        return self.titles.normalize(catalog, queries, k, cleanup, threshold)

    # -- entity linking ----------------------------------------------------------------

    def load_knowledge_base(
        self, kb: str, content: str, source_format: str = "", model: str = "",
        filename: str = "", reranker: str = "",
    ) -> KnowledgeBaseInfo:
        return self.linking.load(kb, content, source_format, model, filename, reranker)

    def knowledge_bases(self) -> list[KnowledgeBaseInfo]:
        return self.linking.knowledge_bases()

    def link_entities(
        self, kb: str, mentions: Sequence[Mention | str | dict], k: int = 10,
        threshold: float = 0.0, generators: Sequence[str] = (),
        expand_abbreviations: bool = True, rerank: bool = False,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
    ) -> list[Linked]:
        return self.linking.link(
            kb, [mention_of(m) for m in mentions], k, threshold, generators,
            expand_abbreviations, rerank, is_active, deadline,
        )
