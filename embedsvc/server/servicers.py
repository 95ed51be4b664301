"""gRPC servicers: a thin mapping between protobuf messages and the core."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from embedsvc import __version__
from embedsvc.chunking import resolve_language
from embedsvc.core import Core
from embedsvc.errors import EmbedsvcError, InvalidArgument
from embedsvc.server import convert
from embedsvc.v1 import (
    chunking_pb2,
    chunking_pb2_grpc,
    embedding_pb2,
    embedding_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

log = logging.getLogger(__name__)
LEVELS = {
    search_pb2.LEVEL_UNSPECIFIED: "chunk",
    search_pb2.LEVEL_CHUNK: "chunk",
    search_pb2.LEVEL_DOCUMENT: "document",
}
Handler = TypeVar("Handler", bound=Callable[..., Any])


def _deadline(context: grpc.ServicerContext) -> float | None:
    """The client's deadline on the monotonic clock, or None without one."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def rpc(method: Handler) -> Handler:
    """Turn core errors into their status code; anything unexpected becomes INTERNAL, logged."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except EmbedsvcError as error:
            context.abort(getattr(grpc.StatusCode, error.status), str(error))
        except Exception:
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__} failed; see server log")

    return wrapper  # type: ignore[return-value]


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Embed(self, request, context):  # noqa: N802 - gRPC signature
        info = self.core.encoder.info
        result = self.core.embed(
            list(request.texts),
            normalize=request.normalize if request.HasField("normalize") else True,
            dimensions=request.dimensions or None,
            allow_truncation=request.on_overflow != embedding_pb2.OVERFLOW_POLICY_ERROR,
            profile=convert.profile_overrides(request.profile),
            is_active=context.is_active, deadline=_deadline(context),
        )
        return embedding_pb2.EmbedResponse(
            embeddings=[
                embedding_pb2.Embedding(values=vector, token_count=count, truncated=cut)
                for vector, count, cut in zip(
                    result.vectors.tolist(), result.token_counts, result.truncated, strict=True
                )
            ],
            model=info.name,
            dimensions=result.vectors.shape[1],
        )

    @rpc
    def Info(self, request, context):  # noqa: N802
        info, settings = self.core.encoder.info, self.core.settings
        return embedding_pb2.InfoResponse(
            model=info.name, model_fingerprint=info.fingerprint, max_tokens=info.max_tokens,
            dimensions=info.dimensions, layers=info.layers, version=__version__,
            default_profile=convert.profile_out(info.default_profile),
            limits=embedding_pb2.Limits(
                max_batch_texts=settings.max_batch_texts,
                max_text_chars=settings.max_text_chars,
                max_documents_per_upsert=settings.max_documents_per_upsert,
                max_k=settings.max_k,
                max_request_bytes=settings.max_request_bytes,
            ),
        )


class IndexServicer(index_pb2_grpc.IndexServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def CreateCollection(self, request, context):  # noqa: N802
        if request.metric not in convert.METRIC_NAMES:
            raise InvalidArgument(f"unknown metric {request.metric}; use COSINE or L2")
        info = self.core.create_collection(
            request.name, request.model, request.dimensions,
            convert.METRIC_NAMES[request.metric], request.max_chunk_tokens,
            convert.profile_overrides(request.profile),
        )
        return convert.collection_out(info)

    @rpc
    def GetCollection(self, request, context):  # noqa: N802
        return convert.collection_out(self.core.get_collection(request.name))

    @rpc
    def ListCollections(self, request, context):  # noqa: N802
        page, token = self.core.list_collections(request.page_size, request.page_token)
        return index_pb2.ListCollectionsResponse(
            collections=[convert.collection_out(info) for info in page], next_page_token=token
        )

    @rpc
    def DeleteCollection(self, request, context):  # noqa: N802
        self.core.delete_collection(request.name)
        return index_pb2.DeleteCollectionResponse()

    @rpc
    def UpsertDocuments(self, request, context):  # noqa: N802
        documents = [convert.document_in(document) for document in request.documents]
        results = self.core.upsert(request.collection, documents)
        return index_pb2.UpsertDocumentsResponse(
            results=[
                index_pb2.DocumentResult(
                    id=r.id, created=r.created, chunks=r.chunks, chunks_embedded=r.embedded,
                    chunks_reused=r.reused, chunks_deleted=r.deleted,
                    tokens_embedded=r.tokens_embedded,
                )
                for r in results
            ]
        )

    @rpc
    def GetDocument(self, request, context):  # noqa: N802
        stored = self.core.get_document(request.collection, request.id)
        return index_pb2.GetDocumentResponse(
            document=convert.document_out(stored.document),
            chunks=[convert.chunk_out(*chunk) for chunk in stored.chunks],
            content_hash=stored.content_hash,
        )

    @rpc
    def ListDocuments(self, request, context):  # noqa: N802
        page, token = self.core.list_documents(
            request.collection, request.page_size, request.page_token, request.id_prefix
        )
        return index_pb2.ListDocumentsResponse(
            ids=[doc.id for doc in page],
            documents=[
                index_pb2.DocumentSummary(
                    id=doc.id, content_hash=doc.content_hash, chunk_count=doc.chunk_count
                )
                for doc in page
            ],
            next_page_token=token,
        )

    @rpc
    def DeleteDocuments(self, request, context):  # noqa: N802
        requested = list(request.ids)
        deleted, chunks = self.core.delete_documents(request.collection, requested)
        gone = set(deleted)
        return index_pb2.DeleteDocumentsResponse(
            deleted=deleted, not_found=[i for i in requested if i not in gone],
            chunks_deleted=chunks,
        )


class ChunkingServicer(chunking_pb2_grpc.ChunkingServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Chunk(self, request, context):  # noqa: N802
        chunks = self.core.chunk(
            request.text, request.language, request.path, request.max_tokens,
            request.overlap_sentences,
        )
        language = resolve_language(request.language or None, request.path or None) or ""
        return chunking_pb2.ChunkResponse(
            chunks=[convert.chunk_out(0, chunk.content_hash, chunk) for chunk in chunks],
            language=language,
        )


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Search(self, request, context):  # noqa: N802
        if request.level not in LEVELS:
            raise InvalidArgument(f"unknown level {request.level}; use CHUNK or DOCUMENT")
        hits = self.core.search(
            request.collection, request.query, request.k or 10,
            convert.conditions_in(request.filter), LEVELS[request.level],
            convert.profile_overrides(request.query_profile),
            is_active=context.is_active, deadline=_deadline(context),
        )
        return search_pb2.SearchResponse(
            hits=[
                search_pb2.Hit(
                    document_id=hit.document_id, score=hit.score,
                    chunk=convert.chunk_out(hit.chunk_id, hit.content_hash, hit.chunk),
                    metadata=convert.dict_to_struct(hit.metadata),
                    evidence=[convert.chunk_out(*chunk) for chunk in hit.evidence],
                )
                for hit in hits
            ]
        )
