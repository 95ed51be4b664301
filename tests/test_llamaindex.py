"""The LlamaIndex adapters through a real VectorStoreIndex -> retriever -> query engine."""

from __future__ import annotations

import uuid

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from embedsvc.client import Client
from embedsvc.integrations.llamaindex import EmbedsvcEmbedding, EmbedsvcVectorStore
from tests.conftest import API_KEY

DOCUMENTS = [
    Document(text="Cats sleep most of the day on warm windowsills.", id_="cats",
             metadata={"topic": "pets", "year": 2001}),
    Document(text="Dogs need long walks in the park every morning.", id_="dogs",
             metadata={"topic": "pets", "year": 2010}),
    Document(text="To open a database connection, pass the URL to db.open.", id_="db",
             metadata={"topic": "code", "year": 2020}),
]


def test_index_retriever_query_and_delete(api_server):
    target = f"127.0.0.1:{api_server.port}"
    name = f"li-{uuid.uuid4().hex[:8]}"
    store = EmbedsvcVectorStore(target=target, collection=name, api_key=API_KEY)
    embed_model = EmbedsvcEmbedding(target=target, collection=name, api_key=API_KEY)
    index = VectorStoreIndex.from_documents(
        DOCUMENTS, storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )
    retriever = index.as_retriever(similarity_top_k=1)
    [best] = retriever.retrieve("where do cats nap?")
    assert best.node.ref_doc_id == "cats" and best.node.metadata == {"topic": "pets", "year": 2001}
    assert "windowsills" in best.node.get_content() and isinstance(best.score, float)

    pets_only = MetadataFilters(filters=[MetadataFilter(key="topic", value="code")])
    [code] = index.as_retriever(similarity_top_k=3, filters=pets_only).retrieve("animals")
    assert code.node.ref_doc_id == "db"

    def retrieved(*filters: MetadataFilter) -> set[str]:
        chosen = MetadataFilters(filters=list(filters))
        hits = index.as_retriever(similarity_top_k=3, filters=chosen).retrieve("animals")
        return {hit.node.ref_doc_id for hit in hits}

    assert retrieved(MetadataFilter(key="year", value=2010, operator=FilterOperator.GTE)) == {
        "dogs", "db"}
    assert retrieved(MetadataFilter(key="topic", value=["pets"], operator=FilterOperator.NIN),
                     MetadataFilter(key="year", value=2030, operator=FilterOperator.LT)) == {"db"}
    assert retrieved(MetadataFilter(key="topic", value="pets", operator=FilterOperator.NE)) == {
        "db"}

    answer = index.as_query_engine(llm=MockLLM(), similarity_top_k=2).query("dog walks")
    assert answer.source_nodes[0].node.ref_doc_id == "dogs"

    index.delete_ref_doc("cats")
    with Client(target, api_key=API_KEY) as client:
        assert client.get_collection(name).document_count == 2
    remaining = {n.node.ref_doc_id for n in index.as_retriever(similarity_top_k=3).retrieve("x")}
    assert remaining == {"dogs", "db"}

    text_match = MetadataFilters(filters=[
        MetadataFilter(key="topic", value="pe", operator=FilterOperator.TEXT_MATCH)
    ])
    with pytest.raises(ValueError, match="'text_match'"):
        index.as_retriever(filters=text_match).retrieve("x")
    query_vector = embed_model.get_query_embedding("dog walks")
    assert len(query_vector) == 384 and all(type(x) is float for x in query_vector)


class QueryEmbeddingRefused(EmbedsvcEmbedding):
    """Embeds nodes like the real adapter, but fails a test that embeds a query client-side."""

    def _get_query_embedding(self, query: str) -> list[float]:
        raise AssertionError("the store's server embeds queries; LlamaIndex must not")


def test_retrieval_embeds_the_query_once_on_the_server(api_server):
    target = f"127.0.0.1:{api_server.port}"
    name = f"li-{uuid.uuid4().hex[:8]}"
    index = VectorStoreIndex.from_documents(
        DOCUMENTS, storage_context=StorageContext.from_defaults(
            vector_store=EmbedsvcVectorStore(target=target, collection=name, api_key=API_KEY)),
        embed_model=QueryEmbeddingRefused(target=target, collection=name, api_key=API_KEY),
    )
    [best] = index.as_retriever(similarity_top_k=1).retrieve("where do cats nap?")
    assert best.node.ref_doc_id == "cats"
