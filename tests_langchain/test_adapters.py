"""What the standard suites do not cover: filters, scores, the retriever, collection vectors."""

from __future__ import annotations

import math
import uuid

import pytest
from langchain_core.documents import Document

from embedsvc.client import Client
from embedsvc.integrations.langchain import EmbedsvcEmbeddings, EmbedsvcVectorStore
from tests_langchain.conftest import API_KEY

DOCS = [
    Document(page_content="Cats sleep most of the day.", metadata={"topic": "pets", "n": 1}),
    Document(page_content="Dogs love long walks in the park.", metadata={"topic": "pets", "n": 2}),
    Document(page_content="Open a database connection with a URL.",
             metadata={"topic": "code", "n": 3}),
]


@pytest.fixture
def store(server_target):
    store = EmbedsvcVectorStore(server_target, collection=f"lc-{uuid.uuid4().hex[:8]}",
                                api_key=API_KEY)
    store.add_documents(DOCS, ids=["cats", "dogs", "db"])
    yield store
    store.delete()


def test_filters_map_to_store_conditions(store):
    assert [d.id for d in store.similarity_search("animals", k=3, filter={"topic": "code"})] \
        == ["db"]
    both = {"$and": [{"topic": {"$eq": "pets"}}, {"n": 2}]}
    assert [d.id for d in store.similarity_search("animals", k=3, filter=both)] == ["dogs"]
    ranged = {"n": {"$gt": 1, "$lte": 3}, "topic": {"$ne": "code"}}
    assert [d.id for d in store.similarity_search("animals", k=3, filter=ranged)] == ["dogs"]
    listed = {"topic": {"$in": ["code", "news"]}, "n": {"$exists": True}}
    assert [d.id for d in store.similarity_search("animals", k=3, filter=listed)] == ["db"]
    with pytest.raises(ValueError, match=r"\$like"):
        store.similarity_search("animals", filter={"topic": {"$like": "p%"}})
    with pytest.raises(ValueError, match=r"\$or"):
        store.similarity_search("animals", filter={"$or": [{"n": 1}, {"n": 2}]})


def test_scores_retriever_and_relevance(store):
    scored = store.similarity_search_with_score("a sleeping cat", k=2)
    assert scored[0][0] == Document(id="cats", page_content=DOCS[0].page_content,
                                    metadata={"topic": "pets", "n": 1})
    assert all(type(score) is float for _, score in scored)
    assert scored[0][1] > scored[1][1]
    relevant = store.similarity_search_with_relevance_scores("a sleeping cat", k=1)
    assert 0.0 <= relevant[0][1] <= 1.0
    retriever = store.as_retriever(search_kwargs={"k": 1, "filter": {"topic": "code"}})
    assert [d.id for d in retriever.invoke("how do I connect?")] == ["db"]


def test_collection_embeddings_match_the_stored_vectors(store, server_target):
    """EmbedsvcEmbeddings(collection=...) embeds queries as the collection's search does."""
    embeddings = store.embeddings
    query = embeddings.embed_query("a sleeping cat")
    with Client(server_target, api_key=API_KEY) as client:
        info = client.get_collection(store.collection)
        direct = client.embed(["a sleeping cat"], model=info.model, prompt=info.query_prompt)[0]
    assert len(query) == info.dimensions and all(type(x) is float for x in query)
    assert math.isclose(sum(a * b for a, b in zip(query, direct.tolist(), strict=True)), 1.0,
                        abs_tol=1e-3)
    assert EmbedsvcEmbeddings(server_target, api_key=API_KEY).embed_documents([]) == []


async def test_search_by_a_query_vector(store):
    """A vector from the store's embeddings finds the right document, sync and async, with
    filters; the server does not embed the query again."""
    vector = store.embeddings.embed_query("a sleeping cat")
    by_vector = store.similarity_search_with_score_by_vector(vector, k=2)
    assert by_vector[0][0].id == "cats"
    assert [d.id for d in store.similarity_search_by_vector(vector, k=3,
                                                            filter={"topic": "code"})] == ["db"]
    assert [d.id for d in await store.asimilarity_search_by_vector(vector, k=1)] == ["cats"]
    assert 0.3 < by_vector[0][1] <= 1.0 + 1e-6  # the cosine of a dense search


async def test_async_store(server_target):
    store = EmbedsvcVectorStore(server_target, collection=f"lc-{uuid.uuid4().hex[:8]}",
                                api_key=API_KEY)
    ids = await store.aadd_documents(DOCS)
    found = await store.asimilarity_search("a dog walk", k=1, filter={"topic": "pets"})
    assert found[0].page_content == DOCS[1].page_content and found[0].id == ids[1]
    assert await store.aget_by_ids([ids[2], "missing"]) == [
        Document(id=ids[2], page_content=DOCS[2].page_content, metadata=DOCS[2].metadata)
    ]
    await store.adelete()
