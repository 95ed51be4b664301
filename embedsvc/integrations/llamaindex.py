"""LlamaIndex `BaseEmbedding` and vector store over an embedsvc server (`pip install
embedsvc[llamaindex]`).

A node is one embedsvc document (chunking "none" in the collections created here): its text, its
metadata at the top level (so filters reach it) plus LlamaIndex's own node record. The document
id is ``<ref_doc_id>::<node_id>``, so deleting a source document is one prefix listing. The
server embeds the text itself; embeddings that LlamaIndex put on the nodes are not sent, and
the store tells LlamaIndex not to embed queries (the server embeds ``query_str``).
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pydantic import PrivateAttr

from embedsvc.errors import NotFound
from embedsvc.integrations.connection import (
    Connection,
    aensure_collection,
    embed_options,
    ensure_collection,
    plain_metadata,
)
from embedsvc.integrations.filters import bounded, equality
from embedsvc.types import CollectionInfo, Condition, DocumentInput, Hit

SEPARATOR = "::"


class EmbedsvcEmbedding(BaseEmbedding):
    """Texts embedded by the server; with ``collection``, as that collection embeds queries and
    documents (before it exists: with the server's default model, which it will use)."""

    target: str | None = None
    collection: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    concurrency: int = 4
    _connection: Connection = PrivateAttr()
    _info: CollectionInfo | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        data.setdefault("model_name", "embedsvc")
        super().__init__(**data)
        self._connection = Connection(self.target, self.api_key, self.timeout)

    @classmethod
    def class_name(cls) -> str:
        return "EmbedsvcEmbedding"

    def _collection(self) -> CollectionInfo | None:
        if self.collection and self._info is None:
            try:
                self._info = self._connection.client().get_collection(self.collection)
            except NotFound:
                return None
        return self._info

    async def _acollection(self) -> CollectionInfo | None:
        if self.collection and self._info is None:
            try:
                self._info = await self._connection.aclient().get_collection(self.collection)
            except NotFound:
                return None
        return self._info

    def _get_query_embedding(self, query: str) -> list[float]:
        options = embed_options(self._collection(), "query")
        return self._connection.client().embed([query], **options)[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        options = embed_options(self._collection(), "document")
        return self._connection.client().embed_many(
            texts, concurrency=self.concurrency, **options
        ).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        options = embed_options(await self._acollection(), "query")
        return (await self._connection.aclient().embed([query], **options))[0].tolist()

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        options = embed_options(await self._acollection(), "document")
        vectors = await self._connection.aclient().embed_many(
            texts, concurrency=self.concurrency, **options
        )
        return vectors.tolist()


# LlamaIndex operators the store evaluates; TEXT_MATCH, CONTAINS, ANY and ALL have no
# counterpart and are refused by name.
_OPERATORS = {FilterOperator.EQ: "equals", FilterOperator.NE: "not_equals",
              FilterOperator.IN: "in", FilterOperator.NIN: "not_in"}
_BOUNDS = {FilterOperator.GT: "gt", FilterOperator.GTE: "gte", FilterOperator.LT: "lt",
           FilterOperator.LTE: "lte"}


def conditions_of_filters(filters: MetadataFilters | None) -> list[Condition]:
    """LlamaIndex filters as conditions that must all hold: ==, !=, in, nin, ranges and
    is_empty under AND (nested included); other operators and OR/NOT are refused by name."""
    if filters is None:
        return []
    if filters.condition not in (None, FilterCondition.AND) and len(filters.filters) > 1:
        raise ValueError(f"filter condition {filters.condition.value} is not supported; only "
                         "and (every condition must hold)")
    conditions = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            conditions.extend(conditions_of_filters(item))
        else:
            conditions.append(_condition(item))
    return conditions


def _condition(item: MetadataFilter) -> Condition:
    if item.operator == FilterOperator.EQ:
        return equality(item.key, item.value)
    if item.operator in _OPERATORS:
        return Condition(item.key, item.value, _OPERATORS[item.operator])
    if item.operator in _BOUNDS:
        return bounded(item.key, **{_BOUNDS[item.operator]: item.value})
    if item.operator == FilterOperator.IS_EMPTY:
        return Condition(item.key, False, "exists")
    raise ValueError(f"filter operator {item.operator.value!r} on {item.key!r} is not "
                     "supported; use ==, !=, in, nin, >, >=, <, <= or is_empty")


def _document_id(node: BaseNode) -> str:
    ref = node.ref_doc_id
    return f"{ref}{SEPARATOR}{node.node_id}" if ref else node.node_id


def _input(node: BaseNode) -> DocumentInput:
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
    return DocumentInput(_document_id(node), node.get_content(metadata_mode=MetadataMode.NONE),
                         metadata=metadata)


def _node(hit: Hit) -> BaseNode:
    node = metadata_dict_to_node(plain_metadata(hit.metadata), text=hit.chunk.text)
    return node


class EmbedsvcVectorStore(BasePydanticVectorStore):
    """A collection as a LlamaIndex vector store (created on first write with
    ``create_options``, chunking "none" unless given)."""

    stores_text: bool = True
    # The server embeds query_str as the collection embeds queries: LlamaIndex need not embed
    # it first (that vector would be thrown away).
    is_embedding_query: bool = False
    flat_metadata: bool = False
    target: str | None = None
    collection: str = "llamaindex"
    api_key: str | None = None
    timeout: float = 60.0
    create_options: dict[str, Any] = {}
    _connection: Connection = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self.create_options = {"chunking": "none", **self.create_options}
        self._connection = Connection(self.target, self.api_key, self.timeout)

    @classmethod
    def class_name(cls) -> str:
        return "EmbedsvcVectorStore"

    @property
    def client(self) -> Any:
        return self._connection.client()

    def add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        if not nodes:
            return []
        client = self._connection.client()
        ensure_collection(client, self.collection, **self.create_options)
        client.upsert_many(self.collection, [_input(node) for node in nodes])
        return [node.node_id for node in nodes]

    async def async_add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        if not nodes:
            return []
        client = self._connection.aclient()
        await aensure_collection(client, self.collection, **self.create_options)
        await client.upsert_many(self.collection, [_input(node) for node in nodes])
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Every node of the source document ``ref_doc_id``."""
        client = self._connection.client()
        prefix = f"{ref_doc_id}{SEPARATOR}"
        try:
            ids = [s.id for s in client.document_summaries(self.collection, id_prefix=prefix)
                   if SEPARATOR not in s.id[len(prefix):]]
            if ids:
                client.delete_documents(self.collection, ids)
        except NotFound:
            pass  # nothing was written yet

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Nodes nearest to ``query.query_str`` (the server embeds it as the collection does)."""
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise ValueError(f"query mode {query.mode.value!r} is not supported; use default")
        if not query.query_str:
            raise ValueError("the server embeds the query itself: give query_str")
        conditions = conditions_of_filters(query.filters)
        if query.doc_ids:
            if len(query.doc_ids) > 1:
                raise ValueError("filtering on several doc_ids is not supported; give one")
            conditions.append(Condition("ref_doc_id", query.doc_ids[0]))
        try:
            hits = self._connection.client().search(
                self.collection, query.query_str, k=query.similarity_top_k, where=conditions
            )
        except NotFound:
            hits = []
        nodes = [_node(hit) for hit in hits]
        return VectorStoreQueryResult(nodes=nodes, similarities=[float(h.score) for h in hits],
                                      ids=[node.node_id for node in nodes])
