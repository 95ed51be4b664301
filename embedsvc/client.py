"""Python client for the embedsvc gRPC API: the same methods and types as the in-process
`embedsvc.core.Core`, so code written against one runs against the other."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc
import numpy as np
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from embedsvc import convert
from embedsvc.errors import EmbedsvcError, error_class
from embedsvc.linking import wire
from embedsvc.linking.concepts import KnowledgeBaseInfo, Linked, Mention, mention_of
from embedsvc.paging import all_pages
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
    UpsertResult,
    Where,
    conditions_of,
)
from embedsvc.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    chunking_pb2,
    chunking_pb2_grpc,
    embedding_pb2,
    embedding_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    linking_pb2,
    linking_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

_REMOTE_ERRORS: dict[type[EmbedsvcError], type] = {}


def retry_options(attempts: int) -> list[tuple[str, Any]]:
    """gRPC's own retries (exponential backoff with jitter, within the call's deadline) of
    UNAVAILABLE and RESOURCE_EXHAUSTED, up to ``attempts`` tries (gRPC caps it at 5)."""
    if attempts <= 1:
        return [("grpc.enable_retries", 0)]
    policy = {
        "maxAttempts": min(attempts, 5), "initialBackoff": "0.2s", "maxBackoff": "5s",
        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
    }
    config = {"methodConfig": [{"name": [{}], "retryPolicy": policy}]}
    return [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config))]


def remote_error(error: grpc.RpcError) -> Exception:
    """The server's refusal as the same error class the core raises (``NotFound``, ...), that
    is also a ``grpc.RpcError`` with ``code()`` and ``details()``. ``field_violations`` holds
    the (field, description) pairs of a google.rpc.BadRequest, and ``field`` the first field."""
    code, details = error.code(), error.details() or ""
    base = error_class(code.name)
    remote = _REMOTE_ERRORS.get(base)
    if remote is None:
        remote = _REMOTE_ERRORS[base] = type(
            f"Remote{base.__name__}", (base, grpc.RpcError),
            {"code": lambda self: self._code, "details": lambda self: self._details},
        )
    raised = remote(details)
    raised._code, raised._details = code, details
    raised.field_violations = _field_violations(error)
    raised.field = raised.field_violations[0][0] if raised.field_violations else ""
    return raised


def _field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    try:
        status = rpc_status.from_call(error)
    except (AttributeError, ValueError):  # not a call with trailers, or inconsistent ones
        return []
    violations = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            violations.extend((v.field, v.description) for v in request.field_violations)
    return violations


def _document(document: DocumentInput | Mapping[str, Any]) -> DocumentInput:
    if isinstance(document, DocumentInput):
        return document
    return DocumentInput(
        document["id"], document["text"], document.get("language", ""),
        dict(document.get("metadata") or {}),
    )


class Client:
    """Blocking client. A refusal raises the core's error class for its status (``NotFound``,
    ``InvalidArgument``, ...), which is also a ``grpc.RpcError`` with ``code()``/``details()``.

    >>> with Client("127.0.0.1:50051") as client:
    ...     client.create_collection("docs")
    ...     client.upsert("docs", [{"id": "a", "text": "hello", "metadata": {"lang": "en"}}])
    ...     client.search("docs", "greeting", k=3)
    """

    def __init__(
        self, target: str = "127.0.0.1:50051", api_key: str = "", timeout: float = 60.0,
        root_certificates: bytes | None = None, max_message_bytes: int = 64 * 1024 * 1024,
        attempts: int = 5,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            *retry_options(attempts),
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
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.linking = linking_pb2_grpc.EntityLinkingServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise remote_error(error) from None

    # -- health and info ---------------------------------------------------------------

    def health(self, service: str = "") -> str:
        """'SERVING', 'NOT_SERVING', ...; never needs the API key."""
        try:
            response = self._health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=self.timeout
            )
        except grpc.RpcError as error:
            raise remote_error(error) from None
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_until_serving(
        self, timeout: float = 120.0, alive: Callable[[], bool] | None = None
    ) -> None:
        """Poll health until SERVING; ``alive`` (e.g. a server process check) fails fast."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise RuntimeError("the server exited before it was serving")
            try:
                if self.health() == "SERVING":
                    return
            except grpc.RpcError:
                pass  # not listening yet
            time.sleep(0.2)
        raise TimeoutError(f"server not SERVING after {timeout}s")

    def info(self, model: str = "") -> ServerInfo:
        return convert.info_in(self._call(self.embedding.Info, embedding_pb2.InfoRequest(
            model=model
        )))

    # -- embedding and chunking --------------------------------------------------------

    def embed(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        on_overflow: str = "truncate", profile: ProfileOverrides | None = None,
        model: str = "", prompt: str = "",
    ) -> np.ndarray:
        """Vectors as a float32 array; ``profile`` overrides layers, tempscale, precision."""
        return self.embed_full(texts, normalize, dimensions, on_overflow, profile, model,
                               prompt).vectors

    def embed_full(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        on_overflow: str = "truncate", profile: ProfileOverrides | None = None,
        model: str = "", prompt: str = "",
    ) -> Embedded:
        """Vectors with per-input token counts and truncation flags."""
        request = embedding_pb2.EmbedRequest(
            texts=list(texts), normalize=normalize, on_overflow=convert.OVERFLOW_ENUMS[on_overflow],
            profile=convert.overrides_out(profile), model=model, prompt=prompt,
        )
        if dimensions is not None:
            request.dimensions = dimensions
        return convert.embedded_in(self._call(self.embedding.Embed, request))

    def chunk(
        self, text: str, language: str = "", path: str = "", max_tokens: int = 0,
        overlap_sentences: int = 0, model: str = "",
    ) -> ChunkResult:
        """How the server would chunk ``text`` (nothing is stored)."""
        return convert.chunked_in(self._call(
            self.chunking.Chunk,
            chunking_pb2.ChunkRequest(
                text=text, language=language, path=path, max_tokens=max_tokens,
                overlap_sentences=overlap_sentences, model=model,
            ),
        ))

    # -- collections -------------------------------------------------------------------

    def create_collection(
        self, name: str, model: str = "", dimensions: int = 0, metric: str = "cosine",
        max_chunk_tokens: int = 0, profile: ProfileOverrides | None = None,
        chunking: str = "auto", query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> CollectionInfo:
        """A collection; ``profile`` fixes its layers, tempscale and precision for good."""
        request = index_pb2.CreateCollectionRequest(
            name=name, model=model, dimensions=dimensions, metric=convert.METRIC_ENUMS[metric],
            max_chunk_tokens=max_chunk_tokens, profile=convert.overrides_out(profile),
            chunking=chunking,
        )
        if query_prompt is not None:
            request.query_prompt = query_prompt
        if document_prompt is not None:
            request.document_prompt = document_prompt
        return convert.collection_in(self._call(self.index.CreateCollection, request))

    def get_collection(self, name: str) -> CollectionInfo:
        return convert.collection_in(
            self._call(self.index.GetCollection, index_pb2.GetCollectionRequest(name=name))
        )

    def list_collections(self, page_size: int = 0, page_token: str = "") -> Page[CollectionInfo]:
        response = self._call(
            self.index.ListCollections,
            index_pb2.ListCollectionsRequest(page_size=page_size, page_token=page_token),
        )
        return Page([convert.collection_in(c) for c in response.collections],
                    response.next_page_token)

    def all_collections(self) -> list[CollectionInfo]:
        return all_pages(lambda token: self.list_collections(0, token))

    def delete_collection(self, name: str) -> None:
        self._call(self.index.DeleteCollection, index_pb2.DeleteCollectionRequest(name=name))

    # -- documents ---------------------------------------------------------------------

    def upsert(
        self, collection: str, documents: Sequence[DocumentInput | Mapping[str, Any]]
    ) -> list[UpsertResult]:
        """Documents as `DocumentInput` or dicts: id, text, optional language and metadata."""
        request = index_pb2.UpsertDocumentsRequest(
            collection=collection,
            documents=[convert.document_out(_document(d)) for d in documents],
        )
        response = self._call(self.index.UpsertDocuments, request)
        return [convert.result_in(r) for r in response.results]

    def upsert_prepared(
        self, collection: str, documents: Sequence[PreparedDocument], model_fingerprint: str
    ) -> list[UpsertResult]:
        """Commit documents chunked and embedded elsewhere (`services.documents.prepare`)."""
        request = index_pb2.UpsertDocumentsRequest(
            collection=collection, prepared=[convert.prepared_out(p) for p in documents],
            model_fingerprint=model_fingerprint,
        )
        response = self._call(self.index.UpsertDocuments, request)
        return [convert.result_in(r) for r in response.results]

    def get_document(self, collection: str, document_id: str) -> StoredDocument:
        return convert.stored_document_in(self._call(
            self.index.GetDocument,
            index_pb2.GetDocumentRequest(collection=collection, id=document_id),
        ))

    def list_documents(
        self, collection: str, page_size: int = 0, page_token: str = "", id_prefix: str = ""
    ) -> Page[DocumentSummary]:
        response = self._call(
            self.index.ListDocuments,
            index_pb2.ListDocumentsRequest(
                collection=collection, page_size=page_size, page_token=page_token,
                id_prefix=id_prefix,
            ),
        )
        return Page([convert.summary_in(d) for d in response.documents],
                    response.next_page_token)

    def document_summaries(
        self, collection: str, id_prefix: str = "", page_size: int = 0
    ) -> list[DocumentSummary]:
        """(id, content_hash, chunk_count) of every document: enough to tell what changed."""
        return all_pages(
            lambda token: self.list_documents(collection, page_size, token, id_prefix)
        )

    def delete_documents(self, collection: str, ids: Sequence[str]) -> DeleteResult:
        return convert.deleted_in(self._call(
            self.index.DeleteDocuments,
            index_pb2.DeleteDocumentsRequest(collection=collection, ids=list(ids)),
        ))

    # -- operations --------------------------------------------------------------------

    def backup(self, directory: str) -> Backup:
        """A consistent snapshot of the server's store, written to ``directory`` on the
        server's machine (absolute, new or empty)."""
        return convert.backup_in(self._call(
            self.admin.Backup, admin_pb2.BackupRequest(directory=directory)
        ))

    # -- search ------------------------------------------------------------------------

    def search(
        self, collection: str, query: str, k: int = 10, where: Where = None,
        level: str = "chunk", query_profile: ProfileOverrides | None = None,
    ) -> list[Hit]:
        """Top-k chunks (or documents, with level="document"); ``where`` holds metadata
        equalities that must all hold; ``query_profile`` may trade layers, tempscale or
        precision for speed (never the width)."""
        request = search_pb2.SearchRequest(
            collection=collection, query=query, k=k,
            filter=convert.conditions_out(conditions_of(where)),
            level=convert.LEVEL_ENUMS[level], query_profile=convert.overrides_out(query_profile),
        )
        return [convert.hit_in(hit) for hit in self._call(self.searching.Search, request).hits]

    # -- entity linking ----------------------------------------------------------------

    def load_knowledge_base(
        self, kb: str, content: str, source_format: str = "", model: str = "",
        filename: str = "", timeout: float = 3600.0,
    ) -> KnowledgeBaseInfo:
        """Load a terminology (its file's text) as a new version of ``kb``; every alias is
        embedded, so this waits up to ``timeout`` seconds, not the client's default."""
        request = linking_pb2.LoadKnowledgeBaseRequest(
            kb=kb, content=content, format=source_format, model=model, filename=filename
        )
        return wire.kb_in(self._call(self.linking.LoadKnowledgeBase, request, timeout))

    def knowledge_bases(self) -> list[KnowledgeBaseInfo]:
        response = self._call(
            self.linking.ListKnowledgeBases, linking_pb2.ListKnowledgeBasesRequest()
        )
        return [wire.kb_in(info) for info in response.knowledge_bases]

    def link_entities(
        self, kb: str, mentions: Sequence[Mention | str | dict], k: int = 10,
        threshold: float = 0.0, generators: Sequence[str] = (),
        expand_abbreviations: bool = True, rerank: bool = False,
    ) -> list[Linked]:
        request = linking_pb2.LinkEntitiesRequest(
            kb=kb, mentions=[wire.mention_out(mention_of(m)) for m in mentions], k=k,
            threshold=threshold, generators=list(generators),
            no_abbreviation_expansion=not expand_abbreviations, rerank=rerank,
        )
        response = self._call(self.linking.LinkEntities, request)
        return [wire.linked_in(result, response.kb_version) for result in response.results]
