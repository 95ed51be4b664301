"""Python clients for the embedsvc gRPC API: the same methods and types as the in-process
`embedsvc.core.Core`, so code written against one runs against the other.

`Client` blocks; `AsyncClient` (grpc.aio) has the same methods as coroutines. Both inherit every
request and response conversion from `_Api`, which only leaves them how a call is awaited.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from embedsvc import batches, convert
from embedsvc.errors import EmbedsvcError, InvalidArgument, error_class
from embedsvc.linking import wire
from embedsvc.linking.concepts import KnowledgeBaseInfo, Linked, Mention, mention_of
from embedsvc.paging import all_pages
from embedsvc.titles import convert as titles_convert
from embedsvc.titles.types import CatalogEntry, CatalogInfo, CatalogLoad, Normalized, TitleQuery
from embedsvc.types import (
    LEVELS,
    MODES,
    Backup,
    ChunkResult,
    CollectionInfo,
    DeleteResult,
    DocumentInput,
    DocumentSummary,
    Embedded,
    Hit,
    Limits,
    Page,
    PreparedDocument,
    ProfileOverrides,
    ServerInfo,
    StoredDocument,
    Token,
    UpsertResult,
    Where,
    choice,
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
    titles_pb2,
    titles_pb2_grpc,
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
    raised = _remote_class(error_class(code.name))(details)
    raised._code, raised._details = code, details
    raised.field_violations = _field_violations(error)
    raised.field = raised.field_violations[0][0] if raised.field_violations else ""
    return raised


def refused_here(error: InvalidArgument) -> Exception:
    """A request that cannot even be put on the wire (a filter operator that does not exist),
    raised as the server would refuse it: the same class, code and field."""
    message = str(error)
    raised = _remote_class(InvalidArgument)(message)
    raised._code, raised._details = grpc.StatusCode.INVALID_ARGUMENT, message
    raised.field = error.field
    raised.field_violations = [(error.field, message)] if error.field else []
    return raised


def _remote_class(base: type[EmbedsvcError]) -> type:
    remote = _REMOTE_ERRORS.get(base)
    if remote is None:
        remote = _REMOTE_ERRORS[base] = type(
            f"Remote{base.__name__}", (base, grpc.RpcError),
            {"code": lambda self: self._code, "details": lambda self: self._details},
        )
    return remote


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


def _same(response: Any) -> Any:
    return response


def channel_options(max_message_bytes: int, attempts: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        *retry_options(attempts),
    ]


class _Api:
    """Every RPC as a method: the request built from Python values, the response converted to
    `embedsvc.types`. ``_call`` is the one thing a subclass supplies: it returns the converted
    response (`Client`) or a coroutine of it (`AsyncClient`)."""

    _grpc: Any = grpc  # the module whose channels this client uses: grpc or grpc.aio

    def __init__(
        self, target: str = "127.0.0.1:50051", api_key: str = "", timeout: float = 60.0,
        root_certificates: bytes | None = None, max_message_bytes: int = 64 * 1024 * 1024,
        attempts: int = 5,
    ) -> None:
        options = channel_options(max_message_bytes, attempts)
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates)
            channel = self._grpc.secure_channel(target, credentials, options=options)
        else:
            channel = self._grpc.insecure_channel(target, options=options)
        self.channel = channel
        self.timeout = timeout
        self._limits: Limits | None = None
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self.embedding = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        self.index = index_pb2_grpc.IndexServiceStub(channel)
        self.searching = search_pb2_grpc.SearchServiceStub(channel)
        self.chunking = chunking_pb2_grpc.ChunkingServiceStub(channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(channel)
        self.titles = titles_pb2_grpc.TitleNormalizationServiceStub(channel)
        self.linking = linking_pb2_grpc.EntityLinkingServiceStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)

    def _call(self, method: Any, request: Any, parse: Callable[[Any], Any] = _same,
              authorized: bool = True, timeout: float | None = None) -> Any:
        """``timeout`` replaces the client's for calls known to take long (a catalog load)."""
        raise NotImplementedError

    # -- health and info ---------------------------------------------------------------

    def health(self, service: str = "") -> str:
        """'SERVING', 'NOT_SERVING', ...; never needs the API key."""
        return self._call(
            self._health.Check, health_pb2.HealthCheckRequest(service=service),
            lambda r: health_pb2.HealthCheckResponse.ServingStatus.Name(r.status),
            authorized=False,
        )

    def info(self, model: str = "") -> ServerInfo:
        return self._call(self.embedding.Info, embedding_pb2.InfoRequest(model=model),
                          convert.info_in)

    # -- embedding and chunking --------------------------------------------------------

    def embed(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        on_overflow: str = "truncate", profile: ProfileOverrides | None = None,
        model: str = "", prompt: str = "",
    ) -> np.ndarray:
        """Vectors as a float32 array; ``profile`` overrides layers, tempscale, precision."""
        request = embed_request(texts, normalize, dimensions, on_overflow, profile, model, prompt)
        return self._call(self.embedding.Embed, request, lambda r: convert.embedded_in(r).vectors)

    def embed_full(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        on_overflow: str = "truncate", profile: ProfileOverrides | None = None,
        model: str = "", prompt: str = "",
    ) -> Embedded:
        """Vectors with per-input token counts and truncation flags."""
        request = embed_request(texts, normalize, dimensions, on_overflow, profile, model, prompt)
        return self._call(self.embedding.Embed, request, convert.embedded_in)

    def tokenize(
        self, texts: Sequence[str], model: str = "", collection: str = "",
        add_special_tokens: bool = True,
    ) -> list[list[Token]]:
        """Each text's tokens (id, text, special flag, char span) with the model's tokenizer,
        or with the tokenizer of ``collection``'s model."""
        request = embedding_pb2.TokenizeRequest(
            texts=list(texts), model=model, collection=collection,
            add_special_tokens=add_special_tokens,
        )
        return self._call(self.embedding.Tokenize, request, convert.tokenized_in)

    def chunk(
        self, text: str, language: str = "", path: str = "", max_tokens: int = 0,
        overlap_sentences: int = 0, model: str = "",
    ) -> ChunkResult:
        """How the server would chunk ``text`` (nothing is stored)."""
        request = chunking_pb2.ChunkRequest(
            text=text, language=language, path=path, max_tokens=max_tokens,
            overlap_sentences=overlap_sentences, model=model,
        )
        return self._call(self.chunking.Chunk, request, convert.chunked_in)

    # -- collections -------------------------------------------------------------------

    def create_collection(
        self, name: str, model: str = "", dimensions: int = 0, metric: str = "cosine",
        max_chunk_tokens: int = 0, profile: ProfileOverrides | None = None,
        chunking: str = "auto", query_prompt: str | None = None,
        document_prompt: str | None = None, index: str = "",
        index_params: Mapping[str, int] | None = None,
    ) -> CollectionInfo:
        """A collection; ``profile`` fixes its layers, tempscale and precision for good, and
        ``index`` (flat, hnsw, ivf; '' = the server's default) how its vectors are searched."""
        request = index_pb2.CreateCollectionRequest(
            name=name, model=model, dimensions=dimensions, metric=convert.METRIC_ENUMS[metric],
            max_chunk_tokens=max_chunk_tokens, profile=convert.overrides_out(profile),
            chunking=chunking, index=index, index_params=dict(index_params or {}),
        )
        if query_prompt is not None:
            request.query_prompt = query_prompt
        if document_prompt is not None:
            request.document_prompt = document_prompt
        return self._call(self.index.CreateCollection, request, convert.collection_in)

    def get_collection(self, name: str) -> CollectionInfo:
        return self._call(self.index.GetCollection, index_pb2.GetCollectionRequest(name=name),
                          convert.collection_in)

    def list_collections(self, page_size: int = 0, page_token: str = "") -> Page[CollectionInfo]:
        return self._call(
            self.index.ListCollections,
            index_pb2.ListCollectionsRequest(page_size=page_size, page_token=page_token),
            lambda r: Page([convert.collection_in(c) for c in r.collections], r.next_page_token),
        )

    def delete_collection(self, name: str) -> None:
        return self._call(self.index.DeleteCollection,
                          index_pb2.DeleteCollectionRequest(name=name), lambda _: None)

    # -- documents ---------------------------------------------------------------------

    def upsert(
        self, collection: str, documents: Sequence[DocumentInput | Mapping[str, Any]]
    ) -> list[UpsertResult]:
        """Documents as `DocumentInput` or dicts: id, text, optional language and metadata."""
        request = index_pb2.UpsertDocumentsRequest(
            collection=collection,
            documents=[convert.document_out(_document(d)) for d in documents],
        )
        return self._call(self.index.UpsertDocuments, request, _results)

    def upsert_prepared(
        self, collection: str, documents: Sequence[PreparedDocument], model_fingerprint: str
    ) -> list[UpsertResult]:
        """Commit documents chunked and embedded elsewhere (`services.documents.prepare`)."""
        request = index_pb2.UpsertDocumentsRequest(
            collection=collection, prepared=[convert.prepared_out(p) for p in documents],
            model_fingerprint=model_fingerprint,
        )
        return self._call(self.index.UpsertDocuments, request, _results)

    def get_document(self, collection: str, document_id: str) -> StoredDocument:
        return self._call(
            self.index.GetDocument,
            index_pb2.GetDocumentRequest(collection=collection, id=document_id),
            convert.stored_document_in,
        )

    def list_documents(
        self, collection: str, page_size: int = 0, page_token: str = "", id_prefix: str = ""
    ) -> Page[DocumentSummary]:
        request = index_pb2.ListDocumentsRequest(
            collection=collection, page_size=page_size, page_token=page_token,
            id_prefix=id_prefix,
        )
        return self._call(
            self.index.ListDocuments, request,
            lambda r: Page([convert.summary_in(d) for d in r.documents], r.next_page_token),
        )

    def delete_documents(self, collection: str, ids: Sequence[str]) -> DeleteResult:
        return self._call(
            self.index.DeleteDocuments,
            index_pb2.DeleteDocumentsRequest(collection=collection, ids=list(ids)),
            convert.deleted_in,
        )

    # -- operations --------------------------------------------------------------------

    def backup(self, directory: str) -> Backup:
        """A consistent snapshot of the server's store, written to ``directory`` on the
        server's machine (absolute, new or empty)."""
        return self._call(self.admin.Backup, admin_pb2.BackupRequest(directory=directory),
                          convert.backup_in)

    # -- search ------------------------------------------------------------------------

    def search(
        self, collection: str, query: str, k: int = 10, where: Where = None,
        level: str = "chunk", query_profile: ProfileOverrides | None = None, mode: str = "",
        funnel_dims: int = 0, query_vector: Sequence[float] | np.ndarray | None = None,
    ) -> list[Hit]:
        """Top-k chunks (or documents, with level="document"); ``where`` holds metadata
        conditions that must all hold (see `embedsvc.filters`); ``mode`` is dense, lexical or
        hybrid ("" = the server's default); ``funnel_dims`` > 0 shortlists by that many leading
        dims and re-scores at full width; ``query_profile`` may trade layers, tempscale or
        precision for speed (never the width); ``query_vector`` (of the collection's width)
        replaces embedding the query on the server, and ``query`` may then be ""."""
        try:
            request = search_pb2.SearchRequest(
                collection=collection, query=query, k=k,
                filter=convert.conditions_out(conditions_of(where)),
                level=convert.LEVEL_ENUMS[choice("level", level, LEVELS)],
                query_profile=convert.overrides_out(query_profile),
                mode=convert.MODE_ENUMS[choice("mode", mode, ("", *MODES))],
                funnel_dims=funnel_dims,
                query_vector=[] if query_vector is None else np.ravel(query_vector).tolist(),
            )
        except InvalidArgument as error:
            raise refused_here(error) from None
        return self._call(self.searching.Search, request,
                          lambda r: [convert.hit_in(hit) for hit in r.hits])

    # -- job titles --------------------------------------------------------------------

    def load_catalog(
        self, catalog: str, entries: Sequence[CatalogEntry], model: str = "",
        timeout: float = 3600.0,
    ) -> CatalogLoad:
        """Replace a catalog (embedding a large one takes a while: its own timeout)."""
        request = titles_pb2.LoadCatalogRequest(
            catalog=catalog, model=model, entries=[titles_convert.entry_out(e) for e in entries]
        )
        return self._call(self.titles.LoadCatalog, request, titles_convert.load_in,
                          timeout=timeout)

    def catalogs(self) -> list[CatalogInfo]:
        return self._call(self.titles.ListCatalogs, titles_pb2.ListCatalogsRequest(),
                          lambda r: [titles_convert.catalog_in(info) for info in r.catalogs])

    def normalize_titles(
        self, catalog: str, queries: Sequence[TitleQuery], k: int = 10, cleanup: bool = True,
        threshold: float | None = None,
    ) -> list[Normalized]:
        request = titles_pb2.NormalizeTitlesRequest(
            catalog=catalog, queries=[titles_convert.query_out(q) for q in queries], k=k,
            no_cleanup=not cleanup, threshold=threshold,
        )
        return self._call(self.titles.NormalizeTitles, request,
                          lambda r: [titles_convert.normalized_in(x) for x in r.results])

    # -- entity linking ----------------------------------------------------------------

    def load_knowledge_base(
        self, kb: str, content: str, source_format: str = "", model: str = "",
        filename: str = "", reranker: str = "", timeout: float = 3600.0,
    ) -> KnowledgeBaseInfo:
        """Load a terminology (its file's text) as a new version of ``kb``; every alias is
        embedded, so this waits up to ``timeout`` seconds, not the client's default.
        ``reranker`` is a re-ranker directory on the server's machine."""
        request = linking_pb2.LoadKnowledgeBaseRequest(
            kb=kb, content=content, format=source_format, model=model, filename=filename,
            reranker=reranker,
        )
        return self._call(self.linking.LoadKnowledgeBase, request, wire.kb_in, timeout=timeout)

    def knowledge_bases(self) -> list[KnowledgeBaseInfo]:
        return self._call(
            self.linking.ListKnowledgeBases, linking_pb2.ListKnowledgeBasesRequest(),
            lambda r: [wire.kb_in(info) for info in r.knowledge_bases],
        )

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
        return self._call(self.linking.LinkEntities, request, lambda r: [
            wire.linked_in(result, r.kb_version) for result in r.results])


