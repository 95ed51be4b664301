"""Python client for the embedsvc gRPC API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from embedsvc.v1 import (
    chunking_pb2,
    chunking_pb2_grpc,
    embedding_pb2,
    embedding_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
    types_pb2,
)

METRICS = {"cosine": index_pb2.METRIC_COSINE, "l2": index_pb2.METRIC_L2}
LEVELS = {"chunk": search_pb2.LEVEL_CHUNK, "document": search_pb2.LEVEL_DOCUMENT}


def _profile(overrides: dict[str, Any] | None) -> types_pb2.EncoderProfile:
    """An EncoderProfile message from a dict such as {"layers": 3, "precision": "fp32"}."""
    return types_pb2.EncoderProfile(**(overrides or {}))


def _struct(data: dict[str, Any] | None) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data or {})
    return struct


class Client:
    """Blocking client; every method raises grpc.RpcError with the server's status and message.

    >>> with Client("127.0.0.1:50051") as client:
    ...     client.create_collection("docs")
    ...     client.upsert("docs", [{"id": "a", "text": "hello", "metadata": {"lang": "en"}}])
    ...     client.search("docs", "greeting", k=3)
    """

    def __init__(
        self, target: str = "127.0.0.1:50051", api_key: str = "", timeout: float = 60.0,
        root_certificates: bytes | None = None, max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates)
            self.channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self.embedding = embedding_pb2_grpc.EmbeddingServiceStub(self.channel)
        self.index = index_pb2_grpc.IndexServiceStub(self.channel)
        self.searching = search_pb2_grpc.SearchServiceStub(self.channel)
        self.chunking = chunking_pb2_grpc.ChunkingServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: Any, request: Any) -> Any:
        return method(request, timeout=self.timeout, metadata=self._metadata)

    # -- health and info ---------------------------------------------------------------

    def health(self, service: str = "") -> str:
        """'SERVING', 'NOT_SERVING', ...; never needs the API key."""
        response = self._health.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=self.timeout
        )
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def info(self) -> embedding_pb2.InfoResponse:
        return self._call(self.embedding.Info, embedding_pb2.InfoRequest())

    # -- embedding ---------------------------------------------------------------------

    def embed(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        on_overflow: str = "truncate", profile: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """Vectors as a float32 array; ``profile`` overrides layers, tempscale, precision."""
        response = self.embed_raw(texts, normalize, dimensions, on_overflow, profile)
        return np.array([list(e.values) for e in response.embeddings], dtype=np.float32)

    def embed_raw(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        on_overflow: str = "truncate", profile: dict[str, Any] | None = None,
    ) -> embedding_pb2.EmbedResponse:
        """The full response, with per-input token counts and truncation flags."""
        policy = {
            "truncate": embedding_pb2.OVERFLOW_POLICY_TRUNCATE,
            "error": embedding_pb2.OVERFLOW_POLICY_ERROR,
        }[on_overflow]
        request = embedding_pb2.EmbedRequest(
            texts=list(texts), normalize=normalize, on_overflow=policy, profile=_profile(profile)
        )
        if dimensions is not None:
            request.dimensions = dimensions
        return self._call(self.embedding.Embed, request)

    # -- collections -------------------------------------------------------------------

    def create_collection(
        self, name: str, model: str = "", dimensions: int = 0, metric: str = "cosine",
        max_chunk_tokens: int = 0, profile: dict[str, Any] | None = None,
    ) -> index_pb2.Collection:
        """A collection; ``profile`` fixes its layers, tempscale and precision for good."""
        return self._call(
            self.index.CreateCollection,
            index_pb2.CreateCollectionRequest(
                name=name, model=model, dimensions=dimensions, metric=METRICS[metric],
                max_chunk_tokens=max_chunk_tokens, profile=_profile(profile),
            ),
        )

    def get_collection(self, name: str) -> index_pb2.Collection:
        return self._call(self.index.GetCollection, index_pb2.GetCollectionRequest(name=name))

    def list_collections(self, page_size: int = 0) -> list[index_pb2.Collection]:
        """All collections, following pages."""
        collections, token = [], ""
        while True:
            response = self._call(
                self.index.ListCollections,
                index_pb2.ListCollectionsRequest(page_size=page_size, page_token=token),
            )
            collections.extend(response.collections)
            token = response.next_page_token
            if not token:
                return collections

    def delete_collection(self, name: str) -> None:
        self._call(self.index.DeleteCollection, index_pb2.DeleteCollectionRequest(name=name))

    # -- documents ---------------------------------------------------------------------

    def upsert(
        self, collection: str, documents: Iterable[dict[str, Any]]
    ) -> index_pb2.UpsertDocumentsResponse:
        """Documents as dicts: id, text, optional language and metadata."""
        messages = [
            types_pb2.Document(
                id=doc["id"], text=doc["text"], language=doc.get("language", ""),
                metadata=_struct(doc.get("metadata")),
            )
            for doc in documents
        ]
        return self._call(
            self.index.UpsertDocuments,
            index_pb2.UpsertDocumentsRequest(collection=collection, documents=messages),
        )

    def get_document(self, collection: str, document_id: str) -> index_pb2.GetDocumentResponse:
        return self._call(
            self.index.GetDocument,
            index_pb2.GetDocumentRequest(collection=collection, id=document_id),
        )

    def list_documents(self, collection: str, page_size: int = 0, id_prefix: str = "") -> list[str]:
        """Every document id (following pages), optionally only those under ``id_prefix``."""
        return [doc.id for doc in self.document_summaries(collection, page_size, id_prefix)]

    def document_summaries(
        self, collection: str, page_size: int = 0, id_prefix: str = ""
    ) -> list[index_pb2.DocumentSummary]:
        """(id, content_hash, chunk_count) of every document: enough to tell what changed."""
        summaries, token = [], ""
        while True:
            response = self._call(
                self.index.ListDocuments,
                index_pb2.ListDocumentsRequest(
                    collection=collection, page_size=page_size, page_token=token,
                    id_prefix=id_prefix,
                ),
            )
            summaries.extend(response.documents)
            token = response.next_page_token
            if not token:
                return summaries

    def delete_documents(
        self, collection: str, ids: Sequence[str]
    ) -> index_pb2.DeleteDocumentsResponse:
        return self._call(
            self.index.DeleteDocuments,
            index_pb2.DeleteDocumentsRequest(collection=collection, ids=list(ids)),
        )

    # -- chunking ----------------------------------------------------------------------

    def chunk(
        self, text: str, language: str = "", path: str = "", max_tokens: int = 0,
        overlap_sentences: int = 0,
    ) -> chunking_pb2.ChunkResponse:
        """How the server would chunk ``text`` (nothing is stored)."""
        return self._call(
            self.chunking.Chunk,
            chunking_pb2.ChunkRequest(
                text=text, language=language, path=path, max_tokens=max_tokens,
                overlap_sentences=overlap_sentences,
            ),
        )

    # -- search ------------------------------------------------------------------------

    def search(
        self, collection: str, query: str, k: int = 10, where: dict[str, Any] | None = None,
        level: str = "chunk", query_profile: dict[str, Any] | None = None,
    ) -> list[search_pb2.Hit]:
        """Top-k chunks (or documents, with level="document"); ``where`` holds metadata
        equalities that must all hold; ``query_profile`` may trade layers, tempscale or
        precision for speed (never the width)."""
        conditions = []
        for key, value in (where or {}).items():
            condition = types_pb2.Condition(key=key)
            json_format.ParseDict(value, condition.equals)
            conditions.append(condition)
        request = search_pb2.SearchRequest(
            collection=collection, query=query, k=k,
            filter=types_pb2.Filter(conditions=conditions), level=LEVELS[level],
            query_profile=_profile(query_profile),
        )
        return list(self._call(self.searching.Search, request).hits)
