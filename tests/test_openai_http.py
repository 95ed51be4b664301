"""The OpenAI-compatible HTTP endpoint, through the official `openai` client (sync and async)."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import openai
import pytest

from embedsvc.client import Client
from tests.conftest import API_KEY


@pytest.fixture
def base_url(api_server) -> str:
    return f"http://127.0.0.1:{api_server.http.port}/v1"


@pytest.fixture
def grpc_client(api_server):
    with Client(f"127.0.0.1:{api_server.port}", api_key=API_KEY) as client:
        yield client


def test_embeddings_equal_grpc_embed_in_base64_and_float(base_url, grpc_client):
    texts = ["A cat sleeps on the sofa.", "def connect(url): return db.open(url)"]
    expected = grpc_client.embed_full(texts)
    with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
        default = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)  # base64
        as_float = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts,
                                            encoding_format="float")
        single = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts[0])
        narrow = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts, dimensions=64)
        models = client.models.list()
    for response in (default, as_float):
        assert [d.index for d in response.data] == [0, 1]
        np.testing.assert_array_equal(
            np.array([d.embedding for d in response.data], dtype=np.float32), expected.vectors
        )
        assert response.usage.prompt_tokens == sum(expected.token_counts)
        assert response.usage.total_tokens == sum(expected.token_counts)
        assert response.model == "all-MiniLM-L6-v2"
    np.testing.assert_array_equal(np.array(single.data[0].embedding, dtype=np.float32),
                                  grpc_client.embed(texts[:1])[0])
    np.testing.assert_allclose(np.array([d.embedding for d in narrow.data]),
                               grpc_client.embed(texts, dimensions=64), atol=1e-6)
    assert [m.id for m in models.data] == ["all-MiniLM-L6-v2"]


def test_token_arrays_embed_like_their_text(base_url, grpc_client):
    [tokens] = grpc_client.tokenize(["hello world"], add_special_tokens=False)
    ids = [t.id for t in tokens]
    with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
        one = client.embeddings.create(model="all-MiniLM-L6-v2", input=ids)
        many = client.embeddings.create(model="all-MiniLM-L6-v2", input=[ids, ids[:1]])
    reference = grpc_client.embed(["hello world", "hello"])
    np.testing.assert_array_equal(np.array(one.data[0].embedding, dtype=np.float32),
                                  grpc_client.embed(["hello world"])[0])
    np.testing.assert_array_equal(
        np.array([d.embedding for d in many.data], dtype=np.float32), reference
    )


def test_async_client_and_errors_are_openai_style(base_url, grpc_client):
    async def scenario():
        async with openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as c:
            response = await c.embeddings.create(model="all-MiniLM-L6-v2", input=["hi there"])
            with pytest.raises(openai.BadRequestError) as empty:
                await c.embeddings.create(model="all-MiniLM-L6-v2", input=["fine", "  "])
            with pytest.raises(openai.NotFoundError):
                await c.embeddings.create(model="text-embedding-3-small", input="x")
        async with openai.AsyncOpenAI(base_url=base_url, api_key="wrong", max_retries=0) as c:
            with pytest.raises(openai.AuthenticationError):
                await c.embeddings.create(model="all-MiniLM-L6-v2", input="x")
        return response, empty.value

    response, empty = asyncio.run(scenario())
    np.testing.assert_array_equal(np.array(response.data[0].embedding, dtype=np.float32),
                                  grpc_client.embed(["hi there"])[0])
    assert empty.body["param"] == "texts[1]" and "empty" in empty.body["message"]


def test_bad_bodies_get_a_message_that_says_what_to_fix(base_url):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{base_url}/embeddings"
    cases = [
        (b"{not json", 400, "not JSON"),
        (b'["a list"]', 400, "JSON object"),
        (b'{"input": []}', 400, "input must be"),
        (b'{"input": ["a", 3]}', 400, "mixes"),
        (b'{"input": [999999999]}', 400, "token ids"),
        (b'{"input": "a", "encoding_format": "hex"}', 400, "encoding_format"),
        (b'{"input": "a", "dimensions": 100000}', 400, "dimensions"),
        (b'{"input": ["a"], "model": 7}', 400, "model"),
    ]
    for body, status, phrase in cases:
        response = httpx.post(url, content=body, headers=headers)
        assert response.status_code == status, body
        error = response.json()["error"]
        assert phrase in error["message"] and error["type"] == "invalid_request_error", body
    too_many = httpx.post(url, json={"input": ["x"] * 1000}, headers=headers)
    assert too_many.status_code == 400 and "split the batch" in too_many.json()["error"]["message"]