def embed_request(
    texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
    on_overflow: str = "truncate", profile: ProfileOverrides | None = None, model: str = "",
    prompt: str = "",
) -> embedding_pb2.EmbedRequest:
    request = embedding_pb2.EmbedRequest(
        texts=list(texts), normalize=normalize, on_overflow=convert.OVERFLOW_ENUMS[on_overflow],
        profile=convert.overrides_out(profile), model=model, prompt=prompt,
    )
    if dimensions is not None:
        request.dimensions = dimensions
    return request


def _results(response: index_pb2.UpsertDocumentsResponse) -> list[UpsertResult]:
    return [convert.result_in(r) for r in response.results]


class Client(_Api):
    """Blocking client. A refusal raises the core's error class for its status (``NotFound``,
    ``InvalidArgument``, ...), which is also a ``grpc.RpcError`` with ``code()``/``details()``.

    >>> with Client("127.0.0.1:50051") as client:
    ...     client.create_collection("docs")
    ...     client.upsert("docs", [{"id": "a", "text": "hello", "metadata": {"lang": "en"}}])
    ...     client.search("docs", "greeting", k=3)
    """

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: Any, request: Any, parse: Callable[[Any], Any] = _same,
              authorized: bool = True, timeout: float | None = None) -> Any:
        try:
            response = method(request, timeout=timeout or self.timeout,
                              metadata=self._metadata if authorized else ())
        except grpc.RpcError as error:
            raise remote_error(error) from None
        return parse(response)

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

    def embed_stream(self, texts: Iterable[str], **options: Any) -> Iterator[np.ndarray]:
        """One vector per text, in order, over one EmbedStream with a message per text (the
        server batches the texts waiting at once); ``options`` as for `embed`."""
        requests = (embed_request([text], **options) for text in texts)
        try:
            for response in self.embedding.EmbedStream(requests, metadata=self._metadata):
                yield convert.embedded_in(response).vectors[0]
        except grpc.RpcError as error:
            raise remote_error(error) from None

    def all_collections(self) -> list[CollectionInfo]:
        return all_pages(lambda token: self.list_collections(0, token))

    def document_summaries(
        self, collection: str, id_prefix: str = "", page_size: int = 0
    ) -> list[DocumentSummary]:
        """(id, content_hash, chunk_count) of every document: enough to tell what changed."""
        return all_pages(
            lambda token: self.list_documents(collection, page_size, token, id_prefix)
        )

    def limits(self) -> Limits:
        """The server's request limits, asked once."""
        if self._limits is None:
            self._limits = self.info().limits
        return self._limits

    def embed_many(
        self, texts: Sequence[str], concurrency: int = batches.DEFAULT_CONCURRENCY,
        **options: Any,
    ) -> np.ndarray:
        """`embed` for any number of texts: requests within the server's limits, ``concurrency``
        of them in flight; the vectors come back in the order of ``texts``."""
        groups = batches.embed_groups(texts, self.limits())
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            parts = list(pool.map(
                lambda group: self.embed([texts[i] for i in group], **options), groups
            ))
        return batches.gather(groups, parts)

    def upsert_many(
        self, collection: str, documents: Sequence[DocumentInput | Mapping[str, Any]],
        concurrency: int = batches.DEFAULT_CONCURRENCY,
    ) -> list[UpsertResult]:
        """`upsert` for any number of documents (each id once), in concurrent requests within
        the server's limits; results in the order of ``documents``."""
        inputs = [_document(d) for d in documents]
        groups = batches.upsert_groups(inputs, self.limits())
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            parts = pool.map(lambda group: self.upsert(collection, [inputs[i] for i in group]),
                             groups)
            return [result for part in parts for result in part]


