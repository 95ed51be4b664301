"""LangChain `Embeddings` and `VectorStore` over an embedsvc server (`pip install
embedsvc[langchain]`).

The server embeds and stores: a LangChain document is one embedsvc document (its id, text and
metadata), in a collection created on first write with chunking "none" (documents arrive split
by LangChain's splitters), so a hit is the whole document. Vectors are Python floats.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from embedsvc.errors import NotFound
from embedsvc.integrations.connection import (
    Connection,
    aensure_collection,
    embed_options,
    ensure_collection,
    plain_metadata,
)
from embedsvc.integrations.filters import conditions_of_filter
from embedsvc.types import CollectionInfo, DocumentInput, Hit, StoredDocument


class EmbedsvcEmbeddings(Embeddings):
    """Texts embedded by the server: with ``collection``, exactly as that collection embeds
    queries and documents (its model, width, profile and prompts); else with ``model`` ('' =
    the server's default). ``target``/``api_key`` default to EMBEDSVC_TARGET/EMBEDSVC_API_KEY."""

    def __init__(
        self, target: str | None = None, collection: str | None = None,
        api_key: str | None = None, model: str = "", timeout: float = 60.0,
        concurrency: int = 4,
    ) -> None:
        self.connection = Connection(target, api_key, timeout)
        self.collection = collection
        self.model = model
        self.concurrency = concurrency
        self._info: CollectionInfo | None = None

    @property
    def target(self) -> str:
        return self.connection.target

    @property
    def api_key(self) -> str:
        return self.connection.api_key

    def _options(self, info: CollectionInfo | None, kind: str) -> dict[str, Any]:
        if info is None:
            return {"model": self.model} if self.model else {}
        return embed_options(info, kind)

    def _collection(self) -> CollectionInfo | None:
        if self.collection and self._info is None:
            self._info = self.connection.client().get_collection(self.collection)
        return self._info

    async def _acollection(self) -> CollectionInfo | None:
        if self.collection and self._info is None:
            self._info = await self.connection.aclient().get_collection(self.collection)
        return self._info

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        options = self._options(self._collection(), "document")
        return self.connection.client().embed_many(
            texts, concurrency=self.concurrency, **options
        ).tolist()

    def embed_query(self, text: str) -> list[float]:
        options = self._options(self._collection(), "query")
        return self.connection.client().embed([text], **options)[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        options = self._options(await self._acollection(), "document")
        vectors = await self.connection.aclient().embed_many(
            texts, concurrency=self.concurrency, **options
        )
        return vectors.tolist()

    async def aembed_query(self, text: str) -> list[float]:
        options = self._options(await self._acollection(), "query")
        return (await self.connection.aclient().embed([text], **options))[0].tolist()


def _document(hit_or_stored: Hit | StoredDocument) -> Document:
    if isinstance(hit_or_stored, Hit):
        return Document(id=hit_or_stored.document_id, page_content=hit_or_stored.chunk.text,
                        metadata=plain_metadata(hit_or_stored.metadata))
    stored = hit_or_stored.document
    return Document(id=stored.id, page_content=stored.text,
                    metadata=plain_metadata(stored.metadata))


def _inputs(texts: Iterable[str], metadatas: list[dict] | None,
            ids: Sequence[str | None] | None) -> list[DocumentInput]:
    texts = list(texts)
    metadatas = metadatas or [{} for _ in texts]
    ids = list(ids) if ids is not None else [None] * len(texts)
    if not len(texts) == len(metadatas) == len(ids):
        raise ValueError(f"{len(texts)} texts, {len(metadatas)} metadatas and {len(ids)} ids; "
                         "give one of each per text")
    return [
        DocumentInput(document_id or str(uuid.uuid4()), text, metadata=dict(metadata or {}))
        for text, metadata, document_id in zip(texts, metadatas, ids, strict=True)
    ]


class EmbedsvcVectorStore(VectorStore):
    """A collection as a LangChain vector store. ``filter`` takes equality conditions on
    metadata keys (``{"topic": "pets"}``, ``{"$and": [...]}``, ``{"k": {"$eq": v}}``).

    ``embedding`` may only be an `EmbedsvcEmbeddings` (the server embeds documents with the
    collection's model); by default it is one for this collection. ``create_options`` (model,
    dimensions, metric, chunking, ...) apply when the collection is created on first write.
    """

    def __init__(
        self, target: str | None = None, collection: str = "langchain",
        embedding: Embeddings | None = None, api_key: str | None = None,
        timeout: float = 60.0, **create_options: Any,
    ) -> None:
        if embedding is not None and not isinstance(embedding, EmbedsvcEmbeddings):
            raise ValueError(
                "the server embeds documents with the collection's model; pass embedding=None "
                "or an EmbedsvcEmbeddings"
            )
        self.connection = Connection(target, api_key, timeout)
        self.collection = collection
        self.create_options = {"chunking": "none", **create_options}
        self._embedding = embedding or EmbedsvcEmbeddings(
            self.connection.target, collection, self.connection.api_key, timeout=timeout
        )

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Embeddings | None = None,
        metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs: Any,
    ) -> EmbedsvcVectorStore:
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    # -- writes --------------------------------------------------------------------------

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
        ids: list[str | None] | None = None, **kwargs: Any,
    ) -> list[str]:
        documents = _inputs(texts, metadatas, ids)
        if not documents:
            return []
        client = self.connection.client()
        ensure_collection(client, self.collection, **self.create_options)
        return [result.id for result in client.upsert_many(self.collection, documents)]

    async def aadd_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
        ids: list[str | None] | None = None, **kwargs: Any,
    ) -> list[str]:
        documents = _inputs(texts, metadatas, ids)
        if not documents:
            return []
        client = self.connection.aclient()
        await aensure_collection(client, self.collection, **self.create_options)
        return [result.id for result in await client.upsert_many(self.collection, documents)]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete these documents (unknown ids are fine); no ids deletes the collection."""
        client = self.connection.client()
        try:
            if ids is None:
                client.delete_collection(self.collection)
            elif ids:
                client.delete_documents(self.collection, ids)
        except NotFound:
            pass  # nothing was written yet: nothing to delete
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        client = self.connection.aclient()
        try:
            if ids is None:
                await client.delete_collection(self.collection)
            elif ids:
                await client.delete_documents(self.collection, ids)
        except NotFound:
            pass
        return True

    # -- reads ---------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        client = self.connection.client()
        found = []
        for document_id in ids:
            try:
                found.append(_document(client.get_document(self.collection, document_id)))
            except NotFound:
                continue
        return found

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        client = self.connection.aclient()
        found = []
        for document_id in ids:
            try:
                found.append(_document(await client.get_document(self.collection, document_id)))
            except NotFound:
                continue
        return found

    def similarity_search(self, query: str, k: int = 4, filter: dict | None = None,
                          **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, filter: dict | None = None,
                                 **kwargs: Any) -> list[Document]:
        found = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [doc for doc, _ in found]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with their cosine similarity (or the collection metric's score)."""
        conditions = conditions_of_filter(filter)
        client = self.connection.client()
        try:
            hits = client.search(self.collection, query, k=k, where=conditions)
        except NotFound:
            return []  # the collection is created on first write
        return [(_document(hit), float(hit.score)) for hit in hits]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        conditions = conditions_of_filter(filter)
        client = self.connection.aclient()
        try:
            hits = await client.search(self.collection, query, k=k, where=conditions)
        except NotFound:
            return []
        return [(_document(hit), float(hit.score)) for hit in hits]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4,
                                    filter: dict | None = None, **kwargs: Any) -> list[Document]:
        found = self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [doc for doc, _ in found]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[Document]:
        found = await self.asimilarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [doc for doc, _ in found]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Nearest documents to a vector embedded as this collection embeds queries (e.g. by
        `EmbedsvcEmbeddings`), with their similarity."""
        conditions = conditions_of_filter(filter)
        try:
            hits = self.connection.client().search(
                self.collection, "", k=k, where=conditions, query_vector=embedding
            )
        except NotFound:
            return []
        return [(_document(hit), float(hit.score)) for hit in hits]

    async def asimilarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        conditions = conditions_of_filter(filter)
        try:
            hits = await self.connection.aclient().search(
                self.collection, "", k=k, where=conditions, query_vector=embedding
            )
        except NotFound:
            return []
        return [(_document(hit), float(hit.score)) for hit in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Cosine similarity in [-1, 1] as a relevance in [0, 1]."""
        return lambda score: (score + 1.0) / 2.0
