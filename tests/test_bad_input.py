"""Every RPC refuses bad input with the right status and a helpful message, and survives it."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2

from embedsvc.v1 import embedding_pb2, index_pb2, search_pb2, types_pb2
from tests.conftest import server_on_store

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


LIMITS = dict(
    EMBEDSVC_MAX_BATCH_TEXTS="8", EMBEDSVC_MAX_DOCUMENTS_PER_UPSERT="4", EMBEDSVC_MAX_K="50",
    EMBEDSVC_MAX_TEXT_CHARS="50000", EMBEDSVC_MAX_REQUEST_BYTES="1000000",
    EMBEDSVC_MAX_QUEUE_TEXTS="8", EMBEDSVC_MAX_QUERY_CHARS="1000",
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """One server per store; PostgreSQL rejects what SQLite lets through (NUL, lengths)."""
    with server_on_store(request, tmp_path_factory.mktemp("bad") / "data", **LIMITS) as process:
        with process.client() as client:
            client.create_collection("kb")
            client.upsert("kb", [{"id": "keep", "text": "This document must survive everything."}])
        yield process


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


def expect(code: grpc.StatusCode, call, *args, match: str = "", **kwargs) -> str:
    with pytest.raises(grpc.RpcError) as error:
        call(*args, **kwargs)
    assert error.value.code() == code, error.value.details()
    assert match.lower() in (error.value.details() or "").lower()
    return error.value.details()


def test_embed(client):
    expect(INVALID, client.embed, [], match="empty")
    expect(INVALID, client.embed, ["ok", "  "], match="texts[1]")
    expect(INVALID, client.embed, ["t"] * 9, match="more than 8")
    expect(INVALID, client.embed, ["t"], dimensions=385, match="dimensions")
    expect(INVALID, client.embed, ["word " * 400], on_overflow="error", match="tokens")
    expect(INVALID, client.embed, ["x" * 50001], match="characters")
    expect(grpc.StatusCode.RESOURCE_EXHAUSTED, client.embed, ["y" * 600_000] * 2)


def test_collections(client):
    expect(INVALID, client.create_collection, "", match="name")
    expect(INVALID, client.create_collection, "has space", match="name")
    expect(grpc.StatusCode.ALREADY_EXISTS, client.create_collection, "kb", match="exists")
    expect(INVALID, client.create_collection, "other", model="bert-large", match="not served")
    expect(INVALID, client.create_collection, "other", dimensions=999, match="dimensions")
    expect(INVALID, client.create_collection, "other", max_chunk_tokens=100000,
           match="max_chunk_tokens")
    expect(INVALID, client._call, client.index.CreateCollection,
           index_pb2.CreateCollectionRequest(name="other", metric=9), match="metric")
    expect(NOT_FOUND, client.get_collection, "missing", match="missing")
    expect(NOT_FOUND, client.delete_collection, "missing")
    expect(INVALID, client._call, client.index.ListCollections,
           index_pb2.ListCollectionsRequest(page_token="zzz"), match="page_token")
    expect(INVALID, client._call, client.index.ListCollections,
           index_pb2.ListCollectionsRequest(page_size=100000), match="page_size")


def test_documents(client):
    expect(NOT_FOUND, client.upsert, "missing", [{"id": "a", "text": "x"}])
    expect(INVALID, client.upsert, "kb", [], match="empty")
    expect(INVALID, client.upsert, "kb", [{"id": "", "text": "x"}], match="id")
    expect(INVALID, client.upsert, "kb", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}],
           match="twice")
    expect(INVALID, client.upsert, "kb", [{"id": "a", "text": "   "}], match="empty")
    expect(INVALID, client.upsert, "kb", [{"id": "a", "text": "nul\x00byte"}], match="NUL")
    expect(INVALID, client.upsert, "kb", [{"id": str(i), "text": "x"} for i in range(5)],
           match="more than 4")
    # A request with one bad document writes nothing at all.
    expect(INVALID, client.upsert, "kb", [{"id": "fine", "text": "ok"}, {"id": "bad", "text": ""}])
    expect(NOT_FOUND, client.get_document, "kb", "fine")
    expect(NOT_FOUND, client.get_document, "missing", "keep")
    expect(NOT_FOUND, client.list_documents, "missing")
    expect(INVALID, client._call, client.index.ListDocuments,
           index_pb2.ListDocumentsRequest(collection="kb", page_token="-1"), match="page_token")
    expect(INVALID, client.delete_documents, "kb", [], match="empty")
    expect(NOT_FOUND, client.delete_documents, "missing", ["keep"])


def test_search(client):
    expect(INVALID, client.search, "kb", "   ", match="query")
    expect(INVALID, client.search, "kb", "q", k=51, match="between 1 and 50")
    expect(NOT_FOUND, client.search, "missing", "q")
    expect(INVALID, client.search, "kb", "q", where={"": "x"}, match="key")
    expect(INVALID, client.search, "kb", "q", where={"tags": {"nested": 1}}, match="tags")
    no_op = search_pb2.SearchRequest(
        collection="kb", query="q", filter=types_pb2.Filter(conditions=[types_pb2.Condition(
            key="k")]))
    expect(INVALID, client._call, client.searching.Search, no_op, match="operator")
    value = struct_pb2.Value(list_value=struct_pb2.ListValue(values=[struct_pb2.Value()]))
    as_list = search_pb2.SearchRequest(
        collection="kb", query="q",
        filter=types_pb2.Filter(conditions=[types_pb2.Condition(key="k", equals=value)]))
    expect(INVALID, client._call, client.searching.Search, as_list)
    expect(INVALID, client.search, "kb", "", query_vector=[0.5] * 10, match="10 dimensions")
    expect(INVALID, client.search, "kb", "", query_vector=[float("nan")] * 384, match="NaN")
    expect(INVALID, client.search, "kb", "", query_vector=[0.5] * 384, mode="lexical",
           match="needs the query text")
    [vector] = client.embed(["This document must survive everything."])
    assert client.search("kb", "", k=1, query_vector=vector)[0].document_id == "keep"


def test_chunk(client):
    expect(INVALID, client.chunk, "  ", match="empty")
    expect(INVALID, client.chunk, "text", max_tokens=4096, match="max_tokens")
    expect(INVALID, client.chunk, "text", overlap_sentences=99, match="overlap")
    expect(INVALID, client.chunk, "x" * 50001, match="characters")


def test_search_level(client):
    bad_level = search_pb2.SearchRequest(collection="kb", query="q", level=7)
    expect(INVALID, client._call, client.searching.Search, bad_level, match="level")


def test_profiles(client):
    expect(INVALID, client.embed, ["t"], profile={"layers": 7}, match="layers")
    expect(INVALID, client.embed, ["t"], profile={"precision": "fp8"}, match="precision")
    expect(INVALID, client.create_collection, "deep", profile={"layers": 0, "tempscale": 5.0},
           match="tempscale")
    expect(grpc.StatusCode.FAILED_PRECONDITION, client.search, "kb", "q",
           query_profile={"dimensions": 16}, match="width")


def test_full_queue_is_resource_exhausted(server):
    """Requests that do not fit the encoder queue are refused at once, not queued forever."""
    long_texts = ["a long text about many things " * 40] * 8  # fills the 8-text queue alone
    with server.client(attempts=1) as client:  # no retries: see each refusal
        futures = [
            client.embedding.Embed.future(embedding_pb2.EmbedRequest(texts=long_texts), timeout=120)
            for _ in range(4)
        ]
        codes = []
        for future in futures:
            try:
                future.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
    assert grpc.StatusCode.OK in codes
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes


def test_client_mistakes_are_invalid_argument_not_internal(client):
    """Each of these once came back INTERNAL (mostly on PostgreSQL)."""
    nan = float("nan")
    expect(INVALID, client.upsert, "kb", [{"id": "n", "text": "x", "metadata": {"v": nan}}],
           match="finite")
    expect(INVALID, client.search, "kb", "q", where={"v": float("inf")}, match="finite")
    for token in ("²", "1" * 20):
        expect(INVALID, client._call, client.index.ListCollections,
               index_pb2.ListCollectionsRequest(page_token=token), match="page_token")
    expect(INVALID, client.upsert, "kb", [{"id": "a\x00b", "text": "x"}], match="NUL")
    expect(INVALID, client.upsert, "kb", [{"id": "a", "text": "x", "language": "py\x00"}],
           match="language")
    expect(INVALID, client.upsert, "kb", [{"id": "a", "text": "x", "language": "x" * 65}],
           match="language")
    expect(INVALID, client.upsert, "kb", [{"id": "a", "text": "x", "metadata": {"k\x00": 1}}],
           match="NUL")
    expect(INVALID, client.search, "kb", "q", where={"k\x00": 1}, match="NUL")
    expect(INVALID, client.create_collection, "abc\n", match="name")
    expect(INVALID, client._call, client.embedding.Embed,
           embedding_pb2.EmbedRequest(texts=["x"], on_overflow=7), match="on_overflow")
    expect(INVALID, client.search, "kb", "q", where={f"k{i}": i for i in range(65)},
           match="conditions")
    expect(INVALID, client.search, "kb", "q" * 1001, match="characters")
    undecodable = client.channel.unary_unary(
        "/embedsvc.v1.EmbeddingService/Embed",
        request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw,
    )
    expect(INVALID, undecodable, b"\x0a\x02\xff\xfe", timeout=30, match="decoded")


def test_long_names_and_values_are_stored_and_found(client):
    long_name = "f" * 1100
    code = f"def {long_name}():\n    return 42\n"
    client.upsert("kb", [{"id": "long.py", "text": code, "language": "python",
                          "metadata": {"blob": "y" * 3000}}])
    chunks = client.get_document("kb", "long.py").chunks
    assert chunks and all(len(chunk.symbol) <= 1024 for chunk in chunks)
    found = client.search("kb", "a function returning 42", k=3, where={"blob": "y" * 3000})
    assert [hit.document_id for hit in found] == ["long.py"]
    assert client.search("kb", "x", k=3, where={"blob": "y" * 2999}) == []
    client.delete_documents("kb", ["long.py"])


def test_chunk_reports_only_a_language_it_has_a_grammar_for(client):
    assert client.chunk("IDENTIFICATION DIVISION.", language="cobol").language == ""
    assert client.chunk("def f():\n    pass\n", language="py").language == "python"


def test_server_survives_and_keeps_data(client):
    assert client.health() == "SERVING"
    assert client.get_document("kb", "keep").document.text.startswith("This document")
    assert client.search("kb", "survive", k=1)[0].document_id == "keep"
    assert client.info().limits.max_k == 50
    assert client.embed_full(["still fine"]).vectors.shape == (1, 384)


def test_invalid_arguments_name_their_field(client):
    """A google.rpc.BadRequest beside the message, raised as the core's typed error."""
    from embedsvc.errors import InvalidArgument

    cases = [
        (client.embed, (["ok", "  "],), {}, "texts[1]"),
        (client.search, ("kb", "q"), {"k": 51}, "k"),
        (client.upsert, ("kb", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]), {},
         "documents[1].id"),
        (client.create_collection, ("bad name",), {}, "name"),
        (client.search, ("kb", "q"), {"where": {"v": float("nan")}},
         "filter.conditions[0].equals"),
    ]
    for call, args, kwargs, field in cases:
        with pytest.raises(InvalidArgument) as error:
            call(*args, **kwargs)
        assert error.value.field == field
        assert error.value.field_violations[0][1] == error.value.details()