class AsyncClient(_Api):
    """The same methods as `Client`, as coroutines on grpc.aio, raising the same errors.

    >>> async with AsyncClient("127.0.0.1:50051") as client:
    ...     vectors = await client.embed_many(texts)
    """

    _grpc = grpc.aio

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, method: Any, request: Any, parse: Callable[[Any], Any] = _same,
                    authorized: bool = True, timeout: float | None = None) -> Any:
        try:
            response = await method(request, timeout=timeout or self.timeout,
                                    metadata=self._metadata if authorized else ())
        except grpc.RpcError as error:
            raise remote_error(error) from None
        return parse(response)

    async def wait_until_serving(self, timeout: float = 120.0) -> None:
        """Poll health until SERVING."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await self.health() == "SERVING":
                    return
            except grpc.RpcError:
                pass  # not listening yet
            await asyncio.sleep(0.2)
        raise TimeoutError(f"server not SERVING after {timeout}s")

    async def embed_stream(
        self, texts: Iterable[str] | AsyncIterable[str], **options: Any
    ) -> AsyncIterator[np.ndarray]:
        """`Client.embed_stream` on grpc.aio; ``texts`` may be an async iterable."""

        async def requests() -> AsyncIterator[embedding_pb2.EmbedRequest]:
            if isinstance(texts, AsyncIterable):
                async for text in texts:
                    yield embed_request([text], **options)
            else:
                for text in texts:
                    yield embed_request([text], **options)

        try:
            async for response in self.embedding.EmbedStream(requests(),
                                                             metadata=self._metadata):
                yield convert.embedded_in(response).vectors[0]
        except grpc.RpcError as error:
            raise remote_error(error) from None

    async def all_collections(self) -> list[CollectionInfo]:
        return await _all_pages(lambda token: self.list_collections(0, token))

    async def document_summaries(
        self, collection: str, id_prefix: str = "", page_size: int = 0
    ) -> list[DocumentSummary]:
        return await _all_pages(
            lambda token: self.list_documents(collection, page_size, token, id_prefix)
        )

    async def limits(self) -> Limits:
        if self._limits is None:
            self._limits = (await self.info()).limits
        return self._limits

    async def embed_many(
        self, texts: Sequence[str], concurrency: int = batches.DEFAULT_CONCURRENCY,
        **options: Any,
    ) -> np.ndarray:
        """`Client.embed_many`, with ``concurrency`` requests in flight on one channel."""
        groups = batches.embed_groups(texts, await self.limits())
        parts = await _bounded_gather(
            [lambda g=group: self.embed([texts[i] for i in g], **options) for group in groups],
            concurrency,
        )
        return batches.gather(groups, parts)

    async def upsert_many(
        self, collection: str, documents: Sequence[DocumentInput | Mapping[str, Any]],
        concurrency: int = batches.DEFAULT_CONCURRENCY,
    ) -> list[UpsertResult]:
        inputs = [_document(d) for d in documents]
        groups = batches.upsert_groups(inputs, await self.limits())
        parts = await _bounded_gather(
            [lambda g=group: self.upsert(collection, [inputs[i] for i in g]) for group in groups],
            concurrency,
        )
        return [result for part in parts for result in part]


async def _all_pages(fetch: Callable[[str], Awaitable[Page[Any]]]) -> list[Any]:
    items: list[Any] = []
    token = ""
    while True:
        page = await fetch(token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            return items


async def _bounded_gather(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Every call's result in order, at most ``limit`` running at once."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def run(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(run(call) for call in calls))
