"""AsyncClient, the request-splitting helpers, Tokenize and EmbedStream over a real socket."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from embedsvc.client import AsyncClient, Client
from embedsvc.errors import InvalidArgument, NotFound, Unauthenticated
from tests.conftest import API_KEY

TEXTS = [f"note {i}: " + "word " * (i % 7) for i in range(300)]
# Vectors are compared across different batch compositions: fp32 keeps padding effects ~1e-7.
FP32 = {"profile": {"precision": "fp32"}}


@pytest.fixture
def client(api_server):
    with Client(f"127.0.0.1:{api_server.port}", api_key=API_KEY) as client:
        yield client


def run(coroutine):
    return asyncio.run(coroutine)


def async_client(api_server, **options) -> AsyncClient:
    return AsyncClient(f"127.0.0.1:{api_server.port}", api_key=API_KEY, **options)


def test_async_client_has_the_same_methods_and_types(api_server, client):
    async def scenario():
        async with async_client(api_server) as aclient:
            assert await aclient.health() == "SERVING"
            info = await aclient.info()
            created = await aclient.create_collection("async-notes", chunking="none")
            results = await aclient.upsert("async-notes", [
                {"id": "cats", "text": "Cats sleep most of the day.", "metadata": {"t": "pets"}},
                {"id": "db", "text": "Open a database connection.", "metadata": {"t": "code"}},
            ])
            hits = await aclient.search("async-notes", "animals resting", k=1,
                                        where={"t": "pets"})
            summaries = await aclient.document_summaries("async-notes")
            deleted = await aclient.delete_documents("async-notes", ["db", "missing"])
            vectors = await aclient.embed(["hello world"])
            return info, created, results, hits, summaries, deleted, vectors

    info, created, results, hits, summaries, deleted, vectors = run(scenario())
    assert info == client.info()
    assert created.name == "async-notes" and created.chunking == "none"
    assert [r.id for r in results] == ["cats", "db"] and all(r.created for r in results)
    assert hits[0].document_id == "cats" and hits[0].metadata == {"t": "pets"}
    assert sorted(s.id for s in summaries) == ["cats", "db"]
    assert deleted.deleted == ["db"] and deleted.not_found == ["missing"]
    np.testing.assert_array_equal(vectors, client.embed(["hello world"]))
    client.delete_collection("async-notes")


def test_async_client_raises_the_typed_errors(api_server):
    async def scenario():
        async with async_client(api_server) as aclient:
            with pytest.raises(NotFound):
                await aclient.get_collection("no-such-collection")
            with pytest.raises(InvalidArgument) as bad:
                await aclient.embed(["fine", "   "])
            assert bad.value.field == "texts[1]"
        async with AsyncClient(f"127.0.0.1:{api_server.port}", api_key="wrong") as stranger:
            with pytest.raises(Unauthenticated):
                await stranger.embed(["hello"])

    run(scenario())


def test_embed_many_splits_within_the_limits_and_keeps_order(api_server, client):
    """More texts than one request may hold, in length-sorted concurrent requests: the same
    vectors, in the caller's order, as small requests in order."""
    limit = client.limits().max_batch_texts
    texts = (TEXTS * (limit // len(TEXTS) + 2))[: limit + 50]
    expected = np.concatenate(
        [client.embed(texts[i:i + 64], **FP32) for i in range(0, len(texts), 64)]
    )
    np.testing.assert_allclose(client.embed_many(texts, concurrency=3, **FP32), expected,
                               atol=1e-5)

    async def scenario():
        async with async_client(api_server) as aclient:
            return await aclient.embed_many(texts, concurrency=3, **FP32)

    np.testing.assert_allclose(run(scenario()), expected, atol=1e-5)


def test_upsert_many_splits_documents_and_refuses_repeated_ids(api_server, client):
    limit = client.limits().max_documents_per_upsert
    client.create_collection("bulk", chunking="none")
    documents = [{"id": f"d{i}", "text": f"document number {i}"} for i in range(limit + 3)]
    results = client.upsert_many("bulk", documents, concurrency=2)
    assert [r.id for r in results] == [d["id"] for d in documents]
    assert client.get_collection("bulk").document_count == limit + 3

    async def scenario():
        async with async_client(api_server) as aclient:
            again = await aclient.upsert_many("bulk", documents[:5])
            with pytest.raises(InvalidArgument, match="appears twice"):
                await aclient.upsert_many("bulk", [documents[0], documents[0]])
            return again

    assert all(not r.created and r.embedded == 0 for r in run(scenario()))
    client.delete_collection("bulk")


def test_tokenize_gives_ids_specials_and_char_spans(client):
    text = "Héllo, wörld! Tokenizers split words."
    [tokens] = client.tokenize([text])
    assert tokens[0].special and tokens[0].text == "[CLS]"
    assert tokens[-1].special and tokens[-1].text == "[SEP]"
    for token in tokens[1:-1]:
        assert not token.special
        assert token.text == text[token.start_char:token.end_char]
    [plain] = client.tokenize([text], add_special_tokens=False)
    assert [t.id for t in plain] == [t.id for t in tokens[1:-1]]
    assert len(tokens) == client.embed_full([text]).token_counts[0]
    client.create_collection("tok", chunking="none")
    assert client.tokenize([text], collection="tok") == [tokens]
    with pytest.raises(NotFound):
        client.tokenize([text], collection="missing")
    with pytest.raises(InvalidArgument):
        client.tokenize([""])
    client.delete_collection("tok")


def test_embed_stream_rebatches_single_texts_in_order(api_server, client):
    """One text per message comes back as one vector per message, in order, equal to Embed's;
    a bad message ends the stream with INVALID_ARGUMENT naming it."""
    texts = TEXTS[:120]
    expected = client.embed(texts, **FP32)
    streamed = np.stack(list(client.embed_stream(texts, **FP32)))
    np.testing.assert_allclose(streamed, expected, atol=1e-5)
    narrow = np.stack(list(client.embed_stream(texts[:5], dimensions=32)))
    np.testing.assert_allclose(narrow, client.embed(texts[:5], dimensions=32), atol=1e-5)
    with pytest.raises(InvalidArgument, match="stream request 2"):
        list(client.embed_stream(["one", "two", " ", "four"]))

    async def scenario():
        async with async_client(api_server) as aclient:
            return [vector async for vector in aclient.embed_stream(texts[:10], **FP32)]

    np.testing.assert_allclose(np.stack(run(scenario())), expected[:10], atol=1e-5)


def test_rebatcher_embeds_waiting_requests_together():
    """Requests that queue while one group is embedded go into the next embed call together."""
    import threading

    from embedsvc.server.streaming import Rebatcher
    from embedsvc.types import Embedded
    from embedsvc.v1 import embedding_pb2

    all_sent = threading.Event()
    calls: list[list[str]] = []

    def requests():
        for i in range(50):
            yield embedding_pb2.EmbedRequest(texts=[f"t{i}"])
        all_sent.set()

    def embed(_options, texts):
        all_sent.wait(10)  # the first call waits until the rest is queued
        calls.append(texts)
        vectors = np.array([[float(t[1:])] for t in texts], dtype=np.float32)
        return Embedded(vectors, [1] * len(texts), [False] * len(texts))

    answers = list(Rebatcher(embed, max_texts=32).answer(requests()))
    assert [float(a.vectors[0, 0]) for a in answers] == list(range(50))
    assert len(calls) <= 3 and max(len(c) for c in calls) == 32
